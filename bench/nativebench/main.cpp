// kennel-nativebench: routebench's method (the shared benchmark tools' routebench.c) for Kennel's NATIVE protocol.
//
// routebench speaks only the legacy frames and MQTT, so the native path new clients use could not
// be measured with it. This tool mirrors it option for option and prints the same one-line
// `key=value` summary, so the benchmark runner parses both the same way and the figures compare:
// N sender→receiver pairs (sender i sends to receiver i through the broker), at most --window
// messages in flight per sender (judged by the highest sequence number its receiver has seen),
// --batch messages per write(), --rate messages/s per sender (open loop, bounded by the window),
// and in every payload the same 24-byte header {magic, pair, seq, CLOCK_MONOTONIC send time}, so
// receivers count loss and reordering and measure one-way latency.
//
// Native additions: --unix PATH (the broker's Unix socket), --status (WantDeliveryStatus on every
// Send; the DeliveryStatus answers are counted per status, PROTOCOL §5.3), Error frames counted
// and the first ones printed. --idle N --hold S registers N idle receivers, checks each gets one
// message, holds them (connection scale, memory per connection).
//
// The generator must never be what limits the broker: one thread, non-blocking sockets on one
// epoll, every buffer sized once at setup (no allocation per message), messages copied from a
// prebuilt template with only the sequence number, id and timestamp patched, whole batches per
// send() and whole socket buffers per recv(). No Qt and no Kennel library: the 16-byte header
// (PROTOCOL §2) is written and read here, which keeps the tool free of anything that could add
// work per message.
//
// Measurement window [warmup, warmup + duration) after all clients are set up, as routebench:
//   sent       messages whose send timestamp is in the window
//   delivered  those of them that arrived (by the end of the drain period); lost = sent - delivered
//   msgs_per_s receipts whose receive time is in the window, divided by the duration
//   latency    receive time - send timestamp, for messages sent in the window
// With --watch-pid the broker's CPU (/proc/PID/stat) is sampled at the window edges, its VmHWM
// and VmRSS reported, and the CPU of every other process summed as a contamination indicator.
// Every loop is bounded by time (--duration, --drain, --hold, --setup-timeout, a hard deadline)
// or count (--max-msgs).
#include <arpa/inet.h>
#include <dirent.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "../common/nativewire.h"
#include "../common/procstats.h"

namespace {

using namespace ProcStats;

// ---- the native wire format: bench/common/nativewire.h ----------------------------------------
using namespace NativeWire;
constexpr int StatusKinds = 8; // PROTOCOL §5.3: delivered .. shutting_down
const char *const statusKeys[StatusKinds] = {"delivered", "no_such_client", "queue_full", "too_large",
                                             "not_registered", "sender_unfit", "invalid_target", "shutting_down"};

// ---- the payload header, byte for byte routebench's, so payloads mean the same in both tools --
constexpr uint32_t PayloadMagic = 0x52424e43u; // "RBNC"
struct PayloadHeader
{
    uint32_t magic;
    uint32_t pair;
    uint64_t seq;
    uint64_t tsNs;
};
constexpr int PayloadHeaderSize = int(sizeof(PayloadHeader)); // 24

// ---- options: routebench's, plus --unix and --status ---------------------------------------------
struct Options
{
    std::string host = "127.0.0.1";
    int port = 8000;
    std::string unixPath; // non-empty: connect to this Unix socket instead of TCP
    int pairs = 1;
    int size = 512;
    double duration = 10, warmup = 2, drain = 3, hold = 5, setupTimeout = 60;
    double rate = 0;
    int window = 64, batch = 16;
    int stallMs = 1000, settleMs = 0, connPar = 64, nodelay = 1;
    long long maxMsgs = 200000000LL;
    std::string prefix = "nb";
    int idle = 0;
    int watchPid = 0;
    bool status = false;
    bool verbose = false;
    std::string tracePath; // non-empty: every measured message's latency written here at the end
    long long traceMax = 2000000;
};
Options o;

uint64_t nowNs()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

[[noreturn]] void die(const char *what)
{
    std::perror(what);
    std::exit(2);
}

// ---- per-message trace (--trace): what a percentile cannot say, such as whether the slow messages
// came together (the whole machine stalled) or one by one (the broker). Sized once at setup, so
// recording costs a store per message; messages beyond --trace-max are counted, not recorded.
struct TraceRecord
{
    uint64_t sendNs; // send timestamp, CLOCK_MONOTONIC
    uint32_t latencyNs;
    uint32_t pair;
};
std::vector<TraceRecord> trace;
uint64_t traceDropped = 0;

void traceAdd(uint64_t sendNs, uint64_t latencyNs, uint32_t pair)
{
    if (trace.size() < trace.capacity())
        trace.push_back({sendNs, uint32_t(std::min<uint64_t>(latencyNs, UINT32_MAX)), pair});
    else
        traceDropped++;
}

// ---- latency histogram: log-linear, ns, ≤ 0.8 % relative bucket error (routebench's) -------------
constexpr int HistBuckets = 256 + 56 * 128;
uint64_t hist[HistBuckets];
uint64_t histN, histMax;

int histIndex(uint64_t v)
{
    if (v < 256)
        return int(v);
    const int e = 63 - __builtin_clzll(v);
    const int m = int((v >> (e - 7)) & 127);
    return 256 + (e - 8) * 128 + m;
}
double histValue(int i)
{
    if (i < 256)
        return i;
    const int e = (i - 256) / 128 + 8, m = (i - 256) % 128;
    const double lo = double(uint64_t(128 + m) << (e - 7));
    return lo + double(1ull << (e - 7)) / 2.0;
}
void histAdd(uint64_t v)
{
    hist[histIndex(v)]++;
    histN++;
    histMax = std::max(histMax, v);
}
double histPercentile(double p)
{
    if (!histN)
        return 0;
    uint64_t target = uint64_t(p * double(histN));
    target = std::clamp<uint64_t>(target, 1, histN);
    uint64_t acc = 0;
    for (int i = 0; i < HistBuckets; i++) {
        acc += hist[i];
        if (acc >= target)
            return std::min(histValue(i), double(histMax));
    }
    return double(histMax);
}

// ---- buffers: sized once at setup; growth only if a control frame needs more (never per message)
struct Buffer
{
    std::unique_ptr<unsigned char[]> data;
    size_t cap = 0, off = 0, len = 0;

