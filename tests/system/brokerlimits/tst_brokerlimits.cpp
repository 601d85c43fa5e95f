// The broker's defences against connections that hold resources without using them, on real
// sockets: the incomplete-frame deadline (slowloris), the idle timeout with its Ping (half-open
// peers), TCP keepalive timed from it, and listeners that keep serving when the process runs out
// of file descriptors (unit-tested on the listener in-process, end to end on kennel-broker as a
// child process with a small RLIMIT_NOFILE and a canary pair running through it).
#include "brokerprocess.h"
#include "budgetledger.h"
#include "canary.h"
#include "socketlistener.h"
#include "tcplistener.h"
#include "testbroker.h"
#include "unixlistener.h"

#include <brokeraddress.h>
#include <kennelclient.h>

#include <QDir>
#include <QElapsedTimer>
#include <QLocalSocket>
#include <QSignalSpy>
#include <QTcpSocket>
#include <QTest>
#include <QTimer>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace Kennel;
using namespace KennelTest;
using namespace std::chrono_literals;

namespace {

constexpr int IncompleteMs = 600;
constexpr int IdleMs = 1500;
// Room for a loaded machine and the sanitizer build on top of every upper bound.
constexpr int SlackMs = 1000;

BrokerConfig limitsConfig()
{
    BrokerConfig config;
    config.incompleteFrameTimeout = std::chrono::milliseconds(IncompleteMs);
    config.idleTimeout = std::chrono::milliseconds(IdleMs);
    return config;
}

QByteArray sendFrameBytes(int payloadSize)
{
    Frame f;
    f.type = FrameType::Send;
    f.target = "nobody";
    f.payload = QByteArray(payloadSize, 'p');
    return encodeFrame(f);
}

QByteArray pingBytes(quint32 id)
{
    Frame f;
    f.type = FrameType::Ping;
    f.messageId = id;
    f.payload = QByteArray(40, 'x');
    return encodeFrame(f);
}

std::optional<ErrorCode> errorCodeOf(const std::optional<Frame> &frame)
{
    if (!frame)
        return std::nullopt;
    const std::optional<ErrorPayload> error = decodeError(frame->payload);
    if (!error)
        return std::nullopt;
    return error->code;
}

int tcpOption(int fd, int level, int name)
{
    int value = -1;
    socklen_t length = sizeof value;
    if (::getsockopt(fd, level, name, &value, &length) != 0)
        return -1;
    return value;
}

// A client end that needs no event loop: a non-blocking socket connecting to a listener.
int connectRaw(const QString &unixPath, quint16 tcpPort)
{
    if (!unixPath.isEmpty()) {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        const QByteArray path = QFile::encodeName(unixPath);
        std::memcpy(addr.sun_path, path.constData(), size_t(path.size()));
        if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
            ::close(fd);
            return -1;
        }
        return fd;
    }
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(tcpPort);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
        // Loopback usually connects at once; on a loaded machine the handshake may still be under
        // way, and a send() before it completes fails with EAGAIN.
        pollfd pending{fd, POLLOUT, 0};
        int error = errno;
        if (error == EINPROGRESS && ::poll(&pending, 1, 5000) == 1) {
            socklen_t length = sizeof error;
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
        }
        if (error != 0) {
            ::close(fd);
            return -1;
        }
    }
    return fd;
}

// What a raw client end has received until the other side closed: the bytes and whether EOF came.
struct RawReceived
{
    QByteArray bytes;
    bool closed = false;
};

void drainRaw(int fd, RawReceived *into)
{
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (n > 0) {
            into->bytes.append(buffer, n);
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            into->closed = true;
        return;
    }
}

// Restores the descriptor limit however the test ends.
struct LimitGuard
{
    rlimit saved{};
    LimitGuard() { ::getrlimit(RLIMIT_NOFILE, &saved); }
    ~LimitGuard() { ::setrlimit(RLIMIT_NOFILE, &saved); }
};

int highestOpenDescriptor()
{
    int highest = 2;
    const QStringList entries = QDir(QStringLiteral("/proc/self/fd")).entryList(QDir::Files | QDir::System | QDir::NoDotAndDotDot);
    for (const QString &entry : entries)
        highest = std::max(highest, entry.toInt());
    return highest;
}

} // namespace

