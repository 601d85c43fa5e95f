// kennel-callbench: the round trip of a call through the broker (Call -> CallIncoming -> Reply ->
// CallResult, PROTOCOL §5.6) against a direct Unix-socket ping-pong between the same two kinds of
// process (no broker): p50 and p99 at 1 and at 4 calls in flight. Both sides are this program
// (the callee a forked child), blocking sockets, the library's pure codec; nothing else runs in
// either process, so the difference is the broker's two extra socket crossings and its work.
// With --relay, a third path: the same round trip as two directed messages through a bare relay
// (kennel-ideal-native --unix PATH: no validation, no table, nothing but forwarding), the floor
// for any broker process in the middle: the same four socket crossings and wake-ups as a call.
//   kennel-callbench [--relay unix:/path/to/relay.sock] unix:/path/to/broker.sock
//                    [calls per run, default 20000] [payload bytes, default 64]
//                    [rounds, default 1: each round runs both paths at 1 and 4 in flight, alternated;
//                     the last lines are key=value medians over the rounds, the runner's format]
#include "framecodec.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace Kennel;
using Clock = std::chrono::steady_clock;

namespace {

struct Reader
{
    int fd;
    QByteArray buffer;
    // The next whole frame (blocking); false at the end of the stream.
    bool next(Frame &frame)
    {
        for (;;) {
            const DecodeResult r = decodeFrame(buffer, Wire::DefaultMaxFrameSize);
            if (r.error == DecodeError::None) {
                frame = r.frame.toFrame();
                buffer.remove(0, r.consumed);
                return true;
            }
            if (r.error != DecodeError::NeedMore)
                return false;
            char chunk[65536];
            const ssize_t n = ::read(fd, chunk, sizeof chunk);
            if (n <= 0)
                return false;
            buffer.append(chunk, n);
        }
    }
};

bool writeAll(int fd, const QByteArray &bytes)
{
    qsizetype done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.constData() + done, size_t(bytes.size() - done));
        if (n <= 0)
            return false;
        done += n;
    }
    return true;
}

int connectUnix(const std::string &path)
{
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
        std::perror("connect");
        std::exit(1);
    }
    return fd;
}

enum class Kind { Direct, Broker, Relay };

void hello(int fd, Reader &reader, const QByteArray &name, Kind kind)
{
    HelloPayload h;
    h.features = kind == Kind::Broker ? quint32(FeatureCalls) : 0u;
    QByteArray out;
    appendFrame(out, FrameType::Hello, 1, 0, name, {}, encodeHello(h));
    writeAll(fd, out);
    Frame f;
    if (!reader.next(f) || f.type != FrameType::Welcome) {
        std::fprintf(stderr, "%s: not welcomed\n", name.constData());
        std::exit(1);
    }
}

// The callee: answers every CallIncoming (through the broker), Send (direct) or Deliver (through
// the relay, answered with a Send back to its source) with its payload.
[[noreturn]] void serve(int fd, Kind kind, int readyFd = -1)
{
    Reader reader{fd, {}};
    if (kind != Kind::Direct)
        hello(fd, reader, "cb-callee", kind);
    if (readyFd >= 0) {
        const char byte = 1;
        if (::write(readyFd, &byte, 1) != 1)
            ::_exit(1);
        ::close(readyFd);
    }
    Frame f;
    QByteArray out;
    while (reader.next(f)) {
        out.clear();
        if (kind == Kind::Direct) {
            appendFrame(out, FrameType::Deliver, f.messageId, 0, {}, {}, f.payload);
        } else if (kind == Kind::Relay && f.type == FrameType::Deliver) {
            appendFrame(out, FrameType::Send, f.messageId, 0, {}, f.source, f.payload);
        } else if (kind == Kind::Broker && f.type == FrameType::CallIncoming) {
            const std::optional<CallRequest> request = decodeCallRequest(f.payload);
            appendFrame(out, FrameType::Reply, f.messageId, 0, {}, {}, encodeCallReply(0, request ? request->payload : QByteArray()));
        } else {
            continue;
        }
        if (!writeAll(fd, out))
            break;
    }
    ::_exit(0);
}

struct Figures
{
    double p50us, p99us;
};

