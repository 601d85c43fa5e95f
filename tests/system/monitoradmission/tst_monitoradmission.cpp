// Monitor admission and the service/operator split (docs/SECURITY.md),
// end to end through real sockets and real processes:
// - an admission-room flood (32 wrong-token Hellos kept waiting from two addresses) with
//   operators still admitted: right token over TCP, root/uid on the Unix socket, a proven address;
// - a deadline for every connection waiting for its answer;
// - idle TCP connections on the TLS port with a TLS operator still admitted;
// - a guesser rotating 127.x.y.z held to the broker-wide guess budget;
// - a supervised service refused as a monitor by its uid (it cannot stop a service or
//   disconnect a client), and one allowed by [service.NAME] monitor;
// - a daemonizing service (double fork, setsid) stopped on service stop and at the broker's
//   shutdown, no orphan left (checked by PID); one that also sheds its environment, found only
//   by its cgroup, likewise (skipped, with the broker's reason, where no cgroup2 is writable);
// - a restart-storm configuration refused by --check-config and at start.
// Loopback addresses other than 127.0.0.1 are all usable on Linux: a socket bound to 127.0.0.2
// reaches a listener on 127.0.0.1 and the broker sees 127.0.0.2.
#include "brokerprocess.h"
#include "canary.h"
#include "monitorcodec.h"
#include "monitorhub.h"
#include "service.h"
#include "supervisor.h"
#include "testbroker.h"

#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QHostAddress>
#include <QLocalSocket>
#include <QProcess>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSignalSpy>
#include <QSslSocket>
#include <QStandardPaths>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <memory>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace Kennel;
using namespace KennelTest;
using namespace std::chrono_literals;

namespace {

const QByteArray Token = QByteArrayLiteral("admission-test-token-0123456789");
const QByteArray WrongToken = QByteArrayLiteral("admission-test-WRONG-0123456789");

// A monitor connection seen from outside: TCP (bound to a chosen loopback address), TLS or Unix.
class MonitorPeer
{
public:
    struct Answer
    {
        bool welcome = false;
        ErrorCode code = ErrorCode::None;
        QString text;
    };

    static std::unique_ptr<MonitorPeer> tcpFrom(const char *from, quint16 port)
    {
        auto peer = std::make_unique<MonitorPeer>();
        auto *socket = new QTcpSocket;
        peer->m_device.reset(socket);
        if (!socket->bind(QHostAddress(QString::fromLatin1(from)), 0))
            return nullptr;
        socket->connectToHost(QHostAddress::LocalHost, port);
        return peer;
    }

    static std::unique_ptr<MonitorPeer> tlsFrom(const char *from, quint16 port, const QString &certificate)
    {
        auto peer = std::make_unique<MonitorPeer>();
        auto *socket = new QSslSocket;
        peer->m_device.reset(socket);
        QSslConfiguration trusting = QSslConfiguration::defaultConfiguration();
        trusting.setCaCertificates(QSslCertificate::fromPath(certificate));
        socket->setSslConfiguration(trusting);
        if (!socket->bind(QHostAddress(QString::fromLatin1(from)), 0))
            return nullptr;
        socket->connectToHostEncrypted(QStringLiteral("127.0.0.1"), port, QStringLiteral("localhost"));
        return peer;
    }

    static std::unique_ptr<MonitorPeer> unixAt(const QString &path)
    {
        auto peer = std::make_unique<MonitorPeer>();
        auto *socket = new QLocalSocket;
        peer->m_device.reset(socket);
        socket->connectToServer(path);
        return peer;
    }

    // Written once connected (Qt buffers it until then; for TLS until encrypted).
    void helloAsMonitor(const QByteArray &token, const QByteArray &name = QByteArrayLiteral("ops"))
    {
        Frame f;
        f.type = FrameType::Hello;
        f.messageId = 1;
        f.source = name;
        HelloPayload hello;
        hello.role = Role::Monitor;
        hello.token = token;
        f.payload = encodeHello(hello);
        m_device->write(encodeFrame(f));
    }

