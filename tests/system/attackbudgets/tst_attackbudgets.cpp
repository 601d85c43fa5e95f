// Attack tests on what many connections, one monitor or one service can do in total
// (docs/RELIABILITY.md): the broker-wide budgets for incomplete frames and queued
// output, the monitor queue bound with snapshots, and the rate limits on logs that a peer or a
// service drives. Each runs against the real kennel-broker process with small configured budgets
// (so they bite fast) while a canary pair exchanges messages through it; memory is the broker's
// VmRSS, sampled while the attack runs. Attackers are raw sockets written from this test's event
// loop: the canary shares that loop and must keep running.
#include "brokerprocess.h"
#include "canary.h"
#include "framecodec.h"
#include "monitorcodec.h"
#include "sanitizerbuild.h"
#include "testbroker.h"

#include <QElapsedTimer>
#include <QLocalSocket>
#include <QTcpSocket>
#include <QTest>
#include <QTimer>

#include <algorithm>
#include <cerrno>
#include <memory>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace Kennel;
using namespace KennelTest;

namespace {

constexpr qint64 MiB = 1024 * 1024;
// The budgets the attacks run against, and how far above a budget the broker's resident memory
// may grow (its own buffers for the batch in flight, the allocator's slack, the canary).
constexpr qint64 BudgetBytes = 8 * MiB;
constexpr qint64 RssSlackKiB = 24 * 1024;

QByteArray helloFrame(const QByteArray &name, Role role = Role::Client)
{
    Frame f;
    f.type = FrameType::Hello;
    f.source = name;
    f.messageId = 1;
    HelloPayload hello;
    hello.role = role;
    f.payload = encodeHello(hello);
    return encodeFrame(f);
}

QByteArray sendFrame(const QByteArray &target, const QByteArray &payload)
{
    Frame f;
    f.type = FrameType::Send;
    f.target = target;
    f.payload = payload;
    return encodeFrame(f);
}

// A Unix-socket connection written without Qt: it never reads unless asked, so what the broker
// sends it stays in the broker (its kernel buffer is made small). Non-blocking; what the socket
// does not take now is written from a timer.
class UnixPeer : public QObject
{
public:
    UnixPeer(const QString &path, QObject *parent) : QObject(parent)
    {
        m_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const int small = 4096;
        ::setsockopt(m_fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        const QByteArray p = path.toLocal8Bit();
        std::memcpy(addr.sun_path, p.constData(), size_t(std::min<qsizetype>(p.size(), sizeof addr.sun_path - 1)));
        if (::connect(m_fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
            ::close(m_fd);
            m_fd = -1;
        }
        if (m_fd >= 0)
            ::fcntl(m_fd, F_SETFL, ::fcntl(m_fd, F_GETFL) | O_NONBLOCK);
        connect(&m_timer, &QTimer::timeout, this, &UnixPeer::push);
        m_timer.start(5);
    }
    ~UnixPeer() override
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }
    bool isValid() const { return m_fd >= 0; }
    void write(const QByteArray &bytes)
    {
        m_pending += bytes;
        push();
    }
    qsizetype pending() const { return m_pending.size(); }
    // True once the broker has closed the connection (reads and drops what is queued).
    bool closedByPeer()
    {
        char buffer[65536];
        for (;;) {
            const ssize_t r = ::recv(m_fd, buffer, sizeof buffer, MSG_DONTWAIT);
            if (r == 0)
                return true;
            if (r < 0)
                return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
        }
    }

private:
    void push()
    {
        while (m_fd >= 0 && !m_pending.isEmpty()) {
            const ssize_t n = ::send(m_fd, m_pending.constData(), size_t(m_pending.size()), MSG_NOSIGNAL);
            if (n <= 0)
                return; // full (or closed): try again on the next tick
            m_pending.remove(0, qsizetype(n));
        }
    }

    int m_fd = -1;
    QByteArray m_pending;
    QTimer m_timer;
};

// A TCP connection that records the Error frames it receives and whether it was closed.
class TcpPeer : public QObject
{
public:
    TcpPeer(quint16 port, QObject *parent) : QObject(parent), m_decoder(16 * MiB)
    {
        connect(&m_socket, &QTcpSocket::readyRead, this, &TcpPeer::readAll);
        connect(&m_socket, &QTcpSocket::disconnected, this, [this] {
            readAll();
            m_closed = true;
        });
        m_socket.connectToHost(QHostAddress::LocalHost, port);
    }
    QTcpSocket &socket() { return m_socket; }
    bool isClosed() const { return m_closed; }
    bool hasError(ErrorCode code) const
    {
        return std::any_of(m_errors.cbegin(), m_errors.cend(), [code](const ErrorPayload &e) { return e.code == code; });
    }
    QString errorText() const { return m_errors.isEmpty() ? QString() : m_errors.first().text; }

private:
    void readAll()
    {
        m_decoder.append(m_socket.readAll());
        while (auto frame = m_decoder.next()) {
            if (frame->type == FrameType::Error) {
                if (auto error = decodeError(frame->payload))
                    m_errors.append(*error);
            }
        }
    }

