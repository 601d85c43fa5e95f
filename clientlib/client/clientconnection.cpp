#include "clientconnection.h"
#include "topiccodec.h"
#include "topicname.h"

#include "callbook.h"

#include "names.h"

#include <QMetaEnum>

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

KennelClient::ClientError fromFailure(FramedConnection::Failure failure)
{
    switch (failure) {
    case FramedConnection::Failure::Refused:
        return KennelClient::ConnectionRefused;
    case FramedConnection::Failure::HostNotFound:
        return KennelClient::HostNotFound;
    case FramedConnection::Failure::RemoteClosed:
        return KennelClient::RemoteClosed;
    case FramedConnection::Failure::Timeout:
    case FramedConnection::Failure::IdleTimeout:
        return KennelClient::Timeout;
    case FramedConnection::Failure::ProtocolViolation:
        return KennelClient::ProtocolViolation;
    case FramedConnection::Failure::TransportError:
    case FramedConnection::Failure::Untrusted:
        break;
    }
    return KennelClient::TransportError;
}

} // namespace

ClientConnection::ClientConnection(KennelClient *q)
    : FramedConnection(&lcKennelClient, q)
    , topics(q, [this](FrameType type, quint32 id, quint16 flags, QByteArrayView payload) {
        return writeFrame(type, id, flags, {}, {}, payload);
    })
    , q(q)
{
    options().maxIncomingFrameSize = MaxIncomingFrameSize;
    // Messages are small and latency is the product; Nagle would hold them back.
    options().lowDelay = true;
    calls = new CallBook(q, this);
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
    const BrokerAddress &address = options().address;
    if (!pendingTransport() && !isUsable(address)) {
        reportConfigError(KennelClient::InvalidAddress,
                          address.isValid()
                              ? QStringLiteral("cannot connect to port 0 (%1)").arg(address.toString())
                              : QStringLiteral("no broker address set"));
        return;
    }
    qCDebug(lcKennelClient).noquote() << "connecting as" << name;
    open();
}

void ClientConnection::disconnectFromBroker()
{
    stopRetrying();
    if (state == KennelClient::Disconnected) {
        abandonQueue(); // a reconnect may have been pending
        return;
    }
    if (isTransportUp()) {
        framesHandled(); // what a slot processed before disconnecting is not held again (PROTOCOL)
        writeFrame(FrameType::Bye, 0, NoFlags, {}, {}, {});
    }
    closeConnection(KennelClient::NoError, QString());
}

void ClientConnection::shutdownSilently()
{
    m_queue.clear();
    m_queuedBytes = 0;
    m_unconfirmed.clear();
    m_unconfirmedBytes = 0;
    if (isTransportUp())
        framesHandled();
    shutdownQuietly();
}

void ClientConnection::attemptStarted()
{
    m_remoteError.reset();
    m_shutdownMark.reset();
    setState(KennelClient::Connecting);
}

void ClientConnection::transportReady()
{
    HelloPayload hello;
    hello.role = Role::Client;
    hello.pid = pid;
    // PROTOCOL §4.1.1: what this library understands; the Welcome says what the broker offers.
    hello.features = Wire::KnownFeatures;
    if (!writeFrame(FrameType::Hello, 0, NoFlags, name, {}, encodeHello(hello)))
        return;

    const quint64 before = generation();
    setState(KennelClient::Registering);
    if (before != generation())
        return;
    Q_EMIT q->connected();
}

void ClientConnection::transportLost(Failure failure, const QString &text)
{
    closeConnection(fromFailure(failure), text);
}

void ClientConnection::frameReceived(const Frame &frame)
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
    case FrameType::Ping:
        writeFrame(FrameType::Pong, frame.messageId, NoFlags, {}, {}, frame.payload);
        return;
    case FrameType::Pong:
        Q_EMIT q->pongReceived();
        return;
    case FrameType::Deliver:
        if (!registered)
            break;
        // Counted before the signal: a slot that disconnects (Bye) acknowledges the message it is
        // handling too. The acknowledgement itself is written after the read (framesHandled()).
        ++m_delivered;
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
        if (!confirm(frame.messageId, *status))
            return;
        Q_EMIT q->deliveryStatusReceived(frame.messageId, frame.target, *status);
        return;
    }
    case FrameType::CallIncoming:
    case FrameType::CallResult:
        if (!registered)
            break;
        calls->frameReceived(frame);
        return;
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
    case FrameType::TopicAck:
    case FrameType::PublishStatus:
    case FrameType::Publication:
        if (!registered)
            break;
        topics.handle(frame);
        return;
    case FrameType::Hello:
    case FrameType::Send:
    case FrameType::Call:
    case FrameType::Reply:
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

