// [bridge]: this board's link to the fleet's MQTT broker (broker/bridge/, docs/FLEET.md,
// docs/CONFIG.md [bridge]); --bridge URL, --board ID and --bridge-spool PATH on the command line.
#pragma once

#include "configpass.h"
#include "configschema.h"

class QCommandLineParser;
class QDir;

namespace Kennel::Config {

inline const QString GroupBridge = QStringLiteral("bridge");
inline const QString OptBridge = QStringLiteral("bridge");
inline const QString OptBoard = QStringLiteral("board");
inline const QString OptBridgeSpool = QStringLiteral("bridge-spool");
inline const QString OptBridgeMonitorAddress = QStringLiteral("bridge-monitor-address");

const QList<NumericKey> &bridgeNumericKeys();
QStringList bridgeKeys();

void addBridgeOptions(QCommandLineParser &parser);
// Everything but the numeric keys, which the shared table reads.
void applyBridge(const QSettings &settings, const QDir &configDir, Pass &pass);
void applyBridgeFlags(const QCommandLineParser &parser, Pass &pass);
// The keys that only make sense together (a URL needs a board, the prefix needs {board}, ...).
QStringList bridgeCrossCheck(const BrokerConfig &config);

} // namespace Kennel::Config
