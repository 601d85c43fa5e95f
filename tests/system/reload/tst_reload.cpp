// Reload through a real process: kennel-broker started with a config file, the file rewritten,
// SIGHUP sent to the broker's PID (as systemctl reload does), and what happened read back from
// its log, its services' processes and a monitor connection.
#include "brokerprocess.h"
#include "framecodec.h"
#include "monitorcodec.h"

#include <QFile>
#include <QHostAddress>
#include <QRegularExpression>
#include <QTcpSocket>
#include <QTest>

#include <csignal>
#include <memory>
#include <optional>
#include <sys/wait.h>
#include <unistd.h>

using namespace Kennel;
using namespace KennelTest;

namespace {

const QByteArray TokenOne = QByteArrayLiteral("reload-test-token-one-0123456789");
const QByteArray TokenTwo = QByteArrayLiteral("reload-test-token-two-0123456789");

// A service that says its PID (exec keeps it) and a word, then sleeps.
QByteArray serviceBlock(const char *name, const char *word)
{
    return QByteArray("[service.") + name + "]\nprogram = /bin/sh\narguments = -c, \"echo " + word
        + " pid $$; exec sleep 60\"\nstop_timeout_ms = 2000\n";
}

bool writeConfig(const BrokerProcess &broker, const QByteArray &text)
{
    QFile file(broker.directory() + QStringLiteral("/broker.ini"));
    return file.open(QIODevice::WriteOnly | QIODevice::Truncate) && file.write(text) == text.size();
}

// The PID a service printed with "WORD pid N"; 0 if not (yet) in the log.
pid_t printedPid(const QByteArray &log, const char *word)
{
    const QRegularExpression re(QStringLiteral("%1 pid (\\d+)").arg(QLatin1String(word)));
    const QRegularExpressionMatch m = re.match(QString::fromUtf8(log));
    return m.hasMatch() ? pid_t(m.captured(1).toInt()) : 0;
}

bool processGone(pid_t pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return true;
    const QByteArray text = stat.readAll();
    const qsizetype close = text.lastIndexOf(')');
    return close >= 0 && text.size() > close + 2 && text.at(close + 2) == 'Z';
}

// A monitor over TCP, admitted by token.
class Monitor
{
public:
    // With an empty token: a plain client registering as `name`.
    Monitor(quint16 port, const QByteArray &token, const QByteArray &name = "ops")
    {
        m_socket.connectToHost(QHostAddress::LocalHost, port);
        Frame f;
        f.type = FrameType::Hello;
        f.messageId = 1;
        f.source = name;
        HelloPayload hello;
        if (!token.isEmpty()) {
            hello.role = Role::Monitor;
            hello.token = token;
        }
        f.payload = encodeHello(hello);
        m_socket.write(encodeFrame(f));
    }
    // Reads what arrived; the Hello's answer and control results are kept.
    void poll()
    {
        m_decoder.append(m_socket.readAll());
        while (const std::optional<Frame> f = m_decoder.next()) {
            if (f->type == FrameType::Welcome)
                welcome = true;
            else if (f->type == FrameType::Error)
                refused = decodeError(f->payload).value_or(ErrorPayload{}).text;
            else if (f->type == MonitorFrame::ControlResult)
                results.append(decodeMonitorControlResult(f->payload).value_or(MonitorControlResult{}));
        }
    }
    bool answered()
    {
        poll();
        return welcome || !refused.isEmpty();
    }
    void control(MonitorControlAction action, const QByteArray &target)
    {
        Frame f;
        f.type = MonitorFrame::Control;
        f.messageId = ++m_nextId;
        f.payload = encodeMonitorControl({action, target, {}});
        m_socket.write(encodeFrame(f));
    }
    bool isOpen() const { return m_socket.state() == QAbstractSocket::ConnectedState; }

    bool welcome = false;
    QString refused;
    QList<MonitorControlResult> results;

private:
    QTcpSocket m_socket;
    FrameDecoder m_decoder{1024 * 1024};
    quint32 m_nextId = 1;
};

} // namespace

class tst_Reload : public QObject
{
    Q_OBJECT
private slots:
    void servicesAddedRemovedChanged();
    void brokenConfigRejectedWhole();
    void monitorTokenReplaced();
    void policyAppliedSectionsNeedingRestartSaid();
};

