// Protocol conformance, PROTOCOL §5-§8: messaging, the monitor stream, the old protocol, limits and versioning.
// One test function per numbered rule of docs/PROTOCOL.md, named after it (R-2.1.3 ->
// R_2_1_3_...), each driving a real kennel-broker process through raw sockets. The CTest check
// protocol_rules_have_tests fails when a rule has no function in tst_conformance_*.cpp.
#include "conformancepeer.h"
#include "../bridge/mosquittoprocess.h"

#include <csignal>
#include <memory>

#include <sys/types.h>
#include <unistd.h>

using namespace ConformanceTest;
using KennelTest::MosquittoProcess;

class tst_ConformanceMessaging : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();

    void R_5_1_1_sourceStamped();
    void R_5_1_2_sendBeforeWelcome();
    void R_5_1_3_orderPreserved();
    void R_5_1_4_sendToOwnName();
    void R_5_2_1_deliverFields();
    void R_5_3_1_statusOnlyWhenAsked();
    void R_5_3_2_statuses();
    void R_5_3_3_sendDuringStopGetsShuttingDown();
    void R_5_3_4_queueFull();
    void R_5_4_1_heldThenFinalStatus();
    void R_5_4_2_heldDeliveredInOrderBeforeNewer();
    void R_5_4_3_boundDropsTheNewest();
    void R_5_4_4_ttlExpiry();
    void R_5_4_5_unexpectedNameRefusedAtOnce();
    void R_5_8_1_remoteNameWithoutBridge();
    void R_5_8_2_remoteSendHeldThenFinalStatus();
    void R_5_8_3_remoteTimeoutAndOlderClients();
    void R_5_7_1_acknowledgementsCumulativeAndChecked();
    void R_5_7_2_deliveredAtAcknowledgementWithinBounds();
    void R_5_7_3_unacknowledgedHeldAgainInOrder();
    void R_5_7_4_acknowledgedNeverDeliveredAgain();
    void R_5_7_5_unacknowledgedBytesBoundedBrokerWide();
    void R_6_1_1_monitorWelcome();
    void R_6_1_2_wrongTokenRefusedWhateverTheUid();
    void R_6_3_1_monitorStreamHeaders();
    void R_6_3_2_monitorRecordsCarryKernelPid();
    void R_7_2_1_legacyFramesAccumulated();
    void R_7_2_2_badLegacyFrameClosesSilently();
    void R_7_2_3_legacyNeverPinged();
    void R_7_2_4_silentPeerGetsNoNativeBytes();
    void R_7_3_1_legacyNameTakenCloses();
    void R_7_4_1_mainConnectionBoundToFirstName();
    void R_7_5_1_legacyNativeInterplay();
    void R_8_1_1_frameSizeLimitAtEdge();
    void R_8_1_2_largestDeliverFitsQueue();
    void R_8_1_3_incompleteFrameTimeout();
    void R_8_2_1_higherHelloVersionWelcomedAsOne();

private:
    BrokerProcess m_broker; // the shared one; tests that need other settings start their own
};

void tst_ConformanceMessaging::initTestCase()
{
    QVERIFY(startBroker(m_broker, SharedConfig));
}

// --- §5 ----------------------------------------------------------------------------------------

void tst_ConformanceMessaging::R_5_1_1_sourceStamped()
{
    Conn a, b;
    QVERIFY(a.tcp(m_broker.tcpPort()));
    QVERIFY(b.tcp(m_broker.tcpPort()));
    QVERIFY(a.registerAs("r511-a"));
    QVERIFY(b.registerAs("r511-b"));
    a.send(FrameType::Send, 1, "r511-b", "r511-b", "impersonating", WantDeliveryStatus);
    QCOMPARE(errorOf(a.next()), ErrorCode::SourceMismatch);
    a.send(FrameType::Send, 2, "r511-a", "r511-b", "own name", WantDeliveryStatus);
    QCOMPARE(statusOf(a.next()), DeliveryStatus::Delivered);
    const std::optional<Frame> d = b.next();
    QCOMPARE(d->payload, QByteArrayLiteral("own name")); // the impersonation was not delivered
    QCOMPARE(d->source, QByteArrayLiteral("r511-a"));
}

void tst_ConformanceMessaging::R_5_1_2_sendBeforeWelcome()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    c.sendTo("r512-x", "x", 1, true);
    const std::optional<Frame> s = c.next();
    QCOMPARE(statusOf(s), DeliveryStatus::NotRegistered);
    QCOMPARE(s->messageId, 1u);
    c.sendTo("r512-x", "x", 2, false);
    QCOMPARE(errorOf(c.next()), ErrorCode::NotRegistered);
}

void tst_ConformanceMessaging::R_5_1_3_orderPreserved()
{
    Conn a, b;
    QVERIFY(a.unix(m_broker.unixPath()));
    QVERIFY(b.unix(m_broker.unixPath()));
    QVERIFY(a.registerAs("r513-a"));
    QVERIFY(b.registerAs("r513-b"));
    QByteArray burst;
    // 200 frames of about 30 bytes: all within the target's 8 KiB queue even if handled in one batch.
    for (quint32 i = 1; i <= 200; ++i)
        appendFrame(burst, FrameType::Send, i, NoFlags, {}, "r513-b", QByteArray::number(i));
    a.write(burst);
    for (quint32 i = 1; i <= 200; ++i) {
        const std::optional<Frame> d = b.next();
        QVERIFY2(d, m_broker.log().right(1500).constData());
        QCOMPARE(d->messageId, i);
        QCOMPARE(d->payload, QByteArray::number(i));
    }
}

void tst_ConformanceMessaging::R_5_1_4_sendToOwnName()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    QVERIFY(c.registerAs("r514"));
    c.sendTo("r514", "to myself", 3);
    std::optional<Frame> d = c.take(FrameType::Deliver);
    QVERIFY(d);
    QCOMPARE(d->source, QByteArrayLiteral("r514"));
    QCOMPARE(d->target, QByteArrayLiteral("r514"));
    QCOMPARE(d->payload, QByteArrayLiteral("to myself"));
}

