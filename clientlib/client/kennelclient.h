// KennelClient: a Qt client of the Kennel broker (docs/PROTOCOL.md). It connects, registers a
// name, sends and receives messages, and can reconnect by itself when the broker goes away.
//
// Layers: this public class (settings, signals) → a private connection object (Hello, Welcome,
// the send queue) on the library's FramedConnection (transport, decoder, timers, reconnect) → the
// pure codec in framecodec.h. Nothing of the private part is
// visible here, so the installed header only pulls in Qt and the protocol types.
//
// Threading: like any QObject, use a client from the thread it lives in.
#pragma once

#include "brokeraddress.h"
#include "framecodec.h"
#include "kennelcalls.h"
#include "kennel_export.h"

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QString>

#include <chrono>
#include <functional>

QT_BEGIN_NAMESPACE
class QIODevice;
QT_END_NAMESPACE

namespace Kennel {

namespace Internal {
class ClientConnection;
class CallBook;
}

class KENNEL_CLIENT_EXPORT KennelClient : public QObject
{
    Q_OBJECT
    Q_PROPERTY(State state READ state NOTIFY stateChanged)
    Q_PROPERTY(QByteArray name READ name WRITE setName)
    Q_PROPERTY(bool autoReconnect READ autoReconnect WRITE setAutoReconnect)

public:
    enum State {
        Disconnected, // also while waiting for an automatic reconnect (see reconnectPending())
        Connecting,   // opening the transport
        Registering,  // Hello sent, waiting for Welcome
        Registered,   // may send and receive
    };
    Q_ENUM(State)

    // 1..999 mirror Kennel::ErrorCode, the codes a broker sends in an Error frame (PROTOCOL §4.3);
    // 1000 and up are found locally. The ranges never collide, so one enum serves both. A code
    // below 1000 that this version does not name still arrives with its number (PROTOCOL §4.3:
    // keep unknown codes), hence the fixed underlying type.
    enum ClientError : int {
        NoError = 0,
        BadMagic = 1,
        UnsupportedVersion = 2,
        FrameTooLarge = 3,
        MalformedFrame = 4,
        UnknownFrameType = 5,
        InvalidName = 6,          // also found locally: the name set with setName() is not valid
        NameTaken = 7,
        NotRegistered = 8,
        AlreadyRegistered = 9,
        RegisterTimeout = 10,
        TooManyClients = 11,
        SourceMismatch = 12,
        PidMismatch = 13,
        NotPermitted = 14,
        ShuttingDown = 15,
        IncompleteFrameTimeout = 16,
        InvalidWatchdogTerms = 17,
        WatchdogUnavailable = 18,
        WatchdogExpired = 19,
        IdleTimeout = 20,
        OverBudget = 21,
        // Topics (PROTOCOL §5.5).
        InvalidTopic = 23,
        TooManySubscriptions = 24,
        ReservedTopic = 25,
        RetainedStoreFull = 26,
        UnknownProtocolError = 999, // an Error code of 1000 or more: not a valid wire code

        ConnectionRefused = 1000, // nothing listens at the address (TCP refused, no such socket)
        HostNotFound,             // the host name does not resolve
        RemoteClosed,             // the broker closed the connection or said Bye
        ProtocolViolation,        // the broker sent bytes that are not a valid frame here
        Timeout,                  // no connection and Welcome within connectTimeout()
        TransportError,           // any other socket or device failure
        InvalidAddress,           // no usable broker address and no transport set
    };
    Q_ENUM(ClientError)

    // Why a message that send() accepted (it returned its id) was never written to a broker;
    // reported by sendFailed(). These are local: no broker saw the message, so no DeliveryStatus
    // will come for it.
    enum SendFailure {
        SendQueueFull = 1, // the send queue's bound (count or bytes) was reached: not queued
        SendAbandoned,     // queued, but the client stopped trying to connect before it could be
                           // sent (disconnectFromBroker(), a refusal that retrying cannot cure, or
                           // a lost connection with no reconnect to follow)
        SendTooLarge,      // queued, but larger than the maxFrameSize of the broker it registered with
        SendOutcomeUnknown, // written to a broker that went away without a final status for it and
                            // without saying which Sends it had read (a crash, a lost network):
                            // it may or may not have been delivered, so it is not sent again
    };
    Q_ENUM(SendFailure)

    explicit KennelClient(QObject *parent = nullptr);
    // A registered client says Bye on a best-effort basis; no signals are emitted.
    ~KennelClient() override;

    // Settings take effect at the next connection attempt.
    void setBrokerAddress(const BrokerAddress &address);
    BrokerAddress brokerAddress() const;
    void setName(const QByteArray &name);
    QByteArray name() const;
    // The PID claimed in Hello; the broker cross-checks it against the peer process the kernel
    // reports (PROTOCOL §4.1). Defaults to QCoreApplication::applicationPid(); 0 claims nothing.
    void setPid(quint32 pid);
    quint32 pid() const;

