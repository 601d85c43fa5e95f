// The deadline engine: one QTimer over a lazy min-heap. See deadlineengine.h for the semantics.
//
// Invariant: every watched entry has exactly one live heap item (its Slot::ticket names it),
// except for the moment process() holds it. Everything else in the heap is stale — the entry was
// unwatched or re-watched, or a Late entry was fed and rescheduled earlier — and is dropped when it
// surfaces, or in bulk by maybeCompact() once stale items outnumber live ones, so registering the
// same key in a loop cannot grow memory.
#include "deadlineengine.h"

#include "logging.h"

#include <algorithm>

namespace Kennel {

namespace {

using std::chrono::milliseconds;

// Below this many heap items compaction is not worth a pass; it also bounds the heap at
// 2 * entries + CompactMinimum.
constexpr size_t CompactMinimum = 64;
constexpr size_t InitialReserve = 256;
// QTimer takes an int of milliseconds; a far deadline is approached in steps of this.
constexpr milliseconds MaxTimerDelay{3600 * 1000};

// std::*_heap build a max-heap; "later" puts the earliest deadline on top.
template<typename Item>
bool later(const Item &a, const Item &b)
{
    return a.deadline > b.deadline;
}

WatchTerms clampedTerms(const WatchTerms &asked)
{
    WatchTerms terms = asked;
    terms.interval = std::clamp(terms.interval, DeadlineEngine::MinInterval, DeadlineEngine::MaxInterval);
    terms.allowedMisses = std::clamp(terms.allowedMisses, 1, DeadlineEngine::MaxAllowedMisses);
    terms.grace = std::clamp(terms.grace, milliseconds(0), DeadlineEngine::MaxGrace);
    return terms;
}

// Deadlines count from the later of the last feed and the end of the grace period. Taking the
// later one (rather than dropping the grace at the first feed) keeps a deadline from ever moving
// earlier on a feed, which is what lets feed() leave the heap alone.
DeadlineEngine::Clock::time_point deadlineBase(const DeadlineEngine::Entry &entry)
{
    return std::max(entry.lastFeed, entry.watchedAt + entry.terms.grace);
}

} // namespace

const char *watchStateName(WatchState state)
{
    switch (state) {
    case WatchState::Healthy:
        return "healthy";
    case WatchState::Late:
        return "late";
    case WatchState::Expired:
        return "expired";
    }
    return "unknown";
}

DeadlineEngine::Clock::time_point DeadlineEngine::Entry::lateAt() const
{
    return deadlineBase(*this) + terms.interval;
}

DeadlineEngine::Clock::time_point DeadlineEngine::Entry::expiresAt() const
{
    return deadlineBase(*this) + terms.interval * terms.allowedMisses;
}

DeadlineEngine::DeadlineEngine(QObject *parent)
    : QObject(parent)
    , m_timer(this)
{
    m_slots.reserve(InitialReserve);
    m_heap.reserve(InitialReserve);
    m_timer.setSingleShot(true);
    m_timer.setTimerType(Qt::PreciseTimer);
    connect(&m_timer, &QTimer::timeout, this, &DeadlineEngine::timerFired);
}

DeadlineEngine::~DeadlineEngine() = default;

void DeadlineEngine::reserve(size_t entries)
{
    m_slots.reserve(entries);
    // Live items plus as many stale ones before a compaction.
    m_heap.reserve(2 * entries + CompactMinimum);
}

size_t DeadlineEngine::size() const
{
    return m_slots.size();
}

const DeadlineEngine::Entry *DeadlineEngine::entry(quint64 key) const
{
    auto it = m_slots.find(key);
    return it == m_slots.end() ? nullptr : &it->second.entry;
}

DeadlineEngine::Stats DeadlineEngine::stats() const
{
    Stats s;
    s.queued = m_heap.size() + m_deferred.size();
    s.stale = m_stale;
    s.timerShots = m_timerShots;
    s.itemsProcessed = m_itemsProcessed;
    s.maxTimerLateness = m_maxTimerLateness;
    return s;
}

void DeadlineEngine::setClockForTesting(std::function<Clock::time_point()> clock)
{
    m_clock = std::move(clock);
}

DeadlineEngine::Clock::time_point DeadlineEngine::nextDeadline(const Entry &entry)
{
    // With allowedMisses == 1, lateAt() == expiresAt(): the Healthy deadline is the expiry.
    return entry.state == WatchState::Healthy ? entry.lateAt() : entry.expiresAt();
}

void DeadlineEngine::schedule(quint64 key, Slot &slot, Clock::time_point deadline)
{
    slot.ticket = ++m_nextTicket;
    m_heap.push_back(Item{deadline, key, slot.ticket});
    std::push_heap(m_heap.begin(), m_heap.end(), later<Item>);
}

void DeadlineEngine::dropItemOf(Slot &slot)
{
    if (slot.ticket) {
        ++m_stale;
        slot.ticket = 0;
    }
}

void DeadlineEngine::watch(quint64 key, const WatchTerms &asked)
{
    const WatchTerms terms = clampedTerms(asked);
    if (terms.interval != asked.interval || terms.allowedMisses != asked.allowedMisses
        || terms.grace != asked.grace) {
        qCWarning(lcWatchdog, "key %llu: terms out of bounds (interval %lld ms x %d, grace %lld ms); "
                              "using interval %lld ms x %d, grace %lld ms",
                  static_cast<unsigned long long>(key), static_cast<long long>(asked.interval.count()),
                  asked.allowedMisses, static_cast<long long>(asked.grace.count()),
                  static_cast<long long>(terms.interval.count()), terms.allowedMisses,
                  static_cast<long long>(terms.grace.count()));
    }

    const Clock::time_point t = now();
    auto [it, inserted] = m_slots.try_emplace(key);
    Slot &slot = it->second;
    const WatchState previous = inserted ? WatchState::Healthy : slot.entry.state;
    dropItemOf(slot);
    slot.entry = Entry{};
    slot.entry.terms = terms;
    slot.entry.watchedAt = t;
    slot.entry.lastFeed = t;
    const Clock::time_point deadline = nextDeadline(slot.entry);
    schedule(key, slot, deadline);
    qCDebug(lcWatchdog, "key %llu watched: interval %lld ms x %d, grace %lld ms",
            static_cast<unsigned long long>(key), static_cast<long long>(terms.interval.count()),
            terms.allowedMisses, static_cast<long long>(terms.grace.count()));

    maybeCompact();
    if (!m_processing && (!m_timer.isActive() || deadline < m_armedFor))
        arm();
    if (previous == WatchState::Late)
        Q_EMIT stateChanged(key, WatchState::Late, WatchState::Healthy);
}

void DeadlineEngine::feed(quint64 key)
{
    // The hot path: thousands of clients, every second. A time stamp and a counter, nothing more,
    // unless the entry is Late.
    auto it = m_slots.find(key);
    if (it == m_slots.end())
        return;
    Slot &slot = it->second;
    Entry &entry = slot.entry;
    entry.lastFeed = now();
    ++entry.feeds;
    if (Q_LIKELY(entry.state == WatchState::Healthy))
        return;

    // Late: its heap item sits at the old expiry, which may be later than the new Late deadline.
    entry.state = WatchState::Healthy;
    dropItemOf(slot);
    const Clock::time_point deadline = nextDeadline(entry);
    schedule(key, slot, deadline);
    qCDebug(lcWatchdog, "key %llu fed while late: healthy", static_cast<unsigned long long>(key));
    maybeCompact();
    if (!m_processing && (!m_timer.isActive() || deadline < m_armedFor))
        arm();
    Q_EMIT stateChanged(key, WatchState::Late, WatchState::Healthy);
}

void DeadlineEngine::unwatch(quint64 key)
{
    auto it = m_slots.find(key);
    if (it == m_slots.end())
        return;
    dropItemOf(it->second);
    m_slots.erase(it);
    qCDebug(lcWatchdog, "key %llu unwatched", static_cast<unsigned long long>(key));
    maybeCompact();
}

void DeadlineEngine::check(Clock::time_point now)
{
    process(now, now);
}

void DeadlineEngine::timerFired()
{
    const Clock::time_point t = now();
    ++m_timerShots;
    m_maxTimerLateness = std::max(m_maxTimerLateness, t - m_armedFor);
    process(t, t + RefreshWindow);
}

void DeadlineEngine::process(Clock::time_point now, Clock::time_point refreshHorizon)
{
    if (m_processing) {
        // From a slot of our own signals: the outer call is already working through the heap.
        qCDebug(lcWatchdog, "nested check() ignored");
        return;
    }
    m_processing = true;

    while (!m_heap.empty() && m_heap.front().deadline <= refreshHorizon) {
        std::pop_heap(m_heap.begin(), m_heap.end(), later<Item>);
        const Item item = m_heap.back();
        m_heap.pop_back();
        ++m_itemsProcessed;

        auto it = m_slots.find(item.key);
        if (it == m_slots.end() || it->second.ticket != item.ticket) {
            --m_stale;
            continue;
        }
        Slot &slot = it->second;
        const Clock::time_point due = nextDeadline(slot.entry);
        if (due > now) {
            // Fed meanwhile, or a deadline the refresh window reached early. Not due: back into the
            // heap, but not into this pass's reach, or it would pop again at once.
            if (due <= refreshHorizon) {
                m_deferred.push_back(Item{due, item.key, item.ticket});
            } else {
                m_heap.push_back(Item{due, item.key, item.ticket});
                std::push_heap(m_heap.begin(), m_heap.end(), later<Item>);
            }
            continue;
        }
        if (due > item.deadline) {
            // Fed meanwhile but overdue all the same (the loop was blocked): its turn comes in
            // deadline order, after the others that were due earlier.
            m_heap.push_back(Item{due, item.key, item.ticket});
            std::push_heap(m_heap.begin(), m_heap.end(), later<Item>);
            continue;
        }

        // A deadline reached. Signals go out last, once the engine is consistent: the slots may
        // call back into it (and `slot` may be gone after they return).
        slot.ticket = 0;
        const quint64 key = item.key;
        if (slot.entry.state == WatchState::Healthy && slot.entry.terms.allowedMisses > 1) {
            slot.entry.state = WatchState::Late;
            ++slot.entry.lateCount;
            schedule(key, slot, slot.entry.expiresAt());
            qCDebug(lcWatchdog, "key %llu late", static_cast<unsigned long long>(key));
            Q_EMIT stateChanged(key, WatchState::Healthy, WatchState::Late);
        } else {
            expire(key, slot.entry.state);
        }
    }

    for (const Item &item : m_deferred) {
        m_heap.push_back(item);
        std::push_heap(m_heap.begin(), m_heap.end(), later<Item>);
    }
    m_deferred.clear();
    m_processing = false;
    maybeCompact();
    arm();
}

void DeadlineEngine::expire(quint64 key, WatchState from)
{
    // Removed before anyone hears of it, as the old server dropped the name: a slot that watches
    // the key again starts afresh.
    m_slots.erase(key);
    qCDebug(lcWatchdog, "key %llu expired (was %s)", static_cast<unsigned long long>(key), watchStateName(from));
    Q_EMIT stateChanged(key, from, WatchState::Expired);
    Q_EMIT expired(key);
}

void DeadlineEngine::arm()
{
    if (m_heap.empty()) {
        m_timer.stop();
        return;
    }
    const Clock::time_point t = now();
    const Clock::time_point deadline = m_heap.front().deadline;
    // Rounded up: QTimer counts whole milliseconds and firing before the deadline would be a
    // wasted shot.
    milliseconds delay = std::chrono::ceil<milliseconds>(deadline - t);
    delay = std::clamp(delay, milliseconds(0), MaxTimerDelay);
    m_armedFor = std::min(deadline, t + delay);
    m_timer.start(delay);
}

void DeadlineEngine::maybeCompact()
{
    if (m_processing)
        return; // items are out of the heap; process() calls again when it is done
    if (m_slots.empty()) {
        m_heap.clear();
        m_stale = 0;
        m_timer.stop();
        return;
    }
    if (m_stale <= m_slots.size() || m_heap.size() < CompactMinimum)
        return;
    const auto isStale = [this](const Item &item) {
        auto it = m_slots.find(item.key);
        return it == m_slots.end() || it->second.ticket != item.ticket;
    };
    m_heap.erase(std::remove_if(m_heap.begin(), m_heap.end(), isStale), m_heap.end());
    std::make_heap(m_heap.begin(), m_heap.end(), later<Item>);
    m_stale = 0;
    qCDebug(lcWatchdog, "heap compacted to %zu items", m_heap.size());
}

} // namespace Kennel
