#include "budgetledger.h"

#include "brokerconfig.h"

#include <algorithm>

#include <unistd.h>

namespace Kennel {

qint64 BudgetLedger::physicalMemory()
{
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long pageSize = ::sysconf(_SC_PAGESIZE);
    if (pages <= 0 || pageSize <= 0)
        return 0;
    return qint64(pages) * qint64(pageSize);
}

qint64 BudgetLedger::derive(qint64 ram, int divisor, qint64 floor, qint64 ceiling)
{
    if (ram <= 0)
        return floor;
    return std::clamp(ram / divisor, floor, ceiling);
}

void BudgetLedger::configure(const BrokerConfig &config)
{
    const qint64 ram = physicalMemory();
    auto pick = [ram](qint64 configured, int divisor, qint64 floor, qint64 ceiling, qint64 perConnection) {
        const qint64 limit = configured > 0 ? configured : derive(ram, divisor, floor, ceiling);
        return std::max(limit, perConnection);
    };
    incompleteFrames.setLimit(pick(config.totalIncompleteFrameBytes, IncompleteFramesDivisor, IncompleteFramesFloor,
                                   IncompleteFramesCeiling, qint64(config.maxFrameSize)));
    clientQueues.setLimit(pick(config.totalQueueBytes, ClientQueuesDivisor, ClientQueuesFloor, ClientQueuesCeiling,
                               config.maxOutputQueueBytes));
    // A monitor is disconnected past twice its own bound; the budget leaves room for one such.
    monitorQueues.setLimit(pick(config.monitor.totalQueueBytes, MonitorQueuesDivisor, MonitorQueuesFloor,
                                MonitorQueuesCeiling, 2 * config.monitor.maxQueueBytes));
    // A configured total below one name's bound is taken as given: it is the operator's cap.
    heldMessages.setLimit(config.hold.totalBytes > 0
                              ? config.hold.totalBytes
                              : derive(ram, HeldMessagesDivisor, HeldMessagesFloor, HeldMessagesCeiling));
    // Not below one connection's bound: a single receiver must be able to reach its own.
    unackedDeliveries.setLimit(pick(config.hold.unackedTotalBytes, UnackedDeliveriesDivisor, UnackedDeliveriesFloor,
                                    UnackedDeliveriesCeiling, config.hold.unacked.maxBytes));
}

} // namespace Kennel
