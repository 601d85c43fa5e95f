// The broker under systemd, without systemd: a fake NOTIFY_SOCKET (an AF_UNIX datagram socket in
// a temporary folder, or in the abstract namespace) receives what SystemdNotifier sends, first in
// this process, then from a real kennel-broker: READY only once it accepts connections, WATCHDOG
// from its event loop (and none while the process is stopped), STOPPING on SIGTERM.
#include "logcapture.h"
#include "systemdnotifier.h"
#include "testbroker.h"

#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QSocketNotifier>
#include <QTemporaryDir>
#include <QTest>

#include <cerrno>
#include <csignal>
#include <cstring>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace Kennel;
using namespace KennelTest;
using namespace std::chrono_literals;

namespace {

// What systemd's manager would be: a bound datagram socket that records every notification.
class FakeNotifySocket
{
public:
    struct Datagram
    {
        QByteArray data;
        qint64 atMs; // since the socket was bound
    };

    ~FakeNotifySocket() { close(); }

    bool bindPath(const QString &path)
    {
        const QByteArray encoded = QFile::encodeName(path);
        if (encoded.size() >= qsizetype(sizeof(sockaddr_un::sun_path)))
            return false;
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::memcpy(address.sun_path, encoded.constData(), size_t(encoded.size()));
        m_address = encoded;
        return bindTo(address, socklen_t(offsetof(sockaddr_un, sun_path) + size_t(encoded.size()) + 1));
    }

    // `name` without the leading '@' that NOTIFY_SOCKET uses for the abstract namespace.
    bool bindAbstract(const QByteArray &name)
    {
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::memcpy(address.sun_path + 1, name.constData(), size_t(name.size()));
        m_address = '@' + name;
        return bindTo(address, socklen_t(offsetof(sockaddr_un, sun_path) + 1 + size_t(name.size())));
    }

    // The value for NOTIFY_SOCKET.
    QByteArray address() const { return m_address; }

    QList<Datagram> &datagrams()
    {
        pump();
        return m_datagrams;
    }
    int count(QByteArrayView exact)
    {
        pump();
        int n = 0;
        for (const Datagram &d : std::as_const(m_datagrams))
            n += d.data == exact ? 1 : 0;
        return n;
    }
    qsizetype indexOf(QByteArrayView exact, qsizetype from = 0)
    {
        pump();
        for (qsizetype i = from; i < m_datagrams.size(); ++i)
            if (m_datagrams[i].data == exact)
                return i;
        return -1;
    }

    void close()
    {
        delete m_notifier;
        m_notifier = nullptr;
        if (m_fd >= 0)
            ::close(m_fd);
        m_fd = -1;
    }

    // Reads everything queued now; also called by the notifier from the event loop.
    void pump()
    {
        if (m_fd < 0)
            return;
        char buffer[SystemdNotifier::MaxDatagramBytes + 1024];
        for (int i = 0; i < 10000; ++i) { // bounded: a runaway sender must not trap the test here
            const ssize_t n = ::recv(m_fd, buffer, sizeof buffer, MSG_DONTWAIT);
            if (n < 0)
                return;
            m_datagrams.append({QByteArray(buffer, n), m_clock.elapsed()});
        }
    }

private:
    bool bindTo(const sockaddr_un &address, socklen_t length)
    {
        m_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (m_fd < 0)
            return false;
        if (::bind(m_fd, reinterpret_cast<const sockaddr *>(&address), length) != 0) {
            qWarning("bind %s: %s", m_address.constData(), std::strerror(errno));
            close();
            return false;
        }
        m_clock.start();
        m_notifier = new QSocketNotifier(m_fd, QSocketNotifier::Read);
        QObject::connect(m_notifier, &QSocketNotifier::activated, m_notifier, [this] { pump(); });
        return true;
    }

