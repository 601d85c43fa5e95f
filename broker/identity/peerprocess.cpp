#include "peerprocess.h"
#include "peerprocess_p.h"

#include <QStringList>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_set>
#include <vector>

namespace Kennel {

// Shared with socketowner.cpp through peerprocess_p.h.
namespace identity {

std::atomic<bool> fastPathsEnabled{true};


bool isDecimalName(const char *name)
{
    if (*name == '\0')
        return false;
    for (; *name; ++name) {
        if (*name < '0' || *name > '9')
            return false;
    }
    return true;
}

// /proc/PID/stat is "pid (comm) state ppid ...". comm is chosen by the process itself (prctl,
// argv[0]) and may contain spaces and ')', so fields are counted from the last ')' only.
std::optional<quint64> parseStartTime(const char *buf, size_t len)
{
    const char *close = static_cast<const char *>(memrchr(buf, ')', len));
    if (!close)
        return std::nullopt;
    const char *p = close + 1;
    const char *end = buf + len;
    // Field 3 (state) is the first after the ')'; starttime is field 22.
    for (int field = 3; field <= 22; ++field) {
        while (p < end && (*p == ' ' || *p == '\n'))
            ++p;
        if (p == end)
            return std::nullopt;
        if (field < 22) {
            while (p < end && *p != ' ' && *p != '\n')
                ++p;
            continue;
        }
        quint64 value = 0;
        const char *digits = p;
        while (p < end && *p >= '0' && *p <= '9') {
            const quint64 digit = quint64(*p - '0');
            if (value > (~quint64(0) - digit) / 10)
                return std::nullopt;
            value = value * 10 + digit;
            ++p;
        }
        if (p == digits || (p < end && *p != ' ' && *p != '\n'))
            return std::nullopt;
        return value;
    }
    return std::nullopt;
}

// Relative to an open /proc/PID directory: that descriptor stays bound to the process it was
// opened for, so if the PID has since been reused this fails instead of describing the newcomer.
std::optional<quint64> readStartTimeAt(int dirFd, const char *path)
{
    UniqueFd fd(::openat(dirFd, path, O_RDONLY | O_CLOEXEC));
    if (!fd.isValid())
        return std::nullopt;
    // A stat line is a few hundred bytes; comm is at most 64.
    char buf[4096];
    size_t len = 0;
    while (len < sizeof buf) {
        const ssize_t n = ::read(fd.get(), buf + len, sizeof buf - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return std::nullopt;
        }
        if (n == 0)
            break;
        len += size_t(n);
    }
    return parseStartTime(buf, len);
}


bool toEndpoint(const sockaddr_storage &ss, Endpoint &out)
{
    if (ss.ss_family == AF_INET) {
        const auto &sin = reinterpret_cast<const sockaddr_in &>(ss);
        out.v4 = true;
        std::memcpy(out.addr, &sin.sin_addr, 4);
        out.port = ntohs(sin.sin_port);
        return true;
    }
    if (ss.ss_family == AF_INET6) {
        const auto &sin6 = reinterpret_cast<const sockaddr_in6 &>(ss);
        if (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr)) {
            out.v4 = true;
            std::memcpy(out.addr, sin6.sin6_addr.s6_addr + 12, 4);
        } else {
            out.v4 = false;
            std::memcpy(out.addr, sin6.sin6_addr.s6_addr, 16);
        }
        out.port = ntohs(sin6.sin6_port);
        return true;
    }
    return false;
}

QString addressText(const Endpoint &e)
{
    char buf[INET6_ADDRSTRLEN] = {};
    if (!inet_ntop(e.v4 ? AF_INET : AF_INET6, e.addr, buf, sizeof buf))
        return QStringLiteral("?");
    return QLatin1String(buf);
}

QString endpointText(const Endpoint &e)
{
    if (e.v4)
        return addressText(e) + QLatin1Char(':') + QString::number(e.port);
    return QLatin1Char('[') + addressText(e) + QStringLiteral("]:") + QString::number(e.port);
}

enum class Locality { Local, Remote, Unknown };

Locality locality(const Endpoint &peer, QString &why)
{
    if (peer.v4 ? peer.addr[0] == 127 : std::memcmp(peer.addr, &in6addr_loopback, 16) == 0)
        return Locality::Local;
    ifaddrs *list = nullptr;
    if (getifaddrs(&list) != 0) {
        why = QStringLiteral("getifaddrs failed: ") + errnoText(errno);
        return Locality::Unknown;
    }
    Locality result = Locality::Remote;
    for (const ifaddrs *ifa = list; ifa; ifa = ifa->ifa_next) {
        if (!ifa->ifa_addr)
            continue;
        // Compared without the IPv6 scope: an address configured here is ours on any interface.
        if (peer.v4 && ifa->ifa_addr->sa_family == AF_INET) {
            const auto *sin = reinterpret_cast<const sockaddr_in *>(ifa->ifa_addr);
            if (std::memcmp(&sin->sin_addr, peer.addr, 4) == 0) {
                result = Locality::Local;
                break;
            }
        } else if (!peer.v4 && ifa->ifa_addr->sa_family == AF_INET6) {
            const auto *sin6 = reinterpret_cast<const sockaddr_in6 *>(ifa->ifa_addr);
            if (std::memcmp(&sin6->sin6_addr, peer.addr, 16) == 0) {
                result = Locality::Local;
                break;
            }
        }
    }
    freeifaddrs(list);
    return result;
}

bool parseHex(const char *&p, int digits, quint32 &out)
{
    quint32 value = 0;
    for (int i = 0; i < digits; ++i) {
        const char c = p[i];
        quint32 nibble;
        if (c >= '0' && c <= '9')
            nibble = quint32(c - '0');
        else if (c >= 'A' && c <= 'F')
            nibble = quint32(c - 'A' + 10);
        else if (c >= 'a' && c <= 'f')
            nibble = quint32(c - 'a' + 10);
        else
            return false;
        value = (value << 4) | nibble;
    }
    p += digits;
    out = value;
    return true;
}

// "0100007F:1F90" (tcp) or 32 hex digits and a port (tcp6). The kernel prints each 32-bit word of
// the network-order address as a host-order integer, so storing the parsed word back in host
// order recovers the network-order bytes on either endianness; the port is printed plainly.
bool parseProcEndpoint(const char *&p, int words, unsigned char *addr, quint16 &port)
{
    for (int w = 0; w < words; ++w) {
        quint32 word;
        if (!parseHex(p, 8, word))
            return false;
        std::memcpy(addr + 4 * w, &word, 4);
    }
    if (*p != ':')
        return false;
    ++p;
    quint32 value;
    if (!parseHex(p, 4, value))
        return false;
    port = quint16(value);
    return true;
}

void skipSpaces(const char *&p)
{
    while (*p == ' ' || *p == '\t')
        ++p;
}

void skipToken(const char *&p)
{
    while (*p && *p != ' ' && *p != '\t' && *p != '\n')
        ++p;
}

bool parseDecimal(const char *&p, unsigned long long &out)
{
    const char *start = p;
    unsigned long long value = 0;
    while (*p >= '0' && *p <= '9') {
        value = value * 10 + unsigned(*p - '0');
        ++p;
    }
    out = value;
    return p != start;
}


enum class TableResult { Found, Absent, Unreadable };

// One pass over /proc/net/tcp or tcp6 for the socket whose local end is `local` and remote end is
// `remote`. `addrLen` is 4 for tcp and 16 for tcp6. An entry with inode 0 (TIME_WAIT, or an
// orphan whose process closed it) is remembered only in case nothing better appears: the same
// 4-tuple can be in TIME_WAIT and re-established at once.
TableResult findTcpSocket(const char *path, int addrLen, const unsigned char *localAddr, quint16 localPort,
                          const unsigned char *remoteAddr, quint16 remotePort, TcpSocketEntry &out, int &error)
{
    FILE *file = std::fopen(path, "re");
    if (!file) {
        error = errno;
        return TableResult::Unreadable;
    }
    // /proc files report a 1 KiB block size, so stdio would read() the table a line or two at a
    // time; with thousands of sockets a large buffer saves most of those system calls.
    constexpr size_t IoBufferSize = 64 * 1024;
    char *ioBuffer = static_cast<char *>(std::malloc(IoBufferSize));
    if (ioBuffer)
        std::setvbuf(file, ioBuffer, _IOFBF, IoBufferSize);

    const int words = addrLen / 4;
    char *line = nullptr;
    size_t capacity = 0;
    bool first = true;
    bool sawOrphan = false;
    TableResult result = TableResult::Absent;
    while (getline(&line, &capacity, file) > 0) {
        if (first) { // the column header
            first = false;
            continue;
        }
        const char *p = line;
        skipSpaces(p);
        skipToken(p); // "sl:"
        skipSpaces(p);
        unsigned char addr[16];
        quint16 port;
        if (!parseProcEndpoint(p, words, addr, port))
            continue;
        if (port != localPort || std::memcmp(addr, localAddr, size_t(addrLen)) != 0)
            continue;
        skipSpaces(p);
        if (!parseProcEndpoint(p, words, addr, port))
            continue;
        if (port != remotePort || std::memcmp(addr, remoteAddr, size_t(addrLen)) != 0)
            continue;
        // st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
        for (int skip = 0; skip < 4; ++skip) {
            skipSpaces(p);
            skipToken(p);
        }
        skipSpaces(p);
        unsigned long long uid = 0;
        if (!parseDecimal(p, uid))
            continue;
        skipSpaces(p);
        skipToken(p); // timeout
        skipSpaces(p);
        unsigned long long inode = 0;
        if (!parseDecimal(p, inode))
            continue;
        if (inode == 0) {
            sawOrphan = true;
            out.uid = uid_t(uid);
            continue;
        }
        out.inode = inode;
        out.uid = uid_t(uid);
        result = TableResult::Found;
        break;
    }
    std::free(line);
    std::fclose(file);
    std::free(ioBuffer);
    if (result != TableResult::Found && sawOrphan) {
        out.inode = 0;
        return TableResult::Found;
    }
    return result;
}

// sock_diag's exact lookup finds one socket by its 4-tuple in the kernel's hash table, where
// reading /proc/net/tcp walks every bucket of it: milliseconds even with a handful of sockets.
// Anything short of a clean answer (no netlink, no tcp_diag module, no such socket, a bound
// device we did not guess) returns false and the caller falls back to /proc/net/tcp*, which is
// slower but has no such gaps; the common case of a live peer never needs it.
bool findTcpSocketByDiag(const Endpoint &peer, const Endpoint &local, quint32 scopeId, TcpSocketEntry &out)
{
    UniqueFd nl(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (!nl.isValid())
        return false;

    struct
    {
        nlmsghdr header;
        inet_diag_req_v2 request;
    } message{};
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST; // not NLM_F_DUMP: one socket, looked up by hash
    message.header.nlmsg_seq = 1;
    inet_diag_req_v2 &req = message.request;
    // An AF_INET lookup also finds AF_INET6 sockets using v4-mapped addresses: both live in the
    // same IPv4 hash.
    req.sdiag_family = peer.v4 ? AF_INET : AF_INET6;
    req.sdiag_protocol = IPPROTO_TCP;
    req.idiag_states = ~0u;
    // From the peer socket's point of view: its source is our peer, its destination is us.
    req.id.idiag_sport = htons(peer.port);
    req.id.idiag_dport = htons(local.port);
    std::memcpy(req.id.idiag_src, peer.addr, peer.v4 ? 4 : 16);
    std::memcpy(req.id.idiag_dst, local.addr, local.v4 ? 4 : 16);
    req.id.idiag_if = scopeId;
    req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(nl.get(), &message, sizeof message, 0, reinterpret_cast<sockaddr *>(&kernel), sizeof kernel)
        != ssize_t(sizeof message))
        return false;

    // The kernel answers inside sendto(), so the reply is normally queued already; the wait is
    // only a bound in case some kernel ever defers it.
    alignas(nlmsghdr) char buf[8192];
    ssize_t n = ::recv(nl.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd pfd{nl.get(), POLLIN, 0};
        if (::poll(&pfd, 1, 100) != 1)
            return false;
        n = ::recv(nl.get(), buf, sizeof buf, MSG_DONTWAIT);
    }
    if (n <= 0)
        return false;

    int remaining = int(n);
    // NLMSG_OK compares the u32 nlmsg_len with an int, which clang flags (-Wsign-compare) where
    // the macro expands; the same test, spelt out. `remaining` stays signed so that NLMSG_NEXT
    // going past the end makes it negative instead of wrapping.
    const auto fits = [](const nlmsghdr *h, int len) {
        return len >= int(sizeof(nlmsghdr)) && h->nlmsg_len >= sizeof(nlmsghdr) && h->nlmsg_len <= unsigned(len);
    };
    for (auto *h = reinterpret_cast<const nlmsghdr *>(buf); fits(h, remaining); h = NLMSG_NEXT(h, remaining)) {
        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
            return false; // NLMSG_ERROR: ENOENT both for "no such socket" and "no tcp_diag"
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg)))
            return false;
        const auto *msg = static_cast<const inet_diag_msg *>(NLMSG_DATA(h));
        // The kernel's lookup falls back to a listening socket on the same address and port when
        // no connection matches: only the exact 4-tuple counts.
        Endpoint src;
        Endpoint dst;
        if (msg->idiag_family == AF_INET) {
            std::memcpy(src.addr, msg->id.idiag_src, 4);
            std::memcpy(dst.addr, msg->id.idiag_dst, 4);
        } else if (msg->idiag_family == AF_INET6) {
            const auto *s6 = reinterpret_cast<const unsigned char *>(msg->id.idiag_src);
            const auto *d6 = reinterpret_cast<const unsigned char *>(msg->id.idiag_dst);
            src.v4 = dst.v4 = IN6_IS_ADDR_V4MAPPED(reinterpret_cast<const in6_addr *>(msg->id.idiag_src))
                    && IN6_IS_ADDR_V4MAPPED(reinterpret_cast<const in6_addr *>(msg->id.idiag_dst));
            std::memcpy(src.addr, src.v4 ? s6 + 12 : s6, src.v4 ? 4 : 16);
            std::memcpy(dst.addr, dst.v4 ? d6 + 12 : d6, dst.v4 ? 4 : 16);
        } else {
            return false;
        }
        const size_t len = peer.v4 ? 4 : 16;
        if (src.v4 != peer.v4 || dst.v4 != local.v4 || msg->id.idiag_sport != htons(peer.port)
            || msg->id.idiag_dport != htons(local.port) || std::memcmp(src.addr, peer.addr, len) != 0
            || std::memcmp(dst.addr, local.addr, len) != 0 || msg->idiag_state == TCP_LISTEN
            || msg->idiag_inode == 0)
            return false;
        out.inode = msg->idiag_inode;
        out.uid = msg->idiag_uid;
        return true;
    }
    return false;
}


