// The broker's side of the monitor stream (PROTOCOL §6, docs/MONITOR.md): one per broker. It
// admits monitors (handed over by a client listener, or from the monitor-only listeners) through
// MonitorAuthenticator, sends each subscribed monitor a snapshot and then the events it hears from
// the broker (registrations, connections closing, the watchdog, the supervisor, periodic totals),
// taps the router for traffic records, and carries out operators' control actions.
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
#include "monitorcodec.h"
#include "monitorconnection.h"
#include "router.h"
#include "service.h"

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QObject>
#include <QString>
#include <QTimer>

#include <chrono>
#include <memory>
#include <optional>
#include <sys/types.h>
#include <vector>

class QIODevice;

namespace Kennel {

class MemoryBudget;
class MonitorActions;
class MonitorAuthenticator;
class MonitorClientView;
class MonitorListener;
class MonitorServiceView;
class Session;
struct BudgetLedger;
struct FrameView;

class MonitorHub : public QObject, private TrafficTap
{
    Q_OBJECT
public:
    // Who a test message from a monitor comes from. Legacy receivers get it from the shorter name:
    // the old frame's name fields hold 9 characters (PROTOCOL §7.5).
    static constexpr const char *TestMessageSender = "kennel-monitor";
    static constexpr const char *LegacyTestMessageSender = "kennelmon";
    // Connections that said Hello as a monitor and are not admitted yet (their credentials are
    // being checked, perhaps slowed down): at most this many, or 4 x max_monitors if larger, for
    // TCP peers; as many again for Unix peers, which never wait behind TCP ones. Per address and
    // per prefix [monitor] max_waiting_per_address / max_waiting_per_prefix apply on top (not to
    // an address proven by the right token recently, which may have max(that cap, max_monitors)
    // and is not held to its prefix's).
    static constexpr int MinPendingMonitors = 16;
    // Totals are sent at most this often whatever totals_interval says.
    static constexpr std::chrono::milliseconds MinTotalsInterval{100};
    static constexpr std::chrono::milliseconds ClientRefreshInterval{1000};
    // Control text (SendTestMessage) and targets: the bounds of a message and a name.
    static constexpr int MaxControlTargetBytes = 256;

    // Sees the broker only through these: its connections and totals (read-only), its services,
    // the actions a monitor may ask for, the watchdog's signals and state, and the memory budgets
    // (monitor queues are charged to BudgetLedger::monitorQueues; totals report every budget).
    MonitorHub(const BrokerConfig &config, const MonitorClientView &clients, MonitorServiceView &services,
               MonitorActions &actions, const ClientWatchdog &watchdog, BudgetLedger &budgets, QObject *parent = nullptr);
    ~MonitorHub() override;

    // Reads the credentials (token file). False with *error if they cannot be had: the broker
    // refuses to start rather than run with monitors locked out (or let in) by accident.
    bool loadCredentials(QString *error);
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

    // --- for tests and diagnostics ------------------------------------------------------------
    struct MonitorInfo
    {
        QByteArray name;
        QString peerAddress;
        QString admittedHow;
        bool admitted = false;
        bool subscribed = false;
        bool wantsTraffic = false;
        qint64 queuedBytes = 0;
        quint64 trafficRecordsSent = 0;
        quint64 trafficRecordsDropped = 0;
    };
    QList<MonitorInfo> monitors() const;
    int admittedCount() const;
    // Admission (issue 18): refused at the door by the waiting-room caps; refused because their
    // answer did not come within admission_timeout; the authenticator's own counters.
    struct AdmissionCounters
    {
        quint64 refusedPerAddress = 0;
        quint64 refusedPerPrefix = 0;
        quint64 refusedRoomFull = 0;
        quint64 timedOut = 0;
        quint64 guessesRefused = 0;
        quint64 servicesRefused = 0;
        quint64 failures = 0;
        // The monitor listeners' TLS handshakes refused (per address, per prefix, all full).
        quint64 handshakesRefusedPerAddress = 0;
        quint64 handshakesRefusedPerPrefix = 0;
        quint64 handshakesRefusedFull = 0;
    };
    AdmissionCounters admissionCounters() const;
    // Monitors disconnected because their queue passed its bound (2 x max_queue_bytes) or the
    // monitor budget ran out, and Subscribes refused because the last snapshot was not read.
    quint64 queueOverflows() const { return m_queueOverflows; }
    quint64 budgetSheds() const { return m_budgetSheds; }
    quint64 snapshotsRefused() const { return m_snapshotsRefused; }
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

