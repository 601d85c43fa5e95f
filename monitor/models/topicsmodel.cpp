#include "topicsmodel.h"

#include "format.h"

#include <QSet>

namespace Kennel {

TopicsModel::TopicsModel(QObject *parent)
    : QAbstractTableModel(parent)
{
}

int TopicsModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int TopicsModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant TopicsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal)
        return QAbstractTableModel::headerData(section, orientation, role);
    if (role == Qt::ToolTipRole) {
        switch (section) {
        case RateColumn: return QStringLiteral("Publications per second over the broker's last interval");
        case SubscribersColumn: return QStringLiteral("Subscribers the topic's last publication was for (taken or not)");
        case RetainedColumn: return QStringLiteral("The retained value's size; empty: none kept");
        }
        return {};
    }
    if (role != Qt::DisplayRole)
        return {};
    switch (section) {
    case TopicColumn: return QStringLiteral("Topic");
    case PublicationsColumn: return QStringLiteral("Publications");
    case RateColumn: return QStringLiteral("Rate");
    case SubscribersColumn: return QStringLiteral("Subscribers");
    case RetainedColumn: return QStringLiteral("Retained");
    case LastColumn: return QStringLiteral("Last");
    }
    return {};
}

QVariant TopicsModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const MonitorTopicEntry &e = m_rows.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case TopicColumn: return QString::fromUtf8(e.topic);
        case PublicationsColumn: return QString::number(e.publications);
        case RateColumn: {
            // Per topic a few a second is typical: one decimal below 10/s, whole numbers above.
            const double rate = double(e.rateMilli) / 1000.0;
            return e.rateMilli == 0 ? QStringLiteral("0") : QString::number(rate, 'f', rate < 10 ? 1 : 0) + QStringLiteral("/s");
        }
        case SubscribersColumn: return e.subscribers;
        case RetainedColumn: return e.retained ? Format::bytes(e.retainedBytes) : QString();
        case LastColumn: return e.lastPublishedMs > 0 ? Format::wallClock(e.lastPublishedMs) : QString();
        }
        return {};
    case SortRole:
        switch (index.column()) {
        case TopicColumn: return e.topic;
        case PublicationsColumn: return e.publications;
        case RateColumn: return e.rateMilli;
        case SubscribersColumn: return e.subscribers;
        case RetainedColumn: return e.retained ? qint64(e.retainedBytes) : qint64(-1);
        case LastColumn: return e.lastPublishedMs;
        }
        return {};
    case Qt::TextAlignmentRole:
        if (index.column() != TopicColumn && index.column() != LastColumn)
            return QVariant(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    case Qt::ToolTipRole:
        if (index.column() == TopicColumn)
            return QString::fromUtf8(e.topic);
        return {};
    default:
        return {};
    }
}

void TopicsModel::apply(const MonitorTopics &record)
{
    m_last = record;
    m_last.entries.clear();
    m_hasRecord = true;
    QSet<QByteArray> listed;
    listed.reserve(record.entries.size());
    for (const MonitorTopicEntry &e : record.entries)
        listed.insert(e.topic);
    // Gone first (from the end, so the rows before keep their numbers), then changed, then new.
    for (int row = int(m_rows.size()) - 1; row >= 0; --row) {
        if (listed.contains(m_rows.at(row).topic))
            continue;
        beginRemoveRows({}, row, row);
        m_rows.removeAt(row);
        endRemoveRows();
    }
    reindex();
    QList<MonitorTopicEntry> added;
    for (const MonitorTopicEntry &e : record.entries) {
        const int row = m_index.value(e.topic, -1);
        if (row < 0) {
            added.append(e);
            continue;
        }
        m_rows[row] = e;
        Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
    }
    if (!added.isEmpty()) {
        const int first = int(m_rows.size());
        beginInsertRows({}, first, first + int(added.size()) - 1);
        m_rows.append(added);
        endInsertRows();
        reindex();
    }
    Q_EMIT summaryChanged();
}

void TopicsModel::clear()
{
    beginResetModel();
    m_rows.clear();
    m_index.clear();
    endResetModel();
    m_last = {};
    m_hasRecord = false;
    Q_EMIT summaryChanged();
}

void TopicsModel::reindex()
{
    m_index.clear();
    m_index.reserve(m_rows.size());
    for (int row = 0; row < m_rows.size(); ++row)
        m_index.insert(m_rows.at(row).topic, row);
}

QString TopicsModel::summary() const
{
    if (!m_hasRecord)
        return QStringLiteral("No topics published yet");
    QString text = Format::count(m_last.trackedTopics, "topic", "topics");
    if (quint32(m_rows.size()) < m_last.trackedTopics)
        text += QStringLiteral(" (the %1 busiest shown)").arg(m_rows.size());
    if (m_last.untrackedPublications)
        text += QStringLiteral(", %1 publications to untracked topics").arg(m_last.untrackedPublications);
    text += QStringLiteral(" · %1 retained (%2)").arg(m_last.retainedTopics).arg(Format::bytes(m_last.retainedBytes));
    text += QStringLiteral(" · ") + Format::count(m_last.subscriptions, "subscription", "subscriptions");
    if (m_last.copiesNotTaken)
        text += QStringLiteral(" · %1 not taken").arg(m_last.copiesNotTaken);
    return text;
}

} // namespace Kennel
