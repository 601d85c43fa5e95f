// FleetLink: kennel-monitor's connection to the fleet's MQTT broker (docs/FLEET.md, "Board
// state"; docs/MONITOR-APP.md, "Fleet"). It subscribes to every board's `online`, `summary` and
// `events` under the fleet's prefix template and hands each payload on with the board id read
// from its topic. It decodes nothing (FleetModel does) and knows nothing of models or widgets.
//
// The MQTT connection is the bridge's own MqttLink (clientlib/mqtt/, libmosquitto on the event
// loop, no thread), so the URL forms, TLS options and reconnect behaviour are the bridge's. A
// watcher keeps nothing between connections: a clean session, a client id of its own, no will;
// the retained `online` and `summary` give it every board's last state on each (re)subscription.
#pragma once

#include <QByteArray>
#include <QObject>
#include <QString>

#include <chrono>

namespace Kennel {

class MqttLink;

class FleetLink : public QObject
{
    Q_OBJECT
public:
    struct Settings
    {
        QString url;                                         // mqtt://HOST:PORT or mqtts://HOST:PORT
        QString prefix = QStringLiteral("kennel/{board}/");  // the boards' [bridge] prefix
        QString caFile, certFile, keyFile;                   // mqtts://; no CA file: the system's CAs
        QString username;
        QString passwordFile;                                // the password is its first line
        QByteArray clientId;                                 // empty: kennel-monitor-HOST-PID
        int keepaliveSeconds = 30;
        std::chrono::milliseconds reconnectMin{500};
        std::chrono::milliseconds reconnectMax{30000};
    };
    enum class State { Disconnected, Connecting, Connected };
    Q_ENUM(State)

    explicit FleetLink(QObject *parent = nullptr);
    ~FleetLink() override;

    // Checks the settings (URL, prefix, password file) and starts connecting; false with *error
    // when they are refused (nothing is started then).
    bool open(const Settings &settings, QString *error);
    void close();

    State state() const { return m_state; }
    const Settings &settings() const { return m_settings; }
    QString statusText() const; // one line: where to, connected or why not
    QString lastError() const;
    // Messages on the subscribed filters whose topic does not fit the prefix (never expected).
    quint64 unmatchedTopics() const { return m_unmatched; }

    // The prefix template's checks: the broker's ([bridge] prefix: {board} exactly once, no MQTT
    // wildcard, ends with '/'), and {board} a whole topic level, which a '+' filter needs.
    static bool validPrefix(const QString &prefix, QString *error);

Q_SIGNALS:
    void stateChanged(Kennel::FleetLink::State state);
    void onlineReceived(const QString &board, const QByteArray &payload);
    void summaryReceived(const QString &board, const QByteArray &payload);
    void eventReceived(const QString &board, const QByteArray &payload);

private:
    void subscribe();
    void received(const QByteArray &topic, const QByteArray &payload);
    void setState(State state);

    Settings m_settings;
    MqttLink *m_link = nullptr;
    State m_state = State::Disconnected;
    QByteArray m_head, m_tail; // the prefix around {board}
    quint64 m_unmatched = 0;
};

} // namespace Kennel
