// Protocol conformance, PROTOCOL §6.7: held delivery in the monitor stream. One test function per
// numbered rule, named after it, each driving a real kennel-broker process of its own through raw
// sockets: what is held per name in the snapshot and on change (coalesced), held messages' final
// outcomes in traffic with the time they were held, and the totals' held block.
#include "conformancepeer.h"

#include <functional>

using namespace ConformanceTest;

namespace {

// Names expected back at any time ([hold] names), small bounds and a short time to live, and
// totals (with the held records they carry) every 200 ms.
const QByteArray HeldConfig =
    QByteArrayLiteral("[hold]\nnames = r671-t, r672-t, r673-t, r674-t\nmax_count = 3\nttl_ms = 600\n"
                      "[monitor]\ntotals_interval_ms = 200\n"
                      // watch queues that must not expire while they look.
                      "[hold.r672-t]\nttl_ms = 30000\n[hold.r674-t]\nttl_ms = 30000\n");

// A monitor admitted by its Unix peer credentials and subscribed; the snapshot's frames are left
// to read.
bool subscribeMonitor(Conn &m, BrokerProcess &broker, bool traffic)
{
    if (!m.unix(broker.unixPath()))
        return false;
    HelloPayload hello;
    hello.role = Role::Monitor;
    m.hello("r67-monitor", 1, hello);
    const std::optional<Frame> welcome = m.next();
    if (!welcome || welcome->type != FrameType::Welcome)
        return false;
    MonitorSubscribe subscribe;
    subscribe.wantTraffic = traffic;
    m.send(MonitorFrame::Subscribe, 2, {}, {}, encodeMonitorSubscribe(subscribe));
    return true;
}

// The snapshot's frames up to and including SnapshotEnd.
QList<Frame> snapshot(Conn &m)
{
    QList<Frame> frames;
    while (std::optional<Frame> f = m.next()) {
        frames.append(*f);
        if (f->type == MonitorFrame::SnapshotEnd)
            break;
    }
    return frames;
}

// The next MonitorHeld record about `name`, skipping everything else.
std::optional<MonitorHeld> nextHeld(Conn &m, const QByteArray &name, int timeoutMs = WaitMs)
{
    QElapsedTimer clock;
    clock.start();
    while (clock.elapsed() < timeoutMs) {
        const std::optional<Frame> f = m.take(MonitorFrame::Held, int(timeoutMs - clock.elapsed()));
        if (!f)
            return std::nullopt;
        std::optional<MonitorHeld> h = decodeMonitorHeld(f->payload);
        if (h && h->name == name)
            return h;
    }
    return std::nullopt;
}

// The next traffic record about messages to `target`, skipping everything else.
std::optional<MonitorTrafficRecord> nextTraffic(Conn &m, const QByteArray &target, int timeoutMs = WaitMs)
{
    QElapsedTimer clock;
    clock.start();
    static QList<MonitorTrafficRecord> pending; // records of batches read for another target
    for (;;) {
        for (qsizetype i = 0; i < pending.size(); ++i) {
            if (pending.at(i).target == target)
                return pending.takeAt(i);
        }
        if (clock.elapsed() >= timeoutMs)
            return std::nullopt;
        const std::optional<Frame> f = m.take(MonitorFrame::Traffic, int(timeoutMs - clock.elapsed()));
        if (!f)
            return std::nullopt;
        const std::optional<QList<MonitorTrafficRecord>> batch = decodeMonitorTrafficBatch(f->payload);
        if (!batch)
            return std::nullopt;
        pending.append(*batch);
    }
}

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

enum class Watch { Later, Held, Traffic };

// What each rule starts from: a broker of its own with HeldConfig and a sender registered with
// held_status; unless the rule subscribes it `Later` itself, a monitor subscribed before the
// sender came (to traffic too with `Traffic`), its snapshot read.
struct HeldRig
{
    BrokerProcess broker;
    Conn monitor;
    Conn sender;

    bool start(const QByteArray &senderName, Watch watch)
    {
        if (!startBroker(broker, HeldConfig))
            return false;
        if (watch != Watch::Later) {
            if (!subscribeMonitor(monitor, broker, watch == Watch::Traffic))
                return false;
            const QList<Frame> frames = snapshot(monitor);
            if (frames.isEmpty() || frames.last().type != MonitorFrame::SnapshotEnd)
                return false;
        }
        return sender.tcp(broker.tcpPort()) && registerWithHeldStatus(sender, senderName);
    }
};

} // namespace

class tst_ConformanceHeld : public QObject
{
    Q_OBJECT

private slots:
    void R_6_7_1_snapshotCarriesHeldNames();
    void R_6_7_2_heldChangesCoalescedAndEmptied();
    void R_6_7_3_heldOutcomesInTraffic();
    void R_6_7_4_heldTotals();
};

