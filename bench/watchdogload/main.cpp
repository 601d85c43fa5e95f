// kennel-watchdog-load: what 10,000 watched clients feeding every second cost a real broker.
//
// Connects N native clients to a running kennel-broker (Unix socket or TCP), registers each with
// the watchdog (action disconnect, so a missed deadline shows up here as a closed connection),
// then measures the broker's CPU time (utime + stime from /proc/PID/stat) over two phases of equal
// length with the same connections: idle (no feeds, terms long enough that nothing expires) and
// feeding (every client feeds once per --feed-interval-ms, spread evenly). The difference is what
// the feeds and the watchdog cost. Plain blocking sockets written in batches from one thread: the
// generator must not be what limits the measurement, and it needs no event loop per message.
#include "framecodec.h"

#include <QByteArray>
#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace Kennel;

namespace {

int connectTo(const QString &address)
{
    if (address.startsWith(QLatin1String("unix:"))) {
        const QByteArray path = address.mid(5).toLocal8Bit();
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        if (size_t(path.size()) >= sizeof sa.sun_path)
            return -1;
        std::memcpy(sa.sun_path, path.constData(), size_t(path.size()));
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) == 0)
            return fd;
        if (fd >= 0)
            ::close(fd);
        return -1;
    }
    const qsizetype colon = address.lastIndexOf(QLatin1Char(':'));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(quint16(address.mid(colon + 1).toUInt()));
    if (colon < 0 || ::inet_pton(AF_INET, address.left(colon).toLatin1().constData(), &sa.sin_addr) != 1)
        return -1;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) == 0) {
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return fd;
    }
    if (fd >= 0)
        ::close(fd);
    return -1;
}

bool writeAll(int fd, const QByteArray &bytes)
{
    qsizetype done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::send(fd, bytes.constData() + done, size_t(bytes.size() - done), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += n;
    }
    return true;
}

// Reads until one whole frame of `type` arrived (others are skipped); false on error/EOF/timeout.
bool expectFrame(int fd, FrameType type, FrameDecoder &decoder, int timeoutMs = 10000)
{
    QElapsedTimer clock;
    clock.start();
    for (;;) {
        while (auto frame = decoder.next()) {
            if (frame->type == type)
                return true;
            if (frame->type == FrameType::Error) {
                std::fprintf(stderr, "broker error: %s\n",
                             qPrintable(decodeError(frame->payload).value_or(ErrorPayload{}).text));
                return false;
            }
        }
        pollfd p{fd, POLLIN, 0};
        const int left = timeoutMs - int(clock.elapsed());
        if (left <= 0 || ::poll(&p, 1, left) <= 0)
            return false;
        char buf[4096];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            return false;
        decoder.append(QByteArrayView(buf, n));
    }
}

std::optional<double> cpuSeconds(qint64 pid)
{
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%lld/stat", static_cast<long long>(pid));
    FILE *f = std::fopen(path, "r");
    if (!f)
        return std::nullopt;
    char buf[2048];
    const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    const char *p = std::strrchr(buf, ')');
    if (!p)
        return std::nullopt;
    // Fields after the comm: state(3) ... utime(14) stime(15).
    unsigned long long utime = 0, stime = 0;
    int field = 2;
    for (const char *q = p + 1; *q; ++q) {
        if (*q == ' ') {
            ++field;
            if (field == 14)
                utime = std::strtoull(q + 1, nullptr, 10);
            else if (field == 15) {
                stime = std::strtoull(q + 1, nullptr, 10);
                break;
            }
        }
    }
    return double(utime + stime) / double(::sysconf(_SC_CLK_TCK));
}

