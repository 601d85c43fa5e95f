// The broker: listeners accept connections, each becomes a Session on the shared EventPoller,
// Sessions hand frames to the protocol handlers, and the Router moves messages between them.
// This class wires those together and owns the connections' lifetimes, the register deadline and
// the graceful stop; the watchdog (ClientWatchdog) and the supervised services (Supervisor) hang
// off it: services start once the listeners are up and stop, in reverse order, before the clients
// are let go. The monitor stream (MonitorHub) watches all of it for privileged monitors.
#pragma once

#include "brokercontext.h"
#include "brokerconfig.h"
#include "budgetshedder.h"
#include "clientwatchdog.h"
#include "eventpoller.h"
#include "helddelivery.h"
#include "legacyhandler.h"
#include "monitorhub.h"
#include "nameregistry.h"
#include "nativehandler.h"
#include "router.h"
#include "session.h"
#include "supervisor.h"

#include <QList>
#include <QObject>
#include <QProcessEnvironment>
#include <QTimer>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <queue>
#include <unordered_map>
#include <vector>

namespace Kennel {

class TcpListener;
class UnixListener;

class Broker : public QObject, private SessionOwner
{
    Q_OBJECT
public:
    explicit Broker(const BrokerConfig &config, QObject *parent = nullptr);
    ~Broker() override;

    // Opens every listener of the config; on failure closes those already open.
    bool start(QString *error);
    // The addresses actually bound (port 0 resolved to the port the kernel chose).
    QList<ListenAddress> boundAddresses() const;

    // Graceful stop: no new connections, no more watchdog actions, supervised services stopped in
    // reverse order, then Bye to native clients, flush within the configured deadline, then
    // finished().
    void shutdown();
    bool isShuttingDown() const { return m_ctx.shuttingDown; }

    const BrokerConfig &config() const { return m_config; }
    size_t connectionCount() const { return m_sessions.size(); }
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
    MonitorHub &monitors() { return m_monitors; }
    // The monitor-only listeners' addresses (not offered to services or clients).
    QList<ListenAddress> monitorAddresses() const { return m_monitors.boundAddresses(); }
    // Every connection, registered or not. `fn` must not close any of them.
    template<typename Fn>
    void forEachSession(Fn &&fn) const
    {
        for (const auto &entry : m_sessions)
            fn(*entry.second);
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
    static QByteArray doorRefusal(ErrorCode code, const QString &text);

signals:
    void finished();

private:
    void refuseAtDoor(int fd, const QString &reason);
    void sessionClosed(Session *session) override;
    void incompleteFrameStarted(Session *session) override;
    void budgetExceeded() override;
    void shedOverBudget();
    void armRegisterTimer();
    void expireRegistrations();
    void armIncompleteTimer();
    void expireIncompleteFrames();
    void sweepIdle();
    void trimMemory();
    void closeRemaining();
    void stopSessions();
    void closeClientListeners();

    BrokerConfig m_config;
    BrokerContext m_ctx;
    EventPoller m_poller;
    NameRegistry m_registry;
    Router m_router;
    NativeHandler m_native;
    LegacyHandler m_legacy;
    ClientWatchdog m_watchdog;
    Supervisor m_supervisor;
    HeldDelivery m_held;   // messages to names expected back (holding/)
    MonitorHub m_monitors; // after everything it watches: destroyed first

    QList<TcpListener *> m_tcpListeners;
    QList<UnixListener *> m_unixListeners;
    std::unordered_map<quint64, std::unique_ptr<Session>> m_sessions;
    std::vector<std::unique_ptr<Session>> m_closed;
    quint64 m_nextSessionId = 1;

    using Clock = std::chrono::steady_clock;
    // Connections in accept order; the deadline is the same span for all, so the front is always
    // the next to expire and one timer serves them all.
    std::deque<std::pair<Clock::time_point, quint64>> m_registerQueue;
    QTimer m_registerTimer;
    // Incomplete frames: at most one entry per connection, earliest deadline on top. Not a FIFO
    // like the register deadline: an entry whose frame completed while a later one is pending is
    // put back with that frame's own deadline, which may come before ones already queued.
    using Deadline = std::pair<Clock::time_point, quint64>;
    std::priority_queue<Deadline, std::vector<Deadline>, std::greater<Deadline>> m_incompleteQueue;
    QTimer m_incompleteTimer;
    // Idle sweep: every idle_timeout / 5 over the sessions; the time of the previous sweep bounds
    // when input seen since then may have arrived.
    QTimer m_idleTimer;
    Clock::time_point m_lastSweep;
    QTimer m_trimTimer;
    QTimer m_shutdownTimer;
    LogThrottle m_doorLog;
    BudgetShedder m_shedder{m_ctx.budgets};
    bool m_shedQueued = false;
    bool m_releasingSessions = false; // shutdown's last phase: the services are down, clients go
};

} // namespace Kennel
