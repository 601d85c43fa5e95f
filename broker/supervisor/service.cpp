#include "service.h"
#include "errnotext.h"
#include "servicecredentials.h"

#include "cgroup.h"
#include "logging.h"
#include "processtree.h"

#include <QDir>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace Kennel {

namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

// Meant for the broker alone: a service handed NOTIFY_SOCKET could report readiness or feed
// systemd's watchdog in the broker's name; LISTEN_* would make it adopt descriptors it does not have.
const char *const BrokerOnlyVariables[] = {
    "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
};

qint64 ms(std::chrono::steady_clock::duration d)
{
    return duration_cast<milliseconds>(d).count();
}

} // namespace

Service::Service(const ServiceSettings &settings, QObject *parent)
    : QObject(parent), m_settings(settings), m_outputLog(settings.logLinesPerSecond)
    , m_output(settings.outputLines, settings.outputBytes)
{
    m_restartTimer.setSingleShot(true);
    m_restartTimer.setTimerType(Qt::PreciseTimer); // backoff steps are tens of ms in tests
    connect(&m_restartTimer, &QTimer::timeout, this, &Service::restartTimerFired);
    m_stopTimer.setSingleShot(true);
    connect(&m_stopTimer, &QTimer::timeout, this, &Service::stopTimerFired);
    m_reapTimer.setInterval(50);
    connect(&m_reapTimer, &QTimer::timeout, this, &Service::reapLater);
}

Service::~Service()
{
    if (!m_process) {
        killLeftovers("the broker is shutting down");
        // The one other blocking wait: destruction only, bounded, for processes SIGKILLed above.
        for (int i = 0; i < 20 && (!m_unreaped.isEmpty() || m_cgroupRemoveTries > 0); ++i) {
            reapLater();
            if (!m_unreaped.isEmpty() || m_cgroupRemoveTries > 0)
                ::usleep(5000);
        }
        return;
    }
    // No slot of ours may run while the QProcess is torn down below.
    m_process->disconnect(this);
    const qint64 pid = m_process->processId();
    if (pid > 0 && m_process->state() != QProcess::NotRunning) {
        qCWarning(lcSupervisor).noquote() << label() << "still running at shutdown: SIGKILL to process group" << pid;
        ::kill(-pid_t(pid), SIGKILL);
        ::kill(pid_t(pid), SIGKILL); // in case it never got its own group
    }
    // Reap it here (after SIGKILL the wait is short) rather than leave QProcess's destructor
    // to do the same with a warning. The one blocking wait in this class: destruction only.
    if (m_process->state() != QProcess::NotRunning)
        m_process->waitForFinished(1000);
    delete m_process;
    m_process = nullptr;
    killLeftovers("the broker is shutting down");
    for (int i = 0; i < 20 && (!m_unreaped.isEmpty() || m_cgroupRemoveTries > 0); ++i) {
        reapLater();
        if (!m_unreaped.isEmpty() || m_cgroupRemoveTries > 0)
            ::usleep(5000);
    }
}

bool Service::isMainProcess(qint64 pid, quint64 startTime) const
{
    if (!m_process || m_process->state() == QProcess::NotRunning || pid <= 0 || m_process->processId() != pid)
        return false;
    return startTime == 0 || m_mainStartTime == 0 || startTime == m_mainStartTime;
}

void Service::setCgroup(const QString &path, const QString &hierarchyPath)
{
    m_cgroup = path;
    m_cgroupHierarchy = hierarchyPath;
}

