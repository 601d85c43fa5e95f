// One monitor's connection (PROTOCOL §6), over any QIODevice: a QTcpSocket or QLocalSocket the hub
// made from a client listener's descriptor, or a TCP/TLS/Unix socket from a monitor-only listener.
// Unlike client sessions this is Qt socket I/O: monitors are few, and a monitor's output is a
// stream of small frames the broker writes when something happens, not a forwarding path.
//
// This class speaks the frames — the Hello, the order of things, refusals, output and its bound,
// the traffic batch — and asks MonitorHub for everything that needs the broker (admission, the
// snapshot, control). Why the bound looks like this (the monitor must never slow routing or grow
// memory):
// - Output goes through QIODevice::write(); bytesToWrite() is the queue. Traffic records are
//   appended to a batch in place (no allocation per record once the batch has grown) and written
//   as one Traffic frame every ~100 ms or at ~64 KiB.
// - A record is counted, not queued, when the monitor's records per second are used up or its
//   queue has reached maxQueueBytes; a TrafficDropped frame with the count follows once there is
//   room again.
// - Events and snapshots are never dropped; a monitor whose queue passes 2 x maxQueueBytes anyway
//   (it stopped reading) is disconnected — checked after a snapshot too, with that one snapshot
//   allowed on top until the queue drains below maxQueueBytes, and a Subscribe that arrives while
//   the queue holds maxQueueBytes or more is refused rather than answered with another snapshot
//   (pipelined Subscribes once queued 330 MB against the bound).
// - Every connection's queue counts towards the broker-wide monitor budget
//   (BudgetLedger::monitorQueues); past it the hub disconnects the monitor with the largest queue.
// - Until the Hello is answered nothing behind it is read (Qt's read buffer is bounded), so a
//   monitor waiting for its credentials to be checked cannot make the broker buffer its input.
#pragma once

#include "framecodec.h"
#include "router.h"
#include "monitorcodec.h"

#include <QByteArray>
#include <QObject>
#include <QString>
#include <QTimer>

#include <functional>
#include <optional>
#include <sys/types.h>
#include <unordered_map>

class QIODevice;

namespace Kennel {

class MonitorHub;

class MonitorConnection : public QObject
{
    Q_OBJECT
public:
    enum class State : quint8 {
        AwaitingHello,  // the first frame must be a Hello with role monitor
        Authenticating, // MonitorAuthenticator decides; nothing is read meanwhile; refused after admission_timeout
        Admitted,       // Welcome sent: Subscribe, Control, Ping, Bye
        Closing,        // Error or Bye sent; flushing, then closed (bounded by CloseTimeout)
    };

    struct Peer
    {
        QString display;             // for logs and people: "127.0.0.1:5555", "unix pid 42 uid 1000"
        QString address;             // for the authenticator: the IP, or "unix"
        bool isUnix = false;
        std::optional<uid_t> uid;    // Unix peers: SO_PEERCRED
        std::optional<pid_t> pid;    // Unix peers: SO_PEERCRED (who connected; services are not operators)
        bool monitorListener = false;// came in on a monitor-only listener (else handed over by a client listener)
    };

    // How long a closing connection may take to flush its last frames before it is cut.
    static constexpr int CloseTimeoutMs = 2000;
    // Traffic: a batch is written at least this often, and at once when it reaches BatchBytes.
    static constexpr int BatchIntervalMs = 100;
    static constexpr qsizetype BatchBytes = 64 * 1024;
    // A Hello with a bad name may be repeated (PROTOCOL §4.1), but not forever.
    static constexpr int MaxHelloAttempts = 3;

    // Takes `device` (reparents it to this object). Nothing is read before start().
    MonitorConnection(MonitorHub &hub, QIODevice *device, Peer peer, QObject *parent = nullptr);
    ~MonitorConnection() override;

    // Starts reading. `hello`: the Hello a client listener already decoded (a handover), with the
    // bytes the peer sent behind it in `unread`; without it the Hello is read from the device.
    void start(const std::optional<Frame> &hello = std::nullopt, const QByteArray &unread = {});

    State state() const { return m_state; }
    bool isAdmitted() const { return m_state == State::Admitted; }
    const QByteArray &name() const { return m_name; }
    const Peer &peer() const { return m_peer; }
    const QString &admittedHow() const { return m_admittedHow; }
    // What it may do (PROTOCOL §6.6), decided with its admission; ReadOnly until admitted.
    MonitorRole role() const { return m_role; }
    QString describe() const; // "monitor 'ops' (127.0.0.1:5555)"

    // --- decisions of the hub ------------------------------------------------------------
    void admit(const QString &how, MonitorRole role, quint32 helloMessageId, QByteArrayView welcomePayload);
    // An Error frame and a log line; closes after flushing if `close`.
    void refuse(ErrorCode code, const QString &text, quint32 messageId, bool close);

