// The "nothing lost" measurement (docs/RELIABILITY.md "Nothing lost across watchdog restarts"): a real
// kennel-broker supervises a real kennel-demo-client as service `rcv`; a sender here sends it
// 10,000 sequence-numbered messages at a steady 500/s; three times during the run the test
// SIGSTOPs the service (a hang: it stops feeding and reading), the watchdog kills it and the
// supervisor restarts it. The service appends what it receives to a file; the test checks every
// message arrived once, in order, and prints the held messages' added latency and the broker's RSS.
// The receiver (KennelClient) acknowledges what it has processed (PROTOCOL §5.7): what the hung
// process was handed and never processed is held again when the watchdog kills it.
// KENNEL_NOTHINGLOST_HOLD=0 runs the same with `[hold] enabled = false`: then it must fail.
#include "brokerprocess.h"
#include "framecodec.h"
#include "sanitizerbuild.h"
#include "testbroker.h"

#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <algorithm>
#include <csignal>
#include <vector>

using namespace Kennel;
using namespace KennelTest;

namespace {
constexpr quint32 MessageCount = 10000;
constexpr int RatePerSecond = 500;
// The hangs start after these many messages: ~4, 10 and 16 s into the 20 s run.
constexpr quint32 HangAt[] = {2000, 5000, 8000};
// Memory after the run within this of the baseline (tst_memorybaseline allows 500 KiB for less).
constexpr qint64 RssToleranceKiB = 1024;

struct Sent
{
    qint64 sentNs = -1;
    qint64 heldNs = -1;
    qint64 finalNs = -1;
    int finalStatus = -1;
    bool duringHang = false; // sent while the receiver was stopped and still registered
};

struct Spread
{
    qint64 count = 0;
    double medianMs = 0, p99Ms = 0, maxMs = 0;
};

Spread spread(std::vector<qint64> ns)
{
    Spread s;
    s.count = qint64(ns.size());
    if (ns.empty())
        return s;
    std::sort(ns.begin(), ns.end());
    const auto at = [&](double q) { return double(ns[size_t(q * double(ns.size() - 1))]) / 1e6; };
    s.medianMs = at(0.5);
    s.p99Ms = at(0.99);
    s.maxMs = double(ns.back()) / 1e6;
    return s;
}

qint64 readPid(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    bool ok = false;
    const qint64 pid = f.readAll().trimmed().toLongLong(&ok);
    return ok ? pid : -1;
}
} // namespace

class tst_NothingLost : public QObject
{
    Q_OBJECT

private slots:
    void tenThousandAcrossThreeWatchdogRestarts();
};