int Service::killLeftovers(const char *why)
{
    if (m_processGroup <= 0)
        return 0;
    const pid_t self = ::getpid();
    int killed = 0;
    QStringList pids;
    if (!m_cgroup.isEmpty()) {
        // Everything in the group but a main process still running (QProcess's to end and reap).
        const pid_t main = m_process && m_process->state() != QProcess::NotRunning ? pid_t(m_process->processId()) : 0;
        for (const pid_t pid : Cgroup::killAll(m_cgroup, main)) {
            ++killed;
            pids.append(QString::number(pid));
            const std::optional<ProcStat> st = ProcessTree::stat(pid);
            if (st && st->ppid == self && !m_unreaped.contains(pid))
                m_unreaped.append(pid);
        }
        if (main <= 0)
            m_cgroupRemoveTries = 100; // about 5 s of reap ticks for the last members to exit
    }
    QList<pid_t> exclude;
    pid_t group = pid_t(m_processGroup);
    if (m_process && m_process->processId() > 0)
        exclude.append(pid_t(m_process->processId()));
    // The group's ID is the main process's PID. Once that process and every member are gone the
    // number may name a new group (another service's): then it is not ours to match by.
    if (const std::optional<ProcStat> leader = ProcessTree::stat(group);
        leader && !(exclude.contains(group) || (m_mainStartTime != 0 && leader->startTime == m_mainStartTime)))
        group = 0;
    const QList<ProcStat> found = ProcessTree::leftovers(group, self, m_settings.name.toUtf8(), exclude);
    for (const ProcStat &p : found) {
        if (p.state != 'Z' && !pids.contains(QString::number(p.pid))) {
            ::kill(p.pid, SIGKILL);
            ++killed;
            pids.append(QString::number(p.pid));
        }
        if (p.ppid == self && !m_unreaped.contains(p.pid))
            m_unreaped.append(p.pid);
    }
    if (killed > 0)
        qCWarning(lcSupervisor).noquote() << label()
                                          << QStringLiteral("%1 leftover process(es) killed (%2): pid %3")
                                                 .arg(killed)
                                                 .arg(QLatin1String(why), pids.join(QStringLiteral(", ")));
    reapLater();
    return killed;
}

void Service::reapLater()
{
    // Only PIDs found as leftovers: never a QProcess child, whose exit is QProcess's to collect.
    for (qsizetype i = m_unreaped.size() - 1; i >= 0; --i) {
        int status = 0;
        const pid_t r = ::waitpid(pid_t(m_unreaped.at(i)), &status, WNOHANG);
        if (r != 0) // reaped, or not our child (any more)
            m_unreaped.removeAt(i);
    }
    if (m_cgroupRemoveTries > 0) {
        if (Cgroup::remove(m_cgroup)) {
            m_cgroupRemoveTries = 0;
        } else if (--m_cgroupRemoveTries == 0) {
            const int error = errno;
            qCWarning(lcSupervisor).noquote() << label() << "cannot remove cgroup" << m_cgroup << ":"
                                              << errnoText(error) << "(left for the next start)";
        }
    }
    if (m_unreaped.isEmpty() && m_cgroupRemoveTries == 0)
        m_reapTimer.stop();
    else if (!m_reapTimer.isActive())
        m_reapTimer.start();
}

const char *Service::stateName(State state)
{
    switch (state) {
    case State::Stopped: return "stopped";
    case State::Starting: return "starting";
    case State::Running: return "running";
    case State::Backoff: return "backoff";
    case State::Stopping: return "stopping";
    case State::Exited: return "exited";
    case State::Failed: return "failed";
    }
    return "unknown";
}

Service::Status Service::status() const
{
    Status status = m_status;
    status.state = m_state;
    return status;
}

void Service::setExtraEnvironment(const QProcessEnvironment &env)
{
    m_extraEnvironment = env;
}

QString Service::label() const
{
    return QStringLiteral("service ") + m_settings.name + QLatin1Char(':');
}

void Service::setState(State state)
{
    if (m_state == state)
        return;
    m_state = state;
    if (state != State::Starting && state != State::Running && state != State::Stopping)
        m_status.pid = 0;
    if (state != State::Backoff)
        m_status.nextStartAt = {};
    Q_EMIT stateChanged(state);
}

void Service::setSettings(const ServiceSettings &settings)
{
    m_settings = settings;
    m_outputLog.setLinesPerSecond(settings.logLinesPerSecond);
    m_output.setBounds(settings.outputLines, settings.outputBytes);
}

