#include "supervisor.h"
#include "errnotext.h"

#include "logging.h"
#include "processtree.h"
#include "configreloader.h"
#include "servicegraph.h"

#include <algorithm>
#include <cerrno>
#include <sys/prctl.h>
#include <unistd.h>

namespace Kennel {

Supervisor::Supervisor(const QList<ServiceSettings> &services, BrokerConfig::ServiceCgroup cgroup, QObject *parent)
    : QObject(parent)
    , m_cgroupMode(cgroup)
{
    m_services.reserve(services.size());
    for (const ServiceSettings &settings : services)
        m_services.append(createService(settings));
    for (int i : ServiceGraph::startOrder(services))
        m_order.append(m_services.at(i));
    // The loader refuses these; a Supervisor built directly (tests, tools) still says so.
    for (const QString &error : ServiceGraph::check(services))
        qCWarning(lcSupervisor).noquote() << error;
    if (!m_services.isEmpty())
        setUpTracking();
}

Service *Supervisor::createService(const ServiceSettings &settings)
{
    auto *service = new Service(settings, this);
    connect(service, &Service::stateChanged, this, [this, service](Service::State state) {
        serviceStateChangedInternal(service, state);
        Q_EMIT serviceStateChanged(service, state);
    });
    if (!m_brokerEnvironment.isEmpty())
        service->setExtraEnvironment(m_brokerEnvironment);
    if (m_cgroupBase.isValid()) {
        const QString leaf = QStringLiteral("/service-") + service->name();
        service->setCgroup(m_cgroupBase.path() + leaf, m_cgroupBase.hierarchyPath() + leaf);
    }
    return service;
}

// Once there are services (at construction, or when a reload adds the first ones).
void Supervisor::setUpTracking()
{
    if (m_trackingSetUp)
        return;
    m_trackingSetUp = true;
    const BrokerConfig::ServiceCgroup cgroup = m_cgroupMode;
    // Orphans of services (a daemon whose parent exited) become the broker's children instead of
    // init's: the broker can still find, stop and reap them (Service: leftovers).
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0) {
        m_subreaper = true;
    } else {
        const int error = errno;
        qCWarning(lcSupervisor).noquote() << "cannot become a child subreaper (" << errnoText(error)
                                          << "): daemonizing services are not tracked once their parent exits";
    }
    // A cgroup per service finds what the subreaper and the KENNEL_SERVICE mark cannot: a
    // daemon that left the process group and cleared its environment.
    m_cgroupBase = CgroupBase::choose(cgroup == BrokerConfig::ServiceCgroup::Auto);
    if (m_cgroupBase.isValid()) {
        qCInfo(lcSupervisor).noquote() << "services tracked by cgroup" << m_cgroupBase.path();
        for (Service *service : std::as_const(m_services)) {
            const QString leaf = QStringLiteral("/service-") + service->name();
            service->setCgroup(m_cgroupBase.path() + leaf, m_cgroupBase.hierarchyPath() + leaf);
        }
    } else {
        const bool off = cgroup == BrokerConfig::ServiceCgroup::Off;
        const QString line = QStringLiteral("services tracked by process group: ") + m_cgroupBase.reason();
        if (off)
            qCInfo(lcSupervisor).noquote() << line;
        else
            qCWarning(lcSupervisor).noquote()
                << line << "(a daemon that leaves its process group and clears its environment is not found)";
    }
}

Supervisor::~Supervisor()
{
    disconnect(m_waiting);
    // Last started, first gone, as in stopAll(); each Service kills what still runs.
    m_services.clear();
    m_pending.clear();
    while (!m_order.isEmpty())
        delete m_order.takeLast();
    m_cgroupBase.removeCreated();
}

void Supervisor::setBrokerEnvironment(const QProcessEnvironment &env)
{
    m_brokerEnvironment = env;
    for (Service *service : std::as_const(m_services))
        service->setExtraEnvironment(env);
}