// a name nobody holds, with messages held for it, is in the snapshot as a monitor_held
// (after the services, before SnapshotEnd, headers as ), though it has no client record.
void tst_ConformanceHeld::R_6_7_1_snapshotCarriesHeldNames()
{
    HeldRig rig;
    QVERIFY(rig.start("r671-s", Watch::Later));
    Conn &sender = rig.sender;
    sender.sendTo("r671-t", "first", 1);
    sender.sendTo("r671-t", "second!", 2);
    QCOMPARE(statusOf(sender.next()), DeliveryStatus::Held);
    QCOMPARE(statusOf(sender.next()), DeliveryStatus::Held);

    Conn &m = rig.monitor;
    QVERIFY(subscribeMonitor(m, rig.broker, false));
    const QList<Frame> frames = snapshot(m);
    QVERIFY(!frames.isEmpty());
    QCOMPARE(frames.last().type, MonitorFrame::SnapshotEnd);
    std::optional<MonitorHeld> held;
    qsizetype heldAt = -1, lastService = -1;
    for (qsizetype i = 0; i < frames.size(); ++i) {
        const Frame &f = frames.at(i);
        if (f.type == MonitorFrame::Service)
            lastService = i;
        if (f.type == MonitorFrame::Client)
            QVERIFY(decodeMonitorClient(f.payload)->name != "r671-t");
        if (f.type != MonitorFrame::Held)
            continue;
        QCOMPARE(f.messageId, 0u);
        QVERIFY(f.source.isEmpty());
        QVERIFY(f.target.isEmpty());
        held = decodeMonitorHeld(f.payload);
        heldAt = i;
    }
    QVERIFY2(held, "no monitor_held in the snapshot");
    QVERIFY(heldAt > lastService);
    QCOMPARE(held->name, QByteArrayLiteral("r671-t"));
    QCOMPARE(held->count, 2u);
    QCOMPARE(held->bytes, quint64(5 + 7));
    QVERIFY(held->oldestAgeMs >= 0 && held->oldestAgeMs < 600);
    QVERIFY2(held->nextExpiryMs > 0 && held->nextExpiryMs <= 600, qPrintable(QString::number(held->nextExpiryMs)));
}

// a burst of holds makes one record per name with the totals that follow (not one per
// message); the name's registration, which takes what was held, makes a record with count 0.
void tst_ConformanceHeld::R_6_7_2_heldChangesCoalescedAndEmptied()
{
    HeldRig rig;
    QVERIFY(rig.start("r672-s", Watch::Held));
    Conn &m = rig.monitor;
    Conn &sender = rig.sender;
    // Three Sends in one write: the broker holds them in one pass, well within one totals interval.
    QByteArray burst;
    for (quint32 id = 1; id <= 3; ++id)
        appendFrame(burst, FrameType::Send, id, WantDeliveryStatus, {}, "r672-t", QByteArray("m" + QByteArray::number(id)));
    sender.write(burst);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(statusOf(sender.next()), DeliveryStatus::Held);
    const std::optional<MonitorHeld> first = nextHeld(m, "r672-t");
    QVERIFY(first);
    QCOMPARE(first->count, 3u); // one record for the burst, not one per message
    QCOMPARE(first->bytes, 6u);
    // Nothing changes: no record of it with the next totals.
    QVERIFY(m.take(MonitorFrame::Totals));
    QVERIFY(m.take(MonitorFrame::Totals));
    QVERIFY(!nextHeld(m, "r672-t", 300));

    Conn receiver;
    QVERIFY(receiver.tcp(rig.broker.tcpPort()));
    QVERIFY(receiver.registerAs("r672-t"));
    const std::optional<MonitorHeld> emptied = nextHeld(m, "r672-t");
    QVERIFY(emptied);
    QCOMPARE(emptied->count, 0u);
    QCOMPARE(emptied->bytes, 0u);
    QCOMPARE(emptied->nextExpiryMs, -1);
}

