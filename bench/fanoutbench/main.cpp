// kennel-fanoutbench: fan-out throughput of a publish/subscribe broker (issue 14, docs/BENCHMARKS.md
// "Fan-out"): P publishers and S subscribers on one topic, every publication delivered to every
// subscriber, so each message published is S messages delivered.
//
// It speaks Kennel's native topic frames (PROTOCOL §5.5: Hello with the `topics` feature,
// Subscribe/TopicAck, Publish, Publication) to kennel-broker and to the bare fan-out forwarder
// kennel-ideal-fanout, and MQTT 3.1.1 at QoS 0 to mosquitto, so that the three are driven by one
// generator and differ only by the broker.
//
// Method (routebench's, adapted to fan-out): every payload starts with {publisher, sequence,
// CLOCK_MONOTONIC send time}; a publisher has at most --window publications that have not yet
// reached every subscriber (so the figure is sustained delivery, not a broker's buffering), and
// writes at most --batch publications per send(). Measurement window [warmup, warmup + duration)
// after every client is set up:
//   msgs_per_s  publications received by subscribers in the window, divided by the duration
//               (delivered messages: a publication to 16 subscribers counts 16)
//   pub_per_s   publications that reached every subscriber in the window, per second
//   p50/p99_us  one-way latency (receive - send time) of the deliveries received in the window
//   lost        deliveries never seen: a window slot without progress for --stall-ms is given up
//   ooo         deliveries older than one already seen from the same publisher by that subscriber
// With --watch-pid the broker's CPU over the window and its peak RSS (VmHWM) are reported, and
// always the generator's own CPU (gen_cpu_pct: near 100 says the generator, not the broker, was
// the limit). One
// `key=value` line on stdout ending in status=ok (or status=...: why), the runner's format.
//
// Set-up is blocking (connect, handshake and subscribe one connection after another, each within
// --setup-timeout), the run non-blocking on one epoll; buffers are sized at set-up, no allocation
// per message. Every loop is bounded by time. Plain C++17, no Qt and no Kennel library (as
// kennel-nativebench): the generator must cost per message only what the frame requires.
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
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
#include <string>
#include <vector>

#include "../common/nativewire.h"
#include "../common/procstats.h"

namespace {

using namespace ProcStats;

using namespace NativeWire;
enum TopicFrame : uint8_t { Subscribe = 0x30, TopicAck = 0x32, Publish = 0x33, Publication = 0x35 }; // §5.5
constexpr uint32_t FeatureTopics = 0x00000008;                                                       // §4.1.1
constexpr size_t PayloadHeader = 20; // u32 publisher, u64 sequence, u64 send time (ns)

struct Options
{
    bool mqtt = false;
    std::string host = "127.0.0.1";
    int port = 18600;
    int pubs = 1, subs = 16, size = 500, window = 64, batch = 16, stallMs = 1000, watchPid = 0;
    double duration = 5, warmup = 1, drain = 2, setupTimeout = 30;
    std::string topic = "bench/fanout", prefix = "fb";
} o;

uint64_t nowNs()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// ---- latency histogram: per power of two, 16 linear steps (≤ 3 % relative error) ---------------
uint64_t hist[64][32];
uint64_t histCount;
void histAdd(uint64_t ns)
{
    const int e = ns < 32 ? 0 : 63 - __builtin_clzll(ns) - 4;
    const int sub = e == 0 ? int(ns & 31) : int((ns >> e) & 31);
    hist[e][sub]++;
    histCount++;
}
double histPercentileUs(double q)
{
    if (!histCount)
        return -1;
    const uint64_t want = uint64_t(q * double(histCount - 1)) + 1;
    uint64_t seen = 0;
    for (int e = 0; e < 64; e++)
        for (int s = 0; s < 32; s++) {
            seen += hist[e][s];
            if (seen >= want)
                return double(e == 0 ? uint64_t(s) : (uint64_t(s) << e) + (1ull << (e - 1))) / 1000.0;
        }
    return -1;
}

// ---- /proc sampling ---------------------------------------------------------------------------
double selfCpuSeconds()
{
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

[[noreturn]] void fail(const char *what)
{
    std::printf("proto=%s pubs=%d subs=%d size=%d status=%s\n", o.mqtt ? "mqtt" : "native", o.pubs, o.subs, o.size,
                what);
    std::fflush(stdout);
    std::exit(1);
}

// ---- connections --------------------------------------------------------------------------------
struct Conn
{
    int fd = -1;
    int index = 0;       // publisher or subscriber number
    bool publisher = false;
    std::vector<unsigned char> in; // subscriber: received bytes, parsed in place
    size_t inLen = 0;
    std::vector<unsigned char> out; // publisher: a batch not yet fully written
    size_t outOff = 0, outLen = 0;
    bool epout = false;
};

std::vector<Conn> conns;
int ep = -1;

int connectTo()
{
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(o.port));
    if (inet_pton(AF_INET, o.host.c_str(), &a.sin_addr) != 1)
        fail("bad_host");
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{};
    tv.tv_sec = time_t(o.setupTimeout);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) < 0)
        fail("connect_failed");
    return fd;
}

