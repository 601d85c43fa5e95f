// ProcessSignaller against real child processes and real signals: SIGTERM and its exit, escalation
// to SIGKILL for a child that ignores SIGTERM, PID-reuse and already-gone cases, the protected PIDs,
// one operation per key, and the destructor. Most tests run twice: with pidfds, and with the kill(2)
// fallback that kernels before 5.3 get. Every child is started here and ended here, by its PID.
#include "logcapture.h"
#include "logging.h"
#include "peerprocess.h"
#include "processsignaller.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QLoggingCategory>
#include <QTest>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <optional>

using namespace Kennel;
using namespace std::chrono_literals;
using Outcome = ProcessSignaller::Outcome;

namespace {

// What kennel.watchdog logs; installed in initTestCase, inside QTest's run.
std::optional<KennelTest::LogCapture> capturedLog;

QStringList namesOf(const QSignalSpy &spy)
{
    QStringList names;
    for (const QList<QVariant> &args : spy)
        names.append(QLatin1String(ProcessSignaller::outcomeName(args.at(2).value<Outcome>())));
    return names;
}

QString detailAt(const QSignalSpy &spy, qsizetype i)
{
    return spy.at(i).at(3).toString();
}

// /proc/PID/stat field 3; 0 if the process is gone.
char stateOf(pid_t pid)
{
    QFile f(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return 0;
    const QByteArray line = f.readAll();
    const qsizetype close = line.lastIndexOf(')');
    return close >= 0 && close + 2 < line.size() ? line.at(close + 2) : char(0);
}

QByteArray commOf(pid_t pid)
{
    QFile f(QStringLiteral("/proc/%1/comm").arg(pid));
    return f.open(QIODevice::ReadOnly) ? f.readAll().trimmed() : QByteArray();
}

bool ignoresSigterm(pid_t pid)
{
    QFile f(QStringLiteral("/proc/%1/status").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return false;
    for (const QByteArray &line : f.readAll().split('\n')) {
        if (line.startsWith("SigIgn:"))
            return (line.mid(7).trimmed().toULongLong(nullptr, 16) & (1ull << (SIGTERM - 1))) != 0;
    }
    return false;
}

int openDescriptorCount()
{
    return int(QDir(QStringLiteral("/proc/self/fd")).entryList(QDir::NoDotAndDotDot | QDir::AllEntries | QDir::System).size());
}

} // namespace

class tst_ProcessSignaller : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanupTestCase() { capturedLog.reset(); }
    void init();
    void cleanup();

    void outcomeNames();
    void refusesProtectedPids_data();
    void refusesProtectedPids();
    void terminatesPlainChild_data() { modes(); }
    void terminatesPlainChild();
    void escalatesToKillForTermIgnoringChild_data() { modes(); }
    void escalatesToKillForTermIgnoringChild();
    void killsAtOnce_data() { modes(); }
    void killsAtOnce();
    void wrongStartTimeIsAlreadyGoneAndChildSurvives_data() { modes(); }
    void wrongStartTimeIsAlreadyGoneAndChildSurvives();
    void reapedChildIsAlreadyGone_data() { modes(); }
    void reapedChildIsAlreadyGone();
    void zombieIsAlreadyGone_data() { modes(); }
    void zombieIsAlreadyGone();
    void secondCallForPendingKey_data() { modes(); }
    void secondCallForPendingKey();
    void keysAreIndependent();
    void pidfdOpenFailureIsFailedNotFallback();
    void destructorDropsPendingEscalation_data() { modes(); }
    void destructorDropsPendingEscalation();
    void holderCheckFailingSignalsNobody_data() { modes(); }
    void holderCheckFailingSignalsNobody();

private:
    static void modes();
    // A child that exits on SIGTERM, and one that ignores it (SIG_IGN survives exec, so after the
    // shell's exec the PID is the sleeper's and the sleeper ignores SIGTERM).
    QProcess *startPlain(PeerProcess &peer);
    QProcess *startTermIgnoring(PeerProcess &peer);
    QProcess *startChild(const QString &program, const QStringList &arguments, PeerProcess &peer);

    QList<QProcess *> m_children;
};

void tst_ProcessSignaller::initTestCase()
{
    capturedLog.emplace(QStringList{QStringLiteral("kennel.watchdog")});
    // The signaller logs each step at debug level (its caller logs the outcome under the client's name).
    QLoggingCategory::setFilterRules(QStringLiteral("kennel.watchdog.debug=true"));
    QVERIFY(QFile::exists(QStringLiteral("/proc/self/stat")));
}

void tst_ProcessSignaller::init()
{
    capturedLog->clear();
}

void tst_ProcessSignaller::cleanup()
{
    detail::setPidfdEnabled(true);
    for (QProcess *child : std::as_const(m_children)) {
        if (child->state() != QProcess::NotRunning) {
            child->kill();
            child->waitForFinished(5000);
        }
        delete child;
    }
    m_children.clear();
}

void tst_ProcessSignaller::modes()
{
    QTest::addColumn<bool>("pidfd");
    QTest::newRow("pidfd") << true;
    QTest::newRow("kill(2) fallback") << false;
}

QProcess *tst_ProcessSignaller::startChild(const QString &program, const QStringList &arguments, PeerProcess &peer)
{
    auto *child = new QProcess;
    m_children.append(child);
    child->start(program, arguments);
    if (!child->waitForStarted(10000))
        return nullptr;
    peer.pid = pid_t(child->processId());
    const std::optional<quint64> start = processStartTime(peer.pid);
    if (!start)
        return nullptr;
    peer.uid = ::getuid();
    peer.startTime = *start;
    return child;
}

QProcess *tst_ProcessSignaller::startPlain(PeerProcess &peer)
{
    return startChild(QStringLiteral("sleep"), {QStringLiteral("30")}, peer);
}

QProcess *tst_ProcessSignaller::startTermIgnoring(PeerProcess &peer)
{
    QProcess *child = startChild(QStringLiteral("/bin/sh"),
                                 {QStringLiteral("-c"), QStringLiteral("trap '' TERM; exec sleep 30")}, peer);
    // Until the shell has run trap and exec, a SIGTERM would still end it.
    if (child && !QTest::qWaitFor([&] { return commOf(peer.pid) == "sleep" && ignoresSigterm(peer.pid); }, 10000))
        return nullptr;
    return child;
}

void tst_ProcessSignaller::outcomeNames()
{
    const Outcome all[] = {Outcome::TermSent, Outcome::KillSent, Outcome::Exited,
                           Outcome::AlreadyGone, Outcome::Refused, Outcome::Failed};
    QSet<QByteArray> seen;
    for (Outcome o : all) {
        const QByteArray name = ProcessSignaller::outcomeName(o);
        QVERIFY(!name.isEmpty());
        QVERIFY(name != "unknown");
        seen.insert(name);
    }
    QCOMPARE(seen.size(), qsizetype(std::size(all)));
}

void tst_ProcessSignaller::refusesProtectedPids_data()
{
    // The call per row is chosen so that even a broken refusal harms nothing outside the test:
    // SIGKILL never reaches an init process, pidfd_open() rejects 0 and negative PIDs, and SIGTERM
    // to ourselves or our parent would end this run visibly.
    QTest::addColumn<qint64>("pid");
    QTest::addColumn<bool>("useKill");
    QTest::newRow("0") << qint64(0) << true;
    QTest::newRow("-5") << qint64(-5) << true;
    QTest::newRow("1") << qint64(1) << true;
    QTest::newRow("getpid") << qint64(::getpid()) << false;
    QTest::newRow("getppid") << qint64(::getppid()) << false;
}

void tst_ProcessSignaller::refusesProtectedPids()
{
    QFETCH(qint64, pid);
    QFETCH(bool, useKill);
    if (QByteArray(QTest::currentDataTag()) == "getppid" && pid <= 1)
        QSKIP("orphaned: the parent is init, covered by row 1");
    ProcessSignaller signaller;
    QSignalSpy spy(&signaller, &ProcessSignaller::outcome);
    PeerProcess peer;
    peer.pid = pid_t(pid);
    peer.startTime = pid > 0 ? processStartTime(peer.pid).value_or(0) : 0; // a correct identity otherwise
    if (useKill)
        signaller.kill(7, peer);
    else
        signaller.terminate(7, peer, 100ms);
    QCOMPARE(namesOf(spy), QStringList{QStringLiteral("refused")});
    QCOMPARE(spy.at(0).at(0).toULongLong(), 7ull);
    QCOMPARE(spy.at(0).at(1).toLongLong(), pid);
    QVERIFY(!signaller.isPending(7));
    QCOMPARE(signaller.pendingCount(), 0);
    QVERIFY(capturedLog->texts().join(QLatin1Char('\n')).contains(QStringLiteral("pid %1: refused").arg(pid)));
    if (pid == ::getpid()) {
        // A SIGTERM to ourselves would be delivered by now; we are still here and not terminating.
        QCOMPARE(stateOf(::getpid()), 'R');
    }
}

void tst_ProcessSignaller::terminatesPlainChild()
{
    QFETCH(bool, pidfd);
    detail::setPidfdEnabled(pidfd);
    PeerProcess peer;
    QProcess *child = startPlain(peer);
    QVERIFY(child);
    ProcessSignaller signaller;
    QSignalSpy spy(&signaller, &ProcessSignaller::outcome);

    signaller.terminate(1, peer, 5000ms);
    QCOMPARE(namesOf(spy), QStringList{QStringLiteral("term-sent")});
    QVERIFY(signaller.isPending(1));
    QCOMPARE(signaller.pendingCount(), 1);
    QTRY_COMPARE_WITH_TIMEOUT(spy.size(), 2, 10000);
    QCOMPARE(namesOf(spy), (QStringList{QStringLiteral("term-sent"), QStringLiteral("exited")}));
    QCOMPARE(detailAt(spy, 1), QStringLiteral("exited after SIGTERM"));
    for (const QList<QVariant> &args : std::as_const(spy)) {
        QCOMPARE(args.at(0).toULongLong(), 1ull);
        QCOMPARE(args.at(1).toLongLong(), qint64(peer.pid));
    }
    QCOMPARE(detailAt(spy, 0).contains(QStringLiteral("kill(2)")), !pidfd);
    QVERIFY(!signaller.isPending(1));
    QCOMPARE(signaller.pendingCount(), 0);

    QTRY_COMPARE_WITH_TIMEOUT(child->state(), QProcess::NotRunning, 10000);
    QCOMPARE(child->exitStatus(), QProcess::CrashExit);
    QCOMPARE(child->exitCode(), SIGTERM);

    const QString log = capturedLog->texts().join(QLatin1Char('\n'));
    QVERIFY2(log.contains(QStringLiteral("key 1 pid %1: term-sent: SIGTERM sent").arg(peer.pid)), qPrintable(log));
    QVERIFY2(log.contains(QStringLiteral("key 1 pid %1: exited").arg(peer.pid)), qPrintable(log));
}

// The caller's holder check comes after the process is pinned and before any signal: when it
// says the process no longer holds the watched connection, nothing is sent.
void tst_ProcessSignaller::holderCheckFailingSignalsNobody()
{
    QFETCH(bool, pidfd);
    detail::setPidfdEnabled(pidfd);
    PeerProcess peer;
    QProcess *child = startPlain(peer);
    QVERIFY(child);
    ProcessSignaller signaller;
    QSignalSpy spy(&signaller, &ProcessSignaller::outcome);
    int asked = 0;
    signaller.terminate(3, peer, 100ms, [&](QString *why) {
        ++asked;
        *why = QStringLiteral("no longer holds it");
        return false;
    });
    QCOMPARE(asked, 1);
    QCOMPARE(namesOf(spy), QStringList{QStringLiteral("refused")});
    QVERIFY(detailAt(spy, 0).contains(QStringLiteral("no longer holds it")));
    QVERIFY(!signaller.isPending(3));
    signaller.kill(4, peer, [](QString *why) {
        *why = QStringLiteral("gone elsewhere");
        return false;
    });
    QCOMPARE(spy.size(), 2);
    QCOMPARE(child->state(), QProcess::Running); // never signalled
    // And with a check that passes, the signal goes out as before.
    signaller.terminate(5, peer, 5000ms, [](QString *) { return true; });
    QTRY_COMPARE_WITH_TIMEOUT(child->state(), QProcess::NotRunning, 10000);
    QCOMPARE(child->exitCode(), SIGTERM);
}

void tst_ProcessSignaller::escalatesToKillForTermIgnoringChild()
{
    QFETCH(bool, pidfd);
    detail::setPidfdEnabled(pidfd);
    PeerProcess peer;
    QProcess *child = startTermIgnoring(peer);
    QVERIFY(child);
    ProcessSignaller signaller;
    QSignalSpy spy(&signaller, &ProcessSignaller::outcome);
    QElapsedTimer clock;
    qint64 killSentAfter = -1;
    connect(&signaller, &ProcessSignaller::outcome, this, [&](quint64, qint64, Outcome o, const QString &) {
        if (o == Outcome::KillSent)
            killSentAfter = clock.elapsed();
    });

    clock.start();
    signaller.terminate(2, peer, 200ms);
    QTRY_COMPARE_WITH_TIMEOUT(spy.size(), 3, 10000);
    QCOMPARE(namesOf(spy),
             (QStringList{QStringLiteral("term-sent"), QStringLiteral("kill-sent"), QStringLiteral("exited")}));
    QCOMPARE(detailAt(spy, 2), QStringLiteral("exited after SIGKILL"));
    // Not before the grace ran out, and promptly after.
    QVERIFY2(killSentAfter >= 195 && killSentAfter < 3000, qPrintable(QString::number(killSentAfter)));
    QCOMPARE(signaller.pendingCount(), 0);

    QTRY_COMPARE_WITH_TIMEOUT(child->state(), QProcess::NotRunning, 10000);
    QCOMPARE(child->exitStatus(), QProcess::CrashExit);
    QCOMPARE(child->exitCode(), SIGKILL);
}

void tst_ProcessSignaller::killsAtOnce()
{
    QFETCH(bool, pidfd);
    detail::setPidfdEnabled(pidfd);
    PeerProcess peer;
    QProcess *child = startTermIgnoring(peer);
    QVERIFY(child);
    ProcessSignaller signaller;
    QSignalSpy spy(&signaller, &ProcessSignaller::outcome);

    signaller.kill(3, peer);
    QCOMPARE(namesOf(spy), QStringList{QStringLiteral("kill-sent")});
    QTRY_COMPARE_WITH_TIMEOUT(spy.size(), 2, 10000);
    QCOMPARE(namesOf(spy), (QStringList{QStringLiteral("kill-sent"), QStringLiteral("exited")}));
    QCOMPARE(signaller.pendingCount(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(child->state(), QProcess::NotRunning, 10000);
    QCOMPARE(child->exitStatus(), QProcess::CrashExit);
    QCOMPARE(child->exitCode(), SIGKILL);
}

void tst_ProcessSignaller::wrongStartTimeIsAlreadyGoneAndChildSurvives()
{
    QFETCH(bool, pidfd);
    detail::setPidfdEnabled(pidfd);
    PeerProcess peer;
    QProcess *child = startPlain(peer);
    QVERIFY(child);
    ProcessSignaller signaller;
    QSignalSpy spy(&signaller, &ProcessSignaller::outcome);

    PeerProcess earlier = peer;
    earlier.startTime = peer.startTime + 1;
    signaller.terminate(4, earlier, 100ms);
    signaller.kill(5, earlier);
    QCOMPARE(namesOf(spy), (QStringList{QStringLiteral("already-gone"), QStringLiteral("already-gone")}));
    QVERIFY2(detailAt(spy, 0).startsWith(QStringLiteral("PID reused")), qPrintable(detailAt(spy, 0)));
    QVERIFY2(detailAt(spy, 1).startsWith(QStringLiteral("PID reused")), qPrintable(detailAt(spy, 1)));
    QCOMPARE(signaller.pendingCount(), 0);

    // A signal, had one gone out, would have ended the sleeper well within this.
    QTest::qWait(200);
    QCOMPARE(child->state(), QProcess::Running);
    QCOMPARE(stateOf(peer.pid), 'S');
    QVERIFY(isSameProcessInstance(peer));

    // The right identity still works: the child was alive and is ended by us.
    signaller.terminate(6, peer, 5000ms);
    QTRY_COMPARE_WITH_TIMEOUT(child->state(), QProcess::NotRunning, 10000);
    QCOMPARE(child->exitCode(), SIGTERM);
    QTRY_COMPARE_WITH_TIMEOUT(spy.size(), 4, 10000);
    QCOMPARE(namesOf(spy).mid(2), (QStringList{QStringLiteral("term-sent"), QStringLiteral("exited")}));
}

void tst_ProcessSignaller::reapedChildIsAlreadyGone()
{
    QFETCH(bool, pidfd);
    detail::setPidfdEnabled(pidfd);
    PeerProcess peer;
    QProcess *child = startPlain(peer);
    QVERIFY(child);
    child->kill();
    QVERIFY(child->waitForFinished(10000)); // reaped by QProcess
    QVERIFY(!processStartTime(peer.pid));

    ProcessSignaller signaller;
    QSignalSpy spy(&signaller, &ProcessSignaller::outcome);
    signaller.terminate(8, peer, 100ms);
    signaller.kill(9, peer);
    QCOMPARE(namesOf(spy), (QStringList{QStringLiteral("already-gone"), QStringLiteral("already-gone")}));
    QCOMPARE(signaller.pendingCount(), 0);
}

void tst_ProcessSignaller::zombieIsAlreadyGone()
{
    QFETCH(bool, pidfd);
    detail::setPidfdEnabled(pidfd);
    // A raw fork so that nobody reaps the child until this test does: a zombie has exited, and
    // signalling it must not be reported as TermSent/KillSent.
    const pid_t pid = ::fork();
    QVERIFY(pid >= 0);
    if (pid == 0)
        ::_exit(0);
    auto reap = qScopeGuard([pid] { ::waitpid(pid, nullptr, 0); });
    QTRY_COMPARE_WITH_TIMEOUT(stateOf(pid), 'Z', 10000);
    PeerProcess peer;
    peer.pid = pid;
    peer.startTime = processStartTime(pid).value_or(0);
    QVERIFY(peer.startTime != 0);

    ProcessSignaller signaller;
    QSignalSpy spy(&signaller, &ProcessSignaller::outcome);
    signaller.terminate(10, peer, 100ms);
    signaller.kill(11, peer);
    QCOMPARE(namesOf(spy), (QStringList{QStringLiteral("already-gone"), QStringLiteral("already-gone")}));
    QVERIFY2(detailAt(spy, 0).contains(QStringLiteral("not yet reaped")), qPrintable(detailAt(spy, 0)));
    QCOMPARE(signaller.pendingCount(), 0);
    QCOMPARE(stateOf(pid), 'Z'); // and we did not reap it either
}

void tst_ProcessSignaller::secondCallForPendingKey()
{
    QFETCH(bool, pidfd);
    detail::setPidfdEnabled(pidfd);
    PeerProcess peer;
    QProcess *child = startTermIgnoring(peer);
    QVERIFY(child);
    ProcessSignaller signaller;
    QSignalSpy spy(&signaller, &ProcessSignaller::outcome);
    QElapsedTimer clock;
    clock.start();

    signaller.terminate(12, peer, 20000ms);
    signaller.terminate(12, peer, 0ms); // ignored: no second SIGTERM, no earlier SIGKILL
    PeerProcess other = peer;
    other.startTime += 1;
    signaller.kill(12, other); // ignored: not the pinned instance
    QCOMPARE(namesOf(spy), QStringList{QStringLiteral("term-sent")});
    QCOMPARE(signaller.pendingCount(), 1);
    QCOMPARE(capturedLog->count(QStringLiteral("ignored")), 2);

    // kill() while the SIGTERM grace runs escalates at once, long before the 20 s grace.
    signaller.kill(12, peer);
    QCOMPARE(namesOf(spy), (QStringList{QStringLiteral("term-sent"), QStringLiteral("kill-sent")}));
    QVERIFY(detailAt(spy, 1).contains(QStringLiteral("kill requested")));
    signaller.kill(12, peer); // ignored: SIGKILL already sent
    QCOMPARE(spy.size(), 2);
    QTRY_COMPARE_WITH_TIMEOUT(spy.size(), 3, 10000);
    QCOMPARE(namesOf(spy),
             (QStringList{QStringLiteral("term-sent"), QStringLiteral("kill-sent"), QStringLiteral("exited")}));
    QVERIFY(clock.elapsed() < 10000);
    QTRY_COMPARE_WITH_TIMEOUT(child->state(), QProcess::NotRunning, 10000);
    QCOMPARE(child->exitCode(), SIGKILL);

    // The key is free again; the process is gone.
    signaller.terminate(12, peer, 100ms);
    QCOMPARE(namesOf(spy).last(), QStringLiteral("already-gone"));
}

void tst_ProcessSignaller::keysAreIndependent()
{
    PeerProcess a;
    PeerProcess b;
    QProcess *childA = startPlain(a);
    QVERIFY(childA);
    QProcess *childB = startTermIgnoring(b);
    QVERIFY(childB);
    ProcessSignaller signaller;
    QSignalSpy spy(&signaller, &ProcessSignaller::outcome);

    signaller.terminate(20, a, 5000ms);
    signaller.terminate(21, b, 200ms);
    QCOMPARE(signaller.pendingCount(), 2);
    QTRY_COMPARE_WITH_TIMEOUT(spy.size(), 5, 10000);
    QStringList forA;
    QStringList forB;
    for (const QList<QVariant> &args : std::as_const(spy)) {
        const QString name = QLatin1String(ProcessSignaller::outcomeName(args.at(2).value<Outcome>()));
        (args.at(0).toULongLong() == 20 ? forA : forB).append(name);
        QCOMPARE(args.at(1).toLongLong(), qint64(args.at(0).toULongLong() == 20 ? a.pid : b.pid));
    }
    QCOMPARE(forA, (QStringList{QStringLiteral("term-sent"), QStringLiteral("exited")}));
    QCOMPARE(forB, (QStringList{QStringLiteral("term-sent"), QStringLiteral("kill-sent"), QStringLiteral("exited")}));
    QCOMPARE(signaller.pendingCount(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(childA->state(), QProcess::NotRunning, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(childB->state(), QProcess::NotRunning, 10000);
    QCOMPARE(childA->exitCode(), SIGTERM);
    QCOMPARE(childB->exitCode(), SIGKILL);
}

void tst_ProcessSignaller::pidfdOpenFailureIsFailedNotFallback()
{
    // Out of descriptors: pidfd_open fails with EMFILE. That must be Failed, not a silent switch
    // to the racy kill(2) path, so the child must survive.
    PeerProcess peer;
    QProcess *child = startPlain(peer);
    QVERIFY(child);
    ProcessSignaller signaller;
    QSignalSpy spy(&signaller, &ProcessSignaller::outcome);

    rlimit saved{};
    QCOMPARE(::getrlimit(RLIMIT_NOFILE, &saved), 0);
    const int lowestFree = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    QVERIFY(lowestFree >= 0);
    ::close(lowestFree);
    {
        rlimit tight = saved;
        tight.rlim_cur = rlim_t(lowestFree);
        QCOMPARE(::setrlimit(RLIMIT_NOFILE, &tight), 0);
        auto restore = qScopeGuard([&] { ::setrlimit(RLIMIT_NOFILE, &saved); });
        signaller.kill(30, peer);
    }
    QCOMPARE(namesOf(spy), QStringList{QStringLiteral("failed")});
    QVERIFY2(detailAt(spy, 0).startsWith(QStringLiteral("pidfd_open: ")), qPrintable(detailAt(spy, 0)));
    QCOMPARE(signaller.pendingCount(), 0);
    QTest::qWait(200);
    QCOMPARE(child->state(), QProcess::Running);
    QVERIFY(isSameProcessInstance(peer));
}

void tst_ProcessSignaller::destructorDropsPendingEscalation()
{
    QFETCH(bool, pidfd);
    detail::setPidfdEnabled(pidfd);
    PeerProcess peer;
    QProcess *child = startTermIgnoring(peer);
    QVERIFY(child);
    const int descriptorsBefore = openDescriptorCount();
    auto *signaller = new ProcessSignaller;
    QSignalSpy spy(signaller, &ProcessSignaller::outcome);

    signaller->terminate(40, peer, 100ms);
    QCOMPARE(namesOf(spy), QStringList{QStringLiteral("term-sent")});
    QCOMPARE(openDescriptorCount(), descriptorsBefore + (pidfd ? 1 : 0));
    delete signaller;
    QCOMPARE(openDescriptorCount(), descriptorsBefore);

    // Well past the grace: no SIGKILL went out, and nothing was reported after the destructor.
    QTest::qWait(400);
    QCOMPARE(spy.size(), 1);
    QCOMPARE(child->state(), QProcess::Running);
    QVERIFY(isSameProcessInstance(peer));
    QVERIFY(stateOf(peer.pid) != 'Z');
}

QTEST_GUILESS_MAIN(tst_ProcessSignaller)
#include "tst_processsignaller.moc"
