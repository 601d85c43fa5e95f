// [log]: traffic logging, the per-peer log line budget, and QLoggingCategory rules.
#pragma once

#include "configpass.h"
#include "configschema.h"

class QCommandLineParser;

namespace Kennel::Config {

const QList<NumericKey> &logNumericKeys();
QStringList logKeys();

void applyLogTraffic(const QSettings &settings, Pass &pass);
void applyLogRules(const QSettings &settings, Pass &pass);
void applyLogFlags(const QCommandLineParser &parser, Pass &pass); // --log-traffic

} // namespace Kennel::Config
