#include "fleetmodel.h"

#include "format.h"
#include "names.h"

#include <QBrush>
#include <QGuiApplication>
#include <QLoggingCategory>
#include <QPalette>

Q_LOGGING_CATEGORY(lcFleet, "kennel.monitorapp.fleet", QtInfoMsg)

namespace Kennel {

namespace {
constexpr int MaxBoardLength = 32; // FLEET.md: a board id is 1..32 bytes of the name alphabet
}

FleetModel::FleetModel(QObject *parent)
    : QAbstractTableModel(parent)
{
}

int FleetModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int FleetModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant FleetModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal)
        return {};
    static const char *const names[ColumnCount] = {"Board", "State", "Last seen", "Clients", "Watched", "Late",
                                                   "Expiries", "Kills", "Failed services", "Last event"};
    static const char *const tips[ColumnCount] = {
        "The board id (its kennel-broker's [bridge] board)",
        "online: its bridge is connected to the MQTT broker; offline: its last will or a planned stop said so",
        "When the board made its last summary (the board's clock)",
        "Registered client connections",
        "Clients under the watchdog",
        "Watched clients late now",
        "Watchdog expiries since its broker started",
        "Watchdog kills (terminate or kill) since its broker started",
        "Supervised services in state failed now",
        "The last event the board published while this view was connected",
    };
    if (section < 0 || section >= ColumnCount)
        return {};
    if (role == Qt::DisplayRole)
        return QString::fromLatin1(names[section]);
    if (role == Qt::ToolTipRole)
        return QString::fromLatin1(tips[section]);
    return {};
}

QVariant FleetModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size())
        return {};
    const Board &b = m_rows.at(index.row());
    const BoardSummary *s = b.summary ? &*b.summary : nullptr;
    if (role == BoardRole)
        return b.id;
    if (role == OnlineRole)
        return int(b.online);
    if (role == Qt::ForegroundRole) {
        // An offline board's numbers are its last ones: greyed, so that none reads as live.
        if (b.online != Online::Yes || m_stale)
            return QGuiApplication::palette().brush(QPalette::Disabled, QPalette::Text);
        if (index.column() == StateColumn)
            return QBrush(QColor(0x1b, 0x7f, 0x2a));
        if ((index.column() == LateColumn && s && s->late > 0) || (index.column() == ServicesFailedColumn && s && s->servicesFailed > 0))
            return QBrush(QColor(0xb0, 0x20, 0x20));
        return {};
    }
    if (role == Qt::TextAlignmentRole)
        return index.column() >= ClientsColumn && index.column() <= ServicesFailedColumn ? int(Qt::AlignRight | Qt::AlignVCenter)
                                                                                          : int(Qt::AlignLeft | Qt::AlignVCenter);
    auto count = [&](qint64 BoardSummary::*field) -> QVariant {
        if (!s)
            return role == SortRole ? QVariant(qint64(-1)) : QVariant(QStringLiteral("—"));
        return role == SortRole ? QVariant(s->*field) : QVariant(QString::number(s->*field));
    };
    if (role != Qt::DisplayRole && role != SortRole && role != Qt::ToolTipRole)
        return {};
    switch (index.column()) {
    case BoardColumn:
        return b.id;
    case StateColumn: {
        const char *text = b.online == Online::Yes ? "online" : b.online == Online::No ? "offline" : "unknown";
        return role == SortRole ? QVariant(int(b.online)) : QVariant(QString::fromLatin1(text));
    }
    case LastSeenColumn:
        if (!s || !s->time.isValid())
            return role == SortRole ? QVariant(qint64(0)) : QVariant(QStringLiteral("—"));
        if (role == SortRole)
            return s->time.toMSecsSinceEpoch();
        return role == Qt::ToolTipRole ? s->time.toString(Qt::ISODateWithMs) : Format::wallClock(s->time.toMSecsSinceEpoch());
    case ClientsColumn:
        return count(&BoardSummary::clients);
    case WatchedColumn:
        return count(&BoardSummary::watched);
    case LateColumn:
        return count(&BoardSummary::late);
    case ExpiriesColumn:
        return count(&BoardSummary::expiries);
    case KillsColumn:
        return count(&BoardSummary::kills);
    case ServicesFailedColumn:
        return count(&BoardSummary::servicesFailed);
    case LastEventColumn:
        return b.lastEvent;
    default:
        return {};
    }
}

