// The broker through real sockets: registration, routing in every protocol direction, the limits
// at their edges, and cleanup. The broker runs in the test process on free ports.
#include "logcapture.h"
#include "testbroker.h"

#include "nameregistry.h"

#include <QRegularExpression>
#include <QSignalSpy>
#include <QTest>

#include <optional>

using namespace Kennel;
using namespace KennelTest;

namespace {
DeliveryStatus statusOf(const Frame &frame)
{
    return decodeDeliveryStatus(frame.payload).value_or(DeliveryStatus(0xFFFF));
}

ErrorCode errorOf(const Frame &frame)
{
    return decodeError(frame.payload).value_or(ErrorPayload{}).code;
}

BrokerConfig configWith(void (*adjust)(BrokerConfig &))
{
    BrokerConfig config;
    adjust(config);
    return config;
}
} // namespace

class tst_Broker : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanupTestCase() { m_log.reset(); }
    void init() { m_log->clear(); }

    void registersAndWelcomes();
    void refusesDuplicateName();
    void newcomerTakesOverNameOfDeadConnection();
    void releasesNameOnClose();
    void refusesInvalidNames_data();
    void refusesInvalidNames();
    void nameLengthLimitAtEdge();
    void routesNativeToNative();
    void stampsSenderNameAndRefusesImpersonation();
    void sendBeforeRegisterIsRefused();
    void routesLegacyToLegacy();
    void routesLegacyToNative();
    void routesNativeToLegacy();
    void refusesNativeToLegacyThatDoesNotFit();
    void legacyMainConnectionCannotUseAnotherProcessName();
    void legacyMainConnectionCannotSwitchNames();
    void reportsNoRouteForBothProtocols();
    void queueFullWithStalledReader();
    void registerDeadlineClosesSilentConnection();
    void refusesGarbageAndOversizedFrames();
    void frameSizeLimitAtEdge();
    void queueBoundHoldsLargestDeliver();
    void clientLimitAtEdge();
    void answersPing();
    void thousandClientsRouteAmongThemselves();
    void shutdownSaysByeAndFinishes();

private:
    // Installed in initTestCase, inside QTest's run: it passes messages on to QTest's handler,
    // so QTest::ignoreMessage still works.
    std::optional<LogCapture> m_log;
};

void tst_Broker::initTestCase()
{
    raiseDescriptorLimit();
    m_log.emplace();
}

void tst_Broker::registersAndWelcomes()
{
    TestBroker tb;
    QVERIFY(tb.start());
    RawPeer tcp, unix;
    QVERIFY(tcp.connectTcp(tb.tcpPort()));
    QVERIFY(unix.connectUnix(tb.unixPath()));
    tcp.hello("alpha");
    auto welcome = tcp.take(FrameType::Welcome);
    QVERIFY(welcome);
    QCOMPARE(welcome->target, QByteArray("alpha"));
    const auto payload = decodeWelcome(welcome->payload);
    QVERIFY(payload);
    QCOMPARE(payload->maxFrameSize, tb.config().maxFrameSize);
    QVERIFY(unix.registerAs("beta"));
    QVERIFY(tb.broker().sessionByName("alpha"));
    QVERIFY(tb.broker().sessionByName("beta"));
    QCOMPARE(tb.broker().sessionByName("beta")->transport(), Session::Transport::Unix);
}

void tst_Broker::refusesDuplicateName()
{
    TestBroker tb;
    QVERIFY(tb.start());
    RawPeer first, second;
    QVERIFY(first.connectTcp(tb.tcpPort()));
    QVERIFY(second.connectTcp(tb.tcpPort()));
    QVERIFY(first.registerAs("dup"));
    second.hello("dup");
    auto error = second.take(FrameType::Error);
    QVERIFY(error);
    QCOMPARE(errorOf(*error), ErrorCode::NameTaken);
    // The refusal is not the end of the connection: it may register under another name.
    QVERIFY(second.isConnected());
    QVERIFY(second.registerAs("dup2"));
    QVERIFY(first.isConnected());
    QCOMPARE(tb.broker().sessionByName("dup")->name(), QByteArray("dup"));
}

