#include "monitorrecords.h"

#include "clientwatchdog.h"
#include "monitorclientview.h"
#include "monitorconnection.h"
#include "monitorserviceview.h"
#include "service.h"
#include "session.h"

#include <QDateTime>

#include <algorithm>
#include <chrono>
#include <vector>

namespace Kennel {

namespace {
using std::chrono::duration_cast;
using std::chrono::milliseconds;

template<typename Duration>
qint64 msOf(Duration d)
{
    return qint64(duration_cast<milliseconds>(d).count());
}

MonitorClientKind kindOf(Session::Kind kind)
{
    switch (kind) {
    case Session::Kind::LegacyReceiver: return MonitorClientKind::LegacyReceiver;
    case Session::Kind::LegacySender: return MonitorClientKind::LegacySender;
    case Session::Kind::Client:
    case Session::Kind::Pending: break;
    }
    return MonitorClientKind::Native;
}

MonitorServiceState stateOf(Service::State state)
{
    switch (state) {
    case Service::State::Stopped: return MonitorServiceState::Stopped;
    case Service::State::Starting: return MonitorServiceState::Starting;
    case Service::State::Running: return MonitorServiceState::Running;
    case Service::State::Backoff: return MonitorServiceState::Backoff;
    case Service::State::Stopping: return MonitorServiceState::Stopping;
    case Service::State::Exited: return MonitorServiceState::Exited;
    case Service::State::Failed: return MonitorServiceState::Failed;
    }
    return MonitorServiceState::Stopped;
}
} // namespace

MonitorRecords::MonitorRecords(const MonitorClientView &clients, const MonitorServiceView &services,
                               const ClientWatchdog &watchdog)
    : m_clients(clients)
    , m_services(services)
    , m_watchdog(watchdog)
    , m_startedMs(nowMs())
{
}

qint64 MonitorRecords::nowMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

void MonitorRecords::sendSnapshot(MonitorConnection &connection) const
{
    std::vector<const Session *> clients;
    m_clients.forEachSession([&clients](const Session &session) {
        if (session.kind() != Session::Kind::Pending && session.isOpen())
            clients.push_back(&session);
    });
    std::sort(clients.begin(), clients.end(), [](const Session *a, const Session *b) { return a->id() < b->id(); });
    const QList<Service *> &services = m_services.services();

    MonitorSnapshotBegin begin;
    begin.brokerTimeMs = nowMs();
    begin.brokerStartedMs = m_startedMs;
    begin.clientCount = quint32(clients.size());
    begin.serviceCount = quint32(services.size());
    begin.brokerVersion = QStringLiteral(KENNEL_VERSION);
    begin.monitorIdentity = connection.admittedHow();
    begin.role = connection.role();

    connection.setSnapshotInProgress(true);
    connection.sendEvent(MonitorFrame::SnapshotBegin, 0, {}, encodeMonitorSnapshotBegin(begin));
    auto &signatures = connection.clientSignatures();
    signatures.clear();
    for (const Session *session : clients) {
        const MonitorClient record = client(*session);
        signatures[record.sessionId] = signature(record);
        connection.sendEvent(MonitorFrame::Client, 0, session->name(), encodeMonitorClient(record));
    }
    for (const Service *s : services)
        connection.sendEvent(MonitorFrame::Service, 0, {}, encodeMonitorService(service(*s)));
    // Held delivery (PROTOCOL ): every name that holds messages, connected or not.
    for (const MonitorHeld &held : m_clients.heldNames())
        connection.sendEvent(MonitorFrame::Held, 0, {}, encodeMonitorHeld(held));
    connection.sendEvent(MonitorFrame::SnapshotEnd, 0, {}, {});
    connection.setSnapshotInProgress(false);
}

// The owner if it is known already (a watched client's is, from its registration); else, on a Unix
// socket, the process that connected (SO_PEERCRED at accept); else 0. Never a lookup: finding the
// owner walks every process's fd table, not something a snapshot of thousands of clients may do.
qint64 MonitorRecords::knownPid(const Session &session)
{
    if (const PeerLookupResult *peer = session.cachedPeerProcess())
        return peer->status == PeerLookup::Found ? peer->process.pid : 0;
    return session.transport() == Session::Transport::Unix ? session.connectingPid() : 0;
}

MonitorClient MonitorRecords::client(const Session &session) const
{
    MonitorClient r;
    r.sessionId = session.id();
    r.name = session.name();
    r.kind = kindOf(session.kind());
    r.pid = knownPid(session);
    r.peerAddress = session.transport() == Session::Transport::Unix ? QStringLiteral("unix ") + session.peerAddress()
                                                                    : session.peerAddress();
    r.connectedSinceMs = session.connectedSinceMs();
    r.messagesIn = session.counters.messagesIn;
    r.messagesOut = session.counters.messagesOut;
    r.bytesIn = session.counters.bytesIn;
    r.bytesOut = session.counters.bytesOut;
    r.refused = session.counters.undeliveredTotal();
    r.dropped = session.droppedTowards;
    if (const DeadlineEngine::Entry *entry = m_watchdog.engine().entry(session.id())) {
        const DeadlineEngine::Clock::time_point now = DeadlineEngine::Clock::now();
        switch (entry->state) {
        case WatchState::Healthy: r.watchState = MonitorWatchState::Healthy; break;
        case WatchState::Late: r.watchState = MonitorWatchState::Late; break;
        case WatchState::Expired: r.watchState = MonitorWatchState::Expired; break;
        }
        r.watchIntervalMs = quint32(entry->terms.interval.count());
        r.watchAllowedMisses = quint16(std::min(entry->terms.allowedMisses, 65535));
        r.feeds = entry->feeds;
        r.msSinceLastFeed = entry->feeds ? std::max<qint64>(0, msOf(now - entry->lastFeed)) : -1;
        r.msUntilExpiry = std::max<qint64>(0, msOf(entry->expiresAt() - now));
    }
    // Per name, across reconnections: a client restarted after a kill shows it even before it
    // registers with the watchdog again.
    if (const ClientWatchdog::History *history = m_watchdog.history(session.name())) {
        r.expiries = history->expiries;
        r.kills = history->signalsSent;
    }
    r.subscriptions = m_clients.subscriptionsOf(session);
    r.publicationsNotTaken = m_clients.publicationsNotTakenBy(session);
    return r;
}

quint64 MonitorRecords::signature(const MonitorClient &r)
{
    // What the once-a-second refresh compares; a collision only delays an update by a second.
    quint64 h = 1469598103934665603ull;
    auto mix = [&h](quint64 v) { h = (h ^ v) * 1099511628211ull; };
    mix(r.messagesIn);
    mix(r.messagesOut);
    mix(r.bytesIn);
    mix(r.bytesOut);
    mix(r.refused);
    mix(r.dropped);
    mix(quint64(r.watchState));
    mix(r.watchIntervalMs);
    mix(r.feeds);
    mix(r.expiries);
    mix(r.kills);
    mix(quint64(r.pid));
    mix(r.subscriptions);
    mix(r.publicationsNotTaken);
    return h;
}

MonitorService MonitorRecords::service(const Service &service) const
{
    const Service::Status status = service.status();
    MonitorService r;
    r.name = service.name();
    r.state = stateOf(status.state);
    r.pid = status.pid;
    r.starts = quint32(std::max(0, status.starts));
    r.restarts = quint32(std::max(0, status.restarts));
    r.lastExitCode = status.lastExitCode;
    r.lastExitSignal = status.lastExitSignal;
    r.lastExitMs = status.lastExitAt.isValid() ? status.lastExitAt.toMSecsSinceEpoch() : 0;
    r.msUntilRestart = status.state == Service::State::Backoff
                           ? std::max<qint64>(0, msOf(status.nextStartAt - Service::Clock::now()))
                           : -1;
    r.lastError = status.lastError;
    return r;
}

MonitorWatchdogEvent MonitorRecords::watchdogEvent(quint64 sessionId, const QByteArray &name, MonitorWatchdogEventKind kind,
                                                   const QString &detail, qint64 pid) const
{
    MonitorWatchdogEvent event;
    event.sessionId = sessionId;
    event.name = name;
    event.timeMs = nowMs();
    event.kind = kind;
    event.pid = pid;
    event.detail = detail;
    if (const Session *session = m_clients.sessionById(sessionId)) {
        if (pid < 0)
            event.pid = knownPid(*session);
    }
    if (event.pid < 0)
        event.pid = 0;
    if (const DeadlineEngine::Entry *entry = m_watchdog.engine().entry(sessionId))
        event.feeds = entry->feeds;
    return event;
}

void MonitorRecords::refreshClients(QList<MonitorConnection *> subscribers, qint64 maxQueueBytes) const
{
    struct Current
    {
        const Session *session;
        MonitorClient record;
        quint64 signature;
        QByteArray payload; // encoded the first time a monitor needs it
    };
    std::vector<Current> current;
    current.reserve(m_clients.connectionCount());
    m_clients.forEachSession([this, &current](const Session &session) {
        if (session.kind() == Session::Kind::Pending || !session.isOpen())
            return;
        MonitorClient record = client(session);
        const quint64 sig = signature(record);
        current.push_back({&session, std::move(record), sig, {}});
    });
    for (MonitorConnection *connection : subscribers) {
        // Half its bound already queued: this refresh would only add to what it cannot read. It
        // keeps its old signatures and so gets these changes at the next refresh it has room for.
        if (connection->queuedBytes() > maxQueueBytes / 2)
            continue;
        auto &signatures = connection->clientSignatures();
        for (Current &c : current) {
            auto it = signatures.find(c.record.sessionId);
            if (it != signatures.end() && it->second == c.signature)
                continue;
            signatures[c.record.sessionId] = c.signature;
            if (c.payload.isEmpty())
                c.payload = encodeMonitorClient(c.record);
            connection->sendEvent(MonitorFrame::Client, 0, c.session->name(), c.payload);
        }
    }
}

} // namespace Kennel
