#include "bridgetopicssection.h"

#include "bridgesection.h"
#include "bridgesettings.h"
#include "configvalues.h"
#include "topicname.h"

#include <QSettings>

#include <iterator>

namespace Kennel::Config {

namespace {

const NumericKey bridgeTopicsTable[] = {
    {"bridge", "export_max_pending", nullptr, nullptr, nullptr, ValueKind::Count, 1, 1000000,
     [](const BrokerConfig &c) -> qint64 { return c.bridge.exportMaxPending; },
     [](BrokerConfig &c, qint64 v) { c.bridge.exportMaxPending = int(v); }},
};

const QString KeyExportTopics = QStringLiteral("export_topics");
const QString KeyImportTopics = QStringLiteral("import_topics");

void readFilters(const QSettings &settings, const QString &key, Pass &pass, QList<QByteArray> *out)
{
    const QString full = GroupBridge + QLatin1Char('/') + key;
    if (!settings.contains(full))
        return;
    const std::optional<QStringList> items = listValue(settings, full, &pass.errors);
    if (!items)
        return;
    out->clear(); // the file's list replaces the default (none)
    for (const QString &item : *items) {
        const QString filter = item.trimmed();
        if (!filter.isEmpty() && !out->contains(filter.toUtf8()))
            out->append(filter.toUtf8());
    }
}

QStringList checkFilters(const QList<QByteArray> &filters, const QString &key, const BrokerConfig &config)
{
    QStringList errors;
    for (const QByteArray &filter : filters) {
        const Topic::Check check = Topic::checkFilter(filter, config.topics.maxTopicLength, config.topics.maxLevels);
        if (check != Topic::Check::Ok)
            errors.append(QStringLiteral("[bridge] %1: ").arg(key) + quoted(QString::fromUtf8(filter))
                          + QStringLiteral(" is not a topic filter: ") + QLatin1String(Topic::checkText(check)));
        else if (Topic::isReserved(filter))
            errors.append(QStringLiteral("[bridge] %1: ").arg(key) + quoted(QString::fromUtf8(filter))
                          + QStringLiteral(" starts with '$': the broker's own topics never cross the bridge"));
    }
    return errors;
}

} // namespace

const QList<NumericKey> &bridgeTopicsNumericKeys()
{
    static const QList<NumericKey> keys(std::begin(bridgeTopicsTable), std::end(bridgeTopicsTable));
    return keys;
}

QStringList bridgeTopicsKeys()
{
    return {KeyExportTopics, KeyImportTopics};
}

void applyBridgeTopics(const QSettings &settings, Pass &pass)
{
    readFilters(settings, KeyExportTopics, pass, &pass.config.bridge.exportTopics);
    readFilters(settings, KeyImportTopics, pass, &pass.config.bridge.importTopics);
}

QStringList bridgeTopicsCrossCheck(const BrokerConfig &config)
{
    const BridgeSettings &b = config.bridge;
    QStringList errors = checkFilters(b.exportTopics, KeyExportTopics, config)
                         + checkFilters(b.importTopics, KeyImportTopics, config);
    if ((!b.exportTopics.isEmpty() || !b.importTopics.isEmpty()) && !config.topics.enabled)
        errors.append(QStringLiteral("[bridge] export_topics and import_topics need [topics] enabled"));
    if (b.enabled() && !b.importTopics.isEmpty()) {
        const qsizetype at = b.prefix.indexOf(QLatin1String("{board}"));
        const qsizetype end = at + qsizetype(sizeof("{board}") - 1);
        if (at >= 0 && ((at > 0 && b.prefix.at(at - 1) != QLatin1Char('/')) || end >= b.prefix.size()
                        || b.prefix.at(end) != QLatin1Char('/')))
            errors.append(QStringLiteral("[bridge] import_topics: prefix ") + quoted(b.prefix)
                          + QStringLiteral(" must hold {board} as a whole level (other boards are subscribed with '+')"));
    }
    return errors;
}

} // namespace Kennel::Config
