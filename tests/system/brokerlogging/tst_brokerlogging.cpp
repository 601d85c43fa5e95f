// kennel-broker's log, read back from its stderr.
//
// Under systemd it writes to the journal through stderr. When JOURNAL_STREAM names
// stderr's device and inode, every line must start with the sd-daemon priority of its level and
// carry no timestamp of the broker's own; a supervised service's "<N>" lines keep their N. Tested
// as systemd would run it: the broker's stderr is a file whose dev:inode the test puts in
// JOURNAL_STREAM, and the test reads back what the broker wrote.
#include "testbroker.h"

#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <sys/stat.h>

class tst_BrokerLogging : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();
    void prioritiesWhenStderrIsTheJournal();
    void timestampsWhenItIsNot();
    void logRulesFromTheIni();
    void badLogRuleIsAConfigError();

private:
    // Starts the broker with a talkative service; its stderr goes to m_logPath. `journal`: set
    // JOURNAL_STREAM to that file's dev:inode; otherwise to another file's.
    bool startBroker(bool journal, const QByteArray &moreConfig = {});
    QByteArray stopAndRead();

    std::unique_ptr<QTemporaryDir> m_dir;
    QString m_logPath;
    QProcess m_broker;
};

void tst_BrokerLogging::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_logPath = m_dir->filePath(QStringLiteral("stderr.log"));
}

void tst_BrokerLogging::cleanup()
{
    if (m_broker.state() != QProcess::NotRunning) {
        m_broker.kill();
        m_broker.waitForFinished(5000);
    }
}

bool tst_BrokerLogging::startBroker(bool journal, const QByteArray &moreConfig)
{
    // A service as people write them: a shell script that prints with and without priorities.
    const QString script = m_dir->filePath(QStringLiteral("talker.sh"));
    QFile s(script);
    if (!s.open(QIODevice::WriteOnly))
        return false;
    s.write("#!/bin/sh\n"
            "echo '<3>disk on fire'\n"
            "echo '<1>action needed'\n"
            "echo '<7>details'\n"
            "echo 'plain words'\n"
            "echo 'plain error' >&2\n"
            "echo 'done'\n"
            "exec sleep 30\n");
    s.close();
    s.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    const QString config = m_dir->filePath(QStringLiteral("broker.ini"));
    QFile c(config);
    if (!c.open(QIODevice::WriteOnly))
        return false;
    c.write(moreConfig + "\n[service.talker]\nprogram = talker.sh\nrestart = never\nstop_timeout_ms = 2000\n");
    c.close();

    QFile log(m_logPath);
    if (!log.open(QIODevice::WriteOnly))
        return false;
    log.close();
    const QString other = m_dir->filePath(QStringLiteral("other"));
    QFile(other).open(QIODevice::WriteOnly);
    struct stat st{};
    if (::stat(QFile::encodeName(journal ? m_logPath : other).constData(), &st) != 0)
        return false;

    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("JOURNAL_STREAM"), QStringLiteral("%1:%2").arg(qulonglong(st.st_dev)).arg(qulonglong(st.st_ino)));
    env.remove(QStringLiteral("QT_MESSAGE_PATTERN"));
    env.remove(QStringLiteral("QT_LOGGING_RULES")); // it would override [log] rules (as documented)
    m_broker.setProcessEnvironment(env);
    m_broker.setStandardErrorFile(m_logPath); // truncates: the same inode
    m_broker.setProgram(KennelTest::binaryPath(QStringLiteral("kennel-broker")));
    m_broker.setArguments({QStringLiteral("--listen"), QStringLiteral("127.0.0.1:0"), QStringLiteral("--config"), config});
    m_broker.start();
    return m_broker.waitForStarted(10000);
}

QByteArray tst_BrokerLogging::stopAndRead()
{
    auto read = [this] {
        QFile f(m_logPath);
        return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
    };
    // Wait for the service's last line, then stop the broker the way systemd does.
    if (!QTest::qWaitFor([&] { return read().contains("talker: done"); }, 15000))
        return "timed out; log so far:\n" + read();
    ::kill(pid_t(m_broker.processId()), SIGTERM);
    if (!m_broker.waitForFinished(15000))
        return "broker did not stop; log:\n" + read();
    return read();
}

