// libkennel through a real broker process. The C side is the documented examples
// (docs/examples/kennel-echo.c, kennel-sensor.c) run as their own processes, and the C API called
// in this process from a Qt event loop (kennel_fd + QSocketNotifier + kennel_process, the way an
// application with its own loop uses it). The other ends are KennelClient and raw old-protocol
// peers (552-byte frames), which take part in topics through the broker's [topics] mapping.
#include "brokerprocess.h"
#include "testbroker.h"

#include "kennelcalls.h"
#include "kennelclient.h"

#include <kennel/kennel.h>

#include <QElapsedTimer>
#include <QProcess>
#include <QSignalSpy>
#include <QSocketNotifier>
#include <QTest>

#include <signal.h>

using namespace Kennel;
using namespace KennelTest;

namespace {

struct Publication
{
    QByteArray topic, payload, publisher;
    bool retained = false;
};

struct CallResult
{
    quint32 id = 0;
    QByteArray target;
    quint16 outcome = 0xFFFF;
    quint16 code = 0;
    QByteArray payload;
};

struct Inbox
{
    QList<QPair<QByteArray, QByteArray>> messages; // source, payload
    QList<QPair<quint32, quint16>> statuses;
    QList<quint16> errors;
    QList<quint32> errorIds;
    int disconnects = 0;
    int lastReason = 1;
    QList<Publication> publications;
    QList<kennel_topic_ack> acks;          // text not kept: it is valid during the callback only
    QList<QByteArray> ackTexts;
    QList<kennel_publish_status> publishStatuses;
    QList<CallResult> callResults;
    QList<QPair<quint32, QByteArray>> incoming; // call id, payload
    QList<QByteArray> events;              // call results and the disconnect, in order
};

void onMessage(kennel *, void *userdata, const kennel_message *m)
{
    auto *inbox = static_cast<Inbox *>(userdata);
    // The documented promise: the payload is followed by a NUL during the callback.
    if (static_cast<const char *>(m->payload)[m->payload_len] != '\0')
        qFatal("payload not NUL-terminated");
    inbox->messages.append({QByteArray(m->source),
                            QByteArray(static_cast<const char *>(m->payload), qsizetype(m->payload_len))});
}
void onStatus(kennel *, void *userdata, uint32_t id, const char *, uint16_t status)
{
    static_cast<Inbox *>(userdata)->statuses.append({id, status});
}
void onError(kennel *, void *userdata, uint16_t code, uint32_t id, const char *)
{
    static_cast<Inbox *>(userdata)->errors.append(code);
    static_cast<Inbox *>(userdata)->errorIds.append(id);
}
void onDisconnect(kennel *, void *userdata, int reason)
{
    auto *inbox = static_cast<Inbox *>(userdata);
    ++inbox->disconnects;
    inbox->lastReason = reason;
    inbox->events.append("disconnect");
}
void onPublication(kennel *, void *userdata, const kennel_publication *p)
{
    // Documented: topic and payload NUL-terminated, in place.
    if (p->topic[p->topic_len] != '\0' || strlen(p->topic) != p->topic_len
        || static_cast<const char *>(p->payload)[p->payload_len] != '\0')
        qFatal("publication not NUL-terminated");
    static_cast<Inbox *>(userdata)->publications.append(
        {QByteArray(p->topic, qsizetype(p->topic_len)),
         QByteArray(static_cast<const char *>(p->payload), qsizetype(p->payload_len)), QByteArray(p->publisher),
         p->retained != 0});
}
void onTopicAck(kennel *, void *userdata, const kennel_topic_ack *ack)
{
    auto *inbox = static_cast<Inbox *>(userdata);
    inbox->acks.append(*ack);
    inbox->ackTexts.append(QByteArray(ack->text));
}
void onPublishStatus(kennel *, void *userdata, const kennel_publish_status *status)
{
    static_cast<Inbox *>(userdata)->publishStatuses.append(*status);
}
void onCallResult(kennel *, void *userdata, const kennel_call_result *r)
{
    if (static_cast<const char *>(r->payload)[r->payload_len] != '\0')
        qFatal("call result not NUL-terminated");
    auto *inbox = static_cast<Inbox *>(userdata);
    inbox->callResults.append({r->call_id, QByteArray(r->target), r->outcome, r->code,
                               QByteArray(static_cast<const char *>(r->payload), qsizetype(r->payload_len))});
    inbox->events.append(QByteArray("result:") + kennel_call_outcome_name(r->outcome));
}
// Serves calls the way a C service would: "read" at once, "err" with an error (code 0 is taken as
// 1), "later" is answered after the callback has returned (the test does it).
void onCall(kennel *k, void *userdata, const kennel_incoming_call *call)
{
    auto *inbox = static_cast<Inbox *>(userdata);
    const QByteArray payload(static_cast<const char *>(call->payload), qsizetype(call->payload_len));
    inbox->incoming.append({call->call_id, payload});
    if (payload == "read")
        kennel_reply(k, call->call_id, "from C", 6);
    else if (payload == "err")
        kennel_reply_error(k, call->call_id, 0, "C says no");
}

kennel *newClient(Inbox &inbox)
{
    kennel *k = kennel_new(&inbox);
    kennel_set_message_callback(k, onMessage);
    kennel_set_status_callback(k, onStatus);
    kennel_set_error_callback(k, onError);
    kennel_set_disconnect_callback(k, onDisconnect);
    kennel_set_publication_callback(k, onPublication);
    kennel_set_topic_ack_callback(k, onTopicAck);
    kennel_set_publish_status_callback(k, onPublishStatus);
    kennel_set_call_result_callback(k, onCallResult);
    kennel_set_call_callback(k, onCall);
    return k;
}

} // namespace

class tst_CLib : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanupTestCase();
    void exampleTalksToQtAndLegacyClients();
    void apiInAQtEventLoop();
    void sensorExampleWithQtAndLegacyClients();
    void topicsInAQtEventLoop();
    void callsBothWaysWithQt();
    void outstandingCallsBoundAndLinkLost();
    void topicsNotOfferedIsUnsupported();
    void watchdogExpiresWhenNotFed();
    void slowReceiverKilledMidStreamLosesNothing_data();
    void slowReceiverKilledMidStreamLosesNothing();
    void shutdownMarkNamesTheLastSendRead();
    void manualAckLeavesMessagesUntilAcknowledged();
    void errorsHaveCodesAndText();
    void addressFormsMatchBrokerAddress_data();
    void addressFormsMatchBrokerAddress();

private:
    bool registerQt(KennelClient &client, const QByteArray &name);
    BrokerProcess m_broker;
};

void tst_CLib::initTestCase()
{
    QVERIFY2(QFile::exists(binaryPath(QStringLiteral("kennel-echo-example"))), "build kennel-echo-example first");
    QVERIFY2(QFile::exists(binaryPath(QStringLiteral("kennel-sensor-example"))), "build kennel-sensor-example first");
    // Old programs in topics (PROTOCOL R-5.5.8): oldsub receives sensor readings as 552-byte
    // frames, and an old program's message to tempset publishes to the sensor's command topic.
    BrokerProcess::Options options;
    options.configText = "[topics]\nsubscribe = oldsub sensors/#\npublish_names = tempset cmd/csensor/set\n";
    QString error;
    QVERIFY2(m_broker.start(options, &error), qPrintable(error));
}

void tst_CLib::cleanupTestCase()
{
    const QString verdict = m_broker.stopVerdict();
    QVERIFY2(verdict.isEmpty(), qPrintable(verdict));
}

bool tst_CLib::registerQt(KennelClient &client, const QByteArray &name)
{
    client.setBrokerAddress(*BrokerAddress::parse(m_broker.tcpAddress()));
    client.setName(name);
    QSignalSpy registered(&client, &KennelClient::registered);
    client.connectToBroker();
    return registered.wait(5000);
}

