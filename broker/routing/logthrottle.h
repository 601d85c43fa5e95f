// Log lines a peer or a service can cause are logged one by one — until a flood would drown the
// log (and the event loop writing it). Past the budget for the current second the lines are
// counted instead and summed up once the second ends. One LogThrottle per source of lines:
// undeliverable messages, refusals, a service's output; LogThrottleMap keeps one per key (a
// peer's address) for lines each peer causes on its own.
#pragma once

#include <QElapsedTimer>
#include <QHash>
#include <QString>

#include <utility>

namespace Kennel {

class LogThrottle
{
public:
    explicit LogThrottle(int linesPerSecond = 20) : m_budget(linesPerSecond) { m_clock.start(); }

    void setLinesPerSecond(int linesPerSecond) { m_budget = linesPerSecond; }

    // True if the caller may log this event. When a new second starts and lines were held back,
    // `suppressedSinceLast` says how many, so the caller can log a summary first.
    bool allow(int *suppressedSinceLast)
    {
        *suppressedSinceLast = 0;
        if (m_clock.elapsed() >= 1000) {
            *suppressedSinceLast = m_suppressed;
            m_suppressed = 0;
            m_used = 0;
            m_clock.restart();
        }
        if (m_used < m_budget) {
            ++m_used;
            return true;
        }
        ++m_suppressed;
        return false;
    }

    // Lines held back and not yet summed up; the count starts over. For a source that ends (a
    // service exits) or goes quiet: otherwise its summary would wait for its next line.
    int takeSuppressed() { return std::exchange(m_suppressed, 0); }
    // Nothing was allowed or held back for a second or more.
    bool isIdle() const { return m_suppressed == 0 && m_clock.elapsed() >= 1000; }

private:
    QElapsedTimer m_clock;
    int m_budget;
    int m_used = 0;
    int m_suppressed = 0;
};

// One LogThrottle per key, for lines that each peer address causes. At most MaxKeys are kept:
// idle ones are forgotten when the map fills, and past that every further key shares one
// throttle, so that many addresses cannot grow the map (or the log) without bound either.
class LogThrottleMap
{
public:
    static constexpr int MaxKeys = 1024;

    explicit LogThrottleMap(int linesPerSecond = 20) : m_linesPerSecond(linesPerSecond), m_shared(linesPerSecond) {}

    void setLinesPerSecond(int linesPerSecond)
    {
        if (linesPerSecond == m_linesPerSecond)
            return;
        m_linesPerSecond = linesPerSecond;
        m_shared.setLinesPerSecond(linesPerSecond);
        for (LogThrottle &throttle : m_throttles)
            throttle.setLinesPerSecond(linesPerSecond);
    }

    // As LogThrottle::allow(), for the lines of `key`.
    bool allow(const QString &key, int *suppressedSinceLast)
    {
        auto it = m_throttles.find(key);
        if (it == m_throttles.end()) {
            if (m_throttles.size() >= MaxKeys)
                forgetIdle();
            if (m_throttles.size() >= MaxKeys)
                return m_shared.allow(suppressedSinceLast);
            it = m_throttles.insert(key, LogThrottle(m_linesPerSecond));
        }
        return it->allow(suppressedSinceLast);
    }

private:
    void forgetIdle()
    {
        for (auto it = m_throttles.begin(); it != m_throttles.end();) {
            if (it->isIdle())
                it = m_throttles.erase(it);
            else
                ++it;
        }
    }

    int m_linesPerSecond;
    LogThrottle m_shared;
    QHash<QString, LogThrottle> m_throttles;
};

} // namespace Kennel
