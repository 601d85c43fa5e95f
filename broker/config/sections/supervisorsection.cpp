#include "supervisorsection.h"

#include <QSettings>

#include <iterator>

namespace Kennel::Config {

namespace {

const QString KeyCgroup = QStringLiteral("cgroup");

// The defaults of every service's output ring ([service.NAME] output_lines / output_bytes).
const NumericKey supervisorTable[] = {
    {"supervisor", "output_lines", nullptr, "N", "Output lines kept per service", ValueKind::Count, 0, 1000000,
     [](const BrokerConfig &c) -> qint64 { return c.serviceOutputLines; },
     [](BrokerConfig &c, qint64 v) { c.serviceOutputLines = int(v); }},
    {"supervisor", "output_bytes", nullptr, "SIZE", "Output bytes kept per service", ValueKind::Bytes, 4096,
     qint64(64) * 1024 * 1024, [](const BrokerConfig &c) -> qint64 { return c.serviceOutputBytes; },
     [](BrokerConfig &c, qint64 v) { c.serviceOutputBytes = v; }},
};

} // namespace

const QList<NumericKey> &supervisorNumericKeys()
{
    static const QList<NumericKey> keys(std::begin(supervisorTable), std::end(supervisorTable));
    return keys;
}

QStringList supervisorKeys()
{
    return QStringList{KeyCgroup} + numericKeyNames(GroupSupervisor);
}

void applySupervisor(const QSettings &settings, Pass &pass)
{
    const QString cgroupKey = GroupSupervisor + QLatin1Char('/') + KeyCgroup;
    if (settings.contains(cgroupKey)) {
        if (const std::optional<QString> text = singleValue(settings, cgroupKey, &pass.errors)) {
            const QString value = text->trimmed().toLower();
            if (value == QLatin1String("auto"))
                pass.config.serviceCgroup = BrokerConfig::ServiceCgroup::Auto;
            else if (value == QLatin1String("off"))
                pass.config.serviceCgroup = BrokerConfig::ServiceCgroup::Off;
            else
                pass.errors.append(cgroupKey + QStringLiteral(": ") + quoted(*text) + QStringLiteral(" is not auto or off"));
        }
    }
}

} // namespace Kennel::Config