class tst_BrokerLimits : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();

    void incompleteFrameClosed_data();
    void incompleteFrameClosed();
    void framesCompletedInTimeSurvive();
    void dribbleCountsFromFirstByte();
    void legacyPartialFrameClosed();

    void idlePeerPingedThenClosed();
    void livePeersStayConnected();
    void keepaliveFromIdleTimeout();
    void idleTimeoutOff();

    void listenerSurvivesDescriptorExhaustion_data();
    void listenerSurvivesDescriptorExhaustion();
    void brokerProcessOutOfDescriptors();

    void budgetsDerivedFromRam();
    void budgetLimitEdge();
};

void tst_BrokerLimits::initTestCase()
{
    raiseDescriptorLimit();
}

void tst_BrokerLimits::incompleteFrameClosed_data()
{
    QTest::addColumn<bool>("unix");
    QTest::addColumn<bool>("registered");
    QTest::addColumn<int>("bytes"); // of a Send frame: header only, header and part of the body

    QTest::newRow("tcp-registered-body") << false << true << 30;
    QTest::newRow("unix-registered-header") << true << true << 7;
    QTest::newRow("tcp-unregistered-one-byte") << false << false << 1;
}

// A native or not yet identified peer holding part of a frame gets IncompleteFrameTimeout at the
// deadline, not before, and is closed. A broker without the deadline fails the take(); one that
// counted from accept or closed at once fails the lower bound.
void tst_BrokerLimits::incompleteFrameClosed()
{
    QFETCH(bool, unix);
    QFETCH(bool, registered);
    QFETCH(int, bytes);
    TestBroker broker(limitsConfig());
    QVERIFY(broker.start());
    RawPeer peer;
    QVERIFY(unix ? peer.connectUnix(broker.unixPath()) : peer.connectTcp(broker.tcpPort()));
    if (registered)
        QVERIFY(peer.registerAs("partial"));

    QElapsedTimer clock;
    clock.start();
    peer.writeBytes(sendFrameBytes(100).left(bytes));
    const std::optional<Frame> error = peer.take(FrameType::Error, IncompleteMs + 3 * SlackMs);
    const qint64 elapsed = clock.elapsed();
    QVERIFY2(error, "no Error frame: the partial frame was not timed out");
    QCOMPARE(errorCodeOf(error), std::optional<ErrorCode>(ErrorCode::IncompleteFrameTimeout));
    QVERIFY2(elapsed >= IncompleteMs - 20, qPrintable(QStringLiteral("closed after %1 ms").arg(elapsed)));
    QVERIFY2(elapsed <= IncompleteMs + SlackMs, qPrintable(QStringLiteral("closed after %1 ms").arg(elapsed)));
    QVERIFY(peer.waitForDisconnect(2000));
    QTRY_COMPARE(broker.broker().connectionCount(), size_t(0));
    QVERIFY(!broker.broker().registry().find("partial"));
    qInfo("closed %lld ms after the first byte of the frame (deadline %d ms)", elapsed, IncompleteMs);
}

// Partial frames completed before the deadline, one after the other, over several deadlines:
// the connection stays and every frame is answered. A broker that timed the first partial frame
// ever, or did not notice a frame completing, closes it.
void tst_BrokerLimits::framesCompletedInTimeSurvive()
{
    TestBroker broker(limitsConfig());
    QVERIFY(broker.start());
    RawPeer peer;
    QVERIFY(peer.connectTcp(broker.tcpPort()));
    QVERIFY(peer.registerAs("steady"));
    QElapsedTimer clock;
    clock.start();
    for (quint32 round = 1; round <= 5; ++round) {
        const QByteArray ping = pingBytes(round);
        peer.writeBytes(ping.left(20));
        QTest::qWait(IncompleteMs * 2 / 3);
        peer.writeBytes(ping.mid(20));
        const std::optional<Frame> pong = peer.take(FrameType::Pong, 2000);
        QVERIFY2(pong, qPrintable(QStringLiteral("no Pong in round %1").arg(round)));
        QCOMPARE(pong->messageId, round);
    }
    QVERIFY(clock.elapsed() > 3 * IncompleteMs);
    QVERIFY(peer.take(FrameType::Error, 0) == std::nullopt);
    QVERIFY(peer.isConnected());
    QVERIFY(broker.broker().sessionByName("steady"));
}