void tst_Broker::newcomerTakesOverNameOfDeadConnection()
{
    TestBroker tb;
    QVERIFY(tb.start());
    RawPeer old, newcomer;
    QVERIFY(old.connectTcp(tb.tcpPort()));
    QVERIFY(newcomer.connectTcp(tb.tcpPort()));
    QVERIFY(old.registerAs("svc"));
    // The newcomer's hello is on the wire before the old holder hangs up, and both reach the broker
    // in one batch: the broker sees the name held by a connection that is already dead.
    newcomer.hello("svc");
    old.close();
    auto welcome = newcomer.take(FrameType::Welcome);
    QVERIFY(welcome);
    QCOMPARE(m_log->count(QStringLiteral("name taken over")), 1);
    QTRY_COMPARE(tb.broker().connectionCount(), size_t(1));
}

void tst_Broker::releasesNameOnClose()
{
    TestBroker tb;
    QVERIFY(tb.start());
    {
        RawPeer peer;
        QVERIFY(peer.connectTcp(tb.tcpPort()));
        QVERIFY(peer.registerAs("temp"));
        QVERIFY(tb.broker().registry().find("temp"));
    }
    QTRY_VERIFY(!tb.broker().registry().find("temp"));
    QTRY_COMPARE(tb.broker().connectionCount(), size_t(0));
    RawPeer again;
    QVERIFY(again.connectTcp(tb.tcpPort()));
    QVERIFY(again.registerAs("temp"));
}

void tst_Broker::refusesInvalidNames_data()
{
    QTest::addColumn<QByteArray>("name");
    QTest::newRow("space") << QByteArray("a b");
    QTest::newRow("slash") << QByteArray("a/b");
    QTest::newRow("utf8") << QByteArray("caf\xc3\xa9");
    QTest::newRow("nul") << QByteArray("a\0b", 3);
    QTest::newRow("empty") << QByteArray();
}

void tst_Broker::refusesInvalidNames()
{
    QFETCH(QByteArray, name);
    TestBroker tb;
    QVERIFY(tb.start());
    RawPeer peer;
    QVERIFY(peer.connectTcp(tb.tcpPort()));
    peer.hello(name);
    auto error = peer.take(FrameType::Error);
    QVERIFY(error);
    QCOMPARE(errorOf(*error), ErrorCode::InvalidName);
    QVERIFY(peer.isConnected());
    QVERIFY(peer.registerAs("fine.name_1-x"));
}

void tst_Broker::nameLengthLimitAtEdge()
{
    TestBroker tb(configWith([](BrokerConfig &c) { c.maxNameLength = 8; }));
    QVERIFY(tb.start());
    RawPeer atLimit, overLimit;
    QVERIFY(atLimit.connectTcp(tb.tcpPort()));
    QVERIFY(overLimit.connectTcp(tb.tcpPort()));
    QVERIFY(atLimit.registerAs("12345678"));
    overLimit.hello("123456789");
    auto error = overLimit.take(FrameType::Error);
    QVERIFY(error);
    QCOMPARE(errorOf(*error), ErrorCode::InvalidName);
}

void tst_Broker::routesNativeToNative()
{
    TestBroker tb;
    QVERIFY(tb.start());
    RawPeer a, b;
    QVERIFY(a.connectTcp(tb.tcpPort()));
    QVERIFY(b.connectUnix(tb.unixPath()));
    QVERIFY(a.registerAs("a"));
    QVERIFY(b.registerAs("b"));
    const QByteArray payload("binary\0payload\xff", 15);
    a.sendTo("b", payload, 42);
    auto delivered = b.take(FrameType::Deliver);
    QVERIFY(delivered);
    QCOMPARE(delivered->source, QByteArray("a"));
    QCOMPARE(delivered->target, QByteArray("b"));
    QCOMPARE(delivered->messageId, 42u);
    QCOMPARE(delivered->payload, payload);
    auto status = a.take(FrameType::DeliveryStatus);
    QVERIFY(status);
    QCOMPARE(status->messageId, 42u);
    QCOMPARE(statusOf(*status), DeliveryStatus::Delivered);
    QCOMPARE(tb.broker().totals().messagesOut, quint64(1));
    QCOMPARE(tb.broker().sessionByName("b")->counters.bytesOut, quint64(payload.size()));

    // Without the flag no status comes back.
    a.sendTo("b", "quiet", 43, false);
    QVERIFY(b.take(FrameType::Deliver));
    QVERIFY(!a.take(FrameType::DeliveryStatus, 100));
}

