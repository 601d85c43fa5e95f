// EventsModel: the monitor's log — joins, leaves, watchdog late/expired/kills, service starts,
// exits and restarts, refusals, control results and the link's own ups and downs — newest last,
// in a fixed-capacity ring like the traffic. Entries are appended in batches by MonitorFeed.
#pragma once

#include "ringbuffer.h"

#include <QAbstractTableModel>
#include <QList>
#include <QString>

namespace Kennel {

struct EventEntry
{
    enum class Kind {
        Link,        // the monitor's connection: connected, lost, snapshot
        Join,
        Leave,
        Watchdog,    // registered, healthy again, notified
        Late,
        Expired,
        Kill,        // a signal sent, a process ended by it, a watchdog disconnect
        Service,     // started, stopped
        Restart,     // a service restarted or failed
        Refusal,     // the broker refused something: messages, a control, this monitor
        Control,     // an operator action and its result
        Undelivered, // a client's messages that found no one (no such client, a full queue, ...):
                     // the sender's business, not the broker refusing anything
    };
    qint64 timeMs = 0; // wall clock; of the latest occurrence when count > 1
    Kind kind = Kind::Link;
    QString subject;   // client or service name; empty for the link
    QString text;
    quint64 count = 1;      // occurrences merged into this entry (see EventsModel::append)
    qint64 firstTimeMs = 0; // of the first occurrence, when count > 1
};

class EventsModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { TimeColumn, KindColumn, SubjectColumn, TextColumn, ColumnCount };
    enum Role { KindRole = Qt::UserRole + 1, TimeMsRole, ExportRole /* full local timestamps, for CSV */ };

    static constexpr qsizetype DefaultCapacity = 10000;

    explicit EventsModel(qsizetype capacity = DefaultCapacity, QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // An entry that repeats the one before it (same kind, subject and text) within RepeatWindowMs
    // of its latest occurrence is merged into it: its count grows and its time moves on, so a
    // client that keeps sending to a missing name is one line, not one per message.
    void append(const QList<EventEntry> &entries);
    static constexpr qint64 RepeatWindowMs = 60 * 1000;
    void clear();
    const EventEntry &entry(int row) const { return m_rows.at(row); }
    qsizetype capacity() const { return m_rows.capacity(); }

    static QString kindName(EventEntry::Kind kind);

private:
    RingBuffer<EventEntry> m_rows;
};

} // namespace Kennel
