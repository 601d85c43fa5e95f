// Private to the client library; not installed. The connection behind a KennelClient: owns the
// transport, the frame decoder, the handshake and reconnect timers, and the single teardown path.
#pragma once

#include "brokeraddress.h"
#include "framecodec.h"
#include "kennelclient.h"

#include <QIODevice>
#include <QLoggingCategory>
#include <QObject>
#include <QPointer>
#include <QTimer>

#include <chrono>
#include <optional>

Q_DECLARE_LOGGING_CATEGORY(lcKennelClient)

namespace Kennel::Internal {

class ClientConnection : public QObject
{
public:
    explicit ClientConnection(KennelClient *q);
    ~ClientConnection() override;

    // Settings (the public setters write them directly; they apply at the next attempt).
    BrokerAddress address;
    QByteArray name;
    quint32 pid = 0;
    std::chrono::milliseconds connectTimeout{10000};
    bool autoReconnect = false;
    std::chrono::milliseconds backoffMin{100};
    std::chrono::milliseconds backoffMax{5000};
    QPointer<QIODevice> pendingTransport; // from setTransport(), used by the next attempt
    std::optional<WatchdogTerms> watchdogTerms;

    KennelClient::State state = KennelClient::Disconnected;
    KennelClient::ClientError error = KennelClient::NoError;
    QString errorString;
    QByteArray brokerVersion;
    quint32 brokerMaxFrameSize = Wire::DefaultMaxFrameSize;
    quint32 brokerFeatures = NoFeatures;

    QIODevice *currentTransport() const { return m_transport; }
    bool reconnectPending() const { return m_reconnectTimer.isActive(); }

    void connectToBroker();
    void disconnectFromBroker();
    quint32 send(const QByteArray &target, const QByteArray &payload, bool wantStatus);
    bool sendWhenRegistered(FrameType type, QByteArrayView payload);
    void sendWatchdogTerms();
    // For the destructor of KennelClient: Bye if registered, close, and emit nothing.
    void shutdownSilently();

private:
    void startAttempt();
    void attachTransport(QIODevice *device);
    void transportConnected();
    void transportReadyRead();
    void transportFailed(KennelClient::ClientError error, const QString &text);
    void handshakeTimedOut();

    void handleFrame(const Frame &frame);
    void handleWelcome(const Frame &frame);
    void handleErrorFrame(const Frame &frame);

    // The one teardown path: every failure and every orderly close ends here, exactly once per
    // connection. NoError means the user asked for it.
    void closeConnection(KennelClient::ClientError error, const QString &text);
    void retireTransport(bool graceful);
    std::optional<std::chrono::milliseconds> scheduleReconnect(); // the delay, if one was scheduled
    bool write(const QByteArray &bytes);
    void failLater(KennelClient::ClientError error, const QString &text);
    void reportConfigError(KennelClient::ClientError error, const QString &text);
    void setState(KennelClient::State newState);

    KennelClient *const q;
    QIODevice *m_transport = nullptr;
    bool m_ownsTransport = false;
    bool m_transportUp = false;    // connected() was emitted for this connection
    bool m_wantConnection = false; // between connectToBroker() and disconnectFromBroker() or a fatal error
    // Bumped whenever a connection starts or ends. Code that emits a signal and then carries on
    // compares it afterwards: a slot may have closed or restarted the connection meanwhile.
    quint64 m_generation = 0;
    FrameDecoder m_decoder;
    QTimer m_handshakeTimer{this}; // children: moveToThread() moves them along
    QTimer m_reconnectTimer{this};
    std::chrono::milliseconds m_nextBackoff{100};
    quint32 m_lastMessageId = 0;
    // An Error frame received while registered. Brokers usually close right after one; the close
    // is then reported with this cause instead of RemoteClosed, and not a second time.
    std::optional<std::pair<KennelClient::ClientError, QString>> m_remoteError;
};

} // namespace Kennel::Internal
