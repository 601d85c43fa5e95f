// The broker: listeners accept connections, each becomes a Session on the shared EventPoller,
// Sessions hand frames to the protocol handlers, and the Router moves messages between them.
// This class is the composition root: it wires those together with the connection table
// (ConnectionTable) and the deadlines on connections (ConnectionDeadlines), and runs the graceful
// stop; the watchdog (ClientWatchdog) and the supervised services (Supervisor) hang off it:
// services start once the listeners are up and stop, in reverse order, before the clients are let
// go. The monitor stream (MonitorHub) watches all of it for privileged monitors.
#pragma once

#include "brokercontext.h"
#include "brokerconfig.h"
#include "budgetshedder.h"
#include "clientwatchdog.h"
#include "configloader.h"
#include "configreloader.h"
#include "connectiondeadlines.h"
#include "connectionevents.h"
#include "connectiontable.h"
#include "eventpoller.h"
#include "handlercontext.h"
#include "helddelivery.h"
#include "callrouter.h"
#include "legacyhandler.h"
#include "monitorbackend.h"
#include "monitorhub.h"
#include "nameregistry.h"
#include "nativehandler.h"
#include "accessgate.h"
#include "reservednames.h"
#include "sendgate.h"
#include "router.h"
#include "session.h"
#include "supervisor.h"
#include "topicbus.h"

#include <QList>
#include <QObject>
#include <QProcessEnvironment>
#include <QElapsedTimer>
#include <QTimer>

#include <memory>
#include <functional>
#include <utility>
#include <vector>

namespace Kennel {

class BoardState;
class BridgeManager;
struct BridgeSettings;
class SocketActivation;
class TcpListener;
class UnixListener;

class Broker : public QObject, private SessionOwner, private ConnectionEvents
{
    Q_OBJECT
public:
    explicit Broker(const BrokerConfig &config, QObject *parent = nullptr);
    ~Broker() override;

    // Opens every listener of the config; on failure closes those already open.
    bool start(QString *error);
    // Sockets systemd passed (socket activation): start() takes the one at each configured
    // client listener's address instead of opening its own, and closes, with an error in the log,
    // those no listener claims. Not owned; only used inside start().
    void setSocketActivation(SocketActivation *activation) { m_activation = activation; }
    // The addresses actually bound (port 0 resolved to the port the kernel chose).
    QList<ListenAddress> boundAddresses() const;

    // Graceful stop: no new connections, no more watchdog actions, supervised services stopped in
    // reverse order, then Bye to native clients, flush within the configured deadline, then
    // finished().
    void shutdown();
    bool isShuttingDown() const { return m_ctx.shuttingDown; }

    const BrokerConfig &config() const { return m_config; }
    size_t connectionCount() const { return m_connections.size(); }
    const NameRegistry &registry() const { return m_registry; }
    const TrafficCounters &totals() const { return m_router.totals(); }
    // The broker-wide memory budgets, their use and how often each had to shed.
    const BudgetLedger &budgets() const { return m_ctx.budgets; }
    // A live session by registered name, for tests and the monitor; nullptr if none.
    Session *sessionByName(QByteArrayView name) const;
    Session *sessionById(quint64 id) const;
    ClientWatchdog &watchdog() { return m_watchdog; }
    const ClientWatchdog &watchdog() const { return m_watchdog; }
    Supervisor &supervisor() { return m_supervisor; }
    const Supervisor &supervisor() const { return m_supervisor; }
    const HeldDelivery &held() const { return m_held; }
    const CallRouter &calls() const { return m_calls; }
    // The bridge to the fleet's MQTT broker; null unless [bridge] was ever configured.
    BridgeManager *bridge() const { return m_bridge.get(); }
    // A changed [bridge] at run time (the reload's hook): starts, reconnects or stops the bridge.
    bool reconfigureBridge(const BridgeSettings &settings, QString *error);
    const TopicBus &topics() const { return m_topics; }
    const ReservedNames &reservedNames() const { return m_reservedNames; }
    // The access policy; the reload wiring calls policy().replace() with the new config's.
    PolicyEngine &policy() { return m_policy; }
    const PolicyEngine &policy() const { return m_policy; }
    const SendGate &sendGate() const { return m_sendGate; }
    MonitorHub &monitors() { return m_monitors; }
    // The monitor-only listeners' addresses (not offered to services or clients).
    QList<ListenAddress> monitorAddresses() const { return m_monitors.boundAddresses(); }
    // Every connection, registered or not. `fn` must not close any of them.
    template<typename Fn>
    void forEachSession(Fn &&fn) const
    {
        m_connections.forEach(std::forward<Fn>(fn));
    }
    // What a supervised service finds in its environment: KENNEL_BROKER (the address to use, the
    // Unix socket when there is one), KENNEL_BROKER_ADDRESSES (all of them), KENNEL_BROKER_PID.
    QProcessEnvironment serviceEnvironment() const;

