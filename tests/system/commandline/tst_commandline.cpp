// The programs' command lines, typed the way operators type them. A stray word (a value without
// its flag, a half-pasted line) is an error with a clear message and a non-zero exit, never
// silently ignored: "kennel-broker extra --check-config" used to answer "configuration OK".
// kennelctl send takes its text from standard input ("-") or a file (--file), through a real
// broker process: a 2 MB text does not fit a command line ("Argument list too long").
// kennel-broker --print-listening tells whoever started it on port 0 where it listens.
#include "brokerprocess.h"
#include "testbroker.h"

#include <QProcess>
#include <QRegularExpression>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

class tst_CommandLine : public QObject
{
    Q_OBJECT

private slots:
    void strayArguments_data();
    void strayArguments();
    void kennelctlSendsStandardInputAndFiles();
    void kennelctlSendInputErrors_data();
    void kennelctlSendInputErrors();
    void kennelctlSaysItCannotConnect_data();
    void kennelctlSaysItCannotConnect();
    void brokerPrintsWhereItListens();
    void brokerPrintsNothingUnasked();
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
    // The fleet view's options (docs/MONITOR-APP.md): the bridge's URL forms, and no fleet option alone.
    QTest::newRow("monitor fleet url") << QStringLiteral("kennel-monitor") << QStringList{QStringLiteral("--fleet"), QStringLiteral("http://mqtt.lan:1883")}
                                       << QByteArray("kennel-monitor: --fleet: 'http://mqtt.lan:1883' is not mqtt://HOST:PORT or mqtts://HOST:PORT");
    QTest::newRow("monitor fleet credentials in url")
        << QStringLiteral("kennel-monitor") << QStringList{QStringLiteral("--fleet"), QStringLiteral("mqtt://ops:secret@mqtt.lan:1883")}
        << QByteArray("credentials go in --fleet-username and --fleet-password-file");
    QTest::newRow("monitor fleet option alone") << QStringLiteral("kennel-monitor")
                                                << QStringList{QStringLiteral("--fleet-ca-file"), QStringLiteral("/etc/kennel/ca.crt")}
                                                << QByteArray("kennel-monitor: --fleet-ca-file needs --fleet");
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

void tst_CommandLine::kennelctlSendsStandardInputAndFiles()
{
    KennelTest::BrokerProcess broker;
    KennelTest::BrokerProcess::Options options;
    options.arguments = {QStringLiteral("--max-frame-size"), QStringLiteral("4194304")};
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    const QString kennelctl = KennelTest::binaryPath(QStringLiteral("kennelctl"));

    QProcess listener;
    listener.start(kennelctl, {QStringLiteral("listen"), QStringLiteral("inbox"), QStringLiteral("--broker"), broker.unixAddress(),
                               QStringLiteral("--count"), QStringLiteral("3"), QStringLiteral("--timeout"), QStringLiteral("30000")});
    QVERIFY(listener.waitForStarted());
    QByteArray listenerErr;
    QTRY_VERIFY_WITH_TIMEOUT((listenerErr += listener.readAllStandardError()).contains("listening as inbox"), 10000);

    // 2 MB through standard input, the way `some-command | kennelctl send inbox -` does.
    QByteArray big(2 * 1000 * 1000, 'x');
    for (qsizetype i = 0; i < big.size(); i += 1000)
        big[i] = char('a' + (i / 1000) % 26);
    QProcess piped;
    piped.start(kennelctl, {QStringLiteral("send"), QStringLiteral("inbox"), QStringLiteral("-"), QStringLiteral("--broker"),
                            broker.unixAddress(), QStringLiteral("--as"), QStringLiteral("pipe")});
    QVERIFY(piped.waitForStarted());
    piped.write(big);
    piped.closeWriteChannel();
    QTRY_COMPARE_WITH_TIMEOUT(piped.state(), QProcess::NotRunning, 20000);
    QVERIFY2(piped.exitCode() == 0, piped.readAllStandardError().constData());

    // From a file, and "--file -" as standard input.
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("message.txt"));
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("from a file");
    file.close();
    QProcess fromFile;
    fromFile.start(kennelctl, {QStringLiteral("send"), QStringLiteral("inbox"), QStringLiteral("--file"), path, QStringLiteral("--broker"),
                               broker.unixAddress(), QStringLiteral("--as"), QStringLiteral("file")});
    QVERIFY(fromFile.waitForFinished(20000));
    QVERIFY2(fromFile.exitCode() == 0, fromFile.readAllStandardError().constData());
    QProcess dashFile;
    dashFile.start(kennelctl, {QStringLiteral("send"), QStringLiteral("inbox"), QStringLiteral("--file"), QStringLiteral("-"),
                               QStringLiteral("--broker"), broker.unixAddress(), QStringLiteral("--as"), QStringLiteral("dash")});
    QVERIFY(dashFile.waitForStarted());
    dashFile.write("typed in");
    dashFile.closeWriteChannel();
    QVERIFY(dashFile.waitForFinished(20000));
    QVERIFY2(dashFile.exitCode() == 0, dashFile.readAllStandardError().constData());

