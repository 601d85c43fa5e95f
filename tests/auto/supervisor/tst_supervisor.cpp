// Service and Supervisor against real processes: /bin/sh -c scripts with delays of tens of
// milliseconds. Every process a test starts belongs to a Service or Supervisor that the test owns,
// and is gone (stopped, or SIGKILLed by the destructor) before the test returns; the only other
// signals a test sends go to the PID of a process it started.
#include "envguard.h"
#include "logcapture.h"
#include "brokerconfig.h"
#include "service.h"
#include "supervisor.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <cerrno>
#include <csignal>
#include <optional>
#include <unistd.h>

using namespace Kennel;
using namespace std::chrono_literals;

namespace {

// Installed in initTestCase, inside QTest's run; service chatter (kennel.service and
// kennel.supervisor) is kept but printed only with KENNEL_TEST_VERBOSE=1.
std::optional<KennelTest::LogCapture> g_log;

bool logged(const char *category, QtMsgType type, const QString &text)
{
    return g_log->contains(category, type, text);
}

int countLogged(const char *category, const QString &part)
{
    return g_log->count(part, category);
}

QStringList serviceLines(const QString &service)
{
    QStringList lines;
    const QString prefix = service + QStringLiteral(": ");
    for (const QString &text : g_log->texts("kennel.service")) {
        if (text.startsWith(prefix))
            lines.append(text.mid(prefix.size()));
    }
    return lines;
}

// Short delays and a generous start limit unless a test says otherwise.
ServiceSettings shService(const QString &name, const QString &script,
                          ServiceSettings::Restart restart = ServiceSettings::Restart::OnFailure)
{
    ServiceSettings s;
    s.name = name;
    s.program = QStringLiteral("/bin/sh");
    s.arguments = {QStringLiteral("-c"), script};
    s.restart = restart;
    s.restartDelay = 20ms;
    s.restartDelayMax = 20ms;
    s.startLimit = 100;
    s.startLimitWindow = 60000ms;
    s.stopTimeout = 2000ms;
    return s;
}

// A service that announces it has set its TERM trap (so a test does not signal it too early),
// then idles in short sleeps (so the trap runs within 20 ms and no sleep outlives it by more).
QString idleScript(const QString &trap)
{
    return QStringLiteral("trap '") + trap + QStringLiteral("' TERM; echo ready; while :; do sleep 0.02; done");
}

using KennelTest::EnvGuard;

} // namespace

class tst_Supervisor : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanupTestCase();
    void init();

    void restartBackoff();
    void failuresResetAfterLongRun();
    void startLimit();
    void startLimitWindowSlides();
    void retryFailed();
    void onFailureCleanExit();
    void alwaysRestartsCleanExit();
    void neverRestarts();
    void killedBySignal();
    void watchdogActionCountsAsFailure();
    void stopAllReverseOrder();
    void stopAllNothingRunning();
    void dependenciesWaitForRegistration();
    void failedDependencyIsInTheDependentsStatus();
    void output();
    void environment();
    void missingProgram();
    void operatorRestart();
    void stopDuringBackoff();
    void stopWhileStarting();
    void destructorKillsProcess();
    void noServiceOutlivesTheBroker();
    void lookups();

private:
    QTemporaryDir m_dir;
};

void tst_Supervisor::initTestCase()
{
    QVERIFY2(m_dir.isValid(), qPrintable(m_dir.errorString()));
    g_log.emplace();
    g_log->setQuiet({QStringLiteral("kennel.service"), QStringLiteral("kennel.supervisor")});
}

void tst_Supervisor::cleanupTestCase()
{
    g_log.reset();
}

void tst_Supervisor::init()
{
    g_log->clear();
}