void Service::start()
{
    switch (m_state) {
    case State::Starting:
    case State::Running:
        return;
    case State::Stopping:
        m_startAfterStop = true;
        return;
    case State::Stopped:
    case State::Backoff:
    case State::Exited:
    case State::Failed:
        break;
    }
    m_restartTimer.stop();
    // An operator's start is a fresh start: the history that led to Failed must not block it.
    m_status.consecutiveFailures = 0;
    m_status.lastError.clear();
    m_startTimes.clear();
    launch(false);
}

void Service::startOnDemand()
{
    switch (m_state) {
    case State::Starting:
    case State::Running:
    case State::Backoff: // its restart policy brings it back
        return;
    case State::Stopping:
        m_startAfterStop = true;
        return;
    case State::Stopped:
    case State::Exited:
    case State::Failed:
        break;
    }
    m_status.consecutiveFailures = 0;
    launch(false);
}

void Service::setNotStartedReason(const QString &why)
{
    if (m_process || m_state == State::Starting || m_state == State::Running || m_state == State::Stopping)
        return;
    m_status.lastError = why;
}

void Service::restart()
{
    if (m_state == State::Starting || m_state == State::Running) {
        stop();
        m_startAfterStop = true; // after stop(): stop() clears it
        return;
    }
    if (m_state == State::Stopping) {
        m_startAfterStop = true;
        return;
    }
    start();
}

void Service::stop()
{
    m_startAfterStop = false;
    switch (m_state) {
    case State::Stopped:
    case State::Stopping:
        return;
    case State::Backoff:
    case State::Exited:
    case State::Failed:
        m_restartTimer.stop();
        killLeftovers("service stopped");
        qCInfo(lcSupervisor).noquote() << label() << "stopped";
        setState(State::Stopped);
        Q_EMIT stopped();
        return;
    case State::Starting:
    case State::Running:
        break;
    }

    // Starting or Running: QProcess has forked (start() returned), so the PID is known.
    const qint64 pid = m_process ? m_process->processId() : 0;
    m_stopRequested = true;
    setState(State::Stopping);
    if (pid <= 0) {
        // Cannot happen with a forked child; never let stop() hang on it either: the timer
        // gives it up after the usual bounds.
        qCWarning(lcSupervisor).noquote() << label() << "stop: no process id; waiting for the exit report";
        m_stopTimer.start(m_settings.stopTimeout);
        return;
    }
    const QString signal = QStringLiteral("SIG") + signalName(m_settings.stopSignal);
    if (::kill(pid_t(pid), m_settings.stopSignal) != 0) {
        // ESRCH: it is exiting already; its finished() report is on its way.
        const int error = errno;
        qCWarning(lcSupervisor).noquote() << label() << "stop: cannot send" << signal << "to pid" << pid << ":"
                                          << errnoText(error);
    } else {
        qCInfo(lcSupervisor).noquote() << label() << "stopping: sent" << signal << "to pid" << pid << "; SIGKILL in"
                                       << m_settings.stopTimeout.count() << "ms";
    }
    m_stopTimer.start(m_settings.stopTimeout);
}

void Service::stopTimerFired()
{
    if (!m_process || m_state != State::Stopping)
        return;
    const qint64 pid = m_process->processId();
    if (!m_killSent) {
        m_killSent = true;
        qCWarning(lcSupervisor).noquote() << label() << "did not stop within" << m_settings.stopTimeout.count()
                                          << "ms: SIGKILL to process group" << pid;
        // The group: helpers it started die with it. Its ID is our unreaped child's PID, so it
        // can only name this service's processes.
        if (pid > 0 && ::kill(-pid_t(pid), SIGKILL) != 0)
            ::kill(pid_t(pid), SIGKILL);
        m_stopTimer.start(KillExitTimeout);
        return;
    }
    // Stuck in the kernel (uninterruptible sleep) or not ours to kill: a broker shutdown must
    // not wait for it forever. The QProcess stays with us, unwatched, until we are destroyed.
    m_status.lastError = QStringLiteral("did not exit within %1 ms of SIGKILL").arg(KillExitTimeout.count());
    qCCritical(lcSupervisor).noquote() << label() << "pid" << pid << m_status.lastError << "; no longer waiting for it";
    m_process->disconnect(this);
    m_process = nullptr;
    m_stopRequested = false;
    m_startAfterStop = false;
    setState(State::Stopped);
    Q_EMIT stopped();
}

