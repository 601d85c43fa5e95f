// KennelClient's topics (subscribe, unsubscribe, publish, retained values, the publication
// signal) against the real kennel-broker, and subscriptions restored after the broker restarts.
#include "brokerprocess.h"
#include "kennelclient.h"

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

QTEST_GUILESS_MAIN(tst_TopicsClient)
#include "tst_topicsclient.moc"
