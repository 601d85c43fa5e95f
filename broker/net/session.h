// One client connection: its descriptor, its input remainder and output backlog, and which protocol
// it speaks. A Session moves bytes and frames; what a frame means is decided by NativeHandler and
// LegacyHandler, where a message goes by Router. To the router and the name table it is an
// Endpoint (routing/endpoint.h); it is `final`, so its own calls to the Endpoint side are direct.
#pragma once

#include "bytequeue.h"
#include "outputqueue.h"
#include "endpoint.h"
#include "eventpoller.h"
#include "frame.h"
#include "peerprocess.h"
#include "sheddable.h"
#include "timedconnection.h"
#include "trafficcounters.h"

#include <QByteArray>
#include <QString>

#include <chrono>
#include <memory>
#include <optional>

namespace Kennel {

struct BrokerContext;
class DeliveryLedger;
class MemoryBudget;
class Session final : public PollHandler, public Endpoint, public TimedConnection, public Sheddable
{
public:
    enum class Transport : quint8 { Tcp, Unix };
    // What the connection is to the routing table.
    enum class Kind : quint8 {
        Pending,        // nothing valid received yet (the register deadline runs)
        Client,         // native client, registered by Hello
        LegacyReceiver, // legacy receive connection (cmd 0)
        LegacySender,   // legacy main connection: sends and feeds under a bound name, never receives
    };
    // Why a connection ended: one log line per reason.
    enum class CloseReason : quint8 {
        PeerClosed,
        ReadError,
        WriteError,
        ProtocolError,
        RegisterTimeout,
        TakenOver,
        Refused,
        Bye,
        Shutdown,
        OutOfMemory,
        HandedOver,     // a monitor's Hello: the descriptor now belongs to the monitor hub (not closed)
        ByMonitor,      // an operator's DisconnectClient from a monitor
        IncompleteFrame,// held the beginning of a frame past incomplete_frame_timeout_ms
        IdleTimeout,    // a native peer silent for idle_timeout_ms, Ping unanswered
        OverBudget,     // shed: it held the most of a broker-wide memory budget that ran out
    };

    Session(BrokerContext &context, int fd, quint64 id, Transport transport, QString peerAddress);
    ~Session() override;

    bool start();

    quint64 id() const { return m_id; }
    int fd() const { return m_fd; }
    Transport transport() const { return m_transport; }
    Kind kind() const { return m_kind; }
    bool isOpen() const override { return m_fd >= 0; }
    const QString &peerAddress() const { return m_peerAddress; }
    std::chrono::steady_clock::time_point acceptedAt() const { return m_acceptedAt; }
    // Wall clock at accept, for people (the monitor shows "connected since"); never for timing.
    qint64 connectedSinceMs() const { return m_connectedSinceMs; }
    QString describe() const override;

    void setIdentity(Kind kind, QByteArray name, NameEntry *entry);
    void setClaimedPid(quint32 pid) { m_claimedPid = pid; }
    quint32 claimedPid() const { return m_claimedPid; }
    // The optional features both this client's Hello and the broker's Welcome listed (PROTOCOL §4.1.1).
    void setFeatures(quint32 features) { m_features = features; }
    quint32 features() const { return m_features; }
    // PROTOCOL: the id of the last Send read from this connection, said at shutdown.
    void noteSendRead(quint32 messageId) { m_lastSendRead = messageId; }
    quint32 lastSendRead() const { return m_lastSendRead; }
    quint64 statusConnection() const override { return m_id; }
    // The client negotiated deliver_ack (PROTOCOL §5.7): its Delivers are kept until acknowledged.
    void keepUnacknowledged(std::unique_ptr<DeliveryLedger> ledger);
    // The budget every connection's ledger shares (the handlers do not see the budgets).
    MemoryBudget &unackedBudget();
    // Unix only: the process that called connect() (SO_PEERCRED at accept). Shown to operators
    // as a hint; never a licence to signal (others may hold the socket now: peerProcess() says).
    void setConnectingPid(pid_t pid) { m_connectingPid = pid; }
    pid_t connectingPid() const { return m_connectingPid; }

