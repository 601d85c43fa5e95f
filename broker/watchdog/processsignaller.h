// Sends SIGTERM/SIGKILL to exactly one process instance, the one the kernel named as a client's
// owner (PeerProcess), and reports every step. The watchdog acts on a PID it found earlier; by the
// time it acts that process may have exited and its PID been given to something else, so a PID on
// its own is never signalled.
//
// Identity: a pidfd (pidfd_open, Linux >= 5.3) is opened first and the start time is compared
// after that: the pidfd pins the process, so a match proves the pidfd refers to the instance the
// caller meant; then the caller's HolderCheck (does it still hold the watched connection?) is
// asked, and only then is the signal sent through that pidfd (pidfd_send_signal). Where the kernel
// lacks pidfd_open (ENOSYS) the start time is checked immediately before kill(2). That leaves a
// small race, which the detail string reports: if the process exits, is reaped and its PID reused
// between the check and the kill, the newcomer gets the signal. Other pidfd_open errors (EMFILE,
// ...) are Failed, never a fallback to the racy path.
//
// Exit detection: the pidfd becomes readable when the process exits (a zombie counts as exited), so
// a QSocketNotifier on it reports Exited without polling and without reaping: the process may be a
// child of the broker (a supervised service) whose QProcess must still collect its status. Nothing
// here calls wait*(). Without a pidfd, exit is checked by timer at growing intervals (10 ms
// doubling to 250 ms), a process that is gone, reused or a zombie ('Z' in /proc/PID/stat) counting
// as exited.
//
// After SIGKILL the exit is waited for at most KillExitTimeout (10 s); a process that outlives it
// (stuck in uninterruptible sleep, e.g. on a dead NFS server) is reported Failed "did not exit after
// SIGKILL" and no longer tracked.
//
// Descriptors: each pending operation holds a pidfd; they are counted in heldDescriptors()
// (socketlistener.h) so that the listener stops accepting earlier and the descriptor reserve for
// identity lookups and the next signal stays free.
//
// One operation per key: terminate() for a key that has one pending is ignored with a log line;
// kill() for a key whose terminate() is still waiting out its grace sends SIGKILL at once (same
// process instance only), otherwise it is ignored with a log line too.
//
// outcome() is emitted synchronously, also from inside terminate()/kill(). Slots may call
// terminate()/kill() again; they must not delete the signaller directly (use deleteLater()).
#pragma once

#include "peerprocess.h"

#include <QObject>
#include <QString>

#include <chrono>
#include <functional>
#include <unordered_map>

class QSocketNotifier;
class QTimer;

namespace Kennel {

class ProcessSignaller : public QObject
{
    Q_OBJECT

public:
    enum class Outcome : quint8 {
        TermSent,    // SIGTERM delivered; waiting up to killGrace for the exit
        KillSent,    // SIGKILL delivered (at once, or after killGrace ran out)
        Exited,      // the process is gone after our signal (final)
        AlreadyGone, // it had exited (or its PID now belongs to another process) before we signalled (final)
        Refused,     // a protected PID (0, 1, negative, the broker, its parent), or the process no
                     // longer holds what it was watched for (final)
        Failed,      // the kernel refused (EPERM, ...) — detail has strerror (final)
    };
    Q_ENUM(Outcome)

    // Bounds: killGrace is clamped to [0, MaxKillGrace]; at most MaxPending operations wait at
    // once (each holds a pidfd), beyond that a request is Failed rather than risking the broker's
    // descriptor budget.
    static constexpr std::chrono::milliseconds MaxKillGrace{24 * 3600 * 1000};
    static constexpr std::chrono::milliseconds KillExitTimeout{10000};
    static constexpr int MaxPending = 1024;

    // "term-sent", "kill-sent", "exited", "already-gone", "refused", "failed".
    static const char *outcomeName(Outcome outcome);

    explicit ProcessSignaller(QObject *parent = nullptr);
    // Drops pending escalations and closes their pidfds; never signals from the destructor.
    ~ProcessSignaller() override;

    // Asked after the pidfd pins the instance and its start time matched, immediately before the
    // first signal: does that instance still hold what it was watched for (its connection)? If
    // not, nothing is sent and the outcome is Refused with *why.
    using HolderCheck = std::function<bool(QString *why)>;

    // SIGTERM, then SIGKILL after killGrace if the same process instance is still there.
    void terminate(quint64 key, const PeerProcess &process, std::chrono::milliseconds killGrace, HolderCheck check = {});
    // SIGKILL at once.
    void kill(quint64 key, const PeerProcess &process, HolderCheck check = {});

    bool isPending(quint64 key) const; // an escalation or exit wait is in progress for key
    int pendingCount() const;

signals:
    // Every step, in order: e.g. TermSent, then Exited; or TermSent, KillSent, Exited; or Refused.
    void outcome(quint64 key, qint64 pid, Kennel::ProcessSignaller::Outcome outcome, const QString &detail);

private:
    enum class Phase : quint8 { AwaitTermExit, AwaitKillExit };
    struct Pending
    {
        quint64 serial = 0; // tells this operation's callbacks from a later one's for the same key
        PeerProcess process;
        Phase phase = Phase::AwaitTermExit;
        int pidfd = -1; // -1: the kill(2) fallback
        QSocketNotifier *exitNotifier = nullptr;
        QTimer *timer = nullptr;
        std::chrono::steady_clock::time_point deadline; // escalation, or giving up after SIGKILL
        std::chrono::milliseconds checkInterval{0};     // fallback only: next exit check
    };

    void start(quint64 key, const PeerProcess &process, int signal, std::chrono::milliseconds killGrace,
               const HolderCheck &check);
    void escalate(quint64 key, Pending &pending, const QString &why);
    void processExited(quint64 key, quint64 serial);
    void timerFired(quint64 key, quint64 serial);
    void armTimer(Pending &pending);
    void finish(quint64 key, Outcome outcome, const QString &detail);
    void report(quint64 key, pid_t pid, Outcome outcome, const QString &detail);
    static bool hasExited(const Pending &pending);
    static void release(Pending &pending, bool fromDestructor);

    // unordered_map: references stay valid while a slot starts operations for other keys.
    std::unordered_map<quint64, Pending> m_pending;
    quint64 m_nextSerial = 0;
};

namespace detail {
// For tests: on a current kernel pidfd_open always works, so without this the kill(2) fallback for
// kernels before 5.3 would go untested. Disabled, pidfd_open is treated as ENOSYS. Enabled by default.
void setPidfdEnabled(bool enabled);
} // namespace detail

} // namespace Kennel
