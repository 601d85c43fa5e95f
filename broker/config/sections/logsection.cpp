#include "logsection.h"

#include <QCommandLineParser>
#include <QRegularExpression>
#include <QSettings>

#include <iterator>

namespace Kennel::Config {

namespace {

const QString KeyTraffic = QStringLiteral("traffic");
const QString KeyLogRules = QStringLiteral("rules");

const NumericKey logTable[] = {
    {"log", "peer_lines_per_second", "log-peer-lines", "N",
     "Log lines per second one peer address may cause (connection closes); then summed up", ValueKind::Count, 1, 100000,
     [](const BrokerConfig &c) -> qint64 { return c.logLinesPerPeer; },
     [](BrokerConfig &c, qint64 v) { c.logLinesPerPeer = int(v); }},
};

} // namespace

const QList<NumericKey> &logNumericKeys()
{
    static const QList<NumericKey> keys(std::begin(logTable), std::end(logTable));
    return keys;
}

QStringList logKeys()
{
    return QStringList{KeyTraffic, KeyLogRules} + numericKeyNames(GroupLog);
}

void applyLogTraffic(const QSettings &settings, Pass &pass)
{
    const QString trafficKey = GroupLog + QLatin1Char('/') + KeyTraffic;
    if (settings.contains(trafficKey)) {
        if (const std::optional<QString> text = singleValue(settings, trafficKey, &pass.errors)) {
            if (!parseBool(*text, &pass.config.logTraffic)) {
                pass.errors.append(trafficKey + QStringLiteral(": ") + quoted(*text)
                                   + QStringLiteral(" is not a boolean (true/false, yes/no, on/off, 1/0)"));
            }
        }
    }
}

// [log] rules: QLoggingCategory filter rules, "CATEGORY[.LEVEL]=true|false", several separated
// by commas (QSettings' list separator; ';' would start a comment). Checked here, so that a typo
// is a config error, not a rule Qt silently ignores.
void applyLogRules(const QSettings &settings, Pass &pass)
{
    const QString key = GroupLog + QLatin1Char('/') + KeyLogRules;
    if (!settings.contains(key))
        return;
    const std::optional<QStringList> items = valueItems(settings.value(key));
    if (!items) {
        pass.errors.append(key + QStringLiteral(": not a plain value"));
        return;
    }
    static const QRegularExpression rule(
        QStringLiteral("^([A-Za-z0-9_*-]+(\\.[A-Za-z0-9_*-]+)*)\\s*=\\s*(true|false)$"));
    QStringList rules;
    for (const QString &item : *items) {
        const QString text = item.trimmed();
        if (text.isEmpty())
            continue;
        if (!rule.match(text).hasMatch()) {
            pass.errors.append(key + QStringLiteral(": ") + quoted(text)
                               + QStringLiteral(" is not a logging rule (CATEGORY[.debug|.info|.warning|.critical]=true|false, "
                                                "e.g. kennel.router.debug=true)"));
            continue;
        }
        rules.append(text);
    }
    pass.config.logRules = rules.join(QLatin1Char('\n'));
}

void applyLogFlags(const QCommandLineParser &parser, Pass &pass)
{
    if (parser.isSet(OptLogTraffic))
        pass.config.logTraffic = true;
}

} // namespace Kennel::Config