void writeAllBlocking(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            fail("setup_write_failed");
        }
        p += w;
        n -= size_t(w);
    }
}

void readExactBlocking(int fd, unsigned char *p, size_t n)
{
    while (n) {
        const ssize_t r = ::recv(fd, p, n, 0);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            fail("setup_read_failed");
        }
        p += r;
        n -= size_t(r);
    }
}

// One whole native frame (blocking): its type and payload (source and target skipped).
uint8_t readNativeFrame(int fd, std::vector<unsigned char> &payload)
{
    unsigned char h[HeaderSize];
    readExactBlocking(fd, h, HeaderSize);
    if (get16(h) != Magic)
        fail("bad_magic");
    const uint32_t body = get32(h + 4);
    if (body > (1u << 20) || uint32_t(h[12]) + h[13] > body)
        fail("bad_frame");
    std::vector<unsigned char> b(body);
    readExactBlocking(fd, b.data(), body);
    payload.assign(b.begin() + h[12] + h[13], b.end());
    return h[3];
}

void nativeHandshake(int fd, const std::string &name)
{
    std::vector<unsigned char> f(HeaderSize + name.size() + 12);
    writeHeader(f.data(), Hello, uint32_t(name.size() + 12), 1, uint8_t(name.size()), 0);
    unsigned char *p = f.data() + HeaderSize;
    std::memcpy(p, name.data(), name.size());
    p += name.size();
    p[0] = 0; // role: client
    p[1] = 1; // HasFeatures
    put16(p + 2, 1);
    put32(p + 4, uint32_t(getpid()));
    put32(p + 8, FeatureTopics);
    writeAllBlocking(fd, f.data(), f.size());
    std::vector<unsigned char> payload;
    const uint8_t type = readNativeFrame(fd, payload);
    if (type != Welcome)
        fail("hello_refused");
}

void nativeSubscribe(int fd)
{
    std::vector<unsigned char> f(HeaderSize + 2 + o.topic.size());
    writeHeader(f.data(), Subscribe, uint32_t(2 + o.topic.size()), 2, 0, 0);
    put16(f.data() + HeaderSize, uint16_t(o.topic.size()));
    std::memcpy(f.data() + HeaderSize + 2, o.topic.data(), o.topic.size());
    writeAllBlocking(fd, f.data(), f.size());
    std::vector<unsigned char> payload;
    for (int i = 0; i < 16; i++) { // a retained value may precede nothing: the ack comes first
        const uint8_t type = readNativeFrame(fd, payload);
        if (type == TopicAck) {
            if (payload.size() < 2 || get16(payload.data()) != 0)
                fail("subscribe_refused");
            return;
        }
        if (type == Error)
            fail("subscribe_error");
    }
    fail("no_topic_ack");
}

