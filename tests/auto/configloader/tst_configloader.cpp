#include "envguard.h"
#include "brokerconfig.h"
#include "configloader.h"

#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>
#include <QSettings>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <unistd.h>

using namespace Kennel;

namespace {

using KennelTest::EnvGuard;

QVariant field(const BrokerConfig &config, const QString &name)
{
    if (name == QLatin1String("listen")) {
        QStringList texts;
        for (const ListenAddress &address : config.listen)
            texts.append(address.toString());
        return texts;
    }
    if (name == QLatin1String("max_clients"))
        return qint64(config.maxClients);
    if (name == QLatin1String("max_frame_size"))
        return qint64(config.maxFrameSize);
    if (name == QLatin1String("max_name_length"))
        return qint64(config.maxNameLength);
    if (name == QLatin1String("max_queue_bytes"))
        return qint64(config.maxOutputQueueBytes);
    if (name == QLatin1String("register_timeout_ms"))
        return qint64(config.registerTimeout.count());
    if (name == QLatin1String("shutdown_timeout_ms"))
        return qint64(config.shutdownFlushTimeout.count());
    if (name == QLatin1String("incomplete_frame_timeout_ms"))
        return qint64(config.incompleteFrameTimeout.count());
    if (name == QLatin1String("idle_timeout_ms"))
        return qint64(config.idleTimeout.count());
    if (name == QLatin1String("traffic"))
        return config.logTraffic;
    if (name == QLatin1String("cgroup"))
        return config.serviceCgroup == BrokerConfig::ServiceCgroup::Auto ? QStringLiteral("auto") : QStringLiteral("off");
    if (name == QLatin1String("total_incomplete_frame_bytes"))
        return qint64(config.totalIncompleteFrameBytes);
    if (name == QLatin1String("total_queue_bytes"))
        return qint64(config.totalQueueBytes);
    if (name == QLatin1String("peer_lines_per_second"))
        return qint64(config.logLinesPerPeer);
    const WatchdogSettings &w = config.watchdog;
    if (name == QLatin1String("default_interval_ms"))
        return qint64(w.defaultInterval.count());
    if (name == QLatin1String("default_allowed_misses"))
        return qint64(w.defaultAllowedMisses);
    if (name == QLatin1String("min_interval_ms"))
        return qint64(w.minInterval.count());
    if (name == QLatin1String("max_interval_ms"))
        return qint64(w.maxInterval.count());
    if (name == QLatin1String("max_allowed_misses"))
        return qint64(w.maxAllowedMisses);
    if (name == QLatin1String("register_grace_ms"))
        return qint64(w.registerGrace.count());
    if (name == QLatin1String("kill_grace_ms"))
        return qint64(w.killGrace.count());
    if (name == QLatin1String("history_names"))
        return qint64(w.historyNames);
    if (name == QLatin1String("action"))
        return QString::fromLatin1(watchdogActionName(w.defaultAction));
    if (name == QLatin1String("client_actions")) {
        QStringList names;
        for (WatchdogAction action : w.clientSelectableActions)
            names.append(QString::fromLatin1(watchdogActionName(action)));
        return names;
    }
    if (name == QLatin1String("rules")) {
        QStringList rules;
        for (const WatchdogActionRule &rule : w.actionRules)
            rules.append(rule.namePattern + QLatin1Char('=') + QLatin1String(watchdogActionName(rule.action)));
        return rules;
    }
    if (name == QLatin1String("services")) {
        QStringList names;
        for (const ServiceSettings &service : config.services)
            names.append(service.name);
        return names;
    }
    const MonitorSettings &m = config.monitor;
    if (name == QLatin1String("monitor/listen")) {
        QStringList texts;
        for (const ListenAddress &address : m.listen)
            texts.append(address.toString());
        return texts;
    }
    if (name == QLatin1String("monitor/tls"))
        return m.tls;
    if (name == QLatin1String("monitor/certificate"))
        return m.certificateFile;
    if (name == QLatin1String("monitor/private_key"))
        return m.privateKeyFile;
    if (name == QLatin1String("monitor/token"))
        return QString::fromUtf8(m.token);
    if (name == QLatin1String("monitor/token_file"))
        return m.tokenFile;
    if (name == QLatin1String("monitor/allow_local_peers"))
        return m.allowLocalPeers;
    if (name == QLatin1String("monitor/max_monitors"))
        return qint64(m.maxMonitors);
    if (name == QLatin1String("monitor/failure_delay_ms"))
        return qint64(m.failureDelay.count());
    if (name == QLatin1String("monitor/failure_delay_max_ms"))
        return qint64(m.failureDelayMax.count());
    if (name == QLatin1String("monitor/handshake_timeout_ms"))
        return qint64(m.handshakeTimeout.count());
    if (name == QLatin1String("monitor/max_queue_bytes"))
        return qint64(m.maxQueueBytes);
    if (name == QLatin1String("monitor/total_queue_bytes"))
        return qint64(m.totalQueueBytes);
    if (name == QLatin1String("monitor/traffic_preview_bytes"))
        return qint64(m.trafficPreviewBytes);
    if (name == QLatin1String("monitor/max_traffic_per_second"))
        return qint64(m.maxTrafficPerSecond);
    if (name == QLatin1String("monitor/totals_interval_ms"))
        return qint64(m.totalsInterval.count());
    qFatal("unknown field %s", qPrintable(name));
    return {};
}

// Every field above: what a rejected value must leave untouched.
const char *const allFields[] = {
    "listen", "max_clients", "max_frame_size", "max_name_length", "max_queue_bytes", "register_timeout_ms",
    "shutdown_timeout_ms", "incomplete_frame_timeout_ms", "idle_timeout_ms", "traffic", "cgroup", "total_incomplete_frame_bytes", "total_queue_bytes", "peer_lines_per_second", "default_interval_ms", "default_allowed_misses", "min_interval_ms",
    "max_interval_ms", "max_allowed_misses", "register_grace_ms", "kill_grace_ms", "history_names", "action",
    "client_actions", "rules", "services", "monitor/listen", "monitor/tls", "monitor/certificate", "monitor/private_key",
    "monitor/token", "monitor/token_file", "monitor/allow_local_peers", "monitor/max_monitors",
    "monitor/failure_delay_ms", "monitor/failure_delay_max_ms", "monitor/handshake_timeout_ms",
    "monitor/max_queue_bytes", "monitor/total_queue_bytes", "monitor/traffic_preview_bytes", "monitor/max_traffic_per_second",
    "monitor/totals_interval_ms",
};

// The [monitor] keys in the order the loader lists them.
const QString MonitorKeyList = QStringLiteral(
    "listen, tls, certificate, private_key, token, token_file, allow_local_peers, read_only_token, read_only_token_file, "
    "operator_uids, read_only_uids, max_monitors, failure_delay_ms, "
    "failure_delay_max_ms, handshake_timeout_ms, admission_timeout_ms, max_waiting_per_address, max_waiting_per_prefix, "
    "max_token_guesses_per_second, proven_address_ttl_ms, max_queue_bytes, total_queue_bytes, traffic_preview_bytes, max_traffic_per_second, "
    "totals_interval_ms, topics_per_record");

// Long enough for MonitorToken::check().
const QByteArray GoodToken = "0123456789abcdef-monitor";

// One line per setting, so that a QCOMPARE of two services shows which one differs.
QStringList describe(const ServiceSettings &s)
{
    return {
        QStringLiteral("name=") + s.name,
        QStringLiteral("program=") + s.program,
        QStringLiteral("arguments=") + s.arguments.join(QLatin1Char('|')),
        QStringLiteral("working_directory=") + s.workingDirectory,
        QStringLiteral("environment=") + s.environment.join(QLatin1Char('|')),
        QStringLiteral("restart=") + QLatin1String(restartPolicyName(s.restart)),
        QStringLiteral("restart_delay_ms=") + QString::number(s.restartDelay.count()),
        QStringLiteral("restart_delay_max_ms=") + QString::number(s.restartDelayMax.count()),
        QStringLiteral("start_limit=") + QString::number(s.startLimit),
        QStringLiteral("start_limit_window_ms=") + QString::number(s.startLimitWindow.count()),
        QStringLiteral("stop_signal=") + QString::number(s.stopSignal),
        QStringLiteral("stop_timeout_ms=") + QString::number(s.stopTimeout.count()),
        QStringLiteral("start=") + (s.start == ServiceSettings::Start::OnDemand ? QStringLiteral("on-demand") : QStringLiteral("with-broker")),
        QStringLiteral("start_timeout_ms=") + QString::number(s.startTimeout.count()),
    };
}

QString unknownGroup(const char *group)
{
    return QLatin1Char('[') + QLatin1String(group)
           + QStringLiteral("]: unknown group (known: [broker], [limits], [log], [watchdog], [watchdog.actions], "
                            "[supervisor], [service.NAME], [monitor], [hold], [hold.PATTERN], [calls], [bridge], [topics], [policy])");
}

const QString ServiceKeyList = QStringLiteral(
    "program, arguments, working_directory, environment, restart, restart_delay_ms, restart_delay_max_ms, "
    "start_limit, start_limit_window_ms, stop_signal, stop_timeout_ms, log_lines_per_second, output_lines, output_bytes, monitor, name, after, user, group, supplementary_groups, hold, start, start_timeout_ms, names");

const QString NotAnAction = QStringLiteral(" is not an action (terminate, kill, disconnect, notify)");

// The command line as the broker would see it, program name first.
bool parse(QCommandLineParser &parser, const QStringList &arguments)
{
    ConfigLoader::addOptions(parser);
    if (!parser.parse(QStringList{QStringLiteral("kennel-broker")} + arguments)) {
        qWarning() << parser.errorText();
        return false;
    }
    return true;
}

struct NumericCase
{
    const char *key;
    const char *flag;
    qint64 min;
    qint64 max;
};

const NumericCase numericCases[] = {
    {"max_clients", "--max-clients", 1, 1000000},
    {"max_frame_size", "--max-frame-size", 1024, 256 * 1024 * 1024},
    {"max_name_length", "--max-name-length", 1, 64},
    {"max_queue_bytes", "--max-queue-bytes", 1024, 1024 * 1024 * 1024},
    {"register_timeout_ms", "--register-timeout", 100, 3600000},
    {"shutdown_timeout_ms", "--shutdown-timeout", 0, 600000},
    {"incomplete_frame_timeout_ms", "--incomplete-frame-timeout", 100, 3600000},
    // 0 turns it off (its own rows in fileBounds and flagBounds); otherwise 1000 at least.
    {"idle_timeout_ms", "--idle-timeout", 1000, 86400000},
    // 0 derives them from RAM (their own rows); otherwise 1024 at least.
    {"total_incomplete_frame_bytes", "--total-incomplete-frame-bytes", 1024, 64LL * 1024 * 1024 * 1024},
    {"total_queue_bytes", "--total-queue-bytes", 1024, 64LL * 1024 * 1024 * 1024},
};

// Room for the bound tests: queue and frame size at the extremes of the other never clash.
BrokerConfig roomyBase()
{
    BrokerConfig base;
    base.maxFrameSize = 1024;
    base.maxOutputQueueBytes = 1024 * 1024 * 1024;
    return base;
}

} // namespace

class tst_ConfigLoader : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();

    void defaults();
    void defaultTcpAddress();
    void defaultUnixAddress_data();
    void defaultUnixAddress();
    void effectiveListen();
    void listenAddressToString_data();
    void listenAddressToString();
    void listenAddressEquality();

    void parseListenGood_data();
    void parseListenGood();
    void parseListenBad_data();
    void parseListenBad();

    void fileKeys_data();
    void fileKeys();
    void holdSection();
    void callsSection();
    void bridgeSection();
    void bridgeTopicsKeys();
    void bridgeDedupAndMonitorAddress();
    void topicsSection();
    void holdPatternSections();
    void flagKeys_data();
    void flagKeys();
    void flagsOverrideFile();
    void fileOnTopOfBase();

    void badFileValues_data();
    void badFileValues();
    void badFlagValues_data();
    void badFlagValues();
    void allErrorsReported();

    void unknownNames_data();
    void unknownNames();
    void formerlyReservedGroups();
    void malformedLines_data();
    void malformedLines();

    void queueBelowFrame_data();
    void queueBelowFrame();

    void fileBounds_data();
    void fileBounds();
    void flagBounds_data();
    void flagBounds();

    void missingConfigFile();
    void configIsDirectory();
    void unreadableConfigFile();

    void exampleFileIsDefaults();
    void exampleFileUncommented();

    void validateInCodeConfig_data();
    void validateInCodeConfig();
    void checkConfigFlag();

    // [watchdog] and [watchdog.actions]
    void watchdogKeys_data();
    void watchdogKeys();
    void badWatchdogValues_data();
    void badWatchdogValues();
    void watchdogFlags_data();
    void watchdogFlags();
    void actionRulesKeepFileOrder();
    void actionNames();
    void patternMatching_data();
    void patternMatching();

    // [service.NAME]
    void serviceDefaults();
    void serviceAllKeys();
    void serviceReservedNames();
    void policyRules();
    void servicesInFileOrder();
    void servicesReplaceBase();
    void badServiceValues_data();
    void badServiceValues();
    void parseSignals_data();
    void parseSignals();
    void restartPolicyNames();
    void exampleServiceBlock();

    // [monitor]
    void monitorDefaults();
    void monitorKeys_data();
    void monitorKeys();
    void monitorPathsRelativeToFile();
    void badMonitorValues_data();
    void badMonitorValues();
    void monitorRoleKeys();
    void monitorTokenFile_data();
    void monitorTokenFile();
    void monitorFlags();
    void validateMonitorInCode_data();
    void validateMonitorInCode();

private:
    QString writeIni(const QByteArray &content);
    QString writeSecret(const QByteArray &content, QFileDevice::Permissions permissions);

    QTemporaryDir m_dir;
    int m_fileCount = 0;
};

void tst_ConfigLoader::initTestCase()
{
    QVERIFY2(m_dir.isValid(), qPrintable(m_dir.errorString()));
    // For the service keys: a program, a file that is not one, a folder.
    QFile program(m_dir.filePath(QStringLiteral("prog.sh")));
    QVERIFY(program.open(QIODevice::WriteOnly));
    program.write("#!/bin/sh\nexit 0\n");
    program.close();
    QVERIFY(program.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner));
    QFile plain(m_dir.filePath(QStringLiteral("plain.txt")));
    QVERIFY(plain.open(QIODevice::WriteOnly));
    plain.close();
    QVERIFY(plain.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner));
    QVERIFY(QDir(m_dir.path()).mkpath(QStringLiteral("sub")));
    // For [monitor]: the loader only checks that these exist and can be read; the listener parses them.
    for (const char *name : {"cert.pem", "key.pem"}) {
        QFile pem(m_dir.filePath(QLatin1String(name)));
        QVERIFY(pem.open(QIODevice::WriteOnly));
        pem.write("-----BEGIN PLACEHOLDER-----\n");
    }
}

// A file with exactly these permissions (the umask does not get a say).
QString tst_ConfigLoader::writeSecret(const QByteArray &content, QFileDevice::Permissions permissions)
{
    const QString path = m_dir.filePath(QStringLiteral("secret-%1.txt").arg(++m_fileCount));
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(content) != content.size())
        qFatal("cannot write %s", qPrintable(path));
    file.close();
    if (!file.setPermissions(permissions))
        qFatal("cannot chmod %s", qPrintable(path));
    return path;
}

// A new file each time: QSettings caches parsed files by name and size, so rewriting one file
// within a second could hand back the previous contents.
QString tst_ConfigLoader::writeIni(const QByteArray &content)
{
    const QString path = m_dir.filePath(QStringLiteral("broker-%1.ini").arg(++m_fileCount));
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(content) != content.size())
        qFatal("cannot write %s", qPrintable(path));
    return path;
}

void tst_ConfigLoader::defaults()
{
    QCommandLineParser parser;
    QVERIFY(parse(parser, {}));
    const ConfigLoader::Result result = ConfigLoader::load(parser);
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));

    const BrokerConfig &c = result.config;
    QVERIFY(c.listen.isEmpty());
    QCOMPARE(c.maxClients, 4096);
    QCOMPARE(c.maxFrameSize, quint32(1024 * 1024));
    QCOMPARE(c.maxNameLength, 64);
    QCOMPARE(c.maxOutputQueueBytes, qint64(4 * 1024 * 1024));
    QCOMPARE(c.registerTimeout.count(), 5000);
    QCOMPARE(c.shutdownFlushTimeout.count(), 2000);
    QCOMPARE(c.incompleteFrameTimeout.count(), 10000);
    QCOMPARE(c.idleTimeout.count(), 60000);
    QCOMPARE(c.logTraffic, false);

    const WatchdogSettings &w = c.watchdog;
    QCOMPARE(w.defaultInterval.count(), 3000);
    QCOMPARE(w.defaultAllowedMisses, 3);
    QCOMPARE(w.minInterval.count(), 100);
    QCOMPARE(w.maxInterval.count(), 3600000);
    QCOMPARE(w.maxAllowedMisses, 1000);
    QCOMPARE(w.registerGrace.count(), 0);
    QCOMPARE(w.killGrace.count(), 3000);
    QCOMPARE(w.historyNames, 65536);
    QCOMPARE(w.defaultAction, WatchdogAction::Terminate);
    QCOMPARE(w.clientSelectableActions,
             (QList<WatchdogAction>{WatchdogAction::Terminate, WatchdogAction::Disconnect, WatchdogAction::Notify}));
    QVERIFY(w.actionRules.isEmpty());
    QVERIFY(c.services.isEmpty());
    QVERIFY(ConfigLoader::validate(c).isEmpty());
}

void tst_ConfigLoader::defaultTcpAddress()
{
    const ListenAddress address = BrokerConfig::defaultTcpAddress();
    QCOMPARE(address.kind, ListenAddress::Kind::Tcp);
    QCOMPARE(address.toString(), QStringLiteral("127.0.0.1:8000"));
}

void tst_ConfigLoader::defaultUnixAddress_data()
{
    QTest::addColumn<bool>("set");
    QTest::addColumn<QByteArray>("runtimeDir");
    QTest::addColumn<QString>("expected"); // empty: the fallback for this user

    QTest::newRow("xdg") << true << QByteArray("/run/user/1000") << QStringLiteral("/run/user/1000/kennel/broker.sock");
    QTest::newRow("xdg-trailing-slash") << true << QByteArray("/run/user/1000/")
                                        << QStringLiteral("/run/user/1000/kennel/broker.sock");
    QTest::newRow("xdg-empty") << true << QByteArray() << QString();
    QTest::newRow("xdg-relative") << true << QByteArray("run/user") << QString();
    QTest::newRow("xdg-unset") << false << QByteArray() << QString();
}

void tst_ConfigLoader::defaultUnixAddress()
{
    QFETCH(bool, set);
    QFETCH(QByteArray, runtimeDir);
    QFETCH(QString, expected);

    const EnvGuard guard("XDG_RUNTIME_DIR");
    if (set)
        qputenv("XDG_RUNTIME_DIR", runtimeDir);
    else
        qunsetenv("XDG_RUNTIME_DIR");

    if (expected.isEmpty()) {
        expected = ::geteuid() == 0 ? QStringLiteral("/run/kennel/broker.sock")
                                    : QStringLiteral("/tmp/kennel-%1/broker.sock").arg(::geteuid());
    }
    const ListenAddress address = BrokerConfig::defaultUnixAddress();
    QCOMPARE(address.kind, ListenAddress::Kind::Unix);
    QCOMPARE(address.path, expected);
    QCOMPARE(address.toString(), QStringLiteral("unix:") + expected);
}

void tst_ConfigLoader::effectiveListen()
{
    BrokerConfig config;
    QCOMPARE(config.effectiveListen(),
             (QList<ListenAddress>{BrokerConfig::defaultTcpAddress(), BrokerConfig::defaultUnixAddress()}));

    config.listen = {*parseListenAddress(QStringLiteral("[::1]:9000"))};
    QCOMPARE(config.effectiveListen(), config.listen);
}

void tst_ConfigLoader::listenAddressToString_data()
{
    QTest::addColumn<int>("kind");
    QTest::addColumn<QString>("host");
    QTest::addColumn<int>("port");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("expected");

    const int tcp = int(ListenAddress::Kind::Tcp);
    const int unix = int(ListenAddress::Kind::Unix);
    QTest::newRow("ipv4") << tcp << QStringLiteral("127.0.0.1") << 8000 << QString() << QStringLiteral("127.0.0.1:8000");
    QTest::newRow("ipv6") << tcp << QStringLiteral("::1") << 8000 << QString() << QStringLiteral("[::1]:8000");
    QTest::newRow("ipv6-zone") << tcp << QStringLiteral("fe80::1%eth0") << 80 << QString()
                               << QStringLiteral("[fe80::1%eth0]:80");
    QTest::newRow("any") << tcp << QStringLiteral("*") << 0 << QString() << QStringLiteral("*:0");
    QTest::newRow("unix") << unix << QString() << 0 << QStringLiteral("/path") << QStringLiteral("unix:/path");
}