// One byte every quarter deadline keeps arriving, but the frame never completes: the deadline
// counts from its first byte. A broker that restarted the clock on every byte never closes it
// (the frame would take ~50 s to complete at this rate).
void tst_BrokerLimits::dribbleCountsFromFirstByte()
{
    TestBroker broker(limitsConfig());
    QVERIFY(broker.start());
    RawPeer peer;
    QVERIFY(peer.connectTcp(broker.tcpPort()));
    QVERIFY(peer.registerAs("dribbler"));
    const QByteArray frame = sendFrameBytes(300);
    int sent = 0;
    QTimer dribble;
    QObject::connect(&dribble, &QTimer::timeout, &dribble, [&] {
        if (sent < frame.size() - 1 && peer.isConnected())
            peer.writeBytes(frame.mid(sent++, 1));
    });
    QElapsedTimer clock;
    clock.start();
    peer.writeBytes(frame.mid(sent++, 1));
    dribble.start(IncompleteMs / 4);
    const std::optional<Frame> error = peer.take(FrameType::Error, IncompleteMs + 3 * SlackMs);
    const qint64 elapsed = clock.elapsed();
    dribble.stop();
    QVERIFY2(error, "the dribbling connection was not closed");
    QCOMPARE(errorCodeOf(error), std::optional<ErrorCode>(ErrorCode::IncompleteFrameTimeout));
    QVERIFY2(elapsed >= IncompleteMs - 20 && elapsed <= IncompleteMs + SlackMs,
             qPrintable(QStringLiteral("closed after %1 ms").arg(elapsed)));
    QVERIFY(sent >= 3); // bytes did keep arriving while the deadline ran
    QVERIFY(peer.waitForDisconnect(2000));
    qInfo("%d bytes dribbled; closed %lld ms after the first", sent, elapsed);
}

// A legacy connection with part of a 552-byte frame is closed at the deadline without a native
// Error frame (it could not read one).
void tst_BrokerLimits::legacyPartialFrameClosed()
{
    TestBroker broker(limitsConfig());
    QVERIFY(broker.start());
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, broker.tcpPort());
    QVERIFY(socket.waitForConnected(5000));
    QByteArray registerFrame(Legacy::FrameSize, '\0');
    Legacy::encode(registerFrame.data(), Legacy::Command::RegisterReceiver, 0, "null", "oldpart", "null");
    QByteArray forward(Legacy::FrameSize, '\0');
    Legacy::encode(forward.data(), Legacy::Command::Forward, 0, "oldpart", "someone", "hello");
    QSignalSpy disconnected(&socket, &QTcpSocket::disconnected);
    socket.write(registerFrame);
    QTRY_VERIFY(broker.broker().registry().find("oldpart"));
    QElapsedTimer clock;
    clock.start();
    socket.write(forward.left(100));
    QTRY_VERIFY_WITH_TIMEOUT(!disconnected.isEmpty(), IncompleteMs + 3 * SlackMs);
    const qint64 elapsed = clock.elapsed();
    QVERIFY2(elapsed >= IncompleteMs - 20 && elapsed <= IncompleteMs + SlackMs,
             qPrintable(QStringLiteral("closed after %1 ms").arg(elapsed)));
    QCOMPARE(socket.readAll(), QByteArray()); // no native bytes towards a legacy peer
    QTRY_VERIFY(!broker.broker().registry().find("oldpart"));
}