    void allocate(size_t n)
    {
        data.reset(new unsigned char[n]);
        cap = n;
        off = len = 0;
    }
    bool empty() const { return off == len; }
    // At least n free bytes after `len`, moving the live bytes to the front first.
    void ensureFree(size_t n)
    {
        if (off == len)
            off = len = 0;
        if (len + n > cap && off) {
            std::memmove(data.get(), data.get() + off, len - off);
            len -= off;
            off = 0;
        }
        if (len + n > cap) {
            size_t newCap = cap ? cap : 4096;
            while (newCap < len + n)
                newCap *= 2;
            std::unique_ptr<unsigned char[]> bigger(new unsigned char[newCap]);
            if (len)
                std::memcpy(bigger.get(), data.get(), len);
            data = std::move(bigger);
            cap = newCap;
        }
    }
    // Room for n bytes at the end; the bytes are counted as written.
    unsigned char *reserve(size_t n)
    {
        ensureFree(n);
        unsigned char *p = data.get() + len;
        len += n;
        return p;
    }
};

enum class Role { Receiver, Sender, Idle, Verifier };
enum class State { New, Connecting, WaitWelcome, Ready, Dead };
enum class Phase { SetupReceivers, Settle, SetupSenders, Run, Drain, Verify, Hold, Done };

struct Conn
{
    int fd = -1;
    Role role = Role::Receiver;
    int idx = 0;
    State state = State::New;
    char name[MaxNameLength + 1] = {};
    int nameLength = 0;
    Buffer in, out;
    bool epollOut = false;
    bool verified = false;
};

struct Pair
{
    Conn *sender = nullptr;
    Conn *receiver = nullptr;
    uint64_t nextSeq = 0;  // next sequence number to send
    uint64_t maxSeen = 0;  // highest sequence received + 1
    uint64_t base = 0;     // window base after a stall reset
    uint64_t lastProgress = 0;
    uint64_t nextDue = 0;  // rate pacing (ns)
    std::vector<unsigned char> tmpl; // a whole Send frame; id and payload header patched per send
    size_t payloadOffset = 0;
};

std::vector<Conn> conns;
std::vector<Pair> pairs;
int ep = -1;
Phase phase = Phase::SetupReceivers;
uint64_t tMeas0 = UINT64_MAX, tMeas1 = UINT64_MAX;
volatile sig_atomic_t stopFlag = 0;
uint32_t brokerMaxFrame = 0; // from Welcome; 0 until the first one
int inProgress = 0;
int errPrints = 0;
uint64_t intervalNs = 0;

struct Stats
{
    uint64_t sentTotal = 0, recvTotal = 0;
    uint64_t sentWin = 0, delivWin = 0, recvInWin = 0;
    uint64_t ooo = 0, bad = 0, misrouted = 0, stalls = 0, shortWrites = 0, disconnects = 0, connErrors = 0;
    uint64_t unexpected = 0, schedSkipped = 0, verified = 0, errorsRx = 0, pings = 0;
    uint64_t statusSent = 0, statusRx[StatusKinds] = {}, statusUnknown = 0;
} st;

// ---- connections -------------------------------------------------------------------------------
sockaddr_storage dst;
socklen_t dstLen = 0;
bool tcp = true;

void epollCtl(int op, Conn *c, uint32_t events)
{
    epoll_event e{};
    e.events = events;
    e.data.ptr = c;
    if (epoll_ctl(ep, op, c->fd, &e) < 0)
        die("epoll_ctl");
}

void connDead(Conn *c, const char *why, int err)
{
    if (c->state == State::Dead)
        return;
    if (errPrints++ < 10)
        std::fprintf(stderr, "nativebench: %s %s: %s\n", c->name, why, err ? std::strerror(err) : "closed by peer");
    if (c->state == State::New || c->state == State::Connecting)
        st.connErrors++;
    else
        st.disconnects++;
    if (c->state == State::Connecting || c->state == State::WaitWelcome)
        inProgress--;
    c->state = State::Dead;
    if (c->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
        ::close(c->fd);
        c->fd = -1;
    }
}

void connFlush(Conn *c)
{
    Buffer &b = c->out;
    while (c->state != State::Dead && b.off < b.len) {
        const size_t want = b.len - b.off;
        const ssize_t w = ::send(c->fd, b.data.get() + b.off, want, MSG_NOSIGNAL);
        if (w > 0) {
            if (size_t(w) < want)
                st.shortWrites++;
            b.off += size_t(w);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->epollOut) {
                epollCtl(EPOLL_CTL_MOD, c, EPOLLIN | EPOLLOUT);
                c->epollOut = true;
            }
            return;
        }
        connDead(c, "write", errno);
        return;
    }
    if (c->state == State::Dead)
        return;
    b.off = b.len = 0;
    if (c->epollOut && c->state != State::Connecting) {
        epollCtl(EPOLL_CTL_MOD, c, EPOLLIN);
        c->epollOut = false;
    }
}

void queueHello(Conn *c)
{
    // PROTOCOL §4.1: role 0 (client), reserved, protocolVersion 1, pid 0 (no claim), no token.
    unsigned char *p = c->out.reserve(HeaderSize + size_t(c->nameLength) + 8);
    writeHeader(p, Hello, uint32_t(c->nameLength + 8), 1, uint8_t(c->nameLength), 0, 0);
    std::memcpy(p + HeaderSize, c->name, size_t(c->nameLength));
    unsigned char *payload = p + HeaderSize + c->nameLength;
    std::memset(payload, 0, 8);
    put16(payload + 2, Version);
}

// A whole Send frame from `sender` to `target` with an `o.size`-byte payload: header, empty source
// (the broker stamps it, PROTOCOL §5.1), target, payload header and a filler.
std::vector<unsigned char> buildSend(const char *target, int targetLength, size_t *payloadOffset)
{
    const size_t total = HeaderSize + size_t(targetLength) + size_t(o.size);
    std::vector<unsigned char> t(total);
    writeHeader(t.data(), Send, uint32_t(targetLength + o.size), 0, 0, uint8_t(targetLength),
                o.status ? WantDeliveryStatus : 0);
    std::memcpy(t.data() + HeaderSize, target, size_t(targetLength));
    *payloadOffset = HeaderSize + size_t(targetLength);
    for (int i = PayloadHeaderSize; i < o.size; i++)
        t[*payloadOffset + size_t(i)] = static_cast<unsigned char>('a' + i % 26);
    return t;
}

// ---- receiving ---------------------------------------------------------------------------------
void onPayload(Conn *c, const unsigned char *p, size_t len, uint64_t rts)
{
    PayloadHeader h;
    if (len < size_t(PayloadHeaderSize)) {
        st.bad++;
        return;
    }
    std::memcpy(&h, p, sizeof h);
    if (h.magic != PayloadMagic) {
        st.bad++;
        return;
    }
    if (o.idle) {
        if (c->role == Role::Idle && h.pair == uint32_t(c->idx) && !c->verified) {
            c->verified = true;
            st.verified++;
        } else {
            st.misrouted++;
        }
        return;
    }
    if (c->role != Role::Receiver || h.pair != uint32_t(c->idx) || int(h.pair) >= o.pairs) {
        st.misrouted++;
        return;
    }
    Pair &pp = pairs[h.pair];
    st.recvTotal++;
    if (h.seq + 1 > pp.maxSeen)
        pp.maxSeen = h.seq + 1;
    else
        st.ooo++;
    pp.lastProgress = rts;
    if (h.tsNs >= tMeas0 && h.tsNs < tMeas1) {
        st.delivWin++;
        const uint64_t latency = rts > h.tsNs ? rts - h.tsNs : 0;
        histAdd(latency);
        if (!o.tracePath.empty())
            traceAdd(h.tsNs, latency, h.pair);
    }
    if (rts >= tMeas0 && rts < tMeas1)
        st.recvInWin++;
}

