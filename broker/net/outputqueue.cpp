#include "outputqueue.h"

#include <sys/uio.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace Kennel {

namespace {
// Slices handed to one sendmsg(): a socket buffer takes a few hundred KiB at most, so 64 slices
// of publications (and the owned bytes between them) fill it; the rest goes in the next write.
constexpr int MaxSlices = 64;
} // namespace

bool OutputQueue::appendShared(SharedFrame &frame)
{
    if (frame.size() == 0)
        return true;
    if (m_runHead == m_runs.size()) {
        m_runs.clear();
        m_runHead = 0;
    }
    try {
        m_runs.push_back({m_ownedConsumed + m_owned.size(), &frame, 0});
    } catch (const std::bad_alloc &) {
        return false;
    }
    frame.ref();
    m_sharedBytes += frame.size();
    return true;
}

ssize_t OutputQueue::writeRuns(int fd)
{
    iovec slices[MaxSlices];
    int count = 0;
    uint64_t pos = m_ownedConsumed;
    const uint64_t ownedEnd = m_ownedConsumed + m_owned.size();
    for (size_t r = m_runHead; r < m_runs.size() && count < MaxSlices; ++r) {
        const Run &run = m_runs[r];
        if (run.at > pos) {
            slices[count++] = {const_cast<char *>(m_owned.data()) + (pos - m_ownedConsumed), size_t(run.at - pos)};
            pos = run.at;
            if (count == MaxSlices)
                break;
        }
        slices[count++] = {run.frame->data() + run.offset, run.frame->size() - run.offset};
    }
    if (count < MaxSlices && pos < ownedEnd)
        slices[count++] = {const_cast<char *>(m_owned.data()) + (pos - m_ownedConsumed), size_t(ownedEnd - pos)};
    msghdr message{};
    message.msg_iov = slices;
    message.msg_iovlen = size_t(count);
    const ssize_t n = ::sendmsg(fd, &message, MSG_NOSIGNAL);
    if (n > 0)
        consume(size_t(n));
    return n;
}

void OutputQueue::consume(size_t n)
{
    while (n > 0) {
        if (m_runHead < m_runs.size() && m_runs[m_runHead].at == m_ownedConsumed) {
            Run &run = m_runs[m_runHead];
            const size_t take = std::min(n, run.frame->size() - run.offset);
            run.offset += take;
            m_sharedBytes -= take;
            n -= take;
            if (run.offset == run.frame->size()) {
                run.frame->deref();
                ++m_runHead;
            }
            continue;
        }
        const size_t owned = m_runHead < m_runs.size() ? size_t(m_runs[m_runHead].at - m_ownedConsumed) : m_owned.size();
        const size_t take = std::min(n, owned);
        if (take == 0)
            break; // asked for more than is queued
        consumeOwned(take);
        n -= take;
    }
    if (m_runHead == m_runs.size()) {
        m_runs.clear();
        m_runHead = 0;
        if (m_owned.isEmpty())
            m_ownedConsumed = 0;
    }
}

void OutputQueue::copyOut(size_t from, size_t n, char *out) const
{
    // Walks the runs in order as writeRuns() does; `from` and `n` count bytes of the whole stream.
    uint64_t pos = m_ownedConsumed;
    const uint64_t ownedEnd = m_ownedConsumed + m_owned.size();
    auto emit = [&](const char *bytes, size_t size) {
        if (from >= size) {
            from -= size;
            return;
        }
        const size_t take = std::min(n, size - from);
        std::memcpy(out, bytes + from, take);
        out += take;
        n -= take;
        from = 0;
    };
    for (size_t r = m_runHead; r < m_runs.size() && n > 0; ++r) {
        const Run &run = m_runs[r];
        if (run.at > pos) {
            emit(m_owned.data() + (pos - m_ownedConsumed), size_t(run.at - pos));
            pos = run.at;
        }
        if (n > 0)
            emit(run.frame->data() + run.offset, run.frame->size() - run.offset);
    }
    if (n > 0 && pos < ownedEnd)
        emit(m_owned.data() + (pos - m_ownedConsumed), size_t(ownedEnd - pos));
}

void OutputQueue::clear()
{
    for (size_t r = m_runHead; r < m_runs.size(); ++r)
        m_runs[r].frame->deref();
    m_runs.clear();
    m_runHead = 0;
    m_sharedBytes = 0;
    m_owned.clear();
    m_ownedConsumed = 0;
}

void OutputQueue::shrinkIfEmpty(bool refillsSoon)
{
    if (!isEmpty())
        return;
    m_owned.shrinkIfEmpty(refillsSoon);
    if (!refillsSoon) {
        m_runs.clear();
        m_runs.shrink_to_fit();
        m_runHead = 0;
    }
}

} // namespace Kennel
