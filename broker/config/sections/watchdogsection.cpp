#include "watchdogsection.h"

#include <QSettings>

#include <algorithm>
#include <iterator>

namespace Kennel::Config {

namespace {

// A bound on what one file may declare, like MaxServices (servicessection.cpp): far above any
// real device, low enough that a generated or corrupted file is refused.
constexpr int MaxActionRules = 1024;

const QString KeyAction = QStringLiteral("action");
const QString KeyClientActions = QStringLiteral("client_actions");
const QString None = QStringLiteral("none");

const NumericKey watchdogTable[] = {
    // The watchdog's outer bounds are the deadline engine's (DeadlineEngine::MaxInterval, MaxGrace,
    // MaxAllowedMisses): a day, 100000 misses. crossCheck() ties the defaults to min/max.
    {"watchdog", "default_interval_ms", "watchdog-interval", "MS",
     "Watchdog interval for clients that ask for none and for every legacy client", ValueKind::Millis, 1, 86400000,
     [](const BrokerConfig &c) -> qint64 { return c.watchdog.defaultInterval.count(); },
     [](BrokerConfig &c, qint64 v) { c.watchdog.defaultInterval = std::chrono::milliseconds(v); }},
    {"watchdog", "default_allowed_misses", "watchdog-misses", "N",
     "Intervals such a client may miss before it expires", ValueKind::Count, 1, 100000,
     [](const BrokerConfig &c) -> qint64 { return c.watchdog.defaultAllowedMisses; },
     [](BrokerConfig &c, qint64 v) { c.watchdog.defaultAllowedMisses = int(v); }},
    {"watchdog", "min_interval_ms", nullptr, nullptr, nullptr, ValueKind::Millis, 1, 86400000,
     [](const BrokerConfig &c) -> qint64 { return c.watchdog.minInterval.count(); },
     [](BrokerConfig &c, qint64 v) { c.watchdog.minInterval = std::chrono::milliseconds(v); }},
    {"watchdog", "max_interval_ms", nullptr, nullptr, nullptr, ValueKind::Millis, 1, 86400000,
     [](const BrokerConfig &c) -> qint64 { return c.watchdog.maxInterval.count(); },
     [](BrokerConfig &c, qint64 v) { c.watchdog.maxInterval = std::chrono::milliseconds(v); }},
    {"watchdog", "max_allowed_misses", nullptr, nullptr, nullptr, ValueKind::Count, 1, 100000,
     [](const BrokerConfig &c) -> qint64 { return c.watchdog.maxAllowedMisses; },
     [](BrokerConfig &c, qint64 v) { c.watchdog.maxAllowedMisses = int(v); }},
    {"watchdog", "register_grace_ms", nullptr, nullptr, nullptr, ValueKind::Millis, 0, 86400000,
     [](const BrokerConfig &c) -> qint64 { return c.watchdog.registerGrace.count(); },
     [](BrokerConfig &c, qint64 v) { c.watchdog.registerGrace = std::chrono::milliseconds(v); }},
    {"watchdog", "kill_grace_ms", "watchdog-kill-grace", "MS",
     "After SIGTERM to an expired client, time before SIGKILL", ValueKind::Millis, 0, 3600000,
     [](const BrokerConfig &c) -> qint64 { return c.watchdog.killGrace.count(); },
     [](BrokerConfig &c, qint64 v) { c.watchdog.killGrace = std::chrono::milliseconds(v); }},
    // At least 16, so that the quarter forgotten at the cap is a few names and one pass over the
    // watched names serves several registrations; at most 1M names, a few hundred MB of history
    // (a 64-byte name, its counters and last outcome text): beyond any board, so a value past it
    // is a typo (a digit too many), not a wish.
    {"watchdog", "history_names", nullptr, nullptr, nullptr, ValueKind::Count, 16, 1048576,
     [](const BrokerConfig &c) -> qint64 { return c.watchdog.historyNames; },
     [](BrokerConfig &c, qint64 v) { c.watchdog.historyNames = int(v); }},
};

std::optional<WatchdogAction> actionValue(const QString &key, const QString &text, QStringList *errors)
{
    const std::optional<WatchdogAction> action = parseWatchdogAction(text);
    if (!action) {
        errors->append(key + QStringLiteral(": ") + quoted(text)
                       + QStringLiteral(" is not an action (terminate, kill, disconnect, notify)"));
    }
    return action;
}

bool isCatchAll(const QString &pattern)
{
    return std::all_of(pattern.begin(), pattern.end(), [](QChar c) { return c == QLatin1Char('*'); });
}

} // namespace

const QList<NumericKey> &watchdogNumericKeys()
{
    static const QList<NumericKey> keys(std::begin(watchdogTable), std::end(watchdogTable));
    return keys;
}

QStringList watchdogKeys()
{
    return numericKeyNames(GroupWatchdog) + QStringList{KeyAction, KeyClientActions};
}

bool isWatchdogKey(const NumericKey &key)
{
    return GroupWatchdog == QLatin1String(key.group);
}

QStringList watchdogCrossCheck(const WatchdogSettings &w)
{
    QStringList errors;
    const QString prefix = GroupWatchdog + QLatin1Char('/');
    const auto key = [&prefix](const char *name) -> QString { return prefix + QLatin1String(name); };
    if (w.maxInterval < w.minInterval) {
        errors.append(orderError(key("max_interval_ms"), w.maxInterval.count(), key("min_interval_ms"),
                                 w.minInterval.count()));
    } else if (w.defaultInterval < w.minInterval) {
        errors.append(orderError(key("default_interval_ms"), w.defaultInterval.count(), key("min_interval_ms"),
                                 w.minInterval.count()));
    } else if (w.defaultInterval > w.maxInterval) {
        errors.append(orderError(key("max_interval_ms"), w.maxInterval.count(), key("default_interval_ms"),
                                 w.defaultInterval.count()));
    }
    if (w.maxAllowedMisses < w.defaultAllowedMisses) {
        errors.append(orderError(key("max_allowed_misses"), w.maxAllowedMisses, key("default_allowed_misses"),
                                 w.defaultAllowedMisses));
    }
    return errors;
}

QStringList checkActionRules(const QList<WatchdogActionRule> &rules)
{
    QStringList errors;
    const QString prefix = GroupWatchdogActions + QLatin1Char('/');
    if (rules.size() > MaxActionRules) {
        errors.append(QLatin1Char('[') + GroupWatchdogActions + QStringLiteral("]: ") + QString::number(rules.size())
                      + QStringLiteral(" rules; at most ") + QString::number(MaxActionRules));
    }
    QString catchAll;
    for (const WatchdogActionRule &rule : rules) {
        const QString key = prefix + rule.namePattern;
        if (!WatchdogActionRule::isValidPattern(rule.namePattern)) {
            errors.append(key + QStringLiteral(": ") + quoted(rule.namePattern)
                          + QStringLiteral(" is not a client name pattern (1..")
                          + QString::number(WatchdogActionRule::MaxPatternLength)
                          + QStringLiteral(" characters of A-Z a-z 0-9 . _ - and the wildcards * and ?)"));
            continue;
        }
        // First match wins, so a rule after a catch-all is dead: most likely the order is wrong.
        if (!catchAll.isEmpty()) {
            errors.append(key + QStringLiteral(": never used: the earlier rule ") + quoted(catchAll)
                          + QStringLiteral(" matches every name"));
            continue;
        }
        if (isCatchAll(rule.namePattern))
            catchAll = rule.namePattern;
    }
    return errors;
}

void applyWatchdog(const QSettings &settings, const IniLayout &layout, Pass &pass)
{
    const QString actionKey = GroupWatchdog + QLatin1Char('/') + KeyAction;
    if (settings.contains(actionKey)) {
        if (const std::optional<QString> text = singleValue(settings, actionKey, &pass.errors)) {
            if (const std::optional<WatchdogAction> action = actionValue(actionKey, *text, &pass.errors))
                pass.config.watchdog.defaultAction = *action;
        }
    }

    // Taken whole or not at all, like listen.
    const QString clientKey = GroupWatchdog + QLatin1Char('/') + KeyClientActions;
    if (settings.contains(clientKey)) {
        const std::optional<QStringList> items = valueItems(settings.value(clientKey));
        if (!items) {
            pass.errors.append(clientKey + QStringLiteral(": not a plain value"));
        } else {
            QStringList names;
            for (const QString &item : *items)
                names.append(item.trimmed());
            QList<WatchdogAction> actions;
            bool ok = true;
            if (names == QStringList{QString()}) {
                pass.errors.append(clientKey + QStringLiteral(": no action given; write \"none\" if clients may not choose"));
                ok = false;
            } else if (names != QStringList{None}) {
                for (const QString &name : std::as_const(names)) {
                    if (name == None) {
                        pass.errors.append(clientKey + QStringLiteral(": \"none\" cannot be combined with actions"));
                        ok = false;
                        continue;
                    }
                    const std::optional<WatchdogAction> action = actionValue(clientKey, name, &pass.errors);
                    if (!action) {
                        ok = false;
                    } else if (actions.contains(*action)) {
                        pass.errors.append(clientKey + QStringLiteral(": ") + quoted(name) + QStringLiteral(" is listed twice"));
                        ok = false;
                    } else {
                        actions.append(*action);
                    }
                }
            }
            if (ok)
                pass.config.watchdog.clientSelectableActions = actions;
        }
    }

    // The rules come in file order from the layout: QSettings would hand them back sorted.
    if (!layout.groups.contains(GroupWatchdogActions))
        return;
    const QString prefix = GroupWatchdogActions + QLatin1Char('/');
    QList<WatchdogActionRule> rules;
    bool ok = true;
    for (const QString &key : layout.keys) {
        if (!key.startsWith(prefix))
            continue;
        WatchdogActionRule rule;
        rule.namePattern = key.mid(prefix.size());
        // A pattern outside the alphabet may not even be the key QSettings stored (it unescapes
        // '%' and '\'); checkActionRules() reports it, so do not look its value up.
        if (WatchdogActionRule::isValidPattern(rule.namePattern)) {
            const std::optional<QString> text = singleValue(settings, key, &pass.errors);
            const std::optional<WatchdogAction> action = text ? actionValue(key, *text, &pass.errors) : std::nullopt;
            if (!action) {
                ok = false;
                continue;
            }
            rule.action = *action;
        }
        rules.append(rule);
    }
    const QStringList ruleErrors = checkActionRules(rules);
    pass.errors += ruleErrors;
    if (ok && ruleErrors.isEmpty())
        pass.config.watchdog.actionRules = rules;
}

} // namespace Kennel::Config
