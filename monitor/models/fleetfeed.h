// What joins the fleet's link to its model: each board-state payload to the model as it comes
// (a summary every few seconds per board: no batching needed, unlike the monitor stream).
#pragma once

#include "fleetlink.h"
#include "fleetmodel.h"

namespace Kennel {

inline void connectFleet(FleetLink *link, FleetModel *model)
{
    QObject::connect(link, &FleetLink::summaryReceived, model, &FleetModel::applySummary);
    QObject::connect(link, &FleetLink::onlineReceived, model, &FleetModel::applyOnline);
    QObject::connect(link, &FleetLink::eventReceived, model, &FleetModel::applyEvent);
}

} // namespace Kennel