void Supervisor::startAll()
{
    if (m_stopping) {
        qCWarning(lcSupervisor) << "not starting services: stopping";
        return;
    }
    if (!m_services.isEmpty())
        qCInfo(lcSupervisor) << "starting" << m_services.size() << "service(s)";
    for (Service *service : std::as_const(m_order)) {
        const Service::State state = service->state();
        if (service->settings().start == ServiceSettings::Start::OnDemand)
            continue;
        if (state == Service::State::Stopped || state == Service::State::Exited || state == Service::State::Failed)
            requestStart(service);
    }
}

bool Supervisor::startOnDemand(Service *service)
{
    if (m_stopping)
        return false;
    qCInfo(lcSupervisor).noquote() << "service" << service->name() + QLatin1Char(':') << "starting on demand";
    requestStart(service, true);
    return true;
}

QList<Service *> Supervisor::dependencies(const Service *service) const
{
    QList<Service *> list;
    for (const QString &name : service->settings().after) {
        Service *dependency = this->service(name);
        if (dependency && dependency != service)
            list.append(dependency);
    }
    return list;
}

QStringList Supervisor::waitingFor(const Service *service) const
{
    QStringList names;
    if (!m_pending.contains(service))
        return names;
    for (const Service *dependency : dependencies(service)) {
        if (!m_ready.contains(dependency))
            names.append(dependency->name());
    }
    return names;
}

void Supervisor::requestStart(Service *service, bool onDemand)
{
    QStringList missing;
    for (const Service *dependency : dependencies(service)) {
        if (!m_ready.contains(dependency))
            missing.append(dependency->name());
    }
    if (missing.isEmpty()) {
        m_pending.removeOne(service);
        m_onDemandPending.remove(service);
        if (onDemand)
            service->startOnDemand();
        else
            service->start();
        return;
    }
    if (onDemand)
        m_onDemandPending.insert(service);
    else
        m_onDemandPending.remove(service);
    if (!m_pending.contains(service)) {
        // In start order, so that startWaiting() starts them dependencies first.
        m_pending.append(service);
        std::sort(m_pending.begin(), m_pending.end(),
                  [this](Service *a, Service *b) { return m_order.indexOf(a) < m_order.indexOf(b); });
    }
    qCInfo(lcSupervisor).noquote() << "service" << service->name() + QLatin1Char(':') << "waiting for"
                                   << missing.join(QStringLiteral(", ")) << "to register before it starts";
    noteWaiting(service);
    for (const Service *dependency : dependencies(service)) {
        if (dependency->state() == Service::State::Failed)
            qCWarning(lcSupervisor).noquote()
                << "service" << service->name() + QLatin1Char(':') << "not started: it needs" << dependency->name()
                << QStringLiteral("which has failed (") + dependency->status().lastError + QStringLiteral(")")
                << "; waiting until it is retried (SIGHUP) and registers";
    }
}

void Supervisor::noteWaiting(Service *service)
{
    QStringList missing, failed;
    for (const Service *dependency : dependencies(service)) {
        if (m_ready.contains(dependency))
            continue;
        missing.append(dependency->name());
        if (dependency->state() == Service::State::Failed)
            failed.append(dependency->name());
    }
    QString why = QStringLiteral("waiting for ") + missing.join(QStringLiteral(", ")) + QStringLiteral(" to register");
    if (!failed.isEmpty())
        why += QStringLiteral("; failed (start limit): ") + failed.join(QStringLiteral(", "))
            + QStringLiteral(", retried on SIGHUP");
    service->setNotStartedReason(why);
    // Its state has not changed, its status has: monitors get the record again.
    Q_EMIT serviceStateChanged(service, service->state());
}

void Supervisor::startWaiting()
{
    if (m_stopping)
        return;
    // A start may make nothing else ready at once (readiness is a registration, later), so one
    // pass in start order is enough.
    const QList<Service *> waiting = m_pending;
    for (Service *service : waiting) {
        bool ready = true;
        for (const Service *dependency : dependencies(service))
            ready = ready && m_ready.contains(dependency);
        if (!ready)
            continue;
        m_pending.removeOne(service);
        qCInfo(lcSupervisor).noquote() << "service" << service->name() + QLatin1Char(':')
                                       << "its dependencies have registered; starting";
        if (m_onDemandPending.remove(service))
            service->startOnDemand();
        else
            service->start();
    }
}

