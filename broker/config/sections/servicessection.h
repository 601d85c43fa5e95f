// [service.NAME]: the programs the broker's supervisor starts, one group each, in file order.
// A new service key goes into serviceKeys() (servicessection.cpp), readService() and, where it
// needs a judgement that does not depend on how it was written, checkService().
#pragma once

#include "configpass.h"
#include "configschema.h"
#include "iniscan.h"

class QDir;

namespace Kennel::Config {

// In the order "unknown key" errors list them (the documented order).
const QStringList &serviceKeys();

// Services in the order of their groups in the file. A file that declares any replaces the
// services of the layer below; a service with an error is left out (and the result is not ok).
void applyServices(const QSettings &settings, const IniLayout &layout, const QDir &configDir, Pass &pass);
void validateServices(const BrokerConfig &config, QStringList *errors);

} // namespace Kennel::Config
