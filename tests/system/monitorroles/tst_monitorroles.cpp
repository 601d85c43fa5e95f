// Monitor roles (docs/SECURITY.md "Monitor roles", PROTOCOL §6.6), end to end: a real
// kennel-broker supervising a real service, and kennelctl as the monitor, run as an operator
// would. A read-only monitor (by its token; by its uid, kennelctl run as nobody with setpriv when
// the test is root) sees the snapshot, the services and the events, and every control it asks
// for is refused (exit 9, read_only) while the service keeps running with the same PID; the
// operator's succeeds; roles change on SIGHUP; `kennelctl logs` not admitted exits 6 like the
// other operator commands.
#include "brokerprocess.h"
#include "testbroker.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <unistd.h>

using KennelTest::BrokerProcess;

namespace {

const QByteArray OperatorToken = QByteArrayLiteral("roles-test-operator-token-0123456789");
const QByteArray ReadOnlyToken = QByteArrayLiteral("roles-test-read-only-token-0123456789");
constexpr uid_t Nobody = 65534;

// kennelctl's exit codes (docs/KENNELCTL.md).
constexpr int ExitNotAdmitted = 6;
constexpr int ExitReadOnly = 9;

struct Result
{
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
};

// kennelctl with `arguments`, as `uid` (0 or our own: as the test; else with setpriv).
Result runCtl(const QStringList &arguments, uid_t uid = ::geteuid())
{
    QProcess process;
    const QString kennelctl = KennelTest::binaryPath(QStringLiteral("kennelctl"));
    if (uid == ::geteuid())
        process.start(kennelctl, arguments);
    else
        process.start(QStringLiteral("setpriv"), QStringList{QStringLiteral("--reuid=%1").arg(uid), QStringLiteral("--regid=%1").arg(uid),
                                                             QStringLiteral("--clear-groups"), kennelctl}
                                                     + arguments);
    Result r;
    if (!process.waitForFinished(20000)) {
        process.kill();
        process.waitForFinished(5000);
        r.err = "kennelctl did not finish: " + arguments.join(QLatin1Char(' ')).toUtf8();
        return r;
    }
    r.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
    r.out = process.readAllStandardOutput();
    r.err = process.readAllStandardError();
    return r;
}

QJsonObject findByName(const QJsonArray &array, const QString &name)
{
    for (const QJsonValue &v : array) {
        if (v.toObject().value(QStringLiteral("name")).toString() == name)
            return v.toObject();
    }
    return {};
}

} // namespace

class tst_MonitorRoles : public QObject
{
    Q_OBJECT
private slots:
    void initTestCase();
    void readOnlyTokenWatchesButCannotAct();
    void readOnlyUidWatchesButCannotAct();
    void roleChangedOnSighup();
    void logsNotAdmittedExits6();
    void tokenFileRewrittenAppliesOnSighup();

private:
    QString writeToken(const QString &name, const QByteArray &token);
    QByteArray config(const QByteArray &monitorKeys) const;
    // The sleeper's state and PID, as the operator sees them.
    QJsonObject sleeper(const BrokerProcess &broker);

    QTemporaryDir m_dir;
    QString m_operatorFile;
    QString m_readOnlyFile;
};

void tst_MonitorRoles::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_operatorFile = writeToken(QStringLiteral("operator.token"), OperatorToken);
    m_readOnlyFile = writeToken(QStringLiteral("readonly.token"), ReadOnlyToken);
}

QString tst_MonitorRoles::writeToken(const QString &name, const QByteArray &token)
{
    const QString path = m_dir.filePath(name);
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(token + '\n') != token.size() + 1)
        qFatal("cannot write %s", qPrintable(path));
    file.close();
    file.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    return path;
}

QByteArray tst_MonitorRoles::config(const QByteArray &monitorKeys) const
{
    return "[monitor]\ntoken_file = " + m_operatorFile.toUtf8() + "\nread_only_token_file = " + m_readOnlyFile.toUtf8() + "\n"
           + monitorKeys + "totals_interval_ms = 200\nfailure_delay_ms = 20\nfailure_delay_max_ms = 100\n"
           + "[service.sleeper]\nprogram = /bin/sleep\narguments = 600\nrestart = never\n";
}

QJsonObject tst_MonitorRoles::sleeper(const BrokerProcess &broker)
{
    const Result r = runCtl({QStringLiteral("services"), QStringLiteral("--json"), QStringLiteral("--broker"), broker.tcpAddress(),
                             QStringLiteral("--token-file"), m_operatorFile});
    if (r.exitCode != 0)
        return {};
    return findByName(QJsonDocument::fromJson(r.out).array(), QStringLiteral("sleeper"));
}

