// KennelClient's send queue (setSendQueueLimits()) against the real kennel-broker, stopped and
// started again on the same addresses: what the application sends while the link is down arrives
// after the client registers again, in order, once each, before anything newer, with its
// DeliveryStatus; what does not fit the bound, or is still queued when the application gives up
// the connection, is reported lost with sendFailed(), one signal per message.
#include "brokerprocess.h"
#include "kennelclient.h"

#include <QSignalSpy>
#include <QTest>

#include <memory>

using namespace Kennel;
using namespace KennelTest;
using namespace std::chrono_literals;

namespace {

constexpr int WaitMs = 10000;

// Registered and ready; `backoff` is long where the test decides when the sender reconnects (it
// calls connectToBroker(), which tries at once), so that the receiver is back first.
std::unique_ptr<KennelClient> connectedClient(const QString &address, const QByteArray &name,
                                              bool autoReconnect, std::chrono::milliseconds backoff)
{
    auto client = std::make_unique<KennelClient>();
    client->setBrokerAddress(*BrokerAddress::parse(address));
    client->setName(name);
    client->setAutoReconnect(autoReconnect);
    client->setReconnectBackoff(backoff, backoff);
    QSignalSpy registered(client.get(), &KennelClient::registered);
    client->connectToBroker();
    if (!registered.wait(WaitMs) && registered.isEmpty())
        return nullptr;
    return client;
}

QList<QByteArray> payloads(const QSignalSpy &received)
{
    QList<QByteArray> result;
    for (const QList<QVariant> &args : received)
        result << args.at(1).toByteArray();
    return result;
}

} // namespace

class tst_ClientQueue : public QObject
{
    Q_OBJECT

private slots:
    void queuedAcrossBrokerRestart();
    void boundEdge_data();
    void boundEdge();
    void abandonedOnDisconnect();

private:
    // Stops the broker and waits until the sender counts the link as down, reconnect pending.
    bool stopBroker(BrokerProcess &broker, KennelClient &sender, KennelClient &receiver);
    // Starts it again, registers the receiver again, then lets the sender try at once.
    bool restartAndReconnect(BrokerProcess &broker, KennelClient &sender, KennelClient &receiver);
};

bool tst_ClientQueue::stopBroker(BrokerProcess &broker, KennelClient &sender, KennelClient &receiver)
{
    if (!broker.terminate())
        return false;
    return QTest::qWaitFor([&] {
        return sender.state() == KennelClient::Disconnected && sender.reconnectPending()
            && receiver.state() == KennelClient::Disconnected;
    }, WaitMs);
}

bool tst_ClientQueue::restartAndReconnect(BrokerProcess &broker, KennelClient &sender, KennelClient &receiver)
{
    QString error;
    if (!broker.restart(&error)) {
        qWarning("restart: %s", qPrintable(error));
        return false;
    }
    QSignalSpy receiverBack(&receiver, &KennelClient::registered);
    receiver.connectToBroker();
    if (!QTest::qWaitFor([&] { return receiverBack.size() == 1; }, WaitMs))
        return false;
    if (!sender.reconnectPending())
        return false; // the queue is only kept while a connection is wanted
    sender.connectToBroker(); // cancels the pending (long) reconnect and tries now
    return true;
}

void tst_ClientQueue::queuedAcrossBrokerRestart()
{
    BrokerProcess broker;
    QString error;
    QVERIFY2(broker.start(BrokerProcess::Options{}, &error), qPrintable(error));
    auto receiver = connectedClient(broker.unixAddress(), "queue-rx", false, 100ms);
    QVERIFY(receiver);
    auto sender = connectedClient(broker.tcpAddress(), "queue-tx", true, 60s);
    QVERIFY(sender);
    sender->setSendQueueLimits(100, 1 << 20);
    QCOMPARE(sender->sendQueueMaxMessages(), 100);
    QCOMPARE(sender->sendQueueMaxBytes(), qint64(1 << 20));

    QSignalSpy received(receiver.get(), &KennelClient::messageReceived);
    QSignalSpy statuses(sender.get(), &KennelClient::deliveryStatusReceived);
    QSignalSpy failed(sender.get(), &KennelClient::sendFailed);

    QList<quint32> ids;
    QList<QByteArray> expected;
    ids << sender->send("queue-rx", "before");
    expected << "before";
    QVERIFY(ids.last() != 0);
    QTRY_COMPARE_WITH_TIMEOUT(received.size(), 1, WaitMs);

    QVERIFY(stopBroker(broker, *sender, *receiver));
    for (int i = 1; i <= 20; ++i) {
        const QByteArray payload = "down-" + QByteArray::number(i);
        const quint32 id = sender->send("queue-rx", payload);
        QVERIFY2(id > ids.last(), "a queued message gets its id at once, in sequence");
        ids << id;
        expected << payload;
    }
    QCOMPARE(sender->queuedSendCount(), 20);
    QVERIFY(sender->queuedSendBytes() > 0);

    // What a slot of registered() sends is newer than the queue: it must come after it.
    quint32 newerId = 0;
    connect(sender.get(), &KennelClient::registered, this, [&] { newerId = sender->send("queue-rx", "newer"); });
    QVERIFY(restartAndReconnect(broker, *sender, *receiver));
    expected << "newer";

    QTRY_COMPARE_WITH_TIMEOUT(received.size(), expected.size(), WaitMs);
    QCOMPARE(payloads(received), expected);
    QVERIFY(newerId > ids.last());
    ids << newerId;
    QCOMPARE(sender->queuedSendCount(), 0);
    QCOMPARE(sender->queuedSendBytes(), 0);

    // One DeliveryStatus per message, for the ids send() returned, each delivered.
    QTRY_COMPARE_WITH_TIMEOUT(statuses.size(), ids.size(), WaitMs);
    QList<quint32> statusIds;
    for (const QList<QVariant> &args : std::as_const(statuses)) {
        statusIds << args.at(0).toUInt();
        QCOMPARE(args.at(2).value<DeliveryStatus>(), DeliveryStatus::Delivered);
    }
    QCOMPARE(statusIds, ids);
    QCOMPARE(failed.size(), 0);
    // Nothing duplicated arrives late.
    QTest::qWait(200);
    QCOMPARE(received.size(), expected.size());
}

