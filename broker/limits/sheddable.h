// What BudgetShedder reads of a connection and does to it: what it holds of each budget, and
// "close yourself, you were over it". Session implements it, so the budgets know no connection
// class.
#pragma once

#include <QString>

#include <chrono>
#include <cstddef>

namespace Kennel {

class Sheddable
{
public:
    virtual bool isOpen() const = 0;
    // The beginning of a frame is held without its end, since incompleteFrameSince(), in
    // incompleteFrameBytes() bytes.
    virtual bool hasIncompleteFrame() const = 0;
    virtual std::chrono::steady_clock::time_point incompleteFrameSince() const = 0;
    virtual size_t incompleteFrameBytes() const = 0;
    // Output queued for the peer and not yet written.
    virtual size_t pendingOutput() const = 0;
    // The connection as log lines name it.
    virtual QString describe() const = 0;
    // Tell the peer `text` (OverBudget) as far as its protocol allows, and close at once.
    virtual void shedOverBudget(const QString &text) = 0;

protected:
    ~Sheddable() = default;
};

} // namespace Kennel
