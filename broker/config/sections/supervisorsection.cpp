#include "supervisorsection.h"

#include <QSettings>

namespace Kennel::Config {

namespace {

const QString KeyCgroup = QStringLiteral("cgroup");

} // namespace

QStringList supervisorKeys()
{
    return {KeyCgroup};
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
