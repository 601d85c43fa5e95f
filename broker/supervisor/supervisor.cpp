#include "supervisor.h"

#include "logging.h"

#include <algorithm>

namespace Kennel {

Supervisor::Supervisor(const QList<ServiceSettings> &services, QObject *parent) : QObject(parent)
{
    m_services.reserve(services.size());
    for (const ServiceSettings &settings : services) {
        auto *service = new Service(settings, this);
        connect(service, &Service::stateChanged, this,
                [this, service](Service::State state) { emit serviceStateChanged(service, state); });
        m_services.append(service);
    }
}

Supervisor::~Supervisor()
{
    disconnect(m_waiting);
    // Last started, first gone, as in stopAll(); each Service kills what still runs.
    while (!m_services.isEmpty())
        delete m_services.takeLast();
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