size_t mqttRemaining(unsigned char *p, size_t n) // writes the variable length; returns its bytes
{
    size_t k = 0;
    do {
        unsigned char b = n % 128;
        n /= 128;
        if (n)
            b |= 0x80;
        p[k++] = b;
    } while (n);
    return k;
}

void mqttHandshake(int fd, const std::string &name)
{
    std::vector<unsigned char> body;
    const unsigned char fixed[] = {0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0x02, 0x58}; // clean session, keepalive 600 s
    body.insert(body.end(), fixed, fixed + sizeof fixed);
    body.push_back(uint8_t(name.size() >> 8));
    body.push_back(uint8_t(name.size()));
    body.insert(body.end(), name.begin(), name.end());
    unsigned char f[512];
    f[0] = 0x10;
    size_t k = 1 + mqttRemaining(f + 1, body.size());
    std::memcpy(f + k, body.data(), body.size());
    writeAllBlocking(fd, f, k + body.size());
    unsigned char ack[4];
    readExactBlocking(fd, ack, 4);
    if (ack[0] != 0x20 || ack[3] != 0)
        fail("connect_refused");
}

void mqttSubscribe(int fd)
{
    unsigned char f[512];
    const size_t rem = 2 + 2 + o.topic.size() + 1;
    f[0] = 0x82;
    size_t k = 1 + mqttRemaining(f + 1, rem);
    f[k++] = 0;
    f[k++] = 1; // packet id
    f[k++] = uint8_t(o.topic.size() >> 8);
    f[k++] = uint8_t(o.topic.size());
    std::memcpy(f + k, o.topic.data(), o.topic.size());
    k += o.topic.size();
    f[k++] = 0; // QoS 0
    writeAllBlocking(fd, f, k);
    unsigned char ack[5];
    readExactBlocking(fd, ack, 5);
    if (ack[0] != 0x90 || ack[4] > 2)
        fail("subscribe_refused");
}

// ---- the run ------------------------------------------------------------------------------------
struct PubState
{
    uint64_t sent = 0, done = 0; // sequences [done, sent) are in flight
    uint64_t lastProgress = 0;
    std::vector<uint16_t> got; // per window slot: subscribers that received it
};
std::vector<PubState> pubState;
std::vector<uint64_t> lastSeen; // [sub * pubs + pub]: highest sequence seen + 1
std::vector<unsigned char> frameTemplate;
size_t frameSize, payloadOffset; // a whole publish frame; where its payload starts
uint64_t tMeas0, tMeas1;
uint64_t measReceived, measCompleted, lost, ooo, late, totalReceived;
bool measuring = false;

void buildTemplate()
{
    const size_t msg = size_t(o.size);
    if (!o.mqtt) {
        frameSize = HeaderSize + 2 + o.topic.size() + msg;
        frameTemplate.assign(frameSize, 0);
        writeHeader(frameTemplate.data(), Publish, uint32_t(frameSize - HeaderSize), 0, 0, 0);
        put16(frameTemplate.data() + HeaderSize, uint16_t(o.topic.size()));
        std::memcpy(frameTemplate.data() + HeaderSize + 2, o.topic.data(), o.topic.size());
        payloadOffset = HeaderSize + 2 + o.topic.size();
    } else {
        unsigned char rl[4];
        const size_t rem = 2 + o.topic.size() + msg;
        const size_t k = mqttRemaining(rl, rem);
        frameSize = 1 + k + rem;
        frameTemplate.assign(frameSize, 0);
        frameTemplate[0] = 0x30;
        std::memcpy(frameTemplate.data() + 1, rl, k);
        frameTemplate[1 + k] = uint8_t(o.topic.size() >> 8);
        frameTemplate[2 + k] = uint8_t(o.topic.size());
        std::memcpy(frameTemplate.data() + 3 + k, o.topic.data(), o.topic.size());
        payloadOffset = 3 + k + o.topic.size();
    }
    for (size_t i = payloadOffset + PayloadHeader; i < frameSize; i++)
        frameTemplate[i] = uint8_t('a' + i % 26);
}

