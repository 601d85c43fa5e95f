// The watchdog's deadline engine: which watched key is healthy, late or expired, and when. Pure
// timing policy — it knows nothing of processes, sessions or signals to send; the broker's
// integration layer calls watch()/feed()/unwatch() with a session id and reacts to the signals.
//
// Why it looks like this (efficiency): 10,000 clients feeding every second must cost the
// broker little CPU. So there is ONE single-shot QTimer for every entry, armed to the earliest
// deadline of a lazy min-heap, and feed() only writes a time stamp: no signal, no heap operation,
// no timer re-arm, no allocation. A heap item that comes due is checked against the entry's real
// deadline and pushed again further on if the entry was fed meanwhile.
//
// Semantics
// - Timing starts at watch(). Deadlines count from the last feed, but never from before the end of
//   the grace period: base = max(lastFeed, watchedAt + grace). So the first deadlines are
//   watchedAt + grace + interval (resp. + interval * allowedMisses); a feed during the grace period
//   does not cut the grace short (start-up work may follow an early feed); once a feed comes after
//   the grace period, the grace plays no further part.
// - Late:    `interval` passes without a feed              (Entry::lateAt()).
//   Expired: `interval * allowedMisses` passes without one (Entry::expiresAt()). The old server's
//   3 s x 3 therefore expires exactly 9 s after the last feed. With allowedMisses == 1 an entry is
//   never Late: it goes straight from Healthy to Expired.
//   A deadline is reached when the time equals it (check(expiresAt()) expires the entry, one
//   nanosecond earlier does not).
// - stateChanged() is emitted for every transition: Healthy->Late, Late->Healthy (a feed while
//   Late, or watch() again), Healthy|Late->Expired. A feed while Healthy emits nothing.
// - On expiry the entry is removed first (entry(key) is null in both slots), then
//   stateChanged(key, from, Expired) and expired(key) are emitted. Slots may call watch(),
//   unwatch() and feed() for any key, this one included; a nested check() is ignored.
//   Do not delete the DeadlineEngine from its own slots (deleteLater()).
// - Deadlines are judged when check() runs. If the event loop was blocked, the overdue deadlines
//   are processed in deadline order and an entry past its expiry goes Healthy->Late->Expired (both
//   signals). A feed that arrives before the check that would have found the entry late counts as
//   on time: a broker that was blocked itself must not blame its clients for it.
// - The internal timer never acts before a deadline (it may be up to ~1 ms + event loop latency
//   after it: QTimer counts whole milliseconds). Heap items whose entry was fed meanwhile are
//   refreshed up to RefreshWindow ahead of time so that the timer shots of many clients are
//   coalesced; this never changes when a transition happens.
#pragma once

#include <QObject>
#include <QTimer>

#include <chrono>
#include <cstddef>
#include <functional>
#include <unordered_map>
#include <vector>

namespace Kennel {

enum class WatchState : quint8 { Healthy, Late, Expired };
const char *watchStateName(WatchState state); // "healthy", "late", "expired"

struct WatchTerms
{
    std::chrono::milliseconds interval{3000};   // longest time between two feeds
    int allowedMisses = 3;                      // intervals without a feed before expiry (>= 1)
    std::chrono::milliseconds grace{0};         // added to the first deadlines after watch()
};

class DeadlineEngine : public QObject
{
    Q_OBJECT
public:
    using Clock = std::chrono::steady_clock; // monotonic

    // Terms outside these bounds are clamped by watch() (with a warning): they keep the deadline
    // arithmetic far from overflow. The config's own limits (WatchdogSettings) are tighter.
    static constexpr std::chrono::milliseconds MinInterval{1};
    static constexpr std::chrono::milliseconds MaxInterval{24 * 3600 * 1000};
    static constexpr int MaxAllowedMisses = 100000;
    static constexpr std::chrono::milliseconds MaxGrace{24 * 3600 * 1000};
    // How far ahead of time the timer path refreshes heap items of entries that were fed.
    static constexpr std::chrono::milliseconds RefreshWindow{10};

