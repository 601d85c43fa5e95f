// MonitorControlHandler without a broker or a socket: the operator's commands against fake
// MonitorServiceView / MonitorActions, so every check and every result text is pinned where the
// stream tests (tst_monitorstream) can only reach a few of them through a live broker.
#include "monitoractions.h"
#include "monitorcontrolhandler.h"
#include "monitorserviceview.h"

#include <QList>
#include <QRegularExpression>
#include <QTest>

using namespace Kennel;

namespace {

class FakeServices final : public MonitorServiceView
{
public:
    const QList<Service *> &services() const override { return m_none; }
    Service *service(const QString &name) const override
    {
        asked.append(name);
        return nullptr;
    }
    const Service *serviceOwning(qint64) const override { return nullptr; }

    mutable QStringList asked;

private:
    QList<Service *> m_none;
};

class FakeActions final : public MonitorActions
{
public:
    int disconnectClient(const QByteArray &name, const QString &who) override
    {
        disconnected.append(name);
        lastWho = who;
        return closeCount;
    }
    TestDelivery sendTestMessage(const QByteArray &target, const QByteArray &text) override
    {
        sentTo.append(target);
        lastText = text;
        TestDelivery delivery;
        delivery.status = status;
        delivery.sender = "kennel-monitor";
        return delivery;
    }
    bool reloadConfig(const QString &who, QString *summary) override
    {
        reloadsAsked.append(who);
        *summary = reloadSummary;
        return reloadOk;
    }
    void setTrafficTap(TrafficTap *tap) override { m_tap = tap; }
    const TrafficTap *trafficTap() const override { return m_tap; }

    QStringList reloadsAsked;
    bool reloadOk = true;
    QString reloadSummary = QStringLiteral("configuration reloaded: no changes");

    int closeCount = -1;
    DeliveryStatus status = DeliveryStatus::Delivered;
    QList<QByteArray> disconnected;
    QList<QByteArray> sentTo;
    QString lastWho;
    QByteArray lastText;

private:
    TrafficTap *m_tap = nullptr;
};

MonitorControl request(MonitorControlAction action, const QByteArray &target, const QByteArray &text = {})
{
    MonitorControl r;
    r.action = action;
    r.target = target;
    r.text = text;
    return r;
}

constexpr int MaxName = 32;
const QString Who = QStringLiteral("monitor 'ops' (unix uid 0)");

} // namespace

class tst_MonitorControlHandler : public QObject
{
    Q_OBJECT
private slots:
    void targetBounds_data();
    void targetBounds();
    void stoppingRefusesEverything();
    void disconnect_data();
    void disconnect();
    void testMessage_data();
    void testMessage();
    void unknownService_data();
    void unknownService();
    void logLineNamesWhoAndPrintableTarget();
    void reloadNeedsNoTarget();
    void reloadRejectedIsNotPermitted();
    void readOnlyRefusedBeforeAnything_data();
    void readOnlyRefusedBeforeAnything();
    void readOnlyLogIsRateLimited();
};

void tst_MonitorControlHandler::targetBounds_data()
{
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("text");
    const QString bounds = QStringLiteral("a control needs a target name of 1 to 256 bytes");
    QTest::newRow("empty") << QByteArray() << int(ErrorCode::InvalidName) << bounds;
    QTest::newRow("257 bytes") << QByteArray(257, 'a') << int(ErrorCode::InvalidName) << bounds;
    // Within the control's bound but past the configured name length: not a client name.
    QTest::newRow("256 bytes") << QByteArray(256, 'a') << int(ErrorCode::InvalidName)
                               << QStringLiteral("'%1' is not a client name").arg(QString(256, QLatin1Char('a')));
    QTest::newRow("bad characters") << QByteArray("a b\x01") << int(ErrorCode::InvalidName)
                                    << QStringLiteral("'a b?' is not a client name");
}

void tst_MonitorControlHandler::targetBounds()
{
    QFETCH(QByteArray, target);
    QFETCH(int, code);
    QFETCH(QString, text);
    FakeServices services;
    FakeActions actions;
    MonitorControlHandler handler(MaxName, services, actions);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("asked to disconnect client")));
    const MonitorControlResult result = handler.handle(Who, MonitorRole::Operator, request(MonitorControlAction::DisconnectClient, target), false);
    QCOMPARE(int(result.code), code);
    QCOMPARE(result.text, text);
    QVERIFY(actions.disconnected.isEmpty()); // refused before anything was touched
}

