// Duplicates dropped on the receiving board: per origin board, the sequence numbers seen within a
// window below the highest seen. The origin publishes in sequence order and republishes after a
// reconnect what was not acknowledged, so a duplicate is either in the window or older than it.
// The windows live as long as the broker, across reconnects of the link.
#pragma once

#include <QByteArray>
#include <QHash>

#include <set>

namespace Kennel {

class DedupWindow
{
public:
    explicit DedupWindow(int window = 4096, int maxOrigins = 1024)
        : m_window(quint64(qMax(1, window)))
        , m_maxOrigins(maxOrigins)
    {
    }
    void setWindow(int window) { m_window = quint64(qMax(1, window)); }

    // True the first time (origin, seq) is seen; false for a duplicate (or one older than the window).
    bool firstTime(const QByteArray &origin, quint64 seq)
    {
        auto it = m_origins.find(origin);
        if (it == m_origins.end()) {
            if (m_origins.size() >= m_maxOrigins)
                m_origins.clear(); // more boards than the bound: start over rather than grow
            it = m_origins.insert(origin, Seen{});
        }
        Seen &seen = *it;
        if (seq + m_window <= seen.highest || seen.seqs.count(seq))
            return false;
        seen.seqs.insert(seq);
        seen.highest = qMax(seen.highest, seq);
        while (!seen.seqs.empty() && *seen.seqs.begin() + m_window <= seen.highest)
            seen.seqs.erase(seen.seqs.begin());
        return true;
    }

private:
    struct Seen
    {
        quint64 highest = 0;
        std::set<quint64> seqs;
    };
    quint64 m_window;
    int m_maxOrigins;
    QHash<QByteArray, Seen> m_origins;
};

} // namespace Kennel
