// The owner rules of the identity model (docs/WATCHDOG.md, "Who owns a connection"): the peer
// socket's holders, their parent chains, forwarders, and the checks that one process instance
// holds a connection. The socket tables and /proc walks they use are in peerprocess.cpp.
#include "peerprocess.h"
#include "peerprocess_p.h"

#include <QStringList>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_set>
#include <vector>

namespace Kennel {

using namespace identity;

namespace {
// Through unix_diag (Linux >= 3.3, CONFIG_UNIX_DIAG), the inode of the socket at the other end of
// our AF_UNIX connection `fd`: the one thing that tells who holds that end now, where SO_PEERCRED
// only says who connected it. There is no /proc fallback (/proc/net/unix lists no peers), so
// without unix_diag nobody is named: fail closed.
bool unixPeerInode(int fd, quint64 &peerInode, QString &why)
{
    struct stat st{};
    if (::fstat(fd, &st) != 0) {
        why = QStringLiteral("fstat failed: ") + errnoText(errno);
        return false;
    }
    UniqueFd nl(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (!nl.isValid()) {
        why = QStringLiteral("no sock_diag netlink socket: ") + errnoText(errno);
        return false;
    }
    struct
    {
        nlmsghdr header;
        unix_diag_req request;
    } message{};
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST; // one socket, by inode
    message.header.nlmsg_seq = 1;
    message.request.sdiag_family = AF_UNIX;
    message.request.udiag_states = ~0u;
    message.request.udiag_ino = quint32(st.st_ino);
    message.request.udiag_show = UDIAG_SHOW_PEER;
    message.request.udiag_cookie[0] = INET_DIAG_NOCOOKIE;
    message.request.udiag_cookie[1] = INET_DIAG_NOCOOKIE;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(nl.get(), &message, sizeof message, 0, reinterpret_cast<sockaddr *>(&kernel), sizeof kernel)
        != ssize_t(sizeof message)) {
        why = QStringLiteral("unix_diag request failed: ") + errnoText(errno);
        return false;
    }
    alignas(nlmsghdr) char buf[8192];
    ssize_t n = ::recv(nl.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd pfd{nl.get(), POLLIN, 0};
        if (::poll(&pfd, 1, 100) == 1)
            n = ::recv(nl.get(), buf, sizeof buf, MSG_DONTWAIT);
    }
    if (n < ssize_t(sizeof(nlmsghdr))) {
        why = QStringLiteral("no unix_diag answer");
        return false;
    }
    const auto *h = reinterpret_cast<const nlmsghdr *>(buf);
    if (h->nlmsg_len > size_t(n) || h->nlmsg_type != SOCK_DIAG_BY_FAMILY
        || h->nlmsg_len < NLMSG_LENGTH(sizeof(unix_diag_msg))) {
        why = QStringLiteral("unix_diag does not know the socket (no unix_diag in this kernel?)");
        return false;
    }
    const auto *msg = static_cast<const unix_diag_msg *>(NLMSG_DATA(h));
    if (msg->udiag_ino != quint32(st.st_ino)) {
        why = QStringLiteral("unix_diag answered for another socket");
        return false;
    }
    const char *attr = reinterpret_cast<const char *>(msg) + NLMSG_ALIGN(sizeof(unix_diag_msg));
    const char *end = reinterpret_cast<const char *>(h) + h->nlmsg_len;
    while (attr + sizeof(rtattr) <= end) {
        const auto *a = reinterpret_cast<const rtattr *>(attr);
        if (a->rta_len < sizeof(rtattr) || attr + a->rta_len > end)
            break;
        if (a->rta_type == UNIX_DIAG_PEER && a->rta_len >= RTA_LENGTH(sizeof(quint32))) {
            quint32 peer = 0;
            std::memcpy(&peer, RTA_DATA(a), sizeof peer);
            if (peer == 0)
                break;
            peerInode = peer;
            return true;
        }
        attr += RTA_ALIGN(a->rta_len);
    }
    why = QStringLiteral("the unix peer's socket is closed");
    return false;
}

// The socket at the other end of `fd`, on this machine: its inode, a text for the log, and for TCP
// the socket's uid. nullopt when found; otherwise the answer to give.
std::optional<PeerLookupResult> findPeerSocket(int fd, quint64 &inode, uid_t &uid, QString &peerText)
{
    sockaddr_storage localAddr{};
    socklen_t len = sizeof localAddr;
    if (::getsockname(fd, reinterpret_cast<sockaddr *>(&localAddr), &len) != 0)
        return notFound(QStringLiteral("getsockname failed: ") + errnoText(errno));
    if (localAddr.ss_family == AF_UNIX) {
        ucred cred{};
        socklen_t credLen = sizeof cred;
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credLen) != 0)
            return notFound(QStringLiteral("SO_PEERCRED failed: ") + errnoText(errno));
        uid = cred.uid;
        peerText = QStringLiteral("unix peer (connected by pid %1)").arg(cred.pid);
        QString why;
        if (!unixPeerInode(fd, inode, why))
            return notFound(peerText + QStringLiteral(": ") + why);
        return std::nullopt;
    }
    if (localAddr.ss_family != AF_INET && localAddr.ss_family != AF_INET6)
        return notFound(QStringLiteral("unsupported socket family %1").arg(localAddr.ss_family));
    TcpSocketEntry entry;
    QString endpoint;
    if (std::optional<PeerLookupResult> failed = findPeerTcpSocket(fd, localAddr, entry, endpoint))
        return failed;
    inode = entry.inode;
    uid = entry.uid;
    peerText = QStringLiteral("tcp peer ") + endpoint;
    return std::nullopt;
}

