// Held delivery end to end (docs/ARCHITECTURE.md "Held delivery", PROTOCOL §5.4): a broker in this
// process, real supervised client processes that the watchdog kills (SIGSTOP makes a native one
// stop feeding; the old C client starves by its options) and the supervisor restarts, raw peers
// as senders. What each test would catch is said at its top.
#include "heldpeer.h"
#include "testbroker.h"

#include "helddelivery.h"
#include "nameregistry.h"
#include "supervisor.h"

#include <QMutex>
#include <QSignalSpy>
#include <QTest>

#include <csignal>

using namespace Kennel;
using namespace KennelTest;
using namespace std::chrono_literals;

namespace {
// What supervised services print reaches the log as "NAME: line" (category kennel.service).
QMutex g_linesLock;
QStringList g_serviceLines;
QtMessageHandler g_previous = nullptr;

void captureServiceLines(QtMsgType type, const QMessageLogContext &context, const QString &text)
{
    if (context.category && qstrcmp(context.category, "kennel.service") == 0) {
        QMutexLocker lock(&g_linesLock);
        g_serviceLines.append(text);
    }
    if (g_previous)
        g_previous(type, context, text);
}

QStringList serviceLines(const QString &prefix)
{
    QMutexLocker lock(&g_linesLock);
    QStringList out;
    for (const QString &line : std::as_const(g_serviceLines)) {
        if (line.startsWith(prefix))
            out.append(line.mid(prefix.size()));
    }
    return out;
}
} // namespace

class tst_HeldDelivery : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanupTestCase();
    void init();

    void nativeTargetAcrossWatchdogKillAndRestart();
    void legacyTargetAcrossWatchdogKillAndRestart();
    void legacyReceiversUnsentQueueHeldAgain();
    void ttlExpiryStatus();
    void boundsAtTheirEdges();
    void unexpectedNameRefusedAtOnce();
    void serviceExpectedUntilItRegisters();
    void registeredTargetPaysNothing();

private:
    static BrokerConfig baseConfig();
    static bool waitUnregistered(TestBroker &broker, const QByteArray &name, int timeoutMs);
};

void tst_HeldDelivery::initTestCase()
{
    QVERIFY2(QFile::exists(binaryPath(QStringLiteral("kennel-legacy-client"))), "build kennel-legacy-client first");
    QVERIFY2(QFile::exists(binaryPath(QStringLiteral("kennel-demo-client"))), "build kennel-demo-client first");
    g_previous = qInstallMessageHandler(captureServiceLines);
}

void tst_HeldDelivery::cleanupTestCase()
{
    qInstallMessageHandler(g_previous);
}

void tst_HeldDelivery::init()
{
    QMutexLocker lock(&g_linesLock);
    g_serviceLines.clear();
}

BrokerConfig tst_HeldDelivery::baseConfig()
{
    BrokerConfig config;
    ListenAddress tcp;
    tcp.kind = ListenAddress::Kind::Tcp;
    tcp.host = QStringLiteral("127.0.0.1");
    tcp.port = 0;
    config.listen = {tcp};
    config.watchdog.defaultInterval = 200ms;
    config.watchdog.defaultAllowedMisses = 2;
    config.watchdog.minInterval = 50ms;
    config.watchdog.killGrace = 300ms;
    return config;
}

bool tst_HeldDelivery::waitUnregistered(TestBroker &broker, const QByteArray &name, int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        const NameEntry *entry = broker.broker().registry().find(name);
        if (!entry || !entry->receiver)
            return true;
        QTest::qWait(5);
    }
    return false;
}

