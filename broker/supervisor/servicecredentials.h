// Who a service's program runs as ([service.NAME] user, group, supplementary_groups): the
// account resolved from the names in the config (ServiceAccount, checked when the config is
// loaded) resolved again at each start (the account may have gone since), and applied.
//
// The child applies them between fork and exec in the order that cannot fail half-way into a
// privilege it should not keep: setgroups() (the supplementary list, exactly as configured —
// empty drops the broker's own), setgid(), then setuid(). Only root can do that; a broker not
// running as root asked for another identity refuses the start with a clear error instead.
#pragma once

#include "serviceaccount.h"

#include <QString>

#include <optional>
#include <vector>

#include <sys/types.h>

namespace Kennel {

struct ServiceCredentials : ServiceAccount
{
    // ServiceAccount::resolve, for applying.
    static std::optional<ServiceCredentials> resolve(const ServiceSettings &settings, QString *error);
    // Empty when this process may take these credentials; else why not (not root).
    QString checkPrivileges() const;
    // In the child after fork, async-signal-safe: setgroups, setgid, setuid. On failure writes a
    // line to stderr and returns false (the caller _exits).
    bool applyInChild() const;
};

} // namespace Kennel
