// The tools the attack tests stand on must themselves be able to fail: a broker process that
// reports what it is, and a canary that notices when the broker stops delivering.
#include "brokerprocess.h"
#include "canary.h"

#include <QTest>

using namespace KennelTest;

class tst_TestSupport : public QObject
{
    Q_OBJECT

private slots:
    void brokerProcessReportsItself();
    void canaryHealthyOnQuietBroker();
    void canaryNoticesBrokerDeath();
    void restartKeepsThePort();
};

void tst_TestSupport::brokerProcessReportsItself()
{
    BrokerProcess broker;
    QString error;
    QVERIFY2(broker.start({}, &error), qPrintable(error));
    QVERIFY(broker.pid() > 0);
    QVERIFY(broker.tcpPort() != 0);
    QVERIFY(broker.rssKiB() > 0);
    QVERIFY(broker.openDescriptors() > 2);
    QVERIFY(broker.log().contains("listening on 127.0.0.1:"));
    const QString verdict = broker.stopVerdict();
    QVERIFY2(verdict.isEmpty(), qPrintable(verdict));
    QCOMPARE(broker.exitStatus(), QProcess::NormalExit);
    QVERIFY(!broker.stopVerdict().isEmpty()); // not running any more: says so
}

void tst_TestSupport::canaryHealthyOnQuietBroker()
{
    BrokerProcess broker;
    QVERIFY(broker.start());
    for (const QString &address : {broker.tcpAddress(), broker.unixAddress()}) {
        Canary canary;
        Canary::Options options;
        options.brokerAddress = address;
        QVERIFY2(canary.start(options), qPrintable(canary.verdict()));
        QTRY_VERIFY_WITH_TIMEOUT(canary.sent() >= 25, 5000);
        QVERIFY2(canary.healthy(), qPrintable(canary.verdict()));
        canary.stop();
        QVERIFY2(canary.healthy(), qPrintable(canary.verdict()));
        QCOMPARE(canary.received(), canary.sent());
        QVERIFY(canary.maxLatencyUs() > 0);
    }
}

void tst_TestSupport::canaryNoticesBrokerDeath()
{
    BrokerProcess broker;
    QVERIFY(broker.start());
    Canary canary;
    Canary::Options options;
    options.brokerAddress = broker.tcpAddress();
    QVERIFY(canary.start(options));
    QTRY_VERIFY_WITH_TIMEOUT(canary.sent() >= 5, 5000);
    broker.kill9();
    QVERIFY(!broker.stopVerdict().isEmpty());
    QTRY_VERIFY_WITH_TIMEOUT(!canary.healthy(), 5000);
    canary.stop(500);
    QVERIFY(!canary.healthy());
}

void tst_TestSupport::restartKeepsThePort()
{
    BrokerProcess broker;
    QVERIFY(broker.start());
    const quint16 port = broker.tcpPort();
    broker.kill9();
    QVERIFY(!broker.isRunning());
    QString error;
    QVERIFY2(broker.restart(&error), qPrintable(error));
    QCOMPARE(broker.tcpPort(), port);
    Canary canary;
    Canary::Options options;
    options.brokerAddress = broker.unixAddress(); // the stale socket file was replaced
    QVERIFY2(canary.start(options), qPrintable(canary.verdict()));
    QTRY_VERIFY_WITH_TIMEOUT(canary.sent() >= 5, 5000);
    canary.stop();
    QVERIFY2(canary.healthy(), qPrintable(canary.verdict()));
}

QTEST_GUILESS_MAIN(tst_TestSupport)
#include "tst_testsupport.moc"
