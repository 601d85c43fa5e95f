// The broker config's schema: the group names, the command-line flag names, the one table of
// numeric keys (each section contributes its rows), and which keys each group knows. Internal to
// ConfigLoader; docs/CONFIG.md is the user-facing description.
#pragma once

#include "brokerconfig.h"
#include "configvalues.h"

#include <QList>
#include <QString>
#include <QStringList>

class QSettings;

namespace Kennel::Config {

inline const QString GroupBroker = QStringLiteral("broker");
inline const QString GroupLimits = QStringLiteral("limits");
inline const QString GroupLog = QStringLiteral("log");
inline const QString GroupWatchdog = QStringLiteral("watchdog");
inline const QString GroupWatchdogActions = QStringLiteral("watchdog.actions");
inline const QString GroupMonitor = QStringLiteral("monitor");
inline const QString GroupSupervisor = QStringLiteral("supervisor");
inline const QString GroupHold = QStringLiteral("hold");
inline const QString GroupCalls = QStringLiteral("calls");
inline const QString GroupPolicy = QStringLiteral("policy"); // access policy: rules are free-named keys
inline const QString ServiceGroupPrefix = QStringLiteral("service.");
inline const QString HoldGroupPrefix = QStringLiteral("hold.");

// The flags that are not rows of the numeric table.
inline const QString OptConfig = QStringLiteral("config");
inline const QString OptListen = QStringLiteral("listen");
inline const QString OptLogTraffic = QStringLiteral("log-traffic");
inline const QString OptCheckConfig = QStringLiteral("check-config");
inline const QString OptMonitorListen = QStringLiteral("monitor-listen");
inline const QString OptMonitorTokenFile = QStringLiteral("monitor-token-file");

// One numeric setting, in the file ([group] iniKey) and on the command line (--flag; nullptr:
// file only).
struct NumericKey
{
    const char *group;
    const char *iniKey;
    const char *flag;
    const char *valueName;
    const char *help;
    ValueKind kind;
    qint64 min;
    qint64 max;
    qint64 (*get)(const BrokerConfig &);
    void (*set)(BrokerConfig &, qint64);
};

// Every section's numeric keys, in the order they are read, checked and listed in --help.
const QList<NumericKey> &numericKeys();
// The rows of one group, in table order.
QStringList numericKeyNames(const QString &group);

QString iniName(const NumericKey &key);
QString flagName(const NumericKey &key);
QString rangeError(const NumericKey &key, const QString &shown, qint64 value);
bool parseNumeric(const NumericKey &key, const QString &text, qint64 *value, QString *why);

bool isServiceGroup(const QString &group);

// The plain groups, in the order a stray key is matched against them, and their keys in the
// order "unknown key" errors list them. [watchdog.actions] and [service.NAME] are known too,
// but their keys are checked where they are read.
const QStringList &knownGroups();
QStringList knownKeysOf(const QString &group);

// Every key QSettings read belongs to a known group and is known there.
void checkKeyNames(const QSettings &settings, QStringList *errors);

} // namespace Kennel::Config
