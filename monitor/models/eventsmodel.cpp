#include "eventsmodel.h"

#include "format.h"

#include <QBrush>
#include <QColor>
#include <QDateTime>

namespace Kennel {

EventsModel::EventsModel(qsizetype capacity, QObject *parent)
    : QAbstractTableModel(parent)
    , m_rows(capacity)
{
}

int EventsModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int EventsModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QString EventsModel::kindName(EventEntry::Kind kind)
{
    switch (kind) {
    case EventEntry::Kind::Link:
        return QStringLiteral("link");
    case EventEntry::Kind::Join:
        return QStringLiteral("join");
    case EventEntry::Kind::Leave:
        return QStringLiteral("leave");
    case EventEntry::Kind::Watchdog:
        return QStringLiteral("watchdog");
    case EventEntry::Kind::Late:
        return QStringLiteral("late");
    case EventEntry::Kind::Expired:
        return QStringLiteral("expired");
    case EventEntry::Kind::Kill:
        return QStringLiteral("kill");
    case EventEntry::Kind::Service:
        return QStringLiteral("service");
    case EventEntry::Kind::Restart:
        return QStringLiteral("restart");
    case EventEntry::Kind::Refusal:
        return QStringLiteral("refusal");
    case EventEntry::Kind::Control:
        return QStringLiteral("control");
    case EventEntry::Kind::Undelivered:
        return QStringLiteral("undelivered");
    }
    return QString();
}

QVariant EventsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case TimeColumn:
        return QStringLiteral("Time");
    case KindColumn:
        return QStringLiteral("Event");
    case SubjectColumn:
        return QStringLiteral("Who");
    case TextColumn:
        return QStringLiteral("What happened");
    }
    return {};
}

QVariant EventsModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const EventEntry &e = m_rows.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case TimeColumn:
            return QDateTime::fromMSecsSinceEpoch(e.timeMs).toString(QStringLiteral("HH:mm:ss.zzz"));
        case KindColumn:
            return kindName(e.kind);
        case SubjectColumn:
            return e.subject;
        case TextColumn:
            return e.count > 1 ? QStringLiteral("%1 (%2 times)").arg(e.text).arg(e.count) : e.text;
        }
        return {};
    case Qt::ToolTipRole:
        if (index.column() == TimeColumn)
            return e.count > 1 ? QStringLiteral("%1 (first at %2)").arg(Format::wallClock(e.timeMs), Format::wallClock(e.firstTimeMs))
                               : Format::wallClock(e.timeMs);
        if (index.column() == TextColumn)
            return e.text;
        return {};
    case ExportRole:
        if (index.column() == TimeColumn)
            return QDateTime::fromMSecsSinceEpoch(e.timeMs).toString(Qt::ISODateWithMs);
        return {}; // the display text
    case KindRole:
        return int(e.kind);
    case TimeMsRole:
        return e.timeMs;
    case Qt::ForegroundRole:
        switch (e.kind) {
        case EventEntry::Kind::Expired:
        case EventEntry::Kind::Kill:
        case EventEntry::Kind::Refusal:
            return QBrush(QColor(0xc0, 0x1c, 0x28));
        case EventEntry::Kind::Late:
        case EventEntry::Kind::Restart:
        case EventEntry::Kind::Undelivered:
            return QBrush(QColor(0x9a, 0x60, 0x00));
        case EventEntry::Kind::Join:
            return QBrush(QColor(0x1a, 0x7f, 0x37));
        default:
            return {};
        }
    default:
        return {};
    }
}

namespace {

bool repeats(const EventEntry &earlier, const EventEntry &later)
{
    return earlier.kind == later.kind && earlier.subject == later.subject && earlier.text == later.text
        && later.timeMs >= earlier.timeMs && later.timeMs - earlier.timeMs <= EventsModel::RepeatWindowMs;
}

void merge(EventEntry &into, const EventEntry &next)
{
    if (into.count == 1)
        into.firstTimeMs = into.timeMs;
    into.count += next.count;
    into.timeMs = next.timeMs;
}

} // namespace

void EventsModel::append(const QList<EventEntry> &incoming)
{
    QList<EventEntry> entries;
    entries.reserve(incoming.size());
    for (const EventEntry &e : incoming) {
        if (!entries.isEmpty() && repeats(entries.last(), e))
            merge(entries.last(), e);
        else
            entries.append(e);
    }
    if (!entries.isEmpty() && !m_rows.isEmpty() && repeats(m_rows.at(m_rows.size() - 1), entries.first())) {
        const int last = int(m_rows.size() - 1);
        merge(m_rows[last], entries.takeFirst());
        Q_EMIT dataChanged(index(last, 0), index(last, ColumnCount - 1));
    }
    if (entries.isEmpty())
        return;
    qsizetype first = 0;
    qsizetype count = entries.size();
    const qsizetype cap = m_rows.capacity();
    if (count > cap) {
        first = count - cap;
        count = cap;
    }
    const qsizetype overflow = m_rows.size() + count - cap;
    if (overflow > 0) {
        beginRemoveRows({}, 0, int(overflow - 1));
        m_rows.dropOldest(overflow);
        endRemoveRows();
    }
    const int at = int(m_rows.size());
    beginInsertRows({}, at, at + int(count) - 1);
    for (qsizetype i = first; i < entries.size(); ++i)
        m_rows.push(entries.at(i));
    endInsertRows();
}

void EventsModel::clear()
{
    beginResetModel();
    m_rows.clear();
    endResetModel();
}

} // namespace Kennel
