#include "configschema.h"

#include "sections/bridgesection.h"
#include "sections/bridgetopicssection.h"
#include "sections/brokersection.h"
#include "sections/callssection.h"
#include "sections/holdsection.h"
#include "sections/limitssection.h"
#include "sections/logsection.h"
#include "sections/monitorsection.h"
#include "sections/servicessection.h"
#include "sections/supervisorsection.h"
#include "sections/topicssection.h"
#include "sections/watchdogsection.h"

#include <QSettings>

namespace Kennel::Config {

namespace {

// One row per plain group: a new section adds its row here, its file under sections/, and its
// read/flag/validate calls in ConfigLoader's layers (configloader.cpp).
struct GroupKeys
{
    const QString &group;
    QStringList (*keys)();
};

const GroupKeys groupKeys[] = {
    {GroupBroker, brokerKeys},     {GroupLimits, limitsKeys},   {GroupLog, logKeys},
    {GroupWatchdog, watchdogKeys}, {GroupMonitor, monitorKeys}, {GroupSupervisor, supervisorKeys},
    {GroupHold, holdKeys},
    {GroupCalls, callsKeys},
    {GroupBridge, bridgeKeys},
    {GroupTopics, topicsKeys},
};

const QString UnknownGroupHint = QStringLiteral(
    "]: unknown group (known: [broker], [limits], [log], [watchdog], [watchdog.actions], [supervisor], [service.NAME], [monitor], [hold], [hold.PATTERN], [calls], [bridge], [topics], [policy])");

} // namespace

const QList<NumericKey> &numericKeys()
{
    static const QList<NumericKey> keys =
        limitsNumericKeys() + logNumericKeys() + watchdogNumericKeys() + monitorNumericKeys() + holdNumericKeys()
        + callsNumericKeys()
        + bridgeNumericKeys()
        + bridgeTopicsNumericKeys()
        + topicsNumericKeys()
        + supervisorNumericKeys();
    return keys;
}

QStringList numericKeyNames(const QString &group)
{
    QStringList names;
    for (const NumericKey &key : numericKeys()) {
        if (group == QLatin1String(key.group))
            names.append(QLatin1String(key.iniKey));
    }
    return names;
}

QString iniName(const NumericKey &key)
{
    return QLatin1String(key.group) + QLatin1Char('/') + QLatin1String(key.iniKey);
}

QString flagName(const NumericKey &key)
{
    return QStringLiteral("--") + QLatin1String(key.flag);
}

QString rangeError(const NumericKey &key, const QString &shown, qint64 value)
{
    return rangeError(key.kind, key.min, key.max, shown, value);
}

bool parseNumeric(const NumericKey &key, const QString &text, qint64 *value, QString *why)
{
    if (isBytes(key.kind)) {
        if (!parseSize(text, value)) {
            *why = quoted(text) + QStringLiteral(" is not a size (a whole number of bytes, optionally with suffix k, M or G)");
            return false;
        }
    } else if (!parseWhole(text, value)) {
        *why = quoted(text) + QStringLiteral(" is not a whole number");
        return false;
    }
    *why = rangeError(key, text, *value);
    return why->isEmpty();
}

bool isServiceGroup(const QString &group)
{
    return group.startsWith(ServiceGroupPrefix) && group.size() > ServiceGroupPrefix.size();
}

const QStringList &knownGroups()
{
    static const QStringList groups = [] {
        QStringList list;
        for (const GroupKeys &row : groupKeys)
            list.append(row.group);
        return list;
    }();
    return groups;
}

QStringList knownKeysOf(const QString &group)
{
    for (const GroupKeys &row : groupKeys) {
        if (row.group == group)
            return row.keys();
    }
    return {};
}

void checkKeyNames(const QSettings &settings, QStringList *errors)
{
    QStringList unknownGroups;
    for (const QString &key : settings.allKeys()) {
        const qsizetype slash = key.indexOf(QLatin1Char('/'));
        if (slash < 0) {
            QString hint;
            // The first group that has it: "listen" is [broker]'s before it is [monitor]'s.
            for (const QString &group : knownGroups()) {
                if (knownKeysOf(group).contains(key)) {
                    hint = QStringLiteral(" (it belongs in [") + group + QStringLiteral("])");
                    break;
                }
            }
            errors->append(key + QStringLiteral(": key outside any [group]") + hint);
            continue;
        }
        const QString group = key.left(slash);
        const QString name = key.mid(slash + 1);
        // Its keys are name patterns, checked as they are read.
        if (group == GroupWatchdogActions || group == GroupPolicy)
            continue;
        if (isServiceGroup(group)) {
            if (!serviceKeys().contains(name)) {
                errors->append(key + QStringLiteral(": unknown key (keys in [service.NAME]: ")
                               + serviceKeys().join(QStringLiteral(", ")) + QLatin1Char(')'));
            }
            continue;
        }
        // [hold.PATTERN]: a name pattern's own bounds, checked as they are read (holdsection).
        if (group.startsWith(HoldGroupPrefix) && group.size() > HoldGroupPrefix.size()) {
            static const QStringList patternKeys{QStringLiteral("max_count"), QStringLiteral("max_bytes"), QStringLiteral("ttl_ms")};
            if (!patternKeys.contains(name))
                errors->append(key + QStringLiteral(": unknown key (keys in [hold.PATTERN]: ") + patternKeys.join(QStringLiteral(", ")) + QLatin1Char(')'));
            continue;
        }
        if (!knownGroups().contains(group)) {
            if (!unknownGroups.contains(group))
                unknownGroups.append(group);
            continue;
        }
        const QStringList known = knownKeysOf(group);
        if (!known.contains(name)) {
            errors->append(key + QStringLiteral(": unknown key (keys in [") + group + QStringLiteral("]: ")
                           + known.join(QStringLiteral(", ")) + QLatin1Char(')'));
        }
    }
    for (const QString &group : std::as_const(unknownGroups))
        errors->append(QLatin1Char('[') + group + UnknownGroupHint);
}

} // namespace Kennel::Config
