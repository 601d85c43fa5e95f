#include "topicsubscriptions.h"

#include "kennelclient.h"
#include "topiccodec.h"
#include "topicname.h"

namespace Kennel::Internal {

namespace {
KennelClient::ClientError clientError(ErrorCode code)
{
    return KennelClient::ClientError(int(code)); // mirrored below 1000 (KennelClient::ClientError)
}
} // namespace

TopicSubscriptions::TopicSubscriptions(KennelClient *q, Writer writer)
    : q(q)
    , m_write(std::move(writer))
{
}

quint32 TopicSubscriptions::request(FrameType type, const QByteArray &filter)
{
    if (++m_nextId == 0)
        ++m_nextId;
    if (!m_write(type, m_nextId, NoFlags, encodeTopicFilter(filter)))
        return 0;
    m_pending.insert(m_nextId, Pending{type == FrameType::Subscribe, filter});
    return m_nextId;
}

bool TopicSubscriptions::subscribe(const QByteArray &filter, bool live)
{
    // The wire's bounds; the broker may have lower ones, and says so in its TopicAck.
    if (Topic::checkFilter(filter, Topic::MaxLength, 1024) != Topic::Check::Ok)
        return false;
    if (!m_filters.contains(filter))
        m_filters.append(filter);
    if (live) // else: subscribed at the next registration
        request(FrameType::Subscribe, filter);
    return true;
}

bool TopicSubscriptions::unsubscribe(const QByteArray &filter, bool live)
{
    if (!m_filters.removeOne(filter))
        return false;
    if (live) // else: a new connection starts without it anyway
        request(FrameType::Unsubscribe, filter);
    return true;
}

void TopicSubscriptions::registered(bool brokerOffersTopics)
{
    m_pending.clear(); // answers of an old connection never come
    if (m_filters.isEmpty())
        return;
    if (!brokerOffersTopics) {
        for (const QByteArray &filter : std::as_const(m_filters))
            Q_EMIT q->subscriptionRefused(filter, KennelClient::UnknownFrameType,
                                          QStringLiteral("the broker does not offer topics"));
        return;
    }
    for (const QByteArray &filter : std::as_const(m_filters))
        request(FrameType::Subscribe, filter);
}

bool TopicSubscriptions::handle(const Frame &frame)
{
    switch (frame.type) {
    case FrameType::Publication: {
        const std::optional<TopicMessage> m = decodeTopicMessage(frame.payload);
        if (!m)
            return true; // a broken publication is dropped, not fatal: the stream is intact
        Q_EMIT q->publicationReceived(m->topic.toByteArray(), m->message.toByteArray(), frame.source,
                                      frame.flags & RetainFlag);
        return true;
    }
    case FrameType::TopicAck: {
        const Pending pending = m_pending.take(frame.messageId);
        const std::optional<TopicAckPayload> ack = decodeTopicAck(frame.payload);
        if (!ack || pending.filter.isEmpty())
            return true;
        if (ack->result == ErrorCode::None) {
            if (pending.subscribe)
                Q_EMIT q->subscribed(pending.filter, int(ack->count));
            return true;
        }
        // Refused: not wanted any more (a reconnect would only be refused again).
        if (pending.subscribe)
            m_filters.removeOne(pending.filter);
        Q_EMIT q->subscriptionRefused(pending.filter, clientError(ack->result), ack->text);
        return true;
    }
    case FrameType::PublishStatus: {
        const std::optional<PublishStatusPayload> s = decodePublishStatus(frame.payload);
        if (s)
            Q_EMIT q->publishStatusReceived(frame.messageId, clientError(s->result), int(s->delivered), int(s->notTaken));
        return true;
    }
    default:
        return false;
    }
}

} // namespace Kennel::Internal
