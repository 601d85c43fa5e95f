// What a connection (or the whole broker) did: the figures the monitor and the logs report.
#pragma once

#include "frame.h"

#include <array>
#include <cstdint>

namespace Kennel {

struct TrafficCounters
{
    static constexpr int StatusCount = 14; // one slot per DeliveryStatus value

    quint64 messagesIn = 0;  // messages this side sent into the broker
    quint64 bytesIn = 0;     // payload bytes of those
    quint64 messagesOut = 0; // messages the broker queued towards this side
    quint64 bytesOut = 0;
    std::array<quint64, StatusCount> undelivered{}; // messages sent but not delivered, by reason
    quint64 refusals = 0;    // frames refused with an error (bad names, impersonation, protocol)

    void countUndelivered(DeliveryStatus status)
    {
        const auto index = static_cast<size_t>(status);
        ++undelivered[index < undelivered.size() ? index : 0];
    }
    quint64 undeliveredTotal() const
    {
        quint64 sum = 0;
        for (quint64 n : undelivered)
            sum += n;
        return sum;
    }
};

} // namespace Kennel