void tst_ConfigLoader::listenAddressToString()
{
    QFETCH(int, kind);
    QFETCH(QString, host);
    QFETCH(int, port);
    QFETCH(QString, path);
    QFETCH(QString, expected);

    ListenAddress address;
    address.kind = ListenAddress::Kind(kind);
    address.host = host;
    address.port = quint16(port);
    address.path = path;
    QCOMPARE(address.toString(), expected);
}

void tst_ConfigLoader::listenAddressEquality()
{
    ListenAddress a;
    a.host = QStringLiteral("127.0.0.1");
    a.port = 8000;
    ListenAddress b = a;
    QVERIFY(a == b);
    b.port = 8001;
    QVERIFY(!(a == b));
    b = a;
    b.host = QStringLiteral("::1");
    QVERIFY(!(a == b));

    ListenAddress u1;
    u1.kind = ListenAddress::Kind::Unix;
    u1.path = QStringLiteral("/a");
    ListenAddress u2 = u1;
    u2.port = 7; // irrelevant to a Unix socket
    QVERIFY(u1 == u2);
    u2.path = QStringLiteral("/b");
    QVERIFY(!(u1 == u2));
    QVERIFY(!(a == u1));
}

void tst_ConfigLoader::parseListenGood_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("canonical"); // toString() of the result

    QTest::newRow("ipv4") << QStringLiteral("127.0.0.1:8000") << QStringLiteral("127.0.0.1:8000");
    QTest::newRow("ipv4-any") << QStringLiteral("0.0.0.0:80") << QStringLiteral("0.0.0.0:80");
    QTest::newRow("star") << QStringLiteral("*:8000") << QStringLiteral("*:8000");
    QTest::newRow("localhost") << QStringLiteral("localhost:1") << QStringLiteral("127.0.0.1:1");
    QTest::newRow("LOCALHOST") << QStringLiteral("LOCALHOST:1") << QStringLiteral("127.0.0.1:1");
    QTest::newRow("port-0") << QStringLiteral("127.0.0.1:0") << QStringLiteral("127.0.0.1:0");
    QTest::newRow("port-65535") << QStringLiteral("127.0.0.1:65535") << QStringLiteral("127.0.0.1:65535");
    QTest::newRow("port-leading-zero") << QStringLiteral("127.0.0.1:08000") << QStringLiteral("127.0.0.1:8000");
    QTest::newRow("spaces-around") << QStringLiteral("  10.0.0.1:8000\t") << QStringLiteral("10.0.0.1:8000");
    QTest::newRow("ipv6-loopback") << QStringLiteral("[::1]:8000") << QStringLiteral("[::1]:8000");
    QTest::newRow("ipv6-any") << QStringLiteral("[::]:8000") << QStringLiteral("[::]:8000");
    QTest::newRow("ipv6-long-form") << QStringLiteral("[0:0:0:0:0:0:0:1]:8000") << QStringLiteral("[::1]:8000");
    QTest::newRow("ipv6-upper") << QStringLiteral("[FE80::A]:1") << QStringLiteral("[fe80::a]:1");
    QTest::newRow("ipv6-zone") << QStringLiteral("[fe80::1%eth0]:80") << QStringLiteral("[fe80::1%eth0]:80");
    QTest::newRow("ipv4-mapped") << QStringLiteral("[::ffff:10.1.2.3]:80") << QStringLiteral("[::ffff:10.1.2.3]:80");
    QTest::newRow("unix-absolute") << QStringLiteral("unix:/run/kennel/broker.sock")
                                   << QStringLiteral("unix:/run/kennel/broker.sock");
    QTest::newRow("unix-dot") << QStringLiteral("unix:./broker.sock") << QStringLiteral("unix:./broker.sock");
    QTest::newRow("unix-dotdot") << QStringLiteral("unix:../run/b.sock") << QStringLiteral("unix:../run/b.sock");
    QTest::newRow("unix-upper-prefix") << QStringLiteral("UNIX:/x.sock") << QStringLiteral("unix:/x.sock");
    QTest::newRow("unix-with-colon") << QStringLiteral("unix:/tmp/a:b.sock") << QStringLiteral("unix:/tmp/a:b.sock");
    QTest::newRow("unix-107-bytes") << QStringLiteral("unix:/") + QString(106, QLatin1Char('x'))
                                    << QStringLiteral("unix:/") + QString(106, QLatin1Char('x'));
}

void tst_ConfigLoader::parseListenGood()
{
    QFETCH(QString, text);
    QFETCH(QString, canonical);

    QString error = QStringLiteral("stale");
    const std::optional<ListenAddress> address = parseListenAddress(text, &error);
    QVERIFY2(address, qPrintable(error));
    QVERIFY(error.isEmpty());
    QCOMPARE(address->toString(), canonical);
    // The canonical form reads back as the same address: logs can be pasted into a config.
    QCOMPARE(parseListenAddress(canonical), address);
    QCOMPARE(address->kind, canonical.startsWith(QLatin1String("unix:")) ? ListenAddress::Kind::Unix
                                                                         : ListenAddress::Kind::Tcp);
}

void tst_ConfigLoader::parseListenBad_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("error"); // a fragment the reason must contain

    QTest::newRow("empty") << QString() << QStringLiteral("empty address");
    QTest::newRow("blank") << QStringLiteral("   ") << QStringLiteral("empty address");
    QTest::newRow("no-port") << QStringLiteral("127.0.0.1") << QStringLiteral("missing port");
    QTest::newRow("empty-port") << QStringLiteral("127.0.0.1:") << QStringLiteral("missing port");
    QTest::newRow("port-99999") << QStringLiteral("127.0.0.1:99999") << QStringLiteral("port out of range");
    QTest::newRow("port-65536") << QStringLiteral("127.0.0.1:65536") << QStringLiteral("port out of range");
    QTest::newRow("port-huge") << QStringLiteral("127.0.0.1:99999999999999999999") << QStringLiteral("port out of range");
    QTest::newRow("port-negative") << QStringLiteral("127.0.0.1:-1") << QStringLiteral("port \"-1\" is not a number");
    QTest::newRow("port-letters") << QStringLiteral("127.0.0.1:80a") << QStringLiteral("port \"80a\" is not a number");
    QTest::newRow("port-plus") << QStringLiteral("127.0.0.1:+80") << QStringLiteral("is not a number");
    QTest::newRow("port-inner-space") << QStringLiteral("127.0.0.1: 80") << QStringLiteral("is not a number");
    QTest::newRow("no-host") << QStringLiteral(":8000") << QStringLiteral("missing host");
    QTest::newRow("hostname") << QStringLiteral("example.com:80") << QStringLiteral("host \"example.com\" is not an IP address");
    QTest::newRow("ipv4-octet") << QStringLiteral("256.0.0.1:80") << QStringLiteral("is not an IP address");
    QTest::newRow("ipv4-short") << QStringLiteral("127.1:80") << QStringLiteral("is not an IP address");
    QTest::newRow("ipv4-leading-zero") << QStringLiteral("010.0.0.1:80") << QStringLiteral("is not an IP address");
    QTest::newRow("ipv6-unbracketed") << QStringLiteral("::1:8000") << QStringLiteral("needs brackets");
    QTest::newRow("ipv6-no-close") << QStringLiteral("[::1:8000") << QStringLiteral("missing ']'");
    QTest::newRow("ipv6-no-colon") << QStringLiteral("[::1]8000") << QStringLiteral("missing port after ']'");
    QTest::newRow("ipv6-no-port") << QStringLiteral("[::1]") << QStringLiteral("missing port after ']'");
    QTest::newRow("ipv6-empty-port") << QStringLiteral("[::1]:") << QStringLiteral("missing port");
    QTest::newRow("ipv6-empty") << QStringLiteral("[]:80") << QStringLiteral("empty IPv6 address");
    QTest::newRow("ipv6-garbage") << QStringLiteral("[::g]:80") << QStringLiteral("is not an IPv6 address");
    QTest::newRow("ipv4-in-brackets") << QStringLiteral("[127.0.0.1]:80") << QStringLiteral("brackets are for IPv6");
    QTest::newRow("ipv6-empty-zone") << QStringLiteral("[fe80::1%]:80") << QStringLiteral("bad IPv6 zone");
    QTest::newRow("ipv6-bad-zone") << QStringLiteral("[fe80::1%e/0]:80") << QStringLiteral("bad IPv6 zone");
    QTest::newRow("url") << QStringLiteral("tcp://127.0.0.1:80") << QStringLiteral("not a URL");
    QTest::newRow("non-ascii") << QStringLiteral("127.0.0.\u00b9:80") << QStringLiteral("cannot appear in an address");
    QTest::newRow("garbage") << QStringLiteral("banana") << QStringLiteral("missing port");
    QTest::newRow("unix-empty") << QStringLiteral("unix:") << QStringLiteral("empty Unix socket path");
    QTest::newRow("unix-relative") << QStringLiteral("unix:broker.sock") << QStringLiteral("must be absolute");
    QTest::newRow("unix-abstract") << QStringLiteral("unix:@kennel") << QStringLiteral("must be absolute");
    QTest::newRow("unix-leading-space") << QStringLiteral("unix: /x.sock") << QStringLiteral("must be absolute");
    QTest::newRow("unix-directory") << QStringLiteral("unix:/run/kennel/") << QStringLiteral("names a directory");
    QTest::newRow("unix-nul") << QStringLiteral("unix:/a") + QChar(0) + QStringLiteral("b")
                              << QStringLiteral("NUL character");
    QTest::newRow("unix-108-bytes") << QStringLiteral("unix:/") + QString(107, QLatin1Char('x'))
                                    << QStringLiteral("108 bytes long; the system limit is 107");
}

void tst_ConfigLoader::parseListenBad()
{
    QFETCH(QString, text);
    QFETCH(QString, error);

    QString reason;
    QVERIFY(!parseListenAddress(text, &reason));
    QVERIFY2(reason.contains(error), qPrintable(reason));
    QVERIFY(!parseListenAddress(text, nullptr)); // the reason is optional
}

void tst_ConfigLoader::fileKeys_data()
{
    QTest::addColumn<QByteArray>("ini");
    QTest::addColumn<QString>("field");
    QTest::addColumn<QVariant>("expected");

    const auto list = [](std::initializer_list<const char *> items) {
        QStringList out;
        for (const char *item : items)
            out.append(QString::fromLatin1(item));
        return QVariant(out);
    };
    QTest::newRow("listen-one") << QByteArray("[broker]\nlisten = 127.0.0.1:9000\n") << QStringLiteral("listen")
                                << list({"127.0.0.1:9000"});
    QTest::newRow("listen-list") << QByteArray("[broker]\nlisten = 127.0.0.1:9000, [::1]:9000 , unix:/run/k.sock\n")
                                 << QStringLiteral("listen") << list({"127.0.0.1:9000", "[::1]:9000", "unix:/run/k.sock"});
    QTest::newRow("listen-quoted-comma") << QByteArray("[broker]\nlisten = \"unix:/run/a,b.sock\"\n")
                                         << QStringLiteral("listen") << list({"unix:/run/a,b.sock"});
    QTest::newRow("listen-ipv6-zone") << QByteArray("[broker]\nlisten = [fe80::1%eth0]:80\n")
                                      << QStringLiteral("listen") << list({"[fe80::1%eth0]:80"});
    QTest::newRow("max_clients") << QByteArray("[limits]\nmax_clients = 10\n") << QStringLiteral("max_clients")
                                 << QVariant(qint64(10));
    QTest::newRow("max_frame_size") << QByteArray("[limits]\nmax_frame_size = 2048\n")
                                    << QStringLiteral("max_frame_size") << QVariant(qint64(2048));
    QTest::newRow("max_frame_size-k") << QByteArray("[limits]\nmax_frame_size = 64k\n")
                                      << QStringLiteral("max_frame_size") << QVariant(qint64(65536));
    QTest::newRow("max_frame_size-K") << QByteArray("[limits]\nmax_frame_size = 64K\n")
                                      << QStringLiteral("max_frame_size") << QVariant(qint64(65536));
    QTest::newRow("max_frame_size-M") << QByteArray("[limits]\nmax_frame_size = 2M\n")
                                      << QStringLiteral("max_frame_size") << QVariant(qint64(2 * 1024 * 1024));
    QTest::newRow("max_frame_size-m") << QByteArray("[limits]\nmax_frame_size = 2m\n")
                                      << QStringLiteral("max_frame_size") << QVariant(qint64(2 * 1024 * 1024));
    QTest::newRow("max_name_length") << QByteArray("[limits]\nmax_name_length = 9\n")
                                     << QStringLiteral("max_name_length") << QVariant(qint64(9));
    QTest::newRow("max_queue_bytes") << QByteArray("[limits]\nmax_queue_bytes = 8M\n")
                                     << QStringLiteral("max_queue_bytes") << QVariant(qint64(8 * 1024 * 1024));
    QTest::newRow("max_queue_bytes-G") << QByteArray("[limits]\nmax_queue_bytes = 1G\n")
                                       << QStringLiteral("max_queue_bytes") << QVariant(qint64(1024 * 1024 * 1024));
    QTest::newRow("register_timeout_ms") << QByteArray("[limits]\nregister_timeout_ms = 250\n")
                                         << QStringLiteral("register_timeout_ms") << QVariant(qint64(250));
    QTest::newRow("shutdown_timeout_ms") << QByteArray("[limits]\nshutdown_timeout_ms = 0\n")
                                         << QStringLiteral("shutdown_timeout_ms") << QVariant(qint64(0));
    QTest::newRow("incomplete_frame_timeout_ms") << QByteArray("[limits]\nincomplete_frame_timeout_ms = 2500\n")
                                                 << QStringLiteral("incomplete_frame_timeout_ms") << QVariant(qint64(2500));
    QTest::newRow("idle_timeout_ms") << QByteArray("[limits]\nidle_timeout_ms = 30000\n")
                                     << QStringLiteral("idle_timeout_ms") << QVariant(qint64(30000));
    QTest::newRow("total_queue_bytes") << QByteArray("[limits]\ntotal_queue_bytes = 64M\n")
                                       << QStringLiteral("total_queue_bytes") << QVariant(qint64(64 * 1024 * 1024));
    QTest::newRow("peer_lines_per_second") << QByteArray("[log]\npeer_lines_per_second = 5\n")
                                           << QStringLiteral("peer_lines_per_second") << QVariant(qint64(5));
    QTest::newRow("monitor/total_queue_bytes") << QByteArray("[monitor]\ntotal_queue_bytes = 32M\n")
                                               << QStringLiteral("monitor/total_queue_bytes") << QVariant(qint64(32 * 1024 * 1024));
    QTest::newRow("idle_timeout_ms-off") << QByteArray("[limits]\nidle_timeout_ms = 0\n")
                                         << QStringLiteral("idle_timeout_ms") << QVariant(qint64(0));
    QTest::newRow("traffic-true") << QByteArray("[log]\ntraffic = true\n") << QStringLiteral("traffic") << QVariant(true);
    QTest::newRow("traffic-yes") << QByteArray("[log]\ntraffic = yes\n") << QStringLiteral("traffic") << QVariant(true);
    QTest::newRow("traffic-On") << QByteArray("[log]\ntraffic = On\n") << QStringLiteral("traffic") << QVariant(true);
    QTest::newRow("traffic-1") << QByteArray("[log]\ntraffic = 1\n") << QStringLiteral("traffic") << QVariant(true);
    QTest::newRow("traffic-false") << QByteArray("[log]\ntraffic = false\n") << QStringLiteral("traffic") << QVariant(false);
    QTest::newRow("cgroup-off") << QByteArray("[supervisor]\ncgroup = off\n") << QStringLiteral("cgroup")
                                << QVariant(QStringLiteral("off"));
    QTest::newRow("cgroup-Auto") << QByteArray("[supervisor]\ncgroup = Auto\n") << QStringLiteral("cgroup")
                                 << QVariant(QStringLiteral("auto"));
    QTest::newRow("comments-and-crlf") << QByteArray("; top\r\n# hash\r\n[limits] ; trailing\r\nmax_clients = 12 ; why\r\n")
                                       << QStringLiteral("max_clients") << QVariant(qint64(12));
    QTest::newRow("utf8-bom") << QByteArray("\xef\xbb\xbf[limits]\nmax_clients = 13\n") << QStringLiteral("max_clients")
                              << QVariant(qint64(13));
    QTest::newRow("continuation") << QByteArray("[broker]\nlisten = 127.0.0.1:1, \\\n  127.0.0.1:2\n")
                                  << QStringLiteral("listen") << list({"127.0.0.1:1", "127.0.0.1:2"});
}

void tst_ConfigLoader::fileKeys()
{
    QFETCH(QByteArray, ini);
    QFETCH(QString, field);
    QFETCH(QVariant, expected);

    const ConfigLoader::Result result = ConfigLoader::loadFile(writeIni(ini));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    QCOMPARE(::field(result.config, field), expected);

    // The same through load() and --config.
    QCommandLineParser parser;
    QVERIFY(parse(parser, {QStringLiteral("--config"), writeIni(ini)}));
    const ConfigLoader::Result viaLoad = ConfigLoader::load(parser);
    QVERIFY2(viaLoad.ok(), qPrintable(viaLoad.errors.join(QLatin1Char('\n'))));
    QCOMPARE(::field(viaLoad.config, field), expected);
}

// [hold] (held delivery): defaults, every key read, the edges of the bounds, a bad name refused.
void tst_ConfigLoader::bridgeSection()
{
    // No [bridge]: no bridge.
    QVERIFY(!ConfigLoader::loadFile(writeIni("[hold]\nmax_count = 5\n")).config.bridge.enabled());

    ConfigLoader::Result result = ConfigLoader::loadFile(writeIni(
        "[bridge]\nurl = mqtt://127.0.0.1:1883\nboard = press-07\nprefix = fleet/{board}/k/\nkeepalive_s = 5\n"
        "spool_path = spool.db\nspool_max_bytes = 4k\nspool_sync = full\nstatus_timeout_ms = 100\n"
        "reconnect_min_ms = 10\nreconnect_max_ms = 10\nsummary_interval_ms = 200\ninflight = 1\ndedup_window = 16\n"));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    const BridgeSettings &b = result.config.bridge;
    QCOMPARE(b.url, QStringLiteral("mqtt://127.0.0.1:1883"));
    QCOMPARE(b.board, QByteArray("press-07"));
    QCOMPARE(b.prefix, QStringLiteral("fleet/{board}/k/"));
    QCOMPARE(b.keepaliveSeconds, 5);
    QVERIFY(QFileInfo(b.spoolPath).isAbsolute()); // relative to the config file's folder
    QCOMPARE(b.spoolMaxBytes, qint64(4096));
    QVERIFY(b.spoolSyncFull);
    QCOMPARE(b.statusTimeout.count(), 100);
    QCOMPARE(b.inflight, 1);
    QCOMPARE(b.dedupWindow, 16);

    result = ConfigLoader::loadFile(writeIni(
        "[bridge]\nurl = http://x:1\nprefix = kennel/\nspool_sync = sometimes\nspool_max_bytes = 4095\n"
        "reconnect_min_ms = 500\nreconnect_max_ms = 100\n"));
    QVERIFY(!result.ok());
    const QString errors = result.errors.join(QLatin1Char('\n'));
    for (const char *needle : {"is not mqtt://HOST:PORT", "a bridged broker needs its board id", "must hold {board} once",
                               "spool_sync: \"sometimes\" is not normal or full", "spool_max_bytes", "reconnect_min_ms (500)"})
        QVERIFY2(errors.contains(QLatin1String(needle)), qPrintable(errors));

    result = ConfigLoader::loadFile(writeIni("[bridge]\nurl = mqtt://h:1\nboard = bad@board\nca_file = /etc/hostname\n"));
    QVERIFY(!result.ok());
    QVERIFY(result.errors.join(QLatin1Char('\n')).contains(QLatin1String("is not a board id")));
    QVERIFY(result.errors.join(QLatin1Char('\n')).contains(QLatin1String("are for mqtts:// URLs")));
    result = ConfigLoader::loadFile(writeIni("[bridge]\nboard = lonely\n"));
    QCOMPARE(result.errors, QStringList{QStringLiteral("[bridge] board (--board) is set but url (--bridge) is not")});
}

