// KennelClient against a real broker that goes away and comes back on the same address: the
// client notices, reconnects with backoff, registers its name again and carries on.
#include "testbroker.h"

#include "kennelclient.h"

#include <QSignalSpy>
#include <QTest>

using namespace Kennel;
using namespace KennelTest;

class tst_ClientReconnect : public QObject
{
    Q_OBJECT

private slots:
    void reconnectsAfterBrokerRestart_data();
    void reconnectsAfterBrokerRestart();
};

void tst_ClientReconnect::reconnectsAfterBrokerRestart_data()
{
    QTest::addColumn<bool>("overTcp");
    QTest::newRow("unix") << false;
    QTest::newRow("tcp") << true;
}

void tst_ClientReconnect::reconnectsAfterBrokerRestart()
{
    QFETCH(bool, overTcp);
    auto first = std::make_unique<TestBroker>();
    QVERIFY(first->start());
    // The second broker listens exactly where the first did.
    BrokerConfig sameAddresses = first->config();
    sameAddresses.listen = first->broker().boundAddresses();
    const QString address = overTcp ? first->tcpAddress() : first->unixAddress();

    KennelClient client;
    client.setBrokerAddress(*BrokerAddress::parse(address));
    client.setName("survivor");
    client.setAutoReconnect(true);
    client.setReconnectBackoff(std::chrono::milliseconds(20), std::chrono::milliseconds(200));
    QSignalSpy registered(&client, &KennelClient::registered);
    QSignalSpy disconnected(&client, &KennelClient::disconnected);
    QSignalSpy received(&client, &KennelClient::messageReceived);
    client.connectToBroker();
    QTRY_COMPARE(registered.size(), 1);

    first.reset(); // the broker goes away with the client connected
    QTRY_COMPARE(disconnected.size(), 1);
    QVERIFY(client.reconnectPending() || client.state() != KennelClient::Registered);

    TestBroker second(sameAddresses);
    QVERIFY(second.start());
    QTRY_COMPARE_WITH_TIMEOUT(registered.size(), 2, 10000);
    QCOMPARE(registered.last().at(0).toByteArray(), QByteArray("survivor"));
    QVERIFY(second.broker().sessionByName("survivor"));

    // And it is reachable under its name again.
    RawPeer peer;
    QVERIFY(peer.connectTcp(second.tcpPort()));
    QVERIFY(peer.registerAs("peer"));
    peer.sendTo("survivor", "welcome back", 1);
    QTRY_COMPARE(received.size(), 1);
    QCOMPARE(received.first().at(1).toByteArray(), QByteArray("welcome back"));
    QVERIFY(client.send("peer", "thanks"));
    QVERIFY(peer.take(FrameType::Deliver));
}

QTEST_GUILESS_MAIN(tst_ClientReconnect)
#include "tst_clientreconnect.moc"
