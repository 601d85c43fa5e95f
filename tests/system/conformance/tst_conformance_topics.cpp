// Protocol conformance, PROTOCOL §5.5: topics (publish/subscribe with retained values).
// One test function per numbered rule, named after it, each driving a real kennel-broker
// process through raw sockets with the pure codecs only.
#include "conformancepeer.h"

#include "topiccodec.h"

using namespace ConformanceTest;

namespace {

// The shared broker: small queues (a slow subscriber fills one quickly), three subscriptions per
// connection, topics of at most 64 bytes and 4 levels, and the old-protocol names of R-5.5.8.
const QByteArray TopicsConfig = QByteArrayLiteral(
    "[limits]\nmax_frame_size = 8192\nmax_queue_bytes = 8192\n"
    "[topics]\nmax_subscriptions = 3\nmax_topic_length = 64\nmax_levels = 4\n"
    "subscribe = r558rx r558/#, r558n r558/+\n"
    "publish_names = r558pub r558/from-old\n");

bool registerTopics(Conn &conn, const QByteArray &name, quint32 features = FeatureTopics)
{
    HelloPayload hello;
    hello.features = features;
    conn.hello(name, 1, hello);
    const std::optional<Frame> w = conn.next();
    if (!w || w->type != FrameType::Welcome)
        return false;
    const std::optional<WelcomePayload> offer = decodeWelcome(w->payload);
    return offer && offer->features && (*offer->features & FeatureTopics);
}

std::optional<TopicAckPayload> ackOf(const std::optional<Frame> &f, quint32 id)
{
    if (!f || f->type != FrameType::TopicAck || f->messageId != id || !f->source.isEmpty() || !f->target.isEmpty())
        return std::nullopt;
    return decodeTopicAck(f->payload);
}

std::optional<TopicAckPayload> subscribe(Conn &conn, const QByteArray &filter, quint32 id, FrameType type = FrameType::Subscribe)
{
    conn.send(type, id, {}, {}, encodeTopicFilter(filter));
    return ackOf(conn.next(), id);
}

void publish(Conn &conn, const QByteArray &topic, const QByteArray &message, quint32 id, quint16 flags = NoFlags)
{
    conn.send(FrameType::Publish, id, {}, {}, encodeTopicMessage(topic, message), flags);
}

std::optional<PublishStatusPayload> statusOfPublish(const std::optional<Frame> &f, quint32 id)
{
    if (!f || f->type != FrameType::PublishStatus || f->messageId != id)
        return std::nullopt;
    return decodePublishStatus(f->payload);
}

struct Received
{
    QByteArray source;
    QByteArray topic;
    QByteArray message;
    quint16 flags = 0;
    quint32 id = 0;
};

std::optional<Received> publicationOf(const std::optional<Frame> &f)
{
    if (!f || f->type != FrameType::Publication || !f->target.isEmpty())
        return std::nullopt;
    const std::optional<TopicMessage> m = decodeTopicMessage(f->payload);
    if (!m)
        return std::nullopt;
    return Received{f->source, m->topic.toByteArray(), m->message.toByteArray(), f->flags, f->messageId};
}

} // namespace

class tst_ConformanceTopics : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();

    void R_5_5_1_topicFramesNeedTheFeature();
    void R_5_5_2_subscribeAndUnsubscribeAcked();
    void R_5_5_3_retainedSentAfterTheAck();
    void R_5_5_4_publicationFields();
    void R_5_5_5_topicGrammarRefused();
    void R_5_5_6_slowSubscriberCountedOthersServed();
    void R_5_5_7_boundsAtTheirEdges();
    void R_5_5_8_oldProgramsTakePart();
    void R_5_5_9_subscriptionsEndWithTheConnection();
    void R_5_5_10_monitorsSeeSubscriptionsAndPublications();
    // R-5.5.4 again, for the broker's memory of the last topic's subscribers.
    void repeatedTopicFollowsSubscriptionChanges();
    void sharedFramesKeepOrderAndBound();

private:
    BrokerProcess m_broker;
};

void tst_ConformanceTopics::initTestCase()
{
    QVERIFY(startBroker(m_broker, TopicsConfig));
}

