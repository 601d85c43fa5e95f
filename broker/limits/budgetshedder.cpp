#include "budgetshedder.h"
#include "logging.h"

#include "budgetledger.h"
#include "sheddable.h"

#include <algorithm>

namespace Kennel {

int BudgetShedder::shed(const std::vector<Sheddable *> &sessions)
{
    int closed = 0;
    if (m_ledger.incompleteFrames.isOver())
        closed += shedIncompleteFrames(sessions);
    if (m_ledger.clientQueues.isOver())
        closed += shedClientQueues(sessions);
    return closed;
}

int BudgetShedder::shedIncompleteFrames(const std::vector<Sheddable *> &sessions)
{
    MemoryBudget &budget = m_ledger.incompleteFrames;
    std::vector<Sheddable *> holders;
    for (Sheddable *session : sessions) {
        if (session->isOpen() && session->hasIncompleteFrame() && session->incompleteFrameBytes() > 0)
            holders.push_back(session);
    }
    // Oldest frame first: a peer that trickles or stalls has held its bytes longest, while a
    // healthy client's frame is half-read for a moment only. Among equals, the larger one.
    std::sort(holders.begin(), holders.end(), [](const Sheddable *a, const Sheddable *b) {
        if (a->incompleteFrameSince() != b->incompleteFrameSince())
            return a->incompleteFrameSince() < b->incompleteFrameSince();
        return a->incompleteFrameBytes() > b->incompleteFrameBytes();
    });
    int closed = 0;
    for (Sheddable *session : holders) {
        if (!budget.isOver())
            break;
        const qint64 bytes = qint64(session->incompleteFrameBytes());
        const QString text = QStringLiteral("the broker's budget for incomplete frames (%1 bytes) is used up; "
                                            "this connection's %2 bytes were the oldest")
                                 .arg(budget.limit())
                                 .arg(bytes);
        shedOne(budget, session, text);
        ++closed;
    }
    return closed;
}

void BudgetShedder::shedOne(MemoryBudget &budget, Sheddable *session, const QString &text)
{
    budget.noteShed();
    int suppressed = 0;
    if (m_log.allow(&suppressed)) {
        if (suppressed)
            qCWarning(lcBroker, "%d more sheds over a memory budget not logged", suppressed);
        qCWarning(lcBroker).noquote() << "shed" << session->describe() << "-" << text << "- sheds so far:"
                                      << budget.shedCount();
    }
    session->shedOverBudget(text);
}

int BudgetShedder::shedClientQueues(const std::vector<Sheddable *> &sessions)
{
    MemoryBudget &budget = m_ledger.clientQueues;
    std::vector<Sheddable *> holders;
    for (Sheddable *session : sessions) {
        if (session->isOpen() && session->pendingOutput() > 0)
            holders.push_back(session);
    }
    // The largest backlog first: it frees the most, and a receiver that reads keeps its queue short.
    std::sort(holders.begin(), holders.end(),
              [](const Sheddable *a, const Sheddable *b) { return a->pendingOutput() > b->pendingOutput(); });
    int closed = 0;
    for (Sheddable *session : holders) {
        if (!budget.isOver())
            break;
        const QString text = QStringLiteral("the broker's budget for queued output (%1 bytes) is used up; "
                                            "this connection's backlog of %2 bytes was the largest")
                                 .arg(budget.limit())
                                 .arg(session->pendingOutput());
        shedOne(budget, session, text);
        ++closed;
    }
    return closed;
}

} // namespace Kennel