    QTcpSocket m_socket;
    FrameDecoder m_decoder;
    QList<ErrorPayload> m_errors;
    bool m_closed = false;
};

// The broker's resident memory, sampled on a timer: the peak above the level before the attack.
class RssSampler : public QObject
{
public:
    explicit RssSampler(const BrokerProcess &broker, QObject *parent = nullptr) : QObject(parent), m_broker(broker)
    {
        m_base = m_peak = broker.rssKiB();
        connect(&m_timer, &QTimer::timeout, this, [this] { m_peak = std::max(m_peak, m_broker.rssKiB()); });
        m_timer.start(20);
    }
    qint64 growthKiB() const { return m_peak - m_base; }
    qint64 baseKiB() const { return m_base; }

private:
    const BrokerProcess &m_broker;
    QTimer m_timer;
    qint64 m_base = 0;
    qint64 m_peak = 0;
};

void wait(int ms)
{
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < ms)
        QTest::qWait(10);
}

} // namespace

class tst_AttackBudgets : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void manyIncompleteFrames();
    void manyNonReadingReceivers();
    void monitorPipeliningSubscribes();
    void monitorsOverTheirBudget();
    void snapshotLargerThanTheBound();
    void serviceFloodingOutput();
    void connectAndCloseFlood();
    void clientErrorFlood();

private:
    void startBroker(BrokerProcess &broker, const BrokerProcess::Options &options);
    void startCanary(Canary &canary, const BrokerProcess &broker);
    void stopCanary(Canary &canary, const char *attack);
    void verifyStops(BrokerProcess &broker);
};

void tst_AttackBudgets::initTestCase()
{
    raiseDescriptorLimit();
    if (underSanitizer()) {
        // AddressSanitizer keeps freed memory in a quarantine (256 MB by default) instead of
        // reusing it: every shed connection's buffers would count as growth. A small quarantine
        // for the brokers started here keeps the memory bounds meaningful.
        qputenv("ASAN_OPTIONS", qgetenv("ASAN_OPTIONS") + ":quarantine_size_mb=1");
    }
}

void tst_AttackBudgets::startBroker(BrokerProcess &broker, const BrokerProcess::Options &options)
{
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
}

void tst_AttackBudgets::startCanary(Canary &canary, const BrokerProcess &broker)
{
    Canary::Options options;
    options.brokerAddress = broker.tcpAddress();
    QVERIFY2(canary.start(options), qPrintable(canary.verdict() + QStringLiteral("\n")
                                               + QString::fromLocal8Bit(broker.log().right(3000))));
}

// SIGTERM: the broker exits by itself with status 0 (under the sanitizers: nothing leaked).
void tst_AttackBudgets::verifyStops(BrokerProcess &broker)
{
    const QString verdict = broker.stopVerdict();
    QVERIFY2(verdict.isEmpty(), qPrintable(verdict));
}

