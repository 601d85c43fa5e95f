// The broker's side of the monitor stream (PROTOCOL §6, docs/MONITOR.md): one per broker. It owns
// every monitor connection (handed over by a client listener, or from the monitor-only listeners)
// and the lists of the subscribed ones, lets MonitorAdmission decide who gets in, sends each
// subscribed monitor a snapshot and then the events it hears from the broker (registrations,
// connections closing, the watchdog, the supervisor, periodic totals) as MonitorRecords builds
// them, sets MonitorTrafficTap on the router while someone wants traffic, hands operators'
// commands to MonitorControlHandler, and keeps the monitor queues within their budget.
//
// It sees the broker only through narrow interfaces: MonitorClientView (connections and totals,
// read-only), MonitorServiceView, MonitorActions (what a monitor may make the broker do), the
// watchdog's signals and the memory budgets; registrations, hand-overs, closes and service state
// changes come in through the hooks below.
//
// Cost when nobody watches: the router's tap pointer is null unless a subscribed monitor wants
// traffic (one predictable branch per message); the registration and close hooks return at once
// without subscribers; the totals timer runs only while someone is subscribed.
//
// Choices documented in docs/MONITOR.md:
// - Client records are re-sent with the totals (at most once a second) for clients whose
//   counters, feed count or watchdog state changed since that monitor last heard of them; there
//   is no event per message or per feed. A monitor whose queue is over half its bound skips a
//   refresh (it gets the changes at the next one).
// - Watchdog feeds are not events; the feed counter travels in those refreshes.
// - The traffic preview and rate a monitor asks for are capped by the configured values.
#pragma once

#include "brokerconfig.h"
#include "clientwatchdog.h"
#include "framecodec.h"
#include "logthrottle.h"
#include "monitoradmission.h"
#include "monitorcodec.h"
#include "monitorconnection.h"
#include "monitorcontrolhandler.h"
#include "monitorrecords.h"
#include "monitortraffictap.h"
#include "service.h"

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QObject>
#include <QSet>
#include <QString>
#include <QTimer>

#include <chrono>
#include <optional>
#include <sys/types.h>
#include <vector>

class QIODevice;

namespace Kennel {

class MemoryBudget;
class MonitorActions;
class MonitorClientView;
class MonitorListener;
class MonitorServiceView;
class Session;
class BudgetLedger;
struct FrameView;

class MonitorHub : public QObject
{
    Q_OBJECT
public:
    // Who a test message from a monitor comes from. Legacy receivers get it from the shorter name:
    // the old frame's name fields hold 9 characters (PROTOCOL §7.5).
    static constexpr const char *TestMessageSender = "kennel-monitor";
    static constexpr const char *LegacyTestMessageSender = "kennelmon";
    // The waiting room's floor (MonitorAdmission).
    static constexpr int MinPendingMonitors = MonitorAdmission::MinPendingMonitors;
    // Totals are sent at most this often whatever totals_interval says.
    static constexpr std::chrono::milliseconds MinTotalsInterval{100};
    static constexpr std::chrono::milliseconds ClientRefreshInterval{1000};
    // Control text (SendTestMessage) and targets: the bounds of a message and a name.
    static constexpr int MaxControlTargetBytes = MonitorControlHandler::MaxControlTargetBytes;

    // Sees the broker only through these: its connections and totals (read-only), its services,
    // the actions a monitor may ask for, the watchdog's signals and state, and the memory budgets
    // (monitor queues are charged to BudgetLedger::monitorQueues; totals report every budget).
    MonitorHub(const BrokerConfig &config, const MonitorClientView &clients, MonitorServiceView &services,
               MonitorActions &actions, const ClientWatchdog &watchdog, BudgetLedger &budgets, QObject *parent = nullptr);
    ~MonitorHub() override;

