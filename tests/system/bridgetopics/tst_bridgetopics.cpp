// Topics across the bridge (docs/FLEET.md "Topics"): kennel-broker processes as boards, bridged
// through a mosquitto this test starts itself, with real KennelClients publishing and
// subscribing: export A→B with the publisher as NAME@ORIGIN, a retained value imported and kept
// as retained, and its clearing (locally and on the MQTT broker), three boards that all export
// and import '#' (each publication once per subscriber, no storm), a remote topic past the
// receiving board's [topics] bounds (dropped, counted, logged once), and filters changed by SIGHUP.
// The counters are read where an operator reads them: the boards' retained summaries.
#include "brokerprocess.h"
#include "kennelclient.h"
#include "mosquittoprocess.h"
#include "mqttlink.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <map>
#include <memory>

using Kennel::BrokerAddress;
using Kennel::KennelClient;
using namespace KennelTest;

namespace {

struct Publication
{
    QByteArray topic, payload, publisher;
    bool retained = false;
};

struct Peer
{
    std::unique_ptr<KennelClient> client;
    QList<Publication> got;
    std::map<QByteArray, int> retainedCount; // by filter, from subscribed()

    int count(const QByteArray &topic) const
    {
        int n = 0;
        for (const Publication &p : got)
            n += p.topic == topic ? 1 : 0;
        return n;
    }
};

std::unique_ptr<Peer> connectPeer(const BrokerProcess &broker, const QByteArray &name, const QByteArray &filter = {})
{
    auto peer = std::make_unique<Peer>();
    Peer *p = peer.get();
    p->client = std::make_unique<KennelClient>();
    p->client->setBrokerAddress(*BrokerAddress::parse(broker.unixAddress()));
    p->client->setName(name);
    QObject::connect(p->client.get(), &KennelClient::publicationReceived, p->client.get(),
                     [p](const QByteArray &topic, const QByteArray &payload, const QByteArray &publisher, bool retained) {
                         p->got.append({topic, payload, publisher, retained});
                     });
    QObject::connect(p->client.get(), &KennelClient::subscribed, p->client.get(),
                     [p](const QByteArray &filter, int retained) { p->retainedCount[filter] = retained; });
    p->client->connectToBroker();
    if (!QTest::qWaitFor([p] { return p->client->state() == KennelClient::Registered; }, 5000))
        return nullptr;
    if (!filter.isEmpty()) {
        p->client->subscribe(filter);
        if (!QTest::qWaitFor([p, filter] { return p->retainedCount.count(filter) > 0; }, 5000))
            return nullptr;
    }
    return peer;
}

// The boards' retained summaries on the MQTT broker, as a fleet view reads them.
class Fleet
{
public:
    explicit Fleet(quint16 port)
    {
        QObject::connect(&m_link, &Kennel::MqttLink::messageReceived, &m_link, [this](const QByteArray &topic, const QByteArray &payload) {
            const QJsonObject summary = QJsonDocument::fromJson(payload).object();
            if (topic.endsWith("/summary"))
                m_summaries[summary.value(QStringLiteral("board")).toString().toLatin1()] = summary;
        });
        QObject::connect(&m_link, &Kennel::MqttLink::connected, &m_link, [this] { m_link.subscribe("kennel/+/summary"); });
        Kennel::MqttLink::Options options;
        options.host = QStringLiteral("127.0.0.1");
        options.port = port;
        options.clientId = "topics-fleet-watcher";
        options.cleanSession = true;
        m_link.start(options);
    }
    qint64 counter(const QByteArray &board, const char *key) const
    {
        const auto it = m_summaries.find(board);
        if (it == m_summaries.end())
            return -1;
        return it->second.value(QStringLiteral("bridge")).toObject().value(QLatin1String(key)).toInteger(-1);
    }
    QString time(const QByteArray &board) const
    {
        const auto it = m_summaries.find(board);
        return it == m_summaries.end() ? QString() : it->second.value(QStringLiteral("time")).toString();
    }

private:
    Kennel::MqttLink m_link;
    std::map<QByteArray, QJsonObject> m_summaries;
};

bool writeConfig(const BrokerProcess &broker, const QByteArray &text)
{
    QFile file(QDir(broker.directory()).filePath(QStringLiteral("broker.ini")));
    return file.open(QIODevice::WriteOnly | QIODevice::Truncate) && file.write(text) == text.size();
}

} // namespace