    // Without a Welcome this long after connectToBroker() (or a reconnect attempt), the attempt
    // fails with Timeout. Default 10 s.
    void setConnectTimeout(std::chrono::milliseconds timeout);
    std::chrono::milliseconds connectTimeout() const;

    // When on, a connection lost after connectToBroker() is re-established with exponential
    // backoff (min, doubling up to max; the delay restarts at min once registered) and the name
    // registered again; registered() is emitted each time. No reconnect follows
    // disconnectFromBroker(), a refusal that retrying cannot cure (InvalidName,
    // UnsupportedVersion, PidMismatch, NotPermitted, InvalidAddress), or a connection over a
    // transport given with setTransport() that has no broker address to fall back on.
    // NameTaken IS retried: after a broker restart or a crash of ours, the broker may still hold
    // our previous connection for a moment.
    void setAutoReconnect(bool enable);
    bool autoReconnect() const;
    // Default 100 ms .. 5 s.
    void setReconnectBackoff(std::chrono::milliseconds min, std::chrono::milliseconds max);
    std::chrono::milliseconds reconnectBackoffMin() const;
    std::chrono::milliseconds reconnectBackoffMax() const;

    // The send queue: while the link is down — after connectToBroker(), while connecting and
    // registering, and while waiting to reconnect — send() queues the message instead of refusing
    // it, up to `maxMessages` messages and `maxBytes` bytes (the encoded frames: 16 bytes of
    // header + target + payload each). Queued messages keep the id send() returned, and are sent
    // in order, before anything newer, as soon as the client registers again; their
    // DeliveryStatus (when asked for) arrives as for any message. A message that does not fit the
    // bound is not queued: send() still returns its id, and sendFailed(id, target, SendQueueFull)
    // follows from the event loop. Lowering the bound leaves what is queued in place.
    // Off by default (0, 0): send() returns 0 while not Registered, as it always did. A board
    // application that rides out a broker restart might use setSendQueueLimits(1000, 1 << 20).
    // The queue lives in this object: it survives reconnects, not the process.
    // While the queue is on, the client also keeps what it has written until the broker gives it a
    // final status (within the same bounds; past them the oldest is no longer kept, and a warning
    // says so), so that a broker restart loses nothing: a Send the stopping broker answered
    // `shutting_down`, and every Send it says it never read (PROTOCOL ), goes back to the
    // front of the queue, keeps its id and is sent again after the next registration; its
    // `shutting_down` is not reported, the next broker's status is. A broker that vanished without
    // saying what it read (killed, or the network lost) cannot be asked: each Send that wanted a
    // status and has no final one is reported as sendFailed(SendOutcomeUnknown) and not sent
    // twice.
    void setSendQueueLimits(int maxMessages, qint64 maxBytes);
    int sendQueueMaxMessages() const;
    qint64 sendQueueMaxBytes() const;
    int queuedSendCount() const;
    qint64 queuedSendBytes() const;

    // Use `device`, already open and connected to a broker (a socket still connecting is waited
    // for), for the next connection instead of opening a socket to brokerAddress(); meant for
    // tests and unusual transports.
    // The client does not take ownership. It uses the device for one connection: when that
    // connection ends, the client closes the device and forgets it; it never deletes it. A
    // QAbstractSocket or QLocalSocket is watched for disconnection; any other device counts as
    // closed on readChannelFinished() or aboutToClose(). Deleting the device while the client uses
    // it ends the connection with TransportError. Pass nullptr to clear.
    void setTransport(QIODevice *device);
    QIODevice *transport() const;

    State state() const;
    ClientError error() const; // the cause of the last disconnection, NoError after a clean one
    QString errorString() const;
    bool reconnectPending() const;
    // From the Welcome of the current (or last) connection.
    QByteArray brokerVersion() const;
    quint32 brokerMaxFrameSize() const;
    // The optional features the broker offers (Kennel::Feature bits, PROTOCOL §4.1.1); 0 from a
    // broker that predates feature negotiation.
    quint32 brokerFeatures() const;
    bool brokerOffers(Kennel::Feature feature) const { return (brokerFeatures() & feature) == feature; }

    // Opens the transport, sends Hello and waits for Welcome. No-op while already connecting or
    // connected; cancels a pending reconnect and tries now. A missing address or an invalid name is
    // reported by errorOccurred() before this returns, and nothing is attempted. A Unix socket may
    // connect (or fail) at once, so connected() or errorOccurred() can also arrive before it returns.
    void connectToBroker();
    // Sends Bye when the broker knows us, closes the transport and cancels any pending reconnect.
    void disconnectFromBroker();

    // Sends `payload` to the client registered as `target`; returns the message id, which is
    // nonzero, increases with every message of this client object (across reconnects), and comes
    // back in deliveryStatusReceived() when `wantStatus` is set.
    // Returns 0 and sends nothing when `target` is not a valid name, the frame would exceed
    // brokerMaxFrameSize() (the last broker's, or the protocol's default before any Welcome), or
    // the client is not Registered and the message cannot be queued (the send queue is off, see
    // setSendQueueLimits(), or no connection is wanted: before connectToBroker() or after
    // disconnectFromBroker()); no signal is emitted for these, as they are the caller's to check.
    quint32 send(const QByteArray &target, const QByteArray &payload, bool wantStatus = true);

