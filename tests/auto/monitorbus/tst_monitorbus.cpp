// Topics and calls in the monitor stream (PROTOCOL §6.8) and what kennel-monitor makes of them,
// with a real broker in this process, real clients (KennelClient), a real supervised service and
// the monitor's own link, models and window (offscreen):
// - publications and ended calls as records of their own, with their outcome, in the traffic view;
// - the Topics record: per-topic figures, bounded by topics_per_record and max_tracked_topics;
// - a client's subscription filters on request;
// - a service's output in the Output tab, followed live;
// - a monitor that does not ask for bus records (an older one) still sees publications as
//   traffic to "topic:TOPIC", and no frame it does not know.
#include "testbroker.h"

#include "kennelcalls.h"
#include "kennelclient.h"
#include "mainwindow.h"
#include "monitorcodec.h"
#include "monitorfeed.h"
#include "monitorhub.h"
#include "serviceoutputpanel.h"
#include "topicsmodel.h"
#include "topicspanel.h"
#include "topicbus.h"
#include "trafficmodel.h"

#include <QComboBox>
#include <QLabel>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTest>

#include <functional>

using namespace Kennel;
using namespace std::chrono_literals;

namespace {

BrokerConfig config()
{
    BrokerConfig c;
    c.monitor.allowLocalPeers = true;
    c.monitor.totalsInterval = 200ms;
    return c;
}

ServiceSettings shellService(const QString &name, const QString &script)
{
    ServiceSettings s;
    s.name = name;
    s.program = QStringLiteral("/bin/sh");
    s.arguments = {QStringLiteral("-c"), script};
    s.restart = ServiceSettings::Restart::Never;
    s.stopTimeout = 1000ms;
    return s;
}

void connectClient(KennelClient &client, const QByteArray &name, const KennelTest::TestBroker &broker)
{
    client.setName(name);
    client.setBrokerAddress(*BrokerAddress::parse(broker.tcpAddress()));
    client.connectToBroker();
}

int rowWithTarget(const TrafficModel &model, const QByteArray &target, const QString &statusStart = {})
{
    for (int row = 0; row < model.rowCount(); ++row) {
        if (model.entry(row).target != target)
            continue;
        const QString status = model.index(row, TrafficModel::StatusColumn).data().toString();
        if (statusStart.isEmpty() || status.startsWith(statusStart))
            return row;
    }
    return -1;
}

QByteArray monitorFrame(FrameType type, const QByteArray &payload, quint32 id)
{
    QByteArray out;
    appendFrame(out, type, id, NoFlags, {}, {}, payload);
    return out;
}

// A raw monitor over the Unix socket: Hello (admitted by its uid), then Subscribe with `payload`.
bool rawMonitor(KennelTest::RawPeer &peer, const KennelTest::TestBroker &broker, const QByteArray &subscribePayload)
{
    if (!peer.connectUnix(broker.unixPath()))
        return false;
    Frame hello;
    hello.type = FrameType::Hello;
    hello.messageId = 1;
    hello.source = "raw-monitor";
    HelloPayload h;
    h.role = Role::Monitor;
    hello.payload = encodeHello(h);
    peer.send(hello);
    if (!peer.take(FrameType::Welcome))
        return false;
    peer.writeBytes(monitorFrame(MonitorFrame::Subscribe, subscribePayload, 2));
    return bool(peer.take(MonitorFrame::SnapshotEnd));
}

// Feeds `monitor`'s Topics records through until the last one read is `wanted` (10 s at most):
// that record, or nullopt.
std::optional<MonitorTopics> topicsRecordWhere(KennelTest::RawPeer &monitor,
                                               const std::function<bool(const MonitorTopics &)> &wanted)
{
    std::optional<MonitorTopics> last;
    const auto arrived = [&] {
        while (auto f = monitor.take(MonitorFrame::Topics, 0))
            last = decodeMonitorTopics(f->payload);
        return last && wanted(*last);
    };
    return QTest::qWaitFor(arrived, 10000) ? last : std::nullopt;
}

} // namespace

class tst_MonitorBus : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase() { KennelTest::raiseDescriptorLimit(); }
    void windowShowsTopicsCallsSubscriptionsAndOutput();
    void topicsRecordIsBounded();
    void zeroBoundsTrackAndListNothing();
    void olderMonitorSeesPublicationsAsTraffic();
};

