// ConnectionDeadlines on a test clock with fake connections: each deadline is met at its instant
// and not one millisecond before, a stale or paused entry is not blamed, and the idle sweep pings
// at half the idle timeout and closes at the whole of it. One case runs on the real timer to show
// that the one internal QTimer drives check(). The broker-level behaviour (what the peer is told,
// the log lines) is tested through real sockets in tst_brokerlimits and tst_attackconnections.
#include "connectiondeadlines.h"

#include <QTest>

#include <map>
#include <memory>

using namespace Kennel;
using namespace std::chrono_literals;
using Clock = ConnectionDeadlines::Clock;
using Deadline = TimedConnection::Deadline;

namespace {

class FakeConnections;

// What a Session tells the deadlines, set by the test; what the deadlines do to it, recorded.
// Like a Session, a connection whose deadline passed closes: it leaves the table.
class FakeConnection final : public TimedConnection
{
public:
    FakeConnection(FakeConnections &table, quint64 id) : m_table(table), m_id(id) {}

    bool awaitsRegistration() const override { return pending; }
    bool answersPing() const override { return native; }
    bool hasIncompleteFrame() const override { return incomplete; }
    Clock::time_point incompleteFrameSince() const override { return since; }
    size_t incompleteFrameBytes() const override { return bytes; }
    bool isInputPaused() const override { return paused; }
    bool takeInputSeen() override { return std::exchange(inputSeen, false); }
    void deadlinePassed(Deadline which, const QString &text) override;
    void ping() override { ++pings; }

    bool pending = true;
    bool native = false;
    bool incomplete = false;
    Clock::time_point since;
    size_t bytes = 0;
    bool paused = false;
    bool inputSeen = false;

    int pings = 0;
    QList<Deadline> passed;
    QStringList texts;

private:
    FakeConnections &m_table;
    quint64 m_id;
};

class FakeConnections final : public TimedConnections
{
public:
    FakeConnection &add(quint64 id)
    {
        auto &slot = all[id];
        slot = std::make_unique<FakeConnection>(*this, id);
        open[id] = slot.get();
        return *slot;
    }
    TimedConnection *timedConnection(quint64 id) const override
    {
        const auto it = open.find(id);
        return it == open.end() ? nullptr : it->second;
    }
    void forEachTimed(const std::function<void(TimedConnection &)> &fn) const override
    {
        for (const auto &entry : open)
            fn(*entry.second);
    }

    std::map<quint64, std::unique_ptr<FakeConnection>> all; // closed ones stay readable
    std::map<quint64, FakeConnection *> open;
};

void FakeConnection::deadlinePassed(Deadline which, const QString &text)
{
    passed.append(which);
    texts.append(text);
    m_table.open.erase(m_id);
}

ConnectionDeadlines::Terms terms(std::chrono::milliseconds registerTimeout, std::chrono::milliseconds incomplete,
                                 std::chrono::milliseconds idle)
{
    return {registerTimeout, incomplete, idle};
}

} // namespace

class tst_ConnectionDeadlines : public QObject
{
    Q_OBJECT

private:
    Clock::time_point t0 = Clock::now();
    Clock::time_point t = t0;
    void useTestClock(ConnectionDeadlines &deadlines)
    {
        t = t0;
        deadlines.setClockForTesting([this] { return t; });
    }

private slots:
    void registerDeadline_data();
    void registerDeadline();
    void registerDeadlinesInAcceptOrder();
    void incompleteFrame();
    void incompleteFrameCompletedInTime();
    void incompleteFrameLaterFrameKeepsItsOwnDeadline();
    void incompleteFramePausedIsNotBlamed();
    void idlePingThenClose();
    void idleInputKeepsAlive();
    void idleAnsweredPingIsPingedAgainLater();
    void idleExempt_data();
    void idleExempt();
    void noIdleSweepWhenOff();
    void realTimerDrivesCheck();
    void stopDisarms();
};

void tst_ConnectionDeadlines::registerDeadline_data()
{
    QTest::addColumn<bool>("registers");
    QTest::addColumn<bool>("closes");
    QTest::addColumn<bool>("expires");
    QTest::newRow("silent") << false << false << true;
    QTest::newRow("registered in time") << true << false << false;
    QTest::newRow("closed before") << false << true << false;
}