// What parentOf() answers for a process that no longer exists.
constexpr pid_t ProcessGone = -1;

// /proc/PID/stat field 4; ProcessGone if the process has exited (its directory is gone, or it died
// while being read); 0 if unreadable for another reason.
pid_t parentOf(pid_t pid)
{
    char path[32];
    std::snprintf(path, sizeof path, "/proc/%d/stat", int(pid));
    UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
    if (!fd.isValid())
        return errno == ENOENT ? ProcessGone : 0;
    char buf[512];
    ssize_t n;
    do {
        n = ::read(fd.get(), buf, sizeof buf - 1);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == ESRCH)
        return ProcessGone;
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *close = static_cast<const char *>(memrchr(buf, ')', size_t(n)));
    if (!close || close + 4 >= buf + n)
        return 0;
    return pid_t(std::strtol(close + 4, nullptr, 10)); // ") S PPID"
}

// One line of /proc/net/tcp or tcp6, as much of it as the forwarder rule needs.
struct TcpRow
{
    Endpoint local;
    Endpoint remote;
    unsigned state = 0;
    quint64 inode = 0;
};

constexpr unsigned TcpEstablished = 0x01;
constexpr unsigned TcpListen = 0x0A;

bool parseRowEndpoint(const char *&p, bool v6, Endpoint &e)
{
    unsigned char addr[16];
    quint16 port;
    if (!parseProcEndpoint(p, v6 ? 4 : 1, addr, port))
        return false;
    e.port = port;
    if (v6 && IN6_IS_ADDR_V4MAPPED(reinterpret_cast<const in6_addr *>(addr))) {
        e.v4 = true;
        std::memcpy(e.addr, addr + 12, 4);
    } else {
        e.v4 = !v6;
        std::memcpy(e.addr, addr, v6 ? 16 : 4);
    }
    return true;
}

void readTcpTable(const char *path, bool v6, std::vector<TcpRow> &rows)
{
    FILE *file = std::fopen(path, "re");
    if (!file)
        return;
    char *line = nullptr;
    size_t capacity = 0;
    bool first = true;
    while (getline(&line, &capacity, file) > 0) {
        if (first) {
            first = false;
            continue;
        }
        const char *p = line;
        TcpRow row;
        skipSpaces(p);
        skipToken(p); // "sl:"
        skipSpaces(p);
        if (!parseRowEndpoint(p, v6, row.local))
            continue;
        skipSpaces(p);
        if (!parseRowEndpoint(p, v6, row.remote))
            continue;
        skipSpaces(p);
        quint32 state = 0;
        if (!parseHex(p, 2, state))
            continue;
        row.state = state;
        for (int skip = 0; skip < 5; ++skip) { // queues, timer, retransmits, uid, timeout
            skipSpaces(p);
            skipToken(p);
        }
        skipSpaces(p);
        unsigned long long inode = 0;
        if (!parseDecimal(p, inode) || inode == 0)
            continue;
        row.inode = inode;
        rows.push_back(row);
    }
    std::free(line);
    std::fclose(file);
}

bool isAnyAddress(const Endpoint &e)
{
    static const unsigned char zero[16] = {};
    return std::memcmp(e.addr, zero, e.v4 ? 4 : 16) == 0;
}

