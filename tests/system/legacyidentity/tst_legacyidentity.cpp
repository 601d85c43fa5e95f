// Who owns a connection, end to end: a real kennel-broker, an old-protocol C client
// written the way real ones are (plain socket(), popen() in its main loop, a reader forked after
// connecting), and the attacks on the broker's idea of a client's process: a stale Unix connection
// whose PID was steered to a victim, a Unix socket passed on or shared, a TCP forwarder, and a PID
// claim against a process with 20,000 descriptors. Every process here is started by the test and
// ended by its PID.
#include "brokerprocess.h"
#include "canary.h"
#include "envguard.h"
#include "testbroker.h"

#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

#include <csignal>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace Kennel;
using namespace KennelTest;

class tst_LegacyIdentity : public QObject
{
    Q_OBJECT

private slots:
    void cleanup();

    void forkingClientIsServedWatchedKilledAndRestarted_data();
    void forkingClientIsServedWatchedKilledAndRestarted();
    void mainConnectionFirstThenReceive();
    void legacyMainMayActForItsOwnNativeClient();
    void staleUnixConnectionCannotActForAReusedPid_data();
    void staleUnixConnectionCannotActForAReusedPid();
    void passedOrSharedUnixSocketSignalsNobody_data();
    void passedOrSharedUnixSocketSignalsNobody();
    void forwarderIsDisconnectedNotSignalled();
    void pidClaimAgainstManyDescriptorsIsCheap();
    void kennelctlSendReachesALegacyClientWithDefaults();
    void identityAndSignalsHoldAtTheDescriptorLimit();

private:
    QProcess *run(const QStringList &args);
    static QString client() { return QStringLiteral(KENNEL_FORKING_CLIENT); }
    bool startBroker(BrokerProcess &broker, bool slowPaths, const QByteArray &config = {},
                     const QStringList &args = {});
    static QString waitFor(const QByteArray &text, const QRegularExpression &re, int timeoutMs,
                           const std::function<QByteArray()> &source);
    void remember(pid_t pid) { m_pids.append(pid); }

    QList<QProcess *> m_processes;
    QList<pid_t> m_pids; // not our children (re-parented holders): ended by PID only
};

void tst_LegacyIdentity::cleanup()
{
    for (pid_t pid : std::as_const(m_pids))
        if (pid > 1)
            ::kill(pid, SIGKILL);
    m_pids.clear();
    for (QProcess *p : std::as_const(m_processes)) {
        if (p->state() != QProcess::NotRunning) {
            p->kill();
            p->waitForFinished(5000);
        }
        delete p;
    }
    m_processes.clear();
}

QProcess *tst_LegacyIdentity::run(const QStringList &args)
{
    auto *p = new QProcess;
    m_processes.append(p);
    p->setProcessChannelMode(QProcess::SeparateChannels);
    p->setProgram(client());
    p->setArguments(args);
    p->start();
    p->waitForStarted(10000);
    return p;
}

bool tst_LegacyIdentity::startBroker(BrokerProcess &broker, bool slowPaths, const QByteArray &config,
                                     const QStringList &args)
{
    // The paths of kernels without inet_diag and pidfd_open, in a real broker process.
    EnvGuard guard("KENNEL_IDENTITY_SLOW_PATHS");
    if (slowPaths)
        qputenv("KENNEL_IDENTITY_SLOW_PATHS", "1");
    else
        qunsetenv("KENNEL_IDENTITY_SLOW_PATHS");
    BrokerProcess::Options options;
    // Steering a PID takes seconds: the stale connection must outlive the registration timeout.
    options.configText = QByteArray("[limits]\nregister_timeout_ms = 120000\n\n")
            + (config.isEmpty() ? QByteArray("[watchdog]\ndefault_interval_ms = 200\ndefault_allowed_misses = 2\n"
                                             "min_interval_ms = 50\nkill_grace_ms = 1000\n")
                                : config);
    options.arguments = args;
    QString error;
    const bool ok = broker.start(options, &error);
    if (!ok)
        qWarning("%s", qPrintable(error));
    return ok;
}