void Service::noteWatchdogAction()
{
    if (m_state == State::Starting || m_state == State::Running || m_state == State::Stopping)
        m_watchdogActed = true;
}

bool Service::limitReached(Clock::time_point now)
{
    const Clock::time_point windowStart = now - m_settings.startLimitWindow;
    while (!m_startTimes.isEmpty() && m_startTimes.constFirst() <= windowStart)
        m_startTimes.removeFirst();
    return m_startTimes.size() >= m_settings.startLimit;
}

void Service::launch(bool byPolicy)
{
    const Clock::time_point now = Clock::now();
    if (limitReached(now)) {
        const QString counts = QStringLiteral("%1 starts within the last %2 ms (start_limit %3)")
                                   .arg(m_startTimes.size())
                                   .arg(m_settings.startLimitWindow.count())
                                   .arg(m_settings.startLimit);
        // Keep why the starts failed: that is what the operator has to fix.
        const QString previous = m_status.lastError;
        m_status.lastError = QStringLiteral("start limit reached: ") + counts;
        if (!previous.isEmpty())
            m_status.lastError += QStringLiteral("; last error: ") + previous;
        qCWarning(lcSupervisor).noquote() << label() << "failed:" << counts
                                          << "; not restarting until an operator starts it again (SIGHUP)";
        setState(State::Failed);
        return;
    }
    killLeftovers("service starting again");
    m_startTimes.append(now);
    ++m_status.starts;
    if (byPolicy)
        ++m_status.restarts;
    m_watchdogActed = false;
    m_stopRequested = false;
    m_killSent = false;
    m_stdoutPartial.clear();
    m_stderrPartial.clear();

    // user/group: resolved again now (the account may have gone since the config was loaded) and
    // refused here, as a start that failed, when the broker cannot take them (not root).
    QString credentialsError;
    const std::optional<ServiceCredentials> credentials = ServiceCredentials::resolve(m_settings, &credentialsError);
    if (credentials && credentialsError.isEmpty())
        credentialsError = credentials->checkPrivileges();
    if (!credentialsError.isEmpty()) {
        m_status.lastError = credentialsError;
        qCWarning(lcSupervisor).noquote() << label() << "failed to start" << m_settings.program << ":" << credentialsError;
        runEnded(-1, 0, true);
        return;
    }

    auto *process = new QProcess(this);
    m_process = process;
    process->setProgram(m_settings.program);
    process->setArguments(m_settings.arguments);
    if (!m_settings.workingDirectory.isEmpty())
        process->setWorkingDirectory(m_settings.workingDirectory);
    QProcessEnvironment environment = childEnvironment();
    if (credentials->change && !credentials->userName.isEmpty()) {
        // What login(1) and systemd's User= set, unless the service's own environment lines do.
        const auto setUnlessConfigured = [&](const QString &key, const QString &value) {
            const QString prefix = key + QLatin1Char('=');
            for (const QString &entry : std::as_const(m_settings.environment))
                if (entry.startsWith(prefix))
                    return;
            if (!value.isEmpty())
                environment.insert(key, value);
        };
        setUnlessConfigured(QStringLiteral("USER"), credentials->userName);
        setUnlessConfigured(QStringLiteral("LOGNAME"), credentials->userName);
        setUnlessConfigured(QStringLiteral("HOME"), credentials->home);
    }
    process->setProcessEnvironment(environment);
    process->setProcessChannelMode(QProcess::SeparateChannels);
    // Nothing to read: a service that reads stdin sees end-of-file instead of hanging on a pipe.
    process->setStandardInputFile(QProcess::nullDevice());

    // Into its cgroup before it can fork: the child writes itself into cgroup.procs through a
    // descriptor opened here (close-on-exec: the program never sees it).
    m_cgroupRemoveTries = 0; // the group is wanted again
    int procsFd = -1;
    if (!m_cgroup.isEmpty()) {
        QString error;
        if (Cgroup::create(m_cgroup, &error))
            procsFd = Cgroup::openProcs(m_cgroup, &error);
        if (procsFd < 0)
            qCWarning(lcSupervisor).noquote() << label() << "cannot use cgroup" << m_cgroup << ":" << error
                                              << "; tracked by process group only this run";
    }

    const pid_t broker = ::getpid();
    // Runs in the child between fork and exec: async-signal-safe calls only.
    process->setChildProcessModifier([broker, procsFd, identity = *credentials] {
        if (procsFd >= 0)
            Cgroup::movePid(procsFd, 0);
        // Before PR_SET_PDEATHSIG below: the kernel clears the parent-death signal when the
        // credentials change, and after it (and the cgroup move) root is no longer needed.
        if (!identity.applyInChild())
            ::_exit(127);
        // Ambient capabilities survive exec: a broker given some (kennel-broker.service runs it as
        // the kennel user with CAP_KILL, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH) would hand them to
        // every service. EINVAL before Linux 4.3, which has no ambient set to clear.
        ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        // Back to default dispositions: ignored signals (the broker ignores SIGPIPE) would
        // survive exec. Handlers are reset by exec anyway.
        struct sigaction dfl = {};
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; ++sig) {
            if (sig != SIGKILL && sig != SIGSTOP)
                ::sigaction(sig, &dfl, nullptr);
        }
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        // The broker died before prctl took effect: no signal will come, so do not start at all.
        if (::getppid() != broker)
            ::_exit(127);
        sigset_t none;
        ::sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
    });

    connect(process, &QProcess::started, this, &Service::processStarted);
    connect(process, &QProcess::errorOccurred, this, &Service::processError);
    connect(process, &QProcess::finished, this, &Service::processFinished);
    connect(process, &QProcess::readyReadStandardOutput, this,
            [this] { readOutput(QProcess::StandardOutput); });
    connect(process, &QProcess::readyReadStandardError, this,
            [this] { readOutput(QProcess::StandardError); });

    qCDebug(lcSupervisor).noquote() << label() << "starting" << m_settings.program << m_settings.arguments;
    process->start(QIODevice::ReadOnly);
    if (procsFd >= 0) {
        // Should the child's own write have failed: moved from here (its children forked before
        // this would not be, but it is the fallback of a fallback).
        if (m_process == process && process->processId() > 0)
            Cgroup::movePid(procsFd, pid_t(process->processId()));
        ::close(procsFd);
    }
    // Announced only now, with the PID known, so that a slot calling stop() finds a process to
    // signal. Were FailedToStart reported from inside start(), processError() has already dealt
    // with it and m_process is no longer this one.
    if (m_process == process) {
        m_status.pid = process->processId();
        m_processGroup = m_status.pid;
        m_mainStartTime = 0;
        setState(State::Starting);
    }
}