void tst_ConformanceMessaging::R_5_2_1_deliverFields()
{
    Conn a, b;
    QVERIFY(a.tcp(m_broker.tcpPort()));
    QVERIFY(b.tcp(m_broker.tcpPort()));
    QVERIFY(a.registerAs("r521-a"));
    QVERIFY(b.registerAs("r521-b"));
    const QByteArray binary = QByteArray::fromHex("00ff00fe0d0a00");
    a.sendTo("r521-b", binary, 0x01020304, true);
    const std::optional<Frame> d = b.next();
    QVERIFY(d && d->type == FrameType::Deliver);
    QCOMPARE(d->source, QByteArrayLiteral("r521-a"));
    QCOMPARE(d->target, QByteArrayLiteral("r521-b"));
    QCOMPARE(d->messageId, 0x01020304u);
    QCOMPARE(d->flags, quint16(0));
    QCOMPARE(d->payload, binary);
    a.sendTo("r521-b", {}, 5, false); // empty payloads are messages too
    QCOMPARE(b.next()->payload, QByteArray());
}

void tst_ConformanceMessaging::R_5_3_1_statusOnlyWhenAsked()
{
    Conn a, b;
    QVERIFY(a.tcp(m_broker.tcpPort()));
    QVERIFY(b.tcp(m_broker.tcpPort()));
    QVERIFY(a.registerAs("r531-a"));
    QVERIFY(b.registerAs("r531-b"));
    a.sendTo("r531-b", "quiet", 1, false);
    a.sendTo("r531-nobody", "quiet failure", 2, false);
    a.sendTo("r531-b", "loud", 3, true);
    const std::optional<Frame> s = a.next();
    QCOMPARE(statusOf(s), DeliveryStatus::Delivered);
    QCOMPARE(s->messageId, 3u); // nothing for 1 and 2
    QVERIFY(a.quietFor(200)); // and exactly one for 3
}

void tst_ConformanceMessaging::R_5_3_2_statuses()
{
    Conn n, longName;
    QVERIFY(n.tcp(m_broker.tcpPort()));
    QVERIFY(n.registerAs("r532"));
    QVERIFY(longName.tcp(m_broker.tcpPort()));
    QVERIFY(longName.registerAs("r532-long-name"));
    Conn old;
    QVERIFY(old.tcp(m_broker.tcpPort()));
    QVERIFY(legacyReceiver(old, m_broker, "r532old"));
    n.sendTo("r532old", "sync", 1);
    QCOMPARE(statusOf(n.next()), DeliveryStatus::Delivered);
    n.sendTo("r532-nobody", "x", 2);
    QCOMPARE(statusOf(n.next()), DeliveryStatus::NoSuchClient);
    n.sendTo({}, "x", 3);
    QCOMPARE(statusOf(n.next()), DeliveryStatus::InvalidTarget);
    n.sendTo("r532old", QByteArray(512, 'x'), 4);
    QCOMPARE(statusOf(n.next()), DeliveryStatus::TooLargeForTarget);
    longName.sendTo("r532old", "x", 5);
    QCOMPARE(statusOf(longName.next()), DeliveryStatus::SenderNameUnfit);
}

void tst_ConformanceMessaging::R_5_3_3_sendDuringStopGetsShuttingDown()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker, {}));
    Conn a, b;
    QVERIFY(a.unix(broker.unixPath()));
    QVERIFY(b.unix(broker.unixPath()));
    QVERIFY(a.registerAs("r533-a"));
    QVERIFY(b.registerAs("r533-b"));
    // The broker is stopped while the Send and the SIGTERM arrive: it finds both when it runs
    // again. Whichever it handles first, the Send is answered exactly once, before the Error.
    const pid_t pid = pid_t(broker.pid());
    QCOMPARE(::kill(pid, SIGSTOP), 0);
    a.sendTo("r533-b", "too late?", 7);
    QCOMPARE(::kill(pid, SIGTERM), 0);
    QCOMPARE(::kill(pid, SIGCONT), 0);
    const std::optional<Frame> s = a.next();
    QVERIFY(s && s->type == FrameType::DeliveryStatus);
    QCOMPARE(s->messageId, 7u);
    const DeliveryStatus status = *statusOf(s);
    QVERIFY2(status == DeliveryStatus::ShuttingDown || status == DeliveryStatus::Delivered,
             deliveryStatusName(status));
    QCOMPARE(errorOf(a.next()), ErrorCode::ShuttingDown);
    QCOMPARE(a.next()->type, FrameType::Bye);
    // Delivered only if the broker took it before it began to stop.
    const std::optional<Frame> first = b.next();
    QVERIFY(first);
    QCOMPARE(first->type, status == DeliveryStatus::Delivered ? FrameType::Deliver : FrameType::Error);
    qInfo("the Send read %s the stop began: %s", status == DeliveryStatus::Delivered ? "before" : "after",
          deliveryStatusName(status));
    QTRY_VERIFY_WITH_TIMEOUT(!broker.isRunning(), WaitMs);
    QCOMPARE(broker.exitCode(), 0);
    // Deterministic: a Send the broker reads after the stop began gets shutting_down (see
    // tst_broker shutdownSaysByeAndFinishes, where the test controls the broker's event loop).
}

void tst_ConformanceMessaging::R_5_3_4_queueFull()
{
    Conn a, b;
    QVERIFY(a.unix(m_broker.unixPath()));
    QVERIFY(b.unix(m_broker.unixPath()));
    QVERIFY(a.registerAs("r534-a"));
    QVERIFY(b.registerAs("r534-b")); // and never reads while `a` sends
    const QByteArray payload(4000, 'q');
    int delivered = 0, full = 0;
    for (quint32 id = 1; id <= 1500 && full == 0; ++id) {
        a.sendTo("r534-b", payload, id);
        const std::optional<DeliveryStatus> s = statusOf(a.next());
        QVERIFY(s);
        if (*s == DeliveryStatus::Delivered)
            ++delivered;
        else if (*s == DeliveryStatus::TargetQueueFull)
            ++full;
        else
            QFAIL(deliveryStatusName(*s));
    }
    QVERIFY2(full == 1, "the queue bound never held");
    QVERIFY(delivered > 0);
    for (int i = 0; i < delivered; ++i)
        QVERIFY(b.next());
    a.sendTo("r534-b", "room again", 9999);
    QCOMPARE(statusOf(a.next()), DeliveryStatus::Delivered);
}

// --- §5.4 --------------------------------------------------------------------------------------

