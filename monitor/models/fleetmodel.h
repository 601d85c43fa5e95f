// FleetModel: every board that publishes its state to the fleet's MQTT broker, one row each
// (docs/FLEET.md, "Board state"; docs/MONITOR-APP.md, "Fleet"). Fed the payloads of `online`,
// `summary` and `events` per board id by FleetLink, and by the tests straight; no I/O.
//
// A payload that is not what FLEET.md defines is refused: the row keeps its last good state, the
// refusal is counted and its reason kept (refusals(), lastRefusal()), and it never becomes a row
// of guessed numbers. The number of boards is bounded (maxBoards): a broker with junk under the
// prefix must not grow the table without end.
#pragma once

#include "boardsummary.h"

#include <QAbstractTableModel>
#include <QHash>
#include <QList>

namespace Kennel {

class FleetModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { BoardColumn, StateColumn, LastSeenColumn, ClientsColumn, WatchedColumn, LateColumn, ExpiriesColumn,
                  KillsColumn, ServicesFailedColumn, LastEventColumn, ColumnCount };
    enum Role { SortRole = Qt::UserRole + 1, BoardRole, OnlineRole };
    enum class Online { Unknown, Yes, No }; // Unknown: a summary came, no `online` yet

    struct Board
    {
        QString id;
        Online online = Online::Unknown;
        std::optional<BoardSummary> summary; // the last one accepted
        QString lastEvent;
        quint64 events = 0;
    };

    static constexpr int DefaultMaxBoards = 10000;

    explicit FleetModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // Each returns false (and counts the refusal) when the payload or the board id is refused.
    bool applySummary(const QString &board, const QByteArray &payload);
    bool applyOnline(const QString &board, const QByteArray &payload);
    bool applyEvent(const QString &board, const QByteArray &payload);
    void clear();
    // Stale: the fleet link is down, so no row is known to be current: all are greyed, and none
    // says "online" in green. The figures stay readable.
    void setStale(bool stale);
    bool isStale() const { return m_stale; }

    int rowOf(const QString &board) const { return m_index.value(board, -1); }
    const Board &board(int row) const { return m_rows.at(row); }
    int onlineCount() const;

    quint64 refusals() const { return m_refusals; }
    QString lastRefusal() const { return m_lastRefusal; }
    // Boards beyond this are refused (counted) until clear().
    void setMaxBoards(int maxBoards) { m_maxBoards = maxBoards; }
    int maxBoards() const { return m_maxBoards; }

Q_SIGNALS:
    void boardChanged(const QString &board);

private:
    int rowFor(const QString &board); // -1: refused (bad id, or the table is full)
    bool refuse(const QString &board, const QString &why);
    void changed(int row);

    QList<Board> m_rows;
    QHash<QString, int> m_index;
    quint64 m_refusals = 0;
    QString m_lastRefusal;
    int m_maxBoards = DefaultMaxBoards;
    bool m_stale = false;
};

} // namespace Kennel