// A registered native peer that stays silent gets a Ping at 0.5..0.6 of the idle timeout, and
// IdleTimeout at the idle timeout (within 1.25 x), then the close. Without the sweep neither
// frame arrives; a broker that closed before the idle timeout fails the lower bound.
void tst_BrokerLimits::idlePeerPingedThenClosed()
{
    TestBroker broker(limitsConfig());
    QVERIFY(broker.start());
    RawPeer peer;
    QVERIFY(peer.connectUnix(broker.unixPath()));
    QVERIFY(peer.registerAs("silent"));
    QElapsedTimer clock;
    clock.start();
    const std::optional<Frame> ping = peer.take(FrameType::Ping, IdleMs + SlackMs);
    const qint64 pingAt = clock.elapsed();
    QVERIFY2(ping, "no Ping from the broker");
    // PROTOCOL: never before half the idle timeout.
    QVERIFY2(pingAt >= IdleMs / 2 - 20 && pingAt <= IdleMs * 3 / 5 + SlackMs,
             qPrintable(QStringLiteral("Ping after %1 ms").arg(pingAt)));
    const std::optional<Frame> error = peer.take(FrameType::Error, IdleMs + 2 * SlackMs);
    const qint64 closedAt = clock.elapsed();
    QVERIFY2(error, "the silent peer was not closed");
    QCOMPARE(errorCodeOf(error), std::optional<ErrorCode>(ErrorCode::IdleTimeout));
    QVERIFY2(closedAt >= IdleMs - 20 && closedAt <= IdleMs * 5 / 4 + SlackMs,
             qPrintable(QStringLiteral("closed after %1 ms").arg(closedAt)));
    QVERIFY(peer.waitForDisconnect(2000));
    QTRY_VERIFY(!broker.broker().registry().find("silent"));
    qInfo("Ping after %lld ms, IdleTimeout after %lld ms (idle timeout %d ms)", pingAt, closedAt, IdleMs);
}

// Over three idle timeouts: a raw peer that answers each Ping with Pong, a KennelClient (which
// does so by itself) and a legacy receiver that never writes all stay connected and served, while
// a silent native peer in the same broker is closed (the sweep was running).
void tst_BrokerLimits::livePeersStayConnected()
{
    TestBroker broker(limitsConfig());
    QVERIFY(broker.start());

    RawPeer answering;
    QVERIFY(answering.connectTcp(broker.tcpPort()));
    QVERIFY(answering.registerAs("answering"));
    RawPeer silent;
    QVERIFY(silent.connectTcp(broker.tcpPort()));
    QVERIFY(silent.registerAs("silent"));
    LegacyPeer legacy;
    QVERIFY(legacy.connectTcp(broker.tcpPort()));
    legacy.registerReceiver("oldrecv");

    KennelClient client;
    client.setBrokerAddress(*BrokerAddress::parse(broker.unixAddress()));
    client.setName("library");
    QSignalSpy registered(&client, &KennelClient::registered);
    QSignalSpy disconnected(&client, &KennelClient::disconnected);
    client.connectToBroker();
    QTRY_COMPARE(registered.count(), 1);
    QTRY_VERIFY(broker.broker().registry().find("oldrecv"));

    QElapsedTimer clock;
    clock.start();
    int pings = 0;
    while (clock.elapsed() < 3 * IdleMs + 300) {
        if (const std::optional<Frame> ping = answering.take(FrameType::Ping, 20)) {
            Frame pong;
            pong.type = FrameType::Pong;
            pong.messageId = ping->messageId;
            answering.send(pong);
            ++pings;
        }
    }
    QVERIFY2(pings >= 2, qPrintable(QStringLiteral("%1 Pings in three idle timeouts").arg(pings)));
    QVERIFY(answering.isConnected());
    QVERIFY(broker.broker().sessionByName("answering"));
    QCOMPARE(client.state(), KennelClient::Registered);
    QCOMPARE(disconnected.count(), 0);
    QVERIFY(broker.broker().sessionByName("library"));
    QVERIFY(legacy.socket().state() == QAbstractSocket::ConnectedState);
    QVERIFY(broker.broker().sessionByName("oldrecv"));
    // The control: the same sweep closed the one that did not answer.
    QCOMPARE(errorCodeOf(silent.take(FrameType::Error, 0)), std::optional<ErrorCode>(ErrorCode::IdleTimeout));
    QVERIFY(!broker.broker().sessionByName("silent"));

    // Still served, not merely connected.
    answering.sendTo("oldrecv", "still here", 7);
    const std::optional<LegacyPeer::Received> got = legacy.take(3000);
    QVERIFY(got);
    QCOMPARE(got->text, QByteArray("still here"));
    qInfo("%d Pings answered over %lld ms", pings, clock.elapsed());
}

