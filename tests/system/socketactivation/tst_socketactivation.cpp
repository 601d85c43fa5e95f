// Socket activation without systemd: the test is the manager. It creates the listening sockets
// itself (and keeps its copies, as systemd does), starts a real kennel-broker through
// listenfds_exec with them as descriptors 3.. and LISTEN_PID set to the broker's own PID, and
// checks that clients who connected before any broker ran wait in the backlog and are served,
// across a broker restart and a broker crash too; that a passed socket no listener claims is closed with a clear
// error; and that sockets meant for another PID are left alone.
#include "testbroker.h"

#include "kennelclient.h"

#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <cerrno>
#include <cstring>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace Kennel;
using namespace KennelTest;

namespace {

// A listening socket as systemd's ListenStream= makes it: blocking, inheritable (no
// close-on-exec), bound before any broker exists.
int listenUnix(const QString &path)
{
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const QByteArray encoded = QFile::encodeName(path);
    std::memcpy(address.sun_path, encoded.constData(), size_t(encoded.size()));
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 || ::listen(fd, 16) != 0) {
        qWarning("listenUnix %s: %s", encoded.constData(), std::strerror(errno));
        return -1;
    }
    return fd;
}

int listenTcp(quint16 *port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 || ::listen(fd, 16) != 0
        || ::getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length) != 0) {
        qWarning("listenTcp: %s", std::strerror(errno));
        return -1;
    }
    *port = ntohs(address.sin_port);
    return fd;
}

bool tcpConnectRefused(quint16 port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    const bool refused = ::connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 && errno == ECONNREFUSED;
    ::close(fd);
    return refused;
}

} // namespace

class tst_SocketActivation : public QObject
{
    Q_OBJECT

private slots:
    void cleanup();

    void clientsWaitingInTheBacklogAreServedAcrossARestart();
    void aCrashLosesTheConnectionsNotTheListeners();
    void unclaimedOrUnusableSocketsAreClosedWithAnError();
    void socketsForAnotherProcessAreLeftAlone();
    void restartsUnderTheSocketUnitLoseNothing_data();
    void restartsUnderTheSocketUnitLoseNothing();

private:
    // kennel-broker with `fds` as descriptors 3.. (none: started directly, with `env` as given).
    QProcess *startBroker(const QList<int> &fds, const QByteArray &names, const QStringList &arguments,
                          const QProcessEnvironment &env = QProcessEnvironment::systemEnvironment());
    static bool stop(QProcess *broker);
    QList<QProcess *> m_processes;
    QList<int> m_fds;
};

void tst_SocketActivation::cleanup()
{
    for (QProcess *p : std::as_const(m_processes)) {
        if (p->state() != QProcess::NotRunning) {
            p->kill(); // our own child, by its PID
            p->waitForFinished(5000);
        }
        delete p;
    }
    m_processes.clear();
    for (int fd : std::as_const(m_fds))
        ::close(fd);
    m_fds.clear();
}

QProcess *tst_SocketActivation::startBroker(const QList<int> &fds, const QByteArray &names, const QStringList &arguments,
                                            const QProcessEnvironment &env)
{
    auto *broker = new QProcess;
    m_processes.append(broker);
    QProcessEnvironment environment = env;
    environment.insert(QStringLiteral("QT_LOGGING_RULES"), QStringLiteral("kennel.*.info=true"));
    broker->setProcessEnvironment(environment);
    broker->setProcessChannelMode(QProcess::MergedChannels);
    if (fds.isEmpty()) {
        broker->setProgram(binaryPath(QStringLiteral("kennel-broker")));
        broker->setArguments(arguments);
    } else {
        QStringList list;
        for (int fd : fds)
            list.append(QString::number(fd));
        broker->setProgram(QStringLiteral(KENNEL_LISTENFDS_EXEC));
        broker->setArguments(QStringList{list.join(QLatin1Char(',')), names.isEmpty() ? QStringLiteral("-") : QString::fromUtf8(names),
                                         binaryPath(QStringLiteral("kennel-broker"))}
                             + arguments);
    }
    broker->start();
    return broker;
}

bool tst_SocketActivation::stop(QProcess *broker)
{
    broker->terminate();
    return broker->waitForFinished(10000) && broker->exitStatus() == QProcess::NormalExit && broker->exitCode() == 0;
}