// The first match of `re` in what `source` returns, waiting up to timeoutMs; empty if none.
QString tst_LegacyIdentity::waitFor(const QByteArray &, const QRegularExpression &re, int timeoutMs,
                                    const std::function<QByteArray()> &source)
{
    QString found;
    (void)QTest::qWaitFor([&] {
        const auto m = re.match(QString::fromLocal8Bit(source()));
        if (m.hasMatch())
            found = m.captured(m.lastCapturedIndex() >= 1 ? 1 : 0);
        return !found.isEmpty();
    }, timeoutMs);
    return found;
}

static quint16 freePort(const QHostAddress &at)
{
    QTcpServer probe;
    if (!probe.listen(at, 0))
        return 0;
    return probe.serverPort();
}

static bool alive(pid_t pid)
{
    // A zombie is not alive: its process has ended.
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return false;
    const QByteArray line = stat.readAll();
    const int close = line.lastIndexOf(')');
    return close > 0 && line.size() > close + 2 && line.at(close + 2) != 'Z';
}

void tst_LegacyIdentity::forkingClientIsServedWatchedKilledAndRestarted_data()
{
    QTest::addColumn<bool>("slowPaths");
    QTest::addRow("current-kernel") << false;
    QTest::addRow("old-kernel-paths") << true;
}

// The "done when": a supervised old-protocol program that forks a reader and runs popen()
// registers its receive connection on the Unix socket and its main connection on 127.1.1.1,
// forwards both ways with a native client, is watched, stops feeding, is terminated by its
// verified PID within deadline + grace and restarted; a decoy with the same program name and the
// forked reader are never signalled.
void tst_LegacyIdentity::forkingClientIsServedWatchedKilledAndRestarted()
{
    QFETCH(bool, slowPaths);
    const quint16 port = freePort(QHostAddress(QStringLiteral("127.1.1.1")));
    QVERIFY(port);
    BrokerProcess broker;
    const QString readerLog = broker.directory() + QStringLiteral("/reader.log");
    const QString unixPath = broker.directory() + QStringLiteral("/broker.sock");
    constexpr int IntervalMs = 200, Misses = 2, KillGraceMs = 1000;
    QByteArray config = QStringLiteral(
        "[watchdog]\ndefault_interval_ms = %1\ndefault_allowed_misses = %2\nmin_interval_ms = 50\nkill_grace_ms = %3\n\n"
        "[service.forker]\nprogram = %4\n"
        "arguments = --name, forker, --recv, unix:%5, --main, 127.1.1.1:%6, --peer, nat, --send-ms, 200, --watch, "
        "--feed-ms, 100, --stop-feeding-after-ms, 2500, --popen-ms, 50, --fork-reader, --reader-log, %7\n"
        "restart = always\nrestart_delay_ms = 200\n")
        .arg(IntervalMs).arg(Misses).arg(KillGraceMs).arg(client(), unixPath).arg(port).arg(readerLog).toUtf8();
    QProcess *decoy = run({QStringLiteral("--decoy")});
    QVERIFY(decoy->waitForReadyRead(5000));
    QElapsedTimer clock;
    clock.start();
    qint64 stoppedAt = -1, exitedAt = -1;
    connect(&broker, &BrokerProcess::logged, this, [&](const QByteArray &line) {
        if (stoppedAt < 0 && line.contains("stops feeding"))
            stoppedAt = clock.elapsed();
        if (exitedAt < 0 && line.contains("'forker' pid") && line.contains(": exited:"))
            exitedAt = clock.elapsed();
    });
    QVERIFY(startBroker(broker, slowPaths, config, {QStringLiteral("--listen"), QStringLiteral("127.1.1.1:%1").arg(port)}));
    RawPeer nat;
    QVERIFY(nat.connectTcp(broker.tcpPort()));
    QVERIFY(nat.registerAs("nat"));
    auto log = [&] { return broker.log(); };
    const QString first = waitFor({}, QRegularExpression(QStringLiteral("forker: started, pid (\\d+)")), 10000, log);
    QVERIFY2(!first.isEmpty(), broker.log().right(3000).constData());
    // Both connections registered and bound though the reader and popen()'s children hold copies.
    QVERIFY2(!waitFor({}, QRegularExpression(QStringLiteral("legacy main connection 'forker'.*bound")), 10000, log).isEmpty(),
             broker.log().right(3000).constData());
    // Legacy -> native.
    const auto deliver = nat.take(FrameType::Deliver, 5000);
    QVERIFY(deliver);
    QCOMPARE(deliver->source, QByteArray("forker"));
    QVERIFY(deliver->payload.startsWith("ping"));
    // Native -> legacy, read by the forked reader.
    nat.sendTo("forker", "hello-old", 5);
    QVERIFY2(!waitFor({}, QRegularExpression(QStringLiteral("forker: got nat hello-old")), 5000, log).isEmpty(),
             broker.log().right(3000).constData());
    // Stops feeding: terminated by its own PID, then restarted.
    const QString signalled = waitFor({}, QRegularExpression(QStringLiteral("'forker' pid (\\d+): term-sent")), 15000, log);
    QVERIFY2(signalled == first, qPrintable(QStringLiteral("signalled pid %1, first pid %2; log:\n%3")
                                                .arg(signalled, first, QString::fromUtf8(broker.log().right(4000)))));
    const QString second = waitFor({}, QRegularExpression(QStringLiteral("forker: started, pid (?!%1\\b)(\\d+)").arg(first)), 10000, log);
    QVERIFY2(!second.isEmpty(), broker.log().right(3000).constData());
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog("registered legacy receive connection 'forker'") >= 2, 10000);
    QVERIFY(stoppedAt >= 0 && exitedAt > stoppedAt);
    qInfo("stopped feeding -> exited: %lld ms (deadline %d ms + grace %d ms)", exitedAt - stoppedAt, IntervalMs * Misses,
          KillGraceMs);
    QVERIFY2(exitedAt - stoppedAt <= IntervalMs * Misses + KillGraceMs + 1500, qPrintable(QString::number(exitedAt - stoppedAt)));
    // Nobody else: one term-sent, for the first PID only; the decoy runs; the reader left by itself.
    QCOMPARE(broker.countInLog(": term-sent:"), 1);
    QCOMPARE(broker.countInLog("kill-sent"), 0);
    QCOMPARE(decoy->state(), QProcess::Running);
    auto readerSays = [&](const char *what) {
        QFile reader(readerLog);
        return reader.open(QIODevice::ReadOnly) && reader.readAll().contains(what);
    };
    QVERIFY(readerSays("start"));
    // It ended by itself (EOF once the broker closed the connections, or its parent gone); a
    // signal would have ended it without this line.
    QTRY_VERIFY_WITH_TIMEOUT(readerSays(" exit "), 5000);
    const QString stopped = broker.stopVerdict(20000);
    QVERIFY2(stopped.isEmpty(), qPrintable(stopped));
}