class TestBridgeTopics : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_spools;
    MosquittoProcess *m_mqtt = nullptr;
    std::unique_ptr<Fleet> m_fleet;

    QByteArray config(const QByteArray &board, const QByteArray &bridgeKeys, const QByteArray &rest = {}) const
    {
        return "[bridge]\nurl = " + m_mqtt->url().toUtf8() + "\nboard = " + board + "\nspool_path = "
               + m_spools.filePath(QString::fromLatin1(board) + QStringLiteral(".spool")).toUtf8()
               + "\nreconnect_min_ms = 100\nreconnect_max_ms = 500\nsummary_interval_ms = 300\n" + bridgeKeys + "\n" + rest;
    }
    bool startBoard(BrokerProcess &broker, const QByteArray &board, const QByteArray &bridgeKeys, const QByteArray &rest = {})
    {
        BrokerProcess::Options options;
        options.configText = config(board, bridgeKeys, rest);
        QString error;
        if (!broker.start(options, &error)) {
            qWarning().noquote() << error;
            return false;
        }
        return QTest::qWaitFor([&] { return broker.countInLog("MQTT link up") >= 1; }, 10000);
    }
    // Two summaries after now: whatever the board was going to count by then, it has.
    bool settle(const QList<QByteArray> &boards)
    {
        for (int round = 0; round < 2; ++round) {
            std::map<QByteArray, QString> seen;
            for (const QByteArray &b : boards)
                seen[b] = m_fleet->time(b);
            if (!QTest::qWaitFor([&] {
                    for (const QByteArray &b : boards)
                        if (m_fleet->time(b) == seen[b])
                            return false;
                    return true;
                }, 5000))
                return false;
        }
        return true;
    }

