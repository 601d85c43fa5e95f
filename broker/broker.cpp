#include "broker.h"
#include "logging.h"

#include "framecodec.h"
#include "tcplistener.h"
#include "unixlistener.h"

#include <QCoreApplication>
#include <QHostAddress>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace Kennel {

namespace {
// A board starting all its services at once connects them in one burst; the kernel caps this at
// net.core.somaxconn.
constexpr int ListenBacklog = 4096;

QString tcpPeerAddress(int fd)
{
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getpeername(fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0)
        return QStringLiteral("?");
    QHostAddress host(reinterpret_cast<sockaddr *>(&addr));
    const quint16 port = addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6 *>(&addr)->sin6_port)
                                                    : ntohs(reinterpret_cast<sockaddr_in *>(&addr)->sin_port);
    if (host.protocol() == QAbstractSocket::IPv6Protocol) {
        bool isV4 = false;
        const quint32 v4 = host.toIPv4Address(&isV4);
        if (isV4)
            host = QHostAddress(v4);
        else
            return QStringLiteral("[%1]:%2").arg(host.toString()).arg(port);
    }
    return QStringLiteral("%1:%2").arg(host.toString()).arg(port);
}

QString unixPeerAddress(int fd)
{
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
        return QStringLiteral("pid %1 uid %2").arg(cred.pid).arg(cred.uid);
    return QStringLiteral("?");
}
} // namespace

