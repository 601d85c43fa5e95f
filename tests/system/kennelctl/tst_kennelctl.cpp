// kennelctl's operator side through a real broker process: the listings and their --json read
// back with QJsonDocument, a supervised service stopped, started and restarted, a client
// disconnected, a watchdog expiry and the restart that follows seen by `watch`, a message seen by
// `sniff` with its preview escaped, admission refused (exit 6), and the typos operators make
// refused as usage errors (exit 2) before any connection.
#include "brokerprocess.h"
#include "testbroker.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLocalServer>
#include <QLocalSocket>
#include <QCryptographicHash>
#include <QProcess>
#include <QSslCertificate>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using KennelTest::BrokerProcess;

namespace {

QString kennelctl()
{
    return KennelTest::binaryPath(QStringLiteral("kennelctl"));
}

struct Result
{
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
};

Result runCtl(const QStringList &arguments, int timeoutMs = 20000)
{
    QProcess process;
    process.start(kennelctl(), arguments);
    Result r;
    if (!process.waitForFinished(timeoutMs)) {
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

// The broker's view of one service, from `kennelctl services --json`.
QJsonObject serviceState(const QString &broker, const QString &name)
{
    const Result r = runCtl({QStringLiteral("services"), QStringLiteral("--json"), QStringLiteral("--broker"), broker});
    if (r.exitCode != 0)
        return {};
    return findByName(QJsonDocument::fromJson(r.out).array(), name);
}

} // namespace

class tst_KennelCtl : public QObject
{
    Q_OBJECT

private slots:
    void listingsAndJson();
    void startStopRestartService();
    void disconnectClient();
    void watchSeesExpiryAndRestart();
    void sniffShowsEscapedPreview();
    void admission();
    void tls();
    void cannotConnect();
    void interruptedOneShot();
    void operatorTypos_data();
    void operatorTypos();

private:
    // A `kennelctl listen NAME` in the background, registered when this returns.
    std::unique_ptr<QProcess> startListener(const BrokerProcess &broker, const QString &name);
};

std::unique_ptr<QProcess> tst_KennelCtl::startListener(const BrokerProcess &broker, const QString &name)
{
    auto listener = std::make_unique<QProcess>();
    listener->start(kennelctl(), {QStringLiteral("listen"), name, QStringLiteral("--broker"), broker.unixAddress(),
                                  QStringLiteral("--timeout"), QStringLiteral("60000")});
    QByteArray err;
    const bool registered = QTest::qWaitFor([&] { return (err += listener->readAllStandardError()).contains("listening as"); }, 10000);
    return registered ? std::move(listener) : nullptr;
}

void tst_KennelCtl::listingsAndJson()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = "[service.sleeper]\nprogram = /bin/sleep\narguments = 60\nrestart = never\n";
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    const std::unique_ptr<QProcess> listener = startListener(broker, QStringLiteral("inbox"));
    QVERIFY(listener);
    const QString address = broker.unixAddress();

    // Wait until the service runs (it is started once the listeners are up).
    QTRY_COMPARE_WITH_TIMEOUT(serviceState(address, QStringLiteral("sleeper")).value(QStringLiteral("state")).toString(),
                              QStringLiteral("running"), 10000);

    Result r = runCtl({QStringLiteral("status"), QStringLiteral("--broker"), address});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    QVERIFY2(r.out.contains("broker:") && r.out.contains("uptime:") && r.out.contains("listening:")
                 && r.out.contains(broker.unixAddress().toUtf8()) && r.out.contains("sleeper running")
                 && r.out.contains(" 1 (0 watched, 0 late)\n") && r.out.contains("undelivered"),
             r.out.constData());

    r = runCtl({QStringLiteral("status"), QStringLiteral("--json"), QStringLiteral("--broker"), address});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    QJsonParseError parseError;
    const QJsonObject status = QJsonDocument::fromJson(r.out, &parseError).object();
    QVERIFY2(parseError.error == QJsonParseError::NoError, r.out.constData());
    QVERIFY(!status.value(QStringLiteral("version")).toString().isEmpty());
    QCOMPARE(status.value(QStringLiteral("clients")).toInt(), 1);
    QVERIFY(status.value(QStringLiteral("uptimeMs")).toInteger() >= 0);
    QVERIFY(status.value(QStringLiteral("admittedBy")).toString().startsWith(QStringLiteral("peer uid")));
    QCOMPARE(findByName(status.value(QStringLiteral("services")).toArray(), QStringLiteral("sleeper")).value(QStringLiteral("state")).toString(),
             QStringLiteral("running"));
    QVERIFY2(status.value(QStringLiteral("totals")).isObject(), r.out.constData());
    // Where the broker listens (InfoRequest): its TCP port and its Unix socket, and its pid.
    QCOMPARE(status.value(QStringLiteral("pid")).toInteger(), broker.pid());
    QStringList listeners;
    for (const QJsonValue &l : status.value(QStringLiteral("listeners")).toArray())
        listeners += l.toObject().value(QStringLiteral("address")).toString();
    QVERIFY2(listeners.contains(broker.tcpAddress()) && listeners.contains(broker.unixAddress()), qPrintable(listeners.join(u' ')));
    QCOMPARE(status.value(QStringLiteral("totals")).toObject().value(QStringLiteral("clients")).toInt(), 1);

    r = runCtl({QStringLiteral("clients"), QStringLiteral("--broker"), address});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    const QList<QByteArray> lines = r.out.split('\n');
    QVERIFY2(lines.value(0).startsWith("NAME") && lines.value(0).contains("WATCHDOG") && lines.value(0).contains("DEADLINE"), r.out.constData());
    QVERIFY2(lines.value(1).startsWith("inbox") && lines.value(1).contains("native")
                 && lines.value(1).contains(QByteArray::number(listener->processId())),
             r.out.constData());

    r = runCtl({QStringLiteral("clients"), QStringLiteral("--json"), QStringLiteral("--broker"), address});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    const QJsonObject inbox = findByName(QJsonDocument::fromJson(r.out).array(), QStringLiteral("inbox"));
    QCOMPARE(inbox.value(QStringLiteral("kind")).toString(), QStringLiteral("native"));
    QCOMPARE(inbox.value(QStringLiteral("pid")).toInteger(), listener->processId());
    QCOMPARE(inbox.value(QStringLiteral("watchdog")).toString(), QStringLiteral("not-watched"));

    r = runCtl({QStringLiteral("services"), QStringLiteral("--broker"), address});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    QVERIFY2(r.out.startsWith("NAME") && r.out.contains("\nsleeper") && r.out.contains("running"), r.out.constData());
    const QJsonObject sleeper = serviceState(address, QStringLiteral("sleeper"));
    QVERIFY(sleeper.value(QStringLiteral("pid")).toInteger() > 0);
    QCOMPARE(sleeper.value(QStringLiteral("starts")).toInt(), 1);

    listener->terminate();
    QVERIFY(listener->waitForFinished(10000));
    QCOMPARE(broker.stopVerdict(), QString());
}

void tst_KennelCtl::startStopRestartService()
{
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = "[service.sleeper]\nprogram = /bin/sleep\narguments = 60\nrestart = never\n";
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    const QString address = broker.unixAddress();
    const auto state = [&] { return serviceState(address, QStringLiteral("sleeper")).value(QStringLiteral("state")).toString(); };
    QTRY_COMPARE_WITH_TIMEOUT(state(), QStringLiteral("running"), 10000);
    const qint64 firstPid = serviceState(address, QStringLiteral("sleeper")).value(QStringLiteral("pid")).toInteger();

    Result r = runCtl({QStringLiteral("stop"), QStringLiteral("sleeper"), QStringLiteral("--broker"), address});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    QVERIFY2(r.out.startsWith("stop sleeper: "), r.out.constData());
    QTRY_COMPARE_WITH_TIMEOUT(state(), QStringLiteral("stopped"), 10000);

    r = runCtl({QStringLiteral("start"), QStringLiteral("sleeper"), QStringLiteral("--broker"), address});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    QTRY_COMPARE_WITH_TIMEOUT(state(), QStringLiteral("running"), 10000);
    const qint64 secondPid = serviceState(address, QStringLiteral("sleeper")).value(QStringLiteral("pid")).toInteger();
    QVERIFY(secondPid > 0 && secondPid != firstPid);

    r = runCtl({QStringLiteral("restart"), QStringLiteral("sleeper"), QStringLiteral("--json"), QStringLiteral("--broker"), address});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    const QJsonObject result = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(result.value(QStringLiteral("action")).toString(), QStringLiteral("restart"));
    QCOMPARE(result.value(QStringLiteral("ok")).toBool(), true);
    QTRY_VERIFY_WITH_TIMEOUT(state() == QLatin1String("running")
                                 && serviceState(address, QStringLiteral("sleeper")).value(QStringLiteral("pid")).toInteger() != secondPid,
                             10000);

    // A service that does not exist: refused by the broker, exit 7, the reason on stderr.
    r = runCtl({QStringLiteral("restart"), QStringLiteral("nosuch"), QStringLiteral("--broker"), address});
    QCOMPARE(r.exitCode, 7);
    QVERIFY2(r.err.startsWith("kennelctl: restart nosuch refused: not_registered"), r.err.constData());
    QVERIFY(r.out.isEmpty());
    QCOMPARE(broker.stopVerdict(), QString());
}

void tst_KennelCtl::disconnectClient()
{
    BrokerProcess broker;
    QString error;
    QVERIFY2(broker.start(BrokerProcess::Options{}, &error), qPrintable(error));
    const std::unique_ptr<QProcess> listener = startListener(broker, QStringLiteral("victim"));
    QVERIFY(listener);
    Result r = runCtl({QStringLiteral("disconnect"), QStringLiteral("victim"), QStringLiteral("--broker"), broker.unixAddress()});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    QVERIFY2(r.out.startsWith("disconnect victim: "), r.out.constData());
    // The listener saw its connection closed: exit 5.
    QVERIFY(listener->waitForFinished(10000));
    QCOMPARE(listener->exitCode(), 5);

    r = runCtl({QStringLiteral("disconnect"), QStringLiteral("victim"), QStringLiteral("--broker"), broker.unixAddress()});
    QCOMPARE(r.exitCode, 7);
    QVERIFY2(r.err.contains("not_registered"), r.err.constData());
    QCOMPARE(broker.stopVerdict(), QString());
}

// A legacy client that registers with the watchdog and never feeds: it expires, is sent SIGTERM,
// exits, and its supervisor starts it again. `watch --json` sees each step as a line.
void tst_KennelCtl::watchSeesExpiryAndRestart()
{
    QTemporaryDir dir;
    const QString script = dir.filePath(QStringLiteral("slowpoke.sh"));
    QFile file(script);
    QVERIFY(file.open(QIODevice::WriteOnly));
    // The broker's TCP address from its environment: the old protocol has no Unix sockets.
    file.write("for a in $(echo \"$KENNEL_BROKER_ADDRESSES\" | tr , ' '); do\n"
               "  case $a in 127.0.0.1:*) port=${a##*:};; esac\n"
               "done\n"
               "exec \"$1\" --name slowpoke --peer nobody --host 127.0.0.1 --port \"$port\" --send-interval-ms 100000 "
               "--watchdog --feed-interval-ms 100000 --quiet-feed\n");
    file.close();
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = "[watchdog]\ndefault_interval_ms = 200\ndefault_allowed_misses = 2\nkill_grace_ms = 500\n"
                         "[service.slowpoke]\nprogram = /bin/sh\narguments = "
                         + script.toUtf8() + ", " + KennelTest::binaryPath(QStringLiteral("kennel-legacy-client")).toUtf8()
                         + "\nrestart = on-failure\nrestart_delay_ms = 100\nrestart_delay_max_ms = 400\n";
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));

    QProcess watch;
    watch.start(kennelctl(), {QStringLiteral("watch"), QStringLiteral("--json"), QStringLiteral("--broker"), broker.unixAddress()});
    QVERIFY(watch.waitForStarted());
    QList<QJsonObject> events;
    const auto seen = [&](const QString &event, const QString &detailPart = QString()) {
        for (const QJsonObject &e : std::as_const(events)) {
            if (e.value(QStringLiteral("name")).toString() == QLatin1String("slowpoke") && e.value(QStringLiteral("event")).toString() == event
                && e.value(QStringLiteral("detail")).toString().contains(detailPart))
                return true;
        }
        return false;
    };
    const auto read = [&] {
        while (watch.canReadLine()) {
            QJsonParseError parseError;
            const QByteArray line = watch.readLine();
            const QJsonDocument doc = QJsonDocument::fromJson(line, &parseError);
            if (parseError.error != QJsonParseError::NoError)
                qWarning() << "not JSON:" << line;
            events.append(doc.object());
        }
        return seen(QStringLiteral("expired")) && seen(QStringLiteral("signalled")) && seen(QStringLiteral("left"))
               && seen(QStringLiteral("service"), QStringLiteral("running")) && seen(QStringLiteral("joined"));
    };
    // Expiry after some 400 ms, SIGTERM, exit, restart 100 ms later: each within seconds.
    QVERIFY2(QTest::qWaitFor(read, 20000), qPrintable(QString::fromUtf8(QJsonDocument(QJsonArray::fromVariantList([&] {
        QVariantList l;
        for (const QJsonObject &e : std::as_const(events))
            l.append(e.toVariantMap());
        return l;
    }())).toJson())));
    // The expiry comes before the signal, and both before the restarted client joins again.
    qsizetype expired = -1, signalled = -1, rejoined = -1;
    for (qsizetype i = 0; i < events.size(); ++i) {
        const QString event = events.at(i).value(QStringLiteral("event")).toString();
        if (events.at(i).value(QStringLiteral("name")).toString() != QLatin1String("slowpoke"))
            continue;
        if (event == QLatin1String("expired") && expired < 0)
            expired = i;
        else if (event == QLatin1String("signalled") && signalled < 0)
            signalled = i;
        else if (event == QLatin1String("joined") && expired >= 0 && rejoined < 0)
            rejoined = i;
    }
    QVERIFY(expired >= 0 && signalled > expired);
    QVERIFY2(rejoined > signalled || QTest::qWaitFor([&] {
                 read();
                 for (qsizetype i = signalled + 1; i < events.size(); ++i) {
                     if (events.at(i).value(QStringLiteral("event")).toString() == QLatin1String("joined"))
                         return true;
                 }
                 return false;
             }, 10000),
             "the restarted client never joined again");

    // SIGTERM ends watch cleanly.
    watch.terminate();
    QVERIFY(watch.waitForFinished(10000));
    QCOMPARE(watch.exitStatus(), QProcess::NormalExit);
    QCOMPARE(watch.exitCode(), 0);
    QCOMPARE(broker.stopVerdict(), QString());
}