void Supervisor::clientRegistered(const QByteArray &name)
{
    const QString text = QString::fromUtf8(name);
    for (Service *service : std::as_const(m_services)) {
        const Service::State state = service->state();
        if (service->settings().registeredName() != text
            || (state != Service::State::Starting && state != Service::State::Running) || m_ready.contains(service))
            continue;
        m_ready.insert(service);
        qCDebug(lcSupervisor).noquote() << "service" << service->name() + QLatin1Char(':') << "ready (registered" << text
                                        << QLatin1Char(')');
        startWaiting();
    }
}

void Supervisor::serviceStateChangedInternal(Service *service, Service::State state)
{
    switch (state) {
    case Service::State::Starting:
    case Service::State::Running:
        return;
    case Service::State::Failed: {
        m_ready.remove(service);
        // Its dependents cannot start until an operator retries it and it registers: say so once,
        // naming both, so that "why is X not running" has an answer in the log.
        const QList<Service *> pending = m_pending;
        for (Service *waiting : pending) {
            if (!dependencies(waiting).contains(service))
                continue;
            qCWarning(lcSupervisor).noquote()
                << "service" << waiting->name() + QLatin1Char(':') << "not started: it needs" << service->name()
                << QStringLiteral("which has failed (") + service->status().lastError + QStringLiteral(")")
                << "; waiting until it is retried (SIGHUP) and registers";
            noteWaiting(waiting);
        }
        return;
    }
    case Service::State::Stopped:
    case Service::State::Backoff:
    case Service::State::Stopping:
    case Service::State::Exited:
        m_ready.remove(service);
        return;
    }
}

void Supervisor::stopAll()
{
    if (m_stopping)
        return;
    m_stopping = true;
    // Nothing waiting for its dependencies starts any more.
    m_pending.clear();
    m_onDemandPending.clear();
    // Hold back every pending restart first: a service further down the list must not come back
    // up while the ones after it are being stopped.
    for (Service *service : std::as_const(m_order)) {
        if (service->state() == Service::State::Backoff)
            service->stop();
    }
    // Dependents before what they depend on.
    m_toStop = m_order;
    std::reverse(m_toStop.begin(), m_toStop.end());
    qCInfo(lcSupervisor) << "stopping services";
    stopNext();
}

void Supervisor::stopNext()
{
    disconnect(m_waiting);
    while (!m_toStop.isEmpty()) {
        Service *service = m_toStop.takeFirst();
        const Service::State state = service->state();
        if (state == Service::State::Stopped || state == Service::State::Exited || state == Service::State::Failed)
            continue;
        m_waiting = connect(service, &Service::stopped, this, &Supervisor::stopNext);
        service->stop();
        // stop() emits stopped() from inside itself when there was no process; that already ran
        // stopNext() for the rest.
        return;
    }
    m_stopping = false;
    qCInfo(lcSupervisor) << "all services stopped";
    Q_EMIT allStopped();
}

void Supervisor::reconfigure(const QList<ServiceSettings> &next)
{
    if (m_stopping) {
        qCWarning(lcSupervisor) << "not reconfiguring services: stopping";
        return;
    }
    const auto inNext = [&next](const QString &name) {
        return std::any_of(next.begin(), next.end(), [&name](const ServiceSettings &s) { return s.name == name; });
    };
    // Dependents first, as a shutdown would stop them.
    for (auto it = m_order.crbegin(); it != m_order.crend(); ++it) {
        if (!inNext((*it)->name()))
            retire(*it);
    }
    QList<Service *> services, added, changed;
    for (const ServiceSettings &settings : next) {
        Service *existing = service(settings.name);
        if (!existing) {
            existing = createService(settings);
            added.append(existing);
        } else if (!ConfigReloader::sameService(existing->settings(), settings, false)) {
            existing->setSettings(settings);
            changed.append(existing);
        } else {
            existing->setSettings(settings); // at most the ring's bounds: applied in place
        }
        services.append(existing);
    }
    m_services = services;
    m_order.clear();
    for (int i : ServiceGraph::startOrder(next))
        m_order.append(m_services.at(i));
    if (!m_services.isEmpty())
        setUpTracking();
    Q_EMIT reconfigured();
    for (Service *service : std::as_const(m_order)) {
        const bool isNew = added.contains(service);
        if (!isNew && !changed.contains(service))
            continue;
        const Service::State state = service->state();
        const bool hasProcess = state == Service::State::Starting || state == Service::State::Running
            || state == Service::State::Stopping;
        if (service->settings().start == ServiceSettings::Start::OnDemand) {
            // The next message held for it starts it, with the new definition.
            if (hasProcess || state == Service::State::Backoff)
                service->stop();
            continue;
        }
        if (hasProcess) {
            m_ready.remove(service);
            service->restart();
        } else {
            requestStart(service);
        }
    }
}

