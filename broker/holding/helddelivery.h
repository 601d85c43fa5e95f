// Held delivery in the broker (docs/ARCHITECTURE.md "Held delivery"): the glue between the
// hold table and expected names (pure bookkeeping, holdtable.h, expectednames.h) and the
// broker's connections. It
// - answers the router's offer for a target with no receiver (HoldSink): held if the name is
//   expected back, within the bounds;
// - flushes a name's held messages, in order, into the connection that registers it — native or
//   old protocol, encoded for what the new holder speaks — before anything newer can reach it;
// - expires held messages at their time to live, and tells native senders the outcome
//   (PROTOCOL §5.4); old-protocol senders cannot be told: counted and logged;
// - learns which names are expected from the config, the supervisor's service states, the
//   watchdog's actions and connections that close without a goodbye.
// This class is the only one in holding/ that knows Session: a sender is any Endpoint, but only a
// connection can be told a status later, and the flush writes into the connection that registers.
#pragma once

#include "expectednames.h"
#include "holdsettings.h"
#include "holdsink.h"
#include "holdtable.h"
#include "logthrottle.h"

#include <QHash>
#include <QObject>
#include <QTimer>

namespace Kennel {

class ClientWatchdog;
class MemoryBudget;
class NameRegistry;
class Router;
class Service;
class Session;
class Supervisor;
struct BrokerConfig;

class HeldDelivery : public QObject, public HoldSink
{
    Q_OBJECT

public:
    using Clock = std::chrono::steady_clock;

    struct Counters
    {
        quint64 offers = 0;         // targets without a receiver asked about (never a registered one)
        quint64 delivered = 0;      // flushed into a new holder's queue
        quint64 refusedAtFlush = 0; // flushed but the new holder could not take it (queue_full, legacy limits)
        quint64 fromLegacy = 0;     // held for an old-protocol sender, who is never told
        quint64 untold = 0;         // a final status whose sender had gone by then
        quint64 onDemandStarts = 0; // on-demand services started by a held message
        quint64 startFailures = 0;  // of which did not register (exit, start limit, start_timeout_ms)
        quint64 reheld = 0;         // unacknowledged by a receiver whose connection ended, held again for its name
        quint64 unacknowledged = 0; // unacknowledged, and not held again (not expected back, or a hold bound)
        // An old-protocol receiver's output queue when its connection ended (it cannot acknowledge):
        // whole frames held again for its name, and those lost (not expected back, a hold bound,
        // or the frame cut mid-way by the close). Their senders were told `delivered` at queueing.
        quint64 legacyUnsentReheld = 0;
        quint64 legacyUnsentLost = 0;
        quint64 legacyUntold = 0;   // an old-protocol sender's message not delivered (a bound, expired, ...): it cannot be told
    };

    HeldDelivery(const BrokerConfig &config, const NameRegistry &registry, MemoryBudget &budget, QObject *parent = nullptr);

    // Expected names from the supervisor's services and the watchdog's actions; on-demand
    // services are started through it.
    void watch(Supervisor &supervisor, const ClientWatchdog &watchdog);
    // The router whose traffic tap (when a monitor wants traffic) hears each held message's final
    // outcome (PROTOCOL ).
    void setRouter(const Router *router) { m_router = router; }

    DeliveryStatus offer(Endpoint &sender, QByteArrayView target, quint32 messageId, QByteArrayView payload,
                         const char *legacyMsgField, bool wantStatus) override;
    // `holder` has just registered its name (after its Welcome): deliver what is held for it.
    void registered(Session &holder);
    // A registered connection closed: without a goodbye its name is expected back for a while.
    // An acknowledging receiver's unacknowledged messages are held again for its name if it is
    // expected back, or their senders are told `unacknowledged` (PROTOCOL §5.7).
    void connectionClosed(Session &session);
    // The broker stops: every held message is answered `shutting_down` (to senders still there).
    void shutdown();
    // For calls (broker/calls/): a call to `name`, which nobody holds, may wait for it when it is
    // expected back as a held message would be; an on-demand service is started for it. Counts
    // no offer and holds nothing: the call table keeps the call.
    bool expectCall(QByteArrayView name);

Q_SIGNALS:
    // An on-demand start for `name` failed (calls waiting for it end start_failed).
    void onDemandStartFailed(const QByteArray &name);
    // What is held for `name` changed (held, delivered, expired, answered): for the monitor
    // stream, which coalesces these (PROTOCOL ).
    void heldChanged(const QByteArray &name);

public:

    const HoldTable &table() const { return m_table; }
    const ExpectedNames &expected() const { return m_expected; }
    const Counters &counters() const { return m_counters; }

private:
    // Delivered, or Held when an acknowledging receiver's ledger keeps it (its sender is told at
    // the acknowledgement, PROTOCOL ), or why it could not be written.
    DeliveryStatus deliverTo(Session &receiver, const HoldTable::Message &message);
    // What an acknowledging receiver left unacknowledged when its connection ended (PROTOCOL ).
    void reholdUnacknowledged(Session &session);
    // What an old-protocol receiver's connection had queued and not written when it ended.
    void reholdLegacyUnsent(Session &session);
    // The name's messages are held again after its connection ended this way.
    bool heldAgainAfter(const Session &session, Clock::time_point now) const;
    void tell(const HoldTable::Message &message, DeliveryStatus status);
    void expireDue();
    void scheduleExpiry();
    void logOutcome(const HoldTable::Message &message, DeliveryStatus status, const char *detail = nullptr);
    // A held message's final outcome to the traffic tap, if a monitor listens.
    void tapOutcome(const HoldTable::Message &message, DeliveryStatus status, Clock::time_point now) const;
    // On demand ([service.NAME] start = on-demand): a message was held for `name`.
    // `forCall`: a call waits for it, which holds no message.
    void maybeStartOnDemand(const QByteArray &name, bool forCall = false);
    // The start for `name` failed: every message held for it is answered start_failed.
    void startFailed(const QByteArray &name, const QString &why);

    const BrokerConfig &m_config;
    const NameRegistry &m_registry;
    HoldTable m_table;
    ExpectedNames m_expected;
    Counters m_counters;
    QTimer m_expiryTimer;
    LogThrottle m_log;
    Supervisor *m_supervisor = nullptr;
    const Router *m_router = nullptr;
    QHash<QByteArray, Service *> m_onDemand;  // by registered name
    QHash<QByteArray, QTimer *> m_starting;   // on-demand starts not yet registered: their start_timeout_ms
};

} // namespace Kennel
