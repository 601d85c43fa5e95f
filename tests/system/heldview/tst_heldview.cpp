// Held delivery through the operator's eyes (PROTOCOL §6.7, docs/KENNELCTL.md): a real broker
// process, an old-protocol client that registers with the watchdog and never feeds — killed
// (SIGTERM) by the watchdog — messages sent to its name while it is gone, and kennelctl's
// `status --json`, `clients --json` and `watch --json` as an operator runs them: the held count
// and bytes per name (a name with no client), the change as it happens, zero again once the name
// registers again and takes them, and the totals that counted each step.
#include "brokerprocess.h"
#include "heldpeer.h"
#include "testbroker.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTest>

using KennelTest::BrokerProcess;
using KennelTest::HeldPeer;
using KennelTest::RawPeer;
using namespace Kennel;

namespace {

QString kennelctl()
{
    return KennelTest::binaryPath(QStringLiteral("kennelctl"));
}

QByteArray runCtl(const QStringList &arguments, int *exitCode)
{
    QProcess process;
    process.start(kennelctl(), arguments);
    if (!process.waitForFinished(20000)) {
        process.kill();
        process.waitForFinished(5000);
        *exitCode = -1;
        return {};
    }
    *exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
    return process.readAllStandardOutput();
}

QJsonObject byName(const QJsonArray &array, const QString &name)
{
    for (const QJsonValue &v : array) {
        if (v.toObject().value(QStringLiteral("name")).toString() == name)
            return v.toObject();
    }
    return {};
}

} // namespace

class tst_HeldView : public QObject
{
    Q_OBJECT

private slots:
    void heldForKilledClientThenDelivered();
};