void tst_ConformanceTopics::R_5_5_1_topicFramesNeedTheFeature()
{
    // Before the Hello: as unknown frames, whatever the feature.
    Conn pending;
    QVERIFY(pending.tcp(m_broker.tcpPort()));
    pending.send(FrameType::Subscribe, 7, {}, {}, encodeTopicFilter("a/b"));
    std::optional<Frame> f = pending.next();
    QCOMPARE(errorOf(f), ErrorCode::UnknownFrameType);
    QCOMPARE(f->messageId, 7u);

    // Registered without listing the feature: the same, and the connection stays open.
    Conn plain;
    QVERIFY(plain.tcp(m_broker.tcpPort()));
    HelloPayload hello;
    hello.features = FeatureHeldStatus; // features, but not topics
    plain.hello("r551-plain", 1, hello);
    QCOMPARE(plain.next()->type, FrameType::Welcome);
    for (FrameType t : {FrameType::Subscribe, FrameType::Unsubscribe, FrameType::Publish}) {
        plain.send(t, 8, {}, {}, encodeTopicMessage("a/b", "x"));
        QCOMPARE(errorOf(plain.next()), ErrorCode::UnknownFrameType);
    }
    plain.send(FrameType::Ping, 9, {}, {}, "still");
    QCOMPARE(plain.next()->type, FrameType::Pong);

    // Listed: offered in the Welcome and served. The broker's own frames are not taken from clients.
    Conn topics;
    QVERIFY(topics.tcp(m_broker.tcpPort()));
    QVERIFY(registerTopics(topics, "r551-topics"));
    QVERIFY(subscribe(topics, "r551/x", 10));
    for (FrameType t : {FrameType::TopicAck, FrameType::PublishStatus, FrameType::Publication}) {
        topics.send(t, 11, {}, {}, encodeTopicMessage("r551/x", "x"));
        QCOMPARE(errorOf(topics.next()), ErrorCode::UnknownFrameType);
    }

    // A broker with [topics] enabled = false offers nothing and serves nothing.
    BrokerProcess off;
    QVERIFY(startBroker(off, "[topics]\nenabled = false\npublish_names = r551pub r551/x\n"));
    Conn c;
    QVERIFY(c.tcp(off.tcpPort()));
    QVERIFY(!registerTopics(c, "r551pub"));
    c.send(FrameType::Subscribe, 12, {}, {}, encodeTopicFilter("a"));
    QCOMPARE(errorOf(c.next()), ErrorCode::UnknownFrameType);
    // Its publish_names are ordinary names: an old program's cmd 2 to one is a message.
    Conn tx;
    QVERIFY(tx.tcp(off.tcpPort()));
    tx.write(legacyFrame(Legacy::Command::Forward, 0, "r551pub", "r551tx", "plain"));
    const std::optional<Frame> d = c.next();
    QVERIFY(d && d->type == FrameType::Deliver);
    QCOMPARE(d->payload, QByteArrayLiteral("plain"));
}

void tst_ConformanceTopics::R_5_5_2_subscribeAndUnsubscribeAcked()
{
    Conn c;
    QVERIFY(c.unix(m_broker.unixPath()));
    QVERIFY(registerTopics(c, "r552"));
    std::optional<TopicAckPayload> ack = subscribe(c, "r552/+/t", 21);
    QVERIFY(ack);
    QCOMPARE(ack->result, ErrorCode::None);
    QCOMPARE(ack->count, 0u);
    ack = subscribe(c, "r552/+/t", 22); // again: accepted, still one subscription
    QVERIFY(ack && ack->result == ErrorCode::None);
    ack = subscribe(c, "r552/+/t", 23, FrameType::Unsubscribe);
    QVERIFY(ack && ack->result == ErrorCode::None);
    QCOMPARE(ack->count, 1u); // removed
    ack = subscribe(c, "r552/+/t", 24, FrameType::Unsubscribe);
    QVERIFY(ack && ack->result == ErrorCode::None);
    QCOMPARE(ack->count, 0u); // it held none
    ack = subscribe(c, "r552/#/t", 25);
    QVERIFY(ack);
    QCOMPARE(ack->result, ErrorCode::InvalidTopic);
    QVERIFY(!ack->text.isEmpty());
    // A payload that does not hold its filter: Error MalformedFrame, not fatal.
    c.send(FrameType::Subscribe, 26, {}, {}, QByteArray("\x00\x09" "ab", 4));
    QCOMPARE(errorOf(c.next()), ErrorCode::MalformedFrame);
    // Nothing was subscribed: a publication to the filter's topics does not arrive.
    publish(c, "r552/a/t", "nothing", 27, WantDeliveryStatus);
    const std::optional<PublishStatusPayload> s = statusOfPublish(c.next(), 27);
    QVERIFY(s);
    QCOMPARE(s->delivered, 0u);
}

