#include "tcplistener.h"
#include "errnotext.h"

#include <cerrno>
#include <cstring>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace Kennel {

namespace {
QString systemError(const char *what)
{
    return QLatin1String(what) + QStringLiteral(": ") + errnoText(errno);
}
} // namespace

bool TcpListener::listen(const QHostAddress &address, quint16 port)
{
    close();
    sockaddr_storage storage{};
    socklen_t length = 0;
    int family = AF_INET;
    bool dualStack = false;
    if (address == QHostAddress(QHostAddress::Any) || address.protocol() == QAbstractSocket::IPv6Protocol) {
        family = AF_INET6;
        auto *a6 = reinterpret_cast<sockaddr_in6 *>(&storage);
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        if (address == QHostAddress(QHostAddress::Any)) {
            a6->sin6_addr = in6addr_any;
            dualStack = true;
        } else {
            const Q_IPV6ADDR bytes = address.toIPv6Address();
            std::memcpy(&a6->sin6_addr, bytes.c, sizeof a6->sin6_addr);
            const QString scope = address.scopeId();
            if (!scope.isEmpty()) {
                bool numeric = false;
                const uint index = scope.toUInt(&numeric);
                a6->sin6_scope_id = numeric ? index : ::if_nametoindex(scope.toLocal8Bit().constData());
            }
        }
        length = sizeof(sockaddr_in6);
    } else if (address.protocol() == QAbstractSocket::IPv4Protocol) {
        auto *a4 = reinterpret_cast<sockaddr_in *>(&storage);
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        a4->sin_addr.s_addr = htonl(address.toIPv4Address());
        length = sizeof(sockaddr_in);
    } else {
        setErrorString(QStringLiteral("not an IP address"));
        return false;
    }

    int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 && dualStack && (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT)) {
        // No IPv6 on this system: the IPv4 wildcard is all "any" can mean.
        family = AF_INET;
        storage = {};
        auto *a4 = reinterpret_cast<sockaddr_in *>(&storage);
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        a4->sin_addr.s_addr = htonl(INADDR_ANY);
        length = sizeof(sockaddr_in);
        dualStack = false;
        fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    }
    if (fd < 0) {
        setErrorString(systemError("socket"));
        return false;
    }
    // A broker restarted after a crash must get its port back at once, not after TIME_WAIT.
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (dualStack) {
        const int zero = 0;
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    }
    if (::bind(fd, reinterpret_cast<const sockaddr *>(&storage), length) != 0) {
        setErrorString(systemError("bind"));
        ::close(fd);
        return false;
    }
    if (::listen(fd, listenBacklogSize()) != 0) {
        setErrorString(systemError("listen"));
        ::close(fd);
        return false;
    }
    sockaddr_storage bound{};
    socklen_t boundLength = sizeof bound;
    if (::getsockname(fd, reinterpret_cast<sockaddr *>(&bound), &boundLength) != 0) {
        setErrorString(systemError("getsockname"));
        ::close(fd);
        return false;
    }
    m_address = QHostAddress(reinterpret_cast<const sockaddr *>(&bound));
    m_port = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<const sockaddr_in6 *>(&bound)->sin6_port)
                                         : ntohs(reinterpret_cast<const sockaddr_in *>(&bound)->sin_port);
    if (dualStack)
        m_address = QHostAddress(QHostAddress::Any); // what QTcpServer reported: "::", both families
    adoptListening(fd);
    return true;
}

bool TcpListener::adoptPassed(int fd)
{
    close();
    sockaddr_storage bound{};
    socklen_t boundLength = sizeof bound;
    if (::getsockname(fd, reinterpret_cast<sockaddr *>(&bound), &boundLength) != 0) {
        setErrorString(systemError("getsockname"));
        return false;
    }
    m_address = QHostAddress(reinterpret_cast<const sockaddr *>(&bound));
    m_port = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<const sockaddr_in6 *>(&bound)->sin6_port)
                                         : ntohs(reinterpret_cast<const sockaddr_in *>(&bound)->sin_port);
    int v6only = 1;
    socklen_t length = sizeof v6only;
    if (bound.ss_family == AF_INET6 && m_address == QHostAddress(QHostAddress::AnyIPv6)
        && ::getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &length) == 0 && !v6only)
        m_address = QHostAddress(QHostAddress::Any);
    adoptListening(fd);
    return true;
}

} // namespace Kennel