// A process that relays connections for others (socat, ssh -L, a container's port helper) holds
// our peer socket but is not the client: signalling it would end every connection it relays.
// The rule (docs/WATCHDOG.md, "Who owns a connection"): the owner is a forwarder if it holds a
// listening socket (TCP or Unix) that is not the broker's own, or an established TCP connection to
// anything but one of the broker's listening addresses. A program that also serves or talks to
// other hosts is treated the same way: it is disconnected on expiry, never signalled. Returns the
// reason, or an empty string. Reads the owner's and the broker's fd tables and the socket tables.
bool leadsTo(const Endpoint &remote, const std::vector<Endpoint> &listeners)
{
    for (const Endpoint &l : listeners) {
        if (l.port == remote.port && l.v4 == remote.v4
            && (isAnyAddress(l) || std::memcmp(l.addr, remote.addr, l.v4 ? 4 : 16) == 0))
            return true;
    }
    return false;
}

// The broker's own TCP listening endpoints, found from its own descriptors. Cached: reading the
// broker's fd table (one entry per client) on every lookup would cost milliseconds on a busy
// broker; it is read again only when a connection leads somewhere the cache does not know (a
// listener added since).
std::mutex listenersMutex;
std::vector<Endpoint> cachedListeners;

bool refreshBrokerListeners(const std::vector<TcpRow> &rows)
{
    std::unordered_set<quint64> own;
    UniqueFd dir(::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir.isValid() || !collectSocketInodes(dir.get(), own))
        return false;
    cachedListeners.clear();
    for (const TcpRow &row : rows)
        if (row.state == TcpListen && own.count(row.inode))
            cachedListeners.push_back(row.local);
    return true;
}

QString forwarderReason(pid_t owner)
{
    if (owner == ::getpid())
        return QString(); // the broker itself (tests): never signalled anyway
    char path[32];
    std::snprintf(path, sizeof path, "/proc/%d/fd", int(owner));
    std::unordered_set<quint64> ownerSockets;
    {
        UniqueFd dir(::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir.isValid() || !collectSocketInodes(dir.get(), ownerSockets))
            return QStringLiteral("cannot read the descriptors of pid %1 to rule out a forwarder").arg(owner);
    }
    std::vector<TcpRow> rows;
    readTcpTable("/proc/net/tcp", false, rows);
    readTcpTable("/proc/net/tcp6", true, rows);
    bool refreshed = false;
    for (const TcpRow &row : rows) {
        if (!ownerSockets.count(row.inode))
            continue;
        if (row.state == TcpListen)
            return QStringLiteral("pid %1 listens on tcp %2: a forwarder or server, not signalled").arg(owner).arg(endpointText(row.local));
        if (row.state != TcpEstablished)
            continue;
        const std::lock_guard<std::mutex> lock(listenersMutex);
        if (leadsTo(row.remote, cachedListeners))
            continue;
        if (!refreshed) {
            refreshed = true;
            if (!refreshBrokerListeners(rows))
                return QStringLiteral("cannot read the broker's own descriptors to rule out a forwarder");
            if (leadsTo(row.remote, cachedListeners))
                continue;
        }
        return QStringLiteral("pid %1 is also connected to %2: a forwarder, not signalled").arg(owner).arg(endpointText(row.remote));
    }
    // Unix listeners: "Num RefCount Protocol Flags Type St Inode Path", flag 0x10000 = accepting.
    if (FILE *file = std::fopen("/proc/net/unix", "re")) {
        char *line = nullptr;
        size_t capacity = 0;
        QString reason;
        while (reason.isEmpty() && getline(&line, &capacity, file) > 0) {
            const char *p = line;
            skipSpaces(p);
            skipToken(p); // Num
            skipSpaces(p);
            skipToken(p); // RefCount
            skipSpaces(p);
            skipToken(p); // Protocol
            skipSpaces(p);
            quint32 flags = 0;
            if (!parseHex(p, 8, flags))
                continue;
            for (int skip = 0; skip < 2; ++skip) {
                skipSpaces(p);
                skipToken(p);
            }
            skipSpaces(p);
            unsigned long long inode = 0;
            if (!parseDecimal(p, inode))
                continue;
            if ((flags & 0x10000u) && ownerSockets.count(inode))
                reason = QStringLiteral("pid %1 listens on a unix socket: a forwarder or server, not signalled").arg(owner);
        }
        std::free(line);
        std::fclose(file);
        if (!reason.isEmpty())
            return reason;
    }
    return QString();
}

PeerLookupResult ambiguous(QString detail)
{
    PeerLookupResult r;
    r.status = PeerLookup::Ambiguous;
    r.detail = std::move(detail);
    return r;
}