void tst_KennelCtl::sniffShowsEscapedPreview()
{
    BrokerProcess broker;
    QString error;
    QVERIFY2(broker.start(BrokerProcess::Options{}, &error), qPrintable(error));
    const std::unique_ptr<QProcess> listener = startListener(broker, QStringLiteral("inbox"));
    QVERIFY(listener);
    const QString address = broker.unixAddress();

    // Two records wanted: the filter lets only traffic to or from inbox through.
    QProcess sniff;
    sniff.start(kennelctl(), {QStringLiteral("sniff"), QStringLiteral("inbox"), QStringLiteral("--count"), QStringLiteral("2"),
                              QStringLiteral("--timeout"), QStringLiteral("30000"), QStringLiteral("--broker"), address});
    QByteArray sniffErr;
    QVERIFY(QTest::qWaitFor([&] { return (sniffErr += sniff.readAllStandardError()).contains("sniffing"); }, 10000));
    QProcess sniffJson;
    sniffJson.start(kennelctl(), {QStringLiteral("sniff"), QStringLiteral("--json"), QStringLiteral("--count"), QStringLiteral("1"),
                                  QStringLiteral("--timeout"), QStringLiteral("30000"), QStringLiteral("--broker"), address});
    QByteArray jsonErr;
    QVERIFY(QTest::qWaitFor([&] { return (jsonErr += sniffJson.readAllStandardError()).contains("sniffing"); }, 10000));

    const QString text = QStringLiteral("a\tb\\c") + QChar(0x01) + QStringLiteral("\u00e9");
    Result r = runCtl({QStringLiteral("send"), QStringLiteral("nobody"), QStringLiteral("lost"), QStringLiteral("--as"), QStringLiteral("other"),
                       QStringLiteral("--broker"), address});
    QCOMPARE(r.exitCode, 11); // no_such_client: not shown by the filtered sniff
    r = runCtl({QStringLiteral("send"), QStringLiteral("inbox"), text, QStringLiteral("--as"), QStringLiteral("sender"),
                QStringLiteral("--broker"), address});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    r = runCtl({QStringLiteral("send"), QStringLiteral("inbox"), QStringLiteral("second"), QStringLiteral("--as"), QStringLiteral("sender"),
                QStringLiteral("--broker"), address});
    QVERIFY2(r.exitCode == 0, r.err.constData());

    QVERIFY(sniff.waitForFinished(20000));
    QCOMPARE(sniff.exitCode(), 0);
    const QList<QByteArray> lines = sniff.readAllStandardOutput().split('\n');
    QCOMPARE(lines.size(), 3); // two lines and the empty rest
    QVERIFY2(lines.at(0).contains(" sender -> inbox delivered 8 bytes: a\\x09b\\\\c\\x01\u00e9"), lines.at(0).constData());
    QVERIFY2(lines.at(1).contains(" sender -> inbox delivered 6 bytes: second"), lines.at(1).constData());

    // Unfiltered, the first record is the refused one, its status named.
    QVERIFY(sniffJson.waitForFinished(20000));
    QCOMPARE(sniffJson.exitCode(), 0);
    const QJsonObject record = QJsonDocument::fromJson(sniffJson.readAllStandardOutput()).object();
    QCOMPARE(record.value(QStringLiteral("source")).toString(), QStringLiteral("other"));
    QCOMPARE(record.value(QStringLiteral("target")).toString(), QStringLiteral("nobody"));
    QCOMPARE(record.value(QStringLiteral("status")).toString(), QStringLiteral("no_such_client"));
    QCOMPARE(record.value(QStringLiteral("preview")).toString(), QStringLiteral("lost"));
    QCOMPARE(record.value(QStringLiteral("previewHex")).toString(), QStringLiteral("6c6f7374"));

    listener->terminate();
    QVERIFY(listener->waitForFinished(10000));
    QCOMPARE(broker.stopVerdict(), QString());
}

