#include "deliveryledger.h"
#include "logging.h"

#include <cstring>

namespace Kennel {

DeliveryLedger::~DeliveryLedger()
{
    if (m_total)
        m_total->subtract(qint64(m_bytes.size()));
}

void DeliveryLedger::noteBudgetRefusal() const
{
    m_total->noteRefused();
    // Logged at the 1st, 2nd, 4th, 8th ... refusal: a budget that stays full does not flood the log,
    // and the count in the line says how often it bit.
    const quint64 n = m_total->refusedCount();
    if ((n & (n - 1)) == 0)
        qCWarning(lcHold, "%s: %lld of %lld bytes in use; a delivery to an acknowledging receiver refused (queue_full), "
                          "%llu so far ([hold] unacked_total_bytes)",
                  m_total->name(), qlonglong(m_total->used()), qlonglong(m_total->limit()), qulonglong(n));
}

bool DeliveryLedger::record(const char *frame, size_t size, quint64 senderConnection)
{
    if (m_count == m_ring.size()) {
        // Grow by doubling, keeping the ring's order: amortised, never once per message.
        std::vector<Record> grown(m_ring.empty() ? 64 : m_ring.size() * 2);
        for (size_t i = 0; i < m_count; ++i)
            grown[i] = m_ring[(m_head + i) & (m_ring.size() - 1)];
        m_ring.swap(grown);
        m_head = 0;
    }
    char *dst = m_bytes.reserve(size);
    if (!dst)
        return false;
    std::memcpy(dst, frame, size);
    m_bytes.commit(size);
    m_ring[(m_head + m_count) & (m_ring.size() - 1)] = Record{quint32(size), senderConnection};
    ++m_count;
    if (m_total)
        m_total->add(qint64(size)); // never shed: isFull() refuses before the limit is passed
    return true;
}

void DeliveryLedger::popFront()
{
    if (m_total)
        m_total->subtract(qint64(m_ring[m_head].size));
    m_bytes.consume(m_ring[m_head].size);
    m_head = (m_head + 1) & (m_ring.size() - 1);
    --m_count;
    ++m_acked;
}

std::vector<DeliveryLedger::Entry> DeliveryLedger::takeAll()
{
    std::vector<Entry> entries;
    entries.reserve(m_count);
    while (m_count) {
        const Record &record = m_ring[m_head];
        entries.push_back(Entry{QByteArray(m_bytes.data(), qsizetype(record.size)), record.senderConnection});
        popFront();
    }
    m_bytes.clear();
    m_bytes.shrinkIfEmpty();
    return entries;
}

} // namespace Kennel
