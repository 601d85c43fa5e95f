#include "monitorhub.h"

#include "broker.h"
#include "brokercontext.h"
#include "monitorauthenticator.h"
#include "monitorlistener.h"
#include "nameregistry.h"
#include "names.h"
#include "session.h"
#include "supervisor.h"

#include <QAbstractSocket>
#include <QDateTime>
#include <QHostAddress>
#include <QLocalSocket>
#include <QLoggingCategory>
#include <QPointer>
#include <QTcpSocket>

#include <algorithm>
#include <ctime>
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

qint64 nowMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

qint64 wallClockUs()
{
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return qint64(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

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

const char *actionName(MonitorControlAction action)
{
    switch (action) {
    case MonitorControlAction::DisconnectClient: return "disconnect client";
    case MonitorControlAction::SendTestMessage: return "send a test message to";
    case MonitorControlAction::RestartService: return "restart service";
    case MonitorControlAction::StopService: return "stop service";
    case MonitorControlAction::StartService: return "start service";
    }
    return "?";
}

// Names a peer chose, safe to print: anything outside printable ASCII becomes '?'.
QString printable(QByteArrayView bytes)
{
    QString out;
    out.reserve(bytes.size());
    for (char c : bytes)
        out.append(c >= 0x20 && c < 0x7f ? QLatin1Char(c) : QLatin1Char('?'));
    return out;
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

MonitorControlResult result(ErrorCode code, const QString &text)
{
    MonitorControlResult r;
    r.code = code;
    r.text = text;
    return r;
}
} // namespace

MonitorHub::MonitorHub(Broker &broker, BrokerContext &context, QObject *parent)
    : QObject(parent)
    , m_broker(broker)
    , m_ctx(context)
    , m_settings(broker.config().monitor)
    , m_startedMs(nowMs())
{
    m_authenticator = new MonitorAuthenticator(m_settings, this);
    m_totalsTimer.setInterval(std::max(m_settings.totalsInterval, MinTotalsInterval));
    m_totalsTimer.setTimerType(Qt::CoarseTimer);
    connect(&m_totalsTimer, &QTimer::timeout, this, &MonitorHub::totalsTick);

    ClientWatchdog &watchdog = broker.watchdog();
    connect(&watchdog, &ClientWatchdog::registered, this, &MonitorHub::onWatchdogRegistered);
    connect(&watchdog, &ClientWatchdog::stateChanged, this, &MonitorHub::onWatchStateChanged);
    connect(&watchdog, &ClientWatchdog::actionTaken, this, &MonitorHub::onWatchdogAction);
    connect(&watchdog, &ClientWatchdog::signalOutcome, this, &MonitorHub::onSignalOutcome);
    connect(&broker.supervisor(), &Supervisor::serviceStateChanged, this, &MonitorHub::onServiceStateChanged);

    m_testSender = std::make_unique<Session>(context, -1, 0, Session::Transport::Unix, QStringLiteral("monitor control"));
    m_testSender->setIdentity(Session::Kind::Client, QByteArray(TestMessageSender), nullptr);
    m_legacyTestSender = std::make_unique<Session>(context, -1, 0, Session::Transport::Unix, QStringLiteral("monitor control"));
    m_legacyTestSender->setIdentity(Session::Kind::Client, QByteArray(LegacyTestMessageSender), nullptr);
}

MonitorHub::~MonitorHub()
{
    if (m_ctx.router && m_ctx.router->tap() == this)
        m_ctx.router->setTap(nullptr);
    m_trafficSinks.clear();
}

const BrokerConfig &MonitorHub::config() const
{
    return m_broker.config();
}

bool MonitorHub::loadCredentials(QString *error)
{
    return m_authenticator->load(error);
}

bool MonitorHub::startListening(QString *error)
{
    if (m_settings.listen.isEmpty())
        return true;
    m_listener = new MonitorListener(m_settings, this);
    m_listener->setProvenCheck([this](const QString &address) { return m_authenticator->isProven(address); });
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
    m_trafficSinks.clear();
    updateTap();
    const QList<MonitorConnection *> all = m_connections;
    for (MonitorConnection *connection : all)
        connection->closeWithBye(reason);
}

// --- admission ---------------------------------------------------------------------------------

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
    if (m_closed || m_ctx.shuttingDown) {
        connection->refuse(ErrorCode::ShuttingDown, QStringLiteral("the broker is shutting down"), messageId, true);
        return;
    }
    if (const QString why = waitingRoomRefusal(*connection); !why.isEmpty()) {
        connection->refuse(ErrorCode::TooManyClients, why, messageId, true);
        return;
    }
    qCDebug(lcMonitorHub).noquote() << "monitor connection from" << connection->peer().display
                                    << (connection->peer().monitorListener ? "on a monitor listener" : "handed over by a client listener");
    connection->start(hello, unread);
}

QString MonitorHub::waitingRoomRefusal(const MonitorConnection &connection)
{
    const MonitorConnection::Peer &peer = connection.peer();
    MonitorAuthenticator::Peer who;
    who.address = peer.address;
    who.isUnix = peer.isUnix;
    const QString key = MonitorAuthenticator::throttleKey(who);
    const QString prefix = MonitorAuthenticator::prefixKey(who);
    const bool proven = !peer.isUnix && m_authenticator->isProven(peer.address);
    int room = 0;
    int sameAddress = 0;
    int samePrefix = 0;
    for (const MonitorConnection *other : std::as_const(m_connections)) {
        if (other == &connection || other->peer().isUnix != peer.isUnix)
            continue;
        const MonitorConnection::State state = other->state();
        if (state != MonitorConnection::State::AwaitingHello && state != MonitorConnection::State::Authenticating)
            continue;
        ++room;
        if (peer.isUnix)
            continue;
        MonitorAuthenticator::Peer them;
        them.address = other->peer().address;
        if (MonitorAuthenticator::throttleKey(them) == key)
            ++sameAddress;
        if (!prefix.isEmpty() && MonitorAuthenticator::prefixKey(them) == prefix)
            ++samePrefix;
    }
    // Unix peers have a room of their own: a local operator never waits behind TCP guessers.
    if (peer.isUnix) {
        if (room >= pendingLimit()) {
            ++m_admission.refusedRoomFull;
            return QStringLiteral("%1 monitor connections on Unix sockets are already waiting to be admitted").arg(pendingLimit());
        }
        return {};
    }
    // A proven address (an operator's) may open as many monitors at once as may be admitted.
    const int addressCap = proven ? std::max(m_settings.maxWaitingPerAddress, m_settings.maxMonitors)
                                  : m_settings.maxWaitingPerAddress;
    if (sameAddress >= addressCap) {
        ++m_admission.refusedPerAddress;
        return QStringLiteral("%1 monitor connections from %2 are already waiting to be admitted (max_waiting_per_address)")
            .arg(addressCap).arg(key);
    }
    if (proven)
        return {};
    if (!prefix.isEmpty() && samePrefix >= m_settings.maxWaitingPerPrefix) {
        ++m_admission.refusedPerPrefix;
        return QStringLiteral("%1 monitor connections from %2 are already waiting to be admitted (max_waiting_per_prefix)")
            .arg(m_settings.maxWaitingPerPrefix).arg(prefix);
    }
    if (room >= pendingLimit()) {
        ++m_admission.refusedRoomFull;
        return QStringLiteral("%1 monitor connections are already waiting to be admitted").arg(pendingLimit());
    }
    return {};
}

void MonitorHub::admissionTimedOut(MonitorConnection *connection)
{
    ++m_admission.timedOut;
    qCWarning(lcMonitorHub).noquote() << connection->describe() << "not admitted within"
                                      << m_settings.admissionTimeout.count() << "ms (admission_timeout_ms);"
                                      << m_admission.timedOut << "timed out in all";
}

MonitorHub::AdmissionCounters MonitorHub::admissionCounters() const
{
    AdmissionCounters counters = m_admission;
    counters.guessesRefused = m_authenticator->guessesRefused();
    counters.servicesRefused = m_authenticator->servicesRefused();
    counters.failures = m_authenticator->failures();
    if (m_listener) {
        counters.handshakesRefusedPerAddress = m_listener->refusedPerAddress();
        counters.handshakesRefusedPerPrefix = m_listener->refusedPerPrefix();
        counters.handshakesRefusedFull = m_listener->refusedFull();
    }
    return counters;
}

int MonitorHub::pendingLimit() const
{
    return std::max(MinPendingMonitors, 4 * m_settings.maxMonitors);
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
    MonitorAuthenticator::Peer peer;
    peer.address = connection->peer().address;
    peer.isUnix = connection->peer().isUnix;
    peer.uid = connection->peer().uid;
    if (peer.isUnix && connection->peer().pid) {
        // Looked up when the Hello is decided, the closest to the act the broker can get.
        if (const Service *service = m_broker.supervisor().serviceOwning(*connection->peer().pid)) {
            peer.service = service->name();
            peer.serviceMayMonitor = service->settings().monitor;
        }
    }
    QPointer<MonitorConnection> guard(connection);
    m_authenticator->authenticate(peer, token, connection, [this, guard, messageId](bool admitted, const QString &how) {
        if (guard)
            admissionDecided(guard, admitted, how, messageId);
    });
}

void MonitorHub::admissionDecided(MonitorConnection *connection, bool admitted, const QString &how, quint32 messageId)
{
    if (connection->state() != MonitorConnection::State::Authenticating)
        return;
    if (!admitted) {
        // Logged by the authenticator (address, reason, delay) and by the refusal itself.
        connection->refuse(ErrorCode::NotPermitted, QStringLiteral("not admitted as a monitor: ") + how, messageId, true);
        return;
    }
    if (m_closed || m_ctx.shuttingDown) {
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
    connection->admit(how, messageId, encodeWelcome(welcome));
    qCInfo(lcMonitorHub).noquote() << "admitted" << connection->describe() << "-" << how
                                   << (connection->peer().monitorListener ? "(monitor listener)" : "(client listener)");
    emit monitorAdmitted(connection->name(), connection->peer().display);
}

void MonitorHub::connectionFinished(MonitorConnection *connection)
{
    m_connections.removeOne(connection);
    m_subscribers.removeOne(connection);
    updateTap();
    if (m_subscribers.isEmpty())
        m_totalsTimer.stop();
    if (!connection->admittedHow().isEmpty()) {
        qCInfo(lcMonitorHub).noquote() << "closed" << connection->describe();
        emit monitorClosed(connection->name(), connection->peer().display);
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
    sendSnapshot(connection);
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
    return m_ctx.budgets.monitorQueues;
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
    MemoryBudget &budget = m_ctx.budgets.monitorQueues;
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

void MonitorHub::sendSnapshot(MonitorConnection *connection)
{
    std::vector<Session *> clients;
    m_broker.forEachSession([&clients](Session &session) {
        if (session.kind() != Session::Kind::Pending && session.isOpen())
            clients.push_back(&session);
    });
    std::sort(clients.begin(), clients.end(), [](const Session *a, const Session *b) { return a->id() < b->id(); });
    const QList<Service *> &services = m_broker.supervisor().services();

    MonitorSnapshotBegin begin;
    begin.brokerTimeMs = nowMs();
    begin.brokerStartedMs = m_startedMs;
    begin.clientCount = quint32(clients.size());
    begin.serviceCount = quint32(services.size());
    begin.brokerVersion = QStringLiteral(KENNEL_VERSION);
    begin.monitorIdentity = connection->admittedHow();

    connection->setSnapshotInProgress(true);
    connection->sendEvent(MonitorFrame::SnapshotBegin, 0, {}, encodeMonitorSnapshotBegin(begin));
    auto &signatures = connection->clientSignatures();
    signatures.clear();
    for (Session *session : clients) {
        const MonitorClient record = clientRecord(*session);
        signatures[record.sessionId] = clientSignature(record);
        connection->sendEvent(MonitorFrame::Client, 0, session->name(), encodeMonitorClient(record));
    }
    for (const Service *service : services)
        connection->sendEvent(MonitorFrame::Service, 0, {}, encodeMonitorService(serviceRecord(*service)));
    connection->sendEvent(MonitorFrame::SnapshotEnd, 0, {}, {});
    connection->setSnapshotInProgress(false);
}

// The owner if it is known already (a watched client's is, from its registration); else, on a Unix
// socket, the process that connected (SO_PEERCRED at accept); else 0. Never a lookup: finding the
// owner walks every process's fd table, not something a snapshot of thousands of clients may do.
qint64 MonitorHub::knownPid(const Session &session)
{
    if (const PeerLookupResult *peer = session.cachedPeerProcess())
        return peer->status == PeerLookup::Found ? peer->process.pid : 0;
    return session.transport() == Session::Transport::Unix ? session.connectingPid() : 0;
}

MonitorClient MonitorHub::clientRecord(Session &session) const
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
    const ClientWatchdog &watchdog = m_broker.watchdog();
    if (const Watchdog::Entry *entry = watchdog.engine().entry(session.id())) {
        const Watchdog::Clock::time_point now = Watchdog::Clock::now();
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
    if (const ClientWatchdog::History *history = watchdog.history(session.name())) {
        r.expiries = history->expiries;
        r.kills = history->signalsSent;
    }
    return r;
}

quint64 MonitorHub::clientSignature(const MonitorClient &r)
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
    return h;
}

MonitorService MonitorHub::serviceRecord(const Service &service) const
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

void MonitorHub::broadcast(FrameType type, QByteArrayView source, QByteArrayView payload)
{
    const QList<MonitorConnection *> subscribers = m_subscribers; // a write may end a connection
    for (MonitorConnection *connection : subscribers)
        connection->sendEvent(type, 0, source, payload);
}

void MonitorHub::broadcastClient(Session &session)
{
    const MonitorClient record = clientRecord(session);
    const quint64 signature = clientSignature(record);
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
    gone.timeMs = nowMs();
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
    MonitorWatchdogEvent event;
    event.sessionId = sessionId;
    event.name = name;
    event.timeMs = nowMs();
    event.kind = kind;
    event.pid = pid;
    event.detail = detail;
    if (Session *session = m_broker.sessionById(sessionId)) {
        if (pid < 0)
            event.pid = knownPid(*session);
    }
    if (event.pid < 0)
        event.pid = 0;
    if (const Watchdog::Entry *entry = m_broker.watchdog().engine().entry(sessionId))
        event.feeds = entry->feeds;
    broadcast(MonitorFrame::WatchdogEvent, {}, encodeMonitorWatchdogEvent(event));
}

void MonitorHub::onWatchdogRegistered(quint64 sessionId, const QByteArray &name, WatchdogAction action)
{
    if (m_subscribers.isEmpty())
        return;
    QString detail = QStringLiteral("on expiry: %1").arg(QLatin1String(watchdogActionName(action)));
    if (const Watchdog::Entry *entry = m_broker.watchdog().engine().entry(sessionId))
        detail = QStringLiteral("every %1 ms, %2 misses allowed, ").arg(entry->terms.interval.count()).arg(entry->terms.allowedMisses)
                 + detail;
    broadcastWatchdogEvent(sessionId, name, MonitorWatchdogEventKind::Registered, detail);
    if (Session *session = m_broker.sessionById(sessionId))
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
    const Watchdog::Entry *entry = m_broker.watchdog().engine().entry(sessionId);
    switch (to) {
    case WatchState::Late:
        kind = MonitorWatchdogEventKind::Late;
        if (entry)
            detail = QStringLiteral("no feed for %1 ms; expires in %2 ms")
                         .arg(entry->terms.interval.count())
                         .arg(std::max<qint64>(0, msOf(entry->expiresAt() - Watchdog::Clock::now())));
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
    if (Session *session = m_broker.sessionById(sessionId))
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

void MonitorHub::onServiceStateChanged(Service *service, Service::State state)
{
    Q_UNUSED(state);
    if (m_subscribers.isEmpty() || !service)
        return;
    broadcast(MonitorFrame::Service, {}, encodeMonitorService(serviceRecord(*service)));
}

void MonitorHub::totalsTick()
{
    if (m_subscribers.isEmpty()) {
        m_totalsTimer.stop();
        return;
    }
    const TrafficCounters &counters = m_broker.totals();
    MonitorTotals totals;
    totals.timeMs = nowMs();
    totals.messagesRouted = counters.messagesOut;
    totals.bytesRouted = counters.bytesOut;
    totals.undelivered = counters.undeliveredTotal();
    totals.clients = quint32(m_broker.connectionCount());
    totals.monitors = quint32(admittedCount());
    totals.watched = quint32(m_broker.watchdog().engine().size());
    totals.expiries = m_expiries;
    totals.kills = m_signalsSent;
    const BudgetLedger &budgets = m_ctx.budgets;
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
    broadcast(MonitorFrame::Totals, {}, encodeMonitorTotals(totals));

    const auto now = std::chrono::steady_clock::now();
    if (now - m_lastClientRefresh >= ClientRefreshInterval) {
        m_lastClientRefresh = now;
        refreshClients();
    }
}

void MonitorHub::refreshClients()
{
    struct Current
    {
        Session *session;
        MonitorClient record;
        quint64 signature;
        QByteArray payload; // encoded the first time a monitor needs it
    };
    std::vector<Current> current;
    current.reserve(m_broker.connectionCount());
    m_broker.forEachSession([this, &current](Session &session) {
        if (session.kind() == Session::Kind::Pending || !session.isOpen())
            return;
        MonitorClient record = clientRecord(session);
        const quint64 signature = clientSignature(record);
        current.push_back({&session, std::move(record), signature, {}});
    });
    const QList<MonitorConnection *> subscribers = m_subscribers;
    for (MonitorConnection *connection : subscribers) {
        // Half its bound already queued: this refresh would only add to what it cannot read. It
        // keeps its old signatures and so gets these changes at the next refresh it has room for.
        if (connection->queuedBytes() > m_settings.maxQueueBytes / 2)
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

void MonitorHub::updateTap()
{
    m_trafficSinks.clear();
    if (!m_closed) {
        for (MonitorConnection *connection : std::as_const(m_subscribers))
            if (connection->isAdmitted() && connection->wantsTraffic())
                m_trafficSinks.push_back(connection);
    }
    if (m_ctx.router)
        m_ctx.router->setTap(m_trafficSinks.empty() ? nullptr : this);
}

bool MonitorHub::isTrafficTapped() const
{
    return m_ctx.router && m_ctx.router->tap() == this;
}

void MonitorHub::record(const Session &sender, QByteArrayView target, QByteArrayView payload, DeliveryStatus status)
{
    const qint64 timeUs = wallClockUs();
    // By index: recordTraffic never ends a connection synchronously, but stays cheap to check.
    for (size_t i = 0; i < m_trafficSinks.size(); ++i)
        m_trafficSinks[i]->recordTraffic(timeUs, sender.name(), target, payload, status);
}

QList<MonitorHub::MonitorInfo> MonitorHub::monitors() const
{
    QList<MonitorInfo> list;
    for (const MonitorConnection *connection : m_connections) {
        MonitorInfo info;
        info.name = connection->name();
        info.peerAddress = connection->peer().display;
        info.admittedHow = connection->admittedHow();
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
    const QString who = connection->describe();
    const QByteArray target = request.target;
    MonitorControlResult outcome;
    if (m_closed || m_ctx.shuttingDown) {
        outcome = result(ErrorCode::ShuttingDown, QStringLiteral("the broker is shutting down"));
    } else if (target.isEmpty() || target.size() > MaxControlTargetBytes) {
        outcome = result(ErrorCode::InvalidName, QStringLiteral("a control needs a target name of 1 to %1 bytes").arg(MaxControlTargetBytes));
    } else {
        switch (request.action) {
        case MonitorControlAction::DisconnectClient:
            outcome = disconnectClient(target, who);
            break;
        case MonitorControlAction::SendTestMessage:
            outcome = sendTestMessage(target, request.text);
            break;
        case MonitorControlAction::RestartService:
        case MonitorControlAction::StopService:
        case MonitorControlAction::StartService:
            outcome = serviceAction(request.action, target);
            break;
        }
    }
    const QString line = QStringLiteral("%1 asked to %2 '%3': %4%5")
                             .arg(who, QLatin1String(actionName(request.action)), printable(target),
                                  outcome.code == ErrorCode::None ? QString() : QLatin1String(errorCodeName(outcome.code)) + QStringLiteral(" - "),
                                  outcome.text);
    if (outcome.code == ErrorCode::None)
        qCInfo(lcMonitorHub).noquote() << line;
    else
        qCWarning(lcMonitorHub).noquote() << line;
    connection->sendEvent(MonitorFrame::ControlResult, messageId, {}, encodeMonitorControlResult(outcome));
}

MonitorControlResult MonitorHub::disconnectClient(const QByteArray &target, const QString &who)
{
    if (!isValidName(target, config().maxNameLength))
        return result(ErrorCode::InvalidName, QStringLiteral("'%1' is not a client name").arg(printable(target)));
    NameEntry *entry = m_ctx.registry->find(target);
    if (!entry || (!entry->receiver && entry->legacySenders.empty()))
        return result(ErrorCode::NotRegistered, QStringLiteral("no client named '%1'").arg(printable(target)));
    // A legacy client is its receive connection and its main connections: all of them go. Taken
    // before the first close, which may release the entry.
    std::vector<Session *> connections;
    if (entry->receiver)
        connections.push_back(entry->receiver);
    for (Session *sender : entry->legacySenders)
        if (sender != entry->receiver)
            connections.push_back(sender);
    const QByteArray bye = QStringLiteral("disconnected by an operator (%1)").arg(who).toUtf8();
    int closed = 0;
    for (Session *session : connections) {
        if (!session->isOpen())
            continue;
        if (session->protocol() == Session::Protocol::Native) {
            // Best effort: what fits into the socket now; a client that does not read is not waited for.
            session->sendFrame(FrameType::Bye, 0, {}, {}, bye);
            session->flushOutput();
        }
        if (session->isOpen())
            session->close(Session::CloseReason::ByMonitor, who);
        ++closed;
    }
    return result(ErrorCode::None, QStringLiteral("closed %1 connection%2 of '%3'")
                                       .arg(closed).arg(closed == 1 ? QString() : QStringLiteral("s"), printable(target)));
}

MonitorControlResult MonitorHub::sendTestMessage(const QByteArray &target, const QByteArray &text)
{
    if (!isValidName(target, config().maxNameLength))
        return result(ErrorCode::InvalidName, QStringLiteral("'%1' is not a client name").arg(printable(target)));
    const NameEntry *entry = m_ctx.registry->find(target);
    Session *sender = m_testSender.get();
    if (entry && entry->receiver && entry->receiver->protocol() == Session::Protocol::Legacy)
        sender = m_legacyTestSender.get();
    // Through the router like any message: the target's queue bound, its protocol's encoding,
    // the counters and the traffic records all apply.
    const DeliveryStatus status = m_ctx.router->routeNative(*sender, target, quint32(m_ctx.router->nextLegacyMessageId()), text);
    const QString statusText = QLatin1String(deliveryStatusName(status));
    switch (status) {
    case DeliveryStatus::Delivered:
        return result(ErrorCode::None, QStringLiteral("delivered to '%1' as from '%2' (%3 bytes)")
                                           .arg(printable(target), QString::fromLatin1(sender->name())).arg(text.size()));
    case DeliveryStatus::NoSuchClient:
        return result(ErrorCode::NotRegistered, QStringLiteral("%1: no client named '%2' receives messages").arg(statusText, printable(target)));
    case DeliveryStatus::InvalidTarget:
        return result(ErrorCode::InvalidName, statusText);
    case DeliveryStatus::ShuttingDown:
        return result(ErrorCode::ShuttingDown, statusText);
    case DeliveryStatus::TooLargeForTarget:
        return result(ErrorCode::FrameTooLarge, QStringLiteral("%1: '%2' cannot take %3 bytes")
                                                    .arg(statusText, printable(target)).arg(text.size()));
    case DeliveryStatus::Held:
        return result(ErrorCode::None, QStringLiteral("held for '%1', expected back").arg(printable(target)));
    case DeliveryStatus::TargetQueueFull:
    case DeliveryStatus::SenderNameUnfit:
    case DeliveryStatus::NotRegistered:
    case DeliveryStatus::Expired:
    case DeliveryStatus::DroppedNameCount:
    case DeliveryStatus::DroppedNameBytes:
    case DeliveryStatus::DroppedTotal:
    case DeliveryStatus::StartFailed:
        break;
    }
    return result(ErrorCode::NotPermitted, QStringLiteral("%1: not delivered to '%2'").arg(statusText, printable(target)));
}

MonitorControlResult MonitorHub::serviceAction(MonitorControlAction action, const QByteArray &target)
{
    Service *service = m_broker.supervisor().service(QString::fromUtf8(target));
    if (!service)
        return result(ErrorCode::NotRegistered, QStringLiteral("no service named '%1'").arg(printable(target)));
    const char *before = Service::stateName(service->state());
    switch (action) {
    case MonitorControlAction::RestartService:
        service->restart();
        return result(ErrorCode::None, QStringLiteral("restarting '%1' (was %2)").arg(service->name(), QLatin1String(before)));
    case MonitorControlAction::StopService:
        if (service->state() == Service::State::Stopped)
            return result(ErrorCode::None, QStringLiteral("'%1' is stopped already").arg(service->name()));
        service->stop();
        return result(ErrorCode::None, QStringLiteral("stopping '%1' (was %2)").arg(service->name(), QLatin1String(before)));
    case MonitorControlAction::StartService:
        if (service->state() == Service::State::Running || service->state() == Service::State::Starting)
            return result(ErrorCode::None, QStringLiteral("'%1' is %2 already").arg(service->name(), QLatin1String(before)));
        service->start();
        return result(ErrorCode::None, QStringLiteral("starting '%1' (was %2)").arg(service->name(), QLatin1String(before)));
    case MonitorControlAction::DisconnectClient:
    case MonitorControlAction::SendTestMessage:
        break;
    }
    return result(ErrorCode::NotPermitted, QStringLiteral("not a service action"));
}

} // namespace Kennel