void tst_MonitorControlHandler::stoppingRefusesEverything()
{
    FakeServices services;
    FakeActions actions;
    actions.closeCount = 1;
    MonitorControlHandler handler(MaxName, services, actions);
    for (MonitorControlAction action : {MonitorControlAction::DisconnectClient, MonitorControlAction::SendTestMessage,
                                        MonitorControlAction::RestartService, MonitorControlAction::StopService,
                                        MonitorControlAction::StartService, MonitorControlAction::ReloadConfig}) {
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(": shutting_down - the broker is shutting down$")));
        const MonitorControlResult result = handler.handle(Who, MonitorRole::Operator, request(action, "alpha", "hi"), true);
        QCOMPARE(result.code, ErrorCode::ShuttingDown);
        QCOMPARE(result.text, QStringLiteral("the broker is shutting down"));
    }
    QVERIFY(actions.disconnected.isEmpty());
    QVERIFY(actions.sentTo.isEmpty());
    QVERIFY(services.asked.isEmpty());
    QVERIFY(actions.reloadsAsked.isEmpty());
}

void tst_MonitorControlHandler::disconnect_data()
{
    QTest::addColumn<int>("closeCount");
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("text");
    QTest::newRow("nobody") << -1 << int(ErrorCode::NotRegistered) << QStringLiteral("no client named 'alpha'");
    QTest::newRow("registered, already closed") << 0 << int(ErrorCode::None) << QStringLiteral("closed 0 connections of 'alpha'");
    QTest::newRow("one") << 1 << int(ErrorCode::None) << QStringLiteral("closed 1 connection of 'alpha'");
    QTest::newRow("legacy pair") << 2 << int(ErrorCode::None) << QStringLiteral("closed 2 connections of 'alpha'");
}

void tst_MonitorControlHandler::disconnect()
{
    QFETCH(int, closeCount);
    QFETCH(int, code);
    QFETCH(QString, text);
    FakeServices services;
    FakeActions actions;
    actions.closeCount = closeCount;
    MonitorControlHandler handler(MaxName, services, actions);
    QTest::ignoreMessage(code == int(ErrorCode::None) ? QtInfoMsg : QtWarningMsg,
                         QRegularExpression(QStringLiteral("asked to disconnect client 'alpha'")));
    const MonitorControlResult result = handler.handle(Who, MonitorRole::Operator, request(MonitorControlAction::DisconnectClient, "alpha"), false);
    QCOMPARE(int(result.code), code);
    QCOMPARE(result.text, text);
    QCOMPARE(actions.disconnected, QList<QByteArray>{"alpha"});
    QCOMPARE(actions.lastWho, Who); // the Bye and the close reason name the operator
}

void tst_MonitorControlHandler::testMessage_data()
{
    QTest::addColumn<int>("status");
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("text");
    QTest::newRow("delivered") << int(DeliveryStatus::Delivered) << int(ErrorCode::None)
                               << QStringLiteral("delivered to 'beta' as from 'kennel-monitor' (5 bytes)");
    QTest::newRow("no such client") << int(DeliveryStatus::NoSuchClient) << int(ErrorCode::NotRegistered)
                                    << QStringLiteral("%1: no client named 'beta' receives messages")
                                           .arg(QLatin1String(deliveryStatusName(DeliveryStatus::NoSuchClient)));
    QTest::newRow("too large") << int(DeliveryStatus::TooLargeForTarget) << int(ErrorCode::FrameTooLarge)
                               << QStringLiteral("%1: 'beta' cannot take 5 bytes")
                                      .arg(QLatin1String(deliveryStatusName(DeliveryStatus::TooLargeForTarget)));
    QTest::newRow("queue full") << int(DeliveryStatus::TargetQueueFull) << int(ErrorCode::NotPermitted)
                                << QStringLiteral("%1: not delivered to 'beta'")
                                       .arg(QLatin1String(deliveryStatusName(DeliveryStatus::TargetQueueFull)));
    QTest::newRow("shutting down") << int(DeliveryStatus::ShuttingDown) << int(ErrorCode::ShuttingDown)
                                   << QString::fromLatin1(deliveryStatusName(DeliveryStatus::ShuttingDown));
}

