#include "heldnames.h"

#include "format.h"

#include <QElapsedTimer>

#include <algorithm>

namespace Kennel {

namespace {
qint64 monotonicMs()
{
    static const QElapsedTimer clock = [] {
        QElapsedTimer t;
        t.start();
        return t;
    }();
    return clock.elapsed();
}
} // namespace

HeldNames::HeldNames(QObject *parent)
    : QObject(parent)
    , m_clock(monotonicMs)
{
}

void HeldNames::setClock(std::function<qint64()> clock)
{
    m_clock = clock ? std::move(clock) : std::function<qint64()>(monotonicMs);
}

void HeldNames::apply(const QList<MonitorHeld> &records)
{
    if (records.isEmpty())
        return;
    const qint64 stamp = m_clock();
    for (const MonitorHeld &h : records) {
        if (h.count == 0)
            m_names.remove(h.name);
        else
            m_names.insert(h.name, Entry{h, stamp});
    }
    Q_EMIT changed();
}

void HeldNames::clear()
{
    if (m_names.isEmpty())
        return;
    m_names.clear();
    Q_EMIT changed();
}

QList<QByteArray> HeldNames::names() const
{
    QList<QByteArray> list = m_names.keys();
    std::sort(list.begin(), list.end());
    return list;
}

const MonitorHeld *HeldNames::find(const QByteArray &name) const
{
    const auto it = m_names.constFind(name);
    return it == m_names.constEnd() ? nullptr : &it->held;
}

qint64 HeldNames::oldestAgeMs(const QByteArray &name) const
{
    const auto it = m_names.constFind(name);
    if (it == m_names.constEnd())
        return -1;
    return it->held.oldestAgeMs + std::max<qint64>(0, m_clock() - it->stampMs);
}

QString HeldNames::describe(const QByteArray &name) const
{
    const MonitorHeld *h = find(name);
    if (!h)
        return QStringLiteral("—");
    return QStringLiteral("%1 · %2 · %3").arg(h->count).arg(Format::bytes(h->bytes), Format::duration(oldestAgeMs(name)));
}

quint64 HeldNames::totalCount() const
{
    quint64 n = 0;
    for (const Entry &e : m_names)
        n += e.held.count;
    return n;
}

} // namespace Kennel