void tst_Supervisor::restartBackoff()
{
    ServiceSettings settings = shService(QStringLiteral("crashy"), QStringLiteral("exit 1"));
    settings.restartDelay = 40ms;
    settings.restartDelayMax = 160ms;
    Service service(settings);

    // From each exit to the next start: the backoff, plus the time to fork and exec.
    QElapsedTimer clock;
    clock.start();
    QList<qint64> startedAt; // microseconds
    QList<qint64> exitedAt;
    connect(&service, &Service::started, this, [&] { startedAt.append(clock.nsecsElapsed() / 1000); });
    connect(&service, &Service::exited, this, [&] { exitedAt.append(clock.nsecsElapsed() / 1000); });
    QSignalSpy exited(&service, &Service::exited);
    service.start();
    QTRY_VERIFY_WITH_TIMEOUT(startedAt.size() >= 6, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(service.state(), Service::State::Backoff, 5000);
    const Service::Status status = service.status();
    QVERIFY(status.nextStartAt > Service::Clock::now());
    QVERIFY(status.nextStartAt <= Service::Clock::now() + 160ms);
    service.stop();
    QCOMPARE(service.state(), Service::State::Stopped);

    // 40, 80, 160 (the cap), 160, 160: never early, never much later. The lower bounds show the
    // doubling, the upper ones the cap (uncapped, the 5th would be 640 ms).
    const int delays[] = {40, 80, 160, 160, 160};
    QStringList gaps;
    for (int i = 0; i < 5; ++i)
        gaps.append(QString::number(double(startedAt.at(i + 1) - exitedAt.at(i)) / 1000.0));
    for (int i = 0; i < 5; ++i) {
        const double gap = double(startedAt.at(i + 1) - exitedAt.at(i)) / 1000.0;
        QVERIFY2(gap >= delays[i] - 1 && gap < delays[i] + 120,
                 qPrintable(QStringLiteral("gap %1 of %2 ms (exit to next start, ms): ").arg(i).arg(delays[i])
                            + gaps.join(QStringLiteral(", "))));
    }

    QVERIFY(exited.size() >= 6);
    for (int i = 0; i < 6; ++i)
        QCOMPARE(exited.at(i), (QList<QVariant>{1, 0, true}));
    QCOMPARE(status.lastExitCode, 1);
    QCOMPARE(status.lastExitSignal, 0);
    QVERIFY(status.lastExitAt.isValid());
    QCOMPARE(status.restarts, status.starts - 1);
    QCOMPARE(status.consecutiveFailures, status.starts);
    QCOMPARE(countLogged("kennel.supervisor", QStringLiteral("service crashy: restarting in 80 ms (consecutive failures: 2)")), 1);
    QVERIFY(countLogged("kennel.supervisor", QStringLiteral("service crashy: exited with code 1 after")) >= 6);
}

// A run longer than restart_delay_max is not part of a crash loop: the backoff starts over.
void tst_Supervisor::failuresResetAfterLongRun()
{
    const QString counter = m_dir.filePath(QStringLiteral("long-run-count"));
    ServiceSettings settings = shService(
        QStringLiteral("flaky"),
        QStringLiteral("n=$(cat '%1' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '%1'; "
                       "if [ $n -eq 3 ]; then sleep 0.2; fi; exit 1").arg(counter));
    settings.restartDelay = 30ms;
    settings.restartDelayMax = 60ms;
    Service service(settings);
    QList<int> failures;
    connect(&service, &Service::exited, this, [&] { failures.append(service.status().consecutiveFailures); });
    service.start();
    QTRY_VERIFY_WITH_TIMEOUT(failures.size() >= 4, 10000);
    service.stop();
    QTRY_COMPARE_WITH_TIMEOUT(service.state(), Service::State::Stopped, 5000);
    QCOMPARE(failures.mid(0, 4), (QList<int>{1, 2, 1, 2}));
    QVERIFY(countLogged("kennel.supervisor", QStringLiteral("restarting in 30 ms")) >= 2);
}

void tst_Supervisor::startLimit()
{
    ServiceSettings settings = shService(QStringLiteral("limited"), QStringLiteral("exit 1"));
    settings.restartDelay = 10ms;
    settings.restartDelayMax = 10ms;
    settings.startLimit = 3;
    Service service(settings);
    QSignalSpy started(&service, &Service::started);
    QSignalSpy exited(&service, &Service::exited);

    service.start();
    QTRY_COMPARE_WITH_TIMEOUT(service.state(), Service::State::Failed, 5000);
    QCOMPARE(started.size(), 3);
    QCOMPARE(exited.size(), 3);
    QCOMPARE(exited.last().at(2).toBool(), true); // the 4th start was due and is the one refused
    // Twenty restart delays later: still failed, still three starts.
    QTest::qWait(200);
    QCOMPARE(service.state(), Service::State::Failed);
    QCOMPARE(started.size(), 3);
    const Service::Status status = service.status();
    QCOMPARE(status.starts, 3);
    QCOMPARE(status.pid, 0);
    QVERIFY2(status.lastError.startsWith(QStringLiteral("start limit reached: 3 starts within the last 60000 ms (start_limit 3)")),
             qPrintable(status.lastError));
    QVERIFY(logged("kennel.supervisor", QtWarningMsg,
                   QStringLiteral("service limited: failed: 3 starts within the last 60000 ms (start_limit 3) ; not "
                                  "restarting until an operator starts it again (SIGHUP)")));

    // An operator's start clears the history: three more starts, then failed again.
    service.start();
    QTRY_COMPARE_WITH_TIMEOUT(started.size(), 6, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(service.state(), Service::State::Failed, 5000);
    QCOMPARE(service.status().starts, 6);
}

// Starts older than the window no longer count.
void tst_Supervisor::startLimitWindowSlides()
{
    ServiceSettings settings = shService(QStringLiteral("slow-crash"), QStringLiteral("exit 1"));
    settings.restartDelay = 150ms;
    settings.restartDelayMax = 150ms;
    settings.startLimit = 2;
    settings.startLimitWindow = 250ms;
    Service service(settings);
    QSignalSpy started(&service, &Service::started);
    service.start();
    QTRY_VERIFY_WITH_TIMEOUT(started.size() >= 4, 5000);
    QVERIFY(service.state() != Service::State::Failed);
    service.stop();
    QTRY_COMPARE_WITH_TIMEOUT(service.state(), Service::State::Stopped, 5000);
}

void tst_Supervisor::retryFailed()
{
    ServiceSettings failing = shService(QStringLiteral("failing"), QStringLiteral("exit 2"));
    failing.startLimit = 2;
    failing.restartDelay = 10ms;
    failing.restartDelayMax = 10ms;
    const ServiceSettings healthy = shService(QStringLiteral("healthy"), QStringLiteral("exec sleep 30"));
    Supervisor supervisor({failing, healthy});
    Service *bad = supervisor.service(QStringLiteral("failing"));
    Service *good = supervisor.service(QStringLiteral("healthy"));
    QVERIFY(bad && good);
    QSignalSpy badStarted(bad, &Service::started);
    QSignalSpy stateChanges(&supervisor, &Supervisor::serviceStateChanged);

    supervisor.startAll();
    QTRY_COMPARE_WITH_TIMEOUT(bad->state(), Service::State::Failed, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(good->state(), Service::State::Running, 5000);
    QCOMPARE(badStarted.size(), 2);
    const qint64 goodPid = good->status().pid;
    QVERIFY(std::any_of(stateChanges.cbegin(), stateChanges.cend(), [bad](const QList<QVariant> &args) {
        return args.at(0).value<Service *>() == bad && args.at(1).value<Service::State>() == Service::State::Failed;
    }));

    supervisor.retryFailed();
    QTRY_COMPARE_WITH_TIMEOUT(badStarted.size(), 4, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(bad->state(), Service::State::Failed, 5000);
    // The running service was left alone.
    QCOMPARE(good->status().pid, goodPid);
    QCOMPARE(good->status().starts, 1);

    QSignalSpy allStopped(&supervisor, &Supervisor::allStopped);
    supervisor.stopAll();
    QTRY_COMPARE_WITH_TIMEOUT(allStopped.size(), 1, 5000);
    QCOMPARE(good->state(), Service::State::Stopped);
}

void tst_Supervisor::onFailureCleanExit()
{
    Service service(shService(QStringLiteral("clean"), QStringLiteral("exit 0")));
    QSignalSpy exited(&service, &Service::exited);
    service.start();
    QTRY_COMPARE_WITH_TIMEOUT(service.state(), Service::State::Exited, 5000);
    QCOMPARE(exited.size(), 1);
    QCOMPARE(exited.first(), (QList<QVariant>{0, 0, false}));
    QTest::qWait(100); // five restart delays
    QCOMPARE(service.status().starts, 1);
    QCOMPARE(service.status().consecutiveFailures, 0);
    QCOMPARE(service.state(), Service::State::Exited);
    QVERIFY(logged("kennel.supervisor", QtInfoMsg, QStringLiteral("service clean: not restarting (restart = on-failure)")));
}

void tst_Supervisor::alwaysRestartsCleanExit()
{
    Service service(shService(QStringLiteral("again"), QStringLiteral("exit 0"), ServiceSettings::Restart::Always));
    QSignalSpy exited(&service, &Service::exited);
    service.start();
    // Stopped while waiting to restart, so that every exit seen is one of its own.
    QTRY_VERIFY_WITH_TIMEOUT(service.status().starts >= 3 && service.state() == Service::State::Backoff, 5000);
    service.stop();
    QCOMPARE(service.state(), Service::State::Stopped);
    QVERIFY(exited.size() >= 2);
    for (const QList<QVariant> &args : std::as_const(exited))
        QCOMPARE(args, (QList<QVariant>{0, 0, true}));
    QCOMPARE(service.status().consecutiveFailures, 0);
}

void tst_Supervisor::neverRestarts()
{
    Service service(shService(QStringLiteral("once"), QStringLiteral("exit 3"), ServiceSettings::Restart::Never));
    QSignalSpy exited(&service, &Service::exited);
    service.start();
    QTRY_COMPARE_WITH_TIMEOUT(service.state(), Service::State::Exited, 5000);
    QCOMPARE(exited.first(), (QList<QVariant>{3, 0, false}));
    QTest::qWait(100);
    QCOMPARE(service.status().starts, 1);
    QCOMPARE(service.status().lastExitCode, 3);
    QCOMPARE(service.status().consecutiveFailures, 1);
}

void tst_Supervisor::killedBySignal()
{
    Service service(shService(QStringLiteral("victim"), QStringLiteral("kill -KILL $$")));
    QSignalSpy exited(&service, &Service::exited);
    QSignalSpy started(&service, &Service::started);
    service.start();
    QTRY_VERIFY_WITH_TIMEOUT(started.size() >= 2, 5000);
    service.stop();
    QTRY_COMPARE_WITH_TIMEOUT(service.state(), Service::State::Stopped, 5000);
    QCOMPARE(exited.first(), (QList<QVariant>{0, int(SIGKILL), true}));
    QCOMPARE(service.status().lastExitSignal, int(SIGKILL));
    QVERIFY(countLogged("kennel.supervisor", QStringLiteral("service victim: killed by signal KILL after")) >= 1);
}

void tst_Supervisor::watchdogActionCountsAsFailure()
{
    Service service(shService(QStringLiteral("watched"), idleScript(QStringLiteral("exit 0"))));
    QSignalSpy exited(&service, &Service::exited);
    service.start();
    QTRY_COMPARE_WITH_TIMEOUT(serviceLines(QStringLiteral("watched")).count(QStringLiteral("ready")), 1, 5000);

    // What the broker's watchdog does: note it, then signal the process (here: SIGTERM, which
    // the script answers with exit 0).
    service.noteWatchdogAction();
    QVERIFY(::kill(pid_t(service.status().pid), SIGTERM) == 0);
    QTRY_COMPARE_WITH_TIMEOUT(exited.size(), 1, 5000);
    QCOMPARE(exited.first(), (QList<QVariant>{0, 0, true}));
    QCOMPARE(service.status().consecutiveFailures, 1);
    QVERIFY(countLogged("kennel.supervisor", QStringLiteral("exited with code 0 (after the watchdog acted on it)")) == 1);

    // The same exit without the watchdog: a clean exit, not restarted.
    QTRY_COMPARE_WITH_TIMEOUT(serviceLines(QStringLiteral("watched")).count(QStringLiteral("ready")), 2, 5000);
    QVERIFY(::kill(pid_t(service.status().pid), SIGTERM) == 0);
    QTRY_COMPARE_WITH_TIMEOUT(exited.size(), 2, 5000);
    QCOMPARE(exited.last(), (QList<QVariant>{0, 0, false}));
    QCOMPARE(service.state(), Service::State::Exited);
}

void tst_Supervisor::stopAllReverseOrder()
{
    const QString file = m_dir.filePath(QStringLiteral("stop-order"));
    const auto recorder = [&file](const char *name) {
        return shService(QLatin1String(name),
                         idleScript(QStringLiteral("echo %1 >> %2; exit 0").arg(QLatin1String(name), file)));
    };
    ServiceSettings stubborn = shService(QStringLiteral("stubborn"), idleScript(QString()));
    stubborn.stopTimeout = 150ms;
    Supervisor supervisor({recorder("a"), stubborn, recorder("b"), recorder("c")});
    QStringList stoppedOrder;
    connect(&supervisor, &Supervisor::serviceStateChanged, this, [&](Service *service, Service::State state) {
        if (state == Service::State::Stopped)
            stoppedOrder.append(service->name());
    });
    QSignalSpy allStopped(&supervisor, &Supervisor::allStopped);

    supervisor.startAll();
    for (const char *name : {"a", "stubborn", "b", "c"})
        QTRY_COMPARE_WITH_TIMEOUT(serviceLines(QLatin1String(name)), QStringList{QStringLiteral("ready")}, 5000);

    QElapsedTimer clock;
    clock.start();
    supervisor.stopAll();
    QVERIFY(supervisor.isStopping());
    QTRY_COMPARE_WITH_TIMEOUT(allStopped.size(), 1, 10000);
    QVERIFY(!supervisor.isStopping());

    QCOMPARE(stoppedOrder, (QStringList{QStringLiteral("c"), QStringLiteral("b"), QStringLiteral("stubborn"), QStringLiteral("a")}));
    QFile order(file);
    QVERIFY(order.open(QIODevice::ReadOnly));
    QCOMPARE(order.readAll(), QByteArray("c\nb\na\n"));
    // The TERM-ignoring one was killed after its stop timeout, and "a" waited for that.
    QVERIFY2(clock.elapsed() >= 150, qPrintable(QString::number(clock.elapsed())));
    const Service *hard = supervisor.service(QStringLiteral("stubborn"));
    QCOMPARE(hard->status().lastExitSignal, int(SIGKILL));
    QCOMPARE(countLogged("kennel.supervisor", QStringLiteral("service stubborn: did not stop within 150 ms: SIGKILL to process group")), 1);
    for (const Service *service : supervisor.services()) {
        QCOMPARE(service->state(), Service::State::Stopped);
        QCOMPARE(service->status().starts, 1);
        QCOMPARE(service->status().pid, 0);
    }
    QCOMPARE(allStopped.size(), 1);
}

void tst_Supervisor::stopAllNothingRunning()
{
    Supervisor empty({});
    QSignalSpy emptyStopped(&empty, &Supervisor::allStopped);
    empty.stopAll();
    QCOMPARE(emptyStopped.size(), 1); // at once

    Supervisor supervisor({shService(QStringLiteral("done"), QStringLiteral("exit 0"), ServiceSettings::Restart::Never)});
    supervisor.startAll();
    QTRY_COMPARE_WITH_TIMEOUT(supervisor.services().first()->state(), Service::State::Exited, 5000);
    QSignalSpy allStopped(&supervisor, &Supervisor::allStopped);
    supervisor.stopAll();
    QCOMPARE(allStopped.size(), 1);
}

// after =: the dependent (first in the list) waits in Stopped until its dependency registers its
// name, and is stopped before it.
void tst_Supervisor::dependenciesWaitForRegistration()
{
    ServiceSettings dependent = shService(QStringLiteral("dependent"), idleScript(QStringLiteral("exit 0")));
    dependent.after = {QStringLiteral("base")};
    ServiceSettings base = shService(QStringLiteral("base"), idleScript(QStringLiteral("exit 0")));
    base.clientName = QStringLiteral("base-client");
    Supervisor supervisor({dependent, base});
    QCOMPARE(supervisor.startOrder().first()->name(), QStringLiteral("base"));
    Service *first = supervisor.service(QStringLiteral("base"));
    Service *second = supervisor.service(QStringLiteral("dependent"));
    supervisor.startAll();
    QTRY_COMPARE_WITH_TIMEOUT(first->state(), Service::State::Running, 5000);
    QCOMPARE(second->state(), Service::State::Stopped);
    QCOMPARE(supervisor.waitingFor(second), QStringList{QStringLiteral("base")});
    QCOMPARE(second->status().lastError, QStringLiteral("waiting for base to register"));

    supervisor.clientRegistered("base"); // its service name is not the name it registers
    QCOMPARE(second->state(), Service::State::Stopped);
    supervisor.clientRegistered("base-client");
    QVERIFY(supervisor.isReady(first));
    QVERIFY(supervisor.waitingFor(second).isEmpty());
    QTRY_COMPARE_WITH_TIMEOUT(second->state(), Service::State::Running, 5000);
    QVERIFY(second->status().lastError.isEmpty());

    QStringList stoppedOrder;
    connect(&supervisor, &Supervisor::serviceStateChanged, this, [&](Service *service, Service::State state) {
        if (state == Service::State::Stopped)
            stoppedOrder.append(service->name());
    });
    QSignalSpy allStopped(&supervisor, &Supervisor::allStopped);
    supervisor.stopAll();
    QTRY_COMPARE_WITH_TIMEOUT(allStopped.size(), 1, 10000);
    QCOMPARE(stoppedOrder, (QStringList{QStringLiteral("dependent"), QStringLiteral("base")}));
}

// A dependency that reaches its start limit: its dependent is not started, and its status and the
// log say why; after a retry the dependency must register again before the dependent starts.
void tst_Supervisor::failedDependencyIsInTheDependentsStatus()
{
    ServiceSettings base = shService(QStringLiteral("base"), QStringLiteral("exit 3"));
    base.startLimit = 2;
    base.restartDelay = 100ms;
    base.restartDelayMax = 100ms;
    ServiceSettings dependent = shService(QStringLiteral("dependent"), idleScript(QStringLiteral("exit 0")));
    dependent.after = {QStringLiteral("base")};
    Supervisor supervisor({base, dependent});
    Service *first = supervisor.service(QStringLiteral("base"));
    Service *second = supervisor.service(QStringLiteral("dependent"));
    QSignalSpy changes(&supervisor, &Supervisor::serviceStateChanged);
    supervisor.startAll();
    QTRY_COMPARE_WITH_TIMEOUT(first->state(), Service::State::Failed, 10000);
    QCOMPARE(second->state(), Service::State::Stopped);
    QCOMPARE(second->status().starts, 0);
    QCOMPARE(second->status().lastError,
             QStringLiteral("waiting for base to register; failed (start limit): base, retried on SIGHUP"));
    QCOMPARE(countLogged("kennel.supervisor", QStringLiteral("service dependent: not started: it needs base which has "
                                                             "failed (start limit reached")),
             1);
    // Monitors were told: a record for the dependent came with the dependency's failure.
    bool told = false;
    for (const QList<QVariant> &change : std::as_const(changes))
        told = told || change.at(0).value<Service *>() == second;
    QVERIFY(told);

    supervisor.retryFailed();
    QTRY_COMPARE_WITH_TIMEOUT(first->state(), Service::State::Failed, 10000);
    QCOMPARE(second->status().starts, 0);
    QCOMPARE(supervisor.waitingFor(second), QStringList{QStringLiteral("base")});
}

void tst_Supervisor::output()
{
    Service service(shService(QStringLiteral("talker"),
                              QStringLiteral("echo out-line; echo err-line >&2; printf 'crlf\\r\\n'; "
                                             "head -c 5000 /dev/zero | tr '\\0' x; echo; echo second; printf partial"),
                              ServiceSettings::Restart::Never));
    service.start();
    QTRY_COMPARE_WITH_TIMEOUT(service.state(), Service::State::Exited, 5000);

    QVERIFY(logged("kennel.service", QtInfoMsg, QStringLiteral("talker: out-line")));
    QVERIFY(logged("kennel.service", QtWarningMsg, QStringLiteral("talker: err-line")));
    const QString cut = QString(4096, QLatin1Char('x')) + QStringLiteral(" [line cut at 4096 bytes]");
    QStringList stdoutLines;
    for (const KennelTest::LogCapture::Entry &c : g_log->entries()) {
        if (c.category == QLatin1String("kennel.service") && c.type == QtInfoMsg)
            stdoutLines.append(c.text);
    }
    QCOMPARE(stdoutLines, (QStringList{QStringLiteral("talker: out-line"), QStringLiteral("talker: crlf"),
                                       QStringLiteral("talker: ") + cut,
                                       QStringLiteral("talker: ") + QString(5000 - 4096, QLatin1Char('x')),
                                       QStringLiteral("talker: second"), QStringLiteral("talker: partial")}));
}

void tst_Supervisor::environment()
{
    EnvGuard notify("NOTIFY_SOCKET");
    EnvGuard watchdogUsec("WATCHDOG_USEC");
    EnvGuard listenFds("LISTEN_FDS");
    qputenv("NOTIFY_SOCKET", "/run/systemd/notify");
    qputenv("WATCHDOG_USEC", "1000000");
    qputenv("LISTEN_FDS", "1");
    // As in the broker: SIGPIPE ignored, and (here) a signal blocked. Neither may reach a service.
    struct sigaction ignore = {};
    ignore.sa_handler = SIG_IGN;
    struct sigaction previousPipe = {};
    QVERIFY(::sigaction(SIGPIPE, &ignore, &previousPipe) == 0);
    sigset_t blocked;
    sigset_t previousMask;
    ::sigemptyset(&blocked);
    ::sigaddset(&blocked, SIGUSR2);
    QVERIFY(::pthread_sigmask(SIG_BLOCK, &blocked, &previousMask) == 0);

    ServiceSettings settings = shService(
        QStringLiteral("env"),
        QStringLiteral("echo \"service=$KENNEL_SERVICE\"; echo \"broker=$KENNEL_BROKER\"; echo \"extra=$EXTRA\"; "
                       "echo \"notify=${NOTIFY_SOCKET-unset} usec=${WATCHDOG_USEC-unset} fds=${LISTEN_FDS-unset}\"; "
                       "echo \"pwd=$(pwd)\"; set -- $(cut -d' ' -f5 /proc/$$/stat); "
                       "if [ \"$1\" = \"$$\" ]; then echo own-group; else echo \"group $1 pid $$\"; fi; "
                       "grep -E '^Sig(Ign|Blk):' /proc/$$/status | tr '\\t' ' '; "
                       "if read line; then echo \"stdin=$line\"; else echo stdin-eof; fi"),
        ServiceSettings::Restart::Never);
    settings.environment = {QStringLiteral("EXTRA=two words"), QStringLiteral("KENNEL_SERVICE=forged"),
                            QStringLiteral("KENNEL_BROKER=forged")};
    settings.workingDirectory = m_dir.path();
    Supervisor supervisor({settings});
    QProcessEnvironment broker;
    broker.insert(QStringLiteral("KENNEL_BROKER"), QStringLiteral("unix:/tmp/kennel-test.sock"));
    supervisor.setBrokerEnvironment(broker);
    supervisor.startAll();
    Service *service = supervisor.services().first();
    QTRY_COMPARE_WITH_TIMEOUT(service->state(), Service::State::Exited, 5000);

    ::pthread_sigmask(SIG_SETMASK, &previousMask, nullptr);
    ::sigaction(SIGPIPE, &previousPipe, nullptr);

    QCOMPARE(service->status().lastExitCode, 0);
    QCOMPARE(serviceLines(QStringLiteral("env")),
             (QStringList{QStringLiteral("service=env"), QStringLiteral("broker=unix:/tmp/kennel-test.sock"),
                          QStringLiteral("extra=two words"), QStringLiteral("notify=unset usec=unset fds=unset"),
                          QStringLiteral("pwd=") + m_dir.path(), QStringLiteral("own-group"),
                          QStringLiteral("SigBlk: 0000000000000000"), QStringLiteral("SigIgn: 0000000000000000"),
                          QStringLiteral("stdin-eof")}));
}

void tst_Supervisor::missingProgram()
{
    ServiceSettings settings = shService(QStringLiteral("ghost"), QString());
    settings.program = QStringLiteral("/nonexistent/kennel-test-program");
    settings.arguments.clear();
    settings.startLimit = 3;
    settings.restartDelay = 10ms;
    settings.restartDelayMax = 10ms;
    Service service(settings);
    QSignalSpy exited(&service, &Service::exited);
    QSignalSpy started(&service, &Service::started);
    service.start();
    QTRY_COMPARE_WITH_TIMEOUT(service.state(), Service::State::Failed, 5000);
    QCOMPARE(started.size(), 0);
    QCOMPARE(exited.size(), 3);
    for (const QList<QVariant> &args : std::as_const(exited))
        QCOMPARE(args, (QList<QVariant>{-1, 0, true}));
    const Service::Status status = service.status();
    QCOMPARE(status.starts, 3);
    QCOMPARE(status.lastExitCode, -1);
    QVERIFY2(status.lastError.contains(QStringLiteral("start limit reached"))
                 && status.lastError.contains(QStringLiteral("No such file")),
             qPrintable(status.lastError));
    QCOMPARE(countLogged("kennel.supervisor", QStringLiteral("service ghost: failed to start /nonexistent/kennel-test-program")), 3);

    // restart = never: one attempt, then Exited.
    settings.restart = ServiceSettings::Restart::Never;
    Service once(settings);
    QSignalSpy onceExited(&once, &Service::exited);
    once.start();
    QTRY_COMPARE_WITH_TIMEOUT(once.state(), Service::State::Exited, 5000);
    QCOMPARE(onceExited.size(), 1);
    QCOMPARE(onceExited.first(), (QList<QVariant>{-1, 0, false}));
}

void tst_Supervisor::operatorRestart()
{
    Service service(shService(QStringLiteral("sleeper"), QStringLiteral("exec sleep 30")));
    QSignalSpy started(&service, &Service::started);
    QSignalSpy stopped(&service, &Service::stopped);
    service.start();
    QTRY_COMPARE_WITH_TIMEOUT(service.state(), Service::State::Running, 5000);
    const qint64 first = service.status().pid;
    QVERIFY(first > 0);
    service.start(); // already running: nothing
    QCOMPARE(started.size(), 1);

    service.restart();
    QCOMPARE(service.state(), Service::State::Stopping);
    QTRY_COMPARE_WITH_TIMEOUT(started.size(), 2, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(service.state(), Service::State::Running, 5000);
    QVERIFY(service.status().pid != first);
    QCOMPARE(stopped.size(), 1);
    QCOMPARE(service.status().lastExitSignal, int(SIGTERM));
    QCOMPARE(service.status().restarts, 0); // an operator's restart is not the policy's
    QCOMPARE(service.status().starts, 2);

    service.stop();
    QCOMPARE(service.state(), Service::State::Stopping);
    QTRY_COMPARE_WITH_TIMEOUT(stopped.size(), 2, 5000);
    QCOMPARE(service.state(), Service::State::Stopped);
    QCOMPARE(service.status().pid, 0);
    service.stop(); // already stopped: nothing
    QCOMPARE(stopped.size(), 2);
}

void tst_Supervisor::stopDuringBackoff()
{
    ServiceSettings settings = shService(QStringLiteral("waiting"), QStringLiteral("exit 1"));
    settings.restartDelay = 10000ms;
    settings.restartDelayMax = 10000ms;
    Service service(settings);
    QSignalSpy stopped(&service, &Service::stopped);
    service.start();
    QTRY_COMPARE_WITH_TIMEOUT(service.state(), Service::State::Backoff, 5000);
    QVERIFY(service.status().nextStartAt > Service::Clock::now() + 9000ms);
    service.stop();
    QCOMPARE(service.state(), Service::State::Stopped);
    QCOMPARE(stopped.size(), 1); // at once: there was no process
    QVERIFY(service.status().nextStartAt == Service::Clock::time_point{});
    QCOMPARE(service.status().starts, 1);
}

void tst_Supervisor::stopWhileStarting()
{
    Service service(shService(QStringLiteral("early"), QStringLiteral("exec sleep 30")));
    QSignalSpy stopped(&service, &Service::stopped);
    QSignalSpy exited(&service, &Service::exited);
    service.start();
    QCOMPARE(service.state(), Service::State::Starting);
    QVERIFY(service.status().pid > 0);
    service.stop();
    QCOMPARE(service.state(), Service::State::Stopping);
    QTRY_COMPARE_WITH_TIMEOUT(stopped.size(), 1, 5000);
    QCOMPARE(service.state(), Service::State::Stopped);
    QCOMPARE(exited.size(), 1);
    QCOMPARE(exited.first().at(2).toBool(), false);
    QTest::qWait(100); // five restart delays: no restart after a stop
    QCOMPARE(service.status().starts, 1);
    QCOMPARE(service.state(), Service::State::Stopped);
}

void tst_Supervisor::destructorKillsProcess()
{
    auto *service = new Service(shService(QStringLiteral("orphan"), QStringLiteral("exec sleep 30")));
    service->start();
    QTRY_COMPARE_WITH_TIMEOUT(service->state(), Service::State::Running, 5000);
    const pid_t pid = pid_t(service->status().pid);
    QVERIFY(::kill(pid, 0) == 0);
    delete service;
    // Killed and reaped by the time the destructor returns.
    QCOMPARE(::kill(pid, 0), -1);
    QCOMPARE(errno, ESRCH);
}

// A process that exists and is not a zombie.
bool isAlive(pid_t pid)
{
    if (::kill(pid, 0) != 0)
        return false;
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return false;
    const QByteArray text = stat.readAll();
    const qsizetype close = text.lastIndexOf(')');
    return close < 0 || text.mid(close + 2, 1) != "Z";
}

// PR_SET_PDEATHSIG: a broker killed with -9 takes its services with it. The "broker" is this test
// program run as a helper (see main()), hosting one service that writes its PID to a file.
void tst_Supervisor::noServiceOutlivesTheBroker()
{
    const QString pidFile = m_dir.filePath(QStringLiteral("hosted.pid"));
    QProcess host;
    host.setProgram(QCoreApplication::applicationFilePath());
    host.setArguments({QStringLiteral("--host-service"), pidFile});
    host.start();
    QTRY_VERIFY_WITH_TIMEOUT(QFileInfo(pidFile).size() > 0, 5000);
    QFile file(pidFile);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const pid_t pid = pid_t(file.readAll().trimmed().toInt());
    QVERIFY(pid > 0);
    QTRY_VERIFY_WITH_TIMEOUT(isAlive(pid), 5000);

    QVERIFY(::kill(pid_t(host.processId()), SIGKILL) == 0);
    QTRY_COMPARE_WITH_TIMEOUT(host.state(), QProcess::NotRunning, 5000);
    const bool gone = QTest::qWaitFor([pid] { return !isAlive(pid); }, 5000);
    if (!gone)
        ::kill(pid, SIGKILL); // ours, indirectly: do not leave it behind
    QVERIFY2(gone, "the service outlived its broker");
}

void tst_Supervisor::lookups()
{
    Supervisor supervisor({shService(QStringLiteral("a"), QStringLiteral("exec sleep 30")),
                           shService(QStringLiteral("b"), QStringLiteral("exec sleep 30"))});
    QCOMPARE(supervisor.services().size(), 2);
    QCOMPARE(supervisor.services().at(0)->name(), QStringLiteral("a"));
    QCOMPARE(supervisor.services().at(1)->name(), QStringLiteral("b"));
    QCOMPARE(supervisor.service(QStringLiteral("b")), supervisor.services().at(1));
    QCOMPARE(supervisor.service(QStringLiteral("x")), nullptr);
    QCOMPARE(supervisor.serviceByPid(0), nullptr);

    supervisor.startAll();
    Service *b = supervisor.service(QStringLiteral("b"));
    QTRY_COMPARE_WITH_TIMEOUT(b->state(), Service::State::Running, 5000);
    QCOMPARE(supervisor.serviceByPid(b->status().pid), b);
    QCOMPARE(supervisor.serviceByPid(::getpid()), nullptr);

    QSignalSpy allStopped(&supervisor, &Supervisor::allStopped);
    const qint64 pid = b->status().pid;
    supervisor.stopAll();
    QTRY_COMPARE_WITH_TIMEOUT(allStopped.size(), 1, 5000);
    QCOMPARE(supervisor.serviceByPid(pid), nullptr);
}

// With "--host-service FILE" this program is the broker of noServiceOutlivesTheBroker(): it runs
// one service until it is killed.
int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc == 3 && qstrcmp(argv[1], "--host-service") == 0) {
        Service service(shService(QStringLiteral("hosted"),
                                  QStringLiteral("echo $$ > '%1'; exec sleep 30").arg(QFile::decodeName(argv[2]))));
        service.start();
        return app.exec();
    }
    tst_Supervisor test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}

#include "tst_supervisor.moc"
