// BridgeManager::reconfigure through Broker::reconfigureBridge, in-process, against mosquittos this
// test starts: what a reload of [bridge] does at run time. A new URL reconnects to the new MQTT
// broker; new bounds apply with the link kept; an empty URL stops the bridge, and a URL again
// starts it; settings that cannot be applied leave the old ones in force. A broker that never had
// a [bridge] has no BridgeManager at all.
#include "bridgemanager.h"
#include "broker.h"
#include "mosquittoprocess.h"
#include "testbroker.h"

#include <QTemporaryDir>
#include <QTest>

using namespace KennelTest;

class TestBridgeReconfigure : public QObject
{
    Q_OBJECT

private slots:
    void unconfiguredHasNoBridge()
    {
        TestBroker broker;
        QVERIFY(broker.start());
        QVERIFY(!broker.broker().bridge());
        QString error;
        QVERIFY(broker.broker().reconfigureBridge(Kennel::BridgeSettings{}, &error));
        QVERIFY(!broker.broker().bridge());
    }

    void reconfigureAtRunTime()
    {
        MosquittoProcess first, second;
        QVERIFY(first.start());
        QVERIFY(second.start());
        QTemporaryDir dir;
        Kennel::BridgeSettings settings;
        settings.url = first.url();
        settings.board = "R";
        settings.spoolPath = dir.filePath(QStringLiteral("r.spool"));
        settings.reconnectMin = std::chrono::milliseconds(100);
        settings.reconnectMax = std::chrono::milliseconds(500);

        Kennel::BrokerConfig config;
        config.bridge = settings;
        TestBroker broker(config);
        QVERIFY(broker.start());
        Kennel::BridgeManager *bridge = broker.broker().bridge();
        QVERIFY(bridge);
        QTRY_VERIFY_WITH_TIMEOUT(bridge->state().connected, 10000);
        QCOMPARE(bridge->state().connects, quint64(1));

        // Bounds only: the link is kept.
        Kennel::BridgeSettings bounds = settings;
        bounds.spoolMaxBytes = 8192;
        bounds.statusTimeout = std::chrono::milliseconds(1234);
        QString error;
        QVERIFY2(broker.broker().reconfigureBridge(bounds, &error), qPrintable(error));
        QTest::qWait(300);
        QVERIFY(bridge->state().connected);
        QCOMPARE(bridge->state().connects, quint64(1));
        QCOMPARE(bridge->settings().spoolMaxBytes, qint64(8192));

        // A new URL: reconnects to the other MQTT broker; the first can go away unnoticed.
        Kennel::BridgeSettings moved = bounds;
        moved.url = second.url();
        QVERIFY2(broker.broker().reconfigureBridge(moved, &error), qPrintable(error));
        QTRY_VERIFY_WITH_TIMEOUT(bridge->state().connected && bridge->state().connects == 2, 10000);
        first.stop();
        QTest::qWait(300);
        QVERIFY(bridge->state().connected);
        QCOMPARE(broker.broker().config().bridge.url, second.url());

        // Unusable settings (an unreadable password file): refused, the old ones stay.
        Kennel::BridgeSettings broken = moved;
        broken.username = QStringLiteral("u");
        broken.passwordFile = dir.filePath(QStringLiteral("missing"));
        QVERIFY(!broker.broker().reconfigureBridge(broken, &error));
        QVERIFY(error.contains(QStringLiteral("password_file")));
        QVERIFY(bridge->state().connected);
        QCOMPARE(broker.broker().config().bridge.url, second.url());

        // Off, then on again.
        QVERIFY(broker.broker().reconfigureBridge(Kennel::BridgeSettings{}, &error));
        QVERIFY(!bridge->state().connected);
        QCOMPARE(bridge->statusText(), QStringLiteral("bridge off"));
        QVERIFY2(broker.broker().reconfigureBridge(moved, &error), qPrintable(error));
        QTRY_VERIFY_WITH_TIMEOUT(bridge->state().connected, 10000);
    }
};

QTEST_GUILESS_MAIN(TestBridgeReconfigure)
#include "tst_bridgereconfigure.moc"