    // Reads the credentials (token file). False with *error if they cannot be had: the broker
    // refuses to start rather than run with monitors locked out (or let in) by accident.
    bool loadCredentials(QString *error);
    // A reload: the [monitor] credentials for monitors admitted from now on
    // (MonitorAuthenticator::replaceCredentials).
    bool replaceCredentials(const MonitorSettings &settings, QString *error)
    {
        return m_admission.replaceCredentials(settings, error);
    }
    // A reload with the same token file paths: were the files rewritten (a rotated token)?
    bool tokenFilesChanged(const MonitorSettings &settings) const { return m_admission.tokenFilesChanged(settings); }
    // Opens the monitor-only listeners ([monitor] listen; none by default).
    bool startListening(QString *error);
    QList<ListenAddress> boundAddresses() const;
    // Shutdown, first phase: the monitor listeners close with the client listeners.
    void closeListeners();
    // Shutdown, last phase: Bye to every monitor, then closed; no more monitors.
    void closeAll(const QString &reason);

    // --- hooks from the broker --------------------------------------------------------------
    // A Hello with role monitor on a client listener: takes the connection from `session` (which
    // leaves the broker's tables) and goes on as if the Hello had come to a monitor listener.
    void adoptSession(Session &session, const FrameView &hello);
    // A client (native or legacy) registered or bound its name.
    void clientRegistered(Session &session);
    // A registered client's connection closed.
    void clientGone(Session &session);
    // A supervised service changed state (Supervisor::serviceStateChanged).
    void serviceStateChanged(Service *service, Service::State state);
    // What is held for `name` changed (HeldDelivery::heldChanged): each subscriber is sent the
    // name's MonitorHeld with the next totals, coalesced (PROTOCOL ).
    void heldChanged(const QByteArray &name);
    // The access policy denied something (the broker fills in the record but its time): sent to
    // subscribers as it happens, at most MaxPolicyDenialsPerSecond a second — a peer flooding
    // denied messages does not flood the monitors; the totals count every one.
    static constexpr int MaxPolicyDenialsPerSecond = 50;
    void policyDenied(MonitorPolicyDenial denial);

    // --- for tests and diagnostics ------------------------------------------------------------
    struct MonitorInfo
    {
        QByteArray name;
        QString peerAddress;
        QString admittedHow;
        MonitorRole role = MonitorRole::ReadOnly; // roles
        bool admitted = false;
        bool subscribed = false;
        bool wantsTraffic = false;
        qint64 queuedBytes = 0;
        quint64 trafficRecordsSent = 0;
        quint64 trafficRecordsDropped = 0;
    };
    QList<MonitorInfo> monitors() const;
    int admittedCount() const;
    // Admission: refused at the door by the waiting-room caps, timed out, refused by the
    // authenticator, TLS handshakes refused (MonitorAdmission::Counters).
    using AdmissionCounters = MonitorAdmission::Counters;
    AdmissionCounters admissionCounters() const;
    // Monitors disconnected because their queue passed its bound (2 x max_queue_bytes) or the
    // monitor budget ran out, and Subscribes refused because the last snapshot was not read.
    quint64 queueOverflows() const { return m_queueOverflows; }
    quint64 budgetSheds() const { return m_budgetSheds; }
    quint64 snapshotsRefused() const { return m_snapshotsRefused; }
    // Control requests refused because the monitor is read-only (PROTOCOL §6.6).
    quint64 readOnlyRefused() const { return m_control.readOnlyRefused(); }
    bool isTrafficTapped() const;

signals:
    void monitorAdmitted(const QByteArray &name, const QString &peerAddress);
    void monitorClosed(const QByteArray &name, const QString &peerAddress);

private:
    friend class MonitorConnection;
    // Called by MonitorConnection.
    const BrokerConfig &config() const;
    void authenticate(MonitorConnection *connection, const QByteArray &token, quint32 messageId);
    void subscribe(MonitorConnection *connection, const MonitorSubscribe &request);
    void refuseSnapshot(MonitorConnection *connection, quint32 messageId);
    MemoryBudget &monitorBudget();
    // Past the monitor budget: the largest queue is disconnected from the event loop.
    void monitorBudgetExceeded();
    void shedOverBudget();
    void noteQueueOverflow() { ++m_queueOverflows; }
    void control(MonitorConnection *connection, const MonitorControl &request, quint32 messageId);
    // InfoRequest: the broker's version, pid and listeners, answered with the request's messageId.
    void sendInfo(MonitorConnection *connection, quint32 messageId);
    // A service's recent output (PROTOCOL §6.5), answered within one frame.
    void serviceOutput(MonitorConnection *connection, const MonitorServiceOutputRequest &request, quint32 messageId);
    // A client's subscription filters (PROTOCOL §6.8).
    void subscriptions(MonitorConnection *connection, const MonitorSubscriptionsRequest &request, quint32 messageId);

