// Protocol conformance, PROTOCOL §6.6: monitor roles. One test function per numbered rule, named
// after it, each driving a real kennel-broker process through raw sockets. The CTest check
// protocol_rules_have_tests fails when a rule has no function in tst_conformance_*.cpp.
#include "conformancepeer.h"

#include <QDir>
#include <QFile>

#include <csignal>
#include <unistd.h>

using namespace ConformanceTest;

namespace {

const QByteArray OperatorToken = QByteArrayLiteral("r66-operator-token-0123456789");
const QByteArray ReadOnlyToken = QByteArrayLiteral("r66-read-only-token-0123456789");

QByteArray rolesConfig(const QByteArray &extra = {})
{
    return "[monitor]\ntoken = " + OperatorToken + "\nread_only_token = " + ReadOnlyToken + "\nfailure_delay_ms = 10\n" + extra
           + "[service.r66-sleeper]\nprogram = /bin/sleep\narguments = 600\nrestart = never\n";
}

// Admitted as a monitor (TCP with `token`, or the Unix socket without one), subscribed; the
// snapshot's first record, or nullopt.
std::optional<MonitorSnapshotBegin> admitAndSubscribe(Conn &m, const QByteArray &token)
{
    HelloPayload hello;
    hello.role = Role::Monitor;
    hello.token = token;
    m.hello("r66-monitor", 1, hello);
    const std::optional<Frame> welcome = m.next();
    if (!welcome || welcome->type != FrameType::Welcome)
        return std::nullopt;
    m.send(MonitorFrame::Subscribe, 2, {}, {}, encodeMonitorSubscribe({}));
    const std::optional<Frame> begin = m.take(MonitorFrame::SnapshotBegin);
    if (!begin)
        return std::nullopt;
    const std::optional<MonitorSnapshotBegin> decoded = decodeMonitorSnapshotBegin(begin->payload);
    m.take(MonitorFrame::SnapshotEnd);
    return decoded;
}

std::optional<MonitorControlResult> control(Conn &m, MonitorControlAction action, const QByteArray &target, quint32 id)
{
    MonitorControl c;
    c.action = action;
    c.target = target;
    m.send(MonitorFrame::Control, id, {}, {}, encodeMonitorControl(c));
    const std::optional<Frame> f = m.take(MonitorFrame::ControlResult);
    if (!f || f->messageId != id)
        return std::nullopt;
    return decodeMonitorControlResult(f->payload);
}

} // namespace

class tst_ConformanceRoles : public QObject
{
    Q_OBJECT

private slots:
    void R_6_6_1_roleByCredentialInSnapshot();
    void R_6_6_2_readOnlyControlRefusedNothingDone();
    void R_6_6_3_reloadChangesRolesOfNewMonitors();
};

void tst_ConformanceRoles::R_6_6_1_roleByCredentialInSnapshot()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker, rolesConfig()));
    Conn readOnly, op, local;
    QVERIFY(readOnly.tcp(broker.tcpPort()));
    const std::optional<MonitorSnapshotBegin> r = admitAndSubscribe(readOnly, ReadOnlyToken);
    QVERIFY(r);
    QCOMPARE(r->role, MonitorRole::ReadOnly);
    QCOMPARE(r->monitorIdentity, QStringLiteral("read-only token"));
    QVERIFY(op.tcp(broker.tcpPort()));
    const std::optional<MonitorSnapshotBegin> o = admitAndSubscribe(op, OperatorToken);
    QVERIFY(o);
    QCOMPARE(o->role, MonitorRole::Operator);
    QCOMPARE(o->monitorIdentity, QStringLiteral("token"));
    // Without role keys the uid that is admitted is an operator, as before roles.
    QVERIFY(local.unix(broker.unixPath()));
    const std::optional<MonitorSnapshotBegin> l = admitAndSubscribe(local, {});
    QVERIFY(l);
    QCOMPARE(l->role, MonitorRole::Operator);
}