// [bridge] export_topics / import_topics / export_max_pending: read, checked against [topics]
// bounds (given after [bridge] in the file), the edges of export_max_pending.
void tst_ConfigLoader::bridgeTopicsKeys()
{
    const QByteArray link = "[bridge]\nurl = mqtt://127.0.0.1:1883\nboard = press-07\n";
    ConfigLoader::Result result = ConfigLoader::loadFile(writeIni(link));
    QVERIFY(result.ok());
    QVERIFY(result.config.bridge.exportTopics.isEmpty() && result.config.bridge.importTopics.isEmpty());
    QCOMPARE(result.config.bridge.exportMaxPending, 10000);

    result = ConfigLoader::loadFile(writeIni(link + "export_topics = sensors/#, state/+/door, sensors/#\nimport_topics = #\n"
                                                    "export_max_pending = 1\n"));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    QCOMPARE(result.config.bridge.exportTopics, (QList<QByteArray>{"sensors/#", "state/+/door"}));
    QCOMPARE(result.config.bridge.importTopics, QList<QByteArray>{"#"});
    QCOMPARE(result.config.bridge.exportMaxPending, 1);
    result = ConfigLoader::loadFile(writeIni(link + "export_max_pending = 1000000\n"));
    QVERIFY(result.ok());

    result = ConfigLoader::loadFile(writeIni(link + "export_topics = a/#/b, $SYS/#\nimport_topics = 0123456789/0123456789\n"
                                                    "export_max_pending = 0\n[topics]\nmax_topic_length = 16\n"));
    QVERIFY(!result.ok());
    const QString errors = result.errors.join(QLatin1Char('\n'));
    for (const char *needle : {"[bridge] export_topics: \"a/#/b\" is not a topic filter",
                               "[bridge] export_topics: \"$SYS/#\" starts with '$'",
                               "[bridge] import_topics: \"0123456789/0123456789\" is not a topic filter", "export_max_pending"})
        QVERIFY2(errors.contains(QLatin1String(needle)), qPrintable(errors));

    // Other boards are subscribed with '+': {board} must be a whole level to import.
    result = ConfigLoader::loadFile(writeIni(link + "prefix = kennel/b-{board}/\nexport_topics = #\n"));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    result = ConfigLoader::loadFile(writeIni(link + "prefix = kennel/b-{board}/\nimport_topics = #\n"));
    QVERIFY(!result.ok());
    QVERIFY(result.errors.join(QLatin1Char('\n')).contains(QLatin1String("must hold {board} as a whole level")));
}

// [bridge] dedup_origins at its edges and monitor_address read (what it refuses: tst_bridgededup).
void tst_ConfigLoader::bridgeDedupAndMonitorAddress()
{
    const QByteArray bridge = "[bridge]\nurl = mqtt://127.0.0.1:1883\nboard = B\n";
    ConfigLoader::Result result = ConfigLoader::loadFile(writeIni(bridge));
    QVERIFY(result.ok());
    QCOMPARE(result.config.bridge.dedupOrigins, 1024);
    QVERIFY(result.config.bridge.monitorAddress.isEmpty());
    for (const int edge : {1, 1000000}) {
        result = ConfigLoader::loadFile(writeIni(bridge + "dedup_origins = " + QByteArray::number(edge) + "\n"));
        QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
        QCOMPARE(result.config.bridge.dedupOrigins, edge);
    }
    for (const int outside : {0, 1000001}) {
        result = ConfigLoader::loadFile(writeIni(bridge + "dedup_origins = " + QByteArray::number(outside) + "\n"));
        QVERIFY(!result.ok());
        QVERIFY2(result.errors.join(QLatin1Char('\n')).contains(QLatin1String("dedup_origins")),
                 qPrintable(result.errors.join(QLatin1Char('\n'))));
    }
    result = ConfigLoader::loadFile(writeIni(bridge + "monitor_address = press-07.example.net:7501\n"));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    QCOMPARE(result.config.bridge.monitorAddress, QStringLiteral("press-07.example.net:7501"));
    result = ConfigLoader::loadFile(writeIni(bridge + "monitor_address = press-07:65536\n"));
    QCOMPARE(result.errors, QStringList{QStringLiteral("[bridge] monitor_address (--bridge-monitor-address): "
                                                       "\"press-07:65536\" has no port 1 to 65535 after the last ':'")});
}

void tst_ConfigLoader::topicsSection()
{
    ConfigLoader::Result result = ConfigLoader::loadFile(writeIni(
        "[topics]\nenabled = off\nmax_topic_length = 32\nmax_levels = 3\nmax_subscriptions = 1\n"
        "retained_count = 0\nretained_bytes = 1k\nsubscribe = old1 a/+/c, old2 #\npublish_names = oldpub x/y\n"));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    const TopicSettings &t = result.config.topics;
    QCOMPARE(t.enabled, false);
    QCOMPARE(t.maxTopicLength, 32);
    QCOMPARE(t.maxLevels, 3);
    QCOMPARE(t.maxSubscriptions, 1);
    QCOMPARE(t.retainedCount, 0);
    QCOMPARE(t.retainedBytes, qint64(1024));
    QCOMPARE(t.subscriptions.size(), 2);
    QCOMPARE(t.subscriptions[0].name, QByteArrayLiteral("old1"));
    QCOMPARE(t.subscriptions[0].filter, QByteArrayLiteral("a/+/c"));
    QCOMPARE(t.subscriptions[1].filter, QByteArrayLiteral("#"));
    QCOMPARE(t.publishNames.size(), 1);
    QCOMPARE(t.publishNames[0].topic, QByteArrayLiteral("x/y"));

    // Each bad item is named; the filters are checked against the configured bounds.
    result = ConfigLoader::loadFile(writeIni(
        "[topics]\nmax_levels = 2\nmax_subscriptions = 0\nenabled = maybe\n"
        "subscribe = ok a/#, -bad a, lonely, x a/b/c, y a#\npublish_names = p a/+, q $SYS/x\n"));
    QVERIFY(!result.ok());
    const QString errors = result.errors.join(QLatin1Char('\n'));
    QVERIFY2(errors.contains(QLatin1String("topics/max_subscriptions")), qPrintable(errors));
    QVERIFY2(errors.contains(QLatin1String("topics/enabled")), qPrintable(errors));
    QVERIFY2(errors.contains(QLatin1String("topics/subscribe: \"-bad\"")), qPrintable(errors));
    QVERIFY2(errors.contains(QLatin1String("topics/subscribe: \"lonely\" is not \"NAME FILTER\"")), qPrintable(errors));
    QVERIFY2(errors.contains(QLatin1String("topics/subscribe: \"a/b/c\" is not a topic filter: too many levels")), qPrintable(errors));
    QVERIFY2(errors.contains(QLatin1String("topics/subscribe: \"a#\"")), qPrintable(errors));
    QVERIFY2(errors.contains(QLatin1String("topics/publish_names: \"a/+\"")), qPrintable(errors));
    QVERIFY2(errors.contains(QLatin1String("topics/publish_names: \"$SYS/x\"")), qPrintable(errors));
    QCOMPARE(result.errors.size(), 8);
}

void tst_ConfigLoader::holdSection()
{
    const HoldSettings defaults;
    QCOMPARE(defaults.enabled, true);
    QCOMPARE(defaults.limits.maxCount, 1000);
    QCOMPARE(defaults.limits.maxBytes, qint64(1024 * 1024));
    QCOMPARE(defaults.limits.ttl.count(), 30000);
    QCOMPARE(defaults.totalBytes, qint64(0));
    QCOMPARE(defaults.lostWindow.count(), 10000);

    ConfigLoader::Result result = ConfigLoader::loadFile(writeIni(
        "[hold]\nenabled = false\nmax_count = 1\nmax_bytes = 2k\nttl_ms = 1\ntotal_bytes = 1024\n"
        "lost_window_ms = 0\nnames = alpha, beta.2\n"));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    const HoldSettings &h = result.config.hold;
    QCOMPARE(h.enabled, false);
    QCOMPARE(h.limits.maxCount, 1);
    QCOMPARE(h.limits.maxBytes, qint64(2048));
    QCOMPARE(h.limits.ttl.count(), 1);
    QCOMPARE(h.totalBytes, qint64(1024));
    QCOMPARE(h.lostWindow.count(), 0);
    QCOMPARE(h.names, (QList<QByteArray>{"alpha", "beta.2"}));

    result = ConfigLoader::loadFile(writeIni("[hold]\nmax_count = 0\nttl_ms = 0\ntotal_bytes = 1023\nnames = ok, -bad\nenabled = maybe\n"));
    QVERIFY(!result.ok());
    const QString errors = result.errors.join(QLatin1Char('\n'));
    QVERIFY2(errors.contains(QLatin1String("hold/max_count")), qPrintable(errors));
    QVERIFY2(errors.contains(QLatin1String("hold/ttl_ms")), qPrintable(errors));
    QVERIFY2(errors.contains(QLatin1String("hold/total_bytes")), qPrintable(errors));
    QVERIFY2(errors.contains(QLatin1String("hold/names: \"-bad\"")), qPrintable(errors));
    QVERIFY2(errors.contains(QLatin1String("hold/enabled")), qPrintable(errors));
    QCOMPARE(result.errors.size(), 5);

    // Per service: hold = false leaves its name out of the expected ones.
    result = ConfigLoader::loadFile(writeIni("[service.a]\nprogram = /bin/true\n[service.b]\nprogram = /bin/true\nhold = off\n"));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    QCOMPARE(result.config.services.at(0).hold, true);
    QCOMPARE(result.config.services.at(1).hold, false);
    result = ConfigLoader::loadFile(writeIni("[service.b]\nprogram = /bin/true\nhold = perhaps\n"));
    QVERIFY(!result.ok());

    result = ConfigLoader::loadFile(writeIni("[hold]\nmax_countt = 3\n"));
    QVERIFY(!result.ok());
    QVERIFY2(result.errors.join(QLatin1Char('\n')).contains(QLatin1String("max_countt")), qPrintable(result.errors.join(QLatin1Char('\n'))));
}

void tst_ConfigLoader::callsSection()
{
    const CallSettings defaults;
    QCOMPARE(defaults.maxOutstanding, 64);
    QCOMPARE(defaults.maxDeadline.count(), 60000);
    QCOMPARE(defaults.defaultDeadline.count(), 5000);

    // The edges: 1 and 1000000 calls, 1 ms and a day.
    ConfigLoader::Result result = ConfigLoader::loadFile(
        writeIni("[calls]\nmax_outstanding = 1\nmax_deadline_ms = 86400000\ndefault_deadline_ms = 1\n"));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    QCOMPARE(result.config.calls.maxOutstanding, 1);
    QCOMPARE(result.config.calls.maxDeadline.count(), 86400000);
    QCOMPARE(result.config.calls.defaultDeadline.count(), 1);
    result = ConfigLoader::loadFile(writeIni("[calls]\nmax_outstanding = 1000000\n"));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));

    result = ConfigLoader::loadFile(writeIni("[calls]\nmax_outstanding = 0\nmax_deadline_ms = 86400001\ndefault_deadline_ms = 0\n"));
    QVERIFY(!result.ok());
    const QString errors = result.errors.join(QLatin1Char('\n'));
    QVERIFY2(errors.contains(QLatin1String("calls/max_outstanding")), qPrintable(errors));
    QVERIFY2(errors.contains(QLatin1String("calls/max_deadline_ms")), qPrintable(errors));
    QVERIFY2(errors.contains(QLatin1String("calls/default_deadline_ms")), qPrintable(errors));
    QCOMPARE(result.errors.size(), 3);
    result = ConfigLoader::loadFile(writeIni("[calls]\nmax_outstandin = 3\n"));
    QVERIFY(!result.ok());
}

// [hold.PATTERN]: bounds of their own for the names a pattern matches, the first in file order
// winning, what a section leaves out taken from [hold]; the same ranges as [hold]'s at their edges.
void tst_ConfigLoader::holdPatternSections()
{
    ConfigLoader::Result result = ConfigLoader::loadFile(writeIni(
        "[hold]\nmax_count = 50\nttl_ms = 2000\n"
        "[hold.sensor-?]\nmax_count = 1\n"
        "[hold.sensor*]\nmax_count = 1000000\nmax_bytes = 1\nttl_ms = 86400000\n"));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    const HoldSettings &h = result.config.hold;
    QCOMPARE(h.overrides.size(), 2);
    QCOMPARE(h.overrides.at(0).pattern, QByteArray("sensor-?"));
    QCOMPARE(h.limitsFor("sensor-1").maxCount, 1);              // the first section that matches
    QCOMPARE(h.limitsFor("sensor-1").ttl.count(), 2000);        // left out: [hold]'s
    QCOMPARE(h.limitsFor("sensor-12").maxCount, 1000000);       // ? is one character: the second section
    QCOMPARE(h.limitsFor("sensor-12").maxBytes, qint64(1));
    QCOMPARE(h.limitsFor("sensor-12").ttl.count(), 86400000);
    QCOMPARE(h.limitsFor("sensor").maxCount, 1000000);          // * matches nothing too
    QCOMPARE(h.limitsFor("logger").maxCount, 50);               // no pattern: [hold]
    QCOMPARE(h.limitsFor("a-sensor").maxCount, 50);             // patterns match whole names

    result = ConfigLoader::loadFile(writeIni(
        "[hold.a*]\nmax_count = 0\nmax_bytes = 2G\nttl_ms = 86400001\n[hold.b c]\nmax_count = 1\n[hold.d]\nnames = x\n"));
    QVERIFY(!result.ok());
    const QString errors = result.errors.join(QLatin1Char('\n'));
    QVERIFY2(errors.contains(QLatin1String("hold.a*/max_count")), qPrintable(errors));
    QVERIFY2(errors.contains(QLatin1String("hold.a*/max_bytes")), qPrintable(errors));
    QVERIFY2(errors.contains(QLatin1String("hold.a*/ttl_ms")), qPrintable(errors));
    QVERIFY2(errors.contains(QLatin1String("is not a name pattern")), qPrintable(errors));
    QVERIFY2(errors.contains(QLatin1String("hold.d/names: unknown key")), qPrintable(errors));
    QCOMPARE(result.errors.size(), 5);
}

void tst_ConfigLoader::flagKeys_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("field");
    QTest::addColumn<QVariant>("expected");

    QTest::newRow("listen-one") << QStringList{QStringLiteral("--listen"), QStringLiteral("[::1]:1")}
                                << QStringLiteral("listen") << QVariant(QStringList{QStringLiteral("[::1]:1")});
    QTest::newRow("listen-repeated") << QStringList{QStringLiteral("--listen"), QStringLiteral("*:1"),
                                                    QStringLiteral("--listen=unix:/a.sock")}
                                     << QStringLiteral("listen")
                                     << QVariant(QStringList{QStringLiteral("*:1"), QStringLiteral("unix:/a.sock")});
    QTest::newRow("max-clients") << QStringList{QStringLiteral("--max-clients"), QStringLiteral("7")}
                                 << QStringLiteral("max_clients") << QVariant(qint64(7));
    QTest::newRow("max-clients-last-wins") << QStringList{QStringLiteral("--max-clients=7"), QStringLiteral("--max-clients=8")}
                                           << QStringLiteral("max_clients") << QVariant(qint64(8));
    QTest::newRow("max-frame-size") << QStringList{QStringLiteral("--max-frame-size=64k")}
                                    << QStringLiteral("max_frame_size") << QVariant(qint64(65536));
    QTest::newRow("max-name-length") << QStringList{QStringLiteral("--max-name-length=9")}
                                     << QStringLiteral("max_name_length") << QVariant(qint64(9));
    QTest::newRow("max-queue-bytes") << QStringList{QStringLiteral("--max-queue-bytes=16M")}
                                     << QStringLiteral("max_queue_bytes") << QVariant(qint64(16 * 1024 * 1024));
    QTest::newRow("register-timeout") << QStringList{QStringLiteral("--register-timeout=100")}
                                      << QStringLiteral("register_timeout_ms") << QVariant(qint64(100));
    QTest::newRow("shutdown-timeout") << QStringList{QStringLiteral("--shutdown-timeout=0")}
                                      << QStringLiteral("shutdown_timeout_ms") << QVariant(qint64(0));
    QTest::newRow("incomplete-frame-timeout") << QStringList{QStringLiteral("--incomplete-frame-timeout=100")}
                                              << QStringLiteral("incomplete_frame_timeout_ms") << QVariant(qint64(100));
    QTest::newRow("idle-timeout") << QStringList{QStringLiteral("--idle-timeout"), QStringLiteral("5000")}
                                  << QStringLiteral("idle_timeout_ms") << QVariant(qint64(5000));
    QTest::newRow("idle-timeout-off") << QStringList{QStringLiteral("--idle-timeout=0")}
                                      << QStringLiteral("idle_timeout_ms") << QVariant(qint64(0));
    QTest::newRow("log-traffic") << QStringList{QStringLiteral("--log-traffic")} << QStringLiteral("traffic")
                                 << QVariant(true);
}

void tst_ConfigLoader::flagKeys()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, field);
    QFETCH(QVariant, expected);

    QCommandLineParser parser;
    QVERIFY(parse(parser, arguments));
    const ConfigLoader::Result result = ConfigLoader::applyFlags(parser);
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    QCOMPARE(::field(result.config, field), expected);

    const ConfigLoader::Result viaLoad = ConfigLoader::load(parser);
    QVERIFY(viaLoad.ok());
    QCOMPARE(::field(viaLoad.config, field), expected);
}

void tst_ConfigLoader::flagsOverrideFile()
{
    const QString path = writeIni("[broker]\nlisten = 127.0.0.1:1, 127.0.0.1:2\n"
                                  "[limits]\nmax_clients = 10\nmax_frame_size = 2k\nmax_name_length = 10\n"
                                  "max_queue_bytes = 8k\nregister_timeout_ms = 1000\nshutdown_timeout_ms = 10\n"
                                  "[log]\ntraffic = false\n");
    QCommandLineParser parser;
    QVERIFY(parse(parser, {QStringLiteral("--config"), path, QStringLiteral("--listen=unix:/x.sock"),
                           QStringLiteral("--max-clients=20"), QStringLiteral("--max-frame-size=4k"),
                           QStringLiteral("--max-name-length=20"), QStringLiteral("--register-timeout=2000"),
                           QStringLiteral("--log-traffic")}));
    const ConfigLoader::Result result = ConfigLoader::load(parser);
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));

    const BrokerConfig &c = result.config;
    // A flag's list replaces the file's list; it does not add to it.
    QCOMPARE(field(c, QStringLiteral("listen")), QVariant(QStringList{QStringLiteral("unix:/x.sock")}));
    QCOMPARE(c.maxClients, 20);
    QCOMPARE(c.maxFrameSize, 4096u);
    QCOMPARE(c.maxNameLength, 20);
    QCOMPARE(c.registerTimeout.count(), 2000);
    QCOMPARE(c.logTraffic, true);
    // Not flagged: the file's values stand.
    QCOMPARE(c.maxOutputQueueBytes, qint64(8192));
    QCOMPARE(c.shutdownFlushTimeout.count(), 10);
}

void tst_ConfigLoader::fileOnTopOfBase()
{
    BrokerConfig base;
    base.maxClients = 3;
    base.logTraffic = true;
    const ConfigLoader::Result result = ConfigLoader::loadFile(writeIni("[limits]\nmax_name_length = 5\n"), base);
    QVERIFY(result.ok());
    QCOMPARE(result.config.maxClients, 3);
    QCOMPARE(result.config.logTraffic, true);
    QCOMPARE(result.config.maxNameLength, 5);
}