    // The process on the other end, established from the kernel and cached.
    const PeerLookupResult &peerProcess();
    // The cached answer only, never a lookup (a TCP lookup walks /proc): nullptr if not asked yet.
    const PeerLookupResult *cachedPeerProcess() const { return m_peerProcess ? &*m_peerProcess : nullptr; }
    // Both connections belong to one process instance (a legacy client's two connections).
    bool sameProcessAs(Endpoint &other, QString *why = nullptr) override;
    // The peer hung up or reset but the broker has not read that yet: the name can be taken over.
    bool isPeerGone() const override;
    // The name table unbound it (its peer was gone) for a newcomer: closed as TakenOver.
    void evict(const QString &detail) override { close(CloseReason::TakenOver, detail); }
    // WatchdogExpired: refused with WatchdogExpired and closed. ByOperator: a native peer is sent
    // Bye (what fits into the socket now), then closed as ByMonitor.
    bool end(EndReason reason, const QString &text) override;

    // --- output ---------------------------------------------------------------------------
    size_t pendingOutput() const override { return m_out.size(); }
    // Room for `n` bytes at the end of the output; commitOutput() publishes them for the next flush.
    // Out of memory: the connection closes and nullptr is returned.
    char *reserveOutput(size_t n) override;
    void commitOutput(size_t n) override;
    // A reference to a frame encoded once for many receivers (a publication's fan-out), queued
    // behind what is queued; counted like as many bytes committed.
    bool queueShared(SharedFrame &frame) override;
    void sendFrame(FrameType type, quint32 messageId, QByteArrayView source, QByteArrayView target,
                   QByteArrayView payload);
    // An Error frame to a native peer (and the log line); the connection stays open unless
    // `close` says otherwise. Legacy peers have no error channel: they are logged and, if
    // `close`, disconnected.
    void refuse(ErrorCode code, const QString &text, quint32 messageId = 0, bool close = false);
    // Log lines a peer can cause at will, each kind limited on its own.
    enum class PeerLine : quint8 { Close, Registration, ClientError };
    // A line of this kind that this peer caused may be written: at most [log]
    // peer_lines_per_second of each kind per peer address (the host, or the Unix uid), shared by
    // all its connections. When lines were held back, *suppressed says how many (log it first).
    bool allowPeerLogLine(PeerLine kind, int *suppressed);
    // "N more <kind> lines from ADDR not logged", for allowPeerLogLine()'s count.
    void logSuppressedPeerLines(PeerLine kind, int suppressed) const;

    // The one teardown path: leave epoll and the routing table, close, hand to the owner.
    void close(CloseReason reason, const QString &detail = {});
    // Graceful: stop reading, flush what is queued, then close (used by Bye and shutdown).
    void closeAfterFlush(CloseReason reason);
    // A deadline ran out: a peer known to speak native frames is sent Error `code` with `text`, as
    // far as its socket takes it right now, and the connection is closed at once either way (a
    // peer that stopped reading must not keep it open). One log line with the reason.
    void expire(CloseReason reason, ErrorCode code, const QString &text);
    // A memory budget ran out and this connection holds the most of it (BudgetShedder).
    void shedOverBudget(const QString &text) override { expire(CloseReason::OverBudget, ErrorCode::OverBudget, text); }
    // Why close() ran (valid once the session is closed).
    CloseReason closeReason() const { return m_closeReason; }
    // An old-protocol receiver's output that was never written when its connection ended: the
    // whole 552-byte frames only (the one cut mid-way, if any, is counted in `partial`, since its
    // head is gone). Kept from the close until taken, so that held delivery can hold them again
    // for the name; empty for any other connection.
    QByteArray takeUnsentLegacyFrames(bool *partial);

    // A monitor said Hello on a client listener: the connection leaves epoll and every table as
    // in close() (owner notified with CloseReason::HandedOver) but the descriptor stays open and
    // is returned, to be wrapped in a Qt socket by the monitor hub. `unread` gets the input bytes
    // already read behind the frame being handled (a pipelined Subscribe), `unsent` the output not
    // yet written. Only valid from inside NativeHandler::handle() (the frame being handled is the
    // last one the session consumes); -1 if the session is closed already.
    int detachForHandover(QByteArray *unread, QByteArray *unsent);