// Either order: the main connection first (over TCP), the receive connection after it.
void tst_LegacyIdentity::mainConnectionFirstThenReceive()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker, false));
    RawPeer nat;
    QVERIFY(nat.connectTcp(broker.tcpPort()));
    QVERIFY(nat.registerAs("nat"));
    const QString tcp = broker.tcpAddress();
    QByteArray out;
    QProcess *c = run({QStringLiteral("--name"), QStringLiteral("order"), QStringLiteral("--main-first"),
                       QStringLiteral("--recv"), tcp, QStringLiteral("--main"), tcp, QStringLiteral("--peer"),
                       QStringLiteral("nat"), QStringLiteral("--send-ms"), QStringLiteral("100"),
                       QStringLiteral("--popen-ms"), QStringLiteral("20"), QStringLiteral("--fork-reader")});
    const auto deliver = nat.take(FrameType::Deliver, 10000);
    QVERIFY2(deliver, broker.log().right(2000).constData());
    QCOMPARE(deliver->source, QByteArray("order"));
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog("registered legacy receive connection 'order'") == 1, 5000);
    nat.sendTo("order", "back", 6);
    // Read by the forked reader, which shares the client's stdout.
    QTRY_VERIFY_WITH_TIMEOUT((out += c->readAllStandardOutput()).contains("got nat back"), 5000);
    QCOMPARE(broker.countInLog("NameTaken"), 0);
    QCOMPARE(broker.countInLog("name_taken"), 0);
}

