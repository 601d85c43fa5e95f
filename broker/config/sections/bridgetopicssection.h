// [bridge] export_topics, import_topics and export_max_pending: topics across the bridge
// (broker/bridge/topicbridge.h, docs/FLEET.md "Topics", docs/CONFIG.md [bridge]). A block of
// its own beside bridgesection.*, which reads the link's keys.
#pragma once

#include "configpass.h"
#include "configschema.h"

namespace Kennel::Config {

const QList<NumericKey> &bridgeTopicsNumericKeys();
QStringList bridgeTopicsKeys();
void applyBridgeTopics(const QSettings &settings, Pass &pass);
// The filters against [topics] bounds (read after [bridge]), and a prefix whose {board} is a
// whole level, so that other boards' topics can be subscribed with '+'.
QStringList bridgeTopicsCrossCheck(const BrokerConfig &config);

} // namespace Kennel::Config
