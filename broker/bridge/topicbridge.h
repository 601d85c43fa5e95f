// Topics across the bridge (docs/FLEET.md "Topics"): this board's publications matching
// [bridge] export_topics published to the MQTT broker under PREFIX(B)topic/TOPIC, and other
// boards' publications matching import_topics published on the local bus as from NAME@ORIGIN,
// retained values kept as retained.
//
// Loop prevention, by two rules that need nothing of the MQTT broker:
// - never re-exported: a publication whose publisher's name holds '@' came across the bridge
//   (no registered name holds an '@'), so what a board imported never leaves it again;
// - never imported back: the origin board is a level of the MQTT topic; a board drops its own.
// MQTT v5's no-local would spare the MQTT broker sending a board its own exports back, but the
// link speaks 3.1.1 on purpose (a v5 session with clean start off needs a session expiry, and
// the fleet's broker may not speak v5), so the origin check is the rule.
//
// Not spooled: a publication while the link is down is dropped and counted (export_dropped);
// a retained one is remembered by topic and its current value (or its clearing) published when
// the link is back, so the MQTT broker's retained state catches up. QoS 1 (see docs/FLEET.md).
#pragma once

#include "bridgesettings.h"
#include "remotesender.h"
#include "topicbus.h"

#include <QElapsedTimer>
#include <QObject>
#include <QSet>

#include <optional>

namespace Kennel {

class MqttLink;

class TopicBridge : public QObject, public PublicationObserver
{
    Q_OBJECT
public:
    struct Counters
    {
        quint64 exported = 0;       // publications handed to the link
        quint64 exportDropped = 0;  // ... not: the link down, or export_max_pending reached
        quint64 imported = 0;       // other boards' publications published on the local bus
        quint64 importDropped = 0;  // ... not: past [topics] bounds, malformed, '$', unfit name
    };

    // `maxFrameSize`: [limits] max_frame_size; an import whose Publication frame would pass it is dropped.
    TopicBridge(TopicBus &bus, MqttLink &link, quint32 maxFrameSize, QObject *parent = nullptr);
    ~TopicBridge() override;

    // The settings in force; a change of filters while connected (un)subscribes at once.
    void configure(const BridgeSettings &settings);
    void stop();
    bool active() const { return !m_settings.exportTopics.isEmpty() || !m_settings.importTopics.isEmpty(); }
    void linkUp();
    void linkDown();
    // A message from the MQTT broker: true if it was a topic's (taken or dropped here).
    bool received(const QByteArray &mqttTopic, const QByteArray &payload);
    const Counters &counters() const { return m_counters; }

    // PublicationObserver: a publication on the local bus.
    void published(Endpoint &publisher, QByteArrayView topic, QByteArrayView message, bool retain) override;

    // The MQTT payload of an export: "KBT1", flags (bit 0: retained), the publisher's name (length
    // byte, bytes), the message. An empty payload is a cleared retained value: the MQTT broker
    // clears its own copy only on an empty retained publish.
    static QByteArray encode(QByteArrayView publisher, QByteArrayView message, bool retain);
    struct Decoded
    {
        QByteArray publisher;
        QByteArray message;
        bool retain = false;
    };
    static std::optional<Decoded> decode(const QByteArray &payload);
    // The MQTT subscriptions for these import filters: none two overlapping.
    static QList<QByteArray> subscriptionFilters(const QList<QByteArray> &filters);

private:
    QByteArray mqttTopic(QByteArrayView topic) const;
    QByteArray importFilter(const QByteArray &filter) const;
    bool exports(QByteArrayView topic) const;
    bool imports(QByteArrayView topic) const;
    bool exportNow(QByteArrayView publisher, QByteArrayView topic, QByteArrayView message, bool retain);
    void resync();
    // One line per 10 s at most for each direction, with the count of those not logged between.
    struct DropLog
    {
        QElapsedTimer logged;
        quint64 unlogged = 0;
    };
    void drop(const char *direction, quint64 &count, DropLog &log, const QString &why);
    void dropImport(const QString &why) { drop("import", m_counters.importDropped, m_importLog, why); }
    void dropExport(const QString &why) { drop("export", m_counters.exportDropped, m_exportLog, why); }
    void syncSubscriptions();
    void acknowledged(int mid);

    TopicBus &m_bus;
    MqttLink &m_link;
    quint32 m_maxFrameSize;
    BridgeSettings m_settings;
    QString m_head, m_tail;        // the prefix around {board}
    QByteArray m_ownPrefix;        // PREFIX(B)topic/
    QSet<QByteArray> m_subscribed; // MQTT filters the broker's session holds for us (as far as we know)
    QSet<int> m_pending;           // mids of exports not yet acknowledged
    QSet<QByteArray> m_dirty;      // retained topics published or cleared while the link was down
    bool m_resyncAll = true;       // every retained value at the next link up (the first one)
    RemoteSender m_importer;       // the publisher of imports, named NAME@ORIGIN per publication
    Counters m_counters;
    DropLog m_importLog, m_exportLog;
};

} // namespace Kennel
