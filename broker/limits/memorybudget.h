// One broker-wide memory budget: the bytes of one kind held across all connections (incomplete
// frames, output queued towards clients, output queued towards monitors; held messages, retained
// values and the spool join as further budgets when they land). The paths that hold those bytes
// already touch their own buffer's size; all they add is an add or a subtract here — no clock, no
// lookup, no allocation — and the first add that passes the limit asks for a shed, which
// BudgetShedder does after the batch, outside every handler.
#pragma once

#include <QtGlobal>

namespace Kennel {

class MemoryBudget
{
public:
    explicit MemoryBudget(const char *name) : m_name(name) {}

    const char *name() const { return m_name; }
    // 0: no limit (a context without a broker: handler unit tests, fuzzers).
    void setLimit(qint64 bytes) { m_limit = bytes; }
    qint64 limit() const { return m_limit; }
    qint64 used() const { return m_used; }
    qint64 peak() const { return m_peak; }
    bool isOver() const { return m_limit > 0 && m_used > m_limit; }

    // True when this add took the budget past its limit: the caller asks for a shed.
    bool add(qint64 bytes)
    {
        m_used += bytes;
        if (Q_UNLIKELY(m_used > m_peak))
            m_peak = m_used;
        return Q_UNLIKELY(m_limit > 0 && m_used > m_limit);
    }
    void subtract(qint64 bytes) { m_used -= bytes; }

    // A holder was shed to bring the budget back under its limit.
    void noteShed() { ++m_shed; }
    quint64 shedCount() const { return m_shed; }

    // For a budget that refuses instead of shedding (unacknowledged deliveries): whether `bytes`
    // more would pass the limit. An empty budget takes anything, as an empty queue takes any frame:
    // a single frame larger than the whole budget is not refused forever.
    bool wouldExceed(qint64 bytes) const { return m_limit > 0 && m_used > 0 && m_used + bytes > m_limit; }
    void noteRefused() { ++m_refused; }
    quint64 refusedCount() const { return m_refused; }

private:
    const char *m_name;
    qint64 m_limit = 0;
    qint64 m_used = 0;
    qint64 m_peak = 0;
    quint64 m_shed = 0;
    quint64 m_refused = 0;
};

} // namespace Kennel