void setEpoll(Conn &c, uint32_t events)
{
    epoll_event e{};
    e.events = events;
    e.data.ptr = &c;
    epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &e);
}

// Writes what a publisher may: the rest of its last batch, then new publications within the window.
void pump(Conn &c, uint64_t now, bool sending)
{
    PubState &ps = pubState[size_t(c.index)];
    for (;;) {
        if (c.outOff == c.outLen && sending) {
            c.outOff = c.outLen = 0;
            int n = 0;
            while (n < o.batch && ps.sent - ps.done < uint64_t(o.window)) {
                unsigned char *f = c.out.data() + c.outLen;
                std::memcpy(f, frameTemplate.data(), frameSize);
                if (!o.mqtt)
                    put32(f + 8, uint32_t(ps.sent + 1)); // messageId
                unsigned char *p = f + payloadOffset;
                std::memcpy(p, &c.index, 4);
                std::memcpy(p + 4, &ps.sent, 8);
                std::memcpy(p + 12, &now, 8);
                ps.got[ps.sent % uint64_t(o.window)] = 0;
                ps.sent++;
                c.outLen += frameSize;
                n++;
            }
        }
        if (c.outOff == c.outLen)
            break;
        const ssize_t w = ::send(c.fd, c.out.data() + c.outOff, c.outLen - c.outOff, MSG_NOSIGNAL);
        if (w > 0) {
            c.outOff += size_t(w);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c.epout) {
                setEpoll(c, EPOLLIN | EPOLLOUT);
                c.epout = true;
            }
            return;
        }
        fail("publisher_write_failed");
    }
    if (c.epout) {
        setEpoll(c, EPOLLIN);
        c.epout = false;
    }
}

void advance(PubState &ps, uint64_t now)
{
    const uint64_t w = uint64_t(o.window);
    while (ps.done < ps.sent && ps.got[ps.done % w] >= uint16_t(o.subs)) {
        ps.got[ps.done % w] = 0;
        ps.done++;
        ps.lastProgress = now;
        if (measuring)
            measCompleted++;
    }
}

void received(int sub, const unsigned char *payload, size_t length, uint64_t now)
{
    if (length < PayloadHeader)
        fail("short_publication");
    uint32_t pub;
    uint64_t seq, sentAt;
    std::memcpy(&pub, payload, 4);
    std::memcpy(&seq, payload + 4, 8);
    std::memcpy(&sentAt, payload + 12, 8);
    if (pub >= uint32_t(o.pubs))
        fail("bad_publisher_index");
    totalReceived++;
    uint64_t &last = lastSeen[size_t(sub) * size_t(o.pubs) + pub];
    if (seq < last)
        ooo++;
    else
        last = seq + 1;
    if (now >= tMeas0 && now < tMeas1) {
        measReceived++;
        histAdd(now - sentAt);
    }
    PubState &ps = pubState[pub];
    if (seq < ps.done || seq >= ps.sent) {
        late++; // given up as lost already
        return;
    }
    ps.got[seq % uint64_t(o.window)]++;
    advance(ps, now);
}

