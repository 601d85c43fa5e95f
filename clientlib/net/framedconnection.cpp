#include "framedconnection.h"

#include "transportcloser.h"

#include <QCryptographicHash>
#include <QDir>
#include <QLocalSocket>
#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QSslCertificate>
#include <QSslCipher>
#include <QSslError>
#include <QSslSocket>
#include <QTcpSocket>

#include <algorithm>
#include <utility>

namespace Kennel {

namespace {

using namespace std::chrono_literals;

// How long a gracefully closed socket may take to flush (a Bye) before it is aborted.
constexpr auto CloseGrace = 2s;

FramedConnection::Failure fromSocketError(QAbstractSocket::SocketError error)
{
    switch (error) {
    case QAbstractSocket::ConnectionRefusedError:
        return FramedConnection::Failure::Refused;
    case QAbstractSocket::RemoteHostClosedError:
        return FramedConnection::Failure::RemoteClosed;
    case QAbstractSocket::HostNotFoundError:
        return FramedConnection::Failure::HostNotFound;
    case QAbstractSocket::SocketTimeoutError:
        return FramedConnection::Failure::Timeout;
    default:
        return FramedConnection::Failure::TransportError;
    }
}

FramedConnection::Failure fromLocalSocketError(QLocalSocket::LocalSocketError error)
{
    switch (error) {
    case QLocalSocket::ConnectionRefusedError:
    case QLocalSocket::ServerNotFoundError: // for a client, the same story: nobody listens there
        return FramedConnection::Failure::Refused;
    case QLocalSocket::PeerClosedError:
        return FramedConnection::Failure::RemoteClosed;
    case QLocalSocket::SocketTimeoutError:
        return FramedConnection::Failure::Timeout;
    default:
        return FramedConnection::Failure::TransportError;
    }
}

} // namespace

FramedConnection::FramedConnection(const QLoggingCategory &(*log)(), QObject *parent)
    : QObject(parent)
    , m_log(log)
{
    m_handshakeTimer.setSingleShot(true);
    m_reconnectTimer.setSingleShot(true);
    connect(&m_handshakeTimer, &QTimer::timeout, this, &FramedConnection::handshakeTimedOut);
    connect(&m_reconnectTimer, &QTimer::timeout, this, &FramedConnection::startAttempt);
    connect(&m_keepaliveTimer, &QTimer::timeout, this, &FramedConnection::keepaliveTick);
}

FramedConnection::~FramedConnection()
{
    // A subclass calls shutdownQuietly() from its own destructor; this one is for the rest.
    m_wantConnection = false;
    ++m_generation;
    retireTransport(true);
}

bool FramedConnection::isUsable(const BrokerAddress &address)
{
    return address.isUnix() || (address.isTcp() && address.port() != 0);
}

QString FramedConnection::peerText() const
{
    if (usesGivenTransport())
        return QStringLiteral("the given transport");
    return m_options.address.isValid() ? m_options.address.toString() : QStringLiteral("(no broker)");
}

quint32 FramedConnection::nextMessageId()
{
    if (++m_lastMessageId == 0) // 0 means "none"; after 2^32 messages the ids wrap around it
        ++m_lastMessageId;
    return m_lastMessageId;
}

void FramedConnection::open()
{
    m_wantConnection = true;
    m_nextBackoff = m_options.backoffMin;
    startAttempt();
}

void FramedConnection::stopRetrying()
{
    m_wantConnection = false;
    m_reconnectTimer.stop();
}

void FramedConnection::shutdownQuietly()
{
    m_wantConnection = false;
    m_reconnectTimer.stop();
    m_handshakeTimer.stop();
    m_keepaliveTimer.stop();
    ++m_generation;
    if (m_transport && m_transportUp) {
        QByteArray bye;
        appendFrame(bye, FrameType::Bye, 0, NoFlags, {}, {}, {});
        m_transport->write(bye);
    }
    m_transportUp = false;
    m_phase = Phase::Idle;
    retireTransport(true);
}

// --- attempts and transports ------------------------------------------------------------------

void FramedConnection::startAttempt()
{
    ++m_generation;
    m_reconnectTimer.stop();
    m_decoder = FrameDecoder(m_options.maxIncomingFrameSize);

    QIODevice *device = m_pendingTransport.data();
    m_pendingTransport.clear();
    m_ownsTransport = device == nullptr;
    const BrokerAddress &address = m_options.address;
    if (!device) {
        if (address.isUnix()) {
            device = new QLocalSocket(this);
        } else if (m_options.tls) {
            auto *ssl = new QSslSocket(this);
            ssl->setSslConfiguration(m_options.tlsConfiguration);
            device = ssl;
        } else {
            device = new QTcpSocket(this);
        }
    }
    qCDebug(m_log).noquote() << "connecting to" << peerText();
    attachTransport(device);
    m_phase = Phase::Connecting;
    attemptStarted();
    // Started before the connect call below, which may fail synchronously and tear down.
    m_handshakeTimer.start(m_options.handshakeTimeout);

    const quint64 generation = m_generation;
    auto connectedLater = [this, generation] {
        if (generation == m_generation)
            transportConnected();
    };
    if (auto *ssl = qobject_cast<QSslSocket *>(device); ssl && m_ownsTransport) {
        ssl->connectToHostEncrypted(address.host(), address.port());
    } else if (auto *tcp = qobject_cast<QTcpSocket *>(device); tcp && m_ownsTransport) {
        tcp->connectToHost(address.host(), address.port());
    } else if (auto *local = qobject_cast<QLocalSocket *>(device); local && m_ownsTransport) {
        // QLocalSocket would look a relative name up in QDir::tempPath(); users mean the working
        // directory, as everywhere else a path is accepted.
        local->connectToServer(QDir::current().absoluteFilePath(address.path()));
    } else if (auto *socket = qobject_cast<QAbstractSocket *>(device)) {
        if (socket->state() == QAbstractSocket::ConnectedState)
            QMetaObject::invokeMethod(this, connectedLater, Qt::QueuedConnection);
        else if (socket->state() != QAbstractSocket::HostLookupState
                 && socket->state() != QAbstractSocket::ConnectingState)
            failLater(Failure::TransportError, QStringLiteral("the given transport is not connected"));
    } else if (auto *given = qobject_cast<QLocalSocket *>(device)) {
        if (given->state() == QLocalSocket::ConnectedState)
            QMetaObject::invokeMethod(this, connectedLater, Qt::QueuedConnection);
        else if (given->state() != QLocalSocket::ConnectingState)
            failLater(Failure::TransportError, QStringLiteral("the given transport is not connected"));
    } else if (device->isOpen()) {
        QMetaObject::invokeMethod(this, connectedLater, Qt::QueuedConnection);
    } else {
        failLater(Failure::TransportError, QStringLiteral("the given transport is not open"));
    }
}

void FramedConnection::attachTransport(QIODevice *device)
{
    m_transport = device;
    m_transportUp = false;
    if (!m_ownsTransport) {
        // Someone else's device may be deleted under us; from then on it must not be touched.
        connect(device, &QObject::destroyed, this, [this] {
            m_transport = nullptr;
            transportLost(Failure::TransportError, QStringLiteral("the transport was destroyed"));
        });
    }
    connect(device, &QIODevice::readyRead, this, &FramedConnection::transportReadyRead);
    if (auto *ssl = qobject_cast<QSslSocket *>(device)) {
        connect(ssl, &QSslSocket::encrypted, this, &FramedConnection::transportEncrypted);
        connect(ssl, &QSslSocket::sslErrors, this, &FramedConnection::transportSslErrors);
    }
    if (auto *socket = qobject_cast<QAbstractSocket *>(device)) {
        connect(socket, &QAbstractSocket::connected, this, &FramedConnection::transportConnected);
        connect(socket, &QAbstractSocket::errorOccurred, this, [this, socket](QAbstractSocket::SocketError e) {
            transportFailed(fromSocketError(e), socket->errorString());
        });
        connect(socket, &QAbstractSocket::disconnected, this, [this] {
            transportFailed(Failure::RemoteClosed, QStringLiteral("the broker closed the connection"));
        });
    } else if (auto *local = qobject_cast<QLocalSocket *>(device)) {
        connect(local, &QLocalSocket::connected, this, &FramedConnection::transportConnected);
        connect(local, &QLocalSocket::errorOccurred, this, [this, local](QLocalSocket::LocalSocketError e) {
            // Qt words a missing socket file as "Invalid name", which sends users looking at the
            // wrong thing.
            const QString text = e == QLocalSocket::ServerNotFoundError
                ? QStringLiteral("no socket at %1").arg(QDir::current().absoluteFilePath(m_options.address.path()))
                : local->errorString();
            transportFailed(fromLocalSocketError(e), text);
        });
        connect(local, &QLocalSocket::disconnected, this, [this] {
            transportFailed(Failure::RemoteClosed, QStringLiteral("the broker closed the connection"));
        });
    } else {
        auto closed = [this] {
            transportFailed(Failure::RemoteClosed, QStringLiteral("the transport was closed"));
        };
        connect(device, &QIODevice::readChannelFinished, this, closed);
        connect(device, &QIODevice::aboutToClose, this, closed);
    }
}

void FramedConnection::transportConnected()
{
    if (!m_transport || m_transportUp)
        return;
    if (auto *socket = qobject_cast<QAbstractSocket *>(m_transport)) {
        // Set only now: before the socket exists in the kernel the options would be dropped.
        if (m_options.lowDelay)
            socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        if (m_options.tcpKeepAlive)
            socket->setSocketOption(QAbstractSocket::KeepAliveOption, 1);
    }
    if (auto *ssl = qobject_cast<QSslSocket *>(m_transport); ssl && m_ownsTransport) {
        // Nothing is written (a token least of all) before the handshake and the certificate
        // check: transportEncrypted().
        m_phase = Phase::Encrypting;
        encryptionStarted();
        return;
    }
    becomeUp();
}

void FramedConnection::becomeUp()
{
    m_transportUp = true;
    m_phase = Phase::Handshaking;
    if (m_options.idleTimeout.count() > 0) {
        m_sinceLastReceived.start();
        m_keepaliveTimer.start(std::max<std::chrono::milliseconds>(m_options.idleTimeout / 3, 100ms));
    }
    const quint64 generation = m_generation;
    transportReady();
    // A given device may hold bytes from before we attached (no readyRead for those).
    if (generation == m_generation && m_transport && m_transport->bytesAvailable() > 0)
        transportReadyRead();
}

bool FramedConnection::pinMatches(QSslSocket *socket, QString *why) const
{
    const QByteArray seen = certificateSha256(socket->peerCertificate());
    if (seen == m_options.pinnedSha256)
        return true;
    if (why) {
        *why = seen.isEmpty()
            ? QStringLiteral("the broker presented no certificate; expected the pinned %1")
                  .arg(formatFingerprint(m_options.pinnedSha256))
            : QStringLiteral("the broker's certificate does not match the pin: expected SHA-256 %1, got %2")
                  .arg(formatFingerprint(m_options.pinnedSha256), formatFingerprint(seen));
    }
    return false;
}

void FramedConnection::transportEncrypted()
{
    auto *ssl = qobject_cast<QSslSocket *>(m_transport);
    if (!ssl || m_transportUp)
        return;
    // A chain that verifies is not enough when the user pinned a certificate: it must be that one.
    QString why;
    if (!m_options.pinnedSha256.isEmpty() && !pinMatches(ssl, &why)) {
        transportLost(Failure::Untrusted, why);
        return;
    }
    qCDebug(m_log) << "TLS up:" << ssl->sessionProtocol() << ssl->sessionCipher().name();
    becomeUp();
}

void FramedConnection::transportSslErrors(const QList<QSslError> &errors)
{
    auto *ssl = qobject_cast<QSslSocket *>(m_transport);
    if (!ssl)
        return;
    if (!m_options.pinnedSha256.isEmpty()) {
        // A pinned certificate is trusted for being that certificate, whoever signed it (self-signed
        // is the usual case on a board) and whatever name it carries.
        QString why;
        if (pinMatches(ssl, &why)) {
            qCDebug(m_log) << "certificate matches the pin; ignoring" << errors.size() << "chain errors";
            ssl->ignoreSslErrors(errors);
        } else {
            transportLost(Failure::Untrusted, why);
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
    transportLost(Failure::Untrusted, text);
}

void FramedConnection::transportReadyRead()
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
                qCWarning(m_log) << "skipped a frame with an invalid name";
                continue;
            }
            if (e != DecodeError::None && e != DecodeError::NeedMore) {
                transportLost(Failure::ProtocolViolation,
                              QStringLiteral("undecodable data from the broker: %1")
                                  .arg(QString::fromLatin1(decodeErrorName(e))));
                return;
            }
            framesHandled();
            return;
        }
        frameReceived(*frame);
    }
}