namespace {
bool registerWithHeldStatus(Conn &conn, const QByteArray &name)
{
    HelloPayload hello;
    hello.features = FeatureHeldStatus;
    conn.hello(name, 1, hello);
    const std::optional<Frame> w = conn.next();
    if (!w || w->type != FrameType::Welcome)
        return false;
    const std::optional<WelcomePayload> offer = decodeWelcome(w->payload);
    return offer && offer->features && (*offer->features & FeatureHeldStatus);
}
// Hello listing `features`; true if the Welcome offers all of them.
bool registerWithFeatures(Conn &conn, const QByteArray &name, quint32 features)
{
    HelloPayload hello;
    hello.features = features;
    conn.hello(name, 1, hello);
    const std::optional<Frame> w = conn.next();
    if (!w || w->type != FrameType::Welcome)
        return false;
    const std::optional<WelcomePayload> offer = decodeWelcome(w->payload);
    return offer && offer->features && (*offer->features & features) == features;
}

void acknowledge(Conn &conn, quint32 count)
{
    conn.send(FrameType::DeliverAck, count, {}, {}, {});
}

// The next frame is a Deliver with `id` and `payload`.
bool delivers(Conn &conn, quint32 id, const QByteArray &payload)
{
    const std::optional<Frame> f = conn.next();
    return f && f->type == FrameType::Deliver && f->messageId == id && f->payload == payload;
}

// The next frame is a DeliveryStatus `status` for message `id`.
bool tells(Conn &conn, quint32 id, DeliveryStatus status)
{
    const std::optional<Frame> f = conn.next();
    return f && f->type == FrameType::DeliveryStatus && f->messageId == id && statusOf(f) == status;
}
} // namespace

void tst_ConformanceMessaging::R_5_4_1_heldThenFinalStatus()
{
    Conn modern, old, target;
    QVERIFY(modern.tcp(m_broker.tcpPort()));
    QVERIFY(old.tcp(m_broker.tcpPort()));
    QVERIFY(registerWithHeldStatus(modern, "r541-m"));
    QVERIFY(old.registerAs("r541-o"));
    modern.sendTo("r541-t", "a", 1);
    old.sendTo("r541-t", "b", 2);
    std::optional<Frame> s = modern.next();
    QCOMPARE(statusOf(s), DeliveryStatus::Held);
    QCOMPARE(s->messageId, 1u);
    QCOMPARE(s->target, QByteArrayLiteral("r541-t"));
    QVERIFY(old.quietFor(100)); // no `held` to a client that did not list the feature
    QVERIFY(target.tcp(m_broker.tcpPort()));
    QVERIFY(target.registerAs("r541-t"));
    s = modern.next();
    QCOMPARE(statusOf(s), DeliveryStatus::Delivered);
    QCOMPARE(s->messageId, 1u);
    s = old.next();
    QCOMPARE(statusOf(s), DeliveryStatus::Delivered);
    QCOMPARE(s->messageId, 2u);
    QVERIFY(modern.quietFor(100)); // exactly one final status each
    QVERIFY(old.quietFor(1));
}

void tst_ConformanceMessaging::R_5_4_2_heldDeliveredInOrderBeforeNewer()
{
    Conn sender, target;
    QVERIFY(sender.tcp(m_broker.tcpPort()));
    QVERIFY(sender.registerAs("r542-s"));
    sender.sendTo("r542-t", "one", 1, false);
    sender.sendTo("r542-t", "two", 2, false);
    QVERIFY(target.tcp(m_broker.tcpPort()));
    target.hello("r542-t", 77);
    std::optional<Frame> f = target.next();
    QVERIFY(f && f->type == FrameType::Welcome); // Welcome first, then what was held
    QCOMPARE(f->messageId, 77u);
    sender.sendTo("r542-t", "three", 3, false); // newer: after the held ones
    for (const auto &[id, payload] : {std::pair{1u, QByteArrayLiteral("one")}, std::pair{2u, QByteArrayLiteral("two")},
                                      std::pair{3u, QByteArrayLiteral("three")}}) {
        f = target.next();
        QVERIFY(f && f->type == FrameType::Deliver);
        QCOMPARE(f->messageId, id);
        QCOMPARE(f->payload, payload);
        QCOMPARE(f->source, QByteArrayLiteral("r542-s"));
        QCOMPARE(f->target, QByteArrayLiteral("r542-t"));
        QCOMPARE(f->flags, quint16(0));
    }
}

void tst_ConformanceMessaging::R_5_4_3_boundDropsTheNewest()
{
    Conn modern, old, target;
    QVERIFY(modern.tcp(m_broker.tcpPort()));
    QVERIFY(old.tcp(m_broker.tcpPort()));
    QVERIFY(registerWithHeldStatus(modern, "r543-m"));
    QVERIFY(old.registerAs("r543-o"));
    modern.sendTo("r543-t", "1", 1);
    modern.sendTo("r543-t", "2", 2);
    QCOMPARE(statusOf(modern.next()), DeliveryStatus::Held);
    QCOMPARE(statusOf(modern.next()), DeliveryStatus::Held);
    modern.sendTo("r543-t", "3", 3); // max_count = 2: the newest is dropped, at once, its only status
    std::optional<Frame> s = modern.next();
    QCOMPARE(statusOf(s), DeliveryStatus::DroppedNameCount);
    QCOMPARE(s->messageId, 3u);
    old.sendTo("r543-t", "4", 4);
    s = old.next();
    QCOMPARE(statusOf(s), DeliveryStatus::NoSuchClient); // the value an old client knows
    QVERIFY(target.tcp(m_broker.tcpPort()));
    QVERIFY(target.registerAs("r543-t"));
    for (quint32 id : {1u, 2u}) {
        const std::optional<Frame> d = target.next();
        QVERIFY(d && d->type == FrameType::Deliver);
        QCOMPARE(d->messageId, id);
    }
    QVERIFY(target.quietFor(100));
}

void tst_ConformanceMessaging::R_5_4_4_ttlExpiry()
{
    Conn modern, old;
    QVERIFY(modern.tcp(m_broker.tcpPort()));
    QVERIFY(old.tcp(m_broker.tcpPort()));
    QVERIFY(registerWithHeldStatus(modern, "r544-m"));
    QVERIFY(old.registerAs("r544-o"));
    QElapsedTimer clock;
    clock.start();
    modern.sendTo("r544-t", "a", 1);
    old.sendTo("r544-t", "b", 2);
    QCOMPARE(statusOf(modern.next()), DeliveryStatus::Held);
    std::optional<Frame> s = modern.next(3000);
    QCOMPARE(statusOf(s), DeliveryStatus::Expired);
    QCOMPARE(s->messageId, 1u);
    QVERIFY2(clock.elapsed() >= 390, qPrintable(QString::number(clock.elapsed()))); // ttl_ms = 400
    s = old.next(3000);
    QCOMPARE(statusOf(s), DeliveryStatus::NoSuchClient);
    QCOMPARE(s->messageId, 2u);
}

