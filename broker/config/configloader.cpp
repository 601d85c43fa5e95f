#include "configloader.h"

#include "configpass.h"
#include "configschema.h"
#include "iniscan.h"
#include "sections/bridgesection.h"
#include "sections/bridgetopicssection.h"
#include "sections/brokersection.h"
#include "sections/limitssection.h"
#include "sections/logsection.h"
#include "sections/monitorsection.h"
#include "sections/servicessection.h"
#include "sections/supervisorsection.h"
#include "sections/holdsection.h"
#include "sections/topicssection.h"
#include "sections/policysection.h"
#include "sections/watchdogsection.h"

#include <QCommandLineOption>
#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSettings>

namespace Kennel {

using namespace Config;

namespace {

// The sections' cross-key checks, on the outcome of every layer. A *Suspect flag: a key of that
// kind failed to parse, so the check would compare against a value the operator did not ask for
// and only confuse.
QStringList crossCheck(const BrokerConfig &config, bool sizesSuspect, bool watchdogSuspect, bool monitorSuspect)
{
    QStringList errors;
    if (!sizesSuspect)
        errors += limitsCrossCheck(config);
    if (!watchdogSuspect)
        errors += watchdogCrossCheck(config.watchdog);
    if (!monitorSuspect)
        errors += monitorCrossCheck(config);
    errors += bridgeCrossCheck(config);
    errors += bridgeTopicsCrossCheck(config);
    return errors;
}

ConfigLoader::Result finish(Pass &pass)
{
    pass.errors += crossCheck(pass.config, pass.sizesSuspect, pass.watchdogSuspect, pass.monitorSuspect);
    return {pass.config, pass.errors};
}

// A numeric key that failed, in the file or as a flag, makes its section's cross-key check
// suspect.
void markSuspect(const NumericKey &key, Pass &pass)
{
    if (isSizeKey(key))
        pass.sizesSuspect = true;
    if (isWatchdogKey(key))
        pass.watchdogSuspect = true;
    if (isMonitorKey(key))
        pass.monitorSuspect = true;
}

void applyFileLayer(const QString &path, Pass &pass)
{
    if (path.isEmpty()) {
        pass.errors.append(QStringLiteral("--config: no file name given"));
        return;
    }
    const QFileInfo info(path);
    if (!info.exists()) {
        pass.errors.append(QStringLiteral("config file ") + quoted(path) + QStringLiteral(": no such file"));
        return;
    }
    if (info.isDir()) {
        pass.errors.append(QStringLiteral("config file ") + quoted(path) + QStringLiteral(": is a directory"));
        return;
    }
    // QSettings treats an unreadable file like an empty one; read it ourselves to find out.
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        pass.errors.append(QStringLiteral("config file ") + quoted(path) + QStringLiteral(": cannot read: ")
                           + file.errorString());
        return;
    }
    IniLayout layout;
    const QStringList lineErrors = scanIniLines(file.readAll(), path, &layout);
    pass.errors += lineErrors;

    const QSettings settings(path, QSettings::IniFormat);
    if (settings.status() != QSettings::NoError) {
        if (lineErrors.isEmpty()) {
            pass.errors.append(QStringLiteral("config file ") + quoted(path)
                               + (settings.status() == QSettings::FormatError ? QStringLiteral(": not a valid INI file")
                                                                              : QStringLiteral(": cannot read")));
        }
        return;
    }

    checkKeyNames(settings, &pass.errors);

    // In this order, which is the order of the errors: [broker], the numeric keys of every
    // section, then the rest of each section. A new section's reader goes in here.
    applyBroker(settings, pass);

    for (const NumericKey &key : numericKeys()) {
        const QString name = iniName(key);
        if (!settings.contains(name))
            continue;
        const std::optional<QString> text = singleValue(settings, name, &pass.errors);
        qint64 value = 0;
        QString why;
        if (text && parseNumeric(key, *text, &value, &why)) {
            key.set(pass.config, value);
            continue;
        }
        if (text)
            pass.errors.append(name + QStringLiteral(": ") + why);
        markSuspect(key, pass);
    }

