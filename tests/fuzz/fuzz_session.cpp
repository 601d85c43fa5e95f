// fuzz_session: a whole broker behind three connections, driven by the input. Each input gets a
// fresh Kennel::Broker (no listeners) so that anything it leaks is attributed to that input; its
// three connections are socketpair ends given to Broker::adoptConnection() as Unix clients, and
// the input is a list of chunks
//     [session byte][length byte][length bytes]
// session byte % 4 = 0..2: the bytes go to that connection through Session::receiveBytes(), as if
// just read from its descriptor (decoder, Hello and registration, routing between the three,
// watchdog registration and feeds, the legacy commands 0/1/2, refusals, a monitor's Hello);
// = 3: the peer of connection (length byte % 3) hangs up (no bytes follow).
// A connection the monitor hub has taken over is no longer a Session: its bytes are written into
// the socket instead, so the monitor stream's reader gets them. Between chunks the event loop
// runs, so each batch ends (output is flushed, closed sessions are destroyed) as in the broker.
// Logic check besides the sanitizers: everything the broker writes to a connection is well-formed
// in that connection's protocol.
#define KENNEL_FUZZER_NAME "fuzz_session"
#include "fuzzcheck.h"

#include "broker.h"
#include "framecodec.h"
#include "legacyframe.h"

#include <QCoreApplication>
#include <QEvent>
#include <QLoggingCategory>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace Kennel;

namespace {

// Enough for dozens of frames, registrations and a legacy exchange; longer inputs only repeat.
constexpr size_t MaxInput = 16 * 1024;
constexpr int Connections = 3;
// What one connection's peer keeps of the broker's output for the well-formedness check.
constexpr qsizetype MaxKeptOutput = 1024 * 1024;

void quietMessages(QtMsgType type, const QMessageLogContext &, const QString &message)
{
    // The broker logs every refusal; at thousands of inputs a second that is the whole run's time.
    // qFatal still ends the run (the input is saved), and KENNEL_FUZZ_LOG=1 shows everything.
    static const bool verbose = qEnvironmentVariableIntValue("KENNEL_FUZZ_LOG") != 0;
    if (verbose || type == QtFatalMsg)
        std::fprintf(stderr, "%s\n", qPrintable(message));
    if (type == QtFatalMsg)
        std::abort();
}

struct Peer
{
    int fd = -1;           // our end of the socketpair
    quint64 sessionId = 0; // the broker's Session for the other end; 0 if refused at the door
    Session::Protocol protocol = Session::Protocol::Unknown;
    QByteArray received;
    bool overflow = false;
};

BrokerConfig fuzzConfig()
{
    BrokerConfig config;
    config.maxClients = 8;
    // Small enough that a few chunks reach the limit, large enough for every control frame.
    config.maxFrameSize = 4096;
    config.maxOutputQueueBytes = 64 * 1024;
    // The watchdog must never act on this process (its expiry timers are 100 ms at least and an
    // input takes far less; the signaller also refuses the broker's own PID): notify only.
    config.watchdog.defaultAction = WatchdogAction::Notify;
    config.watchdog.clientSelectableActions = {WatchdogAction::Disconnect, WatchdogAction::Notify};
    config.monitor.failureDelay = std::chrono::milliseconds(1);
    config.monitor.failureDelayMax = std::chrono::milliseconds(1);
    return config;
}

void runEvents()
{
    // Twice: a flush queued by the first pass (afterBatch, markDirty) runs in the second.
    for (int i = 0; i < 2; ++i) {
        QCoreApplication::sendPostedEvents();
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
        QCoreApplication::processEvents(QEventLoop::AllEvents);
    }
}

void drain(Peer &peer)
{
    if (peer.fd < 0)
        return;
    char buffer[16384];
    for (;;) {
        const ssize_t n = ::recv(peer.fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (n > 0) {
            if (peer.received.size() + n <= MaxKeptOutput)
                peer.received.append(buffer, n);
            else
                peer.overflow = true;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return; // EAGAIN: all read; 0: the broker closed; other errors: nothing more to read
    }
}

void checkOutput(const Peer &peer)
{
    if (peer.overflow || peer.received.isEmpty())
        return;
    if (peer.protocol == Session::Protocol::Legacy) {
        // The broker speaks to a legacy client in whole 552-byte frames only (it may have been
        // closed in the middle of one).
        for (qsizetype pos = 0; peer.received.size() - pos >= Legacy::FrameSize; pos += Legacy::FrameSize) {
            const auto r = Legacy::decode(QByteArrayView(peer.received).sliced(pos, Legacy::FrameSize));
            KENNEL_FUZZ_CHECK(r.error == Legacy::DecodeError::None);
        }
        return;
    }
    // Native clients, monitors, and connections refused before their protocol was known get
    // native frames: all must decode, names included (it stamps only names it checked).
    FrameDecoder decoder(Wire::DefaultMaxFrameSize);
    decoder.append(peer.received);
    while (decoder.next()) {
    }
    KENNEL_FUZZ_CHECK(decoder.error() == DecodeError::None);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    qInstallMessageHandler(quietMessages);
    // The application object lives for the whole run (Qt allows one); everything per input is
    // created and destroyed in LLVMFuzzerTestOneInput.
    new QCoreApplication(*argc, *argv);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MaxInput)
        return 0;
    std::array<Peer, Connections> peers;
    {
        auto broker = std::make_unique<Broker>(fuzzConfig());
        for (Peer &peer : peers) {
            int fds[2];
            KENNEL_FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
            peer.fd = fds[0];
            Session *session = broker->adoptConnection(fds[1], Session::Transport::Unix);
            peer.sessionId = session ? session->id() : 0;
        }

        KennelFuzz::Input in(data, size);
        while (!in.atEnd()) {
            const uint8_t selector = in.byte();
            const uint8_t length = in.byte();
            if (selector % 4 == 3) {
                Peer &peer = peers[length % Connections];
                if (peer.fd >= 0) {
                    drain(peer);
                    ::close(peer.fd);
                    peer.fd = -1;
                }
            } else {
                Peer &peer = peers[selector % 4];
                const QByteArrayView bytes = in.take(length);
                if (Session *session = peer.sessionId ? broker->sessionById(peer.sessionId) : nullptr) {
                    session->receiveBytes(bytes.data(), size_t(bytes.size()));
                    if (session->protocol() != Session::Protocol::Unknown)
                        peer.protocol = session->protocol();
                } else if (peer.fd >= 0 && !bytes.isEmpty()) {
                    // Handed over to the monitor hub (or closed: then this fails, harmlessly).
                    (void)::send(peer.fd, bytes.data(), size_t(bytes.size()), MSG_DONTWAIT | MSG_NOSIGNAL);
                }
            }
            runEvents();
            for (Peer &peer : peers)
                drain(peer);
        }
        KENNEL_FUZZ_CHECK(broker->connectionCount() <= size_t(Connections));
        broker.reset();
        runEvents();
    }
    for (Peer &peer : peers) {
        drain(peer);
        checkOutput(peer);
        if (peer.fd >= 0)
            ::close(peer.fd);
    }
    return 0;
}
