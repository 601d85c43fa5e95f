// The broker's supervised services as one ordered set: started in config order once the broker
// listens, stopped in reverse order (one after another, each given its stop_timeout) when it shuts
// down, and the operator's "try the failed ones again" (SIGHUP). Each Service keeps its own
// restart policy; this class only orders them and answers "which service is this PID?" for the
// watchdog (Service::noteWatchdogAction) and the monitor.
//
// Dependencies ([service.NAME] after = a, b; ServiceGraph): the order is the config order with
// every service moved after those it names. A service is started only once each of them is
// ready — has registered its name (ServiceSettings::registeredName()) with the broker during its
// current run, the broker telling clientRegistered() — and waits, in state Stopped, until then.
// Readiness is lost when a dependency's run ends; a dependent already running is left alone (its
// own restarts are its restart policy's, not held back). A dependency that fails for good (its
// start limit) leaves its dependents waiting, with a warning naming it, until it is retried and
// registers. Stopping goes in the reverse order: dependents before what they depend on.
#pragma once

#include "brokerconfig.h"
#include "cgroup.h"
#include "service.h"

#include <QList>
#include <QMetaObject>
#include <QObject>
#include <QProcessEnvironment>
#include <QSet>
#include <QStringList>

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

    // Starts every service that is not running (Stopped, Exited or Failed), in config order;
    // on-demand services ([service.NAME] start = on-demand) are left for startOnDemand().
    void startAll();
    // A message is held for on-demand `service`: start it (once its dependencies are ready),
    // keeping its start-limit history (Service::startOnDemand). False while stopping.
    bool startOnDemand(Service *service);
    // Stops the services in reverse config order, each only after the one started after it is
    // gone; emits allStopped() when the last is down — at once, from inside stopAll(), if none
    // runs. Services waiting to restart are held first so none comes back up meanwhile. A second
    // call while stopping does nothing (allStopped() comes once, at the end).
    void stopAll();
    bool isStopping() const { return m_stopping; }
    // Operator (SIGHUP): start every Failed service again, its failure history cleared (once its
    // dependencies are ready).
    void retryFailed();
    // A reload (Broker::reload): services not in `next` are stopped and dropped, new ones are
    // added and started per their start policy (on-demand ones wait for a message), those whose
    // definition changed are restarted with it (a stopped, exited or failed one is started), and
    // the start order is recomputed. Returns the names of the changed ones. Nothing while stopping.
    void reconfigure(const QList<ServiceSettings> &next);
    // A client registered (or bound) `name`: the service registering that name is ready, and
    // services waiting for it may start.
    void clientRegistered(const QByteArray &name);
    // The services `service` still waits for before it can start (not yet registered); empty
    // when it is not waiting.
    QStringList waitingFor(const Service *service) const;
    bool isReady(const Service *service) const { return m_ready.contains(service); }
    // Start order (dependencies first); the stop order is its reverse.
    const QList<Service *> &startOrder() const { return m_order; }

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
    // reconfigure() changed services(): a removed service is stopping and is deleted later, so
    // whoever keeps Service pointers (HeldDelivery) builds its tables again, at once.
    void reconfigured();

private:
    Service *createService(const ServiceSettings &settings);
    void setUpTracking();
    void retire(Service *service);
    void stopNext();
    // Starts `service` now if every service it names is ready, else marks it waiting.
    void requestStart(Service *service, bool onDemand = false);
    void startWaiting();
    // Says in `service`'s status (lastError) and to monitors what it waits for.
    void noteWaiting(Service *service);
    void serviceStateChangedInternal(Service *service, Service::State state);
    QList<Service *> dependencies(const Service *service) const;

    QList<Service *> m_services;
    QList<Service *> m_order;        // start order
    QSet<const Service *> m_ready;   // registered their name during their current run
    QList<Service *> m_pending;      // to start once their dependencies are ready, in start order
    QSet<const Service *> m_onDemandPending; // of m_pending: started by a held message
    QList<Service *> m_toStop; // stopAll(): still to stop, next first
    QMetaObject::Connection m_waiting;
    bool m_stopping = false;
    bool m_subreaper = false;
    CgroupBase m_cgroupBase;
    BrokerConfig::ServiceCgroup m_cgroupMode = BrokerConfig::ServiceCgroup::Auto;
    bool m_trackingSetUp = false;
    QProcessEnvironment m_brokerEnvironment;
};

} // namespace Kennel
