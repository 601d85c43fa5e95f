// The message path: find the target by name, check it can take the message, encode the message
// straight into the target's output in the target's protocol, count it, and report the outcome.
#pragma once

#include "endpoint.h"
#include "frame.h"
#include "holdsink.h"
#include "logthrottle.h"
#include "trafficcounters.h"

#include <QByteArrayView>

namespace Kennel {

struct BrokerConfig;
struct FrameView;
struct NameEntry;
class NameRegistry;
class SendGate;
namespace Legacy { struct FrameView; }

// Sees what the router did with every message while it is set: the monitor stream's traffic
// records. The router holds one pointer and tests it once per message (Q_UNLIKELY): with no
// monitor asking for traffic the message path pays one predictable branch and nothing else.
class TrafficTap
{
public:
    virtual ~TrafficTap() = default;
    // `payload` is the message as the sender gave it (a legacy sender: the msg text).
    virtual void record(const Endpoint &sender, QByteArrayView target, QByteArrayView payload, DeliveryStatus status) = 0;

    // Topics and calls (PROTOCOL §6.8): a publication once fanned out, and a call once it ended.
    struct Publication
    {
        QByteArrayView topic;
        QByteArrayView payload;
        quint32 reached = 0;
        quint32 notTaken = 0;
        bool retain = false;
        ErrorCode result = ErrorCode::None;
    };
    // A tap that does not know publications sees one as a message to "topic:TOPIC" (names have no ':').
    virtual void recordPublication(const Endpoint &publisher, const Publication &publication)
    {
        const QByteArray target = QByteArrayLiteral("topic:") + publication.topic.toByteArray();
        record(publisher, target, publication.payload,
               publication.notTaken ? DeliveryStatus::TargetQueueFull : DeliveryStatus::Delivered);
    }
    struct CallEnd
    {
        QByteArrayView caller;
        QByteArrayView callee;
        CallOutcome outcome = CallOutcome::Replied;
        quint16 code = 0;
        qint64 roundTripUs = 0;
        quint32 replySize = 0;
    };
    virtual void recordCall(const CallEnd &call) { (void)call; }
    // A held message's final outcome (PROTOCOL ), told by held delivery: delivered to the
    // name's new holder, expired, start_failed, ..., `heldMs` after it was held. Its sender may
    // have gone since: only its name is known.
    virtual void recordHeldOutcome(QByteArrayView source, QByteArrayView target, QByteArrayView payload,
                                   DeliveryStatus status, qint64 heldMs)
    {
        (void)source, (void)target, (void)payload, (void)status, (void)heldMs;
    }
};

class Router
{
public:
    Router(const BrokerConfig &config, const NameRegistry &registry);

    // A native Send from a registered client. The caller has checked the sender's identity.
    // `wantStatus`: the sender asked for a status (a held message's final one comes later).
    DeliveryStatus routeNative(Endpoint &sender, QByteArrayView target, quint32 messageId, QByteArrayView payload,
                               bool wantStatus = false);
    // A legacy cmd 2 from a connection bound to its name.
    DeliveryStatus routeLegacy(Endpoint &sender, const Legacy::FrameView &frame);

    // A message the protocol handler refused before routing (not registered, empty target): the
    // handler counts it; this only shows it to the tap.
    void tapRefused(const Endpoint &sender, QByteArrayView target, QByteArrayView payload, DeliveryStatus status)
    {
        if (Q_UNLIKELY(m_tap))
            m_tap->record(sender, target, payload, status);
    }
    void setTap(TrafficTap *tap) { m_tap = tap; }
    // Asked where a target has no receiver (held delivery); null: refused at once.
    void setHoldSink(HoldSink *hold) { m_hold = hold; }
    TrafficTap *tap() const { return m_tap; }
    // Asked before every message while set (PROTOCOL ): the broker sets it only while the
    // policy has send rules on names; null: no check at all.
    void setSendGate(SendGate *gate) { m_sendGate = gate; }

    // The last message routed `delivered` went to a receiver that acknowledges (PROTOCOL §5.7):
    // its sender's `delivered` waits for the acknowledgement, and the caller says nothing now.
    bool statusDeferred() const { return m_statusDeferred; }

    void setShuttingDown(bool stopping) { m_shuttingDown = stopping; }
    const TrafficCounters &totals() const { return m_totals; }
    quint64 nextLegacyMessageId() { return ++m_legacyMessageIds; }

private:
    NameEntry *lookup(Endpoint &sender, QByteArrayView target);
    DeliveryStatus deliver(Endpoint &sender, QByteArrayView target, quint32 messageId, QByteArrayView payload,
                           const char *legacyMsgField, bool wantStatus);
    void noteUndelivered(Endpoint &sender, QByteArrayView target, QByteArrayView payload, DeliveryStatus status,
                         Endpoint *receiver = nullptr);

    const BrokerConfig &m_config;
    const NameRegistry &m_registry;
    TrafficCounters m_totals;
    LogThrottle m_dropLog;
    TrafficTap *m_tap = nullptr;
    HoldSink *m_hold = nullptr;
    SendGate *m_sendGate = nullptr;
    quint64 m_legacyMessageIds = 0;
    bool m_shuttingDown = false;
    bool m_statusDeferred = false;
};

} // namespace Kennel
