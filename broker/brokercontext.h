// What every connection needs to reach: the limits, the poller, the name table and the router.
// One instance, owned by Broker; sessions hold a reference instead of a pointer per collaborator.
#pragma once

#include "budgetledger.h"

#include <cstddef>
#include <memory>

namespace Kennel {

struct BrokerConfig;
class EventPoller;
class NameRegistry;
class Router;
class NativeHandler;
class LegacyHandler;
class ClientWatchdog;
class HeldDelivery;
class MonitorHub;
class Session;

class SessionOwner
{
public:
    virtual ~SessionOwner() = default;
    // The session has closed its descriptor and left every table; destroy it after the batch.
    virtual void sessionClosed(Session *session) = 0;
    // A read ended with the beginning of a new frame held and its end still to come: the
    // incomplete-frame deadline starts now (Session::incompleteFrameSince()).
    virtual void incompleteFrameStarted(Session *session) { (void)session; }
    // A global memory budget (BrokerContext::budgets) went past its limit: shed after the batch.
    virtual void budgetExceeded() {}
};

struct BrokerContext
{
    const BrokerConfig *config = nullptr;
    EventPoller *poller = nullptr;
    NameRegistry *registry = nullptr;
    Router *router = nullptr;
    NativeHandler *native = nullptr;
    LegacyHandler *legacy = nullptr;
    ClientWatchdog *watchdog = nullptr;
    // Monitors: takes over connections that say Hello as a monitor; told about registrations.
    // May be null (a context without monitors: unit tests of the handlers).
    MonitorHub *monitors = nullptr;
    // Held delivery: told when a name registers, to flush what was held for it. May be null.
    HeldDelivery *held = nullptr;
    SessionOwner *owner = nullptr;
    bool shuttingDown = false;
    // Broker-wide memory budgets; unlimited until the broker configures them.
    BudgetLedger budgets;

    // One read buffer shared by all connections: a read lands here and every complete frame is
    // handled in place; only a frame cut off at the end is copied into the connection's own queue.
    static constexpr size_t ScratchSize = 256 * 1024;
    std::unique_ptr<char[]> scratch{new char[ScratchSize]};
};

} // namespace Kennel
