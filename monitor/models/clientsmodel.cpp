#include "clientsmodel.h"

#include "format.h"
#include "heldnames.h"

#include <QBrush>
#include <QColor>
#include <QElapsedTimer>
#include <QSet>

#include <algorithm>
#include <climits>

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

// Tints light enough for black text on any theme; the state is also written out, so colour is
// never the only carrier of the meaning.
QColor watchColour(MonitorWatchState state)
{
    switch (state) {
    case MonitorWatchState::Healthy:
        return QColor(0xcf, 0xf0, 0xcf);
    case MonitorWatchState::Late:
        return QColor(0xff, 0xe0, 0x99);
    case MonitorWatchState::Expired:
        return QColor(0xf5, 0xb8, 0xb8);
    case MonitorWatchState::NotWatched:
        break;
    }
    return {};
}

} // namespace

ClientsModel::ClientsModel(QObject *parent)
    : QAbstractTableModel(parent)
    , m_clock(monotonicMs)
{
}

void ClientsModel::setClock(std::function<qint64()> clock)
{
    m_clock = clock ? std::move(clock) : std::function<qint64()>(monotonicMs);
}

void ClientsModel::setHeldNames(const HeldNames *held)
{
    if (m_held)
        disconnect(m_held, nullptr, this, nullptr);
    m_held = held;
    if (m_held)
        connect(m_held, &HeldNames::changed, this, [this] {
            if (!m_rows.isEmpty())
                Q_EMIT dataChanged(index(0, HeldColumn), index(int(m_rows.size()) - 1, HeldColumn));
        });
}

int ClientsModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int ClientsModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ClientsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal)
        return QAbstractTableModel::headerData(section, orientation, role);
    static const char *const titles[ColumnCount] = {
        "Name", "Kind", "PID", "Watchdog", "Feeds", "Since feed", "Deadline", "Interval × misses",
        "Expiries", "Kills", "Held", "Msgs in", "Msgs out", "Bytes in", "Bytes out", "Refused", "Dropped",
        "Peer", "Connected",
    };
    static const char *const tips[ColumnCount] = {
        "Registered name", "Protocol and connection kind", "Process id, from the kernel (— when unknown or remote)",
        "Watchdog state", "Feeds since it registered", "Time since its last feed", "Time left before it expires",
        "Feed interval and intervals it may miss", "Expiries under this name", "Signals sent to its processes",
        "Messages the broker holds for this name until it takes them: count · bytes · oldest's age",
        "Messages it sent", "Messages delivered to it", "Payload bytes it sent", "Payload bytes delivered to it",
        "Its messages the broker refused", "Messages to it that were dropped", "Peer address",
        "When the connection was made",
    };
    if (section < 0 || section >= ColumnCount)
        return {};
    if (role == Qt::DisplayRole)
        return QString::fromUtf8(titles[section]);
    if (role == Qt::ToolTipRole)
        return QString::fromUtf8(tips[section]);
    return {};
}

qint64 ClientsModel::msSinceLastFeed(int row) const
{
    const Row &r = m_rows.at(row);
    if (r.client.msSinceLastFeed < 0)
        return -1;
    return r.client.msSinceLastFeed + std::max<qint64>(0, now() - r.stampMs);
}

qint64 ClientsModel::msUntilExpiry(int row) const
{
    const Row &r = m_rows.at(row);
    switch (r.client.watchState) {
    case MonitorWatchState::NotWatched:
        return -1;
    case MonitorWatchState::Expired:
        return 0;
    default:
        break;
    }
    if (r.client.msUntilExpiry < 0)
        return -1;
    return std::max<qint64>(0, r.client.msUntilExpiry - std::max<qint64>(0, now() - r.stampMs));
}

QVariant ClientsModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Row &row = m_rows.at(index.row());
    const MonitorClient &c = row.client;
    switch (role) {
    case Qt::DisplayRole:
        return display(row, index.row(), index.column());
    case SortRole:
        return sortValue(row, index.row(), index.column());
    case SessionIdRole:
        return c.sessionId;
    case NameRole:
        return c.name;
    case WatchStateRole:
        return int(c.watchState);
    case DeadlineMsRole:
        return msUntilExpiry(index.row());
    case StaleRole:
        return m_stale;
    case DeadlineFractionRole: {
        const qint64 left = msUntilExpiry(index.row());
        const qint64 window = qint64(c.watchIntervalMs) * std::max<qint64>(1, c.watchAllowedMisses);
        if (left < 0 || window <= 0)
            return -1.0;
        return std::clamp(double(left) / double(window), 0.0, 1.0);
    }
    case Qt::BackgroundRole:
        if (m_stale)
            return {};
        if (index.column() == WatchStateColumn && c.watchState != MonitorWatchState::NotWatched)
            return QBrush(watchColour(c.watchState));
        return {};
    case Qt::ForegroundRole:
        if (m_stale)
            return {};
        if (index.column() == WatchStateColumn && c.watchState != MonitorWatchState::NotWatched)
            return QBrush(Qt::black);
        if (index.column() == HeldColumn && m_held && m_held->find(c.name))
            return QBrush(QColor(0x9a, 0x67, 0x00));
        if ((index.column() == RefusedColumn && c.refused > 0) || (index.column() == DroppedColumn && c.dropped > 0)
            || (index.column() == KillsColumn && c.kills > 0) || (index.column() == ExpiriesColumn && c.expiries > 0))
            return QBrush(QColor(0xc0, 0x1c, 0x28));
        return {};
    case Qt::TextAlignmentRole:
        switch (index.column()) {
        case NameColumn:
        case PeerColumn:
        case KindColumn:
        case WatchStateColumn:
            return {};
        default:
            return QVariant(Qt::AlignRight | Qt::AlignVCenter);
        }
    case Qt::ToolTipRole:
        if (index.column() == ConnectedColumn)
            return Format::wallClock(c.connectedSinceMs);
        if (index.column() == NameColumn)
            return QStringLiteral("%1 — session %2, %3").arg(QString::fromLatin1(c.name)).arg(c.sessionId).arg(c.peerAddress);
        return {};
    default:
        return {};
    }
}

