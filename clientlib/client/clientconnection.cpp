#include "clientconnection.h"

#include "transportcloser.h"
#include "names.h"

#include <QDir>
#include <QLocalSocket>
#include <QMetaEnum>
#include <QTcpSocket>

#include <utility>

// Info: connection life (registered, lost). Debug: attempts and every frame, so the message path
// stays silent unless asked (QT_LOGGING_RULES="kennel.client.debug=true").
Q_LOGGING_CATEGORY(lcKennelClient, "kennel.client", QtInfoMsg)

namespace Kennel::Internal {

namespace {

using namespace std::chrono_literals;

// PROTOCOL §8.1: a client must accept frames of up to the broker's maxFrameSize + 64, and a broker
// may configure up to 256 MiB. The decoder's limit is fixed when it is built, before Welcome says
// what this broker's limit is, so it gets the largest any broker may use: a ceiling that still
// stops a broken peer from making us buffer gigabytes.
constexpr quint32 ProtocolMaxFrameSize = 256 * 1024 * 1024;
constexpr quint32 MaxIncomingFrameSize = ProtocolMaxFrameSize + Wire::MaxNameLength;
// How long a gracefully closed socket may take to flush before it is aborted.
constexpr auto CloseGrace = 2s;

QString latin1(const char *text)
{
    return QString::fromLatin1(text);
}

KennelClient::ClientError fromProtocol(ErrorCode code)
{
    static_assert(int(KennelClient::NameTaken) == int(ErrorCode::NameTaken)
                      && int(KennelClient::WatchdogExpired) == int(ErrorCode::WatchdogExpired)
                      && int(KennelClient::IdleTimeout) == int(ErrorCode::IdleTimeout)
                      && int(KennelClient::OverBudget) == int(ErrorCode::OverBudget),
                  "ClientError must mirror Kennel::ErrorCode");
    const int value = int(code);
    // 0 in an Error frame is nonsense, 1000+ would collide with the local codes (PROTOCOL §4.3).
    if (value > 0 && value < int(KennelClient::ConnectionRefused))
        return KennelClient::ClientError(value);
    return KennelClient::UnknownProtocolError;
}

// Retrying with the same name, PID and address cannot change these answers.
bool isFatal(KennelClient::ClientError error)
{
    switch (error) {
    case KennelClient::InvalidName:
    case KennelClient::UnsupportedVersion:
    case KennelClient::PidMismatch:
    case KennelClient::NotPermitted:
    case KennelClient::InvalidAddress:
        return true;
    default:
        return false;
    }
}

KennelClient::ClientError fromSocketError(QAbstractSocket::SocketError error)
{
    switch (error) {
    case QAbstractSocket::ConnectionRefusedError:
        return KennelClient::ConnectionRefused;
    case QAbstractSocket::RemoteHostClosedError:
        return KennelClient::RemoteClosed;
    case QAbstractSocket::HostNotFoundError:
        return KennelClient::HostNotFound;
    case QAbstractSocket::SocketTimeoutError:
        return KennelClient::Timeout;
    default:
        return KennelClient::TransportError;
    }
}

KennelClient::ClientError fromLocalSocketError(QLocalSocket::LocalSocketError error)
{
    switch (error) {
    case QLocalSocket::ConnectionRefusedError:
    case QLocalSocket::ServerNotFoundError: // for a client, the same story: nobody listens there
        return KennelClient::ConnectionRefused;
    case QLocalSocket::PeerClosedError:
        return KennelClient::RemoteClosed;
    case QLocalSocket::SocketTimeoutError:
        return KennelClient::Timeout;
    default:
        return KennelClient::TransportError;
    }
}

bool isUsable(const BrokerAddress &address)
{
    return address.isUnix() || (address.isTcp() && address.port() != 0);
}

} // namespace

ClientConnection::ClientConnection(KennelClient *q)
    : QObject(q)
    , q(q)
    , m_decoder(MaxIncomingFrameSize)
{
    m_handshakeTimer.setSingleShot(true);
    m_reconnectTimer.setSingleShot(true);
    connect(&m_handshakeTimer, &QTimer::timeout, this, &ClientConnection::handshakeTimedOut);
    connect(&m_reconnectTimer, &QTimer::timeout, this, &ClientConnection::startAttempt);
}

ClientConnection::~ClientConnection() = default;

void ClientConnection::connectToBroker()
{
    if (state != KennelClient::Disconnected) {
        qCDebug(lcKennelClient) << "connectToBroker() ignored: already" << state;
        return;
    }
    if (!isValidName(name)) {
        reportConfigError(KennelClient::InvalidName,
                          QStringLiteral("\"%1\" is not a valid client name (1..64 of [A-Za-z0-9._-])")
                              .arg(QString::fromUtf8(name)));
        return;
    }
    if (!pendingTransport && !isUsable(address)) {
        reportConfigError(KennelClient::InvalidAddress,
                          address.isValid()
                              ? QStringLiteral("cannot connect to port 0 (%1)").arg(address.toString())
                              : QStringLiteral("no broker address set"));
        return;
    }
    m_wantConnection = true;
    m_nextBackoff = backoffMin;
    startAttempt();
}

void ClientConnection::disconnectFromBroker()
{
    m_wantConnection = false;
    m_reconnectTimer.stop();
    if (state == KennelClient::Disconnected)
        return;
    if (m_transportUp) {
        QByteArray bye;
        appendFrame(bye, FrameType::Bye, 0, NoFlags, {}, {}, {});
        write(bye);
    }
    closeConnection(KennelClient::NoError, QString());
}

void ClientConnection::shutdownSilently()
{
    m_wantConnection = false;
    m_reconnectTimer.stop();
    m_handshakeTimer.stop();
    ++m_generation;
    if (m_transport && m_transportUp) {
        QByteArray bye;
        appendFrame(bye, FrameType::Bye, 0, NoFlags, {}, {}, {});
        m_transport->write(bye);
    }
    retireTransport(true);
}

void ClientConnection::startAttempt()
{
    ++m_generation;
    m_reconnectTimer.stop();
    m_decoder.reset();
    m_remoteError.reset();

    QIODevice *device = pendingTransport.data();
    pendingTransport.clear();
    m_ownsTransport = device == nullptr;
    if (!device) {
        if (address.isUnix())
            device = new QLocalSocket(this);
        else
            device = new QTcpSocket(this);
    }
    qCDebug(lcKennelClient).noquote() << "connecting to"
                                      << (m_ownsTransport ? address.toString() : QStringLiteral("the given transport"))
                                      << "as" << name;
    attachTransport(device);
    setState(KennelClient::Connecting);
    // Started before the connect call below, which may fail synchronously and tear down.
    m_handshakeTimer.start(connectTimeout);

    const quint64 generation = m_generation;
    auto connectedLater = [this, generation] {
        if (generation == m_generation)
            transportConnected();
    };
    if (auto *tcp = qobject_cast<QTcpSocket *>(device); tcp && m_ownsTransport) {
        tcp->connectToHost(address.host(), address.port());
    } else if (auto *unixSocket = qobject_cast<QLocalSocket *>(device); unixSocket && m_ownsTransport) {
        // QLocalSocket would look a relative name up in QDir::tempPath(); users mean the working
        // directory, as everywhere else a path is accepted.
        unixSocket->connectToServer(QDir::current().absoluteFilePath(address.path()));
    } else if (auto *socket = qobject_cast<QAbstractSocket *>(device)) {
        if (socket->state() == QAbstractSocket::ConnectedState)
            QMetaObject::invokeMethod(this, connectedLater, Qt::QueuedConnection);
        else if (socket->state() != QAbstractSocket::HostLookupState
                 && socket->state() != QAbstractSocket::ConnectingState)
            failLater(KennelClient::TransportError, QStringLiteral("the given transport is not connected"));
    } else if (auto *local = qobject_cast<QLocalSocket *>(device)) {
        if (local->state() == QLocalSocket::ConnectedState)
            QMetaObject::invokeMethod(this, connectedLater, Qt::QueuedConnection);
        else if (local->state() != QLocalSocket::ConnectingState)
            failLater(KennelClient::TransportError, QStringLiteral("the given transport is not connected"));
    } else if (device->isOpen()) {
        QMetaObject::invokeMethod(this, connectedLater, Qt::QueuedConnection);
    } else {
        failLater(KennelClient::TransportError, QStringLiteral("the given transport is not open"));
    }
}

void ClientConnection::attachTransport(QIODevice *device)
{
    m_transport = device;
    m_transportUp = false;
    if (!m_ownsTransport) {
        // Someone else's device may be deleted under us; from then on it must not be touched.
        connect(device, &QObject::destroyed, this, [this] {
            m_transport = nullptr;
            closeConnection(KennelClient::TransportError, QStringLiteral("the transport was destroyed"));
        });
    }
    connect(device, &QIODevice::readyRead, this, &ClientConnection::transportReadyRead);
    if (auto *socket = qobject_cast<QAbstractSocket *>(device)) {
        connect(socket, &QAbstractSocket::connected, this, &ClientConnection::transportConnected);
        connect(socket, &QAbstractSocket::errorOccurred, this, [this, socket](QAbstractSocket::SocketError e) {
            transportFailed(fromSocketError(e), socket->errorString());
        });
        connect(socket, &QAbstractSocket::disconnected, this, [this] {
            transportFailed(KennelClient::RemoteClosed, QStringLiteral("the broker closed the connection"));
        });
    } else if (auto *local = qobject_cast<QLocalSocket *>(device)) {
        connect(local, &QLocalSocket::connected, this, &ClientConnection::transportConnected);
        connect(local, &QLocalSocket::errorOccurred, this, [this, local](QLocalSocket::LocalSocketError e) {
            // Qt words a missing socket file as "Invalid name", which sends users looking at the
            // wrong thing.
            const QString text = e == QLocalSocket::ServerNotFoundError
                ? QStringLiteral("no socket at %1").arg(QDir::current().absoluteFilePath(address.path()))
                : local->errorString();
            transportFailed(fromLocalSocketError(e), text);
        });
        connect(local, &QLocalSocket::disconnected, this, [this] {
            transportFailed(KennelClient::RemoteClosed, QStringLiteral("the broker closed the connection"));
        });
    } else {
        auto closed = [this] {
            transportFailed(KennelClient::RemoteClosed, QStringLiteral("the transport was closed"));
        };
        connect(device, &QIODevice::readChannelFinished, this, closed);
        connect(device, &QIODevice::aboutToClose, this, closed);
    }
}

void ClientConnection::transportConnected()
{
    if (!m_transport || m_transportUp)
        return;
    m_transportUp = true;
    if (auto *socket = qobject_cast<QAbstractSocket *>(m_transport)) {
        // Messages are small and latency is the product; Nagle would hold them back. Set only
        // now: before the socket exists in the kernel the option would be dropped.
        socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    }

    HelloPayload hello;
    hello.role = Role::Client;
    hello.pid = pid;
    // PROTOCOL §4.1.1: what this library understands; the Welcome says what the broker offers.
    hello.features = Wire::KnownFeatures;
    QByteArray frame;
    appendFrame(frame, FrameType::Hello, 0, NoFlags, name, {}, encodeHello(hello));
    if (!write(frame))
        return;

    const quint64 generation = m_generation;
    setState(KennelClient::Registering);
    if (generation != m_generation)
        return;
    Q_EMIT q->connected();
    if (generation != m_generation)
        return;
    // A given device may hold bytes from before we attached (no readyRead for those).
    if (m_transport->bytesAvailable() > 0)
        transportReadyRead();
}

void ClientConnection::transportReadyRead()
{
    if (!m_transport || !m_transportUp)
        return;
    const quint64 generation = m_generation;
    m_decoder.append(m_transport->readAll());
    while (generation == m_generation) {
        std::optional<Frame> frame = m_decoder.next();
        if (!frame) {
            const DecodeError e = m_decoder.error();
            if (e == DecodeError::InvalidName) {
                // PROTOCOL §2.1: framing is intact; skip exactly that frame.
                qCDebug(lcKennelClient) << "skipped a frame with an invalid name";
                continue;
            }
            if (e != DecodeError::None && e != DecodeError::NeedMore) {
                closeConnection(KennelClient::ProtocolViolation,
                                QStringLiteral("undecodable data from the broker: %1")
                                    .arg(latin1(decodeErrorName(e))));
            }
            return;
        }
        handleFrame(*frame);
    }
}

void ClientConnection::transportFailed(KennelClient::ClientError error, const QString &text)
{
    if (!m_transport)
        return;
    // The broker often writes an Error and closes at once; both may be noticed in one pass, the
    // close first. Read what is buffered so that the Error, not the close, becomes the cause.
    const quint64 generation = m_generation;
    if (m_transportUp && m_transport->bytesAvailable() > 0)
        transportReadyRead();
    if (generation == m_generation)
        closeConnection(error, text);
}

void ClientConnection::handshakeTimedOut()
{
    const auto ms = qint64(connectTimeout.count());
    closeConnection(KennelClient::Timeout,
                    state == KennelClient::Connecting
                        ? QStringLiteral("could not connect within %1 ms").arg(ms)
                        : QStringLiteral("no Welcome from the broker within %1 ms").arg(ms));
}

void ClientConnection::handleFrame(const Frame &frame)
{
    qCDebug(lcKennelClient) << "received" << frameTypeName(frame.type) << "id" << frame.messageId
                            << "from" << frame.source << "payload" << frame.payload.size() << "bytes";
    const bool registered = state == KennelClient::Registered;
    switch (frame.type) {
    case FrameType::Welcome:
        handleWelcome(frame);
        return;
    case FrameType::Error:
        handleErrorFrame(frame);
        return;
    case FrameType::Bye:
        closeConnection(KennelClient::RemoteClosed, QStringLiteral("the broker said Bye"));
        return;
    case FrameType::Ping: {
        QByteArray pong;
        appendFrame(pong, FrameType::Pong, frame.messageId, NoFlags, {}, {}, frame.payload);
        write(pong);
        return;
    }
    case FrameType::Pong:
        Q_EMIT q->pongReceived();
        return;
    case FrameType::Deliver:
        if (!registered)
            break;
        Q_EMIT q->messageReceived(frame.source, frame.payload, frame.messageId);
        return;
    case FrameType::DeliveryStatus: {
        if (!registered)
            break;
        const std::optional<DeliveryStatus> status = decodeDeliveryStatus(frame.payload);
        if (!status) {
            closeConnection(KennelClient::ProtocolViolation, QStringLiteral("malformed DeliveryStatus payload"));
            return;
        }
        Q_EMIT q->deliveryStatusReceived(frame.messageId, frame.target, *status);
        return;
    }
    case FrameType::WatchdogAck: {
        if (!registered)
            break;
        const std::optional<WatchdogTerms> terms = decodeWatchdogTerms(frame.payload);
        if (!terms) {
            closeConnection(KennelClient::ProtocolViolation, QStringLiteral("malformed WatchdogAck payload"));
            return;
        }
        Q_EMIT q->watchdogRegistered(*terms);
        return;
    }
    case FrameType::Hello:
    case FrameType::Send:
    case FrameType::WatchdogRegister:
    case FrameType::WatchdogFeed:
        break; // client-to-broker frames: a broker never sends them
    default:
        // A newer broker may know frames we do not; they are its extensions, not our failures.
        qCDebug(lcKennelClient) << "ignoring unknown frame type" << int(frame.type);
        return;
    }
    closeConnection(KennelClient::ProtocolViolation,
                    QStringLiteral("unexpected %1 frame while %2")
                        .arg(latin1(frameTypeName(frame.type)),
                             latin1(QMetaEnum::fromType<KennelClient::State>().valueToKey(state))));
}

void ClientConnection::handleWelcome(const Frame &frame)
{
    if (state != KennelClient::Registering) {
        closeConnection(KennelClient::ProtocolViolation, QStringLiteral("unexpected Welcome while registered"));
        return;
    }
    const std::optional<WelcomePayload> welcome = decodeWelcome(frame.payload);
    if (!welcome) {
        closeConnection(KennelClient::ProtocolViolation, QStringLiteral("malformed Welcome payload"));
        return;
    }
    if (!frame.target.isEmpty() && frame.target != name) {
        closeConnection(KennelClient::ProtocolViolation,
                        QStringLiteral("Welcome names \"%1\", not \"%2\"")
                            .arg(QString::fromUtf8(frame.target), QString::fromUtf8(name)));
        return;
    }
    m_handshakeTimer.stop();
    m_nextBackoff = backoffMin;
    error = KennelClient::NoError;
    errorString.clear();
    brokerVersion = welcome->brokerVersion;
    brokerMaxFrameSize = welcome->maxFrameSize;
    brokerFeatures = welcome->features.value_or(NoFeatures); // an older broker: the version-1 core only
    qCInfo(lcKennelClient).noquote() << "registered as" << QString::fromUtf8(name) << "at"
                                     << (m_ownsTransport ? address.toString() : QStringLiteral("the given transport"));

    const quint64 generation = m_generation;
    setState(KennelClient::Registered);
    if (generation != m_generation)
        return;
    // Before registered(): its slots may already send, and a new connection starts unwatched.
    sendWatchdogTerms();
    Q_EMIT q->registered(name);
}

void ClientConnection::handleErrorFrame(const Frame &frame)
{
    const std::optional<ErrorPayload> payload = decodeError(frame.payload);
    if (!payload) {
        closeConnection(KennelClient::ProtocolViolation, QStringLiteral("malformed Error payload"));
        return;
    }
    const KennelClient::ClientError code = fromProtocol(payload->code);
    QString text = QStringLiteral("%1 (%2)").arg(latin1(errorCodeName(payload->code))).arg(int(payload->code));
    if (!payload->text.isEmpty())
        text += QStringLiteral(": ") + payload->text;

    if (state != KennelClient::Registered) {
        // PROTOCOL §4.1: before Welcome, only our Hello is outstanding, so an Error refuses it.
        // The broker keeps the connection open after some refusals (NameTaken, InvalidName) for
        // another Hello; we close anyway, so that every retry takes the one reconnect path.
        closeConnection(code, text);
        return;
    }
    qCInfo(lcKennelClient).noquote() << "broker reported" << text;
    m_remoteError.emplace(code, text);
    Q_EMIT q->errorOccurred(code, text);
}

void ClientConnection::closeConnection(KennelClient::ClientError cause, const QString &text)
{
    if (state == KennelClient::Disconnected && !m_transport)
        return;

    KennelClient::ClientError newError = cause;
    QString newText = text;
    bool alreadyReported = false;
    if (cause == KennelClient::RemoteClosed && m_remoteError) {
        std::tie(newError, newText) = *m_remoteError;
        alreadyReported = true;
    }

    ++m_generation;
    const quint64 generation = m_generation;
    m_handshakeTimer.stop();
    const bool wasUp = m_transportUp;
    const bool wasRegistered = state == KennelClient::Registered;
    m_transportUp = false;
    retireTransport(cause == KennelClient::NoError);
    m_decoder.reset();
    m_remoteError.reset();
    error = newError;
    errorString = newText;
    if (isFatal(newError))
        m_wantConnection = false;

    if (wasRegistered && newError != KennelClient::NoError)
        qCInfo(lcKennelClient).noquote() << "connection lost:" << newText;
    else
        qCDebug(lcKennelClient).noquote() << "connection closed:" << (newText.isEmpty() ? QStringLiteral("by request") : newText);

    // Decided before any signal, so that slots see reconnectPending() and may cancel it.
    const std::optional<std::chrono::milliseconds> reconnectDelay =
        newError != KennelClient::NoError ? scheduleReconnect() : std::nullopt;

    const KennelClient::State oldState = std::exchange(state, KennelClient::Disconnected);
    if (newError != KennelClient::NoError && !alreadyReported) {
        Q_EMIT q->errorOccurred(newError, newText);
        if (generation != m_generation)
            return;
    }
    if (oldState != KennelClient::Disconnected) {
        Q_EMIT q->stateChanged(KennelClient::Disconnected);
        if (generation != m_generation)
            return;
    }
    if (wasUp) {
        Q_EMIT q->disconnected();
        if (generation != m_generation)
            return;
    }
    if (reconnectDelay && m_reconnectTimer.isActive())
        Q_EMIT q->reconnectScheduled(int(reconnectDelay->count()));
}

void ClientConnection::retireTransport(bool graceful)
{
    QIODevice *device = std::exchange(m_transport, nullptr);
    if (!device)
        return;
    disconnect(device, nullptr, this, nullptr);
    closeTransport(device, graceful, m_ownsTransport, CloseGrace);
    m_ownsTransport = false;
}

std::optional<std::chrono::milliseconds> ClientConnection::scheduleReconnect()
{
    if (!m_wantConnection || !autoReconnect || !isUsable(address))
        return std::nullopt;
    const std::chrono::milliseconds delay = m_nextBackoff;
    m_nextBackoff = std::min(m_nextBackoff * 2, backoffMax);
    qCDebug(lcKennelClient) << "reconnecting in" << delay.count() << "ms";
    m_reconnectTimer.start(delay);
    return delay;
}

bool ClientConnection::write(const QByteArray &bytes)
{
    if (!m_transport)
        return false;
    if (m_transport->write(bytes) != bytes.size()) {
        // Not from here: write() is called from send() and signal handlers whose callers do not
        // expect the connection to vanish under them.
        failLater(KennelClient::TransportError,
                  QStringLiteral("write failed: %1").arg(m_transport->errorString()));
        return false;
    }
    return true;
}

void ClientConnection::failLater(KennelClient::ClientError error, const QString &text)
{
    const quint64 generation = m_generation;
    QMetaObject::invokeMethod(this, [this, generation, error, text] {
        if (generation == m_generation)
            closeConnection(error, text);
    }, Qt::QueuedConnection);
}

void ClientConnection::reportConfigError(KennelClient::ClientError code, const QString &text)
{
    m_wantConnection = false;
    error = code;
    errorString = text;
    qCWarning(lcKennelClient).noquote() << "cannot connect:" << text;
    Q_EMIT q->errorOccurred(code, text);
}

void ClientConnection::setState(KennelClient::State newState)
{
    if (state == newState)
        return;
    state = newState;
    Q_EMIT q->stateChanged(newState);
}

quint32 ClientConnection::send(const QByteArray &target, const QByteArray &payload, bool wantStatus)
{
    if (state != KennelClient::Registered) {
        qCDebug(lcKennelClient) << "send() while not registered: dropped";
        return 0;
    }
    if (!isValidName(target)) {
        qCDebug(lcKennelClient) << "send() to an invalid name: dropped";
        return 0;
    }
    if (qint64(Wire::HeaderSize) + target.size() + payload.size() > qint64(brokerMaxFrameSize)) {
        qCDebug(lcKennelClient) << "send() of" << payload.size() << "bytes exceeds the broker's limit: dropped";
        return 0;
    }
    quint32 id = ++m_lastMessageId;
    if (id == 0) // 0 means "not sent"; after 2^32 messages the ids wrap around it
        id = ++m_lastMessageId;
    QByteArray frame;
    appendFrame(frame, FrameType::Send, id, wantStatus ? WantDeliveryStatus : NoFlags, {}, target, payload);
    if (!write(frame))
        return 0;
    qCDebug(lcKennelClient) << "sent message" << id << "to" << target;
    return id;
}

bool ClientConnection::sendWhenRegistered(FrameType type, QByteArrayView payload)
{
    if (state != KennelClient::Registered)
        return false;
    QByteArray frame;
    appendFrame(frame, type, 0, NoFlags, {}, {}, payload);
    return write(frame);
}

void ClientConnection::sendWatchdogTerms()
{
    if (watchdogTerms)
        sendWhenRegistered(FrameType::WatchdogRegister, encodeWatchdogTerms(*watchdogTerms));
}

} // namespace Kennel::Internal