void tst_ConformanceMessaging::R_5_4_5_unexpectedNameRefusedAtOnce()
{
    Conn modern;
    QVERIFY(modern.tcp(m_broker.tcpPort()));
    QVERIFY(registerWithHeldStatus(modern, "r545-m"));
    modern.sendTo("r545-nobody", "x", 1);
    const std::optional<Frame> s = modern.next(500);
    QCOMPARE(statusOf(s), DeliveryStatus::NoSuchClient);
    QVERIFY(modern.quietFor(100));
}

// --- §6 ----------------------------------------------------------------------------------------

void tst_ConformanceMessaging::R_5_7_1_acknowledgementsCumulativeAndChecked()
{
    Conn sender, receiver, plain;
    QVERIFY(sender.tcp(m_broker.tcpPort()));
    QVERIFY(receiver.tcp(m_broker.tcpPort()));
    QVERIFY(plain.tcp(m_broker.tcpPort()));
    QVERIFY(sender.registerAs("r571-s"));
    QVERIFY(registerWithFeatures(receiver, "r571-r", FeatureDeliverAck));
    QVERIFY(plain.registerAs("r571-p"));
    sender.sendTo("r571-r", "one", 1);
    sender.sendTo("r571-r", "two", 2);
    sender.sendTo("r571-r", "three", 3);
    QVERIFY(delivers(receiver, 1, "one"));
    QVERIFY(delivers(receiver, 2, "two"));
    QVERIFY(delivers(receiver, 3, "three"));
    QVERIFY(sender.quietFor(100)); // nothing acknowledged: no status yet
    acknowledge(receiver, 2);      // cumulative: messages 1 and 2
    QVERIFY(tells(sender, 1, DeliveryStatus::Delivered));
    QVERIFY(tells(sender, 2, DeliveryStatus::Delivered));
    QVERIFY(sender.quietFor(100));
    acknowledge(receiver, 2); // nothing new: nothing said
    QVERIFY(sender.quietFor(100));
    acknowledge(receiver, 3);
    QVERIFY(tells(sender, 3, DeliveryStatus::Delivered));
    // Without the feature: an unknown frame type, the connection stays open.
    acknowledge(plain, 1);
    const std::optional<Frame> e = plain.next();
    QCOMPARE(errorOf(e), ErrorCode::UnknownFrameType);
    QVERIFY(plain.quietFor(50)); // still open: nothing more, no close
    // More than was delivered: the counts no longer agree, the connection is closed.
    acknowledge(receiver, 4);
    QCOMPARE(errorOf(receiver.next()), ErrorCode::MalformedFrame);
    QVERIFY(receiver.closed());
}

void tst_ConformanceMessaging::R_5_7_2_deliveredAtAcknowledgementWithinBounds()
{
    Conn sender, receiver;
    QVERIFY(sender.tcp(m_broker.tcpPort()));
    QVERIFY(receiver.tcp(m_broker.tcpPort()));
    QVERIFY(sender.registerAs("r572-s"));
    QVERIFY(registerWithFeatures(receiver, "r572-r", FeatureDeliverAck));
    // unacked_max_count = 3: the fourth is refused as for a full queue, at once.
    for (quint32 id = 1; id <= 4; ++id)
        sender.sendTo("r572-r", QByteArray::number(id), id);
    QVERIFY(tells(sender, 4, DeliveryStatus::TargetQueueFull));
    for (quint32 id = 1; id <= 3; ++id)
        QVERIFY(delivers(receiver, id, QByteArray::number(id)));
    QVERIFY(receiver.quietFor(100)); // the fourth was not delivered
    acknowledge(receiver, 3);
    for (quint32 id = 1; id <= 3; ++id)
        QVERIFY(tells(sender, id, DeliveryStatus::Delivered));
    sender.sendTo("r572-r", "5", 5); // room again
    QVERIFY(delivers(receiver, 5, "5"));
    acknowledge(receiver, 4);
    QVERIFY(tells(sender, 5, DeliveryStatus::Delivered));
}

void tst_ConformanceMessaging::R_5_7_3_unacknowledgedHeldAgainInOrder()
{
    Conn modern, old, gone;
    QVERIFY(modern.tcp(m_broker.tcpPort()));
    QVERIFY(old.tcp(m_broker.tcpPort()));
    QVERIFY(registerWithHeldStatus(modern, "r573-m"));
    QVERIFY(old.registerAs("r573-o"));
    {
        auto first = std::make_unique<Conn>();
        QVERIFY(first->tcp(m_broker.tcpPort()));
        QVERIFY(registerWithFeatures(*first, "r573-t", FeatureDeliverAck));
        modern.sendTo("r573-t", "a", 1);
        old.sendTo("r573-t", "b", 2);
        modern.sendTo("r573-t", "c", 3);
        QVERIFY(delivers(*first, 1, "a"));
        QVERIFY(delivers(*first, 2, "b"));
        QVERIFY(delivers(*first, 3, "c"));
        acknowledge(*first, 1);
        QVERIFY(tells(modern, 1, DeliveryStatus::Delivered));
        first.reset(); // the process dies (no Bye) with b and c read but not acknowledged
    }
    // Its name is expected back ([hold] names): b and c are held again; the held_status sender hears `held`.
    QVERIFY(tells(modern, 3, DeliveryStatus::Held));
    modern.sendTo("r573-t", "d", 4); // newer: behind them (max_count 2 is full: dropped, the newest)
    QVERIFY(tells(modern, 4, DeliveryStatus::DroppedNameCount));
    Conn second;
    QVERIFY(second.tcp(m_broker.tcpPort()));
    QVERIFY(second.registerAs("r573-t")); // a new holder without the feature: `delivered` when queued
    QVERIFY(delivers(second, 2, "b"));
    QVERIFY(delivers(second, 3, "c"));
    QVERIFY(second.quietFor(100));
    QVERIFY(tells(modern, 3, DeliveryStatus::Delivered));
    QVERIFY(tells(old, 2, DeliveryStatus::Delivered)); // a plain sender hears its one final status
    QVERIFY(modern.quietFor(100));
    QVERIFY(old.quietFor(1));

    // A name not expected back: a Bye ends it, its unacknowledged messages are answered `unacknowledged`.
    QVERIFY(gone.tcp(m_broker.tcpPort()));
    QVERIFY(registerWithFeatures(gone, "r573-x", FeatureDeliverAck));
    modern.sendTo("r573-x", "e", 5);
    old.sendTo("r573-x", "f", 6);
    QVERIFY(delivers(gone, 5, "e"));
    QVERIFY(delivers(gone, 6, "f"));
    gone.send(FrameType::Bye, 0, {}, {}, {});
    QVERIFY(tells(modern, 5, DeliveryStatus::Unacknowledged));
    QVERIFY(tells(old, 6, DeliveryStatus::NoSuchClient)); // the value a client without held_status knows
}

