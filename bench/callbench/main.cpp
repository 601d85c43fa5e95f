// kennel-callbench: the round trip of a call through the broker (Call -> CallIncoming -> Reply ->
// CallResult, PROTOCOL §5.6) against a direct Unix-socket ping-pong between the same two kinds of
// process (no broker): p50 and p99 at 1 and at 4 calls in flight. Both sides are this program
// (the callee a forked child), blocking sockets, the library's pure codec; nothing else runs in
// either process, so the difference is the broker's two extra socket crossings and its work.
//   kennel-callbench unix:/path/to/broker.sock [calls per run, default 20000] [payload bytes, default 64]
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

} // namespace

int main(int argc, char **argv)
{
    if (argc < 2 || std::strncmp(argv[1], "unix:", 5) != 0) {
        std::fprintf(stderr, "usage: kennel-callbench unix:BROKER_SOCKET [calls] [payload bytes]\n");
        return 2;
    }
    const std::string path = argv[1] + 5;
    const int count = argc > 2 ? std::atoi(argv[2]) : 20000;
    const QByteArray payload(argc > 3 ? std::atoi(argv[3]) : 64, 'p');
    ::signal(SIGPIPE, SIG_IGN);

    std::printf("%-8s %9s %10s %10s\n", "path", "in flight", "p50 us", "p99 us");
    for (const bool direct : {true, false}) {
        int callerFd = -1;
        pid_t child = -1;
        if (direct) {
            int pair[2];
            ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair);
            child = ::fork();
            if (child == 0) {
                ::close(pair[0]);
                serve(pair[1], true);
            }
            ::close(pair[1]);
            callerFd = pair[0];
        } else {
            child = ::fork();
            if (child == 0)
                serve(connectUnix(path), false);
            callerFd = connectUnix(path);
        }
        Reader reader{callerFd, {}};
        if (!direct) {
            hello(callerFd, reader, "cb-caller");
            // Wait until the callee has registered: a call to it no longer ends no_such_client.
            for (int attempt = 0;; ++attempt) {
                QByteArray out;
                appendFrame(out, FrameType::Call, 0xFFFFFFF0u, 0, {}, "cb-callee", encodeCallRequest(1000, "probe"));
                writeAll(callerFd, out);
                Frame f;
                reader.next(f);
                if (decodeCallResult(f.payload)->outcome == CallOutcome::Replied)
                    break;
                if (attempt > 1000)
                    return 1;
                ::usleep(1000);
            }
        }
        for (const int inflight : {1, 4}) {
            run(callerFd, reader, direct, count / 10, inflight, payload); // warm-up
            const Figures f = run(callerFd, reader, direct, count, inflight, payload);
            std::printf("%-8s %9d %10.1f %10.1f\n", direct ? "direct" : "broker", inflight, f.p50us, f.p99us);
            std::fflush(stdout);
        }
        ::close(callerFd);
        ::waitpid(child, nullptr, 0);
    }
    return 0;
}