void tst_MonitorControlHandler::testMessage()
{
    QFETCH(int, status);
    QFETCH(int, code);
    QFETCH(QString, text);
    FakeServices services;
    FakeActions actions;
    actions.status = DeliveryStatus(status);
    MonitorControlHandler handler(MaxName, services, actions);
    QTest::ignoreMessage(code == int(ErrorCode::None) ? QtInfoMsg : QtWarningMsg,
                         QRegularExpression(QStringLiteral("asked to send a test message to 'beta'")));
    const MonitorControlResult result = handler.handle(Who, MonitorRole::Operator, request(MonitorControlAction::SendTestMessage, "beta", "hello"), false);
    QCOMPARE(int(result.code), code);
    QCOMPARE(result.text, text);
    QCOMPARE(actions.sentTo, QList<QByteArray>{"beta"});
    QCOMPARE(actions.lastText, QByteArray("hello"));
}

void tst_MonitorControlHandler::unknownService_data()
{
    QTest::addColumn<int>("action");
    QTest::addColumn<QString>("verb");
    QTest::newRow("restart") << int(MonitorControlAction::RestartService) << QStringLiteral("restart service");
    QTest::newRow("stop") << int(MonitorControlAction::StopService) << QStringLiteral("stop service");
    QTest::newRow("start") << int(MonitorControlAction::StartService) << QStringLiteral("start service");
}

void tst_MonitorControlHandler::unknownService()
{
    QFETCH(int, action);
    QFETCH(QString, verb);
    FakeServices services;
    FakeActions actions;
    MonitorControlHandler handler(MaxName, services, actions);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("asked to %1 'web': not_registered - ").arg(verb)));
    const MonitorControlResult result = handler.handle(Who, MonitorRole::Operator, request(MonitorControlAction(action), "web"), false);
    QCOMPARE(result.code, ErrorCode::NotRegistered);
    QCOMPARE(result.text, QStringLiteral("no service named 'web'"));
    QCOMPARE(services.asked, QStringList{QStringLiteral("web")});
    QVERIFY(actions.disconnected.isEmpty());
}

void tst_MonitorControlHandler::logLineNamesWhoAndPrintableTarget()
{
    FakeServices services;
    FakeActions actions;
    MonitorControlHandler handler(MaxName, services, actions);
    // A target a peer chose is logged with anything unprintable as '?', after who asked.
    QTest::ignoreMessage(QtWarningMsg, "monitor 'ops' (unix uid 0) asked to disconnect client 'x?y': invalid_name - 'x?y' is not a client name");
    handler.handle(Who, MonitorRole::Operator, request(MonitorControlAction::DisconnectClient, QByteArray("x\ny")), false);
}

// ReloadConfig acts on the broker itself: an empty target is no reason to refuse it, and the
// broker's summary is the answer.
void tst_MonitorControlHandler::reloadNeedsNoTarget()
{
    FakeServices services;
    FakeActions actions;
    MonitorControlHandler handler(MaxName, services, actions);
    QTest::ignoreMessage(QtInfoMsg, QRegularExpression(QStringLiteral("asked to reload the configuration of '': configuration reloaded")));
    const MonitorControlResult result = handler.handle(Who, MonitorRole::Operator, request(MonitorControlAction::ReloadConfig, QByteArray()), false);
    QCOMPARE(result.code, ErrorCode::None);
    QCOMPARE(result.text, QStringLiteral("configuration reloaded: no changes"));
    QCOMPARE(actions.reloadsAsked, QStringList{Who});
}

void tst_MonitorControlHandler::reloadRejectedIsNotPermitted()
{
    FakeServices services;
    FakeActions actions;
    actions.reloadOk = false;
    actions.reloadSummary = QStringLiteral("configuration rejected (1 error); the running configuration is kept");
    MonitorControlHandler handler(MaxName, services, actions);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("not_permitted - configuration rejected")));
    const MonitorControlResult result = handler.handle(Who, MonitorRole::Operator, request(MonitorControlAction::ReloadConfig, "broker"), false);
    QCOMPARE(result.code, ErrorCode::NotPermitted);
    QCOMPARE(result.text, actions.reloadSummary);
}

