#include "sharedframe.h"

#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

namespace Kennel {

namespace {

// Capacities are powers of two from 4 KiB, so that a pooled frame fits the next publication of a
// similar size; frames above 1 MiB are not pooled. Bounded like ByteQueue's pool: what an idle
// broker keeps is small and known. 16 subscribers with 64 publications in flight each share the
// same 64 frames, so a few hundred cover the fan-out loads of docs/BENCHMARKS.md.
constexpr int MinShift = 12;
constexpr int MaxShift = 20;
constexpr size_t MaxPooledFrames = 256;
constexpr size_t MaxPooledBytes = 8 * 1024 * 1024;

struct FramePool
{
    std::vector<SharedFrame *> bins[MaxShift - MinShift + 1];
    size_t frames = 0;
    size_t bytes = 0;

    ~FramePool() { release(); }
    void release()
    {
        for (auto &bin : bins) {
            for (SharedFrame *f : bin)
                std::free(f);
            bin.clear();
            bin.shrink_to_fit();
        }
        frames = 0;
        bytes = 0;
    }
};

thread_local FramePool pool;

int shiftFor(size_t size)
{
    int shift = MinShift;
    while (shift <= MaxShift && (size_t(1) << shift) < size)
        ++shift;
    return shift;
}

} // namespace

SharedFrame *SharedFrame::create(size_t size)
{
    const int shift = shiftFor(size);
    size_t capacity = size;
    if (shift <= MaxShift) {
        capacity = size_t(1) << shift;
        std::vector<SharedFrame *> &bin = pool.bins[shift - MinShift];
        if (!bin.empty()) {
            SharedFrame *frame = bin.back();
            bin.pop_back();
            --pool.frames;
            pool.bytes -= frame->m_capacity;
            frame->m_size = size;
            frame->m_references = 1;
            return frame;
        }
    }
    void *memory = std::malloc(offsetof(SharedFrame, m_bytes) + capacity);
    if (!memory)
        return nullptr;
    SharedFrame *frame = new (memory) SharedFrame;
    frame->m_size = size;
    frame->m_capacity = capacity;
    return frame;
}

void SharedFrame::recycle(SharedFrame *frame)
{
    const int shift = shiftFor(frame->m_capacity);
    if (shift <= MaxShift && (size_t(1) << shift) == frame->m_capacity && pool.frames < MaxPooledFrames
        && pool.bytes + frame->m_capacity <= MaxPooledBytes) {
        std::vector<SharedFrame *> &bin = pool.bins[shift - MinShift];
        // A bin that cannot grow (out of memory) frees the frame instead.
        try {
            bin.push_back(frame);
        } catch (const std::bad_alloc &) {
            std::free(frame);
            return;
        }
        ++pool.frames;
        pool.bytes += frame->m_capacity;
        return;
    }
    std::free(frame);
}

void SharedFrame::releasePool()
{
    pool.release();
}

size_t SharedFrame::pooledBytes()
{
    return pool.bytes;
}

} // namespace Kennel