void tst_CLib::exampleTalksToQtAndLegacyClients()
{
    KennelClient qt;
    QVERIFY(registerQt(qt, "qtpeer"));
    QSignalSpy qtMessages(&qt, &KennelClient::messageReceived);
    LegacyPeer oldReceive, oldMain;
    QVERIFY(oldReceive.connectTcp(m_broker.tcpPort()));
    QVERIFY(oldMain.connectTcp(m_broker.tcpPort()));
    oldReceive.registerReceiver("oldpeer");

    QProcess echo;
    echo.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    setBuildProgram(echo, binaryPath(QStringLiteral("kennel-echo-example")),
                    {m_broker.unixAddress(), QStringLiteral("cpeer"), QStringLiteral("qtpeer")});
    echo.start();
    QVERIFY(echo.waitForStarted(5000));
    QByteArray out;
    const auto readOut = [&] { out += echo.readAllStandardOutput(); return out; };

    // C -> Qt, with a delivery status back to C.
    QTRY_VERIFY_WITH_TIMEOUT(qtMessages.size() >= 1, 5000);
    QCOMPARE(qtMessages.at(0).at(0).toByteArray(), QByteArray("cpeer"));
    QCOMPARE(qtMessages.at(0).at(1).toByteArray(), QByteArray("hello from C"));
    QTRY_VERIFY_WITH_TIMEOUT(readOut().contains("to qtpeer: delivered"), 5000);
    QVERIFY2(out.contains("registered as cpeer (broker "), out.constData());
    // §4.1.1: the broker offers every feature it has (watchdog, held_status, deliver_ack, topics, calls, remote_names, shutdown_mark); the C library lists watchdog, deliver_ack, topics, calls and shutdown_mark.
    QVERIFY2(out.contains("features 0x7f"), out.constData());
    QVERIFY2(out.contains("watchdog every 500 ms, 3 misses, action 3"), out.constData());

    // Qt -> C and the echo back.
    qt.send("cpeer", "from qt");
    QTRY_VERIFY_WITH_TIMEOUT(qtMessages.size() >= 2, 5000);
    QCOMPARE(qtMessages.at(1).at(1).toByteArray(), QByteArray("echo: from qt"));

    // Old protocol -> C, and C -> old protocol (the broker turns it into a 552-byte frame).
    oldMain.forward("cpeer", "oldpeer", "from the old world");
    const auto received = oldReceive.take(5000);
    QVERIFY(received);
    QCOMPARE(received->source, QByteArray("cpeer"));
    QCOMPARE(received->text, QByteArray("echo: from the old world"));
    QTRY_VERIFY_WITH_TIMEOUT(readOut().contains("from oldpeer: from the old world"), 5000);
    QTRY_VERIFY_WITH_TIMEOUT(readOut().contains("to oldpeer: delivered"), 5000);

    // The watchdog holds it to 3 x 500 ms without a feed: past twice that allowance it is still
    // connected and answering, because its loop feeds (an echo that stopped feeding would have
    // been disconnected and exited; watchdogExpiresWhenNotFed shows such terms bite). Lateness
    // alone is not checked: a loaded machine may stall a feed past one interval.
    QElapsedTimer held;
    held.start();
    QTRY_VERIFY_WITH_TIMEOUT(held.elapsed() > 3000, 6000);
    QCOMPARE(m_broker.countInLog("'cpeer' expired"), 0);
    QCOMPARE(echo.state(), QProcess::Running);
    qt.send("cpeer", "still there?");
    QTRY_VERIFY_WITH_TIMEOUT(qtMessages.size() >= 3, 5000);
    QCOMPARE(qtMessages.at(2).at(1).toByteArray(), QByteArray("echo: still there?"));

    // "quit": Bye and a clean exit.
    qt.send("cpeer", "quit");
    // Not waitForFinished(): the quit is written by this event loop.
    QTRY_COMPARE_WITH_TIMEOUT(echo.state(), QProcess::NotRunning, 5000);
    QCOMPARE(echo.exitStatus(), QProcess::NormalExit);
    QCOMPARE(echo.exitCode(), 0);
    QVERIFY2(readOut().endsWith("bye\n"), out.constData());
}