void tst_AttackBudgets::stopCanary(Canary &canary, const char *attack)
{
    canary.stop();
    qInfo("%s: canary sent %llu, received %llu, max latency %lld us", attack, canary.sent(), canary.received(),
          canary.maxLatencyUs());
    QVERIFY2(canary.healthy(), qPrintable(canary.verdict()));
    QVERIFY(canary.sent() > 0);
}

// 64 connections each park 960 KB of a 1 MB frame they never finish: 60 MB without a budget
// (512 such added 446 MiB). With an 8 MiB budget the oldest are shed with over_budget,
// the newest keep their connection, memory stays near the budget and the canary keeps its bound.
void tst_AttackBudgets::manyIncompleteFrames()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.arguments = {QStringLiteral("--total-incomplete-frame-bytes"), QString::number(BudgetBytes),
                         QStringLiteral("--register-timeout"), QStringLiteral("60000"),
                         QStringLiteral("--incomplete-frame-timeout"), QStringLiteral("60000")};
    startBroker(broker, options);
    Canary canary;
    startCanary(canary, broker);
    RssSampler rss(broker);

    constexpr int Peers = 64;
    constexpr qsizetype Parked = 960 * 1000;
    const QByteArray frame = sendFrame("nobody", QByteArray(1000 * 1000, 'x')).left(Parked);
    QObject owner;
    QList<TcpPeer *> peers;
    for (int i = 0; i < Peers; ++i) {
        auto *peer = new TcpPeer(broker.tcpPort(), &owner);
        QTRY_VERIFY_WITH_TIMEOUT(peer->socket().state() == QAbstractSocket::ConnectedState, 5000);
        peer->socket().write(frame);
        peers.append(peer);
        QTest::qWait(15); // one after the other: their frames' ages differ
    }
    // Everything written has reached the broker (or the peer was shed).
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(peers.cbegin(), peers.cend(),
                                         [](TcpPeer *p) { return p->isClosed() || p->socket().bytesToWrite() == 0; }),
                             20000);
    wait(500);
    const int shed = int(std::count_if(peers.cbegin(), peers.cend(), [](TcpPeer *p) { return p->hasError(ErrorCode::OverBudget); }));
    qInfo("incomplete frames: %d of %d connections shed, broker RSS %lld KiB before, peak +%lld KiB (budget %lld KiB)",
          shed, Peers, rss.baseKiB(), rss.growthKiB(), BudgetBytes / 1024);
    stopCanary(canary, "incomplete frames");
    QVERIFY2(rss.growthKiB() < BudgetBytes / 1024 + RssSlackKiB,
             qPrintable(QStringLiteral("the broker grew by %1 KiB").arg(rss.growthKiB())));
    QVERIFY2(shed >= Peers - int(BudgetBytes / Parked) - 1, qPrintable(QStringLiteral("only %1 shed").arg(shed)));
    // Oldest first: the first connection went, the last one is still parked.
    QVERIFY2(peers.first()->hasError(ErrorCode::OverBudget), qPrintable(peers.first()->errorText()));
    QVERIFY(!peers.last()->isClosed());
    QVERIFY(broker.countInLog("shed #") >= 1);
    QVERIFY(broker.isRunning());
    verifyStops(broker);
}