// The getdents64 record; declared here because glibc only exposes a wrapper from 2.30 and other
// C libraries differ.
struct LinuxDirent64
{
    quint64 d_ino;
    qint64 d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[1];
};

// Does the fd directory `fdDir` contain a link to `target`? Raw getdents64 rather than
// fdopendir/readdir: this runs once per process on the machine, and fdopendir adds an fstat and
// a heap allocation each time. Returns the descriptor number, -1 if absent, -2 if the links
// cannot be read (listing the directory can be allowed where reading the links is not: they need
// ptrace access, and trying every link of such a process would only collect EACCES), or -3 if
// `limit` entries (>= 0) were looked at without finding it: what bounds the cost of checking a
// claim against a process with tens of thousands of descriptors.
int findLinkIn(int fdDir, const char *target, size_t targetLen, int limit)
{
    alignas(8) char buf[8192];
    int seen = 0;
    for (;;) {
        const long n = ::syscall(SYS_getdents64, fdDir, buf, sizeof buf);
        if (n < 0 && (errno == EACCES || errno == EPERM))
            return -2;
        if (n <= 0)
            return -1;
        for (long off = 0; off < n;) {
            const auto *d = reinterpret_cast<const LinuxDirent64 *>(buf + off);
            off += d->d_reclen;
            if (d->d_type != DT_LNK && d->d_type != DT_UNKNOWN)
                continue;
            if (d->d_name[0] == '.')
                continue;
            if (limit >= 0 && seen++ >= limit)
                return -3;
            char link[64];
            const ssize_t len = ::readlinkat(fdDir, d->d_name, link, sizeof link);
            if (len < 0 && (errno == EACCES || errno == EPERM))
                return -2;
            if (len == ssize_t(targetLen) && std::memcmp(link, target, targetLen) == 0)
                return int(std::strtol(d->d_name, nullptr, 10));
        }
    }
}

