#include "policysection.h"

#include "accesspolicy.h"
#include "configschema.h"
#include "configvalues.h"

#include <QSettings>

namespace Kennel::Config {

namespace {
const QString KeyDefault = QStringLiteral("default");
constexpr int MaxPolicyRules = 4096;
} // namespace

void applyPolicy(const QSettings &settings, const IniLayout &layout, Pass &pass)
{
    if (!layout.groups.contains(GroupPolicy))
        return;
    const QString prefix = GroupPolicy + QLatin1Char('/');
    PolicySettings policy;
    const QString defaultKey = prefix + KeyDefault;
    if (settings.contains(defaultKey)) {
        const std::optional<QString> text = singleValue(settings, defaultKey, &pass.errors);
        if (text && (*text == QLatin1String("allow") || *text == QLatin1String("deny")))
            policy.defaultAllow = *text == QLatin1String("allow");
        else if (text)
            pass.errors.append(defaultKey + QStringLiteral(": \"") + *text + QStringLiteral("\" is not allow or deny"));
    }
    for (const QString &key : layout.keys) {
        if (!key.startsWith(prefix) || key == defaultKey)
            continue;
        if (policy.rules.size() == MaxPolicyRules) {
            pass.errors.append(QStringLiteral("[policy]: more than ") + QString::number(MaxPolicyRules) + QStringLiteral(" rules"));
            break;
        }
        // Rule texts have no commas; a list is a mistake worth naming.
        if (const std::optional<QString> text = singleValue(settings, key, &pass.errors))
            policy.rules.append({key.mid(prefix.size()), *text});
    }
    QStringList errors;
    AccessPolicy::parse(policy.rules, policy.defaultAllow, &errors);
    pass.errors += errors;
    if (errors.isEmpty())
        pass.config.policy = policy;
}

} // namespace Kennel::Config
