// The bare forwarders' loop (kennel-ideal-native, kennel-ideal-fanout): the shared benchmark
// tools' ideal_fwd.c loop, speaking Kennel's native frames, with the frame handling left to the
// program. Only the controls include it, each from its single main.cpp, which defines the three
// functions declared below; the calls stay direct (one translation unit), so sharing the loop
// costs the ceiling nothing per message.
//
// What the loop is (kept as close to ideal_fwd.c as the protocol allows; read the two side by side):
//   - one thread, epoll level-triggered, non-blocking sockets, accept4 up to 256 per wakeup,
//     TCP_NODELAY and SO_REUSEADDR, listen backlog 4096, RLIMIT_NOFILE raised, SIGPIPE ignored;
//   - one shared read scratch buffer, reads of 64 KiB, at most 4 reads per event, a short read
//     ends the round; only an incomplete trailing frame is carried per connection (on the heap,
//     up to --max-frame, only while one is pending);
//   - name -> connection hash map (65536 chains), last registration wins;
//   - per-connection output buffers: frames produced while handling one epoll batch are appended
//     and written once per target at the end of the batch; EPOLLOUT only while output is pending;
//     a drained buffer is freed (unless keepDrainedBuffers); pending output above --max-out drops
//     further frames (counted by the caller of reserve());
//   - closed connections are freed at the end of the batch (events may still point at them);
//   - a framing error (bad magic or version, oversize frame, inconsistent name lengths, PROTOCOL
//     §2.1 checks 1 to 4) closes the connection, counted; there are no Error frames.
// Plain C++17 with no Qt and no Kennel library: a control must cost per message only what the
// native frame itself requires, and must not move when Kennel's own code changes.
#pragma once

#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "nativewire.h"