// `count` round trips, `inflight` outstanding at a time; each measured from its write to its answer.
Figures run(int fd, Reader &reader, Kind kind, int count, int inflight, const QByteArray &payload)
{
    std::vector<Clock::time_point> sentAt(size_t(count) + 1);
    std::vector<double> rtt;
    rtt.reserve(size_t(count));
    quint32 next = 1;
    int outstanding = 0;
    const auto sendOne = [&] {
        QByteArray out;
        if (kind == Kind::Direct)
            appendFrame(out, FrameType::Send, next, 0, {}, {}, payload);
        else if (kind == Kind::Relay)
            appendFrame(out, FrameType::Send, next, 0, {}, "cb-callee", payload);
        else
            appendFrame(out, FrameType::Call, next, 0, {}, "cb-callee", encodeCallRequest(5000, payload));
        sentAt[next] = Clock::now();
        ++next;
        ++outstanding;
        writeAll(fd, out);
    };
    while (outstanding < inflight && next <= quint32(count))
        sendOne();
    Frame f;
    while (outstanding > 0 && reader.next(f)) {
        const auto now = Clock::now();
        if (kind == Kind::Relay && f.type != FrameType::Deliver) {
            std::fprintf(stderr, "relay: unexpected %s\n", frameTypeName(f.type));
            std::exit(1);
        }
        if (kind == Kind::Broker) {
            const std::optional<CallResultPayload> result = decodeCallResult(f.payload);
            if (f.type != FrameType::CallResult || !result || result->outcome != CallOutcome::Replied) {
                std::fprintf(stderr, "call %u: %s\n", f.messageId, result ? callOutcomeName(result->outcome) : frameTypeName(f.type));
                std::exit(1);
            }
        }
        rtt.push_back(std::chrono::duration<double, std::micro>(now - sentAt[f.messageId]).count());
        --outstanding;
        if (next <= quint32(count))
            sendOne();
    }
    std::sort(rtt.begin(), rtt.end());
    return {rtt[rtt.size() / 2], rtt[rtt.size() * 99 / 100]};
}

// One side of the comparison: a caller connection to a callee child, direct, through the broker or
// through the bare relay.
struct Path
{
    Kind kind = Kind::Direct;
    int fd = -1;
    pid_t child = -1;
    Reader reader{-1, {}};
};

const char *kindName(Kind kind)
{
    return kind == Kind::Direct ? "direct" : kind == Kind::Broker ? "broker" : "relay";
}

Path openPath(Kind kind, const std::string &socketPath)
{
    Path p;
    p.kind = kind;
    if (kind == Kind::Direct) {
        int pair[2];
        ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair);
        p.child = ::fork();
        if (p.child == 0) {
            ::close(pair[0]);
            serve(pair[1], kind);
        }
        ::close(pair[1]);
        p.fd = pair[0];
        p.reader.fd = p.fd;
        return p;
    }
    int ready[2];
    if (::pipe(ready) != 0) {
        std::perror("pipe");
        std::exit(1);
    }
    p.child = ::fork();
    if (p.child == 0) {
        ::close(ready[0]);
        serve(connectUnix(socketPath), kind, ready[1]);
    }
    ::close(ready[1]);
    p.fd = connectUnix(socketPath);
    p.reader.fd = p.fd;
    hello(p.fd, p.reader, "cb-caller", kind);
    // The relay answers nothing for a name not yet registered: wait for the callee's word that it
    // was welcomed rather than probing.
    char byte;
    if (::read(ready[0], &byte, 1) != 1) {
        std::fprintf(stderr, "kennel-callbench: the callee was not welcomed\n");
        std::exit(1);
    }
    ::close(ready[0]);
    if (kind == Kind::Relay)
        return p;
    // Wait until the callee has registered: a call to it no longer ends no_such_client.
    for (int attempt = 0;; ++attempt) {
        QByteArray out;
        appendFrame(out, FrameType::Call, 0xFFFFFFF0u, 0, {}, "cb-callee", encodeCallRequest(1000, "probe"));
        writeAll(p.fd, out);
        Frame f;
        p.reader.next(f);
        const std::optional<CallResultPayload> result = decodeCallResult(f.payload);
        if (result && result->outcome == CallOutcome::Replied)
            break;
        if (attempt > 1000) {
            std::fprintf(stderr, "kennel-callbench: the callee never registered\n");
            std::exit(1);
        }
        ::usleep(1000);
    }
    return p;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? -1 : (v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2);
}

} // namespace