    int m_fd = -1;
    QByteArray m_address;
    QSocketNotifier *m_notifier = nullptr;
    QElapsedTimer m_clock;
    QList<Datagram> m_datagrams;
};

// 'T' while a process is stopped by a signal (proc(5), field 3 of /proc/PID/stat).
char processState(qint64 pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return '?';
    const QByteArray line = stat.readAll();
    const qsizetype paren = line.lastIndexOf(')'); // the command name may contain anything
    return paren >= 0 && paren + 2 < line.size() ? line.at(paren + 2) : '?';
}

const QByteArray WatchdogFeed("WATCHDOG=1");

} // namespace

class tst_Systemd : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();

    // In-process: what SystemdNotifier sends.
    void sendsEachNotificationAsDocumented();
    void statusIsOneBoundedLine();
    void abstractNamespaceSocket();
    void withoutNotifySocketNothingIsSent();
    void unusableNotifySocketDisables_data();
    void unusableNotifySocketDisables();
    void watchdogSettings_data();
    void watchdogSettings();
    void watchdogFeedsAtHalfTheIntervalUntilStopped();
    void failuresAreLoggedOnceAndNeverFatal();

    // A real kennel-broker.
    void brokerReadyOnlyOnceItAcceptsThenFeedsAndStops();
    void stoppedBrokerSendsNoWatchdog();
    void readyStatusNamesTheMonitorListeners();

private:
    QProcess *startBroker(const FakeNotifySocket &socket, const QTemporaryDir &dir, const QStringList &extraArguments = {});
    QList<QProcess *> m_processes;
};

void tst_Systemd::init()
{
    // The test itself may run under systemd; only what a test sets may count.
    qunsetenv("NOTIFY_SOCKET");
    qunsetenv("WATCHDOG_USEC");
    qunsetenv("WATCHDOG_PID");
}

void tst_Systemd::cleanup()
{
    init();
    // Only the brokers this test started, by their handles; a stopped one is woken so that it
    // does not linger stopped if the test failed half-way.
    for (QProcess *p : std::as_const(m_processes)) {
        if (p->state() != QProcess::NotRunning) {
            ::kill(pid_t(p->processId()), SIGCONT);
            p->kill();
            p->waitForFinished(5000);
        }
        delete p;
    }
    m_processes.clear();
}

void tst_Systemd::sendsEachNotificationAsDocumented()
{
    QTemporaryDir dir;
    FakeNotifySocket socket;
    QVERIFY(socket.bindPath(dir.filePath(QStringLiteral("notify"))));
    qputenv("NOTIFY_SOCKET", socket.address());

    SystemdNotifier notifier;
    QVERIFY(notifier.isEnabled());
    QCOMPARE(notifier.watchdogInterval(), 0us);
    notifier.notifyReady(QStringLiteral("listening on 127.0.0.1:8000, unix:/run/kennel/broker.sock"));
    notifier.notifyStatus(QStringLiteral("3 services running"));
    notifier.notifyStopping();
    QVERIFY(notifier.send("EXTEND_TIMEOUT_USEC=1000000"));

    QTRY_COMPARE(socket.datagrams().size(), 4);
    QCOMPARE(socket.datagrams().at(0).data,
             QByteArray("READY=1\nSTATUS=listening on 127.0.0.1:8000, unix:/run/kennel/broker.sock\nMAINPID="
                        + QByteArray::number(qlonglong(::getpid()))));
    QCOMPARE(socket.datagrams().at(1).data, QByteArray("STATUS=3 services running"));
    QCOMPARE(socket.datagrams().at(2).data, QByteArray("STOPPING=1"));
    QCOMPARE(socket.datagrams().at(3).data, QByteArray("EXTEND_TIMEOUT_USEC=1000000"));
}