void tst_HeldView::heldForKilledClientThenDelivered()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = "[watchdog]\ndefault_interval_ms = 200\ndefault_allowed_misses = 2\nkill_grace_ms = 500\n"
                         "[hold]\nlost_window_ms = 30000\nttl_ms = 30000\n"
                         "[monitor]\ntotals_interval_ms = 200\n";
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    const QString address = broker.unixAddress();

    // `watch` from the start: the held records as they change are lines of their own.
    QProcess watch;
    watch.start(kennelctl(), {QStringLiteral("watch"), QStringLiteral("--json"), QStringLiteral("--broker"), address});
    QVERIFY(watch.waitForStarted());
    QList<QJsonObject> events;
    const auto heldLine = [&](const QString &detailPrefix) {
        while (watch.canReadLine())
            events.append(QJsonDocument::fromJson(watch.readLine()).object());
        for (const QJsonObject &e : std::as_const(events)) {
            if (e.value(QStringLiteral("event")).toString() == QLatin1String("held")
                && e.value(QStringLiteral("name")).toString() == QLatin1String("slowpoke")
                && e.value(QStringLiteral("detail")).toString().startsWith(detailPrefix))
                return true;
        }
        return false;
    };
    QByteArray watchErr;
    QTRY_VERIFY_WITH_TIMEOUT((watchErr += watch.readAllStandardError()).contains("watching"), 10000); // past its snapshot

    // An old program that registers with the watchdog and never feeds: it expires and is sent SIGTERM.
    QProcess slowpoke;
    slowpoke.start(KennelTest::binaryPath(QStringLiteral("kennel-legacy-client")),
                   {QStringLiteral("--name"), QStringLiteral("slowpoke"), QStringLiteral("--peer"), QStringLiteral("nobody"),
                    QStringLiteral("--host"), QStringLiteral("127.0.0.1"), QStringLiteral("--port"), QString::number(broker.tcpPort()),
                    QStringLiteral("--send-interval-ms"), QStringLiteral("100000"), QStringLiteral("--watchdog"),
                    QStringLiteral("--feed-interval-ms"), QStringLiteral("100000"), QStringLiteral("--quiet-feed")});
    QVERIFY(slowpoke.waitForStarted());
    QVERIFY2(slowpoke.waitForFinished(15000), "the watchdog never ended the client that stopped feeding");
    int code = -1;
    // Until the broker has closed its connections the name is still registered.
    QTRY_VERIFY_WITH_TIMEOUT(byName(QJsonDocument::fromJson(runCtl({QStringLiteral("clients"), QStringLiteral("--json"),
                                                                    QStringLiteral("--broker"), address}, &code)).array(),
                                    QStringLiteral("slowpoke")).isEmpty(),
                             10000);

    // Sent while it is gone: held for it, the name being expected back (lost_window_ms).
    HeldPeer sender; // hears `held` at once (the held_status feature)
    QVERIFY(sender.connectAs(broker.tcpPort(), "hv-sender"));
    const QList<QByteArray> texts{"first", "second", "third!"};
    for (qsizetype i = 0; i < texts.size(); ++i)
        sender.sendTo("slowpoke", texts.at(i), quint32(i + 1));
    for (qsizetype i = 0; i < texts.size(); ++i) {
        const auto s = sender.nextStatus();
        QVERIFY(s);
        QCOMPARE(s->first, quint32(i + 1));
        QCOMPARE(s->second, DeliveryStatus::Held);
    }

    QJsonObject entry;
    // The name has no client: `clients` lists it as not connected, with what is held for it.
    QTRY_VERIFY_WITH_TIMEOUT((entry = byName(QJsonDocument::fromJson(runCtl({QStringLiteral("clients"), QStringLiteral("--json"),
                                                                              QStringLiteral("--broker"), address}, &code)).array(),
                                             QStringLiteral("slowpoke")),
                              entry.value(QStringLiteral("heldCount")).toInt() == 3),
                             10000);
    QCOMPARE(code, 0);
    QCOMPARE(entry.value(QStringLiteral("connected")).toBool(true), false);
    QCOMPARE(entry.value(QStringLiteral("heldBytes")).toInt(), 5 + 6 + 6);
    QVERIFY(entry.value(QStringLiteral("heldOldestAgeMs")).toInteger() >= 0);
    // The same as a table, for people: a row marked not connected, its HELD cell.
    const QByteArray table = runCtl({QStringLiteral("clients"), QStringLiteral("--broker"), address}, &code);
    QCOMPARE(code, 0);
    QVERIFY2(table.contains("HELD") && table.contains("not-connected") && table.contains("3 (17 B, oldest"), table.constData());

    QJsonObject status = QJsonDocument::fromJson(runCtl({QStringLiteral("status"), QStringLiteral("--json"),
                                                         QStringLiteral("--broker"), address}, &code)).object();
    QCOMPARE(code, 0);
    QJsonObject held = status.value(QStringLiteral("totals")).toObject().value(QStringLiteral("held")).toObject();
    QCOMPARE(held.value(QStringLiteral("messages")).toInt(), 3);
    QCOMPARE(held.value(QStringLiteral("bytes")).toInt(), 17);
    QCOMPARE(held.value(QStringLiteral("names")).toInt(), 1);
    QCOMPARE(held.value(QStringLiteral("held")).toInt(), 3);
    QCOMPARE(held.value(QStringLiteral("delivered")).toInt(), 0);
    QVERIFY(status.value(QStringLiteral("totals")).toObject().value(QStringLiteral("expiries")).toInt() >= 1);
    QCOMPARE(status.value(QStringLiteral("totals")).toObject().value(QStringLiteral("bridge")).toObject()
                 .value(QStringLiteral("state")).toString(), QStringLiteral("none"));
    QCOMPARE(byName(status.value(QStringLiteral("held")).toArray(), QStringLiteral("slowpoke")).value(QStringLiteral("heldCount")).toInt(), 3);
    // And as text: the held line names it, the bridge line says there is none.
    const QByteArray statusText = runCtl({QStringLiteral("status"), QStringLiteral("--broker"), address}, &code);
    QCOMPARE(code, 0);
    QVERIFY2(statusText.contains("held:") && statusText.contains("3 now (17 B) for 1 name(s): slowpoke 3 (17 B, oldest")
                 && statusText.contains("bridge:") && statusText.contains("none"),
             statusText.constData());
    QTRY_VERIFY_WITH_TIMEOUT(heldLine(QStringLiteral("3 (")), 10000);

    // It comes back (natively this time) and takes them, in order; the count goes to zero.
    RawPeer back;
    QVERIFY(back.connectTcp(broker.tcpPort()));
    QVERIFY(back.registerAs("slowpoke"));
    for (const QByteArray &text : texts) {
        const std::optional<Frame> d = back.take(FrameType::Deliver);
        QVERIFY(d);
        QCOMPARE(d->payload, text);
    }
    for (quint32 id = 1; id <= 3; ++id) {
        const auto s = sender.nextStatus();
        QVERIFY(s);
        QCOMPARE(s->first, id);
        QCOMPARE(s->second, DeliveryStatus::Delivered);
    }
    QTRY_VERIFY_WITH_TIMEOUT(heldLine(QStringLiteral("none")), 10000);
    entry = byName(QJsonDocument::fromJson(runCtl({QStringLiteral("clients"), QStringLiteral("--json"), QStringLiteral("--broker"),
                                                   address}, &code)).array(),
                   QStringLiteral("slowpoke"));
    QCOMPARE(code, 0);
    QCOMPARE(entry.value(QStringLiteral("connected")).toBool(), true);
    QCOMPARE(entry.value(QStringLiteral("heldCount")).toInt(-1), 0);
    status = QJsonDocument::fromJson(runCtl({QStringLiteral("status"), QStringLiteral("--json"), QStringLiteral("--broker"),
                                             address}, &code)).object();
    held = status.value(QStringLiteral("totals")).toObject().value(QStringLiteral("held")).toObject();
    QCOMPARE(held.value(QStringLiteral("messages")).toInt(-1), 0);
    QCOMPARE(held.value(QStringLiteral("names")).toInt(-1), 0);
    QCOMPARE(held.value(QStringLiteral("held")).toInt(), 3);
    QCOMPARE(held.value(QStringLiteral("delivered")).toInt(), 3);
    QCOMPARE(held.value(QStringLiteral("expired")).toInt(-1), 0);
    QVERIFY(status.value(QStringLiteral("held")).toArray().isEmpty());

    watch.terminate();
    QVERIFY(watch.waitForFinished(10000));
    QCOMPARE(broker.stopVerdict(), QString());
}

QTEST_GUILESS_MAIN(tst_HeldView)
#include "tst_heldview.moc"
