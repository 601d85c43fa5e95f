// The broker's side of systemd's socket activation (sd_listen_fds(3)): listening sockets systemd
// opened from kennel-broker.socket and passed as descriptors 3, 4, ... They outlive the broker's
// process, so a client connecting while the broker restarts waits in the listen backlog instead of
// being refused (docs/SYSTEMD.md, "Socket activation").
//
// Implemented from the documented protocol instead of libsystemd, for the reason SystemdNotifier
// gives (libsystemd is not on a base install of the boards): LISTEN_PID must be this process,
// LISTEN_FDS says how many descriptors follow 2, LISTEN_FDNAMES names them, colon-separated.
//
// Matching: by the socket's own address (getsockname), not by its name. FileDescriptorName= is a
// setting of the whole .socket unit, so every ListenStream= of one unit carries the same name and
// the names cannot tell the Unix socket from the TCP one; the address can, and it is what the
// config names anyway. Names are logged, nothing more. Each passed descriptor must be a listening
// (SO_ACCEPTCONN) stream socket of AF_UNIX, AF_INET or AF_INET6; one that is not, or that no
// configured listener claims, is logged as an error and closed (the broker still starts and opens
// the listeners nothing was passed for itself).
#pragma once

#include "brokerconfig.h"

#include <QByteArray>
#include <QList>
#include <QString>

#include <sys/socket.h>

namespace Kennel {

class SocketActivation
{
public:
    struct Passed
    {
        int fd = -1;
        QByteArray name;       // from LISTEN_FDNAMES; empty when not given
        ListenAddress address; // what getsockname() says; Unix: absolute path; Tcp: numeric host
        bool any = false;      // Tcp: bound to the wildcard (0.0.0.0, or :: also taking IPv4)
        bool usable = false;   // a listening stream socket of a family the broker serves
        QString problem;       // why not usable
    };

    SocketActivation() = default;
    ~SocketActivation(); // closes what nobody took
    SocketActivation(const SocketActivation &) = delete;
    SocketActivation &operator=(const SocketActivation &) = delete;
    SocketActivation(SocketActivation &&other) noexcept;
    SocketActivation &operator=(SocketActivation &&other) = delete;

    // Reads LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES, then unsets them (a program the broker
    // starts must not believe the sockets are its own). Descriptors for another PID are left
    // alone. Every passed descriptor is made close-on-exec and non-blocking.
    static SocketActivation fromEnvironment();

    bool isEmpty() const { return m_passed.isEmpty(); }
    const QList<Passed> &passed() const { return m_passed; }

    // The passed, usable descriptor listening on `address` (Tcp: "localhost" is 127.0.0.1, "*"
    // the wildcard), which the caller then owns; -1 if there is none.
    int take(const ListenAddress &address);
    // Logs an error for each descriptor not taken and closes it; how many there were.
    int closeUnclaimed();

    static constexpr int FirstDescriptor = 3; // SD_LISTEN_FDS_START
    // More than a board's broker could ever be given; a bigger LISTEN_FDS is refused as garbage.
    static constexpr int MaxDescriptors = 64;

private:
    static Passed inspect(int fd, const QByteArray &name);
    static QString describe(const Passed &passed);
    QList<Passed> m_passed;
};

} // namespace Kennel