// 24 registered receivers never read while one sender fills their queues: 24 x max_queue_bytes
// (96 MiB) without a budget (64 of them added 257 MiB). With an 8 MiB budget the
// largest backlogs are shed and memory stays near it.
void tst_AttackBudgets::manyNonReadingReceivers()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    // Registrations are awaited in the log: the per-address limit on such lines is lifted.
    options.arguments = {QStringLiteral("--total-queue-bytes"), QString::number(BudgetBytes),
                         QStringLiteral("--log-peer-lines=100000")};
    startBroker(broker, options);
    Canary canary;
    startCanary(canary, broker);

    constexpr int Receivers = 24;
    QObject owner;
    QList<QByteArray> names;
    for (int i = 0; i < Receivers; ++i) {
        auto *receiver = new UnixPeer(broker.unixPath(), &owner);
        QVERIFY(receiver->isValid());
        names.append("sink-" + QByteArray::number(i));
        receiver->write(helloFrame(names.last()));
    }
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog("registered '") >= Receivers + 2, 10000);
    auto *sender = new UnixPeer(broker.unixPath(), &owner);
    sender->write(helloFrame("flooder"));
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog("registered 'flooder'") == 1, 5000);

    RssSampler rss(broker);
    const QByteArray payload(32 * 1024, 'p');
    int next = 0;
    qint64 written = 0;
    QTimer feed;
    // Round robin, never more than 1 MB ahead of the broker: the test's own memory stays small.
    connect(&feed, &QTimer::timeout, &owner, [&] {
        while (sender->pending() < 1 * MiB && written < qint64(Receivers) * 5 * MiB) {
            const QByteArray frame = sendFrame(names[next], payload);
            sender->write(frame);
            written += frame.size();
            next = (next + 1) % Receivers;
        }
    });
    feed.start(5);
    QTRY_VERIFY_WITH_TIMEOUT(written >= qint64(Receivers) * 5 * MiB && sender->pending() == 0, 30000);
    feed.stop();
    wait(500);
    const int shed = broker.countInLog("shed '");
    qInfo("non-reading receivers: %d sheds logged, broker RSS %lld KiB before, peak +%lld KiB (budget %lld KiB)", shed,
          rss.baseKiB(), rss.growthKiB(), BudgetBytes / 1024);
    stopCanary(canary, "non-reading receivers");
    QVERIFY2(rss.growthKiB() < BudgetBytes / 1024 + RssSlackKiB,
             qPrintable(QStringLiteral("the broker grew by %1 KiB").arg(rss.growthKiB())));
    QVERIFY2(shed >= 1, broker.log().right(3000).constData());
    QVERIFY(broker.isRunning());
    verifyStops(broker);
}

// A monitor admitted by its peer credentials pipelines 4000 Subscribes and never reads
// (330 MB queued against an 8 MiB bound). With 100 clients each snapshot is ~15 KB: 60 MB without
// the bound. Now the Subscribes past the bound are refused and the monitor is disconnected.
void tst_AttackBudgets::monitorPipeliningSubscribes()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = "[monitor]\nmax_queue_bytes = 64k\n";
    options.arguments = {QStringLiteral("--log-peer-lines=100000")};
    startBroker(broker, options);
    Canary canary;
    startCanary(canary, broker);

    QObject owner;
    for (int i = 0; i < 100; ++i) {
        auto *client = new UnixPeer(broker.unixPath(), &owner);
        client->write(helloFrame("client-with-a-longer-name-" + QByteArray::number(i)));
    }
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog("registered '") >= 102, 10000);

    RssSampler rss(broker);
    auto *monitor = new UnixPeer(broker.unixPath(), &owner);
    QByteArray flood = helloFrame("greedy-monitor", Role::Monitor);
    Frame subscribe;
    subscribe.type = MonitorFrame::Subscribe;
    subscribe.payload = encodeMonitorSubscribe(MonitorSubscribe{});
    for (int i = 0; i < 4000; ++i) {
        subscribe.messageId = quint32(i + 2);
        flood += encodeFrame(subscribe);
    }
    monitor->write(flood);
    QTRY_VERIFY_WITH_TIMEOUT(monitor->pending() == 0 || broker.countInLog("greedy-monitor' (") >= 2, 20000);
    wait(1000);
    qInfo("monitor subscribe flood: broker RSS %lld KiB before, peak +%lld KiB; log: %d refusals, %d disconnects",
          rss.baseKiB(), rss.growthKiB(), broker.countInLog("subscribe refused"), broker.countInLog("it is not reading"));
    stopCanary(canary, "monitor subscribe flood");
    QVERIFY2(rss.growthKiB() < 16 * 1024, qPrintable(QStringLiteral("the broker grew by %1 KiB").arg(rss.growthKiB())));
    QVERIFY2(broker.countInLog("subscribe refused") >= 1, broker.log().right(3000).constData());
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog("it is not reading") >= 1, 5000);
    QTRY_VERIFY_WITH_TIMEOUT(monitor->closedByPeer(), 5000);
    QVERIFY(broker.isRunning());
    verifyStops(broker);
}

