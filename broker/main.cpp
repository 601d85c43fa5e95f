// kennel-broker: arguments and settings -> BrokerConfig -> Broker, and the process around it
// (signals, descriptor limit, exit status).
#include "bridgemanager.h"
#include "accesspolicy.h"
#include "broker.h"
#include "logging.h"
#include "configloader.h"
#include "peerprocess.h"
#include "processsignaller.h"
#include "socketactivation.h"
#include "systemdnotifier.h"
#include "unixsignalwatcher.h"

#include <clidoc.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QTimer>

#include <csignal>
#include <cstdio>
#include <sys/resource.h>

namespace {
// A broker holds a descriptor per client: take the whole hard limit the system allows. Logged, so
// that an operator reading "out of file descriptors" later knows what the limit was.
rlim_t raiseDescriptorLimit()
{
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return 0;
    const rlim_t before = limit.rlim_cur;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
        ::getrlimit(RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur == RLIM_INFINITY)
        qCInfo(Kennel::lcBroker, "descriptor limit: unlimited");
    else if (limit.rlim_cur != before)
        qCInfo(Kennel::lcBroker, "descriptor limit raised from %llu to %llu (the hard limit)", (unsigned long long)before,
               (unsigned long long)limit.rlim_cur);
    else
        qCInfo(Kennel::lcBroker, "descriptor limit: %llu (the hard limit)", (unsigned long long)limit.rlim_cur);
    return limit.rlim_cur;
}
} // namespace

