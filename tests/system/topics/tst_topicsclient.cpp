// KennelClient's topics (subscribe, unsubscribe, publish, retained values, the publication
// signal) against the real kennel-broker, and subscriptions restored after the broker restarts.
#include "brokerprocess.h"
#include "kennelclient.h"
#include "testbroker.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSignalSpy>
#include <QtTest>

#include <memory>

using namespace Kennel;
using namespace KennelTest;
using namespace std::chrono_literals;

namespace {

constexpr int WaitMs = 10000;

std::unique_ptr<KennelClient> connectedClient(const QString &address, const QByteArray &name, bool autoReconnect = false)
{
    auto client = std::make_unique<KennelClient>();
    client->setBrokerAddress(*BrokerAddress::parse(address));
    client->setName(name);
    client->setAutoReconnect(autoReconnect);
    client->setReconnectBackoff(50ms, 200ms);
    QSignalSpy registered(client.get(), &KennelClient::registered);
    client->connectToBroker();
    if (!registered.wait(WaitMs) && registered.isEmpty())
        return nullptr;
    return client;
}

struct Publication
{
    QByteArray topic, payload, publisher;
    bool retained = false;
};

Publication at(const QSignalSpy &spy, int i)
{
    const QList<QVariant> &a = spy.at(i);
    return {a.at(0).toByteArray(), a.at(1).toByteArray(), a.at(2).toByteArray(), a.at(3).toBool()};
}

} // namespace

class tst_TopicsClient : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void publishSubscribeWithWildcards();
    void retainedOnSubscribe();
    void refusalsReported();
    void subscriptionsRestoredAfterBrokerRestart();
    void kennelctlPubSub();
    void kennelctlRefusals();

private:
    BrokerProcess m_broker;
};

void tst_TopicsClient::initTestCase()
{
    QString error;
    QVERIFY2(m_broker.start(BrokerProcess::Options{}, &error), qPrintable(error));
}

void tst_TopicsClient::publishSubscribeWithWildcards()
{
    auto pub = connectedClient(m_broker.tcpAddress(), "tc-pub");
    auto sub = connectedClient(m_broker.unixAddress(), "tc-sub");
    QVERIFY(pub && sub);
    QVERIFY(pub->brokerOffers(FeatureTopics));
    QSignalSpy subscribed(sub.get(), &KennelClient::subscribed);
    QSignalSpy received(sub.get(), &KennelClient::publicationReceived);
    QVERIFY(sub->subscribe("tc/+/temp"));
    QVERIFY(sub->subscribe("tc/alarm/#"));
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.size(), 2, WaitMs);
    QCOMPARE(sub->subscriptions(), (QList<QByteArray>{"tc/+/temp", "tc/alarm/#"}));

    QSignalSpy statuses(pub.get(), &KennelClient::publishStatusReceived);
    const quint32 id = pub->publish("tc/kitchen/temp", "21.5", false, true);
    QVERIFY(id != 0);
    QVERIFY(pub->publish("tc/kitchen/humidity", "40") != 0); // matches nothing
    QVERIFY(pub->publish("tc/alarm/door/front", "open") != 0);
    QTRY_COMPARE_WITH_TIMEOUT(received.size(), 2, WaitMs);
    const Publication first = at(received, 0);
    QCOMPARE(first.topic, QByteArrayLiteral("tc/kitchen/temp"));
    QCOMPARE(first.payload, QByteArrayLiteral("21.5"));
    QCOMPARE(first.publisher, QByteArrayLiteral("tc-pub"));
    QCOMPARE(first.retained, false);
    QCOMPARE(at(received, 1).topic, QByteArrayLiteral("tc/alarm/door/front"));
    QTRY_COMPARE_WITH_TIMEOUT(statuses.size(), 1, WaitMs);
    QCOMPARE(statuses.at(0).at(0).toUInt(), id);
    QCOMPARE(statuses.at(0).at(1).value<KennelClient::ClientError>(), KennelClient::NoError);
    QCOMPARE(statuses.at(0).at(2).toInt(), 1);

    QVERIFY(sub->unsubscribe("tc/+/temp"));
    QVERIFY(!sub->unsubscribe("tc/+/temp")); // not held any more
    const quint32 after = pub->publish("tc/kitchen/temp", "22", false, true);
    QTRY_COMPARE_WITH_TIMEOUT(statuses.size(), 2, WaitMs);
    QCOMPARE(statuses.at(1).at(0).toUInt(), after);
    QCOMPARE(statuses.at(1).at(2).toInt(), 0);
    QCOMPARE(received.size(), 2);
}