    applyLogTraffic(settings, pass);
    applySupervisor(settings, pass);
    applyLogRules(settings, pass);
    applyWatchdog(settings, layout, pass);
    applyServices(settings, layout, info.absoluteDir(), pass);
    applyMonitor(settings, info.absoluteDir(), pass);
    applyHold(settings, layout, pass);
    applyBridge(settings, info.absoluteDir(), pass);
    applyBridgeTopics(settings, pass);
    applyTopics(settings, pass);
    applyPolicy(settings, layout, pass);
}

// The flags, in the order of their errors; a new section's flags go in here.
void applyFlagLayer(const QCommandLineParser &parser, Pass &pass)
{
    applyBrokerFlags(parser, pass);
    for (const NumericKey &key : numericKeys()) {
        if (!key.flag)
            continue;
        const QString flag = QLatin1String(key.flag);
        if (!parser.isSet(flag))
            continue;
        const QString text = parser.value(flag).trimmed();
        qint64 value = 0;
        QString why;
        if (parseNumeric(key, text, &value, &why)) {
            key.set(pass.config, value);
        } else {
            pass.errors.append(flagName(key) + QStringLiteral(": ") + why);
            markSuspect(key, pass);
        }
    }
    applyLogFlags(parser, pass);
    applyMonitorFlags(parser, pass);
    applyBridgeFlags(parser, pass);
}

} // namespace

void ConfigLoader::addOptions(QCommandLineParser &parser)
{
    parser.addOption({OptConfig, QStringLiteral("Read settings from the INI file FILE (docs/CONFIG.md)."),
                      QStringLiteral("FILE")});
    parser.addOption({OptListen,
                      QStringLiteral("Listen on ADDR: HOST:PORT, [IPv6]:PORT or unix:PATH. Repeat for more; "
                                     "replaces the file's list. Default: 127.0.0.1:8000 and a Unix socket."),
                      QStringLiteral("ADDR")});
    const BrokerConfig defaults;
    for (const NumericKey &key : numericKeys()) {
        if (!key.flag)
            continue;
        QString range = helpValue(key.kind, key.min) + QStringLiteral("..") + helpValue(key.kind, key.max);
        if (key.kind == ValueKind::MillisOrOff)
            range = QStringLiteral("0 (off) or ") + range;
        if (key.kind == ValueKind::Millis || key.kind == ValueKind::MillisOrOff)
            range += QStringLiteral(" ms");
        if (key.kind == ValueKind::BytesOrAuto)
            range = QStringLiteral("0 (auto) or ") + range;
        if (isBytes(key.kind))
            range += QStringLiteral(", suffix k, M or G");
        const QString help = QLatin1String(key.help) + QStringLiteral(" (") + range + QStringLiteral("; default ")
                             + helpValue(key.kind, key.get(defaults)) + QStringLiteral(").");
        parser.addOption({QLatin1String(key.flag), help, QLatin1String(key.valueName)});
    }
    parser.addOption({OptLogTraffic, QStringLiteral("Log every message the broker routes (verbose).")});
    parser.addOption({OptMonitorListen,
                      QStringLiteral("Listen for monitors only on ADDR (same forms as --listen). Repeat for more; "
                                     "replaces the file's [monitor] list. Default: none."),
                      QStringLiteral("ADDR")});
    parser.addOption({OptMonitorTokenFile,
                      QStringLiteral("Admit monitors that present the token in FILE (mode 600). Replaces the file's "
                                     "[monitor] token or token_file."),
                      QStringLiteral("FILE")});
    addBridgeOptions(parser);
    parser.addOption({OptCheckConfig,
                      QStringLiteral("Check the configuration and exit: 0 if it is valid, 1 with the errors if not.")});
}

ConfigLoader::Result ConfigLoader::load(const QCommandLineParser &parser)
{
    Pass pass;
    if (parser.isSet(OptConfig))
        applyFileLayer(parser.value(OptConfig), pass);
    applyFlagLayer(parser, pass);
    return finish(pass);
}

ConfigLoader::Result ConfigLoader::loadFile(const QString &path, BrokerConfig base)
{
    Pass pass;
    pass.config = std::move(base);
    applyFileLayer(path, pass);
    return finish(pass);
}

ConfigLoader::Result ConfigLoader::applyFlags(const QCommandLineParser &parser, BrokerConfig base)
{
    Pass pass;
    pass.config = std::move(base);
    applyFlagLayer(parser, pass);
    return finish(pass);
}

QStringList ConfigLoader::validate(const BrokerConfig &config)
{
    QStringList errors;
    validateBroker(config, &errors);
    for (const NumericKey &key : numericKeys()) {
        const qint64 value = key.get(config);
        const QString why = rangeError(key, QString::number(value), value);
        if (!why.isEmpty())
            errors.append(iniName(key) + QStringLiteral(": ") + why);
    }
    validateMonitor(config, &errors);
    errors += checkActionRules(config.watchdog.actionRules);
    errors += crossCheck(config, false, false, false);
    validateServices(config, &errors);
    return errors;
}

bool ConfigLoader::checkConfigRequested(const QCommandLineParser &parser)
{
    return parser.isSet(OptCheckConfig);
}

} // namespace Kennel