void tst_ConformanceTopics::R_5_5_3_retainedSentAfterTheAck()
{
    Conn pub, sub;
    QVERIFY(pub.tcp(m_broker.tcpPort()));
    QVERIFY(sub.tcp(m_broker.tcpPort()));
    QVERIFY(registerTopics(pub, "r553-pub"));
    QVERIFY(registerTopics(sub, "r553-sub"));
    publish(pub, "r553/a", "first", 31, RetainFlag | WantDeliveryStatus);
    QVERIFY(statusOfPublish(pub.next(), 31));
    publish(pub, "r553/a", "second", 32, RetainFlag | WantDeliveryStatus); // replaces
    QVERIFY(statusOfPublish(pub.next(), 32));
    publish(pub, "r553/b", "bee", 33, RetainFlag | WantDeliveryStatus);
    QVERIFY(statusOfPublish(pub.next(), 33));
    publish(pub, "r553/c", "not kept", 34, WantDeliveryStatus); // no retain flag
    QVERIFY(statusOfPublish(pub.next(), 34));

    const std::optional<TopicAckPayload> ack = subscribe(sub, "r553/+", 35);
    QVERIFY(ack);
    QCOMPARE(ack->count, 2u);
    QMap<QByteArray, QByteArray> got;
    for (int i = 0; i < 2; ++i) {
        const std::optional<Received> r = publicationOf(sub.next());
        QVERIFY(r);
        QCOMPARE(r->flags, quint16(RetainFlag));
        QCOMPARE(r->source, QByteArrayLiteral("r553-pub")); // its publisher, though it may be gone
        got.insert(r->topic, r->message);
    }
    QCOMPARE(got.value("r553/a"), QByteArrayLiteral("second"));
    QCOMPARE(got.value("r553/b"), QByteArrayLiteral("bee"));
    QVERIFY(sub.quietFor(200));

    // An empty retained publication clears the value (and is delivered, empty, to subscribers).
    publish(pub, "r553/a", {}, 36, RetainFlag | WantDeliveryStatus);
    QCOMPARE(statusOfPublish(pub.next(), 36)->delivered, 1u);
    const std::optional<Received> empty = publicationOf(sub.next());
    QVERIFY(empty && empty->message.isEmpty() && empty->flags == 0);
    Conn late;
    QVERIFY(late.tcp(m_broker.tcpPort()));
    QVERIFY(registerTopics(late, "r553-late"));
    QCOMPARE(subscribe(late, "r553/#", 37)->count, 1u);
    QCOMPARE(publicationOf(late.next())->topic, QByteArrayLiteral("r553/b"));
    // An exact filter gets its topic's value.
    QCOMPARE(subscribe(late, "r553/b", 38)->count, 1u);
    QCOMPARE(publicationOf(late.next())->message, QByteArrayLiteral("bee"));
    QVERIFY(late.quietFor(100));
}

void tst_ConformanceTopics::R_5_5_4_publicationFields()
{
    Conn pub, a, b;
    QVERIFY(pub.unix(m_broker.unixPath()));
    QVERIFY(a.tcp(m_broker.tcpPort()));
    QVERIFY(b.unix(m_broker.unixPath()));
    QVERIFY(registerTopics(pub, "r554-pub"));
    QVERIFY(registerTopics(a, "r554-a"));
    QVERIFY(registerTopics(b, "r554-b"));
    QVERIFY(subscribe(a, "r554/+/temp", 41));
    QVERIFY(subscribe(a, "r554/#", 42)); // overlapping: still one copy
    QVERIFY(subscribe(b, "r554/kitchen/temp", 43));
    QVERIFY(subscribe(pub, "r554/#", 44)); // a publisher hears itself
    const QByteArray message("21.5\0binary\xff", 12);
    publish(pub, "r554/kitchen/temp", message, 4711, WantDeliveryStatus);
    // The status follows the fan-out: the publisher's own copy comes first.
    const std::optional<Frame> second = pub.next();
    const std::optional<PublishStatusPayload> s = statusOfPublish(pub.next(), 4711);
    QVERIFY(s);
    QCOMPARE(s->result, ErrorCode::None);
    QCOMPARE(s->delivered, 3u);
    QCOMPARE(s->notTaken, 0u);
    QVERIFY(publicationOf(second));
    for (Conn *c : {&a, &b}) {
        const std::optional<Frame> f = c->next();
        const std::optional<Received> r = publicationOf(f);
        QVERIFY(r);
        QCOMPARE(r->source, QByteArrayLiteral("r554-pub"));
        QCOMPARE(r->topic, QByteArrayLiteral("r554/kitchen/temp"));
        QCOMPARE(r->message, message);
        QCOMPARE(r->id, 4711u);
        QCOMPARE(r->flags, quint16(0));
        QVERIFY(c->quietFor(100)); // once, however many filters match
    }
    // Own name as source is accepted; another is refused (SourceMismatch), not published.
    pub.send(FrameType::Publish, 45, "r554-a", {}, encodeTopicMessage("r554/x", "forged"));
    QCOMPARE(errorOf(pub.next()), ErrorCode::SourceMismatch);
    QVERIFY(b.quietFor(100));
    // Order: publications from one publisher reach a subscriber in the order they were published.
    for (quint32 i = 0; i < 20; ++i)
        publish(pub, "r554/kitchen/temp", QByteArray::number(i), 100 + i);
    for (quint32 i = 0; i < 20; ++i)
        QCOMPARE(publicationOf(b.next())->message, QByteArray::number(i));
}