// TCP keepalive on the broker's end of every TCP connection, timed from the idle timeout.
void tst_BrokerLimits::keepaliveFromIdleTimeout()
{
    BrokerConfig config;
    config.idleTimeout = 40s;
    TestBroker broker(config);
    QVERIFY(broker.start());
    RawPeer peer;
    QVERIFY(peer.connectTcp(broker.tcpPort()));
    QVERIFY(peer.registerAs("kept"));
    LegacyPeer legacy;
    QVERIFY(legacy.connectTcp(broker.tcpPort()));
    legacy.registerReceiver("oldkept");
    QTRY_VERIFY(broker.broker().sessionByName("oldkept"));
    for (const char *name : {"kept", "oldkept"}) {
        const Session *session = broker.broker().sessionByName(name);
        QVERIFY(session);
        const int fd = session->fd();
        QCOMPARE(tcpOption(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
        QCOMPARE(tcpOption(fd, IPPROTO_TCP, TCP_KEEPIDLE), 20);
        QCOMPARE(tcpOption(fd, IPPROTO_TCP, TCP_KEEPINTVL), 5);
        QCOMPARE(tcpOption(fd, IPPROTO_TCP, TCP_KEEPCNT), 4);
        QCOMPARE(tcpOption(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 40000);
    }
}

// idle_timeout_ms = 0: no Ping, no close, the kernel's keepalive defaults.
void tst_BrokerLimits::idleTimeoutOff()
{
    BrokerConfig config;
    config.idleTimeout = 0ms;
    TestBroker broker(config);
    QVERIFY(broker.start());
    RawPeer peer;
    QVERIFY(peer.connectTcp(broker.tcpPort()));
    QVERIFY(peer.registerAs("quiet"));
    const Session *session = broker.broker().sessionByName("quiet");
    QVERIFY(session);
    QCOMPARE(tcpOption(session->fd(), SOL_SOCKET, SO_KEEPALIVE), 1);
    QCOMPARE(tcpOption(session->fd(), IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
    QVERIFY(peer.take(FrameType::Ping, 1200) == std::nullopt);
    QVERIFY(peer.isConnected());
}

void tst_BrokerLimits::listenerSurvivesDescriptorExhaustion_data()
{
    QTest::addColumn<bool>("unix");
    QTest::newRow("tcp") << false;
    QTest::newRow("unix") << true;
}

// The listener on its own, in this process: connections wait in the backlog, the process runs out
// of descriptors, the listener is told to accept. Each waiting connection gets the door refusal
// and EOF (QTcpServer would have stopped accepting for good, QLocalServer closed the server);
// once descriptors are free again a new connection is accepted by itself.
void tst_BrokerLimits::listenerSurvivesDescriptorExhaustion()
{
    QFETCH(bool, unix);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    std::unique_ptr<SocketListener> listener;
    QString path;
    quint16 port = 0;
    if (unix) {
        auto *l = new UnixListener;
        listener.reset(l);
        QString error;
        path = dir.filePath(QStringLiteral("l.sock"));
        QVERIFY2(l->listenAt(path, &error), qPrintable(error));
    } else {
        auto *l = new TcpListener;
        listener.reset(l);
        QVERIFY2(l->listen(QHostAddress::LocalHost, 0), qPrintable(l->errorString()));
        port = l->serverPort();
    }
    const QByteArray reply = Broker::doorRefusal(ErrorCode::TooManyClients, QStringLiteral("the broker is out of file descriptors"));
    listener->setOutOfDescriptorsReply(reply);
    QList<int> accepted;
    QObject::connect(listener.get(), &SocketListener::accepted, listener.get(), [&accepted](int fd) { accepted.append(fd); });

    constexpr int Waiting = 3;
    QList<int> clients;
    QList<int> fillers;
    {
        LimitGuard guard;
        rlimit low = guard.saved;
        low.rlim_cur = rlim_t(highestOpenDescriptor() + 1 + Waiting + 8);
        QVERIFY(::setrlimit(RLIMIT_NOFILE, &low) == 0);
        for (int i = 0; i < Waiting; ++i) {
            const int fd = connectRaw(path, port);
            QVERIFY(fd >= 0);
            // All but the last begin a native frame; the last sends nothing (it may be an old
            // client) and must be closed without a byte (PROTOCOL ).
            if (i < Waiting - 1)
                QCOMPARE(::send(fd, "KN", 2, MSG_NOSIGNAL), ssize_t(2));
            clients.append(fd);
        }
        for (;;) {
            const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                break;
            fillers.append(fd);
        }
        QCOMPARE(errno, EMFILE);
        // No event loop while the process has no descriptor to spare: accept right here.
        listener->acceptPending();
        for (int fd : std::as_const(fillers))
            ::close(fd);
    }
    QCOMPARE(accepted.size(), 0);
    QCOMPARE(listener->refusedForDescriptors(), quint64(Waiting));
    QVERIFY(listener->isListening());
    for (int fd : std::as_const(clients)) {
        RawReceived received;
        QTRY_VERIFY_WITH_TIMEOUT((drainRaw(fd, &received), received.closed), 3000);
        if (fd == clients.constLast()) {
            QCOMPARE(received.bytes, QByteArray());
            ::close(fd);
            continue;
        }
        QCOMPARE(received.bytes, reply);
        const DecodeResult frame = decodeFrame(received.bytes, Wire::DefaultMaxFrameSize);
        QCOMPARE(frame.error, DecodeError::None);
        QCOMPARE(frame.frame.type, FrameType::Error);
        const std::optional<ErrorPayload> error = decodeError(frame.frame.payload);
        QVERIFY(error);
        QCOMPARE(error->code, ErrorCode::TooManyClients);
        QCOMPARE(error->text, QStringLiteral("the broker is out of file descriptors"));
        ::close(fd);
    }

    // Descriptors are back: the next connection is accepted from the event loop, unprompted.
    const int late = connectRaw(path, port);
    QVERIFY(late >= 0);
    QTRY_COMPARE(accepted.size(), 1);
    ::close(accepted.first());
    ::close(late);
    listener->close();
    if (unix)
        QVERIFY(!QFile::exists(path)); // close() removes the socket file
}

// kennel-broker with 64 descriptors and a client limit far above that: a flood of connections
// runs it out of descriptors. The broker refuses the extra ones with "out of file descriptors",
// the canary pair keeps exchanging messages through it, and once the flood leaves new clients
// register again.
void tst_BrokerLimits::brokerProcessOutOfDescriptors()
{
    BrokerProcess process;
    BrokerProcess::Options options;
    options.maxDescriptors = 64;
    options.arguments = QStringList{QStringLiteral("--max-clients"), QStringLiteral("1000")};
    QString error;
    QVERIFY2(process.start(options, &error), qPrintable(error));
    QVERIFY(process.log().contains("descriptor limit"));

    Canary canary;
    Canary::Options canaryOptions;
    canaryOptions.brokerAddress = process.tcpAddress();
    QVERIFY(canary.start(canaryOptions));

    constexpr int Flood = 120;
    QList<int> flood;
    for (int i = 0; i < Flood; ++i) {
        const int fd = connectRaw(i % 2 ? process.unixPath() : QString(), process.tcpPort());
        QVERIFY(fd >= 0);
        // The start of a native header: a refused connection is told why only once the broker
        // can see it speaks native frames (PROTOCOL ). A connection the broker took and
        // refused before these bytes came was closed without a word: the send finds it closed.
        if (::send(fd, "KN", 2, MSG_NOSIGNAL) != 2)
            QVERIFY2(errno == EPIPE || errno == ECONNRESET, std::strerror(errno));
        flood.append(fd);
    }
    // Those the broker took stay silent and open; the rest are told and closed.
    QList<RawReceived> received(Flood);
    int refused = 0;
    QElapsedTimer clock;
    clock.start();
    while (clock.elapsed() < 3000) {
        refused = 0;
        for (int i = 0; i < Flood; ++i) {
            drainRaw(flood[i], &received[i]);
            if (received[i].closed)
                ++refused;
        }
        if (refused > 0 && process.log().contains("out of file descriptors"))
            break;
        QTest::qWait(50);
    }
    QVERIFY2(refused > 0, "no connection was refused: the broker never ran out of descriptors");
    QVERIFY2(refused < Flood, "every connection was refused");
    int told = 0;
    for (const RawReceived &r : std::as_const(received)) {
        if (r.closed && r.bytes.contains("out of file descriptors"))
            ++told;
        else if (r.closed) // refused before its first bytes were there: not a word
            QVERIFY2(r.bytes.isEmpty(), r.bytes.toHex().constData());
    }
    QVERIFY2(told > 0, "no refused connection was told why");
    QVERIFY(process.log().contains("out of file descriptors"));
    QVERIFY2(process.isRunning(), process.log().right(4000).constData());

    // Served throughout: the canary, and a client connecting while the broker is still full.
    QTest::qWait(500);
    QVERIFY2(canary.healthy(), qPrintable(canary.verdict()));

    for (int fd : std::as_const(flood))
        ::close(fd);
    // The broker notices the flood leaving; then a newcomer is accepted and registers.
    QTRY_VERIFY_WITH_TIMEOUT(process.openDescriptors() < 40, 5000);
    QVERIFY2(process.isRunning(), process.log().right(4000).constData());
    RawPeer late;
    QVERIFY(late.connectTcp(process.tcpPort()));
    QVERIFY(late.registerAs("late"));
    canary.stop();
    QVERIFY2(canary.healthy(), qPrintable(canary.verdict()));
    QVERIFY(canary.received() > 0);
    QVERIFY(process.isRunning());
    qInfo("%d of %d flood connections refused (%d told why); canary %llu messages, max latency %lld us",
          refused, Flood, told, (unsigned long long)canary.received(), (long long)canary.maxLatencyUs());
}

// The budgets' defaults: a fraction of RAM within a floor and a ceiling, never below the
// per-connection bound they sum up; a configured value wins.
void tst_BrokerLimits::budgetsDerivedFromRam()
{
    constexpr qint64 MiB = 1024 * 1024;
    QCOMPARE(BudgetLedger::derive(0, 16, 16 * MiB, 1024 * MiB), 16 * MiB);          // RAM unknown: the floor
    QCOMPARE(BudgetLedger::derive(128 * MiB, 16, 16 * MiB, 1024 * MiB), 16 * MiB);  // a small board: the floor
    QCOMPARE(BudgetLedger::derive(1024 * MiB, 16, 16 * MiB, 1024 * MiB), 64 * MiB); // RAM/16
    QCOMPARE(BudgetLedger::derive(64 * 1024 * MiB, 16, 16 * MiB, 1024 * MiB), 1024 * MiB); // the ceiling
    QVERIFY(BudgetLedger::physicalMemory() > 0);

    BrokerConfig config;
    BudgetLedger derived;
    derived.configure(config);
    const qint64 ram = BudgetLedger::physicalMemory();
    QCOMPARE(derived.incompleteFrames.limit(),
             BudgetLedger::derive(ram, BudgetLedger::IncompleteFramesDivisor, BudgetLedger::IncompleteFramesFloor,
                                  BudgetLedger::IncompleteFramesCeiling));
    QCOMPARE(derived.clientQueues.limit(), BudgetLedger::derive(ram, BudgetLedger::ClientQueuesDivisor,
                                                                BudgetLedger::ClientQueuesFloor,
                                                                BudgetLedger::ClientQueuesCeiling));
    QCOMPARE(derived.monitorQueues.limit(), BudgetLedger::derive(ram, BudgetLedger::MonitorQueuesDivisor,
                                                                 BudgetLedger::MonitorQueuesFloor,
                                                                 BudgetLedger::MonitorQueuesCeiling));

    config.totalIncompleteFrameBytes = 5 * MiB;
    config.totalQueueBytes = 1024; // below max_queue_bytes: raised to it
    config.monitor.totalQueueBytes = 64 * 1024;
    BudgetLedger configured;
    configured.configure(config);
    QCOMPARE(configured.incompleteFrames.limit(), 5 * MiB);
    QCOMPARE(configured.clientQueues.limit(), config.maxOutputQueueBytes);
    QCOMPARE(configured.monitorQueues.limit(), 2 * config.monitor.maxQueueBytes);
}

// At the limit is within the budget; one byte past it asks for a shed, once the holder gives the
// byte back it is within again.
void tst_BrokerLimits::budgetLimitEdge()
{
    MemoryBudget budget("test");
    QVERIFY(!budget.add(1 << 30)); // no limit: never over
    budget.subtract(1 << 30);
    budget.setLimit(1000);
    QVERIFY(!budget.add(1000));
    QVERIFY(!budget.isOver());
    QVERIFY(budget.add(1));
    QVERIFY(budget.isOver());
    budget.subtract(1);
    QVERIFY(!budget.isOver());
    QCOMPARE(budget.peak(), qint64(1 << 30));
    budget.noteShed();
    QCOMPARE(budget.shedCount(), 1u);
}

QTEST_MAIN(tst_BrokerLimits)
#include "tst_brokerlimits.moc"