void tst_ConformanceMessaging::R_5_7_4_acknowledgedNeverDeliveredAgain()
{
    Conn sender;
    QVERIFY(sender.tcp(m_broker.tcpPort()));
    QVERIFY(sender.registerAs("r574-s"));
    {
        auto first = std::make_unique<Conn>();
        QVERIFY(first->tcp(m_broker.tcpPort()));
        QVERIFY(registerWithFeatures(*first, "r574-t", FeatureDeliverAck));
        sender.sendTo("r574-t", "x", 1);
        sender.sendTo("r574-t", "y", 2);
        QVERIFY(delivers(*first, 1, "x"));
        QVERIFY(delivers(*first, 2, "y"));
        acknowledge(*first, 2);
        QVERIFY(tells(sender, 1, DeliveryStatus::Delivered));
        QVERIFY(tells(sender, 2, DeliveryStatus::Delivered));
        first.reset(); // dies after acknowledging everything
    }
    Conn second;
    QVERIFY(second.tcp(m_broker.tcpPort()));
    QVERIFY(registerWithFeatures(second, "r574-t", FeatureDeliverAck));
    QVERIFY(second.quietFor(200)); // nothing delivered again
    QVERIFY(sender.quietFor(1));
}

void tst_ConformanceMessaging::R_5_7_5_unacknowledgedBytesBoundedBrokerWide()
{
    // Its own broker: each acknowledging receiver may keep 1024 bytes unacknowledged, all of them
    // together 1536. Every Deliver below is 16 + 6 + 6 + 84 = 112 bytes.
    BrokerProcess broker;
    QVERIFY(startBroker(broker, QByteArrayLiteral("[hold]\nunacked_max_bytes = 1024\nunacked_total_bytes = 1536\n")));
    Conn sender, a, b;
    QVERIFY(sender.tcp(broker.tcpPort()));
    QVERIFY(a.tcp(broker.tcpPort()));
    QVERIFY(b.tcp(broker.tcpPort()));
    QVERIFY(sender.registerAs("r575-s"));
    QVERIFY(registerWithFeatures(a, "r575-a", FeatureDeliverAck));
    QVERIFY(registerWithFeatures(b, "r575-b", FeatureDeliverAck));
    const QByteArray text(84, 'x');

    // a reads and does not acknowledge: 9 frames, 1008 bytes, within its own bound.
    for (quint32 id = 1; id <= 9; ++id)
        sender.sendTo("r575-a", text, id);
    for (quint32 id = 1; id <= 9; ++id)
        QVERIFY(delivers(a, id, text));
    // b is far from its own bound, but all ledgers together are not: 1008 + 4 x 112 = 1456, and
    // one more would be 1568 > 1536. It is refused as for a full queue, and not delivered.
    for (quint32 id = 10; id <= 14; ++id)
        sender.sendTo("r575-b", text, id);
    QVERIFY(tells(sender, 14, DeliveryStatus::TargetQueueFull));
    for (quint32 id = 10; id <= 13; ++id)
        QVERIFY(delivers(b, id, text));
    QVERIFY(b.quietFor(100));
    QTRY_VERIFY_WITH_TIMEOUT(broker.log().contains("unacknowledged deliveries: 1456 of 1536 bytes in use"), WaitMs);

    // a acknowledges: its senders hear `delivered`, and the room is b's again.
    acknowledge(a, 9);
    for (quint32 id = 1; id <= 9; ++id)
        QVERIFY(tells(sender, id, DeliveryStatus::Delivered));
    sender.sendTo("r575-b", text, 15);
    QVERIFY(delivers(b, 15, text));
    acknowledge(b, 5);
    for (quint32 id = 10; id <= 13; ++id)
        QVERIFY(tells(sender, id, DeliveryStatus::Delivered));
    QVERIFY(tells(sender, 15, DeliveryStatus::Delivered));
}

void tst_ConformanceMessaging::R_6_1_1_monitorWelcome()
{
    Conn m;
    QVERIFY(m.unix(m_broker.unixPath())); // the broker's own user: admitted by uid, no token
    HelloPayload hello;
    hello.role = Role::Monitor;
    m.hello("r611-monitor", 66, hello);
    const std::optional<Frame> w = m.next();
    QVERIFY(w && w->type == FrameType::Welcome);
    QCOMPARE(w->messageId, 66u);
    QVERIFY(w->source.isEmpty());
    QCOMPARE(w->target, QByteArrayLiteral("r611-monitor"));
    const std::optional<WelcomePayload> p = decodeWelcome(w->payload);
    QVERIFY(p && !p->features);
    QCOMPARE(p->maxFrameSize, FrameLimit);
}

void tst_ConformanceMessaging::R_6_1_2_wrongTokenRefusedWhateverTheUid()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker, QByteArrayLiteral("[monitor]\ntoken = right-token-right-token\nfailure_delay_ms = 10\n")));
    Conn wrong, none, right;
    QVERIFY(wrong.unix(broker.unixPath()));
    HelloPayload hello;
    hello.role = Role::Monitor;
    hello.token = "wrong-token-wrong-token";
    wrong.hello("r612a", 1, hello);
    QCOMPARE(errorOf(wrong.next()), ErrorCode::NotPermitted);
    QVERIFY(wrong.closed());
    QVERIFY(none.unix(broker.unixPath()));
    hello.token.clear();
    none.hello("r612b", 1, hello);
    QCOMPARE(none.next()->type, FrameType::Welcome);
    QVERIFY(right.tcp(broker.tcpPort()));
    hello.token = "right-token-right-token";
    right.hello("r612c", 1, hello);
    QCOMPARE(right.next()->type, FrameType::Welcome);
}