void tst_ConformanceTopics::R_5_5_5_topicGrammarRefused()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    QVERIFY(registerTopics(c, "r555"));
    QVERIFY(subscribe(c, "+", 50)); // one-level topics (none retained)
    struct Bad { QByteArray topic; ErrorCode code; };
    const QList<Bad> bad = {
        {"r555/+", ErrorCode::InvalidTopic},
        {"r555/#", ErrorCode::InvalidTopic},
        {{}, ErrorCode::InvalidTopic},
        {QByteArray(65, 'x'), ErrorCode::InvalidTopic},  // max_topic_length = 64
        {"a/b/c/d/e", ErrorCode::InvalidTopic},          // max_levels = 4
        {QByteArray("a\0b", 3), ErrorCode::InvalidTopic},
        {"$SYS/x", ErrorCode::ReservedTopic},
    };
    quint32 id = 51;
    for (const Bad &b : bad) {
        publish(c, b.topic, "x", id, WantDeliveryStatus);
        const std::optional<PublishStatusPayload> s = statusOfPublish(c.next(), id);
        QVERIFY2(s, b.topic.constData());
        QCOMPARE(s->result, b.code);
        QCOMPARE(s->delivered, 0u);
        ++id;
        publish(c, b.topic, "x", id); // no status asked: an Error with the id, not fatal
        const std::optional<Frame> e = c.next();
        QCOMPARE(errorOf(e), b.code);
        QCOMPARE(e->messageId, id);
        ++id;
    }
    QCOMPARE(subscribe(c, QByteArray(65, 'x'), id++)->result, ErrorCode::InvalidTopic);
    QCOMPARE(subscribe(c, "a/b/c/d/#", id++)->result, ErrorCode::InvalidTopic);
    QCOMPARE(subscribe(c, "a/b/c/#", id++)->result, ErrorCode::None); // 4 levels: at the edge
    // The edges themselves are taken.
    publish(c, QByteArray(64, 'x'), "edge", id, WantDeliveryStatus);
    QCOMPARE(publicationOf(c.next())->message, QByteArrayLiteral("edge")); // its own, before the status
    QCOMPARE(statusOfPublish(c.next(), id)->result, ErrorCode::None);
    // A payload whose topic runs past its end: MalformedFrame.
    c.send(FrameType::Publish, 99, {}, {}, QByteArray("\x00\x20" "short", 7));
    QCOMPARE(errorOf(c.next()), ErrorCode::MalformedFrame);
}

void tst_ConformanceTopics::R_5_5_6_slowSubscriberCountedOthersServed()
{
    Conn pub, slow, fast;
    QVERIFY(pub.unix(m_broker.unixPath()));
    QVERIFY(slow.unix(m_broker.unixPath()));
    QVERIFY(fast.unix(m_broker.unixPath()));
    QVERIFY(registerTopics(pub, "r556-pub"));
    QVERIFY(registerTopics(slow, "r556-slow"));
    QVERIFY(registerTopics(fast, "r556-fast"));
    QVERIFY(subscribe(slow, "r556/t", 60));
    QVERIFY(subscribe(fast, "r556/t", 61));
    // `slow` never reads; `fast` reads each one. The queue bound is 8192 bytes.
    const QByteArray payload(3000, 'p');
    quint32 notTaken = 0;
    quint32 fastGot = 0;
    for (quint32 id = 1; id <= 200; ++id) {
        publish(pub, "r556/t", payload, id, WantDeliveryStatus);
        const std::optional<PublishStatusPayload> s = statusOfPublish(pub.next(), id);
        QVERIFY(s);
        QCOMPARE(s->delivered + s->notTaken, 2u);
        notTaken += s->notTaken;
        const std::optional<Received> r = publicationOf(fast.next());
        QVERIFY(r);
        ++fastGot;
    }
    QCOMPARE(fastGot, 200u);              // the others are served, every one
    QVERIFY2(notTaken > 100, qPrintable(QString::number(notTaken))); // the slow one is bounded and counted
    // Once it reads, it is served again.
    int drained = 0;
    while (publicationOf(slow.next(300)))
        ++drained;
    QVERIFY(drained > 0 && drained < 200);
    publish(pub, "r556/t", "again", 999, WantDeliveryStatus);
    QCOMPARE(statusOfPublish(pub.next(), 999)->delivered, 2u);
}

