// A service's recent output: the last lines its program wrote (stdout and stderr, as the
// supervisor split and cut them), bounded by a number of lines and a number of bytes, for an
// operator's `kennelctl logs` and the monitor (PROTOCOL §6.5). Lines that fall off the front are
// counted. Each line has a sequence number (1, 2, ... over the service's life in this broker), so
// that a reader that follows can ask for "what came after the last one I saw".
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QList>

#include <deque>

namespace Kennel {

class OutputRing
{
public:
    struct Line
    {
        quint64 seq = 0;
        qint64 timeMs = 0;   // wall clock, ms since the epoch
        bool isStderr = false;
        QByteArray text;     // without the line break
    };

    // maxLines 0: nothing is kept (every line counts as dropped).
    OutputRing(int maxLines, qint64 maxBytes);

    // New bounds; lines over them are dropped (counted) at once, oldest first.
    void setBounds(int maxLines, qint64 maxBytes);
    void append(qint64 timeMs, bool isStderr, QByteArrayView text);

    // Lines with seq > after, oldest first: the newest `max` of them (max 0: all), then the
    // oldest cut off until their text fits in `maxBytes` (0: no limit); *more set when that cut any.
    QList<Line> tail(int max, quint64 after = 0, qint64 maxBytes = 0, bool *more = nullptr) const;
    // From the first line after `after`, oldest first, as many as fit in maxBytes (at least one):
    // how a follower catches up without losing lines. *more: lines after the last one returned.
    QList<Line> after(quint64 after, qint64 maxBytes, bool *more = nullptr) const;

    int lineCount() const { return int(m_lines.size()); }
    qint64 byteCount() const { return m_bytes; }
    quint64 dropped() const { return m_dropped; }
    quint64 lastSeq() const { return m_nextSeq - 1; }
    int maxLines() const { return m_maxLines; }
    qint64 maxBytes() const { return m_maxBytes; }

private:
    void trim();

    std::deque<Line> m_lines;
    qint64 m_bytes = 0;
    quint64 m_nextSeq = 1;
    quint64 m_dropped = 0;
    int m_maxLines;
    qint64 m_maxBytes;
};

} // namespace Kennel
