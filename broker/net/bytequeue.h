// A contiguous FIFO of bytes for a connection's input remainder and output backlog. Contiguous so
// that one read() or write() covers all of it; it releases its memory when it drains so that an
// idle connection costs almost nothing.
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
    // Frees the storage if the queue is empty: called when a connection goes quiet.
    void shrinkIfEmpty();

private:
    char *m_data = nullptr;
    size_t m_begin = 0;
    size_t m_end = 0;
    size_t m_capacity = 0;
};

} // namespace Kennel
