// The broker and its tools as real processes: the old C programs through the broker, kennelctl,
// the configuration check, and the graceful stop on SIGTERM.
#include "testbroker.h"

#include <QProcess>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace Kennel;
using namespace KennelTest;

namespace {
// Starts `program` from this build and registers it for cleanup.
QProcess *startProgram(QObject *owner, const QString &program, const QStringList &arguments)
{
    auto *process = new QProcess(owner);
    process->setProgram(binaryPath(program));
    process->setArguments(arguments);
    process->start();
    return process;
}

int countLines(const QByteArray &output, const QByteArray &prefix)
{
    int n = 0;
    for (const QByteArray &line : output.split('\n'))
        if (line.startsWith(prefix))
            ++n;
    return n;
}

// Reads what a broker started with --print-listening prints until "ready", keeping its log;
// returns the TCP port.
quint16 waitForTcpPort(QProcess &broker, QByteArray *log)
{
    const QRegularExpression listening(QStringLiteral("^listening clients 127\\.0\\.0\\.1:(\\d+)$"),
                                       QRegularExpression::MultilineOption);
    QByteArray out;
    QDeadlineTimer deadline(10000);
    while (!deadline.hasExpired() && broker.state() != QProcess::NotRunning && !out.endsWith("ready\n")) {
        broker.waitForReadyRead(50);
        *log += broker.readAllStandardError();
        out += broker.readAllStandardOutput();
    }
    const auto match = listening.match(QString::fromLocal8Bit(out));
    return out.endsWith("ready\n") && match.hasMatch() ? quint16(match.captured(1).toUInt()) : 0;
}
} // namespace

class tst_BrokerProcess : public QObject
{
    Q_OBJECT

private slots:
    void cleanup();

    void legacyCProgramsExchangeMessages();
    void legacyCProgramAndNativeClientTalk();
    void kennelctlSendsAndListens();
    void kennelctlReportsNoRoute();
    void checkConfigNamesBadKeyAndValue();
    void sigtermStopsGracefully();

private:
    QList<QProcess *> m_processes;
    QProcess *start(const QString &program, const QStringList &arguments)
    {
        QProcess *p = startProgram(this, program, arguments);
        m_processes.append(p);
        return p;
    }
};

void tst_BrokerProcess::cleanup()
{
    // Stop only what this test started, by its handle.
    for (QProcess *p : std::as_const(m_processes)) {
        if (p->state() != QProcess::NotRunning) {
            p->kill();
            p->waitForFinished(5000);
        }
        delete p;
    }
    m_processes.clear();
}

void tst_BrokerProcess::legacyCProgramsExchangeMessages()
{
    TestBroker tb;
    QVERIFY(tb.start());
    const QString port = QString::number(tb.tcpPort());
    const QStringList common = {QStringLiteral("--host"), QStringLiteral("127.0.0.1"), QStringLiteral("--port"), port,
                                QStringLiteral("--send-interval-ms"), QStringLiteral("50"), QStringLiteral("--count"),
                                QStringLiteral("5"), QStringLiteral("--expect"), QStringLiteral("5")};
    QProcess *client1 = start(QStringLiteral("kennel-legacy-client"),
                              QStringList{QStringLiteral("--name"), QStringLiteral("client1"), QStringLiteral("--peer"),
                                          QStringLiteral("client2")} + common);
    QProcess *client2 = start(QStringLiteral("kennel-legacy-client"),
                              QStringList{QStringLiteral("--name"), QStringLiteral("client2"), QStringLiteral("--peer"),
                                          QStringLiteral("client1")} + common);
    QTRY_COMPARE_WITH_TIMEOUT(client1->state(), QProcess::NotRunning, 20000);
    QTRY_COMPARE_WITH_TIMEOUT(client2->state(), QProcess::NotRunning, 20000);
    const QByteArray out1 = client1->readAllStandardOutput();
    const QByteArray out2 = client2->readAllStandardOutput();
    QCOMPARE(client1->exitCode(), 0);
    QCOMPARE(client2->exitCode(), 0);
    QCOMPARE(countLines(out1, "received from client2: hello #"), 5);
    QCOMPARE(countLines(out2, "received from client1: hello #"), 5);
    QVERIFY(out1.contains("received from client2: hello #5 from client2"));
    QCOMPARE(tb.broker().totals().undeliveredTotal(), quint64(0));
}

void tst_BrokerProcess::legacyCProgramAndNativeClientTalk()
{
    TestBroker tb;
    QVERIFY(tb.start());
    RawPeer native;
    QVERIFY(native.connectUnix(tb.unixPath()));
    QVERIFY(native.registerAs("native"));
    QProcess *old = start(QStringLiteral("kennel-legacy-client"),
                          {QStringLiteral("--name"), QStringLiteral("oldie"), QStringLiteral("--peer"), QStringLiteral("native"),
                           QStringLiteral("--port"), QString::number(tb.tcpPort()), QStringLiteral("--send-interval-ms"),
                           QStringLiteral("50"), QStringLiteral("--count"), QStringLiteral("3"), QStringLiteral("--expect"),
                           QStringLiteral("1")});
    for (int i = 1; i <= 3; ++i) {
        auto delivered = native.take(FrameType::Deliver, 10000);
        QVERIFY(delivered);
        QCOMPARE(delivered->source, QByteArray("oldie"));
        QVERIFY(delivered->payload.startsWith(QByteArray("hello #" + QByteArray::number(i) + " from oldie")));
    }
    native.sendTo("oldie", "greetings from the native side", 1);
    auto status = native.take(FrameType::DeliveryStatus);
    QVERIFY(status);
    QCOMPARE(decodeDeliveryStatus(status->payload), std::optional(DeliveryStatus::Delivered));
    QTRY_COMPARE_WITH_TIMEOUT(old->state(), QProcess::NotRunning, 20000);
    QCOMPARE(old->exitCode(), 0);
    QVERIFY(old->readAllStandardOutput().contains("received from native: greetings from the native side"));
}

