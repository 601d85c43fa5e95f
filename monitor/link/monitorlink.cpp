#include "monitorlink.h"

#include "transportcloser.h"
#include "names.h"

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QFileInfo>
#include <QLocalSocket>
#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QSslCertificate>
#include <QSslCipher>
#include <QSslConfiguration>
#include <QSslError>
#include <QSslSocket>
#include <QTcpSocket>

#include <algorithm>
#include <utility>

// Info: connections made and lost. Debug: attempts and every frame type received
// (QT_LOGGING_RULES="kennel.monitorapp.link.debug=true").
Q_LOGGING_CATEGORY(lcMonitorLink, "kennel.monitorapp.link", QtInfoMsg)

namespace Kennel {

namespace {

using namespace std::chrono_literals;

// How long a gracefully closed socket may take to flush its Bye before it is aborted.
constexpr auto CloseGrace = 2s;
// Control requests carry short texts; a multi-megabyte "test message" is a slip of the mouse.
constexpr qsizetype MaxControlText = 64 * 1024;
// Malformed monitor payloads are logged, but a broken broker must not flood the log.
constexpr quint64 MalformedLogLimit = 20;

QString latin1(const char *text)
{
    return text ? QString::fromLatin1(text) : QStringLiteral("unknown");
}

bool isUsable(const BrokerAddress &address)
{
    return address.isUnix() || (address.isTcp() && address.port() != 0);
}

QString describeError(ErrorCode code, const QString &text)
{
    QString result = QStringLiteral("%1 (%2)").arg(latin1(errorCodeName(code))).arg(int(code));
    if (!text.isEmpty())
        result += QStringLiteral(": ") + text;
    return result;
}

} // namespace

MonitorLink::MonitorLink(QObject *parent)
    : QObject(parent)
    , m_decoder(m_settings.maxIncomingFrameSize)
{
    m_handshakeTimer.setSingleShot(true);
    m_reconnectTimer.setSingleShot(true);
    connect(&m_handshakeTimer, &QTimer::timeout, this, &MonitorLink::handshakeTimedOut);
    connect(&m_reconnectTimer, &QTimer::timeout, this, &MonitorLink::startAttempt);
    connect(&m_keepaliveTimer, &QTimer::timeout, this, &MonitorLink::keepaliveTick);
}

MonitorLink::~MonitorLink()
{
    // No signals from a half-destroyed object: retire the transport quietly.
    m_wantConnection = false;
    ++m_generation;
    if (m_transport && m_transportUp) {
        QByteArray bye;
        appendFrame(bye, FrameType::Bye, 0, NoFlags, {}, {}, {});
        m_transport->write(bye);
    }
    retireTransport(true);
}

void MonitorLink::setSettings(const Settings &settings)
{
    m_settings = settings;
}

void MonitorLink::setTransport(QIODevice *device)
{
    m_pendingTransport = device;
}

QString MonitorLink::stateName(State state)
{
    switch (state) {
    case State::Disconnected:
        return QStringLiteral("Disconnected");
    case State::Connecting:
        return QStringLiteral("Connecting");
    case State::Encrypting:
        return QStringLiteral("Encrypting");
    case State::Authenticating:
        return QStringLiteral("Authenticating");
    case State::Live:
        return QStringLiteral("Live");
    case State::Reconnecting:
        return QStringLiteral("Reconnecting");
    }
    return QString();
}

QString MonitorLink::target() const
{
    if (m_transport && !m_ownsTransport)
        return QStringLiteral("the given transport");
    return m_settings.address.isValid() ? m_settings.address.toString() : QStringLiteral("(no broker)");
}

QString MonitorLink::statusText() const
{
    switch (m_state) {
    case State::Disconnected:
        return m_lastError.isEmpty() ? QStringLiteral("Disconnected")
                                     : QStringLiteral("Disconnected: %1").arg(m_lastError);
    case State::Connecting:
        return QStringLiteral("Connecting to %1…").arg(target());
    case State::Encrypting:
        return QStringLiteral("Encrypting (TLS) with %1…").arg(target());
    case State::Authenticating:
        return QStringLiteral("Authenticating with %1…").arg(target());
    case State::Live: {
        QString text = QStringLiteral("Live: %1").arg(target());
        if (!m_brokerVersion.isEmpty())
            text += QStringLiteral(", broker %1").arg(m_brokerVersion);
        if (!m_monitorIdentity.isEmpty())
            text += QStringLiteral(", admitted by %1").arg(m_monitorIdentity);
        if (m_settings.tls && !m_settings.address.isUnix())
            text += QStringLiteral(", TLS");
        return text;
    }
    case State::Reconnecting: {
        const qint64 seconds = (std::max<qint64>(msUntilReconnect(), 0) + 999) / 1000;
        QString text = QStringLiteral("Reconnecting to %1 in %2 s").arg(target()).arg(seconds);
        if (!m_lastError.isEmpty())
            text += QStringLiteral(" (%1)").arg(m_lastError);
        return text;
    }
    }
    return QString();
}

qint64 MonitorLink::msUntilReconnect() const
{
    if (m_state != State::Reconnecting || !m_reconnectTimer.isActive())
        return -1;
    return m_reconnectTimer.remainingTime();
}

void MonitorLink::open()
{
    if (m_state != State::Disconnected && m_state != State::Reconnecting) {
        qCDebug(lcMonitorLink) << "open() ignored: already" << m_state;
        return;
    }
    auto refuse = [this](const QString &text) {
        qCWarning(lcMonitorLink).noquote() << "cannot connect:" << text;
        m_lastError = text;
        m_wantConnection = false;
        m_reconnectTimer.stop();
        if (m_state == State::Disconnected)
            Q_EMIT stateChanged(m_state); // the state stays, the reason is new
        else
            setState(State::Disconnected);
    };
    if (!m_pendingTransport && !isUsable(m_settings.address)) {
        refuse(m_settings.address.isValid()
                   ? QStringLiteral("cannot connect to port 0 (%1)").arg(m_settings.address.toString())
                   : QStringLiteral("no broker address set"));
        return;
    }
    if (!m_settings.name.isEmpty() && !isValidName(m_settings.name)) {
        refuse(QStringLiteral("\"%1\" is not a valid monitor name (1..64 of [A-Za-z0-9._-])")
                   .arg(QString::fromUtf8(m_settings.name)));
        return;
    }
    const bool tls = m_settings.tls && !m_pendingTransport && m_settings.address.isTcp();
    if (tls && !QSslSocket::supportsSsl()) {
        refuse(QStringLiteral("TLS is not available: Qt has no working TLS backend here (%1)")
                   .arg(QSslSocket::sslLibraryVersionString()));
        return;
    }
    if (tls && m_settings.trust == TlsTrust::CaFile
        && QSslCertificate::fromPath(m_settings.caFile, QSsl::Pem).isEmpty()) {
        refuse(QStringLiteral("no PEM certificate could be read from the CA file \"%1\"").arg(m_settings.caFile));
        return;
    }
    if (tls && m_settings.trust == TlsTrust::Pinned && m_settings.pinnedSha256.size() != 32) {
        refuse(QStringLiteral("the pinned fingerprint must be a SHA-256 (64 hex digits)"));
        return;
    }
    m_wantConnection = true;
    m_nextBackoff = m_settings.backoffMin;
    startAttempt();
}

void MonitorLink::close()
{
    m_wantConnection = false;
    m_reconnectTimer.stop();
    if (m_transport && m_transportUp) {
        QByteArray bye;
        appendFrame(bye, FrameType::Bye, 0, NoFlags, {}, {}, {});
        m_transport->write(bye);
    }
    if (m_transport) {
        closeConnection(Cause::Requested, QString());
        return;
    }
    m_lastError.clear();
    setState(State::Disconnected);
}

// --- attempts and transports ------------------------------------------------------------------

void MonitorLink::startAttempt()
{
    ++m_generation;
    m_reconnectTimer.stop();
    m_decoder = FrameDecoder(m_settings.maxIncomingFrameSize);
    m_brokerVersion.clear();
    m_monitorIdentity.clear();

    QIODevice *device = m_pendingTransport.data();
    m_pendingTransport.clear();
    m_ownsTransport = device == nullptr;
    const BrokerAddress &address = m_settings.address;
    if (!device) {
        if (address.isUnix()) {
            device = new QLocalSocket(this);
        } else if (m_settings.tls) {
            auto *ssl = new QSslSocket(this);
            QSslConfiguration config = QSslConfiguration::defaultConfiguration();
            config.setPeerVerifyMode(QSslSocket::VerifyPeer);
            if (m_settings.trust == TlsTrust::CaFile)
                config.setCaCertificates(QSslCertificate::fromPath(m_settings.caFile, QSsl::Pem));
            ssl->setSslConfiguration(config);
            device = ssl;
        } else {
            device = new QTcpSocket(this);
        }
    }
    qCDebug(lcMonitorLink).noquote() << "connecting to" << target();
    attachTransport(device);
    setState(State::Connecting);
    m_handshakeTimer.start(m_settings.handshakeTimeout);

    const quint64 generation = m_generation;
    auto connectedLater = [this, generation] {
        if (generation == m_generation)
            transportConnected();
    };
    auto failLater = [this, generation](const QString &text) {
        QMetaObject::invokeMethod(this, [this, generation, text] {
            if (generation == m_generation)
                closeConnection(Cause::Lost, text);
        }, Qt::QueuedConnection);
    };
    if (auto *ssl = qobject_cast<QSslSocket *>(device); ssl && m_ownsTransport) {
        ssl->connectToHostEncrypted(address.host(), address.port());
    } else if (auto *tcp = qobject_cast<QTcpSocket *>(device); tcp && m_ownsTransport) {
        tcp->connectToHost(address.host(), address.port());
    } else if (auto *local = qobject_cast<QLocalSocket *>(device); local && m_ownsTransport) {
        // QLocalSocket looks a relative name up in QDir::tempPath(); users mean the working folder.
        local->connectToServer(QDir::current().absoluteFilePath(address.path()));
    } else if (auto *socket = qobject_cast<QAbstractSocket *>(device)) {
        if (socket->state() == QAbstractSocket::ConnectedState)
            QMetaObject::invokeMethod(this, connectedLater, Qt::QueuedConnection);
        else if (socket->state() != QAbstractSocket::HostLookupState
                 && socket->state() != QAbstractSocket::ConnectingState)
            failLater(QStringLiteral("the given transport is not connected"));
    } else if (auto *given = qobject_cast<QLocalSocket *>(device)) {
        if (given->state() == QLocalSocket::ConnectedState)
            QMetaObject::invokeMethod(this, connectedLater, Qt::QueuedConnection);
        else if (given->state() != QLocalSocket::ConnectingState)
            failLater(QStringLiteral("the given transport is not connected"));
    } else if (device->isOpen()) {
        QMetaObject::invokeMethod(this, connectedLater, Qt::QueuedConnection);
    } else {
        failLater(QStringLiteral("the given transport is not open"));
    }
}

void MonitorLink::attachTransport(QIODevice *device)
{
    m_transport = device;
    m_transportUp = false;
    if (!m_ownsTransport) {
        connect(device, &QObject::destroyed, this, [this] {
            m_transport = nullptr;
            closeConnection(Cause::Lost, QStringLiteral("the transport was destroyed"));
        });
    }
    connect(device, &QIODevice::readyRead, this, &MonitorLink::transportReadyRead);
    if (auto *ssl = qobject_cast<QSslSocket *>(device)) {
        connect(ssl, &QSslSocket::encrypted, this, &MonitorLink::transportEncrypted);
        connect(ssl, &QSslSocket::sslErrors, this, &MonitorLink::transportSslErrors);
    }
    if (auto *socket = qobject_cast<QAbstractSocket *>(device)) {
        connect(socket, &QAbstractSocket::connected, this, &MonitorLink::transportConnected);
        connect(socket, &QAbstractSocket::errorOccurred, this, [this, socket](QAbstractSocket::SocketError) {
            transportFailed(socket->errorString());
        });
        connect(socket, &QAbstractSocket::disconnected, this, [this] {
            transportFailed(QStringLiteral("the broker closed the connection"));
        });
    } else if (auto *local = qobject_cast<QLocalSocket *>(device)) {
        connect(local, &QLocalSocket::connected, this, &MonitorLink::transportConnected);
        connect(local, &QLocalSocket::errorOccurred, this, [this, local](QLocalSocket::LocalSocketError e) {
            // Qt words a missing socket file as "invalid name", which sends users looking at the
            // wrong thing.
            transportFailed(e == QLocalSocket::ServerNotFoundError
                                ? QStringLiteral("no broker socket at %1")
                                      .arg(QDir::current().absoluteFilePath(m_settings.address.path()))
                                : local->errorString());
        });
        connect(local, &QLocalSocket::disconnected, this, [this] {
            transportFailed(QStringLiteral("the broker closed the connection"));
        });
    } else {
        auto closed = [this] { transportFailed(QStringLiteral("the transport was closed")); };
        connect(device, &QIODevice::readChannelFinished, this, closed);
        connect(device, &QIODevice::aboutToClose, this, closed);
    }
}

void MonitorLink::transportConnected()
{
    if (!m_transport || m_transportUp)
        return;
    if (auto *socket = qobject_cast<QAbstractSocket *>(m_transport))
        socket->setSocketOption(QAbstractSocket::KeepAliveOption, 1);
    if (auto *ssl = qobject_cast<QSslSocket *>(m_transport); ssl && m_ownsTransport) {
        // The token waits for the handshake and the certificate check: transportEncrypted().
        setState(State::Encrypting);
        return;
    }
    m_transportUp = true;
    sendHello();
}

void MonitorLink::transportSslErrors(const QList<QSslError> &errors)
{
    auto *ssl = qobject_cast<QSslSocket *>(m_transport);
    if (!ssl)
        return;
    if (m_settings.trust == TlsTrust::Pinned) {
        // A pinned certificate is trusted for being that certificate, whoever signed it (self-signed
        // is the usual case on a board) and whatever name it carries.
        QString why;
        if (pinMatches(ssl, &why)) {
            qCDebug(lcMonitorLink) << "certificate matches the pin; ignoring" << errors.size() << "chain errors";
            ssl->ignoreSslErrors(errors);
        } else {
            closeConnection(Cause::Fatal, why);
        }
        return;
    }
    QStringList texts;
    for (const QSslError &e : errors)
        texts << e.errorString();
    texts.removeDuplicates();
    const QByteArray sha = certificateSha256(ssl->peerCertificate());
    QString text = QStringLiteral("the broker's certificate is not trusted: %1").arg(texts.join(QStringLiteral("; ")));
    if (!sha.isEmpty())
        text += QStringLiteral(". Its SHA-256 fingerprint is %1; pin it only if you know it is the broker's")
                    .arg(formatFingerprint(sha));
    closeConnection(Cause::Fatal, text);
}

bool MonitorLink::pinMatches(QSslSocket *socket, QString *why) const
{
    const QByteArray seen = certificateSha256(socket->peerCertificate());
    if (seen == m_settings.pinnedSha256)
        return true;
    if (why) {
        *why = seen.isEmpty()
            ? QStringLiteral("the broker presented no certificate; expected the pinned %1")
                  .arg(formatFingerprint(m_settings.pinnedSha256))
            : QStringLiteral("the broker's certificate does not match the pin: expected SHA-256 %1, got %2")
                  .arg(formatFingerprint(m_settings.pinnedSha256), formatFingerprint(seen));
    }
    return false;
}

void MonitorLink::transportEncrypted()
{
    auto *ssl = qobject_cast<QSslSocket *>(m_transport);
    if (!ssl || m_transportUp)
        return;
    // A chain that verifies is not enough when the user pinned a certificate: it must be that one.
    QString why;
    if (m_settings.trust == TlsTrust::Pinned && !pinMatches(ssl, &why)) {
        closeConnection(Cause::Fatal, why);
        return;
    }
    qCDebug(lcMonitorLink) << "TLS up:" << ssl->sessionProtocol() << ssl->sessionCipher().name();
    m_transportUp = true;
    sendHello();
}

void MonitorLink::sendHello()
{
    HelloPayload hello;
    hello.role = Role::Monitor;
    hello.pid = quint32(QCoreApplication::applicationPid());
    hello.token = m_settings.token;
    const QByteArray name = m_settings.name.isEmpty()
        ? QByteArray("kennel-monitor-") + QByteArray::number(QCoreApplication::applicationPid())
        : m_settings.name;
    QByteArray frame;
    appendFrame(frame, FrameType::Hello, ++m_lastMessageId, NoFlags, name, {}, encodeHello(hello));
    if (!write(frame))
        return;
    m_sinceLastReceived.start();
    m_keepaliveTimer.start(std::max<std::chrono::milliseconds>(m_settings.idleTimeout / 3, 100ms));
    const quint64 generation = m_generation;
    setState(State::Authenticating);
    if (generation == m_generation && m_transport->bytesAvailable() > 0)
        transportReadyRead();
}

void MonitorLink::transportReadyRead()
{
    if (!m_transport || !m_transportUp)
        return;
    const quint64 generation = m_generation;
    m_sinceLastReceived.start();
    m_decoder.append(m_transport->readAll());
    while (generation == m_generation) {
        std::optional<Frame> frame = m_decoder.next();
        if (!frame) {
            const DecodeError e = m_decoder.error();
            if (e == DecodeError::InvalidName) {
                // PROTOCOL §2.1: framing is intact; skip exactly that frame.
                qCWarning(lcMonitorLink) << "skipped a frame with an invalid name";
                continue;
            }
            if (e != DecodeError::None && e != DecodeError::NeedMore)
                closeConnection(Cause::Lost, QStringLiteral("undecodable data from the broker: %1")
                                                 .arg(latin1(decodeErrorName(e))));
            return;
        }
        handleFrame(*frame);
    }
}

void MonitorLink::transportFailed(const QString &text)
{
    if (!m_transport)
        return;
    // The broker often writes an Error and closes at once; read what is buffered so that the
    // Error, not the close, becomes the reason.
    const quint64 generation = m_generation;
    if (m_transportUp && m_transport->bytesAvailable() > 0)
        transportReadyRead();
    if (generation == m_generation)
        closeConnection(Cause::Lost, text);
}

void MonitorLink::handshakeTimedOut()
{
    const auto ms = qint64(m_settings.handshakeTimeout.count());
    QString text;
    switch (m_state) {
    case State::Connecting:
        text = QStringLiteral("could not connect within %1 ms").arg(ms);
        break;
    case State::Encrypting:
        text = QStringLiteral("no TLS handshake within %1 ms").arg(ms);
        break;
    default:
        text = QStringLiteral("no Welcome from the broker within %1 ms").arg(ms);
        break;
    }
    closeConnection(Cause::Lost, text);
}

void MonitorLink::keepaliveTick()
{
    if (!m_transport || !m_transportUp)
        return;
    const qint64 quiet = m_sinceLastReceived.elapsed();
    if (quiet >= m_settings.idleTimeout.count()) {
        closeConnection(Cause::Lost, QStringLiteral("nothing received from the broker for %1 s").arg(quiet / 1000));
        return;
    }
    if (quiet >= m_settings.idleTimeout.count() / 3) {
        QByteArray ping;
        appendFrame(ping, FrameType::Ping, ++m_lastMessageId, NoFlags, {}, {}, {});
        write(ping);
    }
}

// --- frames -------------------------------------------------------------------------------------

void MonitorLink::handleFrame(const Frame &frame)
{
    const quint8 raw = quint8(frame.type);
    if (raw >= quint8(FrameType::MonitorFirst) && raw <= quint8(FrameType::MonitorLast)) {
        if (m_state != State::Live) {
            qCWarning(lcMonitorLink) << "ignoring monitor frame" << raw << "before Welcome";
            return;
        }
        handleMonitorFrame(frame);
        return;
    }
    switch (frame.type) {
    case FrameType::Welcome:
        handleWelcome(frame);
        return;
    case FrameType::Error:
        handleError(frame);
        return;
    case FrameType::Bye:
        closeConnection(Cause::Lost, QStringLiteral("the broker said Bye"));
        return;
    case FrameType::Ping: {
        QByteArray pong;
        appendFrame(pong, FrameType::Pong, frame.messageId, NoFlags, {}, {}, frame.payload);
        write(pong);
        return;
    }
    case FrameType::Pong:
        return; // its arrival has already reset the idle clock
    default:
        // Client frames (Deliver, DeliveryStatus...) have no business on a monitor connection, and
        // unknown ones are a newer broker's: neither is worth ending the stream for.
        qCDebug(lcMonitorLink) << "ignoring" << latin1(frameTypeName(frame.type)) << "frame";
        return;
    }
}

void MonitorLink::handleWelcome(const Frame &frame)
{
    if (m_state != State::Authenticating) {
        closeConnection(Cause::Lost, QStringLiteral("unexpected Welcome"));
        return;
    }
    const std::optional<WelcomePayload> welcome = decodeWelcome(frame.payload);
    if (!welcome) {
        closeConnection(Cause::Lost, QStringLiteral("malformed Welcome payload"));
        return;
    }
    m_handshakeTimer.stop();
    m_nextBackoff = m_settings.backoffMin;
    m_lastError.clear();
    m_brokerVersion = QString::fromUtf8(welcome->brokerVersion);
    qCInfo(lcMonitorLink).noquote() << "monitoring" << target() << "- broker" << m_brokerVersion;

    QByteArray subscribe;
    appendFrame(subscribe, MonitorFrame::Subscribe, ++m_lastMessageId, NoFlags, {}, {},
                encodeMonitorSubscribe(m_settings.subscribe));
    if (!write(subscribe))
        return;
    const quint64 generation = m_generation;
    setState(State::Live);
    if (generation == m_generation)
        Q_EMIT welcomed(m_brokerVersion);
}

void MonitorLink::handleError(const Frame &frame)
{
    const std::optional<ErrorPayload> payload = decodeError(frame.payload);
    if (!payload) {
        closeConnection(Cause::Lost, QStringLiteral("malformed Error payload"));
        return;
    }
    const QString text = describeError(payload->code, payload->text);
    const quint64 generation = m_generation;
    Q_EMIT errorReceived(payload->code, payload->text);
    if (generation != m_generation)
        return;
    if (m_state == State::Live) {
        // Refused controls and the like; the broker closes the connection itself when it means to.
        qCInfo(lcMonitorLink).noquote() << "broker reported" << text;
        return;
    }
    // PROTOCOL §4.1: before Welcome only our Hello is outstanding, so an Error refuses it.
    switch (payload->code) {
    case ErrorCode::TooManyClients:
    case ErrorCode::ShuttingDown:
    case ErrorCode::NameTaken:
    case ErrorCode::RegisterTimeout:
        closeConnection(Cause::Lost, QStringLiteral("the broker refused this monitor: %1").arg(text));
        return;
    default:
        // A refused token, a version or name the broker will not take: the same Hello would be
        // refused again, and each try lengthens the broker's penalty for this address.
        closeConnection(Cause::Fatal, QStringLiteral("the broker refused this monitor: %1").arg(text));
        return;
    }
}

void MonitorLink::noteMalformed(const Frame &frame)
{
    ++m_malformedFrames;
    if (m_malformedFrames <= MalformedLogLimit)
        qCWarning(lcMonitorLink).nospace() << "skipped a malformed " << latin1(monitorFrameName(frame.type))
                                           << " payload of " << frame.payload.size() << " bytes"
                                           << (m_malformedFrames == MalformedLogLimit ? " (no more of these are logged)" : "");
}

void MonitorLink::handleMonitorFrame(const Frame &frame)
{
    // A payload the codec refuses is skipped, not fatal: losing one record is better than losing
    // the operator's whole view over one broker bug; the count is kept for the status.
    switch (quint8(frame.type)) {
    case quint8(MonitorFrame::SnapshotBegin):
        if (auto v = decodeMonitorSnapshotBegin(frame.payload)) {
            m_monitorIdentity = v->monitorIdentity;
            if (!v->brokerVersion.isEmpty())
                m_brokerVersion = v->brokerVersion;
            Q_EMIT snapshotBegan(*v);
        } else {
            noteMalformed(frame);
        }
        return;
    case quint8(MonitorFrame::Client):
        if (auto v = decodeMonitorClient(frame.payload))
            Q_EMIT clientUpdated(*v);
        else
            noteMalformed(frame);
        return;
    case quint8(MonitorFrame::Service):
        if (auto v = decodeMonitorService(frame.payload))
            Q_EMIT serviceUpdated(*v);
        else
            noteMalformed(frame);
        return;
    case quint8(MonitorFrame::SnapshotEnd):
        Q_EMIT snapshotEnded();
        return;
    case quint8(MonitorFrame::ClientGone):
        if (auto v = decodeMonitorClientGone(frame.payload))
            Q_EMIT clientGone(*v);
        else
            noteMalformed(frame);
        return;
    case quint8(MonitorFrame::WatchdogEvent):
        if (auto v = decodeMonitorWatchdogEvent(frame.payload))
            Q_EMIT watchdogEvent(*v);
        else
            noteMalformed(frame);
        return;
    case quint8(MonitorFrame::Traffic):
        if (auto v = decodeMonitorTrafficBatch(frame.payload))
            Q_EMIT trafficBatch(*v);
        else
            noteMalformed(frame);
        return;
    case quint8(MonitorFrame::TrafficDropped):
        if (auto v = decodeMonitorTrafficDropped(frame.payload))
            Q_EMIT trafficDropped(*v);
        else
            noteMalformed(frame);
        return;
    case quint8(MonitorFrame::Totals):
        if (auto v = decodeMonitorTotals(frame.payload))
            Q_EMIT totals(*v);
        else
            noteMalformed(frame);
        return;
    case quint8(MonitorFrame::ControlResult):
        if (auto v = decodeMonitorControlResult(frame.payload))
            Q_EMIT controlResult(frame.messageId, *v);
        else
            noteMalformed(frame);
        return;
    default:
        qCDebug(lcMonitorLink) << "ignoring monitor frame type" << int(frame.type);
        return;
    }
}

// --- control -------------------------------------------------------------------------------------

quint32 MonitorLink::sendControl(const MonitorControl &control)
{
    if (m_state != State::Live || !m_transport)
        return 0;
    if (control.target.isEmpty() || control.target.size() > Wire::MaxNameLength || control.text.size() > MaxControlText) {
        qCWarning(lcMonitorLink) << "control request not sent: target must be 1..64 bytes and text at most"
                                 << MaxControlText << "bytes";
        return 0;
    }
    if (++m_lastMessageId == 0)
        ++m_lastMessageId;
    const quint32 id = m_lastMessageId;
    QByteArray frame;
    appendFrame(frame, MonitorFrame::Control, id, NoFlags, {}, {}, encodeMonitorControl(control));
    if (!write(frame))
        return 0;
    qCInfo(lcMonitorLink).noquote() << "asked the broker: control" << int(control.action) << "on"
                                    << QString::fromUtf8(control.target) << "(request" << id << ")";
    return id;
}

quint32 MonitorLink::disconnectClient(const QByteArray &clientName)
{
    return sendControl({MonitorControlAction::DisconnectClient, clientName, {}});
}

quint32 MonitorLink::sendTestMessage(const QByteArray &clientName, const QByteArray &text)
{
    return sendControl({MonitorControlAction::SendTestMessage, clientName, text});
}

quint32 MonitorLink::restartService(const QString &serviceName)
{
    return sendControl({MonitorControlAction::RestartService, serviceName.toUtf8(), {}});
}

quint32 MonitorLink::stopService(const QString &serviceName)
{
    return sendControl({MonitorControlAction::StopService, serviceName.toUtf8(), {}});
}

quint32 MonitorLink::startService(const QString &serviceName)
{
    return sendControl({MonitorControlAction::StartService, serviceName.toUtf8(), {}});
}

// --- teardown ------------------------------------------------------------------------------------

void MonitorLink::closeConnection(Cause cause, const QString &text)
{
    if (!m_transport && m_state == State::Disconnected)
        return;
    ++m_generation;
    m_handshakeTimer.stop();
    m_keepaliveTimer.stop();
    const bool wasLive = m_state == State::Live;
    m_transportUp = false;
    retireTransport(cause == Cause::Requested);
    m_decoder.reset();
    if (cause != Cause::Requested) {
        m_lastError = text;
        if (wasLive)
            qCWarning(lcMonitorLink).noquote() << "connection to" << target() << "lost:" << text;
        else if (text != m_lastLoggedFailure)
            qCInfo(lcMonitorLink).noquote() << "connecting to" << target() << "failed:" << text;
        else // a broker that stays away fails every retry the same way: once is enough at info
            qCDebug(lcMonitorLink).noquote() << "connecting to" << target() << "failed again:" << text;
        m_lastLoggedFailure = wasLive ? QString() : text;
    } else {
        m_lastError.clear();
    }
    if (cause != Cause::Lost)
        m_wantConnection = false;
    if (cause == Cause::Lost && m_wantConnection && m_settings.autoReconnect && isUsable(m_settings.address)) {
        scheduleReconnect();
        setState(State::Reconnecting);
        return;
    }
    m_wantConnection = false;
    setState(State::Disconnected);
}

void MonitorLink::scheduleReconnect()
{
    // Up to ±25% jitter: after a broker restart, a room full of monitors should not all knock in
    // the same millisecond, nor keep doing so.
    const qint64 base = m_nextBackoff.count();
    const qint64 jitter = base / 4;
    const qint64 delay = std::max<qint64>(1, base + (jitter > 0 ? QRandomGenerator::global()->bounded(2 * jitter + 1) - jitter : 0));
    m_nextBackoff = std::min(m_nextBackoff * 2, m_settings.backoffMax);
    qCDebug(lcMonitorLink) << "reconnecting in" << delay << "ms";
    m_reconnectTimer.start(int(delay));
}

void MonitorLink::retireTransport(bool graceful)
{
    QIODevice *device = std::exchange(m_transport, nullptr);
    if (!device)
        return;
    disconnect(device, nullptr, this, nullptr);
    closeTransport(device, graceful, m_ownsTransport, CloseGrace);
    m_ownsTransport = false;
}

bool MonitorLink::write(const QByteArray &bytes)
{
    if (!m_transport)
        return false;
    if (m_transport->write(bytes) != bytes.size()) {
        // Not from here: write() runs inside handlers whose callers do not expect the connection
        // to vanish under them.
        const quint64 generation = m_generation;
        const QString text = QStringLiteral("write failed: %1").arg(m_transport->errorString());
        QMetaObject::invokeMethod(this, [this, generation, text] {
            if (generation == m_generation)
                closeConnection(Cause::Lost, text);
        }, Qt::QueuedConnection);
        return false;
    }
    return true;
}

void MonitorLink::setState(State state)
{
    if (state == m_state)
        return;
    m_state = state;
    qCDebug(lcMonitorLink) << "state" << stateName(state);
    Q_EMIT stateChanged(state);
}

// --- fingerprints --------------------------------------------------------------------------------

QByteArray MonitorLink::certificateSha256(const QSslCertificate &certificate)
{
    if (certificate.isNull())
        return {};
    return certificate.digest(QCryptographicHash::Sha256);
}

QString MonitorLink::formatFingerprint(const QByteArray &sha256)
{
    return QString::fromLatin1(sha256.toHex(':').toUpper());
}

std::optional<QByteArray> MonitorLink::parseFingerprint(const QString &text)
{
    QString hex;
    for (QChar c : text) {
        if (c == u':' || c.isSpace())
            continue;
        hex += c;
    }
    if (hex.size() != 64)
        return std::nullopt;
    for (QChar c : std::as_const(hex)) {
        if (!((c >= u'0' && c <= u'9') || (c >= u'a' && c <= u'f') || (c >= u'A' && c <= u'F')))
            return std::nullopt;
    }
    return QByteArray::fromHex(hex.toLatin1());
}

} // namespace Kennel
