// Two kennel-broker processes as two boards, bridged through a mosquitto this test starts itself
// (docs/FLEET.md): NAME@BOARD both ways with final statuses, an unknown name and an offline board
// (remote_timeout), the MQTT broker stopped mid-stream (every message once and in order), a board
// SIGKILLed with a spool holding messages (sent after its restart), the spool bound (oldest
// dropped, counted, remote_dropped), the last will, and TLS to mosquitto with a CA made here.
#include "brokerprocess.h"
#include "kennelclient.h"
#include "mosquittoprocess.h"
#include "mqttlink.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <map>
#include <memory>
#include <vector>

using Kennel::BrokerAddress;
using Kennel::DeliveryStatus;
using Kennel::KennelClient;
using namespace KennelTest;

namespace {

struct Peer
{
    std::unique_ptr<KennelClient> client;
    QList<QPair<QByteArray, QByteArray>> received; // source, payload
    std::map<quint32, DeliveryStatus> finalStatus; // `held` left out: it is not final
    int held = 0;
};

std::unique_ptr<Peer> connectPeer(const BrokerProcess &broker, const QByteArray &name)
{
    auto peer = std::make_unique<Peer>();
    peer->client = std::make_unique<KennelClient>();
    Peer *p = peer.get();
    p->client->setBrokerAddress(*BrokerAddress::parse(broker.unixAddress()));
    p->client->setName(name);
    QObject::connect(p->client.get(), &KennelClient::messageReceived, p->client.get(),
                     [p](const QByteArray &source, const QByteArray &payload, quint32) { p->received.append({source, payload}); });
    QObject::connect(p->client.get(), &KennelClient::deliveryStatusReceived, p->client.get(),
                     [p](quint32 id, const QByteArray &, DeliveryStatus status) {
                         if (status == DeliveryStatus::Held)
                             ++p->held;
                         else
                             p->finalStatus[id] = status;
                     });
    p->client->connectToBroker();
    if (!QTest::qWaitFor([p] { return p->client->state() == KennelClient::Registered; }, 5000))
        return nullptr;
    return peer;
}

QByteArray numbered(int i)
{
    return QByteArray("m") + QByteArray::number(i);
}

} // namespace

class TestBridge : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_spools; // outlives each board's restarts
    MosquittoProcess *m_mqtt = nullptr;

    bool startBoard(BrokerProcess &broker, const QByteArray &board, const QString &url, const QByteArray &extra = {},
                    int linkUps = 1)
    {
        BrokerProcess::Options options;
        options.configText = "[bridge]\nurl = " + url.toUtf8() + "\nboard = " + board + "\nspool_path = "
                             + m_spools.filePath(QString::fromLatin1(board) + QStringLiteral(".spool")).toUtf8()
                             + "\nreconnect_min_ms = 100\nreconnect_max_ms = 500\nsummary_interval_ms = 500\n" + extra;
        QString error;
        if (!broker.start(options, &error)) {
            qWarning().noquote() << error;
            return false;
        }
        return QTest::qWaitFor([&] { return broker.countInLog("MQTT link up") >= linkUps; }, 10000);
    }

