// [topics]: publish/subscribe (broker/topics/) — the grammar's bounds, subscriptions per
// connection, the retained store, and the names old programs take part under (docs/CONFIG.md [topics]).
#pragma once

#include "configpass.h"
#include "configschema.h"

namespace Kennel::Config {

inline const QString GroupTopics = QStringLiteral("topics");

const QList<NumericKey> &topicsNumericKeys();
QStringList topicsKeys();
// enabled, subscribe and publish_names (the numeric keys are read with the shared table).
void applyTopics(const QSettings &settings, Pass &pass);

} // namespace Kennel::Config
