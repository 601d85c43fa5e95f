// Calls through a real broker process (PROTOCOL §5.6): a Qt program calling with KennelClient, a
// shell user calling with kennelctl call, programs served by kennelctl serve; the callee killed
// with SIGKILL or ended by the watchdog while a call is outstanding; the outstanding bound at its
// edge; a call that starts an on-demand service and waits for it, and one that times out.
#include "brokerprocess.h"
#include "testbroker.h"

#include <kennelclient.h>

#include <QElapsedTimer>
#include <QFile>
#include <QPointer>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace Kennel;
using KennelTest::BrokerProcess;

namespace {

const QByteArray Config = QByteArrayLiteral("[calls]\nmax_outstanding = 2\nmax_deadline_ms = 10000\n"
                                            "[watchdog]\nmin_interval_ms = 50\n");

QString kennelctl()
{
    return KennelTest::binaryPath(QStringLiteral("kennelctl"));
}

bool startBroker(BrokerProcess &broker, const QByteArray &config = Config)
{
    BrokerProcess::Options options;
    options.configText = config;
    QString error;
    if (!broker.start(options, &error)) {
        qWarning("%s", qPrintable(error));
        return false;
    }
    return true;
}

// A KennelClient registered at the broker's Unix socket.
bool connectClient(KennelClient &client, BrokerProcess &broker, const QByteArray &name)
{
    client.setBrokerAddress(*BrokerAddress::parse(broker.unixAddress()));
    client.setName(name);
    QSignalSpy registered(&client, &KennelClient::registered);
    client.connectToBroker();
    return registered.wait(5000) || client.state() == KennelClient::Registered;
}

// kennelctl serve NAME -- ARGS..., running once it says it serves.
bool startServe(QProcess &serve, BrokerProcess &broker, const QByteArray &name, const QStringList &command,
                const QStringList &options = {})
{
    serve.start(kennelctl(), QStringList{QStringLiteral("serve"), QString::fromLatin1(name), QStringLiteral("--broker"),
                                         broker.unixAddress()}
                                 + options + QStringList{QStringLiteral("--")} + command);
    QElapsedTimer clock;
    clock.start();
    QByteArray err;
    while (clock.elapsed() < 10000) {
        serve.waitForReadyRead(100);
        err += serve.readAllStandardError();
        if (err.contains("serving as"))
            return true;
        if (serve.state() == QProcess::NotRunning)
            break;
    }
    qWarning("serve did not start: %s", err.constData());
    return false;
}

struct CallRun
{
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
    qint64 ms = 0;
};

CallRun runCall(BrokerProcess &broker, const QStringList &arguments, const QByteArray &input = {})
{
    QProcess p;
    QElapsedTimer clock;
    clock.start();
    p.start(kennelctl(), QStringList{QStringLiteral("call")} + arguments + QStringList{QStringLiteral("--broker"), broker.unixAddress()});
    if (!input.isEmpty())
        p.write(input);
    p.closeWriteChannel();
    CallRun run;
    if (!p.waitForFinished(20000)) {
        p.kill();
        p.waitForFinished();
        return run;
    }
    run.ms = clock.elapsed();
    run.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    run.out = p.readAllStandardOutput();
    run.err = p.readAllStandardError();
    return run;
}

void stop(QProcess &process)
{
    if (process.state() == QProcess::NotRunning)
        return;
    process.terminate();
    if (!process.waitForFinished(5000)) {
        process.kill();
        process.waitForFinished();
    }
}

} // namespace

class tst_Calls : public QObject
{
    Q_OBJECT

private slots:
    void qtClientCallsAndServes();
    void kennelctlCallAndServe();
    void calleeKilledWithSigkill();
    void calleeEndedByWatchdog();
    void outstandingBoundAtItsEdge();
    void linkLostFailsOutstandingCalls();
    void onDemandServiceStartedByACall();
    void policyDeniedCallEndsAtOnce();
};