void tst_MonitorBus::windowShowsTopicsCallsSubscriptionsAndOutput()
{
    BrokerConfig c = config();
    c.services = {shellService(QStringLiteral("chatty"),
                               QStringLiteral("echo line-one; echo oops >&2; i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.2; done"))};
    KennelTest::TestBroker broker(c);
    QVERIFY(broker.start());

    KennelClient pub, sub, server, caller;
    connectClient(pub, "pub", broker);
    connectClient(sub, "sub", broker);
    connectClient(server, "server", broker);
    connectClient(caller, "caller", broker);
    server.setCallHandler([](IncomingCall *call) {
        if (call->payload() == "ping")
            call->reply("pong");
        // "slow": never answered, the caller's deadline ends it
    });
    for (KennelClient *client : {&pub, &sub, &server, &caller})
        QTRY_COMPARE_WITH_TIMEOUT(client->state(), KennelClient::Registered, 10000);
    QSignalSpy subscribed(&sub, &KennelClient::subscribed);
    QVERIFY(sub.subscribe("sensors/#"));
    QVERIFY(sub.subscribe("alarms/+"));
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.count(), 2, 10000);

    MonitorLink link;
    MonitorLink::Settings s;
    s.address = *BrokerAddress::parse(broker.unixAddress());
    link.setSettings(s);
    MainWindow window(&link);
    window.feed()->setInterval(50ms);
    window.resize(1024, 768);
    window.show();
    link.open();
    QTRY_COMPARE_WITH_TIMEOUT(link.state(), MonitorLink::State::Live, 10000);

    QSignalSpy got(&sub, &KennelClient::publicationReceived);
    for (int i = 0; i < 3; ++i)
        QVERIFY(pub.publish("sensors/boiler/temp", "21.5", true));
    QVERIFY(pub.publish("other/x", "1"));
    QTRY_COMPARE_WITH_TIMEOUT(got.count(), 3, 10000);

    PendingCall *replied = caller.call("server", "ping", 2000);
    PendingCall *timedOut = caller.call("server", "slow", 200);
    PendingCall *nobody = caller.call("nobody", "x", 500);
    for (PendingCall *call : {replied, timedOut, nobody}) {
        QVERIFY(call);
        call->setAutoDelete(false);
    }
    QTRY_VERIFY_WITH_TIMEOUT(replied->isFinished() && timedOut->isFinished() && nobody->isFinished(), 10000);
    QVERIFY(replied->isOk());
    QCOMPARE(replied->reply(), QByteArray("pong"));

    // The traffic view: each publication with the subscribers it reached, each call with its outcome.
    const TrafficModel &traffic = *window.trafficModel();
    QTRY_VERIFY_WITH_TIMEOUT(rowWithTarget(traffic, "call:nobody") >= 0 && rowWithTarget(traffic, "call:server", QStringLiteral("timeout")) >= 0, 10000);
    const int published = rowWithTarget(traffic, "topic:sensors/boiler/temp");
    QVERIFY(published >= 0);
    QCOMPARE(traffic.entry(published).source, QByteArray("pub"));
    QCOMPARE(traffic.index(published, TrafficModel::StatusColumn).data().toString(), QStringLiteral("1 reached, retained"));
    QCOMPARE(traffic.index(published, TrafficModel::PreviewColumn).data().toString(), QStringLiteral("21.5"));
    const int quiet = rowWithTarget(traffic, "topic:other/x");
    QVERIFY(quiet >= 0);
    QCOMPARE(traffic.index(quiet, TrafficModel::StatusColumn).data().toString(), QStringLiteral("no subscriber"));
    const int ok = rowWithTarget(traffic, "call:server", QStringLiteral("replied in "));
    QVERIFY2(ok >= 0, "no replied call in the traffic view");
    QCOMPARE(traffic.entry(ok).source, QByteArray("caller"));
    QCOMPARE(traffic.entry(ok).size, 4u); // "pong"
    const int late = rowWithTarget(traffic, "call:server", QStringLiteral("timeout after "));
    QVERIFY(late >= 0);
    QVERIFY2(traffic.entry(late).roundTripUs >= 150000, qPrintable(QString::number(traffic.entry(late).roundTripUs)));
    QCOMPARE(traffic.index(rowWithTarget(traffic, "call:nobody"), TrafficModel::StatusColumn).data().toString(),
             QStringLiteral("no_such_client"));

    // The Topics tab: per topic, with the retained value and the subscribers.
    TopicsModel &topics = *window.topicsModel();
    QTRY_VERIFY_WITH_TIMEOUT(topics.rowOf("sensors/boiler/temp") >= 0 && topics.rowOf("other/x") >= 0, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(topics.entry(topics.rowOf("sensors/boiler/temp")).publications, quint64(3), 5000);
    const MonitorTopicEntry &boiler = topics.entry(topics.rowOf("sensors/boiler/temp"));
    QCOMPARE(boiler.subscribers, 1u);
    QVERIFY(boiler.retained);
    QCOMPARE(boiler.retainedBytes, 4u);
    QCOMPARE(topics.entry(topics.rowOf("other/x")).subscribers, 0u);
    QVERIFY(!topics.entry(topics.rowOf("other/x")).retained);
    QVERIFY2(topics.summary().contains(QStringLiteral("2 topics")), qPrintable(topics.summary()));
    QVERIFY2(topics.summary().contains(QStringLiteral("1 retained")), qPrintable(topics.summary()));

    // A client's subscriptions, chosen in the Topics tab.
    window.tabs()->setCurrentWidget(window.topicsPanel());
    QComboBox *client = window.topicsPanel()->clientCombo();
    QTRY_VERIFY_WITH_TIMEOUT(client->findText(QStringLiteral("sub")) >= 0, 10000);
    client->setCurrentIndex(client->findText(QStringLiteral("sub")));
    QListWidget *filters = window.topicsPanel()->filterList();
    QTRY_COMPARE_WITH_TIMEOUT(filters->count(), 2, 10000);
    QStringList shown;
    for (int i = 0; i < filters->count(); ++i)
        shown << filters->item(i)->text();
    shown.sort();
    QCOMPARE(shown, QStringList({QStringLiteral("alarms/+"), QStringLiteral("sensors/#")}));
    // Unsubscribed: the list follows at the next refresh.
    QVERIFY(sub.unsubscribe("alarms/+"));
    QTRY_COMPARE_WITH_TIMEOUT(filters->count(), 1, 10000);

    // The Output tab: the service's lines, stderr marked, then new ones as they come.
    window.tabs()->setCurrentWidget(window.outputPanel());
    QComboBox *service = window.outputPanel()->serviceCombo();
    QTRY_VERIFY_WITH_TIMEOUT(service->findText(QStringLiteral("chatty")) >= 0, 10000);
    service->setCurrentIndex(service->findText(QStringLiteral("chatty")));
    QPlainTextEdit *text = window.outputPanel()->text();
    QTRY_VERIFY_WITH_TIMEOUT(text->toPlainText().contains(QStringLiteral("line-one")), 10000);
    QTRY_VERIFY_WITH_TIMEOUT(text->toPlainText().contains(QStringLiteral(" ! oops")), 10000);
    QTRY_VERIFY_WITH_TIMEOUT(text->toPlainText().contains(QStringLiteral("tick-2")), 10000);
    const int before = text->blockCount();
    QTRY_VERIFY_WITH_TIMEOUT(text->blockCount() >= before + 3, 10000); // followed live
    // Each line once, in order.
    const QString all = text->toPlainText();
    QCOMPARE(all.count(QStringLiteral("tick-2\n")), 1);
    QVERIFY(all.indexOf(QStringLiteral("tick-2")) < all.indexOf(QStringLiteral("tick-3")));

    delete replied;
    delete timedOut;
    delete nobody;
    link.close();
}

