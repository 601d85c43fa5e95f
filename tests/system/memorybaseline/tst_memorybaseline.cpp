// The real broker under load for a bounded time, and its memory afterwards ("its memory
// returns to its baseline after the clients leave (no growth per message, per connection or per
// monitor)"). Three kinds of rounds, each run by child processes so that this process never
// blocks and never is the bottleneck:
//   messages     kennel-nativebench, 8 pairs as fast as a window allows for 2 s (millions of
//                messages through the route cache, the queues and the batched writes);
//   connections  two kennel-nativebench --idle 2500 at once, one over TCP, one over the Unix
//                socket: 5,000 connections open together, each registers, receives one message
//                and leaves;
//   monitors     5 waves of 6 kennel-monitorsink (half over TCP with the token from a mode-0600
//                token file, half over the Unix socket by peer credentials), each subscribing to
//                traffic records while a paced nativebench runs, then leaving.
// RSS (VmRSS) is read after each round once every client has gone (the broker's descriptor count
// is back to its idle value) and the broker's malloc_trim — at most once a second after closes —
// has had its turn. After a warm-up round of each kind (first-use allocations: hash tables grown
// to 5,000 entries, the scratch buffers), that RSS is the baseline; then each kind runs 3 times and
// must come back within ReturnMarginKiB of the baseline, and its third round may not end above its
// first by more than GrowthMarginKiB. Under the sanitizers the allocator is ASan's (quarantine,
// size classes, no trim): the quarantine is made small for the children, only runaway growth is
// checked (margins of the baseline's size), and the broker's own LeakSanitizer run at its SIGTERM
// exit is the check that counts there.
#include "brokerprocess.h"
#include "generatorsummary.h"
#include "sanitizerbuild.h"
#include "testbroker.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTest>

#include <dirent.h>

#include <array>
#include <memory>
#include <vector>

using namespace KennelTest;

namespace {
constexpr int Repetitions = 3;
constexpr int ConnectionsPerGenerator = 2500;
constexpr int MonitorWaves = 5;
constexpr int MonitorsPerWave = 6;       // within the default max_monitors of 8
constexpr qint64 ReturnMarginKiB = 1024;  // after a round, above the baseline
constexpr qint64 GrowthMarginKiB = 512;   // round 3 above round 1 of the same kind
// The baseline itself, above the broker's RSS before any client: what the allocator could not
// give back (fragmented pages, containers that keep their capacity). glibc without malloc_trim
// keeps the whole peak of 5,000 connections (~7.5 MB), with it ~3 MB stays.
constexpr qint64 WarmUpMarginKiB = 4096;
constexpr int TrimSettleMs = 1300;       // the broker trims at most once per second after closes
const QByteArray MonitorToken = "fedcba9876543210fedcba9876543210";

// Child processes started together; their output gathered from the event loop.
class Children
{
public:
    void start(const QString &program, const QStringList &arguments)
    {
        auto child = std::make_unique<Child>();
        Child *c = child.get();
        QObject::connect(&c->process, &QProcess::readyReadStandardOutput, &c->process,
                         [c] { c->out += c->process.readAllStandardOutput(); });
        QObject::connect(&c->process, &QProcess::readyReadStandardError, &c->process,
                         [c] { c->err += c->process.readAllStandardError(); });
        c->process.setProgram(binaryPath(program));
        c->process.setArguments(arguments);
        c->process.start();
        m_children.push_back(std::move(child));
    }
    // Processes events until every child has exited, at most `timeoutMs`.
    bool wait(int timeoutMs)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (!deadline.hasExpired()) {
            bool running = false;
            for (const auto &c : m_children)
                running = running || c->process.state() != QProcess::NotRunning;
            if (!running)
                break;
            QTest::qWait(20);
        }
        for (const auto &c : m_children) {
            c->out += c->process.readAllStandardOutput();
            c->err += c->process.readAllStandardError();
        }
        for (const auto &c : m_children)
            if (c->process.state() != QProcess::NotRunning)
                return false;
        return true;
    }
    // Empty when every child exited with 0; otherwise the first failure, with its output.
    QString failure() const
    {
        for (const auto &c : m_children)
            if (c->process.exitStatus() != QProcess::NormalExit || c->process.exitCode() != 0)
                return QStringLiteral("%1 %2 exited with %3: %4 %5")
                    .arg(c->process.program(), c->process.arguments().join(QLatin1Char(' ')))
                    .arg(c->process.exitCode())
                    .arg(QString::fromLocal8Bit(c->out), QString::fromLocal8Bit(c->err));
        return {};
    }
    QList<QByteArray> lastLines() const
    {
        QList<QByteArray> lines;
        for (const auto &c : m_children)
            lines.append(c->out.trimmed().split('\n').constLast());
        return lines;
    }

private:
    struct Child
    {
        QProcess process;
        QByteArray out;
        QByteArray err;
        ~Child()
        {
            if (process.state() != QProcess::NotRunning) {
                process.kill(); // this child only, by its handle
                process.waitForFinished(5000);
            }
        }
    };
    std::vector<std::unique_ptr<Child>> m_children;
};

