#include "broker.h"
#include "logging.h"

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
    , m_handlerCtx{m_config, m_registry, m_router, m_watchdog, this, &m_reservedNames, &m_access}
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
    m_reservedNames.replace(std::make_shared<const ReservedNames::Table>(ReservedNames::tableFor(m_config.services)));
    m_ctx.budgets.configure(m_config);
    connect(&m_supervisor, &Supervisor::serviceStateChanged, &m_monitors, &MonitorHub::serviceStateChanged);
    m_router.setHoldSink(&m_held);
    m_held.watch(m_supervisor, m_watchdog);

    // A service's process killed by the watchdog has failed, whatever status it exits with.
    connect(&m_watchdog, &ClientWatchdog::aboutToSignal, this, [this](qint64 pid) {
        if (Service *service = m_supervisor.serviceByPid(pid))
            service->noteWatchdogAction();
    });

    m_shutdownTimer.setSingleShot(true);
    connect(&m_shutdownTimer, &QTimer::timeout, this, &Broker::closeRemaining);
}

Broker::~Broker()
{
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
    qCInfo(lcBroker, "memory budgets: incomplete frames %lld bytes, client queues %lld bytes, monitor queues %lld bytes",
           qlonglong(m_ctx.budgets.incompleteFrames.limit()), qlonglong(m_ctx.budgets.clientQueues.limit()),
           qlonglong(m_ctx.budgets.monitorQueues.limit()));
    if (!m_supervisor.services().isEmpty()) {
        m_supervisor.setBrokerEnvironment(serviceEnvironment());
        m_supervisor.startAll();
    }
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
    // Monitors have watched the services stop; they go with the clients.
    m_monitors.closeAll(QStringLiteral("broker shutting down"));
    qCInfo(lcBroker, "shutting down: %zu connections, flushing for up to %lld ms", m_connections.size(),
           qlonglong(m_config.shutdownFlushTimeout.count()));
    if (m_connections.isEmpty()) {
        QMetaObject::invokeMethod(this, &Broker::finished, Qt::QueuedConnection);
        return;
    }
    const std::vector<Session *> open = m_connections.snapshot();
    const QByteArray reason("broker shutting down");
    const QByteArray error = encodeError({ErrorCode::ShuttingDown, QString::fromLatin1(reason)});
    for (Session *session : open) {
        // What a peer sent before it could know is read, not dropped: a Send asking for its status
        // hears `shutting_down` (PROTOCOL ). Then Error and Bye; the session
        // stops reading once it closes after the flush.
        session->pollEvent(EPOLLIN);
        if (session->protocol() == Session::Protocol::Native) {
            session->sendFrame(FrameType::Error, 0, {}, {}, error);
            session->sendFrame(FrameType::Bye, 0, {}, {}, reason);
        }
        session->closeAfterFlush(Session::CloseReason::Shutdown);
    }
    m_shutdownTimer.start(m_config.shutdownFlushTimeout);
}

void Broker::closeRemaining()
{
    for (Session *session : m_connections.snapshot())
        session->close(Session::CloseReason::Shutdown,
                       QStringLiteral("%1 bytes of output not flushed in time").arg(session->pendingOutput()));
}

} // namespace Kennel