namespace BareForwarder {

using namespace NativeWire;

constexpr size_t ReadChunk = 64 * 1024;      // ideal_fwd's RBUF_CAP: bytes asked of one recv()
constexpr size_t LegacyFrame = 552;          // ideal_fwd's FRAME, for its first output allocation
constexpr size_t MinMaxFrame = 1024;         // Welcome's maxFrameSize must be at least this (§4.1)
constexpr size_t MaxMaxFrame = 256u << 20;   // the protocol's largest configurable frame (§8.1)

struct Conn
{
    int fd = -1;
    bool dead = false;
    bool epout = false;
    bool dirty = false;
    bool named = false; // holds a map entry
    uint8_t nameLength = 0;
    unsigned char name[MaxNameLength] = {};
    Conn *hnext = nullptr; // hash chain
    Conn *dnext = nullptr; // dirty list
    Conn *gnext = nullptr; // closed, free at end of batch
    // An incomplete frame carried between reads. ideal_fwd embeds 552 bytes; a native frame may be
    // up to --max-frame, so it lives on the heap, kept while a partial is pending and freed when a
    // read ends on a frame boundary (an idle connection holds none).
    unsigned char *part = nullptr;
    size_t partLen = 0, partCap = 0;
    unsigned char *out = nullptr;
    size_t outOff = 0, outLen = 0, outCap = 0;
};

inline size_t maxOut = 16u << 20;
inline size_t maxFrame = 65536 + HeaderSize;
inline int ep = -1;
inline volatile sig_atomic_t stopFlag = 0;
// Drained output buffers are kept for the next batch instead of freed (see kennel-ideal-fanout).
inline bool keepDrainedBuffers = false;
// Counters of the loop itself; the programs count their frames' outcomes.
inline unsigned long long nIn, nDrop, nReg, nPing, nUnregistered, nBadFrame, nOther, nBye, nAccept, nClose, nWrites;
inline long curConns, maxConns;

// The program's part: one whole frame whose header passed the checks of PROTOCOL §2.1 (1 to 4);
// a connection about to be closed; the counters printed at SIGINT/SIGTERM.
void handleFrame(Conn *c, const unsigned char *frame);
void connGone(Conn *c);
void printCounters();

// ---- name -> conn map (ideal_fwd's, with names up to 64 bytes) ----------------------------------
constexpr int HBits = 16;
inline Conn *htab[1 << HBits];

// Fixed-size loads only (xxh3's trick for short keys), as ideal_fwd hashes its fixed 16-byte key:
// a byte-wise FNV-1a loop cost ~60 instructions per message under callgrind, a third of all of
// ideal_fwd's per-message work. Every byte is covered, so names differing anywhere spread.
inline uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}
inline uint32_t load32(const unsigned char *p)
{
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline uint64_t mix(uint64_t x)
{
    x *= 0xff51afd7ed558ccdull;
    return x ^ (x >> 32);
}
inline unsigned hashName(const unsigned char *name, size_t length)
{
    uint64_t h = length * 0x9e3779b97f4a7c15ull;
    if (length >= 8) {
        for (size_t i = 0; i + 8 < length; i += 8)
            h = mix(h ^ load64(name + i));
        h = mix(h ^ load64(name + length - 8)); // the last 8 bytes, overlapping the loop's
    } else if (length >= 4) {
        h = mix(h ^ (load32(name) | uint64_t(load32(name + length - 4)) << 32));
    } else if (length) {
        h = mix(h ^ (name[0] | uint64_t(name[length / 2]) << 8 | uint64_t(name[length - 1]) << 16));
    }
    h *= 0x9e3779b97f4a7c15ull;
    return unsigned(h >> (64 - HBits));
}
inline Conn *hget(const unsigned char *name, size_t length)
{
    for (Conn *c = htab[hashName(name, length)]; c; c = c->hnext)
        if (c->nameLength == length && !std::memcmp(c->name, name, length))
            return c;
    return nullptr;
}
inline void hdel(Conn *c)
{
    if (!c->named)
        return;
    Conn **pp = &htab[hashName(c->name, c->nameLength)];
    while (*pp && *pp != c)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = c->hnext;
    c->named = false;
}
inline void hput(Conn *c, const unsigned char *name, size_t length)
{
    Conn *old = hget(name, length);
    if (old == c)
        return;
    if (old)
        hdel(old); // last registration wins
    hdel(c);
    std::memcpy(c->name, name, length);
    c->nameLength = uint8_t(length);
    const unsigned h = hashName(name, length);
    c->hnext = htab[h];
    htab[h] = c;
    c->named = true;
}

// ---- output ------------------------------------------------------------------------------------
inline Conn *dirtyHead;
inline Conn *graveyard;
inline unsigned char *rbuf; // shared read scratch: the largest partial frame + one read

inline void epollMod(Conn *c, uint32_t events)
{
    epoll_event e{};
    e.events = events;
    e.data.ptr = c;
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

inline void connClose(Conn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    connGone(c);
    hdel(c);
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
    curConns--;
    nClose++;
    c->gnext = graveyard; // freed after the batch: events/dirty list may still point here
    graveyard = c;
}

inline void flush(Conn *c)
{
    while (c->outOff < c->outLen) {
        const ssize_t w = ::send(c->fd, c->out + c->outOff, c->outLen - c->outOff, MSG_NOSIGNAL);
        nWrites++;
        if (w > 0) {
            c->outOff += size_t(w);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->epout) {
                epollMod(c, EPOLLIN | EPOLLOUT);
                c->epout = true;
            }
            return;
        }
        connClose(c);
        return;
    }
    c->outOff = c->outLen = 0;
    if (!keepDrainedBuffers) {
        std::free(c->out); // drained: give the buffer back so idle connections stay small
        c->out = nullptr;
        c->outCap = 0;
    }
    if (c->epout) {
        epollMod(c, EPOLLIN);
        c->epout = false;
    }
}

// Room for an n-byte frame at the end of t's output, or nullptr when --max-out would be passed
// (the caller counts the drop). ideal_fwd's enqueue(), with the copy left to the caller so that a
// Deliver is written straight into the target's buffer.
inline unsigned char *reserve(Conn *t, size_t n)
{
    const size_t pend = t->outLen - t->outOff;
    if (pend + n > maxOut)
        return nullptr;
    if (t->outLen + n > t->outCap) {
        if (t->outOff) {
            std::memmove(t->out, t->out + t->outOff, pend);
            t->outLen = pend;
            t->outOff = 0;
        }
        if (t->outLen + n > t->outCap) {
            size_t cap = t->outCap ? t->outCap * 2 : 16 * LegacyFrame;
            while (cap < t->outLen + n)
                cap *= 2;
            auto *p = static_cast<unsigned char *>(std::realloc(t->out, cap));
            if (!p)
                return nullptr;
            t->out = p;
            t->outCap = cap;
        }
    }
    unsigned char *p = t->out + t->outLen;
    t->outLen += n;
    if (!t->dirty) {
        t->dirty = true;
        t->dnext = dirtyHead;
        dirtyHead = t;
    }
    return p;
}

// The frames every bare forwarder answers alike (PROTOCOL §4.1, §4.2): Hello registers the name
// and is answered Welcome (carrying `brokerVersion`), Ping is answered Pong, Bye closes after one
// flush; anything else is counted and ignored.
inline void answerSessionFrame(Conn *c, const unsigned char *f, const char *brokerVersion)
{
    const uint8_t type = f[3];
    const uint32_t bodyLength = get32(f + 4), messageId = get32(f + 8);
    const uint8_t sourceLength = f[12], targetLength = f[13];
    const unsigned char *source = f + HeaderSize, *target = source + sourceLength;
    const size_t payloadLength = bodyLength - sourceLength - targetLength;
    const size_t versionLength = std::strlen(brokerVersion);
    constexpr size_t WelcomeFixed = 8; // protocolVersion, reserved, maxFrameSize
    switch (type) {
    case Hello: {
        // §4.1. No checks on role, version, pid or the name's characters: an empty name is the
        // one thing that cannot be registered, and is ignored (counted).
        if (!sourceLength) {
            nOther++;
            return;
        }
        hput(c, source, sourceLength);
        nReg++;
        const size_t body = sourceLength + WelcomeFixed + versionLength;
        unsigned char *p = reserve(c, HeaderSize + body);
        if (!p) {
            nDrop++;
            return;
        }
        writeHeader(p, Welcome, uint32_t(body), messageId, 0, sourceLength); // target = registered name
        unsigned char *q = p + HeaderSize;
        std::memcpy(q, source, sourceLength);
        q += sourceLength;
        put16(q, Version); // protocolVersion
        put16(q + 2, 0);       // reserved
        put32(q + 4, uint32_t(maxFrame));
        std::memcpy(q + WelcomeFixed, brokerVersion, versionLength);
        return;
    }
    case Ping: {
        // §4.2: Pong with the same id and payload.
        unsigned char *p = reserve(c, HeaderSize + payloadLength);
        if (!p) {
            nDrop++;
            return;
        }
        writeHeader(p, Pong, uint32_t(payloadLength), messageId, 0, 0);
        std::memcpy(p + HeaderSize, target + targetLength, payloadLength);
        nPing++;
        return;
    }
    case Bye:
        // §4.2: flush what is queued (one attempt, non-blocking), then close.
        nBye++;
        flush(c);
        connClose(c);
        return;
    default:
        nOther++; // Pong, watchdog frames, unknown types: ignored
    }
}

// ---- input -------------------------------------------------------------------------------------
// Parses whole frames from rbuf[0, len); returns the bytes consumed, or len after closing c on a
// framing error (PROTOCOL §2.1 checks 1 to 4, fatal: the stream cannot be resynchronised).
inline size_t parseFrames(Conn *c, size_t len)
{
    size_t pos = 0;
    while (len - pos >= HeaderSize) {
        const unsigned char *h = rbuf + pos;
        const uint32_t bodyLength = get32(h + 4);
        if (get16(h) != Magic || h[2] != Version || HeaderSize + uint64_t(bodyLength) > maxFrame
            || h[12] > MaxNameLength || h[13] > MaxNameLength || uint32_t(h[12]) + h[13] > bodyLength) {
            nBadFrame++;
            connClose(c);
            return len;
        }
        if (len - pos < HeaderSize + bodyLength)
            break;
        handleFrame(c, h);
        pos += HeaderSize + bodyLength;
        if (c->dead)
            return len;
    }
    return pos;
}

// Keeps rbuf[from, from + n) as c's partial frame (n may be 0: then the heap copy is released).
inline bool keepPartial(Conn *c, size_t from, size_t n)
{
    if (!n) {
        std::free(c->part);
        c->part = nullptr;
        c->partLen = c->partCap = 0;
        return true;
    }
    if (n > c->partCap) {
        size_t cap = c->partCap ? c->partCap : 2048;
        while (cap < n)
            cap *= 2;
        auto *p = static_cast<unsigned char *>(std::realloc(c->part, cap));
        if (!p)
            return false;
        c->part = p;
        c->partCap = cap;
    }
    std::memcpy(c->part, rbuf + from, n);
    c->partLen = n;
    return true;
}

// ideal_fwd's on_read(): the carried partial is copied to the front of the shared scratch buffer
// and the socket read after it, so frames are handled in place.
inline void onRead(Conn *c)
{
    for (int round = 0; round < 4 && !c->dead; round++) {
        const size_t have = c->partLen;
        if (have)
            std::memcpy(rbuf, c->part, have);
        const ssize_t r = ::recv(c->fd, rbuf + have, ReadChunk, 0);
        if (r == 0) {
            connClose(c);
            return;
        }
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                connClose(c);
            return;
        }
        const size_t len = have + size_t(r);
        const size_t pos = parseFrames(c, len);
        if (c->dead)
            return;
        if (!keepPartial(c, pos, len - pos)) {
            nBadFrame++; // out of memory for the partial: framing would be lost
            connClose(c);
            return;
        }
        if (size_t(r) < ReadChunk / 2)
            return; // short read: socket drained
    }
}

