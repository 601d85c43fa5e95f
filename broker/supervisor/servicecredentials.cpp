#include "servicecredentials.h"

#include <cerrno>
#include <cstring>

#include <grp.h>
#include <unistd.h>

namespace Kennel {

std::optional<ServiceCredentials> ServiceCredentials::resolve(const ServiceSettings &settings, QString *error)
{
    std::optional<ServiceAccount> account = ServiceAccount::resolve(settings, error);
    if (!account)
        return std::nullopt;
    return ServiceCredentials{std::move(*account)};
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
