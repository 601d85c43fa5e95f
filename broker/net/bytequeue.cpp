#include "bytequeue.h"

#include <cstdlib>
#include <cstring>
#include <vector>

namespace Kennel {

namespace {
constexpr size_t MinCapacity = 4096;

// Bounded so that what an idle broker keeps is small and known: at most this many buffers, none
// larger than MaxPooledBuffer, MaxPooledBytes in all. 256 covers the receivers of one batch at the
// loads of the performance issue (64 pairs). A topic's subscriber takes one batch from every
// publisher at once (16 publishers with 64 in flight: ~540 KB, a 1 MiB buffer), and freeing
// those sent the broker back to fresh pages on every batch (docs/BENCHMARKS.md, "Fan-out"); a
// larger buffer (a queue that backed up) is freed. Only a drained output queue's buffer is kept
// at that size; an input remainder (a large frame collected once) or a closing connection's is
// kept up to MaxPooledSmallBuffer, as before.
constexpr size_t MaxPooledBuffers = 256;
constexpr size_t MaxPooledBuffer = 1024 * 1024;
constexpr size_t MaxPooledSmallBuffer = 256 * 1024;
constexpr size_t MaxPooledBytes = 16 * 1024 * 1024;

struct BufferPool
{
    struct Buffer
    {
        char *data;
        size_t capacity;
    };
    // Last in, first out: the buffer given up last is the one most likely still in the cache, and
    // of the size the same connection needs again.
    std::vector<Buffer> buffers;
    size_t bytes = 0;

    ~BufferPool() { release(); }

    void release()
    {
        for (const Buffer &b : buffers)
            std::free(b.data);
        buffers.clear();
        buffers.shrink_to_fit();
        bytes = 0;
    }
};

// The broker is single-threaded; a pool per thread keeps tests that run several brokers in
// several threads, if any ever do, from sharing one without a lock.
thread_local BufferPool pool;
} // namespace

void ByteQueue::releasePool()
{
    pool.release();
}

size_t ByteQueue::pooledBytes()
{
    return pool.bytes;
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
    if (!m_data && !pool.buffers.empty()) {
        const BufferPool::Buffer buffer = pool.buffers.back();
        pool.buffers.pop_back();
        pool.bytes -= buffer.capacity;
        m_data = buffer.data;
        m_capacity = buffer.capacity;
        m_begin = m_end = 0;
        if (m_capacity >= n)
            return m_data;
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

void ByteQueue::shrinkIfEmpty(bool refillsSoon)
{
    if (!isEmpty() || !m_data)
        return;
    if (pool.buffers.size() < MaxPooledBuffers && m_capacity <= (refillsSoon ? MaxPooledBuffer : MaxPooledSmallBuffer)
        && pool.bytes + m_capacity <= MaxPooledBytes) {
        pool.buffers.push_back({m_data, m_capacity});
        pool.bytes += m_capacity;
    } else {
        std::free(m_data);
    }
    m_data = nullptr;
    m_capacity = 0;
    m_begin = m_end = 0;
}

} // namespace Kennel
