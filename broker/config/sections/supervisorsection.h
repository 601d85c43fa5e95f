// [supervisor]: how the broker's supervisor runs the services as a whole (their cgroup). The
// services themselves are [service.NAME] groups: servicessection.h.
#pragma once

#include "configpass.h"
#include "configschema.h"

namespace Kennel::Config {

QStringList supervisorKeys();
const QList<NumericKey> &supervisorNumericKeys();
void applySupervisor(const QSettings &settings, Pass &pass);

} // namespace Kennel::Config