    QTRY_COMPARE_WITH_TIMEOUT(listener.state(), QProcess::NotRunning, 20000);
    QCOMPARE(listener.exitCode(), 0);
    const QByteArray out = listener.readAllStandardOutput();
    const QByteArray expected = "pipe: " + big + "\nfile: from a file\ndash: typed in\n";
    QVERIFY2(out == expected, qPrintable(QStringLiteral("%1 bytes, expected %2; ends with: %3")
                                             .arg(out.size()).arg(expected.size()).arg(QString::fromLatin1(out.right(80)))));
    QCOMPARE(broker.stopVerdict(), QString());
}

void tst_CommandLine::kennelctlSendInputErrors_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QByteArray>("message");
    QTest::newRow("text and file") << QStringList{QStringLiteral("send"), QStringLiteral("inbox"), QStringLiteral("hi"),
                                                  QStringLiteral("--file"), QStringLiteral("/etc/hostname")}
                                   << QByteArray("kennelctl: send takes TEXT or --file, not both");
    QTest::newRow("missing file") << QStringList{QStringLiteral("send"), QStringLiteral("inbox"), QStringLiteral("--file"),
                                                 QStringLiteral("/nonexistent/message.txt")}
                                  << QByteArray("kennelctl: cannot read /nonexistent/message.txt");
    QTest::newRow("file with listen") << QStringList{QStringLiteral("listen"), QStringLiteral("inbox"), QStringLiteral("--file"),
                                                     QStringLiteral("x")}
                                      << QByteArray("kennelctl: --file is an option of send");
    QTest::newRow("no text") << QStringList{QStringLiteral("send"), QStringLiteral("inbox")}
                             << QByteArray("kennelctl: send needs NAME and TEXT (or --file)");
}

// Refused before any connection: exit 2 (usage), whatever the broker (none runs here).
void tst_CommandLine::kennelctlSendInputErrors()
{
    QFETCH(QStringList, arguments);
    QFETCH(QByteArray, message);
    QProcess process;
    process.start(KennelTest::binaryPath(QStringLiteral("kennelctl")), arguments + QStringList{QStringLiteral("--broker"), QStringLiteral("unix:/nonexistent/kennel.sock")});
    QVERIFY(process.waitForFinished(20000));
    const QByteArray err = process.readAllStandardError();
    QCOMPARE(process.exitCode(), 2);
    QVERIFY2(err.contains(message), err.constData());
}

void tst_CommandLine::kennelctlSaysItCannotConnect_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::newRow("send") << QStringList{QStringLiteral("send"), QStringLiteral("inbox"), QStringLiteral("hi")};
    QTest::newRow("listen") << QStringList{QStringLiteral("listen"), QStringLiteral("inbox")};
}