void tst_Reload::servicesAddedRemovedChanged()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = serviceBlock("keep", "keep-v1") + serviceBlock("gone", "gone-v1") + serviceBlock("edit", "edit-v1");
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(printedPid(broker.log(), "keep-v1") && printedPid(broker.log(), "gone-v1")
                                 && printedPid(broker.log(), "edit-v1"),
                             10000);
    const pid_t keep = printedPid(broker.log(), "keep-v1");
    const pid_t gone = printedPid(broker.log(), "gone-v1");
    const pid_t edit = printedPid(broker.log(), "edit-v1");

    QVERIFY(writeConfig(broker, serviceBlock("edit", "edit-v2") + serviceBlock("keep", "keep-v1")
                                    + serviceBlock("fresh", "fresh-v1")));
    ::kill(pid_t(broker.pid()), SIGHUP);
    QTRY_VERIFY2_WITH_TIMEOUT(broker.log().contains("reload: configuration reloaded: 3 changes applied, 0 need a restart"),
                              broker.log().constData(), 10000);
    QVERIFY(broker.log().contains("reload: applied: service fresh: added"));
    QVERIFY(broker.log().contains("reload: applied: service gone: removed (stopped)"));
    QVERIFY(broker.log().contains("reload: applied: service edit: changed (restarted with the new definition)"));
    // Added: started; changed: the old process stopped, the new definition runs; removed: stopped.
    QTRY_VERIFY2_WITH_TIMEOUT(printedPid(broker.log(), "fresh-v1") && printedPid(broker.log(), "edit-v2"),
                              broker.log().constData(), 10000);
    QTRY_VERIFY_WITH_TIMEOUT(processGone(gone), 5000);
    QTRY_VERIFY_WITH_TIMEOUT(processGone(edit), 5000);
    QVERIFY(broker.log().contains("service gone: stopped"));
    // Unchanged: left alone, the same process.
    QVERIFY(!processGone(keep));
    QCOMPARE(broker.countInLog("keep-v1 pid"), 1);

    // The same file again: nothing to do.
    ::kill(pid_t(broker.pid()), SIGHUP);
    QTRY_VERIFY_WITH_TIMEOUT(broker.log().contains("reload: configuration reloaded: no changes"), 10000);
    QCOMPARE(broker.countInLog("edit-v2 pid"), 1);
    QCOMPARE(broker.stopVerdict(), QString());
}

void tst_Reload::brokenConfigRejectedWhole()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = serviceBlock("steady", "steady-v1");
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(printedPid(broker.log(), "steady-v1"), 10000);
    const pid_t steady = printedPid(broker.log(), "steady-v1");

    // One good change and one error: nothing of it is applied.
    QVERIFY(writeConfig(broker, serviceBlock("steady", "steady-v2") + serviceBlock("extra", "extra-v1")
                                    + "[limits]\nmax_clients = banana\n"));
    ::kill(pid_t(broker.pid()), SIGHUP);
    QTRY_VERIFY2_WITH_TIMEOUT(
        broker.log().contains("reload: configuration rejected (1 error); the running configuration is kept"),
        broker.log().constData(), 10000);
    QVERIFY2(broker.log().contains("reload: rejected: limits/max_clients: \"banana\" is not a whole number"),
             broker.log().constData());
    // Give a wrongly applied change the time to show.
    QTest::qWait(500);
    QVERIFY(!processGone(steady));
    QVERIFY(!broker.log().contains("extra-v1") && !broker.log().contains("steady-v2"));
    QVERIFY(broker.isRunning());

    // Fixed: now it applies.
    QVERIFY(writeConfig(broker, serviceBlock("steady", "steady-v1") + serviceBlock("extra", "extra-v1")));
    ::kill(pid_t(broker.pid()), SIGHUP);
    QTRY_VERIFY2_WITH_TIMEOUT(printedPid(broker.log(), "extra-v1"), broker.log().constData(), 10000);
    QVERIFY(!processGone(steady));
    QCOMPARE(broker.stopVerdict(), QString());
}