    // The answer to the Hello, once there is one.
    std::optional<Answer> answer()
    {
        if (m_answer)
            return m_answer;
        m_decoder.append(m_device->readAll());
        while (const std::optional<Frame> f = m_decoder.next()) {
            if (f->type == FrameType::Welcome) {
                m_answer = Answer{true, ErrorCode::None, {}};
            } else if (f->type == FrameType::Error) {
                const ErrorPayload error = decodeError(f->payload).value_or(ErrorPayload{});
                m_answer = Answer{false, error.code, error.text};
            }
            if (m_answer)
                break;
        }
        return m_answer;
    }

    bool isEncrypted() const
    {
        auto *tls = qobject_cast<QSslSocket *>(m_device.get());
        return tls && tls->isEncrypted();
    }

private:
    std::unique_ptr<QIODevice> m_device;
    FrameDecoder m_decoder{1024 * 1024};
    std::optional<Answer> m_answer;
};

QString describe(const std::optional<MonitorPeer::Answer> &a)
{
    if (!a)
        return QStringLiteral("no answer");
    if (a->welcome)
        return QStringLiteral("welcome");
    return QStringLiteral("error %1: %2").arg(int(a->code)).arg(a->text);
}

// Gone: no such process, or a zombie (reaped here if it is ours).
bool processGone(pid_t pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return true;
    const QByteArray text = stat.readAll();
    const qsizetype close = text.lastIndexOf(')');
    if (close >= 0 && text.size() > close + 2 && text.at(close + 2) == 'Z') {
        int status = 0;
        ::waitpid(pid, &status, WNOHANG);
        return true;
    }
    return false;
}

pid_t readPidFile(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return 0;
    return pid_t(file.readAll().trimmed().toInt());
}

ListenAddress tcpListen()
{
    ListenAddress a;
    a.kind = ListenAddress::Kind::Tcp;
    a.host = QStringLiteral("127.0.0.1");
    a.port = 0;
    return a;
}

ListenAddress unixListen(const QString &path)
{
    ListenAddress a;
    a.kind = ListenAddress::Kind::Unix;
    a.path = path;
    return a;
}

} // namespace

class tst_MonitorAdmission : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanup();

    void waitingRoomFloodLeavesOperatorsIn();
    void admissionHasADeadline();
    void idleConnectionsLeaveTlsOperatorIn();
    void rotatingGuesserHeldToBudget();
    void serviceIsNotAnOperator();
    void daemonizingServiceStoppedOnStop();
    void daemonizingServiceStoppedAtBrokerShutdown();
    void hiddenDaemonStoppedByItsCgroup();
    void stormConfigRefused_data();
    void stormConfigRefused();
    void failingServiceMarkedFailedAtTheBounds();

private:
    QTemporaryDir m_dir;
    QString m_cert, m_key;
    QString m_opensslProblem;
    QList<pid_t> m_daemons; // killed by PID at cleanup if a test left one
};

void tst_MonitorAdmission::initTestCase()
{
    QVERIFY2(m_dir.isValid(), qPrintable(m_dir.errorString()));
    raiseDescriptorLimit();
    m_cert = m_dir.filePath(QStringLiteral("cert.pem"));
    m_key = m_dir.filePath(QStringLiteral("key.pem"));
    if (QStandardPaths::findExecutable(QStringLiteral("openssl")).isEmpty()) {
        m_opensslProblem = QStringLiteral("the openssl command-line tool is missing: run scripts/install-deps.sh");
        return;
    }
    QProcess openssl;
    openssl.setProcessChannelMode(QProcess::MergedChannels);
    // Nothing under test runs yet: waiting here blocks nothing.
    openssl.start(QStringLiteral("openssl"),
                  {QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-newkey"), QStringLiteral("ec"),
                   QStringLiteral("-pkeyopt"), QStringLiteral("ec_paramgen_curve:prime256v1"), QStringLiteral("-nodes"),
                   QStringLiteral("-days"), QStringLiteral("2"), QStringLiteral("-subj"), QStringLiteral("/CN=localhost"),
                   QStringLiteral("-addext"), QStringLiteral("subjectAltName=DNS:localhost,IP:127.0.0.1"),
                   QStringLiteral("-keyout"), m_key, QStringLiteral("-out"), m_cert});
    if (!openssl.waitForFinished(60000) || openssl.exitCode() != 0)
        m_opensslProblem = QStringLiteral("openssl failed: ") + QString::fromLocal8Bit(openssl.readAll());
    else if (!QSslSocket::supportsSsl())
        m_opensslProblem = QStringLiteral("Qt has no usable TLS backend");
}