void tst_BrokerLogging::prioritiesWhenStderrIsTheJournal()
{
    QVERIFY(startBroker(true));
    const QByteArray log = stopAndRead();
    QCOMPARE(m_broker.exitCode(), 0);
    const QList<QByteArray> lines = log.trimmed().split('\n');
    QVERIFY2(lines.size() >= 8, log.constData());
    // Every line has a priority and no timestamp of ours.
    static const QRegularExpression shape(QStringLiteral("^<[0-7]>kennel\\.[a-z]+ [a-z]+: "));
    static const QRegularExpression time(QStringLiteral("\\d\\d:\\d\\d:\\d\\d"));
    for (const QByteArray &line : lines) {
        QVERIFY2(shape.match(QString::fromUtf8(line)).hasMatch(), line.constData());
        QVERIFY2(!time.match(QString::fromUtf8(line)).hasMatch(), line.constData());
    }
    // Info at 6; the service's own priorities kept; its plain stderr a warning (4).
    QVERIFY2(log.contains("<6>kennel.broker info: listening on 127.0.0.1:"), log.constData());
    QVERIFY2(log.contains("<3>kennel.service critical: talker: disk on fire\n"), log.constData());
    QVERIFY2(log.contains("<1>kennel.service critical: talker: action needed\n"), log.constData());
    QVERIFY2(log.contains("<6>kennel.service info: talker: plain words\n"), log.constData());
    QVERIFY2(log.contains("<4>kennel.service warning: talker: plain error\n"), log.constData());
    // A debug line is still a debug line: filtered out at the default level, not shown as info.
    QVERIFY2(!log.contains("details"), log.constData());
    QVERIFY2(log.contains("<6>kennel.broker info: stopped\n"), log.constData());
}

// Not the journal (JOURNAL_STREAM names another file, as when a service started from systemd runs
// the broker with its stderr redirected): the usual lines with a timestamp, no prefixes; a
// service's "<3>" still picks the level.
void tst_BrokerLogging::timestampsWhenItIsNot()
{
    QVERIFY(startBroker(false));
    const QByteArray log = stopAndRead();
    QCOMPARE(m_broker.exitCode(), 0);
    QVERIFY2(!log.contains("<6>") && !log.contains("<3>"), log.constData());
    static const QRegularExpression stamped(QStringLiteral("^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} kennel\\.broker info: listening on"),
                                            QRegularExpression::MultilineOption);
    QVERIFY2(stamped.match(QString::fromUtf8(log)).hasMatch(), log.constData());
    QVERIFY2(log.contains(" kennel.service critical: talker: disk on fire\n"), log.constData());
}

// [log] rules turn categories' levels on and off from the file, as QT_LOGGING_RULES does.
void tst_BrokerLogging::logRulesFromTheIni()
{
    QVERIFY(startBroker(false, "[log]\nrules = kennel.service.debug=true, kennel.supervisor.info=false\n"));
    const QByteArray log = stopAndRead();
    QCOMPARE(m_broker.exitCode(), 0);
    QVERIFY2(log.contains(" kennel.service debug: talker: details\n"), log.constData()); // "<7>details"
    QVERIFY2(!log.contains("kennel.supervisor info"), log.constData());
    QVERIFY2(log.contains("kennel.broker info: listening on"), log.constData()); // the rest as before
}

void tst_BrokerLogging::badLogRuleIsAConfigError()
{
    const QString config = m_dir->filePath(QStringLiteral("bad.ini"));
    QFile c(config);
    QVERIFY(c.open(QIODevice::WriteOnly));
    c.write("[log]\nrules = kennel.router.debug\n"); // "=true" forgotten
    c.close();
    QProcess check;
    check.start(KennelTest::binaryPath(QStringLiteral("kennel-broker")), {QStringLiteral("--config"), config, QStringLiteral("--check-config")});
    QVERIFY(check.waitForFinished(10000));
    const QByteArray err = check.readAllStandardError();
    QCOMPARE(check.exitCode(), 1);
    QVERIFY2(err.contains("log/rules: \"kennel.router.debug\" is not a logging rule"), err.constData());
}

QTEST_GUILESS_MAIN(tst_BrokerLogging)
#include "tst_brokerlogging.moc"
