// kennel-ideal-fanout: the bare fan-out forwarder, the ceiling for kennel-broker's topics (PROTOCOL
// §5.5) in the fan-out benchmark (docs/BENCHMARKS.md, bench/fanoutbench).
//
// Why it exists: ideal_fwd and kennel-ideal-fanout answer "what one core can do" for a message to
// one name; a publication to 16 subscribers is a different job (one read, sixteen writes), so
// kennel-broker's fan-out figures need their own control, driven by the same generator
// (kennel-fanoutbench) over the same native frames.
//
// It is kennel-ideal-native's loop (bench/common/bareforwarder.h, shared with bench/idealnative: one thread, epoll level-triggered,
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
// main()), so that the ceiling does not pay for page faults.
// Like ideal_fwd it has no limits, no watchdog, no monitors, no validation. It is not a product.
//
// usage: kennel-ideal-fanout [--host 127.0.0.1] [--port 18000] [--max-out BYTES] [--max-frame BYTES] [--quiet]
// SIGINT/SIGTERM: print counters to stderr and exit 0.
#include "../common/bareforwarder.h"

#include <string>
#include <vector>

namespace BareForwarder {

// ---- what only a broker answers with (bench/common/nativewire.h has the rest) -------------------
enum TopicFrame : uint8_t { Subscribe = 0x30, TopicAck = 0x32, Publish = 0x33, Publication = 0x35 }; // §5.5
constexpr char BrokerVersion[] = "ideal-fanout"; // Welcome's informational text (§4.1)

unsigned long long nPub, nFwd, nNoSub, nSub;

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

void connGone(Conn *c)
{
    unsubscribeAll(c);
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
    default:
        answerSessionFrame(c, f, BrokerVersion); // Hello, Ping, Bye; anything else counted
    }
}

void printCounters()
{
    std::fprintf(stderr,
                 "kennel-ideal-fanout: frames_in=%llu publishes=%llu publications=%llu no_subscriber=%llu dropped=%llu "
                 "registrations=%llu subscribes=%llu unregistered=%llu pings=%llu byes=%llu other=%llu bad_frames=%llu "
                 "accepted=%llu closed=%llu max_conns=%ld writes=%llu\n",
                 nIn, nPub, nFwd, nNoSub, nDrop, nReg, nSub, nUnregistered, nPing, nBye, nOther, nBadFrame, nAccept,
                 nClose, maxConns, nWrites);
}

} // namespace BareForwarder

int main(int argc, char **argv)
{
    // A subscriber takes one batch from every publisher at once, ~540 KB at 16 x 16 with 64 in
    // flight; freeing that after every batch made glibc hand back fresh pages each time, and the
    // kernel's page faults cost more than the forwarding (perf). A ceiling must not pay that.
    BareForwarder::keepDrainedBuffers = true;
    return BareForwarder::run(argc, argv, "kennel-ideal-fanout");
}
