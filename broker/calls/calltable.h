// The outstanding calls (PROTOCOL §5.6): plain bookkeeping, no sockets, no timers; the caller
// passes `now`. A call is keyed by the id the broker gave it towards its callee, which is what a
// Reply names; it is also found by its caller (connection, the caller's call id), so that a
// caller's duplicate id is refused and a caller that goes takes its entries along, and by its
// callee connection (a callee that goes fails its calls with callee_gone). Deadlines are kept in
// one ordered set: the router arms one timer to the earliest, never a timer per call.
#pragma once

#include <QByteArray>
#include <QHash>

#include <chrono>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

namespace Kennel {

class CallTable
{
public:
    using Clock = std::chrono::steady_clock;

    struct Call
    {
        quint32 id = 0;              // the broker's id towards the callee (a CallIncoming's messageId)
        quint64 callerConnection = 0;
        quint32 callerCallId = 0;    // the caller's Call messageId, echoed in its CallResult
        QByteArray caller;           // the caller's name, stamped on the CallIncoming
        QByteArray target;           // the name called
        quint64 calleeConnection = 0; // 0 while it waits for the name to register
        Clock::time_point startedAt;
        Clock::time_point deadline;
        QByteArray payload;          // kept only while it waits; handed over at delivery
    };

    // Outstanding calls of `connection` as a caller.
    int outstandingOf(quint64 callerConnection) const
    {
        const auto it = m_byCaller.constFind(callerConnection);
        return it == m_byCaller.cend() ? 0 : int(it->size());
    }
    bool hasCallerId(quint64 callerConnection, quint32 callerCallId) const
    {
        const auto it = m_byCaller.constFind(callerConnection);
        return it != m_byCaller.cend() && it->contains(callerCallId);
    }
    // Adds `call` under a fresh id (never 0, never one in use); returns it.
    quint32 add(Call call);
    // The callee of a waiting call has registered on `connection`.
    void bind(quint32 id, quint64 calleeConnection);
    const Call *find(quint32 id) const;
    // Takes the call out of every index.
    std::optional<Call> take(quint32 id);
    // Calls whose deadline is at or before `now`, taken out.
    std::vector<Call> takeDue(Clock::time_point now);
    std::optional<Clock::time_point> nextDeadline() const;
    // Calls to `calleeConnection`, taken out (the callee has gone).
    std::vector<Call> takeForCallee(quint64 calleeConnection);
    // Calls of `callerConnection`, taken out (the caller has gone).
    std::vector<Call> takeForCaller(quint64 callerConnection);
    // Drops the connection's (empty) per-connection indexes: it has closed. They are kept while it
    // lives, so that a connection with one call at a time does not build and free two hash tables
    // for every call (docs/BENCHMARKS.md, "Calls").
    void forget(quint64 connection);
    // Ids of the calls waiting for `name` to register, oldest first.
    std::vector<quint32> waitingFor(const QByteArray &name) const;
    std::vector<Call> takeAll();

    size_t size() const { return m_calls.size(); }
    size_t waitingCount() const;

private:
    std::unordered_map<quint32, Call> m_calls;
    QHash<quint64, QHash<quint32, quint32>> m_byCaller; // caller connection -> caller id -> id
    QHash<quint64, QSet<quint32>> m_byCallee;           // callee connection -> ids
    QHash<QByteArray, std::vector<quint32>> m_waiting;  // name -> ids waiting for it, oldest first
    std::set<std::pair<Clock::time_point, quint32>> m_deadlines;
    quint32 m_lastId = 0;
};

} // namespace Kennel
