// TopicsModel: the broker's topics as its Topics records show them (PROTOCOL §6.8): per topic the
// publications, their rate, the subscribers its last publication met and the retained value.
//
// A record lists at most the broker's [monitor] topics_per_record topics, the busiest first, and
// replaces the last one: rows are updated in place (a topic that stays keeps its row, so the
// selection and the sort hold), topics no longer listed are removed. The figures for all topics
// together (how many there are, retained bytes, subscriptions) come with it.
#pragma once

#include "monitorcodec.h"

#include <QAbstractTableModel>
#include <QHash>
#include <QList>

namespace Kennel {

class TopicsModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { TopicColumn, PublicationsColumn, RateColumn, SubscribersColumn, RetainedColumn, LastColumn, ColumnCount };
    enum Role { SortRole = Qt::UserRole + 1 };

    explicit TopicsModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    void apply(const MonitorTopics &record);
    void clear(); // a new broker, or none
    bool hasRecord() const { return m_hasRecord; }
    const MonitorTopics &lastRecord() const { return m_last; } // entries not kept here
    const MonitorTopicEntry &entry(int row) const { return m_rows.at(row); }
    int rowOf(const QByteArray &topic) const { return m_index.value(topic, -1); }
    // "12 topics (the 10 busiest shown) · 3 retained (1.2 KiB) · 7 subscriptions"
    QString summary() const;

Q_SIGNALS:
    void summaryChanged();

private:
    void reindex();

    QList<MonitorTopicEntry> m_rows;
    QHash<QByteArray, int> m_index;
    MonitorTopics m_last;
    bool m_hasRecord = false;
};

} // namespace Kennel
