// MonitorLink: kennel-monitor's one connection to a broker's monitor stream (PROTOCOL §4.1, §6).
//
// A FramedConnection (the client library's transport, decoder, keepalive, deadlines, reconnect and
// TLS trust: QTcpSocket, QSslSocket when TLS is on, QLocalSocket for unix:PATH) that says Hello
// with role Monitor and the token, subscribes once welcomed, decodes the records with monitorcodec,
// and hands every record on as a typed signal. It
// also sends the operator's control requests. It knows nothing of models or widgets: MonitorFeed
// batches its signals into the models, and tests plug a fake device in with setTransport().
//
// Lifecycle: Disconnected -> Connecting -> (Encrypting) -> Authenticating -> Live; a lost
// connection goes to Reconnecting and is tried again with a jittered, doubling delay. Refusals that
// a retry cannot cure (a refused token, a certificate that does not match the pin) stop there, in
// Disconnected with lastError() saying why: hammering a broker with a wrong token only lengthens its
// penalty.
//
// The token is written to the transport only once the transport is what the user asked for: over
// TLS, after the handshake and the certificate check (verified chain or matching pin).
#pragma once

#include "brokeraddress.h"
#include "framecodec.h"
#include "framedconnection.h"
#include "monitorcodec.h"

#include <QByteArray>
#include <QList>
#include <QString>

#include <chrono>
#include <optional>

QT_BEGIN_NAMESPACE
class QSslCertificate;
QT_END_NAMESPACE

namespace Kennel {

class MonitorLink : public FramedConnection
{
    Q_OBJECT
    Q_PROPERTY(State state READ state NOTIFY stateChanged)

public:
    enum class State {
        Disconnected,   // not connected and not trying (see lastError() for why)
        Connecting,     // opening the socket
        Encrypting,     // TLS handshake and certificate check
        Authenticating, // Hello with the token sent, waiting for Welcome
        Live,           // welcomed and subscribed: the stream flows
        Reconnecting,   // the connection was lost; the next attempt is scheduled
    };
    Q_ENUM(State)

    // How a TLS broker's certificate is trusted.
    enum class TlsTrust {
        SystemCas, // a chain to the system's CA store, and the host name must match
        CaFile,    // a chain to the CA certificates in Settings::caFile only, and the host name
        Pinned,    // exactly the certificate whose SHA-256 is Settings::pinnedSha256; no chain check
    };
    Q_ENUM(TlsTrust)

    struct Settings
    {
        BrokerAddress address;
        QByteArray token;               // sent in Hello; empty for Unix peers admitted by credentials
        bool tls = false;               // TCP only; a Unix socket is never encrypted
        TlsTrust trust = TlsTrust::SystemCas;
        QString caFile;                 // PEM, for TlsTrust::CaFile
        QByteArray pinnedSha256;        // 32 raw bytes, for TlsTrust::Pinned
        QByteArray name;                // the Hello's source; empty: "kennel-monitor-PID"
        MonitorSubscribe subscribe;
        bool autoReconnect = true;
        std::chrono::milliseconds backoffMin{500};
        std::chrono::milliseconds backoffMax{10000};
        // Connect + TLS + Welcome must fit in this, else the attempt is abandoned and retried.
        std::chrono::milliseconds handshakeTimeout{10000};
        // Frames larger than this end the connection: a ceiling against a broken peer, far above
        // any monitor frame (traffic batches are some 64 KiB).
        quint32 maxIncomingFrameSize = 16 * 1024 * 1024;
        // A broker sends Totals every second or so. After a third of this with nothing received
        // the link pings; after all of it the connection counts as dead (a cable pulled, a board
        // frozen: TCP alone would take many minutes to say so).
        std::chrono::milliseconds idleTimeout{15000};
    };

    explicit MonitorLink(QObject *parent = nullptr);
    ~MonitorLink() override;

    // Takes effect at the next open().
    void setSettings(const Settings &settings);
    const Settings &settings() const { return m_settings; }

    // FramedConnection::setTransport(device): use `device`, already open, for the next connection
    // instead of opening a socket (tests, and unusual transports). The link does not own it and
    // uses it once; no reconnect follows unless the settings hold a usable address.