// One process with a native client and an old-protocol main connection under
// the same name is allowed; another process is refused, and the log says why.
void tst_LegacyIdentity::legacyMainMayActForItsOwnNativeClient()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker, false));
    RawPeer native;
    QVERIFY(native.connectTcp(broker.tcpPort()));
    QVERIFY(native.registerAs("mixed"));
    RawPeer witness;
    QVERIFY(witness.connectTcp(broker.tcpPort()));
    QVERIFY(witness.registerAs("wit"));
    LegacyPeer mine; // this process, old protocol
    QVERIFY(mine.connectTcp(broker.tcpPort()));
    mine.forward("wit", "mixed", "from-my-legacy-side");
    const auto got = witness.take(FrameType::Deliver, 5000);
    QVERIFY2(got, broker.log().right(2000).constData());
    QCOMPARE(got->source, QByteArray("mixed"));
    QCOMPARE(got->payload, QByteArray("from-my-legacy-side"));
    // Another process: refused, "belongs to another process" now being the truth.
    QProcess *other = run({QStringLiteral("--name"), QStringLiteral("mixed"), QStringLiteral("--recv"), QStringLiteral("none"),
                           QStringLiteral("--main"), broker.tcpAddress(), QStringLiteral("--peer"), QStringLiteral("wit"),
                           QStringLiteral("--send-ms"), QStringLiteral("100")});
    Q_UNUSED(other);
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog("'mixed' refused: a main connection may only act for its own process, and it belongs to another process") >= 1,
                             10000);
    QVERIFY(!witness.take(FrameType::Deliver, 300));
}

void tst_LegacyIdentity::staleUnixConnectionCannotActForAReusedPid_data()
{
    QTest::addColumn<bool>("slowPaths");
    QTest::addRow("current-kernel") << false;
    QTest::addRow("old-kernel-paths") << true;
}

// Attack 1 (and 2, on the old-kernel paths): a process connects to the Unix socket, forks a child
// that keeps the connection, and exits; its PID is steered (by forking, as anyone may) to a
// victim that registers over TCP. The stale connection then forwards as the victim and registers
// the victim's watchdog. Neither may work, and the victim is never signalled.
void tst_LegacyIdentity::staleUnixConnectionCannotActForAReusedPid()
{
    QFETCH(bool, slowPaths);
    BrokerProcess broker;
    QVERIFY(startBroker(broker, slowPaths));
    RawPeer nat;
    QVERIFY(nat.connectTcp(broker.tcpPort()));
    QVERIFY(nat.registerAs("nat"));
    const QString trigger = broker.directory() + QStringLiteral("/go");
    QProcess *connector = run({QStringLiteral("--stale"), broker.unixAddress(), QStringLiteral("--as"), QStringLiteral("victim"),
                               QStringLiteral("--peer"), QStringLiteral("nat"), QStringLiteral("--trigger"), trigger});
    QVERIFY(connector->waitForFinished(10000));
    const QString out = QString::fromLatin1(connector->readAllStandardOutput());
    const auto m = QRegularExpression(QStringLiteral("connector (\\d+) holder (\\d+)")).match(out);
    QVERIFY2(m.hasMatch(), qPrintable(out));
    const pid_t stalePid = pid_t(m.captured(1).toInt());
    const pid_t holder = pid_t(m.captured(2).toInt());
    remember(holder);
    // The victim gets the connector's PID.
    QProcess *steer = run({QStringLiteral("--steer-pid"), QString::number(stalePid), QStringLiteral("--"), client(),
                           QStringLiteral("--name"), QStringLiteral("victim"), QStringLiteral("--recv"), broker.tcpAddress(),
                           QStringLiteral("--main"), broker.tcpAddress(), QStringLiteral("--watch"), QStringLiteral("--feed-ms"),
                           QStringLiteral("50")});
    QTRY_VERIFY_WITH_TIMEOUT(steer->canReadLine() || steer->state() == QProcess::NotRunning, 60000);
    const QByteArray steered = steer->readLine();
    QVERIFY2(steered.startsWith(QByteArray(QByteArray("victim ") + QByteArray::number(stalePid))), steered.constData());
    remember(stalePid);
    QTRY_VERIFY_WITH_TIMEOUT(broker.log().contains("legacy main connection 'victim'"), 10000);
    QVERIFY(QFile(trigger).open(QIODevice::WriteOnly));
    auto forged = [&] {
        for (const Frame &f : nat.frames())
            if (f.type == FrameType::Deliver && f.payload == "forged")
                return true;
        return false;
    };
    // The stale connection is refused, saying why, and nothing it sent arrives as the victim's.
    QTRY_VERIFY_WITH_TIMEOUT(broker.log().contains("'victim' refused") || forged(), 10000);
    QVERIFY2(!forged(), "the stale connection's forward was delivered as coming from the victim");
    QVERIFY2(broker.log().contains("'victim' refused: a main connection may only act for its own process, and it belongs to another process"),
             broker.log().right(3000).constData());
    // Long past the watchdog deadline the stale connection would have set: the victim lives.
    QTest::qWait(1500);
    QVERIFY(alive(stalePid));
    QVERIFY2(!steer->readAll().contains("killed by signal"), "the victim was signalled");
    QCOMPARE(broker.countInLog("term-sent"), 0);
    QVERIFY(!forged());
}