void tst_ConformanceTopics::R_5_5_7_boundsAtTheirEdges()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker, "[topics]\nmax_subscriptions = 2\nretained_count = 2\nretained_bytes = 40\n"));
    Conn c;
    QVERIFY(c.tcp(broker.tcpPort()));
    QVERIFY(registerTopics(c, "r557"));
    QCOMPARE(subscribe(c, "a", 1)->result, ErrorCode::None);
    QCOMPARE(subscribe(c, "b", 2)->result, ErrorCode::None);
    const std::optional<TopicAckPayload> over = subscribe(c, "c", 3);
    QCOMPARE(over->result, ErrorCode::TooManySubscriptions);
    QVERIFY(over->text.contains(QLatin1String("max_subscriptions")));
    QCOMPARE(subscribe(c, "a", 4)->result, ErrorCode::None); // one it holds: no new one
    QCOMPARE(subscribe(c, "a", 5, FrameType::Unsubscribe)->count, 1u);
    QCOMPARE(subscribe(c, "c", 6)->result, ErrorCode::None); // room again

    // Retained: two topics at most; 40 bytes (topic + message) in all.
    publish(c, "r1", "0123456789", 10, RetainFlag | WantDeliveryStatus); // 12 bytes
    QCOMPARE(statusOfPublish(c.next(), 10)->result, ErrorCode::None);
    publish(c, "r2", "0123456789", 11, RetainFlag | WantDeliveryStatus); // 24
    QCOMPARE(statusOfPublish(c.next(), 11)->result, ErrorCode::None);
    publish(c, "r3", "x", 12, RetainFlag | WantDeliveryStatus); // a third topic
    QCOMPARE(statusOfPublish(c.next(), 12)->result, ErrorCode::RetainedStoreFull);
    publish(c, "r2", QByteArray(26, 'y'), 13, RetainFlag | WantDeliveryStatus); // 12 + 28 = 40: at the edge
    QCOMPARE(statusOfPublish(c.next(), 13)->result, ErrorCode::None);
    publish(c, "r2", QByteArray(27, 'y'), 14, RetainFlag | WantDeliveryStatus); // 41
    const std::optional<PublishStatusPayload> full = statusOfPublish(c.next(), 14);
    QCOMPARE(full->result, ErrorCode::RetainedStoreFull);
    QVERIFY(full->text.contains(QLatin1String("retained_bytes")));
    publish(c, "r3", "no status", 15, RetainFlag);
    QCOMPARE(errorOf(c.next()), ErrorCode::RetainedStoreFull);
    // Not kept means the old value stays; clearing one makes room.
    QCOMPARE(subscribe(c, "r2", 16, FrameType::Unsubscribe)->count, 0u);
    QCOMPARE(subscribe(c, "c", 17, FrameType::Unsubscribe)->count, 1u);
    QCOMPARE(subscribe(c, "r2", 18)->count, 1u);
    QCOMPARE(publicationOf(c.next())->message, QByteArray(26, 'y'));
    publish(c, "r1", {}, 19, RetainFlag | WantDeliveryStatus);
    QCOMPARE(statusOfPublish(c.next(), 19)->result, ErrorCode::None);
    publish(c, "r3", "x", 20, RetainFlag | WantDeliveryStatus);
    QCOMPARE(statusOfPublish(c.next(), 20)->result, ErrorCode::None);
}