    State state() const { return m_state; }
    static QString stateName(State state);
    // One line for the status bar: the state, where to, and why when it is not Live.
    QString statusText() const;
    QString lastError() const { return m_lastError; }
    QString brokerVersion() const { return m_brokerVersion; }
    QString monitorIdentity() const { return m_monitorIdentity; } // from the snapshot: how we were admitted
    // Milliseconds until the next attempt while Reconnecting; -1 otherwise.
    qint64 msUntilReconnect() const;
    quint64 malformedFrames() const { return m_malformedFrames; }

    // Starts connecting (cancels a scheduled retry and tries now). Reports a bad configuration
    // (no address, unreadable CA file, bad pin) through lastError() and stateChanged.
    void open();
    // Says Bye if connected, closes, and stops retrying.
    void close();

    // Control requests (PROTOCOL §6, MonitorControl). Each returns the request's messageId, which
    // comes back with controlResult(), or 0 when not Live (nothing is sent).
    quint32 disconnectClient(const QByteArray &clientName);
    quint32 sendTestMessage(const QByteArray &clientName, const QByteArray &text);
    quint32 restartService(const QString &serviceName);
    quint32 stopService(const QString &serviceName);
    quint32 startService(const QString &serviceName);
    quint32 sendControl(const MonitorControl &control);
    // Topics and calls (PROTOCOL §6.8), and a service's output (§6.5): requests answered by
    // subscriptionsReceived() and serviceOutputReceived() with the returned id (0: not Live).
    quint32 requestSubscriptions(quint64 sessionId);
    quint32 requestServiceOutput(const MonitorServiceOutputRequest &request);

    // "AB:CD:..." upper-case hex, the form users compare with `openssl x509 -fingerprint -sha256`.
    static QString formatFingerprint(const QByteArray &sha256);
    // Accepts 64 hex digits with or without ':' or spaces; nullopt otherwise.
    static std::optional<QByteArray> parseFingerprint(const QString &text);
    static QByteArray certificateSha256(const QSslCertificate &certificate);

Q_SIGNALS:
    void stateChanged(Kennel::MonitorLink::State state);
    void welcomed(const QString &brokerVersion);
    void snapshotBegan(const Kennel::MonitorSnapshotBegin &snapshot);
    void snapshotEnded();
    void clientUpdated(const Kennel::MonitorClient &client);
    void clientGone(const Kennel::MonitorClientGone &gone);
    void serviceUpdated(const Kennel::MonitorService &service);
    void watchdogEvent(const Kennel::MonitorWatchdogEvent &event);
    void trafficBatch(const QList<Kennel::MonitorTrafficRecord> &records);
    void trafficDropped(const Kennel::MonitorTrafficDropped &dropped);
    void totals(const Kennel::MonitorTotals &totals);
    // What is held for a name (PROTOCOL §6.7); count 0: its queue emptied.
    void held(const Kennel::MonitorHeld &held);
    void controlResult(quint32 requestId, const Kennel::MonitorControlResult &result);
    // Publications and ended calls (asked for in the Subscribe), the topics' figures, and answers.
    void publicationBatch(const QList<Kennel::MonitorPublicationRecord> &records);
    void callBatch(const QList<Kennel::MonitorCallRecord> &records);
    void topicsReceived(const Kennel::MonitorTopics &topics);
    void subscriptionsReceived(quint32 requestId, const Kennel::MonitorSubscriptions &subscriptions);
    void serviceOutputReceived(quint32 requestId, const Kennel::MonitorServiceOutput &output);
    // An Error frame from the broker, code and text as sent. Local failures (socket errors, TLS
    // refusals, protocol violations) are not signalled here: they end the connection, so they
    // arrive as stateChanged() with lastError() saying why.
    void errorReceived(Kennel::ErrorCode code, const QString &text);

protected:
    void attemptStarted() override;
    void encryptionStarted() override;
    void transportReady() override;
    void frameReceived(const Frame &frame) override;
    void transportLost(Failure failure, const QString &text) override;

private:
    enum class Cause { Requested, Lost, Fatal };

    void handleWelcome(const Frame &frame);
    void handleError(const Frame &frame);
    void handleMonitorFrame(const Frame &frame);
    void noteMalformed(const Frame &frame);

    // Every failure and every close ends here, once per connection (then in
    // FramedConnection::endConnection()).
    void closeConnection(Cause cause, const QString &text);
    void setState(State state);

    Settings m_settings;
    State m_state = State::Disconnected;
    QString m_lastError;
    QString m_lastLoggedFailure;
    QString m_brokerVersion;
    QString m_monitorIdentity;
    quint64 m_malformedFrames = 0;
};

} // namespace Kennel
