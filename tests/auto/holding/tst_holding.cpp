// HoldTable and ExpectedNames (broker/holding/) without a broker: every bound at its edge, the
// order kept, expiry by a clock the test moves, the broker-wide budget kept in step. What would
// make each check fail is said where it is not obvious.
#include "deliveryledger.h"
#include "expectednames.h"
#include "holdtable.h"
#include "memorybudget.h"

#include <QTest>

using namespace Kennel;
using namespace std::chrono_literals;

class tst_Holding : public QObject
{
    Q_OBJECT

private slots:
    void heldInOrderAndTakenOnce();
    void countBoundAtItsEdge();
    void bytesBoundAtItsEdge();
    void totalBoundAtItsEdge();
    void expiryByTtl();
    void budgetFollowsEveryPath();
    void summaries();
    void expectedListedAndServices();
    void expectedLostWindow();
    void lostNamesAreBounded();
    void heldAgainAtTheFrontInOrder();
    void heldAgainWithinTheBounds();
    void ledgerAcknowledgesCumulativelyAcrossItsRing();
    void ledgerBoundsAtTheirEdges();
    void holdPatternsMatchWholeNames();

private:
    static HoldTable::Message message(const QByteArray &target, int id, int size = 1)
    {
        HoldTable::Message m;
        m.target = target;
        m.source = "sender";
        m.messageId = quint32(id);
        m.payload = QByteArray(size, 'x');
        return m;
    }
    static HoldLimits limits(int count, qint64 bytes, std::chrono::milliseconds ttl = 1000ms)
    {
        HoldLimits l;
        l.maxCount = count;
        l.maxBytes = bytes;
        l.ttl = ttl;
        return l;
    }
    const HoldTable::Clock::time_point t0 = HoldTable::Clock::now();
};

void tst_Holding::heldInOrderAndTakenOnce()
{
    MemoryBudget budget("held");
    HoldTable table(budget);
    for (int i = 1; i <= 5; ++i) {
        QCOMPARE(table.hold(message("a", i), limits(10, 100), t0), HoldTable::Verdict::Held);
        QCOMPARE(table.hold(message("b", 100 + i), limits(10, 100), t0), HoldTable::Verdict::Held);
    }
    QCOMPARE(table.count(), 10);
    std::deque<HoldTable::Message> a = table.take("a");
    QCOMPARE(int(a.size()), 5);
    for (int i = 0; i < 5; ++i)
        QCOMPARE(a[size_t(i)].messageId, quint32(i + 1));
    QVERIFY(table.take("a").empty()); // taken once: a second registration gets nothing twice
    QCOMPARE(table.count(), 5);
    QCOMPARE(int(table.take("b").size()), 5);
    QCOMPARE(table.counters().held, quint64(10));
    QCOMPARE(table.counters().flushed, quint64(10));
}

void tst_Holding::countBoundAtItsEdge()
{
    MemoryBudget budget("held");
    HoldTable table(budget);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(table.hold(message("a", i), limits(3, 1000), t0), HoldTable::Verdict::Held);
    // The fourth is the newest: it is the one refused, the three keep their place.
    QCOMPARE(table.hold(message("a", 3), limits(3, 1000), t0), HoldTable::Verdict::OverNameCount);
    QCOMPARE(table.summary("a")->count, 3);
    QCOMPARE(table.counters().droppedNameCount, quint64(1));
    // Per name: another name still has its own room.
    QCOMPARE(table.hold(message("b", 0), limits(3, 1000), t0), HoldTable::Verdict::Held);
    const std::deque<HoldTable::Message> a = table.take("a");
    QCOMPARE(a.back().messageId, quint32(2));
}

void tst_Holding::bytesBoundAtItsEdge()
{
    MemoryBudget budget("held");
    HoldTable table(budget);
    QCOMPARE(table.hold(message("a", 0, 60), limits(100, 100), t0), HoldTable::Verdict::Held);
    // 60 + 41 is one byte over; 60 + 40 is exactly the bound and is taken.
    QCOMPARE(table.hold(message("a", 1, 41), limits(100, 100), t0), HoldTable::Verdict::OverNameBytes);
    QCOMPARE(table.hold(message("a", 2, 40), limits(100, 100), t0), HoldTable::Verdict::Held);
    QCOMPARE(table.summary("a")->bytes, qint64(100));
    QCOMPARE(table.hold(message("a", 3, 0), limits(100, 100), t0), HoldTable::Verdict::Held); // an empty payload costs nothing
    QCOMPARE(table.hold(message("a", 4, 1), limits(100, 100), t0), HoldTable::Verdict::OverNameBytes);
    QCOMPARE(table.counters().droppedNameBytes, quint64(2));
}