// KennelClient on both ends: a reply, an error reply, a timeout, no such client; the handler and
// the signal both see the call.
void tst_Calls::qtClientCallsAndServes()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker));
    KennelClient server, client;
    QVERIFY(connectClient(server, broker, "calc"));
    QVERIFY(connectClient(client, broker, "ui"));
    QVERIFY(client.brokerOffers(FeatureCalls));

    int handled = 0;
    server.setCallHandler([&](IncomingCall *call) {
        ++handled;
        QCOMPARE(call->caller(), QByteArrayLiteral("ui"));
        if (call->payload() == "fail")
            call->replyError(7, QStringLiteral("cannot do that"));
        else if (call->payload() != "ignore")
            call->reply(call->payload().toUpper());
    });
    QSignalSpy received(&server, &KennelClient::callReceived);

    PendingCall *ok = client.call("calc", "hello", 2000);
    QSignalSpy okDone(ok, &PendingCall::finished);
    ok->setAutoDelete(false);
    QVERIFY(okDone.wait(5000));
    QCOMPARE(ok->result(), PendingCall::Replied);
    QCOMPARE(ok->reply(), QByteArrayLiteral("HELLO"));
    delete ok;

    QPointer<PendingCall> failing = client.call("calc", "fail", 2000);
    QSignalSpy failDone(failing.data(), &PendingCall::finished);
    QVERIFY(failDone.wait(5000));
    auto *failed = failDone.at(0).at(0).value<PendingCall *>();
    QCOMPARE(failed->result(), PendingCall::ErrorReply);
    QCOMPARE(failed->errorCode(), quint16(7));
    QCOMPARE(failed->errorText(), QStringLiteral("cannot do that"));
    QTRY_VERIFY(!failing); // auto-deleted after finished()

    QElapsedTimer clock;
    clock.start();
    PendingCall *ignored = client.call("calc", "ignore", 300);
    ignored->setAutoDelete(false);
    QSignalSpy ignoredDone(ignored, &PendingCall::finished);
    QVERIFY(ignoredDone.wait(5000));
    QCOMPARE(ignored->result(), PendingCall::Timeout);
    QVERIFY2(clock.elapsed() >= 290 && clock.elapsed() < 3000, QByteArray::number(clock.elapsed()).constData());
    delete ignored;

    PendingCall *nobody = client.call("nobody", "x", 2000);
    nobody->setAutoDelete(false);
    QSignalSpy nobodyDone(nobody, &PendingCall::finished);
    QVERIFY(nobodyDone.wait(5000));
    QCOMPARE(nobody->result(), PendingCall::NoSuchClient);
    delete nobody;

    QCOMPARE(handled, 3);
    QCOMPARE(received.size(), 3);
    QVERIFY(broker.stopVerdict().isEmpty());
}

// The shell: kennelctl serve answers with a command's output (payload on its stdin), a failing
// command as an error reply; kennelctl call prints the reply and exits with documented codes.
void tst_Calls::kennelctlCallAndServe()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker));
    QProcess upper, failing, slow;
    QVERIFY(startServe(upper, broker, "upper", {QStringLiteral("/usr/bin/tr"), QStringLiteral("a-z"), QStringLiteral("A-Z")}));
    QVERIFY(startServe(failing, broker, "failing",
                       {QStringLiteral("/bin/sh"), QStringLiteral("-c"), QStringLiteral("echo 'disk on fire' >&2; exit 3")}));
    QVERIFY(startServe(slow, broker, "slow", {QStringLiteral("/bin/sleep"), QStringLiteral("5")}));

    CallRun run = runCall(broker, {QStringLiteral("upper"), QStringLiteral("hello board")});
    QVERIFY2(run.exitCode == 0, run.err.constData());
    QCOMPARE(run.out, QByteArrayLiteral("HELLO BOARD"));

    // From standard input, binary-safe and larger than a command line likes.
    QByteArray big(200000, 'x');
    run = runCall(broker, {QStringLiteral("upper"), QStringLiteral("-")}, big);
    QVERIFY2(run.exitCode == 0, run.err.constData());
    QCOMPARE(run.out, QByteArray(200000, 'X'));

    run = runCall(broker, {QStringLiteral("failing"), QStringLiteral("x")});
    QCOMPARE(run.exitCode, 21);
    QVERIFY2(run.err.contains("answered error 3: disk on fire"), run.err.constData());

    run = runCall(broker, {QStringLiteral("slow"), QStringLiteral("x"), QStringLiteral("--timeout"), QStringLiteral("300")});
    QCOMPARE(run.exitCode, 4);
    QVERIFY2(run.ms < 3000, QByteArray::number(run.ms).constData());
    QVERIFY2(run.err.contains("no reply from slow within 300 ms"), run.err.constData());

    run = runCall(broker, {QStringLiteral("nobody"), QStringLiteral("x")});
    QCOMPARE(run.exitCode, 23);

    stop(upper);
    stop(failing);
    stop(slow);
    QVERIFY(broker.stopVerdict().isEmpty());
}

