// [watchdog] and [watchdog.actions]: the deadlines clients get, what happens when one expires,
// and the per-name action rules (first match wins, so they are read in file order).
#pragma once

#include "configpass.h"
#include "configschema.h"
#include "iniscan.h"

namespace Kennel::Config {

const QList<NumericKey> &watchdogNumericKeys();
QStringList watchdogKeys();

bool isWatchdogKey(const NumericKey &key);
QStringList watchdogCrossCheck(const WatchdogSettings &w);
// Pattern checks shared by the file and validate(): a bad pattern, or a rule no name can reach.
QStringList checkActionRules(const QList<WatchdogActionRule> &rules);

void applyWatchdog(const QSettings &settings, const IniLayout &layout, Pass &pass);

} // namespace Kennel::Config