private slots:
    void init()
    {
        m_mqtt = new MosquittoProcess;
        QVERIFY(m_mqtt->start());
    }
    void cleanup()
    {
        delete m_mqtt;
        m_mqtt = nullptr;
        for (const QString &file : QDir(m_spools.path()).entryList(QDir::Files))
            QFile::remove(m_spools.filePath(file));
    }

    void directedBothWays()
    {
        BrokerProcess a, b;
        QVERIFY(startBoard(a, "A", m_mqtt->url()));
        QVERIFY(startBoard(b, "B", m_mqtt->url()));
        auto alice = connectPeer(a, "alice");
        auto bob = connectPeer(b, "bob");
        QVERIFY(alice && bob);
        QVERIFY(alice->client->brokerOffers(Kennel::FeatureRemoteNames));

        const quint32 id = alice->client->send("bob@B", "hello bob");
        QVERIFY(id);
        QTRY_COMPARE_WITH_TIMEOUT(bob->received.size(), 1, 10000);
        QCOMPARE(bob->received.at(0).first, QByteArray("alice@A"));
        QCOMPARE(bob->received.at(0).second, QByteArray("hello bob"));
        QTRY_VERIFY_WITH_TIMEOUT(alice->finalStatus.count(id), 10000);
        QCOMPARE(alice->finalStatus[id], DeliveryStatus::Delivered);
        QCOMPARE(alice->held, 1); // the sender negotiated held_status: `held` first, then the final one

        // The answer goes back to the source as the receiver read it.
        const quint32 back = bob->client->send(bob->received.at(0).first, "hello alice");
        QTRY_COMPARE_WITH_TIMEOUT(alice->received.size(), 1, 10000);
        QCOMPARE(alice->received.at(0), qMakePair(QByteArray("bob@B"), QByteArray("hello alice")));
        QTRY_VERIFY_WITH_TIMEOUT(bob->finalStatus.count(back), 10000);
        QCOMPARE(bob->finalStatus[back], DeliveryStatus::Delivered);
    }

    void unknownNameAndOfflineBoard()
    {
        BrokerProcess a, b;
        QVERIFY(startBoard(a, "A", m_mqtt->url(), "status_timeout_ms = 1500\n"));
        QVERIFY(startBoard(b, "B", m_mqtt->url()));
        auto alice = connectPeer(a, "alice");
        QVERIFY(alice);
        const quint32 unknown = alice->client->send("nobody@B", "x");
        QTRY_VERIFY_WITH_TIMEOUT(alice->finalStatus.count(unknown), 10000);
        QCOMPARE(alice->finalStatus[unknown], DeliveryStatus::NoSuchClient);

        // No board C: the deadline answers, not silence.
        QElapsedTimer timer;
        timer.start();
        const quint32 offline = alice->client->send("carol@C", "x");
        QTRY_VERIFY_WITH_TIMEOUT(alice->finalStatus.count(offline), 10000);
        QCOMPARE(alice->finalStatus[offline], DeliveryStatus::RemoteTimeout);
        QVERIFY2(timer.elapsed() >= 1400, qPrintable(QString::number(timer.elapsed())));

        // Malformed: '@' with no board, two '@'s.
        QCOMPARE(alice->client->send("bob@", "x"), 0u);
        QCOMPARE(alice->client->send("bob@B@C", "x"), 0u);
    }

    void mqttBrokerStoppedMidStream()
    {
        BrokerProcess a, b;
        QVERIFY(startBoard(a, "A", m_mqtt->url()));
        QVERIFY(startBoard(b, "B", m_mqtt->url()));
        auto alice = connectPeer(a, "alice");
        auto bob = connectPeer(b, "bob");
        QVERIFY(alice && bob);
        constexpr int PerPhase = 300;
        int next = 0;
        for (; next < PerPhase; ++next)
            QVERIFY(alice->client->send("bob@B", numbered(next), false));
        QTest::qWait(20); // some in flight, some not, when the MQTT broker goes
        m_mqtt->stop();
        for (; next < 2 * PerPhase; ++next)
            QVERIFY(alice->client->send("bob@B", numbered(next), false));
        QTRY_VERIFY_WITH_TIMEOUT(a.countInLog("MQTT link down") >= 1, 5000);
        QVERIFY(m_mqtt->restart());
        for (; next < 3 * PerPhase; ++next)
            QVERIFY(alice->client->send("bob@B", numbered(next), false));
        QTRY_COMPARE_WITH_TIMEOUT(bob->received.size(), 3 * PerPhase, 20000);
        QTest::qWait(500); // a duplicate would arrive now
        QCOMPARE(bob->received.size(), 3 * PerPhase);
        for (int i = 0; i < 3 * PerPhase; ++i)
            QCOMPARE(bob->received.at(i).second, numbered(i));
    }

    void spoolSurvivesSigkill()
    {
        BrokerProcess a, b;
        QVERIFY(startBoard(a, "A", m_mqtt->url()));
        QVERIFY(startBoard(b, "B", m_mqtt->url()));
        auto bob = connectPeer(b, "bob");
        QVERIFY(bob);
        m_mqtt->stop();
        QTRY_VERIFY_WITH_TIMEOUT(a.countInLog("MQTT link down") >= 1, 5000);
        {
            auto alice = connectPeer(a, "alice");
            QVERIFY(alice);
            for (int i = 0; i < 50; ++i)
                QVERIFY(alice->client->send("bob@B", numbered(i)));
            // `held` for each: each is in the spool.
            QTRY_COMPARE_WITH_TIMEOUT(alice->held, 50, 5000);
        }
        a.kill9();
        QString error;
        QVERIFY2(a.restart(&error), qPrintable(error));
        QVERIFY(a.log().contains("holds 50 messages"));
        QVERIFY(m_mqtt->restart());
        QTRY_COMPARE_WITH_TIMEOUT(bob->received.size(), 50, 15000);
        for (int i = 0; i < 50; ++i)
            QCOMPARE(bob->received.at(i), qMakePair(QByteArray("alice@A"), numbered(i)));
    }

    void spoolBoundDropsOldest()
    {
        BrokerProcess a, b;
        QVERIFY(startBoard(a, "A", m_mqtt->url(), "spool_max_bytes = 4096\n"));
        QVERIFY(startBoard(b, "B", m_mqtt->url()));
        auto alice = connectPeer(a, "alice");
        auto bob = connectPeer(b, "bob");
        QVERIFY(alice && bob);
        m_mqtt->stop();
        QTRY_VERIFY_WITH_TIMEOUT(a.countInLog("MQTT link down") >= 1, 5000);
        const QByteArray filler(100, 'x');
        std::vector<quint32> ids;
        constexpr int Sent = 60;
        for (int i = 0; i < Sent; ++i)
            ids.push_back(alice->client->send("bob@B", numbered(i) + ' ' + filler));
        QTRY_VERIFY_WITH_TIMEOUT(alice->held + int(alice->finalStatus.size()) >= Sent, 5000);
        int dropped = 0;
        for (int i = 0; i < Sent; ++i) {
            const auto it = alice->finalStatus.find(ids[size_t(i)]);
            if (it == alice->finalStatus.end())
                continue;
            QCOMPARE(it->second, DeliveryStatus::RemoteDropped);
            QCOMPARE(i, dropped); // the oldest go first
            ++dropped;
        }
        QVERIFY2(dropped > 0 && dropped < Sent, qPrintable(QString::number(dropped)));
        QVERIFY(a.log().contains("spool bound of 4096 bytes reached"));
        QVERIFY(m_mqtt->restart());
        QTRY_COMPARE_WITH_TIMEOUT(bob->received.size(), Sent - dropped, 15000);
        for (int i = 0; i < Sent - dropped; ++i)
            QCOMPARE(bob->received.at(i).second, numbered(dropped + i) + ' ' + filler);
    }

    void lastWillAndSummary()
    {
        BrokerProcess a, b;
        QVERIFY(startBoard(b, "B", m_mqtt->url()));
        Kennel::MqttLink watcher;
        QList<QPair<QByteArray, QByteArray>> seen;
        QObject::connect(&watcher, &Kennel::MqttLink::messageReceived, &watcher,
                         [&](const QByteArray &topic, const QByteArray &payload) { seen.append({topic, payload}); });
        QObject::connect(&watcher, &Kennel::MqttLink::connected, &watcher, [&] {
            watcher.subscribe("kennel/B/online");
            watcher.subscribe("kennel/B/summary");
        });
        Kennel::MqttLink::Options options;
        options.host = QStringLiteral("127.0.0.1");
        options.port = m_mqtt->port();
        options.clientId = "fleet-watcher";
        watcher.start(options);
        auto last = [&](const QByteArray &topic) {
            for (qsizetype i = seen.size() - 1; i >= 0; --i)
                if (seen.at(i).first == topic)
                    return seen.at(i).second;
            return QByteArray();
        };
        QTRY_COMPARE_WITH_TIMEOUT(last("kennel/B/online"), QByteArray("true"), 10000);
        QTRY_VERIFY_WITH_TIMEOUT(!last("kennel/B/summary").isEmpty(), 10000);
        auto bob = connectPeer(b, "bob");
        QVERIFY(bob);
        // Refreshed within the summary interval: one client now.
        QTRY_COMPARE_WITH_TIMEOUT(QJsonDocument::fromJson(last("kennel/B/summary")).object().value(QStringLiteral("clients")).toInt(), 1, 5000);
        const QJsonObject summary = QJsonDocument::fromJson(last("kennel/B/summary")).object();
        QCOMPARE(summary.value(QStringLiteral("board")).toString(), QStringLiteral("B"));
        QCOMPARE(summary.value(QStringLiteral("schema")).toInt(), 1);
        for (const char *key : {"watched", "late", "expiries", "kills", "services", "counters", "time"})
            QVERIFY2(summary.contains(QLatin1String(key)), key);
        QVERIFY(summary.value(QStringLiteral("bridge")).toObject().value(QStringLiteral("connected")).toBool());

        b.kill9(); // no DISCONNECT: the MQTT broker publishes the will
        QTRY_COMPARE_WITH_TIMEOUT(last("kennel/B/online"), QByteArray("false"), 10000);
        watcher.stop();
    }

    void tlsToMqttBroker()
    {
        QTemporaryDir certs;
        auto openssl = [&](const char *line) {
            const QStringList args = QString::fromLatin1(line).split(QLatin1Char(' '));
            QProcess p;
            p.setWorkingDirectory(certs.path());
            p.start(QStringLiteral("openssl"), args);
            return p.waitForFinished(20000) && p.exitCode() == 0;
        };
        QVERIFY(openssl("req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=KennelTestCA -keyout ca.key -out ca.crt"));
        QVERIFY(openssl("req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr"));
        QFile ext(certs.filePath(QStringLiteral("ext.cnf")));
        QVERIFY(ext.open(QIODevice::WriteOnly));
        ext.write("subjectAltName=IP:127.0.0.1\n");
        ext.close();
        QVERIFY(openssl("x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile ext.cnf "
                        "-out server.crt"));
        delete m_mqtt;
        m_mqtt = new MosquittoProcess;
        MosquittoProcess::Tls tls{certs.filePath(QStringLiteral("ca.crt")), certs.filePath(QStringLiteral("server.crt")),
                                  certs.filePath(QStringLiteral("server.key")), MosquittoProcess::freePort()};
        QVERIFY(m_mqtt->start(tls));

        BrokerProcess a, b;
        const QString tlsUrl = QStringLiteral("mqtts://127.0.0.1:%1").arg(tls.port);
        QVERIFY(startBoard(a, "A", tlsUrl, "ca_file = " + tls.caFile.toUtf8() + "\n"));
        QVERIFY(startBoard(b, "B", m_mqtt->url()));
        auto alice = connectPeer(a, "alice");
        auto bob = connectPeer(b, "bob");
        QVERIFY(alice && bob);
        const quint32 id = alice->client->send("bob@B", "over TLS");
        QTRY_COMPARE_WITH_TIMEOUT(bob->received.size(), 1, 10000);
        QCOMPARE(bob->received.at(0).second, QByteArray("over TLS"));
        QTRY_VERIFY_WITH_TIMEOUT(alice->finalStatus.count(id), 10000);
        QCOMPARE(alice->finalStatus[id], DeliveryStatus::Delivered);

        // A CA that did not sign the server's certificate: no link.
        BrokerProcess c;
        BrokerProcess::Options options;
        options.configText = "[bridge]\nurl = " + tlsUrl.toUtf8() + "\nboard = C\nca_file = /etc/ssl/certs/ca-certificates.crt\nspool_path = "
                             + m_spools.filePath(QStringLiteral("C.spool")).toUtf8() + "\n";
        QVERIFY(c.start(options));
        QTRY_VERIFY_WITH_TIMEOUT(c.countInLog("MQTT link to") >= 1, 10000);
        QCOMPARE(c.countInLog("MQTT link up"), 0);
    }
};

QTEST_GUILESS_MAIN(TestBridge)
#include "tst_bridge.moc"