void tst_MonitorAdmission::cleanup()
{
    for (const pid_t pid : std::as_const(m_daemons)) {
        if (!processGone(pid)) {
            ::kill(pid, SIGKILL);
            QTRY_VERIFY(processGone(pid));
        }
    }
    m_daemons.clear();
}

// Finding 2: 32 wrong-token Hellos from 127.0.0.2 and 127.0.0.3, kept waiting (their answers are
// held back 5 s and more), used to fill the waiting room: every operator was refused with
// too_many_clients. Now each address and /24 has a few places, and operators get in.
void tst_MonitorAdmission::waitingRoomFloodLeavesOperatorsIn()
{
    BrokerConfig config;
    config.monitor.token = Token;
    config.monitor.failureDelay = 5000ms;
    config.monitor.failureDelayMax = 60000ms;
    config.monitor.admissionTimeout = 60000ms;
    TestBroker broker(config);
    QVERIFY(broker.start());
    const quint16 port = broker.tcpPort();
    Canary canary;
    QVERIFY(canary.start({broker.tcpAddress()}));

    // An operator who came in from 127.0.0.1 before the flood: proven.
    {
        auto before = MonitorPeer::tcpFrom("127.0.0.1", port);
        QVERIFY(before);
        before->helloAsMonitor(Token);
        QTRY_VERIFY(before->answer());
        QVERIFY2(before->answer()->welcome, qPrintable(describe(before->answer())));
    }

    std::vector<std::unique_ptr<MonitorPeer>> guessers;
    for (int i = 0; i < 32; ++i) {
        guessers.push_back(MonitorPeer::tcpFrom(i % 2 ? "127.0.0.3" : "127.0.0.2", port));
        QVERIFY(guessers.back());
        guessers.back()->helloAsMonitor(WrongToken, "guesser");
    }
    // max_waiting_per_address 4, max_waiting_per_prefix 8 (defaults): 8 wait, 24 are refused at once.
    const auto refusedCount = [&guessers] {
        int n = 0;
        for (const auto &g : guessers) {
            const auto a = g->answer();
            n += a && a->code == ErrorCode::TooManyClients ? 1 : 0;
        }
        return n;
    };
    // Every guesser has reached the broker: refused, or a monitor connection there.
    MonitorHub &hub = broker.broker().monitors();
    QTRY_VERIFY_WITH_TIMEOUT(refusedCount() + int(hub.monitors().size()) >= 32, 5000);

    // The operators, while guessers still wait.
    QElapsedTimer clock;
    clock.start();
    auto tcpOperator = MonitorPeer::tcpFrom("127.1.0.1", port);
    QVERIFY(tcpOperator);
    tcpOperator->helloAsMonitor(Token);
    auto unixOperator = MonitorPeer::unixAt(broker.unixPath());
    unixOperator->helloAsMonitor({});
    auto provenOperator = MonitorPeer::tcpFrom("127.0.0.1", port);
    QVERIFY(provenOperator);
    provenOperator->helloAsMonitor(Token);
    QTRY_VERIFY_WITH_TIMEOUT(tcpOperator->answer() && unixOperator->answer() && provenOperator->answer(), 3000);
    qInfo("3 operators answered within %lld ms of their Hellos, 32 guessers sent", clock.elapsed());
    QVERIFY2(tcpOperator->answer()->welcome, qPrintable(describe(tcpOperator->answer())));
    QVERIFY2(unixOperator->answer()->welcome, qPrintable(describe(unixOperator->answer())));
    QVERIFY2(provenOperator->answer()->welcome, qPrintable(describe(provenOperator->answer())));

    QTRY_COMPARE_WITH_TIMEOUT(refusedCount(), 24, 5000);
    const MonitorHub::AdmissionCounters counters = hub.admissionCounters();
    QCOMPARE(counters.refusedPerAddress + counters.refusedPerPrefix, quint64(24));
    // Everyone else keeps being served while the guessers wait.
    QTRY_VERIFY_WITH_TIMEOUT(canary.received() >= 25, 3000);
    int stillWaiting = 0;
    for (const auto &g : guessers)
        stillWaiting += g->answer() ? 0 : 1;
    QCOMPARE(stillWaiting, 8);
    canary.stop();
    QVERIFY2(canary.healthy(), qPrintable(canary.verdict()));
    qInfo("canary: %llu messages, worst latency %lld us", canary.received(), canary.maxLatencyUs());
}

