// Router and NameRegistry on their own, driven through fake endpoints: what a delivery writes into
// the target (in the target's protocol), the queue bound, unknown targets, the route cache across
// takeover and release, legacy name sharing, dead holders handed back to the caller, and the
// counters. The socket-level behaviour of the same paths is in tst_broker and tst_legacyidentity.
#include "brokerconfig.h"
#include "endpoint.h"
#include "framecodec.h"
#include "legacyframe.h"
#include "localsender.h"
#include "nameregistry.h"
#include "router.h"

#include <QtTest>

#include <vector>

using namespace Kennel;

namespace {

// An endpoint whose output is a byte array and whose process is a label: two fakes with the same
// non-empty label are one process.
class FakeEndpoint final : public Endpoint
{
public:
    FakeEndpoint(QByteArray name, Protocol protocol, QByteArray process = {})
        : process(std::move(process))
    {
        m_name = std::move(name);
        m_protocol = protocol;
    }

    QString describe() const override { return QStringLiteral("fake '%1'").arg(QString::fromLatin1(m_name)); }
    size_t pendingOutput() const override { return size_t(out.size()) - consumed; }
    char *reserveOutput(size_t n) override
    {
        if (refuseReserve)
            return nullptr;
        reserved = n;
        const qsizetype at = out.size();
        out.resize(at + qsizetype(n));
        return out.data() + at;
    }
    void commitOutput(size_t n) override
    {
        QCOMPARE(n, reserved); // the router commits exactly what it reserved
        ++commits;
    }
    bool isPeerGone() const override { return gone; }
    bool sameProcessAs(Endpoint &other, QString *why) override
    {
        auto *fake = dynamic_cast<FakeEndpoint *>(&other);
        if (fake && !process.isEmpty() && fake->process == process)
            return true;
        if (why)
            *why = QStringLiteral("it belongs to another process");
        return false;
    }
    void evict(const QString &detail) override
    {
        ++evictions;
        evictedWith = detail;
    }

    // The next frame in the output, as a reader would take it.
    QByteArray takeFrame(size_t size)
    {
        const QByteArray frame = out.mid(qsizetype(consumed), qsizetype(size));
        consumed += size;
        return frame;
    }

    QByteArray process;
    QByteArray out;
    size_t consumed = 0;
    size_t reserved = 0;
    int commits = 0;
    bool refuseReserve = false;
    bool gone = false;
    int evictions = 0;
    QString evictedWith;
};

class RecordingTap final : public TrafficTap
{
public:
    struct Record
    {
        QByteArray sender;
        QByteArray target;
        QByteArray payload;
        DeliveryStatus status;
    };
    void record(const Endpoint &sender, QByteArrayView target, QByteArrayView payload, DeliveryStatus status) override
    {
        records.push_back({sender.name(), target.toByteArray(), payload.toByteArray(), status});
    }
    std::vector<Record> records;
};

QByteArray legacyFrame(QByteArrayView target, QByteArrayView source, QByteArrayView msg)
{
    QByteArray frame(Legacy::FrameSize, '\0');
    Legacy::encode(frame.data(), Legacy::Command::Forward, 0, target, source, msg);
    return frame;
}

size_t deliverSize(QByteArrayView source, QByteArrayView target, QByteArrayView payload)
{
    return size_t(Wire::HeaderSize + source.size() + target.size() + payload.size());
}

// A broker's routing tables with nothing around them.
struct Tables
{
    Tables() : router(config, registry) {}

    // Registers `endpoint` as the receiver of its name; fails the test if it does not register.
    void receive(FakeEndpoint &endpoint)
    {
        const NameRegistry::Claim claim = registry.registerReceiver(endpoint.name(), &endpoint);
        QCOMPARE(claim.outcome, NameRegistry::Outcome::Registered);
        QCOMPARE(endpoint.nameEntry(), claim.entry);
    }

    BrokerConfig config;
    NameRegistry registry;
    Router router;
};

} // namespace

