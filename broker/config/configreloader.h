// What a reload (SIGHUP, a monitor's ReloadConfig) would change: the running BrokerConfig against
// the one just loaded, as a typed diff. Pure: no I/O, no broker, so every rule about what may
// change at run time is tested without a process (tst_configreloader). Broker::reload() applies
// the diff; subsystems that keep settings of their own register a ReloadApplier with the Broker
// (docs/ARCHITECTURE.md, "Reload").
#pragma once

#include "brokerconfig.h"

#include <QString>
#include <QStringList>

namespace Kennel {

struct ConfigDiff
{
    // [service.NAME] by name, in the new config's order (removed: the old config's order).
    QStringList servicesAdded;
    QStringList servicesRemoved;
    QStringList servicesChanged; // a key other than output_lines/output_bytes: restarted
    QStringList serviceOutputChanged; // only output_lines/output_bytes: applied to the ring in place

    bool watchdogChanged = false;      // [watchdog], [watchdog.actions]: new registrations
    bool monitorCredentialsChanged = false; // [monitor] token, token_file, allow_local_peers
    bool holdChanged = false;          // [hold] enabled, limits, ttl, lost window
    bool logRulesChanged = false;      // [log] rules
    bool liveLimitsChanged = false;    // max_clients, log_traffic, log_lines_per_peer, shutdown_timeout

    // One line each, for the log: what the reload applies, and what it leaves until a restart.
    // Appliers (Broker::addReloadApplier) add theirs.
    QStringList applied;
    QStringList needsRestart;

    bool isEmpty() const { return applied.isEmpty() && needsRestart.isEmpty(); }
};

class ConfigReloader
{
public:
    // Compares every setting; fills the typed fields and the lines of the built-in rules.
    static ConfigDiff diff(const BrokerConfig &running, const BrokerConfig &next);

    // `next` with everything that needs a restart taken from `running`: what the broker runs
    // with after a reload, so that the next reload still reports what is still pending.
    static BrokerConfig merged(const BrokerConfig &running, const BrokerConfig &next);

    static bool sameService(const ServiceSettings &a, const ServiceSettings &b, bool compareOutput = true);
    static bool sameWatchdog(const WatchdogSettings &a, const WatchdogSettings &b);
};

} // namespace Kennel