// Three monitors that never read each keep their own queue under its bound (about one
// max_queue_bytes each: further Subscribes are refused), but together they pass the budget for
// all monitors: the one with the largest queue is disconnected with over_budget.
void tst_AttackBudgets::monitorsOverTheirBudget()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = "[monitor]\nmax_queue_bytes = 64k\ntotal_queue_bytes = 128k\n";
    options.arguments = {QStringLiteral("--log-peer-lines=100000")};
    startBroker(broker, options);
    QVERIFY(broker.countInLog("monitor queues 131072 bytes") == 1);
    Canary canary;
    startCanary(canary, broker);

    QObject owner;
    for (int i = 0; i < 100; ++i) {
        auto *client = new UnixPeer(broker.unixPath(), &owner);
        client->write(helloFrame("client-with-a-longer-name-" + QByteArray::number(i)));
    }
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog("registered '") >= 102, 10000);

    RssSampler rss(broker);
    QList<UnixPeer *> monitors;
    for (int i = 0; i < 3; ++i) {
        monitors.append(new UnixPeer(broker.unixPath(), &owner));
        monitors.last()->write(helloFrame("quiet-monitor-" + QByteArray::number(i), Role::Monitor));
    }
    // Waves of Subscribes: the kernel's socket buffers fill first, then each monitor's queue.
    Frame subscribe;
    subscribe.type = MonitorFrame::Subscribe;
    subscribe.payload = encodeMonitorSubscribe(MonitorSubscribe{});
    int waves = 0;
    QTimer wave;
    connect(&wave, &QTimer::timeout, &owner, [&] {
        for (UnixPeer *monitor : std::as_const(monitors)) {
            QByteArray frames;
            for (int i = 0; i < 10; ++i)
                frames += encodeFrame(subscribe);
            monitor->write(frames);
        }
        if (++waves == 20)
            wave.stop();
    });
    wave.start(100);
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog("budget for monitor queues") >= 1 || waves == 20, 10000);
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog("budget for monitor queues") >= 1, 5000);
    wave.stop();
    wait(1000); // the canary runs through the aftermath
    qInfo("monitors over their budget: %d budget sheds, %d own-bound disconnects, %d refusals logged; "
          "broker RSS %lld KiB before, peak +%lld KiB",
          broker.countInLog("budget for monitor queues"), broker.countInLog("it is not reading"),
          broker.countInLog("subscribe refused"), rss.baseKiB(), rss.growthKiB());
    stopCanary(canary, "monitors over their budget");
    QVERIFY(rss.growthKiB() < 16 * 1024);
    QVERIFY(broker.isRunning());
    verifyStops(broker);
}