// No broker there: "cannot connect", not "cannot register ... Connection refused", which sent
// operators looking for a name problem.
void tst_CommandLine::kennelctlSaysItCannotConnect()
{
    QFETCH(QStringList, arguments);
    QTemporaryDir dir;
    const QString address = QStringLiteral("unix:") + dir.filePath(QStringLiteral("no-broker.sock"));
    QProcess process;
    process.start(KennelTest::binaryPath(QStringLiteral("kennelctl")), arguments + QStringList{QStringLiteral("--broker"), address});
    QVERIFY(process.waitForFinished(20000));
    const QByteArray err = process.readAllStandardError();
    QCOMPARE(process.exitCode(), 3);
    QVERIFY2(err.startsWith("kennelctl: cannot connect to ") && !err.contains("register"), err.constData());
}

// One line per listener in the order given, clients then monitors, then "ready": the port the
// kernel picked is one a client can connect to at once.
void tst_CommandLine::brokerPrintsWhereItListens()
{
    QTemporaryDir dir;
    const QString clientPath = dir.filePath(QStringLiteral("broker.sock"));
    const QString monitorPath = dir.filePath(QStringLiteral("monitor.sock"));
    QProcess broker;
    broker.start(KennelTest::binaryPath(QStringLiteral("kennel-broker")),
                 {QStringLiteral("--listen"), QStringLiteral("127.0.0.1:0"), QStringLiteral("--listen"), QStringLiteral("unix:") + clientPath,
                  QStringLiteral("--monitor-listen"), QStringLiteral("unix:") + monitorPath, QStringLiteral("--print-listening")});
    QVERIFY(broker.waitForStarted());
    QByteArray out;
    QTRY_VERIFY_WITH_TIMEOUT((out += broker.readAllStandardOutput()).endsWith("ready\n") || broker.state() == QProcess::NotRunning,
                             15000);
    const QStringList lines = QString::fromLocal8Bit(out).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 4);
    const auto tcp = QRegularExpression(QStringLiteral("^listening clients 127\\.0\\.0\\.1:(\\d+)$")).match(lines.at(0));
    QVERIFY2(tcp.hasMatch(), qPrintable(lines.at(0)));
    const quint16 port = quint16(tcp.captured(1).toUInt());
    QVERIFY(port != 0);
    QCOMPARE(lines.at(1), QStringLiteral("listening clients unix:") + clientPath);
    QCOMPARE(lines.at(2), QStringLiteral("listening monitors unix:") + monitorPath);
    QCOMPARE(lines.at(3), QStringLiteral("ready"));

    QTcpSocket client;
    client.connectToHost(QStringLiteral("127.0.0.1"), port);
    QVERIFY2(client.waitForConnected(5000), qPrintable(client.errorString()));
    client.abort();

    broker.terminate();
    QVERIFY(broker.waitForFinished(15000));
    QCOMPARE(broker.exitCode(), 0);
    QCOMPARE(broker.readAllStandardOutput(), QByteArray()); // nothing after "ready"
}

// Standard output stays empty without the flag: the log goes to standard error.
void tst_CommandLine::brokerPrintsNothingUnasked()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("broker.sock"));
    QProcess broker;
    broker.start(KennelTest::binaryPath(QStringLiteral("kennel-broker")), {QStringLiteral("--listen"), QStringLiteral("unix:") + path});
    QVERIFY(broker.waitForStarted());
    QByteArray err;
    QTRY_VERIFY_WITH_TIMEOUT((err += broker.readAllStandardError()).contains("listening on unix:"), 15000);
    broker.terminate();
    QVERIFY(broker.waitForFinished(15000));
    QCOMPARE(broker.exitCode(), 0);
    QCOMPARE(broker.readAllStandardOutput(), QByteArray());
}

QTEST_GUILESS_MAIN(tst_CommandLine)
#include "tst_commandline.moc"
