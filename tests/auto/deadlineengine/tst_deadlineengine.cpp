// The watchdog's deadline engine. Exact cases drive time through a test clock and check(): a
// deadline is met at its instant and not one millisecond before. A few cases run on the real
// timer with short intervals to prove that the one internal QTimer keeps every deadline, for
// 2,000 entries too.
#include "deadlineengine.h"

#include <QEventLoop>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTest>
#include <QTimer>

#include <algorithm>
#include <functional>
#include <limits>
#include <unordered_map>

using namespace Kennel;
using namespace std::chrono_literals;
using Clock = DeadlineEngine::Clock;

namespace {

WatchTerms terms(std::chrono::milliseconds interval, int misses, std::chrono::milliseconds grace = 0ms)
{
    WatchTerms t;
    t.interval = interval;
    t.allowedMisses = misses;
    t.grace = grace;
    return t;
}

// Every signal of one DeadlineEngine, in order: "KEY:from>to" and "KEY:expired".
class Recorder
{
public:
    explicit Recorder(DeadlineEngine &watchdog)
    {
        QObject::connect(&watchdog, &DeadlineEngine::stateChanged, &watchdog,
                         [this, &watchdog](quint64 key, WatchState from, WatchState to) {
                             log.append(QStringLiteral("%1:%2>%3").arg(key).arg(QLatin1String(watchStateName(from)),
                                                                          QLatin1String(watchStateName(to))));
                             if (to == WatchState::Expired && watchdog.entry(key))
                                 entryLeftBehind = true;
                         });
        QObject::connect(&watchdog, &DeadlineEngine::expired, &watchdog, [this, &watchdog](quint64 key) {
            log.append(QStringLiteral("%1:expired").arg(key));
            if (watchdog.entry(key))
                entryLeftBehind = true;
        });
    }
    QStringList take()
    {
        QStringList out;
        out.swap(log);
        return out;
    }

    QStringList log;
    bool entryLeftBehind = false;
};

// Runs a real event loop until `done` holds or `timeout` passes. The timing tests use it instead of
// QTRY_*, whose wait sleeps 10 ms between event passes: noise next to what they measure.
bool runLoopUntil(const std::function<bool()> &done, std::chrono::milliseconds timeout)
{
    QEventLoop loop;
    QTimer poll;
    poll.setTimerType(Qt::PreciseTimer);
    QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
        if (done())
            loop.quit();
    });
    QTimer::singleShot(timeout, &loop, &QEventLoop::quit);
    poll.start(5ms);
    if (!done())
        loop.exec();
    return done();
}

// A DeadlineEngine on a clock the test moves by hand.
struct FakeTime
{
    explicit FakeTime(DeadlineEngine &watchdog)
    {
        watchdog.setClockForTesting([this] { return now; });
    }
    Clock::time_point t0 = Clock::time_point(100h); // far from the epoch: no arithmetic near zero
    Clock::time_point now = t0;
};

} // namespace

class tst_DeadlineEngine : public QObject
{
    Q_OBJECT

private slots:
    void stateNames();
    void healthyFedOnTimeNeverLate_data();
    void healthyFedOnTimeNeverLate();
    void lateThenFedRecovers();
    void expiryExactlyAfterIntervalTimesMisses();
    void graceDelaysFirstDeadlinesOnly();
    void feedDuringGraceKeepsTheGrace();
    void rewatchResetsTiming();
    void unwatchStopsEverything();
    void allowedMissesOneGoesStraightToExpired();
    void blockedLoopProcessesInDeadlineOrder();
    void reentrantCallsFromSlots();
    void nestedCheckIgnored();
    void outOfBoundsTermsClamped();
    void heapStaysBounded();
    void feedDoesNotQueue();
    void oneTimerForAllEntries();
    void signalSpyCarriesState();

    void realTimerLateRecoverExpire();
    void realTimerTwoThousandEntries();
};

void tst_DeadlineEngine::stateNames()
{
    QCOMPARE(watchStateName(WatchState::Healthy), "healthy");
    QCOMPARE(watchStateName(WatchState::Late), "late");
    QCOMPARE(watchStateName(WatchState::Expired), "expired");
}

