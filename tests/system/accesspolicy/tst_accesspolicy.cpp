// The access policy ([policy], docs/SECURITY.md "Access policy", PROTOCOL ..R-4.5.8) with a
// real kennel-broker and clients of real uids: kennelctl run as nobody (setpriv, the test runs as
// root) is refused a name pattern denied to its uid and may take others, root may take it; the
// refusal is logged with the rule; a send rule denies nobody's messages (kennelctl, and an old C
// program that keeps its connection) and lets root's through, and a reload re-judges the old
// program's route on the same connection; `--explain-policy` prints what applies to a peer.
#include "brokerprocess.h"
#include "testbroker.h"

#include <QFile>
#include <QProcess>
#include <QTest>

#include <csignal>
#include <unistd.h>

using KennelTest::BrokerProcess;

namespace {

QString kennelctl()
{
    return KennelTest::binaryPath(QStringLiteral("kennelctl"));
}

const QByteArray Policy = "[policy]\n"
                          "root_guards = allow own guarded-* uid=0\n"
                          "nobody_not = deny own guarded-* uid=65534\n"
                          "ui_sends = allow send sensor-* program=/usr/bin/ui\n"
                          "default = allow\n";

// kennelctl listen NAME over TCP (a Unix socket in the test's private folder is not nobody's to
// reach), as `uid` (0: as the test); its exit code and stderr.
std::pair<int, QByteArray> listenAs(const BrokerProcess &broker, const QString &name, uid_t uid)
{
    QStringList args{QStringLiteral("listen"), name, QStringLiteral("--broker"), broker.tcpAddress(),
                     QStringLiteral("--timeout"), QStringLiteral("1000")};
    QProcess p;
    if (uid == 0) {
        p.start(kennelctl(), args);
    } else {
        p.start(QStringLiteral("setpriv"), QStringList{QStringLiteral("--reuid=%1").arg(uid), QStringLiteral("--regid=%1").arg(uid),
                                                       QStringLiteral("--clear-groups"), kennelctl()} + args);
    }
    if (!p.waitForFinished(10000))
        p.kill();
    return {p.exitCode(), p.readAllStandardError()};
}

QStringList asUid(uid_t uid, const QString &program, const QStringList &args)
{
    if (uid == 0)
        return QStringList{program} + args;
    return QStringList{QStringLiteral("--reuid=%1").arg(uid), QStringLiteral("--regid=%1").arg(uid),
                       QStringLiteral("--clear-groups"), program} + args;
}

// kennelctl send TARGET TEXT as `uid`: its exit code and stdout.
std::pair<int, QByteArray> sendAs(const BrokerProcess &broker, const QString &target, const QString &text, uid_t uid)
{
    const QStringList args = asUid(uid, kennelctl(),
                                   {QStringLiteral("send"), target, text, QStringLiteral("--broker"), broker.tcpAddress(),
                                    QStringLiteral("--timeout"), QStringLiteral("3000")});
    QProcess p;
    p.start(uid == 0 ? args.first() : QStringLiteral("setpriv"), uid == 0 ? args.mid(1) : args);
    if (!p.waitForFinished(10000))
        p.kill();
    return {p.exitCode(), p.readAllStandardOutput()};
}

// An old C program (tests/system/legacyidentity/forking_client.c) as `uid`, forwarding "ping N"
// to `peer` every 50 ms over one main connection until the test ends it.
void startOldSender(QProcess &p, const BrokerProcess &broker, const QString &name, const QString &peer, uid_t uid)
{
    const QStringList args = asUid(uid, QStringLiteral(KENNEL_FORKING_CLIENT),
                                   {QStringLiteral("--name"), name, QStringLiteral("--recv"), QStringLiteral("none"),
                                    QStringLiteral("--main"), broker.tcpAddress(), QStringLiteral("--peer"), peer,
                                    QStringLiteral("--send-ms"), QStringLiteral("50")});
    p.start(uid == 0 ? args.first() : QStringLiteral("setpriv"), uid == 0 ? args.mid(1) : args);
}

} // namespace

class tst_AccessPolicy : public QObject
{
    Q_OBJECT
private slots:
    void ownDeniedByUid();
    void sendDeniedByUid();
    void explainPolicy();
    void explainPolicyRefusesBadWords();
};

void tst_AccessPolicy::ownDeniedByUid()
{
    if (::geteuid() != 0)
        QSKIP("running a client as another uid needs root (setpriv)");
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = Policy;
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    const auto [denied, deniedErr] = listenAs(broker, QStringLiteral("guarded-1"), 65534);
    QCOMPARE(denied, 3);
    QVERIFY2(deniedErr.contains("may not be owned by this peer ([policy] nobody_not = deny own guarded-* uid=65534)"),
             deniedErr.constData());
    QTRY_VERIFY2_WITH_TIMEOUT(broker.log().contains("policy_denied"), broker.log().constData(), 5000);
    // Another name is nobody's to take; the guarded one is root's.
    QCOMPARE(listenAs(broker, QStringLiteral("free-1"), 65534).first, 0);
    QCOMPARE(listenAs(broker, QStringLiteral("guarded-1"), 0).first, 0);
    QCOMPARE(broker.stopVerdict(), QString());
}