void tst_SocketActivation::clientsWaitingInTheBacklogAreServedAcrossARestart()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("broker.sock"));
    quint16 port = 0;
    const int unixFd = listenUnix(path);
    const int tcpFd = listenTcp(&port);
    QVERIFY(unixFd >= 0 && tcpFd >= 0);
    m_fds << unixFd << tcpFd;
    const QStringList arguments{QStringLiteral("--listen"), QStringLiteral("127.0.0.1:%1").arg(port),
                                QStringLiteral("--listen"), QStringLiteral("unix:") + path};

    // Connected, and saying Hello, while no broker exists: the kernel completes the connection
    // into the listen backlog of the socket the "manager" holds.
    RawPeer early, earlyTcp;
    QVERIFY(early.connectUnix(path));
    QVERIFY(earlyTcp.connectTcp(port));
    early.hello("early-unix");
    earlyTcp.hello("early-tcp");

    // Passed in the other order than the config lists them, under one name as a .socket unit
    // with FileDescriptorName= would: matched by address, not position or name.
    QProcess *broker = startBroker({tcpFd, unixFd}, "kennel:kennel", arguments);
    QVERIFY2(broker->waitForStarted(5000), qPrintable(broker->errorString()));
    QVERIFY(early.take(FrameType::Welcome, 10000).has_value());
    QVERIFY(earlyTcp.take(FrameType::Welcome, 5000).has_value());
    QByteArray log;
    QTRY_VERIFY2_WITH_TIMEOUT((log += broker->readAll()).contains("listening on unix:"), log.constData(), 10000);
    const QByteArray tcpLine = "listening on 127.0.0.1:" + QByteArray::number(port) + " with the socket systemd passed";
    const QByteArray unixLine = "listening on unix:" + QFile::encodeName(path) + " with the socket systemd passed";
    QVERIFY2(log.contains(tcpLine), log.constData());
    QVERIFY2(log.contains(unixLine), log.constData());
    QVERIFY2(!log.contains("no configured listener"), log.constData());

    // A graceful stop: the passed Unix socket's file is the manager's and stays.
    QVERIFY(stop(broker));
    QVERIFY(early.waitForDisconnect(5000));
    QVERIFY(QFile::exists(path));

    // Between two brokers: still connected into the backlog instead of refused, then served by
    // the next broker given the same sockets.
    RawPeer between, betweenTcp;
    QVERIFY(between.connectUnix(path));
    QVERIFY(betweenTcp.connectTcp(port));
    between.hello("between-unix");
    betweenTcp.hello("between-tcp");
    QProcess *second = startBroker({unixFd, tcpFd}, {}, arguments);
    QVERIFY2(second->waitForStarted(5000), qPrintable(second->errorString()));
    QVERIFY(between.take(FrameType::Welcome, 10000).has_value());
    QVERIFY(betweenTcp.take(FrameType::Welcome, 5000).has_value());
    // And it serves newcomers and routes between them like any broker.
    RawPeer late;
    QVERIFY(late.connectUnix(path));
    QVERIFY(late.registerAs("late"));
    late.sendTo("between-tcp", "through the passed sockets", 7);
    const std::optional<Frame> message = betweenTcp.take(FrameType::Deliver, 5000);
    QVERIFY(message.has_value());
    QCOMPARE(message->payload, QByteArray("through the passed sockets"));
    QVERIFY(stop(second));
}

// What a broker crash loses under socket activation: the connections it had accepted (their
// clients must reconnect and register again), not the listening socket: a client connecting
// between the crash and the next broker waits in the backlog and is served.
void tst_SocketActivation::aCrashLosesTheConnectionsNotTheListeners()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("broker.sock"));
    const int unixFd = listenUnix(path);
    QVERIFY(unixFd >= 0);
    m_fds << unixFd;
    const QStringList arguments{QStringLiteral("--listen"), QStringLiteral("unix:") + path};
    QProcess *broker = startBroker({unixFd}, "kennel-broker", arguments);
    QVERIFY2(broker->waitForStarted(5000), qPrintable(broker->errorString()));
    RawPeer before;
    QVERIFY(before.connectUnix(path));
    QVERIFY(before.registerAs("before-crash", 10000));

    broker->kill(); // SIGKILL: no Bye, no flush, no cleanup
    QVERIFY(broker->waitForFinished(5000));
    QVERIFY(before.waitForDisconnect(5000)); // the accepted connection died with it
    QVERIFY(QFile::exists(path));

    RawPeer after;
    QVERIFY(after.connectUnix(path)); // not refused: the listening socket outlived the broker
    after.hello("after-crash");
    QProcess *next = startBroker({unixFd}, "kennel-broker", arguments);
    QVERIFY2(next->waitForStarted(5000), qPrintable(next->errorString()));
    QVERIFY(after.take(FrameType::Welcome, 10000).has_value());
    // The client of before the crash comes back the way the client library does: a new
    // connection and a new registration; its name was free again.
    RawPeer again;
    QVERIFY(again.connectUnix(path));
    QVERIFY(again.registerAs("before-crash"));
    QVERIFY(stop(next));
}

