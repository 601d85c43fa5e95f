// kennel-callbench: the round trip of a call through the broker (Call -> CallIncoming -> Reply ->
// CallResult, PROTOCOL §5.6) against a direct Unix-socket ping-pong between the same two kinds of
// process (no broker): p50 and p99 at 1 and at 4 calls in flight. Both sides are this program
// (the callee a forked child), blocking sockets, the library's pure codec; nothing else runs in
// either process, so the difference is the broker's two extra socket crossings and its work.
//   kennel-callbench unix:/path/to/broker.sock [calls per run, default 20000] [payload bytes, default 64]
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

void hello(int fd, Reader &reader, const QByteArray &name)
{
    HelloPayload h;
    h.features = FeatureCalls;
    QByteArray out;
    appendFrame(out, FrameType::Hello, 1, 0, name, {}, encodeHello(h));
    writeAll(fd, out);
    Frame f;
    if (!reader.next(f) || f.type != FrameType::Welcome) {
        std::fprintf(stderr, "%s: not welcomed\n", name.constData());
        std::exit(1);
    }
}

// The callee: answers every CallIncoming (through the broker) or Send (direct) with its payload.
[[noreturn]] void serve(int fd, bool direct)
{
    Reader reader{fd, {}};
    if (!direct)
        hello(fd, reader, "cb-callee");
    Frame f;
    QByteArray out;
    while (reader.next(f)) {
        out.clear();
        if (direct) {
            appendFrame(out, FrameType::Deliver, f.messageId, 0, {}, {}, f.payload);
        } else if (f.type == FrameType::CallIncoming) {
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
Figures run(int fd, Reader &reader, bool direct, int count, int inflight, const QByteArray &payload)
{
    std::vector<Clock::time_point> sentAt(size_t(count) + 1);
    std::vector<double> rtt;
    rtt.reserve(size_t(count));
    quint32 next = 1;
    int outstanding = 0;
    const auto sendOne = [&] {
        QByteArray out;
        if (direct)
            appendFrame(out, FrameType::Send, next, 0, {}, {}, payload);
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
        if (!direct) {
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

// One side of the comparison: a caller connection to a callee child, direct or through the broker.
struct Path
{
    bool direct = false;
    int fd = -1;
    pid_t child = -1;
    Reader reader{-1, {}};
};

Path openPath(bool direct, const std::string &brokerPath)
{
    Path p;
    p.direct = direct;
    if (direct) {
        int pair[2];
        ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair);
        p.child = ::fork();
        if (p.child == 0) {
            ::close(pair[0]);
            serve(pair[1], true);
        }
        ::close(pair[1]);
        p.fd = pair[0];
        p.reader.fd = p.fd;
        return p;
    }
    p.child = ::fork();
    if (p.child == 0)
        serve(connectUnix(brokerPath), false);
    p.fd = connectUnix(brokerPath);
    p.reader.fd = p.fd;
    hello(p.fd, p.reader, "cb-caller");
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
    if (argc < 2 || std::strncmp(argv[1], "unix:", 5) != 0) {
        std::fprintf(stderr, "usage: kennel-callbench unix:BROKER_SOCKET [calls per run] [payload bytes] [rounds]\n");
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

    // Both paths stay open for the whole run and take turns, run by run, the first of each round
    // alternating: on a shared machine the load drifts, and only figures measured side by side
    // compare.
    Path paths[2] = {openPath(true, path), openPath(false, path)};
    std::vector<double> p50[2][2], p99[2][2]; // [direct=0/broker=1][1 or 4 in flight]
    std::printf("%-6s %-8s %9s %10s %10s\n", "round", "path", "in flight", "p50 us", "p99 us");
    for (int round = 0; round < rounds; ++round) {
        for (int k = 0; k < 2; ++k) {
            const int inflight = k == 0 ? 1 : 4;
            for (int j = 0; j < 2; ++j) {
                const int which = (j + round) % 2;
                Path &p = paths[which];
                run(p.fd, p.reader, p.direct, count / 10, inflight, payload); // warm-up
                const Figures f = run(p.fd, p.reader, p.direct, count, inflight, payload);
                p50[which][k].push_back(f.p50us);
                p99[which][k].push_back(f.p99us);
                std::printf("%-6d %-8s %9d %10.1f %10.1f\n", round + 1, p.direct ? "direct" : "broker", inflight, f.p50us,
                            f.p99us);
                std::fflush(stdout);
            }
        }
    }
    // The runner's format: one key=value line per in-flight count, medians over the rounds.
    for (int k = 0; k < 2; ++k) {
        const double d50 = median(p50[0][k]), b50 = median(p50[1][k]);
        std::printf("inflight=%d rounds=%d calls=%d payload=%lld direct_p50_us=%.1f direct_p99_us=%.1f broker_p50_us=%.1f "
                    "broker_p99_us=%.1f p50_ratio=%.2f status=ok\n",
                    k == 0 ? 1 : 4, rounds, count, static_cast<long long>(payload.size()), d50, median(p99[0][k]), b50,
                    median(p99[1][k]), d50 > 0 ? b50 / d50 : -1);
    }
    std::fflush(stdout);
    // The callees are ours: each child holds copies of the other path's socket, so neither would
    // see its stream end; they are ended by their PID.
    for (Path &p : paths) {
        ::close(p.fd);
        ::kill(p.child, SIGTERM);
        ::waitpid(p.child, nullptr, 0);
    }
    return 0;
}