void tst_BrokerProcess::kennelctlSendsAndListens()
{
    TestBroker tb;
    QVERIFY(tb.start());
    QProcess *listener = start(QStringLiteral("kennelctl"), {QStringLiteral("listen"), QStringLiteral("inbox"),
                                                             QStringLiteral("--broker"), tb.unixAddress(),
                                                             QStringLiteral("--count"), QStringLiteral("2")});
    QTRY_VERIFY_WITH_TIMEOUT(tb.broker().sessionByName("inbox"), 10000);
    for (const QString &text : {QStringLiteral("first line"), QStringLiteral("second line")}) {
        QProcess *sender = start(QStringLiteral("kennelctl"), {QStringLiteral("send"), QStringLiteral("inbox"), text,
                                                               QStringLiteral("--broker"), tb.tcpAddress(),
                                                               QStringLiteral("--as"), QStringLiteral("shell")});
        QTRY_COMPARE_WITH_TIMEOUT(sender->state(), QProcess::NotRunning, 10000);
        QCOMPARE(sender->exitCode(), 0);
    }
    QTRY_COMPARE_WITH_TIMEOUT(listener->state(), QProcess::NotRunning, 10000);
    QCOMPARE(listener->exitCode(), 0);
    const QByteArray out = listener->readAllStandardOutput();
    QCOMPARE(out, QByteArray("shell: first line\nshell: second line\n"));
}

void tst_BrokerProcess::kennelctlReportsNoRoute()
{
    TestBroker tb;
    QVERIFY(tb.start());
    QProcess *sender = start(QStringLiteral("kennelctl"), {QStringLiteral("send"), QStringLiteral("nobody"), QStringLiteral("hi"),
                                                           QStringLiteral("--broker"), tb.tcpAddress()});
    QTRY_COMPARE_WITH_TIMEOUT(sender->state(), QProcess::NotRunning, 10000);
    QCOMPARE(sender->exitCode(), 10 + int(DeliveryStatus::NoSuchClient));
}

void tst_BrokerProcess::checkConfigNamesBadKeyAndValue()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("bad.ini"));
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("[limits]\nmax_clients = lots\n");
    file.close();
    QProcess *check = start(QStringLiteral("kennel-broker"), {QStringLiteral("--config"), path, QStringLiteral("--check-config")});
    QVERIFY(check->waitForFinished(10000));
    QCOMPARE(check->exitCode(), 1);
    const QString err = QString::fromLocal8Bit(check->readAllStandardError());
    QVERIFY2(err.contains(QStringLiteral("max_clients")) && err.contains(QStringLiteral("lots")), qPrintable(err));

    const QString good = dir.filePath(QStringLiteral("good.ini"));
    QFile goodFile(good);
    QVERIFY(goodFile.open(QIODevice::WriteOnly));
    goodFile.write("[limits]\nmax_clients = 10\n");
    goodFile.close();
    QProcess *ok = start(QStringLiteral("kennel-broker"), {QStringLiteral("--config"), good, QStringLiteral("--check-config")});
    QVERIFY(ok->waitForFinished(10000));
    QCOMPARE(ok->exitCode(), 0);
}

void tst_BrokerProcess::sigtermStopsGracefully()
{
    QTemporaryDir dir;
    const QString socketPath = dir.filePath(QStringLiteral("k.sock"));
    QProcess *broker = start(QStringLiteral("kennel-broker"), {QStringLiteral("--listen"), QStringLiteral("127.0.0.1:0"),
                                                              QStringLiteral("--listen"), QStringLiteral("unix:") + socketPath,
                                                              QStringLiteral("--print-listening")});
    QByteArray log;
    const quint16 port = waitForTcpPort(*broker, &log);
    QVERIFY2(port, log.constData());
    RawPeer a, b;
    QVERIFY(a.connectTcp(port));
    QVERIFY(b.connectUnix(socketPath));
    QVERIFY(a.registerAs("a"));
    QVERIFY(b.registerAs("b"));
    a.sendTo("b", "before the stop", 1);
    QVERIFY(b.take(FrameType::Deliver));

    broker->terminate(); // SIGTERM
    QVERIFY(a.take(FrameType::Bye));
    QVERIFY(b.take(FrameType::Bye));
    QVERIFY(a.waitForDisconnect());
    QTRY_COMPARE_WITH_TIMEOUT(broker->state(), QProcess::NotRunning, 10000);
    QCOMPARE(broker->exitStatus(), QProcess::NormalExit);
    QCOMPARE(broker->exitCode(), 0);
    log += broker->readAllStandardError();
    QVERIFY2(log.contains("stopped"), log.constData());
    QVERIFY(!QFile::exists(socketPath));
}

QTEST_GUILESS_MAIN(tst_BrokerProcess)
#include "tst_brokerprocess.moc"