inline void onSignal(int) { stopFlag = 1; }

[[noreturn]] inline void usage(const char *program)
{
    std::fprintf(stderr, "usage: %s [--host A] [--port P | --unix PATH] [--max-out BYTES] [--max-frame BYTES] [--quiet]\n",
                 program);
    std::exit(2);
}

// main(): options, the listening socket, the loop until SIGINT/SIGTERM, then printCounters().
inline int run(int argc, char **argv, const char *program)
{
    const char *host = "127.0.0.1";
    const char *unixPath = nullptr; // a Unix socket instead of TCP: the control for clients on the broker's Unix socket
    int port = 18000, quiet = 0;
    static const option lo[] = {{"host", 1, nullptr, 'h'},      {"port", 1, nullptr, 'p'},
                                {"max-out", 1, nullptr, 'm'},   {"max-frame", 1, nullptr, 'f'},
                                {"quiet", 0, nullptr, 'q'},     {"unix", 1, nullptr, 'u'},
                                {nullptr, 0, nullptr, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, nullptr)) != -1) {
        if (ch == 'h')
            host = optarg;
        else if (ch == 'p')
            port = std::atoi(optarg);
        else if (ch == 'm')
            maxOut = size_t(std::atoll(optarg));
        else if (ch == 'f')
            maxFrame = size_t(std::atoll(optarg));
        else if (ch == 'q')
            quiet = 1;
        else if (ch == 'u')
            unixPath = optarg;
        else
            usage(program);
    }
    if (optind < argc || maxFrame < MinMaxFrame || maxFrame > MaxMaxFrame)
        usage(program);
    rbuf = static_cast<unsigned char *>(std::malloc(maxFrame + ReadChunk));
    if (!rbuf) {
        std::fprintf(stderr, "%s: read buffer: %s\n", program, std::strerror(errno));
        return 1;
    }
    rlimit rl{};
    if (!getrlimit(RLIMIT_NOFILE, &rl)) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa{};
    sa.sa_handler = onSignal; // no SA_RESTART: epoll_wait returns EINTR
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    const int one = 1;
    int ls = -1;
    if (unixPath) {
        sockaddr_un u{};
        u.sun_family = AF_UNIX;
        if (std::strlen(unixPath) >= sizeof u.sun_path) {
            std::fprintf(stderr, "%s: socket path too long\n", program);
            return 2;
        }
        std::strcpy(u.sun_path, unixPath);
        ::unlink(unixPath);
        ls = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (ls < 0 || bind(ls, reinterpret_cast<sockaddr *>(&u), sizeof u) < 0 || listen(ls, 4096) < 0) {
            std::fprintf(stderr, "%s: listen: %s\n", program, std::strerror(errno));
            return 1;
        }
    } else {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(uint16_t(port));
        if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
            std::fprintf(stderr, "bad host\n");
            return 2;
        }
        ls = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ls < 0 || bind(ls, reinterpret_cast<sockaddr *>(&a), sizeof a) < 0 || listen(ls, 4096) < 0) {
            std::fprintf(stderr, "%s: listen: %s\n", program, std::strerror(errno));
            return 1;
        }
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event le{};
    le.events = EPOLLIN;
    le.data.ptr = nullptr; // the listener is the one event without a Conn
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &le);
    if (!quiet) {
        if (unixPath)
            std::fprintf(stderr, "%s: listening on unix:%s pid %d\n", program, unixPath, int(getpid()));
        else
            std::fprintf(stderr, "%s: listening on %s:%d pid %d\n", program, host, port, int(getpid()));
    }

    epoll_event evs[512];
    while (!stopFlag) {
        const int n = epoll_wait(ep, evs, 512, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            std::perror("epoll_wait");
            break;
        }
        for (int i = 0; i < n; i++) {
            Conn *c = static_cast<Conn *>(evs[i].data.ptr);
            if (!c) {
                for (int k = 0; k < 256; k++) {
                    const int fd = accept4(ls, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) {
                        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                            std::fprintf(stderr, "%s: accept: %s\n", program, std::strerror(errno));
                        break;
                    }
                    if (!unixPath)
                        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    Conn *nc = new (std::nothrow) Conn;
                    if (!nc) {
                        ::close(fd);
                        continue;
                    }
                    nc->fd = fd;
                    epoll_event e{};
                    e.events = EPOLLIN;
                    e.data.ptr = nc;
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
                    nAccept++;
                    if (++curConns > maxConns)
                        maxConns = curConns;
                }
                continue;
            }
            if (c->dead)
                continue;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                onRead(c);
            if (!c->dead && (evs[i].events & EPOLLOUT))
                flush(c);
        }
        // coalesced writes: one flush per target per batch
        while (dirtyHead) {
            Conn *t = dirtyHead;
            dirtyHead = t->dnext;
            t->dirty = false;
            if (!t->dead)
                flush(t);
        }
        while (graveyard) {
            Conn *g = graveyard;
            graveyard = g->gnext;
            std::free(g->out);
            std::free(g->part);
            delete g;
        }
    }
    printCounters();
    if (unixPath)
        ::unlink(unixPath);
    std::free(rbuf);
    return 0;
}

} // namespace BareForwarder
