// What the connection deadlines (ConnectionDeadlines) read of a connection and do to it when one
// passes. Session implements it; the deadlines' unit test fakes it, so the timing policy is tested
// without sockets. The deadlines' own bookkeeping per connection lives here, private to them: a
// connection carries it (no look-up per read) but cannot touch it.
#pragma once

#include <QString>

#include <chrono>
#include <cstddef>
#include <functional>

namespace Kennel {

class TimedConnection
{
public:
    using Clock = std::chrono::steady_clock;
    enum class Deadline : quint8 {
        Register,        // no registration within register_timeout_ms
        IncompleteFrame, // a frame's beginning held past incomplete_frame_timeout_ms
        Idle,            // a native peer silent for idle_timeout_ms, Ping unanswered
    };

    // Nothing valid received yet: the register deadline applies.
    virtual bool awaitsRegistration() const = 0;
    // Open and known to speak native frames: the idle sweep pings it and may close it. Legacy
    // peers are exempt (an old receive connection never writes); connections that have not said
    // which protocol they speak are the register deadline's.
    virtual bool answersPing() const = 0;
    // The beginning of a frame is held without its end, since incompleteFrameSince().
    virtual bool hasIncompleteFrame() const = 0;
    virtual Clock::time_point incompleteFrameSince() const = 0;
    virtual size_t incompleteFrameBytes() const = 0;
    // Not read while its own output backlog is over the bound: what it sent waits in the kernel.
    virtual bool isInputPaused() const = 0;
    // Whether any read returned bytes since the last call (which clears it). No clock per read.
    virtual bool takeInputSeen() = 0;

    // `which` ran out: tell the peer as far as its protocol allows, close, one log line (`text`).
    virtual void deadlinePassed(Deadline which, const QString &text) = 0;
    // Ask a silent peer for a sign of life (any answer counts).
    virtual void ping() = 0;

protected:
    ~TimedConnection() = default;

private:
    friend class ConnectionDeadlines;
    Clock::time_point m_adoptedAt;
    // The earliest the last input may have arrived (a sweep time), and whether it was pinged since.
    Clock::time_point m_lastInputAt;
    bool m_idlePinged = false;
    // The incomplete-frame heap holds an entry for it (at most one at a time).
    bool m_incompleteQueued = false;
};

// The connections the deadlines watch, by connection id (ConnectionTable in the broker).
class TimedConnections
{
public:
    // nullptr once the connection has closed.
    virtual TimedConnection *timedConnection(quint64 id) const = 0;
    // Every open connection; `fn` may ping but must not close any of them.
    virtual void forEachTimed(const std::function<void(TimedConnection &)> &fn) const = 0;

protected:
    ~TimedConnections() = default;
};

} // namespace Kennel
