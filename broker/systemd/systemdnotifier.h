// The broker's side of systemd's notification protocol (sd_notify(3)): readiness once the
// listeners are up, status lines, STOPPING on a graceful stop, and WATCHDOG=1 keep-alives.
//
// Implemented on a bare AF_UNIX datagram socket instead of libsystemd, which is not on a base
// install of the boards Kennel runs on: the protocol is one datagram of "KEY=VALUE" lines sent to
// the socket named by $NOTIFY_SOCKET. Nothing here is fatal: a broker started by hand, by another
// init system or under a manager that stopped listening runs exactly as it would without it.
//
// The watchdog keep-alive comes from a QTimer on the broker's one event loop, never from a
// thread: if the loop hangs the feeds stop and systemd restarts the broker — the same contract
// the broker imposes on its own clients.
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QObject>
#include <QString>
#include <QTimer>

#include <chrono>

#include <sys/socket.h>
#include <sys/un.h>

namespace Kennel {

class SystemdNotifier : public QObject
{
    Q_OBJECT
public:
    // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID once; later changes to the environment
    // have no effect on this object. The variables are left in the environment: the supervisor
    // strips them from the services it starts.
    explicit SystemdNotifier(QObject *parent = nullptr);
    ~SystemdNotifier() override;

    // NOTIFY_SOCKET is set, names an address this implementation can use, and a socket is open.
    bool isEnabled() const { return m_fd >= 0; }
    // WATCHDOG_USEC, or 0 when the systemd watchdog is off, when WATCHDOG_PID names another
    // process, or when notifications are disabled (a watchdog that cannot be fed is no watchdog).
    std::chrono::microseconds watchdogInterval() const { return m_watchdogInterval; }

    // "READY=1\nSTATUS=<status>\nMAINPID=<pid>" (no STATUS line for an empty status).
    void notifyReady(const QString &status);
    // "STOPPING=1"
    void notifyStopping();
    // "RELOADING=1\nMONOTONIC_USEC=<now>" (systemd 253 wants the timestamp; older ones ignore it)
    void notifyReloading();
    // "STATUS=<status>"
    void notifyStatus(const QString &status);

    // Sends WATCHDOG=1 now and then every half watchdogInterval() from this thread's event loop.
    // Does nothing when watchdogInterval() is 0.
    void startWatchdog();
    void stopWatchdog();
    bool isWatchdogRunning() const { return m_watchdogTimer.isActive(); }

    // Sends `state` as one datagram, as is. False when disabled, when `state` is larger than
    // systemd reads (MaxDatagramBytes) or when the kernel refuses it (logged once per run of
    // failures; never blocks).
    bool send(QByteArrayView state);

    // systemd reads at most this much of a notification (NOTIFY_BUFFER_MAX, PIPE_BUF on Linux).
    static constexpr qsizetype MaxDatagramBytes = 4096;
    // A STATUS value is cut to this many characters: it is one line in `systemctl status`.
    static constexpr qsizetype MaxStatusChars = 512;

private:
    void openSocket(const QByteArray &address);
    void readWatchdogSettings();
    static QByteArray statusLine(const QString &status);

    int m_fd = -1;
    sockaddr_un m_address{};
    socklen_t m_addressLength = 0;
    QByteArray m_addressText; // $NOTIFY_SOCKET as given, for log lines
    std::chrono::microseconds m_watchdogInterval{0};
    QTimer m_watchdogTimer;
    // Failure logging: the first failure of a run is logged, the rest counted until one succeeds.
    bool m_failing = false;
    quint64 m_failedSends = 0;
};

} // namespace Kennel