class tst_Routing : public QObject
{
    Q_OBJECT
private slots:
    void deliversNativeFrameToNativeTarget();
    void deliversLegacyFrameToLegacyTarget_data();
    void deliversLegacyFrameToLegacyTarget();
    void legacyFieldTravelsWholeBetweenLegacyPrograms();
    void refusesWhatLegacyTargetCannotCarry_data();
    void refusesWhatLegacyTargetCannotCarry();
    void unknownTarget();
    void queueBound();
    void emptyQueueTakesLargestFrame();
    void frameLargerThanAnyQueueIsRefused();
    void reserveFailureCountsAsQueueFull();
    void shuttingDownRefusesEverything();
    void routeCacheFollowsRelease();
    void routeCacheFollowsTakeover();
    void liveHolderKeepsName();
    void deadHolderIsReturnedNotEnded();
    void deadLegacySenderIsReturnedOnBind();
    void legacyNameSharing();
    void alreadyBound();
    void holdersOfOneClient();
    void localSenderReachesTargets();
    void tapSeesEveryOutcome();
};

void tst_Routing::deliversNativeFrameToNativeTarget()
{
    Tables t;
    FakeEndpoint alice("alice", Endpoint::Protocol::Native);
    FakeEndpoint bob("bob", Endpoint::Protocol::Native);
    t.receive(bob);

    QCOMPARE(t.router.routeNative(alice, "bob", 7, "hello"), DeliveryStatus::Delivered);
    QCOMPARE(bob.commits, 1);
    QCOMPARE(bob.pendingOutput(), deliverSize("alice", "bob", "hello"));
    const DecodeResult decoded = decodeFrame(bob.out, t.config.maxFrameSize);
    QCOMPARE(decoded.error, DecodeError::None);
    QCOMPARE(size_t(decoded.consumed), bob.pendingOutput());
    QCOMPARE(decoded.frame.type, FrameType::Deliver);
    QCOMPARE(decoded.frame.messageId, 7u);
    QCOMPARE(decoded.frame.source.toByteArray(), QByteArray("alice"));
    QCOMPARE(decoded.frame.target.toByteArray(), QByteArray("bob"));
    QCOMPARE(decoded.frame.payload.toByteArray(), QByteArray("hello"));

    QCOMPARE(alice.counters.messagesIn, 1u);
    QCOMPARE(alice.counters.bytesIn, 5u);
    QCOMPARE(alice.counters.messagesOut, 0u);
    QCOMPARE(bob.counters.messagesOut, 1u);
    QCOMPARE(bob.counters.bytesOut, 5u);
    QCOMPARE(bob.counters.messagesIn, 0u);
    QCOMPARE(t.router.totals().messagesIn, 1u);
    QCOMPARE(t.router.totals().messagesOut, 1u);
    QCOMPARE(t.router.totals().bytesOut, 5u);
    QCOMPARE(t.router.totals().undeliveredTotal(), 0u);
}

void tst_Routing::deliversLegacyFrameToLegacyTarget_data()
{
    QTest::addColumn<QByteArray>("payload");
    QTest::newRow("short") << QByteArray("hello");
    QTest::newRow("empty") << QByteArray();
    QTest::newRow("511 bytes") << QByteArray(Legacy::MaxTextLength, 'x');
}

void tst_Routing::deliversLegacyFrameToLegacyTarget()
{
    QFETCH(QByteArray, payload);
    Tables t;
    FakeEndpoint alice("alice", Endpoint::Protocol::Native);
    FakeEndpoint old("old", Endpoint::Protocol::Legacy);
    t.receive(old);

    QCOMPARE(t.router.routeNative(alice, "old", 1, payload), DeliveryStatus::Delivered);
    QCOMPARE(old.pendingOutput(), size_t(Legacy::FrameSize));
    const Legacy::DecodeResult decoded = Legacy::decode(old.out);
    QCOMPARE(decoded.error, Legacy::DecodeError::None);
    QCOMPARE(decoded.frame.command, Legacy::Command::Forward);
    QCOMPARE(decoded.frame.target.toByteArray(), QByteArray("old"));
    QCOMPARE(decoded.frame.source.toByteArray(), QByteArray("alice"));
    QCOMPARE(decoded.frame.text().toByteArray(), payload);
    QCOMPARE(old.counters.bytesOut, quint64(payload.size()));
}

