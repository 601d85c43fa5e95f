// One supervised program ([service.NAME] in the config) and its restart policy: the broker's
// replacement for the old shell script that polled `ps` and restarted whatever was missing
// (docs/LEGACY-PROTOCOL.md, "The old watchdog"). Event-driven: QProcess reports the exit, a single-shot
// timer waits out the backoff; nothing polls and nothing blocks the broker's event loop.
//
// Policy (docs/CONFIG.md [service.NAME])
// - A run is a failure when the program exits with a code other than 0, is killed by a signal,
//   cannot be started at all (QProcess::FailedToStart), or when the broker's watchdog acted on it
//   (noteWatchdogAction()) whatever its exit code. An exit caused by stop() is neither.
// - restart: always (every exit), on-failure (failures only), never.
// - Delay before a restart: restart_delay * 2^(consecutive failures - 1), capped at
//   restart_delay_max; restart_delay after a clean exit (restart = always). The count of
//   consecutive failures starts again after a run that lasted longer than restart_delay_max (the
//   program was up for longer than the longest wait would be), and after a clean exit.
// - Start limit: a start that would be the (start_limit + 1)-th within start_limit_window puts the
//   service in state Failed, where it stays until start(), restart() or Supervisor::retryFailed().
//   Every start counts, FailedToStart included.
// - State Exited: the program ended and the policy does not restart it.
//
// The child: its own process group (a Ctrl-C at the terminal reaches only the broker, which then
// stops services in order), PR_SET_PDEATHSIG SIGTERM (no services outliving a broker killed with
// -9), every signal disposition back to default and an empty signal mask (the broker ignores
// SIGPIPE, and ignored signals survive exec), no systemd variables meant for the broker
// (NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*), plus the service's `environment`, the broker's variables
// (setExtraEnvironment) and KENNEL_SERVICE=<name>. stdin is /dev/null.
//
// Output: stdout and stderr are read as they arrive and logged line by line with lcService as
// "<name>: <line>" (stderr at warning level), lines cut at MaxLineBytes, a last unterminated line
// logged when the program exits.
//
// Stop: stop_signal to the process; after stop_timeout SIGKILL to its whole process group (so
// helpers it started do not linger). The PID is safe to signal: the process is our child and
// QProcess has not reported it finished, so it has not been reaped and its PID cannot be reused.
//
// Leftovers (docs/WATCHDOG.md "Process tracking"): what a service started and left
// behind — helpers in its process group, and daemons that double-forked and called setsid(),
// which the broker (a child subreaper, see Supervisor) inherits when their parent exits and
// recognises by KENNEL_SERVICE=<name> in their environment — with everything below them. They
// get SIGKILL once the main process is gone when the service is stopped (stop(), the broker's
// shutdown, destruction), and before it is started again; the broker reaps those that are its
// children. A daemon that clears its environment and escapes its group is not recognised by
// this fallback: that takes a cgroup. With one (setCgroup(), chosen by the Supervisor) the child
// moves itself into the group between fork and exec, before it can fork anything, and every
// member of the group is a leftover too: killed (cgroup.kill, else SIGKILL per PID) at the same
// moments, and the group removed once empty.
#pragma once

#include "brokerconfig.h"
#include "logthrottle.h"
#include "outputring.h"

#include <QByteArray>
#include <QDateTime>
#include <QList>
#include <QObject>
#include <QProcess>
#include <QProcessEnvironment>
#include <QString>
#include <QTimer>

#include <chrono>

namespace Kennel {

class Service : public QObject
{
    Q_OBJECT

public:
    using Clock = std::chrono::steady_clock;

    enum class State : quint8 {
        Stopped,  // not started yet, or stop() completed
        Starting, // process launched, not yet reported running
        Running,
        Backoff,  // waiting to restart (Status::nextStartAt)
        Stopping, // stop signal sent, waiting for the exit (SIGKILL after stop_timeout)
        Exited,   // ended; the policy does not restart it
        Failed,   // start limit reached; left alone until an operator acts
    };
    Q_ENUM(State)

    static constexpr qsizetype MaxLineBytes = 4096;
    // After SIGKILL, how long stop() waits for the exit before it gives the process up (one stuck
    // in uninterruptible sleep) and reports Stopped anyway, so that a shutdown always ends.
    static constexpr std::chrono::milliseconds KillExitTimeout{10000};

    // For the monitor.
    struct Status
    {
        State state = State::Stopped;
        qint64 pid = 0;              // 0 unless Starting, Running or Stopping
        int starts = 0;              // every launch since construction, FailedToStart included
        int restarts = 0;            // of which launched by the restart policy
        int consecutiveFailures = 0;
        int lastExitCode = 0;        // -1: the last start failed (see lastError)
        int lastExitSignal = 0;      // 0: exited normally
        QDateTime lastExitAt;        // invalid until the first exit
        Clock::time_point nextStartAt{}; // while Backoff
        QString lastError;           // why the last start failed, or why it is Failed; empty otherwise
    };

    explicit Service(const ServiceSettings &settings, QObject *parent = nullptr);
    // A process still running is killed (SIGKILL to its group) and reaped: call stop() and wait
    // for stopped() first where an orderly stop matters.
    ~Service() override;

