// [service.NAME] after, name, user, group and supplementary_groups with a real kennel-broker
// supervising real programs: a dependent starts only once its dependency's program has registered
// its name, and stops before it; a dependency that reaches its start limit leaves its dependent
// waiting with a warning that names both; cycles, unknown services and unknown accounts are refused
// by --check-config; and a program runs with the uid, gid and groups configured (checked by the
// program's own `id` output), or not at all when the broker is not root.
#include "brokerprocess.h"
#include "testbroker.h"

#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

using namespace KennelTest;

namespace {
QByteArray demoClient()
{
    return binaryPath(QStringLiteral("kennel-demo-client")).toUtf8();
}

// Where `needle` first appears in the broker's log; -1 if it does not. Lines are in time order.
qsizetype lineIndex(const QByteArray &log, const QByteArray &needle)
{
    return log.indexOf(needle);
}
} // namespace

class tst_ServiceDeps : public QObject
{
    Q_OBJECT

private slots:
    void checkConfigRefuses_data();
    void checkConfigRefuses();
    void dependentStartsAfterRegistrationAndStopsFirst();
    void failedDependencyLeavesDependentWaiting();
    void runsAsConfiguredUserAndGroups();
    void brokerNotRootCannotSwitchUser();
};

void tst_ServiceDeps::checkConfigRefuses_data()
{
    QTest::addColumn<QByteArray>("config");
    QTest::addColumn<QStringList>("expected");
    const QByteArray sh = "program = /bin/sh\narguments = -c, \"exec sleep 30\"\n";
    QTest::newRow("cycle") << QByteArray("[service.a]\n" + sh + "after = c\n[service.b]\n" + sh + "after = a\n[service.c]\n"
                                         + sh + "after = b\n")
                           << QStringList{QStringLiteral("[service.a] after: a dependency cycle: a -> c -> b -> a")};
    QTest::newRow("unknown") << QByteArray("[service.a]\n" + sh + "after = b, nosuch\n[service.b]\n" + sh)
                             << QStringList{QStringLiteral("[service.a] after: unknown service \"nosuch\"")};
    QTest::newRow("itself") << QByteArray("[service.a]\n" + sh + "after = a\n")
                            << QStringList{QStringLiteral("[service.a] after: names the service itself")};
    QTest::newRow("same-name") << QByteArray("[service.a]\n" + sh + "name = x\n[service.b]\n" + sh + "name = x\n")
                               << QStringList{QStringLiteral("[service.b] name: \"x\" is also the name of [service.a]; each "
                                                             "service registers a name of its own")};
    QTest::newRow("bad-name") << QByteArray("[service.a]\n" + sh + "name = \"a b\"\n")
                              << QStringList{QStringLiteral("service.a/name: \"a b\" is not a client name (1..64 characters "
                                                            "of A-Z a-z 0-9 . _ -)")};
    QTest::newRow("unknown-user") << QByteArray("[service.a]\n" + sh + "user = no-such-user-here\n")
                                  << QStringList{QStringLiteral("[service.a] user: \"no-such-user-here\" is not a user on "
                                                                "this system")};
    QTest::newRow("unknown-group") << QByteArray("[service.a]\n" + sh + "user = nobody\ngroup = no-such-group\n")
                                   << QStringList{QStringLiteral("[service.a] group: \"no-such-group\" is not a group on "
                                                                 "this system")};
    QTest::newRow("unknown-supplementary")
        << QByteArray("[service.a]\n" + sh + "supplementary_groups = nogroup, no-such-group\n")
        << QStringList{QStringLiteral("[service.a] supplementary_groups: \"no-such-group\" is not a group on this system")};
}

void tst_ServiceDeps::checkConfigRefuses()
{
    QFETCH(QByteArray, config);
    QFETCH(QStringList, expected);
    QTemporaryDir dir;
    QFile file(dir.filePath(QStringLiteral("broker.ini")));
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(config);
    file.close();
    QProcess check;
    check.start(binaryPath(QStringLiteral("kennel-broker")),
                {QStringLiteral("--config"), file.fileName(), QStringLiteral("--check-config")});
    QVERIFY(check.waitForFinished(10000));
    QCOMPARE(check.exitCode(), 1);
    const QString output = QString::fromUtf8(check.readAllStandardError());
    QStringList lines = output.split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    for (QString &line : lines)
        line.remove(0, QStringLiteral("kennel-broker: ").size());
    QCOMPARE(lines, expected);
    QVERIFY(!check.readAllStandardOutput().contains("configuration OK"));
}