void tst_ConformanceTopics::R_5_5_8_oldProgramsTakePart()
{
    // `subscribe = r558rx r558/#`: an old program's receive connection gets 552-byte frames.
    Conn rx;
    QVERIFY(rx.tcp(m_broker.tcpPort()));
    QVERIFY(legacyReceiver(rx, m_broker, "r558rx"));
    Conn pub, longName;
    QVERIFY(pub.tcp(m_broker.tcpPort()));
    QVERIFY(registerTopics(pub, "r558p"));
    publish(pub, "r558/a/b", "to the old one", 1, WantDeliveryStatus);
    std::optional<PublishStatusPayload> s = statusOfPublish(pub.next(), 1);
    QCOMPARE(s->delivered, 1u);
    QTRY_COMPARE_WITH_TIMEOUT((rx.next(20), rx.bytesReceived()), qsizetype(Legacy::FrameSize), WaitMs);
    const Legacy::DecodeResult d = Legacy::decode(rx.raw());
    QCOMPARE(d.error, Legacy::DecodeError::None);
    QCOMPARE(d.frame.command, Legacy::Command::Forward);
    QCOMPARE(d.frame.source.toByteArray(), QByteArrayLiteral("r558p"));
    QCOMPARE(d.frame.target.toByteArray(), QByteArrayLiteral("r558rx"));
    QCOMPARE(d.frame.text().toByteArray(), QByteArrayLiteral("to the old one"));
    // One that does not fit the old frame (a 10-byte name, or 512 bytes of text) is counted, not sent.
    QVERIFY(longName.tcp(m_broker.tcpPort()));
    QVERIFY(registerTopics(longName, "r558-long1"));
    publish(longName, "r558/a", "x", 2, WantDeliveryStatus);
    s = statusOfPublish(longName.next(), 2);
    QCOMPARE(s->delivered, 0u);
    QCOMPARE(s->notTaken, 1u);
    publish(pub, "r558/a", QByteArray(512, 't'), 3, WantDeliveryStatus);
    QCOMPARE(statusOfPublish(pub.next(), 3)->notTaken, 1u);
    QVERIFY(rx.quietFor(100));

    // `subscribe = r558n r558/+`: a native holder of a configured name gets ordinary Delivers.
    Conn n;
    QVERIFY(n.tcp(m_broker.tcpPort()));
    QVERIFY(n.registerAs("r558n"));
    publish(pub, "r558/x", "as a message", 4);
    const std::optional<Frame> deliver = n.next();
    QVERIFY(deliver && deliver->type == FrameType::Deliver);
    QCOMPARE(deliver->source, QByteArrayLiteral("r558p"));
    QCOMPARE(deliver->target, QByteArrayLiteral("r558n"));
    QCOMPARE(deliver->payload, QByteArrayLiteral("as a message"));

    // `publish_names = r558pub r558/from-old`: an old program's cmd 2 to that name publishes.
    Conn sub, tx;
    QVERIFY(sub.tcp(m_broker.tcpPort()));
    QVERIFY(registerTopics(sub, "r558-sub"));
    QVERIFY(subscribe(sub, "r558/from-old", 5));
    QVERIFY(tx.tcp(m_broker.tcpPort()));
    tx.write(legacyFrame(Legacy::Command::Forward, 0, "r558pub", "r558tx", "reading 7"));
    const std::optional<Received> r = publicationOf(sub.next());
    QVERIFY(r);
    QCOMPARE(r->source, QByteArrayLiteral("r558tx"));
    QCOMPARE(r->topic, QByteArrayLiteral("r558/from-old"));
    QCOMPARE(r->message, QByteArrayLiteral("reading 7"));
}

void tst_ConformanceTopics::R_5_5_9_subscriptionsEndWithTheConnection()
{
    Conn pub;
    QVERIFY(pub.tcp(m_broker.tcpPort()));
    QVERIFY(registerTopics(pub, "r559-pub"));
    {
        Conn gone;
        QVERIFY(gone.tcp(m_broker.tcpPort()));
        QVERIFY(registerTopics(gone, "r559-sub"));
        QVERIFY(subscribe(gone, "r559/#", 1));
        publish(pub, "r559/a", "one", 2, WantDeliveryStatus);
        QCOMPARE(statusOfPublish(pub.next(), 2)->delivered, 1u);
    } // closed without a Bye
    QTRY_VERIFY_WITH_TIMEOUT((publish(pub, "r559/a", "two", 3, WantDeliveryStatus),
                              statusOfPublish(pub.next(), 3)->delivered == 0u), WaitMs);
    // The same name again starts with no subscriptions.
    Conn again;
    QVERIFY(again.tcp(m_broker.tcpPort()));
    QVERIFY(registerTopics(again, "r559-sub"));
    publish(pub, "r559/a", "three", 4, WantDeliveryStatus);
    QCOMPARE(statusOfPublish(pub.next(), 4)->delivered, 0u);
    QVERIFY(again.quietFor(100));
}

