// [hold]: held delivery (broker/holding/) — messages to a name that is expected back are kept
// for it within these bounds instead of being refused (docs/CONFIG.md [hold]).
#pragma once

#include "configpass.h"
#include "configschema.h"
#include "iniscan.h"

namespace Kennel::Config {

const QList<NumericKey> &holdNumericKeys();
QStringList holdKeys();
// enabled and names (the numeric keys are read with the shared table).
// [hold.PATTERN] sections too, in file order (`layout`).
void applyHold(const QSettings &settings, const IniLayout &layout, Pass &pass);

} // namespace Kennel::Config
