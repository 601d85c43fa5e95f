#include "broker.h"
#include "logging.h"

#include "framecodec.h"
#include "socketlistener.h"
#include "tcplistener.h"
#include "unixlistener.h"

#include <QCoreApplication>
#include <QHostAddress>

#include <algorithm>
#include <limits>

#include <arpa/inet.h>
#include <fcntl.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace Kennel {

namespace {
constexpr int ListenBacklog = SocketListener::DefaultBacklog;
// After connections close, memory is handed back to the system at most this often.
constexpr int TrimDelayMs = 1000;
// Idle detection: a native peer is pinged after 0.5..0.6 and closed after 1.0..1.1 idle timeouts
// of silence (the sweep's granularity is a tenth of it; PROTOCOL ), so that the close stays
// within the promised 1.25 even when the event loop runs a sweep late under load.
constexpr int IdleSweepsPerTimeout = 10;

// TCP keepalive timed from the idle timeout, for every TCP connection (legacy ones too, which the
// idle sweep leaves alone): a peer that vanished is found by the kernel, and one that vanished
// with our output unacknowledged is dropped after the idle timeout (TCP_USER_TIMEOUT).
void setKeepalive(int fd, std::chrono::milliseconds idle)
{
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    if (idle.count() <= 0)
        return;
    const qint64 ms = idle.count();
    const int keepIdle = int(std::max<qint64>(1, ms / 2 / 1000));
    const int keepInterval = int(std::max<qint64>(1, ms / 8 / 1000));
    const int keepCount = 4;
    const unsigned userTimeout = unsigned(std::min<qint64>(ms, std::numeric_limits<int>::max()));
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &keepIdle, sizeof keepIdle);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &keepInterval, sizeof keepInterval);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &keepCount, sizeof keepCount);
    ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &userTimeout, sizeof userTimeout);
}

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