// A native service stops feeding (SIGSTOP), the watchdog kills it, the supervisor restarts it a
// second later. What is sent in between is held (status `held` at once), reaches the new process
// in order right after it registers, and each sender hears `delivered` for the same id. Without
// holding every message would be answered no_such_client and the new process would print nothing.
void tst_HeldDelivery::nativeTargetAcrossWatchdogKillAndRestart()
{
    BrokerConfig config = baseConfig();
    ServiceSettings service;
    service.name = QStringLiteral("natsvc");
    service.program = binaryPath(QStringLiteral("kennel-demo-client"));
    service.arguments = {QStringLiteral("--name"), QStringLiteral("natsvc"), QStringLiteral("--peer"), QStringLiteral("nobody"),
                         QStringLiteral("--interval-ms"), QStringLiteral("100000"), QStringLiteral("--watchdog-interval-ms"),
                         QStringLiteral("200")};
    service.restartDelay = 1000ms;
    service.restartDelayMax = 1000ms;
    config.services = {service};
    TestBroker broker(config);
    QVERIFY(broker.start());
    Service *supervised = broker.broker().supervisor().service(QStringLiteral("natsvc"));
    QVERIFY(supervised);
    QTRY_VERIFY_WITH_TIMEOUT(broker.broker().watchdog().history("natsvc"), 10000); // registered and watched
    const qint64 firstPid = supervised->status().pid;
    QVERIFY(firstPid > 0);

    HeldPeer sender;
    QVERIFY(sender.connectAs(broker.tcpPort(), "snd", FeatureHeldStatus | FeatureWatchdog));
    QVERIFY(::kill(pid_t(firstPid), SIGSTOP) == 0);
    QVERIFY(waitUnregistered(broker, "natsvc", 10000));
    for (quint32 id = 1; id <= 5; ++id)
        sender.sendTo("natsvc", "m" + QByteArray::number(id), id);
    for (quint32 id = 1; id <= 5; ++id) {
        const auto status = sender.nextStatus(2000);
        QVERIFY(status);
        QCOMPARE(status->first, id);
        QCOMPARE(status->second, DeliveryStatus::Held);
    }
    // Delivered to the restarted process, in order, and told to the sender for the same ids.
    for (quint32 id = 1; id <= 5; ++id) {
        const auto status = sender.nextStatus(10000);
        QVERIFY(status);
        QCOMPARE(status->first, id);
        QCOMPARE(status->second, DeliveryStatus::Delivered);
    }
    QVERIFY(supervised->status().pid != firstPid);
    QTRY_COMPARE_WITH_TIMEOUT(serviceLines(QStringLiteral("natsvc: received from snd: ")),
                              (QStringList{QStringLiteral("m1"), QStringLiteral("m2"), QStringLiteral("m3"), QStringLiteral("m4"), QStringLiteral("m5")}), 5000);
    QCOMPARE(broker.broker().held().counters().delivered, quint64(5));
    QCOMPARE(broker.broker().held().table().count(), 0);
    QCOMPARE(broker.broker().budgets().heldMessages.used(), qint64(0));
}

// The same for an old C program as the target: it starves the watchdog by its options, is
// terminated and restarted. Held messages from a native sender and from an old-protocol sender
// (who cannot be told, only counted) reach the new process as 552-byte frames, in order.
void tst_HeldDelivery::legacyTargetAcrossWatchdogKillAndRestart()
{
    BrokerConfig config = baseConfig();
    ServiceSettings service;
    service.name = QStringLiteral("legsvc");
    service.program = QStringLiteral("/bin/sh");
    service.arguments = {QStringLiteral("-c"),
                         QStringLiteral("exec \"$0\" --name legsvc --peer nobody --host 127.0.0.1 --port \"${KENNEL_BROKER##*:}\" "
                                        "--send-interval-ms 100000 --watchdog --feed-interval-ms 100000 --quiet-feed"),
                         binaryPath(QStringLiteral("kennel-legacy-client"))};
    service.restartDelay = 1000ms;
    service.restartDelayMax = 1000ms;
    config.services = {service};
    TestBroker broker(config);
    QVERIFY(broker.start());
    QTRY_VERIFY_WITH_TIMEOUT(broker.broker().watchdog().history("legsvc"), 10000);

    HeldPeer sender;
    QVERIFY(sender.connectAs(broker.tcpPort(), "snd", FeatureHeldStatus | FeatureWatchdog));
    LegacyPeer oldSender;
    QVERIFY(oldSender.connectTcp(broker.tcpPort()));
    QVERIFY(waitUnregistered(broker, "legsvc", 10000)); // starved, terminated
    for (quint32 id = 1; id <= 3; ++id)
        sender.sendTo("legsvc", "n" + QByteArray::number(id), id);
    for (quint32 id = 1; id <= 3; ++id) {
        const auto status = sender.nextStatus(2000);
        QVERIFY(status);
        QCOMPARE(status->second, DeliveryStatus::Held);
    }
    oldSender.forward("legsvc", "lsnd", "l1");
    QTRY_COMPARE_WITH_TIMEOUT(broker.broker().held().counters().fromLegacy, quint64(1), 2000);
    for (quint32 id = 1; id <= 3; ++id) {
        const auto status = sender.nextStatus(10000);
        QVERIFY(status);
        QCOMPARE(status->first, id);
        QCOMPARE(status->second, DeliveryStatus::Delivered);
    }
    QTRY_VERIFY_WITH_TIMEOUT(serviceLines(QStringLiteral("legsvc: received from ")).size() >= 4, 5000);
    QCOMPARE(serviceLines(QStringLiteral("legsvc: received from ")).mid(0, 4),
             (QStringList{QStringLiteral("snd: n1"), QStringLiteral("snd: n2"), QStringLiteral("snd: n3"), QStringLiteral("lsnd: l1")}));
    QCOMPARE(broker.broker().held().counters().delivered, quint64(4));
}

