// The message path: find the target by name, check it can take the message, encode the message
// straight into the target's output in the target's protocol, count it, and report the outcome.
#pragma once

#include "frame.h"
#include "logthrottle.h"
#include "trafficcounters.h"

#include <QByteArrayView>

namespace Kennel {

struct BrokerConfig;
struct FrameView;
struct NameEntry;
class NameRegistry;
class Session;
namespace Legacy { struct FrameView; }

// A sender's last target, so a stream of messages to one peer costs a compare, not a hash lookup.
struct RouteCache
{
    NameEntry *entry = nullptr;
    quint64 generation = ~quint64(0);
};

class Router
{
public:
    Router(const BrokerConfig &config, const NameRegistry &registry);

    // A native Send from a registered client. The caller has checked the sender's identity.
    DeliveryStatus routeNative(Session &sender, QByteArrayView target, quint32 messageId, QByteArrayView payload);
    // A legacy cmd 2 from a connection bound to its name.
    DeliveryStatus routeLegacy(Session &sender, const Legacy::FrameView &frame);

    void setShuttingDown(bool stopping) { m_shuttingDown = stopping; }
    const TrafficCounters &totals() const { return m_totals; }
    quint64 nextLegacyMessageId() { return ++m_legacyMessageIds; }

private:
    NameEntry *lookup(Session &sender, QByteArrayView target);
    DeliveryStatus deliver(Session &sender, QByteArrayView target, quint32 messageId, QByteArrayView payload,
                           const char *legacyMsgField);
    void noteUndelivered(Session &sender, QByteArrayView target, DeliveryStatus status);

    const BrokerConfig &m_config;
    const NameRegistry &m_registry;
    TrafficCounters m_totals;
    LogThrottle m_dropLog;
    quint64 m_legacyMessageIds = 0;
    bool m_shuttingDown = false;
};

} // namespace Kennel