void tst_DeadlineEngine::healthyFedOnTimeNeverLate_data()
{
    QTest::addColumn<int>("misses");
    QTest::newRow("3 misses") << 3;
    QTest::newRow("1 miss") << 1;
}

void tst_DeadlineEngine::healthyFedOnTimeNeverLate()
{
    QFETCH(int, misses);
    DeadlineEngine wd;
    FakeTime time(wd);
    Recorder rec(wd);
    wd.watch(1, terms(100ms, misses));
    // Fed every 99 ms over 1,000 intervals, checked just before each feed: one ms short of the
    // deadline every time.
    for (int i = 0; i < 1000; ++i) {
        time.now += 99ms;
        wd.check(time.now);
        wd.feed(1);
    }
    QCOMPARE(rec.log, QStringList());
    QVERIFY(wd.entry(1));
    QCOMPARE(wd.entry(1)->state, WatchState::Healthy);
    QCOMPARE(wd.entry(1)->feeds, quint64(1000));
    QCOMPARE(wd.entry(1)->lateCount, quint32(0));
    QCOMPARE(wd.entry(1)->lastFeed, time.now);

    // And it does notice when the feeding stops.
    time.now += 100ms;
    wd.check(time.now);
    QCOMPARE(rec.log, QStringList(misses == 1 ? QStringList{QStringLiteral("1:healthy>expired"), QStringLiteral("1:expired")}
                                              : QStringList{QStringLiteral("1:healthy>late")}));
}

void tst_DeadlineEngine::lateThenFedRecovers()
{
    DeadlineEngine wd;
    FakeTime time(wd);
    Recorder rec(wd);
    const Clock::time_point t0 = time.t0;
    wd.watch(5, terms(100ms, 3));
    QCOMPARE(wd.entry(5)->lateAt(), t0 + 100ms);
    QCOMPARE(wd.entry(5)->expiresAt(), t0 + 300ms);

    wd.check(t0 + 99ms);
    QCOMPARE(rec.take(), QStringList());
    wd.check(t0 + 100ms);
    QCOMPARE(rec.take(), QStringList{QStringLiteral("5:healthy>late")});
    QCOMPARE(wd.entry(5)->state, WatchState::Late);
    QCOMPARE(wd.entry(5)->lateCount, quint32(1));
    wd.check(t0 + 200ms); // Late stays Late through the allowance: no signal per missed interval
    QCOMPARE(rec.take(), QStringList());

    time.now = t0 + 250ms;
    wd.feed(5);
    QCOMPARE(rec.take(), QStringList{QStringLiteral("5:late>healthy")});
    QCOMPARE(wd.entry(5)->state, WatchState::Healthy);
    QCOMPARE(wd.entry(5)->lateAt(), t0 + 350ms); // earlier than the old expiry: rescheduled
    wd.check(t0 + 300ms); // the old expiry means nothing now
    QCOMPARE(rec.take(), QStringList());
    wd.check(t0 + 349ms);
    QCOMPARE(rec.take(), QStringList());
    wd.check(t0 + 350ms);
    QCOMPARE(rec.take(), QStringList{QStringLiteral("5:healthy>late")});
    QCOMPARE(wd.entry(5)->lateCount, quint32(2));
    wd.check(t0 + 549ms);
    QCOMPARE(rec.take(), QStringList());
    wd.check(t0 + 550ms);
    QCOMPARE(rec.take(), (QStringList{QStringLiteral("5:late>expired"), QStringLiteral("5:expired")}));
    QVERIFY(!rec.entryLeftBehind);
    QCOMPARE(wd.size(), size_t(0));

    // A generous allowance: after the recovery the next Late deadline comes long before the old
    // expiry, and must not wait for it.
    time.now = t0 + 1000ms;
    wd.watch(6, terms(100ms, 10)); // late 1100, expires 2000
    wd.check(t0 + 1100ms);
    QCOMPARE(rec.take(), QStringList{QStringLiteral("6:healthy>late")});
    time.now = t0 + 1150ms;
    wd.feed(6);
    QCOMPARE(rec.take(), QStringList{QStringLiteral("6:late>healthy")});
    wd.check(t0 + 1249ms);
    QCOMPARE(rec.take(), QStringList());
    wd.check(t0 + 1250ms);
    QCOMPARE(rec.take(), QStringList{QStringLiteral("6:healthy>late")});
}