void tst_CLib::apiInAQtEventLoop()
{
    KennelClient qt;
    QVERIFY(registerQt(qt, "qtloop"));
    QSignalSpy qtMessages(&qt, &KennelClient::messageReceived);

    Inbox inbox;
    kennel *k = newClient(inbox);
    QCOMPARE(kennel_connect(k, m_broker.tcpAddress().toUtf8().constData(), "cloop", 5000), int(KENNEL_OK));
    QCOMPARE(kennel_broker_features(k), KENNEL_FEATURE_WATCHDOG | KENNEL_FEATURE_HELD_STATUS | KENNEL_FEATURE_DELIVER_ACK
                                            | KENNEL_FEATURE_TOPICS | KENNEL_FEATURE_CALLS | KENNEL_FEATURE_REMOTE_NAMES
                                                | KENNEL_FEATURE_SHUTDOWN_MARK);
    QVERIFY(kennel_max_frame_size(k) >= KENNEL_WIRE_MIN_FRAME_SIZE_LIMIT);
    QCOMPARE(kennel_name(k), "cloop");
    QVERIFY(kennel_fd(k) >= 0);

    QSocketNotifier readable(qintptr(kennel_fd(k)), QSocketNotifier::Read);
    connect(&readable, &QSocketNotifier::activated, this, [k] { kennel_process(k); });

    // Many messages both ways, in one loop, in order (PROTOCOL R-5.1.3).
    const int count = 200;
    for (int i = 0; i < count; ++i)
        qt.send("cloop", QByteArray::number(i));
    QTRY_COMPARE_WITH_TIMEOUT(inbox.messages.size(), count, 10000);
    for (int i = 0; i < count; ++i) {
        QCOMPARE(inbox.messages.at(i).first, QByteArray("qtloop"));
        QCOMPARE(inbox.messages.at(i).second, QByteArray::number(i));
    }
    uint32_t id = 0;
    for (int i = 0; i < count; ++i)
        QCOMPARE(kennel_send(k, "qtloop", "x", 1, i == count - 1 ? KENNEL_SEND_WANT_STATUS : 0, &id), int(KENNEL_OK));
    QCOMPARE(kennel_flush(k, 5000), int(KENNEL_OK));
    QTRY_COMPARE_WITH_TIMEOUT(qtMessages.size(), count, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(inbox.statuses.size(), 1, 5000);
    QCOMPARE(inbox.statuses.at(0).first, id);
    QCOMPARE(inbox.statuses.at(0).second, quint16(KENNEL_STATUS_DELIVERED));

    // A status that says no, and an empty and a binary payload.
    QCOMPARE(kennel_send(k, "nobody", "", 0, KENNEL_SEND_WANT_STATUS, &id), int(KENNEL_OK));
    QTRY_COMPARE_WITH_TIMEOUT(inbox.statuses.size(), 2, 5000);
    QCOMPARE(inbox.statuses.at(1), qMakePair(quint32(id), quint16(KENNEL_STATUS_NO_SUCH_CLIENT)));
    qt.send("cloop", QByteArray("\0\1\2", 3));
    QTRY_COMPARE_WITH_TIMEOUT(inbox.messages.size(), count + 1, 5000);
    QCOMPARE(inbox.messages.last().second, QByteArray("\0\1\2", 3));

    // A frame larger than the initial receive buffer grows it once and arrives whole.
    const QByteArray big(300 * 1024, 'b');
    qt.send("cloop", big);
    QTRY_COMPARE_WITH_TIMEOUT(inbox.messages.size(), count + 2, 5000);
    QCOMPARE(inbox.messages.last().second, big);

    QCOMPARE(kennel_disconnect(k), int(KENNEL_OK));
    QCOMPARE(inbox.disconnects, 1);
    QCOMPARE(inbox.lastReason, int(KENNEL_OK));
    QCOMPARE(kennel_fd(k), -1);
    kennel_free(k);
}

// The topics-and-calls example as its own process: it publishes (retained, with a status),
// subscribes, serves calls and makes them; Qt clients and old-protocol programs on the other side.
void tst_CLib::sensorExampleWithQtAndLegacyClients()
{
    KennelClient qt;
    QVERIFY(registerQt(qt, "qtsensor"));
    QSignalSpy publications(&qt, &KennelClient::publicationReceived);
    QSignalSpy subscribed(&qt, &KennelClient::subscribed);
    QVERIFY(qt.subscribe("sensors/#"));
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.size(), 1, 5000);
    qt.setCallHandler([](IncomingCall *call) {
        if (call->payload() == "ping")
            call->reply("pong from qt");
        else
            call->replyError(7, QStringLiteral("not ping"));
    });
    LegacyPeer oldReceive, oldMain;
    QVERIFY(oldReceive.connectTcp(m_broker.tcpPort()));
    QVERIFY(oldMain.connectTcp(m_broker.tcpPort()));
    oldReceive.registerReceiver("oldsub");

    QProcess sensor;
    sensor.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    setBuildProgram(sensor, binaryPath(QStringLiteral("kennel-sensor-example")),
                    {m_broker.unixAddress(), QStringLiteral("csensor")});
    sensor.start();
    QVERIFY(sensor.waitForStarted(5000));
    QByteArray out;
    const auto readOut = [&] { out += sensor.readAllStandardOutput(); return out; };
    const auto lastPublication = [&] {
        const QList<QVariant> p = publications.last();
        return QByteArrayList{p.at(0).toByteArray(), p.at(1).toByteArray(), p.at(2).toByteArray(),
                              p.at(3).toBool() ? "retained" : "live"};
    };

    // C publishes its reading (retained, with a status); the live Qt subscriber gets it unretained.
    QTRY_VERIFY_WITH_TIMEOUT(publications.size() >= 1, 5000);
    QCOMPARE(lastPublication(), (QByteArrayList{"sensors/csensor/temp", "20.0", "csensor", "live"}));
    QTRY_VERIFY_WITH_TIMEOUT(readOut().contains("subscribed (request "), 5000);
    QTRY_VERIFY_WITH_TIMEOUT(readOut().contains(": ok, delivered "), 5000);
    QVERIFY2(out.contains("not taken 0"), out.constData());

    // Qt -> C through a topic; C publishes the new reading, which Qt and the old program receive.
    qt.publish("cmd/csensor/set", "22.5");
    QTRY_VERIFY_WITH_TIMEOUT(publications.size() >= 2, 5000);
    QCOMPARE(lastPublication(), (QByteArrayList{"sensors/csensor/temp", "22.5", "csensor", "live"}));
    QVERIFY2(readOut().contains("publication on cmd/csensor/set from qtsensor: 22.5\n"), out.constData());
    std::optional<LegacyPeer::Received> old;
    do
        old = oldReceive.take(5000);
    while (old && old->text != "22.5");
    QVERIFY2(old, "the old-protocol subscriber did not get 22.5");
    QCOMPARE(old->source, QByteArray("csensor"));

    // An old program's message to a publish name is a publication the C program receives.
    oldMain.forward("tempset", "oldpeer", "19.0");
    QTRY_VERIFY_WITH_TIMEOUT(publications.size() >= 3, 5000);
    QCOMPARE(lastPublication(), (QByteArrayList{"sensors/csensor/temp", "19.0", "csensor", "live"}));
    QVERIFY2(readOut().contains("publication on cmd/csensor/set from oldpeer: 19.0\n"), out.constData());

    // A later subscriber gets the retained reading, marked retained.
    KennelClient late;
    QVERIFY(registerQt(late, "qtlate"));
    QSignalSpy latePublications(&late, &KennelClient::publicationReceived);
    QVERIFY(late.subscribe("sensors/+/temp"));
    QTRY_COMPARE_WITH_TIMEOUT(latePublications.size(), 1, 5000);
    QCOMPARE(latePublications.at(0).at(1).toByteArray(), QByteArray("19.0"));
    QCOMPARE(latePublications.at(0).at(2).toByteArray(), QByteArray("csensor"));
    QCOMPARE(latePublications.at(0).at(3).toBool(), true);

    // Qt calls the C service: a reply, and an error reply with the C side's code and text.
    std::unique_ptr<PendingCall> read(qt.call("csensor", "read", 5000));
    read->setAutoDelete(false);
    std::unique_ptr<PendingCall> bogus(qt.call("csensor", "bogus", 5000));
    bogus->setAutoDelete(false);
    QTRY_VERIFY_WITH_TIMEOUT(read->isFinished() && bogus->isFinished(), 5000);
    QCOMPARE(read->result(), PendingCall::Replied);
    QCOMPARE(read->reply(), QByteArray("19.0"));
    QCOMPARE(bogus->result(), PendingCall::ErrorReply);
    QCOMPARE(bogus->errorCode(), quint16(1));
    QCOMPARE(bogus->errorText(), QStringLiteral("unknown request (ask \"read\")"));
    QVERIFY2(readOut().contains(" from qtsensor: read\n"), out.constData());

    // The C program calls Qt (a reply, an error reply) and a name nobody holds.
    qt.publish("cmd/csensor/call", "qtsensor");
    QTRY_VERIFY_WITH_TIMEOUT(readOut().contains("to qtsensor: replied: pong from qt\n"), 5000);
    qt.setCallHandler([](IncomingCall *call) { call->replyError(7, QStringLiteral("busy")); });
    qt.publish("cmd/csensor/call", "qtsensor");
    QTRY_VERIFY_WITH_TIMEOUT(readOut().contains("to qtsensor: error 7: busy\n"), 5000);
    qt.publish("cmd/csensor/call", "nobody");
    QTRY_VERIFY_WITH_TIMEOUT(readOut().contains("to nobody: no_such_client\n"), 5000);

    qt.publish("cmd/csensor/quit", "");
    QTRY_COMPARE_WITH_TIMEOUT(sensor.state(), QProcess::NotRunning, 5000);
    QCOMPARE(sensor.exitStatus(), QProcess::NormalExit);
    QCOMPARE(sensor.exitCode(), 0);
    QVERIFY2(readOut().endsWith("bye\n"), out.constData());
}