void ClientConnection::framesHandled()
{
    // PROTOCOL: cumulative, so one frame per read acknowledges every message it brought.
    if (m_delivered == m_acknowledged || state != KennelClient::Registered || !(brokerFeatures & FeatureDeliverAck))
        return;
    if (writeFrame(FrameType::DeliverAck, m_delivered, NoFlags, {}, {}, {}))
        m_acknowledged = m_delivered;
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
    handshakeDone();
    error = KennelClient::NoError;
    errorString.clear();
    brokerVersion = welcome->brokerVersion;
    brokerMaxFrameSize = welcome->maxFrameSize;
    brokerFeatures = welcome->features.value_or(NoFeatures); // an older broker: the version-1 core only
    m_delivered = m_acknowledged = 0; // PROTOCOL: counted from the Welcome
    qCInfo(lcKennelClient).noquote() << "registered as" << QString::fromUtf8(name) << "at" << peerText();

    // What was sent while the link was down goes first, before anything a slot of the signals
    // below sends.
    const quint64 before = generation();
    flushQueue();
    if (before != generation())
        return;
    setState(KennelClient::Registered);
    if (before != generation())
        return;
    // Before registered(): its slots may already send, and a new connection starts unwatched
    // and without subscriptions.
    sendWatchdogTerms();
    topics.registered(brokerFeatures & FeatureTopics);
    if (before != generation())
        return;
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
    if (payload->code == ErrorCode::ShuttingDown && (brokerFeatures & FeatureShutdownMark))
        m_shutdownMark = frame.messageId;
    m_remoteError.emplace(code, text);
    Q_EMIT q->errorOccurred(code, text);
}

void ClientConnection::closeConnection(KennelClient::ClientError cause, const QString &text)
{
    if (state == KennelClient::Disconnected && !transport())
        return;

    KennelClient::ClientError newError = cause;
    QString newText = text;
    bool alreadyReported = false;
    if (cause == KennelClient::RemoteClosed && m_remoteError) {
        std::tie(newError, newText) = *m_remoteError;
        alreadyReported = true;
    }
    const bool wasRegistered = state == KennelClient::Registered;
    m_remoteError.reset();
    error = newError;
    errorString = newText;

    if (wasRegistered && newError != KennelClient::NoError)
        qCInfo(lcKennelClient).noquote() << "connection lost:" << newText;
    else
        qCDebug(lcKennelClient).noquote() << "connection closed:" << (newText.isEmpty() ? QStringLiteral("by request") : newText);

    // The reconnect is decided before any signal, so that slots see reconnectPending() and may
    // cancel it.
    const Ended ended = endConnection(cause == KennelClient::NoError,
                                      newError != KennelClient::NoError && !isFatal(newError));
    const quint64 current = generation();

    const KennelClient::State oldState = std::exchange(state, KennelClient::Disconnected);
    // Before the queue is abandoned or kept: what the broker did not take joins it. Closed by
    // request, the statuses were given up with the connection, as always.
    if (cause == KennelClient::NoError) {
        m_unconfirmed.clear();
        m_unconfirmedBytes = 0;
    } else {
        reclaimUnconfirmed();
        if (current != generation())
            return;
    }
    if (wasRegistered) {
        // Before any other signal: a slot that reconnects must not see these calls outstanding.
        calls->linkLost(newText.isEmpty() ? QStringLiteral("closed by request") : newText);
        if (current != generation())
            return;
    }
    if (!ended.reconnectDelay) {
        // Reported first: these messages are gone whatever the slots below do next.
        abandonQueue();
        if (current != generation())
            return;
    }
    if (newError != KennelClient::NoError && !alreadyReported) {
        Q_EMIT q->errorOccurred(newError, newText);
        if (current != generation())
            return;
    }
    if (oldState != KennelClient::Disconnected) {
        Q_EMIT q->stateChanged(KennelClient::Disconnected);
        if (current != generation())
            return;
    }
    if (ended.wasUp) {
        Q_EMIT q->disconnected();
        if (current != generation())
            return;
    }
    if (ended.reconnectDelay && reconnectPending())
        Q_EMIT q->reconnectScheduled(int(ended.reconnectDelay->count()));
}