void tst_ConfigLoader::badFileValues_data()
{
    QTest::addColumn<QByteArray>("ini");
    QTest::addColumn<QString>("error");

    QTest::newRow("clients-abc") << QByteArray("[limits]\nmax_clients = abc\n")
                                 << QStringLiteral("limits/max_clients: \"abc\" is not a whole number");
    QTest::newRow("cgroup-yes") << QByteArray("[supervisor]\ncgroup = yes\n")
                                << QStringLiteral("supervisor/cgroup: \"yes\" is not auto or off");
    QTest::newRow("clients-empty") << QByteArray("[limits]\nmax_clients =\n")
                                   << QStringLiteral("limits/max_clients: \"\" is not a whole number");
    QTest::newRow("clients-float") << QByteArray("[limits]\nmax_clients = 1.5\n")
                                   << QStringLiteral("limits/max_clients: \"1.5\" is not a whole number");
    QTest::newRow("clients-hex") << QByteArray("[limits]\nmax_clients = 0x10\n")
                                 << QStringLiteral("limits/max_clients: \"0x10\" is not a whole number");
    QTest::newRow("clients-plus") << QByteArray("[limits]\nmax_clients = +5\n")
                                  << QStringLiteral("limits/max_clients: \"+5\" is not a whole number");
    QTest::newRow("clients-suffix") << QByteArray("[limits]\nmax_clients = 1k\n")
                                    << QStringLiteral("limits/max_clients: \"1k\" is not a whole number");
    QTest::newRow("clients-hash-comment") << QByteArray("[limits]\nmax_clients = 5 # five\n")
                                          << QStringLiteral("limits/max_clients: \"5 # five\" is not a whole number");
    QTest::newRow("clients-thousands") << QByteArray("[limits]\nmax_clients = 1,000\n")
                                       << QStringLiteral("limits/max_clients: \"1, 000\" is a list; expected a single value (no commas)");
    QTest::newRow("clients-zero") << QByteArray("[limits]\nmax_clients = 0\n")
                                  << QStringLiteral("limits/max_clients: 0 is below the minimum 1");
    QTest::newRow("clients-negative") << QByteArray("[limits]\nmax_clients = -5\n")
                                      << QStringLiteral("limits/max_clients: -5 is below the minimum 1");
    QTest::newRow("clients-overflow") << QByteArray("[limits]\nmax_clients = 99999999999999999999999\n")
                                      << QStringLiteral("limits/max_clients: \"99999999999999999999999\" is not a whole number");
    QTest::newRow("frame-100") << QByteArray("[limits]\nmax_frame_size = 100\n")
                               << QStringLiteral("limits/max_frame_size: 100 is below the minimum 1024");
    QTest::newRow("frame-512M") << QByteArray("[limits]\nmax_frame_size = 512M\n")
                                << QStringLiteral("limits/max_frame_size: 512M is above the maximum 268435456 (256M)");
    QTest::newRow("frame-MB") << QByteArray("[limits]\nmax_frame_size = 1MB\n")
                              << QStringLiteral("limits/max_frame_size: \"1MB\" is not a size (a whole number of bytes, optionally with suffix k, M or G)");
    QTest::newRow("frame-decimal") << QByteArray("[limits]\nmax_frame_size = 1.5M\n")
                                   << QStringLiteral("limits/max_frame_size: \"1.5M\" is not a size (a whole number of bytes, optionally with suffix k, M or G)");
    QTest::newRow("frame-suffix-only") << QByteArray("[limits]\nmax_frame_size = k\n")
                                       << QStringLiteral("limits/max_frame_size: \"k\" is not a size (a whole number of bytes, optionally with suffix k, M or G)");
    QTest::newRow("frame-space-suffix") << QByteArray("[limits]\nmax_frame_size = 1 M\n")
                                        << QStringLiteral("limits/max_frame_size: \"1 M\" is not a size (a whole number of bytes, optionally with suffix k, M or G)");
    QTest::newRow("frame-overflow") << QByteArray("[limits]\nmax_frame_size = 9000000000000000000G\n")
                                    << QStringLiteral("limits/max_frame_size: \"9000000000000000000G\" is not a size (a whole number of bytes, optionally with suffix k, M or G)");
    QTest::newRow("name-65") << QByteArray("[limits]\nmax_name_length = 65\n")
                             << QStringLiteral("limits/max_name_length: 65 is above the maximum 64");
    QTest::newRow("queue-2G") << QByteArray("[limits]\nmax_queue_bytes = 2G\n")
                              << QStringLiteral("limits/max_queue_bytes: 2G is above the maximum 1073741824 (1G)");
    QTest::newRow("register-50") << QByteArray("[limits]\nregister_timeout_ms = 50\n")
                                 << QStringLiteral("limits/register_timeout_ms: 50 is below the minimum 100");
    QTest::newRow("register-unit") << QByteArray("[limits]\nregister_timeout_ms = 5s\n")
                                   << QStringLiteral("limits/register_timeout_ms: \"5s\" is not a whole number");
    QTest::newRow("shutdown-negative") << QByteArray("[limits]\nshutdown_timeout_ms = -1\n")
                                       << QStringLiteral("limits/shutdown_timeout_ms: -1 is below the minimum 0");
    QTest::newRow("incomplete-0") << QByteArray("[limits]\nincomplete_frame_timeout_ms = 0\n")
                                  << QStringLiteral("limits/incomplete_frame_timeout_ms: 0 is below the minimum 100");
    QTest::newRow("total-queue-1023") << QByteArray("[limits]\ntotal_queue_bytes = 1023\n")
                                      << QStringLiteral("limits/total_queue_bytes: 1023 is below the minimum 1024 (0 derives it from RAM)");
    QTest::newRow("peer-lines-0") << QByteArray("[log]\npeer_lines_per_second = 0\n")
                                  << QStringLiteral("log/peer_lines_per_second: 0 is below the minimum 1");
    QTest::newRow("monitor-total-queue-small") << QByteArray("[monitor]\ntotal_queue_bytes = 1k\n")
                                               << QStringLiteral("monitor/total_queue_bytes: 1k is below the minimum 65536 (0 derives it from RAM)");
    QTest::newRow("idle-999") << QByteArray("[limits]\nidle_timeout_ms = 999\n")
                              << QStringLiteral("limits/idle_timeout_ms: 999 is below the minimum 1000 (0 turns it off)");
    QTest::newRow("idle-negative") << QByteArray("[limits]\nidle_timeout_ms = -1\n")
                                   << QStringLiteral("limits/idle_timeout_ms: -1 is below the minimum 1000 (0 turns it off)");
    QTest::newRow("traffic-maybe") << QByteArray("[log]\ntraffic = maybe\n")
                                   << QStringLiteral("log/traffic: \"maybe\" is not a boolean (true/false, yes/no, on/off, 1/0)");
    QTest::newRow("traffic-list") << QByteArray("[log]\ntraffic = true, false\n")
                                  << QStringLiteral("log/traffic: \"true, false\" is a list; expected a single value (no commas)");
    QTest::newRow("listen-port") << QByteArray("[broker]\nlisten = 127.0.0.1:99999\n")
                                 << QStringLiteral("broker/listen: \"127.0.0.1:99999\": port out of range (0..65535)");
    QTest::newRow("listen-hostname") << QByteArray("[broker]\nlisten = 127.0.0.1:1, broker.local:1\n")
                                     << QStringLiteral("broker/listen: \"broker.local:1\": host \"broker.local\" is not an IP address, \"localhost\" or \"*\" (host names are not resolved)");
    QTest::newRow("listen-empty") << QByteArray("[broker]\nlisten =\n")
                                  << QStringLiteral("broker/listen: no address given; remove the key to use the defaults");
    QTest::newRow("listen-trailing-comma") << QByteArray("[broker]\nlisten = 127.0.0.1:1,\n")
                                           << QStringLiteral("broker/listen: \"\": empty address; expected HOST:PORT, [IPv6]:PORT or unix:PATH");
    QTest::newRow("listen-twice") << QByteArray("[broker]\nlisten = 127.0.0.1:1, localhost:1\n")
                                  << QStringLiteral("broker/listen: \"localhost:1\" is listed twice");
    QTest::newRow("listen-ipv6-twice") << QByteArray("[broker]\nlisten = [::1]:1, [0::1]:1\n")
                                       << QStringLiteral("broker/listen: \"[0::1]:1\" is listed twice");
    QTest::newRow("listen-relative-unix") << QByteArray("[broker]\nlisten = unix:kennel.sock\n")
                                          << QStringLiteral("broker/listen: \"unix:kennel.sock\": Unix socket path must be absolute (/...) or explicitly relative (./... or ../...)");
}

void tst_ConfigLoader::badFileValues()
{
    QFETCH(QByteArray, ini);
    QFETCH(QString, error);

    const ConfigLoader::Result result = ConfigLoader::loadFile(writeIni(ini));
    QCOMPARE(result.errors, QStringList{error});
    QVERIFY(!result.ok());
    // A rejected value leaves the previous layer's value: here, the defaults.
    const BrokerConfig defaults;
    for (const char *name : allFields)
        QCOMPARE(field(result.config, QLatin1String(name)), field(defaults, QLatin1String(name)));
}

void tst_ConfigLoader::badFlagValues_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("error");

    QTest::newRow("clients-abc") << QStringList{QStringLiteral("--max-clients=abc")}
                                 << QStringLiteral("--max-clients: \"abc\" is not a whole number");
    QTest::newRow("clients-empty") << QStringList{QStringLiteral("--max-clients=")}
                                   << QStringLiteral("--max-clients: \"\" is not a whole number");
    QTest::newRow("clients-big") << QStringList{QStringLiteral("--max-clients=1000001")}
                                 << QStringLiteral("--max-clients: 1000001 is above the maximum 1000000");
    QTest::newRow("frame-small") << QStringList{QStringLiteral("--max-frame-size=1023")}
                                 << QStringLiteral("--max-frame-size: 1023 is below the minimum 1024");
    QTest::newRow("frame-garbage") << QStringList{QStringLiteral("--max-frame-size=lots")}
                                   << QStringLiteral("--max-frame-size: \"lots\" is not a size (a whole number of bytes, optionally with suffix k, M or G)");
    QTest::newRow("name-0") << QStringList{QStringLiteral("--max-name-length=0")}
                            << QStringLiteral("--max-name-length: 0 is below the minimum 1");
    QTest::newRow("queue-small") << QStringList{QStringLiteral("--max-queue-bytes=1000")}
                                 << QStringLiteral("--max-queue-bytes: 1000 is below the minimum 1024");
    QTest::newRow("register-big") << QStringList{QStringLiteral("--register-timeout=3600001")}
                                  << QStringLiteral("--register-timeout: 3600001 is above the maximum 3600000");
    QTest::newRow("shutdown-big") << QStringList{QStringLiteral("--shutdown-timeout=600001")}
                                  << QStringLiteral("--shutdown-timeout: 600001 is above the maximum 600000");
    QTest::newRow("incomplete-big") << QStringList{QStringLiteral("--incomplete-frame-timeout=3600001")}
                                    << QStringLiteral("--incomplete-frame-timeout: 3600001 is above the maximum 3600000");
    QTest::newRow("idle-big") << QStringList{QStringLiteral("--idle-timeout=86400001")}
                              << QStringLiteral("--idle-timeout: 86400001 is above the maximum 86400000");
    QTest::newRow("idle-1") << QStringList{QStringLiteral("--idle-timeout=1")}
                            << QStringLiteral("--idle-timeout: 1 is below the minimum 1000 (0 turns it off)");
    QTest::newRow("listen-bad") << QStringList{QStringLiteral("--listen=127.0.0.1:99999")}
                                << QStringLiteral("--listen: \"127.0.0.1:99999\": port out of range (0..65535)");
    QTest::newRow("listen-empty") << QStringList{QStringLiteral("--listen=")}
                                  << QStringLiteral("--listen: \"\": empty address; expected HOST:PORT, [IPv6]:PORT or unix:PATH");
    QTest::newRow("listen-twice") << QStringList{QStringLiteral("--listen=*:1"), QStringLiteral("--listen=*:1")}
                                  << QStringLiteral("--listen: \"*:1\" is listed twice");
}

void tst_ConfigLoader::badFlagValues()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, error);

    QCommandLineParser parser;
    QVERIFY(parse(parser, arguments));
    const ConfigLoader::Result result = ConfigLoader::applyFlags(parser);
    QCOMPARE(result.errors, QStringList{error});
    QCOMPARE(ConfigLoader::load(parser).errors, QStringList{error});
}

void tst_ConfigLoader::allErrorsReported()
{
    const QString path = writeIni("[broker]\nlisten = 1.2.3.4:x, unix:\n"
                                  "[limits]\nmax_clients = abc\nmax_name_length = 0\nmax_frmae_size = 1k\n"
                                  "[log]\ntraffic = perhaps\n[logs]\nlevel = 3\n");
    QCommandLineParser parser;
    QVERIFY(parse(parser, {QStringLiteral("--config"), path, QStringLiteral("--max-queue-bytes=1"),
                           QStringLiteral("--listen=nowhere")}));
    const ConfigLoader::Result result = ConfigLoader::load(parser);
    const QStringList expected{
        QStringLiteral("limits/max_frmae_size: unknown key (keys in [limits]: max_clients, max_frame_size, "
                       "max_name_length, max_queue_bytes, register_timeout_ms, shutdown_timeout_ms, "
                       "incomplete_frame_timeout_ms, idle_timeout_ms, total_incomplete_frame_bytes, total_queue_bytes)"),
        unknownGroup("logs"),
        QStringLiteral("broker/listen: \"1.2.3.4:x\": port \"x\" is not a number"),
        QStringLiteral("broker/listen: \"unix:\": empty Unix socket path"),
        QStringLiteral("limits/max_clients: \"abc\" is not a whole number"),
        QStringLiteral("limits/max_name_length: 0 is below the minimum 1"),
        QStringLiteral("log/traffic: \"perhaps\" is not a boolean (true/false, yes/no, on/off, 1/0)"),
        QStringLiteral("--listen: \"nowhere\": missing port; expected HOST:PORT, [IPv6]:PORT or unix:PATH"),
        QStringLiteral("--max-queue-bytes: 1 is below the minimum 1024"),
    };
    QCOMPARE(result.errors, expected);
}

void tst_ConfigLoader::unknownNames_data()
{
    QTest::addColumn<QByteArray>("ini");
    QTest::addColumn<QStringList>("errors");

    QTest::newRow("unknown-group") << QByteArray("[brokr]\nlisten = *:1\nother = 2\n")
                                   << QStringList{unknownGroup("brokr")};
    QTest::newRow("unknown-key") << QByteArray("[limits]\nmax_client = 5\n")
                                 << QStringList{QStringLiteral("limits/max_client: unknown key (keys in [limits]: max_clients, "
                                                               "max_frame_size, max_name_length, max_queue_bytes, "
                                                               "register_timeout_ms, shutdown_timeout_ms, "
                                                               "incomplete_frame_timeout_ms, idle_timeout_ms, total_incomplete_frame_bytes, total_queue_bytes)")};
    QTest::newRow("wrong-case-key") << QByteArray("[log]\nTraffic = true\n")
                                    << QStringList{QStringLiteral("log/Traffic: unknown key (keys in [log]: traffic, rules, peer_lines_per_second)")};
    QTest::newRow("wrong-case-group") << QByteArray("[Broker]\nlisten = *:1\n")
                                      << QStringList{unknownGroup("Broker")};
    QTest::newRow("key-in-wrong-group") << QByteArray("[broker]\nmax_clients = 5\n")
                                        << QStringList{QStringLiteral("broker/max_clients: unknown key (keys in [broker]: listen)")};
    QTest::newRow("top-level-key") << QByteArray("traffic = true\n")
                                   << QStringList{QStringLiteral("traffic: key outside any [group] (it belongs in [log])")};
    QTest::newRow("general-key") << QByteArray("[General]\nfoo = 1\n")
                                 << QStringList{QStringLiteral("foo: key outside any [group]")};
    QTest::newRow("nested-group") << QByteArray("[broker/extra]\nlisten = *:1\n")
                                  << QStringList{QStringLiteral("broker/extra/listen: unknown key (keys in [broker]: listen)")};
    QTest::newRow("service-without-name") << QByteArray("[service.]\na = 1\n")
                                          << QStringList{unknownGroup("service.")};
    QTest::newRow("service-singular") << QByteArray("[service]\na = 1\n")
                                      << QStringList{unknownGroup("service")};
}

void tst_ConfigLoader::unknownNames()
{
    QFETCH(QByteArray, ini);
    QFETCH(QStringList, errors);

    QCOMPARE(ConfigLoader::loadFile(writeIni(ini)).errors, errors);
}

void tst_ConfigLoader::formerlyReservedGroups()
{
    // [monitor] was reserved and accepted anything; now its keys are checked like any group's.
    const QString path = writeIni("[monitor]\nallow = uid:0\n[limits]\nmax_clients = 5\n");
    const ConfigLoader::Result result = ConfigLoader::loadFile(path);
    QCOMPARE(result.errors, QStringList{QStringLiteral("monitor/allow: unknown key (keys in [monitor]: ") + MonitorKeyList
                                        + QLatin1Char(')')});
    QCOMPARE(result.config.maxClients, 5);

    // [services] was reserved and has no use now: a file relying on it is told so.
    QCOMPARE(ConfigLoader::loadFile(writeIni("[services]\nlist = a, b\n")).errors, QStringList{unknownGroup("services")});
}

void tst_ConfigLoader::malformedLines_data()
{
    QTest::addColumn<QByteArray>("ini");
    QTest::addColumn<QString>("error"); // after "<path>:"

    QTest::newRow("no-equals") << QByteArray("[limits]\nmax_clients 100\n")
                               << QStringLiteral("2: \"max_clients 100\" is not \"key = value\", \"[group]\" or a comment");
    QTest::newRow("unclosed-header") << QByteArray("[limits\nmax_clients = 1\n")
                                     << QStringLiteral("1: \"[limits\" is not a group header; expected [name]");
    QTest::newRow("header-with-key") << QByteArray("[limits]max_clients = 1\n")
                                     << QStringLiteral("1: \"[limits]max_clients = 1\" is not a group header; expected [name]");
    QTest::newRow("no-key-name") << QByteArray("[limits]\n= 5\n") << QStringLiteral("2: no key name before '='");
    QTest::newRow("duplicate") << QByteArray("[limits]\nmax_clients = 1\n\n[log]\ntraffic = on\n[limits]\nmax_clients = 2\n")
                               << QStringLiteral("7: limits/max_clients is set again (first on line 2); give each key once");
}

void tst_ConfigLoader::malformedLines()
{
    QFETCH(QByteArray, ini);
    QFETCH(QString, error);

    const QString path = writeIni(ini);
    const QStringList errors = ConfigLoader::loadFile(path).errors;
    QVERIFY2(!errors.isEmpty(), "a malformed line passed silently");
    QCOMPARE(errors.first(), path + QLatin1Char(':') + error);
}

void tst_ConfigLoader::queueBelowFrame_data()
{
    QTest::addColumn<QByteArray>("ini");
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QStringList>("errors");

    const QString belowError = QStringLiteral(
        "limits/max_queue_bytes: 2097152 is below limits/max_frame_size 4194304; "
        "a connection's queue must hold at least one frame");
    QTest::newRow("file") << QByteArray("[limits]\nmax_frame_size = 4M\nmax_queue_bytes = 2M\n") << QStringList()
                          << QStringList{belowError};
    QTest::newRow("flags") << QByteArray() << QStringList{QStringLiteral("--max-frame-size=4M"), QStringLiteral("--max-queue-bytes=2M")}
                           << QStringList{belowError};
    QTest::newRow("file-and-flag") << QByteArray("[limits]\nmax_queue_bytes = 2M\n")
                                   << QStringList{QStringLiteral("--max-frame-size=4M")} << QStringList{belowError};
    QTest::newRow("frame-above-default-queue") << QByteArray() << QStringList{QStringLiteral("--max-frame-size=8M")}
                                               << QStringList{QStringLiteral(
                                                      "limits/max_queue_bytes: 4194304 is below limits/max_frame_size 8388608; "
                                                      "a connection's queue must hold at least one frame")};
    // The check runs on the outcome of all layers: a flag can mend what the file got wrong.
    QTest::newRow("flag-mends-file") << QByteArray("[limits]\nmax_frame_size = 4M\nmax_queue_bytes = 2M\n")
                                     << QStringList{QStringLiteral("--max-queue-bytes=4M")} << QStringList();
    QTest::newRow("equal") << QByteArray("[limits]\nmax_frame_size = 4M\nmax_queue_bytes = 4M\n") << QStringList()
                           << QStringList();
    // A size that did not parse would make the comparison about a value nobody asked for.
    QTest::newRow("bad-size-no-echo") << QByteArray("[limits]\nmax_frame_size = 8M\nmax_queue_bytes = 16MB\n")
                                      << QStringList()
                                      << QStringList{QStringLiteral(
                                             "limits/max_queue_bytes: \"16MB\" is not a size (a whole number of bytes, "
                                             "optionally with suffix k, M or G)")};
}

void tst_ConfigLoader::queueBelowFrame()
{
    QFETCH(QByteArray, ini);
    QFETCH(QStringList, arguments);
    QFETCH(QStringList, errors);

    QStringList all = arguments;
    if (!ini.isEmpty())
        all << QStringLiteral("--config") << writeIni(ini);
    QCommandLineParser parser;
    QVERIFY(parse(parser, all));
    QCOMPARE(ConfigLoader::load(parser).errors, errors);
}

void tst_ConfigLoader::fileBounds_data()
{
    QTest::addColumn<QString>("key");
    QTest::addColumn<qint64>("value");
    QTest::addColumn<bool>("accepted");

    for (const NumericCase &c : numericCases) {
        const QString key = QLatin1String(c.key);
        QTest::addRow("%s=min", c.key) << key << c.min << true;
        QTest::addRow("%s=min-1", c.key) << key << c.min - 1 << false;
        QTest::addRow("%s=max", c.key) << key << c.max << true;
        QTest::addRow("%s=max+1", c.key) << key << c.max + 1 << false;
    }
    QTest::addRow("idle_timeout_ms=0") << QStringLiteral("idle_timeout_ms") << qint64(0) << true;
    QTest::addRow("total_incomplete_frame_bytes=0") << QStringLiteral("total_incomplete_frame_bytes") << qint64(0) << true;
    QTest::addRow("total_queue_bytes=0") << QStringLiteral("total_queue_bytes") << qint64(0) << true;
}

void tst_ConfigLoader::fileBounds()
{
    QFETCH(QString, key);
    QFETCH(qint64, value);
    QFETCH(bool, accepted);

    const QByteArray ini = "[limits]\n" + key.toLatin1() + " = " + QByteArray::number(value) + '\n';
    const ConfigLoader::Result result = ConfigLoader::loadFile(writeIni(ini), roomyBase());
    QCOMPARE(result.ok(), accepted);
    if (accepted) {
        QCOMPARE(field(result.config, key), QVariant(value));
    } else {
        QCOMPARE(result.errors.size(), 1);
        QVERIFY2(result.errors.first().startsWith(QStringLiteral("limits/") + key + QStringLiteral(": ")
                                                  + QString::number(value) + QStringLiteral(" is ")),
                 qPrintable(result.errors.first()));
    }
}