void tst_ConformanceTopics::R_5_5_10_monitorsSeeSubscriptionsAndPublications()
{
    Conn sub, pub, m;
    QVERIFY(sub.unix(m_broker.unixPath()));
    QVERIFY(registerTopics(sub, "r5510-sub"));
    QVERIFY(subscribe(sub, "r5510/a", 1));
    QVERIFY(subscribe(sub, "r5510/+/b", 2));
    QVERIFY(pub.unix(m_broker.unixPath()));
    QVERIFY(registerTopics(pub, "r5510-pub"));
    QVERIFY(m.unix(m_broker.unixPath()));
    HelloPayload hello;
    hello.role = Role::Monitor;
    m.hello("r5510-monitor", 1, hello);
    QCOMPARE(m.next()->type, FrameType::Welcome);
    m.send(MonitorFrame::Subscribe, 2, {}, {}, encodeMonitorSubscribe({}));
    QHash<QByteArray, quint32> subscriptions;
    for (;;) {
        const std::optional<Frame> f = m.next();
        QVERIFY(f);
        if (f->type == MonitorFrame::Client) {
            const MonitorClient r = *decodeMonitorClient(f->payload);
            subscriptions.insert(r.name, r.subscriptions);
        }
        if (f->type == MonitorFrame::SnapshotEnd)
            break;
    }
    QCOMPARE(subscriptions.value("r5510-sub"), 2u);
    QCOMPARE(subscriptions.value("r5510-pub"), 0u);
    publish(pub, "r5510/a", "seen by monitors", 3);
    QVERIFY(publicationOf(sub.next()));
    for (;;) {
        const std::optional<Frame> f = m.take(MonitorFrame::Traffic);
        QVERIFY(f);
        const std::optional<QList<MonitorTrafficRecord>> batch = decodeMonitorTrafficBatch(f->payload);
        QVERIFY(batch);
        const auto it = std::find_if(batch->cbegin(), batch->cend(), [](const MonitorTrafficRecord &r) {
            return r.source == "r5510-pub";
        });
        if (it == batch->cend())
            continue;
        QCOMPARE(it->target, QByteArrayLiteral("topic:r5510/a"));
        QCOMPARE(it->status, DeliveryStatus::Delivered);
        QCOMPARE(it->preview, QByteArrayLiteral("seen by monitors"));
        break;
    }
}

void tst_ConformanceTopics::repeatedTopicFollowsSubscriptionChanges()
{
    // The broker remembers whom the last topic matched until a subscription is added or removed
    // (TopicBus; docs/BENCHMARKS.md, "Fan-out"): the same topic published between a subscribe, an
    // unsubscribe and another topic must reach exactly the subscribers of that moment.
    Conn pub, a, b;
    QVERIFY(pub.tcp(m_broker.tcpPort()));
    QVERIFY(registerTopics(pub, "rep-pub"));
    QVERIFY(a.tcp(m_broker.tcpPort()));
    QVERIFY(registerTopics(a, "rep-a"));
    QVERIFY(subscribe(a, "rep/t", 1));
    publish(pub, "rep/t", "one", 2, WantDeliveryStatus);
    QCOMPARE(statusOfPublish(pub.next(), 2)->delivered, 1u);
    QCOMPARE(publicationOf(a.next())->message, QByteArrayLiteral("one"));

    QVERIFY(b.tcp(m_broker.tcpPort()));
    QVERIFY(registerTopics(b, "rep-b"));
    QVERIFY(subscribe(b, "rep/+", 1));
    publish(pub, "rep/t", "two", 3, WantDeliveryStatus);
    QCOMPARE(statusOfPublish(pub.next(), 3)->delivered, 2u);
    QCOMPARE(publicationOf(a.next())->message, QByteArrayLiteral("two"));
    QCOMPARE(publicationOf(b.next())->message, QByteArrayLiteral("two"));

    const std::optional<TopicAckPayload> removed = subscribe(a, "rep/t", 4, FrameType::Unsubscribe);
    QVERIFY(removed);
    QCOMPARE(removed->count, 1u);
    publish(pub, "rep/t", "three", 5, WantDeliveryStatus);
    QCOMPARE(statusOfPublish(pub.next(), 5)->delivered, 1u);
    QCOMPARE(publicationOf(b.next())->message, QByteArrayLiteral("three"));

    publish(pub, "rep/u", "four", 6, WantDeliveryStatus);
    QCOMPARE(statusOfPublish(pub.next(), 6)->delivered, 1u);
    QCOMPARE(publicationOf(b.next())->message, QByteArrayLiteral("four"));
    QVERIFY(subscribe(a, "rep/t", 7));
    publish(pub, "rep/t", "five", 8, WantDeliveryStatus);
    QCOMPARE(statusOfPublish(pub.next(), 8)->delivered, 2u);
    QCOMPARE(publicationOf(a.next())->message, QByteArrayLiteral("five"));
    QCOMPARE(publicationOf(b.next())->message, QByteArrayLiteral("five"));
    QVERIFY(a.quietFor(100));
}