void tst_Broker::stampsSenderNameAndRefusesImpersonation()
{
    TestBroker tb;
    QVERIFY(tb.start());
    RawPeer a, b, victim;
    QVERIFY(a.connectTcp(tb.tcpPort()));
    QVERIFY(b.connectTcp(tb.tcpPort()));
    QVERIFY(victim.connectTcp(tb.tcpPort()));
    QVERIFY(a.registerAs("a"));
    QVERIFY(b.registerAs("b"));
    QVERIFY(victim.registerAs("victim"));
    Frame forged;
    forged.type = FrameType::Send;
    forged.source = "victim";
    forged.target = "b";
    forged.payload = "I am the victim";
    forged.messageId = 7;
    a.send(forged);
    auto error = a.take(FrameType::Error);
    QVERIFY(error);
    QCOMPARE(errorOf(*error), ErrorCode::SourceMismatch);
    QCOMPARE(error->messageId, 7u);
    QVERIFY(!b.take(FrameType::Deliver, 100));

    forged.source = "a"; // its own name is fine
    a.send(forged);
    auto delivered = b.take(FrameType::Deliver);
    QVERIFY(delivered);
    QCOMPARE(delivered->source, QByteArray("a"));
}

void tst_Broker::sendBeforeRegisterIsRefused()
{
    TestBroker tb;
    QVERIFY(tb.start());
    RawPeer a, b;
    QVERIFY(a.connectTcp(tb.tcpPort()));
    QVERIFY(b.connectTcp(tb.tcpPort()));
    QVERIFY(b.registerAs("b"));
    a.sendTo("b", "hi", 1);
    auto status = a.take(FrameType::DeliveryStatus);
    QVERIFY(status);
    QCOMPARE(statusOf(*status), DeliveryStatus::NotRegistered);
    a.sendTo("b", "hi", 2, false);
    auto error = a.take(FrameType::Error);
    QVERIFY(error);
    QCOMPARE(errorOf(*error), ErrorCode::NotRegistered);
    QVERIFY(!b.take(FrameType::Deliver, 100));
}

void tst_Broker::routesLegacyToLegacy()
{
    TestBroker tb;
    QVERIFY(tb.start());
    LegacyPeer c1recv, c1main, c2recv, c2main;
    for (LegacyPeer *p : {&c1recv, &c1main, &c2recv, &c2main})
        QVERIFY(p->connectTcp(tb.tcpPort()));
    c1recv.registerReceiver("client1");
    c2recv.registerReceiver("client2");
    QTRY_VERIFY(tb.broker().sessionByName("client1") && tb.broker().sessionByName("client2"));

    // Bytes after the text's NUL travel untouched between old programs (routebench relies on it).
    QByteArray msg("hello\0\x01\x02 binary tail", 20);
    c1main.forward("client2", "client1", msg);
    auto got = c2recv.take();
    QVERIFY(got);
    QCOMPARE(got->source, QByteArray("client1"));
    QCOMPARE(got->target, QByteArray("client2"));
    QCOMPARE(got->text, QByteArray("hello"));
    QCOMPARE(got->msgField.left(msg.size()), msg);

    c2main.forward("client1", "client2", "and back");
    got = c1recv.take();
    QVERIFY(got);
    QCOMPARE(got->source, QByteArray("client2"));
    QCOMPARE(got->text, QByteArray("and back"));
}

