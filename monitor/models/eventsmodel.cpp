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
            return e.text;
        }
        return {};
    case Qt::ToolTipRole:
        if (index.column() == TimeColumn)
            return Format::wallClock(e.timeMs);
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

void EventsModel::append(const QList<EventEntry> &entries)
{
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