// A callee killed with SIGKILL while it works on a call: the caller hears callee_gone at once,
// not at its deadline.
void tst_Calls::calleeKilledWithSigkill()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker));
    QTemporaryDir dir;
    const QString marker = dir.filePath(QStringLiteral("started"));
    QProcess victim;
    QVERIFY(startServe(victim, broker, "victim",
                       {QStringLiteral("/bin/sh"), QStringLiteral("-c"), QStringLiteral("touch \"$0\"; exec sleep 3"), marker}));
    KennelClient client;
    QVERIFY(connectClient(client, broker, "caller"));
    PendingCall *call = client.call("victim", "work", 8000);
    call->setAutoDelete(false);
    QSignalSpy done(call, &PendingCall::finished);
    QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(marker), 5000); // the call reached the command
    QElapsedTimer clock;
    clock.start();
    ::kill(pid_t(victim.processId()), SIGKILL);
    QVERIFY(done.wait(5000));
    QCOMPARE(call->result(), PendingCall::CalleeGone);
    QVERIFY2(clock.elapsed() < 2000, QByteArray::number(clock.elapsed()).constData());
    victim.waitForFinished(5000);
    delete call;
    QVERIFY(broker.stopVerdict().isEmpty());
}

// The watchdog ends a callee that stopped feeding (action disconnect, so nothing is signalled in
// this test's own process): its outstanding call ends callee_gone.
void tst_Calls::calleeEndedByWatchdog()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker));
    KennelClient callee, caller;
    QVERIFY(connectClient(callee, broker, "sleepy"));
    QVERIFY(connectClient(caller, broker, "waiter"));
    QSignalSpy watched(&callee, &KennelClient::watchdogRegistered);
    callee.registerWatchdog({100, 1, ExpiryAction::Disconnect});
    QVERIFY(watched.wait(5000));
    QSignalSpy incoming(&callee, &KennelClient::callReceived); // never answered
    PendingCall *call = caller.call("sleepy", "are you there", 8000);
    call->setAutoDelete(false);
    QSignalSpy done(call, &PendingCall::finished);
    QVERIFY(done.wait(5000));
    QCOMPARE(call->result(), PendingCall::CalleeGone);
    QCOMPARE(incoming.size(), 1); // it had the call, and stopped feeding with it outstanding
    QVERIFY(broker.log().contains("watchdog"));
    delete call;
    QVERIFY(broker.stopVerdict().isEmpty());
}

// [calls] max_outstanding = 2: two calls wait, the third is refused too_many_calls at once; once
// one is answered there is room again.
void tst_Calls::outstandingBoundAtItsEdge()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker));
    KennelClient server, client;
    QVERIFY(connectClient(server, broker, "slowpoke"));
    QVERIFY(connectClient(client, broker, "eager"));
    QList<QPointer<IncomingCall>> held;
    server.setCallHandler([&](IncomingCall *call) { held.append(call); });

    QList<PendingCall *> calls;
    for (int i = 0; i < 3; ++i) {
        calls.append(client.call("slowpoke", QByteArray::number(i), 5000));
        calls.last()->setAutoDelete(false);
    }
    QTRY_COMPARE_WITH_TIMEOUT(held.size(), 2, 5000);
    QTRY_VERIFY_WITH_TIMEOUT(calls[2]->isFinished(), 5000);
    QCOMPARE(calls[2]->result(), PendingCall::TooManyCalls);
    QVERIFY(!calls[0]->isFinished() && !calls[1]->isFinished());
    QVERIFY(held[0]->reply("zero"));
    QTRY_VERIFY_WITH_TIMEOUT(calls[0]->isFinished(), 5000);
    QCOMPARE(calls[0]->reply(), QByteArrayLiteral("zero"));
    PendingCall *again = client.call("slowpoke", "3", 5000);
    again->setAutoDelete(false);
    QTRY_COMPARE_WITH_TIMEOUT(held.size(), 3, 5000);
    QVERIFY(held[1]->reply("one"));
    QVERIFY(held[2]->reply("three"));
    QTRY_VERIFY_WITH_TIMEOUT(again->isFinished() && calls[1]->isFinished(), 5000);
    QCOMPARE(again->reply(), QByteArrayLiteral("three"));
    QCOMPARE(calls[1]->reply(), QByteArrayLiteral("one"));
    qDeleteAll(calls);
    delete again;
    QVERIFY(broker.stopVerdict().isEmpty());
}

// The broker dies with a call outstanding: the call fails LinkLost at once.
void tst_Calls::linkLostFailsOutstandingCalls()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker));
    KennelClient server, client;
    QVERIFY(connectClient(server, broker, "mute"));
    QVERIFY(connectClient(client, broker, "talker"));
    QSignalSpy incoming(&server, &KennelClient::callReceived);
    PendingCall *call = client.call("mute", "x", 8000);
    call->setAutoDelete(false);
    QSignalSpy done(call, &PendingCall::finished);
    QVERIFY(incoming.wait(5000));
    broker.kill9(); // processes events while it waits: the loss may be seen in there
    QVERIFY(!done.isEmpty() || done.wait(5000));
    QCOMPARE(call->result(), PendingCall::LinkLost);
    delete call;
    // The incoming call can no longer be answered.
    QTRY_COMPARE(server.state(), KennelClient::Disconnected);
}