void tst_TopicsClient::retainedOnSubscribe()
{
    auto pub = connectedClient(m_broker.tcpAddress(), "tc-rpub");
    QVERIFY(pub);
    QSignalSpy statuses(pub.get(), &KennelClient::publishStatusReceived);
    QVERIFY(pub->publish("tc-r/mode", "eco", true, true));
    QTRY_COMPARE_WITH_TIMEOUT(statuses.size(), 1, WaitMs); // kept by now
    auto sub = connectedClient(m_broker.unixAddress(), "tc-rsub");
    QVERIFY(sub);
    QSignalSpy subscribed(sub.get(), &KennelClient::subscribed);
    QSignalSpy received(sub.get(), &KennelClient::publicationReceived);
    QVERIFY(sub->subscribe("tc-r/#"));
    QTRY_COMPARE_WITH_TIMEOUT(received.size(), 1, WaitMs);
    QCOMPARE(subscribed.size(), 1);
    QCOMPARE(subscribed.at(0).at(1).toInt(), 1);
    const Publication r = at(received, 0);
    QCOMPARE(r.payload, QByteArrayLiteral("eco"));
    QCOMPARE(r.publisher, QByteArrayLiteral("tc-rpub"));
    QVERIFY(r.retained);
}

void tst_TopicsClient::refusalsReported()
{
    auto c = connectedClient(m_broker.tcpAddress(), "tc-bad");
    QVERIFY(c);
    QVERIFY(!c->subscribe("a/#/b")); // the grammar, checked locally
    QCOMPARE(c->publish("a/+", "x"), 0u);
    QSignalSpy statuses(c.get(), &KennelClient::publishStatusReceived);
    QSignalSpy errors(c.get(), &KennelClient::errorOccurred);
    QVERIFY(c->publish("$SYS/x", "x", false, true) != 0); // only the broker knows '$' is its own
    QTRY_COMPARE_WITH_TIMEOUT(statuses.size(), 1, WaitMs);
    QCOMPARE(statuses.at(0).at(1).value<KennelClient::ClientError>(), KennelClient::ReservedTopic);
    QVERIFY(c->publish("$SYS/y", "x") != 0);
    QTRY_COMPARE_WITH_TIMEOUT(errors.size(), 1, WaitMs);
    QCOMPARE(errors.at(0).at(0).value<KennelClient::ClientError>(), KennelClient::ReservedTopic);
    QCOMPARE(c->state(), KennelClient::Registered);
}

// A subscriber and a publisher ride out a broker restart (SIGKILL, a new broker on the same
// addresses): the subscriber's filters are subscribed again by themselves.
void tst_TopicsClient::subscriptionsRestoredAfterBrokerRestart()
{
    BrokerProcess broker;
    QString error;
    QVERIFY2(broker.start(BrokerProcess::Options{}, &error), qPrintable(error));
    auto sub = connectedClient(broker.unixAddress(), "tc-keep", true);
    auto pub = connectedClient(broker.tcpAddress(), "tc-kpub", true);
    QVERIFY(sub && pub);
    QSignalSpy subscribed(sub.get(), &KennelClient::subscribed);
    QSignalSpy received(sub.get(), &KennelClient::publicationReceived);
    QVERIFY(sub->subscribe("keep/+"));
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.size(), 1, WaitMs);
    QVERIFY(pub->publish("keep/a", "before"));
    QTRY_COMPARE_WITH_TIMEOUT(received.size(), 1, WaitMs);

    QSignalSpy subBack(sub.get(), &KennelClient::registered);
    QSignalSpy pubBack(pub.get(), &KennelClient::registered);
    broker.kill9();
    QTRY_VERIFY_WITH_TIMEOUT(sub->state() != KennelClient::Registered && pub->state() != KennelClient::Registered, WaitMs);
    QVERIFY2(broker.restart(&error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(subBack.size() >= 1 && pubBack.size() >= 1, WaitMs);
    // Subscribed again by the client itself, on the new broker.
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.size(), 2, WaitMs);
    QCOMPARE(subscribed.at(1).at(0).toByteArray(), QByteArrayLiteral("keep/+"));
    QSignalSpy statuses(pub.get(), &KennelClient::publishStatusReceived);
    QVERIFY(pub->publish("keep/b", "after", false, true));
    QTRY_COMPARE_WITH_TIMEOUT(received.size(), 2, WaitMs);
    QCOMPARE(at(received, 1).payload, QByteArrayLiteral("after"));
    QTRY_COMPARE_WITH_TIMEOUT(statuses.size(), 1, WaitMs);
    QCOMPARE(statuses.at(0).at(2).toInt(), 1);
}

namespace {
QStringList strings(const QList<QByteArray> &list)
{
    QStringList out;
    for (const QByteArray &b : list)
        out << QString::fromUtf8(b);
    return out;
}

int runCtl(const QList<QByteArray> &arguments, QByteArray *out = nullptr, const QByteArray &input = {})
{
    QProcess p;
    p.start(KennelTest::binaryPath(QStringLiteral("kennelctl")), strings(arguments));
    if (!p.waitForStarted(WaitMs))
        return -1;
    if (!input.isNull()) {
        p.write(input);
        p.closeWriteChannel();
    }
    if (!p.waitForFinished(WaitMs))
        return -2;
    if (out)
        *out = p.readAllStandardOutput();
    return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -3;
}
} // namespace

