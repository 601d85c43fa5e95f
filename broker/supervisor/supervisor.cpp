#include "supervisor.h"

#include "logging.h"
#include "processtree.h"

#include <algorithm>
#include <cerrno>
#include <sys/prctl.h>
#include <unistd.h>

namespace Kennel {

Supervisor::Supervisor(const QList<ServiceSettings> &services, BrokerConfig::ServiceCgroup cgroup, QObject *parent)
    : QObject(parent)
{
    m_services.reserve(services.size());
    for (const ServiceSettings &settings : services) {
        auto *service = new Service(settings, this);
        connect(service, &Service::stateChanged, this,
                [this, service](Service::State state) { emit serviceStateChanged(service, state); });
        m_services.append(service);
    }
    // Orphans of services (a daemon whose parent exited) become the broker's children instead of
    // init's: the broker can still find, stop and reap them (Service: leftovers).
    if (!m_services.isEmpty()) {
        if (::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0) {
            m_subreaper = true;
        } else {
            const int error = errno;
            qCWarning(lcSupervisor).noquote() << "cannot become a child subreaper (" << qt_error_string(error)
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
}

Supervisor::~Supervisor()
{
    disconnect(m_waiting);
    // Last started, first gone, as in stopAll(); each Service kills what still runs.
    while (!m_services.isEmpty())
        delete m_services.takeLast();
    m_cgroupBase.removeCreated();
}

void Supervisor::setBrokerEnvironment(const QProcessEnvironment &env)
{
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
    for (Service *service : std::as_const(m_services)) {
        const Service::State state = service->state();
        if (state == Service::State::Stopped || state == Service::State::Exited || state == Service::State::Failed)
            service->start();
    }
}

void Supervisor::stopAll()
{
    if (m_stopping)
        return;
    m_stopping = true;
    // Hold back every pending restart first: a service further down the list must not come back
    // up while the ones after it are being stopped.
    for (Service *service : std::as_const(m_services)) {
        if (service->state() == Service::State::Backoff)
            service->stop();
    }
    m_toStop = m_services;
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
    emit allStopped();
}

void Supervisor::retryFailed()
{
    int retried = 0;
    for (Service *service : std::as_const(m_services)) {
        if (service->state() == Service::State::Failed) {
            qCInfo(lcSupervisor).noquote() << "service" << service->name() + QLatin1Char(':')
                                           << "retrying after failure (operator request)";
            service->start();
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