void tst_LegacyIdentity::passedOrSharedUnixSocketSignalsNobody_data()
{
    QTest::addColumn<bool>("keep");
    QTest::addRow("passed") << false;
    QTest::addRow("shared") << true;
}

// Attack 3: a watched Unix connection is passed (SCM_RIGHTS) to an unrelated process, the sender
// closing its copy or keeping it. Today's SO_PEERCRED/SO_PEERPIDFD answer names the connecting
// process; it must not be signalled (it no longer holds the connection, or holds it with a
// stranger), and the connection is disconnected instead.
void tst_LegacyIdentity::passedOrSharedUnixSocketSignalsNobody()
{
    QFETCH(bool, keep);
    BrokerProcess broker;
    QVERIFY(startBroker(broker, false, "[watchdog]\ndefault_interval_ms = 500\ndefault_allowed_misses = 2\n"
                                       "min_interval_ms = 50\nkill_grace_ms = 1000\n"));
    const QString holdPath = broker.directory() + QStringLiteral("/hold.sock");
    QProcess *holder = run({QStringLiteral("--hold"), holdPath});
    QTRY_VERIFY_WITH_TIMEOUT(holder->canReadLine(), 10000);
    QVERIFY(holder->readLine().contains("listening"));
    QStringList args{QStringLiteral("--pass"), broker.unixAddress(), QStringLiteral("--as"), QStringLiteral("passer"),
                     QStringLiteral("--to"), holdPath};
    if (keep)
        args << QStringLiteral("--keep");
    QProcess *passer = run(args);
    QTRY_VERIFY_WITH_TIMEOUT(broker.log().contains("'passer' expired"), 10000);
    QTRY_VERIFY_WITH_TIMEOUT(broker.log().contains("'passer' is not signalled") || broker.log().contains("term-sent"), 5000);
    QCOMPARE(broker.countInLog("term-sent"), 0);
    QCOMPARE(broker.countInLog("kill-sent"), 0);
    QCOMPARE(passer->state(), QProcess::Running);
    QCOMPARE(holder->state(), QProcess::Running);
}

// Attack 4: a relay (socat-like) forwards a legacy client's main connection over TCP. The relay
// holds the broker's peer socket alone, but it is not the client: disconnect, never signal.
void tst_LegacyIdentity::forwarderIsDisconnectedNotSignalled()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker, false));
    QProcess *relay = run({QStringLiteral("--relay"), broker.tcpAddress()});
    QTRY_VERIFY_WITH_TIMEOUT(relay->canReadLine(), 10000);
    const QByteArray line = relay->readLine();
    QVERIFY2(line.startsWith("relay-port "), line.constData());
    const QString relayPort = QString::fromLatin1(line.mid(11).trimmed());
    QProcess *c = run({QStringLiteral("--name"), QStringLiteral("relayed"), QStringLiteral("--recv"), QStringLiteral("none"),
                       QStringLiteral("--main"), QStringLiteral("127.0.0.1:") + relayPort, QStringLiteral("--watch"),
                       QStringLiteral("--feed-ms"), QStringLiteral("50"), QStringLiteral("--stop-feeding-after-ms"),
                       QStringLiteral("300")});
    QTRY_VERIFY_WITH_TIMEOUT(broker.log().contains("'relayed' expired"), 10000);
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog("watchdog_expired") + broker.countInLog("term-sent") >= 1, 5000);
    QCOMPARE(broker.countInLog("term-sent"), 0);
    QCOMPARE(relay->state(), QProcess::Running);
    QCOMPARE(c->state(), QProcess::Running);
}