QVariant ClientsModel::display(const Row &row, int rowIndex, int column) const
{
    const MonitorClient &c = row.client;
    const bool watched = c.watchState != MonitorWatchState::NotWatched;
    switch (column) {
    case NameColumn:
        return QString::fromLatin1(c.name);
    case PidColumn:
        return c.pid > 0 ? QString::number(c.pid) : QStringLiteral("—");
    case PeerColumn:
        return c.peerAddress;
    case KindColumn:
        return Format::clientKind(c.kind);
    case ConnectedColumn:
        return Format::wallClock(c.connectedSinceMs);
    case MessagesInColumn:
        return QString::number(c.messagesIn);
    case MessagesOutColumn:
        return QString::number(c.messagesOut);
    case BytesInColumn:
        return Format::bytes(c.bytesIn);
    case BytesOutColumn:
        return Format::bytes(c.bytesOut);
    case RefusedColumn:
        return QString::number(c.refused);
    case DroppedColumn:
        return QString::number(c.dropped);
    case WatchStateColumn:
        return Format::watchState(c.watchState);
    case TermsColumn:
        if (!watched)
            return QStringLiteral("—");
        return QStringLiteral("%1 × %2").arg(Format::duration(c.watchIntervalMs)).arg(c.watchAllowedMisses);
    case FeedsColumn:
        return watched || c.feeds > 0 ? QString::number(c.feeds) : QStringLiteral("—");
    case SinceFeedColumn: {
        if (!watched)
            return QStringLiteral("—");
        const qint64 ms = msSinceLastFeed(rowIndex);
        return ms < 0 ? QStringLiteral("never") : Format::duration(ms);
    }
    case DeadlineColumn: {
        if (c.watchState == MonitorWatchState::Expired)
            return QStringLiteral("expired");
        return Format::duration(msUntilExpiry(rowIndex));
    }
    case ExpiriesColumn:
        return QString::number(c.expiries);
    case KillsColumn:
        return QString::number(c.kills);
    case HeldColumn:
        return m_held ? m_held->describe(c.name) : QStringLiteral("—");
    }
    return {};
}

QVariant ClientsModel::sortValue(const Row &row, int rowIndex, int column) const
{
    const MonitorClient &c = row.client;
    switch (column) {
    case NameColumn:
        return c.name;
    case PidColumn:
        return c.pid;
    case PeerColumn:
        return c.peerAddress;
    case KindColumn:
        return int(c.kind);
    case ConnectedColumn:
        return c.connectedSinceMs;
    case MessagesInColumn:
        return c.messagesIn;
    case MessagesOutColumn:
        return c.messagesOut;
    case BytesInColumn:
        return c.bytesIn;
    case BytesOutColumn:
        return c.bytesOut;
    case RefusedColumn:
        return c.refused;
    case DroppedColumn:
        return c.dropped;
    case WatchStateColumn:
        return int(c.watchState);
    case TermsColumn:
        return qint64(c.watchIntervalMs) * std::max<qint64>(1, c.watchAllowedMisses);
    case FeedsColumn:
        return c.feeds;
    case SinceFeedColumn:
        return msSinceLastFeed(rowIndex);
    case DeadlineColumn: {
        // Unwatched clients sort after every watched one, whichever the direction of "soonest".
        const qint64 ms = msUntilExpiry(rowIndex);
        return ms < 0 ? LLONG_MAX : ms;
    }
    case ExpiriesColumn:
        return c.expiries;
    case KillsColumn:
        return c.kills;
    case HeldColumn: {
        const MonitorHeld *h = m_held ? m_held->find(c.name) : nullptr;
        return h ? qint64(h->count) : qint64(0);
    }
    }
    return {};
}

