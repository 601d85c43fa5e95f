// The broker's global memory budgets in one place, with the limits they get from the
// configuration — or, where the configuration says 0 ("auto"), from the machine: a fraction of
// physical RAM read once at start, within a floor and a ceiling (docs/CONFIG.md "limits"). A
// further budget (held messages, retained values, spool) is one more MemoryBudget member here and
// one more line in configure().
#pragma once

#include "memorybudget.h"

#include <QtGlobal>

namespace Kennel {

struct BrokerConfig;

class BudgetLedger
{
public:
    // Bytes of frames begun and not yet complete, parked in connections' input buffers.
    MemoryBudget incompleteFrames{"incomplete frames"};
    // Bytes queued towards all client connections (deliveries, statuses, errors).
    MemoryBudget clientQueues{"client queues"};
    // Bytes queued towards all admitted monitors.
    MemoryBudget monitorQueues{"monitor queues"};
    // Bytes of messages held for names expected back ([hold] total_bytes). Never shed: the hold
    // table checks it before it keeps a message and drops the newest instead (HoldTable).
    MemoryBudget heldMessages{"held messages"};
    // Bytes of Deliver frames written to acknowledging receivers and not yet acknowledged
    // ([hold] unacked_total_bytes; PROTOCOL ). Never shed: past it a delivery to an
    // acknowledging receiver is refused `queue_full`, as past its own unacked_max_bytes.
    MemoryBudget unackedDeliveries{"unacknowledged deliveries"};

    // Derived defaults: RAM / divisor, clamped to [floor, ceiling]. A budget is never below the
    // per-connection bound it sums up (one connection alone must be able to reach its own bound).
    static constexpr qint64 MiB = 1024 * 1024;
    static constexpr int IncompleteFramesDivisor = 16;
    static constexpr qint64 IncompleteFramesFloor = 16 * MiB;
    static constexpr qint64 IncompleteFramesCeiling = 1024 * MiB;
    static constexpr int ClientQueuesDivisor = 8;
    static constexpr qint64 ClientQueuesFloor = 32 * MiB;
    static constexpr qint64 ClientQueuesCeiling = 2048 * MiB;
    static constexpr int MonitorQueuesDivisor = 32;
    static constexpr qint64 MonitorQueuesFloor = 16 * MiB;
    static constexpr qint64 MonitorQueuesCeiling = 512 * MiB;
    static constexpr int HeldMessagesDivisor = 64;
    static constexpr qint64 HeldMessagesFloor = 4 * MiB;
    static constexpr qint64 HeldMessagesCeiling = 256 * MiB;
    static constexpr int UnackedDeliveriesDivisor = 32;
    static constexpr qint64 UnackedDeliveriesFloor = 16 * MiB;
    static constexpr qint64 UnackedDeliveriesCeiling = 1024 * MiB;

    // Sets each limit from `config`, deriving those configured as 0 from physicalMemory().
    void configure(const BrokerConfig &config);

    // Physical RAM in bytes (sysconf), or 0 if the system does not say.
    static qint64 physicalMemory();
    // RAM / divisor within [floor, ceiling]; the floor when RAM is unknown.
    static qint64 derive(qint64 ram, int divisor, qint64 floor, qint64 ceiling);
};

} // namespace Kennel