void tst_Reload::monitorTokenReplaced()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = "[monitor]\ntoken = " + TokenOne + "\nfailure_delay_ms = 100\n";
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));

    Monitor first(broker.tcpPort(), TokenOne);
    QTRY_VERIFY_WITH_TIMEOUT(first.answered(), 10000);
    QVERIFY2(first.welcome, qPrintable(first.refused));

    QVERIFY(writeConfig(broker, "[monitor]\ntoken = " + TokenTwo + "\nfailure_delay_ms = 100\n"));
    ::kill(pid_t(broker.pid()), SIGHUP);
    QTRY_VERIFY2_WITH_TIMEOUT(broker.log().contains("reload: applied: [monitor] token"), broker.log().constData(), 10000);
    QVERIFY(!broker.log().contains(TokenTwo)); // the secret is never logged

    Monitor old(broker.tcpPort(), TokenOne);
    QTRY_VERIFY_WITH_TIMEOUT(old.answered(), 10000);
    QVERIFY2(!old.welcome, "the replaced token still admits");
    Monitor fresh(broker.tcpPort(), TokenTwo);
    QTRY_VERIFY_WITH_TIMEOUT(fresh.answered(), 10000);
    QVERIFY2(fresh.welcome, qPrintable(fresh.refused));
    // Admitted with the old token: stays.
    first.poll();
    QVERIFY(first.isOpen());

    // A monitor asks for the reload itself (MonitorControl ReloadConfig), and hears the outcome.
    fresh.control(MonitorControlAction::ReloadConfig, "broker");
    QTRY_COMPARE_WITH_TIMEOUT((fresh.poll(), fresh.results.size()), 1, 10000);
    QCOMPARE(fresh.results.first().code, ErrorCode::None);
    QCOMPARE(fresh.results.first().text, QStringLiteral("configuration reloaded: no changes"));
    QVERIFY(broker.log().contains("reload (monitor"));

    // A broken file asked by a monitor: refused, the reasons in the answer.
    QVERIFY(writeConfig(broker, "[monitor]\ntoken = short\n"));
    fresh.control(MonitorControlAction::ReloadConfig, "broker");
    QTRY_COMPARE_WITH_TIMEOUT((fresh.poll(), fresh.results.size()), 2, 10000);
    QCOMPARE(fresh.results.last().code, ErrorCode::NotPermitted);
    QVERIFY2(fresh.results.last().text.startsWith(QStringLiteral("configuration rejected")),
             qPrintable(fresh.results.last().text));
    QCOMPARE(broker.stopVerdict(), QString());
}


// [policy] applies at a reload, for registrations from then on; [calls] and [topics] are said to
// need a restart rather than silently ignored.
void tst_Reload::policyAppliedSectionsNeedingRestartSaid()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = "[log]\nrules = kennel.broker.info=true\n";
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));

    Monitor before(broker.tcpPort(), {}, "guarded-1");
    QTRY_VERIFY_WITH_TIMEOUT(before.answered(), 10000);
    QVERIFY2(before.welcome, qPrintable(before.refused));

    QVERIFY(writeConfig(broker, "[log]\nrules = kennel.broker.info=true\n[policy]\nno_guarded = deny own guarded-*\n"
                                "[calls]\nmax_outstanding = 3\n[topics]\nmax_levels = 4\n"));
    ::kill(pid_t(broker.pid()), SIGHUP);
    QTRY_VERIFY2_WITH_TIMEOUT(broker.log().contains("reload: applied: [policy]: 1 rule, default allow"), broker.log().constData(),
                              10000);
    QVERIFY2(broker.log().contains("reload: not applied: [calls]: needs a restart"), broker.log().constData());
    QVERIFY2(broker.log().contains("reload: not applied: [topics]: needs a restart"), broker.log().constData());

    Monitor denied(broker.tcpPort(), {}, "guarded-2");
    QTRY_VERIFY_WITH_TIMEOUT(denied.answered(), 10000);
    QVERIFY2(!denied.welcome, "the reloaded policy let a denied name be registered");
    QVERIFY2(denied.refused.contains(QLatin1String("no_guarded")), qPrintable(denied.refused));
    Monitor other(broker.tcpPort(), {}, "plain");
    QTRY_VERIFY_WITH_TIMEOUT(other.answered(), 10000);
    QVERIFY2(other.welcome, qPrintable(other.refused));
    before.poll();
    QVERIFY(before.isOpen()); // registered before the reload: kept

    // The policy removed again: the name can be registered.
    QVERIFY(writeConfig(broker, "[log]\nrules = kennel.broker.info=true\n"));
    ::kill(pid_t(broker.pid()), SIGHUP);
    QTRY_VERIFY2_WITH_TIMEOUT(broker.log().contains("reload: applied: [policy]: 0 rules, default allow"), broker.log().constData(),
                              10000);
    Monitor after(broker.tcpPort(), {}, "guarded-3");
    QTRY_VERIFY_WITH_TIMEOUT(after.answered(), 10000);
    QVERIFY2(after.welcome, qPrintable(after.refused));
    QCOMPARE(broker.stopVerdict(), QString());
}

QTEST_GUILESS_MAIN(tst_Reload)
#include "tst_reload.moc"
