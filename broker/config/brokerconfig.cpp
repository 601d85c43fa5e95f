#include "brokerconfig.h"

#include <QDir>

#include <unistd.h>

namespace Kennel {

QString ListenAddress::toString() const
{
    if (kind == Kind::Unix)
        return QStringLiteral("unix:") + path;
    // A colon in the host can only be IPv6, which needs brackets to keep the port readable.
    if (host.contains(QLatin1Char(':')))
        return QLatin1Char('[') + host + QStringLiteral("]:") + QString::number(port);
    return host + QLatin1Char(':') + QString::number(port);
}

bool ListenAddress::operator==(const ListenAddress &other) const
{
    // Only the fields that belong to the kind take part: a Unix address with a stale port is
    // still the same socket.
    if (kind != other.kind)
        return false;
    if (kind == Kind::Unix)
        return path == other.path;
    return host == other.host && port == other.port;
}

ListenAddress BrokerConfig::defaultTcpAddress()
{
    ListenAddress address;
    address.kind = ListenAddress::Kind::Tcp;
    address.host = QStringLiteral("127.0.0.1");
    address.port = 8000;
    return address;
}

ListenAddress BrokerConfig::defaultUnixAddress()
{
    ListenAddress address;
    address.kind = ListenAddress::Kind::Unix;

    // The XDG base directory spec says a relative XDG_RUNTIME_DIR is invalid and must be ignored.
    const QString runtimeDir = qEnvironmentVariable("XDG_RUNTIME_DIR");
    if (!runtimeDir.isEmpty() && QDir::isAbsolutePath(runtimeDir)) {
        address.path = QDir::cleanPath(runtimeDir + QStringLiteral("/kennel/broker.sock"));
        return address;
    }
    const uid_t uid = ::geteuid();
    if (uid == 0) {
        address.path = QStringLiteral("/run/kennel/broker.sock");
        return address;
    }
    // Per-user directory: two users on one device must not fight over one socket.
    address.path = QStringLiteral("/tmp/kennel-") + QString::number(uid) + QStringLiteral("/broker.sock");
    return address;
}

QList<ListenAddress> BrokerConfig::effectiveListen() const
{
    if (!listen.isEmpty())
        return listen;
    return {defaultTcpAddress(), defaultUnixAddress()};
}

} // namespace Kennel
