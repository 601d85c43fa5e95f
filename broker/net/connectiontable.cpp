#include "connectiontable.h"

#include "brokercontext.h"
#include "brokerconfig.h"
#include "framecodec.h"
#include "logging.h"
#include "sharedframe.h"
#include "socketlistener.h"

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
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace Kennel {

namespace {
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

ConnectionTable::ConnectionTable(BrokerContext &context)
    : m_ctx(context)
{
    m_trimTimer.setSingleShot(true);
    m_trimTimer.setTimerType(Qt::CoarseTimer);
    QObject::connect(&m_trimTimer, &QTimer::timeout, &m_trimTimer, &ConnectionTable::trimMemory);
}

ConnectionTable::~ConnectionTable()
{
    clear();
}

void ConnectionTable::clear()
{
    m_closed.clear();
    m_sessions.clear();
}

void ConnectionTable::refuseAtDoor(int fd, const QString &reason)
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

QByteArray ConnectionTable::doorRefusal(ErrorCode code, const QString &text)
{
    QByteArray frame;
    appendFrame(frame, FrameType::Error, 0, NoFlags, {}, {}, encodeError({code, text}));
    return frame;
}

Session *ConnectionTable::adopt(int fd, Session::Transport transport)
{
    if (m_ctx.shuttingDown) {
        ::close(fd);
        return nullptr;
    }
    const BrokerConfig &config = *m_ctx.config;
    if (m_sessions.size() >= size_t(config.maxClients)) {
        refuseAtDoor(fd, QStringLiteral("the broker serves at most %1 connections").arg(config.maxClients));
        return nullptr;
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    QString peer;
    pid_t connectingPid = 0;
    if (transport == Session::Transport::Tcp) {
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setKeepalive(fd, config.idleTimeout);
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
    return adopted;
}

bool ConnectionTable::release(Session &session)
{
    auto it = m_sessions.find(session.id());
    if (it == m_sessions.end())
        return false;
    if (!m_trimTimer.isActive())
        m_trimTimer.start(TrimDelayMs);
    // Destroyed after the batch: the poller's event list may still point at it.
    m_closed.push_back(std::move(it->second));
    m_sessions.erase(it);
    if (m_closed.size() == 1)
        m_ctx.poller->afterBatch([this] { m_closed.clear(); });
    return true;
}

std::vector<Session *> ConnectionTable::snapshot() const
{
    std::vector<Session *> open;
    open.reserve(m_sessions.size());
    for (const auto &entry : m_sessions)
        open.push_back(entry.second.get());
    return open;
}

void ConnectionTable::forEachTimed(const std::function<void(TimedConnection &)> &fn) const
{
    for (const auto &entry : m_sessions)
        fn(*entry.second);
}

void ConnectionTable::trimMemory()
{
    // The output buffers pooled for busy connections (ByteQueue) go too: the next batch takes a
    // few fresh ones, and an idle board holds none.
    ByteQueue::releasePool();
    SharedFrame::releasePool();
#if defined(__GLIBC__)
    // glibc keeps freed heap memory in its arenas for reuse: after a burst of connections leaves
    // (each had its buffers, sessions and routing entries) the process would keep its peak size
    // for good, and on a board that memory belongs to everyone else. Returning it costs one
    // walk of the free lists, hence once per second at most, and only after closes.
    ::malloc_trim(0);
#endif
}

} // namespace Kennel
