// sd_notify(3) without libsystemd: one AF_UNIX datagram per notification. See the header for why.
#include "errnotext.h"
#include "systemdnotifier.h"
#include "logging.h"

#include <QtGlobal>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <limits>
#include <time.h>

#include <unistd.h>

namespace Kennel {

namespace {
// The feed period: half the systemd deadline, as sd_watchdog_enabled(3) recommends, so one late
// timer tick (a long batch, a busy board) does not cost the broker its life.
std::chrono::milliseconds feedPeriod(std::chrono::microseconds interval)
{
    const auto half = std::chrono::duration_cast<std::chrono::milliseconds>(interval / 2);
    // QTimer takes an int of milliseconds; WATCHDOG_USEC is capped well below that when read.
    return qBound(std::chrono::milliseconds(1), half, std::chrono::milliseconds(std::numeric_limits<int>::max()));
}

// A WatchdogSec beyond a day is a configuration mistake, not a plan; it also keeps the feed
// period inside QTimer's int milliseconds.
constexpr std::chrono::microseconds MaxWatchdogInterval = std::chrono::hours(24);
} // namespace

SystemdNotifier::SystemdNotifier(QObject *parent)
    : QObject(parent)
{
    m_watchdogTimer.setTimerType(Qt::PreciseTimer);
    connect(&m_watchdogTimer, &QTimer::timeout, this, [this] { send("WATCHDOG=1"); });

    const QByteArray address = qgetenv("NOTIFY_SOCKET");
    if (address.isEmpty()) {
        qCDebug(lcSystemd, "NOTIFY_SOCKET is not set: not running under systemd's notify protocol");
        return;
    }
    openSocket(address);
    if (!isEnabled())
        return;
    readWatchdogSettings();
    if (m_watchdogInterval.count() > 0)
        qCInfo(lcSystemd, "systemd integration active (NOTIFY_SOCKET=%s); systemd watchdog %lld ms, fed every %lld ms",
               m_addressText.constData(), qint64(m_watchdogInterval.count() / 1000),
               qint64(feedPeriod(m_watchdogInterval).count()));
    else
        qCInfo(lcSystemd, "systemd integration active (NOTIFY_SOCKET=%s); systemd watchdog off",
               m_addressText.constData());
}

SystemdNotifier::~SystemdNotifier()
{
    if (m_fd >= 0)
        ::close(m_fd);
}

void SystemdNotifier::openSocket(const QByteArray &address)
{
    m_addressText = address.left(256);
    // sd_notify(3): an absolute path, or '@' for Linux's abstract namespace. Newer systemd also
    // knows vsock: addresses (for VMs); a board has no use for them.
    const bool abstract = address.startsWith('@');
    if (!abstract && !address.startsWith('/')) {
        qCWarning(lcSystemd, "NOTIFY_SOCKET=%s is neither an absolute path nor an abstract '@' name: "
                             "systemd notifications disabled", m_addressText.constData());
        return;
    }
    // Abstract names are not NUL-terminated; paths are, so they need one byte more.
    const qsizetype room = qsizetype(sizeof(m_address.sun_path)) - (abstract ? 0 : 1);
    if (address.size() > room || address.contains('\0')) {
        qCWarning(lcSystemd, "NOTIFY_SOCKET=%s does not fit a Unix socket address (%zu bytes at most): "
                             "systemd notifications disabled", m_addressText.constData(), size_t(room));
        return;
    }
    m_address.sun_family = AF_UNIX;
    std::memcpy(m_address.sun_path, address.constData(), size_t(address.size()));
    if (abstract)
        m_address.sun_path[0] = '\0';
    m_addressLength = socklen_t(offsetof(sockaddr_un, sun_path) + size_t(address.size()) + (abstract ? 0 : 1));

    // Non-blocking as well as MSG_DONTWAIT per send: a manager that stops reading must never stall
    // the broker's loop.
    m_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (m_fd < 0)
        qCWarning(lcSystemd, "cannot create a socket for systemd notifications: %s; notifications disabled",
                  qPrintable(errnoText(errno)));
}

void SystemdNotifier::readWatchdogSettings()
{
    const QByteArray usecText = qgetenv("WATCHDOG_USEC");
    if (usecText.isEmpty())
        return;
    bool ok = false;
    const qulonglong usec = usecText.toULongLong(&ok);
    if (!ok) {
        qCWarning(lcSystemd, "WATCHDOG_USEC=%s is not a number of microseconds: systemd watchdog not fed",
                  usecText.left(64).constData());
        return;
    }
    if (usec == 0)
        return;
    // sd_watchdog_enabled(3): the watchdog is meant for WATCHDOG_PID only, when that is set.
    const QByteArray pidText = qgetenv("WATCHDOG_PID");
    if (!pidText.isEmpty()) {
        const qlonglong pid = pidText.toLongLong(&ok);
        if (!ok || pid <= 0) {
            qCWarning(lcSystemd, "WATCHDOG_PID=%s is not a process id: systemd watchdog not fed",
                      pidText.left(64).constData());
            return;
        }
        if (pid != qlonglong(::getpid())) {
            qCInfo(lcSystemd, "WATCHDOG_PID=%lld is another process (this is %lld): its watchdog, not ours", pid,
                   qlonglong(::getpid()));
            return;
        }
    }
    const std::chrono::microseconds interval(usec > qulonglong(MaxWatchdogInterval.count()) ? MaxWatchdogInterval.count()
                                                                                            : qint64(usec));
    if (interval.count() < qint64(usec))
        qCWarning(lcSystemd, "WATCHDOG_USEC=%llu is above the supported maximum of %lld s: feeding as if it were that",
                  usec, qint64(std::chrono::duration_cast<std::chrono::seconds>(MaxWatchdogInterval).count()));
    m_watchdogInterval = interval;
}

QByteArray SystemdNotifier::statusLine(const QString &status)
{
    // One STATUS line: a newline would end the assignment and start another (sd_notify(3)).
    QString line = status.left(MaxStatusChars);
    for (QChar &c : line)
        if (c == QLatin1Char('\n') || c == QLatin1Char('\r'))
            c = QLatin1Char(' ');
    return QByteArray("STATUS=") + line.toUtf8();
}

void SystemdNotifier::notifyReady(const QString &status)
{
    QByteArray state("READY=1\n");
    if (!status.isEmpty())
        state += statusLine(status) + '\n';
    // MAINPID tells systemd which process it is talking to even when it could not guess it
    // (e.g. started through a wrapper); with NotifyAccess=main it must be this process anyway.
    state += "MAINPID=" + QByteArray::number(qlonglong(::getpid()));
    send(state);
}

void SystemdNotifier::notifyStopping()
{
    send("STOPPING=1");
}

void SystemdNotifier::notifyReloading()
{
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const quint64 usec = quint64(now.tv_sec) * 1000000u + quint64(now.tv_nsec) / 1000u;
    const QByteArray state = QByteArrayLiteral("RELOADING=1\nMONOTONIC_USEC=") + QByteArray::number(usec);
    send(state);
}

void SystemdNotifier::notifyStatus(const QString &status)
{
    send(statusLine(status));
}

void SystemdNotifier::startWatchdog()
{
    if (m_watchdogInterval.count() == 0)
        return;
    m_watchdogTimer.start(feedPeriod(m_watchdogInterval));
    send("WATCHDOG=1");
}

void SystemdNotifier::stopWatchdog()
{
    m_watchdogTimer.stop();
}

bool SystemdNotifier::send(QByteArrayView state)
{
    if (m_fd < 0)
        return false;
    if (state.isEmpty() || state.size() > MaxDatagramBytes) {
        qCWarning(lcSystemd, "not sending a systemd notification of %lld bytes (1..%lld allowed)", qint64(state.size()),
                  qint64(MaxDatagramBytes));
        return false;
    }
    ssize_t sent;
    do {
        sent = ::sendto(m_fd, state.data(), size_t(state.size()), MSG_DONTWAIT | MSG_NOSIGNAL,
                        reinterpret_cast<const sockaddr *>(&m_address), m_addressLength);
    } while (sent < 0 && errno == EINTR);

    if (sent == ssize_t(state.size())) {
        if (m_failing) {
            qCInfo(lcSystemd, "systemd notifications get through again after %llu failed", m_failedSends);
            m_failing = false;
            m_failedSends = 0;
        }
        return true;
    }
    const int error = sent < 0 ? errno : 0;
    ++m_failedSends;
    if (!m_failing) {
        m_failing = true;
        // Logged once per run of failures: a watchdog feed every few seconds must not flood the log
        // while the manager is away (restarting, or this broker was started by hand with the
        // variable set).
        if (error)
            qCWarning(lcSystemd, "cannot notify systemd at %s: %s; further failures are counted, not logged",
                      m_addressText.constData(), qPrintable(errnoText(error)));
        else
            qCWarning(lcSystemd, "cannot notify systemd at %s: short send (%lld of %lld bytes); further failures are "
                                 "counted, not logged",
                      m_addressText.constData(), qint64(sent), qint64(state.size()));
    }
    return false;
}

} // namespace Kennel