    void adopt(QIODevice *device, MonitorConnection::Peer peer, const std::optional<Frame> &hello,
               const QByteArray &unread);
    void acceptFromListener(QIODevice *device, const QString &peerAddress, bool isUnix, std::optional<uid_t> peerUid);
    void admissionDecided(MonitorConnection *connection, bool admitted, const QString &how, MonitorRole role, quint32 messageId);
    void admissionTimedOut(MonitorConnection *connection);
    void connectionFinished(MonitorConnection *connection);

    void broadcast(FrameType type, QByteArrayView source, QByteArrayView payload);
    void broadcastClient(const Session &session);
    // pid -1: the connection's process if the kernel named it already.
    void broadcastWatchdogEvent(quint64 sessionId, const QByteArray &name, MonitorWatchdogEventKind kind,
                                const QString &detail, qint64 pid = -1);
    void totalsTick();
    // The Topics record to the monitors that asked for bus records, when a topic changed.
    void sendTopics();
    // The held records each subscriber is owed (heldChanged), for those with room in their queue.
    void sendHeldChanges();
    void updateTap();

    // ClientWatchdog's signals.
    void onWatchdogRegistered(quint64 sessionId, const QByteArray &name, WatchdogAction action);
    void onWatchStateChanged(quint64 sessionId, const QByteArray &name, WatchState from, WatchState to);
    void onWatchdogAction(quint64 sessionId, const QByteArray &name, WatchdogAction action, const QString &detail);
    void onSignalOutcome(const QByteArray &name, qint64 pid, ProcessSignaller::Outcome outcome, const QString &detail);

    const BrokerConfig &m_config;
    const MonitorClientView &m_clients;
    const ClientWatchdog &m_watchdog;
    BudgetLedger &m_budgets;
    const MonitorSettings &m_settings;
    const MonitorServiceView &m_services; // serviceOutput()
    MonitorAdmission m_admission;
    MonitorRecords m_records;
    MonitorControlHandler m_control;
    MonitorTrafficTap m_tap; // its sinks: the subscribers that want traffic
    MonitorListener *m_listener = nullptr;
    QList<MonitorConnection *> m_connections;  // every monitor connection, any state
    QList<MonitorConnection *> m_subscribers;  // admitted and subscribed
    QTimer m_totalsTimer;
    std::chrono::steady_clock::time_point m_lastClientRefresh{};
    quint64 m_queueOverflows = 0;
    quint64 m_budgetSheds = 0;
    quint64 m_snapshotsRefused = 0;
    quint64 m_topicsGeneration = 0; // what the last Topics record showed
    bool m_topicsOwed = false;      // a monitor subscribed (or skipped one) since
    bool m_shedQueued = false;
    LogThrottle m_subscribeLog; // a monitor re-subscribing in a loop cannot flood the log
    quint64 m_expiries = 0;
    quint64 m_signalsSent = 0;
    LogThrottle m_policyDenialEvents{MaxPolicyDenialsPerSecond};
    // A pending signal's client, by name: ProcessSignaller's outcome names the client, not its
    // connection. Bounded by the signaller's own bound on pending operations.
    QHash<QByteArray, quint64> m_signalledSessions;
    // Names whose held record each subscriber has yet to be sent; at most one record per name per
    // totals tick whatever the burst of holds. Bounded by the names held delivery holds for.
    QHash<MonitorConnection *, QSet<QByteArray>> m_heldPending;
    bool m_closed = false;
};

} // namespace Kennel
