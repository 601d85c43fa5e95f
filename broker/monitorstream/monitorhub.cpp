#include "monitorhub.h"

#include "budgetledger.h"
#include "monitorclientview.h"
#include "monitorlistener.h"
#include "monitorserviceview.h"
#include "session.h"

#include <QAbstractSocket>
#include <QCoreApplication>
#include <QHostAddress>
#include <QLocalSocket>
#include <QLoggingCategory>
#include <QTcpSocket>

#include <algorithm>
#include <climits>
#include <sys/socket.h>

namespace Kennel {

namespace {
Q_LOGGING_CATEGORY(lcMonitorHub, "kennel.monitor", QtInfoMsg)

using std::chrono::duration_cast;
using std::chrono::milliseconds;

// The largest preview a record carries, whatever the configuration asks (docs/CONFIG.md: 0..1024).
constexpr int MaxPreviewBytes = 1024;
// Names of clients with a signal pending, kept to tell monitors which connection a signal's
// outcome is about; more than this means outcomes went missing: start again.
constexpr int MaxSignalledNames = 4096;

template<typename Duration>
qint64 msOf(Duration d)
{
    return qint64(duration_cast<milliseconds>(d).count());
}

std::optional<ucred> peerCredentials(int fd)
{
    ucred cred{};
    socklen_t len = sizeof cred;
    if (fd < 0 || ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return std::nullopt;
    return cred;
}

// "1.2.3.4" rather than "::ffff:1.2.3.4": the form the authenticator keys its penalties by.
QString hostOf(const QHostAddress &address)
{
    bool isV4 = false;
    const quint32 v4 = address.toIPv4Address(&isV4);
    return isV4 ? QHostAddress(v4).toString() : address.toString();
}

QString displayOf(const QAbstractSocket &socket)
{
    const QString host = hostOf(socket.peerAddress());
    if (host.contains(QLatin1Char(':')))
        return QStringLiteral("[%1]:%2").arg(host).arg(socket.peerPort());
    return QStringLiteral("%1:%2").arg(host).arg(socket.peerPort());
}

} // namespace

MonitorHub::MonitorHub(const BrokerConfig &config, const MonitorClientView &clients, MonitorServiceView &services,
                       MonitorActions &actions, const ClientWatchdog &watchdog, BudgetLedger &budgets, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_clients(clients)
    , m_watchdog(watchdog)
    , m_budgets(budgets)
    , m_settings(config.monitor)
    , m_services(services)
    , m_admission(m_settings, services)
    , m_records(clients, services, watchdog)
    , m_control(config.maxNameLength, services, actions)
    , m_tap(actions)
{
    m_totalsTimer.setInterval(std::max(m_settings.totalsInterval, MinTotalsInterval));
    m_totalsTimer.setTimerType(Qt::CoarseTimer);
    connect(&m_totalsTimer, &QTimer::timeout, this, &MonitorHub::totalsTick);

    connect(&watchdog, &ClientWatchdog::registered, this, &MonitorHub::onWatchdogRegistered);
    connect(&watchdog, &ClientWatchdog::stateChanged, this, &MonitorHub::onWatchStateChanged);
    connect(&watchdog, &ClientWatchdog::actionTaken, this, &MonitorHub::onWatchdogAction);
    connect(&watchdog, &ClientWatchdog::signalOutcome, this, &MonitorHub::onSignalOutcome);
}

MonitorHub::~MonitorHub() = default;

const BrokerConfig &MonitorHub::config() const
{
    return m_config;
}

bool MonitorHub::loadCredentials(QString *error)
{
    return m_admission.loadCredentials(error);
}

bool MonitorHub::startListening(QString *error)
{
    if (m_settings.listen.isEmpty())
        return true;
    m_listener = new MonitorListener(m_settings, this);
    m_listener->setProvenCheck([this](const QString &address) { return m_admission.isProven(address); });
    connect(m_listener, &MonitorListener::connectionReady, this, &MonitorHub::acceptFromListener);
    if (!m_listener->start(error)) {
        delete m_listener;
        m_listener = nullptr;
        return false;
    }
    for (const ListenAddress &address : m_listener->boundAddresses())
        qCInfo(lcMonitorHub).noquote() << "monitors: listening on" << address.toString()
                                       << (m_settings.tls ? "(TLS)" : "");
    return true;
}

QList<ListenAddress> MonitorHub::boundAddresses() const
{
    return m_listener ? m_listener->boundAddresses() : QList<ListenAddress>();
}

void MonitorHub::closeListeners()
{
    // Connections still in their TLS handshake go with it; those handed out are ours.
    if (m_listener)
        m_listener->close();
}

void MonitorHub::closeAll(const QString &reason)
{
    m_closed = true;
    closeListeners();
    m_totalsTimer.stop();
    m_tap.clear();
    updateTap();
    const QList<MonitorConnection *> all = m_connections;
    for (MonitorConnection *connection : all)
        connection->closeWithBye(reason);
}

// --- connections in, admission decided ------------------------------------------------------

void MonitorHub::adoptSession(Session &session, const FrameView &helloView)
{
    const Frame hello = helloView.toFrame(); // the view points into the read buffer
    const bool isUnix = session.transport() == Session::Transport::Unix;
    MonitorConnection::Peer peer;
    peer.display = isUnix ? QStringLiteral("unix ") + session.peerAddress() : session.peerAddress();
    peer.isUnix = isUnix;
    QByteArray unread;
    QByteArray unsent;
    const int fd = session.detachForHandover(&unread, &unsent);
    if (fd < 0)
        return;
    QIODevice *device = nullptr;
    if (isUnix) {
        peer.address = QStringLiteral("unix");
        if (const std::optional<ucred> cred = peerCredentials(fd)) {
            peer.uid = cred->uid;
            peer.pid = cred->pid;
        }
        auto *socket = new QLocalSocket;
        if (!socket->setSocketDescriptor(fd, QLocalSocket::ConnectedState, QIODevice::ReadWrite)) {
            qCWarning(lcMonitorHub).noquote() << "cannot take over the monitor connection from" << peer.display << "-"
                                              << socket->errorString();
            delete socket;
            return;
        }
        device = socket;
    } else {
        auto *socket = new QTcpSocket;
        if (!socket->setSocketDescriptor(fd)) {
            qCWarning(lcMonitorHub).noquote() << "cannot take over the monitor connection from" << peer.display << "-"
                                              << socket->errorString();
            delete socket;
            return;
        }
        peer.address = hostOf(socket->peerAddress());
        device = socket;
    }
    if (!unsent.isEmpty())
        device->write(unsent); // e.g. a Pong for a Ping that came before the Hello
    adopt(device, std::move(peer), hello, unread);
}

void MonitorHub::acceptFromListener(QIODevice *device, const QString &peerAddress, bool isUnix, std::optional<uid_t> peerUid)
{
    MonitorConnection::Peer peer;
    peer.isUnix = isUnix;
    peer.uid = peerUid;
    peer.monitorListener = true;
    peer.address = isUnix ? QStringLiteral("unix") : peerAddress;
    if (auto *local = qobject_cast<QLocalSocket *>(device); local && isUnix) {
        if (const std::optional<ucred> cred = peerCredentials(int(local->socketDescriptor())))
            peer.pid = cred->pid;
    }
    if (auto *socket = qobject_cast<QAbstractSocket *>(device); socket && !isUnix)
        peer.display = displayOf(*socket);
    else if (isUnix)
        peer.display = peerUid ? QStringLiteral("unix uid %1").arg(*peerUid) : QStringLiteral("unix");
    else
        peer.display = peerAddress;
    adopt(device, std::move(peer), std::nullopt, {});
}

void MonitorHub::adopt(QIODevice *device, MonitorConnection::Peer peer, const std::optional<Frame> &hello,
                       const QByteArray &unread)
{
    auto *connection = new MonitorConnection(*this, device, std::move(peer), this);
    m_connections.append(connection);
    connect(connection, &MonitorConnection::finished, this, &MonitorHub::connectionFinished);
    const quint32 messageId = hello ? hello->messageId : 0;
    if (m_closed || m_clients.isShuttingDown()) {
        connection->refuse(ErrorCode::ShuttingDown, QStringLiteral("the broker is shutting down"), messageId, true);
        return;
    }
    if (const QString why = m_admission.waitingRoomRefusal(*connection, m_connections); !why.isEmpty()) {
        connection->refuse(ErrorCode::TooManyClients, why, messageId, true);
        return;
    }
    qCDebug(lcMonitorHub).noquote() << "monitor connection from" << connection->peer().display
                                    << (connection->peer().monitorListener ? "on a monitor listener" : "handed over by a client listener");
    connection->start(hello, unread);
}

void MonitorHub::admissionTimedOut(MonitorConnection *connection)
{
    m_admission.noteTimedOut(*connection);
}

MonitorHub::AdmissionCounters MonitorHub::admissionCounters() const
{
    return m_admission.counters(m_listener);
}

int MonitorHub::admittedCount() const
{
    int n = 0;
    for (const MonitorConnection *connection : m_connections)
        n += connection->isAdmitted() ? 1 : 0;
    return n;
}

void MonitorHub::authenticate(MonitorConnection *connection, const QByteArray &token, quint32 messageId)
{
    m_admission.authenticate(connection, token,
                             [this, messageId](MonitorConnection *decided, bool admitted, const QString &how, MonitorRole role) {
                                 admissionDecided(decided, admitted, how, role, messageId);
                             });
}

void MonitorHub::admissionDecided(MonitorConnection *connection, bool admitted, const QString &how, MonitorRole role,
                                  quint32 messageId)
{
    if (connection->state() != MonitorConnection::State::Authenticating)
        return;
    if (!admitted) {
        // Logged by the authenticator (address, reason, delay) and by the refusal itself.
        connection->refuse(ErrorCode::NotPermitted, QStringLiteral("not admitted as a monitor: ") + how, messageId, true);
        return;
    }
    if (m_closed || m_clients.isShuttingDown()) {
        connection->refuse(ErrorCode::ShuttingDown, QStringLiteral("the broker is shutting down"), messageId, true);
        return;
    }
    if (admittedCount() >= m_settings.maxMonitors) {
        connection->refuse(ErrorCode::TooManyClients,
                           QStringLiteral("the broker serves at most %1 monitors (max_monitors)").arg(m_settings.maxMonitors),
                           messageId, true);
        return;
    }
    WelcomePayload welcome;
    welcome.maxFrameSize = config().maxFrameSize;
    welcome.brokerVersion = QByteArrayLiteral(KENNEL_VERSION);
    connection->admit(how, role, messageId, encodeWelcome(welcome));
    qCInfo(lcMonitorHub).noquote() << "admitted" << connection->describe() << "-" << how << "as" << monitorRoleName(role)
                                   << (connection->peer().monitorListener ? "(monitor listener)" : "(client listener)");
    Q_EMIT monitorAdmitted(connection->name(), connection->peer().display);
}

void MonitorHub::connectionFinished(MonitorConnection *connection)
{
    m_connections.removeOne(connection);
    m_subscribers.removeOne(connection);
    m_heldPending.remove(connection);
    updateTap();
    if (m_subscribers.isEmpty())
        m_totalsTimer.stop();
    if (!connection->admittedHow().isEmpty()) {
        qCInfo(lcMonitorHub).noquote() << "closed" << connection->describe();
        Q_EMIT monitorClosed(connection->name(), connection->peer().display);
    }
}

// --- the stream ----------------------------------------------------------------------------

void MonitorHub::subscribe(MonitorConnection *connection, const MonitorSubscribe &request)
{
    // What the configuration says is the most a monitor gets: an operator who set a preview of 0
    // (no payload bytes leave the board) is not overruled by a monitor asking for more.
    const int configuredPreview = std::clamp(m_settings.trafficPreviewBytes, 0, MaxPreviewBytes);
    int preview = request.previewBytes ? std::min<int>(request.previewBytes, configuredPreview) : configuredPreview;
    // A record must fit in a frame the broker announced in Welcome, with room for both names.
    preview = std::min(preview, std::max(0, int(config().maxFrameSize) - 512));
    const int configuredRate = std::max(0, m_settings.maxTrafficPerSecond);
    const int rate = request.maxTrafficPerSecond ? int(std::min<quint32>(request.maxTrafficPerSecond, quint32(configuredRate)))
                                                 : configuredRate;
    connection->setSubscription(request.wantTraffic, preview, rate);
    connection->setBusRecords(request.wantBusRecords);
    if (request.wantBusRecords)
        m_topicsOwed = true; // the new monitor gets the topics with the next totals
    if (!m_subscribers.contains(connection))
        m_subscribers.append(connection);
    int suppressed = 0;
    if (m_subscribeLog.allow(&suppressed)) {
        if (suppressed)
            qCInfo(lcMonitorHub, "%d more subscriptions not logged", suppressed);
        qCInfo(lcMonitorHub).noquote() << connection->describe() << "subscribed"
                                   << (request.wantTraffic ? QStringLiteral("with traffic records (preview %1 bytes, at most %2 per second)")
                                                                 .arg(preview).arg(rate)
                                                           : QStringLiteral("without traffic records"));
    }
    m_heldPending.remove(connection); // the snapshot has every name's held record
    m_records.sendSnapshot(*connection);
    updateTap();
    if (!m_totalsTimer.isActive())
        m_totalsTimer.start();
}

void MonitorHub::refuseSnapshot(MonitorConnection *connection, quint32 messageId)
{
    ++m_snapshotsRefused;
    // The refusal itself is small, and it counts towards the queue bound like every frame: a
    // monitor that goes on pipelining is disconnected once it passes twice the bound.
    connection->refuse(ErrorCode::OverBudget,
                       QStringLiteral("subscribe refused: %1 bytes still queued towards this monitor "
                                      "(max_queue_bytes %2); read the last snapshot first (refused so far: %3)")
                           .arg(connection->queuedBytes())
                           .arg(m_settings.maxQueueBytes)
                           .arg(m_snapshotsRefused),
                       messageId, false);
}

MemoryBudget &MonitorHub::monitorBudget()
{
    return m_budgets.monitorQueues;
}

void MonitorHub::monitorBudgetExceeded()
{
    if (m_shedQueued)
        return;
    m_shedQueued = true;
    QMetaObject::invokeMethod(this, &MonitorHub::shedOverBudget, Qt::QueuedConnection);
}

void MonitorHub::shedOverBudget()
{
    m_shedQueued = false;
    MemoryBudget &budget = m_budgets.monitorQueues;
    QList<MonitorConnection *> largest = m_connections;
    std::sort(largest.begin(), largest.end(),
              [](const MonitorConnection *a, const MonitorConnection *b) { return a->queuedBytes() > b->queuedBytes(); });
    for (MonitorConnection *connection : std::as_const(largest)) {
        if (!budget.isOver())
            break;
        budget.noteShed();
        ++m_budgetSheds;
        connection->shed(ErrorCode::OverBudget,
                         QStringLiteral("the broker's budget for monitor queues (%1 bytes) is used up; this monitor's "
                                        "queue of %2 bytes was the largest (sheds so far: %3)")
                             .arg(budget.limit())
                             .arg(connection->queuedBytes())
                             .arg(m_budgetSheds));
    }
}

void MonitorHub::broadcast(FrameType type, QByteArrayView source, QByteArrayView payload)
{
    const QList<MonitorConnection *> subscribers = m_subscribers; // a write may end a connection
    for (MonitorConnection *connection : subscribers)
        connection->sendEvent(type, 0, source, payload);
}

void MonitorHub::broadcastClient(const Session &session)
{
    const MonitorClient record = m_records.client(session);
    const quint64 signature = MonitorRecords::signature(record);
    const QByteArray payload = encodeMonitorClient(record);
    const QList<MonitorConnection *> subscribers = m_subscribers;
    for (MonitorConnection *connection : subscribers) {
        connection->clientSignatures()[record.sessionId] = signature;
        connection->sendEvent(MonitorFrame::Client, 0, session.name(), payload);
    }
}

void MonitorHub::clientRegistered(Session &session)
{
    if (m_subscribers.isEmpty())
        return;
    broadcastClient(session);
}

void MonitorHub::clientGone(Session &session)
{
    if (m_subscribers.isEmpty())
        return;
    MonitorClientGone gone;
    gone.sessionId = session.id();
    gone.timeMs = MonitorRecords::nowMs();
    gone.reason = QLatin1String(closeReasonName(session.closeReason()));
    const QByteArray payload = encodeMonitorClientGone(gone);
    const QList<MonitorConnection *> subscribers = m_subscribers;
    for (MonitorConnection *connection : subscribers) {
        connection->clientSignatures().erase(gone.sessionId);
        connection->sendEvent(MonitorFrame::ClientGone, 0, {}, payload);
    }
}

void MonitorHub::broadcastWatchdogEvent(quint64 sessionId, const QByteArray &name, MonitorWatchdogEventKind kind,
                                        const QString &detail, qint64 pid)
{
    const MonitorWatchdogEvent event = m_records.watchdogEvent(sessionId, name, kind, detail, pid);
    broadcast(MonitorFrame::WatchdogEvent, {}, encodeMonitorWatchdogEvent(event));
}

void MonitorHub::policyDenied(MonitorPolicyDenial denial)
{
    int suppressed = 0;
    if (m_subscribers.isEmpty() || !m_policyDenialEvents.allow(&suppressed))
        return;
    denial.timeMs = MonitorRecords::nowMs();
    broadcast(MonitorFrame::PolicyDenial, {}, encodeMonitorPolicyDenial(denial));
}

void MonitorHub::onWatchdogRegistered(quint64 sessionId, const QByteArray &name, WatchdogAction action)
{
    if (m_subscribers.isEmpty())
        return;
    QString detail = QStringLiteral("on expiry: %1").arg(QLatin1String(watchdogActionName(action)));
    if (const DeadlineEngine::Entry *entry = m_watchdog.engine().entry(sessionId))
        detail = QStringLiteral("every %1 ms, %2 misses allowed, ").arg(entry->terms.interval.count()).arg(entry->terms.allowedMisses)
                 + detail;
    broadcastWatchdogEvent(sessionId, name, MonitorWatchdogEventKind::Registered, detail);
    if (const Session *session = m_clients.sessionById(sessionId))
        broadcastClient(*session); // its watchdog columns
}

void MonitorHub::onWatchStateChanged(quint64 sessionId, const QByteArray &name, WatchState from, WatchState to)
{
    Q_UNUSED(from);
    if (to == WatchState::Expired)
        ++m_expiries;
    if (m_subscribers.isEmpty())
        return;
    MonitorWatchdogEventKind kind = MonitorWatchdogEventKind::Late;
    QString detail;
    const DeadlineEngine::Entry *entry = m_watchdog.engine().entry(sessionId);
    switch (to) {
    case WatchState::Late:
        kind = MonitorWatchdogEventKind::Late;
        if (entry)
            detail = QStringLiteral("no feed for %1 ms; expires in %2 ms")
                         .arg(entry->terms.interval.count())
                         .arg(std::max<qint64>(0, msOf(entry->expiresAt() - DeadlineEngine::Clock::now())));
        break;
    case WatchState::Healthy:
        kind = MonitorWatchdogEventKind::Healthy;
        detail = QStringLiteral("fed again");
        break;
    case WatchState::Expired:
        kind = MonitorWatchdogEventKind::Expired;
        detail = QStringLiteral("stopped feeding");
        break;
    }
    broadcastWatchdogEvent(sessionId, name, kind, detail);
    if (const Session *session = m_clients.sessionById(sessionId))
        broadcastClient(*session);
}

void MonitorHub::onWatchdogAction(quint64 sessionId, const QByteArray &name, WatchdogAction action, const QString &detail)
{
    switch (action) {
    case WatchdogAction::Terminate:
    case WatchdogAction::Kill:
        // The signaller reports each step by name; remember whose connection that was.
        if (m_signalledSessions.size() >= MaxSignalledNames)
            m_signalledSessions.clear();
        m_signalledSessions.insert(name, sessionId);
        return; // the Signalled event follows from the signaller's outcome
    case WatchdogAction::Notify:
        if (!m_subscribers.isEmpty())
            broadcastWatchdogEvent(sessionId, name, MonitorWatchdogEventKind::Notified, detail);
        return;
    case WatchdogAction::Disconnect:
        if (!m_subscribers.isEmpty())
            broadcastWatchdogEvent(sessionId, name, MonitorWatchdogEventKind::Disconnected, detail);
        return;
    }
}

void MonitorHub::onSignalOutcome(const QByteArray &name, qint64 pid, ProcessSignaller::Outcome outcome, const QString &detail)
{
    using Outcome = ProcessSignaller::Outcome;
    const bool final = outcome != Outcome::TermSent && outcome != Outcome::KillSent;
    if (!final)
        ++m_signalsSent;
    const quint64 sessionId = m_signalledSessions.value(name);
    if (final)
        m_signalledSessions.remove(name);
    if (m_subscribers.isEmpty())
        return;
    MonitorWatchdogEventKind kind = MonitorWatchdogEventKind::ActionFailed;
    QString text;
    switch (outcome) {
    case Outcome::TermSent:
        kind = MonitorWatchdogEventKind::Signalled;
        text = QStringLiteral("SIGTERM");
        break;
    case Outcome::KillSent:
        kind = MonitorWatchdogEventKind::Signalled;
        text = QStringLiteral("SIGKILL");
        break;
    case Outcome::Exited:
        kind = MonitorWatchdogEventKind::ProcessExited;
        text = QStringLiteral("exited");
        break;
    case Outcome::AlreadyGone:
    case Outcome::Refused:
    case Outcome::Failed:
        kind = MonitorWatchdogEventKind::ActionFailed;
        text = QLatin1String(ProcessSignaller::outcomeName(outcome));
        break;
    }
    if (!detail.isEmpty())
        text += QStringLiteral(": ") + detail;
    broadcastWatchdogEvent(sessionId, name, kind, text, pid);
}

void MonitorHub::serviceStateChanged(Service *service, Service::State state)
{
    Q_UNUSED(state);
    if (m_subscribers.isEmpty() || !service)
        return;
    broadcast(MonitorFrame::Service, {}, encodeMonitorService(m_records.service(*service)));
}

void MonitorHub::heldChanged(const QByteArray &name)
{
    for (MonitorConnection *connection : std::as_const(m_subscribers))
        m_heldPending[connection].insert(name);
}

void MonitorHub::sendHeldChanges()
{
    if (m_heldPending.isEmpty())
        return;
    QHash<QByteArray, QByteArray> encoded; // one record per name this tick, whoever gets it
    const QList<MonitorConnection *> subscribers = m_subscribers; // a write may end a connection
    for (MonitorConnection *connection : subscribers) {
        auto it = m_heldPending.find(connection);
        if (it == m_heldPending.end())
            continue;
        // Half its bound queued: it gets the names' state as of the tick it has room for.
        if (connection->queuedBytes() > m_settings.maxQueueBytes / 2)
            continue;
        const QSet<QByteArray> names = std::move(it.value());
        m_heldPending.erase(it);
        for (const QByteArray &name : names) {
            auto payload = encoded.find(name);
            if (payload == encoded.end())
                payload = encoded.insert(name, encodeMonitorHeld(m_clients.heldFor(name)));
            connection->sendEvent(MonitorFrame::Held, 0, {}, payload.value());
        }
    }
}

void MonitorHub::totalsTick()
{
    if (m_subscribers.isEmpty()) {
        m_totalsTimer.stop();
        return;
    }
    const TrafficCounters &counters = m_clients.totals();
    MonitorTotals totals;
    totals.timeMs = MonitorRecords::nowMs();
    totals.messagesRouted = counters.messagesOut;
    totals.bytesRouted = counters.bytesOut;
    totals.undelivered = counters.undeliveredTotal();
    totals.clients = quint32(m_clients.connectionCount());
    totals.monitors = quint32(admittedCount());
    totals.watched = quint32(m_watchdog.engine().size());
    totals.expiries = m_expiries;
    totals.kills = m_signalsSent;
    const BudgetLedger &budgets = m_budgets;
    totals.budgetSheds = budgets.incompleteFrames.shedCount() + budgets.clientQueues.shedCount()
                         + budgets.monitorQueues.shedCount();
    totals.monitorOverflows = m_queueOverflows;
    totals.snapshotsRefused = m_snapshotsRefused;
    const AdmissionCounters admission = admissionCounters();
    totals.admissionRefusedPerAddress = admission.refusedPerAddress;
    totals.admissionRefusedPerPrefix = admission.refusedPerPrefix;
    totals.admissionRefusedRoomFull = admission.refusedRoomFull;
    totals.admissionTimeouts = admission.timedOut;
    totals.guessesRefused = admission.guessesRefused;
    totals.servicesRefused = admission.servicesRefused;
    totals.admissionFailures = admission.failures;
    totals.handshakesRefusedPerAddress = admission.handshakesRefusedPerAddress;
    totals.handshakesRefusedPerPrefix = admission.handshakesRefusedPerPrefix;
    totals.handshakesRefusedFull = admission.handshakesRefusedFull;
    m_clients.callTotals(totals);
    m_clients.fillBridgeTotals(totals);
    totals.reservedNamesRefused = m_clients.reservedNamesRefused();
    m_clients.fillHeldTotals(totals);
    sendHeldChanges(); // before the totals that count them
    m_clients.fillPolicyTotals(totals);
    broadcast(MonitorFrame::Totals, {}, encodeMonitorTotals(totals));
    sendTopics();

    const auto now = std::chrono::steady_clock::now();
    if (now - m_lastClientRefresh >= ClientRefreshInterval) {
        m_lastClientRefresh = now;
        m_records.refreshClients(m_subscribers, m_settings.maxQueueBytes);
    }
}

void MonitorHub::updateTap()
{
    m_tap.update(m_subscribers, m_closed);
}

bool MonitorHub::isTrafficTapped() const
{
    return m_tap.isTapped();
}

QList<MonitorHub::MonitorInfo> MonitorHub::monitors() const
{
    QList<MonitorInfo> list;
    for (const MonitorConnection *connection : m_connections) {
        MonitorInfo info;
        info.name = connection->name();
        info.peerAddress = connection->peer().display;
        info.admittedHow = connection->admittedHow();
        info.role = connection->role();
        info.admitted = connection->isAdmitted();
        info.subscribed = connection->isSubscribed();
        info.wantsTraffic = connection->wantsTraffic();
        info.queuedBytes = connection->queuedBytes();
        info.trafficRecordsSent = connection->trafficRecordsSent();
        info.trafficRecordsDropped = connection->trafficRecordsDropped();
        list.append(info);
    }
    return list;
}

// --- control -------------------------------------------------------------------------------

void MonitorHub::control(MonitorConnection *connection, const MonitorControl &request, quint32 messageId)
{
    const MonitorControlResult outcome = m_control.handle(connection->describe(), connection->role(), request,
                                                          m_closed || m_clients.isShuttingDown());
    connection->sendEvent(MonitorFrame::ControlResult, messageId, {}, encodeMonitorControlResult(outcome));
}

// --- info ----------------------------------------------------------------------------------

void MonitorHub::sendInfo(MonitorConnection *connection, quint32 messageId)
{
    MonitorBrokerInfo info;
    info.version = QStringLiteral(KENNEL_VERSION);
    info.pid = QCoreApplication::applicationPid();
    for (const QString &address : m_clients.clientListenAddresses())
        info.listeners.append({false, false, address});
    for (const ListenAddress &address : boundAddresses())
        info.listeners.append({true, m_settings.tls && address.kind == ListenAddress::Kind::Tcp, address.toString()});
    connection->sendEvent(MonitorFrame::Info, messageId, {}, encodeMonitorBrokerInfo(info));
}

// --- service output ------------------------------------------------------------------------

void MonitorHub::serviceOutput(MonitorConnection *connection, const MonitorServiceOutputRequest &request, quint32 messageId)
{
    MonitorServiceOutput answer;
    answer.service = request.service;
    const Service *service = request.service.size() <= MonitorControlHandler::MaxControlTargetBytes
        ? m_services.service(QString::fromUtf8(request.service))
        : nullptr;
    if (!service) {
        answer.code = ErrorCode::NotRegistered;
        answer.error = QStringLiteral("no service named '%1'").arg(QString::fromUtf8(request.service.left(64)));
    } else if (connection->queuedBytes() >= m_settings.maxQueueBytes) {
        // A monitor that pipelines requests and never reads gets no more answers queued.
        answer.code = ErrorCode::OverBudget;
        answer.error = QStringLiteral("the monitor's queue is full; read what was sent first");
    } else {
        const OutputRing &ring = service->output();
        answer.dropped = ring.dropped();
        answer.lastSeq = ring.lastSeq();
        answer.keptLines = quint32(ring.lineCount());
        answer.keptBytes = quint64(ring.byteCount());
        answer.maxLines = quint32(ring.maxLines());
        answer.maxBytes = quint64(ring.maxBytes());
        // One frame: the lines' text within the frame limit, less room for the fields around it
        // (19 bytes per line, plus the header and the names).
        const qint64 room = qint64(config().maxFrameSize) - 1024;
        const qint64 perLine = 19;
        const qint64 textBudget = std::max<qint64>(1, room - perLine * std::max<qint64>(1, ring.lineCount()));
        const QList<OutputRing::Line> lines = request.afterSeq > 0
            ? ring.after(request.afterSeq, textBudget, &answer.more)
            : ring.tail(int(std::min<quint32>(request.maxLines, quint32(INT_MAX))), 0, textBudget, &answer.more);
        answer.lines.reserve(lines.size());
        for (const OutputRing::Line &line : lines)
            answer.lines.append({line.seq, line.timeMs, line.isStderr, line.text});
    }
    connection->sendEvent(MonitorFrame::ServiceOutput, messageId, {}, encodeMonitorServiceOutput(answer));
}

// --- topics (PROTOCOL §6.8) ------------------------------------------------------------------

void MonitorHub::sendTopics()
{
    // Only after a publication (or to a monitor that has none yet): a board whose topics are
    // quiet sends nothing, whatever their number.
    const quint64 generation = m_clients.topicsGeneration();
    if (generation == m_topicsGeneration && !m_topicsOwed)
        return;
    QList<MonitorConnection *> targets;
    for (MonitorConnection *connection : std::as_const(m_subscribers))
        if (connection->isAdmitted() && connection->wantsBusRecords())
            targets.append(connection);
    if (targets.isEmpty())
        return;
    m_topicsGeneration = generation;
    m_topicsOwed = false;
    MonitorTopics record;
    m_clients.fillTopics(record, std::max(0, m_settings.topicsPerRecord), MonitorRecords::nowMs());
    QByteArray payload = encodeMonitorTopics(record);
    // Within a frame: the busiest are kept, the record still counts all of them.
    const qsizetype room = qsizetype(config().maxFrameSize) - 1024;
    while (payload.size() > room && !record.entries.isEmpty()) {
        record.entries.resize(record.entries.size() / 2);
        payload = encodeMonitorTopics(record);
    }
    for (MonitorConnection *connection : targets) {
        // Periodic like the client refresh: a monitor with a long queue skips one.
        if (connection->queuedBytes() > m_settings.maxQueueBytes / 2) {
            m_topicsOwed = true;
            continue;
        }
        connection->sendEvent(MonitorFrame::Topics, 0, {}, payload);
    }
}

void MonitorHub::subscriptions(MonitorConnection *connection, const MonitorSubscriptionsRequest &request, quint32 messageId)
{
    MonitorSubscriptions answer;
    answer.sessionId = request.sessionId;
    const Session *session = m_clients.sessionById(request.sessionId);
    if (!session) {
        answer.code = ErrorCode::NotRegistered;
    } else if (connection->queuedBytes() >= m_settings.maxQueueBytes) {
        answer.code = ErrorCode::OverBudget;
    } else {
        const QList<QByteArray> filters = m_clients.subscriptionFiltersOf(*session);
        answer.total = quint32(filters.size());
        // Bounded by [topics] max_subscriptions already; listed as far as one frame takes them.
        qint64 room = qint64(config().maxFrameSize) - 1024;
        for (const QByteArray &filter : filters) {
            room -= 2 + filter.size();
            if (room < 0)
                break;
            answer.filters.append(filter);
        }
    }
    connection->sendEvent(MonitorFrame::Subscriptions, messageId, {}, encodeMonitorSubscriptions(answer));
}

} // namespace Kennel
