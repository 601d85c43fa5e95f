// What the old board ran: a kennel-broker process, an old-protocol C program (plain socket(),
// popen() in its loop, a forked reader; its frames are its compiler's struct) and a native client
// using the Qt client library. Messages go both ways; the old program stops feeding the watchdog
// and the broker terminates it by its own PID. Over TCP, as the old programs connect
// (docs/LEGACY-PROTOCOL.md), and over the Unix socket.
//
// In the cross builds every one of these programs runs under qemu-user (KENNEL_TEST_EMULATOR), the
// broker too, and qemu-user has no NETLINK_SOCK_DIAG: socket(AF_NETLINK, ..., NETLINK_SOCK_DIAG)
// fails with EPROTONOSUPPORT in the emulated broker. Over TCP the broker then finds the peer
// socket in /proc/net/tcp (its fallback for kernels without inet_diag), so the whole scenario
// runs; over Unix there is no such fallback (unix_diag is the only way to the peer socket) and the
// broker fails closed, as on a kernel without CONFIG_UNIX_DIAG: the old program's main connection
// is refused with that reason and nobody is signalled. Under emulation the Unix row checks that
// refusal instead (docs/BOARD.md, "What qemu-user cannot do").
#include "brokerprocess.h"
#include "testbroker.h"

#include "brokeraddress.h"
#include "kennelclient.h"

#include <QProcess>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTest>

#include <cerrno>
#include <csignal>
#include <cstring>

using namespace Kennel;
using namespace KennelTest;

namespace {

// The first capture of `re` in the broker's log, waiting up to `timeoutMs`; empty if none came.
QString waitInLog(const BrokerProcess &broker, const QRegularExpression &re, int timeoutMs)
{
    QString found;
    (void)QTest::qWaitFor([&] {
        const auto m = re.match(QString::fromLocal8Bit(broker.log()));
        if (m.hasMatch())
            found = m.captured(m.lastCapturedIndex() >= 1 ? 1 : 0);
        return !found.isEmpty();
    }, timeoutMs);
    return found;
}

bool underEmulation()
{
    return !qEnvironmentVariableIsEmpty("KENNEL_TEST_EMULATOR");
}

} // namespace

class tst_Board : public QObject
{
    Q_OBJECT

private slots:
    void oldAndNativeClientsRouteAndTheWatchdogEndsTheOldOne_data();
    void oldAndNativeClientsRouteAndTheWatchdogEndsTheOldOne();
};

void tst_Board::oldAndNativeClientsRouteAndTheWatchdogEndsTheOldOne_data()
{
    QTest::addColumn<bool>("tcp");
    QTest::newRow("tcp") << true;
    QTest::newRow("unix") << false;
}

