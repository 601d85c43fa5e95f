// What happens when a broker-wide memory budget runs out (BudgetLedger): the most expensive
// holder goes first, with an OverBudget error and a log line, until the budget is back under its
// limit — the oldest incomplete frame for the incomplete-frame budget, the largest backlog for
// the client-queue budget. Everyone else keeps their connection and their latency. Runs after an
// EventPoller batch (Broker::budgetExceeded), never inside a handler: the sessions it closes may
// be the ones a handler is writing to.
#pragma once

#include "logthrottle.h"

#include <QString>
#include <QtGlobal>

#include <vector>

namespace Kennel {

class BudgetLedger;
class MemoryBudget;
class Sheddable;

class BudgetShedder
{
public:
    explicit BudgetShedder(BudgetLedger &ledger) : m_ledger(ledger) {}

    // `sessions`: every open client connection. Closes as few of them as bring each budget under
    // its limit; returns how many it closed.
    int shed(const std::vector<Sheddable *> &sessions);

private:
    int shedIncompleteFrames(const std::vector<Sheddable *> &sessions);
    int shedClientQueues(const std::vector<Sheddable *> &sessions);
    // One offender: counted, logged (rate-limited), told why and closed.
    void shedOne(MemoryBudget &budget, Sheddable *session, const QString &text);

    BudgetLedger &m_ledger;
    LogThrottle m_log;
};

} // namespace Kennel