    // Asks the broker to watch this client: feed it with feedWatchdog() within the agreed interval.
    // May be called at any time: the terms are remembered, sent whenever the client registers
    // (and again after every reconnect, since a new connection starts unwatched), and confirmed
    // with watchdogRegistered() or refused with errorOccurred(InvalidWatchdogTerms or
    // WatchdogUnavailable), which leaves the connection open.
    void registerWatchdog(const Kennel::WatchdogTerms &terms);
    // False when not Registered (nothing is sent).
    bool feedWatchdog();
    // Pong arrives as pongReceived(). False when not Registered.
    bool ping();

    // --- Calls (PROTOCOL §5.6) ------------------------------------------------------------------
    // Calls `target` with `payload`; the broker answers within `timeoutMs` (0: the broker's
    // default; a longer one than its [calls] max_deadline_ms is cut to it). Never null: the
    // PendingCall's finished() brings the reply, the callee's error, the broker's failure
    // (timeout, no_such_client, callee_gone, ...) or a local one (not registered, link lost).
    // Calls are not queued while the link is down, and fail LinkLost when it drops.
    Kennel::PendingCall *call(const QByteArray &target, const QByteArray &payload, int timeoutMs = 0);
    // Serving calls: each call to this client is given to `handler` (if set), then emitted as
    // callReceived(); answer it once with IncomingCall::reply() or replyError().
    void setCallHandler(std::function<void(Kennel::IncomingCall *)> handler);
    // --- Topics: publish/subscribe (PROTOCOL §5.5; the broker must offer FeatureTopics) ---------
    // Wants the publications matching `filter` (MQTT syntax: '+' one level, '#' the rest).
    // Remembered: subscribed now when registered, and again after every (re)connection, also to a
    // restarted broker. The broker answers with subscribed() — then its retained values arrive as
    // publicationReceived(..., retained = true) — or subscriptionRefused(), which forgets the
    // filter. False, and nothing remembered, for a filter the grammar refuses.
    bool subscribe(const QByteArray &filter);
    // False if the filter was not subscribed.
    bool unsubscribe(const QByteArray &filter);
    QList<QByteArray> subscriptions() const;
    // Publishes `payload` to `topic`; `retain` keeps it as the topic's retained value (an empty
    // payload clears it). Returns the message id; 0 when not Registered, when the broker does not
    // offer topics, or for a topic the grammar refuses. With `wantStatus`, publishStatusReceived()
    // follows; without, a refusal arrives as errorOccurred() (the connection stays open).
    quint32 publish(const QByteArray &topic, const QByteArray &payload, bool retain = false, bool wantStatus = false);

Q_SIGNALS:
    void publicationReceived(const QByteArray &topic, const QByteArray &payload, const QByteArray &publisher,
                             bool retained);
    void subscribed(const QByteArray &filter, int retainedCount);
    void subscriptionRefused(const QByteArray &filter, KennelClient::ClientError error, const QString &text);
    // `result`: NoError, or why it was not published (InvalidTopic, ReservedTopic) or, delivered,
    // not retained (RetainedStoreFull). `notTaken`: subscribers whose queue was full.
    void publishStatusReceived(quint32 messageId, KennelClient::ClientError result, int delivered, int notTaken);

public:

Q_SIGNALS:
    void stateChanged(KennelClient::State state);
    void connected();                          // the transport is open; Hello is on its way
    void registered(const QByteArray &name);   // Welcome received: ready to send and receive
    // Once every message a read brought has been emitted here, the client acknowledges them to the
    // broker (PROTOCOL §5.7): their senders then hear `delivered`, and a message this process dies
    // before receiving is held again for its name instead of being lost.
    void messageReceived(const QByteArray &source, const QByteArray &payload, quint32 messageId);
    void deliveryStatusReceived(quint32 messageId, const QByteArray &target,
                                Kennel::DeliveryStatus status);
    // Connection failures (followed by stateChanged(Disconnected)) and Error frames the broker
    // sends while the connection stays open.
    void errorOccurred(KennelClient::ClientError error, const QString &text);
    void disconnected();                       // a connection that emitted connected() has ended
    void pongReceived();
    void watchdogRegistered(const Kennel::WatchdogTerms &effectiveTerms);
    void reconnectScheduled(int delayMs);
    // A message whose id send() returned will never be sent (see SendFailure); one signal per
    // message. Not emitted from the destructor, which drops the queue silently.
    void sendFailed(quint32 messageId, const QByteArray &target, KennelClient::SendFailure reason);
    // A call to this client (see setCallHandler()).
    void callReceived(Kennel::IncomingCall *call);

private:
    friend class Kennel::Internal::ClientConnection;
    friend class Kennel::Internal::CallBook;
    // A QObject child, so that moveToThread() takes the connection and its timers along.
    Kennel::Internal::ClientConnection *const d;
};

} // namespace Kennel
