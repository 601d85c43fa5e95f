// The bounds of held delivery ([hold] in the config, docs/CONFIG.md): how much the broker keeps
// for a name that is expected back, for how long, and which names are expected. Plain values, so
// the hold table and its tests need nothing of the config loader.
#pragma once

#include <QByteArray>
#include <QList>
#include <QtGlobal>

#include <chrono>

namespace Kennel {

// The bounds for one name's held messages.
struct HoldLimits
{
    int maxCount = 1000;                 // messages held for one name
    qint64 maxBytes = 1024 * 1024;       // their stored bytes (payload; 512 per old-protocol message)
    std::chrono::milliseconds ttl{30000}; // from holding to expiry
};

// The bounds of what one acknowledging receiver's connection keeps unacknowledged (PROTOCOL §5.7):
// past them it is answered target_queue_full, as for a full output queue.
struct UnackedLimits
{
    int maxCount = 10000;               // Deliver frames
    qint64 maxBytes = 4 * 1024 * 1024;  // their whole frames' bytes
};

struct HoldSettings
{
    bool enabled = true;
    HoldLimits limits;
    // Broker-wide stored bytes of all held messages (a BudgetLedger budget); 0: derived from RAM.
    qint64 totalBytes = 0;
    // A name whose connection the watchdog or a crash closed is expected back for this long.
    std::chrono::milliseconds lostWindow{10000};
    // Names expected back at any time (a program started by something other than the broker).
    QList<QByteArray> names;
    // What an acknowledging receiver may leave unacknowledged ([hold] unacked_max_count, unacked_max_bytes).
    UnackedLimits unacked;
};

} // namespace Kennel