void tst_ConformanceMessaging::R_6_3_1_monitorStreamHeaders()
{
    Conn client, m;
    QVERIFY(client.tcp(m_broker.tcpPort()));
    QVERIFY(client.registerAs("r631-client"));
    QVERIFY(m.unix(m_broker.unixPath()));
    HelloPayload hello;
    hello.role = Role::Monitor;
    m.hello("r631-monitor", 1, hello);
    QCOMPARE(m.next()->type, FrameType::Welcome);
    m.send(MonitorFrame::Subscribe, 41, {}, {}, encodeMonitorSubscribe({}));
    bool sawClient = false;
    for (;;) {
        const std::optional<Frame> f = m.next();
        QVERIFY(f);
        QCOMPARE(f->messageId, 0u);
        QVERIFY(f->target.isEmpty());
        if (f->type == MonitorFrame::Client) {
            const std::optional<MonitorClient> r = decodeMonitorClient(f->payload);
            QVERIFY(r);
            QCOMPARE(f->source, r->name);
            sawClient = sawClient || r->name == "r631-client";
        } else {
            QVERIFY(f->source.isEmpty());
        }
        if (f->type == MonitorFrame::SnapshotEnd)
            break;
    }
    QVERIFY(sawClient);
    MonitorControl control;
    control.action = MonitorControlAction::SendTestMessage;
    control.target = "r631-client";
    control.text = "from the monitor";
    m.send(MonitorFrame::Control, 42, {}, {}, encodeMonitorControl(control));
    const std::optional<Frame> result = m.take(MonitorFrame::ControlResult);
    QVERIFY(result);
    QCOMPARE(result->messageId, 42u);
    QVERIFY(result->source.isEmpty() && result->target.isEmpty());
    m.send(FrameType::Ping, 43, {}, {}, {});
    QCOMPARE(m.take(FrameType::Pong)->messageId, 43u);
}

void tst_ConformanceMessaging::R_6_3_2_monitorRecordsCarryKernelPid()
{
    Conn unixClient, watched, m;
    QVERIFY(unixClient.unix(m_broker.unixPath()));
    QVERIFY(unixClient.registerAs("r632-unix")); // claims no pid
    QVERIFY(watched.tcp(m_broker.tcpPort()));
    QVERIFY(watched.registerAs("r632-notify"));
    watched.send(FrameType::WatchdogRegister, 1, {}, {}, encodeWatchdogTerms({60000, 3, ExpiryAction::Notify}));
    QCOMPARE(watched.next()->type, FrameType::WatchdogAck);
    QVERIFY(m.unix(m_broker.unixPath()));
    HelloPayload hello;
    hello.role = Role::Monitor;
    m.hello("r632-monitor", 1, hello);
    QCOMPARE(m.next()->type, FrameType::Welcome);
    m.send(MonitorFrame::Subscribe, 2, {}, {}, encodeMonitorSubscribe({}));
    QHash<QByteArray, qint64> pids;
    for (;;) {
        const std::optional<Frame> f = m.next();
        QVERIFY(f);
        if (f->type == MonitorFrame::Client) {
            const MonitorClient r = *decodeMonitorClient(f->payload);
            pids.insert(r.name, r.pid);
        }
        if (f->type == MonitorFrame::SnapshotEnd)
            break;
    }
    QCOMPARE(pids.value("r632-unix", -1), qint64(::getpid()));
    QCOMPARE(pids.value("r632-notify", -1), qint64(::getpid()));
    // The watchdog's "registered" event names the process too.
    Conn later;
    QVERIFY(later.tcp(m_broker.tcpPort()));
    QVERIFY(later.registerAs("r632-later"));
    later.send(FrameType::WatchdogRegister, 1, {}, {}, encodeWatchdogTerms({60000, 3, ExpiryAction::Notify}));
    QCOMPARE(later.next()->type, FrameType::WatchdogAck);
    for (;;) {
        const std::optional<Frame> f = m.take(MonitorFrame::WatchdogEvent);
        QVERIFY(f);
        const std::optional<MonitorWatchdogEvent> e = decodeMonitorWatchdogEvent(f->payload);
        QVERIFY(e);
        if (e->name != "r632-later")
            continue;
        QCOMPARE(e->kind, MonitorWatchdogEventKind::Registered);
        QCOMPARE(e->pid, qint64(::getpid()));
        break;
    }
}

// --- §7 ----------------------------------------------------------------------------------------

void tst_ConformanceMessaging::R_7_2_1_legacyFramesAccumulated()
{
    Conn receiver, sender;
    QVERIFY(receiver.tcp(m_broker.tcpPort()));
    const QByteArray reg = legacyFrame(Legacy::Command::RegisterReceiver, 0, "null", "r721rx", "null");
    for (int i = 0; i < reg.size(); i += 100) // in pieces, as a slow writer would
        receiver.write(reg.mid(i, 100));
    QVERIFY(sender.tcp(m_broker.tcpPort()));
    QVERIFY(sender.registerAs("r721tx"));
    sender.sendTo("r721rx", "arrived", 1);
    QCOMPARE(statusOf(sender.next()), DeliveryStatus::Delivered);
    QTRY_VERIFY_WITH_TIMEOUT((receiver.next(20), receiver.bytesReceived() == Legacy::FrameSize), WaitMs);
    const Legacy::DecodeResult r = Legacy::decode(receiver.raw());
    QCOMPARE(r.error, Legacy::DecodeError::None);
    QCOMPARE(r.frame.text(), QByteArrayView("arrived"));
}

void tst_ConformanceMessaging::R_7_2_2_badLegacyFrameClosesSilently()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    QByteArray bad = legacyFrame(Legacy::Command::Forward, 0, "x", "r722", "y");
    qToLittleEndian<qint32>(7, bad.data() + Legacy::CmdOffset);
    c.write(bad);
    QVERIFY(c.closed());
    QCOMPARE(c.bytesReceived(), qsizetype(0));
}

