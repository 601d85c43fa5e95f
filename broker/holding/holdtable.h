// Messages held for names that are expected back (docs/ARCHITECTURE.md "Held delivery"): one FIFO
// per name, bounded per name by count and bytes, each message by a time to live, and all of them
// together by a broker-wide memory budget. Storage and policy only: no sockets, no sessions, no
// clock of its own (the caller passes `now`), so every bound is tested without a process.
//
// Policy at a bound: the newest message — the one being offered — is the one dropped. Its sender
// is connected right now and hears it at once, the messages already held keep their order and
// their place, and a name that stays away cannot push out what was sent to it first (what a
// restarted service most often needs to see: the requests it missed, in order). D-Bus's
// activation queue does the same.
#pragma once

#include "holdsettings.h"

#include <QByteArray>
#include <QByteArrayView>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace Kennel {

class MemoryBudget;

class HoldTable
{
public:
    using Clock = std::chrono::steady_clock;

    enum class Verdict : quint8 {
        Held,
        OverNameCount, // the name already holds maxCount messages
        OverNameBytes, // this message would take the name past maxBytes
        OverTotal,     // this message would take all held messages past the broker-wide budget
    };

    struct Message
    {
        QByteArray target;
        QByteArray source;
        QByteArray payload;            // as the sender gave it; an old-protocol sender: its 512-byte msg field
        quint32 messageId = 0;
        quint64 senderConnection = 0;  // whom to tell the outcome; 0: nobody (old protocol, or not asked)
        bool legacyField = false;      // payload is a whole old-protocol msg field
        bool senderHearsHeld = false;  // the sender negotiated the held_status feature
        Clock::time_point heldAt;
        Clock::time_point expiresAt;

        qint64 cost() const { return payload.size(); }
    };

    struct NameSummary
    {
        int count = 0;
        qint64 bytes = 0;
        Clock::time_point oldest;
        Clock::time_point nextExpiry; // the front's: a queue expires front first
    };

    struct Counters
    {
        quint64 held = 0;
        quint64 flushed = 0; // taken out to be delivered (their final status is the delivery's)
        quint64 expired = 0;
        quint64 droppedNameCount = 0;
        quint64 droppedNameBytes = 0;
        quint64 droppedTotal = 0;
        quint64 startFailed = 0; // its on-demand service could not be started (answered start_failed)
        quint64 reheld = 0;      // of `held`: unacknowledged by a receiver whose connection ended (holdFront)
    };

    // `total` is the broker-wide budget (BudgetLedger::heldMessages); a limit of 0 is no limit.
    explicit HoldTable(MemoryBudget &total) : m_total(total) {}
    ~HoldTable();
    HoldTable(const HoldTable &) = delete;
    HoldTable &operator=(const HoldTable &) = delete;

    // Keeps `message` at the end of its target's queue, or says which bound refused it (the
    // message is then not kept). Sets heldAt and expiresAt from `now` and the limits' ttl.
    Verdict hold(Message message, const HoldLimits &limits, Clock::time_point now);
    // Messages a receiver was handed and never acknowledged (PROTOCOL §5.7), for the front of
    // their target's queue — they were sent before anything held for it now — in their order.
    // Each is kept while the name's bounds and the total allow, counting what is held already;
    // the answer is one verdict per message, in order. A re-held message expires at its ttl from
    // now, or with the name's oldest held message if that is earlier (a queue expires front first).
    std::vector<Verdict> holdFront(std::vector<Message> messages, const HoldLimits &limits, Clock::time_point now);
    // Everything held for `name`, oldest first; the name holds nothing afterwards.
    std::deque<Message> take(QByteArrayView name);
    // Everything held for `name`, whose on-demand service could not be started: as take(), but
    // counted as startFailed.
    std::deque<Message> takeStartFailed(QByteArrayView name);
    // Everything held, for a broker that stops.
    std::vector<Message> takeAll();
    // The messages whose time to live has passed at `now`, oldest first per name.
    std::vector<Message> expire(Clock::time_point now);
    // When expire() next has something to return; nullopt when nothing is held.
    std::optional<Clock::time_point> nextExpiry() const;

    std::optional<NameSummary> summary(QByteArrayView name) const;
    std::vector<std::pair<QByteArray, NameSummary>> summaries() const;
    int count() const { return m_count; }
    qint64 bytes() const { return m_bytes; }
    const Counters &counters() const { return m_counters; }

private:
    struct Queue
    {
        QByteArray name; // the key's storage
        std::deque<Message> messages;
        qint64 bytes = 0;
    };
    void release(const Message &message, Queue &queue);

    MemoryBudget &m_total;
    std::unordered_map<std::string_view, std::unique_ptr<Queue>> m_queues;
    int m_count = 0;
    qint64 m_bytes = 0;
    Counters m_counters;
};

const char *holdVerdictName(HoldTable::Verdict verdict);

} // namespace Kennel
