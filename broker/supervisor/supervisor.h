// The broker's supervised services as one ordered set: started in config order once the broker
// listens, stopped in reverse order (one after another, each given its stop_timeout) when it shuts
// down, and the operator's "try the failed ones again" (SIGHUP). Each Service keeps its own
// restart policy; this class only orders them and answers "which service is this PID?" for the
// watchdog (Service::noteWatchdogAction) and the monitor.
#pragma once

#include "brokerconfig.h"
#include "cgroup.h"
#include "service.h"

#include <QList>
#include <QMetaObject>
#include <QObject>
#include <QProcessEnvironment>

namespace Kennel {

class Supervisor : public QObject
{
    Q_OBJECT

public:
    // cgroup: Auto puts each service in a cgroup v2 group of its own when one can be had
    // (CgroupBase::choose), logged either way.
    explicit Supervisor(const QList<ServiceSettings> &services,
                        BrokerConfig::ServiceCgroup cgroup = BrokerConfig::ServiceCgroup::Auto,
                        QObject *parent = nullptr);
    ~Supervisor() override;

    // KENNEL_BROKER and the like: handed to every service from its next start on.
    void setBrokerEnvironment(const QProcessEnvironment &env);

    // Starts every service that is not running (Stopped, Exited or Failed), in config order.
    void startAll();
    // Stops the services in reverse config order, each only after the one started after it is
    // gone; emits allStopped() when the last is down — at once, from inside stopAll(), if none
    // runs. Services waiting to restart are held first so none comes back up meanwhile. A second
    // call while stopping does nothing (allStopped() comes once, at the end).
    void stopAll();
    bool isStopping() const { return m_stopping; }
    // Operator (SIGHUP): start every Failed service again, its failure history cleared.
    void retryFailed();

    Service *service(const QString &name) const; // nullptr if there is none of that name
    const QList<Service *> &services() const { return m_services; }
    // The service whose process has this PID (Starting, Running or Stopping); nullptr if none.
    Service *serviceByPid(qint64 pid) const;
    // The service this process belongs to: its main process, a descendant of it (the parent
    // chain in /proc, start times checked), or an orphan of it the broker inherited (marked
    // KENNEL_SERVICE=<name>); nullptr if none. Services are not operators (MonitorHub).
    const Service *serviceOwning(qint64 pid) const;
    bool isSubreaper() const { return m_subreaper; }
    // Where the services' groups are; invalid (reason() says why) when tracked by process group.
    const CgroupBase &cgroupBase() const { return m_cgroupBase; }
    static constexpr int MaxAncestry = 64;

signals:
    void serviceStateChanged(Kennel::Service *service, Kennel::Service::State state);
    void allStopped();

private:
    void stopNext();

    QList<Service *> m_services;
    QList<Service *> m_toStop; // stopAll(): still to stop, next first
    QMetaObject::Connection m_waiting;
    bool m_stopping = false;
    bool m_subreaper = false;
    CgroupBase m_cgroupBase;
};

} // namespace Kennel
