// ConfigReloader: what a reload applies and what it leaves until a restart, computed from two
// configs without a broker. The broker's side (services started, stopped, restarted; a rejected
// file) is tst_reload, through a real process and SIGHUP.
#include "configreloader.h"

#include <QTest>

using namespace Kennel;

namespace {

ServiceSettings service(const QString &name, const QString &program = QStringLiteral("/bin/true"))
{
    ServiceSettings s;
    s.name = name;
    s.program = program;
    return s;
}

// Built once: GCC 12 at -O2 warns (falsely) about the default action list's initializer when a
// BrokerConfig is built inline in every test function.
BrokerConfig defaults()
{
    static const BrokerConfig config;
    return config;
}

bool hasLine(const QStringList &lines, const QString &start)
{
    for (const QString &line : lines) {
        if (line.startsWith(start))
            return true;
    }
    return false;
}

} // namespace

class tst_ConfigReloader : public QObject
{
    Q_OBJECT
private slots:
    void sameConfigIsNoChange();
    void servicesAddedRemovedChanged();
    void runtimeSettingsApplied();
    void listenersNeedARestart();
    void mergedKeepsWhatNeedsARestart();
};

void tst_ConfigReloader::sameConfigIsNoChange()
{
    BrokerConfig config = defaults();
    config.services = {service(QStringLiteral("a"))};
    config.logRules = QStringLiteral("kennel.router.debug=true");
    const ConfigDiff diff = ConfigReloader::diff(config, config);
    QVERIFY2(diff.isEmpty(), qPrintable((diff.applied + diff.needsRestart).join(QLatin1Char('\n'))));
    QVERIFY(diff.servicesAdded.isEmpty() && diff.servicesRemoved.isEmpty() && diff.servicesChanged.isEmpty());
    QVERIFY(!diff.watchdogChanged && !diff.monitorCredentialsChanged && !diff.holdChanged && !diff.logRulesChanged);
}

void tst_ConfigReloader::servicesAddedRemovedChanged()
{
    BrokerConfig running = defaults(), next = defaults();
    running.services = {service(QStringLiteral("keep")), service(QStringLiteral("gone")), service(QStringLiteral("edit"))};
    next.services = {service(QStringLiteral("edit"), QStringLiteral("/bin/false")), service(QStringLiteral("keep")),
                     service(QStringLiteral("new"))};
    const ConfigDiff diff = ConfigReloader::diff(running, next);
    QCOMPARE(diff.servicesAdded, QStringList{QStringLiteral("new")});
    QCOMPARE(diff.servicesRemoved, QStringList{QStringLiteral("gone")});
    QCOMPARE(diff.servicesChanged, QStringList{QStringLiteral("edit")}); // a new order is no change
    QVERIFY(diff.applied.contains(QStringLiteral("service new: added")));
    QVERIFY(diff.applied.contains(QStringLiteral("service gone: removed (stopped)")));
    QVERIFY(hasLine(diff.applied, QStringLiteral("service edit: changed")));
    QVERIFY(diff.needsRestart.isEmpty());

    // Every key of a service counts, down to one argument or dependency.
    ServiceSettings a = service(QStringLiteral("x")), b = a;
    b.arguments = {QStringLiteral("-v")};
    QVERIFY(!ConfigReloader::sameService(a, b));
    b = a;
    b.after = {QStringLiteral("y")};
    QVERIFY(!ConfigReloader::sameService(a, b));
    b = a;
    b.start = ServiceSettings::Start::OnDemand;
    QVERIFY(!ConfigReloader::sameService(a, b));
    QVERIFY(ConfigReloader::sameService(a, a));

    // The output ring's bounds alone: applied in place, no restart.
    BrokerConfig bigger = running;
    bigger.services[0].outputLines = 5000;
    bigger.serviceOutputLines = 5000;
    const ConfigDiff ring = ConfigReloader::diff(running, bigger);
    QCOMPARE(ring.serviceOutputChanged, QStringList{QStringLiteral("keep")});
    QVERIFY(ring.servicesChanged.isEmpty());
    QVERIFY(hasLine(ring.applied, QStringLiteral("service keep: output_lines/output_bytes")));
    QCOMPARE(ConfigReloader::merged(running, bigger).serviceOutputLines, 5000);
}