void tst_Holding::totalBoundAtItsEdge()
{
    MemoryBudget budget("held");
    budget.setLimit(150);
    HoldTable table(budget);
    QCOMPARE(table.hold(message("a", 0, 100), limits(100, 1000), t0), HoldTable::Verdict::Held);
    QCOMPARE(table.hold(message("b", 0, 51), limits(100, 1000), t0), HoldTable::Verdict::OverTotal);
    QCOMPARE(table.hold(message("b", 1, 50), limits(100, 1000), t0), HoldTable::Verdict::Held);
    QCOMPARE(budget.used(), qint64(150));
    QVERIFY(!budget.isOver());
    QCOMPARE(table.hold(message("c", 0, 1), limits(100, 1000), t0), HoldTable::Verdict::OverTotal);
    QCOMPARE(table.counters().droppedTotal, quint64(2));
    // Room again once a name is delivered.
    table.take("a");
    QCOMPARE(table.hold(message("c", 1, 100), limits(100, 1000), t0), HoldTable::Verdict::Held);
}

void tst_Holding::expiryByTtl()
{
    MemoryBudget budget("held");
    HoldTable table(budget);
    QVERIFY(!table.nextExpiry());
    table.hold(message("a", 1), limits(10, 100, 100ms), t0);
    table.hold(message("a", 2), limits(10, 100, 100ms), t0 + 50ms);
    table.hold(message("b", 1), limits(10, 100, 30ms), t0 + 10ms);
    QCOMPARE(*table.nextExpiry(), t0 + 40ms);
    QVERIFY(table.expire(t0 + 39ms).empty()); // one millisecond early: nothing
    std::vector<HoldTable::Message> gone = table.expire(t0 + 40ms);
    QCOMPARE(int(gone.size()), 1);
    QCOMPARE(gone[0].target, QByteArray("b"));
    QCOMPARE(*table.nextExpiry(), t0 + 100ms);
    gone = table.expire(t0 + 100ms);
    QCOMPARE(int(gone.size()), 1);
    QCOMPARE(gone[0].messageId, quint32(1));
    QCOMPARE(table.summary("a")->count, 1);
    gone = table.expire(t0 + 1h);
    QCOMPARE(int(gone.size()), 1);
    QVERIFY(!table.nextExpiry());
    QCOMPARE(table.counters().expired, quint64(3));
    QCOMPARE(table.count(), 0);
}

void tst_Holding::budgetFollowsEveryPath()
{
    MemoryBudget budget("held");
    {
        HoldTable table(budget);
        table.hold(message("a", 1, 10), limits(10, 100, 10ms), t0);
        table.hold(message("b", 1, 20), limits(10, 100, 1000ms), t0);
        table.hold(message("c", 1, 30), limits(10, 100, 1000ms), t0);
        table.hold(message("d", 1, 40), limits(10, 100, 1000ms), t0);
        QCOMPARE(budget.used(), qint64(100));
        table.expire(t0 + 10ms);
        QCOMPARE(budget.used(), qint64(90));
        table.take("b");
        QCOMPARE(budget.used(), qint64(70));
        QCOMPARE(int(table.takeAll().size()), 1 + 1);
        QCOMPARE(budget.used(), qint64(0));
        QCOMPARE(table.bytes(), qint64(0));
        table.hold(message("e", 1, 7), limits(10, 100), t0);
    }
    QCOMPARE(budget.used(), qint64(0)); // what a table still holds leaves the budget with it
    QCOMPARE(budget.peak(), qint64(100));
}

void tst_Holding::summaries()
{
    MemoryBudget budget("held");
    HoldTable table(budget);
    table.hold(message("b", 1, 5), limits(10, 100), t0 + 5ms);
    table.hold(message("a", 1, 3), limits(10, 100), t0);
    table.hold(message("a", 2, 4), limits(10, 100), t0 + 9ms);
    const auto all = table.summaries();
    QCOMPARE(int(all.size()), 2);
    QCOMPARE(all[0].first, QByteArray("a"));
    QCOMPARE(all[0].second.count, 2);
    QCOMPARE(all[0].second.bytes, qint64(7));
    QVERIFY(all[0].second.oldest == t0);
    QVERIFY(!table.summary("c"));
}