void tst_DeadlineEngine::expiryExactlyAfterIntervalTimesMisses()
{
    // The old server's terms: 3 s x 3 expires exactly 9 s after the last feed.
    DeadlineEngine wd;
    FakeTime time(wd);
    Recorder rec(wd);
    const Clock::time_point t0 = time.t0;
    wd.watch(42, terms(3000ms, 3));
    time.now = t0 + 1000ms;
    wd.feed(42);
    QCOMPARE(wd.entry(42)->expiresAt(), t0 + 10000ms);

    wd.check(t0 + 3999ms);
    QCOMPARE(rec.take(), QStringList());
    wd.check(t0 + 4000ms);
    QCOMPARE(rec.take(), QStringList{QStringLiteral("42:healthy>late")});
    wd.check(t0 + 9999ms);
    QCOMPARE(rec.take(), QStringList());
    QVERIFY(wd.entry(42));
    wd.check(t0 + 10000ms - 1ns);
    QCOMPARE(rec.take(), QStringList());
    wd.check(t0 + 10000ms);
    QCOMPARE(rec.take(), (QStringList{QStringLiteral("42:late>expired"), QStringLiteral("42:expired")}));
    QVERIFY(!wd.entry(42));
    QVERIFY(!rec.entryLeftBehind);
    wd.check(t0 + 100000ms);
    QCOMPARE(rec.take(), QStringList());
}

void tst_DeadlineEngine::graceDelaysFirstDeadlinesOnly()
{
    DeadlineEngine wd;
    FakeTime time(wd);
    Recorder rec(wd);
    const Clock::time_point t0 = time.t0;
    wd.watch(1, terms(100ms, 2, 500ms));
    QCOMPARE(wd.entry(1)->lateAt(), t0 + 600ms);
    QCOMPARE(wd.entry(1)->expiresAt(), t0 + 700ms);
    wd.check(t0 + 599ms);
    QCOMPARE(rec.take(), QStringList());
    wd.check(t0 + 600ms);
    QCOMPARE(rec.take(), QStringList{QStringLiteral("1:healthy>late")});

    // Fed: from now on plain interval deadlines, no grace.
    time.now = t0 + 650ms;
    wd.feed(1);
    QCOMPARE(rec.take(), QStringList{QStringLiteral("1:late>healthy")});
    QCOMPARE(wd.entry(1)->lateAt(), t0 + 750ms);
    QCOMPARE(wd.entry(1)->expiresAt(), t0 + 850ms);
    wd.check(t0 + 749ms);
    QCOMPARE(rec.take(), QStringList());
    wd.check(t0 + 850ms);
    QCOMPARE(rec.take(), (QStringList{QStringLiteral("1:healthy>late"), QStringLiteral("1:late>expired"),
                                      QStringLiteral("1:expired")}));

    // Watched again: the grace applies again.
    time.now = t0 + 1000ms;
    wd.watch(1, terms(100ms, 2, 500ms));
    wd.check(t0 + 1599ms);
    QCOMPARE(rec.take(), QStringList());
    wd.check(t0 + 1600ms);
    QCOMPARE(rec.take(), QStringList{QStringLiteral("1:healthy>late")});
}

void tst_DeadlineEngine::feedDuringGraceKeepsTheGrace()
{
    // Deadlines count from max(lastFeed, watchedAt + grace): an early feed does not cut the
    // start-up grace short, and a feed after it counts as usual.
    DeadlineEngine wd;
    FakeTime time(wd);
    Recorder rec(wd);
    const Clock::time_point t0 = time.t0;
    wd.watch(1, terms(100ms, 3, 1000ms));
    time.now = t0 + 50ms;
    wd.feed(1);
    QCOMPARE(wd.entry(1)->lateAt(), t0 + 1100ms);
    QCOMPARE(wd.entry(1)->expiresAt(), t0 + 1300ms);
    wd.check(t0 + 1099ms);
    QCOMPARE(rec.take(), QStringList());
    time.now = t0 + 1050ms;
    wd.feed(1);
    QCOMPARE(wd.entry(1)->lateAt(), t0 + 1150ms);
    wd.check(t0 + 1149ms);
    QCOMPARE(rec.take(), QStringList());
    wd.check(t0 + 1150ms);
    QCOMPARE(rec.take(), QStringList{QStringLiteral("1:healthy>late")});
}

