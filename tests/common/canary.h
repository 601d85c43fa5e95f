// Test support: a canary pair. Two clients of the client library, "canary-tx" and "canary-rx",
// exchange sequenced, timestamped messages at a steady rate over the broker while a test attacks
// it. The verdict says whether every message was delivered, in order, each within the latency
// bound, with a Delivered status for every one — the proof that an attack cost nobody else
// anything. It runs on the test's event loop: a test that blocks that loop stalls the canary.
#pragma once

#include <QByteArray>
#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <QTimer>

#include <chrono>

namespace Kennel {
class KennelClient;
}

namespace KennelTest {

class Canary : public QObject
{
    Q_OBJECT
public:
    struct Options
    {
        QString brokerAddress;                         // e.g. "127.0.0.1:PORT" or "unix:/path"
        QByteArray senderName = "canary-tx";
        QByteArray receiverName = "canary-rx";
        std::chrono::milliseconds interval{20};        // one message per interval
        std::chrono::milliseconds latencyBound{500};   // each message, send to receipt
        int payloadSize = 100;
    };

    explicit Canary(QObject *parent = nullptr);
    ~Canary() override;

    // Connects and registers both clients, then starts sending. Waits (processing events) up to
    // 10 s for both to register; false if they did not.
    bool start(const Options &options);
    // Stops sending and waits (processing events) up to `drainMs` for the messages in flight.
    void stop(int drainMs = 3000);

    // Empty when the canary is healthy: every message sent so far (but the last `inFlightAllowance`
    // ones while still running) arrived once, in order, within the bound, with status Delivered,
    // and neither client lost its connection. Otherwise says what went wrong first.
    QString verdict() const;
    bool healthy() const { return verdict().isEmpty(); }

    quint64 sent() const { return m_sent; }
    quint64 received() const { return m_received; }
    qint64 maxLatencyUs() const { return m_maxLatencyUs; }

private:
    void sendOne();
    void onMessage(const QByteArray &source, const QByteArray &payload);
    void fail(const QString &why);

    Options m_options;
    Kennel::KennelClient *m_tx = nullptr;
    Kennel::KennelClient *m_rx = nullptr;
    QTimer m_timer;
    QElapsedTimer m_clock;
    quint64 m_sent = 0;
    quint64 m_received = 0;
    quint64 m_delivered = 0; // Delivered statuses
    qint64 m_maxLatencyUs = 0;
    bool m_running = false;
    QString m_failure;
};

} // namespace KennelTest