void tst_Holding::expectedListedAndServices()
{
    ExpectedNames names;
    const auto now = ExpectedNames::Clock::now();
    QCOMPARE(names.why("x", now), ExpectedNames::Why::NotExpected);
    names.setListed({"x", "y"});
    QCOMPARE(names.why("x", now), ExpectedNames::Why::Listed);
    QCOMPARE(names.why("X", now), ExpectedNames::Why::NotExpected); // names are case sensitive
    names.setServiceExpected("svc", true);
    QCOMPARE(names.why("svc", now), ExpectedNames::Why::Service);
    names.noteRegistered("svc"); // a registration does not end a service's expectation: it may restart
    QCOMPARE(names.why("svc", now), ExpectedNames::Why::Service);
    names.setServiceExpected("svc", false);
    QCOMPARE(names.why("svc", now), ExpectedNames::Why::NotExpected);
    names.setListed({});
    QVERIFY(!names.isExpected("x", now));
}

void tst_Holding::expectedLostWindow()
{
    ExpectedNames names;
    const auto now = ExpectedNames::Clock::now();
    names.noteLost("gone", now + 100ms);
    QCOMPARE(names.why("gone", now), ExpectedNames::Why::Lost);
    QCOMPARE(names.why("gone", now + 99ms), ExpectedNames::Why::Lost);
    QCOMPARE(names.why("gone", now + 100ms), ExpectedNames::Why::NotExpected); // the window is half-open
    names.noteRegistered("gone");
    QCOMPARE(names.why("gone", now), ExpectedNames::Why::NotExpected); // back: the loss is over
    names.noteLost("stopped", now + 100ms);
    names.forgetLost("stopped");
    QCOMPARE(names.why("stopped", now), ExpectedNames::Why::NotExpected);
}

void tst_Holding::lostNamesAreBounded()
{
    ExpectedNames names;
    const auto now = ExpectedNames::Clock::now();
    for (size_t i = 0; i < ExpectedNames::MaxLost + 10; ++i)
        names.noteLost(QByteArray("n" + QByteArray::number(qulonglong(i))), now + 1h + std::chrono::milliseconds(i));
    QCOMPARE(names.lostCount(), ExpectedNames::MaxLost);
    // The ones that end first went first; the newest are kept.
    QVERIFY(!names.isExpected("n0", now));
    QVERIFY(names.isExpected(QByteArray("n" + QByteArray::number(qulonglong(ExpectedNames::MaxLost + 9))), now));
}

void tst_Holding::heldAgainAtTheFrontInOrder()
{
    MemoryBudget budget("held");
    HoldTable table(budget);
    QCOMPARE(table.hold(message("a", 10), limits(10, 100), t0), HoldTable::Verdict::Held); // held since
    std::vector<HoldTable::Message> unacked{message("a", 1), message("a", 2), message("a", 3)};
    const std::vector<HoldTable::Verdict> verdicts = table.holdFront(std::move(unacked), limits(10, 100, 5000ms), t0 + 10ms);
    QCOMPARE(int(verdicts.size()), 3);
    for (HoldTable::Verdict v : verdicts)
        QCOMPARE(v, HoldTable::Verdict::Held);
    QCOMPARE(table.counters().reheld, quint64(3));
    QCOMPARE(budget.used(), qint64(4));
    const std::deque<HoldTable::Message> a = table.take("a");
    QCOMPARE(int(a.size()), 4);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(a[size_t(i)].messageId, quint32(i + 1)); // in front, in their order
    QCOMPARE(a[3].messageId, quint32(10));
    // They expire with the oldest held message when it ends sooner: a queue expires front first.
    QVERIFY(a[0].expiresAt == a[3].expiresAt);
}

void tst_Holding::heldAgainWithinTheBounds()
{
    MemoryBudget budget("held");
    HoldTable table(budget);
    QCOMPARE(table.hold(message("a", 10), limits(3, 100), t0), HoldTable::Verdict::Held);
    std::vector<HoldTable::Message> unacked{message("a", 1), message("a", 2), message("a", 3)};
    // max_count 3 with one held: the first two fit, the third is one over.
    const std::vector<HoldTable::Verdict> verdicts = table.holdFront(std::move(unacked), limits(3, 100), t0);
    QCOMPARE(verdicts[0], HoldTable::Verdict::Held);
    QCOMPARE(verdicts[1], HoldTable::Verdict::Held);
    QCOMPARE(verdicts[2], HoldTable::Verdict::OverNameCount);
    QVERIFY(!table.summary("b"));
    std::vector<HoldTable::Message> bytes{message("b", 1, 60), message("b", 2, 41), message("b", 3, 40)};
    const std::vector<HoldTable::Verdict> b = table.holdFront(std::move(bytes), limits(10, 100), t0);
    QCOMPARE(b[1], HoldTable::Verdict::OverNameBytes); // 60 + 41 is one byte over; 60 + 40 fits
    QCOMPARE(b[2], HoldTable::Verdict::Held);
    QCOMPARE(table.summary("b")->bytes, qint64(100));
    QCOMPARE(table.counters().reheld, quint64(4));
}