// Finding 2: nothing timed out a connection while its answer was held back. admission_timeout_ms
// now does, with a clear error and a counter.
void tst_MonitorAdmission::admissionHasADeadline()
{
    BrokerConfig config;
    config.monitor.token = Token;
    config.monitor.failureDelay = 5000ms;
    config.monitor.failureDelayMax = 60000ms;
    config.monitor.admissionTimeout = 1000ms;
    TestBroker broker(config);
    QVERIFY(broker.start());
    auto guesser = MonitorPeer::tcpFrom("127.0.0.5", broker.tcpPort());
    QVERIFY(guesser);
    QElapsedTimer clock;
    clock.start();
    guesser->helloAsMonitor(WrongToken);
    QTRY_VERIFY_WITH_TIMEOUT(guesser->answer(), 8000);
    const qint64 elapsed = clock.elapsed();
    QCOMPARE(guesser->answer()->code, ErrorCode::RegisterTimeout);
    QVERIFY2(guesser->answer()->text.contains(QStringLiteral("admission_timeout_ms")), qPrintable(guesser->answer()->text));
    QVERIFY2(elapsed >= 900 && elapsed < 4000, qPrintable(QString::number(elapsed)));
    QCOMPARE(broker.broker().monitors().admissionCounters().timedOut, quint64(1));
}

// Finding 2: 8 idle TCP connections filled every TLS handshake slot (13 of 13 TLS operators
// refused). Here 16 idle connections from two addresses; the TLS operator still gets in.
void tst_MonitorAdmission::idleConnectionsLeaveTlsOperatorIn()
{
    if (!m_opensslProblem.isEmpty())
        QFAIL(qPrintable(m_opensslProblem));
    BrokerConfig config;
    config.monitor.token = Token;
    config.monitor.tls = true;
    config.monitor.certificateFile = m_cert;
    config.monitor.privateKeyFile = m_key;
    config.monitor.listen = {tcpListen()};
    config.monitor.handshakeTimeout = 60000ms;
    TestBroker broker(config);
    QVERIFY(broker.start());
    const QList<ListenAddress> monitorAddresses = broker.broker().monitors().boundAddresses();
    QCOMPARE(monitorAddresses.size(), 1);
    const quint16 port = monitorAddresses.first().port;
    Canary canary;
    QVERIFY(canary.start({broker.tcpAddress()}));

    std::vector<std::unique_ptr<QTcpSocket>> idle;
    for (int i = 0; i < 16; ++i) {
        auto socket = std::make_unique<QTcpSocket>();
        QVERIFY(socket->bind(QHostAddress(QString::fromLatin1(i % 2 ? "127.0.0.3" : "127.0.0.2")), 0));
        socket->connectToHost(QHostAddress::LocalHost, port);
        idle.push_back(std::move(socket));
    }
    // 4 per address, 8 per /24 may be in a handshake: 8 are closed at once.
    const auto closedCount = [&idle] {
        int n = 0;
        for (const auto &s : idle)
            n += s->state() == QAbstractSocket::UnconnectedState ? 1 : 0;
        return n;
    };
    // All 16 reached the broker (the old limit, max_monitors handshakes, closed 8 of them).
    QTRY_VERIFY_WITH_TIMEOUT(closedCount() >= 8, 5000);

    QElapsedTimer clock;
    clock.start();
    auto tlsOperator = MonitorPeer::tlsFrom("127.1.0.1", port, m_cert);
    QVERIFY(tlsOperator);
    tlsOperator->helloAsMonitor(Token);
    QTRY_VERIFY_WITH_TIMEOUT(tlsOperator->answer(), 5000);
    qInfo("TLS operator answered after %lld ms (handshake included), 16 idle connections open", clock.elapsed());
    QVERIFY(tlsOperator->isEncrypted());
    QVERIFY2(tlsOperator->answer()->welcome, qPrintable(describe(tlsOperator->answer())));

    QTRY_COMPARE_WITH_TIMEOUT(closedCount(), 8, 5000);
    const MonitorHub::AdmissionCounters counters = broker.broker().monitors().admissionCounters();
    QCOMPARE(counters.handshakesRefusedPerAddress + counters.handshakesRefusedPerPrefix, quint64(8));
    canary.stop();
    QVERIFY2(canary.healthy(), qPrintable(canary.verdict()));
    QCOMPARE(closedCount(), 8); // the 8 others still hold their places (until handshake_timeout_ms)
}

