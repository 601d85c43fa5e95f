// Private to the client library; not installed. The connection behind a KennelClient: a
// FramedConnection (transport, decoder, timers, reconnect, the one teardown) that says Hello as a
// client, reads the Welcome and turns frames into KennelClient's signals.
#pragma once

#include "brokeraddress.h"
#include "framecodec.h"
#include "framedconnection.h"
#include "kennelclient.h"
#include "topicsubscriptions.h"

#include <QIODevice>
#include <QLoggingCategory>

#include <chrono>
#include <deque>
#include <optional>

Q_DECLARE_LOGGING_CATEGORY(lcKennelClient)

namespace Kennel::Internal {

class CallBook;

class ClientConnection : public FramedConnection
{
public:
    explicit ClientConnection(KennelClient *q);
    ~ClientConnection() override;

    // Settings (the public setters write them directly, or into options(); they apply at the next
    // attempt).
    QByteArray name;
    quint32 pid = 0;
    std::optional<WatchdogTerms> watchdogTerms;
    int queueMaxMessages = 0; // the send queue is off while either bound is 0
    qint64 queueMaxBytes = 0;

    KennelClient::State state = KennelClient::Disconnected;
    KennelClient::ClientError error = KennelClient::NoError;
    QString errorString;
    QByteArray brokerVersion;
    quint32 brokerMaxFrameSize = Wire::DefaultMaxFrameSize;
    quint32 brokerFeatures = NoFeatures;
    CallBook *calls = nullptr; // KennelClient::call() and served calls (callbook.h); a child of the client

    void connectToBroker();
    void disconnectFromBroker();
    quint32 send(const QByteArray &target, const QByteArray &payload, bool wantStatus);
    bool sendWhenRegistered(FrameType type, QByteArrayView payload);
    void sendWatchdogTerms();
    // Topics (topicsubscriptions.h): registered with a broker that offers them.
    TopicSubscriptions topics;
    bool topicsLive() const { return state == KennelClient::Registered && (brokerFeatures & FeatureTopics); }
    quint32 publish(const QByteArray &topic, const QByteArray &payload, bool retain, bool wantStatus);
    std::size_t queuedCount() const { return m_queue.size(); }
    qint64 queuedBytes() const { return m_queuedBytes; }
    // For the destructor of KennelClient: Bye if registered, close, and emit nothing.
    void shutdownSilently();

protected:
    void attemptStarted() override;
    void transportReady() override;
    void frameReceived(const Frame &frame) override;
    void framesHandled() override;
    void transportLost(Failure failure, const QString &text) override;

private:
    void handleWelcome(const Frame &frame);
    void handleErrorFrame(const Frame &frame);

    // Every failure and every orderly close ends here, exactly once per connection (then in
    // FramedConnection::endConnection()). NoError means the user asked for it.
    void closeConnection(KennelClient::ClientError error, const QString &text);
    // The send queue (KennelClient::setSendQueueLimits()).
    bool linkWanted() const;
    quint32 enqueue(const QByteArray &target, QByteArray frame, quint32 id, bool wantStatus);
    // Writes what is queued, in order, on a connection that has just been welcomed.
    void flushQueue();
    // No connection will come to send them: each queued message is reported lost.
    void abandonQueue();
    // What was written and is still unconfirmed (see KennelClient::setSendQueueLimits()).
    bool keepsUnconfirmed() const { return queueMaxMessages > 0 && queueMaxBytes > 0; }
    void keepUnconfirmed(quint32 id, const QByteArray &target, const QByteArray &frame, bool wantStatus);
    // A DeliveryStatus arrived: false when it is a `shutting_down` this client will send again
    // after it (and so must not be reported).
    bool confirm(quint32 id, DeliveryStatus status);
    // The connection ended: what the broker did not take goes back to the front of the queue.
    void reclaimUnconfirmed();
    void reportConfigError(KennelClient::ClientError error, const QString &text);
    void setState(KennelClient::State newState);

    KennelClient *const q;
    // An Error frame received while registered. Brokers usually close right after one; the close
    // is then reported with this cause instead of RemoteClosed, and not a second time.
    std::optional<std::pair<KennelClient::ClientError, QString>> m_remoteError;

    struct QueuedSend
    {
        quint32 id;
        QByteArray target;
        QByteArray frame; // encoded, ready to write
        bool wantStatus = true;
    };
    std::deque<QueuedSend> m_queue;
    // Written on this connection, no final status yet (keepsUnconfirmed()), oldest first.
    struct Unconfirmed
    {
        QueuedSend send;
        bool notTaken = false; // answered shutting_down: sent again after the next registration
    };
    std::deque<Unconfirmed> m_unconfirmed;
    qint64 m_unconfirmedBytes = 0;
    quint64 m_unconfirmedForgotten = 0; // past the bound since the last warning
    // PROTOCOL: the id of the last Send the stopping broker read on this connection.
    std::optional<quint32> m_shutdownMark;
    qint64 m_queuedBytes = 0;
    quint64 m_refusedWhileDown = 0; // by the bound, since the link went down: logged once, summed up at registration

    // Receiver acknowledgement (PROTOCOL §5.7): Deliver frames emitted to the application since
    // the Welcome, and how many of them the broker has been told of. One DeliverAck per read.
    quint32 m_delivered = 0;
    quint32 m_acknowledged = 0;
};

} // namespace Kennel::Internal