void tst_DeadlineEngine::rewatchResetsTiming()
{
    DeadlineEngine wd;
    FakeTime time(wd);
    Recorder rec(wd);
    const Clock::time_point t0 = time.t0;
    wd.watch(9, terms(100ms, 3));
    time.now = t0 + 10ms;
    wd.feed(9);
    wd.check(t0 + 110ms);
    QCOMPARE(rec.take(), QStringList{QStringLiteral("9:healthy>late")});

    const Clock::time_point t1 = t0 + 250ms;
    time.now = t1;
    wd.watch(9, terms(200ms, 2));
    QCOMPARE(rec.take(), QStringList{QStringLiteral("9:late>healthy")}); // a transition like any other
    const DeadlineEngine::Entry *e = wd.entry(9);
    QVERIFY(e);
    QCOMPARE(e->state, WatchState::Healthy);
    QCOMPARE(e->feeds, quint64(0));
    QCOMPARE(e->lateCount, quint32(0));
    QCOMPARE(e->watchedAt, t1);
    QCOMPARE(e->lastFeed, t1);
    QCOMPARE(e->terms.interval, 200ms);
    QCOMPARE(e->terms.allowedMisses, 2);
    QCOMPARE(wd.size(), size_t(1));

    wd.check(t0 + 310ms); // the first registration's expiry
    QCOMPARE(rec.take(), QStringList());
    wd.check(t1 + 199ms);
    QCOMPARE(rec.take(), QStringList());
    wd.check(t1 + 200ms);
    QCOMPARE(rec.take(), QStringList{QStringLiteral("9:healthy>late")});
    wd.check(t1 + 399ms);
    QCOMPARE(rec.take(), QStringList());
    wd.check(t1 + 400ms);
    QCOMPARE(rec.take(), (QStringList{QStringLiteral("9:late>expired"), QStringLiteral("9:expired")}));

    // Re-watching a Healthy entry says nothing.
    wd.watch(10, terms(100ms, 3));
    wd.watch(10, terms(100ms, 3));
    QCOMPARE(rec.take(), QStringList());
}

void tst_DeadlineEngine::unwatchStopsEverything()
{
    DeadlineEngine wd;
    FakeTime time(wd);
    Recorder rec(wd);
    const Clock::time_point t0 = time.t0;
    wd.watch(1, terms(100ms, 2));
    wd.watch(2, terms(100ms, 2));
    wd.check(t0 + 100ms);
    QCOMPARE(rec.take(), (QStringList{QStringLiteral("1:healthy>late"), QStringLiteral("2:healthy>late")}) );
    wd.unwatch(1);
    wd.unwatch(1); // twice: harmless
    QVERIFY(!wd.entry(1));
    QCOMPARE(wd.size(), size_t(1));
    wd.feed(1); // no-op, and does not bring it back
    QVERIFY(!wd.entry(1));
    QCOMPARE(rec.take(), QStringList());
    time.now = t0 + 1h;
    wd.check(time.now);
    QCOMPARE(rec.take(), (QStringList{QStringLiteral("2:late>expired"), QStringLiteral("2:expired")}));

    // All gone: nothing queued, nothing to fire.
    wd.watch(3, terms(10ms, 1));
    wd.unwatch(3);
    QCOMPARE(wd.size(), size_t(0));
    QCOMPARE(wd.stats().queued, size_t(0));

    // On the real timer too: an unwatched entry never fires, a neighbour does.
    DeadlineEngine real;
    Recorder realRec(real);
    real.watch(1, terms(20ms, 1));
    real.watch(2, terms(60ms, 1));
    real.unwatch(1);
    QTRY_COMPARE_WITH_TIMEOUT(realRec.log, (QStringList{QStringLiteral("2:healthy>expired"), QStringLiteral("2:expired")}),
                              5000);
}