void tst_Broker::routesLegacyToNative()
{
    TestBroker tb;
    QVERIFY(tb.start());
    RawPeer native;
    LegacyPeer legacyMain;
    QVERIFY(native.connectTcp(tb.tcpPort()));
    QVERIFY(legacyMain.connectTcp(tb.tcpPort()));
    QVERIFY(native.registerAs("native1"));
    legacyMain.forward("native1", "old1", QByteArray("text only\0garbage", 17));
    auto delivered = native.take(FrameType::Deliver);
    QVERIFY(delivered);
    QCOMPARE(delivered->source, QByteArray("old1"));
    QCOMPARE(delivered->payload, QByteArray("text only"));
}

void tst_Broker::routesNativeToLegacy()
{
    TestBroker tb;
    QVERIFY(tb.start());
    RawPeer native;
    LegacyPeer legacyRecv;
    QVERIFY(native.connectUnix(tb.unixPath()));
    QVERIFY(legacyRecv.connectTcp(tb.tcpPort()));
    QVERIFY(native.registerAs("n1"));
    legacyRecv.registerReceiver("old2");
    QTRY_VERIFY(tb.broker().sessionByName("old2"));
    native.sendTo("old2", "to the old world", 5);
    auto status = native.take(FrameType::DeliveryStatus);
    QVERIFY(status);
    QCOMPARE(statusOf(*status), DeliveryStatus::Delivered);
    auto got = legacyRecv.take();
    QVERIFY(got);
    QCOMPARE(got->source, QByteArray("n1"));
    QCOMPARE(got->target, QByteArray("old2"));
    QCOMPARE(got->text, QByteArray("to the old world"));
    // The rest of the field is zeros: nothing stale leaves the broker.
    QCOMPARE(got->msgField.mid(16), QByteArray(512 - 16, '\0'));

    // 511 bytes is the most the old field holds with its NUL.
    native.sendTo("old2", QByteArray(511, 'x'), 6);
    status = native.take(FrameType::DeliveryStatus);
    QVERIFY(status);
    QCOMPARE(statusOf(*status), DeliveryStatus::Delivered);
    got = legacyRecv.take();
    QVERIFY(got);
    QCOMPARE(got->text.size(), 511);
}

void tst_Broker::refusesNativeToLegacyThatDoesNotFit()
{
    TestBroker tb;
    QVERIFY(tb.start());
    RawPeer shortName, longName;
    LegacyPeer legacyRecv;
    QVERIFY(shortName.connectTcp(tb.tcpPort()));
    QVERIFY(longName.connectTcp(tb.tcpPort()));
    QVERIFY(legacyRecv.connectTcp(tb.tcpPort()));
    QVERIFY(shortName.registerAs("n1"));
    QVERIFY(longName.registerAs("a-name-longer-than-nine"));
    legacyRecv.registerReceiver("old3");
    QTRY_VERIFY(tb.broker().sessionByName("old3"));

    shortName.sendTo("old3", QByteArray(512, 'x'), 1);
    auto status = shortName.take(FrameType::DeliveryStatus);
    QVERIFY(status);
    QCOMPARE(statusOf(*status), DeliveryStatus::TooLargeForTarget);

    longName.sendTo("old3", "hi", 2);
    status = longName.take(FrameType::DeliveryStatus);
    QVERIFY(status);
    QCOMPARE(statusOf(*status), DeliveryStatus::SenderNameUnfit);
    QVERIFY(!legacyRecv.take(100));
    QCOMPARE(tb.broker().totals().undelivered[size_t(DeliveryStatus::TooLargeForTarget)], quint64(1));
    QCOMPARE(tb.broker().totals().undelivered[size_t(DeliveryStatus::SenderNameUnfit)], quint64(1));
}

void tst_Broker::legacyMainConnectionCannotUseAnotherProcessName()
{
    // Both connections here belong to the test process, which is one process: its legacy main
    // connection may send under its own native client's name (docs/SECURITY.md). Another
    // process doing the same is refused: tst_legacyidentity, legacyMainMayActForItsOwnNativeClient,
    // with a real second process.
    TestBroker tb;
    QVERIFY(tb.start());
    RawPeer owner, target;
    LegacyPeer sameProcess;
    QVERIFY(owner.connectTcp(tb.tcpPort()));
    QVERIFY(target.connectTcp(tb.tcpPort()));
    QVERIFY(sameProcess.connectTcp(tb.tcpPort()));
    QVERIFY(owner.registerAs("owner"));
    QVERIFY(target.registerAs("target"));
    sameProcess.forward("target", "owner", "mine");
    const auto got = target.take(FrameType::Deliver);
    QVERIFY(got);
    QCOMPARE(got->source, QByteArray("owner"));
    QCOMPARE(tb.broker().sessionByName("owner")->protocol(), Session::Protocol::Native);
    QTRY_COMPARE(tb.broker().connectionCount(), size_t(3));
}