enum Kind { Messages, Connections, Monitors, KindCount };
const char *const kindNames[KindCount] = {"messages", "connections", "monitors"};
} // namespace

class tst_MemoryBaseline : public QObject
{
    Q_OBJECT

private slots:
    void returnsToBaseline();

private:
    void runRound(Kind kind, const QByteArray &tag);
    void roundMessages(const QByteArray &tag);
    void roundConnections(const QByteArray &tag);
    void roundMonitors(const QByteArray &tag);
    // Waits until every client has left and the broker had its chance to trim; returns VmRSS.
    qint64 settledRss();

    BrokerProcess *m_broker = nullptr;
    int m_idleDescriptors = 0;
    quint64 m_monitorRecords = 0;
};

void tst_MemoryBaseline::roundMessages(const QByteArray &tag)
{
    Children load;
    load.start(QStringLiteral("kennel-nativebench"),
               {QStringLiteral("--unix"), m_broker->unixPath(), QStringLiteral("--pairs"), QStringLiteral("8"),
                QStringLiteral("--size"), QStringLiteral("500"), QStringLiteral("--duration"), QStringLiteral("2"),
                QStringLiteral("--warmup"), QStringLiteral("0.5"), QStringLiteral("--prefix"), QString::fromLatin1(QByteArray("m" + tag))});
    QVERIFY2(load.wait(60000), "kennel-nativebench did not finish");
    QVERIFY2(load.failure().isEmpty(), qPrintable(load.failure()));
    const QByteArray summary = load.lastLines().constFirst();
    QCOMPARE(summaryValue(summary, "status"), QByteArray("ok"));
    QCOMPARE(summaryValue(summary, "lost"), QByteArray("0"));
    QVERIFY2(summaryValue(summary, "delivered").toLongLong() > 10000, summary.constData());
    qInfo("messages round %s: %s delivered, %s msg/s", tag.constData(), summaryValue(summary, "delivered").constData(),
          summaryValue(summary, "msgs_per_s").constData());
}

void tst_MemoryBaseline::roundConnections(const QByteArray &tag)
{
    Children load;
    const QStringList idle = {QStringLiteral("--idle"), QString::number(ConnectionsPerGenerator), QStringLiteral("--hold"),
                              QStringLiteral("0"), QStringLiteral("--setup-timeout"), QStringLiteral("60")};
    load.start(QStringLiteral("kennel-nativebench"),
               QStringList{QStringLiteral("--unix"), m_broker->unixPath(), QStringLiteral("--prefix"), QString::fromLatin1(QByteArray("cu" + tag))} + idle);
    load.start(QStringLiteral("kennel-nativebench"),
               QStringList{QStringLiteral("--port"), QString::number(m_broker->tcpPort()), QStringLiteral("--prefix"),
                           QString::fromLatin1(QByteArray("ct" + tag))} + idle);
    QVERIFY2(load.wait(90000), "kennel-nativebench --idle did not finish");
    QVERIFY2(load.failure().isEmpty(), qPrintable(load.failure()));
    for (const QByteArray &summary : load.lastLines()) {
        QCOMPARE(summaryValue(summary, "status"), QByteArray("ok"));
        QCOMPARE(summaryValue(summary, "verified").toInt(), ConnectionsPerGenerator);
    }
}

