// What the monitor stream needs of the supervised services: the list for snapshots, one by name
// for an operator's start/stop/restart, and which one owns a process (a service's own process may
// not monitor unless its settings say so). The broker implements it (MonitorBackend); state
// changes reach MonitorHub::serviceStateChanged.
#pragma once

#include <QList>
#include <QString>

namespace Kennel {

class Service;

class MonitorServiceView
{
public:
    virtual ~MonitorServiceView() = default;
    virtual const QList<Service *> &services() const = 0;
    // nullptr if there is none of that name.
    virtual Service *service(const QString &name) const = 0;
    // The service whose process tree holds `pid`; nullptr if none.
    virtual const Service *serviceOwning(qint64 pid) const = 0;
};

} // namespace Kennel