// Over TCP a monitor needs the token: none → exit 6, a wrong one → 6, the right one → 0.
void tst_KennelCtl::admission()
{
    QTemporaryDir dir;
    const QByteArray token = "0123456789abcdef0123456789abcdef";
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = "[monitor]\ntoken = " + token + "\nfailure_delay_ms = 1\nfailure_delay_max_ms = 1\n";
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    const QString tcp = broker.tcpAddress();

    Result r = runCtl({QStringLiteral("status"), QStringLiteral("--broker"), tcp});
    QCOMPARE(r.exitCode, 6);
    QVERIFY2(r.err.startsWith(QByteArray("kennelctl: not admitted as a monitor by " + tcp.toUtf8() + ": not_permitted")), r.err.constData());
    QVERIFY(r.out.isEmpty());

    const auto writeToken = [&](const QString &name, const QByteArray &content) {
        QFile f(dir.filePath(name));
        f.open(QIODevice::WriteOnly);
        f.write(content);
        return f.fileName();
    };
    r = runCtl({QStringLiteral("clients"), QStringLiteral("--broker"), tcp, QStringLiteral("--token-file"),
                writeToken(QStringLiteral("wrong"), "fedcba9876543210fedcba9876543210\n")});
    QCOMPARE(r.exitCode, 6);
    QVERIFY2(r.err.contains("not admitted"), r.err.constData());

    r = runCtl({QStringLiteral("status"), QStringLiteral("--json"), QStringLiteral("--broker"), tcp, QStringLiteral("--token-file"),
                writeToken(QStringLiteral("right"), token + "\n")});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    QCOMPARE(QJsonDocument::fromJson(r.out).object().value(QStringLiteral("admittedBy")).toString(), QStringLiteral("token"));
    QCOMPARE(broker.stopVerdict(), QString());
}