void tst_Broker::legacyMainConnectionCannotSwitchNames()
{
    TestBroker tb;
    QVERIFY(tb.start());
    RawPeer target;
    LegacyPeer main;
    QVERIFY(target.connectTcp(tb.tcpPort()));
    QVERIFY(main.connectTcp(tb.tcpPort()));
    QVERIFY(target.registerAs("target"));
    main.forward("target", "first", "one");
    auto got = target.take(FrameType::Deliver);
    QVERIFY(got);
    QCOMPARE(got->source, QByteArray("first"));
    main.forward("target", "second", "two");
    QVERIFY(main.waitForDisconnect());
    QVERIFY(!target.take(FrameType::Deliver, 100));
}

void tst_Broker::reportsNoRouteForBothProtocols()
{
    TestBroker tb;
    QVERIFY(tb.start());
    RawPeer native;
    LegacyPeer legacy;
    QVERIFY(native.connectTcp(tb.tcpPort()));
    QVERIFY(legacy.connectTcp(tb.tcpPort()));
    QVERIFY(native.registerAs("n"));
    native.sendTo("nobody", "hello?", 9);
    auto status = native.take(FrameType::DeliveryStatus);
    QVERIFY(status);
    QCOMPARE(statusOf(*status), DeliveryStatus::NoSuchClient);
    QCOMPARE(status->target, QByteArray("nobody"));
    legacy.forward("nobody", "old", "hello?");
    QTRY_COMPARE(tb.broker().totals().undelivered[size_t(DeliveryStatus::NoSuchClient)], quint64(2));
    QTRY_COMPARE(m_log->count(QStringLiteral("not delivered")), 2);
    QVERIFY(legacy.socket().state() == QAbstractSocket::ConnectedState); // a lost message is not a crime
}

void tst_Broker::queueFullWithStalledReader()
{
    TestBroker tb(configWith([](BrokerConfig &c) {
        c.maxOutputQueueBytes = 256 * 1024;
        c.maxFrameSize = 64 * 1024;
    }));
    QVERIFY(tb.start());
    RawPeer sender, stalled;
    QVERIFY(sender.connectTcp(tb.tcpPort()));
    QVERIFY(stalled.connectTcp(tb.tcpPort()));
    QVERIFY(stalled.registerAs("stalled"));
    QVERIFY(sender.registerAs("sender"));
    // The stalled client's socket stops taking data once its small buffer is full, so the kernel
    // buffers fill and then the broker's bounded queue.
    static_cast<QAbstractSocket *>(stalled.device())->setReadBufferSize(1024);

    const QByteArray payload(32 * 1024, 'q');
    int delivered = 0;
    bool full = false;
    for (quint32 id = 1; id <= 4000 && !full; ++id) {
        sender.sendTo("stalled", payload, id);
        auto status = sender.take(FrameType::DeliveryStatus);
        QVERIFY(status);
        if (statusOf(*status) == DeliveryStatus::Delivered)
            ++delivered;
        else {
            QCOMPARE(statusOf(*status), DeliveryStatus::TargetQueueFull);
            full = true;
        }
    }
    QVERIFY2(full, "the queue bound was never reached");
    Session *target = tb.broker().sessionByName("stalled");
    QVERIFY(target);
    QVERIFY(target->pendingOutput() <= size_t(tb.config().maxOutputQueueBytes));
    QCOMPARE(tb.broker().totals().undelivered[size_t(DeliveryStatus::TargetQueueFull)], quint64(1));
    // The sender is unharmed and other traffic flows.
    RawPeer other;
    QVERIFY(other.connectTcp(tb.tcpPort()));
    QVERIFY(other.registerAs("other"));
    sender.sendTo("other", "still here", 99999);
    QVERIFY(other.take(FrameType::Deliver));
    qInfo("%d messages queued before the bound held", delivered);
}