// A board with many topics: the broker keeps figures for max_tracked_topics of them and lists
// topics_per_record, the busiest first; the record still says how many there are.
void tst_MonitorBus::topicsRecordIsBounded()
{
    BrokerConfig c = config();
    c.monitor.topicsPerRecord = 3;
    c.topics.maxTrackedTopics = 5;
    KennelTest::TestBroker broker(c);
    QVERIFY(broker.start());
    KennelTest::RawPeer monitor;
    MonitorSubscribe want;
    want.wantBusRecords = true;
    QVERIFY(rawMonitor(monitor, broker, encodeMonitorSubscribe(want)));

    KennelClient pub;
    connectClient(pub, "pub", broker);
    QTRY_COMPARE_WITH_TIMEOUT(pub.state(), KennelClient::Registered, 10000);
    for (int i = 0; i < 8; ++i)
        QVERIFY(pub.publish(QByteArray("t/" + QByteArray::number(i)), "x"));
    for (int i = 0; i < 4; ++i)
        QVERIFY(pub.publish("t/4", "busy"));
    QTRY_COMPARE_WITH_TIMEOUT(broker.broker().topics().counters().publications, quint64(12), 10000);

    const std::optional<MonitorTopics> last = topicsRecordWhere(monitor, [](const MonitorTopics &t) { return t.publications == 12; });
    QVERIFY(last);
    QCOMPARE(last->trackedTopics, 5u);
    QCOMPARE(last->untrackedPublications, 3u); // t/5, t/6, t/7
    QCOMPARE(last->entries.size(), 3);
    QCOMPARE(last->entries.first().topic, QByteArray("t/4"));
    QCOMPARE(last->entries.first().publications, quint64(5));

    // Quiet topics: no more Topics records.
    monitor.frames().clear();
    QTest::qWait(600);
    QVERIFY(!monitor.take(MonitorFrame::Topics, 0));

    // Every publication was also a record of its own.
    int records = 0;
    // (collected from what arrived before the clear: ask again for a fresh count)
    QVERIFY(pub.publish("t/0", "again"));
    QTRY_VERIFY_WITH_TIMEOUT(([&] {
        while (auto f = monitor.take(MonitorFrame::Publications, 0)) {
            const auto batch = decodeMonitorPublicationBatch(f->payload);
            if (batch)
                records += int(batch->size());
        }
        return records >= 1;
    }()), 5000);
    QVERIFY(!monitor.take(MonitorFrame::Traffic, 0)); // not as traffic to "topic:t/0"
}

