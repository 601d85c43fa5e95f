// The per-service output ring end to end: kennel-broker supervises shell programs that print a
// known number of lines; the tail is read back through the monitor stream (PROTOCOL §6.5) and
// through `kennelctl logs`, at the ring's line and byte bounds, with what fell off counted.
#include "brokerprocess.h"
#include "framecodec.h"
#include "monitorcodec.h"

#include <QHostAddress>
#include <QProcess>
#include <QTcpSocket>
#include <QTest>

#include <csignal>
#include <optional>

using namespace Kennel;
using namespace KennelTest;

namespace {

const QByteArray Token = QByteArrayLiteral("output-test-token-0123456789abc");

const QByteArray Config = "[monitor]\ntoken = " + Token + "\n"
    "[supervisor]\noutput_lines = 40\n"
    // 50 lines; the ring keeps the last 40.
    "[service.talker]\nprogram = /bin/sh\n"
    "arguments = -c, \"i=1; while [ $i -le 50 ]; do echo line $i; i=$((i+1)); done; echo talked; exec sleep 60\"\n"
    // 100 lines of 100 bytes within 4096 bytes: the last 40 (4000 bytes) are kept.
    "[service.wide]\nprogram = /bin/sh\noutput_lines = 1000\noutput_bytes = 4096\n"
    "arguments = -c, \"i=1; while [ $i -le 100 ]; do printf '%0100d\\\\n' $i; i=$((i+1)); done; exec sleep 60\"\n"
    "[service.grumbler]\nprogram = /bin/sh\narguments = -c, \"echo oops >&2; exec sleep 60\"\n"
    "[service.ticker]\nprogram = /bin/sh\n"
    "arguments = -c, \"i=1; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done\"\n";

class Monitor
{
public:
    explicit Monitor(quint16 port)
    {
        m_socket.connectToHost(QHostAddress::LocalHost, port);
        Frame f;
        f.type = FrameType::Hello;
        f.messageId = 1;
        f.source = "ops";
        HelloPayload hello;
        hello.role = Role::Monitor;
        hello.token = Token;
        f.payload = encodeHello(hello);
        m_socket.write(encodeFrame(f));
    }
    bool admitted()
    {
        poll();
        return m_welcome;
    }
    std::optional<MonitorServiceOutput> ask(const QByteArray &service, quint32 maxLines, quint64 afterSeq = 0)
    {
        Frame f;
        f.type = MonitorFrame::ServiceOutputRequest;
        f.messageId = ++m_nextId;
        f.payload = encodeMonitorServiceOutputRequest({service, maxLines, afterSeq});
        m_socket.write(encodeFrame(f));
        const qsizetype before = m_answers.size();
        if (!QTest::qWaitFor([&] { poll(); return m_answers.size() > before; }, 10000))
            return std::nullopt;
        return m_answers.last();
    }

private:
    void poll()
    {
        m_decoder.append(m_socket.readAll());
        while (const std::optional<Frame> f = m_decoder.next()) {
            if (f->type == FrameType::Welcome)
                m_welcome = true;
            else if (f->type == MonitorFrame::ServiceOutput)
                m_answers.append(decodeMonitorServiceOutput(f->payload).value_or(MonitorServiceOutput{}));
        }
    }
    QTcpSocket m_socket;
    FrameDecoder m_decoder{16 * 1024 * 1024};
    bool m_welcome = false;
    quint32 m_nextId = 1;
    QList<MonitorServiceOutput> m_answers;
};

// kennelctl with `arguments`, run to its end: exit code, standard output, standard error.
struct Run
{
    int code = -1;
    QByteArray out, err;
};

Run kennelctl(const QStringList &arguments)
{
    QProcess process;
    process.start(QStringLiteral(KENNELCTL), arguments);
    Run run;
    if (!process.waitForFinished(15000)) {
        process.kill();
        process.waitForFinished();
        return run;
    }
    run.code = process.exitCode();
    run.out = process.readAllStandardOutput();
    run.err = process.readAllStandardError();
    return run;
}

} // namespace

class tst_ServiceOutput : public QObject
{
    Q_OBJECT
private slots:
    void initTestCase();
    void cleanupTestCase();
    void tailThroughTheMonitorStream();
    void byteBoundAndStreams();
    void kennelctlLogs();
    void kennelctlFollow();

private:
    BrokerProcess m_broker;
};

void tst_ServiceOutput::initTestCase()
{
    BrokerProcess::Options options;
    options.configText = Config;
    QString error;
    QVERIFY2(m_broker.start(options, &error), qPrintable(error));
    // Every line is in the log too (logging and the ring see the same lines).
    QTRY_VERIFY2_WITH_TIMEOUT(m_broker.log().contains("talker: talked") && m_broker.log().contains("grumbler: oops")
                                  && m_broker.countInLog("wide: 0") >= 100,
                              m_broker.log().constData(), 15000);
}

void tst_ServiceOutput::cleanupTestCase()
{
    QCOMPARE(m_broker.stopVerdict(), QString());
}

