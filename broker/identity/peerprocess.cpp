#include "peerprocess.h"

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

namespace {

std::atomic<bool> fastPathsEnabled{true};

// Closes on scope exit so that every early return in the scans below leaks nothing: the broker
// runs for months and does this once per connection.
class UniqueFd
{
public:
    explicit UniqueFd(int fd = -1) : m_fd(fd) {}
    ~UniqueFd() { reset(); }
    UniqueFd(const UniqueFd &) = delete;
    UniqueFd &operator=(const UniqueFd &) = delete;
    UniqueFd(UniqueFd &&other) noexcept : m_fd(other.release()) {}
    UniqueFd &operator=(UniqueFd &&other) noexcept
    {
        if (this != &other) {
            reset();
            m_fd = other.release();
        }
        return *this;
    }
    int get() const { return m_fd; }
    bool isValid() const { return m_fd >= 0; }
    int release()
    {
        const int fd = m_fd;
        m_fd = -1;
        return fd;
    }
    void reset()
    {
        if (m_fd >= 0)
            ::close(m_fd);
        m_fd = -1;
    }

private:
    int m_fd;
};

QString errnoText(int error)
{
    return qt_error_string(error);
}

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

// An address in network byte order plus a port in host order. IPv4 and v4-mapped IPv6 are both
// kept as IPv4 (first four bytes) because the kernel may list either end of such a connection in
// /proc/net/tcp or /proc/net/tcp6 depending on how each end's socket was created.
struct Endpoint
{
    bool v4 = true;
    unsigned char addr[16] = {};
    quint16 port = 0;
};

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

struct TcpSocketEntry
{
    unsigned long long inode = 0;
    uid_t uid = ~0u;
};

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
    constexpr size_t ioBufferSize = 64 * 1024;
    char *ioBuffer = static_cast<char *>(std::malloc(ioBufferSize));
    if (ioBuffer)
        std::setvbuf(file, ioBuffer, _IOFBF, ioBufferSize);

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

// More holders than this and the answer is Ambiguous without looking further: a socket shared
// that widely is nobody's own.
constexpr int MaxHolders = 32;

struct HolderScan
{
    pid_t pids[MaxHolders] = {};
    int fds[MaxHolders] = {};   // the descriptor number under which each holder had it
    int count = 0;
    bool tooMany = false;       // more than MaxHolders
    int unreadable = 0;         // processes whose fd table we were not allowed to read
    int processes = 0;
    bool procUnreadable = false;
    bool incomplete = false;    // a table could not be opened for want of resources: fail closed
    int error = 0;
};

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
int findLinkIn(int fdDir, const char *target, size_t targetLen, int limit = -1)
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

// /proc/PID/stat field 4, or 0 if unreadable (the process is gone).
pid_t parentOf(pid_t pid)
{
    char path[32];
    std::snprintf(path, sizeof path, "/proc/%d/stat", int(pid));
    UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
    if (!fd.isValid())
        return 0;
    char buf[512];
    ssize_t n;
    do {
        n = ::read(fd.get(), buf, sizeof buf - 1);
    } while (n < 0 && errno == EINTR);
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
    for (int i = 0; i < scan.count; ++i) {
        bool descendant = false;
        pid_t p = parentOf(scan.pids[i]);
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
    // read: the cost of a Hello does not grow with a process's descriptor count (issue 18).
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
