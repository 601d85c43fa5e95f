// What the protocol handlers reach, and nothing more: the limits, the name table, the router, the
// watchdog, and their owner's ear for events. Owned by Broker; the handlers hold a reference.
#pragma once

namespace Kennel {

struct BrokerConfig;
class CallRouter;
class ClientWatchdog;
class ConnectionEvents;
class NameRegistry;
class ReservedNames;
class AccessGate;
class SendGate;
class Router;
class TopicBus;

struct HandlerContext
{
    const BrokerConfig &config;
    NameRegistry &registry;
    Router &router;
    ClientWatchdog &watchdog;
    // Told about registrations and monitor Hellos; may be null (no one to tell: a monitor's
    // Hello is then refused like any other role).
    ConnectionEvents *events = nullptr;
    // Calls and Replies (PROTOCOL §5.6); null: answered as unknown frames.
    CallRouter *calls = nullptr;
    // Publish/subscribe (topics/); null: topic frames are answered as unknown ones.
    TopicBus *topics = nullptr;
    // Names reserved for their services (broker/policy/); null: none are.
    ReservedNames *reservedNames = nullptr;
    // The access policy ([policy], broker/policy/); null: everything allowed.
    AccessGate *access = nullptr;
    // Its send rules (PROTOCOL ..): why a denial was made; null: none are checked.
    SendGate *sendGate = nullptr;
};

} // namespace Kennel