// An old program cannot acknowledge, so its sender hears `delivered` when a message is queued to
// it. If it stops reading and then dies, what the broker still had queued (beyond the kernel's
// socket buffers) is held again for its name, in order, and reaches the next holder; the frame cut
// mid-way by the death, and what sat in the kernel's buffers, are lost with the process. Without
// the re-hold the next holder would get nothing.
void tst_HeldDelivery::legacyReceiversUnsentQueueHeldAgain()
{
    BrokerConfig config = baseConfig();
    config.hold.names = {QByteArrayLiteral("legrcv")};
    config.hold.limits.maxCount = 20000;
    config.hold.limits.maxBytes = 16 << 20;
    config.maxOutputQueueBytes = 16 << 20;
    TestBroker broker(config);
    QVERIFY(broker.start());
    LegacyPeer stuck;
    stuck.socket().setReadBufferSize(Legacy::FrameSize); // Qt stops reading: the kernel's buffers fill
    QVERIFY(stuck.connectTcp(broker.tcpPort()));
    stuck.socket().setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 4096); // and so does the kernel's
    stuck.registerReceiver("legrcv");
    QTRY_VERIFY_WITH_TIMEOUT(broker.broker().registry().find("legrcv") && broker.broker().registry().find("legrcv")->receiver, 5000);

    HeldPeer sender;
    QVERIFY(sender.connectAs(broker.tcpPort(), "snd", 0));
    // 6.6 MB of 552-byte frames: past the kernel's socket buffers (the broker's side may grow to
    // net.ipv4.tcp_wmem's 4 MiB), so the broker's own queue holds the rest.
    constexpr int Total = 12000;
    for (int i = 0; i < Total; ++i)
        sender.sendTo("legrcv", "u" + QByteArray::number(i), quint32(i + 1), false);
    const Endpoint *receiver = broker.broker().registry().find("legrcv")->receiver;
    QTRY_VERIFY2_WITH_TIMEOUT(receiver->pendingOutput() > 100 * size_t(Legacy::FrameSize)
                                  && broker.broker().totals().messagesIn >= quint64(Total),
                              qPrintable(QStringLiteral("%1 bytes queued to it, %2 messages in")
                                             .arg(receiver->pendingOutput())
                                             .arg(broker.broker().totals().messagesIn)),
                              10000);
    stuck.socket().abort(); // the process dies: RST, its socket buffers gone with it
    QTRY_VERIFY_WITH_TIMEOUT(broker.broker().held().counters().legacyUnsentReheld > 0, 5000);
    const int reheld = int(broker.broker().held().counters().legacyUnsentReheld);
    QCOMPARE(broker.broker().held().table().count(), reheld);

    LegacyPeer next;
    QVERIFY(next.connectTcp(broker.tcpPort()));
    next.registerReceiver("legrcv");
    // The tail of what was sent, whole and in order: the oldest first.
    for (int k = Total - reheld; k < Total; ++k) {
        const std::optional<LegacyPeer::Received> r = next.take(5000);
        QVERIFY2(r, qPrintable(QStringLiteral("message u%1 of the %2 held again did not arrive").arg(k).arg(reheld)));
        QCOMPARE(r->source, QByteArray("snd"));
        QCOMPARE(r->text, "u" + QByteArray::number(k));
    }
    qInfo("%d of %d messages queued to the dead receiver were held again and delivered", reheld, Total);
    QTRY_COMPARE_WITH_TIMEOUT(broker.broker().held().table().count(), 0, 5000);
}