void tst_ConformanceRoles::R_6_6_2_readOnlyControlRefusedNothingDone()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker, rolesConfig()));
    Conn client, readOnly, op;
    QVERIFY(client.tcp(broker.tcpPort()));
    QVERIFY(client.registerAs("r662-client"));
    QVERIFY(readOnly.tcp(broker.tcpPort()));
    QVERIFY(admitAndSubscribe(readOnly, ReadOnlyToken));
    const QList<std::pair<MonitorControlAction, QByteArray>> controls{
        {MonitorControlAction::DisconnectClient, "r662-client"}, {MonitorControlAction::SendTestMessage, "r662-client"},
        {MonitorControlAction::StopService, "r66-sleeper"},      {MonitorControlAction::RestartService, "r66-sleeper"},
        {MonitorControlAction::StartService, "r66-sleeper"},     {MonitorControlAction::ReloadConfig, "broker"}};
    quint32 id = 10;
    for (const auto &[action, target] : controls) {
        const std::optional<MonitorControlResult> result = control(readOnly, action, target, ++id);
        QVERIFY2(result, qPrintable(QStringLiteral("no result for action %1").arg(int(action))));
        QCOMPARE(result->code, ErrorCode::ReadOnly);
    }
    // Not fatal: the monitor stays, and may still ask what it may see.
    readOnly.send(FrameType::Ping, 30, {}, {}, {});
    QCOMPARE(readOnly.take(FrameType::Pong)->messageId, 30u);
    readOnly.send(MonitorFrame::InfoRequest, 31, {}, {}, {});
    QCOMPARE(readOnly.take(MonitorFrame::Info)->messageId, 31u);
    // Nothing was done: the client is connected and got no test message, the service runs.
    QVERIFY(client.quietFor(200));
    QVERIFY(!client.closed(1)); // still connected
    QVERIFY(!broker.log().contains("reload ("));
    QVERIFY(op.tcp(broker.tcpPort()));
    QVERIFY(admitAndSubscribe(op, OperatorToken));
    const std::optional<MonitorControlResult> start = control(op, MonitorControlAction::StartService, "r66-sleeper", 40);
    QVERIFY(start);
    QCOMPARE(start->code, ErrorCode::None);
    QVERIFY2(start->text.contains(QLatin1String("already")), qPrintable(start->text)); // it was never stopped
    // The operator's control is carried out.
    const std::optional<MonitorControlResult> disconnect = control(op, MonitorControlAction::DisconnectClient, "r662-client", 41);
    QVERIFY(disconnect);
    QCOMPARE(disconnect->code, ErrorCode::None);
    QVERIFY(client.closed());
}

void tst_ConformanceRoles::R_6_6_3_reloadChangesRolesOfNewMonitors()
{
    const QByteArray own = QByteArray::number(::geteuid());
    BrokerProcess broker;
    QVERIFY(startBroker(broker, rolesConfig("read_only_uids = " + own + "\n")));
    Conn before;
    QVERIFY(before.unix(broker.unixPath()));
    const std::optional<MonitorSnapshotBegin> b = admitAndSubscribe(before, {});
    QVERIFY(b);
    QCOMPARE(b->role, MonitorRole::ReadOnly);

    QFile file(QDir(broker.directory()).filePath(QStringLiteral("broker.ini")));
    QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
    file.write(rolesConfig());
    file.close();
    ::kill(pid_t(broker.pid()), SIGHUP);
    QTRY_VERIFY_WITH_TIMEOUT(broker.log().contains("reload: applied: [monitor] token"), 10000);

    Conn after;
    QVERIFY(after.unix(broker.unixPath()));
    const std::optional<MonitorSnapshotBegin> a = admitAndSubscribe(after, {});
    QVERIFY(a);
    QCOMPARE(a->role, MonitorRole::Operator);
    // The monitor admitted before keeps the role it was admitted with, in a new snapshot too.
    before.send(MonitorFrame::Subscribe, 50, {}, {}, encodeMonitorSubscribe({}));
    const std::optional<Frame> again = before.take(MonitorFrame::SnapshotBegin);
    QVERIFY(again);
    QCOMPARE(decodeMonitorSnapshotBegin(again->payload)->role, MonitorRole::ReadOnly);
    const std::optional<MonitorControlResult> stop = control(before, MonitorControlAction::StopService, "r66-sleeper", 51);
    QVERIFY(stop);
    QCOMPARE(stop->code, ErrorCode::ReadOnly);
}

QTEST_GUILESS_MAIN(tst_ConformanceRoles)
#include "tst_conformance_roles.moc"
