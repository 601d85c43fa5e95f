#include "holdsection.h"

#include "names.h"

#include <QSettings>

#include <iterator>

namespace Kennel::Config {

namespace {

const QString KeyEnabled = QStringLiteral("enabled");
const QString KeyNames = QStringLiteral("names");

const NumericKey holdTable[] = {
    {"hold", "max_count", nullptr, nullptr, nullptr, ValueKind::Count, 1, 1000000,
     [](const BrokerConfig &c) -> qint64 { return c.hold.limits.maxCount; },
     [](BrokerConfig &c, qint64 v) { c.hold.limits.maxCount = int(v); }},
    {"hold", "max_bytes", nullptr, nullptr, nullptr, ValueKind::Bytes, 1, GiB,
     [](const BrokerConfig &c) -> qint64 { return c.hold.limits.maxBytes; },
     [](BrokerConfig &c, qint64 v) { c.hold.limits.maxBytes = v; }},
    {"hold", "ttl_ms", nullptr, nullptr, nullptr, ValueKind::Millis, 1, 86400000,
     [](const BrokerConfig &c) -> qint64 { return c.hold.limits.ttl.count(); },
     [](BrokerConfig &c, qint64 v) { c.hold.limits.ttl = std::chrono::milliseconds(v); }},
    {"hold", "total_bytes", nullptr, nullptr, nullptr, ValueKind::BytesOrAuto, 1024, 64 * GiB,
     [](const BrokerConfig &c) -> qint64 { return c.hold.totalBytes; },
     [](BrokerConfig &c, qint64 v) { c.hold.totalBytes = v; }},
    {"hold", "lost_window_ms", nullptr, nullptr, nullptr, ValueKind::MillisOrOff, 1, 86400000,
     [](const BrokerConfig &c) -> qint64 { return c.hold.lostWindow.count(); },
     [](BrokerConfig &c, qint64 v) { c.hold.lostWindow = std::chrono::milliseconds(v); }},
    // Receiver acknowledgement (PROTOCOL §5.7): what one acknowledging connection may leave unacknowledged.
    {"hold", "unacked_max_count", nullptr, nullptr, nullptr, ValueKind::Count, 1, 1000000,
     [](const BrokerConfig &c) -> qint64 { return c.hold.unacked.maxCount; },
     [](BrokerConfig &c, qint64 v) { c.hold.unacked.maxCount = int(v); }},
    {"hold", "unacked_max_bytes", nullptr, nullptr, nullptr, ValueKind::Bytes, 1024, GiB,
     [](const BrokerConfig &c) -> qint64 { return c.hold.unacked.maxBytes; },
     [](BrokerConfig &c, qint64 v) { c.hold.unacked.maxBytes = v; }},
    {"hold", "unacked_total_bytes", nullptr, nullptr, nullptr, ValueKind::BytesOrAuto, 1024, 64 * GiB,
     [](const BrokerConfig &c) -> qint64 { return c.hold.unackedTotalBytes; },
     [](BrokerConfig &c, qint64 v) { c.hold.unackedTotalBytes = v; }},
};

} // namespace

const QList<NumericKey> &holdNumericKeys()
{
    static const QList<NumericKey> keys(std::begin(holdTable), std::end(holdTable));
    return keys;
}

QStringList holdKeys()
{
    return QStringList{KeyEnabled} + numericKeyNames(GroupHold) + QStringList{KeyNames};
}

void applyHold(const QSettings &settings, const IniLayout &layout, Pass &pass)
{
    for (const QString &group : layout.groups) {
        if (!group.startsWith(HoldGroupPrefix) || group.size() == HoldGroupPrefix.size())
            continue;
        const QString pattern = group.mid(HoldGroupPrefix.size());
        bool valid = pattern.size() <= 64 && isAscii(pattern);
        for (const QChar c : pattern) {
            const char ch = c.toLatin1();
            if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_'
                  || ch == '-' || ch == '*' || ch == '?'))
                valid = false;
        }
        if (!valid) {
            pass.errors.append(QLatin1Char('[') + group + QStringLiteral("]: ") + quoted(pattern)
                               + QStringLiteral(" is not a name pattern (up to 64 of A-Z a-z 0-9 . _ - and the wildcards * ?)"));
            continue;
        }
        HoldOverride override;
        override.pattern = pattern.toLatin1();
        for (const NumericKey &key : holdNumericKeys()) {
            const QString iniKey = QLatin1String(key.iniKey);
            if (iniKey != QLatin1String("max_count") && iniKey != QLatin1String("max_bytes") && iniKey != QLatin1String("ttl_ms"))
                continue;
            const QString full = group + QLatin1Char('/') + iniKey;
            if (!settings.contains(full))
                continue;
            const std::optional<QString> text = singleValue(settings, full, &pass.errors);
            if (!text)
                continue;
            qint64 value = 0;
            QString why;
            if (!parseNumeric(key, *text, &value, &why)) {
                pass.errors.append(full + QStringLiteral(": ") + why);
                continue;
            }
            if (iniKey == QLatin1String("max_count"))
                override.maxCount = int(value);
            else if (iniKey == QLatin1String("max_bytes"))
                override.maxBytes = value;
            else
                override.ttl = std::chrono::milliseconds(value);
        }
        pass.config.hold.overrides.append(override);
    }
    const QString enabledKey = GroupHold + QLatin1Char('/') + KeyEnabled;
    if (settings.contains(enabledKey)) {
        if (const std::optional<QString> text = singleValue(settings, enabledKey, &pass.errors)) {
            if (!parseBool(*text, &pass.config.hold.enabled))
                pass.errors.append(enabledKey + QStringLiteral(": ") + quoted(*text)
                                   + QStringLiteral(" is not a boolean (true/false, yes/no, on/off, 1/0)"));
        }
    }
    const QString namesKey = GroupHold + QLatin1Char('/') + KeyNames;
    if (settings.contains(namesKey)) {
        if (const std::optional<QStringList> items = listValue(settings, namesKey, &pass.errors)) {
            for (const QString &item : *items) {
                const QString name = item.trimmed();
                if (!isAscii(name) || !isValidName(QByteArrayView(name.toLatin1()))) {
                    pass.errors.append(namesKey + QStringLiteral(": ") + quoted(name)
                                       + QStringLiteral(" is not a client name (1 to 64 of A-Z a-z 0-9 . _ -)"));
                    continue;
                }
                pass.config.hold.names.append(name.toLatin1());
            }
        }
    }
}

} // namespace Kennel::Config
