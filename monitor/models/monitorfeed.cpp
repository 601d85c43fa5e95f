#include "monitorfeed.h"

#include "format.h"
#include "heldnames.h"
#include "rateseries.h"
#include "servicesmodel.h"

#include <QDateTime>

namespace Kennel {

namespace {

QString latin(const QByteArray &name)
{
    return QString::fromLatin1(name);
}

// Control requests whose answer never came (the connection dropped) must not pile up.
constexpr qsizetype MaxRememberedRequests = 1024;

} // namespace

MonitorFeed::MonitorFeed(MonitorLink *link, const Models &models, QObject *parent)
    : QObject(parent)
    , m_link(link)
    , m_models(models)
    , m_wallClock([] { return QDateTime::currentMSecsSinceEpoch(); })
{
    m_timer.setInterval(DefaultInterval);
    connect(&m_timer, &QTimer::timeout, this, &MonitorFeed::flush);
    // Also when nothing arrives: the deadlines count down between updates.
    m_timer.start();

    if (!link)
        return;
    connect(link, &MonitorLink::stateChanged, this, &MonitorFeed::onStateChanged);
    connect(link, &MonitorLink::snapshotBegan, this, &MonitorFeed::onSnapshotBegan);
    connect(link, &MonitorLink::snapshotEnded, this, &MonitorFeed::onSnapshotEnded);
    connect(link, &MonitorLink::clientUpdated, this, &MonitorFeed::onClientUpdated);
    connect(link, &MonitorLink::clientGone, this, &MonitorFeed::onClientGone);
    connect(link, &MonitorLink::serviceUpdated, this, &MonitorFeed::onServiceUpdated);
    connect(link, &MonitorLink::watchdogEvent, this, &MonitorFeed::onWatchdogEvent);
    connect(link, &MonitorLink::trafficBatch, this, &MonitorFeed::onTrafficBatch);
    connect(link, &MonitorLink::trafficDropped, this, &MonitorFeed::onTrafficDropped);
    connect(link, &MonitorLink::publicationBatch, this, &MonitorFeed::onBusBatch<MonitorPublicationRecord>);
    connect(link, &MonitorLink::callBatch, this, &MonitorFeed::onBusBatch<MonitorCallRecord>);
    connect(link, &MonitorLink::totals, this, &MonitorFeed::onTotals);
    connect(link, &MonitorLink::held, this, &MonitorFeed::onHeld);
    connect(link, &MonitorLink::controlResult, this, &MonitorFeed::onControlResult);
    connect(link, &MonitorLink::errorReceived, this, &MonitorFeed::onErrorReceived);
    m_lastState = link->state();
}

void MonitorFeed::setInterval(std::chrono::milliseconds interval)
{
    m_timer.setInterval(std::max(interval, std::chrono::milliseconds(10)));
}

std::chrono::milliseconds MonitorFeed::interval() const
{
    return m_timer.intervalAsDuration();
}

void MonitorFeed::setWallClock(std::function<qint64()> clock)
{
    if (clock)
        m_wallClock = std::move(clock);
}

qsizetype MonitorFeed::pendingRecords() const
{
    return m_clientChanges.size() + m_serviceChanges.size() + m_traffic.size() + m_events.size() + m_totals.size()
           + m_held.size();
}

void MonitorFeed::flush()
{
    ++m_flushes;
    const bool changed = m_resetPending || pendingRecords() > 0;
    if (m_resetPending) {
        // A snapshot replaces what the tables showed; the logs (traffic, events) carry on.
        if (m_models.clients)
            m_models.clients->clear();
        if (m_models.services)
            m_models.services->clear();
        if (m_models.held)
            m_models.held->clear();
        m_resetPending = false;
    }
    if (m_models.clients)
        m_models.clients->apply(std::exchange(m_clientChanges, {}));
    if (m_models.services)
        m_models.services->apply(std::exchange(m_serviceChanges, {}));
    if (m_models.held)
        m_models.held->apply(std::exchange(m_held, {}));
    else
        m_held.clear();
    if (m_models.traffic)
        m_models.traffic->appendEntries(std::exchange(m_traffic, {}));
    if (m_models.events)
        m_models.events->append(std::exchange(m_events, {}));
    if (m_models.rates)
        m_models.rates->addTotals(std::exchange(m_totals, {}));

    if (m_models.clients)
        m_models.clients->refreshTimes();
    if (m_models.services)
        m_models.services->refreshTimes();
    if (changed)
        Q_EMIT flushed();
}

void MonitorFeed::addEvent(qint64 timeMs, EventEntry::Kind kind, const QString &subject, const QString &text, quint64 count)
{
    m_events.append(EventEntry{timeMs > 0 ? timeMs : m_wallClock(), kind, subject, text, std::max<quint64>(1, count), 0});
    // The log is a ring in the model; a queue longer than the ring would only be cut there.
    if (m_models.events && m_events.size() > m_models.events->capacity())
        m_events.remove(0, m_events.size() - m_models.events->capacity());
}

void MonitorFeed::logEvent(EventEntry::Kind kind, const QString &subject, const QString &text)
{
    addEvent(0, kind, subject, text);
}

void MonitorFeed::onStateChanged(MonitorLink::State state)
{
    const MonitorLink::State previous = std::exchange(m_lastState, state);
    if (!m_link)
        return;
    if (state == MonitorLink::State::Live) {
        m_lastFailure.clear();
        addEvent(0, EventEntry::Kind::Link, QString(), QStringLiteral("connected: %1").arg(m_link->statusText()));
        return;
    }
    const bool ended = state == MonitorLink::State::Disconnected || state == MonitorLink::State::Reconnecting;
    if (!ended)
        return;
    const QString why = m_link->lastError();
    if (previous == MonitorLink::State::Live) {
        addEvent(0, EventEntry::Kind::Link, QString(),
              why.isEmpty() ? QStringLiteral("disconnected") : QStringLiteral("connection lost: %1").arg(why));
    } else if (!why.isEmpty() && why != m_lastFailure) {
        // A failed attempt. While the broker stays away every retry fails the same way; the status
        // bar shows that, the log says it once per new reason.
        m_lastFailure = why;
        const bool refused = why.contains(QLatin1String("refused this monitor")) || why.contains(QLatin1String("certificate"));
        addEvent(0, refused ? EventEntry::Kind::Refusal : EventEntry::Kind::Link, QString(), why);
    }
}

void MonitorFeed::onSnapshotBegan(const MonitorSnapshotBegin &snapshot)
{
    m_resetPending = true;
    m_clientChanges.clear();
    m_serviceChanges.clear();
    m_held.clear();
    m_inSnapshot = true;
    m_liveNames.clear();
    m_clientMemo.clear();
    m_serviceMemo.clear();
    QString text = QStringLiteral("snapshot: %1 client(s), %2 service(s)").arg(snapshot.clientCount).arg(snapshot.serviceCount);
    if (!snapshot.monitorIdentity.isEmpty())
        text += QStringLiteral("; admitted by %1").arg(snapshot.monitorIdentity);
    if (snapshot.role != MonitorRole::Operator)
        text += QStringLiteral(" as a read-only monitor (it may watch, not control)");
    addEvent(snapshot.brokerTimeMs, EventEntry::Kind::Link, QString(), text);
}

void MonitorFeed::onSnapshotEnded()
{
    m_inSnapshot = false;
}

void MonitorFeed::onClientUpdated(const MonitorClient &client)
{
    m_clientChanges.append(client);
    const QString name = latin(client.name);
    auto memo = m_clientMemo.find(client.sessionId);
    if (!m_liveNames.contains(client.sessionId)) {
        m_liveNames.insert(client.sessionId, client.name);
        if (!m_inSnapshot) {
            QString text = QStringLiteral("joined (%1) from %2").arg(Format::clientKind(client.kind), client.peerAddress);
            if (client.pid > 0)
                text += QStringLiteral(", pid %1").arg(client.pid);
            addEvent(client.connectedSinceMs, EventEntry::Kind::Join, name, text);
        }
    } else if (memo != m_clientMemo.end()) {
        // Not refusals: a message to a name no one holds (no_such_client) or to a full queue is
        // the sender's or the receiver's affair, and the broker did what it should. Counted, so
        // that repeats merge into one line (EventsModel::append).
        if (client.refused > memo->refused)
            addEvent(0, EventEntry::Kind::Undelivered, name,
                     QStringLiteral("a message it sent was not delivered (no such client, queue full, ...)"),
                     client.refused - memo->refused);
        if (client.dropped > memo->dropped)
            addEvent(0, EventEntry::Kind::Undelivered, name, QStringLiteral("a message to it was dropped"),
                     client.dropped - memo->dropped);
    }
    m_clientMemo.insert(client.sessionId, ClientMemo{client.refused, client.dropped});
}

void MonitorFeed::onClientGone(const MonitorClientGone &gone)
{
    m_clientChanges.append(gone);
    const QByteArray name = m_liveNames.take(gone.sessionId);
    m_clientMemo.remove(gone.sessionId);
    addEvent(gone.timeMs, EventEntry::Kind::Leave, name.isEmpty() ? QStringLiteral("session %1").arg(gone.sessionId) : latin(name),
          gone.reason.isEmpty() ? QStringLiteral("left") : QStringLiteral("left: %1").arg(gone.reason));
}

void MonitorFeed::onServiceUpdated(const MonitorService &service)
{
    m_serviceChanges.append(service);
    const auto previous = m_serviceMemo.constFind(service.name);
    const bool known = previous != m_serviceMemo.constEnd();
    if (!m_inSnapshot && known) {
        const MonitorService &before = *previous;
        if (service.restarts > before.restarts) {
            addEvent(0, EventEntry::Kind::Restart, service.name,
                  QStringLiteral("restarted (%1 restart(s) so far)").arg(service.restarts));
        }
        if (service.state != before.state) {
            QString text = Format::serviceState(service.state);
            EventEntry::Kind kind = EventEntry::Kind::Service;
            switch (service.state) {
            case MonitorServiceState::Running:
                if (service.pid > 0)
                    text += QStringLiteral(", pid %1").arg(service.pid);
                break;
            case MonitorServiceState::Exited:
            case MonitorServiceState::Backoff:
                text = QStringLiteral("exited with %1").arg(ServicesModel::lastExitText(service));
                if (service.state == MonitorServiceState::Backoff && service.msUntilRestart >= 0)
                    text += QStringLiteral("; restarting in %1").arg(Format::duration(service.msUntilRestart));
                break;
            case MonitorServiceState::Failed:
                kind = EventEntry::Kind::Restart;
                text = QStringLiteral("failed");
                if (!service.lastError.isEmpty())
                    text += QStringLiteral(": %1").arg(service.lastError);
                break;
            default:
                break;
            }
            // A Backoff that follows the exit it reports says nothing new.
            if (!(before.state == MonitorServiceState::Exited && service.state == MonitorServiceState::Backoff))
                addEvent(0, kind, service.name, text);
        }
    }
    m_serviceMemo.insert(service.name, service);
}

void MonitorFeed::onWatchdogEvent(const MonitorWatchdogEvent &e)
{
    m_clientChanges.append(ClientsModel::WatchChange{e.sessionId, e.kind, e.feeds});
    EventEntry::Kind kind = EventEntry::Kind::Watchdog;
    switch (e.kind) {
    case MonitorWatchdogEventKind::Late:
        kind = EventEntry::Kind::Late;
        break;
    case MonitorWatchdogEventKind::Expired:
    case MonitorWatchdogEventKind::Notified:
        kind = EventEntry::Kind::Expired;
        break;
    case MonitorWatchdogEventKind::Signalled:
    case MonitorWatchdogEventKind::ProcessExited:
    case MonitorWatchdogEventKind::ActionFailed:
    case MonitorWatchdogEventKind::Disconnected:
        kind = EventEntry::Kind::Kill;
        break;
    default:
        break;
    }
    QString text = Format::watchdogEventKind(e.kind);
    if (!e.detail.isEmpty())
        text += QStringLiteral(": ") + e.detail;
    if (e.pid > 0)
        text += QStringLiteral(" (pid %1)").arg(e.pid);
    if (e.kind == MonitorWatchdogEventKind::Registered || e.kind == MonitorWatchdogEventKind::Late
        || e.kind == MonitorWatchdogEventKind::Expired)
        text += QStringLiteral(" after %1 feed(s)").arg(e.feeds);
    addEvent(e.timeMs, kind, latin(e.name), text);
}

void MonitorFeed::onTrafficBatch(const QList<MonitorTrafficRecord> &records)
{
    m_traffic.reserve(m_traffic.size() + records.size());
    for (const MonitorTrafficRecord &r : records)
        m_traffic.append(TrafficModel::toEntry(r));
    trimTrafficQueue();
}

template<typename Record>
void MonitorFeed::onBusBatch(const QList<Record> &records)
{
    m_traffic.reserve(m_traffic.size() + records.size());
    for (const Record &r : records)
        m_traffic.append(TrafficModel::toEntry(r));
    trimTrafficQueue();
}

void MonitorFeed::trimTrafficQueue()
{
    // A GUI that cannot keep up (a modal dialog, a stopped debugger) must not grow the queue
    // without bound: anything beyond the ring's capacity would be overwritten on arrival anyway.
    if (m_models.traffic && m_traffic.size() > m_models.traffic->capacity()) {
        const qsizetype excess = m_traffic.size() - m_models.traffic->capacity();
        m_traffic.remove(0, excess);
        m_trafficOverflow += quint64(excess);
    }
}

void MonitorFeed::onTrafficDropped(const MonitorTrafficDropped &dropped)
{
    TrafficEntry marker;
    marker.timeUs = dropped.timeMs * 1000;
    marker.size = dropped.dropped;
    marker.marker = true;
    m_traffic.append(marker);
}

void MonitorFeed::onHeld(const MonitorHeld &held)
{
    // One per name and change at most once per totals interval (PROTOCOL ): no bound needed
    // beyond the names the broker holds for.
    m_held.append(held);
}

void MonitorFeed::onTotals(const MonitorTotals &totals)
{
    m_totals.append(totals);
    m_lastTotals = totals;
    m_hasTotals = true;
}

void MonitorFeed::noteControlRequest(quint32 requestId, const MonitorControl &control)
{
    if (requestId == 0)
        return;
    if (m_controlRequests.size() >= MaxRememberedRequests)
        m_controlRequests.clear();
    const QString description = QStringLiteral("%1 '%2'").arg(Format::controlAction(control.action), QString::fromUtf8(control.target));
    m_controlRequests.insert(requestId, description);
    addEvent(0, EventEntry::Kind::Control, QString::fromUtf8(control.target), QStringLiteral("asked the broker to %1").arg(description));
}

void MonitorFeed::onControlResult(quint32 requestId, const MonitorControlResult &result)
{
    const QString description = m_controlRequests.take(requestId);
    const QString what = description.isEmpty() ? QStringLiteral("request %1").arg(requestId) : description;
    if (result.code == ErrorCode::None) {
        addEvent(0, EventEntry::Kind::Control, QString(),
              QStringLiteral("%1: done%2").arg(what, result.text.isEmpty() ? QString() : QStringLiteral(" (%1)").arg(result.text)));
    } else {
        addEvent(0, EventEntry::Kind::Refusal, QString(),
              QStringLiteral("%1: refused, %2%3").arg(what, Format::errorCode(result.code),
                                                      result.text.isEmpty() ? QString() : QStringLiteral(": ") + result.text));
    }
    Q_EMIT controlAnswered(requestId, what, result);
}

void MonitorFeed::onErrorReceived(ErrorCode code, const QString &text)
{
    addEvent(0, EventEntry::Kind::Refusal, QString(),
          QStringLiteral("the broker says %1%2").arg(Format::errorCode(code), text.isEmpty() ? QString() : QStringLiteral(": ") + text));
}

} // namespace Kennel
