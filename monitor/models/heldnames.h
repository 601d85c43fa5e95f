// HeldNames: what the broker holds for each name that has no receiver (PROTOCOL §6.7), as the
// monitor stream's MonitorHeld records say, for the clients' and services' Held columns and the
// summary. A record with count 0 removes its name. The oldest message's age travels relative to
// when the broker sent it; it is stamped with the local monotonic clock on arrival and counted on
// from there, as the clients' deadlines are.
//
// Where a name held for shows (docs/MONITOR-APP.md): in the clients table beside its client, in
// the services table beside the service of that name (a restarting service is the usual case:
// not connected, and its messages waiting), and every name, connected or not, in the summary's
// held figure and its tooltip.
#pragma once

#include "monitorcodec.h"

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QObject>

#include <functional>

namespace Kennel {

class HeldNames : public QObject
{
    Q_OBJECT
public:
    explicit HeldNames(QObject *parent = nullptr);

    // In arrival order; count 0: nothing held for that name any more.
    void apply(const QList<MonitorHeld> &records);
    void clear();

    bool isEmpty() const { return m_names.isEmpty(); }
    qsizetype size() const { return m_names.size(); }
    QList<QByteArray> names() const; // sorted
    // nullptr when nothing is held for `name`.
    const MonitorHeld *find(const QByteArray &name) const;
    // The oldest held message's age now, counted on locally; -1 when nothing is held.
    qint64 oldestAgeMs(const QByteArray &name) const;
    // "3 · 1.5 KiB · 4.2 s" (count, bytes, oldest's age), or "—" when nothing is held.
    QString describe(const QByteArray &name) const;
    quint64 totalCount() const;

    // Monotonic milliseconds; tests replace it.
    void setClock(std::function<qint64()> clock);

Q_SIGNALS:
    void changed();

private:
    struct Entry
    {
        MonitorHeld held;
        qint64 stampMs = 0;
    };
    QHash<QByteArray, Entry> m_names;
    std::function<qint64()> m_clock;
};

} // namespace Kennel