void tst_ConformanceMessaging::R_7_2_3_legacyNeverPinged()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker, {}, {QStringLiteral("--idle-timeout"), QStringLiteral("1000")}));
    Conn old;
    QVERIFY(old.tcp(broker.tcpPort()));
    QVERIFY(legacyReceiver(old, broker, "r723"));
    QVERIFY(old.quietFor(1800)); // past the whole idle timeout: no Ping, no close
    Conn n;
    QVERIFY(n.tcp(broker.tcpPort()));
    QVERIFY(n.registerAs("r723n"));
    n.sendTo("r723", "still there", 1);
    QCOMPARE(statusOf(n.next()), DeliveryStatus::Delivered);
}

void tst_ConformanceMessaging::R_7_2_4_silentPeerGetsNoNativeBytes()
{
    // The register timeout: nothing sent, or half a legacy head.
    Conn silent, halfHead;
    QVERIFY(silent.tcp(m_broker.tcpPort()));
    QVERIFY(halfHead.unix(m_broker.unixPath()));
    halfHead.write("hea");
    QVERIFY(silent.closed(4000));
    QVERIFY(halfHead.closed(4000));
    QCOMPARE(silent.bytesReceived(), qsizetype(0));
    QCOMPARE(halfHead.bytesReceived(), qsizetype(0));
    // The client limit: a connection refused at the door before saying anything.
    BrokerProcess full;
    QVERIFY(startBroker(full, {}, {QStringLiteral("--max-clients"), QStringLiteral("1")}));
    Conn first, refused;
    QVERIFY(first.tcp(full.tcpPort()));
    QVERIFY(first.registerAs("r724"));
    QVERIFY(refused.tcp(full.tcpPort()));
    QVERIFY(refused.closed());
    QCOMPARE(refused.bytesReceived(), qsizetype(0));
}

void tst_ConformanceMessaging::R_7_3_1_legacyNameTakenCloses()
{
    Conn holder, old;
    QVERIFY(holder.tcp(m_broker.tcpPort()));
    QVERIFY(holder.registerAs("r731"));
    QVERIFY(old.tcp(m_broker.tcpPort()));
    old.write(legacyFrame(Legacy::Command::RegisterReceiver, 0, "null", "r731", "null"));
    QVERIFY(old.closed());
    QCOMPARE(old.bytesReceived(), qsizetype(0));
}

void tst_ConformanceMessaging::R_7_4_1_mainConnectionBoundToFirstName()
{
    Conn rx, main, n;
    QVERIFY(n.tcp(m_broker.tcpPort()));
    QVERIFY(n.registerAs("r741-n"));
    QVERIFY(main.tcp(m_broker.tcpPort()));
    main.write(legacyFrame(Legacy::Command::Forward, 0, "r741-n", "r741a", "first"));
    const std::optional<Frame> d = n.next();
    QVERIFY(d);
    QCOMPARE(d->source, QByteArrayLiteral("r741a"));
    main.write(legacyFrame(Legacy::Command::Forward, 0, "r741-n", "r741b", "second"));
    QVERIFY(main.closed());
    QVERIFY(n.quietFor(200));
}

void tst_ConformanceMessaging::R_7_5_1_legacyNativeInterplay()
{
    Conn rx, tx, n;
    QVERIFY(rx.tcp(m_broker.tcpPort()));
    QVERIFY(legacyReceiver(rx, m_broker, "r751rx"));
    QVERIFY(n.tcp(m_broker.tcpPort()));
    QVERIFY(n.registerAs("r751n"));
    n.sendTo("r751rx", "sync", 1);
    QCOMPARE(statusOf(n.next()), DeliveryStatus::Delivered);
    QVERIFY(tx.tcp(m_broker.tcpPort()));
    // legacy -> legacy: the whole field, bytes after the NUL included.
    QByteArray field(512, '\0');
    field.replace(0, 3, "bin");
    field[100] = char(0xAB);
    QByteArray binary = legacyFrame(Legacy::Command::Forward, 0, "r751rx", "r751tx", {});
    binary.replace(Legacy::MsgOffset, 512, field); // the whole field, as an old program's struct holds it
    tx.write(binary);
    QTRY_VERIFY2_WITH_TIMEOUT((rx.next(20), rx.bytesReceived() == 2 * Legacy::FrameSize), m_broker.log().right(1500).constData(), WaitMs);
    QCOMPARE(rx.raw().mid(Legacy::FrameSize + Legacy::MsgOffset, 512), field);
    // native -> legacy: zero-filled.
    QCOMPARE(rx.raw().mid(Legacy::MsgOffset, 512), QByteArray("sync") + QByteArray(508, '\0'));
    // legacy -> native: text up to the NUL, the sender's name, a broker-assigned id.
    tx.write(legacyFrame(Legacy::Command::Forward, 0, "r751n", "r751tx", "hello native"));
    const std::optional<Frame> d = n.next();
    QVERIFY(d && d->type == FrameType::Deliver);
    QCOMPARE(d->source, QByteArrayLiteral("r751tx"));
    QCOMPARE(d->payload, QByteArrayLiteral("hello native"));
    tx.write(legacyFrame(Legacy::Command::Forward, 0, "r751n", "r751tx", "again"));
    const std::optional<Frame> d2 = n.next();
    QVERIFY(d2 && d2->messageId > d->messageId); // one counter, counting up
}

// --- §8 ----------------------------------------------------------------------------------------

void tst_ConformanceMessaging::R_8_1_1_frameSizeLimitAtEdge()
{
    Conn a, b;
    QVERIFY(a.tcp(m_broker.tcpPort()));
    QVERIFY(b.tcp(m_broker.tcpPort()));
    QVERIFY(a.registerAs("r811-a"));
    QVERIFY(b.registerAs("b"));
    const int largest = int(FrameLimit) - Wire::HeaderSize - 1;
    a.sendTo("b", QByteArray(largest, 'm'), 1);
    QCOMPARE(statusOf(a.next()), DeliveryStatus::Delivered);
    QCOMPARE(b.next()->payload.size(), largest);
    a.sendTo("b", QByteArray(largest + 1, 'm'), 2);
    QCOMPARE(errorOf(a.next()), ErrorCode::FrameTooLarge);
    QVERIFY(a.closed());
}

