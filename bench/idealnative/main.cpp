// kennel-ideal-native: the shared benchmark tools' ideal_fwd.c loop, speaking Kennel's NATIVE protocol.
//
// Why it exists: the benchmarks compare Kennel with ideal_fwd ("what one core can do"), but ideal_fwd
// speaks only the 552-byte legacy frames, driven by routebench, while Kennel's native path is
// driven by kennel-nativebench. A native latency or throughput figure compared with ideal_fwd's
// therefore mixes two generators and two protocols. This program is the missing control: the same
// minimal forwarder, driven by the same generator as kennel-broker's native runs, so that
// "kennel-broker vs kennel-ideal-native" differs only by the broker.
//
// The loop is bench/common/bareforwarder.h (ideal_fwd.c's, shared with kennel-ideal-fanout); this
// file is its frame handling. How the loop maps to ideal_fwd.c:
//   - one thread, epoll level-triggered, non-blocking sockets, accept4 up to 256 per wakeup,
//     TCP_NODELAY and SO_REUSEADDR, listen backlog 4096, RLIMIT_NOFILE raised, SIGPIPE ignored;
//   - one shared read scratch buffer, reads of 64 KiB, at most 4 reads per event, a short read
//     ends the round; only an incomplete trailing frame is carried per connection;
//   - name -> connection hash map (65536 chains), last registration wins;
//   - per-connection output buffers: frames produced while handling one epoll batch are appended
//     and written once per target at the end of the batch; EPOLLOUT only while output is pending;
//     a drained buffer is freed; pending output above --max-out drops further frames (counted);
//   - closed connections are freed at the end of the batch (events may still point at them).
// What the native protocol adds (PROTOCOL §2, §4.1, §4.2, §5): variable-length frames (16-byte
// big-endian header), so a partial frame may be up to --max-frame bytes (kept on the heap only
// while one is pending); Hello -> register + Welcome; Send -> Deliver with the sender's name
// stamped (one header write, the name copy, one memcpy of target + payload: no allocation per
// message), and with WantDeliveryStatus a DeliveryStatus back to the sender; Ping -> Pong;
// Bye -> close.
//
// What it deliberately lacks, as ideal_fwd does: no name validation (§3), no NameTaken (last
// registration wins), no SourceMismatch check, no Error frames (a framing error — bad magic or
// version, oversize frame, inconsistent name lengths — just closes the connection, counted;
// anything unexpected is counted and ignored), no register/idle/incomplete-frame timeouts, no
// watchdog, no monitor feed, no client limits, no legacy protocol. It is not a product.
//
// Plain C++17 with no Qt and no Kennel library (like kennel-nativebench): a control must cost per
// message only what the native frame itself requires, and must not move when Kennel's own codec
// or routing code changes. Under callgrind (4 pairs, 500-byte payloads) it executes ~310
// instructions per message against ideal_fwd's ~175: the difference is the variable-length header
// checks, the lookup of a length-prefixed name and the Deliver rewrite that stamps the sender.
//
// usage: kennel-ideal-native [--host 127.0.0.1] [--port 18000] [--max-out BYTES] [--max-frame BYTES]
//                            [--quiet]
// SIGINT/SIGTERM: print counters to stderr and exit 0.
#include "../common/bareforwarder.h"

namespace BareForwarder {

// ---- what only a broker answers with (bench/common/nativewire.h has the rest) -------------------
enum DeliveryStatus : uint16_t { Delivered = 0, NoSuchClient = 1, QueueFull = 2, NotRegistered = 4 }; // §5.3
constexpr char BrokerVersion[] = "ideal-native"; // Welcome's informational text (§4.1)

unsigned long long nFwd, nNoRoute, nStatus;

// ---- input -------------------------------------------------------------------------------------
void queueStatus(Conn *c, uint32_t messageId, const unsigned char *target, uint8_t targetLength, uint16_t status)
{
    unsigned char *p = reserve(c, HeaderSize + targetLength + 2);
    if (!p) {
        nDrop++;
        return;
    }
    writeHeader(p, DeliveryStatusFrame, uint32_t(targetLength) + 2, messageId, 0, targetLength); // §5.3
    std::memcpy(p + HeaderSize, target, targetLength);
    put16(p + HeaderSize + targetLength, status);
    nStatus++;
}

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
    case Send: {
        const bool wantStatus = get16(f + 14) & WantDeliveryStatus;
        if (!c->named) {
            nUnregistered++;
            if (wantStatus)
                queueStatus(c, messageId, target, targetLength, NotRegistered);
            return;
        }
        Conn *t = hget(target, targetLength);
        if (!t || t->dead) {
            nNoRoute++;
            if (wantStatus)
                queueStatus(c, messageId, target, targetLength, NoSuchClient);
            return;
        }
        // §5.2: the sender's registered name stamped as source, target and payload unchanged. In
        // the Send they are adjacent (target then payload), so one memcpy carries both.
        const size_t rest = targetLength + payloadLength;
        unsigned char *p = reserve(t, HeaderSize + c->nameLength + rest);
        if (!p) {
            nDrop++;
            if (wantStatus)
                queueStatus(c, messageId, target, targetLength, QueueFull);
            return;
        }
        writeHeader(p, Deliver, uint32_t(c->nameLength + rest), messageId, c->nameLength, targetLength);
        std::memcpy(p + HeaderSize, c->name, c->nameLength);
        std::memcpy(p + HeaderSize + c->nameLength, target, rest);
        nFwd++;
        if (wantStatus)
            queueStatus(c, messageId, target, targetLength, Delivered);
        return;
    }
    default:
        answerSessionFrame(c, f, BrokerVersion); // Hello, Ping, Bye; anything else counted
    }
}

void connGone(Conn *) {}

void printCounters()
{
    std::fprintf(stderr,
                 "kennel-ideal-native: frames_in=%llu forwarded=%llu no_route=%llu dropped=%llu registrations=%llu "
                 "statuses=%llu unregistered_sends=%llu pings=%llu byes=%llu other=%llu bad_frames=%llu "
                 "accepted=%llu closed=%llu max_conns=%ld writes=%llu\n",
                 nIn, nFwd, nNoRoute, nDrop, nReg, nStatus, nUnregistered, nPing, nBye, nOther, nBadFrame, nAccept,
                 nClose, maxConns, nWrites);
}

} // namespace BareForwarder

int main(int argc, char **argv)
{
    return BareForwarder::run(argc, argv, "kennel-ideal-native");
}
