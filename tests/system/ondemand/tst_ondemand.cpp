// Start on demand ([service.NAME] start = on-demand, docs/CONFIG.md, PROTOCOL §5.4): a broker in
// this process, real supervised programs, raw peers as senders. What each test would catch is
// said at its top.
#include "heldpeer.h"
#include "testbroker.h"

#include "configloader.h"
#include "helddelivery.h"
#include "supervisor.h"

#include <QElapsedTimer>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

using namespace Kennel;
using namespace KennelTest;
using namespace std::chrono_literals;

class tst_OnDemand : public QObject
{
    Q_OBJECT

private slots:
    void firstMessageStartsServiceAndIsDelivered();
    void programExitingAtOnceAnswersStartFailed();
    void programNeverRegisteringAnswersStartFailedAfterTimeout();
    void checkConfigRefusesNonsense();

private:
    static BrokerConfig baseConfig();
};

BrokerConfig tst_OnDemand::baseConfig()
{
    BrokerConfig config;
    ListenAddress tcp;
    tcp.kind = ListenAddress::Kind::Tcp;
    tcp.host = QStringLiteral("127.0.0.1");
    tcp.port = 0;
    config.listen = {tcp};
    return config;
}

// The service is not started with the broker (no pid file, no start, for a second); the first
// message to its name is held and starts it; the program registers and gets it, and the sender
// hears held then delivered. Without on-demand the service would run from the start (the pid file
// exists) or the message would be answered no_such_client.
void tst_OnDemand::firstMessageStartsServiceAndIsDelivered()
{
    QTemporaryDir dir;
    const QString pidFile = dir.filePath(QStringLiteral("odsvc.pid"));
    BrokerConfig config = baseConfig();
    ServiceSettings service;
    service.name = QStringLiteral("odsvc");
    service.program = QStringLiteral("/bin/sh");
    service.arguments = {QStringLiteral("-c"), QStringLiteral("echo $$ > \"$0\"; exec \"$1\" --name odsvc --peer nobody --interval-ms 100000"),
                         pidFile, binaryPath(QStringLiteral("kennel-demo-client"))};
    service.start = ServiceSettings::Start::OnDemand;
    config.services = {service};
    TestBroker broker(config);
    QVERIFY(broker.start());
    Service *supervised = broker.broker().supervisor().service(QStringLiteral("odsvc"));
    QVERIFY(supervised);
    QTest::qWait(1000); // a with-broker service would have started and written its pid file by now
    QCOMPARE(supervised->state(), Service::State::Stopped);
    QCOMPARE(supervised->status().starts, 0);
    QVERIFY(!QFile::exists(pidFile));

    HeldPeer sender;
    QVERIFY(sender.connectAs(broker.tcpPort(), "snd"));
    sender.sendTo("odsvc", "wake up", 7);
    auto status = sender.nextStatus(2000);
    QVERIFY(status);
    QCOMPARE(status->first, quint32(7));
    QCOMPARE(status->second, DeliveryStatus::Held);
    status = sender.nextStatus(10000);
    QVERIFY(status);
    QCOMPARE(status->first, quint32(7));
    QCOMPARE(status->second, DeliveryStatus::Delivered);
    QVERIFY(QFile::exists(pidFile));
    QCOMPARE(supervised->status().starts, 1);
    QCOMPARE(broker.broker().held().counters().onDemandStarts, quint64(1));
    QCOMPARE(broker.broker().held().counters().startFailures, quint64(0));

    // Registered now: the next message goes straight through, nothing is started again.
    sender.sendTo("odsvc", "again", 8);
    status = sender.nextStatus(5000);
    QVERIFY(status);
    QCOMPARE(status->second, DeliveryStatus::Delivered);
    QCOMPARE(supervised->status().starts, 1);
}