// The shell's view, as a user types it: a retained value, a text, and bytes from standard input
// that are not UTF-8, read by `sub --json` (one object per line).
void tst_TopicsClient::kennelctlPubSub()
{
    const QByteArray broker = m_broker.unixAddress().toUtf8();
    QByteArray out;
    QCOMPARE(runCtl({"pub", "--broker", broker, "--retain", "ctl/mode", "eco"}, &out), 0);
    QCOMPARE(out, QByteArrayLiteral("published to ctl/mode: 0 subscribers (0 not taken)\n"));

    QProcess sub;
    sub.start(KennelTest::binaryPath(QStringLiteral("kennelctl")),
              strings({"sub", "--broker", m_broker.tcpAddress().toUtf8(), "--json", "--count", "3", "ctl/#", "other/+"}));
    QVERIFY(sub.waitForStarted(WaitMs));
    QByteArray err;
    QTRY_VERIFY_WITH_TIMEOUT((err += sub.readAllStandardError()).contains("subscribed to other/+"), WaitMs);
    QVERIFY2(err.contains("subscribed to ctl/# (1 retained)"), err.constData());
    QCOMPARE(runCtl({"pub", "--broker", broker, "ctl/a", "hello shell"}, &out), 0);
    QCOMPARE(out, QByteArrayLiteral("published to ctl/a: 1 subscribers (0 not taken)\n"));
    QCOMPARE(runCtl({"pub", "--broker", broker, "--as", "ctl-bin", "other/b", "-"}, &out, QByteArray("\xff\x00raw", 5)), 0);
    QVERIFY(sub.waitForFinished(WaitMs));
    QCOMPARE(sub.exitCode(), 0);
    const QList<QByteArray> lines = sub.readAllStandardOutput().trimmed().split('\n');
    QCOMPARE(lines.size(), 3);
    const QJsonObject retained = QJsonDocument::fromJson(lines[0]).object();
    QCOMPARE(retained.value(QLatin1String("topic")).toString(), QStringLiteral("ctl/mode"));
    QCOMPARE(retained.value(QLatin1String("payload")).toString(), QStringLiteral("eco"));
    QCOMPARE(retained.value(QLatin1String("retained")).toBool(), true);
    const QJsonObject live = QJsonDocument::fromJson(lines[1]).object();
    QCOMPARE(live.value(QLatin1String("payload")).toString(), QStringLiteral("hello shell"));
    QCOMPARE(live.value(QLatin1String("retained")).toBool(), false);
    const QJsonObject binary = QJsonDocument::fromJson(lines[2]).object();
    QCOMPARE(binary.value(QLatin1String("publisher")).toString(), QStringLiteral("ctl-bin"));
    QCOMPARE(QByteArray::fromBase64(binary.value(QLatin1String("payload_base64")).toString().toLatin1()), QByteArray("\xff\x00raw", 5));
}

void tst_TopicsClient::kennelctlRefusals()
{
    const QByteArray broker = m_broker.unixAddress().toUtf8();
    QCOMPARE(runCtl({"pub", "--broker", broker, "a/+", "x"}), 2);    // a wildcard in a topic
    QCOMPARE(runCtl({"pub", "--broker", broker, "$SYS/x", "x"}), 2); // the broker's own
    QCOMPARE(runCtl({"pub", "--broker", broker, "a/b"}), 2);         // no text
    QCOMPARE(runCtl({"sub", "--broker", broker, "a/#/b"}), 2);
    QCOMPARE(runCtl({"sub", "--broker", broker}), 2);
    QCOMPARE(runCtl({"pub", "--broker", "unix:/nonexistent/kennel.sock", "a", "x"}), 3);
    // Retained store full: delivered, not kept, exit 6.
    BrokerProcess small;
    QString error;
    BrokerProcess::Options options;
    options.configText = "[topics]\nretained_count = 0\n";
    QVERIFY2(small.start(options, &error), qPrintable(error));
    QByteArray out;
    QCOMPARE(runCtl({"pub", "--broker", small.unixAddress().toUtf8(), "--retain", "a", "x"}, &out), 8);
    QVERIFY(out.contains("not retained"));
    // A broker with topics off says so.
    BrokerProcess off;
    options.configText = "[topics]\nenabled = false\n";
    QVERIFY2(off.start(options, &error), qPrintable(error));
    QCOMPARE(runCtl({"pub", "--broker", off.unixAddress().toUtf8(), "a", "x"}), 3);
}

QTEST_GUILESS_MAIN(tst_TopicsClient)
#include "tst_topicsclient.moc"
