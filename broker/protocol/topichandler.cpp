#include "topichandler.h"
#include "logging.h"

#include "brokerconfig.h"
#include "framecodec.h"
#include "handlercontext.h"
#include "legacyframe.h"
#include "router.h"
#include "session.h"
#include "topicbus.h"
#include "topiccodec.h"

namespace Kennel {

bool topicsOffered(const HandlerContext &context)
{
    return context.topics && context.config.topics.enabled;
}

void handleTopicFrame(HandlerContext &context, Session &session, const FrameView &frame)
{
    // PROTOCOL §4.1.1: a feature's requests from a client that did not list it (or before its
    // Hello, or from a broker that does not offer it) are answered as unknown frames are.
    if (Q_UNLIKELY(!topicsOffered(context) || session.kind() != Session::Kind::Client
                   || !(session.features() & FeatureTopics))) {
        session.refuse(ErrorCode::UnknownFrameType,
                       QStringLiteral("%1 frames need the topics feature, listed in the Hello")
                           .arg(QLatin1String(frameTypeName(frame.type))),
                       frame.messageId);
        return;
    }
    TopicBus &topics = *context.topics;
    // The broker stamps the registered name, as on Send; topic frames have no target.
    if (Q_UNLIKELY(!frame.source.isEmpty() && frame.source != QByteArrayView(session.name()))) {
        session.refuse(ErrorCode::SourceMismatch,
                       QStringLiteral("source '%1' is not this connection's name").arg(QString::fromLatin1(frame.source.toByteArray())),
                       frame.messageId);
        return;
    }
    if (Q_UNLIKELY(!frame.target.isEmpty())) {
        session.refuse(ErrorCode::MalformedFrame, QStringLiteral("topic frames carry no target name"), frame.messageId);
        return;
    }

    if (frame.type == FrameType::Publish) {
        const std::optional<TopicMessage> m = decodeTopicMessage(frame.payload);
        if (!m) {
            session.refuse(ErrorCode::MalformedFrame, QStringLiteral("publish payload is malformed"), frame.messageId);
            return;
        }
        const TopicBus::Outcome outcome =
            topics.publish(session, m->topic, m->message, frame.flags & RetainFlag, frame.messageId);
        if (frame.flags & WantDeliveryStatus) {
            session.sendFrame(FrameType::PublishStatus, frame.messageId, {}, {},
                              encodePublishStatus({outcome.result, outcome.delivered, outcome.notTaken, outcome.text}));
        } else if (outcome.result != ErrorCode::None) {
            session.refuse(outcome.result, outcome.text, frame.messageId);
        }
        return;
    }

    const std::optional<QByteArrayView> filter = decodeTopicFilter(frame.payload);
    if (!filter) {
        session.refuse(ErrorCode::MalformedFrame,
                       QStringLiteral("%1 payload is malformed").arg(QLatin1String(frameTypeName(frame.type))), frame.messageId);
        return;
    }
    const bool subscribing = frame.type == FrameType::Subscribe;
    const TopicBus::Answer answer = subscribing ? topics.subscribe(session, *filter) : topics.unsubscribe(session, *filter);
    session.sendFrame(FrameType::TopicAck, frame.messageId, {}, {}, encodeTopicAck({answer.result, answer.count, answer.text}));
    if (answer.result != ErrorCode::None) {
        ++session.counters.refusals;
        qCInfo(lcProtocol).noquote() << session.describe() << frameTypeName(frame.type) << "refused:" << answer.text;
        return;
    }
    // PROTOCOL: the retained values follow the ack.
    if (subscribing && answer.count)
        topics.sendRetained(session, *filter);
}

bool publishMappedLegacy(HandlerContext &context, Session &session, const Legacy::FrameView &frame)
{
    if (Q_LIKELY(!context.topics) || !context.config.topics.enabled)
        return false;
    const QByteArrayView topic = context.topics->topicForName(frame.target);
    if (Q_LIKELY(topic.isEmpty()))
        return false;
    const TopicBus::Outcome outcome =
        context.topics->publish(session, topic, frame.text(), false, quint32(context.router.nextLegacyMessageId()));
    // A denial is logged by the policy's gate, rate-limited: an old program cannot be told.
    if (outcome.result != ErrorCode::None && outcome.result != ErrorCode::PolicyDenied)
        qCWarning(lcLegacy).noquote() << session.describe() << "publishing to" << QString::fromUtf8(topic) << "failed:" << outcome.text;
    return true;
}

} // namespace Kennel