QProcessEnvironment Service::childEnvironment() const
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const char *name : BrokerOnlyVariables)
        env.remove(QLatin1String(name));
    for (const QString &entry : m_settings.environment) {
        const qsizetype equals = entry.indexOf(QLatin1Char('='));
        if (equals > 0)
            env.insert(entry.left(equals), entry.mid(equals + 1));
    }
    // The broker's own variables and the name come last: a service cannot be told a wrong
    // address or identity by its own environment lines.
    env.insert(m_extraEnvironment);
    env.insert(QStringLiteral("KENNEL_SERVICE"), m_settings.name);
    return env;
}

void Service::processStarted()
{
    if (!m_process)
        return;
    m_status.pid = m_process->processId();
    if (const std::optional<ProcStat> st = ProcessTree::stat(pid_t(m_status.pid)))
        m_mainStartTime = st->startTime;
    m_status.lastError.clear();
    m_runStartedAt = Clock::now();
    qCInfo(lcSupervisor).noquote() << label()
                                   << QStringLiteral("started, pid %1 (start %2 of at most %3 within %4 ms)")
                                          .arg(m_status.pid)
                                          .arg(m_startTimes.size())
                                          .arg(m_settings.startLimit)
                                          .arg(m_settings.startLimitWindow.count());
    if (m_stopRequested) {
        // stop() came before the start was confirmed: keep the Stopping state.
        Q_EMIT started(m_status.pid);
        return;
    }
    setState(State::Running);
    Q_EMIT started(m_status.pid);
}