void tst_ConfigLoader::flagBounds_data()
{
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("flag");
    QTest::addColumn<qint64>("value");
    QTest::addColumn<bool>("accepted");

    for (const NumericCase &c : numericCases) {
        const QString key = QLatin1String(c.key);
        const QString flag = QLatin1String(c.flag);
        QTest::addRow("%s=min", c.flag) << key << flag << c.min << true;
        QTest::addRow("%s=min-1", c.flag) << key << flag << c.min - 1 << false;
        QTest::addRow("%s=max", c.flag) << key << flag << c.max << true;
        QTest::addRow("%s=max+1", c.flag) << key << flag << c.max + 1 << false;
    }
    QTest::addRow("--idle-timeout=0") << QStringLiteral("idle_timeout_ms") << QStringLiteral("--idle-timeout") << qint64(0) << true;
    QTest::addRow("--total-queue-bytes=0") << QStringLiteral("total_queue_bytes") << QStringLiteral("--total-queue-bytes")
                                           << qint64(0) << true;
}

void tst_ConfigLoader::flagBounds()
{
    QFETCH(QString, key);
    QFETCH(QString, flag);
    QFETCH(qint64, value);
    QFETCH(bool, accepted);

    QCommandLineParser parser;
    QVERIFY(parse(parser, {flag + QLatin1Char('=') + QString::number(value)}));
    const ConfigLoader::Result result = ConfigLoader::applyFlags(parser, roomyBase());
    QCOMPARE(result.ok(), accepted);
    if (accepted) {
        QCOMPARE(field(result.config, key), QVariant(value));
    } else {
        QCOMPARE(result.errors.size(), 1);
        QVERIFY2(result.errors.first().startsWith(flag + QStringLiteral(": ") + QString::number(value)),
                 qPrintable(result.errors.first()));
    }
}

void tst_ConfigLoader::missingConfigFile()
{
    const QString path = m_dir.filePath(QStringLiteral("does-not-exist.ini"));
    const QString error = QStringLiteral("config file \"") + path + QStringLiteral("\": no such file");

    QCOMPARE(ConfigLoader::loadFile(path).errors, QStringList{error});

    QCommandLineParser parser;
    QVERIFY(parse(parser, {QStringLiteral("--config"), path, QStringLiteral("--max-clients=x")}));
    // The flags are still checked: one run shows every problem.
    QCOMPARE(ConfigLoader::load(parser).errors,
             (QStringList{error, QStringLiteral("--max-clients: \"x\" is not a whole number")}));

    QCommandLineParser emptyName;
    QVERIFY(parse(emptyName, {QStringLiteral("--config=")}));
    QCOMPARE(ConfigLoader::load(emptyName).errors, QStringList{QStringLiteral("--config: no file name given")});
}

void tst_ConfigLoader::configIsDirectory()
{
    QCOMPARE(ConfigLoader::loadFile(m_dir.path()).errors,
             QStringList{QStringLiteral("config file \"") + m_dir.path() + QStringLiteral("\": is a directory")});
}

void tst_ConfigLoader::unreadableConfigFile()
{
    if (::geteuid() == 0)
        QSKIP("root reads files whatever their mode");
    const QString path = writeIni("[limits]\nmax_clients = 5\n");
    QVERIFY(QFile::setPermissions(path, QFileDevice::Permissions()));
    const ConfigLoader::Result result = ConfigLoader::loadFile(path);
    QCOMPARE(result.errors.size(), 1);
    QVERIFY2(result.errors.first().startsWith(QStringLiteral("config file \"") + path + QStringLiteral("\": cannot read: ")),
             qPrintable(result.errors.first()));
    QCOMPARE(result.config.maxClients, BrokerConfig().maxClients);
}

void tst_ConfigLoader::exampleFileIsDefaults()
{
    const ConfigLoader::Result result = ConfigLoader::loadFile(QStringLiteral(KENNEL_EXAMPLE_INI));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    const BrokerConfig defaults;
    for (const char *name : allFields)
        QCOMPARE(field(result.config, QLatin1String(name)), field(defaults, QLatin1String(name)));
}

// The example comments out each key as ";key = value" (prose comments have a space after ';').
// Uncommented, it must load, name every key, and still give the defaults: the example cannot
// drift from the code unnoticed.
void tst_ConfigLoader::exampleFileUncommented()
{
    QFile example(QStringLiteral(KENNEL_EXAMPLE_INI));
    QVERIFY(example.open(QIODevice::ReadOnly));
    QString text = QString::fromUtf8(example.readAll());
    text.replace(QRegularExpression(QStringLiteral("^;([a-z_]+ =( |$))"), QRegularExpression::MultilineOption),
                 QStringLiteral("\\1"));
    const QString path = writeIni(text.toUtf8());

    const QSettings settings(path, QSettings::IniFormat);
    QStringList keys = settings.allKeys();
    keys.sort();
    QCOMPARE(keys, (QStringList{QStringLiteral("broker/listen"), QStringLiteral("hold/enabled"),
                                QStringLiteral("hold/lost_window_ms"), QStringLiteral("hold/max_bytes"),
                                QStringLiteral("hold/max_count"), QStringLiteral("hold/names"),
                                QStringLiteral("hold/total_bytes"), QStringLiteral("hold/ttl_ms"),
                                QStringLiteral("limits/idle_timeout_ms"),
                                QStringLiteral("limits/incomplete_frame_timeout_ms"), QStringLiteral("limits/max_clients"),
                                QStringLiteral("limits/max_frame_size"), QStringLiteral("limits/max_name_length"),
                                QStringLiteral("limits/max_queue_bytes"), QStringLiteral("limits/register_timeout_ms"),
                                QStringLiteral("limits/shutdown_timeout_ms"),
                                QStringLiteral("limits/total_incomplete_frame_bytes"),
                                QStringLiteral("limits/total_queue_bytes"), QStringLiteral("log/peer_lines_per_second"),
                                QStringLiteral("log/traffic"),
                                QStringLiteral("monitor/admission_timeout_ms"),
                                QStringLiteral("monitor/allow_local_peers"), QStringLiteral("monitor/certificate"),
                                QStringLiteral("monitor/failure_delay_max_ms"), QStringLiteral("monitor/failure_delay_ms"),
                                QStringLiteral("monitor/handshake_timeout_ms"), QStringLiteral("monitor/listen"),
                                QStringLiteral("monitor/max_monitors"), QStringLiteral("monitor/max_queue_bytes"),
                                QStringLiteral("monitor/max_token_guesses_per_second"),
                                QStringLiteral("monitor/max_traffic_per_second"),
                                QStringLiteral("monitor/max_waiting_per_address"),
                                QStringLiteral("monitor/max_waiting_per_prefix"), QStringLiteral("monitor/operator_uids"),
                                QStringLiteral("monitor/private_key"), QStringLiteral("monitor/proven_address_ttl_ms"),
                                QStringLiteral("monitor/read_only_token"), QStringLiteral("monitor/read_only_token_file"),
                                QStringLiteral("monitor/read_only_uids"), QStringLiteral("monitor/tls"), QStringLiteral("monitor/token"),
                                QStringLiteral("monitor/token_file"), QStringLiteral("monitor/total_queue_bytes"),
                                QStringLiteral("monitor/totals_interval_ms"),
                                QStringLiteral("monitor/traffic_preview_bytes"), QStringLiteral("supervisor/cgroup"),
                                QStringLiteral("supervisor/output_bytes"), QStringLiteral("supervisor/output_lines"),
                                QStringLiteral("topics/enabled"), QStringLiteral("topics/max_levels"),
                                QStringLiteral("topics/max_subscriptions"), QStringLiteral("topics/max_topic_length"),
                                QStringLiteral("topics/publish_names"), QStringLiteral("topics/retained_bytes"),
                                QStringLiteral("topics/retained_count"), QStringLiteral("topics/subscribe"),
                                QStringLiteral("watchdog/action"), QStringLiteral("watchdog/client_actions"),
                                QStringLiteral("watchdog/default_allowed_misses"),
                                QStringLiteral("watchdog/default_interval_ms"), QStringLiteral("watchdog/history_names"),
                                QStringLiteral("watchdog/kill_grace_ms"),
                                QStringLiteral("watchdog/max_allowed_misses"), QStringLiteral("watchdog/max_interval_ms"),
                                QStringLiteral("watchdog/min_interval_ms"), QStringLiteral("watchdog/register_grace_ms")}));

    const ConfigLoader::Result result = ConfigLoader::loadFile(path);
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    QCOMPARE(field(result.config, QStringLiteral("listen")),
             QVariant(QStringList{QStringLiteral("127.0.0.1:8000"), QStringLiteral("unix:/run/kennel/broker.sock")}));
    const BrokerConfig defaults;
    for (const char *name : allFields) {
        if (qstrcmp(name, "listen") == 0)
            continue;
        QCOMPARE(field(result.config, QLatin1String(name)), field(defaults, QLatin1String(name)));
    }
}

void tst_ConfigLoader::validateInCodeConfig_data()
{
    QTest::addColumn<int>("which");
    QTest::addColumn<QStringList>("errors");

    QTest::newRow("defaults") << 0 << QStringList();
    QTest::newRow("zero-clients") << 1 << QStringList{QStringLiteral("limits/max_clients: 0 is below the minimum 1")};
    QTest::newRow("queue-below-frame") << 2 << QStringList{QStringLiteral(
                                                  "limits/max_queue_bytes: 1024 is below limits/max_frame_size 1048576; "
                                                  "a connection's queue must hold at least one frame")};
    QTest::newRow("bad-listen") << 3 << QStringList{QStringLiteral("broker/listen: \"unix:\": empty Unix socket path"),
                                                    QStringLiteral("broker/listen: \":0\": missing host; use * to listen on every address")};
    QTest::newRow("duplicate-listen") << 4 << QStringList{QStringLiteral("broker/listen: \"127.0.0.1:8000\" is listed twice")};
    QTest::newRow("timeouts") << 5 << QStringList{QStringLiteral("limits/register_timeout_ms: 99 is below the minimum 100"),
                                                  QStringLiteral("limits/shutdown_timeout_ms: 600001 is above the maximum 600000")};
    QTest::newRow("watchdog") << 6 << QStringList{QStringLiteral("watchdog/kill_grace_ms: -1 is below the minimum 0"),
                                                  QStringLiteral("watchdog/history_names: 15 is below the minimum 16"),
                                                  QStringLiteral("watchdog/default_interval_ms: 50 is below watchdog/min_interval_ms 100")};
    QTest::newRow("rules") << 7 << QStringList{QStringLiteral("watchdog.actions/a b: \"a b\" is not a client name pattern "
                                                              "(1..128 characters of A-Z a-z 0-9 . _ - and the wildcards * and ?)"),
                                               QStringLiteral("watchdog.actions/x: never used: the earlier rule \"**\" matches every name")};
    QTest::newRow("service") << 8 << QStringList{QStringLiteral("service.s/program: \"prog\" is not an absolute path"),
                                                 QStringLiteral("service.s/working_directory: \"/nonexistent/kennel\": no such directory"),
                                                 QStringLiteral("service.s/environment: \"X\" is not NAME=VALUE (NAME: letters, "
                                                                "digits and _, not starting with a digit)"),
                                                 QStringLiteral("service.s/restart_delay_ms: 20 is below the minimum 100"),
                                                 QStringLiteral("service.s/restart_delay_max_ms: 10 is below the minimum 100"),
                                                 QStringLiteral("service.s/stop_signal: 0 is not a signal number (1..")
                                                     + QString::number(SIGRTMAX) + QLatin1Char(')')};
    QTest::newRow("service-names") << 9 << QStringList{QStringLiteral("[service.s]: declared twice"),
                                                       QStringLiteral("[service.bad name]: \"bad name\" is not a valid service "
                                                                      "name (1..64 characters of A-Z a-z 0-9 . _ -)")};
}

void tst_ConfigLoader::validateInCodeConfig()
{
    QFETCH(int, which);
    QFETCH(QStringList, errors);

    BrokerConfig config;
    switch (which) {
    case 1:
        config.maxClients = 0;
        break;
    case 2:
        config.maxOutputQueueBytes = 1024;
        break;
    case 3: {
        ListenAddress unix;
        unix.kind = ListenAddress::Kind::Unix;
        config.listen = {unix, ListenAddress()};
        break;
    }
    case 4:
        config.listen = {BrokerConfig::defaultTcpAddress(), BrokerConfig::defaultTcpAddress()};
        break;
    case 5:
        config.registerTimeout = std::chrono::milliseconds(99);
        config.shutdownFlushTimeout = std::chrono::milliseconds(600001);
        break;
    case 6:
        config.watchdog.defaultInterval = std::chrono::milliseconds(50);
        config.watchdog.killGrace = std::chrono::milliseconds(-1);
        config.watchdog.historyNames = 15;
        break;
    case 7:
        config.watchdog.actionRules = {{QStringLiteral("a b"), WatchdogAction::Kill},
                                       {QStringLiteral("**"), WatchdogAction::Notify},
                                       {QStringLiteral("x"), WatchdogAction::Kill}};
        break;
    case 8: {
        ServiceSettings service;
        service.name = QStringLiteral("s");
        service.program = QStringLiteral("prog");
        service.workingDirectory = QStringLiteral("/nonexistent/kennel");
        service.environment = {QStringLiteral("X")};
        service.restartDelay = std::chrono::milliseconds(20);
        service.restartDelayMax = std::chrono::milliseconds(10);
        service.stopSignal = 0;
        config.services = {service};
        break;
    }
    case 9: {
        ServiceSettings service;
        service.name = QStringLiteral("s");
        service.program = QStringLiteral("/bin/sh");
        ServiceSettings bad = service;
        bad.name = QStringLiteral("bad name");
        config.services = {service, service, bad};
        break;
    }
    default:
        break;
    }
    QCOMPARE(ConfigLoader::validate(config), errors);
}

void tst_ConfigLoader::checkConfigFlag()
{
    QCommandLineParser without;
    QVERIFY(parse(without, {}));
    QVERIFY(!ConfigLoader::checkConfigRequested(without));

    QCommandLineParser with;
    QVERIFY(parse(with, {QStringLiteral("--check-config")}));
    QVERIFY(ConfigLoader::checkConfigRequested(with));
    QVERIFY(ConfigLoader::load(with).ok());
}

void tst_ConfigLoader::watchdogKeys_data()
{
    QTest::addColumn<QByteArray>("ini");
    QTest::addColumn<QString>("field");
    QTest::addColumn<QVariant>("expected");

    QTest::newRow("default_interval_ms") << QByteArray("[watchdog]\ndefault_interval_ms = 100\n")
                                         << QStringLiteral("default_interval_ms") << QVariant(qint64(100));
    QTest::newRow("default_allowed_misses") << QByteArray("[watchdog]\ndefault_allowed_misses = 1\n")
                                            << QStringLiteral("default_allowed_misses") << QVariant(qint64(1));
    QTest::newRow("min_interval_ms") << QByteArray("[watchdog]\nmin_interval_ms = 1\n")
                                     << QStringLiteral("min_interval_ms") << QVariant(qint64(1));
    QTest::newRow("max_interval_ms") << QByteArray("[watchdog]\nmax_interval_ms = 86400000\n")
                                     << QStringLiteral("max_interval_ms") << QVariant(qint64(86400000));
    QTest::newRow("max_interval_ms-equals-default") << QByteArray("[watchdog]\nmax_interval_ms = 3000\n")
                                                    << QStringLiteral("max_interval_ms") << QVariant(qint64(3000));
    QTest::newRow("max_allowed_misses") << QByteArray("[watchdog]\nmax_allowed_misses = 3\n")
                                        << QStringLiteral("max_allowed_misses") << QVariant(qint64(3));
    QTest::newRow("register_grace_ms") << QByteArray("[watchdog]\nregister_grace_ms = 250\n")
                                       << QStringLiteral("register_grace_ms") << QVariant(qint64(250));
    QTest::newRow("kill_grace_ms") << QByteArray("[watchdog]\nkill_grace_ms = 0\n") << QStringLiteral("kill_grace_ms")
                                   << QVariant(qint64(0));
    // Both bounds are accepted; badWatchdogValues refuses one past each.
    QTest::newRow("history_names-min") << QByteArray("[watchdog]\nhistory_names = 16\n") << QStringLiteral("history_names")
                                       << QVariant(qint64(16));
    QTest::newRow("history_names-max") << QByteArray("[watchdog]\nhistory_names = 1048576\n")
                                       << QStringLiteral("history_names") << QVariant(qint64(1048576));
    for (const char *action : {"terminate", "kill", "disconnect", "notify"}) {
        QTest::addRow("action-%s", action) << QByteArray("[watchdog]\naction = ") + action + '\n'
                                           << QStringLiteral("action") << QVariant(QString::fromLatin1(action));
    }
    QTest::newRow("client_actions-list") << QByteArray("[watchdog]\nclient_actions = notify , kill\n")
                                         << QStringLiteral("client_actions")
                                         << QVariant(QStringList{QStringLiteral("notify"), QStringLiteral("kill")});
    QTest::newRow("client_actions-one") << QByteArray("[watchdog]\nclient_actions = disconnect\n")
                                        << QStringLiteral("client_actions") << QVariant(QStringList{QStringLiteral("disconnect")});
    QTest::newRow("client_actions-none") << QByteArray("[watchdog]\nclient_actions = none\n")
                                         << QStringLiteral("client_actions") << QVariant(QStringList());
    QTest::newRow("rules-empty-group") << QByteArray("[watchdog.actions]\n") << QStringLiteral("rules")
                                       << QVariant(QStringList());
    QTest::newRow("rules") << QByteArray("[watchdog.actions]\nsensor-* = kill\nui.? = notify ; why\n")
                           << QStringLiteral("rules")
                           << QVariant(QStringList{QStringLiteral("sensor-*=kill"), QStringLiteral("ui.?=notify")});
}

void tst_ConfigLoader::watchdogKeys()
{
    QFETCH(QByteArray, ini);
    QFETCH(QString, field);
    QFETCH(QVariant, expected);

    const ConfigLoader::Result result = ConfigLoader::loadFile(writeIni(ini));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    QCOMPARE(::field(result.config, field), expected);
    QVERIFY(ConfigLoader::validate(result.config).isEmpty());
}

void tst_ConfigLoader::badWatchdogValues_data()
{
    QTest::addColumn<QByteArray>("ini");
    QTest::addColumn<QStringList>("errors");

    const auto one = [](const char *text) { return QStringList{QString::fromUtf8(text)}; };
    QTest::newRow("interval-zero") << QByteArray("[watchdog]\ndefault_interval_ms = 0\n")
                                   << one("watchdog/default_interval_ms: 0 is below the minimum 1");
    QTest::newRow("interval-garbage") << QByteArray("[watchdog]\ndefault_interval_ms = 5s\n")
                                      << one("watchdog/default_interval_ms: \"5s\" is not a whole number");
    QTest::newRow("interval-below-min") << QByteArray("[watchdog]\ndefault_interval_ms = 50\n")
                                        << one("watchdog/default_interval_ms: 50 is below watchdog/min_interval_ms 100");
    QTest::newRow("interval-above-max") << QByteArray("[watchdog]\ndefault_interval_ms = 4000000\n")
                                        << one("watchdog/max_interval_ms: 3600000 is below watchdog/default_interval_ms 4000000");
    QTest::newRow("max-below-min") << QByteArray("[watchdog]\nmin_interval_ms = 5000\nmax_interval_ms = 1000\n")
                                   << one("watchdog/max_interval_ms: 1000 is below watchdog/min_interval_ms 5000");
    QTest::newRow("max-interval-day") << QByteArray("[watchdog]\nmax_interval_ms = 86400001\n")
                                      << one("watchdog/max_interval_ms: 86400001 is above the maximum 86400000");
    QTest::newRow("min-interval-zero") << QByteArray("[watchdog]\nmin_interval_ms = 0\n")
                                       << one("watchdog/min_interval_ms: 0 is below the minimum 1");
    QTest::newRow("misses-zero") << QByteArray("[watchdog]\ndefault_allowed_misses = 0\n")
                                 << one("watchdog/default_allowed_misses: 0 is below the minimum 1");
    QTest::newRow("misses-above-max") << QByteArray("[watchdog]\nmax_allowed_misses = 2\n")
                                      << one("watchdog/max_allowed_misses: 2 is below watchdog/default_allowed_misses 3");
    QTest::newRow("max-misses-big") << QByteArray("[watchdog]\nmax_allowed_misses = 100001\n")
                                    << one("watchdog/max_allowed_misses: 100001 is above the maximum 100000");
    QTest::newRow("grace-negative") << QByteArray("[watchdog]\nregister_grace_ms = -1\n")
                                    << one("watchdog/register_grace_ms: -1 is below the minimum 0");
    QTest::newRow("kill-grace-big") << QByteArray("[watchdog]\nkill_grace_ms = 3600001\n")
                                    << one("watchdog/kill_grace_ms: 3600001 is above the maximum 3600000");
    QTest::newRow("history-names-small") << QByteArray("[watchdog]\nhistory_names = 15\n")
                                         << one("watchdog/history_names: 15 is below the minimum 16");
    QTest::newRow("history-names-big") << QByteArray("[watchdog]\nhistory_names = 1048577\n")
                                       << one("watchdog/history_names: 1048577 is above the maximum 1048576");
    QTest::newRow("history-names-size") << QByteArray("[watchdog]\nhistory_names = 64k\n")
                                        << one("watchdog/history_names: \"64k\" is not a whole number");
    QTest::newRow("action-unknown") << QByteArray("[watchdog]\naction = explode\n")
                                    << QStringList{QStringLiteral("watchdog/action: \"explode\"") + NotAnAction};
    QTest::newRow("action-case") << QByteArray("[watchdog]\naction = Kill\n")
                                 << QStringList{QStringLiteral("watchdog/action: \"Kill\"") + NotAnAction};
    QTest::newRow("action-list") << QByteArray("[watchdog]\naction = kill, notify\n")
                                 << one("watchdog/action: \"kill, notify\" is a list; expected a single value (no commas)");
    QTest::newRow("client-actions-unknown") << QByteArray("[watchdog]\nclient_actions = kill, bogus\n")
                                            << QStringList{QStringLiteral("watchdog/client_actions: \"bogus\"") + NotAnAction};
    QTest::newRow("client-actions-twice") << QByteArray("[watchdog]\nclient_actions = kill, notify, kill\n")
                                          << one("watchdog/client_actions: \"kill\" is listed twice");
    QTest::newRow("client-actions-none-and") << QByteArray("[watchdog]\nclient_actions = none, kill\n")
                                             << one("watchdog/client_actions: \"none\" cannot be combined with actions");
    QTest::newRow("client-actions-empty") << QByteArray("[watchdog]\nclient_actions =\n")
                                          << one("watchdog/client_actions: no action given; write \"none\" if clients may not choose");
    QTest::newRow("unknown-key") << QByteArray("[watchdog]\ninterval_ms = 5\n")
                                 << one("watchdog/interval_ms: unknown key (keys in [watchdog]: default_interval_ms, "
                                        "default_allowed_misses, min_interval_ms, max_interval_ms, max_allowed_misses, "
                                        "register_grace_ms, kill_grace_ms, history_names, action, client_actions)");
    QTest::newRow("rule-bad-pattern") << QByteArray("[watchdog.actions]\nsensor+ = kill\n")
                                      << one("watchdog.actions/sensor+: \"sensor+\" is not a client name pattern (1..128 "
                                             "characters of A-Z a-z 0-9 . _ - and the wildcards * and ?)");
    QTest::newRow("rule-bad-action") << QByteArray("[watchdog.actions]\nsensor-* = explode\n")
                                     << QStringList{QStringLiteral("watchdog.actions/sensor-*: \"explode\"") + NotAnAction};
    QTest::newRow("rule-after-catch-all") << QByteArray("[watchdog.actions]\n* = notify\nsensor-* = kill\n")
                                          << one("watchdog.actions/sensor-*: never used: the earlier rule \"*\" matches every name");
    QTest::newRow("rule-twice") << QByteArray("[watchdog.actions]\na* = kill\nb* = kill\na* = notify\n")
                                << QStringList{QStringLiteral("4: watchdog.actions/a* is set again (first on line 2); give each key once")};
}