// PROTOCOL by token over TCP.
void tst_MonitorRoles::readOnlyTokenWatchesButCannotAct()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = config({});
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    QTRY_COMPARE_WITH_TIMEOUT(sleeper(broker).value(QStringLiteral("state")).toString(), QStringLiteral("running"), 10000);
    const qint64 pid = sleeper(broker).value(QStringLiteral("pid")).toInteger();
    QVERIFY(pid > 0);
    const QStringList asReadOnly{QStringLiteral("--broker"), broker.tcpAddress(), QStringLiteral("--token-file"), m_readOnlyFile};
    const QStringList asOperator{QStringLiteral("--broker"), broker.tcpAddress(), QStringLiteral("--token-file"), m_operatorFile};

    // It sees: the status says what it is, the services listing shows the sleeper.
    Result status = runCtl(QStringList{QStringLiteral("status"), QStringLiteral("--json")} + asReadOnly);
    QCOMPARE(status.exitCode, 0);
    const QJsonObject s = QJsonDocument::fromJson(status.out).object();
    QCOMPARE(s.value(QStringLiteral("admittedBy")).toString(), QStringLiteral("read-only token"));
    QCOMPARE(s.value(QStringLiteral("role")).toString(), QStringLiteral("read-only"));
    status = runCtl(QStringList{QStringLiteral("status")} + asReadOnly);
    QVERIFY2(status.out.contains("role:") && status.out.contains(" read-only (start, stop, restart and disconnect are refused)\n"),
             status.out.constData());
    const Result services = runCtl(QStringList{QStringLiteral("services"), QStringLiteral("--json")} + asReadOnly);
    QCOMPARE(services.exitCode, 0);
    QCOMPARE(findByName(QJsonDocument::fromJson(services.out).array(), QStringLiteral("sleeper")).value(QStringLiteral("pid")).toInteger(), pid);

    // It cannot act: each control is refused with read_only and exit 9, and logged.
    for (const QString &verb : {QStringLiteral("stop"), QStringLiteral("restart"), QStringLiteral("start")}) {
        const Result r = runCtl(QStringList{verb, QStringLiteral("sleeper")} + asReadOnly);
        QCOMPARE(r.exitCode, ExitReadOnly);
        QVERIFY2(r.err.contains(QByteArray(verb.toUtf8() + " sleeper refused: read_only (32): this monitor is read-only")), r.err.constData());
    }
    const Result disconnect = runCtl(QStringList{QStringLiteral("disconnect"), QStringLiteral("anyone")} + asReadOnly);
    QCOMPARE(disconnect.exitCode, ExitReadOnly);
    QTRY_VERIFY2_WITH_TIMEOUT(broker.log().contains("asked to stop service 'sleeper': read_only - refused, a read-only monitor may not act (1 refused in all)"),
                              broker.log().constData(), 5000);
    QVERIFY2(broker.log().contains("(4 refused in all)"), broker.log().constData());
    // Nothing happened: the same process still runs.
    const QJsonObject after = sleeper(broker);
    QCOMPARE(after.value(QStringLiteral("state")).toString(), QStringLiteral("running"));
    QCOMPARE(after.value(QStringLiteral("pid")).toInteger(), pid);
    QCOMPARE(::kill(pid_t(pid), 0), 0);

    // It sees the events: the operator restarts the service while the read-only one watches.
    QProcess watch;
    QByteArray watchOut;
    QByteArray watchErr;
    connect(&watch, &QProcess::readyReadStandardOutput, this, [&] { watchOut += watch.readAllStandardOutput(); });
    connect(&watch, &QProcess::readyReadStandardError, this, [&] { watchErr += watch.readAllStandardError(); });
    watch.start(KennelTest::binaryPath(QStringLiteral("kennelctl")), QStringList{QStringLiteral("watch")} + asReadOnly);
    QVERIFY(watch.waitForStarted());
    QTRY_VERIFY2_WITH_TIMEOUT(watchErr.contains("watching"), watchErr.constData(), 10000);
    const Result restart = runCtl(QStringList{QStringLiteral("restart"), QStringLiteral("sleeper")} + asOperator);
    QCOMPARE(restart.exitCode, 0);
    QVERIFY2(restart.out.startsWith("restart sleeper: restarting 'sleeper'"), restart.out.constData());
    QTRY_VERIFY2_WITH_TIMEOUT(watchOut.contains("sleeper"), watchOut.constData(), 10000);
    watch.terminate(); // SIGTERM: watch's normal end
    QVERIFY(watch.waitForFinished(10000));
    QCOMPARE(watch.exitCode(), 0);
    QTRY_VERIFY_WITH_TIMEOUT(sleeper(broker).value(QStringLiteral("pid")).toInteger() != pid
                                 && sleeper(broker).value(QStringLiteral("state")).toString() == QStringLiteral("running"),
                             10000);
    QCOMPARE(broker.stopVerdict(), QString());
}