private slots:
    void init()
    {
        m_mqtt = new MosquittoProcess;
        // One copy per matching subscription, as MQTT 3.1.1 allows and other brokers do
        // (mosquitto 2.0 sends one by default to 3.1.1 clients): overlapping import filters
        // must not bring a publication twice.
        m_mqtt->extraConfig = "allow_duplicate_messages true\n";
        QVERIFY(m_mqtt->start());
        m_fleet = std::make_unique<Fleet>(m_mqtt->port());
    }
    void cleanup()
    {
        m_fleet.reset();
        delete m_mqtt;
        m_mqtt = nullptr;
        for (const QString &file : QDir(m_spools.path()).entryList(QDir::Files))
            QFile::remove(m_spools.filePath(file));
    }

    void exportAtoB()
    {
        BrokerProcess a, b;
        QVERIFY(startBoard(a, "A", "export_topics = \"sensors/#\""));
        QVERIFY(startBoard(b, "B", "import_topics = \"sensors/#\""));
        auto alice = connectPeer(a, "alice", "sensors/#");
        auto bob = connectPeer(b, "bob", "#");
        QVERIFY(alice && bob);

        alice->client->publish("sensors/temp", "21");
        alice->client->publish("other/x", "not exported");
        alice->client->publish("sensors/end", "");
        QTRY_COMPARE_WITH_TIMEOUT(bob->got.size(), 2, 10000);
        QCOMPARE(bob->got.at(0).topic, QByteArray("sensors/temp"));
        QCOMPARE(bob->got.at(0).payload, QByteArray("21"));
        QCOMPARE(bob->got.at(0).publisher, QByteArray("alice@A"));
        QVERIFY(!bob->got.at(0).retained);
        QCOMPARE(bob->got.at(1).topic, QByteArray("sensors/end"));
        QCOMPARE(bob->got.at(1).payload, QByteArray());
        // The publisher's own board delivers it once, locally.
        QCOMPARE(alice->got.size(), 2);
        QTRY_COMPARE_WITH_TIMEOUT(m_fleet->counter("A", "topics_exported"), 2, 5000);
        QTRY_COMPARE_WITH_TIMEOUT(m_fleet->counter("B", "topics_imported"), 2, 5000);
        QCOMPARE(m_fleet->counter("A", "topics_export_dropped"), 0);
        QCOMPARE(m_fleet->counter("B", "topics_import_dropped"), 0);
        QCOMPARE(a.stopVerdict(), QString());
        QCOMPARE(b.stopVerdict(), QString());
    }

    void retainedImportAndClear()
    {
        BrokerProcess a, b;
        QVERIFY(startBoard(a, "A", "export_topics = \"state/#\""));
        auto alice = connectPeer(a, "alice");
        QVERIFY(alice);
        alice->client->publish("state/door", "open", true);
        QTRY_COMPARE_WITH_TIMEOUT(m_fleet->counter("A", "topics_exported"), 1, 5000);

        // B comes later: the MQTT broker's retained copy reaches it, and B keeps it as retained.
        QVERIFY(startBoard(b, "B", "import_topics = \"state/#\""));
        QTRY_COMPARE_WITH_TIMEOUT(m_fleet->counter("B", "topics_imported"), 1, 5000);
        auto bob = connectPeer(b, "bob", "state/#");
        QVERIFY(bob);
        QCOMPARE(bob->retainedCount["state/#"], 1);
        QTRY_COMPARE_WITH_TIMEOUT(bob->got.size(), 1, 5000);
        QCOMPARE(bob->got.at(0).topic, QByteArray("state/door"));
        QCOMPARE(bob->got.at(0).payload, QByteArray("open"));
        QCOMPARE(bob->got.at(0).publisher, QByteArray("alice@A"));
        QVERIFY(bob->got.at(0).retained);

        // Cleared on A: cleared on B (the live subscriber sees the empty publication) ...
        alice->client->publish("state/door", QByteArray(), true);
        QTRY_COMPARE_WITH_TIMEOUT(bob->got.size(), 2, 10000);
        QCOMPARE(bob->got.at(1).payload, QByteArray());
        QCOMPARE(bob->got.at(1).publisher, QByteArray("bridge@A"));
        auto carol = connectPeer(b, "carol", "state/#");
        QVERIFY(carol);
        QCOMPARE(carol->retainedCount["state/#"], 0);

        // ... and on the MQTT broker: a subscriber there gets no retained value before its marker.
        Kennel::MqttLink watcher;
        QList<QByteArray> seen;
        QObject::connect(&watcher, &Kennel::MqttLink::messageReceived, &watcher,
                         [&](const QByteArray &topic, const QByteArray &) { seen.append(topic); });
        QObject::connect(&watcher, &Kennel::MqttLink::connected, &watcher, [&] {
            watcher.subscribe("kennel/A/topic/#");
            watcher.subscribe("test/marker");
            watcher.publish("test/marker", "m");
        });
        Kennel::MqttLink::Options options;
        options.host = QStringLiteral("127.0.0.1");
        options.port = m_mqtt->port();
        options.clientId = "topics-retained-watcher";
        options.cleanSession = true;
        watcher.start(options);
        QTRY_VERIFY_WITH_TIMEOUT(seen.contains("test/marker"), 5000);
        QCOMPARE(seen, QList<QByteArray>{"test/marker"});
        watcher.stop();
    }

    void noLoopWithThreeBoards()
    {
        const QList<QByteArray> boards{"A", "B", "C"};
        BrokerProcess brokers[3];
        std::unique_ptr<Peer> peers[3];
        for (int i = 0; i < 3; ++i)
            QVERIFY(startBoard(brokers[i], boards[i], "export_topics = \"#\"\nimport_topics = \"loop/#\", \"#\""));
        for (int i = 0; i < 3; ++i) {
            peers[i] = connectPeer(brokers[i], "p" + boards[i].toLower(), "#");
            QVERIFY(peers[i]);
        }
        constexpr int Each = 5;
        for (int i = 0; i < 3; ++i)
            for (int n = 0; n < Each; ++n)
                peers[i]->client->publish("loop/" + boards[i] + '/' + QByteArray::number(n), QByteArray::number(n));
        for (int i = 0; i < 3; ++i)
            QTRY_COMPARE_WITH_TIMEOUT(peers[i]->got.size(), 3 * Each, 10000);
        // A loop would keep going: two more summaries from every board, and nothing more came.
        QVERIFY(settle(boards));
        for (int i = 0; i < 3; ++i) {
            QCOMPARE(peers[i]->got.size(), 3 * Each);
            for (int from = 0; from < 3; ++from)
                for (int n = 0; n < Each; ++n) {
                    const QByteArray topic = "loop/" + boards[from] + '/' + QByteArray::number(n);
                    QCOMPARE(peers[i]->count(topic), 1);
                }
            for (const Publication &p : std::as_const(peers[i]->got)) {
                const QByteArray origin = p.topic.split('/').at(1);
                const QByteArray name = "p" + origin.toLower();
                QCOMPARE(p.publisher, origin == boards[i] ? name : QByteArray(name + '@' + origin));
            }
            QCOMPARE(m_fleet->counter(boards[i], "topics_exported"), Each);
            QCOMPARE(m_fleet->counter(boards[i], "topics_imported"), 2 * Each);
            QCOMPARE(m_fleet->counter(boards[i], "topics_import_dropped"), 0);
        }
    }

    // Not spooled: while the link is down exports are dropped and counted; the retained ones
    // are published (their last value, or their clearing) when the link is back.
    void outageRetainedCatchUp()
    {
        BrokerProcess a, b;
        QVERIFY(startBoard(a, "A", "export_topics = \"#\""));
        QVERIFY(startBoard(b, "B", "import_topics = \"#\""));
        auto alice = connectPeer(a, "alice");
        auto bob = connectPeer(b, "bob", "#");
        QVERIFY(alice && bob);
        alice->client->publish("state/kept", "before", true);
        QTRY_COMPARE_WITH_TIMEOUT(bob->got.size(), 1, 10000);

        m_mqtt->stop();
        QTRY_VERIFY_WITH_TIMEOUT(a.countInLog("MQTT link down") >= 1, 10000);
        alice->client->publish("live/x", "lost");
        alice->client->publish("state/a", "1", true);
        alice->client->publish("state/a", "2", true);
        alice->client->publish("state/kept", QByteArray(), true); // cleared while down
        QTRY_COMPARE_WITH_TIMEOUT(a.countInLog("bridge topics: export dropped: the MQTT link is down"), 1, 5000);

        QVERIFY(m_mqtt->restart());
        QTRY_VERIFY_WITH_TIMEOUT(a.countInLog("MQTT link up") >= 2 && b.countInLog("MQTT link up") >= 2, 10000);
        QTRY_COMPARE_WITH_TIMEOUT(bob->got.size(), 3, 10000);
        std::map<QByteArray, QByteArray> caughtUp;
        for (qsizetype i = 1; i < bob->got.size(); ++i)
            caughtUp[bob->got.at(i).topic] = bob->got.at(i).payload;
        QCOMPARE(caughtUp, (std::map<QByteArray, QByteArray>{{"state/a", "2"}, {"state/kept", ""}}));
        QTRY_COMPARE_WITH_TIMEOUT(m_fleet->counter("A", "topics_export_dropped"), 4, 5000);
        QCOMPARE(m_fleet->counter("A", "topics_exported"), 3); // before, and the two caught up
        QVERIFY(settle({"A", "B"}));
        QCOMPARE(bob->got.size(), 3);
        auto carol = connectPeer(b, "carol", "state/#");
        QVERIFY(carol);
        QCOMPARE(carol->retainedCount["state/#"], 1); // state/a; state/kept is cleared on B too
    }

    void remoteTopicPastBound()
    {
        BrokerProcess a, b;
        QVERIFY(startBoard(a, "A", "export_topics = \"#\""));
        QVERIFY(startBoard(b, "B", "import_topics = \"#\"", "[topics]\nmax_topic_length = 32\n"));
        auto alice = connectPeer(a, "alice");
        auto bob = connectPeer(b, "bob", "#");
        QVERIFY(alice && bob);
        const QByteArray longTopic = "long/" + QByteArray(27, 'x'); // 32 bytes: fits
        for (int i = 0; i < 3; ++i)
            alice->client->publish(longTopic + QByteArray::number(i), "too long"); // 33 bytes
        alice->client->publish(longTopic, "fits");
        QTRY_COMPARE_WITH_TIMEOUT(bob->got.size(), 1, 10000);
        QCOMPARE(bob->got.at(0).topic, longTopic);
        QTRY_COMPARE_WITH_TIMEOUT(m_fleet->counter("B", "topics_import_dropped"), 3, 5000);
        QCOMPARE(m_fleet->counter("B", "topics_imported"), 1);
        QCOMPARE(m_fleet->counter("A", "topics_exported"), 4);
        // Logged, and throttled: one line for the three.
        QCOMPARE(b.countInLog("bridge topics: import dropped"), 1);
        QVERIFY(b.log().contains("max_topic_length 32"));
    }

    void filtersChangeOnSighup()
    {
        BrokerProcess a, b;
        QVERIFY(startBoard(a, "A", "export_topics = \"a/#\""));
        QVERIFY(startBoard(b, "B", "import_topics = \"a/#\""));
        auto alice = connectPeer(a, "alice");
        auto bob = connectPeer(b, "bob", "#");
        QVERIFY(alice && bob);
        alice->client->publish("b/state", "kept", true); // not exported yet
        alice->client->publish("a/1", "1");
        alice->client->publish("a/r", "r", true);
        QTRY_COMPARE_WITH_TIMEOUT(bob->got.size(), 2, 10000);
        QCOMPARE(bob->got.at(0).topic, QByteArray("a/1"));
        QCOMPARE(bob->got.at(1).topic, QByteArray("a/r"));
        QTRY_COMPARE_WITH_TIMEOUT(m_fleet->counter("A", "topics_exported"), 2, 5000);

        QVERIFY(writeConfig(a, config("A", "export_topics = \"a/#\", \"b/#\"")));
        QVERIFY(writeConfig(b, config("B", "import_topics = \"b/#\"")));
        ::kill(pid_t(b.pid()), SIGHUP);
        QTRY_COMPARE_WITH_TIMEOUT(b.countInLog("bridge reconfigured"), 1, 10000);
        ::kill(pid_t(a.pid()), SIGHUP);
        QTRY_COMPARE_WITH_TIMEOUT(a.countInLog("bridge reconfigured"), 1, 10000);
        // The retained value only the new export filter covers goes out at once (a/r, which the
        // MQTT broker already keeps, does not); B now takes b/#.
        QTRY_COMPARE_WITH_TIMEOUT(bob->got.size(), 3, 10000);
        QCOMPARE(bob->got.at(2).topic, QByteArray("b/state"));
        QCOMPARE(bob->got.at(2).payload, QByteArray("kept"));
        QVERIFY(a.log().contains("bridge topics: 1 retained values published for the new export filters"));
        alice->client->publish("a/2", "2"); // exported, no longer imported
        alice->client->publish("b/2", "2");
        QTRY_COMPARE_WITH_TIMEOUT(bob->got.size(), 4, 10000);
        QCOMPARE(bob->got.at(3).topic, QByteArray("b/2"));
        QTRY_COMPARE_WITH_TIMEOUT(m_fleet->counter("A", "topics_exported"), 5, 5000);
        QVERIFY(settle({"A", "B"}));
        QCOMPARE(bob->got.size(), 4);
        QCOMPARE(m_fleet->counter("A", "topics_exported"), 5);
    }
};

QTEST_MAIN(TestBridgeTopics)
#include "tst_bridgetopics.moc"