void tst_MemoryBaseline::roundMonitors(const QByteArray &tag)
{
    // Traffic for the monitors to capture, paced so it outlasts every wave.
    Children traffic;
    traffic.start(QStringLiteral("kennel-nativebench"),
                  {QStringLiteral("--unix"), m_broker->unixPath(), QStringLiteral("--pairs"), QStringLiteral("2"),
                   QStringLiteral("--rate"), QStringLiteral("2000"), QStringLiteral("--duration"),
                   QString::number(MonitorWaves * (underSanitizer() ? 2 : 1) + 2), QStringLiteral("--warmup"),
                   QStringLiteral("0"), QStringLiteral("--prefix"), QString::fromLatin1(QByteArray("t" + tag))});
    for (int wave = 0; wave < MonitorWaves; ++wave) {
        Children monitors;
        for (int i = 0; i < MonitorsPerWave; ++i) {
            const bool overTcp = i % 2 == 0;
            monitors.start(QStringLiteral("kennel-monitorsink"),
                           overTcp ? QStringList{QStringLiteral("--broker"), m_broker->tcpAddress(), QStringLiteral("--token"),
                                                 QString::fromLatin1(MonitorToken), QStringLiteral("--seconds"), QStringLiteral("0.6")}
                                   : QStringList{QStringLiteral("--broker"), m_broker->unixAddress(), QStringLiteral("--seconds"),
                                                 QStringLiteral("0.6")});
        }
        QVERIFY2(monitors.wait(30000), "kennel-monitorsink did not finish");
        QVERIFY2(monitors.failure().isEmpty(), qPrintable(monitors.failure()));
        for (const QByteArray &summary : monitors.lastLines()) {
            QVERIFY2(summaryValue(summary, "welcomed") == "1", summary.constData());
            QVERIFY2(summaryValue(summary, "errors") == "0", summary.constData());
            m_monitorRecords += summaryValue(summary, "traffic_records").toULongLong();
        }
    }
    QVERIFY2(traffic.wait(60000), "the traffic for the monitors did not finish");
    QVERIFY2(traffic.failure().isEmpty(), qPrintable(traffic.failure()));
    QCOMPARE(summaryValue(traffic.lastLines().constFirst(), "lost"), QByteArray("0"));
}

void tst_MemoryBaseline::runRound(Kind kind, const QByteArray &tag)
{
    switch (kind) {
    case Messages: roundMessages(tag); break;
    case Connections: roundConnections(tag); break;
    case Monitors: roundMonitors(tag); break;
    case KindCount: break;
    }
}

qint64 tst_MemoryBaseline::settledRss()
{
    QDeadlineTimer deadline(30000);
    while (m_broker->openDescriptors() > m_idleDescriptors && !deadline.hasExpired())
        QTest::qWait(20);
    if (m_broker->openDescriptors() > m_idleDescriptors)
        return -1;
    QTest::qWait(TrimSettleMs);
    return m_broker->rssKiB();
}