    // --- the stream ------------------------------------------------------------------------
    // Subscribed: the snapshot follows; traffic terms as granted by the hub.
    void setSubscription(bool wantTraffic, int previewBytes, int maxPerSecond);
    bool isSubscribed() const { return m_subscribed; }
    bool wantsTraffic() const { return m_subscribed && m_wantTraffic; }
    // Publications and calls as their own records (PROTOCOL §6.8) rather than as traffic to
    // "topic:TOPIC"; also what decides whether the monitor is sent Topics records.
    void setBusRecords(bool want) { m_wantBusRecords = want; }
    bool wantsBusRecords() const { return m_subscribed && m_wantBusRecords; }
    // A frame that is never dropped (snapshot, events, control results). A pending traffic batch
    // is written first so that the monitor sees things in the order they happened.
    void sendEvent(FrameType type, quint32 messageId, QByteArrayView source, QByteArrayView payload);
    // One traffic record: batched, or counted as dropped (rate cap, full queue). Never closes the
    // connection or emits anything synchronously: it runs inside the router's message path.
    // `heldMs` >= 0: a held message's final outcome, held that long (PROTOCOL ).
    void recordTraffic(qint64 timeUs, QByteArrayView source, QByteArrayView target, QByteArrayView payload,
                       DeliveryStatus status, qint64 heldMs = -1);
    // A publication and an ended call, under the same rate cap and queue bound as traffic.
    void recordPublication(qint64 timeUs, QByteArrayView publisher, const TrafficTap::Publication &publication);
    void recordCall(qint64 timeUs, const TrafficTap::CallEnd &call);
    // While a snapshot is written the queue bound is not enforced: a snapshot is one burst the
    // monitor asked for, larger than any event, and Qt writes it out from the next loop pass.
    // The bound is checked once the snapshot is complete.
    void setSnapshotInProgress(bool inProgress);
    // Bytes waiting to be written, the unsent traffic batch included.
    qint64 queuedBytes() const;
    quint64 trafficRecordsSent() const { return m_recordsSent; }
    quint64 trafficRecordsDropped() const { return m_recordsDropped; }
    // What the monitor was last sent about each client (MonitorHub's once-a-second refresh).
    std::unordered_map<quint64, quint64> &clientSignatures() { return m_clientSignatures; }

    // Bye with `reason`, flush, close.
    void closeWithBye(const QString &reason);
    // Disconnected at once (the hub sheds it over the monitor budget), with an Error frame as far
    // as the socket takes it and a log line.
    void shed(ErrorCode code, const QString &why);

signals:
    // The connection is gone; the object deletes itself later. Emitted once.
    void finished(Kennel::MonitorConnection *connection);

private:
    void readInput();
    bool processBuffered();
    void handleFrame(const Frame &frame);
    void handleHello(const Frame &frame);
    void handleAdmitted(const Frame &frame);
    void writeFrame(FrameType type, quint32 messageId, QByteArrayView source, QByteArrayView target,
                    QByteArrayView payload);
    void checkQueueBound();
    // Brings this connection's share of the monitor budget up to date with its queue.
    void syncBudget();
    void flushTraffic();
    void armTrafficFlush();
    // The rate cap and the queue bound for one record; false: counted as dropped.
    bool admitRecord(qint64 timeUs);
    // Appends to a bus batch (publications or calls), flushing first when it would not fit.
    void appendBusRecord(QByteArray &batch, quint16 &count, qsizetype recordMax, const std::function<void(QByteArray &)> &append);
    void closeGracefully();
    void abortNow(const QString &why);
    void finish();

    MonitorHub &m_hub;
    QIODevice *m_device;
    Peer m_peer;
    State m_state = State::AwaitingHello;
    FrameDecoder m_decoder;
    QByteArray m_name;
    QString m_admittedHow;
    MonitorRole m_role = MonitorRole::ReadOnly;
    int m_helloAttempts = 0;
    quint32 m_helloMessageId = 0;
    bool m_finished = false;
    bool m_overflowed = false;
    bool m_inSnapshot = false;
    qint64 m_budgetAccounted = 0; // queued bytes as counted in the monitor budget
    // The last snapshot, allowed on top of the bound until the queue has drained below
    // maxQueueBytes: with many clients one snapshot may be larger than the bound itself.
    qint64 m_snapshotStart = 0;
    qint64 m_snapshotAllowance = 0;
    QTimer m_helloTimer;
    QTimer m_closeTimer;

    // Stream
    bool m_subscribed = false;
    bool m_wantTraffic = false;
    int m_previewBytes = 0;
    int m_maxPerSecond = 0;
    qint64 m_maxQueueBytes = 0;
    qsizetype m_batchLimit = BatchBytes;
    QByteArray m_batch;           // a Traffic payload being built: u16 count, records
    quint16 m_batchRecords = 0;
    bool m_wantBusRecords = false;
    QByteArray m_publicationBatch; // a Publications payload being built: u16 count, records
    quint16 m_publicationRecords = 0;
    QByteArray m_callBatch;        // a Calls payload being built
    quint16 m_callRecords = 0;
    QByteArray m_heldTrailer;     // the batch's held outcomes (PROTOCOL ), appended at the flush
    qint64 m_rateSecond = 0;      // the wall-clock second m_rateCount counts in
    int m_rateCount = 0;
    quint32 m_droppedUnreported = 0;
    quint64 m_recordsSent = 0;
    quint64 m_recordsDropped = 0;
    QTimer m_trafficTimer;
    std::unordered_map<quint64, quint64> m_clientSignatures;
};

} // namespace Kennel
