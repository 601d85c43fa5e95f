#include "serviceaccount.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

namespace Kennel {

namespace {
// A name, or a number for accounts that exist only as IDs (containers, read-only /etc).
std::optional<gid_t> lookupGroup(const QString &text)
{
    bool numeric = false;
    const uint number = text.toUInt(&numeric);
    if (numeric)
        return gid_t(number);
    const QByteArray name = text.toLocal8Bit();
    if (const group *entry = ::getgrnam(name.constData()))
        return entry->gr_gid;
    return std::nullopt;
}

QString quoted(const QString &text)
{
    return QLatin1Char('"') + text + QLatin1Char('"');
}
} // namespace

std::optional<ServiceAccount> ServiceAccount::resolve(const ServiceSettings &settings, QString *error)
{
    ServiceAccount credentials;
    if (settings.user.isEmpty() && settings.group.isEmpty() && settings.supplementaryGroups.isEmpty())
        return credentials;
    credentials.change = true;
    credentials.uid = ::geteuid();
    credentials.gid = ::getegid();
    const QString prefix = QStringLiteral("[service.") + settings.name + QStringLiteral("] ");
    if (!settings.user.isEmpty()) {
        bool numeric = false;
        const uint number = settings.user.toUInt(&numeric);
        const QByteArray name = settings.user.toLocal8Bit();
        const passwd *entry = numeric ? ::getpwuid(uid_t(number)) : ::getpwnam(name.constData());
        if (!entry && !numeric) {
            *error = prefix + QStringLiteral("user: ") + quoted(settings.user) + QStringLiteral(" is not a user on this system");
            return std::nullopt;
        }
        credentials.uid = entry ? entry->pw_uid : uid_t(number);
        // Without a group key, the user's own login group, as login(1) and systemd's User= do.
        if (entry) {
            credentials.gid = entry->pw_gid;
            credentials.userName = QString::fromLocal8Bit(entry->pw_name);
            credentials.home = QString::fromLocal8Bit(entry->pw_dir);
        } else {
            credentials.gid = gid_t(number);
            credentials.userName = settings.user;
        }
    }
    if (!settings.group.isEmpty()) {
        const std::optional<gid_t> gid = lookupGroup(settings.group);
        if (!gid) {
            *error = prefix + QStringLiteral("group: ") + quoted(settings.group) + QStringLiteral(" is not a group on this system");
            return std::nullopt;
        }
        credentials.gid = *gid;
    }
    for (const QString &text : settings.supplementaryGroups) {
        const std::optional<gid_t> gid = lookupGroup(text);
        if (!gid) {
            *error = prefix + QStringLiteral("supplementary_groups: ") + quoted(text)
                + QStringLiteral(" is not a group on this system");
            return std::nullopt;
        }
        credentials.groups.push_back(*gid);
    }
    return credentials;
}

} // namespace Kennel