void tst_ClientQueue::boundEdge_data()
{
    QTest::addColumn<int>("maxMessages");
    QTest::addColumn<qint64>("maxBytes");
    // Every payload is "q-N" with one digit: each frame is the header + "queue-rx" + 3 bytes.
    const qint64 frame = Wire::HeaderSize + 8 + 3;
    QTest::newRow("count: 5 fit, the 6th is lost") << 5 << qint64(1 << 20);
    QTest::newRow("bytes: 5 frames fit exactly, the 6th is lost") << 1000 << 5 * frame;
}

void tst_ClientQueue::boundEdge()
{
    QFETCH(int, maxMessages);
    QFETCH(qint64, maxBytes);
    BrokerProcess broker;
    QString error;
    QVERIFY2(broker.start(BrokerProcess::Options{}, &error), qPrintable(error));
    auto receiver = connectedClient(broker.unixAddress(), "queue-rx", false, 100ms);
    QVERIFY(receiver);
    auto sender = connectedClient(broker.unixAddress(), "queue-tx", true, 60s);
    QVERIFY(sender);
    sender->setSendQueueLimits(maxMessages, maxBytes);
    QSignalSpy received(receiver.get(), &KennelClient::messageReceived);
    QSignalSpy failed(sender.get(), &KennelClient::sendFailed);

    QVERIFY(stopBroker(broker, *sender, *receiver));
    QList<quint32> ids;
    for (int i = 1; i <= 6; ++i) {
        ids << sender->send("queue-rx", "q-" + QByteArray::number(i));
        QVERIFY(ids.last() != 0);
    }
    QCOMPARE(sender->queuedSendCount(), 5);
    QCOMPARE(sender->queuedSendBytes(), qint64(5 * (Wire::HeaderSize + 8 + 3)));
    // The loss is told from the event loop, after send() returned the id it names.
    QCOMPARE(failed.size(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, WaitMs);
    QCOMPARE(failed.first().at(0).toUInt(), ids.last());
    QCOMPARE(failed.first().at(1).toByteArray(), QByteArray("queue-rx"));
    QCOMPARE(failed.first().at(2).value<KennelClient::SendFailure>(), KennelClient::SendQueueFull);

    connect(sender.get(), &KennelClient::registered, this, [&] { sender->send("queue-rx", "newer"); });
    QVERIFY(restartAndReconnect(broker, *sender, *receiver));
    const QList<QByteArray> expected{"q-1", "q-2", "q-3", "q-4", "q-5", "newer"};
    QTRY_COMPARE_WITH_TIMEOUT(received.size(), expected.size(), WaitMs);
    QCOMPARE(payloads(received), expected);
    QCOMPARE(failed.size(), 1);
}

void tst_ClientQueue::abandonedOnDisconnect()
{
    BrokerProcess broker;
    QString error;
    QVERIFY2(broker.start(BrokerProcess::Options{}, &error), qPrintable(error));
    auto receiver = connectedClient(broker.unixAddress(), "queue-rx", false, 100ms);
    QVERIFY(receiver);
    auto sender = connectedClient(broker.unixAddress(), "queue-tx", true, 60s);
    QVERIFY(sender);
    sender->setSendQueueLimits(10, 1 << 20);
    QSignalSpy failed(sender.get(), &KennelClient::sendFailed);

    QVERIFY(stopBroker(broker, *sender, *receiver));
    const quint32 first = sender->send("queue-rx", "one");
    const quint32 second = sender->send("queue-rx", "two");
    QVERIFY(first != 0 && second > first);
    QCOMPARE(sender->queuedSendCount(), 2);

    // The application gives up the connection: nothing will carry them any more.
    sender->disconnectFromBroker();
    QCOMPARE(failed.size(), 2);
    QCOMPARE(failed.at(0).at(0).toUInt(), first);
    QCOMPARE(failed.at(1).at(0).toUInt(), second);
    for (const QList<QVariant> &args : std::as_const(failed))
        QCOMPARE(args.at(2).value<KennelClient::SendFailure>(), KennelClient::SendAbandoned);
    QCOMPARE(sender->queuedSendCount(), 0);
    QCOMPARE(sender->queuedSendBytes(), 0);
    // And with no connection wanted, send() refuses again, as without a queue.
    QCOMPARE(sender->send("queue-rx", "three"), 0u);
}

QTEST_GUILESS_MAIN(tst_ClientQueue)
#include "tst_clientqueue.moc"