void tst_Systemd::statusIsOneBoundedLine()
{
    QTemporaryDir dir;
    FakeNotifySocket socket;
    QVERIFY(socket.bindPath(dir.filePath(QStringLiteral("notify"))));
    qputenv("NOTIFY_SOCKET", socket.address());
    SystemdNotifier notifier;

    // A newline would start a second assignment: an injected READY=1 must not reach systemd.
    notifier.notifyStatus(QStringLiteral("first\nREADY=1\rthird"));
    notifier.notifyStatus(QString(5000, QLatin1Char('x')));
    notifier.notifyReady(QString());
    // Larger than systemd reads: refused here, not truncated there.
    QVERIFY(!notifier.send(QByteArray(SystemdNotifier::MaxDatagramBytes + 1, 'y')));
    QVERIFY(!notifier.send(QByteArrayView()));
    QVERIFY(notifier.send("MARK=1"));

    QTRY_COMPARE(socket.datagrams().size(), 4);
    QCOMPARE(socket.datagrams().at(0).data, QByteArray("STATUS=first READY=1 third"));
    QCOMPARE(socket.datagrams().at(1).data, QByteArray("STATUS=" + QByteArray(SystemdNotifier::MaxStatusChars, 'x')));
    QCOMPARE(socket.datagrams().at(2).data, QByteArray("READY=1\nMAINPID=" + QByteArray::number(qlonglong(::getpid()))));
    QCOMPARE(socket.datagrams().at(3).data, QByteArray("MARK=1")); // nothing in between
}

void tst_Systemd::abstractNamespaceSocket()
{
    FakeNotifySocket socket;
    const QByteArray name = "kennel-tst-systemd-" + QByteArray::number(qlonglong(::getpid())) + '-'
                            + QByteArray::number(QRandomGenerator::global()->generate());
    QVERIFY(socket.bindAbstract(name));
    QCOMPARE(socket.address(), QByteArray('@' + name));
    qputenv("NOTIFY_SOCKET", socket.address());

    SystemdNotifier notifier;
    QVERIFY(notifier.isEnabled());
    notifier.notifyStopping();
    QTRY_COMPARE(socket.datagrams().size(), 1);
    QCOMPARE(socket.datagrams().at(0).data, QByteArray("STOPPING=1"));
}

void tst_Systemd::withoutNotifySocketNothingIsSent()
{
    QTemporaryDir dir;
    FakeNotifySocket socket;
    QVERIFY(socket.bindPath(dir.filePath(QStringLiteral("notify"))));
    qputenv("WATCHDOG_USEC", "100000");

    SystemdNotifier off; // NOTIFY_SOCKET unset
    QVERIFY(!off.isEnabled());
    QCOMPARE(off.watchdogInterval(), 0us); // nothing to feed it through

    // The variables are read once: setting NOTIFY_SOCKET now must not wake the first notifier.
    qputenv("NOTIFY_SOCKET", socket.address());
    QVERIFY(!off.send("A=1"));
    off.notifyReady(QStringLiteral("ready"));
    off.notifyStatus(QStringLiteral("status"));
    off.notifyStopping();
    off.startWatchdog();
    QVERIFY(!off.isWatchdogRunning());

    // Datagrams on one socket arrive in order: if the marker is the first, nothing came before it.
    SystemdNotifier on;
    QVERIFY(on.send("MARK=1"));
    QTRY_COMPARE(socket.datagrams().size(), 1);
    QCOMPARE(socket.datagrams().at(0).data, QByteArray("MARK=1"));
}

void tst_Systemd::unusableNotifySocketDisables_data()
{
    QTest::addColumn<QByteArray>("address");
    QTest::newRow("relative path") << QByteArray("relative/notify.sock");
    QTest::newRow("path too long") << QByteArray("/") + QByteArray(200, 'p');
    QTest::newRow("vsock") << QByteArray("vsock:2:1234");
}

void tst_Systemd::unusableNotifySocketDisables()
{
    QFETCH(QByteArray, address);
    qputenv("NOTIFY_SOCKET", address);
    qputenv("WATCHDOG_USEC", "100000");
    LogCapture log({QStringLiteral("kennel.systemd")});
    SystemdNotifier notifier;
    QVERIFY(!notifier.isEnabled());
    QCOMPARE(notifier.watchdogInterval(), 0us);
    QVERIFY(!notifier.send("READY=1"));
    QCOMPARE(log.count(QStringLiteral("notifications disabled")), 1);
}

