// The broker's figures in one line beside the clients' count: clients, watched, routed, the
// current rates, undelivered, expiries and kills, and monitor admissions refused (the breakdown,
// with the memory budgets, in the tooltip). While the link is not live the last broker's figures
// stay, greyed and marked "last seen"; they go when the link is closed for good or points
// elsewhere.
#pragma once

#include "brokeraddress.h"

#include <QLabel>

namespace Kennel {

class MonitorFeed;
class MonitorLink;
class RateSeries;

class SummaryLabel : public QLabel
{
    Q_OBJECT
public:
    explicit SummaryLabel(QWidget *parent = nullptr);

    void showTotals(const MonitorLink *link, const MonitorFeed &feed, const RateSeries &rates);

private:
    BrokerAddress m_address; // whose figures are shown
};

} // namespace Kennel
