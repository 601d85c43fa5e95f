// TrafficModel: the last N messages the broker routed, as a table over a fixed-capacity ring.
//
// Records arrive in batches (MonitorFeed applies a few per second); each batch is one
// rowsRemoved for the oldest rows it pushes out and one rowsInserted at the end, never one signal
// per record, so 100,000 rows stay cheap to keep and to view. Pausing holds new records back (in
// a second ring of the same capacity) until resume, so what the operator is reading stays still.
// The broker's "N records dropped" markers become rows of their own, so gaps are visible where
// they happened.
//
// Display choices (text or hex preview, filters) belong to TrafficFilterProxy; this model gives
// the raw values under its roles.
#pragma once

#include "monitorcodec.h"
#include "ringbuffer.h"

#include <QAbstractTableModel>
#include <QHash>
#include <QList>

namespace Kennel {

struct TrafficEntry
{
    qint64 timeUs = 0;     // wall clock
    QByteArray source;     // shared between entries of the same name (see TrafficModel::intern)
    QByteArray target;
    quint32 size = 0;      // payload bytes; for a marker: the number of records dropped
    quint16 status = 0;    // DeliveryStatus
    bool marker = false;   // "records dropped" row, not a message
    qint32 heldMs = -1;    // a held message's final outcome: held this long (PROTOCOL ); else -1
    QByteArray preview;
    // Topics and calls (PROTOCOL §6.8): a publication (target "topic:TOPIC") or an ended call
    // (target "call:NAME"), with what became of it; status is then unused.
    enum Kind : quint8 { Message = 0, Publication = 1, Call = 2 };
    Kind kind = Message;
    bool retain = false;
    quint16 outcome = 0;     // a call's CallOutcome
    quint32 reached = 0;     // a publication's subscribers that took it
    quint32 notTaken = 0;    // ... and those that could not
    quint32 roundTripUs = 0; // a call's
};

class TrafficModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { TimeColumn, SourceColumn, TargetColumn, SizeColumn, StatusColumn, PreviewColumn, ColumnCount };
    enum Role {
        SortRole = Qt::UserRole + 1, // the raw value of the cell (numbers as numbers)
        ExportRole,                  // the value written to CSV (full UTC timestamps)
        PreviewBytesRole,            // the preview's raw bytes (PreviewColumn)
        MarkerRole,                  // true on "records dropped" rows
    };

    static constexpr qsizetype DefaultCapacity = 100000;

    explicit TrafficModel(qsizetype capacity = DefaultCapacity, QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    qsizetype capacity() const { return m_rows.capacity(); }
    const TrafficEntry &entry(int row) const { return m_rows.at(row); }

    // Appends in arrival order: shown at once, or held back while paused.
    void append(const QList<MonitorTrafficRecord> &records);
    void appendEntries(QList<TrafficEntry> entries);
    void appendDropMarker(qint64 timeMs, quint32 dropped);
    void clear(); // rows and held-back records

    bool isPaused() const { return m_paused; }
    void setPaused(bool paused); // resuming shows everything held back, in one batch
    qsizetype heldBack() const { return m_held.size(); }

    // Figures since construction or clear().
    quint64 received() const { return m_received; }       // records that arrived
    quint64 overwritten() const { return m_overwritten; } // pushed out of a full ring, shown or not
    quint64 droppedByBroker() const { return m_droppedByBroker; }

    static TrafficEntry toEntry(const MonitorTrafficRecord &record);
    static TrafficEntry toEntry(const MonitorPublicationRecord &record);
    static TrafficEntry toEntry(const MonitorCallRecord &record);
    // The Status column of a publication or call: "3 reached", "1 reached, 2 not taken, retained",
    // "replied in 1.24 ms", "timeout after 200 ms".
    static QString busStatus(const TrafficEntry &entry);
    static bool isFailure(const TrafficEntry &entry);

Q_SIGNALS:
    void pausedChanged(bool paused);
    void countersChanged();

private:
    void show(QList<TrafficEntry> &entries);
    QByteArray intern(const QByteArray &name);

    RingBuffer<TrafficEntry> m_rows;
    RingBuffer<TrafficEntry> m_held;
    bool m_paused = false;
    // A monitor sees the same few names over and over; one shared copy of each keeps 100,000 rows
    // to a few megabytes. Bounded: when it outgrows this it starts again.
    QHash<QByteArray, QByteArray> m_names;
    static constexpr qsizetype MaxInternedNames = 8192;
    quint64 m_received = 0;
    quint64 m_overwritten = 0;
    quint64 m_droppedByBroker = 0;
};

} // namespace Kennel