void tst_Routing::legacyFieldTravelsWholeBetweenLegacyPrograms()
{
    Tables t;
    FakeEndpoint sender("oldsend", Endpoint::Protocol::Legacy);
    FakeEndpoint old("old", Endpoint::Protocol::Legacy);
    FakeEndpoint fresh("fresh", Endpoint::Protocol::Native);
    t.receive(old);
    t.receive(fresh);
    // Binary data behind the text's NUL: a legacy receiver gets all 512 bytes, a native one the text.
    QByteArray msg(Legacy::MsgFieldSize, '\0');
    msg.replace(0, 4, "text");
    for (int i = 5; i < msg.size(); ++i)
        msg[i] = char(i);
    const QByteArray toOld = legacyFrame("old", "oldsend", msg);
    const Legacy::DecodeResult in = Legacy::decode(toOld);
    QCOMPARE(in.error, Legacy::DecodeError::None);
    QCOMPARE(t.router.routeLegacy(sender, in.frame), DeliveryStatus::Delivered);
    const Legacy::DecodeResult out = Legacy::decode(old.out);
    QCOMPARE(out.error, Legacy::DecodeError::None);
    QCOMPARE(out.frame.msgField.toByteArray(), msg);

    const QByteArray toFresh = legacyFrame("fresh", "oldsend", msg);
    QCOMPARE(t.router.routeLegacy(sender, Legacy::decode(toFresh).frame), DeliveryStatus::Delivered);
    const DecodeResult native = decodeFrame(fresh.out, t.config.maxFrameSize);
    QCOMPARE(native.error, DecodeError::None);
    QCOMPARE(native.frame.payload.toByteArray(), QByteArray("text"));
    // Legacy messages are numbered by the router, one after the other.
    QVERIFY(native.frame.messageId > 0);
    QCOMPARE(sender.counters.messagesIn, 2u);
}

void tst_Routing::refusesWhatLegacyTargetCannotCarry_data()
{
    QTest::addColumn<QByteArray>("sender");
    QTest::addColumn<QByteArray>("payload");
    QTest::addColumn<DeliveryStatus>("status");
    QTest::newRow("sender name over 9") << QByteArray("tenletters") << QByteArray("hi") << DeliveryStatus::SenderNameUnfit;
    QTest::newRow("text over 511") << QByteArray("alice") << QByteArray(Legacy::MaxTextLength + 1, 'x')
                                   << DeliveryStatus::TooLargeForTarget;
}

void tst_Routing::refusesWhatLegacyTargetCannotCarry()
{
    QFETCH(QByteArray, sender);
    QFETCH(QByteArray, payload);
    QFETCH(DeliveryStatus, status);
    Tables t;
    FakeEndpoint from(sender, Endpoint::Protocol::Native);
    FakeEndpoint old("old", Endpoint::Protocol::Legacy);
    t.receive(old);

    QCOMPARE(t.router.routeNative(from, "old", 1, payload), status);
    QCOMPARE(old.pendingOutput(), size_t(0));
    QCOMPARE(old.commits, 0);
    QCOMPARE(old.droppedTowards, 1u);
    QCOMPARE(old.counters.messagesOut, 0u);
    QCOMPARE(from.counters.undelivered[size_t(status)], 1u);
    QCOMPARE(t.router.totals().undelivered[size_t(status)], 1u);
}