int main(int argc, char *argv[])
{
    if (Kennel::Logging::stderrIsJournal())
        Kennel::Logging::installJournalHandler(); // "<N>" priorities, no timestamp of our own
    else if (qEnvironmentVariableIsEmpty("QT_MESSAGE_PATTERN"))
        qSetMessagePattern(QStringLiteral("%{time yyyy-MM-dd hh:mm:ss.zzz} %{if-category}%{category} %{endif}%{type}: %{message}"));
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("kennel-broker"));
    QCoreApplication::setApplicationVersion(QStringLiteral(KENNEL_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Kennel message broker: named clients, message routing, legacy protocol compatibility."));
    parser.addHelpOption();
    parser.addVersionOption();
    Kennel::ConfigLoader::addOptions(parser);
    const QCommandLineOption verbose(QStringLiteral("verbose"), QStringLiteral("Log connection-level debug messages."));
    parser.addOption(verbose);
    const QCommandLineOption printListening(
        QStringLiteral("print-listening"),
        QStringLiteral("Once listening, print \"listening clients ADDR\" and \"listening monitors ADDR\" to standard "
                       "output, one line per listener, then \"ready\" (for scripts and tests that listen on port 0)."));
    parser.addOption(printListening);
    const QCommandLineOption explainPolicy(
        QStringLiteral("explain-policy"),
        QStringLiteral("With the words after the options describing a peer (uid=N gid=N program=/PATH service=NAME "
                       "remote), print the [policy] rules that apply to it, first match first, and exit "
                       "(docs/SECURITY.md, \"Access policy\")."));
    parser.addOption(explainPolicy);
    const Kennel::CliDoc::Switches docSwitches = Kennel::CliDoc::addOptions(parser);
    parser.process(app);
    if (Kennel::CliDoc::handle(parser, docSwitches, {QStringLiteral("kennel-broker"), QStringLiteral(KENNEL_VERSION), {}, {},
                                                     {QStringLiteral("kennelctl(1)"), QStringLiteral("kennel-monitor(1)")}}))
        return 0;
    // "kennel-broker extra --check-config" said "configuration OK" and ignored the word: a typo
    // in a unit file must not pass unnoticed.
    if (!parser.positionalArguments().isEmpty() && !parser.isSet(explainPolicy)) {
        std::fprintf(stderr, "kennel-broker: unexpected argument '%s': kennel-broker takes options only (see --help)\n",
                     qPrintable(parser.positionalArguments().constFirst()));
        return 1;
    }

    const Kennel::ConfigLoader::Result loaded = Kennel::ConfigLoader::load(parser);
    if (!loaded.ok()) {
        for (const QString &error : loaded.errors)
            std::fprintf(stderr, "kennel-broker: %s\n", qPrintable(error));
        return 1;
    }
    if (parser.isSet(explainPolicy)) {
        QString error;
        const std::optional<Kennel::PeerIdentity> peer = Kennel::parsePeerDescription(parser.positionalArguments(), &error);
        if (!peer) {
            std::fprintf(stderr, "kennel-broker: --explain-policy: %s\n", qPrintable(error));
            return 1;
        }
        QStringList errors;
        const Kennel::AccessPolicy policy =
            Kennel::AccessPolicy::parse(loaded.config.policy.rules, loaded.config.policy.defaultAllow, &errors);
        for (const QString &line : policy.explain(*peer))
            std::printf("%s\n", qPrintable(line));
        return 0;
    }
    if (Kennel::ConfigLoader::checkConfigRequested(parser)) {
        const Kennel::BridgeSettings &bridge = loaded.config.bridge;
        if (bridge.enabled())
            std::printf("configuration OK; bridge to %s as board %s, spool %s\n", qPrintable(bridge.url),
                        bridge.board.constData(),
                        bridge.spoolPath.isEmpty() ? "(default path)" : qPrintable(bridge.spoolPath));
        if (bridge.enabled() && (!bridge.exportTopics.isEmpty() || !bridge.importTopics.isEmpty()))
            std::printf("bridge topics: export %s; import %s\n",
                        bridge.exportTopics.isEmpty() ? "(none)" : bridge.exportTopics.join(' ').constData(),
                        bridge.importTopics.isEmpty() ? "(none)" : bridge.importTopics.join(' ').constData());
        if (!bridge.enabled())
            std::printf("configuration OK\n");
        return 0;
    }
    // The INI's rules, then --verbose; QT_LOGGING_RULES, read by Qt after these, still wins.
    QString rules = loaded.config.logRules;
    if (parser.isSet(verbose))
        rules += QStringLiteral("\nkennel.*.debug=true");
    if (!rules.trimmed().isEmpty())
        QLoggingCategory::setFilterRules(rules.trimmed());
    // The identity paths of old kernels, on any kernel, so that CI covers them with a real broker
    // (docs/WATCHDOG.md, "Who owns a connection"): no inet_diag (/proc/net/tcp* instead) and no
    // pidfd_open (kill(2) after a start-time and holder check). SO_PEERPIDFD is never relied on.
    if (qEnvironmentVariableIntValue("KENNEL_IDENTITY_SLOW_PATHS") == 1) {
        Kennel::detail::setKernelFastPathsEnabled(false);
        Kennel::detail::setPidfdEnabled(false);
        qCInfo(Kennel::lcBroker, "KENNEL_IDENTITY_SLOW_PATHS=1: identity lookups and signals take the paths of old kernels");
    }

    std::signal(SIGPIPE, SIG_IGN);
    const rlim_t descriptors = raiseDescriptorLimit();
    if (descriptors && descriptors != RLIM_INFINITY && rlim_t(loaded.config.maxClients) + 64 > descriptors)
        qCWarning(Kennel::lcBroker, "max_clients is %d but the process may open only %llu descriptors: connections beyond "
                          "that will be refused by the kernel", loaded.config.maxClients, (unsigned long long)descriptors);

    // Under kennel-broker.socket: the listening sockets systemd holds across the broker's restarts
    // (LISTEN_FDS; the variables are unset here, before any service could inherit them).
    Kennel::SocketActivation activation = Kennel::SocketActivation::fromEnvironment();
    Kennel::Broker broker(loaded.config);
    broker.setSocketActivation(&activation);
    QString error;
    if (!broker.start(&error)) {
        qCCritical(Kennel::lcBroker).noquote() << error;
        return 1;
    }
    // Whoever started the broker on port 0 learns the port here, in lines meant for programs,
    // rather than from the log, whose wording is meant for people.
    if (parser.isSet(printListening)) {
        for (const Kennel::ListenAddress &address : broker.boundAddresses())
            std::printf("listening clients %s\n", qPrintable(address.toString()));
        for (const Kennel::ListenAddress &address : broker.monitorAddresses())
            std::printf("listening monitors %s\n", qPrintable(address.toString()));
        std::printf("ready\n");
        std::fflush(stdout);
    }

    Kennel::UnixSignalWatcher signalWatcher;
    signalWatcher.watch(SIGINT);
    signalWatcher.watch(SIGTERM);
    QObject::connect(&signalWatcher, &Kennel::UnixSignalWatcher::received, &broker, [&broker](int signalNumber) {
        if (signalNumber != SIGINT && signalNumber != SIGTERM)
            return;
        if (broker.isShuttingDown()) {
            qCWarning(Kennel::lcBroker, "signal %d during shutdown: stopping now", signalNumber);
            QCoreApplication::exit(1);
            return;
        }
        qCInfo(Kennel::lcBroker, "signal %d: stopping", signalNumber);
        broker.shutdown();
    });
    // SIGHUP (systemctl reload, mosquitto's habit): read the same file and flags again and apply
    // what can change at run time (Broker::reload); failed services are retried either way.
    broker.setConfigSource([&parser] { return Kennel::ConfigLoader::load(parser); });
    // [log] rules are this file's: --verbose is added to them here as at start.
    const bool verboseSet = parser.isSet(verbose);
    broker.addReloadApplier([verboseSet](const Kennel::BrokerConfig &running, const Kennel::BrokerConfig &next,
                                         Kennel::ConfigDiff &) {
        if (running.logRules == next.logRules)
            return;
        QString rules = next.logRules;
        if (verboseSet)
            rules += QStringLiteral("\nkennel.*.debug=true");
        QLoggingCategory::setFilterRules(rules.trimmed());
    });
    signalWatcher.watch(SIGHUP);
    QObject::connect(&signalWatcher, &Kennel::UnixSignalWatcher::received, &broker, [&broker](int signalNumber) {
        if (signalNumber != SIGHUP || broker.isShuttingDown())
            return;
        broker.reload(QStringLiteral("SIGHUP"));
    });
    QObject::connect(&broker, &Kennel::Broker::finished, &app, [] {
        qCInfo(Kennel::lcBroker, "stopped");
        QCoreApplication::exit(0);
    });

    // Under systemd (Type=notify): ready only now that every listener is up; STOPPING when a stop
    // signal starts the graceful stop; the systemd watchdog fed from this loop, so a hung loop gets
    // the broker restarted. Without NOTIFY_SOCKET all of this does nothing.
    Kennel::SystemdNotifier systemd;
    QObject::connect(&signalWatcher, &Kennel::UnixSignalWatcher::received, &systemd, [&systemd](int signalNumber) {
        if (signalNumber == SIGINT || signalNumber == SIGTERM)
            systemd.notifyStopping();
    });
    // `systemctl status` shows this line: where clients connect, and where monitors do when they
    // have listeners of their own.
    const auto joined = [](const QList<Kennel::ListenAddress> &addresses) {
        QStringList texts;
        for (const Kennel::ListenAddress &address : addresses)
            texts.append(address.toString());
        return texts.join(QStringLiteral(", "));
    };
    QString status = QStringLiteral("listening on ") + joined(broker.boundAddresses());
    const QList<Kennel::ListenAddress> monitorAddresses = broker.monitorAddresses();
    if (!monitorAddresses.isEmpty()) {
        status += QStringLiteral("; monitors on ") + joined(monitorAddresses);
        if (broker.config().monitor.tls)
            status += QStringLiteral(" (TLS on TCP)");
    }
    systemd.notifyReady(status);
    systemd.startWatchdog();
    // With a bridge, the STATUS line also says whether it is connected and what the spool holds,
    // refreshed on every change of the link and every 10 s (the spool's depth and age).
    QTimer bridgeStatus;
    if (Kennel::BridgeManager *bridge = broker.bridge()) {
        const auto refresh = [&systemd, bridge, status] { systemd.notifyStatus(status + QStringLiteral("; ") + bridge->statusText()); };
        QObject::connect(bridge, &Kennel::BridgeManager::connectedChanged, &systemd, refresh);
        QObject::connect(&bridgeStatus, &QTimer::timeout, &systemd, refresh);
        bridgeStatus.start(10000);
        refresh();
    }
    // Type=notify with ExecReload: systemctl reload waits for READY=1 after RELOADING=1.
    QObject::connect(&broker, &Kennel::Broker::reloading, &systemd, [&systemd] { systemd.notifyReloading(); });
    QObject::connect(&broker, &Kennel::Broker::reloaded, &systemd, [&systemd, status](bool ok) {
        systemd.notifyReady(ok ? status : status + QStringLiteral("; last reload rejected (see the log)"));
    });
    return app.exec();
}
