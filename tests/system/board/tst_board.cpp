// What the old board ran, on the board's architecture: a kennel-broker process supervising an
// old-protocol C program (plain socket(), popen() in its loop, a forked reader; its frames are its
// compiler's struct), and a native client using the Qt client library. Messages go both ways;
// the old program stops feeding the watchdog, is terminated by its own PID and restarted. Under
// qemu-user (the armhf and arm64 cross builds, docs/BOARD.md) the broker starts the old program
// through the emulator, as the kernel of a board would start it directly.
#include "brokerprocess.h"
#include "testbroker.h"

#include "brokeraddress.h"
#include "kennelclient.h"

#include <QElapsedTimer>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTest>

using namespace Kennel;
using namespace KennelTest;

namespace {

quint16 freePort()
{
    QTcpServer probe;
    if (!probe.listen(QHostAddress::LocalHost, 0))
        return 0;
    return probe.serverPort();
}

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

// The service's program and arguments: the old client itself, or the emulator running it.
QString serviceCommand(const QStringList &clientArguments)
{
    QProcess how;
    setBuildProgram(how, QStringLiteral(KENNEL_OLD_CLIENT), clientArguments);
    return QStringLiteral("program = %1\narguments = %2\n").arg(how.program(), how.arguments().join(QStringLiteral(", ")));
}

} // namespace

class tst_Board : public QObject
{
    Q_OBJECT

private slots:
    void oldAndNativeClientsRouteAndTheWatchdogRestartsTheOldOne();
};

void tst_Board::oldAndNativeClientsRouteAndTheWatchdogRestartsTheOldOne()
{
    const quint16 port = freePort();
    QVERIFY(port);
    BrokerProcess broker;
    const QString unixPath = broker.directory() + QStringLiteral("/broker.sock");
    // Generous against a loaded machine and emulation: the client feeds every 100 ms against a
    // 2 x 500 ms allowance, and stops after 4 s.
    constexpr int IntervalMs = 500, Misses = 2, KillGraceMs = 1000;
    const QStringList clientArguments = {
        QStringLiteral("--name"), QStringLiteral("oldclient"),
        QStringLiteral("--recv"), QStringLiteral("unix:") + unixPath,
        QStringLiteral("--main"), QStringLiteral("127.0.0.1:%1").arg(port),
        QStringLiteral("--peer"), QStringLiteral("native"), QStringLiteral("--send-ms"), QStringLiteral("300"),
        QStringLiteral("--watch"), QStringLiteral("--feed-ms"), QStringLiteral("100"),
        QStringLiteral("--stop-feeding-after-ms"), QStringLiteral("4000"),
        QStringLiteral("--popen-ms"), QStringLiteral("500"), QStringLiteral("--fork-reader")};
    BrokerProcess::Options options;
    options.configText = QStringLiteral("[watchdog]\ndefault_interval_ms = %1\ndefault_allowed_misses = %2\n"
                                        "min_interval_ms = 50\nkill_grace_ms = %3\n\n"
                                        "[service.oldclient]\n%4restart = always\nrestart_delay_ms = 200\n")
                             .arg(IntervalMs).arg(Misses).arg(KillGraceMs).arg(serviceCommand(clientArguments))
                             .toUtf8();
    options.arguments = {QStringLiteral("--listen"), QStringLiteral("127.0.0.1:%1").arg(port)};
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));

    KennelClient native;
    native.setBrokerAddress(*BrokerAddress::parse(broker.unixAddress()));
    native.setName("native");
    QSignalSpy registered(&native, &KennelClient::registered);
    QSignalSpy messages(&native, &KennelClient::messageReceived);
    native.connectToBroker();
    QVERIFY(registered.wait(10000));

    const QString first = waitInLog(broker, QRegularExpression(QStringLiteral("oldclient: started, pid (\\d+)")), 15000);
    QVERIFY2(!first.isEmpty(), broker.log().right(3000).constData());
    QVERIFY2(!waitInLog(broker, QRegularExpression(QStringLiteral("legacy main connection 'oldclient'.*bound")), 15000).isEmpty(),
             broker.log().right(3000).constData());

    // Old -> native: the old struct's frame, decoded by the broker, delivered natively.
    QTRY_VERIFY_WITH_TIMEOUT(!messages.isEmpty(), 10000);
    QCOMPARE(messages.first().at(0).toByteArray(), QByteArray("oldclient"));
    QVERIFY(messages.first().at(1).toByteArray().startsWith("ping "));

    // Native -> old: encoded by the broker, read into the old struct by the forked reader.
    QVERIFY(native.send("oldclient", "hello-old"));
    QVERIFY2(!waitInLog(broker, QRegularExpression(QStringLiteral("oldclient: got native hello-old")), 10000).isEmpty(),
             broker.log().right(3000).constData());

    // It stops feeding: terminated by its own PID, restarted, registered again.
    const QString signalled = waitInLog(broker, QRegularExpression(QStringLiteral("'oldclient' pid (\\d+): term-sent")), 20000);
    QVERIFY2(signalled == first, qPrintable(QStringLiteral("signalled pid %1, first pid %2; log:\n%3")
                                                .arg(signalled, first, QString::fromUtf8(broker.log().right(4000)))));
    // ... because it stopped feeding, not because emulation made a feed late.
    const qsizetype stoppedAt = broker.log().indexOf("stops feeding");
    QVERIFY2(stoppedAt >= 0 && stoppedAt < broker.log().indexOf("term-sent"), broker.log().right(3000).constData());
    const QString second = waitInLog(broker, QRegularExpression(QStringLiteral("oldclient: started, pid (?!%1\\b)(\\d+)").arg(first)), 15000);
    QVERIFY2(!second.isEmpty(), broker.log().right(3000).constData());
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog("registered legacy receive connection 'oldclient'") >= 2, 15000);
    // The restarted one talks again.
    const qsizetype before = messages.size();
    QTRY_VERIFY_WITH_TIMEOUT(messages.size() > before, 10000);
    QCOMPARE(messages.last().at(0).toByteArray(), QByteArray("oldclient"));
    // Nobody else was signalled, and nothing needed SIGKILL.
    QCOMPARE(broker.countInLog(": term-sent:"), 1);
    QCOMPARE(broker.countInLog("kill-sent"), 0);

    native.disconnectFromBroker();
    const QString stopped = broker.stopVerdict(30000);
    QVERIFY2(stopped.isEmpty(), qPrintable(stopped));
}

QTEST_GUILESS_MAIN(tst_Board)
#include "tst_board.moc"