// PROTOCOL: every control action of a read-only monitor is refused with read_only,
// counted, and nothing reaches the broker (no client closed, no message sent, no service looked
// up, no reload), whatever the target, even while stopping.
void tst_MonitorControlHandler::readOnlyRefusedBeforeAnything_data()
{
    QTest::addColumn<int>("action");
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<bool>("stopping");
    QTest::newRow("disconnect") << int(MonitorControlAction::DisconnectClient) << QByteArray("alpha") << false;
    QTest::newRow("test message") << int(MonitorControlAction::SendTestMessage) << QByteArray("alpha") << false;
    QTest::newRow("restart") << int(MonitorControlAction::RestartService) << QByteArray("web") << false;
    QTest::newRow("stop") << int(MonitorControlAction::StopService) << QByteArray("web") << false;
    QTest::newRow("start") << int(MonitorControlAction::StartService) << QByteArray("web") << false;
    QTest::newRow("reload") << int(MonitorControlAction::ReloadConfig) << QByteArray() << false;
    QTest::newRow("bad target") << int(MonitorControlAction::DisconnectClient) << QByteArray(300, 'x') << false;
    QTest::newRow("stopping") << int(MonitorControlAction::StopService) << QByteArray("web") << true;
}

void tst_MonitorControlHandler::readOnlyRefusedBeforeAnything()
{
    QFETCH(int, action);
    QFETCH(QByteArray, target);
    QFETCH(bool, stopping);
    FakeServices services;
    FakeActions actions;
    actions.closeCount = 1;
    MonitorControlHandler handler(MaxName, services, actions);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("read_only - refused, a read-only monitor may not act \\(1 refused in all\\)")));
    const MonitorControlResult result = handler.handle(Who, MonitorRole::ReadOnly, request(MonitorControlAction(action), target, "hi"), stopping);
    QCOMPARE(result.code, ErrorCode::ReadOnly);
    QCOMPARE(QLatin1String(errorCodeName(result.code)), QLatin1String("read_only"));
    QVERIFY2(result.text.contains(QLatin1String("read-only")), qPrintable(result.text));
    QCOMPARE(handler.readOnlyRefused(), quint64(1));
    QVERIFY(actions.disconnected.isEmpty());
    QVERIFY(actions.sentTo.isEmpty());
    QVERIFY(actions.reloadsAsked.isEmpty());
    QVERIFY(services.asked.isEmpty());
    // The same request from an operator goes through (here: reaches the fakes).
    QTest::ignoreMessage(stopping || action == int(MonitorControlAction::RestartService) || action == int(MonitorControlAction::StopService)
                                 || action == int(MonitorControlAction::StartService) || target.size() > 256
                             ? QtWarningMsg : QtInfoMsg,
                         QRegularExpression(QStringLiteral("asked to")));
    const MonitorControlResult operatorResult = handler.handle(Who, MonitorRole::Operator, request(MonitorControlAction(action), target, "hi"), stopping);
    QVERIFY(operatorResult.code != ErrorCode::ReadOnly);
    QCOMPARE(handler.readOnlyRefused(), quint64(1));
}

void tst_MonitorControlHandler::readOnlyLogIsRateLimited()
{
    FakeServices services;
    FakeActions actions;
    MonitorControlHandler handler(MaxName, services, actions);
    // 5 lines a second; the rest are counted (and summed up once a second has passed).
    QTest::failOnWarning(QRegularExpression(QStringLiteral("read_only - refused")));
    for (int i = 0; i < 5; ++i)
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("read_only - refused")));
    for (int i = 0; i < 50; ++i)
        QCOMPARE(handler.handle(Who, MonitorRole::ReadOnly, request(MonitorControlAction::StopService, "web"), false).code, ErrorCode::ReadOnly);
    QCOMPARE(handler.readOnlyRefused(), quint64(50));
}

QTEST_GUILESS_MAIN(tst_MonitorControlHandler)
#include "tst_monitorcontrolhandler.moc"
