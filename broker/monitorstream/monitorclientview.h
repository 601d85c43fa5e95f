// What the monitor stream reads about the broker's connections: each live one, the count, the
// broker-wide totals and whether the broker is stopping. Read-only: a monitor sees clients through
// this and acts on them only through MonitorActions. The broker implements it (MonitorBackend).
#pragma once

#include "monitorcodec.h"
#include "trafficcounters.h"

#include <QStringList>
#include <QtGlobal>

#include <cstddef>
#include <functional>

namespace Kennel {

class Session;
struct MonitorTotals;

class MonitorClientView
{
public:
    virtual ~MonitorClientView() = default;
    // Every connection, registered or not, in no particular order. `fn` must not close any.
    virtual void forEachSession(const std::function<void(const Session &)> &fn) const = 0;
    // A live connection by id, or nullptr.
    virtual const Session *sessionById(quint64 id) const = 0;
    virtual size_t connectionCount() const = 0;
    virtual const TrafficCounters &totals() const = 0;
    virtual bool isShuttingDown() const = 0;
    // The client listeners' addresses as bound ("127.0.0.1:8000", "unix:PATH"), for a monitor's
    // InfoRequest; none where the view has no listeners (tests).
    virtual QStringList clientListenAddresses() const { return {}; }
    // The calls block of the totals (PROTOCOL §5.6, §6.3); a broker without calls leaves it 0.
    virtual void callTotals(MonitorTotals &totals) const { (void)totals; }
    // The bridge's figures into the totals' bridge block; nothing without a bridge.
    virtual void fillBridgeTotals(MonitorTotals &totals) const { (void)totals; }
    // Topics: the filters a connection holds and the publications it could not take.
    virtual quint32 subscriptionsOf(const Session &session) const { (void)session; return 0; }
    virtual quint64 publicationsNotTakenBy(const Session &session) const { (void)session; return 0; }
    // Topics for monitors (PROTOCOL §6.8): what changes when a tracked topic was published to,
    // the Topics record (at most maxEntries topics), and a connection's filters.
    virtual quint64 topicsGeneration() const { return 0; }
    virtual void fillTopics(MonitorTopics &record, int maxEntries, qint64 nowMs) const { (void)record; (void)maxEntries; (void)nowMs; }
    virtual QList<QByteArray> subscriptionFiltersOf(const Session &session) const { (void)session; return {}; }
    // Registrations refused because the name is reserved for a service (docs/SECURITY.md).
    virtual quint64 reservedNamesRefused() const { return 0; }
    // Held delivery (PROTOCOL §6.7): what is held for `name` now (count 0: nothing), every name
    // that holds something, and the totals' held block. A view without held delivery: nothing.
    virtual MonitorHeld heldFor(const QByteArray &name) const
    {
        MonitorHeld held;
        held.name = name;
        return held;
    }
    virtual QList<MonitorHeld> heldNames() const { return {}; }
    virtual void fillHeldTotals(MonitorTotals &totals) const { (void)totals; }
    // The access policy's block of the totals (policyRules .. policyRuleCounts).
    virtual void fillPolicyTotals(MonitorTotals &totals) const { (void)totals; }
};

} // namespace Kennel
