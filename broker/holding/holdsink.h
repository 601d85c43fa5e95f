// The router's one question to held delivery, asked only where a target is found to have no
// receiver (where `no_such_client` is decided): a registered target never reaches it, so the
// directed path pays nothing for holding.
#pragma once

#include "frame.h"

#include <QByteArrayView>

#include <optional>

namespace Kennel {

class Endpoint;

class HoldSink
{
public:
    virtual ~HoldSink() = default;
    // `target` has no receiver. Held (DeliveryStatus::Held), or refused at a hold bound (one of
    // the Dropped* statuses) when the name is expected back; NoSuchClient when it is not, and then
    // nothing was kept. `legacyMsgField`: an old-protocol sender's whole 512-byte msg field.
    virtual DeliveryStatus offer(Endpoint &sender, QByteArrayView target, quint32 messageId, QByteArrayView payload,
                                 const char *legacyMsgField, bool wantStatus) = 0;
};

// What a native sender is told of a held message (PROTOCOL ): a sender that
// negotiated held_status hears every status as it is; one that did not hears nothing for `held`
// (nullopt) and `no_such_client` for the held-delivery outcomes — the only status it would have
// had before holding, so it never sees a value it does not know.
inline std::optional<DeliveryStatus> statusForSender(DeliveryStatus status, bool hearsHeld)
{
    if (hearsHeld || status < DeliveryStatus::Held)
        return status;
    if (status == DeliveryStatus::Held)
        return std::nullopt;
    return DeliveryStatus::NoSuchClient;
}

} // namespace Kennel