void Service::processError(QProcess::ProcessError error)
{
    // Every other error comes with (or without) finished(); only a failed start ends here.
    if (error != QProcess::FailedToStart || !m_process)
        return;
    m_status.lastError = m_process->errorString();
    qCWarning(lcSupervisor).noquote() << label() << "failed to start" << m_settings.program << ":"
                                      << m_status.lastError;
    releaseProcess();
    runEnded(-1, 0, true);
}

void Service::processFinished(int exitCode, QProcess::ExitStatus exitStatus)
{
    if (!m_process)
        return;
    readOutput(QProcess::StandardOutput);
    readOutput(QProcess::StandardError);
    flushOutput();
    releaseProcess();

    // QProcess on Unix reports the signal number as the exit code of a CrashExit.
    const int code = exitStatus == QProcess::NormalExit ? exitCode : 0;
    const int signal = exitStatus == QProcess::CrashExit ? exitCode : 0;
    const qint64 ranFor = ms(Clock::now() - m_runStartedAt);
    const bool failure = code != 0 || signal != 0 || m_watchdogActed;
    QString how = signal != 0 ? QStringLiteral("killed by signal ") + signalName(signal)
                              : QStringLiteral("exited with code ") + QString::number(code);
    if (m_watchdogActed)
        how += QStringLiteral(" (after the watchdog acted on it)");
    if (failure && !m_stopRequested)
        qCWarning(lcSupervisor).noquote() << label() << how << "after" << ranFor << "ms";
    else
        qCInfo(lcSupervisor).noquote() << label() << how << "after" << ranFor << "ms";

    // A run longer than the longest backoff is not part of a crash loop.
    if (ranFor > m_settings.restartDelayMax.count())
        m_status.consecutiveFailures = 0;
    runEnded(code, signal, failure);
}

void Service::releaseProcess()
{
    m_stopTimer.stop();
    if (m_process) {
        m_process->disconnect(this);
        m_process->deleteLater(); // we may be inside one of its signals
        m_process = nullptr;
    }
}

void Service::runEnded(int exitCode, int exitSignal, bool failure)
{
    m_status.lastExitCode = exitCode;
    m_status.lastExitSignal = exitSignal;
    m_status.lastExitAt = QDateTime::currentDateTime();
    m_watchdogActed = false;

    if (m_stopRequested) {
        m_stopRequested = false;
        const bool startAgain = m_startAfterStop;
        m_startAfterStop = false;
        killLeftovers("service stopped");
        qCInfo(lcSupervisor).noquote() << label() << "stopped";
        setState(State::Stopped);
        Q_EMIT exited(exitCode, exitSignal, false);
        Q_EMIT stopped();
        if (startAgain && m_state == State::Stopped)
            start();
        return;
    }

    if (failure)
        ++m_status.consecutiveFailures;
    else
        m_status.consecutiveFailures = 0;

    bool restart = false;
    switch (m_settings.restart) {
    case ServiceSettings::Restart::Always: restart = true; break;
    case ServiceSettings::Restart::OnFailure: restart = failure; break;
    case ServiceSettings::Restart::Never: restart = false; break;
    }

    if (!restart) {
        qCInfo(lcSupervisor).noquote() << label() << QStringLiteral("not restarting (restart = %1)")
                                                         .arg(QLatin1String(restartPolicyName(m_settings.restart)));
        setState(State::Exited);
        Q_EMIT exited(exitCode, exitSignal, false);
        return;
    }

    const milliseconds delay = backoffDelay();
    m_status.nextStartAt = Clock::now() + delay;
    qCInfo(lcSupervisor).noquote() << label() << QStringLiteral("restarting in %1 ms (consecutive failures: %2)")
                                                     .arg(delay.count())
                                                     .arg(m_status.consecutiveFailures);
    m_restartTimer.start(delay);
    setState(State::Backoff);
    Q_EMIT exited(exitCode, exitSignal, true);
}