// A listed name that never comes: `held` at once, `expired` after ttl_ms (not before), and a
// sender without the held_status feature hears only the final status, as no_such_client.
void tst_HeldDelivery::ttlExpiryStatus()
{
    BrokerConfig config = baseConfig();
    config.hold.names = {"ghost"};
    config.hold.limits.ttl = 300ms;
    TestBroker broker(config);
    QVERIFY(broker.start());
    HeldPeer modern;
    QVERIFY(modern.connectAs(broker.tcpPort(), "modern", FeatureHeldStatus | FeatureWatchdog));
    HeldPeer old;
    QVERIFY(old.connectAs(broker.tcpPort(), "old", 0));

    QElapsedTimer clock;
    clock.start();
    modern.sendTo("ghost", "x", 7);
    old.sendTo("ghost", "y", 8);
    auto status = modern.nextStatus(2000);
    QVERIFY(status);
    QCOMPARE(status->second, DeliveryStatus::Held);
    QVERIFY(!old.take(FrameType::DeliveryStatus, 100)); // no `held` to a client that did not ask for the feature
    status = modern.nextStatus(3000);
    QVERIFY(status);
    QCOMPARE(status->first, quint32(7));
    QCOMPARE(status->second, DeliveryStatus::Expired);
    QVERIFY2(clock.elapsed() >= 290, qPrintable(QString::number(clock.elapsed())));
    status = old.nextStatus(3000);
    QVERIFY(status);
    QCOMPARE(status->first, quint32(8));
    QCOMPARE(status->second, DeliveryStatus::NoSuchClient);
    QCOMPARE(broker.broker().held().table().counters().expired, quint64(2));
    // Expired is gone: the name registering later receives nothing.
    HeldPeer ghost;
    QVERIFY(ghost.connectAs(broker.tcpPort(), "ghost", 0));
    QVERIFY(!ghost.take(FrameType::Deliver, 200));
}

// max_count 3, max_bytes 100, total_bytes 150: each bound takes exactly its value and refuses
// one more, with the status naming the bound, the newest dropped and the held ones delivered in
// order. Off-by-one in any comparison, or dropping the oldest, fails here.
void tst_HeldDelivery::boundsAtTheirEdges()
{
    BrokerConfig config = baseConfig();
    config.hold.names = {"ga", "gb", "gc"};
    config.hold.limits.maxCount = 3;
    config.hold.limits.maxBytes = 100;
    config.hold.totalBytes = 150;
    TestBroker broker(config);
    QVERIFY(broker.start());
    HeldPeer snd;
    QVERIFY(snd.connectAs(broker.tcpPort(), "snd", FeatureHeldStatus | FeatureWatchdog));
    HeldPeer old;
    QVERIFY(old.connectAs(broker.tcpPort(), "old", 0));
    const auto expect = [&](HeldPeer &peer, quint32 id, DeliveryStatus want) {
        const auto status = peer.nextStatus(2000);
        return status && status->first == id && status->second == want;
    };
    for (quint32 id = 1; id <= 3; ++id) {
        snd.sendTo("ga", QByteArray(10, 'a'), id);
        QVERIFY(expect(snd, id, DeliveryStatus::Held));
    }
    snd.sendTo("ga", QByteArray(10, 'a'), 4);
    QVERIFY(expect(snd, 4, DeliveryStatus::DroppedNameCount));
    old.sendTo("ga", "z", 40);
    QVERIFY(expect(old, 40, DeliveryStatus::NoSuchClient)); // an old client: the status it knows, at once

    snd.sendTo("gb", QByteArray(100, 'b'), 5); // 130 held in all
    QVERIFY(expect(snd, 5, DeliveryStatus::Held));
    snd.sendTo("gb", QByteArray(1, 'b'), 6);
    QVERIFY(expect(snd, 6, DeliveryStatus::DroppedNameBytes));
    snd.sendTo("gc", QByteArray(21, 'c'), 7);
    QVERIFY(expect(snd, 7, DeliveryStatus::DroppedTotal));
    snd.sendTo("gc", QByteArray(20, 'c'), 8); // exactly 150
    QVERIFY(expect(snd, 8, DeliveryStatus::Held));
    QCOMPARE(broker.broker().budgets().heldMessages.used(), qint64(150));
    const TrafficCounters &totals = broker.broker().totals();
    QCOMPARE(totals.undelivered[size_t(DeliveryStatus::DroppedNameCount)], quint64(2)); // the old client's too
    QCOMPARE(totals.undelivered[size_t(DeliveryStatus::DroppedNameBytes)], quint64(1));
    QCOMPARE(totals.undelivered[size_t(DeliveryStatus::DroppedTotal)], quint64(1));

    HeldPeer ga;
    QVERIFY(ga.connectAs(broker.tcpPort(), "ga", 0));
    for (quint32 id = 1; id <= 3; ++id) {
        const std::optional<Frame> d = ga.take(FrameType::Deliver, 2000);
        QVERIFY(d);
        QCOMPARE(d->messageId, id);
        QCOMPARE(d->source, QByteArray("snd"));
        QVERIFY(expect(snd, id, DeliveryStatus::Delivered));
    }
    QVERIFY(!ga.take(FrameType::Deliver, 100));
    QCOMPARE(broker.broker().budgets().heldMessages.used(), qint64(120));
}