void FramedConnection::transportFailed(Failure failure, const QString &text)
{
    if (!m_transport)
        return;
    // The broker often writes an Error and closes at once; both may be noticed in one pass, the
    // close first. Read what is buffered so that the Error, not the close, becomes the cause.
    const quint64 generation = m_generation;
    if (m_transportUp && m_transport->bytesAvailable() > 0)
        transportReadyRead();
    if (generation == m_generation)
        transportLost(failure, text);
}

void FramedConnection::handshakeTimedOut()
{
    const auto ms = qint64(m_options.handshakeTimeout.count());
    QString text;
    switch (m_phase) {
    case Phase::Connecting:
        text = QStringLiteral("could not connect within %1 ms").arg(ms);
        break;
    case Phase::Encrypting:
        text = QStringLiteral("no TLS handshake within %1 ms").arg(ms);
        break;
    default:
        text = QStringLiteral("no Welcome from the broker within %1 ms").arg(ms);
        break;
    }
    transportLost(Failure::Timeout, text);
}

void FramedConnection::keepaliveTick()
{
    if (!m_transport || !m_transportUp)
        return;
    const qint64 quiet = m_sinceLastReceived.elapsed();
    if (quiet >= m_options.idleTimeout.count()) {
        transportLost(Failure::IdleTimeout, QStringLiteral("nothing received from the broker for %1 s").arg(quiet / 1000));
        return;
    }
    if (quiet >= m_options.idleTimeout.count() / 3)
        writeFrame(FrameType::Ping, nextMessageId(), NoFlags, {}, {}, {});
}