void ClientConnection::reportConfigError(KennelClient::ClientError code, const QString &text)
{
    stopRetrying();
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
    const bool direct = state == KennelClient::Registered && m_queue.empty();
    if (!direct && (queueMaxMessages <= 0 || queueMaxBytes <= 0 || !linkWanted())) {
        qCDebug(lcKennelClient) << "send() while not registered: dropped";
        return 0;
    }
    if (!isValidTarget(target)) {
        qCDebug(lcKennelClient) << "send() to an invalid name: dropped";
        return 0;
    }
    if (qint64(Wire::HeaderSize) + target.size() + payload.size() > qint64(brokerMaxFrameSize)) {
        qCDebug(lcKennelClient) << "send() of" << payload.size() << "bytes exceeds the broker's limit: dropped";
        return 0;
    }
    const quint32 id = nextMessageId(); // 0 means "not sent"; the ids wrap around it
    const quint16 flags = wantStatus ? WantDeliveryStatus : NoFlags;
    if (!direct || keepsUnconfirmed()) {
        QByteArray frame;
        appendFrame(frame, FrameType::Send, id, flags, {}, target, payload);
        if (!direct)
            return enqueue(target, std::move(frame), id, wantStatus);
        if (!write(frame))
            return 0;
        keepUnconfirmed(id, target, frame, wantStatus);
        qCDebug(lcKennelClient) << "sent message" << id << "to" << target;
        return id;
    }
    if (!writeFrame(FrameType::Send, id, flags, {}, target, payload))
        return 0;
    qCDebug(lcKennelClient) << "sent message" << id << "to" << target;
    return id;
}

bool ClientConnection::linkWanted() const
{
    // Connecting or registering, or waiting for the next attempt: a registration may follow.
    return state != KennelClient::Disconnected || reconnectPending();
}

quint32 ClientConnection::enqueue(const QByteArray &target, QByteArray frame, quint32 id, bool wantStatus)
{
    if (qint64(m_queue.size()) >= queueMaxMessages || m_queuedBytes + frame.size() > queueMaxBytes) {
        // Once per outage at warning: an application sending steadily into a long outage would
        // otherwise write a line per message. Each loss is still reported by sendFailed().
        if (m_refusedWhileDown++ == 0)
            qCWarning(lcKennelClient).noquote()
                << QStringLiteral("send queue full (%1 messages, %2 bytes): message %3 to %4 is not queued (more such losses are counted, not logged, until the link is back)")
                       .arg(m_queue.size()).arg(m_queuedBytes).arg(id).arg(QString::fromUtf8(target));
        QMetaObject::invokeMethod(q, [client = q, id, target] {
            Q_EMIT client->sendFailed(id, target, KennelClient::SendQueueFull);
        }, Qt::QueuedConnection);
        return id;
    }
    m_queuedBytes += frame.size();
    m_queue.push_back({id, target, std::move(frame), wantStatus});
    qCDebug(lcKennelClient) << "queued message" << id << "to" << target << "while not registered";
    return id;
}

void ClientConnection::flushQueue()
{
    if (m_refusedWhileDown > 0) {
        qCInfo(lcKennelClient) << "messages lost to the full send queue while the link was down:" << m_refusedWhileDown;
        m_refusedWhileDown = 0;
    }
    if (!m_queue.empty())
        qCInfo(lcKennelClient) << "sending" << m_queue.size() << "messages queued while the link was down";
    const quint64 before = generation();
    while (!m_queue.empty() && before == generation()) {
        QueuedSend message = std::move(m_queue.front());
        m_queue.pop_front();
        m_queuedBytes -= message.frame.size();
        // PROTOCOL §8.1: the limit is this broker's, which may be lower than the last one's.
        if (message.frame.size() > qint64(brokerMaxFrameSize)) {
            qCWarning(lcKennelClient) << "queued message" << message.id << "exceeds this broker's limit of"
                                      << brokerMaxFrameSize << "bytes: not sent";
            Q_EMIT q->sendFailed(message.id, message.target, KennelClient::SendTooLarge);
            continue;
        }
        if (!write(message.frame)) {
            // The connection ends from the event loop; the message waits for the next one.
            m_queuedBytes += message.frame.size();
            m_queue.push_front(std::move(message));
            return;
        }
        qCDebug(lcKennelClient) << "sent queued message" << message.id << "to" << message.target;
        if (keepsUnconfirmed())
            keepUnconfirmed(message.id, message.target, message.frame, message.wantStatus);
    }
}

void ClientConnection::keepUnconfirmed(quint32 id, const QByteArray &target, const QByteArray &frame, bool wantStatus)
{
    m_unconfirmedBytes += frame.size();
    m_unconfirmed.push_back({{id, target, frame, wantStatus}});
    while (!m_unconfirmed.empty()
           && (qint64(m_unconfirmed.size()) > queueMaxMessages || m_unconfirmedBytes > queueMaxBytes)) {
        // The broker has had the oldest long enough to answer it; if it stops now without having
        // read it, that one message cannot be sent again.
        if (m_unconfirmedForgotten++ == 0)
            qCWarning(lcKennelClient).noquote()
                << QStringLiteral("more unconfirmed messages than the send queue's bound (%1 messages, %2 bytes): message %3 is no longer kept for a broker restart (more are counted, not logged)")
                       .arg(queueMaxMessages).arg(queueMaxBytes).arg(m_unconfirmed.front().send.id);
        m_unconfirmedBytes -= m_unconfirmed.front().send.frame.size();
        m_unconfirmed.pop_front();
    }
}

