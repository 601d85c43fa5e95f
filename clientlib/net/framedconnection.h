// FramedConnection: one connection to a broker that speaks native frames, with the life cycle every
// peer of the broker needs — KennelClient's connection, kennel-monitor's MonitorLink, and whatever
// else talks to a broker from a program (kennelctl, a bridge).
//
// It opens the transport (TCP, TLS with a CA or a pinned certificate, a Unix socket, or a device
// given with setTransport()), decodes frames with the pure FrameDecoder, answers nothing by itself
// but pings when the line has been quiet (optional), gives the handshake a deadline, reconnects with
// a doubling (optionally jittered) backoff, and ends every connection through one teardown path.
// What is said on it — the Hello, the Welcome, the frames after — is the subclass's: it implements
// the hooks below and calls endConnection() when it decides a connection is over.
//
// Private to the client library's build tree (not installed); exported so that the monitor and the
// tools in this repository link it.
//
// Re-entrancy: the hooks may end or restart the connection. Code that calls a hook or emits a
// signal and then carries on compares generation() before and after.
#pragma once

#include "brokeraddress.h"
#include "framecodec.h"
#include "kennel_export.h"

#include <QByteArray>
#include <QElapsedTimer>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QSslConfiguration>
#include <QString>
#include <QTimer>

#include <chrono>
#include <optional>

QT_BEGIN_NAMESPACE
class QIODevice;
class QLoggingCategory;
class QSslCertificate;
class QSslError;
class QSslSocket;
QT_END_NAMESPACE

namespace Kennel {

class KENNEL_CLIENT_EXPORT FramedConnection : public QObject
{
    Q_OBJECT

public:
    enum class Phase {
        Idle,        // no connection (maybe a reconnect is scheduled)
        Connecting,  // opening the transport
        Encrypting,  // TLS handshake and certificate check
        Handshaking, // the transport is up; the subclass said Hello and waits for its answer
        Established, // the subclass called handshakeDone()
    };
    Q_ENUM(Phase)

    // Why the transport gave up; the subclass maps it onto its own errors.
    enum class Failure {
        Refused,           // nothing listens at the address (TCP refused, no such socket)
        HostNotFound,      // the host name does not resolve
        RemoteClosed,      // the peer closed the connection
        Timeout,           // a socket timeout, or no handshakeDone() within handshakeTimeout
        TransportError,    // any other socket or device failure (also: a short write)
        ProtocolViolation, // bytes that are no valid frame
        Untrusted,         // TLS: the certificate is not trusted or not the pinned one
        IdleTimeout,       // nothing received for idleTimeout
    };
    Q_ENUM(Failure)

    struct Options
    {
        BrokerAddress address;
        bool tls = false;                 // TCP only; a Unix socket is never encrypted
        QSslConfiguration tlsConfiguration = QSslConfiguration::defaultConfiguration();
        QByteArray pinnedSha256;          // non-empty: the broker's certificate must be this one
        // Connect (+ TLS) + the subclass's handshake must fit in this.
        std::chrono::milliseconds handshakeTimeout{10000};
        bool autoReconnect = false;
        std::chrono::milliseconds backoffMin{100};
        std::chrono::milliseconds backoffMax{5000};
        // Up to ±25% on every delay: after a broker restart, a room full of peers should not all
        // knock in the same millisecond.
        bool backoffJitter = false;
        // Frames larger than this end the connection (the decoder's limit, fixed per attempt).
        quint32 maxIncomingFrameSize = Wire::DefaultMaxFrameSize;
        // 0: off. Otherwise, after a third of it with nothing received a Ping is sent, and after
        // all of it the connection ends with IdleTimeout (TCP alone would take many minutes to
        // notice a pulled cable).
        std::chrono::milliseconds idleTimeout{0};
        bool lowDelay = false;    // TCP_NODELAY: small messages are the product, latency matters
        bool tcpKeepAlive = false;
    };

    // `log` is the owner's logging category, so that its log rules keep covering its connection.
    FramedConnection(const QLoggingCategory &(*log)(), QObject *parent = nullptr);
    ~FramedConnection() override;

    Options &options() { return m_options; }
    const Options &options() const { return m_options; }

