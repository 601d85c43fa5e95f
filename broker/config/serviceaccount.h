// The account a service's program runs as ([service.NAME] user, group, supplementary_groups),
// resolved from the names in the config to numbers. Here, with the config, because the loader
// checks that they resolve (a name that does not is a config error); the supervisor resolves them
// again at each start (the account may have gone since) and applies them (ServiceCredentials).
#pragma once

#include "brokerconfig.h"

#include <QString>

#include <optional>
#include <vector>

#include <sys/types.h>

namespace Kennel {

struct ServiceAccount
{
    bool change = false;     // false: the program runs as the broker (no user/group keys)
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups; // supplementary groups
    QString userName;        // for USER/LOGNAME; empty when no user key
    QString home;            // the user's home directory, for HOME; empty when no user key

    // Names (or numbers) to IDs. nullopt with *error naming the key and the value that did not
    // resolve. Does not look at who the broker is.
    static std::optional<ServiceAccount> resolve(const ServiceSettings &settings, QString *error);
};

} // namespace Kennel
