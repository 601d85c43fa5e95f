// [monitor]: the broker's own listeners for kennel-monitor, how monitors are admitted (token,
// local peers, TLS), and the bounds on what the broker sends them.
#pragma once

#include "configpass.h"
#include "configschema.h"

class QCommandLineParser;
class QDir;

namespace Kennel::Config {

const QList<NumericKey> &monitorNumericKeys();
QStringList monitorKeys();

bool isMonitorKey(const NumericKey &key);
// The keys that only make sense together, on the outcome of every layer.
QStringList monitorCrossCheck(const BrokerConfig &config);

// Everything but the numeric keys, which the shared table reads.
void applyMonitor(const QSettings &settings, const QDir &configDir, Pass &pass);
void applyMonitorFlags(const QCommandLineParser &parser, Pass &pass); // --monitor-listen, --monitor-token-file
// The listen list and the token of a config built in code.
void validateMonitor(const BrokerConfig &config, QStringList *errors);

} // namespace Kennel::Config