void tst_Routing::unknownTarget()
{
    Tables t;
    FakeEndpoint alice("alice", Endpoint::Protocol::Native);
    QCOMPARE(t.router.routeNative(alice, "nobody", 1, "hi"), DeliveryStatus::NoSuchClient);
    QCOMPARE(alice.counters.messagesIn, 1u);
    QCOMPARE(alice.counters.undelivered[size_t(DeliveryStatus::NoSuchClient)], 1u);
    QCOMPARE(t.router.totals().messagesOut, 0u);
    QCOMPARE(alice.routeCache.entry, nullptr); // a miss caches nothing
}

void tst_Routing::queueBound()
{
    Tables t;
    t.config.maxOutputQueueBytes = 1000;
    FakeEndpoint alice("alice", Endpoint::Protocol::Native);
    FakeEndpoint bob("bob", Endpoint::Protocol::Native);
    t.receive(bob);
    const QByteArray payload(400, 'p');
    const size_t frame = deliverSize("alice", "bob", payload);

    QCOMPARE(t.router.routeNative(alice, "bob", 1, payload), DeliveryStatus::Delivered);
    QCOMPARE(t.router.routeNative(alice, "bob", 2, payload), DeliveryStatus::Delivered);
    QVERIFY(3 * frame > 1000);
    QCOMPARE(t.router.routeNative(alice, "bob", 3, payload), DeliveryStatus::TargetQueueFull);
    QCOMPARE(bob.pendingOutput(), 2 * frame);
    QCOMPARE(bob.droppedTowards, 1u);
    QCOMPARE(alice.counters.undelivered[size_t(DeliveryStatus::TargetQueueFull)], 1u);

    // The reader takes one frame: there is room again, exactly at the bound's edge.
    bob.takeFrame(frame);
    QCOMPARE(t.router.routeNative(alice, "bob", 4, payload), DeliveryStatus::Delivered);
    QCOMPARE(bob.counters.messagesOut, 3u);
}

void tst_Routing::emptyQueueTakesLargestFrame()
{
    Tables t;
    t.config.maxOutputQueueBytes = 100;
    FakeEndpoint alice("alice", Endpoint::Protocol::Native);
    FakeEndpoint bob("bob", Endpoint::Protocol::Native);
    t.receive(bob);
    // Larger than the bound, but an empty queue takes any frame a legal Send can produce.
    const QByteArray payload(500, 'p');
    QCOMPARE(t.router.routeNative(alice, "bob", 1, payload), DeliveryStatus::Delivered);
    QCOMPARE(t.router.routeNative(alice, "bob", 2, "x"), DeliveryStatus::TargetQueueFull);
}

void tst_Routing::frameLargerThanAnyQueueIsRefused()
{
    Tables t;
    t.config.maxOutputQueueBytes = 100;
    t.config.maxFrameSize = 256;
    FakeEndpoint alice("alice", Endpoint::Protocol::Native);
    FakeEndpoint bob("bob", Endpoint::Protocol::Native);
    t.receive(bob);
    const QByteArray payload(int(t.config.maxFrameSize) + Wire::MaxNameLength, 'p');
    QCOMPARE(t.router.routeNative(alice, "bob", 1, payload), DeliveryStatus::TooLargeForTarget);
    QCOMPARE(bob.commits, 0);
    QCOMPARE(bob.droppedTowards, 1u);
}

void tst_Routing::reserveFailureCountsAsQueueFull()
{
    Tables t;
    FakeEndpoint alice("alice", Endpoint::Protocol::Native);
    FakeEndpoint bob("bob", Endpoint::Protocol::Native);
    t.receive(bob);
    bob.refuseReserve = true;
    QCOMPARE(t.router.routeNative(alice, "bob", 1, "hi"), DeliveryStatus::TargetQueueFull);
    QCOMPARE(bob.commits, 0);
    QCOMPARE(bob.counters.messagesOut, 0u);
}

void tst_Routing::shuttingDownRefusesEverything()
{
    Tables t;
    FakeEndpoint alice("alice", Endpoint::Protocol::Native);
    FakeEndpoint bob("bob", Endpoint::Protocol::Native);
    t.receive(bob);
    t.router.setShuttingDown(true);
    QCOMPARE(t.router.routeNative(alice, "bob", 1, "hi"), DeliveryStatus::ShuttingDown);
    QCOMPARE(bob.commits, 0);
    QCOMPARE(t.router.totals().undelivered[size_t(DeliveryStatus::ShuttingDown)], 1u);
}

