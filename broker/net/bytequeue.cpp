#include "bytequeue.h"

#include <cstdlib>
#include <cstring>

namespace Kennel {

namespace {
constexpr size_t MinCapacity = 4096;
}

ByteQueue::~ByteQueue()
{
    std::free(m_data);
}

char *ByteQueue::reserve(size_t n)
{
    if (m_capacity - m_end >= n)
        return m_data + m_end;
    const size_t used = size();
    if (m_begin > 0 && m_capacity - used >= n && m_begin >= used) {
        // Moving the live bytes down is cheaper than growing once at least half is dead space.
        std::memmove(m_data, m_data + m_begin, used);
        m_begin = 0;
        m_end = used;
        return m_data + m_end;
    }
    size_t capacity = m_capacity ? m_capacity : MinCapacity;
    while (capacity - used < n)
        capacity *= 2;
    if (m_begin > 0) {
        std::memmove(m_data, m_data + m_begin, used);
        m_begin = 0;
        m_end = used;
    }
    if (capacity != m_capacity) {
        char *grown = static_cast<char *>(std::realloc(m_data, capacity));
        if (!grown)
            return nullptr;
        m_data = grown;
        m_capacity = capacity;
    }
    return m_data + m_end;
}

bool ByteQueue::append(const char *bytes, size_t n)
{
    char *dst = reserve(n);
    if (!dst)
        return false;
    std::memcpy(dst, bytes, n);
    m_end += n;
    return true;
}

void ByteQueue::consume(size_t n)
{
    m_begin += n;
    if (m_begin >= m_end)
        m_begin = m_end = 0;
}

void ByteQueue::clear()
{
    m_begin = m_end = 0;
}

void ByteQueue::shrinkIfEmpty()
{
    if (!isEmpty() || !m_data)
        return;
    std::free(m_data);
    m_data = nullptr;
    m_capacity = 0;
    m_begin = m_end = 0;
}

} // namespace Kennel
