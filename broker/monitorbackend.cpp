#include "monitorbackend.h"

#include "bridgemanager.h"
#include "helddelivery.h"
#include "broker.h"
#include "brokercontext.h"
#include "monitorhub.h"
#include "nameregistry.h"
#include "router.h"
#include "session.h"
#include "supervisor.h"

#include <algorithm>
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

void MonitorBackend::callTotals(MonitorTotals &totals) const
{
    const CallRouter::Counters &c = m_broker.calls().counters();
    const auto of = [&c](CallOutcome outcome) { return c.outcomes[size_t(outcome)]; };
    totals.calls = c.calls;
    totals.callsReplied = of(CallOutcome::Replied) + of(CallOutcome::ErrorReply);
    totals.callsTimedOut = of(CallOutcome::Timeout);
    totals.callsCalleeGone = of(CallOutcome::CalleeGone);
    quint64 ended = 0;
    for (quint64 n : c.outcomes)
        ended += n;
    totals.callsRefused = ended - totals.callsReplied - totals.callsTimedOut - totals.callsCalleeGone;
    totals.repliesDropped = c.lateReplies + c.strangerReplies;
}

quint32 MonitorBackend::subscriptionsOf(const Session &session) const
{
    return quint32(m_broker.topics().subscriptionsOf(session));
}

quint64 MonitorBackend::publicationsNotTakenBy(const Session &session) const
{
    return m_broker.topics().notTakenBy(session);
}

quint64 MonitorBackend::topicsGeneration() const
{
    return m_broker.topics().topicStatsGeneration();
}

void MonitorBackend::fillTopics(MonitorTopics &record, int maxEntries, qint64 nowMs) const
{
    m_broker.topics().fillMonitorTopics(record, maxEntries, nowMs);
}

QList<QByteArray> MonitorBackend::subscriptionFiltersOf(const Session &session) const
{
    return m_broker.topics().filtersOf(session);
}

bool MonitorBackend::isShuttingDown() const
{
    return m_ctx.shuttingDown;
}

QStringList MonitorBackend::clientListenAddresses() const
{
    QStringList addresses;
    for (const ListenAddress &address : m_broker.boundAddresses())
        addresses.append(address.toString());
    return addresses;
}

quint64 MonitorBackend::reservedNamesRefused() const
{
    return m_broker.reservedNames().refusedCount();
}

void MonitorBackend::fillPolicyTotals(MonitorTotals &totals) const
{
    const PolicyEngine &engine = m_broker.policy();
    const QList<PolicyRule> &rules = engine.current().rules();
    totals.policyRules = quint32(rules.size());
    totals.policyDenials = engine.totalDenials();
    const SendGate &gate = m_broker.sendGate();
    totals.policySendChecked = gate.checked();
    totals.policySendDenied = gate.denied();
    totals.policyCacheMisses = gate.cacheMisses();
    for (qsizetype i = 0; i < rules.size() && i < MonitorTotals::MaxPolicyRuleCounts; ++i)
        totals.policyRuleCounts.append({rules[i].name, engine.hits().value(i), engine.denials().value(i)});
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

void MonitorBackend::fillBridgeTotals(MonitorTotals &totals) const
{
    BridgeManager *bridge = m_broker.bridge();
    if (!bridge || !bridge->settings().enabled())
        return;
    const BridgeManager::State state = bridge->state();
    totals.bridgeState = state.connected ? 2 : 1;
    totals.bridgeSpoolDepth = quint64(state.spoolDepth);
    totals.bridgeSpoolOldestAgeMs = quint64(state.oldestAgeMs);
    totals.bridgeSpoolDropped = state.counters.spoolDropped;
    totals.bridgeForwarded = state.counters.forwarded;
    totals.bridgeReceived = state.counters.received;
    totals.bridgeTimeouts = state.counters.timeouts;
}

namespace {
MonitorHeld heldRecord(const QByteArray &name, const HoldTable::NameSummary &summary, HoldTable::Clock::time_point now)
{
    using std::chrono::duration_cast;
    using std::chrono::milliseconds;
    MonitorHeld held;
    held.name = name;
    held.count = quint32(std::max(0, summary.count));
    held.bytes = quint64(std::max<qint64>(0, summary.bytes));
    held.oldestAgeMs = std::max<qint64>(0, duration_cast<milliseconds>(now - summary.oldest).count());
    held.nextExpiryMs = std::max<qint64>(0, duration_cast<milliseconds>(summary.nextExpiry - now).count());
    return held;
}
} // namespace

MonitorHeld MonitorBackend::heldFor(const QByteArray &name) const
{
    if (const std::optional<HoldTable::NameSummary> summary = m_broker.held().table().summary(name))
        return heldRecord(name, *summary, HoldTable::Clock::now());
    return MonitorClientView::heldFor(name);
}

QList<MonitorHeld> MonitorBackend::heldNames() const
{
    const HoldTable::Clock::time_point now = HoldTable::Clock::now();
    QList<MonitorHeld> list;
    for (const auto &[name, summary] : m_broker.held().table().summaries())
        list.append(heldRecord(name, summary, now));
    return list;
}

void MonitorBackend::fillHeldTotals(MonitorTotals &totals) const
{
    const HeldDelivery &held = m_broker.held();
    const HoldTable &table = held.table();
    const HoldTable::Counters &t = table.counters();
    const HeldDelivery::Counters &d = held.counters();
    totals.heldMessages = quint64(std::max(0, table.count()));
    totals.heldBytes = quint64(std::max<qint64>(0, table.bytes()));
    totals.heldNames = quint32(table.summaries().size());
    totals.heldTotal = t.held;
    totals.heldDelivered = d.delivered;
    totals.heldRefusedAtDelivery = d.refusedAtFlush;
    totals.heldExpired = t.expired;
    totals.heldDroppedNameCount = t.droppedNameCount;
    totals.heldDroppedNameBytes = t.droppedNameBytes;
    totals.heldDroppedTotal = t.droppedTotal;
    totals.heldStartFailed = t.startFailed;
    totals.heldReheld = d.reheld;
    totals.heldUnacknowledged = d.unacknowledged;
    totals.heldLegacyUntold = d.legacyUntold;
    totals.heldUntold = d.untold;
}

bool MonitorBackend::reloadConfig(const QString &who, QString *summary)
{
    const Broker::ReloadOutcome outcome = m_broker.reload(who);
    *summary = outcome.summary;
    if (!outcome.errors.isEmpty())
        *summary += QStringLiteral(": ") + outcome.errors.join(QStringLiteral("; "));
    return outcome.ok;
}

} // namespace Kennel