    const ServiceSettings &settings() const { return m_settings; }
    // Its recent output lines (output_lines / output_bytes), every line, logged or suppressed.
    const OutputRing &output() const { return m_output; }
    // A reload changed the definition (same name): used from the next start on; the caller
    // restarts the service so that the new definition runs.
    void setSettings(const ServiceSettings &settings);
    const QString &name() const { return m_settings.name; }
    Status status() const;
    State state() const { return m_state; }
    static const char *stateName(State state); // "stopped", "starting", ...

    // Variables the broker adds (how to reach it); used from the next start on.
    void setExtraEnvironment(const QProcessEnvironment &env);

    // From Stopped, Exited, Failed or Backoff: start now, with the failure history (consecutive
    // failures, start-limit count) cleared. While Stopping: start once the process is gone.
    // Starting or Running: nothing.
    void start();
    // stop_signal, then SIGKILL after stop_timeout; no restart afterwards. stopped() follows once
    // the process is gone — at once (from inside stop()) if there is no process (Backoff, Exited,
    // Failed). Already Stopped: nothing, no signal.
    void stop();
    // A message was held for an on-demand service ([service.NAME] start = on-demand): start as
    // start() does but keep the start-limit history, so that a stream of messages to a program
    // that cannot start stays within start_limit (the service goes Failed; the next message after
    // the window tries again). Failed counts as Stopped here.
    void startOnDemand();
    // Operator action: stop (if a process runs) then start, failure history cleared.
    void restart();
    // Why a service with no process has not been started (the supervisor: it waits for its
    // dependencies), shown as Status::lastError until the next start. Ignored while a process
    // runs or is starting.
    void setNotStartedReason(const QString &why);
    // The broker's watchdog signalled this service's process: its next exit is a failure whatever
    // its code. Ignored unless a process runs.
    void noteWatchdogAction();
    // `pid`, started at `startTime` (/proc/PID/stat field 22; 0: not checked), is this service's
    // main process, alive.
    bool isMainProcess(qint64 pid, quint64 startTime) const;
    // SIGKILL to the leftovers (see above) and reap those that are the broker's children; how many
    // were signalled. Called by stop() and the destructor; public for the supervisor and tests.
    int killLeftovers(const char *why);
    // The cgroup v2 group this service's processes go into from the next start: its path in the
    // filesystem and as /proc/PID/cgroup names it. Empty: none (process groups only).
    void setCgroup(const QString &path, const QString &hierarchyPath);
    const QString &cgroupPath() const { return m_cgroup; }
    const QString &cgroupHierarchyPath() const { return m_cgroupHierarchy; }

signals:
    void stateChanged(Kennel::Service::State state);
    void started(qint64 pid);
    // exitCode -1 with exitSignal 0: the program could not be started (Status::lastError says why).
    void exited(int exitCode, int exitSignal, bool willRestart);
    void stopped();

private:
    void setState(State state);
    void launch(bool byPolicy);
    void processStarted();
    void processError(QProcess::ProcessError error);
    void processFinished(int exitCode, QProcess::ExitStatus exitStatus);
    void runEnded(int exitCode, int exitSignal, bool failure);
    void restartTimerFired();
    void stopTimerFired();
    void readOutput(QProcess::ProcessChannel channel);
    void logLine(QProcess::ProcessChannel channel, QByteArrayView line, bool cut);
    void flushOutput();
    void releaseProcess();
    bool limitReached(Clock::time_point now);
    std::chrono::milliseconds backoffDelay() const;
    QProcessEnvironment childEnvironment() const;
    QString label() const;
    void reapLater();

    ServiceSettings m_settings;
    QProcessEnvironment m_extraEnvironment;
    QProcess *m_process = nullptr;
    QTimer m_restartTimer;
    QTimer m_stopTimer;
    State m_state = State::Stopped;
    Status m_status;
    QList<Clock::time_point> m_startTimes; // within start_limit_window; at most start_limit entries
    Clock::time_point m_runStartedAt{};
    bool m_stopRequested = false;    // the current process is being stopped by stop()
    bool m_startAfterStop = false;   // restart(): start once the process is gone
    bool m_watchdogActed = false;    // noteWatchdogAction() during the current run
    bool m_killSent = false;         // stop(): the stop timeout ran out and SIGKILL went out
    qint64 m_processGroup = 0;       // the last main process's PID, its group's ID; 0: none yet
    quint64 m_mainStartTime = 0;     // the main process's start time (/proc), 0 until known
    QList<qint64> m_unreaped;        // killed leftovers that are our children, not yet reaped
    QString m_cgroup;                // see setCgroup()
    QString m_cgroupHierarchy;
    int m_cgroupRemoveTries = 0;     // > 0: the group is to be removed once empty (tries left)
    QTimer m_reapTimer;
    QByteArray m_stdoutPartial;
    LogThrottle m_outputLog; // log_lines_per_second: a chatty service cannot flood the log
    OutputRing m_output;     // output_lines / output_bytes
    QByteArray m_stderrPartial;
};

} // namespace Kennel
