// Who a service's program runs as ([service.NAME] user, group, supplementary_groups): resolved
// from the names in the config to numbers, checked when the config is loaded (a name that does
// not resolve is a config error) and again at each start (the account may have gone since).
//
// The child applies them between fork and exec in the order that cannot fail half-way into a
// privilege it should not keep: setgroups() (the supplementary list, exactly as configured —
// empty drops the broker's own), setgid(), then setuid(). Only root can do that; a broker not
// running as root asked for another identity refuses the start with a clear error instead.
#pragma once

#include "brokerconfig.h"

#include <QString>

#include <optional>
#include <vector>

#include <sys/types.h>

namespace Kennel {

struct ServiceCredentials
{
    bool change = false;     // false: the program runs as the broker (no user/group keys)
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups; // supplementary groups
    QString userName;        // for USER/LOGNAME; empty when no user key
    QString home;            // the user's home directory, for HOME; empty when no user key

    // Names (or numbers) to IDs. nullopt with *error naming the key and the value that did not
    // resolve. Does not look at who the broker is.
    static std::optional<ServiceCredentials> resolve(const ServiceSettings &settings, QString *error);
    // Empty when this process may take these credentials; else why not (not root).
    QString checkPrivileges() const;
    // In the child after fork, async-signal-safe: setgroups, setgid, setuid. On failure writes a
    // line to stderr and returns false (the caller _exits).
    bool applyInChild() const;
};

} // namespace Kennel
