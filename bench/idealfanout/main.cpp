// kennel-ideal-fanout: the bare fan-out forwarder, the ceiling for kennel-broker's topics (PROTOCOL
// §5.5) in the fan-out benchmark (docs/BENCHMARKS.md, bench/fanoutbench).
//
// Why it exists: ideal_fwd and kennel-ideal-fanout answer "what one core can do" for a message to
// one name; a publication to 16 subscribers is a different job (one read, sixteen writes), so
// kennel-broker's fan-out figures need their own control, driven by the same generator
// (kennel-fanoutbench) over the same native frames.
//
// It is kennel-ideal-fanout's loop (bench/idealnative: one thread, epoll level-triggered,
// non-blocking sockets, one shared read buffer, per-connection output buffers written once per
// target at the end of each epoll batch, a drained buffer freed, --max-out drops counted) with the
// directed frames replaced by the topic frames:
//   Hello     -> Welcome (last registration wins, no checks);
//   Subscribe -> the connection joins the subscriber list of exactly that topic (no wildcards, no
//                grammar, no bounds), TopicAck result 0;
//   Publish   -> one Publication (source = the publisher's name stamped, target empty, topic and
//                message unchanged) encoded once into a scratch buffer and copied into every
//                subscriber connection's output buffer — the one copy per subscriber a socket write
//                needs; no PublishStatus, no retained values, no Unsubscribe;
//   Ping -> Pong, Bye -> close; anything else counted and ignored.
// One departure from kennel-ideal-native's loop: a drained output buffer is kept, not freed (see
// flush()), so that the ceiling does not pay for page faults.
// Like ideal_fwd it has no limits, no watchdog, no monitors, no validation. It is not a product.
//
// usage: kennel-ideal-fanout [--host 127.0.0.1] [--port 18000] [--max-out BYTES] [--max-frame BYTES] [--quiet]
// SIGINT/SIGTERM: print counters to stderr and exit 0.
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "../common/nativewire.h"

