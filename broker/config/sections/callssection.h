// [calls]: request/reply calls (broker/calls/) — how many calls a client may have outstanding and
// how long a call may wait for its reply (docs/CONFIG.md [calls]).
#pragma once

#include "configpass.h"
#include "configschema.h"

namespace Kennel::Config {

const QList<NumericKey> &callsNumericKeys();
QStringList callsKeys();

} // namespace Kennel::Config