void tst_Routing::routeCacheFollowsRelease()
{
    Tables t;
    FakeEndpoint alice("alice", Endpoint::Protocol::Native);
    auto bob = std::make_unique<FakeEndpoint>("bob", Endpoint::Protocol::Native);
    t.receive(*bob);
    QCOMPARE(t.router.routeNative(alice, "bob", 1, "hi"), DeliveryStatus::Delivered);
    QCOMPARE(alice.routeCache.entry, bob->nameEntry());

    const quint64 before = t.registry.generation();
    t.registry.release(bob.get());
    QCOMPARE(bob->nameEntry(), nullptr);
    QVERIFY(t.registry.generation() != before);
    QCOMPARE(t.registry.find("bob"), nullptr);
    bob.reset(); // the cached entry is gone with it: a stale cache would read freed memory (ASan)
    QCOMPARE(t.router.routeNative(alice, "bob", 2, "hi"), DeliveryStatus::NoSuchClient);

    FakeEndpoint bob2("bob", Endpoint::Protocol::Native);
    t.receive(bob2);
    QCOMPARE(t.router.routeNative(alice, "bob", 3, "hi"), DeliveryStatus::Delivered);
    QCOMPARE(bob2.counters.messagesOut, 1u);
}

void tst_Routing::routeCacheFollowsTakeover()
{
    Tables t;
    FakeEndpoint alice("alice", Endpoint::Protocol::Native);
    FakeEndpoint bob("bob", Endpoint::Protocol::Native);
    FakeEndpoint bob2("bob", Endpoint::Protocol::Native);
    t.receive(bob);
    QCOMPARE(t.router.routeNative(alice, "bob", 1, "hi"), DeliveryStatus::Delivered);
    bob.gone = true;
    const NameRegistry::Claim claim = t.registry.registerReceiver("bob", &bob2);
    QCOMPARE(claim.outcome, NameRegistry::Outcome::TookOver);
    // Messages after the takeover go to the newcomer, never to the dead holder.
    QCOMPARE(t.router.routeNative(alice, "bob", 2, "hi"), DeliveryStatus::Delivered);
    QCOMPARE(bob.counters.messagesOut, 1u);
    QCOMPARE(bob2.counters.messagesOut, 1u);
    QCOMPARE(alice.routeCache.entry, claim.entry);
}

void tst_Routing::liveHolderKeepsName()
{
    Tables t;
    FakeEndpoint bob("bob", Endpoint::Protocol::Native, "p1");
    FakeEndpoint intruder("bob", Endpoint::Protocol::Native, "p1");
    t.receive(bob);
    const NameRegistry::Claim claim = t.registry.registerReceiver("bob", &intruder);
    QCOMPARE(claim.outcome, NameRegistry::Outcome::Taken);
    QCOMPARE(claim.why, QStringLiteral("another connection receives for it"));
    QCOMPARE(claim.entry, nullptr);
    QVERIFY(claim.evicted.empty());
    QCOMPARE(intruder.nameEntry(), nullptr);
    QCOMPARE(t.registry.find("bob")->receiver, &bob);
}

