// One encoded frame that several output queues send, counted by reference: a publication to many
// subscribers is encoded once and each subscriber's OutputQueue holds a reference, where it held a
// copy (issue 14, docs/BENCHMARKS.md "Shared fan-out frames"). The last reference gives the frame
// back, to a small per-thread pool like ByteQueue's, so that a steady stream of publications does
// not cost a malloc and fresh pages each.
//
// The broker is single-threaded: the count is a plain integer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace Kennel {

class SharedFrame
{
public:
    // A frame with room for `size` bytes and one reference (the caller's); nullptr when memory is
    // exhausted.
    static SharedFrame *create(size_t size);

    char *data() { return m_bytes; }
    const char *data() const { return m_bytes; }
    size_t size() const { return m_size; }
    uint32_t references() const { return m_references; }

    void ref() { ++m_references; }
    void deref()
    {
        if (--m_references == 0)
            recycle(this);
    }

    // Returns every pooled frame to the system: for when the traffic has stopped.
    static void releasePool();
    // Bytes held by the pool (for tests and the benchmark notes).
    static size_t pooledBytes();

private:
    SharedFrame() = default;
    static void recycle(SharedFrame *frame);

    size_t m_size = 0;
    size_t m_capacity = 0;
    uint32_t m_references = 1;
    alignas(std::max_align_t) char m_bytes[1];
};

} // namespace Kennel