void tst_DeadlineEngine::allowedMissesOneGoesStraightToExpired()
{
    DeadlineEngine wd;
    FakeTime time(wd);
    Recorder rec(wd);
    QSignalSpy states(&wd, &DeadlineEngine::stateChanged);
    const Clock::time_point t0 = time.t0;
    wd.watch(3, terms(100ms, 1));
    wd.watch(4, terms(100ms, 1));
    QCOMPARE(wd.entry(3)->lateAt(), wd.entry(3)->expiresAt());
    wd.check(t0 + 99ms);
    QCOMPARE(rec.take(), QStringList());
    wd.check(t0 + 100ms);
    wd.check(t0 + 100s); // long after: still exactly one transition each
    QStringList log = rec.take();
    QCOMPARE(log.size(), 4);
    QCOMPARE(states.size(), 2);
    for (quint64 key : {3, 4}) {
        const int changed = int(log.indexOf(QStringLiteral("%1:healthy>expired").arg(key)));
        QVERIFY(changed >= 0);
        QCOMPARE(log.value(changed + 1), QStringLiteral("%1:expired").arg(key));
    }
    QCOMPARE(wd.size(), size_t(0));
}

void tst_DeadlineEngine::blockedLoopProcessesInDeadlineOrder()
{
    DeadlineEngine wd;
    FakeTime time(wd);
    Recorder rec(wd);
    const Clock::time_point t0 = time.t0;
    wd.watch(1, terms(100ms, 3)); // late 100, expires 300
    wd.watch(2, terms(70ms, 2));  // late 70, expires 140
    wd.watch(3, terms(250ms, 1)); // expires 250
    wd.watch(4, terms(100ms, 2)); // fed at 90: late 190, expires 290
    time.now = t0 + 90ms;
    wd.feed(4);
    time.now = t0 + 10s;
    wd.check(time.now);
    QCOMPARE(rec.take(), (QStringList{
                             QStringLiteral("2:healthy>late"),   // 70
                             QStringLiteral("1:healthy>late"),   // 100
                             QStringLiteral("2:late>expired"),   // 140
                             QStringLiteral("2:expired"),
                             QStringLiteral("4:healthy>late"),   // 190
                             QStringLiteral("3:healthy>expired"),// 250
                             QStringLiteral("3:expired"),
                             QStringLiteral("4:late>expired"),   // 290
                             QStringLiteral("4:expired"),
                             QStringLiteral("1:late>expired"),   // 300
                             QStringLiteral("1:expired"),
                         }));
    QCOMPARE(wd.size(), size_t(0));
}