// A program that exits before it registers: every message held for it meanwhile (two senders)
// is answered start_failed and dropped (the hold table counts them), and the service is left down
// for the next message, which tries again. Without the failure path the messages would wait for
// their time to live and end `expired`.
void tst_OnDemand::programExitingAtOnceAnswersStartFailed()
{
    BrokerConfig config = baseConfig();
    config.hold.limits.ttl = 60000ms;
    ServiceSettings service;
    service.name = QStringLiteral("broken");
    service.program = QStringLiteral("/bin/sh");
    service.arguments = {QStringLiteral("-c"), QStringLiteral("sleep 0.5; exit 3")};
    service.start = ServiceSettings::Start::OnDemand;
    config.services = {service};
    TestBroker broker(config);
    QVERIFY(broker.start());
    HeldPeer a, b;
    QVERIFY(a.connectAs(broker.tcpPort(), "a"));
    QVERIFY(b.connectAs(broker.tcpPort(), "b"));
    QElapsedTimer clock;
    clock.start();
    a.sendTo("broken", "1", 1);
    b.sendTo("broken", "2", 2);
    auto sa = a.nextStatus(2000);
    auto sb = b.nextStatus(2000);
    QVERIFY(sa && sb);
    QCOMPARE(sa->second, DeliveryStatus::Held);
    QCOMPARE(sb->second, DeliveryStatus::Held);
    sa = a.nextStatus(10000);
    sb = b.nextStatus(10000);
    QVERIFY(sa && sb);
    QCOMPARE(sa->first, quint32(1));
    QCOMPARE(sa->second, DeliveryStatus::StartFailed);
    QCOMPARE(sb->first, quint32(2));
    QCOMPARE(sb->second, DeliveryStatus::StartFailed);
    QVERIFY(clock.elapsed() < 10000); // not the 60 s time to live
    QCOMPARE(broker.broker().held().table().counters().startFailed, quint64(2));
    QCOMPARE(broker.broker().held().table().count(), 0);
    QCOMPARE(broker.broker().held().counters().startFailures, quint64(1));
    Service *supervised = broker.broker().supervisor().service(QStringLiteral("broken"));
    QTRY_VERIFY_WITH_TIMEOUT(supervised->state() == Service::State::Stopped, 5000); // not restarted by policy
    QCOMPARE(supervised->status().starts, 1);

    // The next message tries again.
    a.sendTo("broken", "3", 3);
    sa = a.nextStatus(2000);
    QVERIFY(sa);
    QCOMPARE(sa->second, DeliveryStatus::Held);
    sa = a.nextStatus(10000);
    QVERIFY(sa);
    QCOMPARE(sa->first, quint32(3));
    QCOMPARE(sa->second, DeliveryStatus::StartFailed);
    QCOMPARE(supervised->status().starts, 2);
}

// A program that runs but never registers: start_failed once start_timeout_ms has passed (not
// before), and the program is stopped. Without the timeout the message would wait for its TTL.
void tst_OnDemand::programNeverRegisteringAnswersStartFailedAfterTimeout()
{
    BrokerConfig config = baseConfig();
    config.hold.limits.ttl = 60000ms;
    ServiceSettings service;
    service.name = QStringLiteral("silent");
    service.program = QStringLiteral("/bin/sleep");
    service.arguments = {QStringLiteral("30")};
    service.start = ServiceSettings::Start::OnDemand;
    service.startTimeout = 800ms;
    config.services = {service};
    TestBroker broker(config);
    QVERIFY(broker.start());
    Service *supervised = broker.broker().supervisor().service(QStringLiteral("silent"));
    HeldPeer a;
    QVERIFY(a.connectAs(broker.tcpPort(), "a"));
    QElapsedTimer clock;
    clock.start();
    a.sendTo("silent", "1", 1);
    auto status = a.nextStatus(2000);
    QVERIFY(status);
    QCOMPARE(status->second, DeliveryStatus::Held);
    QTRY_COMPARE_WITH_TIMEOUT(supervised->state(), Service::State::Running, 5000);
    status = a.nextStatus(10000);
    QVERIFY(status);
    const qint64 waited = clock.elapsed();
    QCOMPARE(status->second, DeliveryStatus::StartFailed);
    QVERIFY2(waited >= 750 && waited < 8000, qPrintable(QString::number(waited)));
    QTRY_COMPARE_WITH_TIMEOUT(supervised->state(), Service::State::Stopped, 10000);
    QCOMPARE(broker.broker().held().table().counters().startFailed, quint64(1));
}

// --check-config names an unknown start value, an out-of-range start_timeout_ms and on-demand
// without holding; a correct on-demand service passes.
void tst_OnDemand::checkConfigRefusesNonsense()
{
    QTemporaryDir dir;
    const auto check = [&](const QByteArray &ini, QString *err) {
        const QString path = dir.filePath(QStringLiteral("c.ini"));
        QFile file(path);
        if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
            return -1;
        file.write(ini);
        file.close();
        QProcess p;
        p.start(binaryPath(QStringLiteral("kennel-broker")), {QStringLiteral("--config"), path, QStringLiteral("--check-config")});
        if (!p.waitForFinished(10000))
            return -1;
        *err = QString::fromLocal8Bit(p.readAllStandardError());
        return p.exitCode();
    };
    QString err;
    QCOMPARE(check("[service.a]\nprogram = /bin/true\nstart = sometimes\n", &err), 1);
    QVERIFY2(err.contains(QStringLiteral("start")) && err.contains(QStringLiteral("sometimes")), qPrintable(err));
    QCOMPARE(check("[service.a]\nprogram = /bin/true\nstart = on-demand\nstart_timeout_ms = 5\n", &err), 1);
    QVERIFY2(err.contains(QStringLiteral("start_timeout_ms")), qPrintable(err));
    QCOMPARE(check("[service.a]\nprogram = /bin/true\nstart = on-demand\nhold = false\n", &err), 1);
    QVERIFY2(err.contains(QStringLiteral("on-demand needs hold")), qPrintable(err));
    QCOMPARE(check("[service.a]\nprogram = /bin/true\nstart = on-demand\nstart_timeout_ms = 2000\n", &err), 0);
}

QTEST_MAIN(tst_OnDemand)
#include "tst_ondemand.moc"