void onReady(Conn *c)
{
    c->state = State::Ready;
    inProgress--;
}

// One frame from the broker; names are not needed: the payload header says which pair it belongs to.
void onFrame(Conn *c, uint8_t type, uint32_t messageId, const unsigned char *payload, size_t payloadLength,
             uint64_t rts)
{
    switch (type) {
    case Deliver:
        onPayload(c, payload, payloadLength, rts);
        return;
    case DeliveryStatusFrame:
        if (payloadLength < 2) {
            st.bad++;
            return;
        }
        {
            const uint16_t status = get16(payload);
            if (status < StatusKinds)
                st.statusRx[status]++;
            else
                st.statusUnknown++;
        }
        return;
    case Welcome:
        if (c->state == State::WaitWelcome) {
            // PROTOCOL §4.1: shorter than 8 bytes, or a maximum frame size under 1024, is malformed.
            const uint32_t maxFrame = payloadLength >= 8 ? get32(payload + 4) : 0;
            if (maxFrame < 1024) {
                connDead(c, "malformed Welcome", 0);
                return;
            }
            if (!brokerMaxFrame || maxFrame < brokerMaxFrame)
                brokerMaxFrame = maxFrame;
            onReady(c);
        } else {
            st.unexpected++;
        }
        return;
    case Error: {
        st.errorsRx++;
        const int code = payloadLength >= 2 ? get16(payload) : -1;
        if (errPrints++ < 10) {
            const int textLength = payloadLength > 2 ? int(std::min<size_t>(payloadLength - 2, 200)) : 0;
            std::fprintf(stderr, "nativebench: %s got Error %d (message %u): %.*s\n", c->name, code, messageId,
                         textLength, reinterpret_cast<const char *>(payload + 2));
        }
        // A refused Hello leaves the connection useless for the run.
        if (c->state == State::WaitWelcome)
            connDead(c, "registration refused", 0);
        return;
    }
    case Ping: {
        // PROTOCOL §4.2: every Ping is answered, whatever its payload (the frame decoder has
        // already bounded it by the broker's maximum frame size).
        st.pings++;
        unsigned char *p = c->out.reserve(HeaderSize + payloadLength);
        writeHeader(p, Pong, uint32_t(payloadLength), messageId, 0, 0, 0);
        if (payloadLength)
            std::memcpy(p + HeaderSize, payload, payloadLength);
        connFlush(c);
        return;
    }
    case Pong:
        return;
    case Bye:
        connDead(c, "bye from broker", 0);
        return;
    default:
        st.unexpected++; // PROTOCOL §2.1: unknown types are ignored
    }
}

// Returns the bytes consumed from `b`.
size_t parseFrames(Conn *c, const unsigned char *b, size_t len, uint64_t rts)
{
    const uint64_t limit = uint64_t(brokerMaxFrame ? brokerMaxFrame : (1u << 20)) + MaxNameLength;
    size_t pos = 0;
    while (len - pos >= HeaderSize && c->state != State::Dead) {
        const unsigned char *h = b + pos;
        if (get16(h) != Magic || h[2] != Version) {
            connDead(c, "bad frame header from broker", 0);
            return len;
        }
        const uint32_t bodyLength = get32(h + 4);
        const int sourceLength = h[12], targetLength = h[13];
        if (HeaderSize + uint64_t(bodyLength) > limit || sourceLength > MaxNameLength || targetLength > MaxNameLength
            || uint32_t(sourceLength + targetLength) > bodyLength) {
            connDead(c, "malformed frame from broker", 0);
            return len;
        }
        if (len - pos < HeaderSize + bodyLength)
            break;
        const unsigned char *body = h + HeaderSize;
        onFrame(c, h[3], get32(h + 8), body + sourceLength + targetLength,
                bodyLength - uint32_t(sourceLength + targetLength), rts);
        pos += HeaderSize + bodyLength;
    }
    return pos;
}

void connRead(Conn *c)
{
    for (int round = 0; round < 8 && c->state != State::Dead; round++) {
        Buffer &b = c->in;
        if (b.cap - b.len < 4096)
            b.ensureFree(std::max<size_t>(b.cap, 65536)); // only a frame larger than the buffer gets here
        const ssize_t r = ::recv(c->fd, b.data.get() + b.len, b.cap - b.len, 0);
        if (r == 0) {
            connDead(c, "read", 0);
            return;
        }
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            connDead(c, "read", errno);
            return;
        }
        b.len += size_t(r);
        const uint64_t rts = nowNs();
        const size_t used = parseFrames(c, b.data.get(), b.len, rts);
        if (c->state == State::Dead)
            return;
        if (used) {
            std::memmove(b.data.get(), b.data.get() + used, b.len - used);
            b.len -= used;
        }
        if (size_t(r) < 16384)
            return; // drained for now
    }
}

// ---- connect and set up ------------------------------------------------------------------------
void connStart(Conn *c)
{
    const int fd = ::socket(tcp ? AF_INET : AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        if (errPrints++ < 10)
            std::perror("nativebench: socket");
        st.connErrors++;
        c->state = State::Dead;
        return;
    }
    if (tcp && o.nodelay) {
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    c->fd = fd;
    c->state = State::Connecting;
    inProgress++;
    const int r = ::connect(fd, reinterpret_cast<const sockaddr *>(&dst), dstLen);
    if (r < 0 && errno != EINPROGRESS && errno != EAGAIN) {
        connDead(c, "connect", errno);
        return;
    }
    c->epollOut = true;
    epollCtl(EPOLL_CTL_ADD, c, EPOLLIN | EPOLLOUT);
}

void onConnected(Conn *c)
{
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) {
        connDead(c, "connect", err);
        return;
    }
    epollCtl(EPOLL_CTL_MOD, c, EPOLLIN);
    c->epollOut = false;
    c->state = State::WaitWelcome;
    queueHello(c);
    connFlush(c);
}

void startSome(int *next, int end)
{
    while (*next < end && inProgress < o.connPar)
        connStart(&conns[size_t((*next)++)]);
}

bool allReady(int from, int to, int *dead)
{
    bool ok = true;
    *dead = 0;
    for (int i = from; i < to; i++) {
        if (conns[size_t(i)].state == State::Dead)
            (*dead)++;
        else if (conns[size_t(i)].state != State::Ready)
            ok = false;
    }
    return ok;
}