// The other edge of the monitor bound: with 1000 clients one snapshot (~190 KB) is larger than
// twice a 64 KiB bound. A monitor that reads gets it whole, once, and stays connected.
void tst_AttackBudgets::snapshotLargerThanTheBound()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = "[monitor]\nmax_queue_bytes = 64k\n";
    options.arguments = {QStringLiteral("--log-peer-lines=100000")};
    startBroker(broker, options);

    constexpr int Clients = 1000;
    QObject owner;
    for (int i = 0; i < Clients; ++i) {
        auto *client = new UnixPeer(broker.unixPath(), &owner);
        QVERIFY(client->isValid());
        client->write(helloFrame("a-client-with-a-name-long-enough-to-make-the-snapshot-big-" + QByteArray::number(i)));
    }
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog("registered '") >= Clients, 20000);

    QLocalSocket monitor;
    FrameDecoder decoder(16 * MiB);
    int clientRecords = 0;
    int snapshotEnds = 0;
    qint64 snapshotBytes = 0;
    connect(&monitor, &QLocalSocket::readyRead, &owner, [&] {
        const QByteArray bytes = monitor.readAll();
        if (snapshotEnds == 0)
            snapshotBytes += bytes.size();
        decoder.append(bytes);
        while (auto frame = decoder.next()) {
            if (frame->type == MonitorFrame::Client)
                ++clientRecords;
            else if (frame->type == MonitorFrame::SnapshotEnd)
                ++snapshotEnds;
        }
    });
    monitor.connectToServer(broker.unixPath());
    QTRY_COMPARE_WITH_TIMEOUT(monitor.state(), QLocalSocket::ConnectedState, 5000);
    Frame subscribe;
    subscribe.type = MonitorFrame::Subscribe;
    subscribe.messageId = 2;
    subscribe.payload = encodeMonitorSubscribe(MonitorSubscribe{});
    monitor.write(helloFrame("patient-monitor", Role::Monitor) + encodeFrame(subscribe));
    QTRY_VERIFY_WITH_TIMEOUT(snapshotEnds == 1, 10000);
    qInfo("snapshot of %d clients: %lld bytes at max_queue_bytes 64 KiB", clientRecords, snapshotBytes);
    QVERIFY2(snapshotBytes > 2 * 64 * 1024, qPrintable(QString::number(snapshotBytes)));
    QCOMPARE(clientRecords, Clients);
    wait(300);
    QCOMPARE(monitor.state(), QLocalSocket::ConnectedState);
    QCOMPARE(broker.countInLog("it is not reading"), 0);
    verifyStops(broker);
}

// A supervised service prints as fast as a shell loop can (6.6 MB/s of log, the
// canary's median from 0.1 to 89 ms). With log_lines_per_second = 20 the log carries at most
// that many of its lines a second and says how many were suppressed.
void tst_AttackBudgets::serviceFloodingOutput()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = "[service.chatty]\n"
                         "program = /bin/sh\n"
                         "arguments = -c, \"while :; do echo chatty-flood-line-0123456789abcdefghijklmnopqrstuvwxyz; done\"\n"
                         "restart = never\n"
                         "log_lines_per_second = 20\n";
    startBroker(broker, options);
    Canary canary;
    startCanary(canary, broker);
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog("chatty-flood-line") >= 1, 10000);
    QElapsedTimer clock;
    clock.start();
    const int before = broker.countInLog("chatty-flood-line");
    const qsizetype logBefore = broker.log().size();
    wait(3000);
    const int lines = broker.countInLog("chatty-flood-line") - before;
    const double seconds = double(clock.elapsed()) / 1000.0;
    qInfo("service output flood: %d lines logged in %.1f s (%lld log bytes), %d suppressed-lines summaries", lines,
          seconds, qlonglong(broker.log().size() - logBefore), broker.countInLog("lines suppressed"));
    stopCanary(canary, "service output flood");
    QVERIFY2(lines <= int(20 * (seconds + 1)) + 20, qPrintable(QStringLiteral("%1 lines logged").arg(lines)));
    QVERIFY2(broker.countInLog("lines suppressed") >= 1, broker.log().right(2000).constData());
    QVERIFY(broker.isRunning());
    verifyStops(broker);
}

