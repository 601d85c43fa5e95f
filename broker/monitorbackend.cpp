#include "monitorbackend.h"

#include "broker.h"
#include "brokercontext.h"
#include "monitorhub.h"
#include "nameregistry.h"
#include "router.h"
#include "session.h"
#include "supervisor.h"

#include <vector>

namespace Kennel {

MonitorBackend::MonitorBackend(Broker &broker, BrokerContext &context, Supervisor &supervisor)
    : m_broker(broker)
    , m_ctx(context)
    , m_supervisor(supervisor)
{
    m_testSender = std::make_unique<LocalSender>(QByteArray(MonitorHub::TestMessageSender), QStringLiteral("monitor control"));
    m_legacyTestSender = std::make_unique<LocalSender>(QByteArray(MonitorHub::LegacyTestMessageSender), QStringLiteral("monitor control"));
}

MonitorBackend::~MonitorBackend() = default;

void MonitorBackend::forEachSession(const std::function<void(const Session &)> &fn) const
{
    m_broker.forEachSession([&fn](const Session &session) { fn(session); });
}

const Session *MonitorBackend::sessionById(quint64 id) const
{
    return m_broker.sessionById(id);
}

size_t MonitorBackend::connectionCount() const
{
    return m_broker.connectionCount();
}

const TrafficCounters &MonitorBackend::totals() const
{
    return m_broker.totals();
}

bool MonitorBackend::isShuttingDown() const
{
    return m_ctx.shuttingDown;
}

quint64 MonitorBackend::reservedNamesRefused() const
{
    return m_broker.reservedNames().refusedCount();
}

const QList<Service *> &MonitorBackend::services() const
{
    return m_supervisor.services();
}

Service *MonitorBackend::service(const QString &name) const
{
    return m_supervisor.service(name);
}

const Service *MonitorBackend::serviceOwning(qint64 pid) const
{
    return m_supervisor.serviceOwning(pid);
}

int MonitorBackend::disconnectClient(const QByteArray &name, const QString &who)
{
    NameEntry *entry = m_ctx.registry->find(name);
    if (!entry || (!entry->receiver && entry->legacySenders.empty()))
        return -1;
    // A legacy client is its receive connection and its main connections: all of them go. Taken
    // before the first close, which may release the entry.
    std::vector<Endpoint *> holders;
    if (entry->receiver)
        holders.push_back(entry->receiver);
    for (Endpoint *sender : entry->legacySenders)
        if (sender != entry->receiver)
            holders.push_back(sender);
    // Each ends itself (a connection says Bye and closes); an endpoint with no peer counts for
    // nothing.
    int closed = 0;
    for (Endpoint *holder : holders)
        if (holder->end(Endpoint::EndReason::ByOperator, who))
            ++closed;
    return closed;
}

MonitorActions::TestDelivery MonitorBackend::sendTestMessage(const QByteArray &target, const QByteArray &text)
{
    const NameEntry *entry = m_ctx.registry->find(target);
    LocalSender *sender = m_testSender.get();
    if (entry && entry->receiver && entry->receiver->protocol() == Endpoint::Protocol::Legacy)
        sender = m_legacyTestSender.get();
    // Through the router like any message: the target's queue bound, its protocol's encoding,
    // the counters and the traffic records all apply.
    TestDelivery delivery;
    delivery.status = m_ctx.router->routeNative(*sender, target, quint32(m_ctx.router->nextLegacyMessageId()), text);
    delivery.sender = sender->name();
    return delivery;
}

void MonitorBackend::setTrafficTap(TrafficTap *tap)
{
    if (m_ctx.router)
        m_ctx.router->setTap(tap);
}

const TrafficTap *MonitorBackend::trafficTap() const
{
    return m_ctx.router ? m_ctx.router->tap() : nullptr;
}

} // namespace Kennel
