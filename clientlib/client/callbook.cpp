#include "callbook.h"

#include "clientconnection.h"
#include "framecodec.h"
#include "kennelclient.h"
#include "names.h"

#include <QMetaEnum>

namespace Kennel {

// --- PendingCall -------------------------------------------------------------------------------

PendingCall::PendingCall(QByteArray target, quint32 id, QObject *parent)
    : QObject(parent)
    , m_target(std::move(target))
    , m_id(id)
{
}

PendingCall::~PendingCall() = default;

const char *PendingCall::resultName(Result result)
{
    const char *name = QMetaEnum::fromType<Result>().valueToKey(result);
    return name ? name : "Unknown";
}

void PendingCall::finish(Result result, QByteArray reply, quint16 code, QString text)
{
    if (isFinished())
        return;
    m_result = result;
    m_reply = std::move(reply);
    m_errorCode = code;
    m_errorText = std::move(text);
    Q_EMIT finished(this);
    if (m_autoDelete)
        deleteLater();
}

// --- IncomingCall ------------------------------------------------------------------------------

IncomingCall::IncomingCall(Internal::CallBook *book, quint64 generation, QByteArray caller, quint32 id,
                           quint32 deadlineMs, QByteArray payload, QObject *parent)
    : QObject(parent)
    , m_book(book)
    , m_generation(generation)
    , m_caller(std::move(caller))
    , m_id(id)
    , m_deadlineMs(deadlineMs)
    , m_payload(std::move(payload))
{
    // Past its deadline the broker has answered the caller `timeout`: a reply would be dropped.
    // A little later than the deadline, so that a reply racing it is still sent.
    m_expiry.setSingleShot(true);
    connect(&m_expiry, &QTimer::timeout, this, &QObject::deleteLater);
    m_expiry.start(int(std::min<quint32>(deadlineMs, 24u * 3600 * 1000)) + 1000);
}

IncomingCall::~IncomingCall() = default;

bool IncomingCall::reply(const QByteArray &payload)
{
    return answer(0, payload);
}

bool IncomingCall::replyError(quint16 code, const QString &text)
{
    return answer(code == 0 ? 1 : code, text.toUtf8());
}

bool IncomingCall::answer(quint16 code, QByteArrayView payload)
{
    if (m_answered)
        return false;
    m_answered = true;
    auto *book = static_cast<Internal::CallBook *>(m_book.data());
    const bool sent = book && book->sendReply(m_generation, m_id, code, payload);
    deleteLater();
    return sent;
}

} // namespace Kennel

namespace Kennel::Internal {

CallBook::CallBook(KennelClient *client, ClientConnection *connection)
    : QObject(client)
    , m_client(client)
    , m_connection(connection)
{
}

PendingCall *CallBook::call(const QByteArray &target, const QByteArray &payload, int timeoutMs)
{
    auto *pending = new PendingCall(target, 0, m_client);
    if (m_connection->state != KennelClient::Registered) {
        failLater(pending, PendingCall::NotRegistered, QStringLiteral("not registered with a broker"));
        return pending;
    }
    if (!(m_connection->brokerFeatures & FeatureCalls)) {
        failLater(pending, PendingCall::NotOffered, QStringLiteral("the broker does not offer calls"));
        return pending;
    }
    if (!isValidName(target)) {
        failLater(pending, PendingCall::InvalidRequest, QStringLiteral("'%1' is not a valid name").arg(QString::fromUtf8(target)));
        return pending;
    }
    if (qint64(Wire::HeaderSize) + target.size() + 4 + payload.size() > qint64(m_connection->brokerMaxFrameSize)) {
        failLater(pending, PendingCall::InvalidRequest, QStringLiteral("the call exceeds the broker's frame size"));
        return pending;
    }
    const quint32 id = m_connection->nextMessageId();
    pending->m_id = id;
    const quint32 deadline = quint32(std::max(timeoutMs, 0));
    if (!m_connection->writeFrame(FrameType::Call, id, NoFlags, {}, target, encodeCallRequest(deadline, payload))) {
        failLater(pending, PendingCall::LinkLost, QStringLiteral("the connection to the broker is down"));
        return pending;
    }
    m_pending.insert(id, pending);
    return pending;
}

void CallBook::failLater(PendingCall *call, PendingCall::Result result, const QString &text)
{
    // From the event loop: the caller connects to finished() after call() returns.
    QMetaObject::invokeMethod(call, [call, result, text] { call->finish(result, {}, 0, text); }, Qt::QueuedConnection);
}

void CallBook::frameReceived(const Frame &frame)
{
    if (frame.type == FrameType::CallResult) {
        const QPointer<PendingCall> pending = m_pending.take(frame.messageId);
        const std::optional<CallResultPayload> result = decodeCallResult(frame.payload);
        if (!pending || !result)
            return; // the caller deleted it, or a result we cannot read: nothing waits for it
        const auto outcome = PendingCall::Result(result->outcome);
        QString text;
        if (result->outcome == CallOutcome::ErrorReply) {
            text = QString::fromUtf8(result->payload);
        } else if (result->outcome != CallOutcome::Replied) {
            text = QStringLiteral("%1 (%2)").arg(QLatin1String(callOutcomeName(result->outcome))).arg(int(result->outcome));
            if (!result->payload.isEmpty()) // the broker's why: policy_denied's rule
                text += QStringLiteral(": ") + QString::fromUtf8(result->payload);
        }
        pending->finish(outcome, result->outcome == CallOutcome::Replied ? result->payload : QByteArray(), result->code, text);
        return;
    }
    // CallIncoming
    const std::optional<CallRequest> request = decodeCallRequest(frame.payload);
    if (!request)
        return;
    auto *incoming = new IncomingCall(this, m_connection->generation(), frame.source, frame.messageId, request->deadlineMs,
                                      request->payload, m_client);
    m_incoming.insert(frame.messageId, incoming);
    connect(incoming, &QObject::destroyed, this, [this, id = frame.messageId] { m_incoming.remove(id); });
    const QPointer<IncomingCall> guard(incoming);
    if (m_handler)
        m_handler(incoming);
    if (guard)
        Q_EMIT m_client->callReceived(incoming);
}

bool CallBook::sendReply(quint64 generation, quint32 id, quint16 code, QByteArrayView payload)
{
    if (generation != m_connection->generation() || m_connection->state != KennelClient::Registered)
        return false;
    return m_connection->writeFrame(FrameType::Reply, id, NoFlags, {}, {}, encodeCallReply(code, payload));
}

void CallBook::linkLost(const QString &why)
{
    const QHash<quint32, QPointer<PendingCall>> pending = std::exchange(m_pending, {});
    for (const QPointer<PendingCall> &call : pending) {
        if (call)
            call->finish(PendingCall::LinkLost, {}, 0, QStringLiteral("the connection to the broker dropped: %1").arg(why));
    }
    const QHash<quint32, QPointer<IncomingCall>> incoming = std::exchange(m_incoming, {});
    for (const QPointer<IncomingCall> &call : incoming) {
        if (call) {
            call->m_answered = true; // nobody left to answer to
            call->deleteLater();
        }
    }
}

} // namespace Kennel::Internal