// Checking a Hello's PID claim reads a bounded part of the claimed process's
// descriptor table, so a claim against a process holding 20,000 descriptors costs what any claim
// costs, and a canary pair keeps its latency while clients keep making such claims.
void tst_LegacyIdentity::pidClaimAgainstManyDescriptorsIsCheap()
{
    // The heavy process is a child holding 20,000 descriptors (dup()s of /dev/null), or as many
    // as its hard limit allows.
    int ready[2];
    QVERIFY(::pipe2(ready, O_CLOEXEC) == 0);
    const pid_t heavy = ::fork();
    QVERIFY(heavy >= 0);
    if (heavy == 0) {
        rlimit limit{20100, 20100};
        if (::setrlimit(RLIMIT_NOFILE, &limit) != 0)
            ::getrlimit(RLIMIT_NOFILE, &limit);
        const int wanted = int(std::min<rlim_t>(20000, limit.rlim_cur - 64));
        const int base = ::open("/dev/null", O_RDONLY);
        int held = 0;
        while (held < wanted && ::dup(base) >= 0)
            ++held;
        (void)!::write(ready[1], &held, sizeof held);
        for (;;)
            ::pause();
    }
    ::close(ready[1]);
    int held = 0;
    const bool heavyReady = ::read(ready[0], &held, sizeof held) == ssize_t(sizeof held);
    ::close(ready[0]);
    remember(heavy);
    QVERIFY(heavyReady);
    qInfo("the claimed process holds %d descriptors", held);
    QVERIFY(held >= 19000);

    BrokerProcess broker;
    QVERIFY(startBroker(broker, false));
    Canary canary;
    Canary::Options options;
    options.brokerAddress = broker.tcpAddress();
    options.latencyBound = std::chrono::milliseconds(1000);
    QVERIFY2(canary.start(options), qPrintable(canary.verdict()));
    // 200 Hellos over TCP claiming the heavy process: each is checked and refused or left unused.
    QElapsedTimer t;
    t.start();
    constexpr int Claims = 200;
    int answered = 0;
    for (int i = 0; i < Claims; ++i) {
        RawPeer liar;
        QVERIFY(liar.connectTcp(broker.tcpPort()));
        liar.hello("claim" + QByteArray::number(i), quint32(heavy));
        // Refused (pid_mismatch) or welcomed with the claim unused: either way, answered. Polled
        // every millisecond: QTRY's 50 ms steps would measure the test, not the broker.
        QDeadlineTimer wait(5000);
        while (liar.frames().isEmpty() && !wait.hasExpired())
            QTest::qWait(1);
        QVERIFY(!liar.frames().isEmpty());
        const FrameType type = liar.frames().constFirst().type;
        if (type == FrameType::Error || type == FrameType::Welcome)
            ++answered;
    }
    const qint64 elapsed = t.elapsed();
    qInfo("%d claims against a process with %d descriptors: %lld ms (%.2f ms each); canary max latency %.1f ms",
          Claims, held, elapsed, double(elapsed) / Claims, canary.maxLatencyUs() / 1000.0);
    canary.stop();
    QVERIFY2(canary.healthy(), qPrintable(canary.verdict()));
    QCOMPARE(answered, Claims);
    // Reading the whole table costs ~57 ms a claim; the bounded check well under 5 ms.
    QVERIFY2(elapsed < Claims * 10, qPrintable(QString::number(elapsed)));
}