void tst_ServiceDeps::dependentStartsAfterRegistrationAndStopsFirst()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    // The dependent comes first in the file: the order is the graph's, not the file's. The
    // dependency registers a name other than its service name, as `name =` says.
    options.configText = "[service.second]\n"
                         "program = /bin/sh\n"
                         "arguments = -c, \"echo second is up; exec sleep 60\"\n"
                         "after = first\n"
                         "[service.first]\n"
                         "program = " + demoClient() + "\n"
                         "arguments = --name, first-client, --peer, nobody-here, --interval-ms, 60000\n"
                         "name = first-client\n";
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    QTRY_VERIFY2_WITH_TIMEOUT(broker.log().contains("second: second is up"), broker.log().constData(), 20000);
    const QByteArray log = broker.log();
    const qsizetype waiting = lineIndex(log, "service second: waiting for first to register before it starts");
    const qsizetype firstStarted = lineIndex(log, "service first: started");
    const qsizetype dependenciesReady = lineIndex(log, "service second: its dependencies have registered; starting");
    const qsizetype secondStarted = lineIndex(log, "service second: started");
    QVERIFY2(waiting >= 0 && firstStarted >= 0 && dependenciesReady >= 0 && secondStarted >= 0, log.constData());
    QVERIFY2(waiting < firstStarted && firstStarted < dependenciesReady && dependenciesReady < secondStarted,
             log.constData());

    // Stop: the dependent before what it depends on.
    QCOMPARE(broker.stopVerdict(), QString());
    const QByteArray all = broker.log();
    const qsizetype secondStopped = lineIndex(all, "service second: stopped");
    const qsizetype firstStopped = lineIndex(all, "service first: stopped");
    QVERIFY2(secondStopped >= 0 && firstStopped > secondStopped, all.constData());
}

void tst_ServiceDeps::failedDependencyLeavesDependentWaiting()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = "[service.base]\n"
                         "program = /bin/sh\n"
                         "arguments = -c, \"exit 3\"\n"
                         "start_limit = 2\n"
                         "restart_delay_ms = 100\n"
                         "start_limit_window_ms = 10000\n"
                         "[service.user-of-base]\n"
                         "program = /bin/sh\n"
                         "arguments = -c, \"echo must not run; exec sleep 60\"\n"
                         "after = base\n";
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    QTRY_VERIFY2_WITH_TIMEOUT(broker.log().contains("service base: failed:"), broker.log().constData(), 20000);
    QTRY_VERIFY2_WITH_TIMEOUT(broker.log().contains("service user-of-base: not started: it needs base which has failed "
                                                    "(start limit reached"),
                              broker.log().constData(), 5000);
    // SIGHUP retries base, which fails again; its dependent still does not run.
    ::kill(pid_t(broker.pid()), SIGHUP);
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog("service base: failed:") == 2, 20000);
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog("service user-of-base: not started: it needs base") >= 2, 5000);
    QVERIFY2(!broker.log().contains("must not run") && !broker.log().contains("service user-of-base: started"),
             broker.log().constData());
    QCOMPARE(broker.stopVerdict(), QString());
}