// a held message shows in traffic twice: `held` when it is kept, then its final outcome
// (`delivered` to the name's new holder, `expired` at its time to live) marked in the batch's
// trailer with how long it was held; an ordinary record carries no mark.
void tst_ConformanceHeld::R_6_7_3_heldOutcomesInTraffic()
{
    HeldRig rig;
    QVERIFY(rig.start("r673-s", Watch::Traffic));
    Conn &m = rig.monitor;
    Conn &sender = rig.sender;

    QElapsedTimer sinceSent;
    sinceSent.start();
    sender.sendTo("r673-t", "to deliver", 1);
    QCOMPARE(statusOf(sender.next()), DeliveryStatus::Held);
    std::optional<MonitorTrafficRecord> r = nextTraffic(m, "r673-t");
    QVERIFY(r);
    QCOMPARE(r->status, DeliveryStatus::Held);
    QCOMPARE(r->heldMs, -1);
    {
        Conn receiver;
        QVERIFY(receiver.tcp(rig.broker.tcpPort()));
        QVERIFY(receiver.registerAs("r673-t"));
        QCOMPARE(receiver.next()->payload, QByteArrayLiteral("to deliver"));
        QCOMPARE(statusOf(sender.next()), DeliveryStatus::Delivered);
        r = nextTraffic(m, "r673-t");
        QVERIFY(r);
        QCOMPARE(r->status, DeliveryStatus::Delivered);
        QCOMPARE(r->source, QByteArrayLiteral("r673-s"));
        QCOMPARE(r->preview, QByteArrayLiteral("to deliver"));
        // Held from the Send until the registration: no longer than this test has waited.
        QVERIFY2(r->heldMs >= 0 && r->heldMs <= sinceSent.elapsed(), qPrintable(QString::number(r->heldMs)));
        // Sent while it is registered: an ordinary record.
        sender.sendTo("r673-t", "direct", 2);
        QCOMPARE(statusOf(sender.next()), DeliveryStatus::Delivered);
        r = nextTraffic(m, "r673-t");
        QVERIFY(r);
        QCOMPARE(r->status, DeliveryStatus::Delivered);
        QCOMPARE(r->heldMs, -1);
        receiver.send(FrameType::Bye, 9, {}, {}, {});
        QVERIFY(receiver.closed());
    }
    // Gone again; a listed name is expected back at any time: held, and expired at ttl_ms.
    sender.sendTo("r673-t", "to expire", 3);
    QCOMPARE(statusOf(sender.next()), DeliveryStatus::Held);
    r = nextTraffic(m, "r673-t");
    QVERIFY(r);
    QCOMPARE(r->status, DeliveryStatus::Held);
    r = nextTraffic(m, "r673-t", 3000);
    QVERIFY(r);
    QCOMPARE(r->status, DeliveryStatus::Expired);
    QCOMPARE(r->preview, QByteArrayLiteral("to expire"));
    QVERIFY2(r->heldMs >= 590 && r->heldMs < 3000, qPrintable(QString::number(r->heldMs)));
}

// the totals' held block counts what is held now and every outcome since the start.
void tst_ConformanceHeld::R_6_7_4_heldTotals()
{
    HeldRig rig;
    QVERIFY(rig.start("r674-s", Watch::Held));
    Conn &m = rig.monitor;
    Conn &sender = rig.sender;
    // max_count = 3: the fourth is dropped (dropped_name_count).
    for (quint32 id = 1; id <= 4; ++id)
        sender.sendTo("r674-t", "abcd", id);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(statusOf(sender.next()), DeliveryStatus::Held);
    QCOMPARE(statusOf(sender.next()), DeliveryStatus::DroppedNameCount);
    const auto totalsWhere = [&m](const std::function<bool(const MonitorTotals &)> &wanted) -> std::optional<MonitorTotals> {
        QElapsedTimer clock;
        clock.start();
        while (clock.elapsed() < WaitMs) {
            const std::optional<Frame> f = m.take(MonitorFrame::Totals, WaitMs);
            if (!f)
                return std::nullopt;
            const std::optional<MonitorTotals> t = decodeMonitorTotals(f->payload);
            if (t && wanted(*t))
                return t;
        }
        return std::nullopt;
    };
    // An old program's message over the same bound: dropped too, and its sender cannot be told.
    Conn old;
    QVERIFY(old.tcp(rig.broker.tcpPort()));
    old.write(legacyFrame(Legacy::Command::Forward, 0, "r674-t", "r674-o", "old"));
    std::optional<MonitorTotals> t = totalsWhere([](const MonitorTotals &t) { return t.heldDroppedNameCount == 2; });
    QVERIFY(t);
    QCOMPARE(t->heldMessages, 3u);
    QCOMPARE(t->heldBytes, 12u);
    QCOMPARE(t->heldNames, 1u);
    QCOMPARE(t->heldTotal, 3u);
    QCOMPARE(t->heldLegacyUntold, 1u);
    QCOMPARE(t->heldDelivered, 0u);
    // The name's new holder takes all three: none held, three delivered.
    Conn receiver;
    QVERIFY(receiver.tcp(rig.broker.tcpPort()));
    QVERIFY(receiver.registerAs("r674-t"));
    t = totalsWhere([](const MonitorTotals &t) { return t.heldDelivered == 3; });
    QVERIFY(t);
    QCOMPARE(t->heldMessages, 0u);
    QCOMPARE(t->heldBytes, 0u);
    QCOMPARE(t->heldNames, 0u);
    QCOMPARE(t->heldExpired, 0u);
    QCOMPARE(t->heldTotal, 3u);
}

QTEST_GUILESS_MAIN(tst_ConformanceHeld)
#include "tst_conformance_held.moc"