void tst_Broker::registerDeadlineClosesSilentConnection()
{
    TestBroker tb(configWith([](BrokerConfig &c) { c.registerTimeout = std::chrono::milliseconds(200); }));
    QVERIFY(tb.start());
    RawPeer silent, nativeStarted, registered;
    LegacyPeer halfFrame;
    QVERIFY(silent.connectTcp(tb.tcpPort()));
    QVERIFY(nativeStarted.connectTcp(tb.tcpPort()));
    QVERIFY(registered.connectTcp(tb.tcpPort()));
    QVERIFY(halfFrame.connectTcp(tb.tcpPort()));
    QVERIFY(registered.registerAs("quick"));
    halfFrame.socket().write(QByteArray("head\0", 5) + QByteArray(100, 'x'));
    // Half a native header: the peer said it speaks native frames, so it is told why it goes.
    nativeStarted.writeBytes(QByteArray("KN\x01", 3));
    auto error = nativeStarted.take(FrameType::Error, 3000);
    QVERIFY(error);
    QCOMPARE(errorOf(*error), ErrorCode::RegisterTimeout);
    QVERIFY(nativeStarted.waitForDisconnect());
    // A peer that sent nothing may be an old client: closed without a byte (PROTOCOL ).
    QVERIFY(silent.waitForDisconnect());
    QVERIFY(silent.frames().isEmpty());
    QVERIFY(halfFrame.waitForDisconnect());
    QVERIFY(halfFrame.received().isEmpty());
    QVERIFY(registered.isConnected());
    QTRY_COMPARE(tb.broker().connectionCount(), size_t(1));
}

void tst_Broker::refusesGarbageAndOversizedFrames()
{
    TestBroker tb;
    QVERIFY(tb.start());
    RawPeer garbage, oversized, bystander;
    QVERIFY(garbage.connectTcp(tb.tcpPort()));
    QVERIFY(oversized.connectTcp(tb.tcpPort()));
    QVERIFY(bystander.connectTcp(tb.tcpPort()));
    QVERIFY(bystander.registerAs("bystander"));
    garbage.writeBytes("GET / HTTP/1.0\r\n\r\n");
    auto error = garbage.take(FrameType::Error);
    QVERIFY(error);
    QCOMPARE(errorOf(*error), ErrorCode::BadMagic);
    QVERIFY(garbage.waitForDisconnect());

    // A header claiming 4 GiB is refused from the header alone.
    char header[Wire::HeaderSize];
    writeHeader(header, FrameType::Send, 0xFFFFFFF0u, 1, 0, 0, 0);
    oversized.writeBytes(QByteArray(header, sizeof header));
    error = oversized.take(FrameType::Error);
    QVERIFY(error);
    QCOMPARE(errorOf(*error), ErrorCode::FrameTooLarge);
    QVERIFY(oversized.waitForDisconnect());
    QVERIFY(bystander.isConnected());
}

void tst_Broker::frameSizeLimitAtEdge()
{
    TestBroker tb(configWith([](BrokerConfig &c) {
        c.maxFrameSize = 4096;
        c.maxOutputQueueBytes = 64 * 1024;
    }));
    QVERIFY(tb.start());
    RawPeer a, b;
    QVERIFY(a.connectTcp(tb.tcpPort()));
    QVERIFY(b.connectTcp(tb.tcpPort()));
    QVERIFY(a.registerAs("a"));
    QVERIFY(b.registerAs("b"));
    // Header (16) + target "b" (1) + payload = exactly the limit.
    const int largest = 4096 - Wire::HeaderSize - 1;
    a.sendTo("b", QByteArray(largest, 'm'), 1);
    auto delivered = b.take(FrameType::Deliver);
    QVERIFY(delivered);
    QCOMPARE(delivered->payload.size(), largest);
    a.sendTo("b", QByteArray(largest + 1, 'm'), 2);
    auto error = a.take(FrameType::Error);
    QVERIFY(error);
    QCOMPARE(errorOf(*error), ErrorCode::FrameTooLarge);
    QVERIFY(a.waitForDisconnect());
}

