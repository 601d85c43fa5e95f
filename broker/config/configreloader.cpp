#include "configreloader.h"

namespace Kennel {

namespace {

bool sameRules(const QList<WatchdogActionRule> &a, const QList<WatchdogActionRule> &b)
{
    if (a.size() != b.size())
        return false;
    for (qsizetype i = 0; i < a.size(); ++i) {
        if (a[i].namePattern != b[i].namePattern || a[i].action != b[i].action)
            return false;
    }
    return true;
}

// [monitor] keys other than the credentials: the listeners and the admission figures are read
// when the listeners open and by the authenticator at construction.
bool sameMonitorRest(const MonitorSettings &a, const MonitorSettings &b)
{
    return a.listen == b.listen && a.tls == b.tls && a.certificateFile == b.certificateFile
        && a.privateKeyFile == b.privateKeyFile && a.maxMonitors == b.maxMonitors && a.failureDelay == b.failureDelay
        && a.failureDelayMax == b.failureDelayMax && a.handshakeTimeout == b.handshakeTimeout
        && a.admissionTimeout == b.admissionTimeout && a.maxWaitingPerAddress == b.maxWaitingPerAddress
        && a.maxWaitingPerPrefix == b.maxWaitingPerPrefix && a.maxTokenGuessesPerSecond == b.maxTokenGuessesPerSecond
        && a.provenAddressTtl == b.provenAddressTtl && a.maxQueueBytes == b.maxQueueBytes
        && a.totalQueueBytes == b.totalQueueBytes && a.trafficPreviewBytes == b.trafficPreviewBytes
        && a.maxTrafficPerSecond == b.maxTrafficPerSecond && a.totalsInterval == b.totalsInterval
        && a.topicsPerRecord == b.topicsPerRecord;
}

bool sameCredentials(const MonitorSettings &a, const MonitorSettings &b)
{
    return a.token == b.token && a.tokenFile == b.tokenFile && a.allowLocalPeers == b.allowLocalPeers
        && a.readOnlyToken == b.readOnlyToken && a.readOnlyTokenFile == b.readOnlyTokenFile // roles
        && a.operatorUids == b.operatorUids && a.readOnlyUids == b.readOnlyUids;
}

const ServiceSettings *findService(const QList<ServiceSettings> &services, const QString &name)
{
    for (const ServiceSettings &service : services) {
        if (service.name == name)
            return &service;
    }
    return nullptr;
}

bool sameHoldOverrides(const QList<HoldOverride> &a, const QList<HoldOverride> &b)
{
    if (a.size() != b.size())
        return false;
    for (qsizetype i = 0; i < a.size(); ++i) {
        if (a[i].pattern != b[i].pattern || a[i].maxCount != b[i].maxCount || a[i].maxBytes != b[i].maxBytes || a[i].ttl != b[i].ttl)
            return false;
    }
    return true;
}

bool sameTopics(const TopicSettings &a, const TopicSettings &b)
{
    if (a.enabled != b.enabled || a.maxTopicLength != b.maxTopicLength || a.maxLevels != b.maxLevels
        || a.maxSubscriptions != b.maxSubscriptions || a.retainedCount != b.retainedCount || a.retainedBytes != b.retainedBytes
        || a.maxTrackedTopics != b.maxTrackedTopics
        || a.sharedFrameBytes != b.sharedFrameBytes
        || a.subscriptions.size() != b.subscriptions.size() || a.publishNames.size() != b.publishNames.size())
        return false;
    for (qsizetype i = 0; i < a.subscriptions.size(); ++i) {
        if (a.subscriptions[i].name != b.subscriptions[i].name || a.subscriptions[i].filter != b.subscriptions[i].filter)
            return false;
    }
    for (qsizetype i = 0; i < a.publishNames.size(); ++i) {
        if (a.publishNames[i].name != b.publishNames[i].name || a.publishNames[i].topic != b.publishNames[i].topic)
            return false;
    }
    return true;
}

void restartIf(bool differs, const char *what, ConfigDiff &diff)
{
    if (differs)
        diff.needsRestart.append(QLatin1String(what));
}

} // namespace

bool ConfigReloader::sameService(const ServiceSettings &a, const ServiceSettings &b, bool compareOutput)
{
    if (compareOutput && (a.outputLines != b.outputLines || a.outputBytes != b.outputBytes))
        return false;
    return a.name == b.name && a.program == b.program && a.arguments == b.arguments
        && a.workingDirectory == b.workingDirectory && a.environment == b.environment && a.restart == b.restart
        && a.restartDelay == b.restartDelay && a.restartDelayMax == b.restartDelayMax && a.startLimit == b.startLimit
        && a.startLimitWindow == b.startLimitWindow && a.stopSignal == b.stopSignal && a.stopTimeout == b.stopTimeout
        && a.monitor == b.monitor && a.hold == b.hold && a.logLinesPerSecond == b.logLinesPerSecond
        && a.clientName == b.clientName && a.after == b.after && a.user == b.user && a.group == b.group
        && a.supplementaryGroups == b.supplementaryGroups && a.start == b.start && a.startTimeout == b.startTimeout;
}

bool ConfigReloader::sameWatchdog(const WatchdogSettings &a, const WatchdogSettings &b)
{
    return a.defaultInterval == b.defaultInterval && a.defaultAllowedMisses == b.defaultAllowedMisses
        && a.minInterval == b.minInterval && a.maxInterval == b.maxInterval && a.maxAllowedMisses == b.maxAllowedMisses
        && a.registerGrace == b.registerGrace && a.killGrace == b.killGrace && a.historyNames == b.historyNames
        && a.defaultAction == b.defaultAction && sameRules(a.actionRules, b.actionRules)
        && a.clientSelectableActions == b.clientSelectableActions;
}

ConfigDiff ConfigReloader::diff(const BrokerConfig &running, const BrokerConfig &next)
{
    ConfigDiff diff;

    // Services: a new definition is a new run; the ring's bounds are not a reason to restart.
    for (const ServiceSettings &service : next.services) {
        const ServiceSettings *old = findService(running.services, service.name);
        if (!old)
            diff.servicesAdded.append(service.name);
        else if (!sameService(*old, service, false))
            diff.servicesChanged.append(service.name);
        else if (!sameService(*old, service, true))
            diff.serviceOutputChanged.append(service.name);
    }
    for (const ServiceSettings &service : running.services) {
        if (!findService(next.services, service.name))
            diff.servicesRemoved.append(service.name);
    }
    for (const QString &name : std::as_const(diff.servicesAdded))
        diff.applied.append(QStringLiteral("service ") + name + QStringLiteral(": added"));
    for (const QString &name : std::as_const(diff.servicesRemoved))
        diff.applied.append(QStringLiteral("service ") + name + QStringLiteral(": removed (stopped)"));
    for (const QString &name : std::as_const(diff.servicesChanged))
        diff.applied.append(QStringLiteral("service ") + name + QStringLiteral(": changed (restarted with the new definition)"));
    for (const QString &name : std::as_const(diff.serviceOutputChanged))
        diff.applied.append(QStringLiteral("service ") + name + QStringLiteral(": output_lines/output_bytes (the ring, in place)"));

    diff.watchdogChanged = !sameWatchdog(running.watchdog, next.watchdog);
    if (diff.watchdogChanged)
        diff.applied.append(QStringLiteral("[watchdog]: terms, bounds and actions for registrations from now on "
                                           "(clients already watched keep theirs)"));

    diff.monitorCredentialsChanged = !sameCredentials(running.monitor, next.monitor);
    if (diff.monitorCredentialsChanged)
        diff.applied.append(QStringLiteral("[monitor] token/token_file/allow_local_peers and roles: for monitors admitted "
                                           "from now on (admitted ones stay, with their role)"));
    restartIf(!sameMonitorRest(running.monitor, next.monitor),
              "[monitor] listeners, TLS or admission limits: need a restart", diff);

    const HoldSettings &h0 = running.hold, &h1 = next.hold;
    diff.holdChanged = h0.enabled != h1.enabled || h0.limits.maxCount != h1.limits.maxCount
        || h0.limits.maxBytes != h1.limits.maxBytes || h0.limits.ttl != h1.limits.ttl || h0.lostWindow != h1.lostWindow;
    if (diff.holdChanged)
        diff.applied.append(QStringLiteral("[hold] enabled/limits/ttl/lost_window: for messages held from now on"));
    restartIf(h0.totalBytes != h1.totalBytes || h0.names != h1.names, "[hold] total_bytes or names: need a restart", diff);
    restartIf(!sameHoldOverrides(h0.overrides, h1.overrides) || h0.unacked.maxCount != h1.unacked.maxCount
                  || h0.unacked.maxBytes != h1.unacked.maxBytes,
              "[hold.PATTERN] sections or [hold] unacked_max_count/unacked_max_bytes: need a restart", diff);
    const CallSettings &c0 = running.calls, &c1 = next.calls;
    restartIf(c0.maxOutstanding != c1.maxOutstanding || c0.maxDeadline != c1.maxDeadline || c0.defaultDeadline != c1.defaultDeadline,
              "[calls]: needs a restart", diff);
    restartIf(!sameTopics(running.topics, next.topics), "[topics]: needs a restart", diff);

    diff.logRulesChanged = running.logRules != next.logRules;
    if (diff.logRulesChanged)
        diff.applied.append(QStringLiteral("[log] rules"));

    diff.liveLimitsChanged = running.maxClients != next.maxClients || running.logTraffic != next.logTraffic
        || running.logLinesPerPeer != next.logLinesPerPeer || running.shutdownFlushTimeout != next.shutdownFlushTimeout;
    if (diff.liveLimitsChanged)
        diff.applied.append(QStringLiteral("max_clients, log_traffic, log_lines_per_peer, shutdown_timeout: for new "
                                           "connections and the next stop"));

    restartIf(running.effectiveListen() != next.effectiveListen(), "[broker] listen: needs a restart", diff);
    restartIf(running.maxFrameSize != next.maxFrameSize || running.maxNameLength != next.maxNameLength
                  || running.maxOutputQueueBytes != next.maxOutputQueueBytes,
              "max_frame_size, max_name_length or max_queue_bytes: told to clients at registration; need a restart", diff);
    restartIf(running.registerTimeout != next.registerTimeout
                  || running.incompleteFrameTimeout != next.incompleteFrameTimeout || running.idleTimeout != next.idleTimeout,
              "register_timeout, incomplete_frame_timeout or idle_timeout: need a restart", diff);
    restartIf(running.totalIncompleteFrameBytes != next.totalIncompleteFrameBytes
                  || running.totalQueueBytes != next.totalQueueBytes,
              "memory budgets (total_incomplete_frame_bytes, total_queue_bytes): need a restart", diff);
    // [supervisor] output_lines/output_bytes reach the services through their own settings above.
    restartIf(running.serviceCgroup != next.serviceCgroup, "[supervisor] cgroup: needs a restart", diff);
    return diff;
}

BrokerConfig ConfigReloader::merged(const BrokerConfig &running, const BrokerConfig &next)
{
    BrokerConfig out = running;
    out.services = next.services;
    out.serviceOutputLines = next.serviceOutputLines;
    out.serviceOutputBytes = next.serviceOutputBytes;
    out.watchdog = next.watchdog;
    out.monitor.token = next.monitor.token;
    out.monitor.tokenFile = next.monitor.tokenFile;
    out.monitor.allowLocalPeers = next.monitor.allowLocalPeers;
    out.monitor.readOnlyToken = next.monitor.readOnlyToken; // roles
    out.monitor.readOnlyTokenFile = next.monitor.readOnlyTokenFile;
    out.monitor.operatorUids = next.monitor.operatorUids;
    out.monitor.readOnlyUids = next.monitor.readOnlyUids;
    out.hold.enabled = next.hold.enabled;
    out.hold.limits = next.hold.limits;
    out.hold.lostWindow = next.hold.lostWindow;
    out.logRules = next.logRules;
    out.maxClients = next.maxClients;
    out.logTraffic = next.logTraffic;
    out.logLinesPerPeer = next.logLinesPerPeer;
    out.shutdownFlushTimeout = next.shutdownFlushTimeout;
    return out;
}

} // namespace Kennel