    // Takes an accepted, connected descriptor as a new client connection, as the listeners do:
    // the client limit, the register deadline and every other rule apply. Returns the session,
    // or nullptr if the connection was refused (the descriptor is closed either way). Public so
    // that tests and fuzzers can hand the broker a socketpair end without a listener.
    Session *adoptConnection(int fd, Session::Transport transport);

    // What a connection refused at the door is sent before it is closed: an Error frame with
    // `code` and `text` (a native client reads it; an old client just sees the close).
    static QByteArray doorRefusal(ErrorCode code, const QString &text) { return ConnectionTable::doorRefusal(code, text); }

    // --- Reload (SIGHUP, a monitor's ReloadConfig; docs/CONFIG.md "Reload") ---
    // Where reload() reads the configuration again (main.cpp: the same file and flags as at start).
    using ConfigSource = std::function<ConfigLoader::Result()>;
    void setConfigSource(ConfigSource source) { m_configSource = std::move(source); }
    // A subsystem that keeps settings of its own applies its part of an accepted reload here:
    // called after the broker's own parts, in the order added, with the running config (still
    // the old one) and the new one; it appends a line to diff.applied or diff.needsRestart for
    // each change it sees (the broker logs them). Not called for a rejected config.
    using ReloadApplier = std::function<void(const BrokerConfig &running, const BrokerConfig &next, ConfigDiff &diff)>;
    void addReloadApplier(ReloadApplier applier) { m_reloadAppliers.push_back(std::move(applier)); }
    struct ReloadOutcome
    {
        bool ok = false;         // false: rejected (errors) or not possible now; nothing changed
        QString summary;         // one line for the asker
        QStringList errors;      // a rejected config's errors
        ConfigDiff diff;         // what was applied and what needs a restart
    };
    // Reads the config again; one with any error is rejected whole (logged, the running one
    // kept); otherwise applies what can change at run time, logs a line for each change applied
    // and each that needs a restart, and retries failed services. `who`: "SIGHUP", or the monitor.
    ReloadOutcome reload(const QString &who);

signals:
    void finished();
    // Around an accepted or rejected reload (systemd: RELOADING=1, then READY=1).
    void reloading();
    void reloaded(bool ok);

private:
    void sessionClosed(Session *session) override;
    void incompleteFrameStarted(Session *session) override;
    void budgetExceeded() override;
    // ConnectionEvents: the handlers' reports, passed on to whoever needs them.
    void clientRegistered(Session &session) override;
    bool monitorHello(Session &session, const FrameView &hello) override;
    // The watchdog's "disconnect this client": connection `id` and, for a legacy client, every
    // connection holding its name, each refused with WatchdogExpired and closed.
    void disconnectExpired(quint64 id, const QString &why);
    void shedOverBudget();
    void closeRemaining();
    void stopSessions();
    void awaitAcknowledgements();
    void sayByeAndFlush();
    void closeClientListeners();
    // Gives the router, the call router and the topic bus the send gate while the current
    // policy has something for them to check, and takes it away when not (PROTOCOL ).
    void armSendGate();

    BrokerConfig m_config;
    BrokerContext m_ctx;
    EventPoller m_poller;
    NameRegistry m_registry;
    Router m_router;
    ReservedNames m_reservedNames; // [service.NAME] names (policy/): asks m_supervisor, built later
    PolicyEngine m_policy;         // [policy] (policy/); replace() swaps it on reload
    AccessGate m_access;           // asks m_supervisor, built later
    SendGate m_sendGate;           // [policy] send rules; armed in the paths by armSendGate()
    HandlerContext m_handlerCtx;
    NativeHandler m_native;
    LegacyHandler m_legacy;
    ClientWatchdog m_watchdog;
    Supervisor m_supervisor;
    MonitorBackend m_monitorBackend; // what MonitorHub sees of the above
    HeldDelivery m_held;   // messages to names expected back (holding/)
    CallRouter m_calls;    // request/reply calls (calls/)
    TopicBus m_topics;     // publish/subscribe (topics/)
    MonitorHub m_monitors; // after everything it watches: destroyed first
    // [bridge] (bridge/): taken into the router as its HoldSink, passing all but NAME@BOARD on to m_held.
    std::unique_ptr<BridgeManager> m_bridge;
    std::unique_ptr<BoardState> m_boardState;

    ConfigSource m_configSource;
    std::vector<ReloadApplier> m_reloadAppliers;
    SocketActivation *m_activation = nullptr;
    QList<TcpListener *> m_tcpListeners;
    QList<UnixListener *> m_unixListeners;
    ConnectionTable m_connections{m_ctx};
    ConnectionDeadlines m_deadlines;
    QTimer m_shutdownTimer;
    QElapsedTimer m_ackWait; // shutdown: since the clients were told to stop sending
    BudgetShedder m_shedder{m_ctx.budgets};
    bool m_shedQueued = false;
    bool m_releasingSessions = false; // shutdown's last phase: the services are down, clients go
};

} // namespace Kennel