void tst_NothingLost::tenThousandAcrossThreeWatchdogRestarts()
{
    const QString demo = binaryPath(QStringLiteral("kennel-demo-client"));
    QVERIFY2(QFile::exists(demo), "build kennel-demo-client first");
    const bool hold = qEnvironmentVariable("KENNEL_NOTHINGLOST_HOLD") != QLatin1String("0");

    // The service: a script that says its PID (the PID the kernel gives the client, thanks to
    // exec) and appends what the demo client prints to a file.
    // 100 ms x 3 misses: a hang is acted on within ~0.5 s. Under the sanitizers everything runs
    // ~3x slower, and a healthy but slow receiver must not be killed outside the planned hangs.
    const int watchdogIntervalMs = underSanitizer() ? 300 : 100;
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString pidFile = dir.filePath(QStringLiteral("rcv.pid"));
    const QString outFile = dir.filePath(QStringLiteral("rcv.out"));
    const QString script = dir.filePath(QStringLiteral("rcv.sh"));
    {
        QFile f(script);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("#!/bin/sh\necho $$ > '" + pidFile.toUtf8() + "'\nexec '" + demo.toUtf8()
                + "' --name rcv --peer nobody --interval-ms 100000000 --watchdog-interval-ms "
                + QByteArray::number(watchdogIntervalMs) + " >> '"
                + outFile.toUtf8() + "'\n");
        f.close();
        QVERIFY(f.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner));
    }

    BrokerProcess::Options options;
    options.configText = "[watchdog]\nmin_interval_ms = 50\nkill_grace_ms = 200\n"
                         "[hold]\nenabled = "
        + QByteArray(hold ? "true" : "false")
        + "\nmax_count = 10000\nmax_bytes = 1M\nttl_ms = 30000\n"
          "[service.rcv]\nprogram = "
        + script.toUtf8()
        + "\nrestart = always\nrestart_delay_ms = 300\nrestart_delay_max_ms = 300\n";
    BrokerProcess broker;
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));

    const auto outText = [&outFile] {
        QFile f(outFile);
        return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
    };
    // Registered and watched: the demo client says so once the watchdog took it.
    QTRY_VERIFY_WITH_TIMEOUT(outText().contains("watched by the broker"), 15000);

    RawPeer sender;
    QVERIFY(sender.connectTcp(broker.tcpPort()));
    // As the client library does (FramedConnection): without it Nagle holds each small Send back.
    static_cast<QTcpSocket *>(sender.device())->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    {
        HelloPayload hello;
        hello.features = FeatureHeldStatus;
        Frame f;
        f.type = FrameType::Hello;
        f.messageId = 1;
        f.source = "snd";
        f.payload = encodeHello(hello);
        sender.send(f);
        QVERIFY(sender.take(FrameType::Welcome));
    }
    const qint64 rssBefore = broker.rssKiB();
    qint64 rssPeak = rssBefore;

    std::vector<Sent> sent(MessageCount + 1);
    QElapsedTimer clock;
    clock.start();
    quint32 next = 1;
    quint32 finals = 0;
    quint32 heldCount = 0;
    int hangsDone = 0;
    qint64 stoppedPid = -1;
    QList<qint64> killedPids;
    // Per hang: when the test stopped the receiver, and when it saw the process gone.
    QList<QPair<qint64, qint64>> hangNs;
    int lastRssSampleMs = 0;

    const auto drainStatuses = [&] {
        QList<Frame> &frames = sender.frames();
        const qint64 now = clock.nsecsElapsed();
        for (const Frame &f : std::as_const(frames)) {
            if (f.type != FrameType::DeliveryStatus || f.messageId == 0 || f.messageId > MessageCount)
                continue;
            const std::optional<DeliveryStatus> status = decodeDeliveryStatus(f.payload);
            if (!status)
                continue;
            Sent &s = sent[f.messageId];
            if (*status == DeliveryStatus::Held) {
                s.heldNs = now;
                ++heldCount;
            } else if (s.finalStatus < 0) {
                s.finalNs = now;
                s.finalStatus = int(*status);
                ++finals;
            }
        }
        frames.clear();
    };

    // Statuses are timed as they arrive, not at the next tick.
    connect(sender.device(), &QIODevice::readyRead, this, drainStatuses);
    QEventLoop run;
    QTimer tick;
    tick.setTimerType(Qt::PreciseTimer);
    tick.setInterval(2);
    connect(&tick, &QTimer::timeout, this, [&] {
        drainStatuses();
        // A stopped receiver that lost its registration has been killed: it is no longer hung.
        if (stoppedPid > 0 && ::kill(pid_t(stoppedPid), 0) != 0) {
            stoppedPid = -1;
            hangNs.last().second = clock.nsecsElapsed();
        }
        const qint64 due = qMin<qint64>(MessageCount, clock.elapsed() * RatePerSecond / 1000 + 1);
        while (next <= due) {
            if (hangsDone < 3 && next == HangAt[hangsDone]) {
                const qint64 pid = readPid(pidFile);
                if (pid > 0 && !killedPids.contains(pid)) {
                    ::kill(pid_t(pid), SIGSTOP);
                    killedPids.append(pid);
                    stoppedPid = pid;
                    hangNs.append({clock.nsecsElapsed(), -1});
                }
                ++hangsDone;
            }
            Sent &s = sent[next];
            s.sentNs = clock.nsecsElapsed();
            s.duringHang = stoppedPid > 0;
            sender.sendTo("rcv", QByteArray::number(next), next);
            ++next;
        }
        if (clock.elapsed() - lastRssSampleMs >= 100) {
            lastRssSampleMs = int(clock.elapsed());
            rssPeak = qMax(rssPeak, broker.rssKiB());
        }
        if (next > MessageCount && finals == MessageCount)
            run.quit();
    });
    // A plain event loop, not QTRY_*: QTest::qWait sleeps 10 ms between its rounds of events,
    // which would add up to 10 ms to every latency measured here.
    QTimer::singleShot(60000, &run, &QEventLoop::quit);
    tick.start();
    run.exec();
    tick.stop();
    QVERIFY2(next > MessageCount && finals == MessageCount,
             qPrintable(QStringLiteral("60 s: %1 sent, %2 final statuses").arg(next - 1).arg(finals)));
    const double sendSeconds = double(sent[MessageCount].sentNs - sent[1].sentNs) / 1e9;
    QCOMPARE(killedPids.size(), 3);

    // What the receivers got, across all four of their processes.
    QList<quint32> received;
    const auto readReceived = [&] {
        received.clear();
        const QByteArray prefix = "received from snd: ";
        for (const QByteArray &line : outText().split('\n')) {
            if (line.startsWith(prefix))
                received.append(line.mid(prefix.size()).toUInt());
        }
    };
    // Everything with a final status has been handed over; give the last process time to print.
    const auto lastArrived = [&] {
        readReceived();
        return received.contains(MessageCount);
    };
    const bool lastSeen = QTest::qWaitFor(lastArrived, 5000); // not fatal: the figures below say what is missing
    readReceived();

    std::vector<int> times(MessageCount + 1, 0);
    int outOfOrder = 0;
    quint32 previous = 0;
    for (const quint32 seq : std::as_const(received)) {
        if (seq >= 1 && seq <= MessageCount)
            ++times[seq];
        if (seq <= previous)
            ++outOfOrder;
        previous = seq;
    }
    // A message sent shortly before the stop may still be unread in the receiver's socket.
    constexpr qint64 UnreadSlackNs = 100'000'000;
    const auto inHang = [&hangNs](qint64 ns) {
        for (const auto &[stop, gone] : std::as_const(hangNs)) {
            if (ns >= stop - UnreadSlackNs && (gone < 0 || ns <= gone))
                return true;
        }
        return false;
    };
    int lost = 0, duplicated = 0, lostInHang = 0, heldNotDelivered = 0, heldLost = 0, lostOutsideHangs = 0;
    QList<quint32> firstLost;
    std::vector<qint64> heldLatency, directLatency;
    QMap<QByteArray, int> finalStatuses;
    for (quint32 id = 1; id <= MessageCount; ++id) {
        const Sent &s = sent[id];
        finalStatuses[deliveryStatusName(DeliveryStatus(s.finalStatus))]++;
        if (times[id] == 0) {
            ++lost;
            if (s.duringHang)
                ++lostInHang;
            if (s.heldNs >= 0)
                ++heldLost;
            if (!inHang(s.sentNs))
                ++lostOutsideHangs;
            if (firstLost.size() < 10)
                firstLost.append(id);
        }
        if (times[id] > 1)
            ++duplicated;
        if (s.heldNs >= 0) {
            if (s.finalStatus != int(DeliveryStatus::Delivered))
                ++heldNotDelivered;
            else
                heldLatency.push_back(s.finalNs - s.sentNs);
        } else if (s.finalStatus == int(DeliveryStatus::Delivered)) {
            directLatency.push_back(s.finalNs - s.sentNs);
        }
    }
    int sentDuringHang = 0;
    for (quint32 id = 1; id <= MessageCount; ++id)
        sentDuringHang += sent[id].duringHang ? 1 : 0;

    // Memory: the held messages are gone from the broker once delivered.
    QTRY_VERIFY_WITH_TIMEOUT(broker.rssKiB() > 0, 1000);
    const qint64 rssAfter = broker.rssKiB();

    const Spread held = spread(heldLatency);
    const Spread direct = spread(directLatency);
    QString statuses;
    for (auto it = finalStatuses.cbegin(); it != finalStatuses.cend(); ++it)
        statuses += QStringLiteral(" %1=%2").arg(QString::fromUtf8(it.key())).arg(it.value());
    qInfo("hold %s: %u messages in %.1f s (%.0f/s), 3 watchdog kills (pids %lld %lld %lld), %d receiver lines, last %s",
          hold ? "on" : "off", MessageCount, sendSeconds, MessageCount / sendSeconds, killedPids.value(0),
          killedPids.value(1), killedPids.value(2), int(received.size()), lastSeen ? "received" : "missing");
    qInfo("final statuses:%s; held %u", qPrintable(statuses), heldCount);
    qInfo("lost %d (of them sent to the stopped, still registered receiver: %d of %d sent then), duplicated %d, "
          "out of order %d, held but not delivered %d, held and lost %d, lost outside the hangs %d",
          lost, lostInHang, sentDuringHang, duplicated, outOfOrder, heldNotDelivered, heldLost, lostOutsideHangs);
    for (const auto &[stop, gone] : std::as_const(hangNs))
        qInfo("hang at %.2f s: receiver gone %.0f ms later", double(stop) / 1e9, double(gone - stop) / 1e6);
    qInfo("send -> delivered status, held: n=%lld median %.1f ms p99 %.1f ms max %.1f ms; direct: n=%lld median %.2f ms "
          "p99 %.2f ms max %.1f ms",
          held.count, held.medianMs, held.p99Ms, held.maxMs, direct.count, direct.medianMs, direct.p99Ms, direct.maxMs);
    qInfo("broker VmRSS: before %lld KiB, peak %lld KiB (+%lld), after %lld KiB (%+lld)", rssBefore, rssPeak,
          rssPeak - rssBefore, rssAfter, rssAfter - rssBefore);
    if (!firstLost.isEmpty()) {
        QStringList ids;
        for (const quint32 id : std::as_const(firstLost))
            ids.append(QString::number(id));
        qInfo("first lost: %s", qPrintable(ids.join(QLatin1Char(' '))));
    }

    QVERIFY2(heldCount > 0, "no message was held: [hold] is off, or the hangs did not happen as planned");
    QCOMPARE(heldNotDelivered, 0);
    QCOMPARE(duplicated, 0);
    QCOMPARE(outOfOrder, 0);
    QCOMPARE(finalStatuses.value("delivered"), int(MessageCount));
    QCOMPARE(heldLost, 0);
    QCOMPARE(lostOutsideHangs, 0);
    // What the broker handed to the hung receiver while it was still registered (from the stop
    // until the watchdog's kill) was never acknowledged (PROTOCOL §5.7): held again for `rcv` and
    // delivered to the restarted process. Before receiver acknowledgement ~245 per hang were lost.
    QCOMPARE(lost, 0);
    if (!underSanitizer()) // the sanitizer's allocator keeps freed memory in quarantine
        QVERIFY2(rssAfter - rssBefore < RssToleranceKiB,
                 qPrintable(QStringLiteral("VmRSS %1 -> %2 KiB").arg(rssBefore).arg(rssAfter)));
    QVERIFY2(broker.stopVerdict().isEmpty(), "the broker did not stop cleanly");
}

QTEST_MAIN(tst_NothingLost)
#include "tst_nothinglost.moc"