void tst_Systemd::watchdogSettings_data()
{
    QTest::addColumn<QByteArray>("usec");
    QTest::addColumn<QByteArray>("pid"); // "self" and "parent" stand for those processes
    QTest::addColumn<qint64>("expected");

    QTest::newRow("unset") << QByteArray() << QByteArray() << qint64(0);
    QTest::newRow("zero") << QByteArray("0") << QByteArray() << qint64(0);
    QTest::newRow("no WATCHDOG_PID") << QByteArray("200000") << QByteArray() << qint64(200000);
    QTest::newRow("WATCHDOG_PID is us") << QByteArray("200000") << QByteArray("self") << qint64(200000);
    QTest::newRow("WATCHDOG_PID is another process") << QByteArray("200000") << QByteArray("parent") << qint64(0);
    QTest::newRow("WATCHDOG_PID not a number") << QByteArray("200000") << QByteArray("12x") << qint64(0);
    QTest::newRow("WATCHDOG_USEC not a number") << QByteArray("10s") << QByteArray() << qint64(0);
    QTest::newRow("WATCHDOG_USEC negative") << QByteArray("-5") << QByteArray() << qint64(0);
    QTest::newRow("WATCHDOG_USEC above a day") << QByteArray("172800000000") << QByteArray() << qint64(86400000000);
}

void tst_Systemd::watchdogSettings()
{
    QFETCH(QByteArray, usec);
    QFETCH(QByteArray, pid);
    QFETCH(qint64, expected);

    QTemporaryDir dir;
    FakeNotifySocket socket;
    QVERIFY(socket.bindPath(dir.filePath(QStringLiteral("notify"))));
    qputenv("NOTIFY_SOCKET", socket.address());
    if (!usec.isEmpty())
        qputenv("WATCHDOG_USEC", usec);
    if (pid == "self")
        pid = QByteArray::number(qlonglong(::getpid()));
    else if (pid == "parent")
        pid = QByteArray::number(qlonglong(::getppid()));
    if (!pid.isEmpty())
        qputenv("WATCHDOG_PID", pid);

    SystemdNotifier notifier;
    QVERIFY(notifier.isEnabled());
    QCOMPARE(notifier.watchdogInterval().count(), expected);
    notifier.startWatchdog();
    QCOMPARE(notifier.isWatchdogRunning(), expected > 0);
    notifier.stopWatchdog();
}

void tst_Systemd::watchdogFeedsAtHalfTheIntervalUntilStopped()
{
    QTemporaryDir dir;
    FakeNotifySocket socket;
    QVERIFY(socket.bindPath(dir.filePath(QStringLiteral("notify"))));
    qputenv("NOTIFY_SOCKET", socket.address());
    qputenv("WATCHDOG_USEC", "100000"); // 100 ms: fed every 50 ms
    qputenv("WATCHDOG_PID", QByteArray::number(qlonglong(::getpid())));

    SystemdNotifier notifier;
    QCOMPARE(notifier.watchdogInterval(), 100000us);
    notifier.startWatchdog();
    QVERIFY(notifier.isWatchdogRunning());
    // The first feed goes out at once: systemd's deadline has been running since the start.
    socket.pump();
    QCOMPARE(socket.count(WatchdogFeed), 1);

    QTRY_VERIFY_WITH_TIMEOUT(socket.count(WatchdogFeed) >= 5, 5000);
    const QList<FakeNotifySocket::Datagram> &feeds = socket.datagrams();
    // Four periods of 50 ms: not a burst (a timer that fires too often is a bug too). The upper
    // bound is left to systemd's own margin: a loaded CI machine may run late.
    QVERIFY2(feeds.at(4).atMs - feeds.at(0).atMs >= 4 * 50 * 8 / 10,
             qPrintable(QStringLiteral("5 feeds within %1 ms").arg(feeds.at(4).atMs - feeds.at(0).atMs)));

    notifier.stopWatchdog();
    QVERIFY(!notifier.isWatchdogRunning());
    QVERIFY(notifier.send("MARK=1"));
    QTRY_VERIFY(socket.indexOf("MARK=1") >= 0);
    const qsizetype mark = socket.indexOf("MARK=1");
    QTest::qWait(300); // six feed periods: waiting for something not to happen
    QCOMPARE(socket.datagrams().size(), mark + 1);
}