int main(int argc, char **argv)
{
    std::string relayPath;
    if (argc > 2 && std::strcmp(argv[1], "--relay") == 0) {
        if (std::strncmp(argv[2], "unix:", 5) != 0) {
            std::fprintf(stderr, "kennel-callbench: --relay takes unix:PATH\n");
            return 2;
        }
        relayPath = argv[2] + 5;
        argc -= 2;
        argv += 2;
    }
    if (argc < 2 || std::strncmp(argv[1], "unix:", 5) != 0) {
        std::fprintf(stderr, "usage: kennel-callbench [--relay unix:RELAY_SOCKET] unix:BROKER_SOCKET [calls per run] [payload bytes] "
                             "[rounds]\n");
        return 2;
    }
    const std::string path = argv[1] + 5;
    const int count = argc > 2 ? std::atoi(argv[2]) : 20000;
    const QByteArray payload(argc > 3 ? std::atoi(argv[3]) : 64, 'p');
    const int rounds = argc > 4 ? std::atoi(argv[4]) : 1;
    if (count < 100 || count > 10000000 || payload.size() < 0 || payload.size() > 60000 || rounds < 1 || rounds > 99) {
        std::fprintf(stderr, "kennel-callbench: calls 100..10000000, payload 0..60000 bytes, rounds 1..99\n");
        return 2;
    }
    ::signal(SIGPIPE, SIG_IGN);

    // Every path stays open for the whole run and they take turns, run by run, the first of each
    // round rotating: on a shared machine the load drifts, and only figures measured side by side
    // compare.
    std::vector<Path> paths{openPath(Kind::Direct, path), openPath(Kind::Broker, path)};
    if (!relayPath.empty())
        paths.push_back(openPath(Kind::Relay, relayPath));
    const size_t n = paths.size();
    std::vector<double> p50[3][2], p99[3][2]; // [path][1 or 4 in flight]
    std::printf("%-6s %-8s %9s %10s %10s\n", "round", "path", "in flight", "p50 us", "p99 us");
    for (int round = 0; round < rounds; ++round) {
        for (int k = 0; k < 2; ++k) {
            const int inflight = k == 0 ? 1 : 4;
            for (size_t j = 0; j < n; ++j) {
                const size_t which = (j + size_t(round)) % n;
                Path &p = paths[which];
                run(p.fd, p.reader, p.kind, count / 10, inflight, payload); // warm-up
                const Figures f = run(p.fd, p.reader, p.kind, count, inflight, payload);
                p50[which][k].push_back(f.p50us);
                p99[which][k].push_back(f.p99us);
                std::printf("%-6d %-8s %9d %10.1f %10.1f\n", round + 1, kindName(p.kind), inflight, f.p50us, f.p99us);
                std::fflush(stdout);
            }
        }
    }
    // The runner's format: one key=value line per in-flight count, medians over the rounds.
    for (int k = 0; k < 2; ++k) {
        const double d50 = median(p50[0][k]), b50 = median(p50[1][k]);
        std::printf("inflight=%d rounds=%d calls=%d payload=%lld direct_p50_us=%.1f direct_p99_us=%.1f broker_p50_us=%.1f "
                    "broker_p99_us=%.1f p50_ratio=%.2f",
                    k == 0 ? 1 : 4, rounds, count, static_cast<long long>(payload.size()), d50, median(p99[0][k]), b50,
                    median(p99[1][k]), d50 > 0 ? b50 / d50 : -1);
        if (n == 3) {
            const double r50 = median(p50[2][k]);
            std::printf(" relay_p50_us=%.1f relay_p99_us=%.1f relay_ratio=%.2f broker_relay_ratio=%.2f", r50, median(p99[2][k]),
                        d50 > 0 ? r50 / d50 : -1, r50 > 0 ? b50 / r50 : -1);
        }
        std::printf(" status=ok\n");
    }
    std::fflush(stdout);
    // The callees are ours: each child holds copies of the other paths' sockets, so none would
    // see its stream end; they are ended by their PID.
    for (Path &p : paths) {
        ::close(p.fd);
        ::kill(p.child, SIGTERM);
        ::waitpid(p.child, nullptr, 0);
    }
    return 0;
}
