// kill -9 of the real broker mid-traffic, then a restart on the same TCP port and Unix socket, three
// times ("kill -9 of the broker mid-traffic, restart"). A crash is the one fault the broker
// cannot handle itself, so what is proven here is what the rest of the system sees:
// - clients of the client library (in-process, with autoReconnect; and kennel-demo-client child
//   processes) reconnect, register again and resume, messages flowing in order again;
// - nothing is lost silently: every message the sender tried is accounted for as refused by
//   send() (it returns 0 while disconnected), received, reported undelivered by a DeliveryStatus,
//   or — only for the few in flight at the moment of the kill — lost with the broker;
// - nothing on disk is left corrupt: the stale Unix socket file is replaced without manual
//   cleanup, the config file and the monitor token file are byte for byte what they were, and the
//   restarted broker still admits a monitor with that token;
// - the restarted broker is correct: a canary pair runs over it at the end and must be healthy.
#include "brokerprocess.h"
#include "canary.h"
#include "kennelclient.h"
#include "testbroker.h"

#include <QCryptographicHash>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QSet>
#include <QTest>
#include <QTimer>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include <tuple>
#include <vector>

using Kennel::BrokerAddress;
using Kennel::KennelClient;

using namespace KennelTest;

namespace {
constexpr int Kills = 3;
constexpr int SendIntervalMs = 10;
// At one message per 10 ms over loopback, at most a message or two is ever in flight; the kill can
// take those, plus what the sender wrote before it saw its connection end. More is a real loss.
constexpr int MaxLostPerKill = 10;
// The broker stays dead until this many sends were refused (about 200 ms at one per 10 ms).
constexpr int RefusedSendsPerOutage = 20;
const QByteArray MonitorToken = "0123456789abcdef0123456789abcdef";

QByteArray fileDigest(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return QByteArray("unreadable");
    QCryptographicHash hash(QCryptographicHash::Sha256);
    hash.addData(&file);
    return hash.result().toHex();
}

// Every regular file in the broker's folder (its config, the token file) with its digest and
// mode; the socket is not a regular file and is checked on its own.
QMap<QString, QByteArray> diskState(const QString &folder)
{
    QMap<QString, QByteArray> state;
    const QDir dir(folder);
    for (const QString &name : dir.entryList(QDir::AllEntries | QDir::System | QDir::Hidden | QDir::NoDotAndDotDot)) {
        const QString path = dir.filePath(name);
        struct stat st{};
        if (::stat(QFile::encodeName(path).constData(), &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        state.insert(name, fileDigest(path) + " mode " + QByteArray::number(st.st_mode & 07777, 8));
    }
    return state;
}

// What is at the socket path: nothing, a file nobody answers on (what a crash leaves), or a
// listening socket. (Inode numbers cannot tell an old socket file from a new one: tmpfs reuses them.)
enum class SocketFile { Missing, NotASocket, Stale, Live };

SocketFile socketFile(const QString &path)
{
    struct stat st{};
    if (::lstat(QFile::encodeName(path).constData(), &st) != 0)
        return SocketFile::Missing;
    if (!S_ISSOCK(st.st_mode))
        return SocketFile::NotASocket;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const QByteArray encoded = QFile::encodeName(path);
    if (encoded.size() >= qsizetype(sizeof address.sun_path))
        return SocketFile::NotASocket;
    std::memcpy(address.sun_path, encoded.constData(), size_t(encoded.size()));
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return SocketFile::NotASocket;
    // A listening socket accepts at once into its backlog; a stale file refuses.
    const bool live = ::connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0;
    ::close(fd);
    return live ? SocketFile::Live : SocketFile::Stale;
}

// One message of the in-process pair, by sequence number.
struct Message
{
    bool accepted = false;     // send() returned an id
    bool received = false;
    int status = -1;           // DeliveryStatus, -1 while none came
};

// A sender and a receiver of the client library, both reconnecting by themselves; the sender
// sends a numbered message every SendIntervalMs whatever its state, and every outcome is kept.
struct Pair
{
    KennelClient tx;
    KennelClient rx;
    QTimer timer;
    std::vector<Message> messages{1}; // index = sequence number, 0 unused
    QHash<quint32, quint64> seqById;
    quint64 lastReceived = 0;
    QString orderError;              // the first message out of order, duplicated or foreign
    int acceptedWhileUnregistered = 0;
    int txRegistrations = 0;
    int rxRegistrations = 0;
    int refused = 0;                 // send() returned 0
    int received = 0;

    quint64 lastSeq() const { return messages.size() - 1; }

    void setUp(const QString &txAddress, const QString &rxAddress)
    {
        auto configure = [](KennelClient &client, const QString &address, const QByteArray &name) {
            client.setBrokerAddress(*BrokerAddress::parse(address));
            client.setName(name);
            client.setAutoReconnect(true);
            client.setReconnectBackoff(std::chrono::milliseconds(50), std::chrono::milliseconds(400));
            client.setConnectTimeout(std::chrono::milliseconds(3000));
        };
        configure(tx, txAddress, "crash-tx");
        configure(rx, rxAddress, "crash-rx");
        QObject::connect(&tx, &KennelClient::registered, &tx, [this] { ++txRegistrations; });
        QObject::connect(&rx, &KennelClient::registered, &rx, [this] { ++rxRegistrations; });
        QObject::connect(&rx, &KennelClient::messageReceived, &rx,
                         [this](const QByteArray &source, const QByteArray &payload, quint32) {
                             onReceived(source, payload);
                         });
        QObject::connect(&tx, &KennelClient::deliveryStatusReceived, &tx,
                         [this](quint32 id, const QByteArray &, Kennel::DeliveryStatus status) {
                             const quint64 seq = seqById.value(id);
                             if (seq && messages[seq].status < 0)
                                 messages[seq].status = int(status);
                         });
        timer.setInterval(SendIntervalMs);
        QObject::connect(&timer, &QTimer::timeout, &tx, [this] { sendOne(); });
    }

    void sendOne()
    {
        const quint64 seq = messages.size();
        messages.push_back({});
        const bool wasRegistered = tx.state() == KennelClient::Registered;
        const quint32 id = tx.send("crash-rx", "seq:" + QByteArray::number(seq), true);
        if (id == 0) {
            ++refused;
            return;
        }
        if (!wasRegistered)
            ++acceptedWhileUnregistered;
        messages[seq].accepted = true;
        seqById.insert(id, seq);
    }

    void onReceived(const QByteArray &source, const QByteArray &payload)
    {
        bool ok = false;
        const quint64 seq = payload.startsWith("seq:") ? payload.mid(4).toULongLong(&ok) : 0;
        if (orderError.isEmpty()) {
            if (source != "crash-tx" || !ok || seq >= messages.size())
                orderError = QStringLiteral("foreign message from %1: %2").arg(QString::fromLatin1(source), QString::fromLatin1(payload));
            else if (!messages[seq].accepted)
                orderError = QStringLiteral("message %1 arrived though send() refused it").arg(seq);
            else if (seq <= lastReceived)
                orderError = QStringLiteral("message %1 arrived after %2").arg(seq).arg(lastReceived);
        }
        if (ok && seq < messages.size()) {
            messages[seq].received = true;
            lastReceived = std::max(lastReceived, seq);
        }
        ++received;
    }
};

// A kennel-demo-client child: its stdout gathered from the event loop, never by blocking.
struct DemoClient
{
    QProcess process;
    QByteArray out;

    void start(const QString &name, const QString &peer, const QString &broker)
    {
        QObject::connect(&process, &QProcess::readyReadStandardOutput, &process,
                         [this] { out += process.readAllStandardOutput(); });
        process.setProgram(binaryPath(QStringLiteral("kennel-demo-client")));
        process.setArguments({QStringLiteral("--name"), name, QStringLiteral("--peer"), peer, QStringLiteral("--broker"),
                              broker, QStringLiteral("--interval-ms"), QStringLiteral("50")});
        process.start();
    }
    ~DemoClient()
    {
        if (process.state() != QProcess::NotRunning) {
            process.kill(); // this child only, by its handle
            process.waitForFinished(5000);
        }
    }
    int count(const QByteArray &needle) const { return int(out.count(needle)); }
    // The numbers N of "received from PEER: hello #N" lines, in arrival order.
    QList<int> receivedNumbers(const QByteArray &peer) const
    {
        QList<int> numbers;
        const QByteArray prefix = "received from " + peer + ": hello #";
        for (const QByteArray &line : out.split('\n'))
            if (line.startsWith(prefix))
                numbers.append(line.mid(prefix.size()).split(' ').value(0).toInt());
        return numbers;
    }
    QList<int> sentNumbers() const
    {
        QList<int> numbers;
        for (const QByteArray &line : out.split('\n'))
            if (line.startsWith("sent #"))
                numbers.append(line.mid(6).split(' ').value(0).toInt());
        return numbers;
    }
};
} // namespace

class tst_BrokerCrash : public QObject
{
    Q_OBJECT

private slots:
    void killAndRestartThreeTimes();
};

void tst_BrokerCrash::killAndRestartThreeTimes()
{
    BrokerProcess broker;
    // The token file: what a crash must not damage, and what the new broker must read again.
    const QString tokenPath = QDir(broker.directory()).filePath(QStringLiteral("monitor.token"));
    {
        QFile token(tokenPath);
        QVERIFY(token.open(QIODevice::WriteOnly));
        QVERIFY(token.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner));
        token.write(MonitorToken + '\n');
    }
    BrokerProcess::Options options;
    options.configText = "[limits]\nmax_clients = 64\n\n[monitor]\ntoken_file = " + QFile::encodeName(tokenPath) + "\n";
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    const quint16 port = broker.tcpPort();
    const QString unixPath = broker.unixPath();
    const QMap<QString, QByteArray> diskBefore = diskState(broker.directory());
    QVERIFY2(diskBefore.contains(QStringLiteral("monitor.token")) && diskBefore.size() >= 2,
             qPrintable(QStringList(diskBefore.keys()).join(QLatin1Char(' '))));
    QVERIFY(socketFile(unixPath) == SocketFile::Live);

    // The sender over TCP, the receiver over the Unix socket: both addresses must come back.
    Pair pair;
    pair.setUp(broker.tcpAddress(), broker.unixAddress());
    pair.rx.connectToBroker();
    pair.tx.connectToBroker();
    QTRY_VERIFY2_WITH_TIMEOUT(pair.rx.state() == KennelClient::Registered && pair.tx.state() == KennelClient::Registered,
                              broker.log().right(3000).constData(), 10000);

    DemoClient demoA;
    DemoClient demoB;
    demoA.start(QStringLiteral("demo-a"), QStringLiteral("demo-b"), broker.tcpAddress());
    demoB.start(QStringLiteral("demo-b"), QStringLiteral("demo-a"), broker.unixAddress());
    QTRY_VERIFY_WITH_TIMEOUT(demoA.count("received from demo-b") >= 3 && demoB.count("received from demo-a") >= 3, 15000);

    pair.timer.start();
    QTRY_VERIFY_WITH_TIMEOUT(pair.received >= 50, 10000);

    struct KillRecord
    {
        quint64 seqAtKill = 0;
        quint64 seqAtRestart = 0;
        int refusedDuringOutage = 0;
        int receivedAfterRestart = 0;
        qint64 restartMs = 0;
        qint64 resumeMs = 0;
    };
    std::vector<KillRecord> kills;
    for (int k = 1; k <= Kills; ++k) {
        KillRecord record;
        record.seqAtKill = pair.lastSeq();
        const int refusedBefore = pair.refused;
        broker.kill9();
        QVERIFY(!broker.isRunning());
        QCOMPARE(broker.exitStatus(), QProcess::CrashExit);
        // SIGKILL gives the broker no chance to clean up: the socket file is stale now.
        QVERIFY2(socketFile(unixPath) == SocketFile::Stale, "the killed broker's socket file should still be there, dead");
        QTRY_VERIFY_WITH_TIMEOUT(pair.tx.state() != KennelClient::Registered && pair.rx.state() != KennelClient::Registered, 5000);
        // While nobody listens, the library refuses every send (returns 0) instead of losing it quietly.
        const int refusedAtDown = pair.refused;
        QTRY_VERIFY_WITH_TIMEOUT(pair.refused - refusedAtDown >= RefusedSendsPerOutage, 10000);
        record.refusedDuringOutage = pair.refused - refusedBefore;

        QElapsedTimer clock;
        clock.start();
        QVERIFY2(broker.restart(&error), qPrintable(QStringLiteral("restart %1: %2").arg(k).arg(error)));
        record.restartMs = clock.elapsed();
        QCOMPARE(broker.tcpPort(), port);
        QVERIFY2(socketFile(unixPath) == SocketFile::Live, "the stale socket file should have been replaced by the new broker's");
        QVERIFY2(!broker.log().contains("already listening"), broker.log().constData());

        QTRY_VERIFY_WITH_TIMEOUT(pair.txRegistrations == k + 1 && pair.rxRegistrations == k + 1, 10000);
        record.seqAtRestart = pair.lastSeq();
        const int receivedAtRestart = pair.received;
        // Messages flow again, in order, to the same names.
        QTRY_VERIFY_WITH_TIMEOUT(pair.received - receivedAtRestart >= 50 && pair.lastReceived > record.seqAtRestart, 15000);
        record.receivedAfterRestart = pair.received - receivedAtRestart;
        record.resumeMs = clock.elapsed();
        QVERIFY2(pair.orderError.isEmpty(), qPrintable(pair.orderError));

        QTRY_VERIFY_WITH_TIMEOUT(demoA.count("registered as demo-a") == k + 1 && demoB.count("registered as demo-b") == k + 1, 15000);
        const int demoAReceived = demoA.count("received from demo-b");
        const int demoBReceived = demoB.count("received from demo-a");
        QTRY_VERIFY_WITH_TIMEOUT(demoA.count("received from demo-b") >= demoAReceived + 3
                                     && demoB.count("received from demo-a") >= demoBReceived + 3, 15000);

        const QMap<QString, QByteArray> diskAfter = diskState(broker.directory());
        QCOMPARE(diskAfter, diskBefore);
        kills.push_back(record);
    }

    // Drain: stop sending, then every accepted message must end received or with a status — but
    // those lost with a killed broker, which can have neither.
    pair.timer.stop();
    const quint64 seqAtStop = pair.lastSeq();
    auto settled = [&] {
        for (quint64 seq = kills.back().seqAtRestart + 1; seq <= seqAtStop; ++seq) {
            const Message &m = pair.messages[seq];
            if (m.accepted && (m.status < 0 || (m.status == int(Kennel::DeliveryStatus::Delivered) && !m.received)))
                return false;
        }
        return true;
    };
    QTRY_VERIFY_WITH_TIMEOUT(settled(), 10000);
    QVERIFY2(pair.orderError.isEmpty(), qPrintable(pair.orderError));
    QCOMPARE(pair.acceptedWhileUnregistered, 0);

    int accepted = 0;
    int received = 0;
    int reportedUndelivered = 0;
    std::vector<int> lostPerKill(kills.size(), 0);
    QStringList unexplained;
    for (quint64 seq = 1; seq <= seqAtStop; ++seq) {
        const Message &m = pair.messages[seq];
        if (!m.accepted)
            continue;
        ++accepted;
        if (m.received) {
            ++received;
            if (m.status >= 0 && m.status != int(Kennel::DeliveryStatus::Delivered))
                unexplained << QStringLiteral("%1 received but reported %2").arg(seq).arg(m.status);
            continue;
        }
        if (m.status > 0) { // reported: e.g. no_such_client while the receiver was still reconnecting
            ++reportedUndelivered;
            continue;
        }
        // Neither received nor reported undelivered: only a message in flight at a kill may be.
        bool explained = false;
        for (size_t k = 0; k < kills.size(); ++k) {
            if (seq + MaxLostPerKill > kills[k].seqAtKill && seq <= kills[k].seqAtRestart) {
                ++lostPerKill[k];
                explained = true;
                break;
            }
        }
        if (!explained)
            unexplained << QStringLiteral("%1 lost (status %2) away from any kill").arg(seq).arg(m.status);
    }
    const int refused = pair.refused;
    QCOMPARE(quint64(accepted + refused), seqAtStop);
    QVERIFY2(unexplained.isEmpty(), qPrintable(unexplained.mid(0, 10).join(QLatin1String("; "))));
    for (size_t k = 0; k < kills.size(); ++k) {
        const KillRecord &r = kills[k];
        qInfo("kill %d: seq at kill %llu, refused while down %d, broker restarted in %lld ms, resumed after %lld ms, "
              "lost with the broker %d",
              int(k + 1), r.seqAtKill, r.refusedDuringOutage, r.restartMs, r.resumeMs, lostPerKill[k]);
        QVERIFY2(lostPerKill[k] <= MaxLostPerKill, qPrintable(QStringLiteral("kill %1 lost %2 messages silently").arg(k + 1).arg(lostPerKill[k])));
        QVERIFY(r.refusedDuringOutage > 0);
    }
    qInfo("in-process pair: %llu sends: %d refused by send() while disconnected, %d accepted: %d received in order, "
          "%d reported undelivered by a DeliveryStatus, %d lost with a killed broker",
          seqAtStop, refused, accepted, received, reportedUndelivered, accepted - received - reportedUndelivered);

    // The demo clients: each registered once per broker, received in order, lost only around kills.
    for (auto [receiver, sender, peer] : {std::tuple{&demoA, &demoB, QByteArray("demo-b")}, std::tuple{&demoB, &demoA, QByteArray("demo-a")}}) {
        const QList<int> got = receiver->receivedNumbers(peer);
        const QList<int> sent = sender->sentNumbers();
        for (qsizetype i = 1; i < got.size(); ++i)
            QVERIFY2(got[i] > got[i - 1], qPrintable(QStringLiteral("%1 received #%2 after #%3").arg(QString::fromLatin1(peer)).arg(got[i]).arg(got[i - 1])));
        const QSet<int> sentSet(sent.begin(), sent.end());
        for (int n : got)
            QVERIFY2(sentSet.contains(n), qPrintable(QStringLiteral("#%1 from %2 received but never sent").arg(n).arg(QString::fromLatin1(peer))));
        // Up to the last number received, what was sent and never arrived: reported by the sender
        // ("not delivered", e.g. the peer not yet back) or in flight at one of the kills.
        const int lastGot = got.isEmpty() ? 0 : got.last();
        int missing = 0;
        const QSet<int> gotSet(got.begin(), got.end());
        for (int n : sent)
            missing += n <= lastGot && !gotSet.contains(n);
        const int reported = sender->count("not delivered");
        qInfo("%s -> peer: %d sent, %d received in order, %d missing, %d reported not delivered",
              peer.constData(), int(sent.size()), int(got.size()), missing, reported);
        QVERIFY2(missing <= reported + Kills * 3, qPrintable(QStringLiteral("%1 messages from %2 missing, %3 reported").arg(missing).arg(QString::fromLatin1(peer)).arg(reported)));
    }

    // The token file still admits a monitor: the restarted broker read it, whole.
    QProcess sink;
    sink.setProgram(binaryPath(QStringLiteral("kennel-monitorsink")));
    sink.setArguments({QStringLiteral("--broker"), broker.tcpAddress(), QStringLiteral("--token"), QString::fromLatin1(MonitorToken),
                       QStringLiteral("--seconds"), QStringLiteral("0.5")});
    sink.start();
    QTRY_COMPARE_WITH_TIMEOUT(sink.state(), QProcess::NotRunning, 15000);
    const QByteArray sinkOut = sink.readAllStandardOutput();
    QVERIFY2(sinkOut.contains("welcomed=1"), QByteArray(sinkOut + sink.readAllStandardError()).constData());

    // And the restarted broker routes correctly for everyone else: a canary over it is healthy.
    Canary canary;
    Canary::Options canaryOptions;
    canaryOptions.brokerAddress = broker.unixAddress();
    QVERIFY2(canary.start(canaryOptions), qPrintable(canary.verdict()));
    const quint64 canaryTarget = 100;
    QTRY_VERIFY_WITH_TIMEOUT(canary.received() >= canaryTarget || (canary.sent() > 0 && !canary.healthy()), 20000);
    canary.stop();
    QVERIFY2(canary.healthy(), qPrintable(canary.verdict()));
    QVERIFY(broker.isRunning());
    QCOMPARE(diskState(broker.directory()), diskBefore);
}

QTEST_MAIN(tst_BrokerCrash)
#include "tst_brokercrash.moc"