void tst_ConformanceMessaging::R_8_1_2_largestDeliverFitsQueue()
{
    // The shared broker has max_queue_bytes = max_frame_size: the tightest the configuration allows.
    Conn a, b;
    const QByteArray longName(Wire::MaxNameLength, 'L');
    QVERIFY(a.tcp(m_broker.tcpPort()));
    QVERIFY(b.tcp(m_broker.tcpPort()));
    QVERIFY(a.registerAs(longName));
    QVERIFY(b.registerAs("c"));
    const int largest = int(FrameLimit) - Wire::HeaderSize - 1;
    a.sendTo("c", QByteArray(largest, 'm'), 1);
    QCOMPARE(statusOf(a.next()), DeliveryStatus::Delivered);
    const std::optional<Frame> d = b.next();
    QVERIFY(d);
    QCOMPARE(encodeFrame(*d).size(), qsizetype(FrameLimit) + Wire::MaxNameLength);
}

void tst_ConformanceMessaging::R_8_1_3_incompleteFrameTimeout()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    QVERIFY(c.registerAs("r813"));
    QElapsedTimer clock;
    clock.start();
    QByteArray partial;
    appendFrame(partial, FrameType::Send, 1, NoFlags, {}, "r813", QByteArray(100, 'x'));
    c.write(partial.left(40));
    QCOMPARE(errorOf(c.next()), ErrorCode::IncompleteFrameTimeout);
    QVERIFY(c.closed());
    QVERIFY(clock.elapsed() >= 300 - 20);
}

void tst_ConformanceMessaging::R_8_2_1_higherHelloVersionWelcomedAsOne()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    HelloPayload hello;
    hello.protocolVersion = 7;
    c.hello("r821", 1, hello);
    const std::optional<Frame> w = c.next();
    QVERIFY(w && w->type == FrameType::Welcome);
    QCOMPARE(decodeWelcome(w->payload)->protocolVersion, quint16(1));
}

namespace {
// A board: a kennel-broker with [bridge] to the test's mosquitto, linked up.
bool startBoard(BrokerProcess &broker, const QByteArray &board, const MosquittoProcess &mqtt, const QString &spoolDir,
                const QByteArray &extra = {})
{
    BrokerProcess::Options options;
    options.configText = "[bridge]\nurl = " + mqtt.url().toUtf8() + "\nboard = " + board + "\nspool_path = "
                         + spoolDir.toUtf8() + "/" + board + ".spool\n" + extra;
    if (!broker.start(options))
        return false;
    return QTest::qWaitFor([&] { return broker.countInLog("MQTT link up") >= 1; }, WaitMs * 2);
}

} // namespace

void tst_ConformanceMessaging::R_5_8_1_remoteNameWithoutBridge()
{
    Conn sender, at;
    QVERIFY(sender.tcp(m_broker.tcpPort()));
    QVERIFY(sender.registerAs("r581-s"));
    sender.sendTo("r581-t@elsewhere", "x", 5);
    const std::optional<Frame> s = sender.next();
    QCOMPARE(statusOf(s), DeliveryStatus::NoSuchClient);
    QCOMPARE(s->target, QByteArrayLiteral("r581-t@elsewhere"));
    QVERIFY(at.tcp(m_broker.tcpPort()));
    at.hello("r581@board", 6);
    QCOMPARE(errorOf(at.next()), ErrorCode::InvalidName);
}

void tst_ConformanceMessaging::R_5_8_2_remoteSendHeldThenFinalStatus()
{
    MosquittoProcess mqtt;
    QVERIFY(mqtt.start());
    QTemporaryDir spools;
    BrokerProcess a, b;
    QVERIFY(startBoard(a, "ca", mqtt, spools.path()));
    QVERIFY(startBoard(b, "cb", mqtt, spools.path()));
    Conn sender, target;
    QVERIFY(sender.tcp(a.tcpPort()));
    QVERIFY(registerWithFeatures(sender, "r582-s", FeatureHeldStatus | FeatureRemoteNames));
    QVERIFY(target.tcp(b.tcpPort()));
    QVERIFY(target.registerAs("r582-t"));
    sender.sendTo("r582-t@cb", "payload", 41);
    std::optional<Frame> s = sender.next();
    QCOMPARE(statusOf(s), DeliveryStatus::Held);
    QCOMPARE(s->messageId, 41u);
    const std::optional<Frame> d = target.take(FrameType::Deliver, WaitMs * 2);
    QVERIFY(d);
    QCOMPARE(d->source, QByteArrayLiteral("r582-s@ca"));
    QCOMPARE(d->target, QByteArrayLiteral("r582-t"));
    QCOMPARE(d->messageId, 41u);
    QCOMPARE(d->payload, QByteArrayLiteral("payload"));
    s = sender.next(WaitMs * 2);
    QCOMPARE(statusOf(s), DeliveryStatus::Delivered);
    QCOMPARE(s->messageId, 41u);
    QCOMPARE(s->target, QByteArrayLiteral("r582-t@cb"));
    // The target board's own answer travels back: nobody holds the name there.
    sender.sendTo("nobody@cb", "x", 42);
    QCOMPARE(statusOf(sender.next()), DeliveryStatus::Held);
    s = sender.next(WaitMs * 2);
    QCOMPARE(statusOf(s), DeliveryStatus::NoSuchClient);
    QCOMPARE(s->messageId, 42u);
    QVERIFY(sender.quietFor(200)); // exactly one final status each
}

void tst_ConformanceMessaging::R_5_8_3_remoteTimeoutAndOlderClients()
{
    MosquittoProcess mqtt;
    QVERIFY(mqtt.start());
    QTemporaryDir spools;
    BrokerProcess a;
    QVERIFY(startBoard(a, "ta", mqtt, spools.path(), "status_timeout_ms = 300\n"));
    Conn modern, old;
    QVERIFY(modern.tcp(a.tcpPort()));
    QVERIFY(registerWithFeatures(modern, "r583-m", FeatureRemoteNames));
    QVERIFY(old.tcp(a.tcpPort()));
    QVERIFY(old.registerAs("r583-o"));
    modern.sendTo("x@nowhere", "a", 1);
    old.sendTo("x@nowhere", "b", 2);
    std::optional<Frame> s = modern.next(WaitMs);
    QCOMPARE(statusOf(s), DeliveryStatus::RemoteTimeout); // no `held`: it did not list held_status
    QCOMPARE(s->messageId, 1u);
    s = old.next(WaitMs);
    QCOMPARE(statusOf(s), DeliveryStatus::NoSuchClient); // a status it knows
    QCOMPARE(s->messageId, 2u);
}

QTEST_MAIN(tst_ConformanceMessaging)
#include "tst_conformance_messaging.moc"