// max_queue_bytes = max_frame_size, the smallest the configuration allows: the largest legal Send
// from a 64-byte name becomes a Deliver 64 bytes over both, and must still reach an idle reader
// (PROTOCOL ). Once that frame is queued the next one waits for room as usual.
void tst_Broker::queueBoundHoldsLargestDeliver()
{
    constexpr quint32 Limit = 4096;
    TestBroker tb(configWith([](BrokerConfig &c) {
        c.maxFrameSize = Limit;
        c.maxOutputQueueBytes = Limit;
    }));
    QVERIFY(tb.start());
    RawPeer a, b;
    const QByteArray longName(Wire::MaxNameLength, 'n');
    QVERIFY(a.connectTcp(tb.tcpPort()));
    QVERIFY(b.connectTcp(tb.tcpPort()));
    QVERIFY(a.registerAs(longName));
    QVERIFY(b.registerAs("b"));
    const int largest = int(Limit) - Wire::HeaderSize - 1; // target "b", empty source
    a.sendTo("b", QByteArray(largest, 'm'), 1);
    auto status = a.take(FrameType::DeliveryStatus);
    QVERIFY(status);
    QCOMPARE(decodeDeliveryStatus(status->payload), DeliveryStatus::Delivered);
    auto delivered = b.take(FrameType::Deliver);
    QVERIFY(delivered);
    QCOMPARE(delivered->source, longName);
    QCOMPARE(delivered->payload.size(), largest);
    QCOMPARE(encodeFrame(*delivered).size(), qsizetype(Limit) + Wire::MaxNameLength);
}

void tst_Broker::clientLimitAtEdge()
{
    TestBroker tb(configWith([](BrokerConfig &c) { c.maxClients = 3; }));
    QVERIFY(tb.start());
    RawPeer p1, p2, p3, p4;
    QVERIFY(p1.connectTcp(tb.tcpPort()));
    QVERIFY(p2.connectTcp(tb.tcpPort()));
    QVERIFY(p3.connectUnix(tb.unixPath()));
    QVERIFY(p1.registerAs("c1"));
    QVERIFY(p2.registerAs("c2"));
    QVERIFY(p3.registerAs("c3"));
    // The in-process broker accepts only when the event loop runs: p4's Hello is there by then,
    // so it is told why. p6 has sent nothing (it may be an old client): closed without a byte.
    QVERIFY(p4.connectTcp(tb.tcpPort()));
    p4.hello("c4");
    auto error = p4.take(FrameType::Error);
    QVERIFY(error);
    QCOMPARE(errorOf(*error), ErrorCode::TooManyClients);
    QVERIFY(p4.waitForDisconnect());
    RawPeer p6;
    QVERIFY(p6.connectTcp(tb.tcpPort()));
    QVERIFY(p6.waitForDisconnect());
    QVERIFY(p6.frames().isEmpty());
    QCOMPARE(tb.broker().connectionCount(), size_t(3));
    // A freed place can be taken again.
    p3.close();
    QTRY_COMPARE(tb.broker().connectionCount(), size_t(2));
    RawPeer p5;
    QVERIFY(p5.connectTcp(tb.tcpPort()));
    QVERIFY(p5.registerAs("c5"));
}

void tst_Broker::answersPing()
{
    TestBroker tb;
    QVERIFY(tb.start());
    RawPeer peer;
    QVERIFY(peer.connectTcp(tb.tcpPort()));
    Frame ping;
    ping.type = FrameType::Ping;
    ping.messageId = 77;
    ping.payload = "echo me";
    peer.send(ping);
    auto pong = peer.take(FrameType::Pong);
    QVERIFY(pong);
    QCOMPARE(pong->messageId, 77u);
    QCOMPARE(pong->payload, QByteArray("echo me"));
}