void tst_Routing::deadHolderIsReturnedNotEnded()
{
    Tables t;
    FakeEndpoint bob("bob", Endpoint::Protocol::Native);
    FakeEndpoint bob2("bob", Endpoint::Protocol::Native);
    t.receive(bob);
    bob.gone = true;
    const NameRegistry::Claim claim = t.registry.registerReceiver("bob", &bob2);
    QCOMPARE(claim.outcome, NameRegistry::Outcome::TookOver);
    QCOMPARE(claim.evicted, std::vector<Endpoint *>{&bob});
    // Unbound, but not ended: that is the caller's job, once the registry is done.
    QCOMPARE(bob.evictions, 0);
    QCOMPARE(bob.nameEntry(), nullptr);
    QCOMPARE(bob2.nameEntry(), claim.entry);
    QCOMPARE(claim.entry->receiver, &bob2);
    // Ending the dead holder later leaves the newcomer's name alone (release() of an unbound one).
    t.registry.release(&bob);
    QCOMPARE(t.registry.find("bob"), claim.entry);

    endEvicted(claim, "bob", bob2);
    QCOMPARE(bob.evictions, 1);
    QCOMPARE(bob.evictedWith, QStringLiteral("name bob taken over by fake 'bob'"));
}

void tst_Routing::deadLegacySenderIsReturnedOnBind()
{
    Tables t;
    FakeEndpoint dead("old", Endpoint::Protocol::Legacy, "p1");
    FakeEndpoint restarted("old", Endpoint::Protocol::Legacy, "p2");
    QCOMPARE(t.registry.bindLegacySender("old", &dead).outcome, NameRegistry::Outcome::Registered);
    // Another process may not send under the name while its holder lives...
    const NameRegistry::Claim refused = t.registry.bindLegacySender("old", &restarted);
    QCOMPARE(refused.outcome, NameRegistry::Outcome::Taken);
    QCOMPARE(refused.why, QStringLiteral("it belongs to another process"));
    // ...and takes it once the holder's peer is gone.
    dead.gone = true;
    const NameRegistry::Claim claim = t.registry.bindLegacySender("old", &restarted);
    QCOMPARE(claim.outcome, NameRegistry::Outcome::TookOver);
    QCOMPARE(claim.evicted, std::vector<Endpoint *>{&dead});
    QCOMPARE(claim.entry->legacySenders, std::vector<Endpoint *>{&restarted});
    QCOMPARE(dead.nameEntry(), nullptr);
}

void tst_Routing::legacyNameSharing()
{
    Tables t;
    FakeEndpoint alice("alice", Endpoint::Protocol::Native);
    FakeEndpoint mainConn("old", Endpoint::Protocol::Legacy, "p1");
    FakeEndpoint receiveConn("old", Endpoint::Protocol::Legacy, "p1");
    FakeEndpoint secondMain("old", Endpoint::Protocol::Legacy, "p1");
    FakeEndpoint stranger("old", Endpoint::Protocol::Legacy, "p2");

    // A main connection binding first does not receive: nothing is delivered to the name yet.
    QCOMPARE(t.registry.bindLegacySender("old", &mainConn).outcome, NameRegistry::Outcome::Registered);
    QCOMPARE(t.router.routeNative(alice, "old", 1, "hi"), DeliveryStatus::NoSuchClient);
    // Its own process's receive connection and further main connections join it.
    QCOMPARE(t.registry.registerReceiver("old", &receiveConn).outcome, NameRegistry::Outcome::Registered);
    QCOMPARE(t.registry.bindLegacySender("old", &secondMain).outcome, NameRegistry::Outcome::Registered);
    QCOMPARE(t.router.routeNative(alice, "old", 2, "hi"), DeliveryStatus::Delivered);
    QCOMPARE(receiveConn.counters.messagesOut, 1u);
    QCOMPARE(mainConn.commits, 0);
    // Another process cannot send under it, nor receive for it.
    QCOMPARE(t.registry.bindLegacySender("old", &stranger).outcome, NameRegistry::Outcome::Taken);
    QCOMPARE(t.registry.registerReceiver("old", &stranger).outcome, NameRegistry::Outcome::Taken);

    // The name lives until its last holder leaves.
    t.registry.release(&receiveConn);
    t.registry.release(&mainConn);
    QVERIFY(t.registry.find("old"));
    t.registry.release(&secondMain);
    QCOMPARE(t.registry.find("old"), nullptr);
    QCOMPARE(t.registry.size(), size_t(0));
}