Broker::Broker(const BrokerConfig &config, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_router(m_config, m_registry)
    , m_native(m_ctx)
    , m_legacy(m_ctx)
    , m_watchdog(m_config.watchdog, [this](quint64 id) { return sessionById(id); })
    , m_supervisor(m_config.services)
    , m_monitors(*this, m_ctx)
{
    m_ctx.config = &m_config;
    m_ctx.poller = &m_poller;
    m_ctx.registry = &m_registry;
    m_ctx.router = &m_router;
    m_ctx.native = &m_native;
    m_ctx.legacy = &m_legacy;
    m_ctx.owner = this;
    m_ctx.watchdog = &m_watchdog;
    m_ctx.monitors = &m_monitors;

    // A service's process killed by the watchdog has failed, whatever status it exits with.
    connect(&m_watchdog, &ClientWatchdog::aboutToSignal, this, [this](qint64 pid) {
        if (Service *service = m_supervisor.serviceByPid(pid))
            service->noteWatchdogAction();
    });

    m_registerTimer.setSingleShot(true);
    m_registerTimer.setTimerType(Qt::CoarseTimer);
    connect(&m_registerTimer, &QTimer::timeout, this, &Broker::expireRegistrations);
    m_shutdownTimer.setSingleShot(true);
    connect(&m_shutdownTimer, &QTimer::timeout, this, &Broker::closeRemaining);
}

Broker::~Broker()
{
    // Sessions reach into the registry and the poller while they close: drop them first, quietly.
    m_ctx.owner = nullptr;
    m_ctx.monitors = nullptr;
    m_closed.clear();
    m_sessions.clear();
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
    for (const ListenAddress &address : m_config.effectiveListen()) {
        if (address.kind == ListenAddress::Kind::Unix) {
            auto *listener = new UnixListener(this);
            listener->setListenBacklogSize(ListenBacklog);
            if (!listener->listenAt(address.path, error)) {
                delete listener;
                closeClientListeners();
                return false;
            }
            connect(listener, &UnixListener::accepted, this, [this](int fd) { adoptConnection(fd, Session::Transport::Unix); });
            m_unixListeners.append(listener);
        } else {
            auto *listener = new TcpListener(this);
            listener->setListenBacklogSize(ListenBacklog);
            QHostAddress host;
            if (address.host == QLatin1String("localhost"))
                host = QHostAddress::LocalHost;
            else if (address.host == QLatin1String("*"))
                host = QHostAddress::Any;
            else
                host = QHostAddress(address.host);
            if (!listener->listen(host, address.port)) {
                *error = QStringLiteral("cannot listen on %1: %2").arg(address.toString(), listener->errorString());
                delete listener;
                closeClientListeners();
                return false;
            }
            connect(listener, &TcpListener::accepted, this, [this](int fd) { adoptConnection(fd, Session::Transport::Tcp); });
            m_tcpListeners.append(listener);
        }
    }
    if (!m_monitors.startListening(error)) {
        closeClientListeners();
        return false;
    }
    for (const ListenAddress &address : boundAddresses())
        qCInfo(lcBroker).noquote() << "listening on" << address.toString();
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
    const auto it = m_sessions.find(id);
    return it == m_sessions.end() ? nullptr : it->second.get();
}

Session *Broker::sessionByName(QByteArrayView name) const
{
    const NameEntry *entry = m_registry.find(name);
    return entry ? entry->receiver : nullptr;
}

void Broker::refuseAtDoor(int fd, const QString &reason)
{
    int suppressed = 0;
    if (m_doorLog.allow(&suppressed)) {
        if (suppressed)
            qCWarning(lcBroker, "%d more connections refused at the door", suppressed);
        qCWarning(lcBroker).noquote() << "refused a connection:" << reason;
    }
    // Best effort: the peer has not said which protocol it speaks; a native client reads this,
    // an old client just sees the connection close.
    const QByteArray error = encodeError({ErrorCode::TooManyClients, reason});
    QByteArray frame;
    appendFrame(frame, FrameType::Error, 0, NoFlags, {}, {}, error);
    [[maybe_unused]] const ssize_t ignored = ::send(fd, frame.constData(), size_t(frame.size()), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::close(fd);
}

Session *Broker::adoptConnection(int fd, Session::Transport transport)
{
    if (m_ctx.shuttingDown) {
        ::close(fd);
        return nullptr;
    }
    if (m_sessions.size() >= size_t(m_config.maxClients)) {
        refuseAtDoor(fd, QStringLiteral("the broker serves at most %1 connections").arg(m_config.maxClients));
        return nullptr;
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    QString peer;
    if (transport == Session::Transport::Tcp) {
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        peer = tcpPeerAddress(fd);
    } else {
        peer = unixPeerAddress(fd);
    }
    const quint64 id = m_nextSessionId++;
    auto session = std::make_unique<Session>(m_ctx, fd, id, transport, std::move(peer));
    if (!session->start()) {
        qCWarning(lcBroker).noquote() << "cannot watch" << session->describe();
        return nullptr; // the destructor closes the descriptor
    }
    qCDebug(lcBroker).noquote() << "accepted" << session->describe();
    Session *adopted = session.get();
    m_sessions.emplace(id, std::move(session));
    m_registerQueue.emplace_back(Clock::now() + m_config.registerTimeout, id);
    if (!m_registerTimer.isActive())
        armRegisterTimer();
    return adopted;
}

void Broker::armRegisterTimer()
{
    if (m_registerQueue.empty())
        return;
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(m_registerQueue.front().first - Clock::now());
    m_registerTimer.start(std::max<qint64>(0, wait.count()) + 1);
}

void Broker::expireRegistrations()
{
    const auto now = Clock::now();
    while (!m_registerQueue.empty() && m_registerQueue.front().first <= now) {
        const quint64 id = m_registerQueue.front().second;
        m_registerQueue.pop_front();
        auto it = m_sessions.find(id);
        if (it == m_sessions.end() || it->second->kind() != Session::Kind::Pending)
            continue;
        it->second->refuse(ErrorCode::RegisterTimeout,
                           QStringLiteral("no registration within %1 ms").arg(m_config.registerTimeout.count()), 0, true);
    }
    armRegisterTimer();
}

void Broker::sessionClosed(Session *session)
{
    auto it = m_sessions.find(session->id());
    if (it == m_sessions.end())
        return;
    m_watchdog.forget(*session);
    if (session->kind() != Session::Kind::Pending)
        m_monitors.clientGone(*session);
    // Destroyed after the batch: the poller's event list may still point at it.
    m_closed.push_back(std::move(it->second));
    m_sessions.erase(it);
    if (m_closed.size() == 1)
        m_poller.afterBatch([this] { m_closed.clear(); });
    if (m_releasingSessions && m_sessions.empty()) {
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
    m_registerTimer.stop();
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
    // Monitors have watched the services stop; they go with the clients.
    m_monitors.closeAll(QStringLiteral("broker shutting down"));
    qCInfo(lcBroker, "shutting down: %zu connections, flushing for up to %lld ms", m_sessions.size(),
           qlonglong(m_config.shutdownFlushTimeout.count()));
    if (m_sessions.empty()) {
        QMetaObject::invokeMethod(this, &Broker::finished, Qt::QueuedConnection);
        return;
    }
    std::vector<Session *> open;
    open.reserve(m_sessions.size());
    for (auto &entry : m_sessions)
        open.push_back(entry.second.get());
    const QByteArray reason("broker shutting down");
    for (Session *session : open) {
        if (session->protocol() == Session::Protocol::Native)
            session->sendFrame(FrameType::Bye, 0, {}, {}, reason);
        session->closeAfterFlush(Session::CloseReason::Shutdown);
    }
    m_shutdownTimer.start(m_config.shutdownFlushTimeout);
}

void Broker::closeRemaining()
{
    std::vector<Session *> open;
    for (auto &entry : m_sessions)
        open.push_back(entry.second.get());
    for (Session *session : open)
        session->close(Session::CloseReason::Shutdown,
                       QStringLiteral("%1 bytes of output not flushed in time").arg(session->pendingOutput()));
}

} // namespace Kennel