void tst_Broker::thousandClientsRouteAmongThemselves()
{
    constexpr int Count = 1000;
    TestBroker tb;
    QVERIFY(tb.start());
    std::vector<std::unique_ptr<RawPeer>> peers;
    for (int i = 0; i < Count; ++i) {
        auto peer = std::make_unique<RawPeer>();
        QVERIFY(i % 2 ? peer->connectTcp(tb.tcpPort()) : peer->connectUnix(tb.unixPath()));
        peer->hello("c" + QByteArray::number(i));
        peers.push_back(std::move(peer));
    }
    for (auto &peer : peers)
        QVERIFY(peer->take(FrameType::Welcome, 10000));
    QCOMPARE(tb.broker().registry().size(), size_t(Count));
    for (int i = 0; i < Count; ++i)
        peers[size_t(i)]->sendTo("c" + QByteArray::number((i + 1) % Count), "from " + QByteArray::number(i), quint32(i + 1));
    for (int i = 0; i < Count; ++i) {
        auto delivered = peers[size_t(i)]->take(FrameType::Deliver, 10000);
        QVERIFY(delivered);
        QCOMPARE(delivered->source, "c" + QByteArray::number((i + Count - 1) % Count));
        auto status = peers[size_t(i)]->take(FrameType::DeliveryStatus, 10000);
        QVERIFY(status);
        QCOMPARE(statusOf(*status), DeliveryStatus::Delivered);
    }
    QCOMPARE(tb.broker().totals().messagesOut, quint64(Count));
}

void tst_Broker::shutdownSaysByeAndFinishes()
{
    TestBroker tb;
    QVERIFY(tb.start());
    RawPeer a, b;
    LegacyPeer old;
    QVERIFY(a.connectTcp(tb.tcpPort()));
    QVERIFY(b.connectUnix(tb.unixPath()));
    QVERIFY(old.connectTcp(tb.tcpPort()));
    QVERIFY(a.registerAs("a"));
    QVERIFY(b.registerAs("b"));
    old.registerReceiver("old");
    QTRY_VERIFY(tb.broker().sessionByName("old"));
    // A message queued just before the stop is still flushed.
    a.sendTo("b", "last words", 1);
    QTRY_COMPARE(tb.broker().totals().messagesOut, quint64(1));
    QVERIFY(a.take(FrameType::DeliveryStatus));
    const QString socketPath = tb.unixPath();
    const quint16 port = tb.tcpPort();
    QSignalSpy finished(&tb.broker(), &Broker::finished);
    // A Send the broker has not read when the stop begins (the event loop does not run between
    // these lines) is read and answered `shutting_down`, not lost (PROTOCOL ).
    a.sendTo("b", "too late", 2);
    tb.broker().shutdown();
    QVERIFY(b.take(FrameType::Deliver));
    QVERIFY(a.take(FrameType::Bye));
    QVERIFY(b.take(FrameType::Bye));
    // Each native peer hears why before the Bye; the status comes first of all.
    QCOMPARE(a.frames().size(), 2);
    QCOMPARE(a.frames().at(0).type, FrameType::DeliveryStatus);
    QCOMPARE(a.frames().at(0).messageId, 2u);
    QCOMPARE(decodeDeliveryStatus(a.frames().at(0).payload), DeliveryStatus::ShuttingDown);
    QCOMPARE(a.frames().at(1).type, FrameType::Error);
    QCOMPARE(errorOf(a.frames().at(1)), ErrorCode::ShuttingDown);
    QCOMPARE(b.frames().size(), 1);
    QCOMPARE(errorOf(b.frames().at(0)), ErrorCode::ShuttingDown);
    QVERIFY(b.take(FrameType::Deliver, 0) == std::nullopt);
    QTRY_COMPARE(finished.size(), 1);
    QVERIFY(a.waitForDisconnect());
    QVERIFY(old.waitForDisconnect());
    QVERIFY(!QFile::exists(socketPath));
    // Nobody new gets in.
    RawPeer late;
    QVERIFY(!late.connectTcp(port));
}

QTEST_GUILESS_MAIN(tst_Broker)
#include "tst_broker.moc"