// The bounds at their lower edge: max_tracked_topics = 0 keeps no per-topic figures (every
// publication is counted as untracked) and topics_per_record = 0 lists none, while the record
// still carries the figures for all topics together.
void tst_MonitorBus::zeroBoundsTrackAndListNothing()
{
    BrokerConfig c = config();
    c.monitor.topicsPerRecord = 0;
    c.topics.maxTrackedTopics = 0;
    KennelTest::TestBroker broker(c);
    QVERIFY(broker.start());
    KennelTest::RawPeer monitor;
    MonitorSubscribe want;
    want.wantBusRecords = true;
    QVERIFY(rawMonitor(monitor, broker, encodeMonitorSubscribe(want)));
    KennelClient pub;
    connectClient(pub, "pub", broker);
    QTRY_COMPARE_WITH_TIMEOUT(pub.state(), KennelClient::Registered, 10000);
    QVERIFY(pub.publish("a", "1", true));
    QVERIFY(pub.publish("b", "2"));
    QTRY_COMPARE_WITH_TIMEOUT(broker.broker().topics().counters().publications, quint64(2), 10000);
    QCOMPARE(broker.broker().topics().topicStats().size(), 0);
    QCOMPARE(broker.broker().topics().untrackedPublications(), quint64(2));
    // No topic listed, but the totals of all topics follow the untracked publications.
    const std::optional<MonitorTopics> last = topicsRecordWhere(
        monitor, [](const MonitorTopics &t) { return t.untrackedPublications == 2 && t.publications == 2; });
    QVERIFY(last);
    QCOMPARE(last->entries.size(), 0);
    QCOMPARE(last->trackedTopics, 0u);
    // The publication records themselves are not affected by either bound.
    int records = 0;
    QTRY_VERIFY_WITH_TIMEOUT(([&] {
        while (auto f = monitor.take(MonitorFrame::Publications, 0))
            records += int(decodeMonitorPublicationBatch(f->payload).value_or(QList<MonitorPublicationRecord>()).size());
        return records == 2;
    }()), 10000);
}

// A monitor whose Subscribe has no bus-records flag (an older kennel-monitor or kennelctl): a
// publication arrives as before, a traffic record to "topic:TOPIC", and none of the new frames.
void tst_MonitorBus::olderMonitorSeesPublicationsAsTraffic()
{
    KennelTest::TestBroker broker(config());
    QVERIFY(broker.start());
    KennelTest::RawPeer monitor;
    const QByteArray oldSubscribe = encodeMonitorSubscribe({}).first(7);
    QVERIFY(rawMonitor(monitor, broker, oldSubscribe));

    KennelClient pub, server;
    connectClient(pub, "pub", broker);
    connectClient(server, "server", broker);
    server.setCallHandler([](IncomingCall *call) { call->reply("ok"); });
    QTRY_COMPARE_WITH_TIMEOUT(pub.state(), KennelClient::Registered, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(server.state(), KennelClient::Registered, 10000);
    QVERIFY(pub.publish("a/b", "hello"));
    PendingCall *call = pub.call("server", "q", 2000);
    QVERIFY(call);
    call->setAutoDelete(false);
    QTRY_VERIFY_WITH_TIMEOUT(call->isFinished(), 10000);
    delete call;

    bool seen = false;
    QTRY_VERIFY_WITH_TIMEOUT(([&] {
        while (auto f = monitor.take(MonitorFrame::Traffic, 0)) {
            const auto batch = decodeMonitorTrafficBatch(f->payload);
            for (const MonitorTrafficRecord &r : batch.value_or(QList<MonitorTrafficRecord>()))
                seen |= r.target == "topic:a/b" && r.source == "pub" && r.preview.startsWith("hello");
        }
        return seen;
    }()), 10000);
    QTest::qWait(500); // a totals interval and more: a Topics record would have come by now
    for (FrameType type : {MonitorFrame::Publications, MonitorFrame::Calls, MonitorFrame::Topics})
        QVERIFY2(!monitor.take(type, 0), monitorFrameName(type));
}

QTEST_MAIN(tst_MonitorBus)
#include "tst_monitorbus.moc"
