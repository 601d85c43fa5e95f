// The messages a connection was handed and has not acknowledged yet (PROTOCOL §5.7, the
// deliver_ack feature): a receiver that acknowledges says how many Deliver frames its application
// has processed; until then the broker keeps each one, byte for byte as it was written, so that a
// connection that ends without acknowledging them (killed by the watchdog while hung, crashed,
// cut off) does not take them with it: held delivery keeps them for the name's next holder.
//
// The directed path pays no allocation per message: the frames go into one growing byte FIFO
// (ByteQueue, pooled like the output queues) and their records into a ring that only grows. Both
// are given up when everything is acknowledged.
#pragma once

#include "bytequeue.h"
#include "holdsettings.h"
#include "memorybudget.h"

#include <QByteArray>
#include <QtGlobal>

#include <cstddef>
#include <vector>

namespace Kennel {

class DeliveryLedger
{
public:
    // One unacknowledged Deliver, as it went out.
    struct Entry
    {
        QByteArray frame;             // the whole Deliver frame (header, source, target, payload)
        quint64 senderConnection = 0; // whom to tell its final status; 0: nobody asked
    };

    // `total`: the broker-wide budget all ledgers share (BudgetLedger::unackedDeliveries), or
    // nullptr for none.
    explicit DeliveryLedger(UnackedLimits limits, MemoryBudget *total = nullptr) : m_limits(limits), m_total(total) {}
    ~DeliveryLedger();
    DeliveryLedger(const DeliveryLedger &) = delete;
    DeliveryLedger &operator=(const DeliveryLedger &) = delete;

    // The frame of `size` bytes would take the ledger, or all ledgers together, past a bound: the
    // receiver (or the receivers together) are not keeping up; it is answered target_queue_full,
    // as for a full output queue. A refusal by the broker-wide budget is counted there.
    bool isFull(size_t size) const
    {
        if (m_count >= size_t(m_limits.maxCount) || (m_count && m_bytes.size() + size > size_t(m_limits.maxBytes)))
            return true;
        if (Q_UNLIKELY(m_total && m_total->wouldExceed(qint64(size)))) {
            noteBudgetRefusal();
            return true;
        }
        return false;
    }
    // Keeps a copy of the Deliver frame just written; false when out of memory.
    bool record(const char *frame, size_t size, quint64 senderConnection);
    // The receiver acknowledged `cumulative` (mod 2^32) Deliver frames since its Welcome. The
    // newly acknowledged entries are passed, oldest first, to `done(frame, senderConnection)`.
    // False (nothing done) when it acknowledges more than it was sent.
    template<typename Done>
    bool acknowledge(quint32 cumulative, Done &&done);
    // Everything unacknowledged, oldest first; the ledger is empty afterwards.
    std::vector<Entry> takeAll();

    size_t count() const { return m_count; }
    size_t bytes() const { return m_bytes.size(); }
    quint64 acknowledged() const { return m_acked; }
    const UnackedLimits &limits() const { return m_limits; }

private:
    struct Record
    {
        quint32 size;
        quint64 senderConnection;
    };
    void popFront();
    void noteBudgetRefusal() const;

    UnackedLimits m_limits;
    MemoryBudget *m_total;
    ByteQueue m_bytes;
    std::vector<Record> m_ring; // capacity a power of two, or empty
    size_t m_head = 0;
    size_t m_count = 0;
    quint64 m_acked = 0; // entries acknowledged since the Welcome
};

template<typename Done>
bool DeliveryLedger::acknowledge(quint32 cumulative, Done &&done)
{
    const quint32 newly = cumulative - quint32(m_acked); // modular: counts wrap at 2^32
    if (newly > m_count)
        return false;
    for (quint32 i = 0; i < newly; ++i) {
        const Record &record = m_ring[m_head];
        done(m_bytes.data(), size_t(record.size), record.senderConnection);
        popFront();
    }
    if (m_count == 0) {
        m_bytes.clear();
        m_bytes.shrinkIfEmpty();
    }
    return true;
}

} // namespace Kennel