// Finding 6: rotating 127.x.y.z raised the guesses from 0.5 to 44 a second. The broker-wide budget
// (max_token_guesses_per_second) holds whatever the addresses.
void tst_MonitorAdmission::rotatingGuesserHeldToBudget()
{
    BrokerConfig config;
    config.monitor.token = Token;
    config.monitor.failureDelay = 50ms;
    config.monitor.failureDelayMax = 100ms;
    config.monitor.maxTokenGuessesPerSecond = 5;
    TestBroker broker(config);
    QVERIFY(broker.start());
    Canary canary;
    QVERIFY(canary.start({broker.tcpAddress()}));
    constexpr int Guesses = 30;
    std::vector<std::unique_ptr<MonitorPeer>> guessers;
    QElapsedTimer clock;
    clock.start();
    for (int i = 0; i < Guesses; ++i) {
        // Every guess from another /24, as a guesser owning 127/8 would.
        const QByteArray from = "127." + QByteArray::number(2 + i) + "." + QByteArray::number(i % 7) + ".9";
        guessers.push_back(MonitorPeer::tcpFrom(from.constData(), broker.tcpPort()));
        QVERIFY(guessers.back());
        guessers.back()->helloAsMonitor(WrongToken, "guesser");
    }
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(guessers.cbegin(), guessers.cend(), [](const auto &g) { return bool(g->answer()); }),
                             10000);
    const double seconds = clock.elapsed() / 1000.0;
    int looked = 0;
    int budget = 0;
    for (const auto &g : guessers) {
        const auto a = g->answer();
        QVERIFY(!a->welcome);
        if (a->text.contains(QStringLiteral("wrong token")))
            ++looked;
        else if (a->text.contains(QStringLiteral("max_token_guesses_per_second 5")))
            ++budget;
    }
    // A bucket of one second's worth, refilled at 5 a second while the guesses arrived.
    const int allowed = 5 + int(std::ceil(seconds * 5));
    qInfo("%d guesses in %.2f s: %d looked at, %d refused by the budget (allowed %d)", Guesses, seconds, looked, budget,
          allowed);
    QVERIFY2(looked >= 1 && looked <= allowed, qPrintable(QStringLiteral("%1 tokens looked at").arg(looked)));
    QCOMPARE(looked + budget, Guesses);
    QCOMPARE(broker.broker().monitors().admissionCounters().guessesRefused, quint64(budget));
    canary.stop();
    QVERIFY2(canary.healthy(), qPrintable(canary.verdict()));
}