// A call to an on-demand service that is not running starts it, waits and gets the reply within
// its deadline; a call to one that never registers ends timeout at its deadline.
void tst_Calls::onDemandServiceStartedByACall()
{
    const QByteArray config = Config
        + "[service.echo]\nprogram = " + kennelctl().toUtf8()
        + "\narguments = serve, echo, --, /bin/cat\nstart = on-demand\n"
          "[service.never]\nprogram = /bin/sleep\narguments = 20\nstart = on-demand\nstart_timeout_ms = 10000\n";
    BrokerProcess broker;
    QVERIFY(startBroker(broker, config));
    KennelClient client;
    QVERIFY(connectClient(client, broker, "odcaller"));

    QElapsedTimer clock;
    clock.start();
    PendingCall *call = client.call("echo", "wake up", 8000);
    call->setAutoDelete(false);
    QSignalSpy done(call, &PendingCall::finished);
    QVERIFY(done.wait(9000));
    QVERIFY2(call->result() == PendingCall::Replied, qPrintable(call->errorText() + QString::fromUtf8(broker.log().right(2000))));
    QCOMPARE(call->reply(), QByteArrayLiteral("wake up"));
    delete call;

    clock.restart();
    PendingCall *lost = client.call("never", "hello?", 500);
    lost->setAutoDelete(false);
    QSignalSpy lostDone(lost, &PendingCall::finished);
    QVERIFY(lostDone.wait(5000));
    QCOMPARE(lost->result(), PendingCall::Timeout);
    QVERIFY2(clock.elapsed() >= 490, QByteArray::number(clock.elapsed()).constData());
    delete lost;
    QVERIFY(broker.stopVerdict(20000).isEmpty());
}

// A call the access policy denies (PROTOCOL) ends at once, not at its deadline: for a Qt
// program (PendingCall::PolicyDenied with the rule) and for the shell (kennelctl call exits 28,
// as a denied send does). The callee is there and serving, and never sees it.
void tst_Calls::policyDeniedCallEndsAtOnce()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker, Config + QByteArrayLiteral("[policy]\nno_vault = deny send vault\n")));
    KennelClient vault, calc, client;
    int served = 0;
    const auto serve = [&](IncomingCall *call) {
        ++served;
        call->reply("opened");
    };
    vault.setCallHandler(serve);
    calc.setCallHandler(serve);
    QVERIFY(connectClient(vault, broker, "vault"));
    QVERIFY(connectClient(calc, broker, "calc"));
    QVERIFY(connectClient(client, broker, "ui"));

    constexpr int DeadlineMs = 8000;
    QElapsedTimer clock;
    clock.start();
    PendingCall *denied = client.call("vault", "open", DeadlineMs);
    denied->setAutoDelete(false);
    QTRY_COMPARE_WITH_TIMEOUT(denied->result(), PendingCall::PolicyDenied, DeadlineMs / 4);
    QVERIFY2(clock.elapsed() < DeadlineMs / 4, QByteArray::number(clock.elapsed()).constData());
    QVERIFY(!denied->isOk());
    QVERIFY(denied->reply().isEmpty());
    QVERIFY2(denied->errorText().contains(QLatin1String("no_vault")), qPrintable(denied->errorText()));
    QCOMPARE(PendingCall::resultName(denied->result()), "PolicyDenied");
    delete denied;

    // The connection goes on: a name no rule matches is called as without a policy.
    PendingCall *allowed = client.call("calc", "open", DeadlineMs);
    allowed->setAutoDelete(false);
    QTRY_COMPARE_WITH_TIMEOUT(allowed->result(), PendingCall::Replied, DeadlineMs / 4);
    QCOMPARE(allowed->reply(), QByteArrayLiteral("opened"));
    delete allowed;
    QCOMPARE(served, 1);

    const CallRun run = runCall(broker, {QStringLiteral("vault"), QStringLiteral("open"), QStringLiteral("--timeout"),
                                         QString::number(DeadlineMs)});
    QVERIFY2(run.exitCode == 28, run.err.constData());
    QVERIFY2(run.ms < DeadlineMs / 2, QByteArray::number(run.ms).constData());
    QVERIFY(run.out.isEmpty());
    QVERIFY2(run.err.contains("call to vault denied: policy_denied (12)") && run.err.contains("no_vault"), run.err.constData());
    QCOMPARE(served, 1);
    QVERIFY(broker.stopVerdict().isEmpty());
}

QTEST_GUILESS_MAIN(tst_Calls)
#include "tst_calls.moc"
