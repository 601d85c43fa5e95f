// HoldTable and ExpectedNames (broker/holding/) without a broker: every bound at its edge, the
// order kept, expiry by a clock the test moves, the broker-wide budget kept in step. What would
// make each check fail is said where it is not obvious.
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

QTEST_APPLESS_MAIN(tst_Holding)
#include "tst_holding.moc"
