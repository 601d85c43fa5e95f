#include "servicessection.h"

#include "names.h"
#include "serviceaccount.h"
#include "servicegraph.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QSet>
#include <QSettings>

#include <unistd.h>

#include <algorithm>
#include <csignal>

namespace Kennel::Config {

namespace {

// Bounds on what one file may declare: far above any real device, low enough that a generated
// or corrupted file cannot make the broker start thousands of processes.
constexpr int MaxServices = 256;
constexpr int MaxServiceArguments = 1024;
constexpr int MaxServiceEnvironment = 1024;

const QString KeyProgram = QStringLiteral("program");
const QString KeyArguments = QStringLiteral("arguments");
const QString KeyWorkingDirectory = QStringLiteral("working_directory");
const QString KeyEnvironment = QStringLiteral("environment");
const QString KeyRestart = QStringLiteral("restart");
const QString KeyStopSignal = QStringLiteral("stop_signal");
const QString KeyServiceMonitor = QStringLiteral("monitor");
// Order and identity: read by readServiceOrderAndIdentity().
const QString KeyServiceName = QStringLiteral("name");
const QString KeyAfter = QStringLiteral("after");
const QString KeyUser = QStringLiteral("user");
const QString KeyGroup = QStringLiteral("group");
const QString KeySupplementaryGroups = QStringLiteral("supplementary_groups");
const QString KeyServiceHold = QStringLiteral("hold"); // held delivery ([hold]): expected back while it restarts
// Start on demand: read by readServiceStart().
const QString KeyStart = QStringLiteral("start");
const QString KeyStartTimeout = QStringLiteral("start_timeout_ms");
constexpr qint64 MinStartTimeoutMs = 100;
constexpr qint64 MaxStartTimeoutMs = 3600000;
// Names reserved for the service: read by readServiceNames().
const QString KeyServiceNames = QStringLiteral("names");
constexpr int MaxReservedNames = 64;

// The numeric keys of a [service.NAME] group; file only.
struct ServiceNumericKey
{
    const char *iniKey;
    qint64 min;
    qint64 max;
    qint64 (*get)(const ServiceSettings &);
    void (*set)(ServiceSettings &, qint64);
};

// Restart storms are impossible: at least MinRestartDelayMs between a failure and the
// next start, a start-limit window of at least MinStartLimitWindowMs, and (checkService) a
// window long enough that start_limit starts of a service failing at once fall inside it.
constexpr qint64 MinRestartDelayMs = 100;
constexpr qint64 MinStartLimitWindowMs = 1000;

const ServiceNumericKey serviceNumericKeys[] = {
    {"restart_delay_ms", MinRestartDelayMs, 3600000, [](const ServiceSettings &s) -> qint64 { return s.restartDelay.count(); },
     [](ServiceSettings &s, qint64 v) { s.restartDelay = std::chrono::milliseconds(v); }},
    {"restart_delay_max_ms", MinRestartDelayMs, 86400000, [](const ServiceSettings &s) -> qint64 { return s.restartDelayMax.count(); },
     [](ServiceSettings &s, qint64 v) { s.restartDelayMax = std::chrono::milliseconds(v); }},
    {"start_limit", 1, 1000, [](const ServiceSettings &s) -> qint64 { return s.startLimit; },
     [](ServiceSettings &s, qint64 v) { s.startLimit = int(v); }},
    {"start_limit_window_ms", MinStartLimitWindowMs, 86400000, [](const ServiceSettings &s) -> qint64 { return s.startLimitWindow.count(); },
     [](ServiceSettings &s, qint64 v) { s.startLimitWindow = std::chrono::milliseconds(v); }},
    {"stop_timeout_ms", 0, 3600000, [](const ServiceSettings &s) -> qint64 { return s.stopTimeout.count(); },
     [](ServiceSettings &s, qint64 v) { s.stopTimeout = std::chrono::milliseconds(v); }},
    {"log_lines_per_second", 1, 100000, [](const ServiceSettings &s) -> qint64 { return s.logLinesPerSecond; },
     [](ServiceSettings &s, qint64 v) { s.logLinesPerSecond = int(v); }},
    // Its output ring; unset: [supervisor] output_lines / output_bytes.
    {"output_lines", 0, 1000000, [](const ServiceSettings &s) -> qint64 { return s.outputLines; },
     [](ServiceSettings &s, qint64 v) { s.outputLines = int(v); }},
    {"output_bytes", 4096, qint64(64) * 1024 * 1024, [](const ServiceSettings &s) -> qint64 { return s.outputBytes; },
     [](ServiceSettings &s, qint64 v) { s.outputBytes = v; }},
};

QString serviceKey(const QString &serviceName, const QString &key)
{
    return ServiceGroupPrefix + serviceName + QLatin1Char('/') + key;
}

bool isEnvironmentName(QStringView name)
{
    if (name.isEmpty() || (name.front() >= QLatin1Char('0') && name.front() <= QLatin1Char('9')))
        return false;
    return std::all_of(name.begin(), name.end(), [](QChar c) {
        return (c >= QLatin1Char('A') && c <= QLatin1Char('Z')) || (c >= QLatin1Char('a') && c <= QLatin1Char('z'))
               || (c >= QLatin1Char('0') && c <= QLatin1Char('9')) || c == QLatin1Char('_');
    });
}

bool isValidServiceName(const QString &name)
{
    return isAscii(name) && isValidName(QByteArrayView(name.toLatin1()));
}

QString invalidServiceName(const QString &name)
{
    return QStringLiteral("[service.") + name + QStringLiteral("]: ") + quoted(name)
           + QStringLiteral(" is not a valid service name (1..64 characters of A-Z a-z 0-9 . _ -)");
}

// Everything about one service that does not depend on how it was written: used on what the
// file produced (after relative paths were resolved) and by validate() on a config built in code.
// unread: keys whose value could not be read (already reported); their default is not judged.
void checkService(const ServiceSettings &service, QStringList *errors, const QSet<QString> &unread = {})
{
    const QString &name = service.name;
    if (!isValidServiceName(name)) {
        errors->append(invalidServiceName(name));
        return;
    }

    const QString programKey = serviceKey(name, KeyProgram);
    if (unread.contains(KeyProgram)) {
        // reported
    } else if (service.program.isEmpty()) {
        errors->append(programKey + QStringLiteral(": required: the program to run"));
    } else if (!QDir::isAbsolutePath(service.program)) {
        errors->append(programKey + QStringLiteral(": ") + quoted(service.program) + QStringLiteral(" is not an absolute path"));
    } else {
        const QFileInfo info(service.program);
        QString why;
        if (!info.exists())
            why = QStringLiteral("no such file");
        else if (info.isDir())
            why = QStringLiteral("is a directory");
        else if (::access(QFile::encodeName(service.program).constData(), X_OK) != 0)
            why = QStringLiteral("is not executable");
        if (!why.isEmpty())
            errors->append(programKey + QStringLiteral(": ") + quoted(service.program) + QStringLiteral(": ") + why);
    }

    if (!service.workingDirectory.isEmpty()) {
        const QString key = serviceKey(name, KeyWorkingDirectory);
        const QFileInfo info(service.workingDirectory);
        QString why;
        if (!QDir::isAbsolutePath(service.workingDirectory))
            why = QStringLiteral("is not an absolute path");
        else if (!info.exists())
            why = QStringLiteral("no such directory");
        else if (!info.isDir())
            why = QStringLiteral("is not a directory");
        if (!why.isEmpty())
            errors->append(key + QStringLiteral(": ") + quoted(service.workingDirectory) + QStringLiteral(": ") + why);
    }

    const QString argumentsKey = serviceKey(name, KeyArguments);
    if (service.arguments.size() > MaxServiceArguments) {
        errors->append(argumentsKey + QStringLiteral(": ") + QString::number(service.arguments.size())
                       + QStringLiteral(" arguments; at most ") + QString::number(MaxServiceArguments));
    }
    for (const QString &argument : service.arguments) {
        // execve() takes C strings: a NUL would silently cut the argument short.
        if (argument.contains(QChar(0)))
            errors->append(argumentsKey + QStringLiteral(": an argument contains a NUL character"));
    }

    const QString environmentKey = serviceKey(name, KeyEnvironment);
    if (service.environment.size() > MaxServiceEnvironment) {
        errors->append(environmentKey + QStringLiteral(": ") + QString::number(service.environment.size())
                       + QStringLiteral(" variables; at most ") + QString::number(MaxServiceEnvironment));
    }
    QSet<QString> variables;
    for (const QString &entry : service.environment) {
        const qsizetype equals = entry.indexOf(QLatin1Char('='));
        const QString variable = equals < 0 ? entry : entry.left(equals);
        if (equals < 0 || !isEnvironmentName(variable) || entry.contains(QChar(0))) {
            errors->append(environmentKey + QStringLiteral(": ") + quoted(entry)
                           + QStringLiteral(" is not NAME=VALUE (NAME: letters, digits and _, not starting with a digit)"));
        } else if (variables.contains(variable)) {
            errors->append(environmentKey + QStringLiteral(": ") + quoted(variable) + QStringLiteral(" is set twice"));
        } else {
            variables.insert(variable);
        }
    }

    bool delaysOk = !unread.contains(QStringLiteral("restart_delay_ms"))
                    && !unread.contains(QStringLiteral("restart_delay_max_ms"));
    bool allInRange = true;
    for (const ServiceNumericKey &key : serviceNumericKeys) {
        if (unread.contains(QLatin1String(key.iniKey))) {
            allInRange = false;
            continue;
        }
        const qint64 value = key.get(service);
        const QString why = rangeError(ValueKind::Millis, key.min, key.max, QString::number(value), value);
        if (!why.isEmpty()) {
            allInRange = false;
            errors->append(serviceKey(name, QLatin1String(key.iniKey)) + QStringLiteral(": ") + why);
            if (qstrcmp(key.iniKey, "restart_delay_ms") == 0 || qstrcmp(key.iniKey, "restart_delay_max_ms") == 0)
                delaysOk = false;
        }
    }
    if (delaysOk && service.restartDelayMax < service.restartDelay) {
        errors->append(orderError(serviceKey(name, QStringLiteral("restart_delay_max_ms")), service.restartDelayMax.count(),
                                  serviceKey(name, QStringLiteral("restart_delay_ms")), service.restartDelay.count()));
    } else if (allInRange) {
        // The time start_limit starts of a program that fails at once take: the backoff delays
        // between them (doubling from restart_delay, capped at restart_delay_max). If that does
        // not fit in the window the limit can never bite and the service restarts forever.
        qint64 span = 0;
        qint64 delay = service.restartDelay.count();
        for (int i = 1; i < service.startLimit && span < service.startLimitWindow.count(); ++i) {
            span += std::min(delay, qint64(service.restartDelayMax.count()));
            delay = std::min(delay * 2, qint64(service.restartDelayMax.count()));
        }
        if (span >= service.startLimitWindow.count()) {
            errors->append(serviceKey(name, QStringLiteral("start_limit_window_ms")) + QStringLiteral(": ")
                           + QString::number(service.startLimitWindow.count())
                           + QStringLiteral(" is too short: %1 starts of a program that fails at once take at least %2 ms "
                                            "(restart_delay_ms %3, doubling up to restart_delay_max_ms %4), so start_limit "
                                            "would never be reached and the service would restart forever")
                                 .arg(service.startLimit)
                                 .arg(span)
                                 .arg(service.restartDelay.count())
                                 .arg(service.restartDelayMax.count()));
        }
    }

    if (!unread.contains(KeyStopSignal) && (service.stopSignal < 1 || service.stopSignal > SIGRTMAX)) {
        errors->append(serviceKey(name, KeyStopSignal) + QStringLiteral(": ") + QString::number(service.stopSignal)
                       + QStringLiteral(" is not a signal number (1..") + QString::number(SIGRTMAX) + QLatin1Char(')'));
    }
}

// The syntax of one [service.NAME] group. A key whose value cannot be read is reported, left at
// its default and named in *unread; checkService() judges the rest.
ServiceSettings readService(const QSettings &settings, const QString &name, const QDir &configDir, QStringList *errors,
                            QSet<QString> *unread)
{
    ServiceSettings service;
    service.name = name;

    const QString programKey = serviceKey(name, KeyProgram);
    if (settings.contains(programKey)) {
        if (const std::optional<QString> text = singleValue(settings, programKey, errors)) {
            // No PATH search: what runs on a device must not depend on the environment the
            // broker was started from. Empty stays empty: checkService() says it is required.
            if (!text->isEmpty())
                service.program = QDir::cleanPath(configDir.absoluteFilePath(*text));
        } else {
            unread->insert(KeyProgram);
        }
    }

    const QString argumentsKey = serviceKey(name, KeyArguments);
    if (settings.contains(argumentsKey)) {
        if (const std::optional<QStringList> items = listValue(settings, argumentsKey, errors))
            service.arguments = *items;
        else
            unread->insert(KeyArguments);
    }

    const QString directoryKey = serviceKey(name, KeyWorkingDirectory);
    if (settings.contains(directoryKey)) {
        if (const std::optional<QString> text = singleValue(settings, directoryKey, errors)) {
            if (!text->isEmpty())
                service.workingDirectory = QDir::cleanPath(configDir.absoluteFilePath(*text));
        } else {
            unread->insert(KeyWorkingDirectory);
        }
    }

    const QString environmentKey = serviceKey(name, KeyEnvironment);
    if (settings.contains(environmentKey)) {
        if (const std::optional<QStringList> items = listValue(settings, environmentKey, errors)) {
            for (const QString &item : *items)
                service.environment.append(item.trimmed());
        } else {
            unread->insert(KeyEnvironment);
        }
    }

    const QString restartKey = serviceKey(name, KeyRestart);
    if (settings.contains(restartKey)) {
        const std::optional<QString> text = singleValue(settings, restartKey, errors);
        const std::optional<ServiceSettings::Restart> restart = text ? parseRestartPolicy(*text) : std::nullopt;
        if (restart) {
            service.restart = *restart;
        } else {
            if (text) {
                errors->append(restartKey + QStringLiteral(": ") + quoted(*text)
                               + QStringLiteral(" is not a restart policy (always, on-failure, never)"));
            }
            unread->insert(KeyRestart);
        }
    }

    for (const ServiceNumericKey &key : serviceNumericKeys) {
        const QString fullKey = serviceKey(name, QLatin1String(key.iniKey));
        if (!settings.contains(fullKey))
            continue;
        const std::optional<QString> text = singleValue(settings, fullKey, errors);
        qint64 value = 0;
        if (text && parseWhole(*text, &value)) {
            key.set(service, value);
            continue;
        }
        if (text)
            errors->append(fullKey + QStringLiteral(": ") + quoted(*text) + QStringLiteral(" is not a whole number"));
        unread->insert(QLatin1String(key.iniKey));
    }

    const QString signalKey = serviceKey(name, KeyStopSignal);
    if (settings.contains(signalKey)) {
        const std::optional<QString> text = singleValue(settings, signalKey, errors);
        const std::optional<int> signal = text ? parseSignal(*text) : std::nullopt;
        if (signal) {
            service.stopSignal = *signal;
        } else {
            if (text) {
                errors->append(signalKey + QStringLiteral(": ") + quoted(*text)
                               + QStringLiteral(" is not a signal (TERM, INT, HUP, QUIT, USR1, USR2, KILL or a number 1..")
                               + QString::number(SIGRTMAX) + QStringLiteral(")"));
            }
            unread->insert(KeyStopSignal);
        }
    }

    const QString monitorKeyName = serviceKey(name, KeyServiceMonitor);
    if (settings.contains(monitorKeyName)) {
        const std::optional<QString> text = singleValue(settings, monitorKeyName, errors);
        if (!text || !parseBool(*text, &service.monitor)) {
            if (text) {
                errors->append(monitorKeyName + QStringLiteral(": ") + quoted(*text)
                               + QStringLiteral(" is not a boolean (true/false, yes/no, on/off, 1/0)"));
            }
            unread->insert(KeyServiceMonitor);
        }
    }

    const QString holdKeyName = serviceKey(name, KeyServiceHold);
    if (settings.contains(holdKeyName)) {
        const std::optional<QString> text = singleValue(settings, holdKeyName, errors);
        if (!text || !parseBool(*text, &service.hold)) {
            if (text) {
                errors->append(holdKeyName + QStringLiteral(": ") + quoted(*text)
                               + QStringLiteral(" is not a boolean (true/false, yes/no, on/off, 1/0)"));
            }
            unread->insert(KeyServiceHold);
        }
    }
    return service;
}

// ---- order and identity: name, after, user, group, supplementary_groups ----
// The graph and the accounts are judged by the rules the supervisor uses too (ServiceGraph,
// ServiceAccount), so that the loader and the supervisor agree.

void readServiceOrderAndIdentity(const QSettings &settings, ServiceSettings &service, QStringList *errors,
                                 QSet<QString> *unread)
{
    const auto readText = [&](const QString &key, QString *out) {
        const QString fullKey = serviceKey(service.name, key);
        if (!settings.contains(fullKey))
            return;
        if (const std::optional<QString> text = singleValue(settings, fullKey, errors))
            *out = *text;
        else
            unread->insert(key);
    };
    const auto readList = [&](const QString &key, QStringList *out) {
        const QString fullKey = serviceKey(service.name, key);
        if (!settings.contains(fullKey))
            return;
        if (const std::optional<QStringList> items = listValue(settings, fullKey, errors)) {
            for (const QString &item : *items)
                out->append(item.trimmed());
        } else {
            unread->insert(key);
        }
    };
    readText(KeyServiceName, &service.clientName);
    readList(KeyAfter, &service.after);
    readText(KeyUser, &service.user);
    readText(KeyGroup, &service.group);
    readList(KeySupplementaryGroups, &service.supplementaryGroups);
}

void checkServiceOrderAndIdentity(const ServiceSettings &service, QStringList *errors)
{
    if (!service.clientName.isEmpty() && !isValidServiceName(service.clientName)) {
        errors->append(serviceKey(service.name, KeyServiceName) + QStringLiteral(": ") + quoted(service.clientName)
                       + QStringLiteral(" is not a client name (1..64 characters of A-Z a-z 0-9 . _ -)"));
    }
    for (const QString &name : service.after) {
        if (!isValidServiceName(name))
            errors->append(serviceKey(service.name, KeyAfter) + QStringLiteral(": ") + quoted(name)
                           + QStringLiteral(" is not a service name"));
    }
    QString error;
    if (!ServiceAccount::resolve(service, &error))
        errors->append(error);
}

// ---- end of order and identity ----

// ---- start on demand: start, start_timeout_ms ----

void readServiceStart(const QSettings &settings, ServiceSettings &service, QStringList *errors, QSet<QString> *unread)
{
    const QString startKey = serviceKey(service.name, KeyStart);
    if (settings.contains(startKey)) {
        const std::optional<QString> text = singleValue(settings, startKey, errors);
        if (text && *text == QLatin1String("with-broker")) {
            service.start = ServiceSettings::Start::WithBroker;
        } else if (text && *text == QLatin1String("on-demand")) {
            service.start = ServiceSettings::Start::OnDemand;
        } else {
            if (text)
                errors->append(startKey + QStringLiteral(": ") + quoted(*text)
                               + QStringLiteral(" is not a start mode (with-broker or on-demand)"));
            unread->insert(KeyStart);
        }
    }
    const QString timeoutKey = serviceKey(service.name, KeyStartTimeout);
    if (settings.contains(timeoutKey)) {
        const std::optional<QString> text = singleValue(settings, timeoutKey, errors);
        bool ok = false;
        const qint64 value = text ? text->toLongLong(&ok) : 0;
        if (ok && value >= MinStartTimeoutMs && value <= MaxStartTimeoutMs) {
            service.startTimeout = std::chrono::milliseconds(value);
        } else {
            if (text)
                errors->append(timeoutKey + QStringLiteral(": ") + quoted(*text) + QStringLiteral(" is not a number in ")
                               + QString::number(MinStartTimeoutMs) + QStringLiteral("..")
                               + QString::number(MaxStartTimeoutMs));
            unread->insert(KeyStartTimeout);
        }
    }
}

void checkServiceStart(const ServiceSettings &service, QStringList *errors)
{
    if (service.startTimeout.count() < MinStartTimeoutMs || service.startTimeout.count() > MaxStartTimeoutMs)
        errors->append(serviceKey(service.name, KeyStartTimeout) + QStringLiteral(": ")
                       + QString::number(service.startTimeout.count()) + QStringLiteral(" is not in ")
                       + QString::number(MinStartTimeoutMs) + QStringLiteral("..") + QString::number(MaxStartTimeoutMs));
    // Only a held message starts it: without holding nothing ever would.
    if (service.start == ServiceSettings::Start::OnDemand && !service.hold)
        errors->append(serviceKey(service.name, KeyStart)
                       + QStringLiteral(": on-demand needs hold = true (a held message is what starts it)"));
}

// ---- end of start on demand ----

// ---- names reserved for the service: names ----

void readServiceNames(const QSettings &settings, ServiceSettings &service, QStringList *errors)
{
    const QString fullKey = serviceKey(service.name, KeyServiceNames);
    if (!settings.contains(fullKey))
        return;
    if (const std::optional<QStringList> items = listValue(settings, fullKey, errors)) {
        QStringList names;
        for (const QString &item : *items)
            names.append(item.trimmed());
        service.reservedNames = names;
    }
}

void checkServiceNames(const ServiceSettings &service, QStringList *errors)
{
    if (!service.reservedNames)
        return;
    if (service.reservedNames->size() > MaxReservedNames)
        errors->append(serviceKey(service.name, KeyServiceNames) + QStringLiteral(": more than ")
                       + QString::number(MaxReservedNames) + QStringLiteral(" names"));
    for (const QString &name : *service.reservedNames) {
        if (!isValidServiceName(name))
            errors->append(serviceKey(service.name, KeyServiceNames) + QStringLiteral(": ") + quoted(name)
                           + QStringLiteral(" is not a client name (1..64 characters of A-Z a-z 0-9 . _ -)"));
    }
}

// A name is reserved for one service only. Two services registering the same name without a
// `names` key are reported once, by the `name` check (ServiceGraph).
void checkReservedNamesUnique(const QList<ServiceSettings> &services, QStringList *errors)
{
    QHash<QString, const ServiceSettings *> owner;
    for (const ServiceSettings &service : services) {
        for (const QString &name : service.namesReserved()) {
            const auto it = owner.constFind(name);
            if (it == owner.constEnd()) {
                owner.insert(name, &service);
                continue;
            }
            if ((*it)->name != service.name && ((*it)->reservedNames || service.reservedNames))
                errors->append(serviceKey(service.name, KeyServiceNames) + QStringLiteral(": ") + quoted(name)
                               + QStringLiteral(" is reserved for [service.") + (*it)->name + QStringLiteral("] already"));
        }
    }
}

// ---- end of names reserved for the service ----

} // namespace

const QStringList &serviceKeys()
{
    static const QStringList keys = [] {
        QStringList list{KeyProgram, KeyArguments, KeyWorkingDirectory, KeyEnvironment, KeyRestart};
        for (const ServiceNumericKey &key : serviceNumericKeys)
            list.append(QLatin1String(key.iniKey));
        list.insert(list.indexOf(QStringLiteral("stop_timeout_ms")), KeyStopSignal); // as documented
        list.append(KeyServiceMonitor);
        list << KeyServiceName << KeyAfter << KeyUser << KeyGroup << KeySupplementaryGroups;
        list.append(KeyServiceHold);
        list << KeyStart << KeyStartTimeout;
        list.append(KeyServiceNames);
        return list;
    }();
    return keys;
}

void applyServices(const QSettings &settings, const IniLayout &layout, const QDir &configDir, Pass &pass)
{
    QList<ServiceSettings> services;
    bool declared = false;
    for (const QString &group : layout.groups) {
        if (!isServiceGroup(group))
            continue;
        declared = true;
        const QString name = group.mid(ServiceGroupPrefix.size());
        if (!isValidServiceName(name)) {
            pass.errors.append(invalidServiceName(name));
            continue;
        }
        if (services.size() == MaxServices) {
            pass.errors.append(QStringLiteral("[service.") + name + QStringLiteral("]: more than ")
                               + QString::number(MaxServices) + QStringLiteral(" services"));
            break;
        }
        const qsizetype before = pass.errors.size();
        QSet<QString> unread;
        ServiceSettings service = readService(settings, name, configDir, &pass.errors, &unread);
        if (!settings.contains(serviceKey(name, QStringLiteral("output_lines"))))
            service.outputLines = pass.config.serviceOutputLines;
        if (!settings.contains(serviceKey(name, QStringLiteral("output_bytes"))))
            service.outputBytes = pass.config.serviceOutputBytes;
        readServiceOrderAndIdentity(settings, service, &pass.errors, &unread);
        checkService(service, &pass.errors, unread);
        checkServiceOrderAndIdentity(service, &pass.errors);
        readServiceStart(settings, service, &pass.errors, &unread);
        checkServiceStart(service, &pass.errors);
        readServiceNames(settings, service, &pass.errors);
        checkServiceNames(service, &pass.errors);
        if (pass.errors.size() == before)
            services.append(service);
    }
    pass.errors += ServiceGraph::check(services);
    checkReservedNamesUnique(services, &pass.errors);
    if (declared)
        pass.config.services = services;
}

void validateServices(const BrokerConfig &config, QStringList *errors)
{
    if (config.services.size() > MaxServices) {
        errors->append(QString::number(config.services.size()) + QStringLiteral(" services; at most ")
                       + QString::number(MaxServices));
    }
    QSet<QString> names;
    for (const ServiceSettings &service : config.services) {
        if (names.contains(service.name))
            errors->append(QStringLiteral("[service.") + service.name + QStringLiteral("]: declared twice"));
        names.insert(service.name);
        checkService(service, errors);
        checkServiceOrderAndIdentity(service, errors);
        checkServiceStart(service, errors);
        checkServiceNames(service, errors);
    }
    *errors += ServiceGraph::check(config.services);
    checkReservedNamesUnique(config.services, errors);
}

} // namespace Kennel::Config
