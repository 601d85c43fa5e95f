// Protocol conformance, PROTOCOL §6.8: topics and calls in the monitor stream.
// One test function per numbered rule, named after it, each driving a real kennel-broker
// process through raw sockets with the pure codecs only.
#include "conformancepeer.h"

#include "topiccodec.h"

using namespace ConformanceTest;

namespace {

// Totals (and Topics records) every 100 ms; two topics per record, figures for three topics.
const QByteArray BusConfig = QByteArrayLiteral("[monitor]\ntotals_interval_ms = 100\ntopics_per_record = 2\n"
                                               "[topics]\nmax_tracked_topics = 3\n");

bool registerWith(Conn &conn, const QByteArray &name, quint32 features)
{
    HelloPayload hello;
    hello.features = features;
    conn.hello(name, 1, hello);
    const std::optional<Frame> w = conn.next();
    return w && w->type == FrameType::Welcome;
}

// Admitted by its uid over the Unix socket and subscribed; the session ids of the snapshot's clients.
bool monitor(Conn &m, BrokerProcess &broker, const QByteArray &name, const QByteArray &subscribePayload,
             QHash<QByteArray, quint64> *sessions = nullptr)
{
    if (!m.unix(broker.unixPath()))
        return false;
    HelloPayload hello;
    hello.role = Role::Monitor;
    m.hello(name, 1, hello);
    const std::optional<Frame> w = m.next();
    if (!w || w->type != FrameType::Welcome)
        return false;
    m.send(MonitorFrame::Subscribe, 2, {}, {}, subscribePayload);
    for (;;) {
        const std::optional<Frame> f = m.next();
        if (!f)
            return false;
        if (f->type == MonitorFrame::Client && sessions) {
            if (const std::optional<MonitorClient> c = decodeMonitorClient(f->payload))
                sessions->insert(c->name, c->sessionId);
        }
        if (f->type == MonitorFrame::SnapshotEnd)
            return true;
    }
}

// Reads for `ms`: false as soon as a frame of one of `types` comes.
bool noneOf(Conn &conn, const QList<FrameType> &types, int ms)
{
    QElapsedTimer clock;
    clock.start();
    while (clock.elapsed() < ms) {
        const std::optional<Frame> f = conn.next(int(ms - clock.elapsed()));
        if (!f)
            break;
        if (types.contains(f->type))
            return false;
    }
    return true;
}

QByteArray wantingBusRecords()
{
    MonitorSubscribe s;
    s.wantBusRecords = true;
    return encodeMonitorSubscribe(s);
}

} // namespace

class tst_ConformanceBusview : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void R_6_8_1_busRecordsOnlyWhenAsked();
    void R_6_8_2_topicsRecordBoundedAndOnlyAfterChange();
    void R_6_8_3_subscriptionsOnRequest();

private:
    BrokerProcess m_broker;
};

void tst_ConformanceBusview::initTestCase()
{
    QVERIFY(startBroker(m_broker, BusConfig));
}

void tst_ConformanceBusview::R_6_8_1_busRecordsOnlyWhenAsked()
{
    Conn asked, old, pub, sub;
    QVERIFY(monitor(asked, m_broker, "r681-new", wantingBusRecords()));
    QVERIFY(monitor(old, m_broker, "r681-old", encodeMonitorSubscribe({}).first(7)));
    QVERIFY(pub.tcp(m_broker.tcpPort()));
    QVERIFY(sub.tcp(m_broker.tcpPort()));
    QVERIFY(registerWith(pub, "r681-pub", FeatureTopics | FeatureCalls));
    QVERIFY(registerWith(sub, "r681-sub", FeatureTopics));
    sub.send(FrameType::Subscribe, 5, {}, {}, encodeTopicFilter("r681/#"));
    QCOMPARE(sub.next()->type, FrameType::TopicAck);
    pub.send(FrameType::Publish, 6, {}, {}, encodeTopicMessage("r681/a", "hello"), RetainFlag);
    QCOMPARE(sub.take(FrameType::Publication)->source, QByteArray("r681-pub"));
    pub.send(FrameType::Call, 7, {}, "r681-nobody", encodeCallRequest(500, "q"));
    QVERIFY(pub.take(FrameType::CallResult));

    const std::optional<Frame> p = asked.take(MonitorFrame::Publications);
    QVERIFY(p);
    QVERIFY(p->source.isEmpty() && p->target.isEmpty() && p->messageId == 0);
    const auto publications = decodeMonitorPublicationBatch(p->payload);
    QVERIFY(publications && publications->size() == 1);
    QCOMPARE(publications->first().publisher, QByteArray("r681-pub"));
    QCOMPARE(publications->first().topic, QByteArray("r681/a"));
    QCOMPARE(publications->first().reached, 1u);
    QCOMPARE(publications->first().notTaken, 0u);
    QCOMPARE(publications->first().retain, true);
    QCOMPARE(publications->first().size, 5u);
    const std::optional<Frame> c = asked.take(MonitorFrame::Calls);
    QVERIFY(c);
    const auto calls = decodeMonitorCallBatch(c->payload);
    QVERIFY(calls && calls->size() == 1);
    QCOMPARE(calls->first().caller, QByteArray("r681-pub"));
    QCOMPARE(calls->first().callee, QByteArray("r681-nobody"));
    QCOMPARE(calls->first().outcome, CallOutcome::NoSuchClient);

    // The monitor that did not ask: the publication as traffic to "topic:r681/a", nothing new.
    const std::optional<Frame> t = old.take(MonitorFrame::Traffic);
    QVERIFY(t);
    const auto traffic = decodeMonitorTrafficBatch(t->payload);
    QVERIFY(traffic && !traffic->isEmpty());
    QCOMPARE(traffic->first().target, QByteArray("topic:r681/a"));
    // Totals go by meanwhile (every 100 ms); a Topics record would have come with them.
    QVERIFY(noneOf(old, {MonitorFrame::Publications, MonitorFrame::Calls, MonitorFrame::Topics}, 500));
}