void tst_DeadlineEngine::reentrantCallsFromSlots()
{
    DeadlineEngine wd;
    FakeTime time(wd);
    Recorder rec(wd);
    const Clock::time_point t0 = time.t0;
    enum : quint64 { A = 1, B = 2, C = 3, D = 4 };
    wd.watch(A, terms(100ms, 1)); // expires 100
    wd.watch(B, terms(200ms, 1)); // expires 200: unwatched by A's expiry first
    wd.watch(C, terms(120ms, 2)); // late 120: fed from its own Late slot

    int rewatches = 0;
    connect(&wd, &DeadlineEngine::expired, this, [&](quint64 key) {
        if (key != A || rewatches++)
            return;
        wd.unwatch(B);
        wd.watch(A, terms(100ms, 1)); // registers again at once, as a restarted client would
        wd.watch(D, terms(1000ms, 1));
    });
    int rescues = 0;
    connect(&wd, &DeadlineEngine::stateChanged, this, [&](quint64 key, WatchState, WatchState to) {
        if (key == C && to == WatchState::Late && !rescues++)
            wd.feed(C);
    });

    time.now = t0 + 300ms;
    wd.check(time.now);
    QCOMPARE(rec.take(), (QStringList{QStringLiteral("1:healthy>expired"), QStringLiteral("1:expired"),
                                      QStringLiteral("3:healthy>late"), QStringLiteral("3:late>healthy")}));
    QCOMPARE(wd.size(), size_t(3));
    QVERIFY(!wd.entry(B));
    QVERIFY(wd.entry(A));
    QCOMPARE(wd.entry(A)->watchedAt, t0 + 300ms);
    QCOMPARE(wd.entry(A)->state, WatchState::Healthy);
    QVERIFY(wd.entry(C));
    QCOMPARE(wd.entry(C)->state, WatchState::Healthy);
    QCOMPARE(wd.entry(C)->lastFeed, t0 + 300ms);
    QVERIFY(wd.entry(D));

    // The re-registered A and the fed C keep their new deadlines; B stays gone.
    time.now = t0 + 400ms;
    wd.check(time.now);
    QCOMPARE(rec.take(), (QStringList{QStringLiteral("1:healthy>expired"), QStringLiteral("1:expired")}));
    time.now = t0 + 10s;
    wd.check(time.now);
    QStringList rest = rec.take();
    QVERIFY2(!rest.join(QLatin1Char(' ')).contains(QLatin1String("2:")), qPrintable(rest.join(QLatin1Char(' '))));
    QVERIFY(rest.contains(QStringLiteral("3:expired")));
    QVERIFY(rest.contains(QStringLiteral("4:expired")));
    QCOMPARE(wd.size(), size_t(0));
    QVERIFY(!rec.entryLeftBehind);
}

void tst_DeadlineEngine::nestedCheckIgnored()
{
    DeadlineEngine wd;
    FakeTime time(wd);
    Recorder rec(wd);
    const Clock::time_point t0 = time.t0;
    wd.watch(1, terms(100ms, 1));
    wd.watch(2, terms(200ms, 1));
    connect(&wd, &DeadlineEngine::expired, this, [&](quint64) { wd.check(t0 + 1h); });
    wd.check(t0 + 100ms);
    QCOMPARE(rec.take(), (QStringList{QStringLiteral("1:healthy>expired"), QStringLiteral("1:expired")}));
    QVERIFY(wd.entry(2));
}

void tst_DeadlineEngine::outOfBoundsTermsClamped()
{
    DeadlineEngine wd;
    FakeTime time(wd);
    Recorder rec(wd);
    const Clock::time_point t0 = time.t0;
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("terms out of bounds")));
    wd.watch(1, terms(0ms, 0, -5ms));
    QCOMPARE(wd.entry(1)->terms.interval, DeadlineEngine::MinInterval);
    QCOMPARE(wd.entry(1)->terms.allowedMisses, 1);
    QCOMPARE(wd.entry(1)->terms.grace, 0ms);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("terms out of bounds")));
    wd.watch(2, terms(std::chrono::milliseconds(std::numeric_limits<qint64>::max()), std::numeric_limits<int>::max()));
    QCOMPARE(wd.entry(2)->terms.interval, DeadlineEngine::MaxInterval);
    QCOMPARE(wd.entry(2)->terms.allowedMisses, DeadlineEngine::MaxAllowedMisses);
    QVERIFY(wd.entry(2)->expiresAt() > wd.entry(2)->lateAt()); // no overflow
    wd.check(t0 + 1ms);
    QCOMPARE(rec.take(), (QStringList{QStringLiteral("1:healthy>expired"), QStringLiteral("1:expired")}));
}

