#include "receiveracks.h"
#include "logging.h"

#include "deliveryledger.h"
#include "framecodec.h"
#include "holdsink.h"
#include "nameregistry.h"
#include "session.h"

#include <limits>
#include <memory>

namespace Kennel::ReceiverAcks {

void start(Session &session, const UnackedLimits &limits)
{
    session.keepUnacknowledged(std::make_unique<DeliveryLedger>(limits, &session.unackedBudget()));
}

void acknowledge(Session &session, const FrameView &frame, const NameRegistry &registry)
{
    DeliveryLedger *ledger = session.unacked;
    if (!ledger || session.kind() != Session::Kind::Client) {
        session.refuse(ErrorCode::UnknownFrameType,
                       QStringLiteral("deliver_ack frames need the deliver_ack feature (listed in Hello, offered in Welcome)"),
                       frame.messageId);
        return;
    }
    const quint64 before = ledger->acknowledged();
    const size_t unacked = ledger->count();
    const bool ok = ledger->acknowledge(frame.messageId, [&](const char *deliver, size_t size, quint64 connection) {
        if (connection)
            tellSender(registry, connection, QByteArrayView(deliver, qsizetype(size)), DeliveryStatus::Delivered);
    });
    if (!ok) {
        // The counts no longer agree: whatever it acknowledges next would be guessed.
        session.refuse(ErrorCode::MalformedFrame,
                       QStringLiteral("deliver_ack %1 acknowledges %2 messages; %3 were delivered since %4 and not acknowledged")
                           .arg(frame.messageId)
                           .arg(quint32(frame.messageId - quint32(before)))
                           .arg(unacked)
                           .arg(before),
                       frame.messageId, true);
    }
}

bool tellSender(const NameRegistry &registry, quint64 connection, QByteArrayView deliver, DeliveryStatus status)
{
    const DecodeResult decoded = decodeFrame(deliver, std::numeric_limits<quint32>::max());
    if (decoded.error != DecodeError::None)
        return false; // never: the ledger keeps frames as the broker wrote them
    const NameEntry *entry = registry.find(decoded.frame.source);
    auto *sender = entry ? dynamic_cast<Session *>(entry->receiver) : nullptr;
    if (!sender || sender->id() != connection || !sender->isOpen())
        return false;
    if (const std::optional<DeliveryStatus> said = statusForSender(status, sender->features() & FeatureHeldStatus))
        sender->sendFrame(FrameType::DeliveryStatus, decoded.frame.messageId, {}, decoded.frame.target,
                          encodeDeliveryStatus(*said));
    return true;
}

} // namespace Kennel::ReceiverAcks