void tst_Systemd::failuresAreLoggedOnceAndNeverFatal()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("notify"));
    qputenv("NOTIFY_SOCKET", QFile::encodeName(path)); // nothing bound there yet: the manager is away
    LogCapture log({QStringLiteral("kennel.systemd")});
    SystemdNotifier notifier;
    QVERIFY(notifier.isEnabled());

    for (int i = 0; i < 6; ++i)
        QVERIFY(!notifier.send("WATCHDOG=1"));
    QCOMPARE(log.count(QStringLiteral("cannot notify systemd")), 1);

    FakeNotifySocket socket;
    QVERIFY(socket.bindPath(path));
    QVERIFY(notifier.send("READY=1"));
    QCOMPARE(log.count(QStringLiteral("get through again after 6 failed")), 1);
    QTRY_COMPARE(socket.datagrams().size(), 1);
    QCOMPARE(socket.datagrams().at(0).data, QByteArray("READY=1"));

    // A second run of failures is reported again, once.
    socket.close();
    QVERIFY(!notifier.send("WATCHDOG=1"));
    QVERIFY(!notifier.send("WATCHDOG=1"));
    QCOMPARE(log.count(QStringLiteral("cannot notify systemd")), 2);
}

QProcess *tst_Systemd::startBroker(const FakeNotifySocket &socket, const QTemporaryDir &dir,
                                   const QStringList &extraArguments)
{
    auto *broker = new QProcess;
    m_processes.append(broker);
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("NOTIFY_SOCKET"), QString::fromLocal8Bit(socket.address()));
    env.insert(QStringLiteral("WATCHDOG_USEC"), QStringLiteral("200000")); // fed every 100 ms
    env.remove(QStringLiteral("WATCHDOG_PID")); // its PID is not known before it starts
    broker->setProcessEnvironment(env);
    broker->setProgram(binaryPath(QStringLiteral("kennel-broker")));
    QStringList arguments{QStringLiteral("--listen"), QStringLiteral("127.0.0.1:0"), QStringLiteral("--listen"),
                          QStringLiteral("unix:") + dir.filePath(QStringLiteral("broker.sock"))};
    broker->setArguments(arguments + extraArguments);
    broker->start();
    return broker;
}