// PROTOCOL by uid: nobody on the Unix socket, listed in read_only_uids.
void tst_MonitorRoles::readOnlyUidWatchesButCannotAct()
{
    if (::geteuid() != 0)
        QSKIP("running kennelctl as another uid needs root (setpriv)");
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = config("read_only_uids = " + QByteArray::number(Nobody) + "\n");
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    // nobody must reach the socket: through the test's folder, and connect() needs write access.
    QVERIFY(QFile::setPermissions(broker.directory(), QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner
                                                          | QFileDevice::ExeGroup | QFileDevice::ExeOther));
    QVERIFY(QFile::setPermissions(broker.unixPath(), QFileDevice::Permissions(0x7777)));
    QTRY_COMPARE_WITH_TIMEOUT(sleeper(broker).value(QStringLiteral("state")).toString(), QStringLiteral("running"), 10000);
    const qint64 pid = sleeper(broker).value(QStringLiteral("pid")).toInteger();
    const QStringList onSocket{QStringLiteral("--broker"), broker.unixAddress()};

    const Result status = runCtl(QStringList{QStringLiteral("status"), QStringLiteral("--json")} + onSocket, Nobody);
    QCOMPARE(status.exitCode, 0);
    const QJsonObject s = QJsonDocument::fromJson(status.out).object();
    QCOMPARE(s.value(QStringLiteral("admittedBy")).toString(), QStringLiteral("peer uid %1").arg(Nobody));
    QCOMPARE(s.value(QStringLiteral("role")).toString(), QStringLiteral("read-only"));
    const Result stop = runCtl(QStringList{QStringLiteral("stop"), QStringLiteral("sleeper")} + onSocket, Nobody);
    QCOMPARE(stop.exitCode, ExitReadOnly);
    QVERIFY2(stop.err.contains("read_only"), stop.err.constData());
    const QJsonObject after = sleeper(broker);
    QCOMPARE(after.value(QStringLiteral("state")).toString(), QStringLiteral("running"));
    QCOMPARE(after.value(QStringLiteral("pid")).toInteger(), pid);
    // Root on the same socket is still an operator (operator_uids unset: root and the broker's user).
    const Result rootStatus = runCtl(QStringList{QStringLiteral("status"), QStringLiteral("--json")} + onSocket);
    QCOMPARE(QJsonDocument::fromJson(rootStatus.out).object().value(QStringLiteral("role")).toString(), QStringLiteral("operator"));
    const Result rootStop = runCtl(QStringList{QStringLiteral("stop"), QStringLiteral("sleeper")} + onSocket);
    QCOMPARE(rootStop.exitCode, 0);
    QTRY_COMPARE_WITH_TIMEOUT(sleeper(broker).value(QStringLiteral("state")).toString(), QStringLiteral("stopped"), 10000);
    QCOMPARE(broker.stopVerdict(), QString());

    // Without read_only_uids, nobody is not admitted at all (exit 6): the list is what let it in.
    BrokerProcess plain;
    options.configText = config({});
    QVERIFY2(plain.start(options, &error), qPrintable(error));
    QVERIFY(QFile::setPermissions(plain.directory(), QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner
                                                         | QFileDevice::ExeGroup | QFileDevice::ExeOther));
    QVERIFY(QFile::setPermissions(plain.unixPath(), QFileDevice::Permissions(0x7777)));
    const Result refused = runCtl(QStringList{QStringLiteral("status"), QStringLiteral("--broker"), plain.unixAddress()}, Nobody);
    QCOMPARE(refused.exitCode, ExitNotAdmitted);
    QCOMPARE(plain.stopVerdict(), QString());
}

