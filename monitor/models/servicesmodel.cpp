#include "servicesmodel.h"

#include "format.h"
#include "heldnames.h"

#include <QBrush>
#include <QColor>
#include <QElapsedTimer>

#include <algorithm>
#include <climits>

#include <csignal>
#include <cstring>

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

QColor stateColour(MonitorServiceState state)
{
    switch (state) {
    case MonitorServiceState::Running:
        return QColor(0xcf, 0xf0, 0xcf);
    case MonitorServiceState::Starting:
    case MonitorServiceState::Backoff:
    case MonitorServiceState::Stopping:
        return QColor(0xff, 0xe0, 0x99);
    case MonitorServiceState::Failed:
        return QColor(0xf5, 0xb8, 0xb8);
    case MonitorServiceState::Stopped:
    case MonitorServiceState::Exited:
        break;
    }
    return QColor(0xe6, 0xe6, 0xe6);
}

} // namespace

ServicesModel::ServicesModel(QObject *parent)
    : QAbstractTableModel(parent)
    , m_clock(monotonicMs)
{
}

void ServicesModel::setClock(std::function<qint64()> clock)
{
    m_clock = clock ? std::move(clock) : std::function<qint64()>(monotonicMs);
}

int ServicesModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int ServicesModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ServicesModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    static const char *const titles[ColumnCount] = {"Service", "State", "PID", "Starts", "Restarts",
                                                    "Last exit", "Exited at", "Restart in", "Held", "Last error"};
    if (section < 0 || section >= ColumnCount)
        return {};
    return QString::fromUtf8(titles[section]);
}

QString ServicesModel::lastExitText(const MonitorService &s)
{
    if (s.lastExitMs <= 0 && s.lastExitCode == 0 && s.lastExitSignal == 0)
        return QStringLiteral("—");
    if (s.lastExitSignal != 0) {
        const char *name = s.lastExitSignal > 0 && s.lastExitSignal < NSIG ? sigabbrev_np(s.lastExitSignal) : nullptr;
        return name ? QStringLiteral("signal %1 (%2)").arg(s.lastExitSignal).arg(QLatin1String(name))
                    : QStringLiteral("signal %1").arg(s.lastExitSignal);
    }
    return QStringLiteral("code %1").arg(s.lastExitCode);
}

qint64 ServicesModel::msUntilRestart(int row) const
{
    const Row &r = m_rows.at(row);
    if (r.service.state != MonitorServiceState::Backoff || r.service.msUntilRestart < 0)
        return -1;
    return std::max<qint64>(0, r.service.msUntilRestart - std::max<qint64>(0, m_clock() - r.stampMs));
}

QVariant ServicesModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const MonitorService &s = m_rows.at(index.row()).service;
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case NameColumn:
            return s.name;
        case StateColumn:
            return Format::serviceState(s.state);
        case PidColumn:
            return s.pid > 0 ? QString::number(s.pid) : QStringLiteral("—");
        case StartsColumn:
            return QString::number(s.starts);
        case RestartsColumn:
            return QString::number(s.restarts);
        case LastExitColumn:
            return lastExitText(s);
        case ExitedAtColumn:
            return Format::wallClock(s.lastExitMs);
        case RestartInColumn:
            return Format::duration(msUntilRestart(index.row()));
        case HeldColumn:
            return m_held ? m_held->describe(s.name.toUtf8()) : QStringLiteral("—");
        case LastErrorColumn:
            return s.lastError;
        }
        return {};
    case SortRole:
        switch (index.column()) {
        case NameColumn:
            return s.name;
        case StateColumn:
            return int(s.state);
        case PidColumn:
            return s.pid;
        case StartsColumn:
            return s.starts;
        case RestartsColumn:
            return s.restarts;
        case LastExitColumn:
            return s.lastExitSignal * 1000 + s.lastExitCode;
        case ExitedAtColumn:
            return s.lastExitMs;
        case RestartInColumn: {
            const qint64 ms = msUntilRestart(index.row());
            return ms < 0 ? LLONG_MAX : ms;
        }
        case HeldColumn: {
            const MonitorHeld *h = m_held ? m_held->find(s.name.toUtf8()) : nullptr;
            return h ? qint64(h->count) : qint64(0);
        }
        case LastErrorColumn:
            return s.lastError;
        }
        return {};
    case NameRole:
        return s.name;
    case StateRole:
        return int(s.state);
    case Qt::BackgroundRole:
        if (m_stale)
            return {};
        if (index.column() == StateColumn)
            return QBrush(stateColour(s.state));
        return {};
    case Qt::ForegroundRole:
        if (m_stale)
            return {};
        if (index.column() == StateColumn)
            return QBrush(Qt::black);
        if (index.column() == RestartsColumn && s.restarts > 0)
            return QBrush(QColor(0xc0, 0x1c, 0x28));
        if (index.column() == HeldColumn && m_held && m_held->find(s.name.toUtf8()))
            return QBrush(QColor(0x9a, 0x67, 0x00));
        return {};
    case Qt::ToolTipRole:
        if (index.column() == LastErrorColumn || index.column() == NameColumn)
            return s.lastError.isEmpty() ? QVariant() : QVariant(s.lastError);
        return {};
    default:
        return {};
    }
}

void ServicesModel::setHeldNames(const HeldNames *held)
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

void ServicesModel::apply(const QList<MonitorService> &services)
{
    if (services.isEmpty())
        return;
    const qint64 stamp = m_clock();
    int firstChanged = INT_MAX;
    int lastChanged = -1;
    QList<Row> added;
    QHash<QString, qsizetype> addedIndex;
    for (const MonitorService &s : services) {
        if (const int r = rowOf(s.name); r >= 0) {
            m_rows[r] = Row{s, stamp};
            firstChanged = std::min(firstChanged, r);
            lastChanged = std::max(lastChanged, r);
        } else if (auto it = addedIndex.constFind(s.name); it != addedIndex.constEnd()) {
            added[*it] = Row{s, stamp};
        } else {
            addedIndex.insert(s.name, added.size());
            added.append(Row{s, stamp});
        }
    }
    if (lastChanged >= 0)
        Q_EMIT dataChanged(index(firstChanged, 0), index(lastChanged, ColumnCount - 1));
    if (!added.isEmpty()) {
        const int at = int(m_rows.size());
        beginInsertRows({}, at, at + int(added.size()) - 1);
        for (const Row &row : std::as_const(added)) {
            m_index.insert(row.service.name, int(m_rows.size()));
            m_rows.append(row);
        }
        endInsertRows();
    }
}

void ServicesModel::clear()
{
    if (m_rows.isEmpty())
        return;
    beginResetModel();
    m_rows.clear();
    m_index.clear();
    endResetModel();
}

void ServicesModel::refreshTimes()
{
    if (m_rows.isEmpty())
        return;
    Q_EMIT dataChanged(index(0, RestartInColumn), index(int(m_rows.size()) - 1, HeldColumn));
}

void ServicesModel::setStale(bool stale)
{
    if (stale == m_stale)
        return;
    m_stale = stale;
    if (!m_rows.isEmpty())
        Q_EMIT dataChanged(index(0, 0), index(int(m_rows.size()) - 1, ColumnCount - 1));
}

} // namespace Kennel
