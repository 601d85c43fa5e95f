#include "servicecredentials.h"

#include <cerrno>
#include <cstring>

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

std::optional<ServiceCredentials> ServiceCredentials::resolve(const ServiceSettings &settings, QString *error)
{
    ServiceCredentials credentials;
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

QString ServiceCredentials::checkPrivileges() const
{
    if (!change || ::geteuid() == 0)
        return {};
    // Without root the broker can only be itself: the same user and group and no group list to set.
    if (uid == ::geteuid() && gid == ::getegid() && groups.empty())
        return {};
    return QStringLiteral("the broker runs as uid %1, not root: it cannot start a program as uid %2 gid %3%4")
        .arg(::geteuid())
        .arg(uid)
        .arg(gid)
        .arg(groups.empty() ? QString() : QStringLiteral(" with supplementary groups"));
}

bool ServiceCredentials::applyInChild() const
{
    if (!change)
        return true;
    const auto fail = [](const char *what) {
        // write(2) and arithmetic only (no strerror, no allocation): this runs between fork and
        // exec. The line reaches the service's log as its stderr.
        int error = errno;
        char digits[12];
        int at = int(sizeof digits);
        do {
            digits[--at] = char('0' + error % 10);
            error /= 10;
        } while (error > 0 && at > 0);
        const char head[] = "kennel-broker: cannot switch the service's identity: ";
        [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, head, sizeof head - 1);
        n = ::write(STDERR_FILENO, what, ::strlen(what));
        n = ::write(STDERR_FILENO, " failed, errno ", 15);
        n = ::write(STDERR_FILENO, digits + at, size_t(int(sizeof digits) - at));
        n = ::write(STDERR_FILENO, "\n", 1);
        return false;
    };
    const bool root = ::geteuid() == 0;
    // Groups first, the user last: once the uid is dropped nothing else can be changed.
    if (root && ::setgroups(groups.size(), groups.data()) != 0)
        return fail("setgroups");
    if (::setgid(gid) != 0)
        return fail("setgid");
    if (::setuid(uid) != 0)
        return fail("setuid");
    return true;
}

} // namespace Kennel
