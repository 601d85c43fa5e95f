// ProcessSignaller: see the header for the identity rules (pidfd, or start time before kill(2)),
// the exit detection and the bounds.
#include "errnotext.h"
#include "processsignaller.h"

#include "descriptorreserve.h"
#include "logging.h"

#include <QSocketNotifier>
#include <QTimer>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

// The pidfd calls came after the headers of some toolchains. Their numbers are the same on every
// architecture that uses the unified syscall table (all Linux ports but alpha, which Kennel does not
// target); a wrong number would fail with ENOSYS and take the fallback, not call something else.
#ifndef SYS_pidfd_send_signal
#    define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_open
#    define SYS_pidfd_open 434
#endif

namespace Kennel {

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

std::atomic<bool> pidfdEnabled{true};

// Fallback exit checks: quick at first (most processes die at once), then no more than 4 per second.
constexpr milliseconds FirstCheck{10};
constexpr milliseconds MaxCheck{250};


const char *signalName(int signal)
{
    return signal == SIGKILL ? "SIGKILL" : "SIGTERM";
}

// The pidfd refers to the process, not to the PID, and is close-on-exec by definition
// (pidfd_open(2)), so a supervised service started later cannot inherit it.
int openPidfd(pid_t pid)
{
    if (!pidfdEnabled.load(std::memory_order_relaxed)) {
        errno = ENOSYS;
        return -1;
    }
    return int(::syscall(SYS_pidfd_open, pid, 0));
}

int sendViaPidfd(int pidfd, int signal)
{
    return int(::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
}

// A pidfd polls readable once its process has exited (zombie or reaped); a zero timeout never blocks.
bool pidfdExited(int pidfd)
{
    pollfd p{pidfd, POLLIN, 0};
    int n;
    do {
        n = ::poll(&p, 1, 0);
    } while (n < 0 && errno == EINTR);
    return n > 0 && (p.revents & (POLLIN | POLLHUP)) != 0;
}

void closeFd(int &fd)
{
    if (fd >= 0)
        ::close(fd);
    fd = -1;
}

// The state letter of /proc/PID/stat (field 3, after the last ')': comm may contain anything),
// or 0 if the file cannot be read.
char processState(pid_t pid)
{
    char path[32];
    std::snprintf(path, sizeof path, "/proc/%d/stat", int(pid));
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    // comm is at most 64 bytes, so the state is well within the first 256.
    char buf[256];
    ssize_t n;
    do {
        n = ::read(fd, buf, sizeof buf);
    } while (n < 0 && errno == EINTR);
    ::close(fd);
    if (n <= 0)
        return 0;
    const char *close = static_cast<const char *>(memrchr(buf, ')', size_t(n)));
    if (!close || close + 2 >= buf + n)
        return 0;
    return close[2];
}

// Where the kernel has no pidfd_open: what /proc says about the instance right now.
enum class Presence { Alive, Gone, Unknown };

Presence fallbackPresence(const PeerProcess &process, QString &why)
{
    // State first, start time second: if the start time then matches, the PID was this instance's
    // all along (an instance holds its PID for one unbroken span), so the state was its state too.
    const char state = processState(process.pid);
    const std::optional<quint64> start = processStartTime(process.pid);
    if (start) {
        if (*start != process.startTime) {
            why = QStringLiteral("PID reused (start time %1, expected %2)").arg(*start).arg(process.startTime);
            return Presence::Gone;
        }
        if (state == 'Z') {
            why = QStringLiteral("exited (zombie, not yet reaped)");
            return Presence::Gone;
        }
        return Presence::Alive;
    }
    // Signal 0 only asks whether the PID exists; it tells "gone" from "/proc unreadable".
    if (::kill(process.pid, 0) != 0 && errno == ESRCH) {
        why = QStringLiteral("no such process");
        return Presence::Gone;
    }
    why = QStringLiteral("cannot read /proc/%1/stat to verify the process instance").arg(process.pid);
    return Presence::Unknown;
}

QString fallbackNote()
{
    return QStringLiteral("with kill(2) after a start-time check (kernel lacks pidfd_open: a PID reused in between would be hit)");
}

} // namespace

const char *ProcessSignaller::outcomeName(Outcome outcome)
{
    switch (outcome) {
    case Outcome::TermSent:
        return "term-sent";
    case Outcome::KillSent:
        return "kill-sent";
    case Outcome::Exited:
        return "exited";
    case Outcome::AlreadyGone:
        return "already-gone";
    case Outcome::Refused:
        return "refused";
    case Outcome::Failed:
        return "failed";
    }
    return "unknown";
}

ProcessSignaller::ProcessSignaller(QObject *parent) : QObject(parent) {}

ProcessSignaller::~ProcessSignaller()
{
    if (!m_pending.empty())
        qCInfo(lcWatchdog, "dropping %zu pending signal operations without further signals", m_pending.size());
    for (auto &entry : m_pending)
        release(entry.second, true);
}

void ProcessSignaller::terminate(quint64 key, const PeerProcess &process, milliseconds killGrace, HolderCheck check)
{
    const auto it = m_pending.find(key);
    if (it != m_pending.end()) {
        qCInfo(lcWatchdog, "key %llu pid %lld: terminate ignored, pid %lld is already being signalled",
               static_cast<unsigned long long>(key), qint64(process.pid), qint64(it->second.process.pid));
        return;
    }
    start(key, process, SIGTERM, std::clamp(killGrace, milliseconds(0), MaxKillGrace), check);
}

void ProcessSignaller::kill(quint64 key, const PeerProcess &process, HolderCheck check)
{
    const auto it = m_pending.find(key);
    if (it == m_pending.end()) {
        start(key, process, SIGKILL, milliseconds(0), check);
        return;
    }
    Pending &pending = it->second;
    // Escalating is only for the instance already pinned; another process under the same key is
    // a caller's mistake, and signalling it on the strength of this key would be a guess.
    if (pending.phase == Phase::AwaitTermExit && pending.process.pid == process.pid
        && pending.process.startTime == process.startTime) {
        escalate(key, pending, QStringLiteral("kill requested while waiting for the SIGTERM exit"));
        return;
    }
    qCInfo(lcWatchdog, "key %llu pid %lld: kill ignored, pid %lld is already being signalled%s",
           static_cast<unsigned long long>(key), qint64(process.pid), qint64(pending.process.pid),
           pending.phase == Phase::AwaitKillExit ? " (SIGKILL already sent)" : " (a different process instance)");
}

bool ProcessSignaller::isPending(quint64 key) const
{
    return m_pending.count(key) != 0;
}

int ProcessSignaller::pendingCount() const
{
    return int(m_pending.size());
}

void ProcessSignaller::start(quint64 key, const PeerProcess &process, int signal, milliseconds killGrace,
                             const HolderCheck &check)
{
    const pid_t pid = process.pid;
    // Before anything else: kill(2) with 0 or a negative PID addresses process groups or every
    // process, and these three must survive whatever a client manages to make us believe.
    if (pid <= 0) {
        report(key, pid, Outcome::Refused, QStringLiteral("not a single process ID"));
        return;
    }
    if (pid == 1) {
        report(key, pid, Outcome::Refused, QStringLiteral("PID 1 (init) is never signalled"));
        return;
    }
    if (pid == ::getpid()) {
        report(key, pid, Outcome::Refused, QStringLiteral("the broker itself is never signalled"));
        return;
    }
    if (pid == ::getppid()) {
        report(key, pid, Outcome::Refused, QStringLiteral("the broker's parent is never signalled"));
        return;
    }
    if (m_pending.size() >= size_t(MaxPending)) {
        report(key, pid, Outcome::Failed,
               QStringLiteral("%1 signal operations already in progress (the limit)").arg(MaxPending));
        return;
    }

    int pidfd = openPidfd(pid);
    if (pidfd >= 0) {
        if (pidfdExited(pidfd)) {
            closeFd(pidfd);
            report(key, pid, Outcome::AlreadyGone, QStringLiteral("exited (not yet reaped) before the signal"));
            return;
        }
        // The pidfd now pins the instance, so this comparison holds for everything sent through it.
        const std::optional<quint64> start = processStartTime(pid);
        if (!start || *start != process.startTime) {
            const bool gone = pidfdExited(pidfd);
            closeFd(pidfd);
            if (start)
                report(key, pid, Outcome::AlreadyGone,
                       QStringLiteral("PID reused (start time %1, expected %2)").arg(*start).arg(process.startTime));
            else if (gone)
                report(key, pid, Outcome::AlreadyGone, QStringLiteral("exited before the signal"));
            else
                report(key, pid, Outcome::Failed,
                       QStringLiteral("cannot read /proc/%1/stat to verify the process instance").arg(pid));
            return;
        }
        if (QString why; check && !check(&why)) {
            closeFd(pidfd);
            report(key, pid, Outcome::Refused, QStringLiteral("not signalled: ") + why);
            return;
        }
        if (sendViaPidfd(pidfd, signal) != 0) {
            const int error = errno;
            closeFd(pidfd);
            if (error == ESRCH)
                report(key, pid, Outcome::AlreadyGone, QStringLiteral("exited before the signal"));
            else
                report(key, pid, Outcome::Failed,
                       QStringLiteral("pidfd_send_signal(%1): ").arg(QLatin1String(signalName(signal))) + errnoText(error));
            return;
        }
    } else {
        const int error = errno;
        if (error == ESRCH) {
            report(key, pid, Outcome::AlreadyGone, QStringLiteral("no such process"));
            return;
        }
        if (error != ENOSYS) {
            report(key, pid, Outcome::Failed, QStringLiteral("pidfd_open: ") + errnoText(error));
            return;
        }
        QString why;
        switch (fallbackPresence(process, why)) {
        case Presence::Gone:
            report(key, pid, Outcome::AlreadyGone, why);
            return;
        case Presence::Unknown:
            report(key, pid, Outcome::Failed, why);
            return;
        case Presence::Alive:
            break;
        }
        if (QString notHeld; check && !check(&notHeld)) {
            report(key, pid, Outcome::Refused, QStringLiteral("not signalled: ") + notHeld);
            return;
        }
        if (::kill(pid, signal) != 0) {
            const int killError = errno;
            if (killError == ESRCH)
                report(key, pid, Outcome::AlreadyGone, QStringLiteral("exited before the signal"));
            else
                report(key, pid, Outcome::Failed,
                       QStringLiteral("kill(%1): ").arg(QLatin1String(signalName(signal))) + errnoText(killError));
            return;
        }
    }

    Pending pending;
    pending.serial = ++m_nextSerial;
    pending.process = process;
    pending.phase = signal == SIGTERM ? Phase::AwaitTermExit : Phase::AwaitKillExit;
    pending.pidfd = pidfd;
    pending.deadline = Clock::now() + (signal == SIGTERM ? killGrace : KillExitTimeout);
    pending.checkInterval = pidfd >= 0 ? milliseconds(0) : FirstCheck;
    const quint64 serial = pending.serial;
    pending.timer = new QTimer(this);
    pending.timer->setSingleShot(true);
    // Precise: "killed within killGrace" is a promise of the issue, and only a handful of these run.
    pending.timer->setTimerType(Qt::PreciseTimer);
    connect(pending.timer, &QTimer::timeout, this, [this, key, serial] { timerFired(key, serial); });
    if (pidfd >= 0) {
        pending.exitNotifier = new QSocketNotifier(pidfd, QSocketNotifier::Read, this);
        connect(pending.exitNotifier, &QSocketNotifier::activated, this,
                [this, key, serial] { processExited(key, serial); });
    }
    if (pidfd >= 0)
        ++heldDescriptors();
    Pending &stored = m_pending.emplace(key, pending).first->second;
    armTimer(stored);

    const QString how = pidfd >= 0 ? QStringLiteral("via pidfd") : fallbackNote();
    if (signal == SIGTERM)
        report(key, pid, Outcome::TermSent,
               QStringLiteral("SIGTERM sent %1; SIGKILL in %2 ms if it has not exited").arg(how).arg(killGrace.count()));
    else
        report(key, pid, Outcome::KillSent,
               QStringLiteral("SIGKILL sent %1; waiting up to %2 ms for the exit").arg(how).arg(KillExitTimeout.count()));
}

void ProcessSignaller::escalate(quint64 key, Pending &pending, const QString &why)
{
    const pid_t pid = pending.process.pid;
    if (hasExited(pending)) {
        finish(key, Outcome::Exited, QStringLiteral("exited after SIGTERM"));
        return;
    }
    if (pending.pidfd >= 0) {
        if (sendViaPidfd(pending.pidfd, SIGKILL) != 0) {
            const int error = errno;
            if (error == ESRCH)
                finish(key, Outcome::Exited, QStringLiteral("exited after SIGTERM"));
            else
                finish(key, Outcome::Failed, QStringLiteral("pidfd_send_signal(SIGKILL): ") + errnoText(error));
            return;
        }
    } else {
        QString gone;
        switch (fallbackPresence(pending.process, gone)) {
        case Presence::Gone:
            finish(key, Outcome::Exited, QStringLiteral("exited after SIGTERM: ") + gone);
            return;
        case Presence::Unknown:
            finish(key, Outcome::Failed, gone);
            return;
        case Presence::Alive:
            break;
        }
        if (::kill(pid, SIGKILL) != 0) {
            const int error = errno;
            if (error == ESRCH)
                finish(key, Outcome::Exited, QStringLiteral("exited after SIGTERM"));
            else
                finish(key, Outcome::Failed, QStringLiteral("kill(SIGKILL): ") + errnoText(error));
            return;
        }
    }
    pending.phase = Phase::AwaitKillExit;
    pending.deadline = Clock::now() + KillExitTimeout;
    if (pending.pidfd < 0)
        pending.checkInterval = FirstCheck;
    armTimer(pending);
    const QString how = pending.pidfd >= 0 ? QStringLiteral("via pidfd") : fallbackNote();
    report(key, pid, Outcome::KillSent,
           QStringLiteral("SIGKILL sent %1, %2; waiting up to %3 ms for the exit").arg(how, why).arg(KillExitTimeout.count()));
}

void ProcessSignaller::processExited(quint64 key, quint64 serial)
{
    const auto it = m_pending.find(key);
    if (it == m_pending.end() || it->second.serial != serial)
        return;
    finish(key, Outcome::Exited,
           it->second.phase == Phase::AwaitTermExit ? QStringLiteral("exited after SIGTERM")
                                                     : QStringLiteral("exited after SIGKILL"));
}

void ProcessSignaller::timerFired(quint64 key, quint64 serial)
{
    const auto it = m_pending.find(key);
    if (it == m_pending.end() || it->second.serial != serial)
        return;
    Pending &pending = it->second;
    // With a pidfd the notifier normally reports the exit first; checking here as well closes the
    // gap where the exit and the deadline land in the same event loop pass.
    if (hasExited(pending)) {
        processExited(key, serial);
        return;
    }
    if (Clock::now() < pending.deadline) {
        pending.checkInterval = std::min(pending.checkInterval * 2, MaxCheck);
        armTimer(pending);
        return;
    }
    if (pending.phase == Phase::AwaitTermExit) {
        escalate(key, pending, QStringLiteral("the kill grace ran out"));
        return;
    }
    finish(key, Outcome::Failed,
           QStringLiteral("did not exit within %1 ms after SIGKILL; no longer tracked").arg(KillExitTimeout.count()));
}

void ProcessSignaller::armTimer(Pending &pending)
{
    const auto remaining = std::max(milliseconds(0), std::chrono::ceil<milliseconds>(pending.deadline - Clock::now()));
    const milliseconds wait = pending.checkInterval > milliseconds(0) ? std::min(pending.checkInterval, remaining) : remaining;
    pending.timer->start(wait);
}

bool ProcessSignaller::hasExited(const Pending &pending)
{
    if (pending.pidfd >= 0)
        return pidfdExited(pending.pidfd);
    QString why;
    return fallbackPresence(pending.process, why) == Presence::Gone;
}

void ProcessSignaller::finish(quint64 key, Outcome outcome, const QString &detail)
{
    const auto it = m_pending.find(key);
    if (it == m_pending.end())
        return;
    Pending pending = it->second;
    m_pending.erase(it);
    release(pending, false);
    // Last: a slot may start a new operation for this key.
    report(key, pending.process.pid, outcome, detail);
}

void ProcessSignaller::report(quint64 key, pid_t pid, Outcome outcome, const QString &detail)
{
    // Debug only: the caller knows whom the key stands for and logs the outcome under that name.
    qCDebug(lcWatchdog, "key %llu pid %lld: %s: %s", static_cast<unsigned long long>(key), qint64(pid),
            outcomeName(outcome), qUtf8Printable(detail));
    Q_EMIT this->outcome(key, qint64(pid), outcome, detail);
}

void ProcessSignaller::release(Pending &pending, bool fromDestructor)
{
    // The notifier must let go of the descriptor before it is closed. Outside the destructor we
    // may be inside the notifier's or the timer's own signal, so they go later.
    if (pending.exitNotifier) {
        pending.exitNotifier->setEnabled(false);
        if (fromDestructor)
            delete pending.exitNotifier;
        else
            pending.exitNotifier->deleteLater();
        pending.exitNotifier = nullptr;
    }
    if (pending.timer) {
        pending.timer->stop();
        if (fromDestructor)
            delete pending.timer;
        else
            pending.timer->deleteLater();
        pending.timer = nullptr;
    }
    if (pending.pidfd >= 0)
        --heldDescriptors();
    closeFd(pending.pidfd);
}

void detail::setPidfdEnabled(bool enabled)
{
    pidfdEnabled.store(enabled, std::memory_order_relaxed);
}

} // namespace Kennel