void tst_SocketActivation::unclaimedOrUnusableSocketsAreClosedWithAnError()
{
    QTemporaryDir dir;
    quint16 strayPort = 0;
    const int stray = listenTcp(&strayPort);                         // no listener is configured there
    const int notListening = ::socket(AF_INET, SOCK_STREAM, 0);      // a socket, but not a listener
    const int datagram = ::socket(AF_UNIX, SOCK_DGRAM, 0);           // ListenDatagram= by mistake
    QVERIFY(stray >= 0 && notListening >= 0 && datagram >= 0);
    m_fds << stray << notListening << datagram;
    const QString path = dir.filePath(QStringLiteral("own.sock"));
    QProcess *broker = startBroker({stray, notListening, datagram}, {},
                                   {QStringLiteral("--listen"), QStringLiteral("unix:") + path});
    QVERIFY2(broker->waitForStarted(5000), qPrintable(broker->errorString()));
    QByteArray log;
    QTRY_VERIFY2_WITH_TIMEOUT((log += broker->readAll()).contains("listening on unix:"), log.constData(), 10000);
    const QByteArray unclaimed = "systemd passed descriptor 3 on 127.0.0.1:" + QByteArray::number(strayPort)
        + " but no configured listener is at that address: closed";
    QVERIFY2(log.contains(unclaimed), log.constData());
    QVERIFY2(log.contains("descriptor 4") && log.contains("not listening (SO_ACCEPTCONN is 0"), log.constData());
    QVERIFY2(log.contains("descriptor 5") && log.contains("not a stream socket"), log.constData());
    // The broker opened its configured listener itself and serves it.
    RawPeer peer;
    QVERIFY(peer.connectUnix(path));
    QVERIFY(peer.registerAs("own-listener"));
    // It really closed the stray one: once the manager's copy goes too, nobody listens there.
    ::close(stray);
    m_fds.removeOne(stray);
    QVERIFY(tcpConnectRefused(strayPort));
    QVERIFY(stop(broker));
}

void tst_SocketActivation::socketsForAnotherProcessAreLeftAlone()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("broker.sock"));
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("LISTEN_FDS"), QStringLiteral("1"));
    env.insert(QStringLiteral("LISTEN_PID"), QString::number(QCoreApplication::applicationPid())); // not the broker
    QProcess *broker = startBroker({}, {}, {QStringLiteral("--listen"), QStringLiteral("unix:") + path}, env);
    QVERIFY2(broker->waitForStarted(5000), qPrintable(broker->errorString()));
    QByteArray log;
    QTRY_VERIFY2_WITH_TIMEOUT((log += broker->readAll()).contains("listening on unix:"), log.constData(), 10000);
    QVERIFY2(log.contains("is another process") && log.contains("the passed sockets are not ours"), log.constData());
    QVERIFY2(!log.contains("with the socket systemd passed"), log.constData());
    RawPeer peer;
    QVERIFY(peer.connectUnix(path));
    QVERIFY(peer.registerAs("own-socket"));
    QVERIFY(stop(broker));
    QVERIFY(!QFile::exists(path)); // its own socket file, removed as always
}

QTEST_MAIN(tst_SocketActivation)
#include "tst_socketactivation.moc"

// PROTOCOL and KennelClient's send queue: a steady stream from one KennelClient to
// another through a broker that is restarted twice under "systemd" (the listening socket passed
// to each). A graceful restart (SIGTERM) loses nothing and duplicates nothing: what the stopping
// broker held or did not read is sent again to the next one, in order. A crash (SIGKILL) cannot
// say what it read: the sender is told which messages' fate is unknown, and none arrives twice.
void tst_SocketActivation::restartsUnderTheSocketUnitLoseNothing_data()
{
    QTest::addColumn<bool>("crash");
    QTest::newRow("graceful (SIGTERM)") << false;
    QTest::newRow("crash (SIGKILL)") << true;
}