// ---- sending -----------------------------------------------------------------------------------
// Fill the sender's window: up to `batch` messages per send(), as many sends as the window (and
// the pacer) allow; stop when the socket did not take everything (the rest goes on EPOLLOUT).
void pump(Pair &pp, uint64_t now)
{
    Conn *c = pp.sender;
    const size_t frameLength = pp.tmpl.size();
    for (int round = 0; round < 1024; round++) {
        if (c->state != State::Ready || !c->out.empty())
            return;
        const uint64_t base = std::max(pp.maxSeen, pp.base);
        const uint64_t inflight = pp.nextSeq - base;
        if (inflight >= uint64_t(o.window)) {
            if (now > pp.lastProgress && now - pp.lastProgress > uint64_t(o.stallMs) * 1000000ull) {
                st.stalls++; // presume the in-flight messages lost and reopen the window
                pp.base = pp.nextSeq;
                pp.lastProgress = now;
                if (o.verbose)
                    std::fprintf(stderr, "nativebench: stall on pair %d\n", int(&pp - pairs.data()));
            }
            return;
        }
        uint64_t n = std::min<uint64_t>(uint64_t(o.window) - inflight, uint64_t(o.batch));
        if (intervalNs) {
            if (pp.nextDue > now)
                return;
            uint64_t due = (now - pp.nextDue) / intervalNs + 1;
            if (due > uint64_t(o.window)) { // far behind schedule: no unbounded burst
                st.schedSkipped += due - uint64_t(o.window);
                pp.nextDue += (due - uint64_t(o.window)) * intervalNs;
                due = uint64_t(o.window);
            }
            n = std::min(n, due);
            pp.nextDue += n * intervalNs;
        }
        if (st.sentTotal + n > uint64_t(o.maxMsgs))
            n = uint64_t(o.maxMsgs) - st.sentTotal;
        if (!n)
            return;
        const uint64_t ts = nowNs();
        unsigned char *p = c->out.reserve(frameLength * n);
        const uint32_t pairIndex = uint32_t(&pp - pairs.data());
        for (uint64_t k = 0; k < n; k++) {
            std::memcpy(p, pp.tmpl.data(), frameLength);
            put32(p + 8, uint32_t(pp.nextSeq)); // messageId: the sequence number (ids are per sender)
            const PayloadHeader h{PayloadMagic, pairIndex, pp.nextSeq++, ts};
            std::memcpy(p + pp.payloadOffset, &h, sizeof h);
            p += frameLength;
        }
        st.sentTotal += n;
        if (o.status)
            st.statusSent += n;
        if (ts >= tMeas0 && ts < tMeas1)
            st.sentWin += n;
        pp.lastProgress = ts;
        connFlush(c);
    }
}

// ---- /proc sampling (routebench's figures, same keys) -------------------------------------------
constexpr int MaxProcs = 8192;
struct ProcCpu
{
    int pid;
    unsigned long long ticks, start;
    char comm[24];
};
struct CpuSnap
{
    double selfS = 0, brokerS = -1;
    unsigned long long cpu[8] = {}; // /proc/stat: user nice system idle iowait irq softirq steal
    double uptimeS = 0;
    std::vector<ProcCpu> procs;
    uint64_t t = 0;
};

int countFds(int pid)
{
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    while (dirent *e = readdir(d))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

// CPU ticks of every user-space process but this one and the broker, to name whoever else is busy.
void scanProcs(CpuSnap *s)
{
    s->procs.clear();
    s->procs.reserve(1024);
    DIR *d = opendir("/proc");
    if (!d)
        return;
    const int self = int(getpid());
    while (dirent *e = readdir(d)) {
        if (int(s->procs.size()) >= MaxProcs)
            break;
        const int pid = std::atoi(e->d_name);
        if (pid <= 0 || pid == self || pid == o.watchPid)
            continue;
        char path[64], buf[1024];
        std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
        FILE *f = std::fopen(path, "r");
        if (!f)
            continue;
        const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
        std::fclose(f);
        buf[n] = 0;
        char *l = std::strchr(buf, '('), *r = std::strrchr(buf, ')');
        if (!l || !r || r < l)
            continue;
        unsigned long flags = 0;
        unsigned long long ut = 0, stt = 0, start = 0;
        int ppid = 0;
        if (std::sscanf(r + 2, "%*c %d %*d %*d %*d %*d %lu %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu",
                        &ppid, &flags, &ut, &stt, &start)
            != 5)
            continue;
        if (flags & 0x00200000) // PF_KTHREAD
            continue;
        if (ppid == self)
            continue;
        ProcCpu pc{};
        pc.pid = pid;
        pc.ticks = ut + stt;
        pc.start = start;
        const size_t cl = std::min(size_t(r - l - 1), sizeof pc.comm - 1);
        std::memcpy(pc.comm, l + 1, cl);
        pc.comm[cl] = 0;
        s->procs.push_back(pc);
    }
    closedir(d);
}

void snap(CpuSnap *s)
{
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    s->selfS = double(ru.ru_utime.tv_sec) + double(ru.ru_utime.tv_usec) / 1e6 + double(ru.ru_stime.tv_sec)
               + double(ru.ru_stime.tv_usec) / 1e6;
    s->brokerS = o.watchPid ? procCpuSeconds(o.watchPid) : -1;
    std::memset(s->cpu, 0, sizeof s->cpu);
    if (FILE *f = std::fopen("/proc/stat", "r")) {
        unsigned long long *v = s->cpu;
        if (std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                        &v[6], &v[7])
            != 8)
            std::memset(s->cpu, 0, sizeof s->cpu);
        std::fclose(f);
    }
    s->uptimeS = 0;
    if (FILE *f = std::fopen("/proc/uptime", "r")) {
        if (std::fscanf(f, "%lf", &s->uptimeS) != 1)
            s->uptimeS = 0;
        std::fclose(f);
    }
    scanProcs(s);
    s->t = nowNs();
}

// The largest CPU consumer among other processes during [a, b], in % of one core.
double topOther(const CpuSnap &a, const CpuSnap &b, char *name, size_t nameSize, double *sum)
{
    const double hz = double(sysconf(_SC_CLK_TCK)), wall = double(b.t - a.t) / 1e9;
    double best = 0;
    *sum = 0;
    std::snprintf(name, nameSize, "none");
    for (const ProcCpu &q : b.procs) {
        unsigned long long d = 0;
        bool found = false;
        for (const ProcCpu &p : a.procs)
            if (p.pid == q.pid && p.start == q.start) {
                d = q.ticks - p.ticks;
                found = true;
                break;
            }
        if (!found && double(q.start) / hz >= a.uptimeS - 0.05)
            d = q.ticks; // started within the window
        const double pct = 100.0 * double(d) / hz / wall;
        *sum += pct;
        if (pct > best) {
            best = pct;
            std::snprintf(name, nameSize, "%s/%d", q.comm, q.pid);
            for (char *ch = name; *ch; ch++)
                if (*ch == ' ' || *ch == '=')
                    *ch = '_';
        }
    }
    return best;
}