void tst_ConnectionDeadlines::registerDeadline()
{
    QFETCH(bool, registers);
    QFETCH(bool, closes);
    QFETCH(bool, expires);
    FakeConnections table;
    ConnectionDeadlines deadlines(terms(1000ms, 10000ms, 0ms), table);
    useTestClock(deadlines);
    FakeConnection &a = table.add(1);
    deadlines.adopted(1, a);
    QCOMPARE(deadlines.nextCheck(), t0 + 1000ms);
    if (registers)
        a.pending = false;
    if (closes)
        table.open.erase(1);

    deadlines.check(t0 + 999ms);
    QVERIFY(a.passed.isEmpty());
    deadlines.check(t0 + 1000ms);
    if (expires) {
        QCOMPARE(a.passed, QList<Deadline>{Deadline::Register});
        QCOMPARE(a.texts, QStringList{QStringLiteral("no registration within 1000 ms")});
    } else {
        QVERIFY(a.passed.isEmpty());
    }
    QCOMPARE(deadlines.nextCheck(), Clock::time_point::max()); // nothing left to wait for
}

void tst_ConnectionDeadlines::registerDeadlinesInAcceptOrder()
{
    FakeConnections table;
    ConnectionDeadlines deadlines(terms(1000ms, 10000ms, 0ms), table);
    useTestClock(deadlines);
    FakeConnection &a = table.add(1);
    deadlines.adopted(1, a);
    t = t0 + 300ms;
    FakeConnection &b = table.add(2);
    deadlines.adopted(2, b);

    deadlines.check(t0 + 1000ms);
    QCOMPARE(a.passed.size(), 1);
    QVERIFY(b.passed.isEmpty());
    QCOMPARE(deadlines.nextCheck(), t0 + 1300ms);
    deadlines.check(t0 + 1299ms);
    QVERIFY(b.passed.isEmpty());
    deadlines.check(t0 + 1300ms);
    QCOMPARE(b.passed, QList<Deadline>{Deadline::Register});
}

void tst_ConnectionDeadlines::incompleteFrame()
{
    FakeConnections table;
    ConnectionDeadlines deadlines(terms(100000ms, 1000ms, 0ms), table);
    useTestClock(deadlines);
    FakeConnection &a = table.add(1);
    deadlines.adopted(1, a);
    a.pending = false;
    t = t0 + 200ms;
    a.incomplete = true;
    a.since = t;
    a.bytes = 7;
    deadlines.incompleteFrameStarted(1, a);
    QCOMPARE(deadlines.nextCheck(), t0 + 1200ms);

    deadlines.check(t0 + 1199ms);
    QVERIFY(a.passed.isEmpty());
    deadlines.check(t0 + 1200ms);
    QCOMPARE(a.passed, QList<Deadline>{Deadline::IncompleteFrame});
    QCOMPARE(a.texts, QStringList{QStringLiteral("7 bytes of a frame held for 1000 ms without the rest")});
}

void tst_ConnectionDeadlines::incompleteFrameCompletedInTime()
{
    FakeConnections table;
    ConnectionDeadlines deadlines(terms(100000ms, 1000ms, 0ms), table);
    useTestClock(deadlines);
    FakeConnection &a = table.add(1);
    deadlines.adopted(1, a);
    a.pending = false;
    a.incomplete = true;
    a.since = t0;
    deadlines.incompleteFrameStarted(1, a);
    a.incomplete = false;
    deadlines.check(t0 + 5000ms);
    QVERIFY(a.passed.isEmpty());

    // The entry is gone: a new frame gets a new one.
    t = t0 + 6000ms;
    a.incomplete = true;
    a.since = t;
    deadlines.incompleteFrameStarted(1, a);
    deadlines.check(t0 + 7000ms);
    QCOMPARE(a.passed, QList<Deadline>{Deadline::IncompleteFrame});
}