// Finding 3: services run as the broker's user, so allow_local_peers admitted any of them as a
// monitor: one stopped another service and disconnected a client. The probe runs as a child of
// its service's shell (a descendant, not the main process) and tries exactly that.
void tst_MonitorAdmission::serviceIsNotAnOperator()
{
    const QString socketPath = m_dir.filePath(QStringLiteral("service-test.sock"));
    const QString probe = QStringLiteral(MONITORPROBE);
    BrokerConfig config;
    config.listen = {tcpListen(), unixListen(socketPath)};
    config.monitor.token = Token;

    ServiceSettings victim;
    victim.name = QStringLiteral("victim");
    victim.program = QStringLiteral("/bin/sleep");
    victim.arguments = {QStringLiteral("60")};
    victim.restart = ServiceSettings::Restart::Never;
    victim.stopTimeout = 1000ms;
    ServiceSettings prober;
    prober.name = QStringLiteral("prober");
    prober.program = QStringLiteral("/bin/sh");
    prober.arguments = {QStringLiteral("-c"), QStringLiteral("\"$0\" \"$1\" victim bystander; exit $?"), probe, socketPath};
    prober.restart = ServiceSettings::Restart::Never;
    ServiceSettings trusted = prober;
    trusted.name = QStringLiteral("trusted");
    trusted.arguments = {QStringLiteral("-c"), QStringLiteral("\"$0\" \"$1\" nobody nobody; exit $?"), probe, socketPath};
    trusted.monitor = true;
    config.services = {victim, prober, trusted};

    TestBroker broker(config);
    QVERIFY(broker.start());
    RawPeer bystander;
    QVERIFY(bystander.connectTcp(broker.tcpPort()));
    QVERIFY(bystander.registerAs("bystander"));

    Supervisor &supervisor = broker.broker().supervisor();
    QTRY_COMPARE_WITH_TIMEOUT(supervisor.service(QStringLiteral("prober"))->state(), Service::State::Exited, 15000);
    QTRY_COMPARE_WITH_TIMEOUT(supervisor.service(QStringLiteral("trusted"))->state(), Service::State::Exited, 15000);
    // 10: refused. 20 would be: admitted, and the actions were tried.
    QCOMPARE(supervisor.service(QStringLiteral("prober"))->status().lastExitCode, 10);
    QCOMPARE(supervisor.service(QStringLiteral("victim"))->state(), Service::State::Running);
    QTest::qWait(200); // a disconnect would have come by now
    QVERIFY(bystander.isConnected());
    QVERIFY(broker.broker().monitors().admissionCounters().servicesRefused >= 1);
    // [service.trusted] monitor = true: admitted by its uid (its actions named nobody).
    QCOMPARE(supervisor.service(QStringLiteral("trusted"))->status().lastExitCode, 20);
}

// Finding 7: a service that daemonizes (double fork, setsid, the main process exits) left an
// orphan that nothing stopped. Stopping the service now stops it, by PID.
void tst_MonitorAdmission::daemonizingServiceStoppedOnStop()
{
    for (const char *mode : {"exit", "stay"}) {
        const QString pidFile = m_dir.filePath(QStringLiteral("daemon-%1.pid").arg(QLatin1String(mode)));
        QFile::remove(pidFile);
        ServiceSettings settings;
        settings.name = QStringLiteral("daemon");
        settings.program = QStringLiteral(DAEMONIZER);
        settings.arguments = {pidFile, QLatin1String(mode)};
        settings.restart = ServiceSettings::Restart::Never;
        settings.stopTimeout = 1000ms;
        Supervisor supervisor({settings});
        QVERIFY(supervisor.isSubreaper());
        Service *service = supervisor.service(QStringLiteral("daemon"));
        supervisor.startAll();
        QTRY_VERIFY_WITH_TIMEOUT(readPidFile(pidFile) > 0, 5000);
        const pid_t daemon = readPidFile(pidFile);
        m_daemons.append(daemon);
        QVERIFY(!processGone(daemon));
        if (qstrcmp(mode, "exit") == 0)
            QTRY_COMPARE(service->state(), Service::State::Exited);
        else
            QCOMPARE(service->state(), Service::State::Running);

        QSignalSpy stopped(service, &Service::stopped);
        service->stop();
        QTRY_VERIFY_WITH_TIMEOUT(stopped.count() == 1, 5000);
        QTRY_VERIFY2_WITH_TIMEOUT(processGone(daemon), qPrintable(QStringLiteral("%1: daemon pid %2 survived the stop")
                                                                      .arg(QLatin1String(mode)).arg(daemon)),
                                  3000);
    }
}