namespace {

// ---- the native wire format: bench/common/nativewire.h, plus what only a broker answers with ----
using namespace NativeWire;
enum TopicFrame : uint8_t { Subscribe = 0x30, TopicAck = 0x32, Publish = 0x33, Publication = 0x35 }; // §5.5
constexpr char BrokerVersion[] = "ideal-fanout"; // Welcome's informational text (§4.1)
constexpr size_t WelcomeFixed = 8;               // protocolVersion, reserved, maxFrameSize

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

size_t maxOut = 16u << 20;
size_t maxFrame = 65536 + HeaderSize;
int ep = -1;
volatile sig_atomic_t stopFlag = 0;
unsigned long long nIn, nPub, nFwd, nNoSub, nDrop, nReg, nSub, nPing, nUnregistered, nBadFrame, nOther, nBye,
    nAccept, nClose, nWrites;
long curConns, maxConns;

// ---- name -> conn map (ideal_fwd's, with names up to 64 bytes) ----------------------------------
constexpr int HBits = 16;
Conn *htab[1 << HBits];

// Fixed-size loads only (xxh3's trick for short keys), as ideal_fwd hashes its fixed 16-byte key:
// a byte-wise FNV-1a loop cost ~60 instructions per message under callgrind, a third of all of
// ideal_fwd's per-message work. Every byte is covered, so names differing anywhere spread.
uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}
uint32_t load32(const unsigned char *p)
{
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
uint64_t mix(uint64_t x)
{
    x *= 0xff51afd7ed558ccdull;
    return x ^ (x >> 32);
}
unsigned hashName(const unsigned char *name, size_t length)
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
Conn *hget(const unsigned char *name, size_t length)
{
    for (Conn *c = htab[hashName(name, length)]; c; c = c->hnext)
        if (c->nameLength == length && !std::memcmp(c->name, name, length))
            return c;
    return nullptr;
}
void hdel(Conn *c)
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
void hput(Conn *c, const unsigned char *name, size_t length)
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

// ---- topic -> subscriber connections: exact topics, a short list (the benchmark uses one) -------
struct TopicSubs
{
    std::string topic;
    std::vector<Conn *> subs;
};
std::vector<TopicSubs> topics;

TopicSubs *findTopic(const unsigned char *topic, size_t length)
{
    for (TopicSubs &t : topics)
        if (t.topic.size() == length && !std::memcmp(t.topic.data(), topic, length))
            return &t;
    return nullptr;
}

void unsubscribeAll(Conn *c)
{
    for (TopicSubs &t : topics)
        for (size_t i = 0; i < t.subs.size(); i++)
            if (t.subs[i] == c) {
                t.subs[i] = t.subs.back();
                t.subs.pop_back();
                break;
            }
}

std::vector<unsigned char> scratch; // one encoded Publication, copied to every subscriber

// ---- output ------------------------------------------------------------------------------------
Conn *dirtyHead;
Conn *graveyard;
unsigned char *rbuf; // shared read scratch: the largest partial frame + one read

void epollMod(Conn *c, uint32_t events)
{
    epoll_event e{};
    e.events = events;
    e.data.ptr = c;
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

void connClose(Conn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    hdel(c);
    unsubscribeAll(c);
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
    curConns--;
    nClose++;
    c->gnext = graveyard; // freed after the batch: events/dirty list may still point here
    graveyard = c;
}

void flush(Conn *c)
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
    // Drained: the buffer is kept (kennel-ideal-native frees it, as ideal_fwd does). A subscriber
    // takes one batch from every publisher at once, ~540 KB at 16 x 16 with 64 in flight; freeing
    // that after every batch made glibc hand back fresh pages each time, and the kernel's page
    // faults cost more than the forwarding (perf). A ceiling must not pay that.
    c->outOff = c->outLen = 0;
    if (c->epout) {
        epollMod(c, EPOLLIN);
        c->epout = false;
    }
}

// Room for an n-byte frame at the end of t's output, or nullptr when --max-out would be passed
// (the caller counts the drop). ideal_fwd's enqueue(), with the copy left to the caller so that a
// Deliver is written straight into the target's buffer.
unsigned char *reserve(Conn *t, size_t n)
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

// ---- input -------------------------------------------------------------------------------------
// One whole frame whose header passed the checks of PROTOCOL §2.1 (1 to 4).
void handleFrame(Conn *c, const unsigned char *f)
{
    const uint8_t type = f[3];
    const uint32_t bodyLength = get32(f + 4), messageId = get32(f + 8);
    const uint8_t sourceLength = f[12], targetLength = f[13];
    const unsigned char *source = f + HeaderSize, *target = source + sourceLength;
    const size_t payloadLength = bodyLength - sourceLength - targetLength;
    nIn++;
    switch (type) {
    case Subscribe: {
        // §5.5 TopicFilter: u16 length, filter. Taken as an exact topic.
        if (!c->named || payloadLength < 2 || get16(target + targetLength) > payloadLength - 2) {
            nOther++;
            return;
        }
        const unsigned char *filter = target + targetLength + 2;
        const size_t filterLength = get16(target + targetLength);
        TopicSubs *t = findTopic(filter, filterLength);
        if (!t) {
            topics.push_back(TopicSubs{std::string(reinterpret_cast<const char *>(filter), filterLength), {}});
            t = &topics.back();
        }
        bool held = false;
        for (Conn *s : t->subs)
            held = held || s == c;
        if (!held)
            t->subs.push_back(c);
        nSub++;
        unsigned char *p = reserve(c, HeaderSize + 6);
        if (!p) {
            nDrop++;
            return;
        }
        writeHeader(p, TopicAck, 6, messageId, 0, 0);
        put16(p + HeaderSize, 0);     // result
        put32(p + HeaderSize + 2, 0); // retained values matched: none kept
        return;
    }
    case Publish: {
        // §5.5 TopicMessage: u16 length, topic, message. The Publication carries the same payload
        // behind the publisher's name: encoded once, copied to each subscriber.
        if (!c->named) {
            nUnregistered++;
            return;
        }
        const unsigned char *payload = target + targetLength;
        if (payloadLength < 2 || get16(payload) > payloadLength - 2) {
            nOther++;
            return;
        }
        nPub++;
        TopicSubs *t = findTopic(payload + 2, get16(payload));
        if (!t || t->subs.empty()) {
            nNoSub++;
            return;
        }
        const size_t size = HeaderSize + c->nameLength + payloadLength;
        if (scratch.size() < size)
            scratch.resize(size);
        writeHeader(scratch.data(), Publication, uint32_t(c->nameLength + payloadLength), messageId, c->nameLength, 0);
        std::memcpy(scratch.data() + HeaderSize, c->name, c->nameLength);
        std::memcpy(scratch.data() + HeaderSize + c->nameLength, payload, payloadLength);
        for (Conn *s : t->subs) {
            unsigned char *p = reserve(s, size);
            if (!p) {
                nDrop++;
                continue;
            }
            std::memcpy(p, scratch.data(), size);
            nFwd++;
        }
        return;
    }
    case Hello: {
        // §4.1. No checks on role, version, pid or the name's characters: an empty name is the
        // one thing that cannot be registered, and is ignored (counted).
        if (!sourceLength) {
            nOther++;
            return;
        }
        hput(c, source, sourceLength);
        nReg++;
        const size_t body = sourceLength + WelcomeFixed + sizeof BrokerVersion - 1;
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
        std::memcpy(q + WelcomeFixed, BrokerVersion, sizeof BrokerVersion - 1);
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

// Parses whole frames from rbuf[0, len); returns the bytes consumed, or len after closing c on a
// framing error (PROTOCOL §2.1 checks 1 to 4, fatal: the stream cannot be resynchronised).
size_t parseFrames(Conn *c, size_t len)
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
bool keepPartial(Conn *c, size_t from, size_t n)
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
void onRead(Conn *c)
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

void onSignal(int) { stopFlag = 1; }

[[noreturn]] void usage()
{
    std::fprintf(stderr,
                 "usage: kennel-ideal-fanout [--host A] [--port P] [--max-out BYTES] [--max-frame BYTES] [--quiet]\n");
    std::exit(2);
}

} // namespace

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 18000, quiet = 0;
    static const option lo[] = {{"host", 1, nullptr, 'h'},      {"port", 1, nullptr, 'p'},
                                {"max-out", 1, nullptr, 'm'},   {"max-frame", 1, nullptr, 'f'},
                                {"quiet", 0, nullptr, 'q'},     {nullptr, 0, nullptr, 0}};
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
        else
            usage();
    }
    if (optind < argc || maxFrame < MinMaxFrame || maxFrame > MaxMaxFrame)
        usage();
    rbuf = static_cast<unsigned char *>(std::malloc(maxFrame + ReadChunk));
    if (!rbuf) {
        std::perror("kennel-ideal-fanout: read buffer");
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

    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        std::fprintf(stderr, "bad host\n");
        return 2;
    }
    const int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ls < 0 || bind(ls, reinterpret_cast<sockaddr *>(&a), sizeof a) < 0 || listen(ls, 4096) < 0) {
        std::perror("kennel-ideal-fanout: listen");
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event le{};
    le.events = EPOLLIN;
    le.data.ptr = nullptr; // the listener is the one event without a Conn
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &le);
    if (!quiet)
        std::fprintf(stderr, "kennel-ideal-fanout: listening on %s:%d pid %d\n", host, port, int(getpid()));

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
                            std::perror("kennel-ideal-fanout: accept");
                        break;
                    }
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
    std::fprintf(stderr,
                 "kennel-ideal-fanout: frames_in=%llu publishes=%llu publications=%llu no_subscriber=%llu dropped=%llu "
                 "registrations=%llu subscribes=%llu unregistered=%llu pings=%llu byes=%llu other=%llu bad_frames=%llu "
                 "accepted=%llu closed=%llu max_conns=%ld writes=%llu\n",
                 nIn, nPub, nFwd, nNoSub, nDrop, nReg, nSub, nUnregistered, nPing, nBye, nOther, nBadFrame, nAccept,
                 nClose, maxConns, nWrites);
    std::free(rbuf);
    return 0;
}