    // --- deadlines on input (TimedConnection, kept by ConnectionDeadlines) -------------------
    bool awaitsRegistration() const override { return m_kind == Kind::Pending; }
    bool answersPing() const override { return protocol() == Protocol::Native && m_fd >= 0; }
    // The beginning of a frame is held without its end, since the read that brought its first
    // byte. A deadline noted for an earlier frame is recognised as stale by this time.
    bool hasIncompleteFrame() const override { return m_partialPending; }
    // Not read while its own output backlog is over the bound: what it sent waits in the kernel.
    bool isInputPaused() const override { return m_inputPaused; }
    std::chrono::steady_clock::time_point incompleteFrameSince() const override { return m_partialSince; }
    size_t incompleteFrameBytes() const override { return m_in.size(); }
    // Set by every read that returned bytes; the idle sweep reads and clears it. No clock per read.
    bool takeInputSeen() override
    {
        const bool seen = m_inputSeen;
        m_inputSeen = false;
        return seen;
    }
    void deadlinePassed(Deadline which, const QString &text) override;
    void ping() override;

    // Bytes as if just read from the descriptor: decoded and handled at once, a cut-off frame kept
    // for the next call. The socket path uses the same decoding; this entry lets a fuzzer drive
    // a whole session (decoder, registration, routing) without a peer writing into a socket.
    void receiveBytes(const char *data, size_t size);

    void pollEvent(uint32_t events) override;
    void flushOutput() override;

private:
    int leave(CloseReason reason);
    void readInput();
    void readInputRounds();
    // The incomplete-frame budget follows m_in's size: one subtraction per read event.
    void syncParkedInput();
    size_t processInput(const char *data, size_t size);
    // Handles what sits in the connection's own input buffer (a large frame read in place, or
    // bytes given to receiveBytes()); false if the session closed meanwhile.
    bool processHeldInput();
    size_t processNative(const char *data, size_t size);
    size_t processNativeFrames(const char *data, size_t size);
    size_t processLegacy(const char *data, size_t size);
    void updatePollEvents();
    // After a batch of input was handled: `startedFresh` says the held bytes (if any) begin a
    // frame other than the one held before.
    void noteIncomplete(bool startedFresh);

    BrokerContext &m_ctx;
    int m_fd;
    quint64 m_id;
    Transport m_transport;
    Kind m_kind = Kind::Pending;
    uint32_t m_pollEvents = 0;
    bool m_inputPaused = false;
    bool m_closing = false;
    bool m_inputSeen = false;
    bool m_partialPending = false;
    std::chrono::steady_clock::time_point m_partialSince;
    CloseReason m_closeReason = CloseReason::PeerClosed;
    quint32 m_claimedPid = 0;
    quint32 m_features = 0;
    quint32 m_lastSendRead = 0;
    size_t m_inputNeed = 0; // size of the frame whose beginning sits in m_in
    size_t m_parkedAccounted = 0; // m_in's size as counted in the incomplete-frame budget
    // While processNative() runs: the end of the frame being handled and of the bytes read, so
    // that a handover can take what follows the Hello with it.
    const char *m_frameEnd = nullptr;
    const char *m_inputEnd = nullptr;
    QString m_peerAddress;
    std::chrono::steady_clock::time_point m_acceptedAt;
    qint64 m_connectedSinceMs = 0;
    std::optional<PeerLookupResult> m_peerProcess;
    pid_t m_connectingPid = 0;
    ByteQueue m_in;
    OutputQueue m_out;
    quint64 m_bytesSent = 0;       // written to the socket, for the frame boundary in m_out
    QByteArray m_unsentLegacy;     // takeUnsentLegacyFrames()
    bool m_unsentPartial = false;
    std::unique_ptr<DeliveryLedger> m_ledger;
};

const char *closeReasonName(Session::CloseReason reason);

} // namespace Kennel