void tst_ConfigLoader::badWatchdogValues()
{
    QFETCH(QByteArray, ini);
    QFETCH(QStringList, errors);

    const QString path = writeIni(ini);
    const ConfigLoader::Result result = ConfigLoader::loadFile(path);
    QStringList actual = result.errors;
    // Line errors carry the path; the rows do not.
    for (QString &error : actual) {
        if (error.startsWith(path + QLatin1Char(':')))
            error.remove(0, path.size() + 1);
    }
    QCOMPARE(actual, errors);
    // A rejected value (or rule list) leaves the default in place.
    const BrokerConfig defaults;
    for (const char *name : {"default_interval_ms", "default_allowed_misses", "max_allowed_misses", "register_grace_ms",
                             "kill_grace_ms", "history_names", "action", "client_actions"}) {
        if (!ini.contains(QByteArray(name)))
            QCOMPARE(field(result.config, QLatin1String(name)), field(defaults, QLatin1String(name)));
    }
    // A rule list with a bad rule is not taken at all (a duplicate key is a line error only).
    if (!errors.first().contains(QLatin1String("set again")))
        QCOMPARE(field(result.config, QStringLiteral("rules")), QVariant(QStringList()));
}

void tst_ConfigLoader::watchdogFlags_data()
{
    QTest::addColumn<QByteArray>("ini");
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QStringList>("errors");
    QTest::addColumn<qint64>("interval");
    QTest::addColumn<qint64>("misses");
    QTest::addColumn<qint64>("killGrace");

    QTest::newRow("flags") << QByteArray() << QStringList{QStringLiteral("--watchdog-interval=500"),
                                                          QStringLiteral("--watchdog-misses=7"),
                                                          QStringLiteral("--watchdog-kill-grace=0")}
                           << QStringList() << qint64(500) << qint64(7) << qint64(0);
    QTest::newRow("flag-over-file") << QByteArray("[watchdog]\ndefault_interval_ms = 2000\nkill_grace_ms = 10\n")
                                    << QStringList{QStringLiteral("--watchdog-interval=1000")} << QStringList()
                                    << qint64(1000) << qint64(3) << qint64(10);
    // The ordering check runs on the outcome: a flag can mend the file, or break it.
    QTest::newRow("flag-mends-file") << QByteArray("[watchdog]\nmin_interval_ms = 5000\n")
                                     << QStringList{QStringLiteral("--watchdog-interval=5000")} << QStringList()
                                     << qint64(5000) << qint64(3) << qint64(3000);
    QTest::newRow("flag-below-min") << QByteArray() << QStringList{QStringLiteral("--watchdog-interval=50")}
                                    << QStringList{QStringLiteral("watchdog/default_interval_ms: 50 is below watchdog/min_interval_ms 100")}
                                    << qint64(50) << qint64(3) << qint64(3000);
    QTest::newRow("flag-garbage") << QByteArray() << QStringList{QStringLiteral("--watchdog-misses=many")}
                                  << QStringList{QStringLiteral("--watchdog-misses: \"many\" is not a whole number")}
                                  << qint64(3000) << qint64(3) << qint64(3000);
    QTest::newRow("flag-range") << QByteArray() << QStringList{QStringLiteral("--watchdog-kill-grace=3600001")}
                                << QStringList{QStringLiteral("--watchdog-kill-grace: 3600001 is above the maximum 3600000")}
                                << qint64(3000) << qint64(3) << qint64(3000);
}

void tst_ConfigLoader::watchdogFlags()
{
    QFETCH(QByteArray, ini);
    QFETCH(QStringList, arguments);
    QFETCH(QStringList, errors);
    QFETCH(qint64, interval);
    QFETCH(qint64, misses);
    QFETCH(qint64, killGrace);

    QStringList all = arguments;
    if (!ini.isEmpty())
        all << QStringLiteral("--config") << writeIni(ini);
    QCommandLineParser parser;
    QVERIFY(parse(parser, all));
    const ConfigLoader::Result result = ConfigLoader::load(parser);
    QCOMPARE(result.errors, errors);
    QCOMPARE(qint64(result.config.watchdog.defaultInterval.count()), interval);
    QCOMPARE(qint64(result.config.watchdog.defaultAllowedMisses), misses);
    QCOMPARE(qint64(result.config.watchdog.killGrace.count()), killGrace);
}

// QSettings hands keys back sorted; the rules must come in the order they were written.
void tst_ConfigLoader::actionRulesKeepFileOrder()
{
    const ConfigLoader::Result result = ConfigLoader::loadFile(writeIni("[watchdog]\naction = notify\n"
                                                                        "[watchdog.actions]\n"
                                                                        "zeta-* = kill\n"
                                                                        "alpha-? = disconnect\n"
                                                                        "*-ui = terminate\n"
                                                                        "a* = kill\n"));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    const WatchdogSettings &w = result.config.watchdog;
    QCOMPARE(field(result.config, QStringLiteral("rules")),
             QVariant(QStringList{QStringLiteral("zeta-*=kill"), QStringLiteral("alpha-?=disconnect"),
                                  QStringLiteral("*-ui=terminate"), QStringLiteral("a*=kill")}));
    QCOMPARE(w.actionFor("zeta-1"), WatchdogAction::Kill);
    QCOMPARE(w.actionFor("zeta-ui"), WatchdogAction::Kill);           // rule 1 before rule 3
    QCOMPARE(w.actionFor("alpha-1"), WatchdogAction::Disconnect);
    QCOMPARE(w.actionFor("alpha-ui"), WatchdogAction::Terminate);     // not alpha-? (two characters); rule 3 before a*
    QCOMPARE(w.actionFor("alpha-123"), WatchdogAction::Kill);
    QCOMPARE(w.actionFor("beta"), WatchdogAction::Notify);            // no rule: [watchdog] action
    QCOMPARE(w.actionFor(""), WatchdogAction::Notify);

    // A rule set built in code behaves the same.
    WatchdogSettings code;
    code.actionRules = {{QStringLiteral("s*"), WatchdogAction::Disconnect}, {QStringLiteral("*"), WatchdogAction::Kill}};
    QCOMPARE(code.actionFor("sensor"), WatchdogAction::Disconnect);
    QCOMPARE(code.actionFor("ui"), WatchdogAction::Kill);
    code.actionRules.clear();
    QCOMPARE(code.actionFor("ui"), WatchdogAction::Terminate);
}

void tst_ConfigLoader::actionNames()
{
    for (WatchdogAction action : {WatchdogAction::Terminate, WatchdogAction::Kill, WatchdogAction::Disconnect,
                                  WatchdogAction::Notify}) {
        QCOMPARE(parseWatchdogAction(QString::fromLatin1(watchdogActionName(action))), std::optional<WatchdogAction>(action));
    }
    QCOMPARE(QByteArray(watchdogActionName(WatchdogAction::Terminate)), QByteArray("terminate"));
    QCOMPARE(QByteArray(watchdogActionName(WatchdogAction::Kill)), QByteArray("kill"));
    QCOMPARE(QByteArray(watchdogActionName(WatchdogAction::Disconnect)), QByteArray("disconnect"));
    QCOMPARE(QByteArray(watchdogActionName(WatchdogAction::Notify)), QByteArray("notify"));
    QVERIFY(!parseWatchdogAction(u"KILL"));
    QVERIFY(!parseWatchdogAction(u""));
    QVERIFY(!parseWatchdogAction(u"none"));
}

void tst_ConfigLoader::patternMatching_data()
{
    QTest::addColumn<QString>("pattern");
    QTest::addColumn<QByteArray>("name");
    QTest::addColumn<bool>("matches");

    const auto row = [](const char *pattern, const char *name, bool matches) {
        QTest::addRow("%s~%s", pattern, name) << QString::fromLatin1(pattern) << QByteArray(name) << matches;
    };
    row("*", "x", true);
    row("*", "", true);
    row("**", "abc", true);
    row("abc", "abc", true);
    row("abc", "abcd", false);
    row("abc", "ab", false);
    row("abc", "ABC", false); // names are case-sensitive
    row("a*", "a", true);
    row("a*", "ba", false);
    row("*a", "ba", true);
    row("*a", "ab", false);
    row("a?c", "abc", true);
    row("a?c", "ac", false);
    row("a?c", "abbc", false);
    row("?", "", false);
    row("a*b*c", "axxbyyc", true);
    row("a*b*c", "axxbyy", false);
    row("a*a", "aaa", true);
    row("a*a", "a", false);
    row("*.*", "a.b", true);
    row("*.*", "ab", false);
    row("sensor-*", "sensor-", true);
    row("sensor-*", "sensor", false);
    row("*x*y", "axbxyzy", true);
    row("", "", false); // an empty pattern matches nothing
}

void tst_ConfigLoader::patternMatching()
{
    QFETCH(QString, pattern);
    QFETCH(QByteArray, name);
    QFETCH(bool, matches);

    WatchdogActionRule rule{pattern, WatchdogAction::Kill};
    QCOMPARE(rule.matches(name), matches);
    QCOMPARE(WatchdogActionRule::isValidPattern(pattern), !pattern.isEmpty());
}

void tst_ConfigLoader::serviceDefaults()
{
    const ConfigLoader::Result result = ConfigLoader::loadFile(writeIni("[service.svc]\nprogram = /bin/sh\n"));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    QCOMPARE(result.config.services.size(), 1);
    ServiceSettings expected;
    expected.name = QStringLiteral("svc");
    expected.program = QStringLiteral("/bin/sh");
    QCOMPARE(describe(result.config.services.first()), describe(expected));
    QCOMPARE(expected.restart, ServiceSettings::Restart::OnFailure);
    QCOMPARE(expected.restartDelay.count(), 1000);
    QCOMPARE(expected.restartDelayMax.count(), 30000);
    QCOMPARE(expected.startLimit, 5);
    QCOMPARE(expected.startLimitWindow.count(), 60000);
    QCOMPARE(expected.stopSignal, int(SIGTERM));
    QCOMPARE(expected.stopTimeout.count(), 5000);
    QVERIFY(ConfigLoader::validate(result.config).isEmpty());
}

void tst_ConfigLoader::serviceAllKeys()
{
    const ConfigLoader::Result result = ConfigLoader::loadFile(writeIni(
        "[service.my-svc_1.x]\n"
        "program = prog.sh\n"                   // relative to the file's folder
        "arguments = -c, \"echo \\\"hi\\\"; exit 3\", two words, \"a, b\", \"  padded  \", \"\"\n"
        "working_directory = sub\n"
        "environment = A=1, B=x=y, C=\n"
        "restart = always\n"
        "restart_delay_ms = 100\n"
        "restart_delay_max_ms = 200\n"
        "start_limit = 7\n"
        "start_limit_window_ms = 5000\n"
        "stop_signal = INT\n"
        "stop_timeout_ms = 0\n"
        "monitor = yes\n"));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    QCOMPARE(result.config.services.size(), 1);
    const ServiceSettings &s = result.config.services.first();
    QCOMPARE(s.name, QStringLiteral("my-svc_1.x"));
    QCOMPARE(s.program, m_dir.filePath(QStringLiteral("prog.sh")));
    // Quotes keep commas, semicolons and blanks; unquoted items keep inner blanks.
    QCOMPARE(s.arguments, (QStringList{QStringLiteral("-c"), QStringLiteral("echo \"hi\"; exit 3"),
                                       QStringLiteral("two words"), QStringLiteral("a, b"),
                                       QStringLiteral("  padded  "), QString()}));
    QCOMPARE(s.workingDirectory, m_dir.filePath(QStringLiteral("sub")));
    QCOMPARE(s.environment, (QStringList{QStringLiteral("A=1"), QStringLiteral("B=x=y"), QStringLiteral("C=")}));
    QCOMPARE(s.restart, ServiceSettings::Restart::Always);
    QCOMPARE(s.restartDelay.count(), 100);
    QCOMPARE(s.restartDelayMax.count(), 200);
    QCOMPARE(s.startLimit, 7);
    QCOMPARE(s.startLimitWindow.count(), 5000);
    QVERIFY(s.monitor);
    QCOMPARE(s.stopSignal, int(SIGINT));
    QCOMPARE(s.stopTimeout.count(), 0);
    QVERIFY(ConfigLoader::validate(result.config).isEmpty());

    // Single values and empty lists.
    const ConfigLoader::Result single = ConfigLoader::loadFile(writeIni("[service.a]\nprogram = prog.sh\narguments = -v\n"
                                                                        "environment =\nworking_directory =\n"
                                                                        "restart = never\nstop_signal = 10\n"));
    QVERIFY2(single.ok(), qPrintable(single.errors.join(QLatin1Char('\n'))));
    QCOMPARE(single.config.services.first().arguments, QStringList{QStringLiteral("-v")});
    QVERIFY(single.config.services.first().environment.isEmpty());
    QVERIFY(single.config.services.first().workingDirectory.isEmpty());
    QCOMPARE(single.config.services.first().restart, ServiceSettings::Restart::Never);
    QCOMPARE(single.config.services.first().stopSignal, 10);
}

// [service.NAME] names: the names only its processes may register (docs/SECURITY.md).
void tst_ConfigLoader::serviceReservedNames()
{
    const ConfigLoader::Result result = ConfigLoader::loadFile(writeIni("[service.a]\nprogram = prog.sh\n"
                                                                        "names = a, a.cfg\n"
                                                                        "[service.b]\nprogram = prog.sh\nname = b-client\n"
                                                                        "[service.c]\nprogram = prog.sh\nnames =\n"));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    const QList<ServiceSettings> &s = result.config.services;
    QCOMPARE(s.at(0).namesReserved(), (QStringList{QStringLiteral("a"), QStringLiteral("a.cfg")}));
    QVERIFY(!s.at(1).reservedNames);
    QCOMPARE(s.at(1).namesReserved(), QStringList{QStringLiteral("b-client")}); // default: the name it registers
    QVERIFY(s.at(2).reservedNames);
    QVERIFY(s.at(2).namesReserved().isEmpty()); // empty: none
    QVERIFY(ConfigLoader::validate(result.config).isEmpty());

    const ConfigLoader::Result bad = ConfigLoader::loadFile(writeIni("[service.a]\nprogram = prog.sh\nnames = ok, \"a b\"\n"
                                                                     "[service.b]\nprogram = prog.sh\nnames = ok\n"));
    // A service with an error is left out, so its names clash with nobody's.
    QCOMPARE(bad.errors, QStringList{QStringLiteral("service.a/names: \"a b\" is not a client name (1..64 characters of A-Z a-z 0-9 . _ -)")});
    // A service's default (its own name) counts too.
    const ConfigLoader::Result clash = ConfigLoader::loadFile(writeIni("[service.a]\nprogram = prog.sh\n"
                                                                       "[service.b]\nprogram = prog.sh\nnames = b, a\n"));
    QCOMPARE(clash.errors, QStringList{QStringLiteral("service.b/names: \"a\" is reserved for [service.a] already")});
}

// [policy]: rules in file order (not QSettings' sorted one), `default`, and the errors.
void tst_ConfigLoader::policyRules()
{
    const ConfigLoader::Result result = ConfigLoader::loadFile(writeIni("[policy]\nzz_first = deny own a-*\n"
                                                                        "aa_second = allow own * uid=0\ndefault = deny\n"));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    QCOMPARE(result.config.policy.rules.size(), 2);
    QCOMPARE(result.config.policy.rules.at(0).first, QStringLiteral("zz_first"));
    QCOMPARE(result.config.policy.rules.at(1).second, QStringLiteral("allow own * uid=0"));
    QVERIFY(!result.config.policy.defaultAllow);
    QVERIFY(BrokerConfig().policy.rules.isEmpty());
    QVERIFY(BrokerConfig().policy.defaultAllow);

    const ConfigLoader::Result bad = ConfigLoader::loadFile(writeIni("[policy]\nr = allow own a b=c\ndefault = maybe\n"));
    QCOMPARE(bad.errors, (QStringList{QStringLiteral("policy/default: \"maybe\" is not allow or deny"),
                                      QStringLiteral("policy/r: \"b=c\" is not a condition (uid=N, gid=N, program=/PATH, service=NAME, remote, local)")}));
}

void tst_ConfigLoader::servicesInFileOrder()
{
    const ConfigLoader::Result result = ConfigLoader::loadFile(writeIni("[service.zeta]\nprogram = prog.sh\n"
                                                                        "[limits]\nmax_clients = 5\n"
                                                                        "[service.alpha]\nprogram = prog.sh\n"
                                                                        "[service.mid]\nprogram = prog.sh\n"
                                                                        "[service.zeta]\nrestart = never\n"));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    QCOMPARE(field(result.config, QStringLiteral("services")),
             QVariant(QStringList{QStringLiteral("zeta"), QStringLiteral("alpha"), QStringLiteral("mid")}));
    // A second header for the same group adds to it.
    QCOMPARE(result.config.services.first().restart, ServiceSettings::Restart::Never);
}

void tst_ConfigLoader::servicesReplaceBase()
{
    BrokerConfig base;
    ServiceSettings old;
    old.name = QStringLiteral("old");
    old.program = QStringLiteral("/bin/sh");
    base.services = {old};
    base.watchdog.actionRules = {{QStringLiteral("x*"), WatchdogAction::Kill}};

    // A file without services or rules keeps the layer below's.
    const ConfigLoader::Result kept = ConfigLoader::loadFile(writeIni("[limits]\nmax_clients = 5\n"), base);
    QVERIFY(kept.ok());
    QCOMPARE(field(kept.config, QStringLiteral("services")), QVariant(QStringList{QStringLiteral("old")}));
    QCOMPARE(field(kept.config, QStringLiteral("rules")), QVariant(QStringList{QStringLiteral("x*=kill")}));

    const ConfigLoader::Result replaced = ConfigLoader::loadFile(
        writeIni("[service.new]\nprogram = prog.sh\n[watchdog.actions]\ny* = notify\n"), base);
    QVERIFY(replaced.ok());
    QCOMPARE(field(replaced.config, QStringLiteral("services")), QVariant(QStringList{QStringLiteral("new")}));
    QCOMPARE(field(replaced.config, QStringLiteral("rules")), QVariant(QStringList{QStringLiteral("y*=notify")}));
}

