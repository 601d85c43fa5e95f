// Every setting of the broker in one place, with its built-in default. Loaded from an INI file and
// the command line by ConfigLoader; docs/CONFIG.md lists each key.
#pragma once

#include <QList>
#include <QString>

#include <chrono>
#include <cstdint>

namespace Kennel {

// One place the broker listens: "HOST:PORT" (TCP; HOST may be an IPv4 or [IPv6] literal or
// "localhost") or "unix:PATH".
struct ListenAddress
{
    enum class Kind { Tcp, Unix };
    Kind kind = Kind::Tcp;
    QString host;       // Tcp
    quint16 port = 0;   // Tcp; 0 picks a free port (tests)
    QString path;       // Unix

    QString toString() const;
    bool operator==(const ListenAddress &other) const;
};

struct BrokerConfig
{
    QList<ListenAddress> listen; // empty after loading means: the defaults below

    // Limits, enforced at the door (docs/CONFIG.md "limits").
    int maxClients = 4096;                       // connections, registered or not
    quint32 maxFrameSize = 1024 * 1024;          // native header + body, bytes
    int maxNameLength = 64;                      // 1..64
    qint64 maxOutputQueueBytes = 4 * 1024 * 1024;// per connection, bytes queued towards it
    std::chrono::milliseconds registerTimeout{5000};   // accept -> registered (or legacy first frame)
    std::chrono::milliseconds shutdownFlushTimeout{2000};// SIGTERM: how long to flush queued output

    // Logging: the per-message path logs only when asked.
    bool logTraffic = false;

    static ListenAddress defaultTcpAddress();   // 127.0.0.1:8000
    static ListenAddress defaultUnixAddress();  // unix:$XDG_RUNTIME_DIR/kennel/broker.sock, or
                                                // /run/kennel/broker.sock as root, or /tmp/kennel-UID/broker.sock
    QList<ListenAddress> effectiveListen() const;
};

} // namespace Kennel
