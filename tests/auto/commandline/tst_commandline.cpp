// The programs' command lines, typed the way operators type them. A stray word (a value without
// its flag, a half-pasted line) is an error with a clear message and a non-zero exit, never
// silently ignored: "kennel-broker extra --check-config" used to answer "configuration OK".
#include "testbroker.h"

#include <QProcess>
#include <QTest>

class tst_CommandLine : public QObject
{
    Q_OBJECT

private slots:
    void strayArguments_data();
    void strayArguments();
};

void tst_CommandLine::strayArguments_data()
{
    QTest::addColumn<QString>("program");
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QByteArray>("message");
    QTest::newRow("broker before a flag") << QStringLiteral("kennel-broker") << QStringList{QStringLiteral("extra"), QStringLiteral("--check-config")}
                                          << QByteArray("kennel-broker: unexpected argument 'extra'");
    QTest::newRow("broker after a flag") << QStringLiteral("kennel-broker") << QStringList{QStringLiteral("--check-config"), QStringLiteral("8000")}
                                         << QByteArray("kennel-broker: unexpected argument '8000'");
    QTest::newRow("monitor") << QStringLiteral("kennel-monitor")
                             << QStringList{QStringLiteral("unix:/run/kennel/broker.sock"), QStringLiteral("--connect")}
                             << QByteArray("kennel-monitor: unexpected argument 'unix:/run/kennel/broker.sock'");
}

void tst_CommandLine::strayArguments()
{
    QFETCH(QString, program);
    QFETCH(QStringList, arguments);
    QFETCH(QByteArray, message);
    QProcess process;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
    process.setProcessEnvironment(env);
    process.start(KennelTest::binaryPath(program), arguments);
    QVERIFY2(process.waitForFinished(20000), qPrintable(program));
    const QByteArray err = process.readAllStandardError();
    QCOMPARE(process.exitStatus(), QProcess::NormalExit);
    QVERIFY2(process.exitCode() != 0, err.constData());
    QVERIFY2(err.contains(message), err.constData());
    QVERIFY2(!process.readAllStandardOutput().contains("configuration OK"), err.constData());

    // Without the stray word the broker's check passes (the refusal is about the word).
    if (program == QLatin1String("kennel-broker")) {
        arguments.removeAll(QString::fromLatin1(message.mid(message.indexOf('\'') + 1).chopped(1)));
        process.start(KennelTest::binaryPath(program), arguments);
        QVERIFY(process.waitForFinished(20000));
        QCOMPARE(process.exitCode(), 0);
    }
}

QTEST_GUILESS_MAIN(tst_CommandLine)
#include "tst_commandline.moc"
