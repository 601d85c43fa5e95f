// ClientsModel: one row per connected client, keyed by the broker's session id.
//
// Changes come in batches from MonitorFeed (apply()): a batch coalesces into one dataChanged for
// the rows it touched, removals of contiguous rows and one insertion at the end, whatever the
// number of updates. Durations the broker sends relative to when it sent them (since last feed,
// time to deadline) are stamped with the local monotonic clock on arrival and counted on from
// there, so the countdown moves between updates; refreshTimes() tells views they moved.
//
// Colours and formatting come out of data() roles; the stored rows are the raw stream values.
#pragma once

#include "monitorcodec.h"

#include <QAbstractTableModel>
#include <QHash>
#include <QList>

#include <functional>
#include <variant>

namespace Kennel {

class HeldNames;

class ClientsModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    // The watchdog's view first: it is what an operator scans for; traffic counters and where
    // the client connects from follow.
    enum Column {
        NameColumn,
        KindColumn,
        PidColumn,
        WatchStateColumn,
        FeedsColumn,
        SinceFeedColumn,
        DeadlineColumn,     // time left before expiry, counting down
        TermsColumn,        // interval x allowed misses
        ExpiriesColumn,
        KillsColumn,
        HeldColumn,         // messages the broker holds for its name (PROTOCOL §6.7): count · bytes · oldest
        MessagesInColumn,
        MessagesOutColumn,
        BytesInColumn,
        BytesOutColumn,
        RefusedColumn,
        DroppedColumn,
        PeerColumn,
        ConnectedColumn,
        ColumnCount
    };
    enum Role {
        SortRole = Qt::UserRole + 1, // raw value, numbers as numbers (for QSortFilterProxyModel)
        SessionIdRole,
        NameRole,                    // QByteArray
        WatchStateRole,              // int(MonitorWatchState)
        DeadlineFractionRole,        // 0..1 of interval x misses left; -1 when not watched
        DeadlineMsRole,              // ms left (counted down locally); -1 when not watched
        StaleRole,                   // bool: see setStale()
    };

    // What MonitorFeed hands over, in arrival order.
    struct WatchChange
    {
        quint64 sessionId = 0;
        MonitorWatchdogEventKind kind = MonitorWatchdogEventKind::Registered;
        quint64 feeds = 0;
    };
    using Change = std::variant<MonitorClient, MonitorClientGone, WatchChange>;

    explicit ClientsModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    void apply(const QList<Change> &changes);
    void clear();
    // Views repaint the columns that count on by themselves (since last feed, deadline).
    void refreshTimes();
    // Stale: the link is not live, the rows are the last broker's. No state colours then, so
    // that nothing old looks live ("healthy" in green); the text stays readable.
    void setStale(bool stale);
    bool isStale() const { return m_stale; }

    int rowOf(quint64 sessionId) const { return m_index.value(sessionId, -1); }
    const MonitorClient &client(int row) const { return m_rows.at(row).client; }
    qint64 msSinceLastFeed(int row) const;
    qint64 msUntilExpiry(int row) const;

    // Monotonic milliseconds; tests replace it to move time without waiting.
    void setClock(std::function<qint64()> clock);
    // Where the Held column reads (nullptr: "—" everywhere).
    void setHeldNames(const HeldNames *held);

private:
    struct Row
    {
        MonitorClient client;
        qint64 stampMs = 0; // local monotonic time the relative durations were received
    };

    QVariant display(const Row &row, int rowIndex, int column) const;
    QVariant sortValue(const Row &row, int rowIndex, int column) const;
    qint64 now() const { return m_clock(); }
    void reindex(int fromRow);

    QList<Row> m_rows;
    bool m_stale = false;
    QHash<quint64, int> m_index;
    std::function<qint64()> m_clock;
    const HeldNames *m_held = nullptr;
};

} // namespace Kennel
