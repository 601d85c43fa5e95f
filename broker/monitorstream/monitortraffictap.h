// The monitors' tap on the router (PROTOCOL §6, docs/MONITOR.md): while a subscribed monitor
// wants traffic records the router reports every message here, and each such monitor's
// connection batches and rate-limits its own records. With none, the tap is taken off the router
// again: the message path pays one predictable branch and nothing else.
#pragma once

#include "router.h"

#include <QList>

#include <vector>

namespace Kennel {

class MonitorActions;
class MonitorConnection;

class MonitorTrafficTap final : private TrafficTap
{
public:
    explicit MonitorTrafficTap(MonitorActions &actions);
    ~MonitorTrafficTap() override;

    // The admitted ones of `subscribers` that want traffic become the tap's sinks; the tap is set
    // on the router while there is at least one. `closed`: no sinks whatever is asked.
    void update(const QList<MonitorConnection *> &subscribers, bool closed);
    void clear();
    bool isTapped() const;

private:
    // TrafficTap: runs inside the router's message path.
    void record(const Endpoint &sender, QByteArrayView target, QByteArrayView payload, DeliveryStatus status) override;
    void recordPublication(const Endpoint &publisher, const Publication &publication) override;
    void recordCall(const CallEnd &call) override;
    void recordHeldOutcome(QByteArrayView source, QByteArrayView target, QByteArrayView payload, DeliveryStatus status,
                           qint64 heldMs) override;

    MonitorActions &m_actions;
    std::vector<MonitorConnection *> m_sinks;
};

} // namespace Kennel