// PROTOCOL with real uids and real programs.
void tst_AccessPolicy::sendDeniedByUid()
{
    if (::geteuid() != 0)
        QSKIP("running a client as another uid needs root (setpriv)");
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = "[policy]\nnobody_to_guarded = deny send guard-* uid=65534\n";
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    QProcess listener;
    listener.start(kennelctl(), {QStringLiteral("listen"), QStringLiteral("guard-rx"), QStringLiteral("--broker"),
                                 broker.tcpAddress(), QStringLiteral("--timeout"), QStringLiteral("30000")});
    QTRY_VERIFY_WITH_TIMEOUT(broker.log().contains("registered 'guard-rx'"), 5000);

    // kennelctl as nobody: not delivered, policy_denied (exit 10 + 18); as root: delivered.
    const auto [denied, deniedOut] = sendAs(broker, QStringLiteral("guard-rx"), QStringLiteral("from nobody"), 65534);
    QCOMPARE(denied, 28);
    QVERIFY2(deniedOut.contains("not delivered to guard-rx: policy_denied"), deniedOut.constData());
    QCOMPARE(sendAs(broker, QStringLiteral("guard-rx"), QStringLiteral("from root"), 0).first, 0);
    // Other names are nobody's to send to (no one there: no_such_client, exit 11).
    QCOMPARE(sendAs(broker, QStringLiteral("open-rx"), QStringLiteral("x"), 65534).first, 11);

    // Old programs (names of at most 9 characters): nobody's messages dropped (it cannot be told: logged and counted), root's
    // delivered; the old connection stays open.
    QProcess nobodyOld, rootOld;
    startOldSender(nobodyOld, broker, QStringLiteral("oldnobody"), QStringLiteral("guard-rx"), 65534);
    startOldSender(rootOld, broker, QStringLiteral("oldroot"), QStringLiteral("guard-rx"), 0);
    QByteArray heard; // accumulated: QTRY evaluates its condition once more after it holds
    QTRY_VERIFY2_WITH_TIMEOUT((heard += listener.readAllStandardOutput()).contains("oldroot: ping"), heard.constData(), 5000);
    QVERIFY2(heard.contains("from root"), heard.constData());
    QTRY_VERIFY2_WITH_TIMEOUT(broker.log().contains("denied legacy send from 'oldnobody'"), broker.log().constData(), 5000);
    QVERIFY(broker.log().contains("([policy] nobody_to_guarded = deny send guard-* uid=65534)"));
    QTest::qWait(300);
    heard += listener.readAllStandardOutput();
    QVERIFY2(!heard.contains("oldnobody"), heard.constData());
    QVERIFY2(!heard.contains("from nobody"), heard.constData());
    QCOMPARE(nobodyOld.state(), QProcess::Running);

    // A reload that drops the rule: the same old connection's route is judged again.
    QFile config(broker.directory() + QStringLiteral("/broker.ini"));
    QVERIFY(config.open(QIODevice::WriteOnly | QIODevice::Truncate));
    config.write("[policy]\nroot_not = deny send guard-* uid=0\n");
    config.close();
    QCOMPARE(::kill(pid_t(broker.pid()), SIGHUP), 0);
    QTRY_VERIFY_WITH_TIMEOUT(broker.log().contains("reload: configuration reloaded"), 5000);
    QByteArray after;
    QTRY_VERIFY2_WITH_TIMEOUT((after += listener.readAllStandardOutput()).contains("oldnobody: ping"), after.constData(), 5000);
    QTRY_VERIFY_WITH_TIMEOUT(broker.log().contains("denied legacy send from 'oldroot'"), 5000);
    const auto [rootNow, rootNowOut] = sendAs(broker, QStringLiteral("guard-rx"), QStringLiteral("root again"), 0);
    QCOMPARE(rootNow, 28);
    QCOMPARE(sendAs(broker, QStringLiteral("guard-rx"), QStringLiteral("nobody now"), 65534).first, 0);

    nobodyOld.kill();
    rootOld.kill();
    listener.kill();
    nobodyOld.waitForFinished(5000);
    rootOld.waitForFinished(5000);
    listener.waitForFinished(5000);
    QCOMPARE(broker.stopVerdict(), QString());
}

void tst_AccessPolicy::explainPolicy()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("broker.ini"));
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(Policy);
    f.close();
    QProcess p;
    p.start(KennelTest::binaryPath(QStringLiteral("kennel-broker")),
            {QStringLiteral("--config"), path, QStringLiteral("--explain-policy"), QStringLiteral("uid=65534"),
             QStringLiteral("program=/usr/bin/ui")});
    QVERIFY(p.waitForFinished(10000));
    QCOMPARE(p.exitCode(), 0);
    QCOMPARE(QString::fromUtf8(p.readAllStandardOutput()).split(QLatin1Char('\n'), Qt::SkipEmptyParts),
             (QStringList{QStringLiteral("deny own guarded-* (rule nobody_not: deny own guarded-* uid=65534)"),
                          QStringLiteral("allow send sensor-* (rule ui_sends: allow send sensor-* program=/usr/bin/ui)"),
                          QStringLiteral("allow own * (default)"), QStringLiteral("allow send * (default)"),
                          QStringLiteral("allow send topic:# (default)")}));
}

void tst_AccessPolicy::explainPolicyRefusesBadWords()
{
    QProcess p;
    p.start(KennelTest::binaryPath(QStringLiteral("kennel-broker")),
            {QStringLiteral("--explain-policy"), QStringLiteral("user=root")});
    QVERIFY(p.waitForFinished(10000));
    QCOMPARE(p.exitCode(), 1);
    QVERIFY(p.readAllStandardError().contains("\"user=root\" is not uid=N"));
}

QTEST_GUILESS_MAIN(tst_AccessPolicy)
#include "tst_accesspolicy.moc"
