// One client connection: its descriptor, its input remainder and output backlog, and which protocol
// it speaks. A Session moves bytes and frames; what a frame means is decided by NativeHandler and
// LegacyHandler, where a message goes by Router.
#pragma once

#include "bytequeue.h"
#include "eventpoller.h"
#include "frame.h"
#include "peerprocess.h"
#include "router.h"
#include "trafficcounters.h"

#include <QByteArray>
#include <QString>

#include <chrono>
#include <optional>

namespace Kennel {

struct BrokerContext;
struct NameEntry;

class Session final : public PollHandler
{
public:
    enum class Transport : quint8 { Tcp, Unix };
    enum class Protocol : quint8 { Unknown, Native, Legacy };
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
    };

    Session(BrokerContext &context, int fd, quint64 id, Transport transport, QString peerAddress);
    ~Session() override;

    bool start();

    quint64 id() const { return m_id; }
    int fd() const { return m_fd; }
    Transport transport() const { return m_transport; }
    Protocol protocol() const { return m_protocol; }
    Kind kind() const { return m_kind; }
    bool isOpen() const { return m_fd >= 0; }
    const QString &peerAddress() const { return m_peerAddress; }
    // The registered (or, for a legacy main connection, bound) name; empty while Pending.
    const QByteArray &name() const { return m_name; }
    NameEntry *nameEntry() const { return m_entry; }
    std::chrono::steady_clock::time_point acceptedAt() const { return m_acceptedAt; }
    QString describe() const;

    void setIdentity(Kind kind, QByteArray name, NameEntry *entry);
    void setClaimedPid(quint32 pid) { m_claimedPid = pid; }
    quint32 claimedPid() const { return m_claimedPid; }

    // The process on the other end, established from the kernel and cached.
    const PeerLookupResult &peerProcess();
    // Both connections belong to one process instance (a legacy client's two connections).
    bool sameProcessAs(Session &other);
    // The peer hung up or reset but the broker has not read that yet: the name can be taken over.
    bool isPeerGone() const;

    // --- output ---------------------------------------------------------------------------
    size_t pendingOutput() const { return m_out.size(); }
    // Room for `n` bytes at the end of the output; commitOutput() publishes them for the next flush.
    char *reserveOutput(size_t n);
    void commitOutput(size_t n);
    void sendFrame(FrameType type, quint32 messageId, QByteArrayView source, QByteArrayView target,
                   QByteArrayView payload);
    // An Error frame to a native peer (and the log line); the connection stays open unless
    // `close` says otherwise. Legacy peers have no error channel: they are logged and, if
    // `close`, disconnected.
    void refuse(ErrorCode code, const QString &text, quint32 messageId = 0, bool close = false);

    // The one teardown path: leave epoll and the routing table, close, hand to the owner.
    void close(CloseReason reason, const QString &detail = {});
    // Graceful: stop reading, flush what is queued, then close (used by Bye and shutdown).
    void closeAfterFlush(CloseReason reason);

    TrafficCounters counters;
    RouteCache routeCache;

    void pollEvent(uint32_t events) override;
    void flushOutput() override;

private:
    void readInput();
    size_t processInput(const char *data, size_t size);
    size_t processNative(const char *data, size_t size);
    size_t processLegacy(const char *data, size_t size);
    void updatePollEvents();

    BrokerContext &m_ctx;
    int m_fd;
    quint64 m_id;
    Transport m_transport;
    Protocol m_protocol = Protocol::Unknown;
    Kind m_kind = Kind::Pending;
    uint32_t m_pollEvents = 0;
    bool m_inputPaused = false;
    bool m_closing = false;
    CloseReason m_closeReason = CloseReason::PeerClosed;
    quint32 m_claimedPid = 0;
    size_t m_inputNeed = 0; // size of the frame whose beginning sits in m_in
    QByteArray m_name;
    NameEntry *m_entry = nullptr;
    QString m_peerAddress;
    std::chrono::steady_clock::time_point m_acceptedAt;
    std::optional<PeerLookupResult> m_peerProcess;
    ByteQueue m_in;
    ByteQueue m_out;
};

const char *closeReasonName(Session::CloseReason reason);

} // namespace Kennel
