// [policy]: the access policy (broker/policy/accesspolicy.h, docs/CONFIG.md [policy],
// docs/SECURITY.md "Access policy"): `default = allow|deny` and one rule per other key, in file
// order (the first match wins, so the order is the file's, not QSettings' sorted one).
#pragma once

#include "configpass.h"
#include "iniscan.h"

class QSettings;

namespace Kennel::Config {

void applyPolicy(const QSettings &settings, const IniLayout &layout, Pass &pass);

} // namespace Kennel::Config
