#include "bridgemanager.h"
#include "logging.h"

#include "bridgewire.h"
#include "framecodec.h"
#include "names.h"
#include "nameregistry.h"
#include "router.h"
#include "session.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QJsonDocument>

#include <unistd.h>

namespace Kennel {

namespace {
using Clock = std::chrono::steady_clock;

QString defaultSpoolPath(const QByteArray &board)
{
    const QString dir = ::geteuid() == 0 ? QStringLiteral("/var/lib/kennel")
                                         : QDir::homePath() + QStringLiteral("/.local/state/kennel");
    return dir + QStringLiteral("/bridge-") + QString::fromLatin1(board) + QStringLiteral(".spool");
}
} // namespace

BridgeManager::BridgeManager(Router &router, const NameRegistry &registry, HoldSink *next, QObject *parent)
    : QObject(parent)
    , m_router(router)
    , m_registry(registry)
    , m_next(next)
{
    connect(&m_link, &MqttLink::connected, this, &BridgeManager::linkUp);
    connect(&m_link, &MqttLink::disconnected, this, &BridgeManager::linkDown);
    connect(&m_link, &MqttLink::published, this, &BridgeManager::published);
    connect(&m_link, &MqttLink::messageReceived, this, &BridgeManager::received);
    m_deadlineTimer.setSingleShot(true);
    connect(&m_deadlineTimer, &QTimer::timeout, this, &BridgeManager::checkDeadlines);
    connect(&m_summaryTimer, &QTimer::timeout, this, &BridgeManager::publishSummary);
    // Several changes in one burst (a service restarting: stopping, backoff, starting, running)
    // make one summary.
    m_changeTimer.setSingleShot(true);
    m_changeTimer.setInterval(200);
    connect(&m_changeTimer, &QTimer::timeout, this, &BridgeManager::publishSummary);
}

BridgeManager::~BridgeManager()
{
    stop();
}

void BridgeManager::setTopicBus(TopicBus &bus, quint32 maxFrameSize)
{
    m_topics = std::make_unique<TopicBridge>(bus, m_link, maxFrameSize);
    if (m_running)
        m_topics->configure(m_settings);
}

QByteArray BridgeManager::topic(QByteArrayView board, const char *leaf) const
{
    return (BridgeWire::boardPrefix(m_settings.prefix, board) + QLatin1String(leaf)).toUtf8();
}

bool BridgeManager::openSpool(const BridgeSettings &settings, QString *error)
{
    const QString path = settings.spoolPath.isEmpty() ? defaultSpoolPath(settings.board) : settings.spoolPath;
    if (!m_spool.open(path, settings.spoolSyncFull, error))
        return false;
    m_spool.setMaxBytes(settings.spoolMaxBytes);
    qCInfo(lcBridge).noquote() << "spool" << path << "holds" << m_spool.depth() << "messages," << m_spool.bytes()
                               << "bytes (bound" << settings.spoolMaxBytes << "bytes, synchronous="
                               << (settings.spoolSyncFull ? "FULL)" : "NORMAL)");
    return true;
}

bool BridgeManager::openDedup(const BridgeSettings &settings, QString *error)
{
    // Beside the spool, in its directory and under its sync policy (dedupstore.h says why a file
    // of its own).
    const QString spool = settings.spoolPath.isEmpty() ? defaultSpoolPath(settings.board) : settings.spoolPath;
    m_dedup.setWindow(settings.dedupWindow);
    m_dedup.setMaxOrigins(settings.dedupOrigins);
    return m_dedup.open(spool + QStringLiteral(".dedup"), settings.spoolSyncFull, error);
}

MqttLink::Options BridgeManager::linkOptions(const BridgeSettings &s, QString *error) const
{
    MqttLink::Options o;
    const BridgeUrl url = parseBridgeUrl(s.url);
    if (!url.ok) {
        *error = url.error;
        return o;
    }
    o.host = url.host;
    o.port = url.port;
    o.tls = url.tls;
    o.clientId = s.clientId.isEmpty() ? QByteArray("kennel-") + s.board : s.clientId.toUtf8();
    o.keepaliveSeconds = s.keepaliveSeconds;
    o.username = s.username.toUtf8();
    if (!s.passwordFile.isEmpty()) {
        QFile file(s.passwordFile);
        if (!file.open(QIODevice::ReadOnly)) {
            *error = QStringLiteral("[bridge] password_file %1: %2").arg(s.passwordFile, file.errorString());
            return o;
        }
        o.password = file.readLine(4096).trimmed();
    }
    o.caFile = s.caFile;
    o.certFile = s.certFile;
    o.keyFile = s.keyFile;
    o.willTopic = (BridgeWire::boardPrefix(s.prefix, s.board) + QStringLiteral("online")).toUtf8();
    o.willPayload = QByteArrayLiteral("false");
    o.inflight = s.inflight;
    o.logCategory = lcBridge;
    o.reconnectMin = s.reconnectMin;
    o.reconnectMax = s.reconnectMax;
    return o;
}

bool BridgeManager::start(const BridgeSettings &settings, QString *error)
{
    QString why;
    const MqttLink::Options options = linkOptions(settings, &why);
    if (!why.isEmpty()) {
        *error = why;
        return false;
    }
    m_settings = settings;
    m_ownPrefix = BridgeWire::boardPrefix(settings.prefix, settings.board);
    if (!openSpool(settings, error) || !openDedup(settings, error))
        return false;
    if (m_topics)
        m_topics->configure(settings);
    m_running = true;
    qCInfo(lcBridge).noquote() << "bridge: board" << QString::fromLatin1(settings.board) << "to" << settings.url
                               << "under" << m_ownPrefix;
    m_link.start(options);
    return true;
}

bool BridgeManager::reconfigure(const BridgeSettings &settings, QString *error)
{
    if (!settings.enabled()) {
        stop();
        m_settings = settings;
        return true;
    }
    if (!m_running)
        return start(settings, error);
    QString why;
    const MqttLink::Options options = linkOptions(settings, &why);
    if (!why.isEmpty()) {
        *error = why;
        return false;
    }
    const bool relink = settings.linkDiffers(m_settings);
    const bool reopen = settings.spoolPath != m_settings.spoolPath || settings.board != m_settings.board;
    if (reopen) {
        BridgeSettings keep = m_settings;
        if (!openSpool(settings, error) || !openDedup(settings, error)) {
            QString ignored;
            openSpool(keep, &ignored); // back to what worked
            openDedup(keep, &ignored);
            return false;
        }
    }
    m_spool.setMaxBytes(settings.spoolMaxBytes);
    if (settings.spoolSyncFull != m_settings.spoolSyncFull) {
        m_spool.setSyncFull(settings.spoolSyncFull);
        m_dedup.setSyncFull(settings.spoolSyncFull);
    }
    m_dedup.setWindow(settings.dedupWindow);
    m_dedup.setMaxOrigins(settings.dedupOrigins);
    if (settings.summaryInterval != m_settings.summaryInterval && m_summaryTimer.isActive())
        m_summaryTimer.start(settings.summaryInterval);
    m_settings = settings;
    m_ownPrefix = BridgeWire::boardPrefix(settings.prefix, settings.board);
    if (relink || reopen) {
        qCInfo(lcBridge).noquote() << "bridge reconfigured: reconnecting to" << settings.url << "as board"
                                   << QString::fromLatin1(settings.board);
        m_inflight.clear();
        m_lastQueued = 0;
        m_summaryTimer.stop();
        m_link.start(options);
    } else {
        qCInfo(lcBridge, "bridge reconfigured: new bounds applied, link kept");
        pump();
    }
    if (m_topics) // after a relink: the new connection subscribes and publishes
        m_topics->configure(settings);
    return true;
}

void BridgeManager::stop()
{
    if (!m_running)
        return;
    m_running = false;
    // A planned stop says offline itself; the will is for deaths.
    if (m_link.isConnected())
        m_link.publish(topic(m_settings.board, "online"), QByteArrayLiteral("false"), true);
    if (m_topics)
        m_topics->stop();
    m_link.stop();
    m_summaryTimer.stop();
    m_changeTimer.stop();
    m_inflight.clear();
    for (auto it = m_pending.begin(); it != m_pending.end(); it = m_pending.erase(it))
        tell(it->second, DeliveryStatus::ShuttingDown);
    m_spool.close();
    m_dedup.close();
}

DeliveryStatus BridgeManager::offer(Endpoint &sender, QByteArrayView target, quint32 messageId, QByteArrayView payload,
                                    const char *legacyMsgField, bool wantStatus)
{
    const qsizetype at = target.indexOf('@');
    if (at < 0 || !m_running)
        return m_next ? m_next->offer(sender, target, messageId, payload, legacyMsgField, wantStatus)
                      : DeliveryStatus::NoSuchClient;
    const QByteArrayView name = target.first(at);
    const QByteArrayView board = target.sliced(at + 1);
    if (!isValidName(name) || !isValidBoard(board) || !isValidName(sender.name()))
        return DeliveryStatus::InvalidTarget;

    auto *session = dynamic_cast<Session *>(&sender);
    const bool native = session && session->protocol() == Session::Protocol::Native;
    BridgeWire::Message message;
    message.epoch = m_spool.epoch();
    message.messageId = messageId;
    message.wantStatus = native && wantStatus;
    message.sender = sender.name();
    message.target = name.toByteArray();
    message.payload = payload.toByteArray();
    std::vector<quint64> dropped;
    const quint64 seq = m_spool.append(topic(board, "msg/") + m_settings.board, BridgeWire::encodeMessage(message), &dropped);
    for (quint64 old : dropped) {
        ++m_counters.spoolDropped;
        finish(old, DeliveryStatus::RemoteDropped);
    }
    if (!dropped.empty())
        qCWarning(lcBridge, "spool bound of %lld bytes reached: %zu oldest messages dropped (%llu in all)",
                  qlonglong(m_spool.maxBytes()), dropped.size(), (unsigned long long)m_spool.droppedTotal());
    if (seq == 0) {
        ++m_counters.spoolDropped;
        return DeliveryStatus::RemoteDropped;
    }
    ++m_counters.forwarded;
    if (message.wantStatus) {
        Pending pending;
        pending.connection = session->id();
        pending.source = sender.name();
        pending.target = target.toByteArray();
        pending.messageId = messageId;
        pending.hearsRemote = session->features() & FeatureRemoteNames;
        pending.hearsHeld = session->features() & FeatureHeldStatus;
        pending.deadline = Clock::now() + m_settings.statusTimeout;
        m_pending.emplace(seq, std::move(pending));
        if (!m_deadlineTimer.isActive())
            armDeadline();
    }
    pump();
    // The final status follows across the bridge (or remote_timeout at the deadline).
    return DeliveryStatus::Held;
}

void BridgeManager::pump()
{
    if (!m_link.isConnected())
        return;
    const int room = m_settings.inflight - int(m_inflight.size());
    if (room <= 0)
        return;
    for (BridgeSpool::Row &row : m_spool.rowsAfter(m_lastQueued, room)) {
        BridgeWire::patchSeq(row.payload, row.seq);
        const int mid = m_link.publish(row.topic, row.payload);
        if (mid < 0)
            return; // the link went down; the row is published again after the reconnect
        m_lastQueued = row.seq;
        m_inflight.emplace(mid, std::move(row));
    }
}

void BridgeManager::published(int mid)
{
    const auto it = m_inflight.find(mid);
    if (it == m_inflight.end())
        return; // a retained state or status publish
    m_spool.remove(it->second);
    m_inflight.erase(it);
    ++m_counters.published;
    pump();
}

void BridgeManager::linkUp()
{
    qCInfo(lcBridge).noquote() << "MQTT link up:" << m_settings.url << "; spool holds" << m_spool.depth() << "messages";
    m_inflight.clear();
    m_lastQueued = 0;
    m_link.subscribe((m_ownPrefix + QStringLiteral("msg/+")).toUtf8());
    m_link.subscribe((m_ownPrefix + QStringLiteral("status/+")).toUtf8());
    if (m_topics)
        m_topics->linkUp();
    m_link.publish(topic(m_settings.board, "online"), QByteArrayLiteral("true"), true);
    publishSummary();
    m_summaryTimer.start(m_settings.summaryInterval);
    pump();
    Q_EMIT connectedChanged(true);
}

void BridgeManager::linkDown(const QString &why)
{
    qCWarning(lcBridge).noquote() << "MQTT link down:" << why << "; spooling";
    m_inflight.clear();
    m_lastQueued = 0;
    m_summaryTimer.stop();
    if (m_topics)
        m_topics->linkDown();
    Q_EMIT connectedChanged(false);
}

void BridgeManager::received(const QByteArray &topicName, const QByteArray &payload)
{
    if (m_topics && m_topics->received(topicName, payload))
        return;
    const QString t = QString::fromUtf8(topicName);
    if (!t.startsWith(m_ownPrefix)) {
        ++m_counters.malformed;
        return;
    }
    const QString rest = t.mid(m_ownPrefix.size());
    if (rest.startsWith(QLatin1String("msg/"))) {
        const QByteArray origin = rest.mid(4).toLatin1();
        if (!isValidBoard(origin)) {
            ++m_counters.malformed;
            return;
        }
        receivedMessage(origin, payload);
    } else if (rest.startsWith(QLatin1String("status/"))) {
        receivedStatus(payload);
    } else {
        ++m_counters.malformed;
    }
}

void BridgeManager::receivedMessage(const QByteArray &origin, const QByteArray &payload)
{
    const std::optional<BridgeWire::Message> message = BridgeWire::decodeMessage(payload);
    if (!message) {
        ++m_counters.malformed;
        qCWarning(lcBridge, "a message from board %s is not in the bridge's format: dropped", origin.constData());
        return;
    }
    // The order, against crashes (docs/FLEET.md "Duplicates"). libmosquitto 2.0.11 (Debian 12)
    // has queued (normally written) the PUBACK before it calls us, so nothing here can hold it back;
    // the MQTT broker redelivers only what it never saw acknowledged. Then: (1) the duplicate
    // check; (2) the mark committed to the dedup store (spool_sync: NORMAL survives SIGKILL, FULL
    // a power cut); (3) the local delivery. A crash before (2) leaves nothing marked: a
    // redelivery or republish is delivered then. A crash between (2) and (3) loses this one
    // message (its sender hears remote_timeout if it asked for a status), and never makes a
    // Kennel client see a message twice: marking after delivering would turn that same window
    // into a silent duplicate. (2) and (3) run in one call, with no I/O wait between them.
    if (m_dedup.firstTime(origin + ':' + QByteArray::number(message->epoch, 16), message->seq)
        != DedupStore::Verdict::First) {
        ++m_counters.duplicates;
        return;
    }
    ++m_counters.received;
    m_remoteSender.setName(message->sender + '@' + origin);
    DeliveryStatus status = DeliveryStatus::NoSuchClient;
    if (!isValidTarget(m_remoteSender.name()))
        status = DeliveryStatus::SenderNameUnfit; // SENDER@ORIGIN longer than a name field
    else
        status = m_router.routeNative(m_remoteSender, message->target, message->messageId, message->payload, false);
    if (!message->wantStatus)
        return;
    const int mid = m_link.publish(topic(origin, "status/") + m_settings.board,
                                   BridgeWire::encodeStatus({message->seq, status}));
    if (mid < 0)
        ++m_counters.statusesUnsent;
    else
        ++m_counters.statusesSent;
}

void BridgeManager::receivedStatus(const QByteArray &payload)
{
    const std::optional<BridgeWire::Status> status = BridgeWire::decodeStatus(payload);
    if (!status) {
        ++m_counters.malformed;
        return;
    }
    ++m_counters.statusesReceived;
    finish(status->seq, status->status);
}

void BridgeManager::finish(quint64 seq, DeliveryStatus status)
{
    const auto it = m_pending.find(seq);
    if (it == m_pending.end())
        return; // a duplicate status, or the sender did not ask
    if (status == DeliveryStatus::Held) {
        // Held by the target board's [hold]: its final outcome is not carried back, so the
        // sender hears `held` (if it listens for it) and the deadline still answers.
        tell(it->second, status);
        return;
    }
    const Pending pending = std::move(it->second);
    m_pending.erase(it);
    tell(pending, status);
}

void BridgeManager::tell(const Pending &pending, DeliveryStatus status)
{
    // The sender on the very connection that sent it: a reconnected client numbers anew.
    const NameEntry *entry = m_registry.find(pending.source);
    auto *sender = entry ? dynamic_cast<Session *>(entry->receiver) : nullptr;
    if (!sender || sender->id() != pending.connection || !sender->isOpen())
        return;
    // The statuses a sender may not know (PROTOCOL ): said as no_such_client unless it
    // negotiated remote_names; `held` (a remote held delivery) only to a held_status sender.
    if (status == DeliveryStatus::RemoteTimeout || status == DeliveryStatus::RemoteDropped) {
        if (!pending.hearsRemote)
            status = DeliveryStatus::NoSuchClient;
    } else if (const std::optional<DeliveryStatus> said = statusForSender(status, pending.hearsHeld)) {
        status = *said;
    } else {
        return;
    }
    sender->sendFrame(FrameType::DeliveryStatus, pending.messageId, {}, pending.target, encodeDeliveryStatus(status));
}

void BridgeManager::armDeadline()
{
    if (m_pending.empty())
        return;
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(m_pending.begin()->second.deadline - Clock::now());
    m_deadlineTimer.start(std::max(std::chrono::milliseconds(0), wait) + std::chrono::milliseconds(1));
}

void BridgeManager::checkDeadlines()
{
    const Clock::time_point now = Clock::now();
    // Entries are in sequence order, which is the order their deadlines were set in.
    while (!m_pending.empty() && m_pending.begin()->second.deadline <= now) {
        const Pending pending = std::move(m_pending.begin()->second);
        m_pending.erase(m_pending.begin());
        ++m_counters.timeouts;
        qCInfo(lcBridge, "no status from %s within %lld ms: remote_timeout", pending.target.constData(),
               qlonglong(m_settings.statusTimeout.count()));
        tell(pending, DeliveryStatus::RemoteTimeout);
    }
    armDeadline();
}

void BridgeManager::noteChange()
{
    if (m_link.isConnected() && !m_changeTimer.isActive())
        m_changeTimer.start();
}

void BridgeManager::publishSummary()
{
    if (!m_link.isConnected())
        return;
    QJsonObject summary = m_summary ? m_summary() : QJsonObject();
    summary.insert(QStringLiteral("board"), QString::fromLatin1(m_settings.board));
    summary.insert(QStringLiteral("time"), QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs));
    const State s = state();
    QJsonObject bridge;
    bridge.insert(QStringLiteral("connected"), s.connected);
    bridge.insert(QStringLiteral("spool_depth"), s.spoolDepth);
    bridge.insert(QStringLiteral("spool_bytes"), s.spoolBytes);
    bridge.insert(QStringLiteral("spool_oldest_age_ms"), s.oldestAgeMs);
    bridge.insert(QStringLiteral("spool_dropped"), qint64(s.counters.spoolDropped));
    bridge.insert(QStringLiteral("forwarded"), qint64(s.counters.forwarded));
    bridge.insert(QStringLiteral("received"), qint64(s.counters.received));
    bridge.insert(QStringLiteral("duplicates"), qint64(s.counters.duplicates));
    bridge.insert(QStringLiteral("dedup"), QJsonObject{{QStringLiteral("origins"), m_dedup.origins()},
                                                       {QStringLiteral("too_old"), qint64(m_dedup.counters().tooOld)},
                                                       {QStringLiteral("origins_evicted"), qint64(m_dedup.counters().originsEvicted)},
                                                       {QStringLiteral("write_errors"), qint64(m_dedup.counters().writeErrors)}});
    bridge.insert(QStringLiteral("timeouts"), qint64(s.counters.timeouts));
    bridge.insert(QStringLiteral("connects"), qint64(s.connects));
    bridge.insert(QStringLiteral("topics_exported"), qint64(s.topics.exported));
    bridge.insert(QStringLiteral("topics_export_dropped"), qint64(s.topics.exportDropped));
    bridge.insert(QStringLiteral("topics_imported"), qint64(s.topics.imported));
    bridge.insert(QStringLiteral("topics_import_dropped"), qint64(s.topics.importDropped));
    summary.insert(QStringLiteral("bridge"), bridge);
    m_link.publish(topic(m_settings.board, "summary"), QJsonDocument(summary).toJson(QJsonDocument::Compact), true);
}