void Supervisor::retire(Service *service)
{
    m_services.removeOne(service);
    m_order.removeOne(service);
    m_pending.removeOne(service);
    m_onDemandPending.remove(service);
    m_ready.remove(service);
    if (service->state() == Service::State::Stopped) {
        service->deleteLater();
        return;
    }
    // stop() may say stopped() from inside itself (no process): connected first.
    connect(service, &Service::stopped, service, &QObject::deleteLater);
    service->stop();
}

void Supervisor::retryFailed()
{
    int retried = 0;
    for (Service *service : std::as_const(m_services)) {
        if (service->state() == Service::State::Failed) {
            qCInfo(lcSupervisor).noquote() << "service" << service->name() + QLatin1Char(':')
                                           << "retrying after failure (operator request)";
            requestStart(service);
            ++retried;
        }
    }
    if (retried == 0)
        qCInfo(lcSupervisor) << "retry requested: no service is in state failed";
}

Service *Supervisor::service(const QString &name) const
{
    for (Service *service : m_services) {
        if (service->name() == name)
            return service;
    }
    return nullptr;
}

const Service *Supervisor::serviceOwning(qint64 pid) const
{
    if (pid <= 0 || m_services.isEmpty())
        return nullptr;
    // In a service's cgroup: the kernel's word, whatever the process did to its environment,
    // session or parent.
    if (m_cgroupBase.isValid()) {
        const QString group = Cgroup::ofProcess(pid_t(pid));
        for (const Service *s : m_services) {
            const QString &own = s->cgroupHierarchyPath();
            if (!group.isEmpty() && !own.isEmpty() && (group == own || group.startsWith(own + QLatin1Char('/'))))
                return s;
        }
    }
    const pid_t self = ::getpid();
    pid_t current = pid_t(pid);
    pid_t below = 0;
    // Up the parent chain, each step checked by start time so that a reused PID is not taken for
    // a service's process. Bounded: process trees are shallow, a cycle is impossible but costs
    // nothing to rule out.
    for (int depth = 0; depth < MaxAncestry && current > 1; ++depth) {
        if (current == self) {
            // The broker's own child, and not a service's main process (checked the step
            // before): an orphan the broker inherited as subreaper, or a test's child.
            if (below > 0) {
                if (const std::optional<QByteArray> mark = ProcessTree::environmentValue(below, "KENNEL_SERVICE"))
                    return service(QString::fromUtf8(*mark));
            }
            return nullptr;
        }
        const std::optional<ProcStat> st = ProcessTree::stat(current);
        if (!st)
            return nullptr;
        for (const Service *s : m_services) {
            if (s->isMainProcess(current, st->startTime))
                return s;
        }
        below = current;
        current = st->ppid;
    }
    return nullptr;
}

Service *Supervisor::serviceByPid(qint64 pid) const
{
    if (pid <= 0)
        return nullptr;
    for (Service *service : m_services) {
        const Service::State state = service->state();
        if ((state == Service::State::Starting || state == Service::State::Running || state == Service::State::Stopping)
            && service->status().pid == pid) {
            return service;
        }
    }
    return nullptr;
}

} // namespace Kennel