// Any bytes or EOF on a client's socket during the run means the broker refused or dropped it.
int countClosed(const std::vector<int> &fds)
{
    int closed = 0;
    std::vector<pollfd> polls(fds.size());
    for (size_t i = 0; i < fds.size(); ++i)
        polls[i] = {fds[i], POLLIN, 0};
    if (::poll(polls.data(), nfds_t(polls.size()), 0) > 0)
        for (const pollfd &p : polls)
            closed += (p.revents & (POLLIN | POLLHUP | POLLERR)) ? 1 : 0;
    return closed;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Measures a running kennel-broker's CPU cost of N watched clients feeding."));
    parser.addHelpOption();
    const QCommandLineOption broker(QStringLiteral("broker"), QStringLiteral("Broker address, unix:PATH or IPv4:PORT."), QStringLiteral("ADDR"));
    const QCommandLineOption brokerPid(QStringLiteral("broker-pid"), QStringLiteral("The broker's PID, for its CPU time."), QStringLiteral("PID"));
    const QCommandLineOption clients(QStringLiteral("clients"), QStringLiteral("Watched clients."), QStringLiteral("N"), QStringLiteral("10000"));
    const QCommandLineOption feedInterval(QStringLiteral("feed-interval-ms"), QStringLiteral("Each client feeds this often."),
                                          QStringLiteral("MS"), QStringLiteral("1000"));
    const QCommandLineOption interval(QStringLiteral("interval-ms"), QStringLiteral("Watchdog interval asked for."),
                                      QStringLiteral("MS"), QStringLiteral("3000"));
    const QCommandLineOption phase(QStringLiteral("phase-s"), QStringLiteral("Length of each phase."), QStringLiteral("S"),
                                   QStringLiteral("20"));
    const QCommandLineOption settle(QStringLiteral("settle-s"),
                                    QStringLiteral("Wait this long after registering, before measuring: the broker's register deadlines "
                                                   "(5 s after each accept) must have passed for 'idle' to be idle."),
                                    QStringLiteral("S"), QStringLiteral("7"));
    parser.addOptions({broker, brokerPid, clients, feedInterval, interval, phase, settle});
    parser.process(app);
    if (!parser.isSet(broker) || !parser.isSet(brokerPid)) {
        std::fprintf(stderr, "kennel-watchdog-load: --broker and --broker-pid are required\n");
        return 2;
    }
    const qint64 pid = parser.value(brokerPid).toLongLong();
    const int n = parser.value(clients).toInt();
    const int feedMs = parser.value(feedInterval).toInt();
    const int phaseS = parser.value(phase).toInt();
    const quint32 intervalMs = parser.value(interval).toUInt();

    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);

    std::vector<int> fds;
    fds.reserve(size_t(n));
    for (int i = 0; i < n; ++i) {
        const int fd = connectTo(parser.value(broker));
        if (fd < 0) {
            std::fprintf(stderr, "connection %d failed: %s\n", i, std::strerror(errno));
            return 1;
        }
        Frame hello;
        hello.type = FrameType::Hello;
        hello.source = "wd" + QByteArray::number(i);
        HelloPayload payload;
        payload.pid = quint32(::getpid());
        hello.payload = encodeHello(payload);
        Frame watch;
        watch.type = FrameType::WatchdogRegister;
        // Long terms for the idle phase: nothing may expire while nobody feeds.
        watch.payload = encodeWatchdogTerms({quint32(phaseS * 1000 + 60000), 1, ExpiryAction::Disconnect});
        FrameDecoder decoder(1 << 20);
        if (!writeAll(fd, encodeFrame(hello)) || !expectFrame(fd, FrameType::Welcome, decoder)
            || !writeAll(fd, encodeFrame(watch)) || !expectFrame(fd, FrameType::WatchdogAck, decoder)) {
            std::fprintf(stderr, "client %d: registration failed\n", i);
            return 1;
        }
        fds.push_back(fd);
    }
    std::printf("%d clients registered and watched\n", n);
    std::this_thread::sleep_for(std::chrono::seconds(parser.value(settle).toInt()));

    const auto measure = [&](bool feeding) -> std::optional<double> {
        const QByteArray feed = encodeFrame(Frame{FrameType::WatchdogFeed, 0, 0, {}, {}, {}});
        const std::optional<double> before = cpuSeconds(pid);
        QElapsedTimer clock;
        clock.start();
        // Ticks of 10 ms, each feeding its share of the clients: N feeds per feed interval.
        const int ticksPerInterval = qMax(1, feedMs / 10);
        qint64 tick = 0;
        size_t next = 0;
        while (clock.elapsed() < qint64(phaseS) * 1000) {
            if (feeding) {
                const size_t share = (size_t(n) * size_t((tick % ticksPerInterval) + 1)) / size_t(ticksPerInterval)
                                     - (size_t(n) * size_t(tick % ticksPerInterval)) / size_t(ticksPerInterval);
                for (size_t k = 0; k < share; ++k) {
                    writeAll(fds[next], feed);
                    next = (next + 1) % fds.size();
                }
            }
            ++tick;
            const qint64 due = tick * 10;
            const qint64 wait = due - clock.elapsed();
            if (wait > 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(wait));
        }
        const std::optional<double> after = cpuSeconds(pid);
        if (!before || !after)
            return std::nullopt;
        return *after - *before;
    };

    const std::optional<double> idle = measure(false);
    // Re-register with the real terms, then feed.
    for (int fd : fds) {
        Frame watch;
        watch.type = FrameType::WatchdogRegister;
        watch.payload = encodeWatchdogTerms({intervalMs, 3, ExpiryAction::Disconnect});
        writeAll(fd, encodeFrame(watch));
    }
    for (int fd : fds) {
        FrameDecoder decoder(1 << 20);
        if (!expectFrame(fd, FrameType::WatchdogAck, decoder)) {
            std::fprintf(stderr, "re-registration failed\n");
            return 1;
        }
    }
    const std::optional<double> fed = measure(true);
    const int closed = countClosed(fds);
    if (!idle || !fed) {
        std::fprintf(stderr, "cannot read /proc/%lld/stat\n", static_cast<long long>(pid));
        return 1;
    }
    std::printf("broker CPU over %d s: idle %.2f s (%.2f %% of a core), feeding %.2f s (%.2f %% of a core)\n", phaseS, *idle,
                100.0 * *idle / phaseS, *fed, 100.0 * *fed / phaseS);
    std::printf("feeds: %lld per second; cost of feeding: %.2f %% of a core, %.1f us per feed\n",
                static_cast<long long>(n) * 1000 / feedMs, 100.0 * (*fed - *idle) / phaseS,
                1e6 * (*fed - *idle) / (double(n) * 1000.0 / feedMs * phaseS));
    std::printf("clients dropped or refused during the run: %d (must be 0)\n", closed);
    for (int fd : fds)
        ::close(fd);
    return closed == 0 ? 0 : 3;
}
