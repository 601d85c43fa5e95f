#include "router.h"
#include "logging.h"

#include "brokerconfig.h"
#include "deliveryledger.h"
#include "framecodec.h"
#include "legacyframe.h"
#include "nameregistry.h"
#include "sendgate.h"

#include <algorithm>
#include <cstring>

namespace Kennel {

Router::Router(const BrokerConfig &config, const NameRegistry &registry)
    : m_config(config)
    , m_registry(registry)
{
}

NameEntry *Router::lookup(Endpoint &sender, QByteArrayView target)
{
    RouteCache &cache = sender.routeCache;
    if (cache.generation == m_registry.generation() && cache.entry
        && cache.entry->name.size() == target.size()
        && std::memcmp(cache.entry->name.constData(), target.data(), size_t(target.size())) == 0)
        return cache.entry;
    NameEntry *entry = m_registry.find(target);
    if (entry) {
        cache.entry = entry;
        cache.generation = m_registry.generation();
    }
    return entry;
}

DeliveryStatus Router::routeNative(Endpoint &sender, QByteArrayView target, quint32 messageId, QByteArrayView payload,
                                   bool wantStatus)
{
    return deliver(sender, target, messageId, payload, nullptr, wantStatus);
}

DeliveryStatus Router::routeLegacy(Endpoint &sender, const Legacy::FrameView &frame)
{
    // Between legacy programs the whole 512-byte field travels untouched, as the old server did:
    // old programs (and the routebench load generator) carry binary data in it. A native
    // receiver gets the text, which is all the old protocol defines.
    return deliver(sender, frame.target, quint32(nextLegacyMessageId()), frame.text(), frame.msgField.data(), false);
}

DeliveryStatus Router::deliver(Endpoint &sender, QByteArrayView target, quint32 messageId, QByteArrayView payload,
                               const char *legacyMsgField, bool wantStatus)
{
    ++sender.counters.messagesIn;
    sender.counters.bytesIn += quint64(payload.size());
    ++m_totals.messagesIn;
    m_totals.bytesIn += quint64(payload.size());

    if (Q_UNLIKELY(m_shuttingDown)) {
        noteUndelivered(sender, target, payload, DeliveryStatus::ShuttingDown);
        return DeliveryStatus::ShuttingDown;
    }
    // Before the name is looked up: a denied sender learns nothing about whether it is there.
    if (Q_UNLIKELY(m_sendGate)
        && !m_sendGate->allowsName(sender, target, legacyMsgField ? PolicyPath::LegacySend : PolicyPath::Send)) {
        // Counted here, logged by the gate (with the rule).
        sender.counters.countUndelivered(DeliveryStatus::PolicyDenied);
        m_totals.countUndelivered(DeliveryStatus::PolicyDenied);
        if (Q_UNLIKELY(m_tap))
            m_tap->record(sender, target, payload, DeliveryStatus::PolicyDenied);
        return DeliveryStatus::PolicyDenied;
    }
    NameEntry *entry = lookup(sender, target);
    Endpoint *receiver = entry ? entry->receiver : nullptr;
    if (!receiver) {
        // Held delivery is asked here and only here: a registered target never pays for it.
        if (m_hold) {
            const DeliveryStatus held = m_hold->offer(sender, target, messageId, payload, legacyMsgField, wantStatus);
            if (held == DeliveryStatus::Held) {
                if (Q_UNLIKELY(m_tap))
                    m_tap->record(sender, target, payload, held);
                return held;
            }
            if (held != DeliveryStatus::NoSuchClient) {
                noteUndelivered(sender, target, payload, held); // a hold bound: counted and logged like any drop
                return held;
            }
        }
        noteUndelivered(sender, target, payload, DeliveryStatus::NoSuchClient);
        return DeliveryStatus::NoSuchClient;
    }

    const QByteArray &source = sender.name();
    const bool toLegacy = receiver->protocol() == Endpoint::Protocol::Legacy;
    size_t frameSize;
    if (toLegacy) {
        if (source.size() > Legacy::MaxNameLength) {
            noteUndelivered(sender, target, payload, DeliveryStatus::SenderNameUnfit, receiver);
            return DeliveryStatus::SenderNameUnfit;
        }
        if (!legacyMsgField && payload.size() > Legacy::MaxTextLength) {
            noteUndelivered(sender, target, payload, DeliveryStatus::TooLargeForTarget, receiver);
            return DeliveryStatus::TooLargeForTarget;
        }
        frameSize = Legacy::FrameSize;
    } else {
        frameSize = size_t(Wire::HeaderSize + source.size() + target.size() + payload.size());
    }

    const size_t bound = size_t(m_config.maxOutputQueueBytes);
    // A Deliver is up to a name (64 bytes) larger than the largest legal Send, and the queue bound
    // is at least the frame size: an empty queue takes any such frame, so a maximal Send always
    // reaches a reader (PROTOCOL ). The queue then exceeds its bound by at most 64 bytes.
    const size_t largestDeliver = size_t(m_config.maxFrameSize) + size_t(Wire::MaxNameLength);
    const bool fitsEmptyQueue = frameSize <= std::max(bound, largestDeliver);
    if (!fitsEmptyQueue) {
        noteUndelivered(sender, target, payload, DeliveryStatus::TooLargeForTarget, receiver);
        return DeliveryStatus::TooLargeForTarget;
    }
    const size_t pending = receiver->pendingOutput();
    DeliveryLedger *const unacked = receiver->unacked;
    if ((pending + frameSize > bound && pending != 0) || (Q_UNLIKELY(unacked) && unacked->isFull(frameSize))) {
        noteUndelivered(sender, target, payload, DeliveryStatus::TargetQueueFull, receiver);
        return DeliveryStatus::TargetQueueFull;
    }

    char *dst = receiver->reserveOutput(frameSize);
    if (!dst) {
        noteUndelivered(sender, target, payload, DeliveryStatus::TargetQueueFull, receiver);
        return DeliveryStatus::TargetQueueFull;
    }
    if (toLegacy) {
        const QByteArrayView msg = legacyMsgField ? QByteArrayView(legacyMsgField, Legacy::MsgFieldSize) : payload;
        Legacy::encode(dst, Legacy::Command::Forward, 0, target, source, msg);
        m_statusDeferred = false;
    } else {
        writeHeader(dst, FrameType::Deliver, quint32(frameSize - Wire::HeaderSize), messageId,
                    quint8(source.size()), quint8(target.size()), NoFlags);
        char *p = dst + Wire::HeaderSize;
        std::memcpy(p, source.constData(), size_t(source.size()));
        p += source.size();
        std::memcpy(p, target.data(), size_t(target.size()));
        p += target.size();
        if (!payload.isEmpty())
            std::memcpy(p, payload.data(), size_t(payload.size()));
        // PROTOCOL §5.7: kept until the receiver acknowledges it; its sender hears `delivered` then.
        m_statusDeferred = unacked != nullptr;
        if (unacked && !unacked->record(dst, frameSize, wantStatus ? sender.statusConnection() : 0))
            m_statusDeferred = false; // out of memory: not kept, said `delivered` now as before acknowledgements
    }
    receiver->commitOutput(frameSize);

    ++receiver->counters.messagesOut;
    receiver->counters.bytesOut += quint64(payload.size());
    ++m_totals.messagesOut;
    m_totals.bytesOut += quint64(payload.size());
    if (Q_UNLIKELY(m_config.logTraffic))
        qCInfo(lcTraffic, "%s -> %s: %lld bytes", source.constData(), receiver->name().constData(),
               qlonglong(payload.size()));
    if (Q_UNLIKELY(m_tap))
        m_tap->record(sender, target, payload, DeliveryStatus::Delivered);
    return DeliveryStatus::Delivered;
}

void Router::noteUndelivered(Endpoint &sender, QByteArrayView target, QByteArrayView payload, DeliveryStatus status,
                             Endpoint *receiver)
{
    sender.counters.countUndelivered(status);
    m_totals.countUndelivered(status);
    if (receiver)
        ++receiver->droppedTowards;
    if (Q_UNLIKELY(m_tap))
        m_tap->record(sender, target, payload, status);
    int suppressed = 0;
    if (!m_dropLog.allow(&suppressed))
        return;
    if (suppressed)
        qCWarning(lcRouter, "%d more undelivered messages not logged", suppressed);
    qCWarning(lcRouter).noquote() << "not delivered: message from" << sender.describe() << "to"
                                  << QString::fromLatin1(target.toByteArray()) << "-" << deliveryStatusName(status);
}

} // namespace Kennel