void tst_DeadlineEngine::heapStaysBounded()
{
    DeadlineEngine wd;
    FakeTime time(wd);
    Recorder rec(wd);
    // Long terms: these must survive the loops below (1,000 s of test time).
    for (quint64 key = 100; key < 110; ++key)
        wd.watch(key, terms(3600s, 3));
    const size_t bound = 2 * 11 + 64 + 1;

    // Re-registration in a loop.
    size_t worst = 0;
    for (int i = 0; i < 100000; ++i) {
        time.now += 1us;
        wd.watch(7, terms(3600s, 3));
        worst = std::max(worst, wd.stats().queued);
    }
    QVERIFY2(worst <= bound, qPrintable(QString::number(worst)));
    QCOMPARE(wd.size(), size_t(11));

    // Late, fed, late again: every recovery reschedules.
    worst = 0;
    wd.watch(8, terms(10ms, 1000));
    for (int i = 0; i < 100000; ++i) {
        time.now += 10ms;
        wd.check(time.now);
        wd.feed(8);
        worst = std::max(worst, wd.stats().queued);
    }
    QVERIFY2(worst <= bound + 1, qPrintable(QString::number(worst)));
    QCOMPARE(wd.entry(8)->lateCount, quint32(100000));
    QCOMPARE(wd.entry(8)->state, WatchState::Healthy);
    rec.take();

    // Watch and unwatch of ever new keys.
    for (quint64 key = 1000; key < 101000; ++key) {
        wd.watch(key, terms(1000ms, 3));
        wd.unwatch(key);
        worst = std::max(worst, wd.stats().queued);
    }
    QVERIFY2(worst <= bound + 1, qPrintable(QString::number(worst)));
    QCOMPARE(wd.size(), size_t(12));

    // The bookkeeping still works: everything expires, each exactly once.
    time.now += 4h;
    wd.check(time.now);
    QCOMPARE(int(rec.log.filter(QRegularExpression(QStringLiteral(":expired$"))).size()), 12);
    QCOMPARE(wd.size(), size_t(0));
    QCOMPARE(wd.stats().queued, size_t(0));
}

void tst_DeadlineEngine::feedDoesNotQueue()
{
    DeadlineEngine wd;
    FakeTime time(wd);
    for (quint64 key = 0; key < 1000; ++key)
        wd.watch(key, terms(1000ms, 3));
    const DeadlineEngine::Stats before = wd.stats();
    for (int round = 0; round < 10; ++round) {
        time.now += 100ms;
        for (quint64 key = 0; key < 1000; ++key)
            wd.feed(key);
    }
    QCOMPARE(wd.stats().queued, before.queued);
    QCOMPARE(wd.stats().itemsProcessed, before.itemsProcessed);
    QCOMPARE(wd.entry(999)->feeds, quint64(10));
}

void tst_DeadlineEngine::oneTimerForAllEntries()
{
    DeadlineEngine wd;
    for (quint64 key = 0; key < 1000; ++key)
        wd.watch(key, terms(std::chrono::milliseconds(1000 + key), 3));
    QCOMPARE(wd.findChildren<QTimer *>().size(), qsizetype(1));
}

void tst_DeadlineEngine::signalSpyCarriesState()
{
    DeadlineEngine wd;
    FakeTime time(wd);
    QSignalSpy states(&wd, &DeadlineEngine::stateChanged);
    QSignalSpy expired(&wd, &DeadlineEngine::expired);
    wd.watch(77, terms(10ms, 2));
    wd.check(time.t0 + 20ms);
    QCOMPARE(states.size(), 2);
    QCOMPARE(states.at(0).at(0).value<quint64>(), quint64(77));
    QCOMPARE(states.at(0).at(1).value<WatchState>(), WatchState::Healthy);
    QCOMPARE(states.at(0).at(2).value<WatchState>(), WatchState::Late);
    QCOMPARE(states.at(1).at(2).value<WatchState>(), WatchState::Expired);
    QCOMPARE(expired.size(), 1);
    QCOMPARE(expired.at(0).at(0).value<quint64>(), quint64(77));
}

void tst_DeadlineEngine::realTimerLateRecoverExpire()
{
    DeadlineEngine wd;
    Recorder rec(wd);
    Clock::time_point lateSeen, expiredSeen, lateDue;
    connect(&wd, &DeadlineEngine::stateChanged, this, [&](quint64 key, WatchState, WatchState to) {
        if (to == WatchState::Late) {
            lateSeen = Clock::now();
            lateDue = wd.entry(key)->lateAt();
        } else if (to == WatchState::Expired) {
            expiredSeen = Clock::now();
        }
    });

    wd.watch(1, terms(50ms, 3));
    QTRY_COMPARE_WITH_TIMEOUT(rec.log, QStringList{QStringLiteral("1:healthy>late")}, 5000);
    QVERIFY(lateSeen >= lateDue); // never early

    wd.feed(1);
    QCOMPARE(rec.take(), (QStringList{QStringLiteral("1:healthy>late"), QStringLiteral("1:late>healthy")}));
    const Clock::time_point expiresAt = wd.entry(1)->expiresAt();
    QTRY_COMPARE_WITH_TIMEOUT(rec.log, (QStringList{QStringLiteral("1:healthy>late"), QStringLiteral("1:late>expired"),
                                                    QStringLiteral("1:expired")}),
                              5000);
    QVERIFY(expiredSeen >= expiresAt);
    QVERIFY(!wd.entry(1));
    QVERIFY(wd.stats().timerShots >= 2);
}