void tst_ConfigLoader::badServiceValues_data()
{
    QTest::addColumn<QByteArray>("ini");
    QTest::addColumn<QStringList>("errors"); // %DIR% = the config file's folder

    const QByteArray svc = "[service.svc]\nprogram = prog.sh\n";
    const auto one = [](const QString &text) { return QStringList{text}; };
    const QString notSignal = QStringLiteral(" is not a signal (TERM, INT, HUP, QUIT, USR1, USR2, KILL or a number 1..")
                              + QString::number(SIGRTMAX) + QLatin1Char(')');
    const QString notEnv = QStringLiteral(" is not NAME=VALUE (NAME: letters, digits and _, not starting with a digit)");

    QTest::newRow("program-missing") << QByteArray("[service.svc]\nrestart = always\n")
                                     << one(QStringLiteral("service.svc/program: required: the program to run"));
    QTest::newRow("program-empty") << QByteArray("[service.svc]\nprogram =\n")
                                   << one(QStringLiteral("service.svc/program: required: the program to run"));
    QTest::newRow("header-only") << QByteArray("[service.svc]\n")
                                 << one(QStringLiteral("service.svc/program: required: the program to run"));
    QTest::newRow("program-nonexistent") << QByteArray("[service.svc]\nprogram = nope.sh\n")
                                         << one(QStringLiteral("service.svc/program: \"%DIR%/nope.sh\": no such file"));
    QTest::newRow("program-absolute-nonexistent") << QByteArray("[service.svc]\nprogram = /nonexistent/kennel/x\n")
                                                  << one(QStringLiteral("service.svc/program: \"/nonexistent/kennel/x\": no such file"));
    QTest::newRow("program-not-executable") << QByteArray("[service.svc]\nprogram = plain.txt\n")
                                            << one(QStringLiteral("service.svc/program: \"%DIR%/plain.txt\": is not executable"));
    QTest::newRow("program-directory") << QByteArray("[service.svc]\nprogram = sub\n")
                                       << one(QStringLiteral("service.svc/program: \"%DIR%/sub\": is a directory"));
    QTest::newRow("program-list") << QByteArray("[service.svc]\nprogram = /bin/sh, -c\n")
                                  << one(QStringLiteral("service.svc/program: \"/bin/sh, -c\" is a list; expected a single value (no commas)"));
    QTest::newRow("workdir-missing") << svc + "working_directory = nowhere\n"
                                     << one(QStringLiteral("service.svc/working_directory: \"%DIR%/nowhere\": no such directory"));
    QTest::newRow("workdir-file") << svc + "working_directory = plain.txt\n"
                                  << one(QStringLiteral("service.svc/working_directory: \"%DIR%/plain.txt\": is not a directory"));
    QTest::newRow("restart-unknown") << svc + "restart = sometimes\n"
                                     << one(QStringLiteral("service.svc/restart: \"sometimes\" is not a restart policy (always, on-failure, never)"));
    QTest::newRow("restart-underscore") << svc + "restart = on_failure\n"
                                        << one(QStringLiteral("service.svc/restart: \"on_failure\" is not a restart policy (always, on-failure, never)"));
    QTest::newRow("delay-garbage") << svc + "restart_delay_ms = 1s\n"
                                   << one(QStringLiteral("service.svc/restart_delay_ms: \"1s\" is not a whole number"));
    QTest::newRow("delay-negative") << svc + "restart_delay_ms = -1\n"
                                    << one(QStringLiteral("service.svc/restart_delay_ms: -1 is below the minimum 100"));
    // The configuration that produced 2,771 starts in 5 s, and its neighbours at the edge.
    QTest::newRow("storm") << svc + "restart_delay_ms = 0\nrestart_delay_max_ms = 0\nstart_limit_window_ms = 1\n"
                           << QStringList{QStringLiteral("service.svc/restart_delay_ms: 0 is below the minimum 100"),
                                          QStringLiteral("service.svc/restart_delay_max_ms: 0 is below the minimum 100"),
                                          QStringLiteral("service.svc/start_limit_window_ms: 1 is below the minimum 1000")};
    QTest::newRow("delay-one-below") << svc + "restart_delay_ms = 99\n"
                                     << one(QStringLiteral("service.svc/restart_delay_ms: 99 is below the minimum 100"));
    QTest::newRow("window-one-below") << svc + "start_limit_window_ms = 999\n"
                                      << one(QStringLiteral("service.svc/start_limit_window_ms: 999 is below the minimum 1000"));
    QTest::newRow("window-too-short-for-limit")
        << svc + "restart_delay_ms = 100\nrestart_delay_max_ms = 100\nstart_limit = 11\nstart_limit_window_ms = 1000\n"
        << one(QStringLiteral("service.svc/start_limit_window_ms: 1000 is too short: 11 starts of a program that fails at once "
                              "take at least 1000 ms (restart_delay_ms 100, doubling up to restart_delay_max_ms 100), so "
                              "start_limit would never be reached and the service would restart forever"));
    QTest::newRow("monitor-not-bool") << svc + "monitor = maybe\n"
                                      << one(QStringLiteral("service.svc/monitor: \"maybe\" is not a boolean (true/false, yes/no, on/off, 1/0)"));
    QTest::newRow("delay-big") << svc + "restart_delay_ms = 3600001\nrestart_delay_max_ms = 3600001\n"
                               << one(QStringLiteral("service.svc/restart_delay_ms: 3600001 is above the maximum 3600000"));
    QTest::newRow("delay-max-big") << svc + "restart_delay_max_ms = 86400001\n"
                                   << one(QStringLiteral("service.svc/restart_delay_max_ms: 86400001 is above the maximum 86400000"));
    QTest::newRow("delay-max-below-delay") << svc + "restart_delay_ms = 2000\nrestart_delay_max_ms = 1000\n"
                                           << one(QStringLiteral("service.svc/restart_delay_max_ms: 1000 is below service.svc/restart_delay_ms 2000"));
    QTest::newRow("limit-zero") << svc + "start_limit = 0\n"
                                << one(QStringLiteral("service.svc/start_limit: 0 is below the minimum 1"));
    QTest::newRow("limit-big") << svc + "start_limit = 1001\n"
                               << one(QStringLiteral("service.svc/start_limit: 1001 is above the maximum 1000"));
    QTest::newRow("window-zero") << svc + "start_limit_window_ms = 0\n"
                                 << one(QStringLiteral("service.svc/start_limit_window_ms: 0 is below the minimum 1000"));
    QTest::newRow("stop-timeout-big") << svc + "stop_timeout_ms = 3600001\n"
                                      << one(QStringLiteral("service.svc/stop_timeout_ms: 3600001 is above the maximum 3600000"));
    QTest::newRow("signal-name") << svc + "stop_signal = TERMINATE\n"
                                 << one(QStringLiteral("service.svc/stop_signal: \"TERMINATE\"") + notSignal);
    QTest::newRow("signal-lower") << svc + "stop_signal = term\n"
                                  << one(QStringLiteral("service.svc/stop_signal: \"term\"") + notSignal);
    QTest::newRow("signal-zero") << svc + "stop_signal = 0\n" << one(QStringLiteral("service.svc/stop_signal: \"0\"") + notSignal);
    QTest::newRow("signal-too-big") << svc + "stop_signal = " + QByteArray::number(SIGRTMAX + 1) + '\n'
                                    << one(QStringLiteral("service.svc/stop_signal: \"") + QString::number(SIGRTMAX + 1)
                                           + QLatin1Char('"') + notSignal);
    QTest::newRow("env-no-equals") << svc + "environment = NOEQUALS\n"
                                   << one(QStringLiteral("service.svc/environment: \"NOEQUALS\"") + notEnv);
    QTest::newRow("env-digit") << svc + "environment = 1A=x\n"
                               << one(QStringLiteral("service.svc/environment: \"1A=x\"") + notEnv);
    QTest::newRow("env-dash") << svc + "environment = A-B=x\n"
                              << one(QStringLiteral("service.svc/environment: \"A-B=x\"") + notEnv);
    QTest::newRow("env-twice") << svc + "environment = A=1, B=2, A=3\n"
                               << one(QStringLiteral("service.svc/environment: \"A\" is set twice"));
    QTest::newRow("unknown-key") << svc + "exec = /bin/sh\n"
                                 << one(QStringLiteral("service.svc/exec: unknown key (keys in [service.NAME]: ") + ServiceKeyList
                                        + QLatin1Char(')'));
    QTest::newRow("wrong-case-key") << svc + "Program = /bin/sh\n"
                                    << one(QStringLiteral("service.svc/Program: unknown key (keys in [service.NAME]: ")
                                           + ServiceKeyList + QLatin1Char(')'));
    QTest::newRow("bad-name") << QByteArray("[service.bad name]\nprogram = prog.sh\n")
                              << one(QStringLiteral("[service.bad name]: \"bad name\" is not a valid service name "
                                                    "(1..64 characters of A-Z a-z 0-9 . _ -)"));
    const QByteArray longName(65, 'n');
    QTest::newRow("long-name") << QByteArray("[service.") + longName + "]\nprogram = prog.sh\n"
                               << one(QStringLiteral("[service.") + QString::fromLatin1(longName) + QStringLiteral("]: \"")
                                      + QString::fromLatin1(longName)
                                      + QStringLiteral("\" is not a valid service name (1..64 characters of A-Z a-z 0-9 . _ -)"));
    QTest::newRow("nested-group") << QByteArray("[service.a/b]\nprogram = prog.sh\n")
                                  << QStringList{QStringLiteral("service.a/b/program: unknown key (keys in [service.NAME]: ")
                                                     + ServiceKeyList + QLatin1Char(')'),
                                                 QStringLiteral("[service.a/b]: \"a/b\" is not a valid service name "
                                                                "(1..64 characters of A-Z a-z 0-9 . _ -)")};
    // Every problem of a service is reported, not just the first.
    QTest::newRow("several") << QByteArray("[service.svc]\nprogram = nope.sh\nstart_limit = 0\nstop_signal = 0\n"
                                           "restart_delay_ms = x\nrestart_delay_max_ms = 5\n")
                             << QStringList{QStringLiteral("service.svc/restart_delay_ms: \"x\" is not a whole number"),
                                            QStringLiteral("service.svc/stop_signal: \"0\"") + notSignal,
                                            QStringLiteral("service.svc/program: \"%DIR%/nope.sh\": no such file"),
                                            QStringLiteral("service.svc/restart_delay_max_ms: 5 is below the minimum 100"),
                                            QStringLiteral("service.svc/start_limit: 0 is below the minimum 1")};
}

void tst_ConfigLoader::badServiceValues()
{
    QFETCH(QByteArray, ini);
    QFETCH(QStringList, errors);

    for (QString &error : errors)
        error.replace(QStringLiteral("%DIR%"), m_dir.path());
    const ConfigLoader::Result result = ConfigLoader::loadFile(writeIni(ini));
    QCOMPARE(result.errors, errors);
    QVERIFY(!result.ok());
    // A service with a bad value is left out (an unknown key is reported, not held against it).
    if (!errors.first().contains(QLatin1String("unknown key")))
        QVERIFY(result.config.services.isEmpty());
}

void tst_ConfigLoader::parseSignals_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("number"); // 0: refused

    const auto row = [](const char *text, int number) {
        QTest::addRow("%s", *text ? text : "empty") << QString::fromLatin1(text) << number;
    };
    row("TERM", SIGTERM);
    row("SIGTERM", SIGTERM);
    row("INT", SIGINT);
    row("HUP", SIGHUP);
    row("QUIT", SIGQUIT);
    row("USR1", SIGUSR1);
    row("USR2", SIGUSR2);
    row("KILL", SIGKILL);
    row("SIGKILL", SIGKILL);
    row("1", 1);
    row("15", 15);
    row("0", 0);
    row("-15", 0);
    row("+15", 0);
    row("term", 0);
    row("SIG", 0);
    row("SIG15", 0);
    row("STOP", 0);
    row("", 0);
    row(" TERM", 0);
}

void tst_ConfigLoader::parseSignals()
{
    QFETCH(QString, text);
    QFETCH(int, number);

    const std::optional<int> parsed = parseSignal(text);
    QCOMPARE(parsed.value_or(0), number);
    if (number != 0 && !text.startsWith(QLatin1String("SIG")) && !text.front().isDigit())
        QCOMPARE(signalName(number), text);
}

void tst_ConfigLoader::restartPolicyNames()
{
    QCOMPARE(parseRestartPolicy(u"always"), std::optional(ServiceSettings::Restart::Always));
    QCOMPARE(parseRestartPolicy(u"on-failure"), std::optional(ServiceSettings::Restart::OnFailure));
    QCOMPARE(parseRestartPolicy(u"never"), std::optional(ServiceSettings::Restart::Never));
    QVERIFY(!parseRestartPolicy(u"Always"));
    QCOMPARE(QByteArray(restartPolicyName(ServiceSettings::Restart::OnFailure)), QByteArray("on-failure"));
    QCOMPARE(parseSignal(QString::number(SIGRTMAX)), std::optional(int(SIGRTMAX)));
    QVERIFY(!parseSignal(QString::number(SIGRTMAX + 1)));
    QCOMPARE(signalName(SIGRTMAX), QString::number(SIGRTMAX));
}

// The example shows a [service.NAME] group as an indented comment (";   key = value"), every key at
// its default. Turned on, with a program that exists, it must load and give those defaults.
void tst_ConfigLoader::exampleServiceBlock()
{
    QFile example(QStringLiteral(KENNEL_EXAMPLE_INI));
    QVERIFY(example.open(QIODevice::ReadOnly));
    QString text = QString::fromUtf8(example.readAll());
    const QRegularExpression block(QStringLiteral("^;   (\\[service\\.[a-z-]+\\]|[a-z_]+ =( |$))"),
                                   QRegularExpression::MultilineOption);
    QVERIFY2(text.contains(block), "no service example in the example file");
    text.replace(block, QStringLiteral("\\1"));
    text.replace(QRegularExpression(QStringLiteral("^program = .*$"), QRegularExpression::MultilineOption),
                 QStringLiteral("program = prog.sh"));
    const QString path = writeIni(text.toUtf8());
    const ConfigLoader::Result result = ConfigLoader::loadFile(path);
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    QCOMPARE(result.config.services.size(), 1);
    // Every key is shown.
    QSettings settings(path, QSettings::IniFormat);
    settings.beginGroup(QStringLiteral("service.") + result.config.services.first().name);
    QCOMPARE(settings.childKeys().join(QStringLiteral(", ")).size(), ServiceKeyList.size());
    ServiceSettings expected;
    expected.name = result.config.services.first().name;
    expected.program = m_dir.filePath(QStringLiteral("prog.sh"));
    QCOMPARE(describe(result.config.services.first()), describe(expected));
}

void tst_ConfigLoader::monitorDefaults()
{
    const MonitorSettings m;
    QVERIFY(m.listen.isEmpty());
    QCOMPARE(m.tls, false);
    QVERIFY(m.certificateFile.isEmpty());
    QVERIFY(m.privateKeyFile.isEmpty());
    QVERIFY(m.token.isEmpty());
    QVERIFY(m.tokenFile.isEmpty());
    QCOMPARE(m.allowLocalPeers, true);
    QCOMPARE(m.maxMonitors, 8);
    QCOMPARE(m.failureDelay.count(), 500);
    QCOMPARE(m.failureDelayMax.count(), 30000);
    QCOMPARE(m.handshakeTimeout.count(), 10000);
    QCOMPARE(m.maxQueueBytes, qint64(4 * 1024 * 1024));
    QCOMPARE(m.trafficPreviewBytes, 64);
    QCOMPARE(m.maxTrafficPerSecond, 2000);
    QCOMPARE(m.totalsInterval.count(), 1000);
    QVERIFY(ConfigLoader::validate(BrokerConfig()).isEmpty());
}

void tst_ConfigLoader::monitorKeys_data()
{
    QTest::addColumn<QByteArray>("ini");
    QTest::addColumn<QString>("field");
    QTest::addColumn<QVariant>("expected");

    const QByteArray token = "token = " + GoodToken + '\n';
    QTest::newRow("listen") << QByteArray("[monitor]\n" + token + "listen = 0.0.0.0:8443, [::]:8443, unix:/run/kennel/monitor.sock\n")
                            << QStringLiteral("monitor/listen")
                            << QVariant(QStringList{QStringLiteral("0.0.0.0:8443"), QStringLiteral("[::]:8443"),
                                                    QStringLiteral("unix:/run/kennel/monitor.sock")});
    QTest::newRow("listen-empty") << QByteArray("[monitor]\nlisten =\n") << QStringLiteral("monitor/listen")
                                  << QVariant(QStringList());
    QTest::newRow("listen-unix-local-peers") << QByteArray("[monitor]\nlisten = unix:/run/kennel/monitor.sock\n")
                                             << QStringLiteral("monitor/listen")
                                             << QVariant(QStringList{QStringLiteral("unix:/run/kennel/monitor.sock")});
    QTest::newRow("token") << QByteArray("[monitor]\n" + token) << QStringLiteral("monitor/token")
                           << QVariant(QString::fromLatin1(GoodToken));
    QTest::newRow("token-quoted") << QByteArray("[monitor]\ntoken = \"0123456789abcdef;x,y\"\n")
                                  << QStringLiteral("monitor/token") << QVariant(QStringLiteral("0123456789abcdef;x,y"));
    QTest::newRow("token-empty") << QByteArray("[monitor]\ntoken =\n") << QStringLiteral("monitor/token")
                                 << QVariant(QString());
    QTest::newRow("allow_local_peers") << QByteArray("[monitor]\nallow_local_peers = no\n")
                                       << QStringLiteral("monitor/allow_local_peers") << QVariant(false);
    QTest::newRow("tls-off") << QByteArray("[monitor]\ntls = off\n") << QStringLiteral("monitor/tls") << QVariant(false);
    QTest::newRow("max_monitors") << QByteArray("[monitor]\nmax_monitors = 1\n") << QStringLiteral("monitor/max_monitors")
                                  << QVariant(qint64(1));
    QTest::newRow("failure_delay_ms") << QByteArray("[monitor]\nfailure_delay_ms = 1\n")
                                      << QStringLiteral("monitor/failure_delay_ms") << QVariant(qint64(1));
    QTest::newRow("failure_delay_max_ms") << QByteArray("[monitor]\nfailure_delay_max_ms = 3600000\n")
                                          << QStringLiteral("monitor/failure_delay_max_ms") << QVariant(qint64(3600000));
    QTest::newRow("handshake_timeout_ms") << QByteArray("[monitor]\nhandshake_timeout_ms = 100\n")
                                          << QStringLiteral("monitor/handshake_timeout_ms") << QVariant(qint64(100));
    QTest::newRow("max_queue_bytes") << QByteArray("[monitor]\nmax_queue_bytes = 64k\n")
                                     << QStringLiteral("monitor/max_queue_bytes") << QVariant(qint64(65536));
    QTest::newRow("max_queue_bytes-G") << QByteArray("[monitor]\nmax_queue_bytes = 1G\n")
                                       << QStringLiteral("monitor/max_queue_bytes") << QVariant(qint64(1024 * 1024 * 1024));
    QTest::newRow("traffic_preview_bytes-0") << QByteArray("[monitor]\ntraffic_preview_bytes = 0\n")
                                             << QStringLiteral("monitor/traffic_preview_bytes") << QVariant(qint64(0));
    QTest::newRow("traffic_preview_bytes-1024") << QByteArray("[monitor]\ntraffic_preview_bytes = 1024\n")
                                                << QStringLiteral("monitor/traffic_preview_bytes") << QVariant(qint64(1024));
    QTest::newRow("max_traffic_per_second") << QByteArray("[monitor]\nmax_traffic_per_second = 1\n")
                                            << QStringLiteral("monitor/max_traffic_per_second") << QVariant(qint64(1));
    QTest::newRow("totals_interval_ms") << QByteArray("[monitor]\ntotals_interval_ms = 100\n")
                                        << QStringLiteral("monitor/totals_interval_ms") << QVariant(qint64(100));
}

void tst_ConfigLoader::monitorKeys()
{
    QFETCH(QByteArray, ini);
    QFETCH(QString, field);
    QFETCH(QVariant, expected);

    const ConfigLoader::Result result = ConfigLoader::loadFile(writeIni(ini));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    QCOMPARE(::field(result.config, field), expected);
    QVERIFY2(ConfigLoader::validate(result.config).isEmpty(),
             qPrintable(ConfigLoader::validate(result.config).join(QLatin1Char('\n'))));
}

// Roles: uids and names, "none", empty for the default, and a read-only token beside the token.
void tst_ConfigLoader::monitorRoleKeys()
{
    ConfigLoader::Result result = ConfigLoader::loadFile(writeIni("[monitor]\n"));
    QVERIFY(result.ok());
    QVERIFY(!result.config.monitor.operatorUids); // unset: root and the broker's user
    QVERIFY(result.config.monitor.readOnlyUids.isEmpty());

    result = ConfigLoader::loadFile(writeIni("[monitor]\ntoken = " + GoodToken + "\nread_only_token = " + GoodToken
                                             + "-ro\noperator_uids = 0, root\nread_only_uids = 1001, 1002\n"));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    QCOMPARE(result.config.monitor.readOnlyToken, GoodToken + "-ro");
    QCOMPARE(result.config.monitor.operatorUids, std::optional<QList<uint>>(QList<uint>{0, 0}));
    QCOMPARE(result.config.monitor.readOnlyUids, (QList<uint>{1001, 1002}));
    QVERIFY(ConfigLoader::validate(result.config).isEmpty());

    result = ConfigLoader::loadFile(writeIni("[monitor]\noperator_uids = none\nread_only_uids =\n"));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    QCOMPARE(result.config.monitor.operatorUids, std::optional<QList<uint>>(QList<uint>{}));
    QVERIFY(result.config.monitor.readOnlyUids.isEmpty());

    // A read-only token is a token for a TCP listener.
    result = ConfigLoader::loadFile(writeIni("[monitor]\nlisten = 127.0.0.1:0\nread_only_token = " + GoodToken + "\n"));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
}

