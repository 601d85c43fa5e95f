#include "connectiondeadlines.h"

#include <algorithm>
#include <limits>

namespace Kennel {

ConnectionDeadlines::ConnectionDeadlines(const Terms &terms, const TimedConnections &connections)
    : m_terms(terms)
    , m_connections(connections)
    , m_armedFor(Clock::time_point::max())
{
    // Precise: a coarse timer may run 5 % late, and idle detection is promised within 1.25 x the
    // idle timeout. Ten sweeps per idle timeout cost nothing measurable even with 10,000
    // connections (one pass over a hash table, no system call per connection).
    m_timer.setSingleShot(true);
    m_timer.setTimerType(Qt::PreciseTimer);
    QObject::connect(&m_timer, &QTimer::timeout, &m_timer, [this] {
        m_armedFor = Clock::time_point::max();
        check(now());
    });
    m_lastSweep = now();
    if (m_terms.idleTimeout.count() > 0) {
        m_sweepInterval = std::max<Clock::duration>(std::chrono::milliseconds(1), m_terms.idleTimeout / IdleSweepsPerTimeout);
        m_nextSweep = m_lastSweep + m_sweepInterval;
        armFor(m_nextSweep);
    }
}

void ConnectionDeadlines::setClockForTesting(std::function<Clock::time_point()> clock)
{
    m_clock = std::move(clock);
    // The sweep's cadence restarts on the new clock.
    m_lastSweep = now();
    if (m_sweepInterval.count() > 0) {
        m_nextSweep = m_lastSweep + m_sweepInterval;
        arm();
    }
}

ConnectionDeadlines::Clock::time_point ConnectionDeadlines::nextCheck() const
{
    return m_timer.isActive() ? m_armedFor : Clock::time_point::max();
}

void ConnectionDeadlines::adopted(quint64 id, TimedConnection &connection)
{
    const auto t = now();
    connection.m_adoptedAt = t;
    connection.m_lastInputAt = t;
    connection.m_idlePinged = false;
    connection.m_incompleteQueued = false;
    m_registerQueue.emplace_back(t + m_terms.registerTimeout, id);
    armFor(m_registerQueue.back().first);
}

void ConnectionDeadlines::incompleteFrameStarted(quint64 id, TimedConnection &connection)
{
    if (connection.m_incompleteQueued)
        return; // its entry comes up first and is put back with this frame's deadline
    connection.m_incompleteQueued = true;
    m_incompleteQueue.emplace(connection.incompleteFrameSince() + m_terms.incompleteFrameTimeout, id);
    armFor(m_incompleteQueue.top().first);
}

void ConnectionDeadlines::stop()
{
    m_stopped = true;
    m_timer.stop();
    m_armedFor = Clock::time_point::max();
}

void ConnectionDeadlines::check(Clock::time_point now)
{
    expireRegistrations(now);
    expireIncompleteFrames(now);
    if (m_sweepInterval.count() > 0 && now >= m_nextSweep) {
        sweepIdle(now);
        // A fixed cadence, as a periodic timer keeps; a sweep run very late does not bunch the next.
        m_nextSweep += m_sweepInterval;
        if (m_nextSweep <= now)
            m_nextSweep = now + m_sweepInterval;
    }
    arm();
}

void ConnectionDeadlines::expireRegistrations(Clock::time_point now)
{
    const QString text = QStringLiteral("no registration within %1 ms").arg(m_terms.registerTimeout.count());
    while (!m_registerQueue.empty() && m_registerQueue.front().first <= now) {
        const quint64 id = m_registerQueue.front().second;
        m_registerQueue.pop_front();
        TimedConnection *connection = m_connections.timedConnection(id);
        if (!connection || !connection->awaitsRegistration())
            continue;
        connection->deadlinePassed(TimedConnection::Deadline::Register, text);
    }
}

void ConnectionDeadlines::expireIncompleteFrames(Clock::time_point now)
{
    std::vector<TimedConnection *> expired;
    while (!m_incompleteQueue.empty() && m_incompleteQueue.top().first <= now) {
        const quint64 id = m_incompleteQueue.top().second;
        m_incompleteQueue.pop();
        TimedConnection *connection = m_connections.timedConnection(id);
        if (!connection)
            continue;
        connection->m_incompleteQueued = false;
        if (!connection->hasIncompleteFrame())
            continue; // completed in time
        auto deadline = connection->incompleteFrameSince() + m_terms.incompleteFrameTimeout;
        if (connection->isInputPaused()) {
            // The broker stopped reading it (its output backlog is full): the rest of the frame
            // may well be waiting in the kernel. Not the peer's stall; look again later.
            deadline = now + m_terms.incompleteFrameTimeout;
        }
        if (deadline <= now) {
            expired.push_back(connection);
        } else {
            // That frame completed and a later one is pending (its own deadline), or paused.
            connection->m_incompleteQueued = true;
            m_incompleteQueue.emplace(deadline, id);
        }
    }
    for (TimedConnection *connection : expired) {
        connection->deadlinePassed(TimedConnection::Deadline::IncompleteFrame,
                                   QStringLiteral("%1 bytes of a frame held for %2 ms without the rest")
                                       .arg(connection->incompleteFrameBytes())
                                       .arg(m_terms.incompleteFrameTimeout.count()));
    }
}

void ConnectionDeadlines::sweepIdle(Clock::time_point now)
{
    const auto previous = std::exchange(m_lastSweep, now);
    const auto idle = m_terms.idleTimeout;
    const auto halfStep = idle / (2 * IdleSweepsPerTimeout);
    std::vector<TimedConnection *> silent;
    m_connections.forEachTimed([&](TimedConnection &connection) {
        if (connection.takeInputSeen()) {
            // It arrived after the previous sweep: counting from there never overstates the life.
            connection.m_lastInputAt = std::max(previous, connection.m_adoptedAt);
            connection.m_idlePinged = false;
            return;
        }
        if (!connection.answersPing())
            return;
        if (connection.isInputPaused()) {
            // Not read by the broker (its output backlog is full), so its input cannot be seen;
            // a peer that vanished this way is TCP_USER_TIMEOUT's (unacknowledged output).
            connection.m_lastInputAt = now;
            return;
        }
        // m_lastInputAt is a sweep time, so `quiet` moves in steps of one sweep interval; half a
        // step of margin keeps a sweep that runs a little late from acting one step early.
        const auto quiet = now - connection.m_lastInputAt;
        if (quiet >= idle + halfStep) {
            silent.push_back(&connection);
        } else if (!connection.m_idlePinged && quiet >= idle / 2 + halfStep) {
            // Any answer counts as life; the client library answers Ping with Pong.
            connection.m_idlePinged = true;
            connection.ping();
        }
    });
    for (TimedConnection *connection : silent) {
        connection->deadlinePassed(TimedConnection::Deadline::Idle,
                                   QStringLiteral("nothing received for %1 ms, Ping unanswered").arg(idle.count()));
    }
}

void ConnectionDeadlines::arm()
{
    Clock::time_point next = Clock::time_point::max();
    if (!m_registerQueue.empty())
        next = std::min(next, m_registerQueue.front().first);
    if (!m_incompleteQueue.empty())
        next = std::min(next, m_incompleteQueue.top().first);
    if (m_sweepInterval.count() > 0)
        next = std::min(next, m_nextSweep);
    m_timer.stop();
    m_armedFor = Clock::time_point::max();
    if (next != Clock::time_point::max())
        armFor(next);
}

void ConnectionDeadlines::armFor(Clock::time_point deadline)
{
    if (m_stopped || (m_timer.isActive() && m_armedFor <= deadline))
        return;
    // QTimer counts whole milliseconds: one more keeps it from acting before the deadline.
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now());
    m_armedFor = deadline;
    m_timer.start(int(std::clamp<qint64>(wait.count(), 0, std::numeric_limits<int>::max() - 1) + 1));
}

} // namespace Kennel