    struct Entry // read-only view for the monitor and tests
    {
        WatchTerms terms;
        WatchState state = WatchState::Healthy;
        quint64 feeds = 0;          // feeds since watch()
        quint32 lateCount = 0;      // how many times it went Late since watch()
        Clock::time_point watchedAt;
        Clock::time_point lastFeed; // == watchedAt until the first feed
        Clock::time_point lateAt() const;    // when it becomes (or became) Late; == expiresAt() if allowedMisses == 1
        Clock::time_point expiresAt() const; // when it expires
    };

    // Engine figures for the monitor, the benchmark and the tests.
    struct Stats
    {
        size_t queued = 0;          // heap items, live and stale
        size_t stale = 0;           // of which stale (unwatched or re-watched entries)
        quint64 timerShots = 0;     // internal timer expiries
        quint64 itemsProcessed = 0; // heap items popped, stale ones included
        Clock::duration maxTimerLateness{0}; // worst (shot time - deadline it was armed for)
    };

    explicit DeadlineEngine(QObject *parent = nullptr);
    ~DeadlineEngine() override;

    // (Re)register: timing starts now (+ grace); state Healthy; counters reset; replaces earlier
    // terms. Re-watching a Late entry emits stateChanged(key, Late, Healthy).
    void watch(quint64 key, const WatchTerms &terms);
    // O(1), no allocation, no timer re-arm while Healthy; no-op if not watched. While Late: back
    // to Healthy with stateChanged(key, Late, Healthy).
    void feed(quint64 key);
    void unwatch(quint64 key); // no signal
    const Entry *entry(quint64 key) const; // nullptr if not watched
    size_t size() const;
    // Room for this many entries without rehashing (the broker knows its maxClients).
    void reserve(size_t entries);
    Stats stats() const;

    // Processes every deadline <= now. Called by the internal timer with the current time; public
    // so tests can drive time without waiting. Entries watched or fed from slots during the call
    // are timed by the engine's clock, so a test that checks ahead of its test clock sets the
    // clock first (otherwise a slot that re-watches on expiry would be due again at once).
    void check(Clock::time_point now);
    // Test hook: the clock the engine reads in watch()/feed() and the timer path. An empty
    // function restores Clock::now.
    void setClockForTesting(std::function<Clock::time_point()> clock);

signals:
    void stateChanged(quint64 key, Kennel::WatchState from, Kennel::WatchState to); // every transition
    void expired(quint64 key); // after stateChanged(..., Expired); the entry has already been removed

private:
    struct Slot
    {
        Entry entry;
        quint64 ticket = 0; // identifies the entry's one live heap item; 0 while it has none
    };
    struct Item
    {
        Clock::time_point deadline;
        quint64 key;
        quint64 ticket;
    };

    Clock::time_point now() const { return m_clock ? m_clock() : Clock::now(); }
    static Clock::time_point nextDeadline(const Entry &entry);
    void schedule(quint64 key, Slot &slot, Clock::time_point deadline);
    void dropItemOf(Slot &slot);
    void process(Clock::time_point now, Clock::time_point refreshHorizon);
    void expire(quint64 key, WatchState from);
    void arm();
    void maybeCompact();
    void timerFired();

    std::unordered_map<quint64, Slot> m_slots;
    std::vector<Item> m_heap;     // min-heap on deadline (std::*_heap with a "later" comparator)
    std::vector<Item> m_deferred; // items popped early by the refresh window, pushed back after
    size_t m_stale = 0;           // items in m_heap or m_deferred whose ticket is no longer current
    quint64 m_nextTicket = 0;
    bool m_processing = false;
    QTimer m_timer;
    Clock::time_point m_armedFor;
    std::function<Clock::time_point()> m_clock;
    quint64 m_timerShots = 0;
    quint64 m_itemsProcessed = 0;
    Clock::duration m_maxTimerLateness{0};
};

} // namespace Kennel