void tst_Systemd::brokerReadyOnlyOnceItAcceptsThenFeedsAndStops()
{
    QTemporaryDir dir;
    FakeNotifySocket socket;
    QVERIFY(socket.bindPath(dir.filePath(QStringLiteral("notify"))));
    QProcess *broker = startBroker(socket, dir);
    QVERIFY2(broker->waitForStarted(5000), qPrintable(broker->errorString()));

    QTRY_VERIFY_WITH_TIMEOUT(!socket.datagrams().isEmpty(), 10000);
    // READY is the first thing the broker says, and it names where it listens.
    const QByteArray ready = socket.datagrams().at(0).data;
    const QList<QByteArray> lines = ready.split('\n');
    QCOMPARE(lines.size(), 3);
    QCOMPARE(lines.at(0), QByteArray("READY=1"));
    QCOMPARE(lines.at(2), QByteArray("MAINPID=" + QByteArray::number(broker->processId())));
    const QString status = QString::fromUtf8(lines.at(1));
    const auto port = QRegularExpression(QStringLiteral("^STATUS=listening on 127\\.0\\.0\\.1:(\\d+), unix:(.+)$")).match(status);
    QVERIFY2(port.hasMatch(), qPrintable(status));
    QCOMPARE(port.captured(2), dir.filePath(QStringLiteral("broker.sock")));

    // Ready means ready: both listeners take a client the moment READY has arrived.
    RawPeer tcp, local;
    QVERIFY(tcp.connectTcp(quint16(port.captured(1).toUInt())));
    QVERIFY(tcp.registerAs("after-ready-tcp"));
    QVERIFY(local.connectUnix(port.captured(2)));
    QVERIFY(local.registerAs("after-ready-unix"));

    QTRY_VERIFY_WITH_TIMEOUT(socket.count(WatchdogFeed) >= 3, 10000);
    QCOMPARE(socket.indexOf(WatchdogFeed), 1); // feeding starts after READY, not before

    broker->terminate(); // SIGTERM
    QTRY_VERIFY_WITH_TIMEOUT(socket.indexOf("STOPPING=1") > 0, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(broker->state(), QProcess::NotRunning, 10000);
    QCOMPARE(broker->exitStatus(), QProcess::NormalExit);
    QCOMPARE(broker->exitCode(), 0);
    const QByteArray log = broker->readAllStandardError();
    QVERIFY2(log.contains("systemd integration active") && log.contains("systemd watchdog 200 ms, fed every 100 ms"),
             log.constData());
}

void tst_Systemd::stoppedBrokerSendsNoWatchdog()
{
    QTemporaryDir dir;
    FakeNotifySocket socket;
    QVERIFY(socket.bindPath(dir.filePath(QStringLiteral("notify"))));
    QProcess *broker = startBroker(socket, dir);
    QVERIFY2(broker->waitForStarted(5000), qPrintable(broker->errorString()));
    QTRY_VERIFY_WITH_TIMEOUT(socket.count(WatchdogFeed) >= 2, 10000);

    const qint64 pid = broker->processId();
    QVERIFY(pid > 0);
    QCOMPARE(::kill(pid_t(pid), SIGSTOP), 0); // our own child, by its PID
    QTRY_COMPARE_WITH_TIMEOUT(processState(pid), 'T', 5000);
    socket.pump(); // whatever it sent before it stopped
    const int before = socket.count(WatchdogFeed);
    QTest::qWait(600); // three whole WatchdogSec periods in which systemd would see nothing
    QCOMPARE(socket.count(WatchdogFeed), before);

    QCOMPARE(::kill(pid_t(pid), SIGCONT), 0);
    QTRY_VERIFY_WITH_TIMEOUT(socket.count(WatchdogFeed) >= before + 2, 5000);

    broker->terminate();
    QTRY_COMPARE_WITH_TIMEOUT(broker->state(), QProcess::NotRunning, 10000);
    QCOMPARE(broker->exitCode(), 0);
}

void tst_Systemd::readyStatusNamesTheMonitorListeners()
{
    QTemporaryDir dir;
    FakeNotifySocket socket;
    QVERIFY(socket.bindPath(dir.filePath(QStringLiteral("notify"))));
    const QString monitorSocket = dir.filePath(QStringLiteral("monitor.sock"));
    QProcess *broker = startBroker(socket, dir, {QStringLiteral("--monitor-listen"), QStringLiteral("unix:") + monitorSocket});
    QVERIFY2(broker->waitForStarted(5000), qPrintable(broker->errorString()));

    QTRY_VERIFY_WITH_TIMEOUT(!socket.datagrams().isEmpty(), 10000);
    const QList<QByteArray> lines = socket.datagrams().at(0).data.split('\n');
    QCOMPARE(lines.size(), 3);
    const QString status = QString::fromUtf8(lines.at(1));
    const auto match = QRegularExpression(QStringLiteral("^STATUS=listening on 127\\.0\\.0\\.1:\\d+, unix:(.+); monitors on unix:(.+)$"))
                           .match(status);
    QVERIFY2(match.hasMatch(), qPrintable(status));
    QCOMPARE(match.captured(1), dir.filePath(QStringLiteral("broker.sock")));
    QCOMPARE(match.captured(2), monitorSocket);

    // The address named is one the broker listens on (a path nobody listens on refuses).
    RawPeer monitor;
    QVERIFY(monitor.connectUnix(match.captured(2)));

    broker->terminate();
    QTRY_COMPARE_WITH_TIMEOUT(broker->state(), QProcess::NotRunning, 10000);
    QCOMPARE(broker->exitCode(), 0);
}

QTEST_GUILESS_MAIN(tst_Systemd)
#include "tst_systemd.moc"
