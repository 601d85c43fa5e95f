// The deadlines on a connection's input, all behind one timer and one check(now), as the watchdog
// engine (DeadlineEngine) does for feeds:
// - register: a connection that has not registered within `registerTimeout` of its accept is
//   refused (PROTOCOL ). Every connection gets the same span, so the queue is a FIFO and its
//   front is always the next to expire.
// - incomplete frame: the beginning of a frame held `incompleteFrameTimeout` without its end closes
//   the connection. A lazy min-heap with at most one entry per connection: an entry whose frame
//   completed while a later one is pending is put back with that frame's own deadline, which may
//   come before ones already queued. A connection the broker stopped reading is not blamed.
// - idle: every idleTimeout / 10 a sweep over the connections; a native peer silent for half the
//   idle timeout is pinged, one silent for the whole of it is closed (PROTOCOL ).
// Nothing here runs per message: a read sets a flag on the connection, a read that ends inside a
// frame starts that frame's clock once. What a connection is told when a deadline passes is its
// own business (TimedConnection::deadlinePassed).
#pragma once

#include "timedconnection.h"

#include <QTimer>

#include <chrono>
#include <deque>
#include <functional>
#include <queue>
#include <utility>
#include <vector>

namespace Kennel {

class ConnectionDeadlines
{
public:
    using Clock = std::chrono::steady_clock;

    struct Terms
    {
        std::chrono::milliseconds registerTimeout{0};
        std::chrono::milliseconds incompleteFrameTimeout{0};
        std::chrono::milliseconds idleTimeout{0}; // 0: no idle sweep
    };

    // Idle detection: a native peer is pinged after 0.5..0.6 and closed after 1.0..1.1 idle timeouts
    // of silence (the sweep's granularity is a tenth of it), so that the close stays within the
    // promised 1.25 even when the event loop runs a sweep late under load.
    static constexpr int IdleSweepsPerTimeout = 10;

    ConnectionDeadlines(const Terms &terms, const TimedConnections &connections);
    ConnectionDeadlines(const ConnectionDeadlines &) = delete;
    ConnectionDeadlines &operator=(const ConnectionDeadlines &) = delete;

    // A new connection: its register deadline and the idle clock start now.
    void adopted(quint64 id, TimedConnection &connection);
    // A read ended with the beginning of a new frame held (connection.incompleteFrameSince()).
    void incompleteFrameStarted(quint64 id, TimedConnection &connection);
    // The graceful stop: no deadline acts any more.
    void stop();

    // Every deadline <= now, and the idle sweep if it is due. Called by the timer with the current
    // time; public so tests drive time without waiting.
    void check(Clock::time_point now);
    // Test hook: the clock read by adopted(), incompleteFrameStarted() and the timer path. An
    // empty function restores Clock::now. The idle sweep's cadence restarts at the clock's now.
    void setClockForTesting(std::function<Clock::time_point()> clock);

    // When the timer is armed to run check() next (for tests); time_point::max() if it is not.
    Clock::time_point nextCheck() const;

private:
    using Deadline = std::pair<Clock::time_point, quint64>;

    Clock::time_point now() const { return m_clock ? m_clock() : Clock::now(); }
    void expireRegistrations(Clock::time_point now);
    void expireIncompleteFrames(Clock::time_point now);
    void sweepIdle(Clock::time_point now);
    void arm();
    void armFor(Clock::time_point deadline);

    Terms m_terms;
    const TimedConnections &m_connections;
    std::deque<Deadline> m_registerQueue;
    std::priority_queue<Deadline, std::vector<Deadline>, std::greater<Deadline>> m_incompleteQueue;
    // The idle sweep: the time of the previous sweep bounds when input seen since then may have
    // arrived.
    Clock::duration m_sweepInterval{0};
    Clock::time_point m_lastSweep;
    Clock::time_point m_nextSweep;
    QTimer m_timer;
    Clock::time_point m_armedFor;
    std::function<Clock::time_point()> m_clock;
    bool m_stopped = false;
};

} // namespace Kennel