void tst_ServiceOutput::tailThroughTheMonitorStream()
{
    Monitor monitor(m_broker.tcpPort());
    QTRY_VERIFY_WITH_TIMEOUT(monitor.admitted(), 10000);

    // 51 lines written, output_lines = 40 ([supervisor]): the newest 40 kept, 11 dropped.
    std::optional<MonitorServiceOutput> all = monitor.ask("talker", 0);
    QVERIFY(all);
    QCOMPARE(all->code, ErrorCode::None);
    QCOMPARE(all->lastSeq, 51u);
    QCOMPARE(all->dropped, 11u);
    QCOMPARE(all->keptLines, 40u);
    QCOMPARE(all->maxLines, 40u);
    QCOMPARE(all->lines.size(), 40);
    QCOMPARE(all->lines.first().text, QByteArray("line 12"));
    QCOMPARE(all->lines.first().seq, 12u);
    QCOMPARE(all->lines.last().text, QByteArray("talked"));
    QVERIFY(!all->more);
    QVERIFY(!all->lines.last().isStderr);
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    QVERIFY(all->lines.last().timeMs <= now && all->lines.last().timeMs > now - 60000);

    const std::optional<MonitorServiceOutput> three = monitor.ask("talker", 3);
    QVERIFY(three);
    QCOMPARE(three->lines.size(), 3);
    QCOMPARE(three->lines.first().text, QByteArray("line 49"));

    // What came after line 48: a follower's request.
    const std::optional<MonitorServiceOutput> after = monitor.ask("talker", 0, 48);
    QVERIFY(after);
    QCOMPARE(after->lines.size(), 3);
    QCOMPARE(after->lines.first().seq, 49u);

    const std::optional<MonitorServiceOutput> none = monitor.ask("nosuch", 0);
    QVERIFY(none);
    QCOMPARE(none->code, ErrorCode::NotRegistered);
    QCOMPARE(none->error, QStringLiteral("no service named 'nosuch'"));
}

void tst_ServiceOutput::byteBoundAndStreams()
{
    Monitor monitor(m_broker.tcpPort());
    QTRY_VERIFY_WITH_TIMEOUT(monitor.admitted(), 10000);
    // 100 lines of 100 bytes, output_bytes = 4096: 40 lines (4000 bytes) fit, 41 would not.
    const std::optional<MonitorServiceOutput> wide = monitor.ask("wide", 0);
    QVERIFY(wide);
    QCOMPARE(wide->keptLines, 40u);
    QCOMPARE(wide->keptBytes, 4000u);
    QCOMPARE(wide->maxBytes, 4096u);
    QCOMPARE(wide->dropped, 60u);
    QCOMPARE(wide->lines.first().text, QByteArray(97, '0') + "061");

    const std::optional<MonitorServiceOutput> grumbler = monitor.ask("grumbler", 0);
    QVERIFY(grumbler);
    QCOMPARE(grumbler->lines.size(), 1);
    QVERIFY(grumbler->lines.first().isStderr);
    QCOMPARE(grumbler->lines.first().text, QByteArray("oops"));
}

void tst_ServiceOutput::kennelctlLogs()
{
    const QString broker = QStringLiteral("--broker=") + m_broker.unixAddress();
    Run run = kennelctl({QStringLiteral("logs"), QStringLiteral("talker"), QStringLiteral("-n"), QStringLiteral("3"), broker});
    QVERIFY2(run.code == 0, run.err.constData());
    const QList<QByteArray> lines = run.out.trimmed().split('\n');
    QCOMPARE(lines.size(), 3);
    QVERIFY2(lines.at(0).endsWith(" out line 49"), lines.at(0).constData());
    QVERIFY2(lines.at(2).endsWith(" out talked"), lines.at(2).constData());

    run = kennelctl({QStringLiteral("logs"), QStringLiteral("grumbler"), broker});
    QCOMPARE(run.code, 0);
    QVERIFY2(run.out.trimmed().endsWith(" err oops"), run.out.constData());

    // All that is kept, and a note of what is not.
    run = kennelctl({QStringLiteral("logs"), QStringLiteral("talker"), QStringLiteral("-n"), QStringLiteral("0"), broker});
    QCOMPARE(run.code, 0);
    QCOMPARE(run.out.trimmed().split('\n').size(), 40);
    QVERIFY2(run.err.contains("11 earlier lines are no longer kept"), run.err.constData());

    run = kennelctl({QStringLiteral("logs"), QStringLiteral("nosuch"), broker});
    QCOMPARE(run.code, 2);
    QVERIFY2(run.err.contains("no service named 'nosuch'"), run.err.constData());
    run = kennelctl({QStringLiteral("logs"), broker});
    QCOMPARE(run.code, 2);
}

void tst_ServiceOutput::kennelctlFollow()
{
    QProcess follower;
    follower.start(QStringLiteral(KENNELCTL), {QStringLiteral("logs"), QStringLiteral("ticker"), QStringLiteral("-n"),
                                               QStringLiteral("1"), QStringLiteral("--follow"),
                                               QStringLiteral("--broker=") + m_broker.unixAddress()});
    QByteArray out;
    // The first line is the newest at the start; then new ones, in order and without a gap.
    QTRY_VERIFY_WITH_TIMEOUT((out += follower.readAllStandardOutput(), out.count('\n') >= 4), 10000);
    const QList<QByteArray> lines = out.trimmed().split('\n');
    int previous = -1;
    for (const QByteArray &line : lines) {
        const qsizetype at = line.indexOf(" out tick ");
        QVERIFY2(at > 0, line.constData());
        const int n = line.mid(at + 10).toInt();
        if (previous >= 0)
            QCOMPARE(n, previous + 1);
        previous = n;
    }
    ::kill(pid_t(follower.processId()), SIGTERM);
    QVERIFY(follower.waitForFinished(5000));
    QCOMPARE(follower.exitCode(), 0);
}

QTEST_GUILESS_MAIN(tst_ServiceOutput)
#include "tst_serviceoutput.moc"
