// sd_listen_fds(3) without libsystemd. See the header for why and how sockets are matched.
#include "errnotext.h"
#include "socketactivation.h"
#include "logging.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHostAddress>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

namespace Kennel {

SocketActivation::~SocketActivation()
{
    for (const Passed &passed : std::as_const(m_passed))
        if (passed.fd >= 0)
            ::close(passed.fd);
}

SocketActivation::SocketActivation(SocketActivation &&other) noexcept
    : m_passed(std::move(other.m_passed))
{
    other.m_passed.clear();
}

SocketActivation SocketActivation::fromEnvironment()
{
    SocketActivation activation;
    const QByteArray pidText = qgetenv("LISTEN_PID");
    const QByteArray countText = qgetenv("LISTEN_FDS");
    const QByteArray namesText = qgetenv("LISTEN_FDNAMES");
    // Unset whatever happens next: neither the services nor anything else the broker starts may
    // take these descriptors for theirs.
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_FDNAMES");
    if (countText.isEmpty()) {
        qCDebug(lcSystemd, "LISTEN_FDS is not set: no sockets passed by systemd");
        return activation;
    }
    bool ok = false;
    const qlonglong pid = pidText.toLongLong(&ok);
    if (!ok || pid <= 0) {
        qCWarning(lcSystemd, "LISTEN_FDS is set but LISTEN_PID=%s is not a process id: ignoring the passed sockets",
                  pidText.left(64).constData());
        return activation;
    }
    if (pid != qlonglong(::getpid())) {
        // Meant for another process (a wrapper that forgot to unset them): not ours to touch.
        qCWarning(lcSystemd, "LISTEN_PID=%lld is another process (this is %lld): the passed sockets are not ours",
                  pid, qlonglong(::getpid()));
        return activation;
    }
    const int count = countText.toInt(&ok);
    if (!ok || count < 0 || count > MaxDescriptors) {
        qCWarning(lcSystemd, "LISTEN_FDS=%s is not a count of 0..%d descriptors: ignoring the passed sockets",
                  countText.left(64).constData(), MaxDescriptors);
        return activation;
    }
    const QList<QByteArray> names = namesText.isEmpty() ? QList<QByteArray>{} : namesText.split(':');
    if (!names.isEmpty() && names.size() != count)
        qCWarning(lcSystemd, "LISTEN_FDNAMES has %lld names for %d descriptors: names are only logged",
                  qlonglong(names.size()), count);
    for (int i = 0; i < count; ++i) {
        const int fd = FirstDescriptor + i;
        const Passed passed = inspect(fd, i < names.size() ? names.at(i) : QByteArray());
        if (passed.fd < 0)
            continue;
        activation.m_passed.append(passed);
        if (passed.usable)
            qCInfo(lcSystemd).noquote() << "systemd passed" << describe(passed);
        else
            qCCritical(lcSystemd).noquote() << "systemd passed" << describe(passed) << "which the broker cannot use:"
                                            << passed.problem;
    }
    return activation;
}

SocketActivation::Passed SocketActivation::inspect(int fd, const QByteArray &name)
{
    Passed passed;
    passed.name = name;
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags < 0) {
        qCCritical(lcSystemd, "LISTEN_FDS names descriptor %d, which is not open", fd);
        return passed;
    }
    passed.fd = fd;
    // Ours now: not inherited by services, and accept() must never block the event loop.
    ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