// Like a service's program: relative to the file's folder, stored absolute and clean.
void tst_ConfigLoader::monitorPathsRelativeToFile()
{
    writeSecret(GoodToken + '\n', QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    const QString tokenName = QStringLiteral("secret-%1.txt").arg(m_fileCount);
    const ConfigLoader::Result result = ConfigLoader::loadFile(
        writeIni("[monitor]\nlisten = 127.0.0.1:0\ntls = yes\ncertificate = cert.pem\nprivate_key = sub/../key.pem\n"
                 "token_file = ./" + tokenName.toLatin1() + '\n'));
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    const MonitorSettings &m = result.config.monitor;
    QCOMPARE(m.tls, true);
    QCOMPARE(m.certificateFile, m_dir.filePath(QStringLiteral("cert.pem")));
    QCOMPARE(m.privateKeyFile, m_dir.filePath(QStringLiteral("key.pem")));
    QCOMPARE(m.tokenFile, m_dir.filePath(tokenName));
    // The loader checks the file but leaves reading it to the authenticator.
    QVERIFY(m.token.isEmpty());
}

void tst_ConfigLoader::badMonitorValues_data()
{
    QTest::addColumn<QByteArray>("ini");
    QTest::addColumn<QStringList>("errors");

    const auto one = [](const QString &text) { return QStringList{text}; };
    const QByteArray token = "token = " + GoodToken + '\n';
    const QByteArray tls = "listen = 127.0.0.1:0\n" + token + "tls = true\n";
    const QString tooShort = QStringLiteral("monitor/token: too short (at least 16 characters; e.g. the output of "
                                            "\"openssl rand -hex 16\")");

    QTest::newRow("token-short") << QByteArray("[monitor]\ntoken = tiny\n") << one(tooShort);
    QTest::newRow("token-blank") << QByteArray("[monitor]\ntoken = \"0123456789abcdef ghij\"\n")
                                 << one(QStringLiteral("monitor/token: character 17 is not printable ASCII (blanks and "
                                                       "non-ASCII characters are not allowed)"));
    QTest::newRow("token-non-ascii") << QByteArray("[monitor]\ntoken = 0123456789abcdef\xc3\xa9\n")
                                     << one(QStringLiteral("monitor/token: character 17 is not printable ASCII (blanks "
                                                           "and non-ASCII characters are not allowed)"));
    QTest::newRow("token-long") << QByteArray("[monitor]\ntoken = " + QByteArray(1025, 'x') + '\n')
                                << one(QStringLiteral("monitor/token: too long (at most 1024 characters)"));
    QTest::newRow("token-list") << QByteArray("[monitor]\ntoken = abcdefghijklmnop, qrstuvwxyz0123456\n")
                                << one(QStringLiteral("monitor/token: reads as a list; quote a token that contains a comma"));
    QTest::newRow("token-and-file") << QByteArray("[monitor]\n" + token + "token_file = /nonexistent/kennel-token\n")
                                    << one(QStringLiteral("monitor/token: set together with monitor/token_file; give one of them"));
    // Roles.
    QTest::newRow("read-only-token-short") << QByteArray("[monitor]\nread_only_token = tiny\n")
                                           << one(QStringLiteral("monitor/read_only_token: too short (at least 16 characters; e.g. "
                                                                 "the output of \"openssl rand -hex 16\")"));
    QTest::newRow("read-only-token-and-file")
        << QByteArray("[monitor]\nread_only_token = abcdefghijklmnop-1\nread_only_token_file = /nonexistent/kennel-token\n")
        << one(QStringLiteral("monitor/read_only_token: set together with monitor/read_only_token_file; give one of them"));
    QTest::newRow("read-only-token-file-missing")
        << QByteArray("[monitor]\nread_only_token_file = /nonexistent/kennel-token\n")
        << one(QStringLiteral("monitor/read_only_token_file: \"/nonexistent/kennel-token\": no such file"));
    QTest::newRow("read-only-token-is-the-token")
        << QByteArray("[monitor]\ntoken = abcdefghijklmnop-2\nread_only_token = abcdefghijklmnop-2\n")
        << one(QStringLiteral("monitor/read_only_token: the same token as monitor/token; a read-only token must differ "
                              "from the operator token"));
    QTest::newRow("uid-in-both") << QByteArray("[monitor]\noperator_uids = 0, 5\nread_only_uids = 5\n")
                                 << one(QStringLiteral("monitor/read_only_uids: uid 5 is also in monitor/operator_uids; give "
                                                       "each uid one role"));
    QTest::newRow("unknown-user") << QByteArray("[monitor]\nread_only_uids = 5, no-such-user-kennel\n")
                                  << one(QStringLiteral("monitor/read_only_uids: \"no-such-user-kennel\" is neither a uid nor "
                                                        "a user of this system"));
    QTest::newRow("negative-uid") << QByteArray("[monitor]\noperator_uids = -1\n")
                                  << one(QStringLiteral("monitor/operator_uids: \"-1\" is neither a uid nor a user of this system"));
    QTest::newRow("token-file-missing") << QByteArray("[monitor]\ntoken_file = missing-token\n")
                                        << one(QStringLiteral("monitor/token_file: \"") + m_dir.filePath(QStringLiteral("missing-token"))
                                               + QStringLiteral("\": no such file"));
    QTest::newRow("token-file-dir") << QByteArray("[monitor]\ntoken_file = sub\n")
                                    << one(QStringLiteral("monitor/token_file: \"") + m_dir.filePath(QStringLiteral("sub"))
                                           + QStringLiteral("\": is a directory"));
    QTest::newRow("tls-maybe") << QByteArray("[monitor]\ntls = maybe\n")
                               << one(QStringLiteral("monitor/tls: \"maybe\" is not a boolean (true/false, yes/no, on/off, 1/0)"));
    QTest::newRow("allow-local-peers-list") << QByteArray("[monitor]\nallow_local_peers = yes, no\n")
                                            << one(QStringLiteral("monitor/allow_local_peers: \"yes, no\" is a list; "
                                                                  "expected a single value (no commas)"));
    QTest::newRow("tls-without-files") << QByteArray("[monitor]\n" + tls)
                                       << QStringList{QStringLiteral("monitor/certificate: required when monitor/tls is on"),
                                                      QStringLiteral("monitor/private_key: required when monitor/tls is on")};
    QTest::newRow("tls-missing-certificate") << QByteArray("[monitor]\n" + tls + "certificate = nocert.pem\nprivate_key = key.pem\n")
                                             << one(QStringLiteral("monitor/certificate: \"") + m_dir.filePath(QStringLiteral("nocert.pem"))
                                                    + QStringLiteral("\": no such file"));
    QTest::newRow("tls-key-is-dir") << QByteArray("[monitor]\n" + tls + "certificate = cert.pem\nprivate_key = sub\n")
                                    << one(QStringLiteral("monitor/private_key: \"") + m_dir.filePath(QStringLiteral("sub"))
                                           + QStringLiteral("\": is a directory"));
    QTest::newRow("tls-without-tcp") << QByteArray("[monitor]\n" + token + "tls = on\ncertificate = cert.pem\nprivate_key = key.pem\n")
                                     << one(QStringLiteral("monitor/tls: on, but monitor/listen has no TCP address (TLS is for "
                                                           "the monitor listeners; the client listeners stay plain)"));
    QTest::newRow("certificate-without-tls") << QByteArray("[monitor]\ncertificate = cert.pem\n")
                                             << one(QStringLiteral("monitor/certificate: set, but monitor/tls is off; turn tls "
                                                                   "on or remove the key"));
    QTest::newRow("delays-out-of-order") << QByteArray("[monitor]\nfailure_delay_ms = 1000\nfailure_delay_max_ms = 500\n")
                                         << one(QStringLiteral("monitor/failure_delay_max_ms: 500 is below monitor/failure_delay_ms 1000"));
    QTest::newRow("delay-zero") << QByteArray("[monitor]\nfailure_delay_ms = 0\n")
                                << one(QStringLiteral("monitor/failure_delay_ms: 0 is below the minimum 1"));
    QTest::newRow("delay-garbage") << QByteArray("[monitor]\nfailure_delay_ms = 1s\nfailure_delay_max_ms = 1\n")
                                   << one(QStringLiteral("monitor/failure_delay_ms: \"1s\" is not a whole number"));
    QTest::newRow("monitors-zero") << QByteArray("[monitor]\nmax_monitors = 0\n")
                                   << one(QStringLiteral("monitor/max_monitors: 0 is below the minimum 1"));
    QTest::newRow("monitors-many") << QByteArray("[monitor]\nmax_monitors = 1025\n")
                                   << one(QStringLiteral("monitor/max_monitors: 1025 is above the maximum 1024"));
    QTest::newRow("handshake-short") << QByteArray("[monitor]\nhandshake_timeout_ms = 99\n")
                                     << one(QStringLiteral("monitor/handshake_timeout_ms: 99 is below the minimum 100"));
    QTest::newRow("queue-small") << QByteArray("[monitor]\nmax_queue_bytes = 1k\n")
                                 << one(QStringLiteral("monitor/max_queue_bytes: 1k is below the minimum 65536"));
    QTest::newRow("queue-unit") << QByteArray("[monitor]\nmax_queue_bytes = 4MB\n")
                                << one(QStringLiteral("monitor/max_queue_bytes: \"4MB\" is not a size (a whole number of "
                                                      "bytes, optionally with suffix k, M or G)"));
    QTest::newRow("preview-big") << QByteArray("[monitor]\ntraffic_preview_bytes = 1025\n")
                                 << one(QStringLiteral("monitor/traffic_preview_bytes: 1025 is above the maximum 1024"));
    QTest::newRow("preview-negative") << QByteArray("[monitor]\ntraffic_preview_bytes = -1\n")
                                      << one(QStringLiteral("monitor/traffic_preview_bytes: -1 is below the minimum 0"));
    QTest::newRow("rate-zero") << QByteArray("[monitor]\nmax_traffic_per_second = 0\n")
                               << one(QStringLiteral("monitor/max_traffic_per_second: 0 is below the minimum 1"));
    QTest::newRow("totals-fast") << QByteArray("[monitor]\ntotals_interval_ms = 99\n")
                                 << one(QStringLiteral("monitor/totals_interval_ms: 99 is below the minimum 100"));
    QTest::newRow("listen-bad") << QByteArray("[monitor]\nlisten = 127.0.0.1:99999\n")
                                << one(QStringLiteral("monitor/listen: \"127.0.0.1:99999\": port out of range (0..65535)"));
    QTest::newRow("listen-twice") << QByteArray("[monitor]\n" + token + "listen = 10.0.0.1:1, 10.0.0.1:1\n")
                                  << one(QStringLiteral("monitor/listen: \"10.0.0.1:1\" is listed twice"));
    QTest::newRow("listen-default-broker-address") << QByteArray("[monitor]\n" + token + "listen = localhost:8000\n")
                                                   << one(QStringLiteral("monitor/listen: \"127.0.0.1:8000\" is also a "
                                                                         "broker/listen address; the monitor listener needs one of its own"));
    QTest::newRow("listen-broker-address") << QByteArray("[broker]\nlisten = 10.0.0.1:9000, unix:/run/k.sock\n[monitor]\n" + token
                                                         + "listen = unix:/run/k.sock\n")
                                           << one(QStringLiteral("monitor/listen: \"unix:/run/k.sock\" is also a broker/listen "
                                                                 "address; the monitor listener needs one of its own"));
    QTest::newRow("tcp-without-token") << QByteArray("[monitor]\nlisten = 0.0.0.0:8443\n")
                                       << one(QStringLiteral("monitor/listen: \"0.0.0.0:8443\": no monitor could be admitted there: "
                                                             "a TCP peer needs a token (set monitor/token or monitor/token_file)"));
    QTest::newRow("unix-without-anyone") << QByteArray("[monitor]\nlisten = unix:/run/m.sock\nallow_local_peers = off\n")
                                         << one(QStringLiteral("monitor/listen: \"unix:/run/m.sock\": no monitor could be admitted "
                                                               "there: no token, and monitor/allow_local_peers is off"));
    QTest::newRow("unknown-key") << QByteArray("[monitor]\nport = 5\n")
                                 << one(QStringLiteral("monitor/port: unknown key (keys in [monitor]: ") + MonitorKeyList
                                        + QLatin1Char(')'));
    QTest::newRow("outside-group") << QByteArray("token_file = x\n")
                                   << one(QStringLiteral("token_file: key outside any [group] (it belongs in [monitor])"));
    // "listen" is both [broker]'s and [monitor]'s: the hint names the first.
    QTest::newRow("outside-group-listen") << QByteArray("listen = *:1\n")
                                          << one(QStringLiteral("listen: key outside any [group] (it belongs in [broker])"));
}

void tst_ConfigLoader::badMonitorValues()
{
    QFETCH(QByteArray, ini);
    QFETCH(QStringList, errors);

    const ConfigLoader::Result result = ConfigLoader::loadFile(writeIni(ini));
    QCOMPARE(result.errors, errors);
    // A secret never ends up in an error (and so in a log).
    for (const QString &error : result.errors) {
        for (const char *secret : {"tiny", "ghij", "xxxxxxxx", "qrstuvwxyz", "abcdefghijklmnop"})
            QVERIFY2(!error.contains(QLatin1String(secret)), qPrintable(error));
    }
}

void tst_ConfigLoader::monitorTokenFile_data()
{
    QTest::addColumn<QByteArray>("content");
    QTest::addColumn<int>("permissions");
    QTest::addColumn<QString>("error"); // after "monitor/token_file: "PATH": "; empty: accepted

    const int owner = int(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    QTest::newRow("good") << QByteArray(GoodToken + '\n') << owner << QString();
    QTest::newRow("crlf") << QByteArray(GoodToken + "\r\n") << owner << QString();
    QTest::newRow("no-newline") << GoodToken << int(QFileDevice::ReadOwner) << QString();
    QTest::newRow("empty") << QByteArray() << owner << QStringLiteral("is empty");
    QTest::newRow("only-newline") << QByteArray("\n") << owner << QStringLiteral("is empty");
    QTest::newRow("group-readable") << QByteArray(GoodToken + '\n') << int(owner | QFileDevice::ReadGroup)
                                    << QStringLiteral("is accessible by group or others (mode 0640); anyone who can read "
                                                      "it can monitor and control the broker: chmod 600 it");
    QTest::newRow("world-readable") << QByteArray(GoodToken + '\n') << int(owner | QFileDevice::ReadOther)
                                    << QStringLiteral("is accessible by group or others (mode 0604); anyone who can read "
                                                      "it can monitor and control the broker: chmod 600 it");
    QTest::newRow("short") << QByteArray("tiny\n") << owner
                           << QStringLiteral("the token in it: too short (at least 16 characters; e.g. the output of "
                                             "\"openssl rand -hex 16\")");
    QTest::newRow("two-lines") << QByteArray(GoodToken + '\n' + GoodToken + '\n') << owner
                               << QStringLiteral("the token in it: character 25 is not printable ASCII (blanks and "
                                                 "non-ASCII characters are not allowed)");
    QTest::newRow("huge") << QByteArray(4096, 'x') << owner << QStringLiteral("longer than 1024 characters");
}

void tst_ConfigLoader::monitorTokenFile()
{
    QFETCH(QByteArray, content);
    QFETCH(int, permissions);
    QFETCH(QString, error);

    const QString path = writeSecret(content, QFileDevice::Permissions(permissions));
    const ConfigLoader::Result result = ConfigLoader::loadFile(writeIni("[monitor]\ntoken_file = " + path.toUtf8() + '\n'));
    if (error.isEmpty()) {
        QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
        QCOMPARE(result.config.monitor.tokenFile, path);
        const std::optional<QByteArray> token = MonitorToken::readFile(path, &error);
        QVERIFY2(token, qPrintable(error));
        QCOMPARE(*token, GoodToken);
    } else {
        QCOMPARE(result.errors, QStringList{QStringLiteral("monitor/token_file: \"") + path + QStringLiteral("\": ") + error});
        QVERIFY(!MonitorToken::readFile(path, &error));
    }
}

void tst_ConfigLoader::monitorFlags()
{
    const QString tokenPath = writeSecret(GoodToken, QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    const QString ini = writeIni("[monitor]\ntoken = " + GoodToken + "\nlisten = 10.0.0.1:1\n");

    // The flags replace the file's list and its credential.
    QCommandLineParser parser;
    QVERIFY(parse(parser, {QStringLiteral("--config"), ini, QStringLiteral("--monitor-listen=127.0.0.1:0"),
                           QStringLiteral("--monitor-listen"), QStringLiteral("unix:/run/kennel/monitor.sock"),
                           QStringLiteral("--monitor-token-file"), tokenPath}));
    const ConfigLoader::Result result = ConfigLoader::load(parser);
    QVERIFY2(result.ok(), qPrintable(result.errors.join(QLatin1Char('\n'))));
    QCOMPARE(field(result.config, QStringLiteral("monitor/listen")),
             QVariant(QStringList{QStringLiteral("127.0.0.1:0"), QStringLiteral("unix:/run/kennel/monitor.sock")}));
    QCOMPARE(result.config.monitor.tokenFile, tokenPath);
    QVERIFY(result.config.monitor.token.isEmpty());

    // A relative token file is taken from the working directory, and must exist.
    QCommandLineParser relative;
    QVERIFY(parse(relative, {QStringLiteral("--monitor-token-file=no-such-token")}));
    QCOMPARE(ConfigLoader::load(relative).errors,
             QStringList{QStringLiteral("monitor/token_file: \"") + QDir::current().absoluteFilePath(QStringLiteral("no-such-token"))
                         + QStringLiteral("\": no such file")});

    QCommandLineParser bad;
    QVERIFY(parse(bad, {QStringLiteral("--monitor-listen=nowhere"), QStringLiteral("--monitor-token-file=")}));
    QCOMPARE(ConfigLoader::load(bad).errors,
             (QStringList{QStringLiteral("--monitor-listen: \"nowhere\": missing port; expected HOST:PORT, [IPv6]:PORT or unix:PATH"),
                          QStringLiteral("--monitor-token-file: no file name given")}));
}

void tst_ConfigLoader::validateMonitorInCode_data()
{
    QTest::addColumn<int>("which");
    QTest::addColumn<QStringList>("errors");

    QTest::newRow("defaults") << 0 << QStringList();
    QTest::newRow("short-token") << 1 << QStringList{QStringLiteral("monitor/token: too short (at least 16 characters; "
                                                                    "e.g. the output of \"openssl rand -hex 16\")")};
    QTest::newRow("bad-listen") << 2 << QStringList{QStringLiteral("monitor/listen: \"unix:\": empty Unix socket path")};
    QTest::newRow("tls-without-files") << 3 << QStringList{QStringLiteral("monitor/certificate: required when monitor/tls is on"),
                                                           QStringLiteral("monitor/private_key: required when monitor/tls is on")};
    QTest::newRow("relative-certificate") << 4 << QStringList{QStringLiteral("monitor/certificate: \"cert.pem\": is not an absolute path"),
                                                              QStringLiteral("monitor/private_key: required when monitor/tls is on")};
    QTest::newRow("ranges") << 5 << QStringList{QStringLiteral("monitor/max_monitors: 0 is below the minimum 1"),
                                                QStringLiteral("monitor/failure_delay_max_ms: 10 is below monitor/failure_delay_ms 20")};
}

void tst_ConfigLoader::validateMonitorInCode()
{
    QFETCH(int, which);
    QFETCH(QStringList, errors);

    BrokerConfig config;
    MonitorSettings &m = config.monitor;
    ListenAddress tcp;
    tcp.host = QStringLiteral("127.0.0.1");
    switch (which) {
    case 1:
        m.token = "short";
        break;
    case 2:
        m.listen = {ListenAddress{ListenAddress::Kind::Unix, {}, 0, {}}};
        break;
    case 3:
        m.listen = {tcp};
        m.token = GoodToken;
        m.tls = true;
        break;
    case 4:
        m.listen = {tcp};
        m.token = GoodToken;
        m.tls = true;
        m.certificateFile = QStringLiteral("cert.pem");
        break;
    case 5:
        m.maxMonitors = 0;
        m.failureDelay = std::chrono::milliseconds(20);
        m.failureDelayMax = std::chrono::milliseconds(10);
        break;
    default:
        break;
    }
    QCOMPARE(ConfigLoader::validate(config), errors);
}

QTEST_APPLESS_MAIN(tst_ConfigLoader)

#include "tst_configloader.moc"
