// A fixed-capacity ring: the storage behind the traffic and events models. Index 0 is the oldest
// entry; a push into a full ring overwrites it. Memory is allocated as entries arrive, never more
// than `capacity` of them, so an idle monitor does not hold 100,000 empty records.
#pragma once

#include <QtGlobal>

#include <algorithm>
#include <vector>

namespace Kennel {

template <typename T>
class RingBuffer
{
public:
    explicit RingBuffer(qsizetype capacity)
        : m_capacity(std::max<qsizetype>(capacity, 1))
    {
    }

    qsizetype capacity() const { return m_capacity; }
    qsizetype size() const { return m_size; }
    bool isEmpty() const { return m_size == 0; }
    bool isFull() const { return m_size == m_capacity; }

    const T &at(qsizetype i) const { return m_items[slot(i)]; }
    T &operator[](qsizetype i) { return m_items[slot(i)]; }

    // Returns true when the oldest entry was overwritten to make room.
    bool push(T value)
    {
        if (m_size < m_capacity) {
            const qsizetype s = slot(m_size);
            if (s < qsizetype(m_items.size()))
                m_items[size_t(s)] = std::move(value);
            else
                m_items.push_back(std::move(value));
            ++m_size;
            return false;
        }
        m_items[size_t(m_start)] = std::move(value);
        m_start = (m_start + 1) % m_capacity;
        return true;
    }

    // Forgets the `count` oldest entries (their memory is reused by later pushes).
    void dropOldest(qsizetype count)
    {
        count = std::min(count, m_size);
        for (qsizetype i = 0; i < count; ++i)
            m_items[size_t(slot(i))] = T(); // release what they hold now, not when overwritten
        m_start = (m_start + count) % m_capacity;
        m_size -= count;
    }

    void clear()
    {
        m_items.clear();
        m_items.shrink_to_fit();
        m_start = 0;
        m_size = 0;
    }

private:
    qsizetype slot(qsizetype i) const { return (m_start + i) % m_capacity; }

    std::vector<T> m_items;
    qsizetype m_capacity;
    qsizetype m_start = 0;
    qsizetype m_size = 0;
};

} // namespace Kennel