void tst_DeadlineEngine::realTimerTwoThousandEntries()
{
    // 2,000 entries at 200 ms x 3, fed every ~100 ms in slices of 200 every 10 ms. Nobody may go
    // late; the 1,000 that stop being fed must all expire within 600 ms of their last feed plus
    // 100 ms, and never before.
    constexpr int Entries = 2000;
    constexpr int Stopped = 1000; // keys [0, Stopped) stop being fed
    constexpr auto Tolerance = 100ms;
    DeadlineEngine wd;
    wd.reserve(Entries);
    for (quint64 key = 0; key < Entries; ++key)
        wd.watch(key, terms(200ms, 3));

    bool feedingStopped = false;
    int tick = 0;
    QTimer feeder;
    feeder.setTimerType(Qt::PreciseTimer);
    connect(&feeder, &QTimer::timeout, this, [&] {
        const int first = (tick++ % 10) * (Entries / 10);
        for (int key = first; key < first + Entries / 10; ++key)
            if (!feedingStopped || key >= Stopped)
                wd.feed(quint64(key));
    });
    feeder.start(10ms);

    int lateCount = 0;
    int wrongKey = 0;
    std::unordered_map<quint64, Clock::time_point> expiresAt;
    Clock::duration worstExpiry{0};
    Clock::duration earliest = Clock::duration::max();
    connect(&wd, &DeadlineEngine::stateChanged, this, [&](quint64 key, WatchState from, WatchState to) {
        if (!feedingStopped)
            ++lateCount;
        if (key >= Stopped)
            ++wrongKey;
        if (to == WatchState::Late)
            expiresAt[key] = wd.entry(key)->expiresAt();
        if (from == WatchState::Late && to == WatchState::Expired) {
            const Clock::duration delta = Clock::now() - expiresAt[key];
            worstExpiry = std::max(worstExpiry, delta);
            earliest = std::min(earliest, delta);
        }
    });
    QSignalSpy expired(&wd, &DeadlineEngine::expired);

    // Five intervals of steady feeding: 100 feeder ticks.
    QVERIFY(runLoopUntil([&] { return tick >= 100; }, 10s));
    QCOMPARE(lateCount, 0);
    QCOMPARE(wd.size(), size_t(Entries));

    feedingStopped = true;
    QVERIFY(runLoopUntil([&] { return expired.size() >= Stopped; }, 10s));
    QCOMPARE(expired.size(), Stopped);
    QCOMPARE(wrongKey, 0);
    QCOMPARE(int(expiresAt.size()), Stopped);
    QVERIFY2(earliest >= Clock::duration::zero(), "an entry expired before its deadline");
    QVERIFY2(worstExpiry <= Tolerance,
             qPrintable(QStringLiteral("worst expiry %1 ms late")
                            .arg(std::chrono::duration_cast<std::chrono::milliseconds>(worstExpiry).count())));
    QCOMPARE(wd.size(), size_t(Entries - Stopped));
    QVERIFY(wd.stats().maxTimerLateness <= Tolerance);
    qInfo("timer shots %llu, heap items processed %llu, max timer lateness %lld us",
          static_cast<unsigned long long>(wd.stats().timerShots),
          static_cast<unsigned long long>(wd.stats().itemsProcessed),
          static_cast<long long>(std::chrono::duration_cast<std::chrono::microseconds>(wd.stats().maxTimerLateness).count()));
}

QTEST_GUILESS_MAIN(tst_DeadlineEngine)
#include "tst_deadlineengine.moc"
