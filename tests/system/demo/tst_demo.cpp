// The README's main job, run as a user would run it: kennel-demo starts the broker, which
// supervises client1 and client2; client1 feeds too slowly and must be terminated by the watchdog,
// restarted by the supervisor and register again, while client2 is left alone — all visible in
// the timeline, in that order; client1 starts only after client2 registered, and client2's
// messages sent while client1 is down are held and delivered, none lost (the end summary). One
// real cycle takes the old deadline of 9 s plus the 2.5 s restart delay.
#include "testbroker.h"

#include <QHash>
#include <QProcess>
#include <QRegularExpression>
#include <QTcpServer>
#include <QTest>

class tst_Demo : public QObject
{
    Q_OBJECT

private slots:
    void slowFeederIsKilledAndRestarted();
};

namespace {
// Index of the first line at or after `from` that contains `text`, or -1.
qsizetype find(const QStringList &lines, const QString &text, qsizetype from = 0)
{
    for (qsizetype i = from; i < lines.size(); ++i)
        if (lines.at(i).contains(text))
            return i;
    return -1;
}

quint16 freePort()
{
    QTcpServer probe;
    return probe.listen(QHostAddress::LocalHost, 0) ? probe.serverPort() : 0;
}
} // namespace

void tst_Demo::slowFeederIsKilledAndRestarted()
{
    const quint16 port = freePort();
    QVERIFY(port);
    QProcess demo;
    demo.setProcessChannelMode(QProcess::MergedChannels);
    demo.start(KennelTest::binaryPath(QStringLiteral("kennel-demo")),
               {QStringLiteral("--duration"), QStringLiteral("15"), QStringLiteral("--port"), QString::number(port)});
    QVERIFY(demo.waitForStarted());
    // No event loop is needed here: everything runs in the demo's own processes.
    QVERIFY(demo.waitForFinished(60000));
    const QString output = QString::fromLocal8Bit(demo.readAll());
    const QStringList lines = output.split(QLatin1Char('\n'));
    auto dump = qScopeGuard([&] {
        if (QTest::currentTestFailed())
            qInfo().noquote() << output;
    });
    QCOMPARE(demo.exitStatus(), QProcess::NormalExit);
    QCOMPARE(demo.exitCode(), 0);

    const qsizetype registered = find(lines, QStringLiteral("client1 | registered watchdog as client1"));
    QVERIFY(registered >= 0);
    QVERIFY(find(lines, QStringLiteral("client2 | received from client1")) >= 0);
    QVERIFY(find(lines, QStringLiteral("client1 | received from client2")) >= 0);
    const qsizetype late = find(lines, QStringLiteral("'client1' is late"), registered);
    QVERIFY(late > registered);
    const qsizetype expired = find(lines, QStringLiteral("'client1' expired"), late);
    QVERIFY(expired > late);
    // Signalled by the PID the supervisor started it with.
    const QRegularExpression startedAs(QStringLiteral("service client1: started, pid (\\d+)"));
    const QRegularExpressionMatch firstStart = startedAs.match(output);
    QVERIFY(firstStart.hasMatch());
    const qsizetype signalled = find(lines, QStringLiteral("'client1' pid %1: term-sent").arg(firstStart.captured(1)), expired);
    QVERIFY(signalled > expired);
    const qsizetype exited = find(lines, QStringLiteral("service client1: exited"), signalled);
    QVERIFY(exited > signalled);
    const qsizetype restarted = find(lines, QStringLiteral("service client1: started"), exited);
    QVERIFY(restarted > exited);
    QVERIFY(find(lines, QStringLiteral("client1 | registered watchdog as client1"), restarted) > restarted);
    // The healthy client is never touched; shutdown stops client1 (started last) first.
    QCOMPARE(find(lines, QStringLiteral("'client2' expired")), qsizetype(-1));
    QCOMPARE(find(lines, QStringLiteral("'client2' is late")), qsizetype(-1));
    const qsizetype stop1 = find(lines, QStringLiteral("service client1: stopping"));
    const qsizetype stop2 = find(lines, QStringLiteral("service client2: stopping"));
    QVERIFY(stop1 >= 0 && stop2 > stop1);
    QVERIFY(find(lines, QStringLiteral("kennel-broker exited with status 0")) >= 0);

    // client1 depends on client2 (after = client2): it waits, and starts only once client2 has
    // registered.
    const qsizetype waiting = find(lines, QStringLiteral("service client1: waiting for client2 to register before it starts"));
    const qsizetype client2Registered = find(lines, QStringLiteral("registered 'client2'"));
    const qsizetype firstStart1 = find(lines, QStringLiteral("service client1: started"));
    QVERIFY(waiting >= 0);
    QVERIFY(client2Registered > waiting);
    QVERIFY(firstStart1 > client2Registered);

    // client2's messages sent while client1 is down are held, then delivered when it is back:
    // every held message gets its delivered line after client1 restarted, none is lost.
    const QRegularExpression heldLine(QStringLiteral("client2 +\\| message (\\d+) to client1 held"));
    const QRegularExpression deliveredLine(QStringLiteral("client2 +\\| message (\\d+) to client1 delivered (\\d+) ms later"));
    QHash<QString, qsizetype> heldAt;
    QHash<QString, qsizetype> deliveredAt;
    for (qsizetype i = 0; i < lines.size(); ++i) {
        if (const QRegularExpressionMatch m = heldLine.match(lines.at(i)); m.hasMatch())
            heldAt.insert(m.captured(1), i);
        if (const QRegularExpressionMatch m = deliveredLine.match(lines.at(i)); m.hasMatch())
            deliveredAt.insert(m.captured(1), i);
    }
    QVERIFY2(heldAt.size() >= 2, qPrintable(QStringLiteral("%1 held message(s)").arg(heldAt.size())));
    QCOMPARE(deliveredAt.size(), heldAt.size());
    for (auto it = heldAt.cbegin(); it != heldAt.cend(); ++it) {
        QVERIFY2(deliveredAt.contains(it.key()), qPrintable(QStringLiteral("message %1 held, never delivered").arg(it.key())));
        QVERIFY(it.value() > signalled);
        QVERIFY(deliveredAt.value(it.key()) > it.value());
        QVERIFY(deliveredAt.value(it.key()) > restarted);
    }

    // The end summary: nothing expired, nothing refused, nothing left unanswered.
    const QRegularExpression summary(QStringLiteral(
        "demo +\\| client2's messages to client1: sent (\\d+), delivered (\\d+), held (\\d+), expired (\\d+), not delivered (\\d+), unanswered (\\d+)"));
    const QRegularExpressionMatch counts = summary.match(output);
    QVERIFY(counts.hasMatch());
    QVERIFY(counts.captured(1).toInt() > 0);
    QCOMPARE(counts.captured(2).toInt(), counts.captured(1).toInt());
    QCOMPARE(counts.captured(3).toInt(), int(heldAt.size()));
    QCOMPARE(counts.captured(4).toInt(), 0);
    QCOMPARE(counts.captured(5).toInt(), 0);
    QCOMPARE(counts.captured(6).toInt(), 0);
}

QTEST_GUILESS_MAIN(tst_Demo)
#include "tst_demo.moc"
