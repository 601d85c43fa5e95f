// lookupPeerProcess() against real sockets: in-process pairs (the peer is this test), a helper
// child process (the peer must be the child, never us), a fork()ed holder (Ambiguous), and the
// /proc/PID/stat parsing that guards against PID reuse. Loopback only; no fixed ports.
#include "peerprocess.h"
#include "../../common/unrelatedholder.h"

#include <QElapsedTimer>
#include <QFile>
#include <QLocalServer>
#include <QLocalSocket>
#include <QProcess>
#include <QScopeGuard>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

using namespace Kennel;

namespace {

class Fd
{
public:
    explicit Fd(int fd = -1) : m_fd(fd) {}
    ~Fd() { reset(); }
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    int get() const { return m_fd; }
    void reset(int fd = -1)
    {
        if (m_fd >= 0)
            ::close(m_fd);
        m_fd = fd;
    }

private:
    int m_fd;
};

struct TcpPair
{
    Fd listener;
    Fd client;
    Fd server; // the accepted end
};

bool fillAddress(int family, const char *text, quint16 port, sockaddr_storage &ss, socklen_t &len)
{
    ss = sockaddr_storage{};
    if (family == AF_INET) {
        auto &sin = reinterpret_cast<sockaddr_in &>(ss);
        sin.sin_family = AF_INET;
        sin.sin_port = htons(port);
        len = sizeof sin;
        return inet_pton(AF_INET, text, &sin.sin_addr) == 1;
    }
    auto &sin6 = reinterpret_cast<sockaddr_in6 &>(ss);
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    len = sizeof sin6;
    return inet_pton(AF_INET6, text, &sin6.sin6_addr) == 1;
}

// A connected TCP pair entirely inside this process, with plain blocking sockets: over loopback
// connect() completes against the listen backlog, so accept() then returns at once.
QString makeTcpPair(int listenFamily, const char *listenAt, int clientFamily, const char *connectTo, TcpPair &pair)
{
    sockaddr_storage ss;
    socklen_t len;
    pair.listener.reset(::socket(listenFamily, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (pair.listener.get() < 0)
        return QStringLiteral("socket: ") + qt_error_string(errno);
    if (listenFamily == AF_INET6) {
        const int off = 0; // accept v4-mapped peers too, whatever the system default
        ::setsockopt(pair.listener.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    }
    if (!fillAddress(listenFamily, listenAt, 0, ss, len))
        return QStringLiteral("bad listen address");
    if (::bind(pair.listener.get(), reinterpret_cast<sockaddr *>(&ss), len) != 0)
        return QStringLiteral("bind: ") + qt_error_string(errno);
    if (::listen(pair.listener.get(), 4) != 0)
        return QStringLiteral("listen: ") + qt_error_string(errno);
    sockaddr_storage bound{};
    socklen_t boundLen = sizeof bound;
    ::getsockname(pair.listener.get(), reinterpret_cast<sockaddr *>(&bound), &boundLen);
    const quint16 port = ntohs(listenFamily == AF_INET ? reinterpret_cast<sockaddr_in &>(bound).sin_port
                                                       : reinterpret_cast<sockaddr_in6 &>(bound).sin6_port);

    pair.client.reset(::socket(clientFamily, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (pair.client.get() < 0)
        return QStringLiteral("client socket: ") + qt_error_string(errno);
    if (!fillAddress(clientFamily, connectTo, port, ss, len))
        return QStringLiteral("bad connect address");
    if (::connect(pair.client.get(), reinterpret_cast<sockaddr *>(&ss), len) != 0)
        return QStringLiteral("connect: ") + qt_error_string(errno);
    pair.server.reset(::accept4(pair.listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (pair.server.get() < 0)
        return QStringLiteral("accept: ") + qt_error_string(errno);
    return QString();
}

bool haveIpv6Loopback()
{
    Fd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0)
        return false;
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr = in6addr_loopback;
    return ::bind(fd.get(), reinterpret_cast<sockaddr *>(&sin6), sizeof sin6) == 0;
}

bool haveIpv6Sockets()
{
    Fd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    return fd.get() >= 0;
}

const char *statusName(PeerLookup s)
{
    switch (s) {
    case PeerLookup::Found: return "Found";
    case PeerLookup::Remote: return "Remote";
    case PeerLookup::NotFound: return "NotFound";
    case PeerLookup::Ambiguous: return "Ambiguous";
    case PeerLookup::Forwarder: return "Forwarder";
    }
    return "?";
}

QByteArray describe(const PeerLookupResult &r)
{
    return QByteArray(statusName(r.status)) + " pid=" + QByteArray::number(r.process.pid) + ": " + r.detail.toUtf8();
}

// A fork()ed child that inherits every descriptor of the test and holds them until the test
// closes the pipe. Only async-signal-safe calls in the child; the destructor reaps it whatever
// the test's outcome, so no child outlives a failed QVERIFY.
class ForkedHolder
{
public:
    ForkedHolder()
    {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0)
            return;
        m_pid = ::fork();
        if (m_pid == 0) {
            ::close(fds[1]);
            char c;
            for (;;) {
                const ssize_t n = ::read(fds[0], &c, 1);
                if (n == 0 || (n < 0 && errno != EINTR))
                    break;
            }
            ::_exit(0);
        }
        ::close(fds[0]);
        if (m_pid < 0) {
            ::close(fds[1]);
            return;
        }
        m_release = fds[1];
    }
    ~ForkedHolder()
    {
        release();
        if (m_pid > 0)
            ::waitpid(m_pid, nullptr, 0); // it exits as soon as the pipe closes
    }
    pid_t pid() const { return m_pid; }
    void release()
    {
        if (m_release >= 0)
            ::close(m_release);
        m_release = -1;
    }
    // Non-blocking reap, for QTRY_VERIFY.
    bool reaped()
    {
        if (m_pid <= 0)
            return true;
        if (::waitpid(m_pid, nullptr, WNOHANG) == m_pid) {
            m_pid = -1;
            return true;
        }
        return false;
    }

private:
    pid_t m_pid = -1;
    int m_release = -1;
};

int processCount()
{
    int n = 0;
    if (DIR *d = ::opendir("/proc")) {
        while (const dirent *e = ::readdir(d)) {
            if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
                ++n;
        }
        ::closedir(d);
    }
    return n;
}

// Each socket test runs once with the kernel's fast paths (SO_PEERPIDFD, sock_diag), as on a
// current kernel, and once through the fallbacks an older or smaller kernel takes (SO_PEERCRED
// alone, /proc/net/tcp*).
void addLookupPathRows()
{
    QTest::addColumn<bool>("fastPaths");
    QTest::newRow("fast") << true;
    QTest::newRow("fallback") << false;
}

class LookupPath
{
public:
    explicit LookupPath(bool fastPaths) { detail::setKernelFastPathsEnabled(fastPaths); }
    ~LookupPath() { detail::setKernelFastPathsEnabled(true); }
};

QString helperPath()
{
    return QStringLiteral(KENNEL_PEERPROCESS_HELPER);
}

} // namespace

class tst_PeerProcess : public QObject
{
    Q_OBJECT

private slots:
    void unixSocketPair_data() { addLookupPathRows(); }
    void unixSocketPair();
    void tcpLoopbackV4_data() { addLookupPathRows(); }
    void tcpLoopbackV4();
    void tcpLoopbackV6_data() { addLookupPathRows(); }
    void tcpLoopbackV6();
    void tcpV4MappedListener_data() { addLookupPathRows(); }
    void tcpV4MappedListener();
    void tcpV4MappedClient_data() { addLookupPathRows(); }
    void tcpV4MappedClient();
    void childProcess_data();
    void childProcess();
    void ambiguousAfterFork_data() { addLookupPathRows(); }
    void ambiguousAfterFork();
    void unixAfterForkNamesConnector_data() { addLookupPathRows(); }
    void unixAfterForkNamesConnector();
    void processStartTime_ownAndMissing();
    void processStartTime_oddComm_data();
    void processStartTime_oddComm();
    void isSameProcessInstance_checksStartTime();
    void notSockets();
    void tcpLookupCost();
};

void tst_PeerProcess::unixSocketPair()
{
    QFETCH(bool, fastPaths);
    LookupPath path(fastPaths);
    int sv[2];
    QVERIFY(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    Fd a(sv[0]);
    Fd b(sv[1]);
    const PeerLookupResult r = lookupPeerProcess(a.get());
    QVERIFY2(r.status == PeerLookup::Found, describe(r).constData());
    QCOMPARE(r.process.pid, ::getpid());
    QCOMPARE(r.process.uid, ::getuid());
    const std::optional<quint64> start = processStartTime(::getpid());
    QVERIFY(start);
    QCOMPARE(r.process.startTime, *start);
    QVERIFY(isSameProcessInstance(r.process));
    QVERIFY(!r.detail.isEmpty());
}

void tst_PeerProcess::tcpLoopbackV4()
{
    QFETCH(bool, fastPaths);
    LookupPath path(fastPaths);
    TcpPair pair;
    const QString err = makeTcpPair(AF_INET, "127.0.0.1", AF_INET, "127.0.0.1", pair);
    QVERIFY2(err.isEmpty(), qPrintable(err));
    for (int fd : {pair.server.get(), pair.client.get()}) {
        const PeerLookupResult r = lookupPeerProcess(fd);
        QVERIFY2(r.status == PeerLookup::Found, describe(r).constData());
        QCOMPARE(r.process.pid, ::getpid());
        QCOMPARE(r.process.uid, ::geteuid());
        QCOMPARE(std::optional<quint64>(r.process.startTime), processStartTime(::getpid()));
        QVERIFY2(r.detail.contains(QStringLiteral("127.0.0.1:")), qPrintable(r.detail));
    }
}

void tst_PeerProcess::tcpLoopbackV6()
{
    QFETCH(bool, fastPaths);
    LookupPath path(fastPaths);
    if (!haveIpv6Loopback())
        QSKIP("this machine has no IPv6 loopback address (::1)");
    TcpPair pair;
    const QString err = makeTcpPair(AF_INET6, "::1", AF_INET6, "::1", pair);
    QVERIFY2(err.isEmpty(), qPrintable(err));
    for (int fd : {pair.server.get(), pair.client.get()}) {
        const PeerLookupResult r = lookupPeerProcess(fd);
        QVERIFY2(r.status == PeerLookup::Found, describe(r).constData());
        QCOMPARE(r.process.pid, ::getpid());
        QVERIFY2(r.detail.contains(QStringLiteral("[::1]:")), qPrintable(r.detail));
    }
}

// A dual-stack listener sees an IPv4 client as ::ffff:127.0.0.1, but the client's socket is in
// /proc/net/tcp, not tcp6.
void tst_PeerProcess::tcpV4MappedListener()
{
    QFETCH(bool, fastPaths);
    LookupPath path(fastPaths);
    if (!haveIpv6Sockets())
        QSKIP("this kernel has no IPv6 sockets");
    TcpPair pair;
    const QString err = makeTcpPair(AF_INET6, "::ffff:127.0.0.1", AF_INET, "127.0.0.1", pair);
    QVERIFY2(err.isEmpty(), qPrintable(err));
    for (int fd : {pair.server.get(), pair.client.get()}) {
        const PeerLookupResult r = lookupPeerProcess(fd);
        QVERIFY2(r.status == PeerLookup::Found, describe(r).constData());
        QCOMPARE(r.process.pid, ::getpid());
    }
}

// The other way round: an AF_INET6 client connecting to a v4-mapped address is listed in tcp6
// while the accepting AF_INET socket sees a plain IPv4 peer.
void tst_PeerProcess::tcpV4MappedClient()
{
    QFETCH(bool, fastPaths);
    LookupPath path(fastPaths);
    if (!haveIpv6Sockets())
        QSKIP("this kernel has no IPv6 sockets");
    TcpPair pair;
    const QString err = makeTcpPair(AF_INET, "127.0.0.1", AF_INET6, "::ffff:127.0.0.1", pair);
    QVERIFY2(err.isEmpty(), qPrintable(err));
    for (int fd : {pair.server.get(), pair.client.get()}) {
        const PeerLookupResult r = lookupPeerProcess(fd);
        QVERIFY2(r.status == PeerLookup::Found, describe(r).constData());
        QCOMPARE(r.process.pid, ::getpid());
    }
}

void tst_PeerProcess::childProcess_data()
{
    QTest::addColumn<QString>("kind");
    QTest::addColumn<bool>("fastPaths");
    for (const char *kind : {"tcp4", "tcp6", "unix"}) {
        QTest::addRow("%s/fast", kind) << QString::fromLatin1(kind) << true;
        QTest::addRow("%s/fallback", kind) << QString::fromLatin1(kind) << false;
    }
}

void tst_PeerProcess::childProcess()
{
    QFETCH(QString, kind);
    QFETCH(bool, fastPaths);
    LookupPath path(fastPaths);
    if (kind == QLatin1String("tcp6") && !haveIpv6Loopback())
        QSKIP("this machine has no IPv6 loopback address (::1)");

    QTcpServer tcpServer;
    QLocalServer localServer;
    QTemporaryDir dir;
    QString target;
    if (kind == QLatin1String("unix")) {
        QVERIFY(dir.isValid());
        const QString path = dir.filePath(QStringLiteral("s"));
        QVERIFY2(localServer.listen(path), qPrintable(localServer.errorString()));
        target = path;
    } else {
        const QHostAddress at = kind == QLatin1String("tcp4") ? QHostAddress(QHostAddress::LocalHost)
                                                              : QHostAddress(QHostAddress::LocalHostIPv6);
        QVERIFY2(tcpServer.listen(at, 0), qPrintable(tcpServer.errorString()));
        target = QString::number(tcpServer.serverPort());
    }
    auto pending = [&] {
        return kind == QLatin1String("unix") ? localServer.hasPendingConnections() : tcpServer.hasPendingConnections();
    };

    QProcess child;
    child.setProgram(helperPath());
    child.setArguments({kind, target});
    child.start();
    QVERIFY2(child.waitForStarted(10000), qPrintable(child.errorString()));
    auto cleanup = qScopeGuard([&] {
        if (child.state() != QProcess::NotRunning) {
            child.kill();
            child.waitForFinished(10000);
        }
    });
    QTRY_VERIFY_WITH_TIMEOUT(pending() || child.state() == QProcess::NotRunning, 10000);
    QVERIFY2(pending(), child.readAllStandardError().constData());

    int fd;
    QScopedPointer<QTcpSocket> tcp;
    QScopedPointer<QLocalSocket> local;
    if (kind == QLatin1String("unix")) {
        local.reset(localServer.nextPendingConnection());
        QVERIFY(local);
        fd = int(local->socketDescriptor());
    } else {
        tcp.reset(tcpServer.nextPendingConnection());
        QVERIFY(tcp);
        fd = int(tcp->socketDescriptor());
    }
    QVERIFY(fd >= 0);

    const pid_t childPid = pid_t(child.processId());
    const PeerLookupResult r = lookupPeerProcess(fd);
    QVERIFY2(r.status == PeerLookup::Found, describe(r).constData());
    QCOMPARE(r.process.pid, childPid);
    QVERIFY(r.process.pid != ::getpid());
    QCOMPARE(std::optional<quint64>(r.process.startTime), processStartTime(childPid));
    QVERIFY(isSameProcessInstance(r.process));

    child.kill();
    QVERIFY(child.waitForFinished(10000)); // reaped by QProcess
    QVERIFY(!isSameProcessInstance(r.process));
    QVERIFY(!processStartTime(childPid));
    // TCP: the child's socket is closed (an orphan without inode, or gone). Unix: SO_PEERCRED
    // still names the dead PID, which must not be reported as a live process.
    QTRY_VERIFY2_WITH_TIMEOUT(lookupPeerProcess(fd).status == PeerLookup::NotFound,
                              describe(lookupPeerProcess(fd)).constData(), 10000);
}

void tst_PeerProcess::ambiguousAfterFork()
{
    QFETCH(bool, fastPaths);
    LookupPath path(fastPaths);
    TcpPair pair;
    const QString err = makeTcpPair(AF_INET, "127.0.0.1", AF_INET, "127.0.0.1", pair);
    QVERIFY2(err.isEmpty(), qPrintable(err));
    const PeerLookupResult before = lookupPeerProcess(pair.server.get());
    QVERIFY2(before.status == PeerLookup::Found, describe(before).constData());

    {
        // A forked child holding copies (popen, a forked reader): the parent still owns them.
        ForkedHolder child;
        QVERIFY(child.pid() > 0);
        for (int fd : {pair.server.get(), pair.client.get()}) {
            const PeerLookupResult r = lookupPeerProcess(fd);
            QVERIFY2(r.status == PeerLookup::Found, describe(r).constData());
            QCOMPARE(r.process.pid, ::getpid());
            QVERIFY2(r.detail.contains(QStringLiteral("descendants")), qPrintable(r.detail));
        }
        child.release();
        QTRY_VERIFY_WITH_TIMEOUT(child.reaped(), 10000);
    }
    {
        // A holder that is not our descendant: which of the two owns the socket is unknowable.
        KennelTest::UnrelatedHolder stranger;
        QVERIFY(stranger.pid() > 0);
        for (int fd : {pair.server.get(), pair.client.get()}) {
            const PeerLookupResult r = lookupPeerProcess(fd);
            QVERIFY2(r.status == PeerLookup::Ambiguous, describe(r).constData());
            QVERIFY2(r.detail.contains(QString::number(stranger.pid())), qPrintable(r.detail));
            QVERIFY2(r.detail.contains(QString::number(::getpid())), qPrintable(r.detail));
        }
        stranger.release();
        QTRY_VERIFY_WITH_TIMEOUT(lookupPeerProcess(pair.server.get()).status == PeerLookup::Found, 10000);
    }

    const PeerLookupResult after = lookupPeerProcess(pair.server.get());
    QVERIFY2(after.status == PeerLookup::Found, describe(after).constData());
    QCOMPARE(after.process.pid, ::getpid());
}

// AF_UNIX is resolved like TCP: a forked child holding the socket too leaves the parent the owner.
void tst_PeerProcess::unixAfterForkNamesConnector()
{
    QFETCH(bool, fastPaths);
    LookupPath path(fastPaths);
    int sv[2];
    QVERIFY(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    Fd a(sv[0]);
    Fd b(sv[1]);
    ForkedHolder holder;
    QVERIFY(holder.pid() > 0);
    const PeerLookupResult r = lookupPeerProcess(a.get());
    QVERIFY2(r.status == PeerLookup::Found, describe(r).constData());
    QCOMPARE(r.process.pid, ::getpid());
}

void tst_PeerProcess::processStartTime_ownAndMissing()
{
    const std::optional<quint64> own = processStartTime(::getpid());
    QVERIFY(own);
    QVERIFY(*own > 0);
    QCOMPARE(processStartTime(::getpid()), own); // stable

    QFile pidMax(QStringLiteral("/proc/sys/kernel/pid_max"));
    QVERIFY(pidMax.open(QIODevice::ReadOnly));
    bool ok = false;
    const int max = pidMax.readAll().trimmed().toInt(&ok);
    QVERIFY(ok && max > 0);
    QVERIFY(!processStartTime(pid_t(max))); // PIDs are always below pid_max
    QVERIFY(!processStartTime(0));
    QVERIFY(!processStartTime(-1));
}

void tst_PeerProcess::processStartTime_oddComm_data()
{
    // comm is at most 15 bytes and entirely up to the process: it must not shift the fields.
    QTest::addColumn<QByteArray>("name");
    QTest::newRow("space") << QByteArray("a b c");
    QTest::newRow("close-paren") << QByteArray("x) 1 2 ) y");
    QTest::newRow("fake-fields") << QByteArray(") R 1 2 3 4 5");
    QTest::newRow("open-paren") << QByteArray("((");
    QTest::newRow("newline") << QByteArray("a\n) 9 (");
}

void tst_PeerProcess::processStartTime_oddComm()
{
    QFETCH(QByteArray, name);
    char original[17] = {};
    QVERIFY(::prctl(PR_GET_NAME, original) == 0);
    const std::optional<quint64> expected = processStartTime(::getpid());
    QVERIFY(expected);

    QVERIFY(::prctl(PR_SET_NAME, name.constData()) == 0);
    auto restore = qScopeGuard([&] { ::prctl(PR_SET_NAME, original); });
    QFile stat(QStringLiteral("/proc/self/stat"));
    QVERIFY(stat.open(QIODevice::ReadOnly));
    QVERIFY2(stat.readAll().contains(QByteArray("(" + name + ")")), "the odd name did not reach /proc/self/stat");

    QCOMPARE(processStartTime(::getpid()), expected);
}

void tst_PeerProcess::isSameProcessInstance_checksStartTime()
{
    PeerProcess p;
    p.pid = ::getpid();
    p.uid = ::getuid();
    p.startTime = processStartTime(p.pid).value_or(0);
    QVERIFY(isSameProcessInstance(p));

    PeerProcess other = p;
    other.startTime += 1;
    QVERIFY(!isSameProcessInstance(other)); // same PID, a different process

    other = p;
    other.pid = 0;
    QVERIFY(!isSameProcessInstance(other));
    QVERIFY(!isSameProcessInstance(PeerProcess()));
}

void tst_PeerProcess::notSockets()
{
    QCOMPARE(lookupPeerProcess(-1).status, PeerLookup::NotFound);

    int p[2];
    QVERIFY(::pipe2(p, O_CLOEXEC) == 0);
    Fd r(p[0]);
    Fd w(p[1]);
    PeerLookupResult res = lookupPeerProcess(r.get());
    QCOMPARE(res.status, PeerLookup::NotFound);
    QVERIFY(!res.detail.isEmpty());

    Fd tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    res = lookupPeerProcess(tcp.get());
    QVERIFY2(res.status == PeerLookup::NotFound, describe(res).constData()); // not connected

    Fd unixSock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    res = lookupPeerProcess(unixSock.get());
    QVERIFY2(res.status == PeerLookup::NotFound, describe(res).constData());

    // A "connected" UDP socket has a peer address but no connection to attribute.
    Fd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_storage ss;
    socklen_t len;
    QVERIFY(fillAddress(AF_INET, "127.0.0.1", 9, ss, len));
    QVERIFY(::connect(udp.get(), reinterpret_cast<sockaddr *>(&ss), len) == 0);
    res = lookupPeerProcess(udp.get());
    QVERIFY2(res.status == PeerLookup::NotFound, describe(res).constData());
}

// Not a pass/fail check: prints what one lookup costs here, for sizing where it may be called.
void tst_PeerProcess::tcpLookupCost()
{
    TcpPair pair;
    const QString err = makeTcpPair(AF_INET, "127.0.0.1", AF_INET, "127.0.0.1", pair);
    QVERIFY2(err.isEmpty(), qPrintable(err));
    int sv[2];
    QVERIFY(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    Fd a(sv[0]);
    Fd b(sv[1]);

    auto measure = [](int fd) {
        QElapsedTimer timer;
        timer.start();
        int n = 0;
        // Bounded both ways: enough rounds to average, never more than about a second.
        while (n < 500 && (n < 10 || timer.elapsed() < 1000)) {
            if (lookupPeerProcess(fd).status != PeerLookup::Found)
                return -1.0;
            ++n;
        }
        return double(timer.nsecsElapsed()) / n / 1000.0;
    };
    const double tcpUs = measure(pair.server.get());
    double procNetUs;
    {
        LookupPath path(false);
        procNetUs = measure(pair.server.get());
    }
    const double unixUs = measure(a.get());
    QVERIFY(tcpUs > 0);
    QVERIFY(procNetUs > 0);
    QVERIFY(unixUs > 0);
    qInfo("one lookup: TCP %.1f us (via /proc/net/tcp instead of sock_diag: %.1f us), AF_UNIX %.1f us; "
          "%d processes in /proc",
          tcpUs, procNetUs, unixUs, processCount());
}

QTEST_GUILESS_MAIN(tst_PeerProcess)

#include "tst_peerprocess.moc"
