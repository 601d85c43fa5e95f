// The access policy ([policy], docs/SECURITY.md "Access policy", PROTOCOL) with a real
// kennel-broker and clients of real uids: kennelctl run as nobody (setpriv, the test runs as
// root) is refused a name pattern denied to its uid and may take others, root may take it; the
// refusal is logged with the rule; `--explain-policy` prints what applies to a described peer.
#include "brokerprocess.h"
#include "testbroker.h"

#include <QFile>
#include <QProcess>
#include <QTest>

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

} // namespace

class tst_AccessPolicy : public QObject
{
    Q_OBJECT
private slots:
    void ownDeniedByUid();
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
