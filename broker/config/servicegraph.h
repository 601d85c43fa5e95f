// The order of services given by their `after` keys ([service.NAME] after = a, b): a service
// starts once the services it names have registered their names with the broker, and stops
// before them. ServiceGraph checks the graph (for the config loader: unknown names, a service
// after itself, cycles, two services registering one name) and sorts it (for the Supervisor).
// Pure functions of the settings, so they live with the config, the layer both build on.
#pragma once

#include "brokerconfig.h"

#include <QList>
#include <QStringList>

namespace Kennel {

namespace ServiceGraph {

// One error per problem, each naming the services: "[service.b] after: unknown service \"x\"",
// "[service.a] after: a dependency cycle: a -> b -> a". Empty when the graph is sound.
QStringList check(const QList<ServiceSettings> &services);

// Indices into `services` in start order: every service after those it names, otherwise in
// config order. Services caught in a cycle (only possible when check() was not heeded) come
// last, in config order. Stop order is the reverse.
QList<int> startOrder(const QList<ServiceSettings> &services);

} // namespace ServiceGraph

} // namespace Kennel