// A TLS monitor listener: --ca-file and --pin are trusted, another certificate's pin is not (3).
void tst_KennelCtl::tls()
{
    QVERIFY2(!QStandardPaths::findExecutable(QStringLiteral("openssl")).isEmpty(),
             "the openssl command-line tool is missing: run scripts/install-deps.sh");
    QTemporaryDir dir;
    const QString cert = dir.filePath(QStringLiteral("cert.pem"));
    const QString key = dir.filePath(QStringLiteral("key.pem"));
    const QString otherCert = dir.filePath(QStringLiteral("other-cert.pem"));
    // Generated here: nothing expires in the repository, and no private key is published.
    for (const auto &[certPath, keyPath] : {std::pair{cert, key}, std::pair{otherCert, dir.filePath(QStringLiteral("other-key.pem"))}}) {
        QProcess openssl;
        openssl.setProcessChannelMode(QProcess::MergedChannels);
        openssl.start(QStringLiteral("openssl"),
                      {QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-newkey"), QStringLiteral("ec"), QStringLiteral("-pkeyopt"),
                       QStringLiteral("ec_paramgen_curve:prime256v1"), QStringLiteral("-nodes"), QStringLiteral("-days"), QStringLiteral("2"),
                       QStringLiteral("-subj"), QStringLiteral("/CN=localhost"), QStringLiteral("-addext"),
                       QStringLiteral("subjectAltName=DNS:localhost,IP:127.0.0.1"), QStringLiteral("-keyout"), keyPath, QStringLiteral("-out"), certPath});
        QVERIFY(openssl.waitForFinished(60000));
        QVERIFY2(openssl.exitCode() == 0, openssl.readAll().constData());
        QFile::setPermissions(keyPath, QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    }
    const QByteArray token = "0123456789abcdef0123456789abcdef";
    const QString tokenFile = dir.filePath(QStringLiteral("token"));
    {
        QFile f(tokenFile);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(token);
    }
    BrokerProcess broker;
    BrokerProcess::Options options;
    options.configText = "[monitor]\nlisten = 127.0.0.1:0\ntls = true\ncertificate = " + cert.toUtf8() + "\nprivate_key = " + key.toUtf8()
                         + "\ntoken = " + token + "\n";
    QString error;
    QVERIFY2(broker.start(options, &error), qPrintable(error));
    QCOMPARE(broker.monitorAddresses().size(), 1);
    const QString address = broker.monitorAddresses().constFirst();
    const auto pinOf = [](const QString &path) {
        const QList<QSslCertificate> certs = QSslCertificate::fromPath(path, QSsl::Pem);
        return certs.isEmpty() ? QString() : QString::fromLatin1(certs.constFirst().digest(QCryptographicHash::Sha256).toHex(':'));
    };

    Result r = runCtl({QStringLiteral("status"), QStringLiteral("--json"), QStringLiteral("--broker"), address, QStringLiteral("--token-file"),
                       tokenFile, QStringLiteral("--ca-file"), cert});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    const QJsonObject status = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(status.value(QStringLiteral("admittedBy")).toString(), QStringLiteral("token"));
    bool tlsListed = false;
    for (const QJsonValue &l : status.value(QStringLiteral("listeners")).toArray())
        tlsListed |= l.toObject().value(QStringLiteral("address")).toString() == address && l.toObject().value(QStringLiteral("tls")).toBool()
                     && l.toObject().value(QStringLiteral("monitorsOnly")).toBool();
    QVERIFY2(tlsListed, r.out.constData());

    r = runCtl({QStringLiteral("services"), QStringLiteral("--broker"), address, QStringLiteral("--token-file"), tokenFile,
                QStringLiteral("--pin"), pinOf(cert)});
    QVERIFY2(r.exitCode == 0, r.err.constData());

    r = runCtl({QStringLiteral("services"), QStringLiteral("--broker"), address, QStringLiteral("--token-file"), tokenFile,
                QStringLiteral("--pin"), pinOf(otherCert)});
    QCOMPARE(r.exitCode, 3);
    QVERIFY2(r.err.startsWith(QByteArray("kennelctl: cannot connect to " + address.toUtf8())), r.err.constData());
    QCOMPARE(broker.stopVerdict(), QString());
}

void tst_KennelCtl::cannotConnect()
{
    QTemporaryDir dir;
    const Result r = runCtl({QStringLiteral("status"), QStringLiteral("--broker"), QStringLiteral("unix:") + dir.filePath(QStringLiteral("none.sock"))});
    QCOMPARE(r.exitCode, 3);
    QVERIFY2(r.err.startsWith("kennelctl: cannot connect to unix:"), r.err.constData());
}

// A broker that takes the connection and never answers: status waits, and SIGTERM ends it with
// 143 (128 + SIGTERM), not 0 — it did not do its work. watch's SIGTERM is 0 (its normal end).
void tst_KennelCtl::interruptedOneShot()
{
    QTemporaryDir dir;
    QLocalServer silent;
    QVERIFY(silent.listen(dir.filePath(QStringLiteral("silent.sock"))));
    QProcess status;
    status.start(kennelctl(), {QStringLiteral("status"), QStringLiteral("--timeout"), QStringLiteral("30000"), QStringLiteral("--broker"),
                               QStringLiteral("unix:") + silent.fullServerName()});
    QVERIFY(silent.waitForNewConnection(10000));
    QLocalSocket *accepted = silent.nextPendingConnection();
    QVERIFY(accepted);
    // The Hello arrived: kennelctl is waiting for the answer.
    QTRY_VERIFY_WITH_TIMEOUT(accepted->bytesAvailable() > 0 || accepted->waitForReadyRead(100), 10000);
    status.terminate();
    QVERIFY(status.waitForFinished(10000));
    QCOMPARE(status.exitStatus(), QProcess::NormalExit);
    QCOMPARE(status.exitCode(), 143);
    QCOMPARE(status.readAllStandardOutput(), QByteArray());
}

void tst_KennelCtl::operatorTypos_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QByteArray>("message");
    QTest::newRow("unknown command") << QStringList{QStringLiteral("stauts")} << QByteArray("kennelctl: unknown command \"stauts\"");
    QTest::newRow("restart without service") << QStringList{QStringLiteral("restart")} << QByteArray("kennelctl: restart needs SERVICE");
    QTest::newRow("stop two services") << QStringList{QStringLiteral("stop"), QStringLiteral("a"), QStringLiteral("b")}
                                       << QByteArray("kennelctl: stop takes one SERVICE (unexpected 'b')");
    QTest::newRow("disconnect without name") << QStringList{QStringLiteral("disconnect")} << QByteArray("kennelctl: disconnect needs NAME");
    QTest::newRow("invalid service name") << QStringList{QStringLiteral("start"), QStringLiteral("my service")}
                                          << QByteArray("kennelctl: invalid service name \"my service\"");
    QTest::newRow("status with a word") << QStringList{QStringLiteral("status"), QStringLiteral("all")}
                                        << QByteArray("kennelctl: status takes no arguments (unexpected 'all')");
    QTest::newRow("json on send") << QStringList{QStringLiteral("send"), QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("--json")}
                                  << QByteArray("kennelctl: --token-file, --tls, --ca-file, --pin and --json are options of the operator commands");
    QTest::newRow("count on status") << QStringList{QStringLiteral("status"), QStringLiteral("--count"), QStringLiteral("3")}
                                     << QByteArray("kennelctl: --count is an option of listen, watch and sniff");
    QTest::newRow("tls over unix") << QStringList{QStringLiteral("status"), QStringLiteral("--tls")}
                                   << QByteArray("kennelctl: TLS applies to TCP addresses only");
    QTest::newRow("missing token file") << QStringList{QStringLiteral("clients"), QStringLiteral("--token-file"), QStringLiteral("/nonexistent/token")}
                                        << QByteArray("kennelctl: --token-file: cannot read /nonexistent/token");
    QTest::newRow("bad pin") << QStringList{QStringLiteral("status"), QStringLiteral("--pin"), QStringLiteral("abc")}
                             << QByteArray("kennelctl: --pin: expected a SHA-256 fingerprint");
}

// Refused before any connection: exit 2 (usage); no broker runs here.
void tst_KennelCtl::operatorTypos()
{
    QFETCH(QStringList, arguments);
    QFETCH(QByteArray, message);
    const Result r = runCtl(arguments + QStringList{QStringLiteral("--broker"), QStringLiteral("unix:/nonexistent/kennel.sock")});
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.startsWith(message), r.err.constData());
    QVERIFY2(r.err.contains("Try 'kennelctl --help'."), r.err.constData());
}

QTEST_GUILESS_MAIN(tst_KennelCtl)
#include "tst_kennelctl.moc"