// Nothing changes for a name nobody expects: no_such_client at once. A client that said Bye is
// not expected back; one whose connection just dropped is, within lost_window_ms.
void tst_HeldDelivery::unexpectedNameRefusedAtOnce()
{
    BrokerConfig config = baseConfig();
    config.hold.lostWindow = 2000ms;
    TestBroker broker(config);
    QVERIFY(broker.start());
    HeldPeer snd;
    QVERIFY(snd.connectAs(broker.tcpPort(), "snd", FeatureHeldStatus | FeatureWatchdog));
    snd.sendTo("nobody", "x", 1);
    auto status = snd.nextStatus(2000);
    QVERIFY(status);
    QCOMPARE(status->second, DeliveryStatus::NoSuchClient);

    HeldPeer polite;
    QVERIFY(polite.connectAs(broker.tcpPort(), "polite", 0));
    Frame bye;
    bye.type = FrameType::Bye;
    polite.send(bye);
    QVERIFY(polite.waitForDisconnect());
    QVERIFY(waitUnregistered(broker, "polite", 2000));
    snd.sendTo("polite", "x", 2);
    status = snd.nextStatus(2000);
    QVERIFY(status);
    QCOMPARE(status->second, DeliveryStatus::NoSuchClient);

    HeldPeer crashy;
    QVERIFY(crashy.connectAs(broker.tcpPort(), "crashy", 0));
    crashy.close(); // no Bye: as a crash looks to the broker
    QVERIFY(waitUnregistered(broker, "crashy", 2000));
    snd.sendTo("crashy", "x", 3);
    status = snd.nextStatus(2000);
    QVERIFY(status);
    QCOMPARE(status->second, DeliveryStatus::Held);
}

// A supervised service is expected while it runs without having registered its name; with
// [service.NAME] hold = false it is not. Once stopped it is not expected either.
void tst_HeldDelivery::serviceExpectedUntilItRegisters()
{
    BrokerConfig config = baseConfig();
    ServiceSettings sleeper;
    sleeper.name = QStringLiteral("sleeper");
    sleeper.program = QStringLiteral("/bin/sleep");
    sleeper.arguments = {QStringLiteral("30")};
    ServiceSettings optedOut = sleeper;
    optedOut.name = QStringLiteral("optout");
    optedOut.hold = false;
    config.services = {sleeper, optedOut};
    TestBroker broker(config);
    QVERIFY(broker.start());
    Service *service = broker.broker().supervisor().service(QStringLiteral("sleeper"));
    QTRY_COMPARE_WITH_TIMEOUT(service->state(), Service::State::Running, 5000);
    HeldPeer snd;
    QVERIFY(snd.connectAs(broker.tcpPort(), "snd", FeatureHeldStatus | FeatureWatchdog));
    snd.sendTo("sleeper", "x", 1);
    auto status = snd.nextStatus(2000);
    QVERIFY(status);
    QCOMPARE(status->second, DeliveryStatus::Held);
    snd.sendTo("optout", "x", 2);
    status = snd.nextStatus(2000);
    QVERIFY(status);
    QCOMPARE(status->second, DeliveryStatus::NoSuchClient);
    service->stop(); // /bin/sleep never connected; a registered service's close is forgotten the same way
    QTRY_COMPARE_WITH_TIMEOUT(service->state(), Service::State::Stopped, 10000);
    snd.sendTo("sleeper", "x", 3);
    status = snd.nextStatus(2000);
    QVERIFY(status);
    QCOMPARE(status->first, quint32(3));
    QCOMPARE(status->second, DeliveryStatus::NoSuchClient);
}

// The hold check runs only where no_such_client is decided: a registered target is never offered
// to the hold table, however many messages go to it.
void tst_HeldDelivery::registeredTargetPaysNothing()
{
    TestBroker broker(baseConfig());
    QVERIFY(broker.start());
    HeldPeer target;
    QVERIFY(target.connectAs(broker.tcpPort(), "target", 0));
    HeldPeer snd;
    QVERIFY(snd.connectAs(broker.tcpPort(), "snd", FeatureHeldStatus | FeatureWatchdog));
    for (quint32 id = 1; id <= 1000; ++id)
        snd.sendTo("target", "x", id, false);
    snd.sendTo("target", "last", 1001);
    const auto status = snd.nextStatus(5000);
    QVERIFY(status);
    QCOMPARE(status->second, DeliveryStatus::Delivered);
    QCOMPARE(broker.broker().held().counters().offers, quint64(0));
    snd.sendTo("elsewhere", "x", 1002);
    QVERIFY(snd.nextStatus(2000));
    QCOMPARE(broker.broker().held().counters().offers, quint64(1)); // the counter does count
}

QTEST_MAIN(tst_HeldDelivery)
#include "tst_helddelivery.moc"