void tst_CLib::topicsInAQtEventLoop()
{
    KennelClient qt;
    QVERIFY(registerQt(qt, "qttopics"));
    QSignalSpy qtPublications(&qt, &KennelClient::publicationReceived);
    QSignalSpy qtSubscribed(&qt, &KennelClient::subscribed);

    Inbox inbox;
    kennel *k = newClient(inbox);
    QCOMPARE(kennel_connect(k, m_broker.tcpAddress().toUtf8().constData(), "ctopics", 5000), int(KENNEL_OK));
    QSocketNotifier readable(qintptr(kennel_fd(k)), QSocketNotifier::Read);
    connect(&readable, &QSocketNotifier::activated, this, [k] { kennel_process(k); });

    // Subscribe: one ack per request, with its id; a filter the grammar refuses is refused in the ack.
    uint32_t sub = 0, bad = 0;
    QCOMPARE(kennel_subscribe(k, "plant/+/level", &sub), int(KENNEL_OK));
    QCOMPARE(kennel_subscribe(k, "plant/#/level", &bad), int(KENNEL_OK));
    QTRY_COMPARE_WITH_TIMEOUT(inbox.acks.size(), 2, 5000);
    QCOMPARE(inbox.acks.at(0).id, sub);
    QCOMPARE(inbox.acks.at(0).result, quint16(0));
    QCOMPARE(inbox.acks.at(0).count, 0u);
    QCOMPARE(inbox.acks.at(1).id, bad);
    QCOMPARE(inbox.acks.at(1).result, quint16(KENNEL_ERROR_INVALID_TOPIC));
    QVERIFY(!inbox.ackTexts.at(1).isEmpty());

    // Qt publishes (retained): C gets it live, then again as a retained value when it subscribes
    // a second matching filter.
    QVERIFY(qt.publish("plant/tank1/level", "80", true) != 0);
    QTRY_COMPARE_WITH_TIMEOUT(inbox.publications.size(), 1, 5000);
    QCOMPARE(inbox.publications.at(0).topic, QByteArray("plant/tank1/level"));
    QCOMPARE(inbox.publications.at(0).payload, QByteArray("80"));
    QCOMPARE(inbox.publications.at(0).publisher, QByteArray("qttopics"));
    QCOMPARE(inbox.publications.at(0).retained, false);
    uint32_t all = 0;
    QCOMPARE(kennel_subscribe(k, "plant/#", &all), int(KENNEL_OK));
    QTRY_COMPARE_WITH_TIMEOUT(inbox.publications.size(), 2, 5000);
    QCOMPARE(inbox.acks.size(), 3);
    QCOMPARE(inbox.acks.at(2).id, all);
    QCOMPARE(inbox.acks.at(2).count, 1u);
    QCOMPARE(inbox.publications.at(1).payload, QByteArray("80"));
    QCOMPARE(inbox.publications.at(1).retained, true);

    // C publishes with a status: Qt and C itself (two matching filters, one copy) take it.
    QVERIFY(qt.subscribe("plant/#"));
    QTRY_COMPARE_WITH_TIMEOUT(qtSubscribed.size(), 1, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(qtPublications.size(), 1, 5000); // its own retained value
    uint32_t pub = 0;
    const QByteArray big(100 * 1000, 'L'); // over the 64 KiB first receive buffer, both ways
    QCOMPARE(kennel_publish(k, "plant/tank2/level", big.constData(), size_t(big.size()),
                            KENNEL_PUBLISH_WANT_STATUS | KENNEL_PUBLISH_RETAIN, &pub),
             int(KENNEL_OK));
    QTRY_COMPARE_WITH_TIMEOUT(inbox.publishStatuses.size(), 1, 5000);
    QCOMPARE(inbox.publishStatuses.at(0).id, pub);
    QCOMPARE(inbox.publishStatuses.at(0).result, quint16(0));
    QCOMPARE(inbox.publishStatuses.at(0).delivered, 2u);
    QCOMPARE(inbox.publishStatuses.at(0).not_taken, 0u);
    QTRY_COMPARE_WITH_TIMEOUT(qtPublications.size(), 2, 5000);
    QCOMPARE(qtPublications.at(1).at(0).toByteArray(), QByteArray("plant/tank2/level"));
    QCOMPARE(qtPublications.at(1).at(1).toByteArray(), big);
    QCOMPARE(qtPublications.at(1).at(2).toByteArray(), QByteArray("ctopics"));
    QCOMPARE(inbox.publications.size(), 3); // its own copy came before the status (R-5.5.4)
    QCOMPARE(inbox.publications.at(2).payload, big);

    // Refusals: a '$' topic in the status; a wildcard topic without a status as an Error with the id.
    uint32_t reserved = 0, wildcard = 0;
    QCOMPARE(kennel_publish(k, "$SYS/x", "1", 1, KENNEL_PUBLISH_WANT_STATUS, &reserved), int(KENNEL_OK));
    QCOMPARE(kennel_publish(k, "plant/+", "1", 1, 0, &wildcard), int(KENNEL_OK));
    QTRY_COMPARE_WITH_TIMEOUT(inbox.publishStatuses.size(), 2, 5000);
    QCOMPARE(inbox.publishStatuses.at(1).id, reserved);
    QCOMPARE(inbox.publishStatuses.at(1).result, quint16(KENNEL_ERROR_RESERVED_TOPIC));
    QCOMPARE(inbox.publishStatuses.at(1).delivered, 0u);
    QTRY_COMPARE_WITH_TIMEOUT(inbox.errors.size(), 1, 5000);
    QCOMPARE(inbox.errors.at(0), quint16(KENNEL_ERROR_INVALID_TOPIC));
    QCOMPARE(inbox.errorIds.at(0), wildcard);
    QCOMPARE(kennel_is_connected(k), 1);

    // An empty retained publication clears the value: a new subscriber gets none.
    QCOMPARE(kennel_publish(k, "plant/tank2/level", nullptr, 0, KENNEL_PUBLISH_RETAIN, nullptr), int(KENNEL_OK));
    QTRY_COMPARE_WITH_TIMEOUT(inbox.publications.size(), 4, 5000);
    KennelClient late;
    QVERIFY(registerQt(late, "qtlate2"));
    QSignalSpy lateSubscribed(&late, &KennelClient::subscribed);
    QVERIFY(late.subscribe("plant/tank2/level"));
    QTRY_COMPARE_WITH_TIMEOUT(lateSubscribed.size(), 1, 5000);
    QCOMPARE(lateSubscribed.at(0).at(1).toInt(), 0);

    // Unsubscribe: count 1 when removed, 0 when it was not held; then nothing more arrives for it.
    uint32_t un1 = 0, un2 = 0;
    QCOMPARE(kennel_unsubscribe(k, "plant/#", &un1), int(KENNEL_OK));
    QCOMPARE(kennel_unsubscribe(k, "plant/#", &un2), int(KENNEL_OK));
    QTRY_COMPARE_WITH_TIMEOUT(inbox.acks.size(), 5, 5000);
    QCOMPARE(inbox.acks.at(3).id, un1);
    QCOMPARE(inbox.acks.at(3).count, 1u);
    QCOMPARE(inbox.acks.at(4).id, un2);
    QCOMPARE(inbox.acks.at(4).count, 0u);
    QCOMPARE(kennel_unsubscribe(k, "plant/+/level", nullptr), int(KENNEL_OK));
    QTRY_COMPARE_WITH_TIMEOUT(inbox.acks.size(), 6, 5000);
    qt.publish("plant/tank3/level", "never");
    qt.send("ctopics", "marker"); // ordered after the publication: when it is here, so would that be
    QTRY_COMPARE_WITH_TIMEOUT(inbox.messages.size(), 1, 5000);
    QCOMPARE(inbox.publications.size(), 4);

    // Local refusals, before anything is written.
    QCOMPARE(kennel_subscribe(k, "", nullptr), int(KENNEL_E_INVAL));
    QCOMPARE(kennel_publish(k, nullptr, "x", 1, 0, nullptr), int(KENNEL_E_INVAL));
    const QByteArray tooLong(65536, 't');
    QCOMPARE(kennel_publish(k, tooLong.constData(), "x", 1, 0, nullptr), int(KENNEL_E_INVAL));

    QCOMPARE(kennel_disconnect(k), int(KENNEL_OK));
    QCOMPARE(kennel_subscribe(k, "a", nullptr), int(KENNEL_E_STATE));
    kennel_free(k);
}

void tst_CLib::callsBothWaysWithQt()
{
    KennelClient qt;
    QVERIFY(registerQt(qt, "qtcalls"));
    QList<QPointer<IncomingCall>> held;
    qt.setCallHandler([&held](IncomingCall *call) {
        if (call->payload() == "echo")
            call->reply("echo from qt");
        else if (call->payload() == "fail")
            call->replyError(42, QStringLiteral("failed in qt"));
        else
            held.append(call); // not answered
    });
    KennelClient gone;
    QVERIFY(registerQt(gone, "qtgone"));
    QList<QPointer<IncomingCall>> goneHeld;
    gone.setCallHandler([&goneHeld](IncomingCall *call) { goneHeld.append(call); });
    LegacyPeer oldReceive;
    QVERIFY(oldReceive.connectTcp(m_broker.tcpPort()));
    oldReceive.registerReceiver("oldcall");

    Inbox inbox;
    kennel *k = newClient(inbox);
    QCOMPARE(kennel_connect(k, m_broker.unixAddress().toUtf8().constData(), "ccalls", 5000), int(KENNEL_OK));
    QSocketNotifier readable(qintptr(kennel_fd(k)), QSocketNotifier::Read);
    connect(&readable, &QSocketNotifier::activated, this, [k] { kennel_process(k); });

    // C -> Qt: every outcome the broker gives a caller, each with its call id and target.
    uint32_t echo = 0, fail = 0, hold = 0, nobody = 0, old = 0, callee = 0;
    QCOMPARE(kennel_call(k, "qtcalls", "echo", 4, 5000, &echo), int(KENNEL_OK));
    QCOMPARE(kennel_call(k, "qtcalls", "fail", 4, 5000, &fail), int(KENNEL_OK));
    QCOMPARE(kennel_call(k, "qtcalls", "hold", 4, 300, &hold), int(KENNEL_OK));
    QCOMPARE(kennel_call(k, "nobody", nullptr, 0, 5000, &nobody), int(KENNEL_OK));
    QTRY_COMPARE_WITH_TIMEOUT(held.size(), 1, 5000);
    QCOMPARE(kennel_outstanding_calls(k), 0u + 4 - uint(inbox.callResults.size()));
    QTRY_COMPARE_WITH_TIMEOUT(inbox.callResults.size(), 4, 5000);
    QHash<quint32, CallResult> results;
    for (const CallResult &r : std::as_const(inbox.callResults))
        results.insert(r.id, r);
    QCOMPARE(results.value(echo).outcome, quint16(KENNEL_CALL_REPLIED));
    QCOMPARE(results.value(echo).payload, QByteArray("echo from qt"));
    QCOMPARE(results.value(echo).target, QByteArray("qtcalls"));
    QCOMPARE(results.value(fail).outcome, quint16(KENNEL_CALL_ERROR_REPLY));
    QCOMPARE(results.value(fail).code, quint16(42));
    QCOMPARE(results.value(fail).payload, QByteArray("failed in qt"));
    QCOMPARE(results.value(hold).outcome, quint16(KENNEL_CALL_TIMEOUT));
    QCOMPARE(results.value(nobody).outcome, quint16(KENNEL_CALL_NO_SUCH_CLIENT));
    QCOMPARE(results.value(nobody).target, QByteArray("nobody"));
    // An old-protocol program cannot be called; a callee that goes away ends its calls at once.
    QCOMPARE(kennel_call(k, "oldcall", "x", 1, 5000, &old), int(KENNEL_OK));
    QCOMPARE(kennel_call(k, "qtgone", "x", 1, 60000, &callee), int(KENNEL_OK));
    QTRY_COMPARE_WITH_TIMEOUT(goneHeld.size(), 1, 5000);
    gone.disconnectFromBroker();
    QTRY_COMPARE_WITH_TIMEOUT(inbox.callResults.size(), 6, 5000);
    for (const CallResult &r : std::as_const(inbox.callResults))
        results.insert(r.id, r);
    QCOMPARE(results.value(old).outcome, quint16(KENNEL_CALL_NOT_CALLABLE));
    QCOMPARE(results.value(callee).outcome, quint16(KENNEL_CALL_CALLEE_GONE));
    QCOMPARE(kennel_outstanding_calls(k), 0u);

    // Qt -> C: a reply from the callback, an error reply (code 0 becomes 1), and one answered
    // after the callback returned.
    std::unique_ptr<PendingCall> read(qt.call("ccalls", "read", 5000));
    read->setAutoDelete(false);
    std::unique_ptr<PendingCall> err(qt.call("ccalls", "err", 5000));
    err->setAutoDelete(false);
    std::unique_ptr<PendingCall> later(qt.call("ccalls", "later", 5000));
    later->setAutoDelete(false);
    QTRY_COMPARE_WITH_TIMEOUT(inbox.incoming.size(), 3, 5000);
    QCOMPARE(inbox.incoming.at(2).second, QByteArray("later"));
    QCOMPARE(kennel_reply(k, inbox.incoming.at(2).first, "answered later", 14), int(KENNEL_OK));
    QTRY_VERIFY_WITH_TIMEOUT(read->isFinished() && err->isFinished() && later->isFinished(), 5000);
    QCOMPARE(read->result(), PendingCall::Replied);
    QCOMPARE(read->reply(), QByteArray("from C"));
    QCOMPARE(err->result(), PendingCall::ErrorReply);
    QCOMPARE(err->errorCode(), quint16(1));
    QCOMPARE(err->errorText(), QStringLiteral("C says no"));
    QCOMPARE(later->result(), PendingCall::Replied);
    QCOMPARE(later->reply(), QByteArray("answered later"));

    QCOMPARE(kennel_call(k, "bad name", "x", 1, 100, nullptr), int(KENNEL_E_INVAL));
    QCOMPARE(kennel_reply(k, 0, "x", 1), int(KENNEL_E_INVAL));
    QCOMPARE(kennel_disconnect(k), int(KENNEL_OK));
    QCOMPARE(kennel_call(k, "qtcalls", "x", 1, 100, nullptr), int(KENNEL_E_STATE));
    kennel_free(k);
}

// The library's own bound on outstanding calls, and the end of the connection ending each
// outstanding call once (link_lost) before the disconnect callback; a client without a call
// callback answers calls at once with KENNEL_CALL_NOT_SERVED instead of letting them time out.
void tst_CLib::outstandingCallsBoundAndLinkLost()
{
    KennelClient qt;
    QVERIFY(registerQt(qt, "qtbound"));
    QList<QPointer<IncomingCall>> held;
    qt.setCallHandler([&held](IncomingCall *call) { held.append(call); });

    Inbox inbox;
    kennel *k = kennel_new(&inbox); // no call callback
    kennel_set_call_result_callback(k, onCallResult);
    kennel_set_disconnect_callback(k, onDisconnect);
    QCOMPARE(kennel_set_max_calls(k, 0), int(KENNEL_E_INVAL));
    QCOMPARE(kennel_set_max_calls(k, 2), int(KENNEL_OK));
    QCOMPARE(kennel_connect(k, m_broker.unixAddress().toUtf8().constData(), "cbound", 5000), int(KENNEL_OK));
    QCOMPARE(kennel_set_max_calls(k, 5), int(KENNEL_E_STATE));
    QSocketNotifier readable(qintptr(kennel_fd(k)), QSocketNotifier::Read);
    connect(&readable, &QSocketNotifier::activated, this, [k] { kennel_process(k); });

    uint32_t a = 0, b = 0, c = 12345;
    QCOMPARE(kennel_call(k, "qtbound", "1", 1, 30000, &a), int(KENNEL_OK));
    QCOMPARE(kennel_call(k, "qtbound", "2", 1, 30000, &b), int(KENNEL_OK));
    QCOMPARE(kennel_call(k, "qtbound", "3", 1, 30000, &c), int(KENNEL_E_BUSY));
    QCOMPARE(c, 12345u); // no id for a call not made
    QVERIFY(QByteArray(kennel_last_error(k)).contains("outstanding"));
    QCOMPARE(kennel_outstanding_calls(k), 2u);
    QTRY_COMPARE_WITH_TIMEOUT(held.size(), 2, 5000);

    std::unique_ptr<PendingCall> unserved(qt.call("cbound", "anyone?", 5000));
    unserved->setAutoDelete(false);
    QTRY_VERIFY_WITH_TIMEOUT(unserved->isFinished(), 5000);
    QCOMPARE(unserved->result(), PendingCall::ErrorReply);
    QCOMPARE(unserved->errorCode(), quint16(KENNEL_CALL_NOT_SERVED));

    QCOMPARE(kennel_disconnect(k), int(KENNEL_OK));
    QCOMPARE(inbox.events, (QList<QByteArray>{"result:link_lost", "result:link_lost", "disconnect"}));
    QCOMPARE(QSet<quint32>({inbox.callResults.at(0).id, inbox.callResults.at(1).id}), QSet<quint32>({a, b}));
    QCOMPARE(inbox.callResults.at(0).target, QByteArray("qtbound"));
    QCOMPARE(inbox.callResults.at(0).outcome, quint16(KENNEL_CALL_LINK_LOST));
    QCOMPARE(kennel_outstanding_calls(k), 0u);
    kennel_free(k);
}

// A broker with [topics] enabled = false does not offer the feature: the library says so before
// writing anything, and the example program stops with the sentence.
void tst_CLib::topicsNotOfferedIsUnsupported()
{
    BrokerProcess plain;
    BrokerProcess::Options options;
    options.configText = "[topics]\nenabled = false\n";
    QString error;
    QVERIFY2(plain.start(options, &error), qPrintable(error));
    Inbox inbox;
    kennel *k = newClient(inbox);
    QCOMPARE(kennel_connect(k, plain.unixAddress().toUtf8().constData(), "cplain", 5000), int(KENNEL_OK));
    QCOMPARE(kennel_broker_features(k) & KENNEL_FEATURE_TOPICS, 0u);
    QVERIFY(kennel_broker_features(k) & KENNEL_FEATURE_CALLS);
    QCOMPARE(kennel_subscribe(k, "a/#", nullptr), int(KENNEL_E_UNSUPPORTED));
    QVERIFY2(QByteArray(kennel_last_error(k)).contains("does not offer topics"), kennel_last_error(k));
    QCOMPARE(kennel_publish(k, "a", "x", 1, 0, nullptr), int(KENNEL_E_UNSUPPORTED));
    QCOMPARE(kennel_strerror(KENNEL_E_UNSUPPORTED), "not offered by the broker");
    QCOMPARE(kennel_want_write(k), 0);
    QCOMPARE(kennel_is_connected(k), 1);
    kennel_free(k);

    QProcess sensor;
    setBuildProgram(sensor, binaryPath(QStringLiteral("kennel-sensor-example")),
                    {plain.unixAddress(), QStringLiteral("csensor2")});
    sensor.start();
    QVERIFY(sensor.waitForStarted(5000));
    QTRY_COMPARE_WITH_TIMEOUT(sensor.state(), QProcess::NotRunning, 5000);
    QCOMPARE(sensor.exitCode(), 1);
    QVERIFY(sensor.readAllStandardError().contains("does not offer topics"));
    const QString verdict = plain.stopVerdict();
    QVERIFY2(verdict.isEmpty(), qPrintable(verdict));
}

void tst_CLib::watchdogExpiresWhenNotFed()
{
    Inbox inbox;
    kennel *k = newClient(inbox);
    QCOMPARE(kennel_connect(k, m_broker.unixAddress().toUtf8().constData(), "cstarved", 5000), int(KENNEL_OK));
    const kennel_watchdog_terms asked = {300, 2, KENNEL_EXPIRY_DISCONNECT};
    kennel_watchdog_terms granted {};
    QCOMPARE(kennel_watchdog_register(k, &asked, &granted, 5000), int(KENNEL_OK));
    QCOMPARE(granted.interval_ms, 300u);
    QCOMPARE(granted.allowed_misses, quint16(2));
    QCOMPARE(kennel_watchdog_feed(k), int(KENNEL_OK));
    // No more feeds: the broker sends WatchdogExpired and closes (PROTOCOL R-4.4.4).
    QElapsedTimer timer;
    timer.start();
    int r = 0;
    while (r >= 0 && timer.elapsed() < 5000)
        r = kennel_loop_once(k, 100);
    QCOMPARE(r, int(KENNEL_E_CLOSED));
    QVERIFY2(timer.elapsed() >= 500, "expired before its allowance");
    QCOMPARE(inbox.errors, QList<quint16>{quint16(KENNEL_ERROR_WATCHDOG_EXPIRED)});
    QCOMPARE(kennel_broker_error(k), quint16(KENNEL_ERROR_WATCHDOG_EXPIRED));
    QCOMPARE(inbox.disconnects, 1);
    QCOMPARE(inbox.lastReason, int(KENNEL_E_CLOSED));
    QVERIFY2(QByteArray(kennel_last_error(k)).contains("after Error watchdog_expired"), kennel_last_error(k));
    QCOMPARE(kennel_is_connected(k), 0);
    kennel_free(k);
}

// PROTOCOL §5.7 with libkennel: a C receiver (tests/system/clib/kennel-slow-receiver.c, watched by
// the watchdog, 5 ms per message) is handed 400 messages at once, so the broker has written them
// all to its socket long before it has handled them; it is killed with SIGKILL mid-stream and
// started again. Without acknowledgements everything it had read but not handled was lost. Now:
// every message arrives, in order, and its sender hears exactly one final `delivered`. A message
// may arrive twice only as R-5.7.4 allows: handled (printed) by the killed process but not yet
// acknowledged. libkennel acknowledges every 10 ms while slow callbacks work through one read,
// so that is at most 3 here: two whose callbacks returned within the last 10 ms (the clock is
// read in whole ms), and the one printed whose callback had not returned.
// Two ways a board loses a process: it crashes (SIGKILL from the test), or it hangs (SIGSTOP) and
// the broker's watchdog ends it (action terminate: SIGTERM to the PID the kernel gives).
void tst_CLib::slowReceiverKilledMidStreamLosesNothing_data()
{
    QTest::addColumn<bool>("hangs");
    QTest::newRow("crash (SIGKILL)") << false;
    QTest::newRow("hang, ended by the watchdog") << true;
}

void tst_CLib::slowReceiverKilledMidStreamLosesNothing()
{
    QFETCH(bool, hangs);
    constexpr int Before = 400, WhileDown = 50, Total = Before + WhileDown, MaxTwice = 3;
    KennelClient sender;
    QVERIFY(registerQt(sender, "cfeeder"));
    QHash<quint32, QList<DeliveryStatus>> finals; // messageId -> final statuses (held is not final)
    connect(&sender, &KennelClient::deliveryStatusReceived, this,
            [&](quint32 id, const QByteArray &, DeliveryStatus status) {
                if (status != DeliveryStatus::Held)
                    finals[id].append(status);
            });
    QList<quint32> ids;
    const auto send = [&](int from, int to) {
        for (int i = from; i <= to; ++i)
            ids.append(sender.send("cslow", "m" + QByteArray::number(i).rightJustified(4, '0')));
    };

    // Under qemu-user (the cross builds' board tests) the emulated broker has no NETLINK_SOCK_DIAG
    // and so cannot tell who holds a Unix socket's other end: it would rightly signal nobody
    // (docs/BOARD.md, "What qemu-user 7.2 cannot do"). Over TCP it finds the owner in /proc/net/tcp,
    // so there the hanging receiver connects over TCP and the watchdog's kill is still tested.
    const QString address = hangs && !qEnvironmentVariableIsEmpty("KENNEL_TEST_EMULATOR") ? m_broker.tcpAddress()
                                                                                          : m_broker.unixAddress();
    const auto start = [&](QProcess &receiver) {
        receiver.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        setBuildProgram(receiver, binaryPath(QStringLiteral("kennel-slow-receiver")),
                        {address, QStringLiteral("cslow"), QStringLiteral("5"),
                         hangs ? QStringLiteral("terminate") : QStringLiteral("disconnect")});
        receiver.start();
        return receiver.waitForStarted(5000);
    };
    // The message numbers a receiver has printed so far ("got m0042").
    const auto received = [](QProcess &receiver, QByteArray &out) {
        out += receiver.readAllStandardOutput();
        QList<int> numbers;
        for (const QByteArray &line : out.split('\n'))
            if (line.startsWith("got m"))
                numbers.append(line.mid(5).toInt());
        return numbers;
    };
    const auto run = [](int from, int to) {
        QList<int> numbers;
        for (int i = from; i <= to; ++i)
            numbers.append(i);
        return numbers;
    };

    QProcess first;
    QByteArray firstOut;
    QVERIFY(start(first));
    QTRY_VERIFY_WITH_TIMEOUT((firstOut += first.readAllStandardOutput()).contains("registered\n"), 5000);
    send(1, Before);
    QTRY_VERIFY_WITH_TIMEOUT(received(first, firstOut).size() >= 60, 10000);
    // No Bye either way, so the name is expected back ([hold] lost_window_ms).
    if (hangs) {
        QCOMPARE(::kill(pid_t(first.processId()), SIGSTOP), 0);
        QTRY_COMPARE_WITH_TIMEOUT(first.state(), QProcess::NotRunning, 10000);
        QCOMPARE(first.exitStatus(), QProcess::CrashExit);
        QVERIFY(m_broker.countInLog("'cslow' expired") > 0);
    } else {
        first.kill();
        QVERIFY(first.waitForFinished(5000));
    }
    const QList<int> firstGot = received(first, firstOut);
    QVERIFY2(firstGot.size() < Before, "not killed mid-stream");
    QCOMPARE(firstGot, run(1, int(firstGot.size()))); // in order, from the first

    send(Before + 1, Total); // held for the name while nobody holds it
    QProcess second;
    QByteArray secondOut;
    QVERIFY(start(second));
    QTRY_VERIFY_WITH_TIMEOUT(received(second, secondOut).value(received(second, secondOut).size() - 1) == Total,
                             20000);
    const QList<int> secondGot = received(second, secondOut);
    second.kill();
    QVERIFY(second.waitForFinished(5000));

    // The second starts where the first left off, or a few earlier; nothing between is missing.
    const int handledFirst = int(firstGot.size());
    const int resumedAt = secondGot.value(0);
    const int twice = handledFirst + 1 - resumedAt;
    qInfo("first handled %d of %d before it was ended; the second resumed at %d (%d twice)", handledFirst, Before,
          resumedAt, twice);
    QVERIFY2(resumedAt <= handledFirst + 1,
             qPrintable(QStringLiteral("lost %1 messages: m%2..m%3").arg(resumedAt - handledFirst - 1)
                            .arg(handledFirst + 1).arg(resumedAt - 1)));
    QVERIFY2(twice <= MaxTwice, qPrintable(QStringLiteral("%1 delivered twice").arg(twice)));
    QCOMPARE(secondGot, run(resumedAt, Total));

    // Each sender hears exactly one final status, `delivered`: none lost, none `unacknowledged`.
    QTRY_COMPARE_WITH_TIMEOUT(finals.size(), Total, 10000);
    for (const quint32 id : std::as_const(ids))
        QCOMPARE(finals.value(id), QList<DeliveryStatus>{DeliveryStatus::Delivered});
}

// PROTOCOL R-4.3.4 with libkennel: it lists shutdown_mark, so the stopping broker's Error
// shutting_down reaches the error callback with the id of the last kennel_send it read. The library
// keeps no send queue; with the mark a C program knows which of its sends to send again.
void tst_CLib::shutdownMarkNamesTheLastSendRead()
{
    BrokerProcess stopping;
    QString error;
    QVERIFY2(stopping.start(BrokerProcess::Options{}, &error), qPrintable(error));
    Inbox inbox;
    kennel *k = newClient(inbox);
    QCOMPARE(kennel_connect(k, stopping.unixAddress().toUtf8().constData(), "cmark", 5000), int(KENNEL_OK));
    QVERIFY(kennel_broker_features(k) & KENNEL_FEATURE_SHUTDOWN_MARK);
    uint32_t last = 0;
    for (int i = 0; i < 3; ++i)
        QCOMPARE(kennel_send(k, "cmark", "to myself", 9, KENNEL_SEND_WANT_STATUS, &last), int(KENNEL_OK));
    // A subscription after the last send: a later id, but not a Send, so it is not the mark.
    QCOMPARE(kennel_subscribe(k, "a/#", nullptr), int(KENNEL_OK));
    QElapsedTimer timer;
    timer.start();
    while ((inbox.statuses.size() < 3 || inbox.acks.isEmpty()) && timer.elapsed() < 5000)
        QVERIFY(kennel_loop_once(k, 100) >= 0);
    QCOMPARE(inbox.statuses.size(), 3);
    QCOMPARE(inbox.statuses.last(), (QPair<quint32, quint16>(last, KENNEL_STATUS_DELIVERED)));
    QCOMPARE(inbox.messages.size(), 3);

    QVERIFY(stopping.terminate());
    int r = 0;
    while (r >= 0 && timer.elapsed() < 10000)
        r = kennel_loop_once(k, 100);
    QCOMPARE(r, int(KENNEL_E_CLOSED));
    QCOMPARE(inbox.errors, QList<quint16>{quint16(KENNEL_ERROR_SHUTTING_DOWN)});
    QCOMPARE(inbox.errorIds, QList<quint32>{last});
    QVERIFY(!kennel_id_after(last, inbox.errorIds.value(0)));      // read: not to be sent again
    QVERIFY(kennel_id_after(last + 1, inbox.errorIds.value(0)));   // what would come next was not
    kennel_free(k);
}

// KENNEL_ACK_MANUAL: nothing is acknowledged until kennel_ack(). A receiver that handled three
// messages without acknowledging them and then vanished (no Bye) gets all three again on its next
// connection; once it acknowledges, each sender hears `delivered`, exactly once.
void tst_CLib::manualAckLeavesMessagesUntilAcknowledged()
{
    KennelClient sender;
    QVERIFY(registerQt(sender, "mfeeder"));
    QHash<quint32, QList<DeliveryStatus>> finals;
    connect(&sender, &KennelClient::deliveryStatusReceived, this,
            [&](quint32 id, const QByteArray &, DeliveryStatus status) {
                if (status != DeliveryStatus::Held)
                    finals[id].append(status);
            });
    const QByteArray address = m_broker.unixAddress().toUtf8();
    const QList<QPair<QByteArray, QByteArray>> expected{{"mfeeder", "one"}, {"mfeeder", "two"}, {"mfeeder", "three"}};

    Inbox first;
    kennel *k = newClient(first);
    QCOMPARE(kennel_set_deliver_ack(k, KENNEL_ACK_MANUAL), int(KENNEL_OK));
    QCOMPARE(kennel_connect(k, address.constData(), "cmanual", 5000), int(KENNEL_OK));
    QList<quint32> ids;
    for (const auto &m : expected)
        ids.append(sender.send("cmanual", m.second));
    QTRY_VERIFY_WITH_TIMEOUT((kennel_process(k), first.messages.size() == 3), 5000);
    QCOMPARE(first.messages, expected);
    kennel_free(k); // gone without Bye or acknowledgement: the name is expected back

    Inbox second;
    k = newClient(second);
    QCOMPARE(kennel_set_deliver_ack(k, KENNEL_ACK_MANUAL), int(KENNEL_OK));
    // Until the broker has seen the first connection close, the name is still taken.
    QTRY_VERIFY2_WITH_TIMEOUT(kennel_is_connected(k) || kennel_connect(k, address.constData(), "cmanual", 5000) == KENNEL_OK,
                              kennel_last_error(k), 5000);
    QTRY_VERIFY_WITH_TIMEOUT((kennel_process(k), second.messages.size() == 3), 5000);
    QCOMPARE(second.messages, expected); // held again, in order: none had been acknowledged
    QVERIFY(finals.isEmpty());
    QCOMPARE(kennel_set_deliver_ack(k, KENNEL_ACK_AUTO), int(KENNEL_E_STATE));
    QCOMPARE(kennel_ack(k), int(KENNEL_OK));
    QTRY_VERIFY_WITH_TIMEOUT((kennel_process(k), finals.size() == 3), 5000);
    for (const quint32 id : std::as_const(ids))
        QCOMPARE(finals.value(id), QList<DeliveryStatus>{DeliveryStatus::Delivered});
    QCOMPARE(kennel_ack(k), int(KENNEL_OK)); // nothing new: nothing sent
    QCOMPARE(kennel_disconnect(k), int(KENNEL_OK));
    kennel_free(k);

    // Off: the connection does not acknowledge, so there is nothing to ask for.
    Inbox off;
    k = newClient(off);
    QCOMPARE(kennel_set_deliver_ack(k, KENNEL_ACK_OFF), int(KENNEL_OK));
    QCOMPARE(kennel_connect(k, address.constData(), "cnoack", 5000), int(KENNEL_OK));
    QCOMPARE(kennel_ack(k), int(KENNEL_E_UNSUPPORTED));
    kennel_free(k);
}

void tst_CLib::errorsHaveCodesAndText()
{
    Inbox inbox;
    kennel *k = newClient(inbox);
    QCOMPARE(kennel_connect(k, "no-port-here", "c1", 1000), int(KENNEL_E_ADDRESS));
    QVERIFY(QByteArray(kennel_last_error(k)).contains("HOST:PORT"));
    QCOMPARE(kennel_connect(k, "127.0.0.1:0", "c1", 1000), int(KENNEL_E_ADDRESS));
    QCOMPARE(kennel_connect(k, "::1:8000", "c1", 1000), int(KENNEL_E_ADDRESS)); // brackets needed
    QCOMPARE(kennel_connect(k, m_broker.tcpAddress().toUtf8().constData(), "-rf", 1000), int(KENNEL_E_INVAL));
    const QByteArray missing = (m_broker.directory() + QStringLiteral("/missing.sock")).toUtf8();
    const QByteArray missingAddress = QByteArray("unix:") + missing;
    QCOMPARE(kennel_connect(k, missingAddress.constData(), "c1", 1000), int(KENNEL_E_CONNECT));
    QVERIFY(QByteArray(kennel_last_error(k)).contains("No such file"));
    QCOMPARE(kennel_send(k, "x", "y", 1, 0, nullptr), int(KENNEL_E_STATE));
    QCOMPARE(kennel_process(k), int(KENNEL_E_STATE));

    // A name another client holds: refused with the broker's code, and the connection closed.
    kennel *holder = newClient(inbox);
    QCOMPARE(kennel_connect(holder, m_broker.unixAddress().toUtf8().constData(), "taken", 5000), int(KENNEL_OK));
    QCOMPARE(kennel_connect(k, m_broker.tcpAddress().toUtf8().constData(), "taken", 5000), int(KENNEL_E_REFUSED));
    QCOMPARE(kennel_broker_error(k), quint16(KENNEL_ERROR_NAME_TAKEN));
    QVERIFY2(QByteArray(kennel_last_error(k)).contains("name_taken"), kennel_last_error(k));
    QCOMPARE(kennel_fd(k), -1);
    QCOMPARE(inbox.disconnects, 0); // a failed connect reports through its result only
    // Bad terms: refused, the connection stays.
    const kennel_watchdog_terms tooFast = {1, 1, KENNEL_EXPIRY_DISCONNECT};
    QCOMPARE(kennel_watchdog_register(holder, &tooFast, nullptr, 5000), int(KENNEL_E_REFUSED));
    QCOMPARE(kennel_broker_error(holder), quint16(KENNEL_ERROR_INVALID_WATCHDOG_TERMS));
    QCOMPARE(kennel_is_connected(holder), 1);
    // A payload over the broker's maximum is refused locally, before anything is written.
    QByteArray huge(int(kennel_max_frame_size(holder)), 'h');
    QCOMPARE(kennel_send(holder, "taken", huge.constData(), size_t(huge.size()), 0, nullptr), int(KENNEL_E_TOOLARGE));
    QCOMPARE(kennel_send(holder, "bad name", "x", 1, 0, nullptr), int(KENNEL_E_INVAL));
    QCOMPARE(kennel_strerror(KENNEL_E_REFUSED), "refused by the broker");
    QCOMPARE(kennel_strerror(12345), "unknown error");

    // The broker going away mid-session is a disconnect with a reason, not a crash.
    m_broker.kill9();
    int r = 0;
    QElapsedTimer timer;
    timer.start();
    while (r >= 0 && timer.elapsed() < 5000)
        r = kennel_loop_once(holder, 100);
    QVERIFY(r == KENNEL_E_CLOSED || r == KENNEL_E_IO);
    QCOMPARE(kennel_is_connected(holder), 0);
    kennel_free(holder);
    kennel_free(k);
    QString error;
    QVERIFY2(m_broker.restart(&error), qPrintable(error)); // for cleanupTestCase's clean stop
}

void tst_CLib::addressFormsMatchBrokerAddress_data()
{
    QTest::addColumn<QString>("address");
    // Numeric hosts and port 1 (nothing listens: refused at once), or a Unix path that does not
    // exist: a form the Qt parser accepts ends in KENNEL_E_CONNECT, never in KENNEL_E_ADDRESS.
    const QString missing = QStringLiteral("unix:/nonexistent-kennel-dir/s");
    const QStringList addresses = {QStringLiteral("127.0.0.1:1"), QStringLiteral("localhost:1"), QStringLiteral("[::1]:1"),
                             QStringLiteral("127.0.0.1:0"), QStringLiteral("127.0.0.1:65536"), QStringLiteral("127.0.0.1:+1"),
                             QStringLiteral("127.0.0.1: 1"), QStringLiteral(" 127.0.0.1:1"), QStringLiteral("127.0.0.1:"),
                             QStringLiteral("127.0.0.1"), QStringLiteral(":1"), QStringLiteral("1.2.3:1"),
                             QStringLiteral("10.0.0.300:1"), QStringLiteral("::1:1"), QStringLiteral("[::1:1"),
                             QStringLiteral("[::1]1"), QStringLiteral("[1.2.3.4]:1"), QStringLiteral("a*b:1"),
                             QStringLiteral("a..b:1"), QString(64, u'l') + QStringLiteral(":1"),
                             QString(), missing, QStringLiteral("unix:"), QStringLiteral("unix:/tmp/a b"),
                             QStringLiteral("unix:/") + QString(106, u'p'), QStringLiteral("unix:/") + QString(107, u'p'),
                             QStringLiteral("127.0.0.1:1\t")};
    for (const QString &a : addresses)
        QTest::newRow(qPrintable(a.left(40))) << a;
}

// One address language for every Kennel program (clientlib/client/brokeraddress.h): what
// BrokerAddress::parse refuses, kennel_connect refuses as an address, and the other way round.
void tst_CLib::addressFormsMatchBrokerAddress()
{
    QFETCH(QString, address);
    const std::optional<BrokerAddress> parsed = BrokerAddress::parse(address);
    // Port 0 parses (a listener may ask for it) but no client can connect to it.
    const bool usable = parsed && !(parsed->isTcp() && parsed->port() == 0);
    Inbox inbox;
    kennel *k = newClient(inbox);
    const int r = kennel_connect(k, address.toUtf8().constData(), "c1", 1000);
    const QByteArray why = kennel_last_error(k);
    kennel_free(k);
    QVERIFY2(r != KENNEL_OK, "nothing listens there");
    QVERIFY2((r != KENNEL_E_ADDRESS) == usable, why.constData());
}

QTEST_MAIN(tst_CLib)
#include "tst_clib.moc"