    void adopt(QIODevice *device, MonitorConnection::Peer peer, const std::optional<Frame> &hello,
               const QByteArray &unread);
    void acceptFromListener(QIODevice *device, const QString &peerAddress, bool isUnix, std::optional<uid_t> peerUid);
    void admissionDecided(MonitorConnection *connection, bool admitted, const QString &how, quint32 messageId);
    void admissionTimedOut(MonitorConnection *connection);
    // Empty if `connection` may wait for admission, else why not (and the counter is bumped).
    QString waitingRoomRefusal(const MonitorConnection &connection);
    void connectionFinished(MonitorConnection *connection);
    int pendingLimit() const;

    void sendSnapshot(MonitorConnection *connection);
    static qint64 knownPid(const Session &session);
    MonitorClient clientRecord(const Session &session) const;
    static quint64 clientSignature(const MonitorClient &record);
    MonitorService serviceRecord(const Service &service) const;
    void broadcast(FrameType type, QByteArrayView source, QByteArrayView payload);
    void broadcastClient(const Session &session);
    // pid -1: the connection's process if the kernel named it already.
    void broadcastWatchdogEvent(quint64 sessionId, const QByteArray &name, MonitorWatchdogEventKind kind,
                                const QString &detail, qint64 pid = -1);
    void totalsTick();
    void refreshClients();
    void updateTap();

    // Watchdog and supervisor signals.
    void onWatchdogRegistered(quint64 sessionId, const QByteArray &name, WatchdogAction action);
    void onWatchStateChanged(quint64 sessionId, const QByteArray &name, WatchState from, WatchState to);
    void onWatchdogAction(quint64 sessionId, const QByteArray &name, WatchdogAction action, const QString &detail);
    void onSignalOutcome(const QByteArray &name, qint64 pid, ProcessSignaller::Outcome outcome, const QString &detail);

    // Control actions; each returns the result to send.
    MonitorControlResult disconnectClient(const QByteArray &target, const QString &who);
    MonitorControlResult sendTestMessage(const QByteArray &target, const QByteArray &text);
    MonitorControlResult serviceAction(MonitorControlAction action, const QByteArray &target);

    // TrafficTap: runs inside the router's message path.
    void record(const Session &sender, QByteArrayView target, QByteArrayView payload, DeliveryStatus status) override;

    const BrokerConfig &m_config;
    const MonitorClientView &m_clients;
    MonitorServiceView &m_services;
    MonitorActions &m_actions;
    const ClientWatchdog &m_watchdog;
    BudgetLedger &m_budgets;
    const MonitorSettings &m_settings;
    MonitorAuthenticator *m_authenticator = nullptr;
    MonitorListener *m_listener = nullptr;
    QList<MonitorConnection *> m_connections;  // every monitor connection, any state
    QList<MonitorConnection *> m_subscribers;  // admitted and subscribed
    std::vector<MonitorConnection *> m_trafficSinks; // subscribers that want traffic: the tap's list
    QTimer m_totalsTimer;
    std::chrono::steady_clock::time_point m_lastClientRefresh{};
    qint64 m_startedMs = 0;
    quint64 m_queueOverflows = 0;
    quint64 m_budgetSheds = 0;
    quint64 m_snapshotsRefused = 0;
    bool m_shedQueued = false;
    LogThrottle m_subscribeLog; // a monitor re-subscribing in a loop cannot flood the log
    quint64 m_expiries = 0;
    quint64 m_signalsSent = 0;
    // A pending signal's client, by name: ProcessSignaller's outcome names the client, not its
    // connection. Bounded by the signaller's own bound on pending operations.
    QHash<QByteArray, quint64> m_signalledSessions;
    bool m_closed = false;
    AdmissionCounters m_admission;
};

} // namespace Kennel
