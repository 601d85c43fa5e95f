#include "outputring.h"

#include <algorithm>

namespace Kennel {

OutputRing::OutputRing(int maxLines, qint64 maxBytes) : m_maxLines(std::max(0, maxLines)), m_maxBytes(std::max<qint64>(0, maxBytes))
{
}

void OutputRing::setBounds(int maxLines, qint64 maxBytes)
{
    m_maxLines = std::max(0, maxLines);
    m_maxBytes = std::max<qint64>(0, maxBytes);
    trim();
}

void OutputRing::append(qint64 timeMs, bool isStderr, QByteArrayView text)
{
    Line line;
    line.seq = m_nextSeq++;
    line.timeMs = timeMs;
    line.isStderr = isStderr;
    line.text = text.toByteArray();
    m_bytes += line.text.size();
    m_lines.push_back(std::move(line));
    trim();
}

void OutputRing::trim()
{
    while (!m_lines.empty() && (int(m_lines.size()) > m_maxLines || m_bytes > m_maxBytes)) {
        m_bytes -= m_lines.front().text.size();
        m_lines.pop_front();
        ++m_dropped;
    }
}

QList<OutputRing::Line> OutputRing::tail(int max, quint64 after, qint64 maxBytes, bool *more) const
{
    // Walk back from the newest while within both bounds.
    qsizetype first = qsizetype(m_lines.size());
    qint64 bytes = 0;
    bool cut = false;
    while (first > 0) {
        const Line &line = m_lines[size_t(first - 1)];
        if (line.seq <= after)
            break;
        if (max > 0 && qsizetype(m_lines.size()) - first >= max)
            break;
        if (maxBytes > 0 && bytes + line.text.size() > maxBytes && first < qsizetype(m_lines.size())) {
            cut = true;
            break;
        }
        bytes += line.text.size();
        --first;
    }
    if (more)
        *more = cut;
    QList<Line> out;
    out.reserve(qsizetype(m_lines.size()) - first);
    for (size_t i = size_t(first); i < m_lines.size(); ++i)
        out.append(m_lines[i]);
    return out;
}

QList<OutputRing::Line> OutputRing::after(quint64 after, qint64 maxBytes, bool *more) const
{
    QList<Line> out;
    qint64 bytes = 0;
    auto it = std::lower_bound(m_lines.begin(), m_lines.end(), after + 1,
                               [](const Line &line, quint64 seq) { return line.seq < seq; });
    for (; it != m_lines.end(); ++it) {
        if (maxBytes > 0 && !out.isEmpty() && bytes + it->text.size() > maxBytes)
            break;
        bytes += it->text.size();
        out.append(*it);
    }
    if (more)
        *more = it != m_lines.end();
    return out;
}

} // namespace Kennel