void tst_Board::oldAndNativeClientsRouteAndTheWatchdogEndsTheOldOne()
{
    QFETCH(bool, tcp);
    BrokerProcess broker;
    // Generous against a loaded machine and emulation: the client feeds every 100 ms against a
    // 2 x 500 ms allowance, and stops after 4 s.
    constexpr int IntervalMs = 500, Misses = 2, KillGraceMs = 2000;
    BrokerProcess::Options options;
    options.configText = QStringLiteral("[watchdog]\ndefault_interval_ms = %1\ndefault_allowed_misses = %2\n"
                                        "min_interval_ms = 50\nkill_grace_ms = %3\n")
                             .arg(IntervalMs).arg(Misses).arg(KillGraceMs).toUtf8();
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));

    KennelClient native;
    native.setBrokerAddress(*BrokerAddress::parse(broker.unixAddress()));
    native.setName("native");
    QSignalSpy registered(&native, &KennelClient::registered);
    QSignalSpy messages(&native, &KennelClient::messageReceived);
    native.connectToBroker();
    QVERIFY(registered.wait(10000));

    // The old program: both its connections on one transport, popen() in its loop and a forked
    // reader.
    const QString address = tcp ? broker.tcpAddress() : broker.unixAddress();
    QProcess old;
    setBuildProgram(old, QStringLiteral(KENNEL_OLD_CLIENT),
                    {QStringLiteral("--name"), QStringLiteral("oldclient"),
                     QStringLiteral("--recv"), address,
                     QStringLiteral("--main"), address,
                     QStringLiteral("--peer"), QStringLiteral("native"), QStringLiteral("--send-ms"), QStringLiteral("300"),
                     QStringLiteral("--watch"), QStringLiteral("--feed-ms"), QStringLiteral("100"),
                     QStringLiteral("--stop-feeding-after-ms"), QStringLiteral("4000"),
                     QStringLiteral("--popen-ms"), QStringLiteral("500"), QStringLiteral("--fork-reader")});
    old.start();
    QVERIFY2(old.waitForStarted(10000), qPrintable(old.errorString()));
    const QString pid = QString::number(old.processId());
    QByteArray out;
    const auto readOut = [&] { out += old.readAllStandardOutput(); return out; };
    QTRY_VERIFY_WITH_TIMEOUT(readOut().contains("registered"), 15000);
    if (!tcp && underEmulation()) {
        // The emulated broker cannot reach unix_diag: it refuses to let the main connection act
        // for the name the receive connection holds, says why, and signals nobody. The old
        // program's next write fails and it exits by itself.
        const QString refusal = waitInLog(broker, QRegularExpression(QStringLiteral(
            "'oldclient' refused: a main connection may only act for its own process, and the process holding it "
            "cannot be identified \\(unix peer \\(connected by pid (\\d+)\\): no sock_diag netlink socket: ")), 15000);
        QVERIFY2(refusal == pid, broker.log().right(3000).constData());
        QVERIFY2(broker.log().contains(QByteArray(QByteArray("no sock_diag netlink socket: ") + std::strerror(EPROTONOSUPPORT))),
                 broker.log().right(3000).constData());
        QTRY_COMPARE_WITH_TIMEOUT(old.state(), QProcess::NotRunning, 10000);
        QCOMPARE(old.exitStatus(), QProcess::NormalExit);
        QCOMPARE(old.exitCode(), 1);
        QCOMPARE(broker.countInLog("term-sent"), 0);
        QCOMPARE(broker.countInLog("kill-sent"), 0);
        QCOMPARE(native.state(), KennelClient::Registered);
        native.disconnectFromBroker();
        const QString stopped = broker.stopVerdict(30000);
        QVERIFY2(stopped.isEmpty(), qPrintable(stopped));
        return;
    }
    QVERIFY2(!waitInLog(broker, QRegularExpression(QStringLiteral("legacy main connection 'oldclient'.*bound")), 15000).isEmpty(),
             broker.log().right(3000).constData());

    // Old -> native: the old struct's frame, decoded by the broker, delivered natively.
    QTRY_VERIFY_WITH_TIMEOUT(!messages.isEmpty(), 10000);
    QCOMPARE(messages.first().at(0).toByteArray(), QByteArray("oldclient"));
    QVERIFY(messages.first().at(1).toByteArray().startsWith("ping "));

    // Native -> old: encoded by the broker, read into the old struct by the forked reader.
    QVERIFY(native.send("oldclient", "hello-old"));
    QTRY_VERIFY_WITH_TIMEOUT(readOut().contains("got native hello-old"), 10000);

    // It stops feeding: the broker terminates it by its own PID (the emulated program's, under
    // qemu-user: the process the kernel reports for its sockets).
    const QString signalled = waitInLog(broker, QRegularExpression(QStringLiteral("'oldclient' pid (\\d+): term-sent")), 20000);
    QVERIFY2(signalled == pid, qPrintable(QStringLiteral("signalled pid %1, client pid %2; log:\n%3")
                                              .arg(signalled, pid, QString::fromUtf8(broker.log().right(4000)))));
    // ... because it stopped feeding, not because emulation made a feed late.
    QVERIFY2(readOut().contains("stops feeding"), out.constData());
    QTRY_COMPARE_WITH_TIMEOUT(old.state(), QProcess::NotRunning, 10000);
    QCOMPARE(old.exitStatus(), QProcess::CrashExit);
    QCOMPARE(old.exitCode(), int(SIGTERM));
    // Nobody else was signalled, and nothing needed SIGKILL.
    QCOMPARE(broker.countInLog(": term-sent:"), 1);
    QCOMPARE(broker.countInLog("kill-sent"), 0);
    // The native client is untouched and the name is free again.
    QCOMPARE(native.state(), KennelClient::Registered);

    native.disconnectFromBroker();
    const QString stopped = broker.stopVerdict(30000);
    QVERIFY2(stopped.isEmpty(), qPrintable(stopped));
}

QTEST_GUILESS_MAIN(tst_Board)
#include "tst_board.moc"