    int type = 0, listening = 0, domain = 0;
    socklen_t length = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0) {
        passed.problem = QStringLiteral("not a socket (%1)").arg(errnoText(errno));
        return passed;
    }
    length = sizeof domain;
    ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length);
    length = sizeof listening;
    ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length);
    if (type != SOCK_STREAM) {
        passed.problem = QStringLiteral("not a stream socket (ListenStream= is what the broker takes)");
        return passed;
    }
    if (domain != AF_UNIX && domain != AF_INET && domain != AF_INET6) {
        passed.problem = QStringLiteral("address family %1 is neither AF_UNIX, AF_INET nor AF_INET6").arg(domain);
        return passed;
    }
    sockaddr_storage storage{};
    length = sizeof storage;
    if (::getsockname(fd, reinterpret_cast<sockaddr *>(&storage), &length) != 0) {
        passed.problem = QStringLiteral("getsockname: %1").arg(errnoText(errno));
        return passed;
    }
    if (domain == AF_UNIX) {
        const auto *un = reinterpret_cast<const sockaddr_un *>(&storage);
        const size_t pathBytes = length > offsetof(sockaddr_un, sun_path) ? length - offsetof(sockaddr_un, sun_path) : 0;
        passed.address.kind = ListenAddress::Kind::Unix;
        if (pathBytes == 0 || un->sun_path[0] == '\0') {
            passed.problem = QStringLiteral("an unnamed or abstract Unix socket (the broker listens on paths only)");
            return passed;
        }
        passed.address.path = QFile::decodeName(QByteArray(un->sun_path, qsizetype(strnlen(un->sun_path, pathBytes))));
    } else {
        const QHostAddress host(reinterpret_cast<const sockaddr *>(&storage));
        passed.address.kind = ListenAddress::Kind::Tcp;
        passed.address.host = host.toString();
        passed.address.port = domain == AF_INET6 ? ntohs(reinterpret_cast<const sockaddr_in6 *>(&storage)->sin6_port)
                                                 : ntohs(reinterpret_cast<const sockaddr_in *>(&storage)->sin_port);
        int v6only = 1;
        length = sizeof v6only;
        if (domain == AF_INET6)
            ::getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &length);
        passed.any = host == QHostAddress(QHostAddress::AnyIPv4) || (host == QHostAddress(QHostAddress::AnyIPv6) && !v6only);
    }
    if (!listening) {
        passed.problem = QStringLiteral("not listening (SO_ACCEPTCONN is 0: Accept=yes units pass connections, not listeners)");
        return passed;
    }
    passed.usable = true;
    return passed;
}

QString SocketActivation::describe(const Passed &passed)
{
    QString text = QStringLiteral("descriptor %1").arg(passed.fd);
    if (!passed.name.isEmpty())
        text += QStringLiteral(" (\"%1\")").arg(QString::fromUtf8(passed.name));
    if (!passed.address.path.isEmpty() || !passed.address.host.isEmpty())
        text += QStringLiteral(" on ") + passed.address.toString();
    return text;
}

int SocketActivation::take(const ListenAddress &address)
{
    for (Passed &passed : m_passed) {
        if (passed.fd < 0 || !passed.usable || passed.address.kind != address.kind)
            continue;
        bool match = false;
        if (address.kind == ListenAddress::Kind::Unix) {
            match = QDir::cleanPath(QFileInfo(address.path).absoluteFilePath()) == passed.address.path;
        } else if (address.port == passed.address.port) {
            if (address.host == QLatin1String("*"))
                match = passed.any;
            else if (address.host == QLatin1String("localhost"))
                match = QHostAddress(passed.address.host).isEqual(QHostAddress(QHostAddress::LocalHost),
                                                                   QHostAddress::TolerantConversion);
            else
                match = QHostAddress(passed.address.host).isEqual(QHostAddress(address.host), QHostAddress::TolerantConversion);
        }
        if (!match)
            continue;
        const int fd = passed.fd;
        passed.fd = -1;
        qCInfo(lcSystemd).noquote() << "listening on" << address.toString() << "with the socket systemd passed"
                                    << QStringLiteral("(descriptor %1)").arg(fd);
        return fd;
    }
    return -1;
}

int SocketActivation::closeUnclaimed()
{
    int closed = 0;
    for (Passed &passed : m_passed) {
        if (passed.fd < 0)
            continue;
        if (passed.usable)
            qCCritical(lcSystemd).noquote()
                << "systemd passed" << describe(passed)
                << "but no configured listener is at that address: closed (make the .socket unit's ListenStream= match "
                   "the broker's listen addresses)";
        else
            qCCritical(lcSystemd).noquote() << "closing" << describe(passed) << "passed by systemd:" << passed.problem;
        ::close(passed.fd);
        passed.fd = -1;
        ++closed;
    }
    return closed;
}

} // namespace Kennel