bool ClientConnection::confirm(quint32 id, DeliveryStatus status)
{
    if (m_unconfirmed.empty() || status == DeliveryStatus::Held)
        return true; // held: the final status follows (PROTOCOL §5.4)
    // The broker reads a connection's Sends in order, so a status for `id` also settles every
    // earlier Send that asked for none. Statuses come nearly in order: the search ends early.
    for (auto it = m_unconfirmed.begin(); it != m_unconfirmed.end();) {
        if (it->send.id == id) {
            if (status == DeliveryStatus::ShuttingDown) {
                it->notTaken = true;
                return false;
            }
            m_unconfirmedBytes -= it->send.frame.size();
            m_unconfirmed.erase(it);
            return true;
        }
        if (!it->send.wantStatus) {
            m_unconfirmedBytes -= it->send.frame.size();
            it = m_unconfirmed.erase(it);
        } else {
            ++it;
        }
    }
    return true;
}

void ClientConnection::reclaimUnconfirmed()
{
    if (m_unconfirmedForgotten > 1)
        qCWarning(lcKennelClient) << m_unconfirmedForgotten << "messages were no longer kept for a broker restart (the send queue's bound)";
    m_unconfirmedForgotten = 0;
    if (m_unconfirmed.empty())
        return;
    std::deque<Unconfirmed> written;
    written.swap(m_unconfirmed);
    m_unconfirmedBytes = 0;
    const std::optional<quint32> mark = std::exchange(m_shutdownMark, std::nullopt);
    std::deque<QueuedSend> again;
    std::vector<std::pair<quint32, QByteArray>> unknown;
    for (Unconfirmed &u : written) {
        // Ids increase and wrap: "after the mark" is a serial-number comparison.
        const bool unread = mark && qint32(u.send.id - *mark) > 0;
        if (u.notTaken || unread)
            again.push_back(std::move(u.send));
        else if (!mark && u.send.wantStatus)
            unknown.emplace_back(u.send.id, u.send.target);
        // Else the stopping broker read it and gave it to its receiver before saying Bye.
    }
    if (!again.empty()) {
        qCInfo(lcKennelClient) << again.size() << "messages the broker did not take are sent again after the next registration";
        for (auto it = again.rbegin(); it != again.rend(); ++it) {
            m_queuedBytes += it->frame.size();
            m_queue.push_front(std::move(*it)); // before what was queued while down: sent earlier
        }
    }
    if (!unknown.empty()) {
        qCWarning(lcKennelClient) << unknown.size()
                                  << "messages were written to a broker that went away without answering them: they may or may not have been delivered, and are not sent again";
        const quint64 current = generation();
        for (const auto &[id, target] : unknown) {
            Q_EMIT q->sendFailed(id, target, KennelClient::SendOutcomeUnknown);
            if (current != generation())
                return;
        }
    }
}

void ClientConnection::abandonQueue()
{
    m_refusedWhileDown = 0;
    if (m_queue.empty())
        return;
    std::deque<QueuedSend> lost;
    lost.swap(m_queue);
    m_queuedBytes = 0;
    qCWarning(lcKennelClient) << lost.size() << "queued messages will not be sent: no connection is wanted any more";
    for (const QueuedSend &message : lost)
        Q_EMIT q->sendFailed(message.id, message.target, KennelClient::SendAbandoned);
}

bool ClientConnection::sendWhenRegistered(FrameType type, QByteArrayView payload)
{
    if (state != KennelClient::Registered)
        return false;
    return writeFrame(type, 0, NoFlags, {}, {}, payload);
}

void ClientConnection::sendWatchdogTerms()
{
    if (watchdogTerms)
        sendWhenRegistered(FrameType::WatchdogRegister, encodeWatchdogTerms(*watchdogTerms));
}

quint32 ClientConnection::publish(const QByteArray &topic, const QByteArray &payload, bool retain, bool wantStatus)
{
    if (!topicsLive() || Topic::checkName(topic, Topic::MaxLength, 1024) != Topic::Check::Ok)
        return 0;
    const quint32 id = nextMessageId();
    const quint16 flags = quint16((retain ? RetainFlag : NoFlags) | (wantStatus ? WantDeliveryStatus : NoFlags));
    if (!writeFrame(FrameType::Publish, id, flags, {}, {}, encodeTopicMessage(topic, payload)))
        return 0;
    return id;
}

} // namespace Kennel::Internal
