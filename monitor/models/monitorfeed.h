// MonitorFeed: between MonitorLink and the models. The link emits one signal per record, as fast
// as the broker sends; the feed only queues them, and a timer applies the queue to the models a
// few times a second (every 200 ms by default), as one batch per model. A broker routing at full
// speed therefore costs the views a handful of model signals per tick, never a repaint per message.
//
// It also turns the stream into the operator's log (EventsModel): joins and leaves, watchdog
// transitions, service starts/exits/restarts, refusals, control results and the link's own state.
//
// Any model may be left out (nullptr). No I/O here: everything arrives through the link.
#pragma once

#include "clientsmodel.h"
#include "eventsmodel.h"
#include "monitorcodec.h"
#include "monitorlink.h"
#include "trafficmodel.h"

#include <QHash>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QSet>
#include <QTimer>

#include <chrono>
#include <functional>

namespace Kennel {

class HeldNames;
class RateSeries;
class ServicesModel;

class MonitorFeed : public QObject
{
    Q_OBJECT
public:
    struct Models
    {
        ClientsModel *clients = nullptr;
        ServicesModel *services = nullptr;
        TrafficModel *traffic = nullptr;
        EventsModel *events = nullptr;
        RateSeries *rates = nullptr;
        HeldNames *held = nullptr; // what the broker holds per name (PROTOCOL §6.7)
    };

    static constexpr std::chrono::milliseconds DefaultInterval{200};

    MonitorFeed(MonitorLink *link, const Models &models, QObject *parent = nullptr);

    void setInterval(std::chrono::milliseconds interval);
    std::chrono::milliseconds interval() const;

    // Applies everything queued now (the timer does this every interval).
    void flush();
    // Records queued since the last flush.
    qsizetype pendingRecords() const;

    // Remembers what a control request was for, so that its result reads well in the log.
    void noteControlRequest(quint32 requestId, const MonitorControl &control);
    // A line in the events log from the application itself (exports, operator actions).
    void logEvent(EventEntry::Kind kind, const QString &subject, const QString &text);

    const MonitorTotals &lastTotals() const { return m_lastTotals; }
    const HeldNames *heldNames() const { return m_models.held; }
    bool hasTotals() const { return m_hasTotals; }
    quint64 flushes() const { return m_flushes; }
    quint64 trafficQueueOverflow() const { return m_trafficOverflow; }

    // Wall clock in ms since the epoch; tests replace it.
    void setWallClock(std::function<qint64()> clock);

Q_SIGNALS:
    // After each flush that changed something, for views that summarise (status bar, chart).
    void flushed();
    void controlAnswered(quint32 requestId, const QString &description, const Kennel::MonitorControlResult &result);

private:
    void onStateChanged(MonitorLink::State state);
    void onSnapshotBegan(const MonitorSnapshotBegin &snapshot);
    void onSnapshotEnded();
    void onClientUpdated(const MonitorClient &client);
    void onClientGone(const MonitorClientGone &gone);
    void onServiceUpdated(const MonitorService &service);
    void onWatchdogEvent(const MonitorWatchdogEvent &event);
    void onTrafficBatch(const QList<MonitorTrafficRecord> &records);
    // Publications and calls (PROTOCOL §6.8) join the traffic queue.
    template<typename Record>
    void onBusBatch(const QList<Record> &records);
    void trimTrafficQueue();
    void onTrafficDropped(const MonitorTrafficDropped &dropped);
    void onTotals(const MonitorTotals &totals);
    void onHeld(const MonitorHeld &held);
    void onControlResult(quint32 requestId, const MonitorControlResult &result);
    void onErrorReceived(ErrorCode code, const QString &text);
    void addEvent(qint64 timeMs, EventEntry::Kind kind, const QString &subject, const QString &text, quint64 count = 1);

    QPointer<MonitorLink> m_link;
    Models m_models;
    QTimer m_timer;
    std::function<qint64()> m_wallClock;

    // Queued for the next flush.
    bool m_resetPending = false;
    QList<ClientsModel::Change> m_clientChanges;
    QList<MonitorService> m_serviceChanges;
    QList<TrafficEntry> m_traffic;
    quint64 m_trafficOverflow = 0; // records the queue itself had to drop (a stalled GUI)
    QList<EventEntry> m_events;
    QList<MonitorTotals> m_totals;
    QList<MonitorHeld> m_held;

    // What the log needs to tell a join from an update and to name who left.
    bool m_inSnapshot = false;
    QHash<quint64, QByteArray> m_liveNames;
    struct ClientMemo
    {
        quint64 refused = 0;
        quint64 dropped = 0;
    };
    QHash<quint64, ClientMemo> m_clientMemo;
    QHash<QString, MonitorService> m_serviceMemo;
    QHash<quint32, QString> m_controlRequests;
    MonitorLink::State m_lastState = MonitorLink::State::Disconnected;
    QString m_lastFailure;
    MonitorTotals m_lastTotals;
    bool m_hasTotals = false;
    quint64 m_flushes = 0;
};

} // namespace Kennel