// One client connects and closes as fast as it can (~206 bytes of log per connection,
// 1.5 MB/s). With peer_lines_per_second = 10 the close lines from its address are bounded.
void tst_AttackBudgets::connectAndCloseFlood()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.arguments = {QStringLiteral("--log-peer-lines"), QStringLiteral("10")};
    startBroker(broker, options);
    Canary canary;
    startCanary(canary, broker);

    QElapsedTimer clock;
    clock.start();
    const int before = broker.countInLog("closed #");
    int opened = 0;
    int closed = 0;
    QObject owner;
    QTimer flood;
    connect(&flood, &QTimer::timeout, &owner, [&] {
        for (int i = 0; i < 20 && opened < 1500; ++i) {
            auto *socket = new QTcpSocket(&owner);
            ++opened;
            connect(socket, &QTcpSocket::connected, socket, [socket] { socket->disconnectFromHost(); });
            connect(socket, &QTcpSocket::disconnected, socket, [socket, &closed] {
                ++closed;
                socket->deleteLater();
            });
            connect(socket, &QTcpSocket::errorOccurred, socket, [socket, &closed] {
                ++closed;
                socket->deleteLater();
            });
            socket->connectToHost(QHostAddress::LocalHost, broker.tcpPort());
        }
    });
    flood.start(10);
    QTRY_VERIFY_WITH_TIMEOUT(opened == 1500 && closed >= 1500, 30000);
    flood.stop();
    // The summary comes with the first line of a later second: one more connection after it.
    wait(1100);
    auto *last = new QTcpSocket(&owner);
    connect(last, &QTcpSocket::connected, last, [last] { last->disconnectFromHost(); });
    last->connectToHost(QHostAddress::LocalHost, broker.tcpPort());
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog("more connection closes from 127.0.0.1 not logged") >= 1, 5000);
    const double seconds = double(clock.elapsed()) / 1000.0;
    const int lines = broker.countInLog("closed #") - before;
    qInfo("connect-and-close flood: %d connections in %.1f s, %d close lines logged, %d summaries", opened, seconds,
          lines, broker.countInLog("more connection closes from 127.0.0.1 not logged"));
    stopCanary(canary, "connect-and-close flood");
    QVERIFY2(lines <= int(10 * (seconds + 1)) + 10, qPrintable(QStringLiteral("%1 close lines").arg(lines)));
    QVERIFY(broker.isRunning());
    verifyStops(broker);
}

// A registered client sends Error frames in a loop: each used to be one "reported an error" line.
// Now they are limited per address like closes and registrations, with a summary.
void tst_AttackBudgets::clientErrorFlood()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.arguments = {QStringLiteral("--log-peer-lines"), QStringLiteral("10")};
    startBroker(broker, options);
    Canary canary;
    startCanary(canary, broker);

    QObject owner;
    auto *noisy = new UnixPeer(broker.unixPath(), &owner);
    noisy->write(helloFrame("noisy"));
    Frame error;
    error.type = FrameType::Error;
    error.payload = encodeError({ErrorCode::MalformedFrame, QStringLiteral("a complaint the broker did not ask for")});
    const QByteArray one = encodeFrame(error);
    QElapsedTimer clock;
    clock.start();
    int sent = 0;
    QTimer flood;
    connect(&flood, &QTimer::timeout, &owner, [&] {
        if (noisy->pending() > 64 * 1024 || sent >= 20000)
            return;
        QByteArray batch;
        for (int i = 0; i < 500; ++i)
            batch += one;
        noisy->write(batch);
        sent += 500;
    });
    flood.start(10);
    QTRY_VERIFY_WITH_TIMEOUT(sent >= 20000 && noisy->pending() == 0, 20000);
    flood.stop();
    wait(1100);
    noisy->write(one); // the summary comes with the next line logged for the address
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog("more client errors from") >= 1, 5000);
    const double seconds = double(clock.elapsed()) / 1000.0;
    const int lines = broker.countInLog("reported an error");
    qInfo("client error flood: %d Error frames in %.1f s, %d lines logged", sent + 1, seconds, lines);
    stopCanary(canary, "client error flood");
    QVERIFY2(lines <= int(10 * (seconds + 1)) + 10, qPrintable(QStringLiteral("%1 lines").arg(lines)));
    QVERIFY(broker.isRunning());
    verifyStops(broker);
}

QTEST_GUILESS_MAIN(tst_AttackBudgets)
#include "tst_attackbudgets.moc"