// Every socket inode in the fd directory `fdDir` ("socket:[N]" links). False if the links cannot
// be read.
bool collectSocketInodes(int fdDir, std::unordered_set<quint64> &out)
{
    alignas(8) char buf[8192];
    for (;;) {
        const long n = ::syscall(SYS_getdents64, fdDir, buf, sizeof buf);
        if (n < 0)
            return false;
        if (n == 0)
            return true;
        for (long off = 0; off < n;) {
            const auto *d = reinterpret_cast<const LinuxDirent64 *>(buf + off);
            off += d->d_reclen;
            if (d->d_name[0] == '.')
                continue;
            char link[64];
            const ssize_t len = ::readlinkat(fdDir, d->d_name, link, sizeof link - 1);
            if (len < 0 && (errno == EACCES || errno == EPERM))
                return false;
            if (len < 9 || std::memcmp(link, "socket:[", 8) != 0)
                continue;
            link[len] = '\0';
            out.insert(std::strtoull(link + 8, nullptr, 10));
        }
    }
}

// Walks /proc/PID/fd of every thread group leader (readdir of /proc lists only those; threads
// share their leader's fd table) collecting every process that holds "socket:[inode]", up to
// MaxHolders. This is the expensive part of a lookup: a few system calls per process plus one per
// descriptor; it runs when a connection is watched or bound to a name, never per message.
// A table that cannot be opened for want of descriptors or memory makes the scan incomplete: a
// holder there would be missed, and a missed holder could turn "ambiguous" into a wrong owner.
void scanHolders(const char *target, size_t targetLen, HolderScan &scan)
{
    UniqueFd procFd(::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    DIR *proc = procFd.isValid() ? fdopendir(procFd.get()) : nullptr;
    if (!proc) {
        scan.procUnreadable = true;
        scan.error = errno;
        return;
    }
    const int procDirFd = procFd.release(); // owned by `proc` now

    while (const dirent *entry = readdir(proc)) {
        if (!isDecimalName(entry->d_name))
            continue;
        ++scan.processes;
        char path[sizeof entry->d_name + 4];
        std::snprintf(path, sizeof path, "%s/fd", entry->d_name);
        UniqueFd fdDir(::openat(procDirFd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!fdDir.isValid()) {
            if (errno == EACCES || errno == EPERM) {
                ++scan.unreadable;
            } else if (errno != ENOENT && errno != ESRCH) {
                scan.incomplete = true; // EMFILE, ENFILE, ENOMEM: we cannot see this process
                scan.error = errno;
                break;
            }
            continue; // or exited since readdir
        }
        const int fdNumber = findLinkIn(fdDir.get(), target, targetLen);
        if (fdNumber == -2)
            ++scan.unreadable;
        if (fdNumber < 0)
            continue;
        if (scan.count == MaxHolders) {
            scan.tooMany = true;
            break;
        }
        scan.fds[scan.count] = fdNumber;
        scan.pids[scan.count++] = pid_t(std::strtol(entry->d_name, nullptr, 10));
    }
    closedir(proc);
}

// The start time of the process that held the socket, not of whatever has the PID by now: with
// /proc/PID opened first, the descriptor stays bound to that one process, so the link check and
// the stat read below either both describe it or fail.
std::optional<quint64> holderStartTime(pid_t pid, int fdNumber, const char *target, size_t targetLen)
{
    char path[32];
    std::snprintf(path, sizeof path, "/proc/%d", int(pid));
    UniqueFd pidDir(::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!pidDir.isValid())
        return std::nullopt;
    std::snprintf(path, sizeof path, "fd/%d", fdNumber);
    char link[64];
    const ssize_t len = ::readlinkat(pidDir.get(), path, link, sizeof link);
    if (len != ssize_t(targetLen) || std::memcmp(link, target, targetLen) != 0)
        return std::nullopt;
    return readStartTimeAt(pidDir.get(), "stat");
}

PeerLookupResult notFound(QString detail)
{
    PeerLookupResult r;
    r.status = PeerLookup::NotFound;
    r.detail = std::move(detail);
    return r;
}
// The kernel's socket at the other end of our TCP connection `fd`, when that end is on this
// machine. Returns nullopt and fills `entry` when found; otherwise the answer to give (Remote or
// NotFound).
std::optional<PeerLookupResult> findPeerTcpSocket(int fd, const sockaddr_storage &localAddr, TcpSocketEntry &entry,
                                                  QString &peerText)
{
    int protocol = 0;
    socklen_t optLen = sizeof protocol;
    if (::getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &optLen) != 0)
        return notFound(QStringLiteral("SO_PROTOCOL failed: ") + errnoText(errno));
    if (protocol != IPPROTO_TCP)
        return notFound(QStringLiteral("not a TCP socket (protocol %1)").arg(protocol));

    sockaddr_storage peerAddr{};
    socklen_t peerLen = sizeof peerAddr;
    if (::getpeername(fd, reinterpret_cast<sockaddr *>(&peerAddr), &peerLen) != 0)
        return notFound(QStringLiteral("getpeername failed: ") + errnoText(errno));

    Endpoint local;
    Endpoint peer;
    if (!toEndpoint(localAddr, local) || !toEndpoint(peerAddr, peer))
        return notFound(QStringLiteral("unexpected address family"));
    peerText = endpointText(peer);

    QString localityWhy;
    const Locality where = locality(peer, localityWhy);
    if (where == Locality::Remote) {
        PeerLookupResult r;
        r.status = PeerLookup::Remote;
        r.detail = QStringLiteral("tcp peer %1 is remote").arg(peerText);
        return r;
    }

    // The peer's socket is the one whose local end is our peer and whose remote end is us.
    const quint32 scopeId = peerAddr.ss_family == AF_INET6 && !peer.v4
            ? reinterpret_cast<const sockaddr_in6 &>(peerAddr).sin6_scope_id
            : 0;
    if (!fastPathsEnabled.load(std::memory_order_relaxed) || !findTcpSocketByDiag(peer, local, scopeId, entry)) {
        int error = 0;
        TableResult found = TableResult::Absent;
        bool anyTableRead = false;
        if (peer.v4) {
            found = findTcpSocket("/proc/net/tcp", 4, peer.addr, peer.port, local.addr, local.port, entry, error);
            anyTableRead = found != TableResult::Unreadable;
            if (found != TableResult::Found) {
                // A v4 connection may have been made from an AF_INET6 socket (v4-mapped); a
                // kernel without IPv6 has no tcp6, which is no error for a v4 connection.
                unsigned char mappedPeer[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
                unsigned char mappedLocal[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
                std::memcpy(mappedPeer + 12, peer.addr, 4);
                std::memcpy(mappedLocal + 12, local.addr, 4);
                found = findTcpSocket("/proc/net/tcp6", 16, mappedPeer, peer.port, mappedLocal, local.port, entry, error);
                anyTableRead = anyTableRead || found != TableResult::Unreadable;
            }
        } else {
            found = findTcpSocket("/proc/net/tcp6", 16, peer.addr, peer.port, local.addr, local.port, entry, error);
            anyTableRead = found != TableResult::Unreadable;
        }
        if (!anyTableRead)
            return notFound(QStringLiteral("cannot read /proc/net/tcp*: ") + errnoText(error));
        if (found != TableResult::Found) {
            if (where == Locality::Unknown)
                return notFound(QStringLiteral("tcp peer %1 not in this machine's socket tables (%2)").arg(peerText, localityWhy));
            // A local address with no matching socket: the connection was NATed, or is gone.
            return notFound(QStringLiteral("tcp peer %1 has no matching local socket").arg(peerText));
        }
        if (entry.inode == 0)
            return notFound(QStringLiteral("tcp peer %1 socket is closed (no inode)").arg(peerText));
    }
    return std::nullopt;
}

} // namespace identity

using namespace identity;

std::optional<quint64> processStartTime(pid_t pid)
{
    if (pid <= 0)
        return std::nullopt;
    char path[32];
    std::snprintf(path, sizeof path, "/proc/%d/stat", int(pid));
    return readStartTimeAt(AT_FDCWD, path);
}

bool isSameProcessInstance(const PeerProcess &p)
{
    const std::optional<quint64> start = processStartTime(p.pid);
    return start && *start == p.startTime;
}

void detail::setKernelFastPathsEnabled(bool enabled)
{
    fastPathsEnabled.store(enabled, std::memory_order_relaxed);
}

} // namespace Kennel