void tst_Holding::ledgerAcknowledgesCumulativelyAcrossItsRing()
{
    DeliveryLedger ledger(UnackedLimits{});
    quint32 recorded = 0, released = 0;
    // More than the ring's first size (64), acknowledged in batches while it wraps and grows.
    for (int round = 0; round < 5; ++round) {
        for (int i = 0; i < 50 + round * 20; ++i) {
            const QByteArray frame = QByteArray::number(++recorded);
            QVERIFY(ledger.record(frame.constData(), size_t(frame.size()), recorded));
        }
        const quint32 upTo = recorded - 7; // leave some behind
        QVERIFY(ledger.acknowledge(upTo, [&](const char *data, size_t size, quint64 connection) {
            ++released;
            QCOMPARE(QByteArray(data, qsizetype(size)), QByteArray::number(released));
            QCOMPARE(connection, quint64(released));
        }));
        QCOMPARE(quint32(ledger.acknowledged()), upTo);
        QCOMPARE(ledger.count(), size_t(7));
    }
    QVERIFY(!ledger.acknowledge(recorded + 1, [](const char *, size_t, quint64) { QFAIL("released beyond the count"); }));
    QCOMPARE(ledger.count(), size_t(7)); // a refused acknowledgement releases nothing
    const std::vector<DeliveryLedger::Entry> rest = ledger.takeAll();
    QCOMPARE(int(rest.size()), 7);
    for (int i = 0; i < 7; ++i)
        QCOMPARE(rest[size_t(i)].frame, QByteArray::number(recorded - 6 + quint32(i)));
    QCOMPARE(ledger.count(), size_t(0));
    QCOMPARE(ledger.bytes(), size_t(0));
}

void tst_Holding::holdPatternsMatchWholeNames()
{
    QVERIFY(holdPatternMatches("sensor*", "sensor"));
    QVERIFY(holdPatternMatches("sensor*", "sensor-42"));
    QVERIFY(!holdPatternMatches("sensor*", "a-sensor"));
    QVERIFY(holdPatternMatches("*", ""));
    QVERIFY(holdPatternMatches("*-gw", "north-gw"));
    QVERIFY(!holdPatternMatches("*-gw", "north-gw2"));
    QVERIFY(holdPatternMatches("s?", "s1"));
    QVERIFY(!holdPatternMatches("s?", "s"));
    QVERIFY(!holdPatternMatches("s?", "s12"));
    QVERIFY(holdPatternMatches("a*b*c", "a-b-b-c"));
    QVERIFY(!holdPatternMatches("a*b*c", "a-c-b"));
    QVERIFY(holdPatternMatches("exact", "exact"));
    QVERIFY(!holdPatternMatches("exact", "exac"));
}

void tst_Holding::ledgerBoundsAtTheirEdges()
{
    DeliveryLedger byCount(UnackedLimits{3, 1000});
    const char frame[10] = {};
    for (int i = 0; i < 3; ++i) {
        QVERIFY(!byCount.isFull(10));
        QVERIFY(byCount.record(frame, 10, 0));
    }
    QVERIFY(byCount.isFull(10)); // the fourth
    QVERIFY(byCount.acknowledge(1, [](const char *, size_t, quint64) {}));
    QVERIFY(!byCount.isFull(10));

    DeliveryLedger byBytes(UnackedLimits{100, 30});
    QVERIFY(!byBytes.isFull(40)); // an empty ledger takes any one frame, as an empty output queue does
    QVERIFY(byBytes.record(frame, 10, 0));
    QVERIFY(!byBytes.isFull(20)); // 10 + 20: exactly the bound
    QVERIFY(byBytes.isFull(21));  // one byte over
}

QTEST_APPLESS_MAIN(tst_Holding)
#include "tst_holding.moc"