    // Use `device`, already open or connecting, for the next attempt instead of opening a socket.
    // Not owned, used once; its destruction ends the connection with TransportError.
    void setTransport(QIODevice *device) { m_pendingTransport = device; }
    QIODevice *pendingTransport() const { return m_pendingTransport.data(); }
    QIODevice *transport() const { return m_transport; }
    bool usesGivenTransport() const { return m_transport && !m_ownsTransport; }
    // Where this connection goes, for messages: the address, or "the given transport".
    QString peerText() const;

    Phase phase() const { return m_phase; }
    bool isTransportUp() const { return m_transportUp; }
    bool reconnectPending() const { return m_reconnectTimer.isActive(); }
    qint64 msUntilReconnect() const { return m_reconnectTimer.isActive() ? m_reconnectTimer.remainingTime() : -1; }
    // Nonzero, increasing per connection object (across reconnects), wrapping around 0.
    quint32 nextMessageId();
    quint64 generation() const { return m_generation; }
    // True for a Unix address, or TCP with a port.
    static bool isUsable(const BrokerAddress &address);

    // Starts an attempt now (cancelling a scheduled one) and keeps wanting a connection until
    // stopRetrying() or an endConnection() without retry.
    void open();
    void stopRetrying();
    // Writes a whole frame; a short write ends the connection later (not under the caller).
    bool write(const QByteArray &bytes);
    bool writeFrame(FrameType type, quint32 messageId, quint16 flags, QByteArrayView source,
                    QByteArrayView target, QByteArrayView payload);
    // For destructors: Bye if the transport is up, close, and call no hook.
    void shutdownQuietly();

    // "AB:CD:..." upper-case hex, the form users compare with `openssl x509 -fingerprint -sha256`.
    static QString formatFingerprint(const QByteArray &sha256);
    static QByteArray certificateSha256(const QSslCertificate &certificate);

protected:
    // The subclass's handshake succeeded: stops the deadline, resets the backoff.
    void handshakeDone();

    struct Ended
    {
        bool wasUp = false; // the transport had come up (transportReady() was called)
        std::optional<std::chrono::milliseconds> reconnectDelay; // scheduled before this returns
    };
    // The one teardown path: stops the timers, closes the transport (gracefully: flushing what is
    // written), resets the decoder and, when `retry` and a connection is still wanted, schedules
    // the next attempt. Without `retry` no connection is wanted any more.
    Ended endConnection(bool graceful, bool retry);

    // Hooks, in the order of a connection's life.
    virtual void attemptStarted() {}           // the transport is attached; it is being opened
    virtual void encryptionStarted() {}        // TLS handshake under way
    virtual void transportReady() = 0;         // open (and trusted): say Hello
    virtual void frameReceived(const Frame &frame) = 0;
    // Every complete frame of one read has been handed to frameReceived() (e.g. to acknowledge them at once).
    virtual void framesHandled() {}
    // The transport failed or timed out; the subclass ends the connection (endConnection()).
    virtual void transportLost(Failure failure, const QString &text) = 0;

private:
    void startAttempt();
    void attachTransport(QIODevice *device);
    void transportConnected();
    void transportEncrypted();
    void becomeUp(); // connected (and trusted): start the keepalive, call transportReady()
    void transportSslErrors(const QList<QSslError> &errors);
    void transportReadyRead();
    void transportFailed(Failure failure, const QString &text);
    void handshakeTimedOut();
    void keepaliveTick();
    void failLater(Failure failure, const QString &text);
    bool pinMatches(QSslSocket *socket, QString *why) const;
    void retireTransport(bool graceful);

    const QLoggingCategory &(*const m_log)();
    Options m_options;
    Phase m_phase = Phase::Idle;
    QPointer<QIODevice> m_pendingTransport;
    QIODevice *m_transport = nullptr;
    bool m_ownsTransport = false;
    bool m_transportUp = false;
    bool m_wantConnection = false;
    quint64 m_generation = 0;
    FrameDecoder m_decoder;
    QTimer m_handshakeTimer{this}; // children: moveToThread() moves them along
    QTimer m_reconnectTimer{this};
    QTimer m_keepaliveTimer{this};
    QElapsedTimer m_sinceLastReceived;
    std::chrono::milliseconds m_nextBackoff{100};
    quint32 m_lastMessageId = 0;
};

} // namespace Kennel