// The identity rule (docs/WATCHDOG.md, "Who owns a connection"): the processes holding the peer
// socket are found; if they are one process and its descendants (a popen()'s sh and ps, a forked
// reader: C programs without SOCK_CLOEXEC), that ancestor owns the connection; unrelated holders
// are Ambiguous; none is NotFound. The owner's start time is read through its /proc directory
// after checking, through the same directory, that it still holds the socket: both describe one
// process instance, whatever happens to its PID later.
PeerLookupResult ownerOfSocket(quint64 inode, const QString &peerText)
{
    char target[64];
    const int targetLen = std::snprintf(target, sizeof target, "socket:[%llu]", static_cast<unsigned long long>(inode));
    HolderScan scan;
    scanHolders(target, size_t(targetLen), scan);
    if (scan.procUnreadable)
        return notFound(QStringLiteral("cannot read /proc: ") + errnoText(scan.error));
    if (scan.incomplete)
        return notFound(QStringLiteral("%1: could not look at every process (%2): nobody is named")
                            .arg(peerText, errnoText(scan.error)));
    const QString unreadableNote = scan.unreadable == 0
            ? QString()
            : QStringLiteral("; fd tables of %1 of %2 processes were unreadable").arg(scan.unreadable).arg(scan.processes);
    if (scan.tooMany)
        return ambiguous(QStringLiteral("%1: socket inode %2 held by more than %3 processes").arg(peerText).arg(inode).arg(MaxHolders));
    if (scan.count == 0)
        return notFound(QStringLiteral("%1: socket inode %2 held by no process%3").arg(peerText).arg(inode).arg(unreadableNote));
    std::vector<int> roots;
    int gone = 0;
    for (int i = 0; i < scan.count; ++i) {
        bool descendant = false;
        pid_t p = parentOf(scan.pids[i]);
        // A holder that has exited since the scan holds nothing any more: popen()'s sh and ps come
        // and go many times a second in the old clients, and counting one that just ended as a
        // root of its own made their connections ambiguous (and a name binding refused) at random.
        if (p == ProcessGone) {
            ++gone;
            continue;
        }
        // A chain that cannot be followed (an ancestor exiting meanwhile) leaves the holder a root
        // of its own: Ambiguous, resolved again later, never a guess.
        for (int depth = 0; p > 1 && depth < 256 && !descendant; ++depth) {
            for (int j = 0; j < scan.count; ++j)
                if (j != i && scan.pids[j] == p)
                    descendant = true;
            p = parentOf(p);
        }
        if (!descendant)
            roots.push_back(i);
    }
    if (gone == scan.count)
        return notFound(QStringLiteral("%1: socket inode %2: every holder exited during lookup").arg(peerText).arg(inode));
    if (roots.size() != 1) {
        QStringList pids;
        for (int i = 0; i < scan.count; ++i)
            pids << QString::number(scan.pids[i]);
        return ambiguous(QStringLiteral("%1: socket inode %2 held by pids %3, which are not one process and its children")
                             .arg(peerText).arg(inode).arg(pids.join(QLatin1String(", "))));
    }
    const int root = roots.front();
    const pid_t owner = scan.pids[root];
    const std::optional<quint64> start = holderStartTime(owner, scan.fds[root], target, size_t(targetLen));
    if (!start)
        return notFound(QStringLiteral("%1: pid %2 exited or closed the socket during lookup").arg(peerText).arg(owner));
    PeerLookupResult r;
    r.status = PeerLookup::Found;
    r.process.pid = owner;
    r.process.startTime = *start;
    r.detail = scan.count == 1
            ? QStringLiteral("%1 owned by pid %2%3").arg(peerText).arg(owner).arg(unreadableNote)
            : QStringLiteral("%1 owned by pid %2 (%3 of its descendants hold copies)%4")
                      .arg(peerText).arg(owner).arg(scan.count - 1).arg(unreadableNote);
    return r;
}