// Finding 7: orphans survived the broker's shutdown (5 seen). A real broker, SIGTERM.
void tst_MonitorAdmission::daemonizingServiceStoppedAtBrokerShutdown()
{
    const QString pidFile = m_dir.filePath(QStringLiteral("broker-daemon.pid"));
    QFile::remove(pidFile);
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = QByteArray("[service.daemon]\nprogram = ") + DAEMONIZER + "\narguments = " + pidFile.toLocal8Bit()
                         + ", exit\nrestart = never\n";
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(readPidFile(pidFile) > 0, 5000);
    const pid_t daemon = readPidFile(pidFile);
    m_daemons.append(daemon);
    QVERIFY(!processGone(daemon));
    const QString verdict = broker.stopVerdict();
    QVERIFY2(verdict.isEmpty(), qPrintable(verdict));
    QTRY_VERIFY2_WITH_TIMEOUT(processGone(daemon), qPrintable(QStringLiteral("daemon pid %1 survived the broker").arg(daemon)),
                              3000);
    QVERIFY2(broker.log().contains("leftover"), broker.log().constData());
}

// Finding 7, the part the process-group fallback cannot do: a daemon that double-forks, calls
// setsid() and executes itself again with an empty environment is in no process group of the
// service and carries no KENNEL_SERVICE mark. Only its cgroup says whose it is. A real broker:
// the service stopped by an operator (a monitor's StopService), then at SIGTERM.
void tst_MonitorAdmission::hiddenDaemonStoppedByItsCgroup()
{
    const QString pidFile = m_dir.filePath(QStringLiteral("hidden-daemon.pid"));
    const QByteArray config = QByteArray("[service.daemon]\nprogram = ") + DAEMONIZER + "\narguments = "
                              + pidFile.toLocal8Bit() + ", hide\nrestart = never\n";
    auto startDaemon = [&](BrokerProcess &broker) -> pid_t {
        QFile::remove(pidFile);
        BrokerProcess::Options options;
        options.configText = config;
        QString error;
        if (!broker.start(options, &error)) {
            qWarning("%s", qPrintable(error));
            return 0;
        }
        // Events run while waiting: the broker's log keeps being read.
        QElapsedTimer waited;
        waited.start();
        while (readPidFile(pidFile) <= 0 && waited.elapsed() < 5000)
            QTest::qWait(20);
        return readPidFile(pidFile);
    };

    BrokerProcess broker;
    const pid_t daemon = startDaemon(broker);
    QVERIFY(daemon > 0);
    m_daemons.append(daemon);
    const qsizetype fallback = broker.log().indexOf("services tracked by process group: ");
    if (fallback >= 0) {
        const QByteArray reason = broker.log().mid(fallback).split('\n').constFirst();
        QSKIP(qPrintable(QStringLiteral("no writable cgroup2 for the broker: ") + QString::fromUtf8(reason)));
    }
    QVERIFY2(broker.log().contains("services tracked by cgroup "), broker.log().constData());
    QVERIFY(!processGone(daemon));
    // The disguise holds: out of the service's group and session, no mark in its environment.
    QFile environ(QStringLiteral("/proc/%1/environ").arg(daemon));
    QVERIFY(environ.open(QIODevice::ReadOnly));
    QVERIFY(!environ.readAll().contains("KENNEL_SERVICE"));
    QCOMPARE(::getpgid(daemon), ::getsid(daemon)); // the group of the session it made, not the service's
    QVERIFY(::getsid(daemon) != ::getsid(0));

    // An operator stops the service (its main process is long gone: state exited).
    QProcess probe;
    probe.setProcessChannelMode(QProcess::MergedChannels);
    probe.start(QStringLiteral(MONITORPROBE), {broker.unixPath(), QStringLiteral("daemon"), QStringLiteral("nobody")});
    QTRY_COMPARE_WITH_TIMEOUT(probe.state(), QProcess::NotRunning, 20000);
    QCOMPARE(probe.exitCode(), 20); // admitted: the stop was asked for
    QTRY_VERIFY2_WITH_TIMEOUT(processGone(daemon), qPrintable(QStringLiteral("daemon pid %1 survived the stop").arg(daemon)),
                              5000);
    QVERIFY2(broker.log().contains(QByteArray(QByteArray("leftover process(es) killed (service stopped): pid ")
                                   + QByteArray::number(daemon))),
             broker.log().constData());
    QString verdict = broker.stopVerdict();
    QVERIFY2(verdict.isEmpty(), qPrintable(verdict));

    // And at the broker's SIGTERM.
    BrokerProcess second;
    const pid_t again = startDaemon(second);
    QVERIFY(again > 0);
    m_daemons.append(again);
    QVERIFY(!processGone(again));
    verdict = second.stopVerdict();
    QVERIFY2(verdict.isEmpty(), qPrintable(verdict));
    QTRY_VERIFY2_WITH_TIMEOUT(processGone(again), qPrintable(QStringLiteral("daemon pid %1 survived the broker").arg(again)),
                              3000);
    // The reason depends on whether the service's main process had exited before the SIGTERM
    // (then the broker's shutdown ends the leftovers) or was still running (then stopping the
    // service does, as it stops): on a slow (sanitized) build the SIGTERM can come first.
    const QByteArray pidText = QByteArray(": pid ") + QByteArray::number(again);
    QVERIFY2(second.log().contains(QByteArray(QByteArray("leftover process(es) killed (the broker is shutting down)") + pidText))
                 || second.log().contains(QByteArray(QByteArray("leftover process(es) killed (service stopped)") + pidText)),
             second.log().constData());
    // The groups were removed with the broker.
    const QByteArray marker = "services tracked by cgroup ";
    const qsizetype at = second.log().indexOf(marker);
    QVERIFY(at >= 0);
    const QString base = QString::fromLocal8Bit(second.log().mid(at + marker.size()).split('\n').constFirst().trimmed());
    QVERIFY2(!QFileInfo::exists(base), qPrintable(base));
}