QString unixPeerAddress(int fd, pid_t *connectingPid)
{
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        *connectingPid = cred.pid;
        return QStringLiteral("pid %1 uid %2").arg(cred.pid).arg(cred.uid);
    }
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
    , m_supervisor(m_config.services, m_config.serviceCgroup)
    , m_held(m_config, m_registry, m_ctx.budgets.heldMessages)
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
    m_ctx.budgets.configure(m_config);
    m_ctx.held = &m_held;
    m_router.setHoldSink(&m_held);
    m_held.watch(m_supervisor, m_watchdog);

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
    m_incompleteTimer.setSingleShot(true);
    m_incompleteTimer.setTimerType(Qt::CoarseTimer);
    connect(&m_incompleteTimer, &QTimer::timeout, this, &Broker::expireIncompleteFrames);
    m_trimTimer.setSingleShot(true);
    m_trimTimer.setTimerType(Qt::CoarseTimer);
    connect(&m_trimTimer, &QTimer::timeout, this, &Broker::trimMemory);
    m_lastSweep = Clock::now();
    if (m_config.idleTimeout.count() > 0) {
        // Precise: a coarse timer may run 5 % late, and detection is promised within 1.25 x the
        // idle timeout. Ten sweeps per idle timeout cost nothing measurable even with 10,000
        // connections (one pass over a hash table, no system call per connection).
        m_idleTimer.setTimerType(Qt::PreciseTimer);
        connect(&m_idleTimer, &QTimer::timeout, this, &Broker::sweepIdle);
        m_idleTimer.start(std::max<qint64>(1, m_config.idleTimeout.count() / IdleSweepsPerTimeout));
    }
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
    const QByteArray outOfDescriptors =
        doorRefusal(ErrorCode::TooManyClients, QStringLiteral("the broker is out of file descriptors"));
    for (const ListenAddress &address : m_config.effectiveListen()) {
        if (address.kind == ListenAddress::Kind::Unix) {
            auto *listener = new UnixListener(this);
            listener->setListenBacklogSize(ListenBacklog);
            listener->setOutOfDescriptorsReply(outOfDescriptors);
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
            listener->setOutOfDescriptorsReply(outOfDescriptors);
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
    // Only a peer whose first byte already says native is told why; one that has sent nothing may
    // be an old client, which would take a native Error for a broken frame (PROTOCOL ).
    if (SocketListener::peerSpeaksNative(fd)) {
        const QByteArray frame = doorRefusal(ErrorCode::TooManyClients, reason);
        [[maybe_unused]] const ssize_t ignored = ::send(fd, frame.constData(), size_t(frame.size()), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    ::close(fd);
}

QByteArray Broker::doorRefusal(ErrorCode code, const QString &text)
{
    QByteArray frame;
    appendFrame(frame, FrameType::Error, 0, NoFlags, {}, {}, encodeError({code, text}));
    return frame;
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
    pid_t connectingPid = 0;
    if (transport == Session::Transport::Tcp) {
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setKeepalive(fd, m_config.idleTimeout);
        peer = tcpPeerAddress(fd);
    } else {
        peer = unixPeerAddress(fd, &connectingPid);
    }
    const quint64 id = m_nextSessionId++;
    auto session = std::make_unique<Session>(m_ctx, fd, id, transport, std::move(peer));
    session->setConnectingPid(connectingPid);
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
        if (it->second->protocol() == Session::Protocol::Unknown) {
            // Nothing (or not enough to tell the protocols apart) arrived: no native Error to a
            // peer that may be an old client (PROTOCOL ).
            ++it->second->counters.refusals;
            it->second->close(Session::CloseReason::RegisterTimeout,
                              QStringLiteral("no registration within %1 ms").arg(m_config.registerTimeout.count()));
            continue;
        }
        it->second->refuse(ErrorCode::RegisterTimeout,
                           QStringLiteral("no registration within %1 ms").arg(m_config.registerTimeout.count()), 0, true);
    }
    armRegisterTimer();
}

void Broker::incompleteFrameStarted(Session *session)
{
    if (session->incompleteDeadlineQueued)
        return; // its entry comes up first and is put back with this frame's deadline
    session->incompleteDeadlineQueued = true;
    m_incompleteQueue.emplace(session->incompleteFrameSince() + m_config.incompleteFrameTimeout, session->id());
    if (!m_incompleteTimer.isActive())
        armIncompleteTimer();
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
    std::vector<Session *> open;
    open.reserve(m_sessions.size());
    for (auto &entry : m_sessions)
        open.push_back(entry.second.get());
    m_shedder.shed(open);
}

void Broker::armIncompleteTimer()
{
    if (m_incompleteQueue.empty() || m_ctx.shuttingDown)
        return;
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(m_incompleteQueue.top().first - Clock::now());
    m_incompleteTimer.start(std::max<qint64>(0, wait.count()) + 1);
}

void Broker::expireIncompleteFrames()
{
    const auto now = Clock::now();
    std::vector<Session *> expired;
    while (!m_incompleteQueue.empty() && m_incompleteQueue.top().first <= now) {
        const quint64 id = m_incompleteQueue.top().second;
        m_incompleteQueue.pop();
        Session *session = sessionById(id);
        if (!session)
            continue;
        session->incompleteDeadlineQueued = false;
        if (!session->hasIncompleteFrame())
            continue; // completed in time
        auto deadline = session->incompleteFrameSince() + m_config.incompleteFrameTimeout;
        if (session->isInputPaused()) {
            // The broker stopped reading it (its output backlog is full): the rest of the frame
            // may well be waiting in the kernel. Not the peer's stall; look again later.
            deadline = now + m_config.incompleteFrameTimeout;
        }
        if (deadline <= now) {
            expired.push_back(session);
        } else {
            // That frame completed and a later one is pending (its own deadline), or paused.
            session->incompleteDeadlineQueued = true;
            m_incompleteQueue.emplace(deadline, id);
        }
    }
    for (Session *session : expired) {
        session->expire(Session::CloseReason::IncompleteFrame, ErrorCode::IncompleteFrameTimeout,
                        QStringLiteral("%1 bytes of a frame held for %2 ms without the rest")
                            .arg(session->incompleteFrameBytes())
                            .arg(m_config.incompleteFrameTimeout.count()));
    }
    armIncompleteTimer();
}

void Broker::sweepIdle()
{
    const auto now = Clock::now();
    const auto previous = std::exchange(m_lastSweep, now);
    const auto idle = m_config.idleTimeout;
    const auto halfStep = idle / (2 * IdleSweepsPerTimeout);
    std::vector<Session *> silent;
    for (auto &entry : m_sessions) {
        Session &session = *entry.second;
        if (session.takeInputSeen()) {
            // It arrived after the previous sweep: counting from there never overstates the life.
            session.lastInputAt = std::max(previous, session.acceptedAt());
            session.idlePinged = false;
            continue;
        }
        // Legacy peers are exempt: an old receive connection never writes. Connections that have
        // not said which protocol they speak are the register deadline's.
        if (session.protocol() != Session::Protocol::Native || !session.isOpen())
            continue;
        if (session.isInputPaused()) {
            // Not read by the broker (its output backlog is full), so its input cannot be seen;
            // a peer that vanished this way is TCP_USER_TIMEOUT's (unacknowledged output).
            session.lastInputAt = now;
            continue;
        }
        // lastInputAt is a sweep time, so `quiet` moves in steps of one sweep interval; half a
        // step of margin keeps a sweep that runs a little late from acting one step early.
        const auto quiet = now - session.lastInputAt;
        if (quiet >= idle + halfStep) {
            silent.push_back(&session);
        } else if (!session.idlePinged && quiet >= idle / 2 + halfStep) {
            // Any answer counts as life; the client library answers Ping with Pong.
            session.idlePinged = true;
            session.sendFrame(FrameType::Ping, 0, {}, {}, {});
        }
    }
    for (Session *session : silent) {
        session->expire(Session::CloseReason::IdleTimeout, ErrorCode::IdleTimeout,
                        QStringLiteral("nothing received for %1 ms, Ping unanswered").arg(idle.count()));
    }
}

void Broker::trimMemory()
{
    // The output buffers pooled for busy connections (ByteQueue) go too: the next batch takes a
    // few fresh ones, and an idle board holds none.
    ByteQueue::releasePool();
#if defined(__GLIBC__)
    // glibc keeps freed heap memory in its arenas for reuse: after a burst of connections leaves
    // (each had its buffers, sessions and routing entries) the process would keep its peak size
    // for good, and on a board that memory belongs to everyone else. Returning it costs one
    // walk of the free lists, hence once per second at most, and only after closes.
    ::malloc_trim(0);
#endif
}

void Broker::sessionClosed(Session *session)
{
    auto it = m_sessions.find(session->id());
    if (it == m_sessions.end())
        return;
    if (!m_trimTimer.isActive())
        m_trimTimer.start(TrimDelayMs);
    m_watchdog.forget(*session);
    m_held.connectionClosed(*session);
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
    m_incompleteTimer.stop();
    m_idleTimer.stop();
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
    std::vector<Session *> open;
    for (auto &entry : m_sessions)
        open.push_back(entry.second.get());
    for (Session *session : open)
        session->close(Session::CloseReason::Shutdown,
                       QStringLiteral("%1 bytes of output not flushed in time").arg(session->pendingOutput()));
}

} // namespace Kennel