// ---- main --------------------------------------------------------------------------------------
void onSignal(int) { stopFlag = 1; }

[[noreturn]] void usage()
{
    std::fprintf(stderr,
                 "usage: kennel-nativebench [options]   (routebench's options, native protocol)\n"
                 "  --host A --port P     broker TCP address, loopback only (default 127.0.0.1:8000)\n"
                 "  --unix PATH           connect to the broker's Unix socket instead\n"
                 "  --pairs N             sender/receiver pairs (default 1)\n"
                 "  --size B              payload bytes, >= 24 (default 512)\n"
                 "  --duration S          measured seconds (default 10)\n"
                 "  --warmup S            unmeasured seconds before (default 2)\n"
                 "  --rate R              msgs/s per sender, 0 = as fast as the window allows (default 0)\n"
                 "  --window W            max in-flight msgs per sender (default 64)\n"
                 "  --batch B             max msgs per write() (default 16)\n"
                 "  --status              WantDeliveryStatus on every Send; statuses counted\n"
                 "  --drain S             max seconds to wait for in-flight msgs at the end (default 3)\n"
                 "  --stall-ms MS         reopen a full window after MS without progress (default 1000)\n"
                 "  --settle-ms MS        pause after the receivers registered (default 0: Welcome says so)\n"
                 "  --conn-par N          max concurrent connection handshakes (default 64)\n"
                 "  --nodelay 0|1         TCP_NODELAY on client sockets (default 1)\n"
                 "  --max-msgs N          hard cap on messages sent (default 200000000)\n"
                 "  --prefix S            client name prefix (default nb)\n"
                 "  --idle N              idle mode: N registered receivers, verify, hold\n"
                 "  --hold S              idle mode hold time (default 5)\n"
                 "  --setup-timeout S     max seconds for connection setup (default 60)\n"
                 "  --watch-pid PID       sample the broker's CPU/RSS from /proc/PID\n"
                 "  --trace FILE          write every measured message as 'send_us latency_us pair' (send time\n"
                 "                        from the start of the window), sorted by send time\n"
                 "  --trace-max N         at most N messages traced, memory reserved up front (default 2000000)\n"
                 "  --verbose\n");
    std::exit(2);
}

bool validName(const char *name, int length)
{
    if (length < 1 || length > MaxNameLength)
        return false;
    for (int i = 0; i < length; i++) {
        const char ch = name[i];
        const bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.'
                        || ch == '_' || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

void parseOptions(int argc, char **argv)
{
    static const option lo[] = {
        {"host", 1, nullptr, 'h'},      {"port", 1, nullptr, 'p'},      {"unix", 1, nullptr, 'u'},
        {"pairs", 1, nullptr, 'n'},     {"size", 1, nullptr, 's'},      {"duration", 1, nullptr, 'd'},
        {"rate", 1, nullptr, 'r'},      {"window", 1, nullptr, 'w'},    {"warmup", 1, nullptr, 'W'},
        {"batch", 1, nullptr, 'b'},     {"drain", 1, nullptr, 'D'},     {"stall-ms", 1, nullptr, 'S'},
        {"settle-ms", 1, nullptr, 'T'}, {"conn-par", 1, nullptr, 'c'},  {"nodelay", 1, nullptr, 'N'},
        {"max-msgs", 1, nullptr, 'm'},  {"prefix", 1, nullptr, 'x'},    {"idle", 1, nullptr, 'i'},
        {"hold", 1, nullptr, 'H'},      {"watch-pid", 1, nullptr, 'z'}, {"setup-timeout", 1, nullptr, 'U'},
        {"status", 0, nullptr, 'q'},    {"verbose", 0, nullptr, 'v'},   {"help", 0, nullptr, '?'},
        {"trace", 1, nullptr, 'X'},     {"trace-max", 1, nullptr, 'Y'},
        {nullptr, 0, nullptr, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, nullptr)) != -1) {
        switch (ch) {
        case 'h': o.host = optarg; break;
        case 'p': o.port = std::atoi(optarg); break;
        case 'u': o.unixPath = optarg; break;
        case 'n': o.pairs = std::atoi(optarg); break;
        case 's': o.size = std::atoi(optarg); break;
        case 'd': o.duration = std::atof(optarg); break;
        case 'r': o.rate = std::atof(optarg); break;
        case 'w': o.window = std::atoi(optarg); break;
        case 'W': o.warmup = std::atof(optarg); break;
        case 'b': o.batch = std::atoi(optarg); break;
        case 'D': o.drain = std::atof(optarg); break;
        case 'S': o.stallMs = std::atoi(optarg); break;
        case 'T': o.settleMs = std::atoi(optarg); break;
        case 'c': o.connPar = std::atoi(optarg); break;
        case 'N': o.nodelay = std::atoi(optarg); break;
        case 'm': o.maxMsgs = std::atoll(optarg); break;
        case 'x': o.prefix = optarg; break;
        case 'i': o.idle = std::atoi(optarg); break;
        case 'H': o.hold = std::atof(optarg); break;
        case 'z': o.watchPid = std::atoi(optarg); break;
        case 'U': o.setupTimeout = std::atof(optarg); break;
        case 'q': o.status = true; break;
        case 'v': o.verbose = true; break;
        case 'X': o.tracePath = optarg; break;
        case 'Y': o.traceMax = std::atoll(optarg); break;
        default: usage();
        }
    }
    if (optind < argc)
        usage();
    // Bounds on everything: a typo must not start an hour-long or machine-filling run.
    if (o.pairs < 1 || o.pairs > 100000 || o.window < 1 || o.window > 1000000 || o.batch < 1 || o.batch > 65536
        || o.connPar < 1 || o.duration <= 0 || o.duration > 3600 || o.warmup < 0 || o.warmup > 600 || o.hold < 0
        || o.hold > 3600 || o.drain < 0 || o.drain > 600 || o.maxMsgs < 1 || o.idle < 0 || o.idle > 1000000
        || o.rate < 0 || o.settleMs < 0 || o.settleMs > 60000 || o.stallMs < 1 || o.setupTimeout <= 0
        || o.setupTimeout > 3600 || o.traceMax < 1 || o.traceMax > 100000000)
        usage();
    if (!o.tracePath.empty())
        trace.reserve(size_t(o.traceMax));
    if (o.size < PayloadHeaderSize || o.size > (1 << 20) - int(HeaderSize) - MaxNameLength) {
        std::fprintf(stderr, "nativebench: --size must be in [%d, %d]\n", PayloadHeaderSize,
                     (1 << 20) - int(HeaderSize) - MaxNameLength);
        std::exit(2);
    }
}

void resolveTarget()
{
    std::memset(&dst, 0, sizeof dst);
    if (!o.unixPath.empty()) {
        tcp = false;
        sockaddr_un *sa = reinterpret_cast<sockaddr_un *>(&dst);
        sa->sun_family = AF_UNIX;
        if (o.unixPath.size() >= sizeof sa->sun_path) {
            std::fprintf(stderr, "nativebench: --unix path too long\n");
            std::exit(2);
        }
        std::memcpy(sa->sun_path, o.unixPath.c_str(), o.unixPath.size());
        dstLen = sizeof(sockaddr_un);
        return;
    }
    sockaddr_in *sa = reinterpret_cast<sockaddr_in *>(&dst);
    sa->sin_family = AF_INET;
    if (o.port < 1 || o.port > 65535) {
        std::fprintf(stderr, "nativebench: bad --port\n");
        std::exit(2);
    }
    sa->sin_port = htons(uint16_t(o.port));
    if (inet_pton(AF_INET, o.host.c_str(), &sa->sin_addr) != 1) {
        std::fprintf(stderr, "nativebench: bad --host (an IPv4 address)\n");
        std::exit(2);
    }
    if ((ntohl(sa->sin_addr.s_addr) >> 24) != 127) {
        std::fprintf(stderr, "nativebench: refusing non-loopback host %s\n", o.host.c_str());
        std::exit(2);
    }
    dstLen = sizeof(sockaddr_in);
}

bool writeTrace()
{
    std::sort(trace.begin(), trace.end(), [](const TraceRecord &a, const TraceRecord &b) { return a.sendNs < b.sendNs; });
    FILE *f = std::fopen(o.tracePath.c_str(), "w");
    if (!f) {
        std::perror(o.tracePath.c_str());
        return false;
    }
    // The window's start on CLOCK_MONOTONIC, so the trace lines up with kennel-stallprobe's records.
    std::fprintf(f, "# kennel-nativebench trace: send_us (from the start of the window) latency_us pair; %zu messages, %" PRIu64
                    " not traced (--trace-max); window_start_ns=%" PRIu64 "\n", trace.size(), traceDropped, tMeas0);
    for (const TraceRecord &r : trace)
        std::fprintf(f, "%.1f %.1f %u\n", double(r.sendNs - tMeas0) / 1e3, double(r.latencyNs) / 1e3, r.pair);
    const bool ok = std::fclose(f) == 0;
    if (!ok)
        std::perror(o.tracePath.c_str());
    return ok;
}

} // namespace