void tst_SocketActivation::restartsUnderTheSocketUnitLoseNothing()
{
    QFETCH(bool, crash);
    constexpr int Total = 2000;
    constexpr int RestartAt[] = {700, 1400};
    constexpr int PerTick = 5; // every 10 ms: 500 messages a second, whatever the timer's slack

    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("broker.sock"));
    const int unixFd = listenUnix(path);
    QVERIFY(unixFd >= 0);
    m_fds << unixFd;
    // The receiver is expected back after a restart: what reaches the next broker before the
    // receiver registers there is held for it.
    const QString ini = dir.filePath(QStringLiteral("kennel.ini"));
    {
        QFile file(ini);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("[hold]\nnames = receiver\n");
    }
    const QStringList arguments{QStringLiteral("--listen"), QStringLiteral("unix:") + path, QStringLiteral("--config"), ini};
    QProcess *broker = startBroker({unixFd}, "kennel-broker", arguments);
    QVERIFY2(broker->waitForStarted(5000), qPrintable(broker->errorString()));

    auto makeClient = [&](const char *name) {
        auto *client = new KennelClient;
        client->setName(name);
        client->setBrokerAddress(BrokerAddress::unixSocket(path));
        client->setAutoReconnect(true);
        client->setReconnectBackoff(std::chrono::milliseconds(20), std::chrono::milliseconds(200));
        client->setSendQueueLimits(Total, 8 << 20);
        return client;
    };
    std::unique_ptr<KennelClient> receiver(makeClient("receiver"));
    std::unique_ptr<KennelClient> sender(makeClient("sender"));
    QList<int> received;
    connect(receiver.get(), &KennelClient::messageReceived, this,
            [&](const QByteArray &, const QByteArray &payload, quint32) { received.append(payload.toInt()); });
    QHash<quint32, DeliveryStatus> statuses;
    connect(sender.get(), &KennelClient::deliveryStatusReceived, this,
            [&](quint32 id, const QByteArray &, DeliveryStatus status) {
                if (status != DeliveryStatus::Held)
                    statuses.insert(id, status);
            });
    QHash<quint32, KennelClient::SendFailure> failed;
    connect(sender.get(), &KennelClient::sendFailed, this,
            [&](quint32 id, const QByteArray &, KennelClient::SendFailure why) { failed.insert(id, why); });
    receiver->connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(receiver->state(), KennelClient::Registered, 10000);
    sender->connectToBroker();
    QTRY_COMPARE_WITH_TIMEOUT(sender->state(), KennelClient::Registered, 10000);

    // 500 messages a second; the broker goes away at the marks and its successor is started as
    // soon as it is gone, as systemd's Restart= would.
    QList<quint32> ids;
    int restarts = 0;
    QTimer pace;
    pace.setInterval(10);
    connect(&pace, &QTimer::timeout, this, [&] {
        for (int i = 0; i < PerTick; ++i) {
            const int n = int(ids.size());
            if (n == Total) {
                pace.stop();
                return;
            }
            const quint32 id = sender->send("receiver", QByteArray::number(n));
            ids.append(id);
            if (!id)
                return;
            if (restarts < 2 && n == RestartAt[restarts]) {
                ++restarts;
                QProcess *old = broker;
                connect(old, &QProcess::finished, this, [&, arguments, unixFd] {
                    broker = startBroker({unixFd}, "kennel-broker", arguments);
                }, Qt::SingleShotConnection);
                crash ? old->kill() : old->terminate();
                return; // the next tick finds the link down, or not yet
            }
        }
    });
    pace.start();
    QTRY_VERIFY_WITH_TIMEOUT(!pace.isActive(), 60000);
    QCOMPARE(restarts, 2);
    QVERIFY(!ids.contains(0u));

    // Every message has arrived or been reported of unknown fate.
    auto settled = [&] {
        const QSet<int> got(received.cbegin(), received.cend());
        for (int n = 0; n < Total; ++n) {
            if (!got.contains(n) && failed.value(ids[n]) != KennelClient::SendOutcomeUnknown)
                return false;
        }
        return true;
    };
    QTRY_VERIFY_WITH_TIMEOUT(settled(), 30000);

    // Never twice, and in the order sent.
    for (qsizetype i = 1; i < received.size(); ++i)
        QVERIFY2(received[i] > received[i - 1], qPrintable(QStringLiteral("%1 after %2").arg(received[i]).arg(received[i - 1])));
    int unknown = 0, lost = 0, otherFailures = 0;
    const QSet<int> got(received.cbegin(), received.cend());
    for (int n = 0; n < Total; ++n) {
        const KennelClient::SendFailure why = failed.value(ids[n]);
        unknown += why == KennelClient::SendOutcomeUnknown;
        otherFailures += why != 0 && why != KennelClient::SendOutcomeUnknown;
        lost += !got.contains(n) && why != KennelClient::SendOutcomeUnknown;
    }
    int delivered = 0;
    for (DeliveryStatus status : std::as_const(statuses))
        delivered += status == DeliveryStatus::Delivered;
    qInfo("%s: %d sent, %lld received, %d delivered statuses, %d reported outcome unknown, %d lost unreported",
          crash ? "crash" : "graceful", Total, qlonglong(received.size()), delivered, unknown, lost);
    QCOMPARE(lost, 0);
    QCOMPARE(otherFailures, 0);
    if (!crash) {
        QCOMPARE(received.size(), qsizetype(Total));
        QCOMPARE(unknown, 0);
        QVERIFY(!statuses.values().contains(DeliveryStatus::ShuttingDown)); // sent again, not reported
    }
    sender.reset();
    receiver.reset();
    QVERIFY(stop(broker));
}