int FleetModel::onlineCount() const
{
    int n = 0;
    for (const Board &b : m_rows)
        n += b.online == Online::Yes;
    return n;
}

bool FleetModel::refuse(const QString &board, const QString &why)
{
    ++m_refusals;
    const QString text = QStringLiteral("board '%1': %2").arg(board, why);
    // Once per distinct reason: a board repeating a bad summary every few seconds is one line.
    if (text != m_lastRefusal)
        qCWarning(lcFleet).noquote() << "refused:" << text << QStringLiteral("(%1 refused in all)").arg(m_refusals);
    m_lastRefusal = text;
    return false;
}

int FleetModel::rowFor(const QString &board)
{
    const int row = m_index.value(board, -1);
    if (row >= 0)
        return row;
    if (!isValidName(board.toUtf8(), MaxBoardLength)) {
        refuse(board.left(40), QStringLiteral("not a board id"));
        return -1;
    }
    if (m_rows.size() >= m_maxBoards) {
        refuse(board, QStringLiteral("over the bound of %1 boards").arg(m_maxBoards));
        return -1;
    }
    beginInsertRows({}, int(m_rows.size()), int(m_rows.size()));
    m_rows.append(Board{board, Online::Unknown, std::nullopt, {}, 0});
    m_index.insert(board, int(m_rows.size()) - 1);
    endInsertRows();
    return int(m_rows.size()) - 1;
}

void FleetModel::changed(int row)
{
    Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
    Q_EMIT boardChanged(m_rows.at(row).id);
}

bool FleetModel::applySummary(const QString &board, const QByteArray &payload)
{
    QString why;
    std::optional<BoardSummary> summary = BoardSummary::decode(payload, &why);
    if (!summary)
        return refuse(board, QStringLiteral("summary refused: %1").arg(why));
    if (summary->board != board)
        return refuse(board, QStringLiteral("summary of board '%1' under its topics").arg(summary->board.left(40)));
    const int row = rowFor(board);
    if (row < 0)
        return false;
    m_rows[row].summary = std::move(summary);
    changed(row);
    return true;
}

bool FleetModel::applyOnline(const QString &board, const QByteArray &payload)
{
    QString why;
    const std::optional<bool> online = decodeBoardOnline(payload, &why);
    if (!online)
        return refuse(board, why);
    const int row = rowFor(board);
    if (row < 0)
        return false;
    m_rows[row].online = *online ? Online::Yes : Online::No;
    changed(row);
    return true;
}

bool FleetModel::applyEvent(const QString &board, const QByteArray &payload)
{
    QString why;
    const std::optional<QString> text = decodeBoardEvent(payload, &why);
    if (!text)
        return refuse(board, QStringLiteral("event refused: %1").arg(why));
    const int row = rowFor(board);
    if (row < 0)
        return false;
    m_rows[row].lastEvent = *text;
    ++m_rows[row].events;
    changed(row);
    return true;
}

void FleetModel::setStale(bool stale)
{
    if (stale == m_stale)
        return;
    m_stale = stale;
    if (!m_rows.isEmpty())
        Q_EMIT dataChanged(index(0, 0), index(int(m_rows.size()) - 1, ColumnCount - 1), {Qt::ForegroundRole});
}

void FleetModel::clear()
{
    beginResetModel();
    m_rows.clear();
    m_index.clear();
    endResetModel();
}

} // namespace Kennel