void tst_MemoryBaseline::returnsToBaseline()
{
    raiseDescriptorLimit();
    if (underSanitizer()) {
        // ASan keeps freed memory in a quarantine (256 MB by default) to catch use after free: a
        // broker would grow until it is full, whatever it does with its memory. A small one still
        // catches a use of what was freed recently, and lets the rounds be compared. Only the
        // processes started from here read it (ASan reads its options at start).
        QByteArray asan = qgetenv("ASAN_OPTIONS");
        asan += QByteArray(asan.isEmpty() ? "" : ":") + "quarantine_size_mb=16";
        qputenv("ASAN_OPTIONS", asan);
    }
    BrokerProcess broker;
    m_broker = &broker;
    const QString tokenPath = QDir(broker.directory()).filePath(QStringLiteral("monitor.token"));
    {
        QFile token(tokenPath);
        QVERIFY(token.open(QIODevice::WriteOnly));
        QVERIFY(token.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner)); // mode 0600
        token.write(MonitorToken + '\n');
    }
    BrokerProcess::Options options;
    options.configText = "[limits]\nmax_clients = 8000\n\n[monitor]\ntoken_file = " + QFile::encodeName(tokenPath) + "\n";
    options.maxDescriptors = 8500;
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    m_idleDescriptors = broker.openDescriptors();
    QVERIFY(m_idleDescriptors > 0);
    QTest::qWait(500);
    const qint64 fresh = broker.rssKiB();

    // Warm-up: one round of each kind, then the baseline.
    for (int kind = 0; kind < KindCount; ++kind) {
        runRound(Kind(kind), "w");
        if (QTest::currentTestFailed())
            return;
    }
    const qint64 baseline = settledRss();
    QVERIFY2(baseline > 0, "the clients of the warm-up did not all leave");

    std::array<std::array<qint64, Repetitions>, KindCount> after{};
    for (int rep = 0; rep < Repetitions; ++rep) {
        for (int kind = 0; kind < KindCount; ++kind) {
            runRound(Kind(kind), QByteArray::number(rep));
            if (QTest::currentTestFailed())
                return;
            after[kind][rep] = settledRss();
            QVERIFY2(after[kind][rep] > 0, "the clients of a round did not all leave");
        }
    }

    // ASan's allocator keeps freed chunks per size class and hands memory back to the system only
    // now and then: after the same rounds its RSS wanders by tens of MB (72 to 113 MB measured
    // against an 82 MB baseline). There only runaway growth is caught here — the exact figures
    // are the normal build's — and a leak by the broker's LeakSanitizer at its exit below.
    const bool sanitizer = underSanitizer();
    const qint64 returnMargin = sanitizer ? baseline : ReturnMarginKiB;
    const qint64 growthMargin = sanitizer ? baseline / 2 : GrowthMarginKiB;
    qInfo("broker RSS: %lld KiB fresh, %lld KiB after the warm-up (baseline)%s; margins %lld KiB to the baseline, "
          "%lld KiB round 3 over round 1; %llu traffic records reached the monitors",
          fresh, baseline, sanitizer ? " (sanitizer build)" : "", returnMargin, growthMargin, m_monitorRecords);
    for (int kind = 0; kind < KindCount; ++kind)
        qInfo("after %-11s rounds 1..3: %lld, %lld, %lld KiB", kindNames[kind], after[kind][0], after[kind][1], after[kind][2]);
    for (int kind = 0; kind < KindCount; ++kind) {
        for (int rep = 0; rep < Repetitions; ++rep)
            QVERIFY2(after[kind][rep] <= baseline + returnMargin,
                     qPrintable(QStringLiteral("after %1 round %2: %3 KiB, baseline %4 KiB").arg(QLatin1String(kindNames[kind])).arg(rep + 1).arg(after[kind][rep]).arg(baseline)));
        QVERIFY2(after[kind][Repetitions - 1] <= after[kind][0] + growthMargin,
                 qPrintable(QStringLiteral("%1: %2 KiB after round 1, %3 KiB after round 3").arg(QLatin1String(kindNames[kind])).arg(after[kind][0]).arg(after[kind][Repetitions - 1])));
    }
    QVERIFY(m_monitorRecords > 0);
    if (!sanitizer) // ASan's allocator neither trims nor reuses at once (quarantine)
        QVERIFY2(baseline <= fresh + WarmUpMarginKiB,
                 qPrintable(QStringLiteral("the broker kept %1 KiB after its clients left (fresh %2 KiB): memory not given back")
                                .arg(baseline - fresh).arg(fresh)));

    // A clean stop; under the sanitizers the broker's LeakSanitizer runs at this exit.
    QVERIFY2(broker.terminate(20000), "the broker did not stop on SIGTERM");
    QCOMPARE(broker.exitStatus(), QProcess::NormalExit);
    QVERIFY2(broker.exitCode() == 0, broker.log().right(4000).constData());
    m_broker = nullptr;
}

QTEST_MAIN(tst_MemoryBaseline)
#include "tst_memorybaseline.moc"