void BridgeManager::publishEvent(const QJsonObject &event)
{
    if (!m_running)
        return;
    QJsonObject e = event;
    e.insert(QStringLiteral("board"), QString::fromLatin1(m_settings.board));
    e.insert(QStringLiteral("time"), QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs));
    if (m_link.publish(topic(m_settings.board, "events"), QJsonDocument(e).toJson(QJsonDocument::Compact)) < 0)
        ++m_counters.eventsUnsent;
    noteChange();
}

BridgeManager::State BridgeManager::state()
{
    State s;
    s.connected = m_link.isConnected();
    s.spoolDepth = m_spool.depth();
    s.spoolBytes = m_spool.bytes();
    const qint64 oldest = m_spool.oldestCreatedMs();
    s.oldestAgeMs = oldest ? std::max<qint64>(0, QDateTime::currentMSecsSinceEpoch() - oldest) : 0;
    s.pendingStatuses = qint64(m_pending.size());
    s.connects = m_link.connects();
    s.disconnects = m_link.disconnects();
    s.lastError = m_link.lastError();
    s.counters = m_counters;
    if (m_topics)
        s.topics = m_topics->counters();
    return s;
}

QString BridgeManager::statusText()
{
    if (!m_running)
        return QStringLiteral("bridge off");
    const State s = state();
    QString text = QStringLiteral("bridge %1 %2, spool %3 msgs (oldest %4 s), dropped %5")
        .arg(QString::fromLatin1(m_settings.board), s.connected ? QStringLiteral("connected") : QStringLiteral("disconnected"))
        .arg(s.spoolDepth)
        .arg(s.oldestAgeMs / 1000)
        .arg(s.counters.spoolDropped);
    if (m_topics && m_topics->active())
        text += QStringLiteral("; topics exported %1 (dropped %2), imported %3 (dropped %4)")
                    .arg(s.topics.exported)
                    .arg(s.topics.exportDropped)
                    .arg(s.topics.imported)
                    .arg(s.topics.importDropped);
    return text;
}

} // namespace Kennel