void tst_ConnectionDeadlines::incompleteFrameLaterFrameKeepsItsOwnDeadline()
{
    FakeConnections table;
    ConnectionDeadlines deadlines(terms(100000ms, 1000ms, 0ms), table);
    useTestClock(deadlines);
    FakeConnection &a = table.add(1);
    FakeConnection &b = table.add(2);
    deadlines.adopted(1, a);
    deadlines.adopted(2, b);
    a.pending = b.pending = false;
    a.incomplete = true;
    a.since = t0;
    deadlines.incompleteFrameStarted(1, a);
    // That frame completes and the next one begins at +500 ms: its entry is still queued, so the
    // new frame adds none and the old entry is put back with the new frame's deadline.
    a.since = t0 + 500ms;
    t = a.since;
    deadlines.incompleteFrameStarted(1, a);
    // Another connection's frame, due between the two.
    t = t0 + 800ms;
    b.incomplete = true;
    b.since = t;
    deadlines.incompleteFrameStarted(2, b);

    deadlines.check(t0 + 1000ms);
    QVERIFY(a.passed.isEmpty());
    deadlines.check(t0 + 1499ms);
    QVERIFY(a.passed.isEmpty());
    deadlines.check(t0 + 1500ms);
    QCOMPARE(a.passed, QList<Deadline>{Deadline::IncompleteFrame});
    QVERIFY(b.passed.isEmpty());
    QCOMPARE(deadlines.nextCheck(), t0 + 1800ms);
    deadlines.check(t0 + 1800ms);
    QCOMPARE(b.passed, QList<Deadline>{Deadline::IncompleteFrame});
}

void tst_ConnectionDeadlines::incompleteFramePausedIsNotBlamed()
{
    FakeConnections table;
    ConnectionDeadlines deadlines(terms(100000ms, 1000ms, 0ms), table);
    useTestClock(deadlines);
    FakeConnection &a = table.add(1);
    deadlines.adopted(1, a);
    a.pending = false;
    a.incomplete = true;
    a.since = t0;
    a.paused = true;
    deadlines.incompleteFrameStarted(1, a);

    // Not read by the broker: the rest may wait in the kernel. Looked at again a timeout later.
    deadlines.check(t0 + 1000ms);
    QVERIFY(a.passed.isEmpty());
    QCOMPARE(deadlines.nextCheck(), t0 + 2000ms);
    a.paused = false;
    deadlines.check(t0 + 1999ms);
    QVERIFY(a.passed.isEmpty());
    deadlines.check(t0 + 2000ms);
    QCOMPARE(a.passed, QList<Deadline>{Deadline::IncompleteFrame});
}

// Idle timeout 1000 ms: a sweep every 100 ms, half a step (50 ms) of margin. A silent native peer
// is pinged by the sweep at +600 ms and closed by the one at +1100 ms.
void tst_ConnectionDeadlines::idlePingThenClose()
{
    FakeConnections table;
    ConnectionDeadlines deadlines(terms(100000ms, 100000ms, 1000ms), table);
    useTestClock(deadlines);
    QCOMPARE(deadlines.nextCheck(), t0 + 100ms);
    FakeConnection &a = table.add(1);
    deadlines.adopted(1, a);
    a.pending = false;
    a.native = true;

    int pingedAt = -1;
    int closedAt = -1;
    for (int ms = 100; ms <= 1500 && closedAt < 0; ms += 100) {
        deadlines.check(t0 + std::chrono::milliseconds(ms));
        if (a.pings && pingedAt < 0)
            pingedAt = ms;
        if (!a.passed.isEmpty())
            closedAt = ms;
        QCOMPARE(deadlines.nextCheck(), t0 + std::chrono::milliseconds(ms + 100));
    }
    QCOMPARE(pingedAt, 600);
    QCOMPARE(closedAt, 1100);
    QCOMPARE(a.pings, 1);
    QCOMPARE(a.passed, QList<Deadline>{Deadline::Idle});
    QCOMPARE(a.texts, QStringList{QStringLiteral("nothing received for 1000 ms, Ping unanswered")});
}

void tst_ConnectionDeadlines::idleInputKeepsAlive()
{
    FakeConnections table;
    ConnectionDeadlines deadlines(terms(100000ms, 100000ms, 1000ms), table);
    useTestClock(deadlines);
    FakeConnection &a = table.add(1);
    deadlines.adopted(1, a);
    a.pending = false;
    a.native = true;
    for (int ms = 100; ms <= 5000; ms += 100) {
        if (ms % 400 == 0)
            a.inputSeen = true;
        deadlines.check(t0 + std::chrono::milliseconds(ms));
    }
    QCOMPARE(a.pings, 0);
    QVERIFY(a.passed.isEmpty());
}

