// Undeliverable messages are logged one by one — until a flood would drown the log. Past the
// budget for the current second the lines are counted instead and summed up once the second ends.
#pragma once

#include <QElapsedTimer>

namespace Kennel {

class LogThrottle
{
public:
    explicit LogThrottle(int linesPerSecond = 20) : m_budget(linesPerSecond) { m_clock.start(); }

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

private:
    QElapsedTimer m_clock;
    int m_budget;
    int m_used = 0;
    int m_suppressed = 0;
};

} // namespace Kennel