void tst_ConformanceBusview::R_6_8_2_topicsRecordBoundedAndOnlyAfterChange()
{
    Conn m, pub;
    QVERIFY(pub.tcp(m_broker.tcpPort()));
    QVERIFY(registerWith(pub, "r682-pub", FeatureTopics));
    QVERIFY(monitor(m, m_broker, "r682-mon", wantingBusRecords()));
    for (int i = 0; i < 5; ++i)
        pub.send(FrameType::Publish, quint32(10 + i), {}, {}, encodeTopicMessage(QByteArray("r682/" + QByteArray::number(i)), "x"));
    for (int i = 0; i < 3; ++i)
        pub.send(FrameType::Publish, quint32(20 + i), {}, {}, encodeTopicMessage("r682/0", "busy"));
    std::optional<MonitorTopics> last;
    QElapsedTimer clock;
    clock.start();
    while (clock.elapsed() < WaitMs) {
        const std::optional<Frame> f = m.take(MonitorFrame::Topics, 200);
        if (!f)
            continue;
        QVERIFY(f->messageId == 0 && f->source.isEmpty() && f->target.isEmpty());
        last = decodeMonitorTopics(f->payload);
        QVERIFY(last);
        QVERIFY(last->entries.size() <= 2);  // topics_per_record
        QVERIFY(last->trackedTopics <= 3);   // max_tracked_topics
        if (last->entries.size() == 2 && last->entries.first().topic == "r682/0" && last->entries.first().publications == 4)
            break;
    }
    QVERIFY(last);
    QCOMPARE(last->entries.first().topic, QByteArray("r682/0")); // the busiest first
    QCOMPARE(last->entries.first().publications, quint64(4));
    QCOMPARE(last->trackedTopics, 3u);
    QVERIFY(last->untrackedPublications >= 2); // r682/3 and r682/4 (and whatever the shared broker saw before)
    // Nothing published: no Topics record, whatever the number of topics.
    while (m.take(MonitorFrame::Topics, 300)) {
    }
    QVERIFY(!m.take(MonitorFrame::Topics, 500));
}

void tst_ConformanceBusview::R_6_8_3_subscriptionsOnRequest()
{
    Conn sub, m;
    QVERIFY(sub.tcp(m_broker.tcpPort()));
    QVERIFY(registerWith(sub, "r683-sub", FeatureTopics));
    sub.send(FrameType::Subscribe, 5, {}, {}, encodeTopicFilter("r683/+/x"));
    QCOMPARE(sub.next()->type, FrameType::TopicAck);
    sub.send(FrameType::Subscribe, 6, {}, {}, encodeTopicFilter("r683/#"));
    QCOMPARE(sub.next()->type, FrameType::TopicAck);
    QHash<QByteArray, quint64> sessions;
    QVERIFY(monitor(m, m_broker, "r683-mon", encodeMonitorSubscribe({}), &sessions));
    QVERIFY(sessions.contains("r683-sub"));

    m.send(MonitorFrame::Subscriptions, 77, {}, {}, encodeMonitorSubscriptionsRequest({sessions.value("r683-sub")}));
    const std::optional<Frame> a = m.take(MonitorFrame::Subscriptions);
    QVERIFY(a);
    QCOMPARE(a->messageId, 77u);
    const auto answer = decodeMonitorSubscriptions(a->payload);
    QVERIFY(answer);
    QCOMPARE(answer->code, ErrorCode::None);
    QCOMPARE(answer->sessionId, sessions.value("r683-sub"));
    QCOMPARE(answer->total, 2u);
    QList<QByteArray> filters = answer->filters;
    std::sort(filters.begin(), filters.end());
    QCOMPARE(filters, QList<QByteArray>({"r683/#", "r683/+/x"}));

    m.send(MonitorFrame::Subscriptions, 78, {}, {}, encodeMonitorSubscriptionsRequest({0xFFFFFFFFull}));
    const std::optional<Frame> none = m.take(MonitorFrame::Subscriptions);
    QVERIFY(none);
    QCOMPARE(none->messageId, 78u);
    QCOMPARE(decodeMonitorSubscriptions(none->payload)->code, ErrorCode::NotRegistered);
}

QTEST_MAIN(tst_ConformanceBusview)
#include "tst_conformance_busview.moc"
