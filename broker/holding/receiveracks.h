// Receiver acknowledgement (PROTOCOL §5.7, the deliver_ack feature), the protocol side: a client
// that negotiated it gets a DeliveryLedger on its connection, its DeliverAck frames release what
// its application has processed and tell each message's sender `delivered` then. What a
// connection leaves unacknowledged when it ends is held delivery's (HeldDelivery::connectionClosed).
#pragma once

#include "frame.h"

#include <QByteArrayView>

namespace Kennel {

struct FrameView;
struct UnackedLimits;
class NameRegistry;
class Session;

namespace ReceiverAcks {

// The client's Hello listed deliver_ack and the broker offered it: keep its Delivers from now on.
void start(Session &session, const UnackedLimits &limits);
// A DeliverAck frame from `session`: messageId = how many Delivers its application has processed
// since the Welcome (mod 2^32).
void acknowledge(Session &session, const FrameView &frame, const NameRegistry &registry);
// Tells the sender of the Deliver frame `deliver` (as the ledger kept it) `status`, on the very
// connection that sent it (`connection`); false if that connection is gone.
bool tellSender(const NameRegistry &registry, quint64 connection, QByteArrayView deliver, DeliveryStatus status);

} // namespace ReceiverAcks
} // namespace Kennel
