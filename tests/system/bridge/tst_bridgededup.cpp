// The receiving board's duplicate filter survives its own death (docs/FLEET.md "Duplicates"):
// board B (a real kennel-broker) takes messages for bob from "board A" — this test's own MQTT
// client publishing KBM1 payloads to B's msg topic on a mosquitto the test starts — is SIGKILLed
// and restarted on the same spool and dedup file, and gets the same payloads again, as a
// redelivery or a republish would bring them: bob sees none twice, and a fresh one still arrives.
// Also the filter's bounds biting (window, origins: counted in the summary and logged, and kept
// across a restart), and [bridge] monitor_address (advertised in the summary; refused by
// --check-config when it is no HOST:PORT).
#include "bridgewire.h"
#include "brokerprocess.h"
#include "kennelclient.h"
#include "mosquittoprocess.h"
#include "mqttlink.h"
#include "testbroker.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <csignal>
#include <memory>

using Kennel::BrokerAddress;
using Kennel::KennelClient;
using namespace KennelTest;

namespace {

struct Bob
{
    KennelClient client;
    QList<QByteArray> received; // payloads, in order
};

std::unique_ptr<Bob> connectBob(const BrokerProcess &broker)
{
    auto bob = std::make_unique<Bob>();
    Bob *b = bob.get();
    b->client.setBrokerAddress(*BrokerAddress::parse(broker.unixAddress()));
    b->client.setName("bob");
    QObject::connect(&b->client, &KennelClient::messageReceived, &b->client,
                     [b](const QByteArray &source, const QByteArray &payload, quint32) {
                         if (source == "alice@A")
                             b->received.append(payload);
                     });
    b->client.connectToBroker();
    if (!QTest::qWaitFor([b] { return b->client.state() == KennelClient::Registered; }, 5000))
        return nullptr;
    return bob;
}

// What board A's bridge would publish for spool row `seq` of spool file `epoch`.
QByteArray kbm1(quint64 epoch, quint64 seq)
{
    Kennel::BridgeWire::Message m;
    m.epoch = epoch;
    m.seq = seq;
    m.messageId = quint32(seq);
    m.sender = "alice";
    m.target = "bob";
    m.payload = "m" + QByteArray::number(seq) + "/" + QByteArray::number(epoch);
    return Kennel::BridgeWire::encodeMessage(m);
}

QByteArray payloadOf(quint64 epoch, quint64 seq)
{
    return "m" + QByteArray::number(seq) + "/" + QByteArray::number(epoch);
}

} // namespace

class TestBridgeDedup : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_state; // B's spool and dedup file: outlive its restarts
    std::unique_ptr<MosquittoProcess> m_mqtt;
    std::unique_ptr<Kennel::MqttLink> m_origin; // "board A", and a watcher of B's summary
    QList<QPair<QByteArray, QByteArray>> m_seen;

    bool startB(BrokerProcess &b, const QByteArray &extra = {})
    {
        BrokerProcess::Options options;
        options.configText = "[bridge]\nurl = " + m_mqtt->url().toUtf8() + "\nboard = B\nspool_path = "
                             + m_state.filePath(QStringLiteral("B.spool")).toUtf8()
                             + "\nreconnect_min_ms = 100\nreconnect_max_ms = 500\nsummary_interval_ms = 200\n" + extra;
        QString error;
        if (!b.start(options, &error)) {
            qWarning().noquote() << error;
            return false;
        }
        return QTest::qWaitFor([&] { return b.countInLog("MQTT link up") >= 1; }, 10000);
    }
    bool publish(quint64 epoch, quint64 seq)
    {
        return m_origin->publish("kennel/B/msg/A", kbm1(epoch, seq)) >= 0;
    }
    QJsonObject lastSummary() const
    {
        for (qsizetype i = m_seen.size() - 1; i >= 0; --i)
            if (m_seen.at(i).first == "kennel/B/summary")
                return QJsonDocument::fromJson(m_seen.at(i).second).object();
        return {};
    }
    QJsonObject dedupCounters() const
    {
        return lastSummary().value(QStringLiteral("bridge")).toObject().value(QStringLiteral("dedup")).toObject();
    }

