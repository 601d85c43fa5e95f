#include "topicssection.h"

#include "names.h"
#include "topicname.h"

#include <QSettings>

#include <iterator>

namespace Kennel::Config {

namespace {

const QString KeyEnabled = QStringLiteral("enabled");
const QString KeySubscribe = QStringLiteral("subscribe");
const QString KeyPublishNames = QStringLiteral("publish_names");

const NumericKey topicsTable[] = {
    {"topics", "max_topic_length", nullptr, nullptr, nullptr, ValueKind::Count, 1, 65535,
     [](const BrokerConfig &c) -> qint64 { return c.topics.maxTopicLength; },
     [](BrokerConfig &c, qint64 v) { c.topics.maxTopicLength = int(v); }},
    {"topics", "max_levels", nullptr, nullptr, nullptr, ValueKind::Count, 1, 1024,
     [](const BrokerConfig &c) -> qint64 { return c.topics.maxLevels; },
     [](BrokerConfig &c, qint64 v) { c.topics.maxLevels = int(v); }},
    {"topics", "max_subscriptions", nullptr, nullptr, nullptr, ValueKind::Count, 1, 1000000,
     [](const BrokerConfig &c) -> qint64 { return c.topics.maxSubscriptions; },
     [](BrokerConfig &c, qint64 v) { c.topics.maxSubscriptions = int(v); }},
    {"topics", "retained_count", nullptr, nullptr, nullptr, ValueKind::Count, 0, 10000000,
     [](const BrokerConfig &c) -> qint64 { return c.topics.retainedCount; },
     [](BrokerConfig &c, qint64 v) { c.topics.retainedCount = int(v); }},
    {"topics", "retained_bytes", nullptr, nullptr, nullptr, ValueKind::Bytes, 0, 4 * GiB,
     [](const BrokerConfig &c) -> qint64 { return c.topics.retainedBytes; },
     [](BrokerConfig &c, qint64 v) { c.topics.retainedBytes = v; }},
    // Monitors' per-topic figures (PROTOCOL §6.8).
    {"topics", "max_tracked_topics", nullptr, nullptr, nullptr, ValueKind::Count, 0, 1000000,
     [](const BrokerConfig &c) -> qint64 { return c.topics.maxTrackedTopics; },
     [](BrokerConfig &c, qint64 v) { c.topics.maxTrackedTopics = int(v); }},
    // Fan-out: from this frame size on the subscribers share one encoded frame.
    {"topics", "shared_frame_bytes", nullptr, nullptr, nullptr, ValueKind::Bytes, 0, 4 * GiB,
     [](const BrokerConfig &c) -> qint64 { return c.topics.sharedFrameBytes; },
     [](BrokerConfig &c, qint64 v) { c.topics.sharedFrameBytes = v; }},
};

// "NAME SECOND" items of a list key: a client name, blanks, then a topic or filter without blanks
// or commas (the list's separator).
template<typename Item>
void readPairs(const QSettings &settings, const QString &key, bool filter, Pass &pass, QList<Item> *out)
{
    const QString full = GroupTopics + QLatin1Char('/') + key;
    if (!settings.contains(full))
        return;
    const std::optional<QStringList> items = listValue(settings, full, &pass.errors);
    if (!items)
        return;
    const TopicSettings &s = pass.config.topics;
    for (const QString &item : *items) {
        const QStringList parts = item.simplified().split(QLatin1Char(' '), Qt::SkipEmptyParts);
        if (parts.size() != 2) {
            pass.errors.append(full + QStringLiteral(": ") + quoted(item.trimmed())
                               + (filter ? QStringLiteral(" is not \"NAME FILTER\"") : QStringLiteral(" is not \"NAME TOPIC\"")));
            continue;
        }
        const QByteArray name = parts[0].toLatin1();
        if (!isAscii(parts[0]) || !isValidName(name)) {
            pass.errors.append(full + QStringLiteral(": ") + quoted(parts[0])
                               + QStringLiteral(" is not a client name (1 to 64 of A-Z a-z 0-9 . _ -)"));
            continue;
        }
        const QByteArray topic = parts[1].toUtf8();
        const Topic::Check check = filter ? Topic::checkFilter(topic, s.maxTopicLength, s.maxLevels)
                                          : Topic::checkName(topic, s.maxTopicLength, s.maxLevels);
        if (check != Topic::Check::Ok) {
            pass.errors.append(full + QStringLiteral(": ") + quoted(parts[1]) + QStringLiteral(" is not a topic ")
                               + (filter ? QStringLiteral("filter: ") : QStringLiteral("name: ")) + QLatin1String(Topic::checkText(check)));
            continue;
        }
        if (!filter && Topic::isReserved(topic)) {
            pass.errors.append(full + QStringLiteral(": ") + quoted(parts[1]) + QStringLiteral(" starts with '$': those topics are the broker's own"));
            continue;
        }
        out->append(Item{name, topic});
    }
}

} // namespace

const QList<NumericKey> &topicsNumericKeys()
{
    static const QList<NumericKey> keys(std::begin(topicsTable), std::end(topicsTable));
    return keys;
}

QStringList topicsKeys()
{
    return QStringList{KeyEnabled} + numericKeyNames(GroupTopics) + QStringList{KeySubscribe, KeyPublishNames};
}

void applyTopics(const QSettings &settings, Pass &pass)
{
    const QString enabledKey = GroupTopics + QLatin1Char('/') + KeyEnabled;
    if (settings.contains(enabledKey)) {
        if (const std::optional<QString> text = singleValue(settings, enabledKey, &pass.errors)) {
            if (!parseBool(*text, &pass.config.topics.enabled))
                pass.errors.append(enabledKey + QStringLiteral(": ") + quoted(*text)
                                   + QStringLiteral(" is not a boolean (true/false, yes/no, on/off, 1/0)"));
        }
    }
    // After the numeric keys: the filters are checked against the configured bounds.
    readPairs(settings, KeySubscribe, true, pass, &pass.config.topics.subscriptions);
    readPairs(settings, KeyPublishNames, false, pass, &pass.config.topics.publishNames);
}

} // namespace Kennel::Config