milliseconds Service::backoffDelay() const
{
    const milliseconds cap = m_settings.restartDelayMax;
    milliseconds delay = m_settings.restartDelay;
    // restart_delay * 2^(failures - 1), doubling step by step so that nothing overflows.
    for (int i = 1; i < m_status.consecutiveFailures && delay < cap; ++i)
        delay *= 2;
    return std::min(delay, cap);
}

void Service::restartTimerFired()
{
    if (m_state != State::Backoff)
        return;
    launch(true);
}

void Service::readOutput(QProcess::ProcessChannel channel)
{
    if (!m_process)
        return;
    const bool isStdout = channel == QProcess::StandardOutput;
    QByteArray &partial = isStdout ? m_stdoutPartial : m_stderrPartial;
    partial += isStdout ? m_process->readAllStandardOutput() : m_process->readAllStandardError();

    qsizetype pos = 0;
    for (;;) {
        const qsizetype newline = partial.indexOf('\n', pos);
        const qsizetype end = newline < 0 ? partial.size() : newline;
        if (end - pos > MaxLineBytes) {
            // Bounded memory for a program that never ends its line.
            logLine(channel, QByteArrayView(partial).sliced(pos, MaxLineBytes), true);
            pos += MaxLineBytes;
            continue;
        }
        if (newline < 0)
            break;
        logLine(channel, QByteArrayView(partial).sliced(pos, newline - pos), false);
        pos = newline + 1;
    }
    partial.remove(0, pos);
}

void Service::flushOutput()
{
    if (!m_stdoutPartial.isEmpty())
        logLine(QProcess::StandardOutput, m_stdoutPartial, false);
    if (!m_stderrPartial.isEmpty())
        logLine(QProcess::StandardError, m_stderrPartial, false);
    m_stdoutPartial.clear();
    m_stderrPartial.clear();
    if (const int suppressed = m_outputLog.takeSuppressed())
        qCWarning(lcService).noquote() << m_settings.name + QStringLiteral(":") << suppressed << "lines suppressed";
}

void Service::logLine(QProcess::ProcessChannel channel, QByteArrayView line, bool cut)
{
    // Every line goes into the ring, also those the log throttle holds back: that is where an
    // operator looks for what a chatty service said.
    m_output.append(QDateTime::currentMSecsSinceEpoch(), channel == QProcess::StandardError,
                    line.endsWith('\r') ? line.chopped(1) : line);
    int suppressed = 0;
    if (!m_outputLog.allow(&suppressed))
        return; // counted; summed up with the next line logged, or when the process ends
    if (suppressed)
        qCWarning(lcService).noquote() << m_settings.name + QStringLiteral(":") << suppressed << "lines suppressed";
    if (line.endsWith('\r'))
        line.chop(1);
    // A service that writes sd-daemon "<N>" prefixes keeps its priorities (in the journal: N itself).
    const int priority = Logging::takePriorityPrefix(line);
    QString text = m_settings.name + QStringLiteral(": ") + QString::fromUtf8(line);
    if (cut)
        text += QStringLiteral(" [line cut at ") + QString::number(MaxLineBytes) + QStringLiteral(" bytes]");
    if (priority >= 0) {
        const Logging::PriorityOverride journal(priority);
        switch (Logging::messageType(priority)) {
        case QtCriticalMsg:
            qCCritical(lcService).noquote() << text;
            break;
        case QtWarningMsg:
            qCWarning(lcService).noquote() << text;
            break;
        case QtDebugMsg:
            qCDebug(lcService).noquote() << text;
            break;
        default:
            qCInfo(lcService).noquote() << text;
            break;
        }
    } else if (channel == QProcess::StandardError) {
        qCWarning(lcService).noquote() << text;
    } else {
        qCInfo(lcService).noquote() << text;
    }
}

} // namespace Kennel