void tst_MonitorAdmission::stormConfigRefused_data()
{
    QTest::addColumn<bool>("check");
    QTest::newRow("--check-config") << true;
    QTest::newRow("at start") << false;
}

// Finding 7: restart_delay_ms = 0 with a 1 ms window was accepted and made 2,771 starts in 5 s.
void tst_MonitorAdmission::stormConfigRefused()
{
    QFETCH(bool, check);
    const QString path = m_dir.filePath(QStringLiteral("storm.ini"));
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
    file.write("[broker]\nlisten = 127.0.0.1:0\n[service.storm]\nprogram = /bin/false\nrestart = always\n"
               "restart_delay_ms = 0\nrestart_delay_max_ms = 0\nstart_limit_window_ms = 1\n");
    file.close();
    QProcess process;
    process.setProcessChannelMode(QProcess::MergedChannels);
    QStringList arguments{QStringLiteral("--config"), path};
    if (check)
        arguments << QStringLiteral("--check-config");
    process.start(binaryPath(QStringLiteral("kennel-broker")), arguments);
    QVERIFY(process.waitForStarted(5000));
    QTRY_COMPARE_WITH_TIMEOUT(process.state(), QProcess::NotRunning, 10000);
    const QByteArray output = process.readAll();
    QVERIFY2(process.exitStatus() == QProcess::NormalExit && process.exitCode() != 0, output.constData());
    QVERIFY2(output.contains("service.storm/restart_delay_ms: 0 is below the minimum 100"), output.constData());
    QVERIFY2(output.contains("service.storm/start_limit_window_ms: 1 is below the minimum 1000"), output.constData());
}

// At the smallest bounds a configuration may have, a program that fails at once is marked failed
// after start_limit starts, well within a second or two.
void tst_MonitorAdmission::failingServiceMarkedFailedAtTheBounds()
{
    ServiceSettings settings;
    settings.name = QStringLiteral("failing");
    settings.program = QStringLiteral("/bin/false");
    settings.restart = ServiceSettings::Restart::Always;
    settings.restartDelay = 100ms;
    settings.restartDelayMax = 100ms;
    settings.startLimit = 5;
    settings.startLimitWindow = 1000ms;
    Service service(settings);
    QElapsedTimer clock;
    clock.start();
    service.start();
    QTRY_COMPARE_WITH_TIMEOUT(service.state(), Service::State::Failed, 5000);
    QCOMPARE(service.status().starts, 5);
    qInfo("marked failed after %d starts in %lld ms", service.status().starts, clock.elapsed());
}

QTEST_GUILESS_MAIN(tst_MonitorAdmission)
#include "tst_monitoradmission.moc"