void tst_ConnectionDeadlines::idleAnsweredPingIsPingedAgainLater()
{
    FakeConnections table;
    ConnectionDeadlines deadlines(terms(100000ms, 100000ms, 1000ms), table);
    useTestClock(deadlines);
    FakeConnection &a = table.add(1);
    deadlines.adopted(1, a);
    a.pending = false;
    a.native = true;
    for (int ms = 100; ms <= 600; ms += 100)
        deadlines.check(t0 + std::chrono::milliseconds(ms));
    QCOMPARE(a.pings, 1);
    // The Pong arrives before the sweep at +700: counted from the sweep before it (+600).
    a.inputSeen = true;
    deadlines.check(t0 + 700ms);
    // Silent again from +600: pinged at +1200, closed at +1700.
    for (int ms = 800; ms <= 1600; ms += 100)
        deadlines.check(t0 + std::chrono::milliseconds(ms));
    QCOMPARE(a.pings, 2);
    QVERIFY(a.passed.isEmpty());
    deadlines.check(t0 + 1700ms);
    QCOMPARE(a.passed, QList<Deadline>{Deadline::Idle});
}

void tst_ConnectionDeadlines::idleExempt_data()
{
    QTest::addColumn<bool>("native");
    QTest::addColumn<bool>("paused");
    QTest::newRow("legacy or unknown protocol") << false << false;
    QTest::newRow("input paused by the broker") << true << true;
}

void tst_ConnectionDeadlines::idleExempt()
{
    QFETCH(bool, native);
    QFETCH(bool, paused);
    FakeConnections table;
    ConnectionDeadlines deadlines(terms(100000ms, 100000ms, 1000ms), table);
    useTestClock(deadlines);
    FakeConnection &a = table.add(1);
    deadlines.adopted(1, a);
    a.pending = false;
    a.native = native;
    a.paused = paused;
    for (int ms = 100; ms <= 3000; ms += 100)
        deadlines.check(t0 + std::chrono::milliseconds(ms));
    QCOMPARE(a.pings, 0);
    QVERIFY(a.passed.isEmpty());

    // Paused until +3000 counts as alive until then: pinged at +3600 once reading resumes.
    if (paused) {
        a.paused = false;
        for (int ms = 3100; ms <= 3600; ms += 100)
            deadlines.check(t0 + std::chrono::milliseconds(ms));
        QCOMPARE(a.pings, 1);
    }
}

void tst_ConnectionDeadlines::noIdleSweepWhenOff()
{
    FakeConnections table;
    ConnectionDeadlines deadlines(terms(1000ms, 1000ms, 0ms), table);
    useTestClock(deadlines);
    QCOMPARE(deadlines.nextCheck(), Clock::time_point::max());
    FakeConnection &a = table.add(1);
    deadlines.adopted(1, a);
    a.pending = false;
    a.native = true;
    deadlines.check(t0 + 3600s);
    QCOMPARE(a.pings, 0);
    QVERIFY(a.passed.isEmpty());
}

void tst_ConnectionDeadlines::realTimerDrivesCheck()
{
    FakeConnections table;
    ConnectionDeadlines deadlines(terms(50ms, 60ms, 0ms), table);
    FakeConnection &a = table.add(1);
    deadlines.adopted(1, a);
    FakeConnection &b = table.add(2);
    deadlines.adopted(2, b);
    b.pending = false;
    b.incomplete = true;
    b.since = Clock::now();
    deadlines.incompleteFrameStarted(2, b);
    const auto started = Clock::now();
    QTRY_COMPARE_WITH_TIMEOUT(a.passed, QList<Deadline>{Deadline::Register}, 5000);
    QVERIFY(Clock::now() - started >= 50ms - 1ms); // never before the deadline (within QTimer's ms)
    QTRY_COMPARE_WITH_TIMEOUT(b.passed, QList<Deadline>{Deadline::IncompleteFrame}, 5000);
    QCOMPARE(deadlines.nextCheck(), Clock::time_point::max());
}

void tst_ConnectionDeadlines::stopDisarms()
{
    FakeConnections table;
    ConnectionDeadlines deadlines(terms(1000ms, 1000ms, 1000ms), table);
    useTestClock(deadlines);
    FakeConnection &a = table.add(1);
    deadlines.adopted(1, a);
    QVERIFY(deadlines.nextCheck() != Clock::time_point::max());
    deadlines.stop();
    QCOMPARE(deadlines.nextCheck(), Clock::time_point::max());
    a.pending = false;
    a.incomplete = true;
    a.since = t;
    deadlines.incompleteFrameStarted(1, a);
    QCOMPARE(deadlines.nextCheck(), Clock::time_point::max());
}

QTEST_GUILESS_MAIN(tst_ConnectionDeadlines)
#include "tst_connectiondeadlines.moc"