void tst_Routing::alreadyBound()
{
    Tables t;
    FakeEndpoint bob("bob", Endpoint::Protocol::Native);
    t.receive(bob);
    const NameRegistry::Claim again = t.registry.registerReceiver("bob", &bob);
    QCOMPARE(again.outcome, NameRegistry::Outcome::AlreadyBound);
    QCOMPARE(again.entry, bob.nameEntry());

    FakeEndpoint old("old", Endpoint::Protocol::Legacy, "p1");
    QCOMPARE(t.registry.bindLegacySender("old", &old).outcome, NameRegistry::Outcome::Registered);
    QCOMPARE(t.registry.bindLegacySender("old", &old).outcome, NameRegistry::Outcome::AlreadyBound);
    QCOMPARE(t.registry.find("old")->legacySenders.size(), size_t(1));
}

void tst_Routing::holdersOfOneClient()
{
    Tables t;
    FakeEndpoint mainConn("old", Endpoint::Protocol::Legacy, "p1");
    FakeEndpoint receiveConn("old", Endpoint::Protocol::Legacy, "p1");
    FakeEndpoint loner("loner", Endpoint::Protocol::Native);
    QCOMPARE(t.registry.bindLegacySender("old", &mainConn).outcome, NameRegistry::Outcome::Registered);
    QCOMPARE(t.registry.registerReceiver("old", &receiveConn).outcome, NameRegistry::Outcome::Registered);
    QCOMPARE(t.registry.holdersWith(&mainConn), (std::vector<Endpoint *>{&mainConn, &receiveConn}));
    QCOMPARE(t.registry.holdersWith(&receiveConn), (std::vector<Endpoint *>{&receiveConn, &mainConn}));
    QCOMPARE(t.registry.holdersWith(&loner), std::vector<Endpoint *>{&loner});
}

void tst_Routing::localSenderReachesTargets()
{
    Tables t;
    LocalSender monitor("kennel-monitor", QStringLiteral("monitor control"));
    FakeEndpoint bob("bob", Endpoint::Protocol::Native);
    t.receive(bob);
    QCOMPARE(t.router.routeNative(monitor, "bob", 1, "test"), DeliveryStatus::Delivered);
    QCOMPARE(monitor.counters.messagesIn, 1u);
    QCOMPARE(decodeFrame(bob.out, t.config.maxFrameSize).frame.source.toByteArray(), QByteArray("kennel-monitor"));
    // It never receives.
    QCOMPARE(monitor.reserveOutput(16), nullptr);
    QCOMPARE(t.registry.find("kennel-monitor"), nullptr);
}

void tst_Routing::tapSeesEveryOutcome()
{
    Tables t;
    RecordingTap tap;
    t.router.setTap(&tap);
    FakeEndpoint alice("alice", Endpoint::Protocol::Native);
    FakeEndpoint bob("bob", Endpoint::Protocol::Native);
    t.receive(bob);
    QCOMPARE(t.router.routeNative(alice, "bob", 1, "one"), DeliveryStatus::Delivered);
    QCOMPARE(t.router.routeNative(alice, "nobody", 2, "two"), DeliveryStatus::NoSuchClient);
    t.router.tapRefused(alice, {}, "three", DeliveryStatus::InvalidTarget);
    QCOMPARE(tap.records.size(), size_t(3));
    QCOMPARE(tap.records[0].status, DeliveryStatus::Delivered);
    QCOMPARE(tap.records[0].sender, QByteArray("alice"));
    QCOMPARE(tap.records[0].payload, QByteArray("one"));
    QCOMPARE(tap.records[1].status, DeliveryStatus::NoSuchClient);
    QCOMPARE(tap.records[1].target, QByteArray("nobody"));
    QCOMPARE(tap.records[2].status, DeliveryStatus::InvalidTarget);
    // tapRefused only shows; the handler counts.
    QCOMPARE(alice.counters.messagesIn, 2u);
}

QTEST_GUILESS_MAIN(tst_Routing)
#include "tst_routing.moc"