// Parses whole frames from a subscriber's buffer; returns the bytes consumed.
size_t parse(Conn &c, uint64_t now)
{
    size_t pos = 0;
    const unsigned char *b = c.in.data();
    for (;;) {
        const size_t have = c.inLen - pos;
        if (!o.mqtt) {
            if (have < HeaderSize)
                break;
            const unsigned char *h = b + pos;
            const uint32_t body = get32(h + 4);
            if (get16(h) != Magic || HeaderSize + size_t(body) > c.in.size())
                fail("bad_frame_from_broker");
            if (have < HeaderSize + body)
                break;
            if (h[3] == Publication) {
                const unsigned char *payload = h + HeaderSize + h[12] + h[13];
                const size_t plen = body - h[12] - h[13];
                if (plen < 2 || size_t(get16(payload)) + 2 > plen)
                    fail("malformed_publication");
                const size_t tl = get16(payload);
                received(c.index, payload + 2 + tl, plen - 2 - tl, now);
            } else if (h[3] == Error) {
                fail("error_from_broker");
            }
            pos += HeaderSize + body;
        } else {
            if (have < 2)
                break;
            const unsigned char *h = b + pos;
            size_t rem = 0, k = 1;
            int shift = 0;
            bool complete = false;
            while (k < have && k <= 4) {
                rem |= size_t(h[k] & 0x7f) << shift;
                shift += 7;
                if (!(h[k++] & 0x80)) {
                    complete = true;
                    break;
                }
            }
            if (!complete) {
                if (k > 4)
                    fail("bad_mqtt_length");
                break;
            }
            if (k + rem > c.in.size())
                fail("mqtt_packet_too_large");
            if (have < k + rem)
                break;
            if ((h[0] & 0xf0) == 0x30) {
                const unsigned char *v = h + k;
                const size_t tl = size_t(v[0]) << 8 | v[1];
                const size_t skip = 2 + tl + ((h[0] & 0x06) ? 2 : 0);
                if (skip > rem)
                    fail("malformed_publish");
                received(c.index, v + skip, rem - skip, now);
            }
            pos += k + rem;
        }
    }
    return pos;
}

void onReadable(Conn &c, uint64_t now)
{
    for (int round = 0; round < 4; round++) {
        const ssize_t r = ::recv(c.fd, c.in.data() + c.inLen, c.in.size() - c.inLen, 0);
        if (r == 0)
            fail("broker_closed");
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            fail("read_failed");
        }
        c.inLen += size_t(r);
        const size_t used = parse(c, now);
        std::memmove(c.in.data(), c.in.data() + used, c.inLen - used);
        c.inLen -= used;
    }
}

// A window slot without progress for --stall-ms: its missing deliveries are lost (QoS 0 may drop).
void giveUpStalled(uint64_t now)
{
    const uint64_t stall = uint64_t(o.stallMs) * 1000000ull;
    for (PubState &ps : pubState) {
        if (ps.done == ps.sent || now - ps.lastProgress < stall)
            continue;
        const uint64_t w = uint64_t(o.window);
        while (ps.done < ps.sent) {
            lost += uint64_t(o.subs) - ps.got[ps.done % w];
            ps.got[ps.done % w] = 0;
            ps.done++;
        }
        ps.lastProgress = now;
    }
}

void onSignal(int) {}

[[noreturn]] void usage()
{
    std::fprintf(stderr,
                 "usage: kennel-fanoutbench [options]\n"
                 "  --proto native|mqtt   Kennel topic frames (kennel-broker, kennel-ideal-fanout) or MQTT 3.1.1 QoS 0\n"
                 "  --host A --port P     broker address, loopback (default 127.0.0.1:18600)\n"
                 "  --pubs N --subs N     publishers and subscribers on one topic (default 1 and 16)\n"
                 "  --size B              message bytes, >= 20 (default 500)\n"
                 "  --window W            publications per publisher not yet at every subscriber (default 64)\n"
                 "  --batch B             publications per send() (default 16)\n"
                 "  --duration S --warmup S --drain S   measured, unmeasured before, max wait after (5, 1, 2)\n"
                 "  --stall-ms MS         a window slot without progress this long is lost (default 1000)\n"
                 "  --setup-timeout S     per set-up step (default 30)\n"
                 "  --topic T --prefix P  topic (default bench/fanout), client name prefix (default fb)\n"
                 "  --watch-pid PID       report the broker's CPU and peak RSS\n");
    std::exit(2);
}

} // namespace