int main(int argc, char **argv)
{
    parseOptions(argc, argv);
    resolveTarget();

    rlimit rl{};
    if (!getrlimit(RLIMIT_NOFILE, &rl)) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa{};
    sa.sa_handler = onSignal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    // Connections: receivers first [0, nrecv), then senders [nrecv, nconns).
    const int nrecv = o.idle ? o.idle : o.pairs;
    const int nsend = o.idle ? 1 : o.pairs;
    const int nconns = nrecv + nsend;
    conns.resize(size_t(nconns));
    const size_t sendFrameMax = HeaderSize + MaxNameLength + size_t(o.size);
    const size_t deliverFrameMax = sendFrameMax + MaxNameLength;
    for (int i = 0; i < nconns; i++) {
        Conn &c = conns[size_t(i)];
        const bool receiving = i < nrecv;
        c.idx = receiving ? i : i - nrecv;
        c.role = o.idle ? (receiving ? Role::Idle : Role::Verifier) : (receiving ? Role::Receiver : Role::Sender);
        const char tag = o.idle ? (receiving ? 'i' : 'v') : (receiving ? 'r' : 's');
        c.nameLength = std::snprintf(c.name, sizeof c.name, "%s%c%d", o.prefix.c_str(), tag, c.idx);
        if (c.nameLength < 0 || c.nameLength > MaxNameLength || !validName(c.name, c.nameLength)) {
            std::fprintf(stderr, "nativebench: name from --prefix '%s' is not a valid name (1..64 of A-Z a-z 0-9 . _ -)\n",
                         o.prefix.c_str());
            return 2;
        }
        // Sized once: a receiver holds a socket buffer's worth of frames plus a partial one, a
        // sender one batch. Idle connections get little: there may be tens of thousands.
        if (c.role == Role::Receiver) {
            c.in.allocate(std::max<size_t>(256 * 1024, 4 * deliverFrameMax));
            c.out.allocate(4096);
        } else if (c.role == Role::Sender) {
            c.in.allocate(64 * 1024);
            c.out.allocate(std::max<size_t>(4096, size_t(o.batch) * sendFrameMax + 1024));
        } else if (c.role == Role::Idle) {
            c.in.allocate(std::max<size_t>(4096, 2 * deliverFrameMax));
            c.out.allocate(256);
        } else {
            c.in.allocate(64 * 1024);
            c.out.allocate(std::max<size_t>(4096, size_t(nrecv) * sendFrameMax));
        }
    }
    // The largest Send this run writes: the header, the longest receiver name, the payload.
    int longestName = 0;
    for (int i = 0; i < nrecv; i++)
        longestName = std::max(longestName, conns[size_t(i)].nameLength);
    const size_t largestSend = HeaderSize + size_t(longestName) + size_t(o.size);
    if (!o.idle) {
        pairs.resize(size_t(o.pairs));
        for (int i = 0; i < o.pairs; i++) {
            Pair &pp = pairs[size_t(i)];
            pp.receiver = &conns[size_t(i)];
            pp.sender = &conns[size_t(nrecv + i)];
            pp.tmpl = buildSend(pp.receiver->name, pp.receiver->nameLength, &pp.payloadOffset);
        }
    }
    intervalNs = o.rate > 0 ? uint64_t(1e9 / o.rate) : 0;
    if (o.rate > 0 && !intervalNs)
        intervalNs = 1;

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");

    const uint64_t tBegin = nowNs(), tSetupDeadline = tBegin + uint64_t(o.setupTimeout * 1e9);
    uint64_t tHard = 0, tPhase = 0, tSetupDone = 0;
    long rssBefore = o.watchPid ? procStatusKb(o.watchPid, "VmRSS") : -1, rssAfter = -1, rssHold = -1;
    int nextConn = 0, dead = 0, brokerFds = -1;
    bool setupFailed = false, frameTooLarge = false;
    CpuSnap s0, s1;
    bool haveS0 = false, haveS1 = false;
    epoll_event evs[512];
    phase = Phase::SetupReceivers;

    while (phase != Phase::Done) {
        const uint64_t now = nowNs();
        if (stopFlag) {
            if (phase == Phase::Run)
                tMeas1 = now;
            phase = Phase::Done;
            break;
        }
        if (tHard && now > tHard) {
            std::fprintf(stderr, "nativebench: hard deadline reached\n");
            break;
        }
        int timeout = 10;
        switch (phase) {
        case Phase::SetupReceivers:
            startSome(&nextConn, nrecv);
            if (nextConn == nrecv && allReady(0, nrecv, &dead)) {
                phase = Phase::Settle;
                tPhase = now + uint64_t(o.settleMs) * 1000000ull;
                if (dead)
                    std::fprintf(stderr, "nativebench: %d receivers failed to register\n", dead);
            }
            break;
        case Phase::Settle:
            if (now >= tPhase)
                phase = Phase::SetupSenders;
            break;
        case Phase::SetupSenders:
            startSome(&nextConn, nconns);
            if (nextConn == nconns && allReady(nrecv, nconns, &dead)) {
                tSetupDone = now;
                if (brokerMaxFrame && largestSend > brokerMaxFrame) {
                    std::fprintf(stderr, "nativebench: --size %d does not fit the broker's maximum frame of %u bytes\n",
                                 o.size, brokerMaxFrame);
                    frameTooLarge = setupFailed = true;
                    phase = Phase::Done;
                    break;
                }
                if (o.idle) {
                    phase = Phase::Verify;
                    // One message to every idle receiver through the verifier.
                    Conn *v = &conns[size_t(nrecv)];
                    if (v->state == State::Ready) {
                        for (int i = 0; i < nrecv; i++) {
                            size_t plo = 0;
                            const std::vector<unsigned char> t =
                                buildSend(conns[size_t(i)].name, conns[size_t(i)].nameLength, &plo);
                            unsigned char *p = v->out.reserve(t.size());
                            std::memcpy(p, t.data(), t.size());
                            const PayloadHeader h{PayloadMagic, uint32_t(i), 0, nowNs()};
                            std::memcpy(p + plo, &h, sizeof h);
                        }
                        st.sentTotal = uint64_t(nrecv);
                        connFlush(v);
                    }
                    tPhase = now + 10ull * 1000000000ull;
                    tHard = now + uint64_t((10 + o.hold + 10) * 1e9);
                } else {
                    int live = 0;
                    for (const Pair &pp : pairs)
                        live += pp.sender->state == State::Ready && pp.receiver->state == State::Ready;
                    if (!live) {
                        std::fprintf(stderr, "nativebench: no pair could be set up\n");
                        setupFailed = true;
                        phase = Phase::Done;
                        break;
                    }
                    if (live < o.pairs)
                        std::fprintf(stderr, "nativebench: only %d/%d pairs set up\n", live, o.pairs);
                    phase = Phase::Run;
                    tMeas0 = now + uint64_t(o.warmup * 1e9);
                    tMeas1 = tMeas0 + uint64_t(o.duration * 1e9);
                    tHard = tMeas1 + uint64_t((o.drain + 10) * 1e9);
                    for (Pair &pp : pairs)
                        pp.lastProgress = pp.nextDue = now;
                }
            }
            break;
        case Phase::Run: {
            if (!haveS0 && now >= tMeas0) {
                snap(&s0);
                haveS0 = true;
            }
            if (now >= tMeas1) {
                snap(&s1);
                haveS1 = true;
                phase = Phase::Drain;
                tPhase = now + uint64_t(o.drain * 1e9);
                break;
            }
            if (st.sentTotal < uint64_t(o.maxMsgs))
                for (Pair &pp : pairs)
                    pump(pp, now);
            if (intervalNs) {
                uint64_t nextDue = UINT64_MAX;
                for (const Pair &pp : pairs) {
                    const uint64_t b = std::max(pp.maxSeen, pp.base);
                    // Only senders waiting for the pacer, not for the window or the socket.
                    if (pp.sender->state == State::Ready && pp.sender->out.empty()
                        && pp.nextSeq - b < uint64_t(o.window) && pp.nextDue < nextDue)
                        nextDue = pp.nextDue;
                }
                const uint64_t now2 = nowNs();
                timeout = nextDue <= now2 ? 0 : int(std::min<uint64_t>((nextDue - now2 + 999999) / 1000000, 10));
            }
            const uint64_t now2 = nowNs();
            const uint64_t edge = !haveS0 ? tMeas0 : tMeas1;
            const int te = edge <= now2 ? 0 : int(std::min<uint64_t>((edge - now2 + 999999) / 1000000, 10));
            timeout = std::min(timeout, te);
            break;
        }
        case Phase::Drain: {
            bool pending = false;
            for (const Pair &pp : pairs) {
                const uint64_t b = std::max(pp.maxSeen, pp.base);
                if (b < pp.nextSeq && pp.receiver->state == State::Ready)
                    pending = true;
            }
            if (o.status) {
                uint64_t answered = st.statusUnknown;
                for (uint64_t n : st.statusRx)
                    answered += n;
                bool sendersLive = false;
                for (const Pair &pp : pairs)
                    sendersLive = sendersLive || pp.sender->state == State::Ready;
                if (answered < st.statusSent && sendersLive)
                    pending = true;
            }
            if (!pending || now >= tPhase)
                phase = Phase::Done;
            break;
        }
        case Phase::Verify:
            if (st.verified == uint64_t(nrecv) || now >= tPhase) {
                rssAfter = o.watchPid ? procStatusKb(o.watchPid, "VmRSS") : -1;
                brokerFds = o.watchPid ? countFds(o.watchPid) : -1;
                phase = Phase::Hold;
                tPhase = now + uint64_t(o.hold * 1e9);
            }
            break;
        case Phase::Hold:
            if (now >= tPhase) {
                rssHold = o.watchPid ? procStatusKb(o.watchPid, "VmRSS") : -1;
                phase = Phase::Done;
            }
            break;
        case Phase::Done:
            break;
        }
        if (phase == Phase::Done)
            break;
        if ((phase == Phase::SetupReceivers || phase == Phase::SetupSenders) && now > tSetupDeadline) {
            int ready = 0;
            for (const Conn &c : conns)
                ready += c.state == State::Ready;
            std::fprintf(stderr, "nativebench: setup timeout: %d/%d connections ready\n", ready, nconns);
            setupFailed = true;
            break;
        }
        const int n = epoll_wait(ep, evs, 512, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int k = 0; k < n; k++) {
            Conn *c = static_cast<Conn *>(evs[k].data.ptr);
            if (c->state == State::Dead)
                continue;
            if (c->state == State::Connecting) {
                if (evs[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                    onConnected(c);
                continue;
            }
            if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                connRead(c);
            if (c->state != State::Dead && (evs[k].events & EPOLLOUT))
                connFlush(c);
        }
    }
    const uint64_t tEnd = nowNs();

    // Senders first, then receivers, as routebench does: nothing is written to a peer already gone.
    for (int pass = 0; pass < 2; pass++) {
        for (Conn &c : conns) {
            const bool isSender = c.role == Role::Sender || c.role == Role::Verifier;
            if (c.fd < 0 || isSender != (pass == 0))
                continue;
            if (c.state == State::Ready) {
                unsigned char bye[HeaderSize];
                writeHeader(bye, Bye, 0, 0, 0, 0, 0);
                (void)!::send(c.fd, bye, sizeof bye, MSG_NOSIGNAL | MSG_DONTWAIT);
            }
            ::close(c.fd);
            c.fd = -1;
        }
        if (pass == 0)
            usleep(200000);
    }

    const char *transport = tcp ? "tcp" : "unix";
    if (o.idle) {
        int ready = 0;
        for (int i = 0; i < nrecv; i++)
            ready += conns[size_t(i)].state == State::Ready;
        const long hwm = o.watchPid ? procStatusKb(o.watchPid, "VmHWM") : -1;
        const double per = (rssAfter > 0 && rssBefore > 0) ? double(rssAfter - rssBefore) * 1024.0 / nrecv : -1;
        std::printf("mode=idle proto=native transport=%s idle=%d connected=%d verified=%" PRIu64 " conn_errors=%" PRIu64
                    " disconnects=%" PRIu64 " errors_rx=%" PRIu64 " setup_s=%.2f broker_rss_before_kb=%ld"
                    " broker_rss_after_kb=%ld broker_rss_hold_kb=%ld broker_hwm_kb=%ld broker_fds=%d"
                    " rss_per_conn_bytes=%.0f status=%s\n",
                    transport, nrecv, ready, st.verified, st.connErrors, st.disconnects, st.errorsRx,
                    tSetupDone ? double(tSetupDone - tBegin) / 1e9 : -1.0, rssBefore, rssAfter, rssHold, hwm,
                    brokerFds, per,
                    setupFailed ? "setup_failed" : (st.verified == uint64_t(nrecv) ? "ok" : "incomplete"));
        return setupFailed ? 1 : 0;
    }
    const double dur = (tMeas1 != UINT64_MAX && tMeas1 > tMeas0) ? double(tMeas1 - tMeas0) / 1e9 : 0;
    const double mps = dur > 0 ? double(st.recvInWin) / dur : 0;
    const size_t wire = pairs.empty() ? 0 : pairs[0].tmpl.size();
    // CPU, all in % of ONE core (max = ncpu * 100).
    double lgCpu = -1, brCpu = -1, busy = -1, softirq = -1, unattributed = -1, others = -1, topPct = 0;
    char topName[64] = "none";
    if (haveS0 && haveS1) {
        const double wall = double(s1.t - s0.t) / 1e9, hz = double(sysconf(_SC_CLK_TCK));
        lgCpu = 100.0 * (s1.selfS - s0.selfS) / wall;
        if (s0.brokerS >= 0 && s1.brokerS >= 0)
            brCpu = 100.0 * (s1.brokerS - s0.brokerS) / wall;
        double d[8];
        for (int i = 0; i < 8; i++)
            d[i] = double(s1.cpu[i] - s0.cpu[i]) / hz / wall * 100.0;
        busy = d[0] + d[1] + d[2] + d[5] + d[6];
        softirq = d[5] + d[6]; // irq + softirq: mostly already inside the task times
        unattributed = std::max(0.0, busy - lgCpu - (brCpu > 0 ? brCpu : 0));
        topPct = topOther(s0, s1, topName, sizeof topName, &others);
    }
    const long hwm = o.watchPid ? procStatusKb(o.watchPid, "VmHWM") : -1;
    const long rss = o.watchPid ? procStatusKb(o.watchPid, "VmRSS") : -1;
    const uint64_t lost = st.sentWin > st.delivWin ? st.sentWin - st.delivWin : 0;
    uint64_t answered = st.statusUnknown;
    for (uint64_t n : st.statusRx)
        answered += n;
    char statusPart[512] = "";
    if (o.status) {
        int w = std::snprintf(statusPart, sizeof statusPart, " ds_requested=%" PRIu64 " ds_missing=%" PRIu64,
                              st.statusSent, st.statusSent > answered ? st.statusSent - answered : 0);
        for (int i = 0; i < StatusKinds && w > 0 && size_t(w) < sizeof statusPart; i++)
            w += std::snprintf(statusPart + w, sizeof statusPart - size_t(w), " ds_%s=%" PRIu64, statusKeys[i],
                               st.statusRx[i]);
        if (w > 0 && size_t(w) < sizeof statusPart)
            std::snprintf(statusPart + w, sizeof statusPart - size_t(w), " ds_unknown=%" PRIu64, st.statusUnknown);
    }
    const bool statusTrouble = o.status && (answered < st.statusSent || st.statusRx[0] != answered);
    const char *verdict = setupFailed ? (frameTooLarge ? "frame_too_large" : "setup_failed")
                          : (st.disconnects || st.connErrors || st.errorsRx || statusTrouble) ? "errors"
                                                                                               : "ok";
    std::printf("proto=native transport=%s pairs=%d size=%d window=%d batch=%d rate=%g warmup_s=%g duration_s=%.3f"
                " sent=%" PRIu64 " delivered=%" PRIu64 " lost=%" PRIu64 " ooo=%" PRIu64 " bad=%" PRIu64
                " misrouted=%" PRIu64 " msgs_per_s=%.0f bytes_per_s=%.0f wire_bytes_per_s=%.0f p50_us=%.1f"
                " p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f stalls=%" PRIu64 " short_writes=%" PRIu64
                " disconnects=%" PRIu64 " conn_errors=%" PRIu64 " sched_skipped=%" PRIu64 " errors_rx=%" PRIu64
                " want_status=%d%s lg_cpu_pct=%.1f broker_cpu_pct=%.1f softirq_pct=%.1f machine_busy_pct=%.1f"
                " unattributed_pct=%.1f others_pct=%.1f top_other=%s:%.1f ncpu=%ld broker_hwm_kb=%ld"
                " broker_rss_kb=%ld total_s=%.2f status=%s\n",
                transport, o.pairs, o.size, o.window, o.batch, o.rate, o.warmup, dur, st.sentWin, st.delivWin, lost,
                st.ooo, st.bad, st.misrouted, mps, mps * o.size, mps * double(wire), histPercentile(0.50) / 1e3,
                histPercentile(0.90) / 1e3, histPercentile(0.99) / 1e3, histPercentile(0.999) / 1e3,
                double(histMax) / 1e3, st.stalls, st.shortWrites, st.disconnects, st.connErrors, st.schedSkipped,
                st.errorsRx, o.status ? 1 : 0, statusPart, lgCpu, brCpu, softirq, busy, unattributed, others, topName,
                topPct, sysconf(_SC_NPROCESSORS_ONLN), hwm, rss, double(tEnd - tBegin) / 1e9, verdict);
    if (!o.tracePath.empty() && !writeTrace())
        return 1;
    return setupFailed ? 1 : 0;
}