private slots:
    void init()
    {
        m_mqtt = std::make_unique<MosquittoProcess>();
        QVERIFY(m_mqtt->start());
        m_seen.clear();
        m_origin = std::make_unique<Kennel::MqttLink>();
        QObject::connect(m_origin.get(), &Kennel::MqttLink::messageReceived, m_origin.get(),
                         [this](const QByteArray &topic, const QByteArray &payload) { m_seen.append({topic, payload}); });
        QObject::connect(m_origin.get(), &Kennel::MqttLink::connected, m_origin.get(),
                         [this] { m_origin->subscribe("kennel/B/summary"); });
        Kennel::MqttLink::Options options;
        options.host = QStringLiteral("127.0.0.1");
        options.port = m_mqtt->port();
        options.clientId = "test-origin-A";
        options.cleanSession = true;
        m_origin->start(options);
        QTRY_VERIFY_WITH_TIMEOUT(m_origin->isConnected(), 10000);
    }
    void cleanup()
    {
        m_origin.reset();
        m_mqtt.reset();
        for (const QString &file : QDir(m_state.path()).entryList(QDir::Files))
            QFile::remove(m_state.filePath(file));
    }

    // The same KBM1 payloads after B's SIGKILL and restart: none delivered twice.
    void noDuplicateAfterSigkill()
    {
        constexpr quint64 Epoch = 0x5eed;
        constexpr int Count = 40;
        BrokerProcess b;
        QVERIFY(startB(b));
        {
            auto bob = connectBob(b);
            QVERIFY(bob);
            for (int seq = 1; seq <= Count; ++seq)
                QVERIFY(publish(Epoch, quint64(seq)));
            QTRY_COMPARE_WITH_TIMEOUT(bob->received.size(), Count, 10000);
            for (int seq = 1; seq <= Count; ++seq)
                QCOMPARE(bob->received.at(seq - 1), payloadOf(Epoch, quint64(seq)));
        }
        b.kill9(); // no orderly close of the dedup file: what was committed is what there is
        QString error;
        QVERIFY2(b.restart(&error), qPrintable(error));
        QVERIFY2(b.log().contains(QByteArray("holds " + QByteArray::number(Count) + " sequences of 1 origins")), b.log().constData());
        QTRY_VERIFY_WITH_TIMEOUT(b.countInLog("MQTT link up") >= 1, 10000);
        auto bob = connectBob(b);
        QVERIFY(bob);
        // Everything again, in the order a republish after a reconnect would bring it, then a
        // fresh message: when the fresh one is there, the old ones have been through the filter.
        for (int seq = 1; seq <= Count; ++seq)
            QVERIFY(publish(Epoch, quint64(seq)));
        QVERIFY(publish(Epoch, Count + 1));
        QTRY_VERIFY_WITH_TIMEOUT(bob->received.contains(payloadOf(Epoch, Count + 1)), 10000);
        QCOMPARE(bob->received, QList<QByteArray>{payloadOf(Epoch, Count + 1)});
        QTRY_COMPARE_WITH_TIMEOUT(lastSummary().value(QStringLiteral("bridge")).toObject().value(QStringLiteral("duplicates")).toInt(),
                                  Count, 5000);

        // The same sequence from a new spool file (another epoch) is another message.
        QVERIFY(publish(Epoch + 1, 1));
        QTRY_COMPARE_WITH_TIMEOUT(bob->received.size(), 2, 10000);
        QCOMPARE(bob->received.at(1), payloadOf(Epoch + 1, 1));
        QCOMPARE(b.stopVerdict(), QString());
    }

    // dedup_window and dedup_origins biting: counted in the summary, logged, and the state
    // reloaded within the bounds after a restart.
    void boundsBite()
    {
        BrokerProcess b;
        QVERIFY(startB(b, "dedup_window = 16\ndedup_origins = 2\n"));
        auto bob = connectBob(b);
        QVERIFY(bob);
        for (int seq = 1; seq <= 40; ++seq)
            if (seq != 26)
                QVERIFY(publish(1, quint64(seq)));
        QTRY_COMPARE_WITH_TIMEOUT(bob->received.size(), 39, 10000);
        // 30 is inside the window (25..40) and seen: a duplicate; 3 is below it: too old.
        QVERIFY(publish(1, 30));
        QVERIFY(publish(1, 3));
        QVERIFY(publish(1, 41));
        QTRY_COMPARE_WITH_TIMEOUT(bob->received.size(), 40, 10000);
        // The window's edge, the highest being 41: 26 (never seen) is its lowest and is taken;
        // 25 is one below it and dropped as too old.
        QVERIFY(publish(1, 26));
        QVERIFY(publish(1, 25));
        QVERIFY(publish(1, 42));
        QTRY_COMPARE_WITH_TIMEOUT(bob->received.size(), 42, 10000);
        QCOMPARE(bob->received.at(40), payloadOf(1, 26));
        QCOMPARE(bob->received.at(41), payloadOf(1, 42));
        QTRY_COMPARE_WITH_TIMEOUT(dedupCounters().value(QStringLiteral("too_old")).toInt(), 2, 5000);
        QCOMPARE(lastSummary().value(QStringLiteral("bridge")).toObject().value(QStringLiteral("duplicates")).toInt(), 3);

        // A second origin key fills the bound (2) without forgetting anything; a third (epoch 3)
        // makes the least recently heard (epoch 1) go.
        QVERIFY(publish(2, 1));
        QTRY_COMPARE_WITH_TIMEOUT(dedupCounters().value(QStringLiteral("origins")).toInt(), 2, 10000);
        QCOMPARE(dedupCounters().value(QStringLiteral("origins_evicted")).toInt(), 0);
        QVERIFY(publish(3, 1));
        QTRY_COMPARE_WITH_TIMEOUT(bob->received.size(), 44, 10000);
        QTRY_COMPARE_WITH_TIMEOUT(dedupCounters().value(QStringLiteral("origins_evicted")).toInt(), 1, 5000);
        QCOMPARE(dedupCounters().value(QStringLiteral("origins")).toInt(), 2);
        QVERIFY(b.log().contains("origins bound of 2 reached: forgetting A:1"));

        // After a SIGKILL the file holds the two kept keys, each within the window.
        b.kill9();
        QString error;
        QVERIFY2(b.restart(&error), qPrintable(error));
        QVERIFY2(b.log().contains("holds 2 sequences of 2 origins (window 16"), b.log().constData());
    }

    void monitorAddressAdvertised()
    {
        BrokerProcess b;
        QVERIFY(startB(b, "monitor_address = press-07.example.net:17501\n"));
        QTRY_COMPARE_WITH_TIMEOUT(lastSummary().value(QStringLiteral("monitor")).toObject().value(QStringLiteral("address")).toString(),
                                  QStringLiteral("press-07.example.net:17501"), 10000);

        // A reload (SIGHUP) with a new address: the next summaries carry it.
        QFile ini(QDir(b.directory()).filePath(QStringLiteral("broker.ini")));
        QVERIFY(ini.open(QIODevice::ReadOnly));
        QByteArray text = ini.readAll();
        ini.close();
        text.replace("press-07.example.net:17501", "203.0.113.9:7501");
        QVERIFY(ini.open(QIODevice::WriteOnly | QIODevice::Truncate));
        QCOMPARE(ini.write(text), text.size());
        ini.close();
        ::kill(pid_t(b.pid()), SIGHUP);
        QTRY_COMPARE_WITH_TIMEOUT(lastSummary().value(QStringLiteral("monitor")).toObject().value(QStringLiteral("address")).toString(),
                                  QStringLiteral("203.0.113.9:7501"), 10000);
        // A reload with a bad value is rejected with the reason; the running value stays.
        text.replace("203.0.113.9:7501", "203.0.113.9");
        QVERIFY(ini.open(QIODevice::WriteOnly | QIODevice::Truncate));
        QCOMPARE(ini.write(text), text.size());
        ini.close();
        ::kill(pid_t(b.pid()), SIGHUP);
        QTRY_VERIFY_WITH_TIMEOUT(b.log().contains("monitor_address (--bridge-monitor-address): \"203.0.113.9\" is not HOST:PORT"), 10000);
        QVERIFY(b.isRunning());
        const qsizetype seen = m_seen.size();
        QTRY_VERIFY_WITH_TIMEOUT(m_seen.size() > seen + 1, 5000); // a later summary
        QCOMPARE(lastSummary().value(QStringLiteral("monitor")).toObject().value(QStringLiteral("address")).toString(),
                 QStringLiteral("203.0.113.9:7501"));

        // The flag replaces the key.
        BrokerProcess c;
        BrokerProcess::Options options;
        options.configText = "[bridge]\nurl = " + m_mqtt->url().toUtf8() + "\nboard = C\nspool_path = "
                             + m_state.filePath(QStringLiteral("C.spool")).toUtf8()
                             + "\nsummary_interval_ms = 200\nmonitor_address = wrong.example:1\n";
        options.arguments = {QStringLiteral("--bridge-monitor-address"), QStringLiteral("[2001:db8::7]:7501")};
        QVERIFY(c.start(options));
        m_origin->subscribe("kennel/C/summary");
        QTRY_VERIFY_WITH_TIMEOUT(std::any_of(m_seen.cbegin(), m_seen.cend(), [](const auto &s) {
                                     return s.first == "kennel/C/summary"
                                         && QJsonDocument::fromJson(s.second).object().value(QStringLiteral("monitor")).toObject()
                                                    .value(QStringLiteral("address")).toString()
                                                == QStringLiteral("[2001:db8::7]:7501");
                                 }),
                                 10000);
    }

    void invalidMonitorAddressRefused_data()
    {
        QTest::addColumn<QByteArray>("value");
        QTest::newRow("no port") << QByteArray("board.example");
        QTest::newRow("port 0") << QByteArray("board.example:0");
        QTest::newRow("port too big") << QByteArray("board.example:65536");
        QTest::newRow("bare IPv6") << QByteArray("2001:db8::7:7501");
        QTest::newRow("bad IPv6") << QByteArray("[2001:zz8::7]:7501");
        QTest::newRow("bad IPv4") << QByteArray("10.0.0.300:7501");
        QTest::newRow("wildcard") << QByteArray("0.0.0.0:7501");
        QTest::newRow("space") << QByteArray("my board:7501");
        QTest::newRow("scheme") << QByteArray("tcp://board:7501");
    }
    void invalidMonitorAddressRefused()
    {
        QFETCH(QByteArray, value);
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("kennel.ini"));
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("[bridge]\nurl = mqtt://127.0.0.1:1883\nboard = B\nmonitor_address = " + value + "\n");
        file.close();
        QProcess check;
        check.start(binaryPath(QStringLiteral("kennel-broker")), {QStringLiteral("--config"), path, QStringLiteral("--check-config")});
        QVERIFY(check.waitForFinished(10000));
        const QByteArray err = check.readAllStandardError();
        QCOMPARE(check.exitCode(), 1);
        QVERIFY2(err.contains(QByteArray("[bridge] monitor_address (--bridge-monitor-address): \"" + value + "\"")), err.constData());

        // A good value passes the same check.
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("[bridge]\nurl = mqtt://127.0.0.1:1883\nboard = B\nmonitor_address = 10.0.0.7:7501\n");
        file.close();
        check.start(binaryPath(QStringLiteral("kennel-broker")), {QStringLiteral("--config"), path, QStringLiteral("--check-config")});
        QVERIFY(check.waitForFinished(10000));
        QVERIFY2(check.exitCode() == 0, check.readAllStandardError().constData());
    }
};

QTEST_GUILESS_MAIN(TestBridgeDedup)
#include "tst_bridgededup.moc"
