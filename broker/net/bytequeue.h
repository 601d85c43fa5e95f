// A contiguous FIFO of bytes for a connection's input remainder and output backlog. Contiguous so
// that one read() or write() covers all of it; it gives its memory up when it drains so that an
// idle connection costs almost nothing. Given-up buffers go to a small per-thread pool that the next
// queue to need one takes from: a busy connection drains after every batch and fills again in the
// next, and without the pool every such cycle was a malloc, a chain of reallocs and fresh pages
// for the kernel to fault in (docs/BENCHMARKS.md, "output buffers").
#pragma once

#include <cstddef>

namespace Kennel {

class ByteQueue
{
public:
    ByteQueue() = default;
    ~ByteQueue();
    ByteQueue(const ByteQueue &) = delete;
    ByteQueue &operator=(const ByteQueue &) = delete;

    size_t size() const { return m_end - m_begin; }
    bool isEmpty() const { return m_end == m_begin; }
    size_t capacity() const { return m_capacity; }
    const char *data() const { return m_data + m_begin; }
    char *data() { return m_data + m_begin; }

    // Room for `n` more bytes at the back; write them, then commit(n). Returns nullptr only when
    // memory is exhausted.
    char *reserve(size_t n);
    void commit(size_t n) { m_end += n; }
    bool append(const char *bytes, size_t n);
    void consume(size_t n);
    void clear();
    // Gives the storage up (to the pool, or to the system) if the queue is empty: called when a
    // connection's queue drains. `refillsSoon`: an output queue that drained after a batch and
    // will likely take as much in the next, whose buffer the pool keeps up to 1 MiB; any other
    // (an input remainder, a closing connection) up to 256 KiB, so that one-off large buffers
    // go back to the system at once.
    void shrinkIfEmpty(bool refillsSoon = false);

    // Returns every pooled buffer to the system: for when the traffic has stopped.
    static void releasePool();
    // Bytes held by the pool (for tests and the benchmark notes).
    static size_t pooledBytes();

private:
    char *m_data = nullptr;
    size_t m_begin = 0;
    size_t m_end = 0;
    size_t m_capacity = 0;
};

} // namespace Kennel
