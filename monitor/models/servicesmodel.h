// ServicesModel: the broker's supervised services, one row each, keyed by name. Updated in
// batches by MonitorFeed; the "restart in" countdown is counted on locally between updates, as the
// clients' deadlines are.
#pragma once

#include "monitorcodec.h"

#include <QAbstractTableModel>
#include <QHash>
#include <QList>

#include <functional>

namespace Kennel {

class HeldNames;

class ServicesModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { NameColumn, StateColumn, PidColumn, StartsColumn, RestartsColumn, LastExitColumn,
                  ExitedAtColumn, RestartInColumn,
                  HeldColumn, // messages the broker holds for the service's name (PROTOCOL §6.7)
                  LastErrorColumn, ColumnCount };
    enum Role { SortRole = Qt::UserRole + 1, NameRole, StateRole };

    explicit ServicesModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // Latest state per service, in arrival order; a name not seen before is a new row.
    void apply(const QList<MonitorService> &services);
    void clear();
    void refreshTimes();
    // Stale: the link is not live, the rows are the last broker's. No state colours then, so
    // that nothing old looks live ("healthy" in green); the text stays readable.
    void setStale(bool stale);
    bool isStale() const { return m_stale; }

    int rowOf(const QString &name) const { return m_index.value(name, -1); }
    const MonitorService &service(int row) const { return m_rows.at(row).service; }
    qint64 msUntilRestart(int row) const;
    void setClock(std::function<qint64()> clock);
    // Where the Held column reads, by service name (nullptr: "—" everywhere).
    void setHeldNames(const HeldNames *held);

    static QString lastExitText(const MonitorService &service); // "code 3", "signal 9 (KILL)", "—"

private:
    struct Row
    {
        MonitorService service;
        qint64 stampMs = 0;
    };

    QList<Row> m_rows;
    bool m_stale = false;
    QHash<QString, int> m_index;
    std::function<qint64()> m_clock;
    const HeldNames *m_held = nullptr;
};

} // namespace Kennel