void ClientsModel::apply(const QList<Change> &changes)
{
    if (changes.isEmpty())
        return;
    const qint64 stamp = now();
    QList<Row> added;
    QHash<quint64, qsizetype> addedIndex;
    QSet<quint64> addedGone;
    QSet<quint64> removed;
    int firstChanged = INT_MAX;
    int lastChanged = -1;
    auto markChanged = [&](int row) {
        firstChanged = std::min(firstChanged, row);
        lastChanged = std::max(lastChanged, row);
    };
    // The row a change is about: an existing one (not removed in this batch) or one added in it.
    auto find = [&](quint64 id, int *existing) -> Row * {
        *existing = -1;
        if (removed.contains(id))
            return nullptr;
        if (const int r = rowOf(id); r >= 0) {
            *existing = r;
            return &m_rows[r];
        }
        if (auto it = addedIndex.constFind(id); it != addedIndex.constEnd() && !addedGone.contains(id))
            return &added[*it];
        return nullptr;
    };

    for (const Change &change : changes) {
        if (const auto *client = std::get_if<MonitorClient>(&change)) {
            int existing = -1;
            if (Row *row = find(client->sessionId, &existing)) {
                *row = Row{*client, stamp};
                if (existing >= 0)
                    markChanged(existing);
            } else if (!removed.contains(client->sessionId) && !addedGone.contains(client->sessionId)) {
                addedIndex.insert(client->sessionId, added.size());
                added.append(Row{*client, stamp});
            }
        } else if (const auto *gone = std::get_if<MonitorClientGone>(&change)) {
            if (rowOf(gone->sessionId) >= 0)
                removed.insert(gone->sessionId);
            else if (addedIndex.contains(gone->sessionId))
                addedGone.insert(gone->sessionId);
        } else if (const auto *watch = std::get_if<WatchChange>(&change)) {
            int existing = -1;
            Row *row = find(watch->sessionId, &existing);
            if (!row)
                continue;
            MonitorClient &c = row->client;
            switch (watch->kind) {
            case MonitorWatchdogEventKind::Registered:
                c.watchState = MonitorWatchState::Healthy;
                c.feeds = watch->feeds;
                break;
            case MonitorWatchdogEventKind::Late:
                c.watchState = MonitorWatchState::Late;
                break;
            case MonitorWatchdogEventKind::Healthy:
                c.watchState = MonitorWatchState::Healthy;
                break;
            case MonitorWatchdogEventKind::Expired:
                c.watchState = MonitorWatchState::Expired;
                c.msUntilExpiry = 0;
                break;
            default:
                break;
            }
            c.feeds = std::max(c.feeds, watch->feeds);
            if (existing >= 0)
                markChanged(existing);
        }
    }

    if (lastChanged >= 0)
        Q_EMIT dataChanged(index(firstChanged, 0), index(lastChanged, ColumnCount - 1));

    if (!removed.isEmpty()) {
        QList<int> rows;
        rows.reserve(removed.size());
        for (quint64 id : std::as_const(removed))
            rows.append(rowOf(id));
        std::sort(rows.begin(), rows.end(), std::greater<int>());
        // Contiguous runs, from the bottom up, so that the rows above stay where they are.
        qsizetype i = 0;
        while (i < rows.size()) {
            const int high = rows[i];
            int low = high;
            while (i + 1 < rows.size() && rows[i + 1] == low - 1) {
                ++i;
                --low;
            }
            ++i;
            beginRemoveRows({}, low, high);
            for (int r = low; r <= high; ++r)
                m_index.remove(m_rows.at(r).client.sessionId);
            m_rows.remove(low, high - low + 1);
            reindex(low); // before endRemoveRows(): its listeners may already ask for data
            endRemoveRows();
        }
    }

    QList<Row> fresh;
    fresh.reserve(added.size());
    for (const Row &row : std::as_const(added)) {
        if (!addedGone.contains(row.client.sessionId))
            fresh.append(row);
    }
    if (!fresh.isEmpty()) {
        const int at = int(m_rows.size());
        beginInsertRows({}, at, at + int(fresh.size()) - 1);
        m_rows.append(fresh);
        reindex(at);
        endInsertRows();
    }
}

void ClientsModel::reindex(int fromRow)
{
    for (int r = std::max(0, fromRow); r < m_rows.size(); ++r)
        m_index.insert(m_rows.at(r).client.sessionId, r);
}

void ClientsModel::clear()
{
    if (m_rows.isEmpty())
        return;
    beginResetModel();
    m_rows.clear();
    m_index.clear();
    endResetModel();
}

void ClientsModel::refreshTimes()
{
    if (m_rows.isEmpty())
        return;
    Q_EMIT dataChanged(index(0, SinceFeedColumn), index(int(m_rows.size()) - 1, DeadlineColumn));
    if (m_held && !m_held->isEmpty()) // the oldest held message's age counts on
        Q_EMIT dataChanged(index(0, HeldColumn), index(int(m_rows.size()) - 1, HeldColumn));
}

void ClientsModel::setStale(bool stale)
{
    if (stale == m_stale)
        return;
    m_stale = stale;
    if (!m_rows.isEmpty())
        Q_EMIT dataChanged(index(0, 0), index(int(m_rows.size()) - 1, ColumnCount - 1));
}

} // namespace Kennel