void tst_ConformanceTopics::sharedFramesKeepOrderAndBound()
{
    // From [topics] shared_frame_bytes on, a publication's subscribers share one encoded frame
    // (broker/net/outputqueue.h) instead of a copy each. Every subscriber must still read every
    // frame whole and in the order it was queued, with the directed messages queued between them;
    // one that stops reading is bounded by max_queue_bytes as with copies; and what it reads
    // later is intact (a frame released too early would be reused for a later publication).
    BrokerProcess broker;
    QVERIFY(startBroker(broker, "[limits]\nmax_frame_size = 65536\nmax_queue_bytes = 1048576\n"
                                "[topics]\nshared_frame_bytes = 1024\n"));
    const auto body = [](quint32 id, int size) {
        QByteArray m(size, char('a' + id % 26));
        std::memcpy(m.data(), &id, sizeof id);
        return m;
    };
    Conn pub, a, b, slow;
    QVERIFY(pub.unix(broker.unixPath()));
    QVERIFY(a.unix(broker.unixPath()));
    QVERIFY(b.unix(broker.unixPath()));
    QVERIFY(slow.unix(broker.unixPath()));
    QVERIFY(registerTopics(pub, "sf-pub"));
    QVERIFY(registerTopics(a, "sf-a"));
    QVERIFY(registerTopics(b, "sf-b"));
    QVERIFY(registerTopics(slow, "sf-slow"));
    QVERIFY(subscribe(a, "sf/#", 1));
    QVERIFY(subscribe(b, "sf/+", 1));

    // Sizes on both sides of the threshold, a directed message to `a` after each publication.
    const int sizes[] = {10, 900, 1500, 8000, 20000};
    for (quint32 i = 0; i < 20; ++i) {
        publish(pub, "sf/t", body(100 + i, sizes[i % 5]), 100 + i, WantDeliveryStatus);
        pub.sendTo("sf-a", QByteArray(QByteArrayLiteral("direct-") + QByteArray::number(i)), 200 + i, false);
    }
    for (quint32 i = 0; i < 20; ++i) {
        const std::optional<PublishStatusPayload> s = statusOfPublish(pub.next(), 100 + i);
        QVERIFY(s);
        QCOMPARE(s->delivered, 2u);
    }
    for (quint32 i = 0; i < 20; ++i) {
        const std::optional<Received> ra = publicationOf(a.next());
        QVERIFY2(ra, qPrintable(QString::number(i)));
        QCOMPARE(ra->id, 100 + i);
        QVERIFY(ra->message == body(100 + i, sizes[i % 5]));
        const std::optional<Frame> d = a.next();
        QVERIFY(d && d->type == FrameType::Deliver);
        QCOMPARE(d->payload, QByteArray(QByteArrayLiteral("direct-") + QByteArray::number(i)));
        const std::optional<Received> rb = publicationOf(b.next());
        QVERIFY(rb && rb->id == 100 + i && rb->message == body(100 + i, sizes[i % 5]));
    }

    // A subscriber that does not read: bounded and counted, the others served, every one.
    QVERIFY(subscribe(slow, "sf/t", 1));
    quint32 notTaken = 0;
    for (quint32 id = 1000; id < 1200; ++id) {
        publish(pub, "sf/t", body(id, 20000), id, WantDeliveryStatus);
        const std::optional<PublishStatusPayload> s = statusOfPublish(pub.next(), id);
        QVERIFY(s);
        QCOMPARE(s->delivered + s->notTaken, 3u);
        notTaken += s->notTaken;
        const std::optional<Received> ra = publicationOf(a.next());
        QVERIFY(ra && ra->id == id && ra->message == body(id, 20000));
        const std::optional<Received> rb = publicationOf(b.next());
        QVERIFY(rb && rb->id == id && rb->message == body(id, 20000));
    }
    QVERIFY2(notTaken > 50, qPrintable(QString::number(notTaken)));
    // What it queued is read later, whole and unchanged, in order.
    quint32 drained = 0, last = 0;
    while (const std::optional<Received> r = publicationOf(slow.next(500))) {
        QVERIFY(r->id > last);
        QVERIFY2(r->message == body(r->id, 20000), qPrintable(QString::number(r->id)));
        last = r->id;
        ++drained;
    }
    QCOMPARE(drained + notTaken, 200u);
    QVERIFY(drained > 10);
    publish(pub, "sf/t", body(2000, 20000), 2000, WantDeliveryStatus);
    QCOMPARE(statusOfPublish(pub.next(), 2000)->delivered, 3u);
}

QTEST_GUILESS_MAIN(tst_ConformanceTopics)
#include "tst_conformance_topics.moc"
