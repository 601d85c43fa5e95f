// libkennel through a real broker process. The C side is the documented example
// (docs/examples/kennel-echo.c) run as its own process, and the C API called in this process from
// a Qt event loop (kennel_fd + QSocketNotifier + kennel_process, the way an application with its
// own loop uses it). The other ends are KennelClient and a raw old-protocol peer (552-byte frames).
#include "brokerprocess.h"
#include "testbroker.h"

#include "kennelclient.h"

#include <kennel/kennel.h>

#include <QElapsedTimer>
#include <QProcess>
#include <QSignalSpy>
#include <QSocketNotifier>
#include <QTest>

using namespace Kennel;
using namespace KennelTest;

namespace {

struct Inbox
{
    QList<QPair<QByteArray, QByteArray>> messages; // source, payload
    QList<QPair<quint32, quint16>> statuses;
    QList<quint16> errors;
    int disconnects = 0;
    int lastReason = 1;
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
void onError(kennel *, void *userdata, uint16_t code, uint32_t, const char *)
{
    static_cast<Inbox *>(userdata)->errors.append(code);
}
void onDisconnect(kennel *, void *userdata, int reason)
{
    auto *inbox = static_cast<Inbox *>(userdata);
    ++inbox->disconnects;
    inbox->lastReason = reason;
}

kennel *newClient(Inbox &inbox)
{
    kennel *k = kennel_new(&inbox);
    kennel_set_message_callback(k, onMessage);
    kennel_set_status_callback(k, onStatus);
    kennel_set_error_callback(k, onError);
    kennel_set_disconnect_callback(k, onDisconnect);
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
    void watchdogExpiresWhenNotFed();
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
    QString error;
    QVERIFY2(m_broker.start({}, &error), qPrintable(error));
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
    // §4.1.1: the broker offers every feature it has (watchdog, held_status, deliver_ack, topics, calls, remote_names); the C library lists watchdog only.
    QVERIFY2(out.contains("features 0x3f"), out.constData());
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
                                            | KENNEL_FEATURE_TOPICS | KENNEL_FEATURE_CALLS | KENNEL_FEATURE_REMOTE_NAMES);
    QVERIFY(kennel_max_frame_size(k) >= KENNEL_WIRE_MIN_FRAME_SIZE_LIMIT);
    QCOMPARE(kennel_name(k), "cloop");
    QVERIFY(kennel_fd(k) >= 0);

    QSocketNotifier readable(qintptr(kennel_fd(k)), QSocketNotifier::Read);
    connect(&readable, &QSocketNotifier::activated, this, [k] { kennel_process(k); });

    // Many messages both ways, in one loop, in order (PROTOCOL ).
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
    // No more feeds: the broker sends WatchdogExpired and closes (PROTOCOL ).
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
