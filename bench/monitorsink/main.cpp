// kennel-monitorsink: a monitor that does nothing but take the stream, for measuring what an
// attached monitor costs the broker's routing ("with a monitor attached and capturing
// traffic, at least 90 % of the throughput without one").
//
// It connects (unix:PATH, admitted by peer credentials, or IPv4:PORT with --token), says Hello as a
// monitor, subscribes with traffic records wanted, and reads everything as fast as the kernel
// hands it over, decoding frames only to count them: records received and records the broker
// reports dropped. On SIGINT/SIGTERM, or after --seconds, it prints one `key=value` line.
// Plain sockets and poll(): the sink must not be the slow reader unless --stall asks it to be.
#include "framecodec.h"
#include "monitorcodec.h"

#include <QByteArray>

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace Kennel;

namespace {
volatile sig_atomic_t stopRequested = 0;
extern "C" void onSignal(int) { stopRequested = 1; }

int connectTo(const char *address)
{
    if (std::strncmp(address, "unix:", 5) == 0) {
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", address + 5);
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) == 0)
            return fd;
        return -1;
    }
    const char *colon = std::strrchr(address, ':');
    if (!colon)
        return -1;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(quint16(std::atoi(colon + 1)));
    const QByteArray host(address, int(colon - address));
    if (::inet_pton(AF_INET, host.constData(), &sa.sin_addr) != 1)
        return -1;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) == 0)
        return fd;
    return -1;
}

double now()
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}
} // namespace

int main(int argc, char *argv[])
{
    const char *broker = nullptr;
    QByteArray token;
    double seconds = 0;
    int preview = 0;
    for (int i = 1; i < argc; ++i) {
        const QByteArray arg(argv[i]);
        if (arg == "--broker" && i + 1 < argc)
            broker = argv[++i];
        else if (arg == "--token" && i + 1 < argc)
            token = argv[++i];
        else if (arg == "--seconds" && i + 1 < argc)
            seconds = std::atof(argv[++i]);
        else if (arg == "--preview" && i + 1 < argc)
            preview = std::atoi(argv[++i]);
        else {
            std::fprintf(stderr, "usage: kennel-monitorsink --broker unix:PATH|IPv4:PORT [--token T] [--seconds S] [--preview BYTES]\n");
            return 2;
        }
    }
    if (!broker) {
        std::fprintf(stderr, "kennel-monitorsink: --broker is required\n");
        return 2;
    }
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    const int fd = connectTo(broker);
    if (fd < 0) {
        std::fprintf(stderr, "kennel-monitorsink: cannot connect to %s: %s\n", broker, std::strerror(errno));
        return 1;
    }
    HelloPayload hello;
    hello.role = Role::Monitor;
    hello.pid = quint32(::getpid());
    hello.token = token;
    Frame helloFrame;
    helloFrame.type = FrameType::Hello;
    helloFrame.source = "monitorsink";
    helloFrame.payload = encodeHello(hello);
    MonitorSubscribe subscribe;
    subscribe.wantTraffic = true;
    subscribe.previewBytes = quint16(preview);
    Frame subscribeFrame;
    subscribeFrame.type = MonitorFrame::Subscribe;
    subscribeFrame.payload = encodeMonitorSubscribe(subscribe);
    const QByteArray out = encodeFrame(helloFrame) + encodeFrame(subscribeFrame);
    if (::send(fd, out.constData(), size_t(out.size()), MSG_NOSIGNAL) != ssize_t(out.size())) {
        std::fprintf(stderr, "kennel-monitorsink: send failed\n");
        return 1;
    }

    FrameDecoder decoder(64 * 1024 * 1024);
    quint64 frames = 0, records = 0, dropped = 0, bytes = 0, errors = 0;
    bool welcomed = false;
    const double start = now();
    static char buf[1 << 18];
    while (!stopRequested && (seconds <= 0 || now() - start < seconds)) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0)
            continue;
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            break;
        bytes += quint64(n);
        decoder.append(QByteArrayView(buf, n));
        while (auto frame = decoder.next()) {
            ++frames;
            if (frame->type == FrameType::Welcome) {
                welcomed = true;
            } else if (frame->type == FrameType::Error) {
                ++errors;
                std::fprintf(stderr, "kennel-monitorsink: broker error: %s\n",
                             qPrintable(decodeError(frame->payload).value_or(ErrorPayload{}).text));
            } else if (frame->type == MonitorFrame::Traffic) {
                // The count is the batch's first two bytes; decoding every record would make the
                // sink slower than it needs to be.
                if (frame->payload.size() >= 2)
                    records += quint64(quint8(frame->payload[0])) << 8 | quint8(frame->payload[1]);
            } else if (frame->type == MonitorFrame::TrafficDropped) {
                if (auto d = decodeMonitorTrafficDropped(frame->payload))
                    dropped += d->dropped;
            }
        }
    }
    std::printf("welcomed=%d frames=%llu traffic_records=%llu traffic_dropped=%llu bytes=%llu errors=%llu seconds=%.1f\n",
                welcomed ? 1 : 0, static_cast<unsigned long long>(frames), static_cast<unsigned long long>(records),
                static_cast<unsigned long long>(dropped), static_cast<unsigned long long>(bytes),
                static_cast<unsigned long long>(errors), now() - start);
    ::close(fd);
    return welcomed && errors == 0 ? 0 : 1;
}
