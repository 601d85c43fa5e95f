// One MQTT connection through libmosquitto, driven by the Qt event loop: its socket on
// QSocketNotifiers (write interest only while mosquitto_want_write), mosquitto_loop_misc (keepalive
// pings) from a timer, reconnects with exponential backoff from a timer. No thread and no polling
// loop: libmosquitto's own loop functions are called only when the socket is ready.
//
// Each connection attempt uses a fresh mosquitto instance: what was published and not
// acknowledged is the spool's business (BridgeManager republishes it in order), not a second
// queue inside the library. The clean session is off and the client id stable, so the MQTT broker
// keeps our subscriptions and what it owes us while we are away.
//
// Shared by the broker's bridge (broker/bridge/) and kennel-monitor's fleet view (monitor/fleet/)
// through the static library KennelMqtt: one event-loop integration of libmosquitto, tested once,
// and kept out of libkennelclient so that the installed client library does not depend on it.
#pragma once

#include <QObject>
#include <QTimer>

#include <chrono>
#include <memory>

class QLoggingCategory;
struct mosquitto;
struct mosquitto_message;
class QSocketNotifier;

namespace Kennel {

class MqttLink : public QObject
{
    Q_OBJECT
public:
    struct Options
    {
        QString host;
        int port = 1883;
        bool tls = false;
        QByteArray clientId;
        int keepaliveSeconds = 30;
        QByteArray username;
        QByteArray password;
        QString caFile, certFile, keyFile;
        QByteArray willTopic;   // empty: no will
        QByteArray willPayload;
        int inflight = 64;
        std::chrono::milliseconds reconnectMin{500};
        std::chrono::milliseconds reconnectMax{30000};
        bool cleanSession = false; // a watcher that keeps nothing between connections sets it
        // Where the link's own lines go (retries, refusals); null: kennel.mqtt.
        const QLoggingCategory &(*logCategory)() = nullptr;
    };

    explicit MqttLink(QObject *parent = nullptr);
    ~MqttLink() override;

    // Starts connecting (and keeps reconnecting) with these options; a running link is dropped first.
    void start(const Options &options);
    void stop();
    bool isConnected() const { return m_connected; }
    // QoS 1 publish; the mid that published(mid) will report, or -1 when not connected / refused.
    int publish(const QByteArray &topic, const QByteArray &payload, bool retain = false, int qos = 1);
    bool subscribe(const QByteArray &filter);
    bool unsubscribe(const QByteArray &filter);
    // Inside a messageReceived() slot: whether the MQTT broker sent that message as a stored
    // retained value (on a subscribe), not as a live publication.
    bool messageRetained() const { return m_messageRetained; }

    quint64 connects() const { return m_connects; }
    quint64 disconnects() const { return m_disconnects; }
    const QString &lastError() const { return m_lastError; }
    std::chrono::milliseconds nextRetryDelay() const { return m_backoff; }

signals:
    void connected();
    void disconnected(const QString &why);
    void published(int mid);
    void messageReceived(const QByteArray &topic, const QByteArray &payload);

private:
    static void onConnect(mosquitto *, void *self, int rc);
    static void onDisconnect(mosquitto *, void *self, int rc);
    static void onPublish(mosquitto *, void *self, int mid);
    static void onMessage(mosquitto *, void *self, const mosquitto_message *message);

    void attempt();
    void lost(const QString &why);
    void check(int rc, const char *what);
    void syncNotifiers();
    void dropInstance();
    const QLoggingCategory &category() const;

    Options m_options;
    mosquitto *m_mosq = nullptr;
    std::unique_ptr<QSocketNotifier> m_readNotifier;
    std::unique_ptr<QSocketNotifier> m_writeNotifier;
    int m_fd = -1;
    QTimer m_miscTimer;
    QTimer m_retryTimer;
    std::chrono::milliseconds m_backoff{0};
    bool m_running = false;
    bool m_connected = false;
    bool m_inCall = false;
    bool m_messageRetained = false;
    quint64 m_connects = 0;
    quint64 m_disconnects = 0;
    QString m_lastError;
};

} // namespace Kennel
