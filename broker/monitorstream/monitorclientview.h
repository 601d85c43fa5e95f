// What the monitor stream reads about the broker's connections: each live one, the count, the
// broker-wide totals and whether the broker is stopping. Read-only: a monitor sees clients through
// this and acts on them only through MonitorActions. The broker implements it (MonitorBackend).
#pragma once

#include "trafficcounters.h"

#include <QtGlobal>

#include <cstddef>
#include <functional>

namespace Kennel {

class Session;

class MonitorClientView
{
public:
    virtual ~MonitorClientView() = default;
    // Every connection, registered or not, in no particular order. `fn` must not close any.
    virtual void forEachSession(const std::function<void(const Session &)> &fn) const = 0;
    // A live connection by id, or nullptr.
    virtual const Session *sessionById(quint64 id) const = 0;
    virtual size_t connectionCount() const = 0;
    virtual const TrafficCounters &totals() const = 0;
    virtual bool isShuttingDown() const = 0;
    // Registrations refused because the name is reserved for a service (docs/SECURITY.md).
    virtual quint64 reservedNamesRefused() const { return 0; }
};

} // namespace Kennel