// `kennelctl send NAME TEXT` with default options to an old-protocol client: its default sender
// name must fit the old 9-character field (it was "kennelctl-PID": sender_name_unfit).
void tst_LegacyIdentity::kennelctlSendReachesALegacyClientWithDefaults()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker, false));
    QByteArray out;
    QProcess *c = run({QStringLiteral("--name"), QStringLiteral("oldone"), QStringLiteral("--recv"), broker.tcpAddress(),
                       QStringLiteral("--main"), broker.tcpAddress(), QStringLiteral("--fork-reader")});
    QTRY_VERIFY_WITH_TIMEOUT(broker.log().contains("registered legacy receive connection 'oldone'"), 10000);
    QProcess ctl;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("KENNEL_BROKER"), broker.tcpAddress());
    ctl.setProcessEnvironment(env);
    ctl.start(binaryPath(QStringLiteral("kennelctl")), {QStringLiteral("send"), QStringLiteral("oldone"), QStringLiteral("hi-from-ctl")});
    QVERIFY(ctl.waitForFinished(15000));
    QVERIFY2(ctl.exitCode() == 0, ctl.readAllStandardError().constData());
    QTRY_VERIFY_WITH_TIMEOUT((out += c->readAllStandardOutput()).contains(" hi-from-ctl"), 5000);
    QVERIFY2(QRegularExpression(QStringLiteral("got kc\\d{1,7} hi-from-ctl")).match(QString::fromLatin1(out)).hasMatch(), out.constData());
}

// Descriptor exhaustion: with every descriptor but the reserve taken by idle connections, two
// watched forking clients stop feeding together. Each is looked up again and signalled by its
// own verified PID (the first one's pending pidfd does not eat the reserve the second one's
// lookup needs); the broker never falls back to a PID it could not verify.
void tst_LegacyIdentity::identityAndSignalsHoldAtTheDescriptorLimit()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.maxDescriptors = 96;
    options.configText = "[limits]\nregister_timeout_ms = 120000\n\n[watchdog]\ndefault_interval_ms = 300\n"
                         "default_allowed_misses = 2\nmin_interval_ms = 50\nkill_grace_ms = 3000\n";
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    QList<QProcess *> clients;
    for (const char *name : {"full1", "full2"})
        clients << run({QStringLiteral("--name"), QString::fromLatin1(name), QStringLiteral("--recv"), broker.tcpAddress(),
                        QStringLiteral("--main"), broker.tcpAddress(), QStringLiteral("--watch"), QStringLiteral("--feed-ms"),
                        QStringLiteral("50"), QStringLiteral("--stop-feeding-after-ms"), QStringLiteral("2500"),
                        QStringLiteral("--popen-ms"), QStringLiteral("100"), QStringLiteral("--fork-reader")});
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog("kennel.watchdog info: registered 'full") == 2, 10000);
    // Fill the broker up: connections until it refuses them.
    std::vector<std::unique_ptr<QTcpSocket>> idle;
    for (int i = 0; i < 120 && !broker.log().contains("out of file descriptors"); ++i) {
        auto s = std::make_unique<QTcpSocket>();
        s->connectToHost(QHostAddress::LocalHost, broker.tcpPort());
        QVERIFY(s->waitForConnected(5000));
        idle.push_back(std::move(s));
        QTest::qWait(5);
    }
    QTRY_VERIFY_WITH_TIMEOUT(broker.log().contains("out of file descriptors"), 5000);
    // Full before either client expires.
    QVERIFY2(!broker.log().contains("expired"), broker.log().right(2000).constData());
    qInfo("broker full after %zu idle connections; %d descriptors open", idle.size(), broker.openDescriptors());
    const QString pid1 = QString::number(clients.at(0)->processId());
    const QString pid2 = QString::number(clients.at(1)->processId());
    QTRY_VERIFY2_WITH_TIMEOUT(broker.log().contains(QByteArray("'full1' pid " + pid1.toLatin1() + ": exited"))
                                  && broker.log().contains(QByteArray("'full2' pid " + pid2.toLatin1() + ": exited")),
                              broker.log().right(3000).constData(), 15000);
    QCOMPARE(broker.countInLog(": term-sent:"), 2);
    QCOMPARE(broker.countInLog(": failed:"), 0);
}

QTEST_MAIN(tst_LegacyIdentity)
#include "tst_legacyidentity.moc"