int main(int argc, char **argv)
{
    static const option lo[] = {{"proto", 1, nullptr, 'P'},    {"host", 1, nullptr, 'h'},
                                {"port", 1, nullptr, 'p'},     {"pubs", 1, nullptr, 'n'},
                                {"subs", 1, nullptr, 's'},     {"size", 1, nullptr, 'z'},
                                {"window", 1, nullptr, 'w'},   {"batch", 1, nullptr, 'b'},
                                {"duration", 1, nullptr, 'd'}, {"warmup", 1, nullptr, 'u'},
                                {"drain", 1, nullptr, 'D'},    {"stall-ms", 1, nullptr, 'S'},
                                {"setup-timeout", 1, nullptr, 'T'}, {"topic", 1, nullptr, 't'},
                                {"prefix", 1, nullptr, 'x'},   {"watch-pid", 1, nullptr, 'W'},
                                {nullptr, 0, nullptr, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, nullptr)) != -1) {
        switch (ch) {
        case 'P':
            if (!std::strcmp(optarg, "mqtt"))
                o.mqtt = true;
            else if (std::strcmp(optarg, "native"))
                usage();
            break;
        case 'h': o.host = optarg; break;
        case 'p': o.port = std::atoi(optarg); break;
        case 'n': o.pubs = std::atoi(optarg); break;
        case 's': o.subs = std::atoi(optarg); break;
        case 'z': o.size = std::atoi(optarg); break;
        case 'w': o.window = std::atoi(optarg); break;
        case 'b': o.batch = std::atoi(optarg); break;
        case 'd': o.duration = std::atof(optarg); break;
        case 'u': o.warmup = std::atof(optarg); break;
        case 'D': o.drain = std::atof(optarg); break;
        case 'S': o.stallMs = std::atoi(optarg); break;
        case 'T': o.setupTimeout = std::atof(optarg); break;
        case 't': o.topic = optarg; break;
        case 'x': o.prefix = optarg; break;
        case 'W': o.watchPid = std::atoi(optarg); break;
        default: usage();
        }
    }
    if (optind < argc || o.pubs < 1 || o.pubs > 1024 || o.subs < 1 || o.subs > 1024 || o.size < int(PayloadHeader)
        || o.size > 60000 || o.window < 1 || o.window > 65536 || o.batch < 1 || o.batch > 1024 || o.duration <= 0
        || o.duration > 600 || o.warmup < 0 || o.warmup > 60 || o.drain < 0 || o.drain > 60 || o.stallMs < 1
        || o.setupTimeout < 1 || o.topic.empty() || o.topic.size() > 200 || o.prefix.size() > 40)
        usage();
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa{};
    sa.sa_handler = onSignal; // SIGINT ends the run early (epoll_wait returns EINTR), still reporting
    sigaction(SIGINT, &sa, nullptr);

    buildTemplate();
    conns.resize(size_t(o.subs + o.pubs));
    const uint64_t setupStart = nowNs();
    for (int i = 0; i < o.subs + o.pubs; i++) {
        Conn &c = conns[size_t(i)];
        c.publisher = i >= o.subs;
        c.index = c.publisher ? i - o.subs : i;
        const std::string name = o.prefix + (c.publisher ? "p" : "s") + std::to_string(c.index);
        c.fd = connectTo();
        if (o.mqtt)
            mqttHandshake(c.fd, name);
        else
            nativeHandshake(c.fd, name);
        if (!c.publisher) {
            if (o.mqtt)
                mqttSubscribe(c.fd);
            else
                nativeSubscribe(c.fd);
            c.in.assign(256 * 1024 + frameSize * 2, 0);
        } else {
            c.out.assign(frameSize * size_t(o.batch), 0);
        }
        if (double(nowNs() - setupStart) / 1e9 > o.setupTimeout)
            fail("setup_timeout");
    }
    pubState.resize(size_t(o.pubs));
    for (PubState &ps : pubState)
        ps.got.assign(size_t(o.window), 0);
    lastSeen.assign(size_t(o.subs) * size_t(o.pubs), 0);

    ep = epoll_create1(EPOLL_CLOEXEC);
    for (Conn &c : conns) {
        const int fl = 1;
        ioctl(c.fd, FIONBIO, &fl);
        epoll_event e{};
        e.events = EPOLLIN;
        e.data.ptr = &c;
        epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &e);
    }

    const uint64_t t0 = nowNs();
    tMeas0 = t0 + uint64_t(o.warmup * 1e9);
    tMeas1 = tMeas0 + uint64_t(o.duration * 1e9);
    const uint64_t tEnd = tMeas1 + uint64_t(o.drain * 1e9);
    double cpu0 = -1, cpu1 = -1, self0 = 0, self1 = 0;
    bool started = false, ended = false;
    for (PubState &ps : pubState)
        ps.lastProgress = t0;
    for (Conn &c : conns)
        if (c.publisher)
            pump(c, t0, true);
    epoll_event evs[256];
    uint64_t now = t0;
    for (;;) {
        now = nowNs();
        if (!started && now >= tMeas0) {
            started = measuring = true;
            cpu0 = o.watchPid ? procCpuSeconds(o.watchPid) : -1;
            self0 = selfCpuSeconds();
        }
        if (started && !ended && now >= tMeas1) {
            ended = true;
            measuring = false;
            cpu1 = o.watchPid ? procCpuSeconds(o.watchPid) : -1;
            self1 = selfCpuSeconds();
        }
        bool inFlight = false;
        for (const PubState &ps : pubState)
            inFlight = inFlight || ps.done < ps.sent;
        if (now >= tEnd || (ended && !inFlight))
            break;
        const int n = epoll_wait(ep, evs, 256, 50);
        if (n < 0 && errno == EINTR)
            break;
        now = nowNs();
        const bool sending = now < tMeas1;
        for (int i = 0; i < n; i++) {
            Conn &c = *static_cast<Conn *>(evs[i].data.ptr);
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                if (c.publisher) {
                    // Nothing is expected on a publisher's connection (no status asked for):
                    // read and ignore, so that a broker's Ping or Error cannot block it.
                    unsigned char sink[4096];
                    const ssize_t r = ::recv(c.fd, sink, sizeof sink, 0);
                    if (r == 0)
                        fail("broker_closed");
                } else {
                    onReadable(c, now);
                }
            }
        }
        for (Conn &c : conns)
            if (c.publisher)
                pump(c, now, sending);
        giveUpStalled(now);
    }
    // Whatever is still in flight after the drain is lost.
    for (PubState &ps : pubState)
        while (ps.done < ps.sent) {
            lost += uint64_t(o.subs) - ps.got[ps.done % uint64_t(o.window)];
            ps.done++;
        }
    if (!ended)
        fail("interrupted");
    const double cpuPct = cpu0 >= 0 && cpu1 >= 0 ? 100.0 * (cpu1 - cpu0) / o.duration : -1;
    const long hwm = o.watchPid ? procStatusKb(o.watchPid, "VmHWM") : -1;
    std::printf("proto=%s pubs=%d subs=%d size=%d window=%d batch=%d duration=%.2f msgs_per_s=%.0f pub_per_s=%.0f "
                "p50_us=%.1f p99_us=%.1f received=%" PRIu64 " lost=%" PRIu64 " ooo=%" PRIu64 " late=%" PRIu64
                " broker_cpu_pct=%.1f broker_hwm_kb=%ld gen_cpu_pct=%.1f status=ok\n",
                o.mqtt ? "mqtt" : "native", o.pubs, o.subs, o.size, o.window, o.batch, o.duration,
                double(measReceived) / o.duration, double(measCompleted) / o.duration, histPercentileUs(0.50),
                histPercentileUs(0.99), totalReceived, lost, ooo, late, cpuPct, hwm, 100.0 * (self1 - self0) / o.duration);
    for (Conn &c : conns)
        ::close(c.fd);
    return 0;
}
