// The bridge to the fleet's MQTT broker (docs/FLEET.md): NAME@BOARD messages out through the
// spool and the link, messages for this board in to the router as from SENDER@ORIGIN, final
// statuses both ways with a deadline, duplicates dropped, and this board's state (online, summary,
// events) published. To the router it is the HoldSink: asked only where a target has no receiver,
// which a NAME@BOARD target never has (no registered name holds an '@'); every other target is
// passed on to held delivery untouched, so the directed path is unchanged. Not constructed at all
// when [bridge] is not configured.
#pragma once

#include "bridgesettings.h"
#include "bridgespool.h"
#include "dedupstore.h"
#include "holdsink.h"
#include "mqttlink.h"
#include "remotesender.h"
#include "topicbridge.h"

#include <QJsonObject>
#include <QObject>
#include <QTimer>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <unordered_map>

namespace Kennel {

class NameRegistry;
class Router;

class BridgeManager : public QObject, public HoldSink
{
    Q_OBJECT
public:
    struct Counters
    {
        quint64 forwarded = 0;        // NAME@BOARD messages taken into the spool
        quint64 published = 0;        // spool rows the MQTT broker acknowledged
        quint64 received = 0;         // messages for this board, first time seen
        quint64 duplicates = 0;       // ... seen again and dropped
        quint64 malformed = 0;        // payloads or topics that were not the scheme's
        quint64 statusesSent = 0;
        quint64 statusesUnsent = 0;   // a final status that could not be published (link down)
        quint64 statusesReceived = 0;
        quint64 timeouts = 0;         // remote_timeout told
        quint64 spoolDropped = 0;     // rows pushed out at the spool bound (remote_dropped)
        quint64 eventsUnsent = 0;
    };
    struct State
    {
        bool connected = false;
        qint64 spoolDepth = 0;
        qint64 spoolBytes = 0;
        qint64 oldestAgeMs = 0;      // age of the oldest spooled message, 0 if none
        qint64 pendingStatuses = 0;
        quint64 connects = 0;
        quint64 disconnects = 0;
        QString lastError;
        Counters counters;
        TopicBridge::Counters topics; // [bridge] export_topics / import_topics
    };

    BridgeManager(Router &router, const NameRegistry &registry, HoldSink *next, QObject *parent = nullptr);
    ~BridgeManager() override;

    // Opens the spool and starts the link; false with *error (the spool cannot be opened).
    bool start(const BridgeSettings &settings, QString *error);
    // A changed [bridge] at run time: a new URL, credentials, board or prefix reconnect; new
    // bounds apply at once; a new spool path reopens the spool (what the old one holds stays
    // there). Empty url: the bridge stops. False with *error if the new settings cannot be applied
    // (the old ones stay in force).
    bool reconfigure(const BridgeSettings &settings, QString *error);
    void stop();
    const BridgeSettings &settings() const { return m_settings; }
    // Topics across the bridge (topicbridge.h): the bus to export from and import to.
    void setTopicBus(TopicBus &bus, quint32 maxFrameSize);

    // HoldSink: NAME@BOARD is taken here; anything else goes to `next` (held delivery).
    DeliveryStatus offer(Endpoint &sender, QByteArrayView target, quint32 messageId, QByteArrayView payload,
                         const char *legacyMsgField, bool wantStatus) override;

    // What the summary topic says of this board (the composition root fills it in).
    void setSummaryProvider(std::function<QJsonObject()> provider) { m_summary = std::move(provider); }
    // Watchdog or service state changed: the summary is published again soon (coalesced).
    void noteChange();
    // An event (expiry, kill, restart, service failed) for the events topic.
    void publishEvent(const QJsonObject &event);

    State state();
    // One line for the log and the systemd STATUS line.
    QString statusText();

signals:
    void connectedChanged(bool connected);

private:
    struct Pending
    {
        quint64 connection = 0;
        QByteArray source;
        QByteArray target;     // NAME@BOARD as the sender wrote it
        quint32 messageId = 0;
        bool hearsRemote = false;
        bool hearsHeld = false;
        std::chrono::steady_clock::time_point deadline;
    };

    void linkUp();
    void linkDown(const QString &why);
    void pump();
    void published(int mid);
    void received(const QByteArray &topic, const QByteArray &payload);
    void receivedMessage(const QByteArray &origin, const QByteArray &payload);
    void receivedStatus(const QByteArray &payload);
    void tell(const Pending &pending, DeliveryStatus status);
    void finish(quint64 seq, DeliveryStatus status);
    void checkDeadlines();
    void armDeadline();
    void publishSummary();
    bool openSpool(const BridgeSettings &settings, QString *error);
    bool openDedup(const BridgeSettings &settings, QString *error);
    MqttLink::Options linkOptions(const BridgeSettings &settings, QString *error) const;
    QByteArray topic(QByteArrayView board, const char *leaf) const;

    Router &m_router;
    const NameRegistry &m_registry;
    HoldSink *m_next;
    BridgeSettings m_settings;
    QString m_ownPrefix;
    BridgeSpool m_spool;
    MqttLink m_link;
    DedupStore m_dedup;
    RemoteSender m_remoteSender;
    std::unordered_map<int, BridgeSpool::Row> m_inflight; // by MQTT mid
    quint64 m_lastQueued = 0;                             // highest spool seq published on this connection
    std::map<quint64, Pending> m_pending;                 // by spool seq: deadlines in seq order
    QTimer m_deadlineTimer;
    QTimer m_summaryTimer;
    QTimer m_changeTimer;
    std::function<QJsonObject()> m_summary;
    Counters m_counters;
    std::unique_ptr<TopicBridge> m_topics;
    bool m_running = false;
};

} // namespace Kennel
