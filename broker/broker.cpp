#include "broker.h"
#include "logging.h"

#include "boardstate.h"
#include "bridgemanager.h"
#include "deliveryledger.h"
#include "framecodec.h"
#include "socketactivation.h"
#include "socketlistener.h"
#include "tcplistener.h"
#include "unixlistener.h"

#include <QCoreApplication>
#include <QHostAddress>

#include <sys/epoll.h>
#include <unistd.h>

namespace Kennel {

namespace {
constexpr int ListenBacklog = SocketListener::DefaultBacklog;
} // namespace

Broker::Broker(const BrokerConfig &config, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_router(m_config, m_registry)
    , m_reservedNames([this](qint64 pid) {
        const Service *service = m_supervisor.serviceOwning(pid);
        return service ? service->name() : QString();
    })
    , m_access(m_policy, [this](qint64 pid) {
        const Service *service = m_supervisor.serviceOwning(pid);
        return service ? service->name() : QString();
    })
    , m_sendGate(m_access, m_registry)
    , m_handlerCtx{m_config, m_registry, m_router, m_watchdog, this, nullptr, nullptr, &m_reservedNames, &m_access, &m_sendGate}
    , m_native(m_handlerCtx)
    , m_legacy(m_handlerCtx)
    , m_watchdog(
          m_config.watchdog,
          [this](quint64 id) {
              const Session *session = sessionById(id);
              return session && session->isOpen() ? session->fd() : -1;
          },
          [this](quint64 id, const QString &why) { disconnectExpired(id, why); })
    , m_supervisor(m_config.services, m_config.serviceCgroup)
    , m_monitorBackend(*this, m_ctx, m_supervisor)
    , m_held(m_config, m_registry, m_ctx.budgets.heldMessages)
    , m_calls(m_config, m_registry, [this](quint64 id) { return sessionById(id); })
    , m_topics(m_config, m_registry, m_router)
    , m_monitors(m_config, m_monitorBackend, m_monitorBackend, m_monitorBackend, m_watchdog, m_ctx.budgets)
    , m_deadlines({m_config.registerTimeout, m_config.incompleteFrameTimeout, m_config.idleTimeout}, m_connections)
{
    m_ctx.config = &m_config;
    m_ctx.poller = &m_poller;
    m_ctx.registry = &m_registry;
    m_ctx.router = &m_router;
    m_ctx.native = &m_native;
    m_ctx.legacy = &m_legacy;
    m_ctx.owner = this;
    {
        QStringList errors; // the loader has checked the rules already
        m_policy.replace(std::make_shared<const AccessPolicy>(
            AccessPolicy::parse(m_config.policy.rules, m_config.policy.defaultAllow, &errors)));
    }
    m_access.setDenialListener([this](const Endpoint &sender, QByteArrayView target, PolicyPath path, int rule) {
        MonitorPolicyDenial denial;
        if (auto *session = dynamic_cast<const Session *>(&sender))
            denial.sessionId = session->id();
        denial.sender = sender.name();
        denial.target = target.toByteArray();
        denial.path = MonitorPolicyPath(quint8(path));
        denial.rule = rule;
        const QList<PolicyRule> &rules = m_policy.current().rules();
        if (rule >= 0 && rule < rules.size()) {
            denial.ruleName = rules[rule].name;
            denial.ruleText = rules[rule].text();
            denial.ruleDenials = m_policy.denials().value(rule);
        } else {
            denial.ruleText = m_policy.current().defaultAllow() ? QStringLiteral("default = allow") : QStringLiteral("default = deny");
            denial.ruleDenials = m_policy.defaultDenials();
        }
        m_monitors.policyDenied(std::move(denial));
    });
    m_reservedNames.replace(std::make_shared<const ReservedNames::Table>(ReservedNames::tableFor(m_config.services)));
    m_ctx.budgets.configure(m_config);
    connect(&m_supervisor, &Supervisor::serviceStateChanged, &m_monitors, &MonitorHub::serviceStateChanged);
    m_router.setHoldSink(&m_held);
    m_handlerCtx.topics = &m_topics;
    m_held.watch(m_supervisor, m_watchdog);
    // Held delivery in the monitor stream (PROTOCOL §6.7): outcomes in traffic, changes per name.
    m_held.setRouter(&m_router);
    connect(&m_held, &HeldDelivery::heldChanged, &m_monitors, &MonitorHub::heldChanged);
    // Calls wait for a callee where held delivery would hold a message for it (PROTOCOL ).
    m_handlerCtx.calls = &m_calls;
    m_calls.setTapSource(&m_router);
    m_calls.setExpectedNames([this](QByteArrayView name) { return m_held.expectCall(name); });
    armSendGate();
    connect(&m_held, &HeldDelivery::onDemandStartFailed, &m_calls, &CallRouter::startFailed);

    // A service's process killed by the watchdog has failed, whatever status it exits with.
    connect(&m_watchdog, &ClientWatchdog::aboutToSignal, this, [this](qint64 pid) {
        if (Service *service = m_supervisor.serviceByPid(pid))
            service->noteWatchdogAction();
    });

    m_shutdownTimer.setSingleShot(true);
    connect(&m_shutdownTimer, &QTimer::timeout, this, &Broker::closeRemaining);
}

void Broker::armSendGate()
{
    SendGate *names = m_sendGate.checksNames() ? &m_sendGate : nullptr;
    m_router.setSendGate(names);
    m_calls.setSendGate(names);
    m_topics.setSendGate(m_sendGate.checksTopics() ? &m_sendGate : nullptr);
}

Broker::~Broker()
{
    m_boardState.reset();
    if (m_bridge) {
        m_router.setHoldSink(&m_held);
        m_bridge.reset();
    }
    // Sessions reach into the registry and the poller while they close: drop them first, quietly.
    m_ctx.owner = nullptr;
    m_handlerCtx.events = nullptr;
    m_connections.clear();
}

bool Broker::start(QString *error)
{
    if (!m_poller.isValid()) {
        *error = QStringLiteral("cannot create the epoll instance");
        return false;
    }
    // Before any listener: a broker whose monitor credentials cannot be read does not start.
    if (!m_monitors.loadCredentials(error))
        return false;
    const QByteArray outOfDescriptors =
        doorRefusal(ErrorCode::TooManyClients, QStringLiteral("the broker is out of file descriptors"));
    for (const ListenAddress &address : m_config.effectiveListen()) {
        const int passed = m_activation ? m_activation->take(address) : -1;
        if (address.kind == ListenAddress::Kind::Unix) {
            auto *listener = new UnixListener(this);
            listener->setListenBacklogSize(ListenBacklog);
            listener->setOutOfDescriptorsReply(outOfDescriptors);
            if (passed >= 0) {
                listener->adoptPassed(passed, address.path);
            } else if (!listener->listenAt(address.path, error)) {
                delete listener;
                closeClientListeners();
                return false;
            }
            connect(listener, &UnixListener::accepted, this, [this](int fd) { adoptConnection(fd, Session::Transport::Unix); });
            m_unixListeners.append(listener);
        } else {
            auto *listener = new TcpListener(this);
            listener->setListenBacklogSize(ListenBacklog);
            listener->setOutOfDescriptorsReply(outOfDescriptors);
            QHostAddress host;
            if (address.host == QLatin1String("localhost"))
                host = QHostAddress::LocalHost;
            else if (address.host == QLatin1String("*"))
                host = QHostAddress::Any;
            else
                host = QHostAddress(address.host);
            if (passed >= 0 ? !listener->adoptPassed(passed) : !listener->listen(host, address.port)) {
                if (passed >= 0)
                    ::close(passed);
                *error = QStringLiteral("cannot listen on %1: %2").arg(address.toString(), listener->errorString());
                delete listener;
                closeClientListeners();
                return false;
            }
            connect(listener, &TcpListener::accepted, this, [this](int fd) { adoptConnection(fd, Session::Transport::Tcp); });
            m_tcpListeners.append(listener);
        }
    }
    if (m_activation)
        m_activation->closeUnclaimed();
    if (!m_monitors.startListening(error)) {
        closeClientListeners();
        return false;
    }
    for (const ListenAddress &address : boundAddresses())
        qCInfo(lcBroker).noquote() << "listening on" << address.toString();
    qCInfo(lcBroker,
           "memory budgets: incomplete frames %lld bytes, client queues %lld bytes, monitor queues %lld bytes, "
           "unacknowledged deliveries %lld bytes",
           qlonglong(m_ctx.budgets.incompleteFrames.limit()), qlonglong(m_ctx.budgets.clientQueues.limit()),
           qlonglong(m_ctx.budgets.monitorQueues.limit()), qlonglong(m_ctx.budgets.unackedDeliveries.limit()));
    if (m_config.bridge.enabled() && !reconfigureBridge(m_config.bridge, error)) {
        closeClientListeners();
        m_monitors.closeListeners();
        return false;
    }
    if (!m_supervisor.services().isEmpty()) {
        m_supervisor.setBrokerEnvironment(serviceEnvironment());
        m_supervisor.startAll();
    }
    return true;
}

bool Broker::reconfigureBridge(const BridgeSettings &settings, QString *error)
{
    if (!m_bridge) {
        if (!settings.enabled())
            return true; // never configured: nothing of the bridge runs
        m_bridge = std::make_unique<BridgeManager>(m_router, m_registry, &m_held);
        m_boardState = std::make_unique<BoardState>(*this, *m_bridge);
        m_bridge->setSummaryProvider([this] { return m_boardState->summary(); });
        m_bridge->setTopicBus(m_topics, m_config.maxFrameSize);
        m_router.setHoldSink(m_bridge.get());
    }
    if (!m_bridge->reconfigure(settings, error))
        return false;
    m_config.bridge = settings;
    return true;
}

void Broker::closeClientListeners()
{
    qDeleteAll(m_tcpListeners);
    qDeleteAll(m_unixListeners); // also removes the socket files
    m_tcpListeners.clear();
    m_unixListeners.clear();
}

QProcessEnvironment Broker::serviceEnvironment() const
{
    QStringList addresses;
    QString preferred;
    for (ListenAddress address : boundAddresses()) {
        // A wildcard is where the broker listens, not an address to connect to.
        if (address.kind == ListenAddress::Kind::Tcp) {
            if (address.host == QLatin1String("0.0.0.0"))
                address.host = QStringLiteral("127.0.0.1");
            else if (address.host == QLatin1String("::"))
                address.host = QStringLiteral("::1");
        }
        addresses.append(address.toString());
        // The Unix socket first: peer credentials name a client's process exactly and cheaply.
        if (preferred.isEmpty() || (address.kind == ListenAddress::Kind::Unix && !preferred.startsWith(QLatin1String("unix:"))))
            preferred = address.toString();
    }
    QProcessEnvironment env;
    env.insert(QStringLiteral("KENNEL_BROKER"), preferred);
    env.insert(QStringLiteral("KENNEL_BROKER_ADDRESSES"), addresses.join(QLatin1Char(',')));
    env.insert(QStringLiteral("KENNEL_BROKER_PID"), QString::number(QCoreApplication::applicationPid()));
    return env;
}

QList<ListenAddress> Broker::boundAddresses() const
{
    QList<ListenAddress> bound;
    for (const TcpListener *listener : m_tcpListeners) {
        ListenAddress a;
        a.kind = ListenAddress::Kind::Tcp;
        a.host = listener->serverAddress().toString();
        a.port = listener->serverPort();
        bound.append(a);
    }
    for (const UnixListener *listener : m_unixListeners) {
        ListenAddress a;
        a.kind = ListenAddress::Kind::Unix;
        a.path = listener->fullServerName();
        bound.append(a);
    }
    return bound;
}

Session *Broker::sessionById(quint64 id) const
{
    return m_connections.find(id);
}

Session *Broker::sessionByName(QByteArrayView name) const
{
    const NameEntry *entry = m_registry.find(name);
    // Every receiver in the table is a connection today.
    return entry ? dynamic_cast<Session *>(entry->receiver) : nullptr;
}

void Broker::clientRegistered(Session &session)
{
    m_monitors.clientRegistered(session);
    // What was held for the name, before anything newer can reach it (PROTOCOL ): in the
    // new holder's protocol, right after its Welcome or its registration.
    m_held.registered(session);
    // Calls that waited for the name, after its held messages.
    m_calls.registered(session);
    // A supervised service that registers its name is ready: services that depend on it may start.
    m_supervisor.clientRegistered(session.name());
}

bool Broker::monitorHello(Session &session, const FrameView &hello)
{
    m_monitors.adoptSession(session, hello);
    return true;
}

void Broker::disconnectExpired(quint64 id, const QString &why)
{
    Session *expired = sessionById(id);
    if (!expired || !expired->isOpen())
        return;
    Session &session = *expired;
    // A legacy client is its receive connection and its main connections together: close them
    // all. Taken before the first close, which may release the name.
    const std::vector<Endpoint *> holders = session.protocol() == Session::Protocol::Legacy
        ? m_registry.holdersWith(&session)
        : std::vector<Endpoint *>{&session};
    for (Endpoint *holder : holders)
        holder->end(Endpoint::EndReason::WatchdogExpired, why);
}

Session *Broker::adoptConnection(int fd, Session::Transport transport)
{
    Session *session = m_connections.adopt(fd, transport);
    if (session)
        m_deadlines.adopted(session->id(), *session);
    return session;
}

void Broker::incompleteFrameStarted(Session *session)
{
    m_deadlines.incompleteFrameStarted(session->id(), *session);
}

void Broker::budgetExceeded()
{
    // Asked from inside a read or a delivery: the sessions to close may be on the stack.
    if (m_shedQueued)
        return;
    m_shedQueued = true;
    m_poller.afterBatch([this] { shedOverBudget(); });
}

void Broker::shedOverBudget()
{
    m_shedQueued = false;
    const std::vector<Session *> open = m_connections.snapshot();
    m_shedder.shed(std::vector<Sheddable *>(open.begin(), open.end()));
}

void Broker::sessionClosed(Session *session)
{
    if (!m_connections.find(session->id()))
        return;
    m_watchdog.forget(session->id());
    m_held.connectionClosed(*session);
    m_calls.connectionClosed(*session);
    m_topics.endpointGone(*session);
    if (session->kind() != Session::Kind::Pending)
        m_monitors.clientGone(*session);
    m_connections.release(*session);
    if (m_releasingSessions && m_connections.isEmpty()) {
        m_shutdownTimer.stop();
        QMetaObject::invokeMethod(this, &Broker::finished, Qt::QueuedConnection);
    }
}

void Broker::shutdown()
{
    if (m_ctx.shuttingDown)
        return;
    m_ctx.shuttingDown = true;
    m_watchdog.stop();
    for (TcpListener *listener : std::as_const(m_tcpListeners))
        listener->close();
    for (UnixListener *listener : std::as_const(m_unixListeners))
        listener->close(); // also removes the socket file
    m_monitors.closeListeners();
    m_deadlines.stop();
    // Services first, while their clients can still talk: they may say goodbye to each other.
    // Each is bounded by its own stop timeout (then SIGKILL), so this phase ends by itself.
    bool anyRunning = false;
    for (const Service *service : m_supervisor.services())
        anyRunning = anyRunning || service->status().pid > 0;
    if (anyRunning) {
        qCInfo(lcBroker, "shutting down: stopping %lld supervised services", qlonglong(m_supervisor.services().size()));
        connect(&m_supervisor, &Supervisor::allStopped, this, &Broker::stopSessions, Qt::SingleShotConnection);
        m_supervisor.stopAll();
        return;
    }
    m_supervisor.stopAll(); // services waiting to restart must not start now
    stopSessions();
}

void Broker::stopSessions()
{
    if (m_releasingSessions)
        return;
    m_releasingSessions = true;
    m_router.setShuttingDown(true);
    m_held.shutdown();
    m_calls.shutdown();
    if (m_bridge)
        m_bridge->stop(); // says offline, closes the spool: what it holds is sent after the restart
    // Monitors have watched the services stop; they go with the clients.
    m_monitors.closeAll(QStringLiteral("broker shutting down"));
    qCInfo(lcBroker, "shutting down: %zu connections, flushing for up to %lld ms", m_connections.size(),
           qlonglong(m_config.shutdownFlushTimeout.count()));
    if (m_connections.isEmpty()) {
        QMetaObject::invokeMethod(this, &Broker::finished, Qt::QueuedConnection);
        return;
    }
    m_ackWait.start();
    awaitAcknowledgements();
}

void Broker::awaitAcknowledgements()
{
    // Receivers that acknowledge (PROTOCOL §5.7) get a moment to acknowledge what they were
    // handed, so that its senders hear `delivered` before Bye instead of nothing. New Sends are
    // answered `shutting_down` meanwhile. Bounded: a receiver that does not answer is
    // not waited for.
    if (m_connections.isEmpty())
        return; // sessionClosed() has said finished
    const auto wait = std::min(m_config.shutdownFlushTimeout / 2, std::chrono::milliseconds(1000));
    bool unacknowledged = false;
    for (const Session *session : m_connections.snapshot())
        unacknowledged = unacknowledged || (session->unacked && session->unacked->count() > 0);
    if (unacknowledged && m_ackWait.elapsed() < wait.count()) {
        QTimer::singleShot(std::chrono::milliseconds(10), this, &Broker::awaitAcknowledgements);
        return;
    }
    sayByeAndFlush();
}

void Broker::sayByeAndFlush()
{
    const std::vector<Session *> open = m_connections.snapshot();
    const QByteArray reason("broker shutting down");
    const QByteArray error = encodeError({ErrorCode::ShuttingDown, QString::fromLatin1(reason)});
    for (Session *session : open) {
        // What a peer sent before it could know is read, not dropped: a Send asking for its status
        // hears `shutting_down` (PROTOCOL ). Then Error and Bye; the session
        // stops reading once it closes after the flush, so the Error can say which Send was the
        // last one read: the client sends the later ones again to the next broker.
        session->pollEvent(EPOLLIN);
        if (session->protocol() == Session::Protocol::Native) {
            const quint32 mark = (session->features() & FeatureShutdownMark) ? session->lastSendRead() : 0;
            session->sendFrame(FrameType::Error, mark, {}, {}, error);
            session->sendFrame(FrameType::Bye, 0, {}, {}, reason);
        }
        session->closeAfterFlush(Session::CloseReason::Shutdown);
    }
    m_shutdownTimer.start(m_config.shutdownFlushTimeout);
}

Broker::ReloadOutcome Broker::reload(const QString &who)
{
    ReloadOutcome outcome;
    if (m_ctx.shuttingDown || !m_configSource) {
        outcome.summary = m_ctx.shuttingDown ? QStringLiteral("not reloading: the broker is shutting down")
                                             : QStringLiteral("not reloading: no configuration source");
        qCWarning(lcBroker).noquote() << QStringLiteral("reload (%1):").arg(who) << outcome.summary;
        return outcome;
    }
    Q_EMIT reloading();
    qCInfo(lcBroker).noquote() << QStringLiteral("reload (%1): reading the configuration again").arg(who);
    const ConfigLoader::Result loaded = m_configSource();
    if (!loaded.ok()) {
        outcome.errors = loaded.errors;
        outcome.summary = QStringLiteral("configuration rejected (%1 error%2); the running configuration is kept")
                              .arg(loaded.errors.size()).arg(loaded.errors.size() == 1 ? QString() : QStringLiteral("s"));
        qCWarning(lcBroker).noquote() << "reload:" << outcome.summary;
        for (const QString &error : loaded.errors)
            qCWarning(lcBroker).noquote() << "reload: rejected:" << error;
        Q_EMIT reloaded(false);
        return outcome;
    }
    const BrokerConfig &next = loaded.config;
    ConfigDiff diff = ConfigReloader::diff(m_config, next);

    if (diff.watchdogChanged)
        m_watchdog.setSettings(next.watchdog);
    bool credentialsKept = false;
    // A token rotated by rewriting its file keeps the file's path, so the configuration looks the
    // same: the files themselves are asked.
    if (!diff.monitorCredentialsChanged && m_monitors.tokenFilesChanged(next.monitor)) {
        diff.monitorCredentialsChanged = true;
        diff.applied.append(QStringLiteral("[monitor] token files: new content, for monitors admitted from now on "
                                           "(admitted ones stay, with their role)"));
    }
    if (diff.monitorCredentialsChanged) {
        QString error;
        if (!m_monitors.replaceCredentials(next.monitor, &error)) {
            credentialsKept = true;
            diff.applied.removeIf([](const QString &line) { return line.startsWith(QLatin1String("[monitor] token")); });
            diff.needsRestart.append(QStringLiteral("[monitor] credentials not applied: ") + error);
        }
    }
    // The parts the handlers, the router and held delivery read from m_config each time take
    // effect by being assigned; what needs a restart stays as it runs.
    BrokerConfig merged = ConfigReloader::merged(m_config, next);
    if (credentialsKept) {
        merged.monitor.token = m_config.monitor.token;
        merged.monitor.tokenFile = m_config.monitor.tokenFile;
        merged.monitor.allowLocalPeers = m_config.monitor.allowLocalPeers;
        merged.monitor.readOnlyToken = m_config.monitor.readOnlyToken; // roles
        merged.monitor.readOnlyTokenFile = m_config.monitor.readOnlyTokenFile;
        merged.monitor.operatorUids = m_config.monitor.operatorUids;
        merged.monitor.readOnlyUids = m_config.monitor.readOnlyUids;
    }
    if (!diff.servicesAdded.isEmpty() || !diff.servicesRemoved.isEmpty() || !diff.servicesChanged.isEmpty()
        || !diff.serviceOutputChanged.isEmpty()) {
        m_supervisor.setBrokerEnvironment(serviceEnvironment());
        m_supervisor.reconfigure(next.services);
    }
    // [policy] and the names reserved for services are immutable tables, swapped whole; a
    // connection already registered keeps its name (the policy decides at registration), and
    // its next message on each route is judged by the new send rules (the verdicts are stale).
    if (m_config.policy.rules != next.policy.rules || m_config.policy.defaultAllow != next.policy.defaultAllow) {
        QStringList errors; // the loader has checked the rules already
        m_policy.replace(std::make_shared<const AccessPolicy>(AccessPolicy::parse(next.policy.rules, next.policy.defaultAllow, &errors)));
        armSendGate(); // the generation moved: every cached send verdict is stale
        merged.policy = next.policy;
        diff.applied.append(QStringLiteral("[policy]: %1 rule%2, default %3, for new registrations and from the next message (the per-rule counters start again)")
                                .arg(next.policy.rules.size()).arg(next.policy.rules.size() == 1 ? QString() : QStringLiteral("s"))
                                .arg(next.policy.defaultAllow ? QStringLiteral("allow") : QStringLiteral("deny")));
    }
    if (!diff.servicesAdded.isEmpty() || !diff.servicesRemoved.isEmpty() || !diff.servicesChanged.isEmpty())
        m_reservedNames.replace(std::make_shared<const ReservedNames::Table>(ReservedNames::tableFor(next.services)));
    // [bridge]: started, reconnected with the new settings, or stopped, without a restart.
    if (!(m_config.bridge == next.bridge)) {
        QString error;
        if (reconfigureBridge(next.bridge, &error)) {
            merged.bridge = next.bridge;
            diff.applied.append(next.bridge.enabled() ? QStringLiteral("[bridge]: %1 as board %2").arg(next.bridge.url, QString::fromUtf8(next.bridge.board))
                                                      : QStringLiteral("[bridge]: stopped"));
        } else {
            diff.needsRestart.append(QStringLiteral("[bridge] not applied: ") + error);
        }
    }
    for (const ReloadApplier &applier : m_reloadAppliers)
        applier(m_config, next, diff);
    m_config = merged;

    for (const QString &line : std::as_const(diff.applied))
        qCInfo(lcBroker).noquote() << "reload: applied:" << line;
    for (const QString &line : std::as_const(diff.needsRestart))
        qCWarning(lcBroker).noquote() << "reload: not applied:" << line;
    // Whatever changed, an operator's reload also says "try the failed ones again".
    m_supervisor.retryFailed();
    outcome.ok = true;
    outcome.summary = diff.isEmpty() ? QStringLiteral("configuration reloaded: no changes")
                                     : QStringLiteral("configuration reloaded: %1 change%2 applied, %3 need%4 a restart")
                                           .arg(diff.applied.size()).arg(diff.applied.size() == 1 ? QString() : QStringLiteral("s"))
                                           .arg(diff.needsRestart.size()).arg(diff.needsRestart.size() == 1 ? QStringLiteral("s") : QString());
    outcome.diff = diff;
    qCInfo(lcBroker).noquote() << "reload:" << outcome.summary;
    Q_EMIT reloaded(true);
    return outcome;
}

void Broker::closeRemaining()
{
    for (Session *session : m_connections.snapshot())
        session->close(Session::CloseReason::Shutdown,
                       QStringLiteral("%1 bytes of output not flushed in time").arg(session->pendingOutput()));
}

} // namespace Kennel