void tst_ConfigReloader::runtimeSettingsApplied()
{
    BrokerConfig running = defaults(), next = defaults();
    next.watchdog.actionRules = {{QStringLiteral("cam-*"), WatchdogAction::Kill}};
    next.monitor.token = "0123456789abcdef-new";
    next.hold.limits.maxCount = 5;
    next.logRules = QStringLiteral("kennel.router.debug=true");
    next.maxClients = 10;
    const ConfigDiff diff = ConfigReloader::diff(running, next);
    QVERIFY(diff.watchdogChanged);
    QVERIFY(diff.monitorCredentialsChanged);
    QVERIFY(diff.holdChanged);
    QVERIFY(diff.logRulesChanged);
    QVERIFY(diff.liveLimitsChanged);
    QCOMPARE(diff.applied.size(), 5);
    QVERIFY2(diff.needsRestart.isEmpty(), qPrintable(diff.needsRestart.join(QLatin1Char('\n'))));
    // The token itself is never in a log line.
    for (const QString &line : diff.applied)
        QVERIFY(!line.contains(QLatin1String("0123456789abcdef")));
}

void tst_ConfigReloader::listenersNeedARestart()
{
    BrokerConfig running = defaults(), next = defaults();
    next.listen = {*[] { ListenAddress a; a.host = QStringLiteral("127.0.0.1"); a.port = 9000; return std::optional(a); }()};
    next.monitor.listen = next.listen;
    next.maxFrameSize = 4096;
    next.idleTimeout = std::chrono::milliseconds(0);
    next.serviceCgroup = BrokerConfig::ServiceCgroup::Off;
    next.hold.names = {"late-one"};
    const ConfigDiff diff = ConfigReloader::diff(running, next);
    QVERIFY(diff.applied.isEmpty());
    QVERIFY(hasLine(diff.needsRestart, QStringLiteral("[broker] listen")));
    QVERIFY(hasLine(diff.needsRestart, QStringLiteral("[monitor] listeners")));
    QVERIFY(hasLine(diff.needsRestart, QStringLiteral("max_frame_size")));
    QVERIFY(hasLine(diff.needsRestart, QStringLiteral("register_timeout, incomplete_frame_timeout or idle_timeout")));
    QVERIFY(hasLine(diff.needsRestart, QStringLiteral("[supervisor] cgroup")));
    QVERIFY(hasLine(diff.needsRestart, QStringLiteral("[hold] total_bytes or names")));
    QCOMPARE(diff.needsRestart.size(), 6);
}

void tst_ConfigReloader::mergedKeepsWhatNeedsARestart()
{
    BrokerConfig running = defaults(), next = defaults();
    running.maxFrameSize = 8192;
    next.maxFrameSize = 4096;
    next.maxClients = 7;
    next.services = {service(QStringLiteral("a"))};
    next.watchdog.killGrace = std::chrono::milliseconds(500);
    const BrokerConfig merged = ConfigReloader::merged(running, next);
    QCOMPARE(merged.maxFrameSize, 8192u);
    QCOMPARE(merged.maxClients, 7);
    QCOMPARE(merged.services.size(), 1);
    QCOMPARE(merged.watchdog.killGrace, std::chrono::milliseconds(500));
    // Reloading the same file again still reports the pending restart, and nothing else.
    const ConfigDiff again = ConfigReloader::diff(merged, next);
    QVERIFY(again.applied.isEmpty());
    QCOMPARE(again.needsRestart.size(), 1);
}

QTEST_GUILESS_MAIN(tst_ConfigReloader)
#include "tst_configreloader.moc"