// Does the process instance (pid, and start time if given) hold socket `inode`? One fd table,
// at most `limit` entries of it (< 0: all).
HoldingResult holdsSocket(pid_t pid, std::optional<quint64> startTime, quint64 inode, int limit, const QString &peerText)
{
    char path[32];
    std::snprintf(path, sizeof path, "/proc/%d", int(pid));
    UniqueFd dir(::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir.isValid()) {
        if (errno == ENOENT)
            return {Holding::NotHeld, QStringLiteral("pid %1 does not exist").arg(pid)};
        return {Holding::Unknown, QStringLiteral("cannot open /proc/%1: %2").arg(pid).arg(errnoText(errno))};
    }
    // Through the same directory as the fd table: both describe one instance.
    if (startTime) {
        const std::optional<quint64> now = readStartTimeAt(dir.get(), "stat");
        if (!now || *now != *startTime)
            return {Holding::NotHeld, QStringLiteral("pid %1 is no longer the process instance that was identified").arg(pid)};
    }
    UniqueFd fdDir(::openat(dir.get(), "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fdDir.isValid()) {
        if (errno == ENOENT || errno == ESRCH)
            return {Holding::NotHeld, QStringLiteral("pid %1 has exited").arg(pid)};
        return {Holding::Unknown, QStringLiteral("cannot read the descriptors of pid %1: %2").arg(pid).arg(errnoText(errno))};
    }
    char target[64];
    const int targetLen = std::snprintf(target, sizeof target, "socket:[%llu]", static_cast<unsigned long long>(inode));
    const int found = findLinkIn(fdDir.get(), target, size_t(targetLen), limit);
    if (found >= 0)
        return {Holding::Holds, QStringLiteral("%1 is held by pid %2").arg(peerText).arg(pid)};
    if (found == -2)
        return {Holding::Unknown, QStringLiteral("the descriptors of pid %1 are not readable to us").arg(pid)};
    if (found == -3)
        return {Holding::Unknown,
                QStringLiteral("pid %1 has more than %2 descriptors; not checked further").arg(pid).arg(limit)};
    return {Holding::NotHeld, QStringLiteral("%1 is not held by pid %2").arg(peerText).arg(pid)};
}

} // namespace

ClaimCheckResult checkClaimedPid(int connectedFd, pid_t claimed)
{
    if (claimed <= 0)
        return {ClaimCheck::Mismatch, QStringLiteral("pid %1 is not a process id").arg(claimed)};
    // Unix: the kernel names the connecting process; a claim of another one is false at once,
    // without looking any further.
    ucred cred{};
    socklen_t credLen = sizeof cred;
    sockaddr_storage localAddr{};
    socklen_t len = sizeof localAddr;
    if (::getsockname(connectedFd, reinterpret_cast<sockaddr *>(&localAddr), &len) == 0 && localAddr.ss_family == AF_UNIX
        && ::getsockopt(connectedFd, SOL_SOCKET, SO_PEERCRED, &cred, &credLen) == 0 && cred.pid > 0 && cred.pid != claimed)
        return {ClaimCheck::Mismatch, QStringLiteral("unix peer is pid %1 per SO_PEERCRED, not %2").arg(cred.pid).arg(claimed)};
    quint64 inode = 0;
    uid_t uid = ~0u;
    QString peerText;
    if (std::optional<PeerLookupResult> failed = findPeerSocket(connectedFd, inode, uid, peerText))
        return {ClaimCheck::Unverifiable, failed->detail};
    // One socket asked about, and at most ClaimScanLimit of the claimed process's descriptors
    // read: the cost of a Hello does not grow with a process's descriptor count.
    const HoldingResult held = holdsSocket(claimed, std::nullopt, inode, ClaimScanLimit, peerText);
    switch (held.status) {
    case Holding::Holds:
        return {ClaimCheck::Confirmed, held.detail};
    case Holding::NotHeld:
        return {ClaimCheck::Mismatch, held.detail};
    case Holding::Unknown:
        break;
    }
    return {ClaimCheck::Unverifiable, held.detail};
}

HoldingResult checkHoldsPeer(int connectedFd, const PeerProcess &process)
{
    quint64 inode = 0;
    uid_t uid = ~0u;
    QString peerText;
    if (std::optional<PeerLookupResult> failed = findPeerSocket(connectedFd, inode, uid, peerText))
        return {failed->status == PeerLookup::Remote ? Holding::NotHeld : Holding::Unknown, failed->detail};
    return holdsSocket(process.pid, process.startTime, inode, -1, peerText);
}

PeerLookupResult lookupPeerProcess(int connectedFd)
{
    quint64 inode = 0;
    uid_t uid = ~0u;
    QString peerText;
    if (std::optional<PeerLookupResult> failed = findPeerSocket(connectedFd, inode, uid, peerText))
        return *failed;
    PeerLookupResult r = ownerOfSocket(inode, peerText);
    if (r.status != PeerLookup::Found)
        return r;
    r.process.uid = uid;
    r.process.peerInode = inode;
    const QString relay = forwarderReason(r.process.pid);
    if (!relay.isEmpty()) {
        r.status = PeerLookup::Forwarder;
        r.detail = peerText + QStringLiteral(": ") + relay;
    }
    return r;
}

} // namespace Kennel
