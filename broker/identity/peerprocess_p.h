// Internals of the identity lookups shared by peerprocess.cpp (the socket tables, /proc walks,
// start times) and socketowner.cpp (the owner rules: holders, parent chains, forwarders). Not an
// interface for anything else.
#pragma once

#include "errnotext.h"
#include "peerprocess.h"

#include <QString>
#include <QtGlobal>

#include <optional>
#include <sys/socket.h>
#include <unistd.h>
#include <unordered_set>

namespace Kennel::identity {

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

// An address in network byte order plus a port in host order. IPv4 and v4-mapped IPv6 are both
// kept as IPv4 (first four bytes) because the kernel may list either end of such a connection in
// /proc/net/tcp or /proc/net/tcp6 depending on how each end's socket was created.
struct Endpoint
{
    bool v4 = true;
    unsigned char addr[16] = {};
    quint16 port = 0;
};

struct TcpSocketEntry
{
    unsigned long long inode = 0;
    uid_t uid = ~0u;
};

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

std::optional<quint64> readStartTimeAt(int dirFd, const char *path);
QString endpointText(const Endpoint &e);
bool parseHex(const char *&p, int digits, quint32 &out);
bool parseProcEndpoint(const char *&p, int words, unsigned char *addr, quint16 &port);
void skipSpaces(const char *&p);
void skipToken(const char *&p);
bool parseDecimal(const char *&p, unsigned long long &out);
int findLinkIn(int fdDir, const char *target, size_t targetLen, int limit = -1);
bool collectSocketInodes(int fdDir, std::unordered_set<quint64> &out);
void scanHolders(const char *target, size_t targetLen, HolderScan &scan);
std::optional<quint64> holderStartTime(pid_t pid, int fdNumber, const char *target, size_t targetLen);
PeerLookupResult notFound(QString detail);
std::optional<PeerLookupResult> findPeerTcpSocket(int fd, const sockaddr_storage &localAddr, TcpSocketEntry &entry,
                                                  QString &peerText);

} // namespace Kennel::identity