// PROTOCOL: a reload applies role changes to monitors admitted from then on.
void tst_MonitorRoles::roleChangedOnSighup()
{
    const QByteArray own = QByteArray::number(::geteuid());
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = config("read_only_uids = " + own + "\n");
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    QTRY_COMPARE_WITH_TIMEOUT(sleeper(broker).value(QStringLiteral("state")).toString(), QStringLiteral("running"), 10000);
    const QStringList onSocket{QStringLiteral("--broker"), broker.unixAddress()};
    Result stop = runCtl(QStringList{QStringLiteral("stop"), QStringLiteral("sleeper")} + onSocket);
    QCOMPARE(stop.exitCode, ExitReadOnly);
    QCOMPARE(sleeper(broker).value(QStringLiteral("state")).toString(), QStringLiteral("running"));

    QFile file(QDir(broker.directory()).filePath(QStringLiteral("broker.ini")));
    QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
    file.write(config("operator_uids = " + own + "\n"));
    file.close();
    ::kill(pid_t(broker.pid()), SIGHUP);
    QTRY_VERIFY2_WITH_TIMEOUT(broker.log().contains("reload: applied: [monitor] token/token_file/allow_local_peers and roles"),
                              broker.log().constData(), 10000);
    QVERIFY(!broker.log().contains(OperatorToken) && !broker.log().contains(ReadOnlyToken));
    stop = runCtl(QStringList{QStringLiteral("stop"), QStringLiteral("sleeper")} + onSocket);
    QCOMPARE(stop.exitCode, 0);
    QTRY_COMPARE_WITH_TIMEOUT(sleeper(broker).value(QStringLiteral("state")).toString(), QStringLiteral("stopped"), 10000);

    // And back: read-only again for the next monitor.
    QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
    file.write(config("read_only_uids = " + own + "\n"));
    file.close();
    const int reloads = broker.countInLog("reload: applied: [monitor] token");
    ::kill(pid_t(broker.pid()), SIGHUP);
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog("reload: applied: [monitor] token") > reloads, 10000);
    const Result start = runCtl(QStringList{QStringLiteral("start"), QStringLiteral("sleeper")} + onSocket);
    QCOMPARE(start.exitCode, ExitReadOnly);
    QCOMPARE(sleeper(broker).value(QStringLiteral("state")).toString(), QStringLiteral("stopped"));
    QCOMPARE(broker.stopVerdict(), QString());
}

// `kennelctl logs` refused admission exits 6, as status, stop and the others do (it used 3).
void tst_MonitorRoles::logsNotAdmittedExits6()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = config({});
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    const QString wrong = writeToken(QStringLiteral("wrong.token"), QByteArrayLiteral("roles-test-WRONG-token-0123456789"));
    for (const QStringList &credentials : {QStringList{}, QStringList{QStringLiteral("--token-file"), wrong}}) {
        const Result logs = runCtl(QStringList{QStringLiteral("logs"), QStringLiteral("sleeper"), QStringLiteral("--broker"), broker.tcpAddress()}
                                   + credentials);
        QCOMPARE(logs.exitCode, ExitNotAdmitted);
        QVERIFY2(logs.err.contains("not admitted as a monitor"), logs.err.constData());
        const Result status = runCtl(QStringList{QStringLiteral("status"), QStringLiteral("--broker"), broker.tcpAddress()} + credentials);
        QCOMPARE(status.exitCode, logs.exitCode);
    }
    // A read-only monitor may read a service's output: that is watching.
    const Result readOnlyLogs = runCtl({QStringLiteral("logs"), QStringLiteral("sleeper"), QStringLiteral("--broker"), broker.tcpAddress(),
                                        QStringLiteral("--token-file"), m_readOnlyFile});
    QCOMPARE(readOnlyLogs.exitCode, 0);
    QCOMPARE(broker.stopVerdict(), QString());
}

// A token rotated by rewriting its file in place (same path, so the configuration text is the
// same) is applied by SIGHUP: the old read-only token no longer admits, the new one does, read-only.
void tst_MonitorRoles::tokenFileRewrittenAppliesOnSighup()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = config({});
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    const QStringList status{QStringLiteral("status"), QStringLiteral("--json"), QStringLiteral("--broker"), broker.tcpAddress(),
                             QStringLiteral("--token-file")};
    QCOMPARE(runCtl(status + QStringList{m_readOnlyFile}).exitCode, 0);
    const QString oldCopy = writeToken(QStringLiteral("old-readonly.token"), ReadOnlyToken);

    // Nothing changed: the reload says so.
    ::kill(pid_t(broker.pid()), SIGHUP);
    QTRY_VERIFY2_WITH_TIMEOUT(broker.log().contains("reload: configuration reloaded: no changes"), broker.log().constData(), 10000);

    const QByteArray rotated = QByteArrayLiteral("roles-test-ROTATED-read-only-0123456789");
    writeToken(QStringLiteral("readonly.token"), rotated);
    ::kill(pid_t(broker.pid()), SIGHUP);
    QTRY_VERIFY2_WITH_TIMEOUT(broker.log().contains("reload: applied: [monitor] token files: new content"), broker.log().constData(), 10000);
    QVERIFY(!broker.log().contains(rotated));
    QCOMPARE(runCtl(status + QStringList{oldCopy}).exitCode, ExitNotAdmitted);
    const Result fresh = runCtl(status + QStringList{m_readOnlyFile});
    QCOMPARE(fresh.exitCode, 0);
    QCOMPARE(QJsonDocument::fromJson(fresh.out).object().value(QStringLiteral("role")).toString(), QStringLiteral("read-only"));
    writeToken(QStringLiteral("readonly.token"), ReadOnlyToken); // for the tests after this one
    QCOMPARE(broker.stopVerdict(), QString());
}

QTEST_GUILESS_MAIN(tst_MonitorRoles)
#include "tst_monitorroles.moc"