void tst_ServiceDeps::runsAsConfiguredUserAndGroups()
{
    if (::geteuid() != 0)
        QFAIL("this test switches users: run it as root (the CI does)");
    // getpwnam/getgrnam return static storage: each value is copied before the next call.
    const passwd *nobody = ::getpwnam("nobody");
    QVERIFY(nobody);
    const uid_t uid = nobody->pw_uid;
    const gid_t loginGid = nobody->pw_gid;
    const group *nogroup = ::getgrnam("nogroup");
    QVERIFY(nogroup);
    const gid_t gid = nogroup->gr_gid;
    const group *extra = ::getgrnam("daemon");
    QVERIFY(extra);
    const gid_t extraGid = extra->gr_gid;

    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = "[service.as-nobody]\n"
                         "program = /bin/sh\n"
                         "arguments = -c, \"echo ids $(id -u) $(id -g) [$(id -G)] user=$USER; exec sleep 60\"\n"
                         "user = nobody\n"
                         "group = nogroup\n"
                         "supplementary_groups = daemon\n"
                         "[service.only-user]\n"
                         "program = /bin/sh\n"
                         "arguments = -c, \"echo ids $(id -u) $(id -g) [$(id -G)]; exec sleep 60\"\n"
                         "user = nobody\n"
                         "[service.as-broker]\n"
                         "program = /bin/sh\n"
                         "arguments = -c, \"echo ids $(id -u) $(id -g); exec sleep 60\"\n";
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    const QByteArray asNobody = QByteArrayLiteral("as-nobody: ids ") + QByteArray::number(uid) + ' ' + QByteArray::number(gid)
        + " [" + QByteArray::number(gid) + ' ' + QByteArray::number(extraGid) + "] user=nobody";
    // No group keys: the user's login group, and no supplementary groups (not root's).
    const QByteArray onlyUser = QByteArrayLiteral("only-user: ids ") + QByteArray::number(uid) + ' '
        + QByteArray::number(loginGid) + " [" + QByteArray::number(loginGid) + "]";
    const QByteArray asBroker = QByteArrayLiteral("as-broker: ids 0 0");
    QTRY_VERIFY_WITH_TIMEOUT(broker.countInLog(": ids ") == 3, 20000);
    const QByteArray log = broker.log();
    QVERIFY2(log.contains(asNobody), log.mid(log.indexOf("as-nobody: ids"), 80).constData());
    QVERIFY2(log.contains(onlyUser), log.mid(log.indexOf("only-user: ids"), 80).constData());
    QVERIFY2(log.contains(asBroker), log.mid(log.indexOf("as-broker: ids"), 80).constData());
    QCOMPARE(broker.stopVerdict(), QString());
}

void tst_ServiceDeps::brokerNotRootCannotSwitchUser()
{
    if (::geteuid() != 0)
        QFAIL("this test starts the broker as nobody: run it as root (the CI does)");
    // The broker as nobody, asked to run a program as root: the start fails with the reason,
    // counts against the start limit, and the service ends up failed.
    QTemporaryDir dir;
    QVERIFY(QFile::setPermissions(dir.path(), QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner
                                                  | QFileDevice::ReadOther | QFileDevice::ExeOther));
    QFile file(dir.filePath(QStringLiteral("broker.ini")));
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("[broker]\nlisten = 127.0.0.1:0\n"
               "[service.wants-root]\nprogram = /bin/sh\narguments = -c, \"echo ran; exec sleep 60\"\nuser = root\n"
               "start_limit = 2\nrestart_delay_ms = 100\n");
    file.close();
    QVERIFY(file.setPermissions(QFileDevice::ReadOwner | QFileDevice::ReadOther));
    QProcess broker;
    broker.setProcessChannelMode(QProcess::MergedChannels);
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("QT_LOGGING_RULES"), QStringLiteral("kennel.*.info=true"));
    env.remove(QStringLiteral("XDG_RUNTIME_DIR"));
    broker.setProcessEnvironment(env);
    broker.start(QStringLiteral("/usr/bin/setpriv"),
                 {QStringLiteral("--reuid=nobody"), QStringLiteral("--regid=nogroup"), QStringLiteral("--clear-groups"),
                  binaryPath(QStringLiteral("kennel-broker")), QStringLiteral("--config"), file.fileName()});
    QVERIFY2(broker.waitForStarted(5000), qPrintable(broker.errorString()));
    QByteArray log;
    QTRY_VERIFY2_WITH_TIMEOUT((log += broker.readAll()).contains("service wants-root: failed:"), log.constData(), 20000);
    const QByteArray refused = "service wants-root: failed to start /bin/sh : the broker runs as uid "
        + QByteArray::number(::getpwnam("nobody")->pw_uid) + ", not root: it cannot start a program as uid 0 gid 0";
    QVERIFY2(log.contains(refused), log.constData());
    QVERIFY2(!log.contains("wants-root: ran"), log.constData());
    broker.terminate();
    QVERIFY(broker.waitForFinished(10000));
    QCOMPARE(broker.exitCode(), 0);
}

QTEST_MAIN(tst_ServiceDeps)
#include "tst_servicedeps.moc"
