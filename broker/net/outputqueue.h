// A connection's output backlog: its own bytes (a contiguous ByteQueue, where the router encodes
// directed messages in place) and, between them in order, references to shared encoded frames (a
// publication fanned out to many subscribers: SharedFrame). While no shared frame is queued it is
// exactly the ByteQueue it wraps, written with one send(); with shared frames it is written with
// one sendmsg() of an iovec that walks the runs in order. Either way a partial write leaves the
// rest queued, and a shared frame is released when its last byte has been written.
//
// size() counts every byte not yet written, owned or shared: the output bound, the memory budget
// and the monitors' queued bytes count a shared frame once per queue that holds it, as they counted
// its copies.
#pragma once

#include "bytequeue.h"
#include "sharedframe.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace Kennel {

class OutputQueue
{
public:
    OutputQueue() = default;
    ~OutputQueue() { clear(); }
    OutputQueue(const OutputQueue &) = delete;
    OutputQueue &operator=(const OutputQueue &) = delete;

    size_t size() const { return m_owned.size() + m_sharedBytes; }
    bool isEmpty() const { return size() == 0; }
    // Shared frames queued and not yet wholly written.
    size_t sharedFrames() const { return m_runs.size() - m_runHead; }

    // Owned bytes at the back, as ByteQueue::reserve()/commit().
    char *reserve(size_t n) { return m_owned.reserve(n); }
    void commit(size_t n) { m_owned.commit(n); }
    bool append(const char *bytes, size_t n) { return m_owned.append(bytes, n); }
    // A reference to `frame` at the back (taken here; released when written or cleared). False
    // only when memory is exhausted.
    bool appendShared(SharedFrame &frame);

    // One write of as much as the socket takes, in order; what was written is consumed. Returns
    // what send()/sendmsg() returned (errno as they set it).
    ssize_t writeTo(int fd)
    {
        if (m_runHead == m_runs.size()) { // nothing shared: the directed path's one send()
            const ssize_t n = ::send(fd, m_owned.data(), m_owned.size(), MSG_NOSIGNAL);
            if (n > 0)
                consumeOwned(size_t(n));
            return n;
        }
        return writeRuns(fd);
    }
    // Drops the first `n` bytes as if written.
    void consume(size_t n);
    // Copies `n` bytes starting `from` bytes past the head into `out` (which must have room):
    // for the re-hold of an old receiver's unsent frames and for a handover.
    void copyOut(size_t from, size_t n, char *out) const;

    // Drops everything, releasing shared frames.
    void clear();
    // As ByteQueue::shrinkIfEmpty(); the list of shared runs keeps its room only for a queue that
    // refills soon.
    void shrinkIfEmpty(bool refillsSoon = false);

private:
    // A shared frame that follows the owned bytes up to the owned-stream position `at` (counted
    // from the queue's start, m_ownedConsumed included); `offset` of its bytes are written.
    struct Run
    {
        uint64_t at;
        SharedFrame *frame;
        size_t offset;
    };
    void consumeOwned(size_t n)
    {
        m_owned.consume(n);
        m_ownedConsumed += n;
    }
    ssize_t writeRuns(int fd);

    ByteQueue m_owned;
    uint64_t m_ownedConsumed = 0; // owned bytes consumed since the queue was last empty
    std::vector<Run> m_runs;      // in order; [m_runHead, end) are live
    size_t m_runHead = 0;
    size_t m_sharedBytes = 0;     // unwritten bytes of the live runs
};

} // namespace Kennel