void FramedConnection::failLater(Failure failure, const QString &text)
{
    const quint64 generation = m_generation;
    QMetaObject::invokeMethod(this, [this, generation, failure, text] {
        if (generation == m_generation)
            transportLost(failure, text);
    }, Qt::QueuedConnection);
}

// --- writing -------------------------------------------------------------------------------------

bool FramedConnection::write(const QByteArray &bytes)
{
    if (!m_transport)
        return false;
    if (m_transport->write(bytes) != bytes.size()) {
        // Not from here: write() is called from handlers whose callers do not expect the
        // connection to vanish under them.
        failLater(Failure::TransportError, QStringLiteral("write failed: %1").arg(m_transport->errorString()));
        return false;
    }
    return true;
}

bool FramedConnection::writeFrame(FrameType type, quint32 messageId, quint16 flags, QByteArrayView source,
                                  QByteArrayView target, QByteArrayView payload)
{
    QByteArray frame;
    appendFrame(frame, type, messageId, flags, source, target, payload);
    return write(frame);
}

// --- handshake and teardown ----------------------------------------------------------------------

void FramedConnection::handshakeDone()
{
    m_handshakeTimer.stop();
    m_nextBackoff = m_options.backoffMin;
    m_phase = Phase::Established;
}

FramedConnection::Ended FramedConnection::endConnection(bool graceful, bool retry)
{
    Ended ended;
    ++m_generation;
    m_handshakeTimer.stop();
    m_keepaliveTimer.stop();
    ended.wasUp = m_transportUp;
    m_transportUp = false;
    m_phase = Phase::Idle;
    retireTransport(graceful);
    m_decoder.reset();
    if (!retry)
        m_wantConnection = false;
    if (!m_wantConnection || !m_options.autoReconnect || !isUsable(m_options.address)) {
        m_wantConnection = false;
        return ended;
    }
    std::chrono::milliseconds delay = m_nextBackoff;
    if (m_options.backoffJitter) {
        const qint64 base = delay.count();
        const qint64 jitter = base / 4;
        if (jitter > 0)
            delay = std::chrono::milliseconds(std::max<qint64>(1, base + QRandomGenerator::global()->bounded(2 * jitter + 1) - jitter));
    }
    m_nextBackoff = std::min(m_nextBackoff * 2, m_options.backoffMax);
    qCDebug(m_log) << "reconnecting in" << delay.count() << "ms";
    m_reconnectTimer.start(delay);
    ended.reconnectDelay = delay;
    return ended;
}

void FramedConnection::retireTransport(bool graceful)
{
    QIODevice *device = std::exchange(m_transport, nullptr);
    if (!device)
        return;
    disconnect(device, nullptr, this, nullptr);
    closeTransport(device, graceful, m_ownsTransport, CloseGrace);
    m_ownsTransport = false;
}

// --- fingerprints --------------------------------------------------------------------------------

QByteArray FramedConnection::certificateSha256(const QSslCertificate &certificate)
{
    if (certificate.isNull())
        return {};
    return certificate.digest(QCryptographicHash::Sha256);
}

QString FramedConnection::formatFingerprint(const QByteArray &sha256)
{
    return QString::fromLatin1(sha256.toHex(':').toUpper());
}

} // namespace Kennel
