#include "monitorcodec.h"

#include <QtEndian>

#include <algorithm>
#include <cstring>
#include <limits>

namespace Kennel {

namespace {

// Appends big-endian fields. Strings and byte arrays longer than 65535 bytes are cut: every field
// here is a name, an address, a preview or a human-readable detail, none of which may be that long.
class Writer
{
public:
    explicit Writer(QByteArray &out) : m_out(out) {}
    Writer &u8(quint8 v) { m_out.append(char(v)); return *this; }
    Writer &u16(quint16 v) { return put(qToBigEndian(v)); }
    Writer &u32(quint32 v) { return put(qToBigEndian(v)); }
    Writer &u64(quint64 v) { return put(qToBigEndian(v)); }
    Writer &i32(qint32 v) { return u32(quint32(v)); }
    Writer &i64(qint64 v) { return u64(quint64(v)); }
    Writer &bytes(QByteArrayView v)
    {
        const qsizetype n = qMin<qsizetype>(v.size(), std::numeric_limits<quint16>::max());
        u16(quint16(n));
        m_out.append(v.data(), n);
        return *this;
    }
    Writer &str(const QString &v) { return bytes(v.toUtf8()); }

private:
    template<typename T>
    Writer &put(T v)
    {
        m_out.append(reinterpret_cast<const char *>(&v), sizeof v);
        return *this;
    }
    QByteArray &m_out;
};

// Reads what Writer wrote; the first short read makes every later one fail too, so a decoder
// checks ok() once at the end.
class Reader
{
public:
    explicit Reader(QByteArrayView in) : m_in(in) {}
    bool ok() const { return m_ok; }
    bool atEnd() const { return m_pos >= m_in.size(); }
    quint8 u8() { return take<quint8>(); }
    quint16 u16() { return qFromBigEndian(take<quint16>()); }
    quint32 u32() { return qFromBigEndian(take<quint32>()); }
    quint64 u64() { return qFromBigEndian(take<quint64>()); }
    qint32 i32() { return qint32(u32()); }
    qint64 i64() { return qint64(u64()); }
    QByteArray bytes()
    {
        const quint16 n = u16();
        if (!m_ok || m_in.size() - m_pos < n) {
            m_ok = false;
            return {};
        }
        QByteArray v(m_in.data() + m_pos, n);
        m_pos += n;
        return v;
    }
    QString str() { return QString::fromUtf8(bytes()); }
    // An enum stored in one byte, valid up to and including `last`.
    template<typename E>
    E enumerated(E last)
    {
        const quint8 v = u8();
        if (v > quint8(last))
            m_ok = false;
        return E(v);
    }

private:
    template<typename T>
    T take()
    {
        T v{};
        if (!m_ok || m_in.size() - m_pos < qsizetype(sizeof v)) {
            m_ok = false;
            return v;
        }
        std::memcpy(&v, m_in.data() + m_pos, sizeof v);
        m_pos += qsizetype(sizeof v);
        return v;
    }
    QByteArrayView m_in;
    qsizetype m_pos = 0;
    bool m_ok = true;
};

template<typename T>
std::optional<T> done(const Reader &r, T v)
{
    if (!r.ok())
        return std::nullopt;
    return v;
}

} // namespace

const char *monitorFrameName(FrameType type)
{
    switch (quint8(type)) {
    case 0x40: return "monitor_subscribe";
    case 0x41: return "monitor_snapshot_begin";
    case 0x42: return "monitor_client";
    case 0x43: return "monitor_service";
    case 0x44: return "monitor_snapshot_end";
    case 0x45: return "monitor_client_gone";
    case 0x46: return "monitor_watchdog_event";
    case 0x47: return "monitor_traffic";
    case 0x48: return "monitor_traffic_dropped";
    case 0x49: return "monitor_totals";
    case 0x4E: return "monitor_policy_denial";
    case 0x50: return "monitor_control";
    case 0x51: return "monitor_control_result";
    case 0x54: return "monitor_info_request";
    case 0x55: return "monitor_info";
    case 0x52: return "monitor_service_output_request";
    case 0x53: return "monitor_service_output";
    case 0x4C: return "monitor_topics";
    case 0x4D: return "monitor_subscriptions";
    case 0x56: return "monitor_publications";
    case 0x57: return "monitor_calls";
    case 0x4A: return "monitor_held";
    default: return nullptr;
    }
}

const char *monitorRoleName(MonitorRole role)
{
    return role == MonitorRole::Operator ? "operator" : "read-only";
}

QByteArray encodeMonitorSubscribe(const MonitorSubscribe &v)
{
    QByteArray out;
    Writer(out).u8(v.wantTraffic ? 1 : 0).u16(v.previewBytes).u32(v.maxTrafficPerSecond);
    // Topics and calls (§6.8), appended.
    Writer(out).u8(v.wantBusRecords ? 1 : 0);
    return out;
}

std::optional<MonitorSubscribe> decodeMonitorSubscribe(QByteArrayView payload)
{
    Reader r(payload);
    MonitorSubscribe v;
    const quint8 flags = r.u8();
    v.wantTraffic = flags & 1;
    v.previewBytes = r.u16();
    v.maxTrafficPerSecond = r.u32();
    // Added with topics and calls (§6.8): an older monitor's Subscribe ends here.
    if (r.ok() && !r.atEnd())
        v.wantBusRecords = r.u8() & 1;
    return done(r, v);
}

QByteArray encodeMonitorSnapshotBegin(const MonitorSnapshotBegin &v)
{
    QByteArray out;
    Writer(out).i64(v.brokerTimeMs).i64(v.brokerStartedMs).u32(v.clientCount).u32(v.serviceCount)
        .str(v.brokerVersion).str(v.monitorIdentity)
        .u8(quint8(v.role)); // roles
    return out;
}

std::optional<MonitorSnapshotBegin> decodeMonitorSnapshotBegin(QByteArrayView payload)
{
    Reader r(payload);
    MonitorSnapshotBegin v;
    v.brokerTimeMs = r.i64();
    v.brokerStartedMs = r.i64();
    v.clientCount = r.u32();
    v.serviceCount = r.u32();
    v.brokerVersion = r.str();
    v.monitorIdentity = r.str();
    // Roles: absent from an older broker's. A role this side does not know counts as read-only:
    // offering controls the broker will refuse is worse than greying one it would allow.
    if (r.ok() && !r.atEnd())
        v.role = r.u8() == quint8(MonitorRole::Operator) ? MonitorRole::Operator : MonitorRole::ReadOnly;
    return done(r, v);
}

QByteArray encodeMonitorClient(const MonitorClient &v)
{
    QByteArray out;
    out.reserve(128 + v.name.size() + v.peerAddress.size());
    Writer(out).u64(v.sessionId).bytes(v.name).u8(quint8(v.kind)).i64(v.pid).str(v.peerAddress).i64(v.connectedSinceMs)
        .u64(v.messagesIn).u64(v.messagesOut).u64(v.bytesIn).u64(v.bytesOut).u64(v.refused).u64(v.dropped)
        .u8(quint8(v.watchState)).u32(v.watchIntervalMs).u16(v.watchAllowedMisses).u64(v.feeds)
        .i64(v.msSinceLastFeed).i64(v.msUntilExpiry).u32(v.expiries).u32(v.kills)
        .u32(v.subscriptions).u64(v.publicationsNotTaken); // topics
    return out;
}

std::optional<MonitorClient> decodeMonitorClient(QByteArrayView payload)
{
    Reader r(payload);
    MonitorClient v;
    v.sessionId = r.u64();
    v.name = r.bytes();
    v.kind = r.enumerated(MonitorClientKind::Monitor);
    v.pid = r.i64();
    v.peerAddress = r.str();
    v.connectedSinceMs = r.i64();
    v.messagesIn = r.u64();
    v.messagesOut = r.u64();
    v.bytesIn = r.u64();
    v.bytesOut = r.u64();
    v.refused = r.u64();
    v.dropped = r.u64();
    v.watchState = r.enumerated(MonitorWatchState::Expired);
    v.watchIntervalMs = r.u32();
    v.watchAllowedMisses = r.u16();
    v.feeds = r.u64();
    v.msSinceLastFeed = r.i64();
    v.msUntilExpiry = r.i64();
    v.expiries = r.u32();
    v.kills = r.u32();
    // Topics, added later: an older broker's record ends here.
    if (r.ok() && !r.atEnd()) {
        v.subscriptions = r.u32();
        v.publicationsNotTaken = r.u64();
    }
    return done(r, v);
}

QByteArray encodeMonitorClientGone(const MonitorClientGone &v)
{
    QByteArray out;
    Writer(out).u64(v.sessionId).i64(v.timeMs).str(v.reason);
    return out;
}

std::optional<MonitorClientGone> decodeMonitorClientGone(QByteArrayView payload)
{
    Reader r(payload);
    MonitorClientGone v;
    v.sessionId = r.u64();
    v.timeMs = r.i64();
    v.reason = r.str();
    return done(r, v);
}

QByteArray encodeMonitorService(const MonitorService &v)
{
    QByteArray out;
    Writer(out).str(v.name).u8(quint8(v.state)).i64(v.pid).u32(v.starts).u32(v.restarts).i32(v.lastExitCode)
        .i32(v.lastExitSignal).i64(v.lastExitMs).i64(v.msUntilRestart).str(v.lastError);
    return out;
}

std::optional<MonitorService> decodeMonitorService(QByteArrayView payload)
{
    Reader r(payload);
    MonitorService v;
    v.name = r.str();
    v.state = r.enumerated(MonitorServiceState::Failed);
    v.pid = r.i64();
    v.starts = r.u32();
    v.restarts = r.u32();
    v.lastExitCode = r.i32();
    v.lastExitSignal = r.i32();
    v.lastExitMs = r.i64();
    v.msUntilRestart = r.i64();
    v.lastError = r.str();
    return done(r, v);
}

QByteArray encodeMonitorWatchdogEvent(const MonitorWatchdogEvent &v)
{
    QByteArray out;
    Writer(out).u64(v.sessionId).bytes(v.name).i64(v.timeMs).u8(quint8(v.kind)).i64(v.pid).u64(v.feeds).str(v.detail);
    return out;
}

std::optional<MonitorWatchdogEvent> decodeMonitorWatchdogEvent(QByteArrayView payload)
{
    Reader r(payload);
    MonitorWatchdogEvent v;
    v.sessionId = r.u64();
    v.name = r.bytes();
    v.timeMs = r.i64();
    v.kind = r.enumerated(MonitorWatchdogEventKind::Notified);
    v.pid = r.i64();
    v.feeds = r.u64();
    v.detail = r.str();
    return done(r, v);
}

void appendMonitorTrafficRecord(QByteArray &batch, qint64 timeUs, QByteArrayView source, QByteArrayView target, quint32 size,
                                DeliveryStatus status, QByteArrayView preview)
{
    // The count in front is patched here so a batch is always a valid payload.
    if (batch.size() < 2)
        batch = QByteArray(2, '\0');
    const quint16 count = qFromBigEndian<quint16>(batch.constData());
    Writer(batch).i64(timeUs).bytes(source).bytes(target).u32(size).u16(quint16(status)).bytes(preview);
    const quint16 next = qToBigEndian<quint16>(quint16(count + 1));
    std::memcpy(batch.data(), &next, sizeof next);
}

void appendMonitorHeldTrailerEntry(QByteArray &trailer, quint16 recordIndex, qint64 heldMs)
{
    if (trailer.size() < 2)
        trailer = QByteArray(2, '\0');
    const quint16 count = qFromBigEndian<quint16>(trailer.constData());
    Writer(trailer).u16(recordIndex).u32(quint32(std::clamp<qint64>(heldMs, 0, std::numeric_limits<quint32>::max())));
    const quint16 next = qToBigEndian<quint16>(quint16(count + 1));
    std::memcpy(trailer.data(), &next, sizeof next);
}

QByteArray encodeMonitorTrafficBatch(const QList<MonitorTrafficRecord> &records)
{
    QByteArray out(2, '\0');
    QByteArray trailer;
    for (const MonitorTrafficRecord &r : records) {
        if (r.heldMs >= 0)
            appendMonitorHeldTrailerEntry(trailer, quint16(qFromBigEndian<quint16>(out.constData())), r.heldMs);
        appendMonitorTrafficRecord(out, r.timeUs, r.source, r.target, r.size, r.status, r.preview);
    }
    out.append(trailer);
    return out;
}

std::optional<QList<MonitorTrafficRecord>> decodeMonitorTrafficBatch(QByteArrayView payload)
{
    Reader r(payload);
    const quint16 count = r.u16();
    QList<MonitorTrafficRecord> records;
    // A count the payload cannot hold is malformed; do not reserve what a liar asks for.
    if (!r.ok() || qsizetype(count) * 18 > payload.size())
        return std::nullopt;
    records.reserve(count);
    for (quint16 i = 0; i < count; ++i) {
        MonitorTrafficRecord rec;
        rec.timeUs = r.i64();
        rec.source = r.bytes();
        rec.target = r.bytes();
        rec.size = r.u32();
        // Kept whatever its number, as a DeliveryStatus frame's is (PROTOCOL §5.3): a newer broker's
        // statuses (and unacknowledged, remote_*, policy_denied) must not cost the whole batch.
        rec.status = DeliveryStatus(r.u16());
        rec.preview = r.bytes();
        if (!r.ok())
            return std::nullopt;
        records.append(std::move(rec));
    }
    // The held outcomes' trailer (PROTOCOL ), absent from an older broker's batches.
    if (!r.atEnd()) {
        const quint16 held = r.u16();
        for (quint16 i = 0; i < held && r.ok(); ++i) {
            const quint16 index = r.u16();
            const quint32 ms = r.u32();
            if (!r.ok() || index >= records.size())
                return std::nullopt;
            records[index].heldMs = qint64(ms);
        }
        if (!r.ok())
            return std::nullopt;
    }
    return records;
}

QByteArray encodeMonitorTrafficDropped(const MonitorTrafficDropped &v)
{
    QByteArray out;
    Writer(out).i64(v.timeMs).u32(v.dropped);
    return out;
}

std::optional<MonitorTrafficDropped> decodeMonitorTrafficDropped(QByteArrayView payload)
{
    Reader r(payload);
    MonitorTrafficDropped v;
    v.timeMs = r.i64();
    v.dropped = r.u32();
    return done(r, v);
}

QByteArray encodeMonitorTotals(const MonitorTotals &v)
{
    QByteArray out;
    Writer(out).i64(v.timeMs).u64(v.messagesRouted).u64(v.bytesRouted).u64(v.undelivered).u32(v.clients).u32(v.monitors)
        .u32(v.watched).u64(v.expiries).u64(v.kills).u64(v.budgetSheds).u64(v.monitorOverflows).u64(v.snapshotsRefused)
        .u64(v.admissionRefusedPerAddress).u64(v.admissionRefusedPerPrefix).u64(v.admissionRefusedRoomFull)
        .u64(v.admissionTimeouts).u64(v.guessesRefused).u64(v.servicesRefused).u64(v.admissionFailures)
        .u64(v.handshakesRefusedPerAddress).u64(v.handshakesRefusedPerPrefix).u64(v.handshakesRefusedFull);
    // Calls: one block, appended.
    Writer(out).u64(v.calls).u64(v.callsReplied).u64(v.callsTimedOut).u64(v.callsCalleeGone).u64(v.callsRefused)
        .u64(v.repliesDropped);
    // The bridge's block, appended.
    Writer(out).u8(v.bridgeState).u64(v.bridgeSpoolDepth).u64(v.bridgeSpoolOldestAgeMs).u64(v.bridgeSpoolDropped)
        .u64(v.bridgeForwarded).u64(v.bridgeReceived).u64(v.bridgeTimeouts);
    // Access, appended.
    Writer(out).u64(v.reservedNamesRefused);
    // Held delivery, appended.
    Writer(out).u64(v.heldMessages).u64(v.heldBytes).u32(v.heldNames).u64(v.heldTotal).u64(v.heldDelivered)
        .u64(v.heldRefusedAtDelivery).u64(v.heldExpired).u64(v.heldDroppedNameCount).u64(v.heldDroppedNameBytes)
        .u64(v.heldDroppedTotal).u64(v.heldStartFailed).u64(v.heldReheld).u64(v.heldUnacknowledged)
        .u64(v.heldLegacyUntold).u64(v.heldUntold);
    // The access policy's block, appended.
    const qsizetype ruleCounts = qMin<qsizetype>(v.policyRuleCounts.size(), MonitorTotals::MaxPolicyRuleCounts);
    Writer(out).u32(v.policyRules).u64(v.policyDenials).u64(v.policySendChecked).u64(v.policySendDenied)
        .u64(v.policyCacheMisses).u16(quint16(ruleCounts));
    for (qsizetype i = 0; i < ruleCounts; ++i)
        Writer(out).str(v.policyRuleCounts[i].name).u64(v.policyRuleCounts[i].hits).u64(v.policyRuleCounts[i].denials);
    return out;
}

std::optional<MonitorTotals> decodeMonitorTotals(QByteArrayView payload)
{
    Reader r(payload);
    MonitorTotals v;
    v.timeMs = r.i64();
    v.messagesRouted = r.u64();
    v.bytesRouted = r.u64();
    v.undelivered = r.u64();
    v.clients = r.u32();
    v.monitors = r.u32();
    v.watched = r.u32();
    v.expiries = r.u64();
    v.kills = r.u64();
    // Added later: an older broker's totals end here.
    if (r.ok() && !r.atEnd()) {
        v.budgetSheds = r.u64();
        v.monitorOverflows = r.u64();
        v.snapshotsRefused = r.u64();
    }
    // Added later still (admission): a budgets-era broker's totals end here.
    if (r.ok() && !r.atEnd()) {
        v.admissionRefusedPerAddress = r.u64();
        v.admissionRefusedPerPrefix = r.u64();
        v.admissionRefusedRoomFull = r.u64();
        v.admissionTimeouts = r.u64();
        v.guessesRefused = r.u64();
        v.servicesRefused = r.u64();
        v.admissionFailures = r.u64();
        v.handshakesRefusedPerAddress = r.u64();
        v.handshakesRefusedPerPrefix = r.u64();
        v.handshakesRefusedFull = r.u64();
    }
    // Added with calls (PROTOCOL §5.6): an admission-era broker's totals end here.
    if (r.ok() && !r.atEnd()) {
        v.calls = r.u64();
        v.callsReplied = r.u64();
        v.callsTimedOut = r.u64();
        v.callsCalleeGone = r.u64();
        v.callsRefused = r.u64();
        v.repliesDropped = r.u64();
    }
    // Added by the bridge: a calls-era broker's totals end here.
    if (r.ok() && !r.atEnd()) {
        v.bridgeState = r.u8();
        v.bridgeSpoolDepth = r.u64();
        v.bridgeSpoolOldestAgeMs = r.u64();
        v.bridgeSpoolDropped = r.u64();
        v.bridgeForwarded = r.u64();
        v.bridgeReceived = r.u64();
        v.bridgeTimeouts = r.u64();
    }
    // Added with access: a bridge-era broker's totals end here.
    if (r.ok() && !r.atEnd())
        v.reservedNamesRefused = r.u64();
    // Added with held delivery's view (PROTOCOL §6.7): an access-era broker's totals end here.
    if (r.ok() && !r.atEnd()) {
        v.heldMessages = r.u64();
        v.heldBytes = r.u64();
        v.heldNames = r.u32();
        v.heldTotal = r.u64();
        v.heldDelivered = r.u64();
        v.heldRefusedAtDelivery = r.u64();
        v.heldExpired = r.u64();
        v.heldDroppedNameCount = r.u64();
        v.heldDroppedNameBytes = r.u64();
        v.heldDroppedTotal = r.u64();
        v.heldStartFailed = r.u64();
        v.heldReheld = r.u64();
        v.heldUnacknowledged = r.u64();
        v.heldLegacyUntold = r.u64();
        v.heldUntold = r.u64();
    }
    // Added with the policy's send rules: an access-era broker's totals end here.
    if (r.ok() && !r.atEnd()) {
        v.policyRules = r.u32();
        v.policyDenials = r.u64();
        v.policySendChecked = r.u64();
        v.policySendDenied = r.u64();
        v.policyCacheMisses = r.u64();
        const quint16 ruleCounts = r.u16();
        if (ruleCounts > MonitorTotals::MaxPolicyRuleCounts)
            return std::nullopt;
        for (quint16 i = 0; i < ruleCounts && r.ok(); ++i) {
            MonitorPolicyRuleCount c;
            c.name = r.str();
            c.hits = r.u64();
            c.denials = r.u64();
            v.policyRuleCounts.append(c);
        }
    }
    return done(r, v);
}

QByteArray encodeMonitorHeld(const MonitorHeld &v)
{
    QByteArray out;
    Writer(out).bytes(v.name).u32(v.count).u64(v.bytes).i64(v.oldestAgeMs).i64(v.nextExpiryMs);
    return out;
}

std::optional<MonitorHeld> decodeMonitorHeld(QByteArrayView payload)
{
    Reader r(payload);
    MonitorHeld v;
    v.name = r.bytes();
    v.count = r.u32();
    v.bytes = r.u64();
    v.oldestAgeMs = r.i64();
    v.nextExpiryMs = r.i64();
    return done(r, v);
}

QByteArray encodeMonitorPolicyDenial(const MonitorPolicyDenial &v)
{
    QByteArray out;
    Writer(out).i64(v.timeMs).u64(v.sessionId).bytes(v.sender).bytes(v.target).u8(quint8(v.path)).i32(v.rule)
        .str(v.ruleName).str(v.ruleText).u64(v.ruleDenials);
    return out;
}

std::optional<MonitorPolicyDenial> decodeMonitorPolicyDenial(QByteArrayView payload)
{
    Reader r(payload);
    MonitorPolicyDenial v;
    v.timeMs = r.i64();
    v.sessionId = r.u64();
    v.sender = r.bytes();
    v.target = r.bytes();
    v.path = r.enumerated(MonitorPolicyPath::Call);
    v.rule = r.i32();
    v.ruleName = r.str();
    v.ruleText = r.str();
    v.ruleDenials = r.u64();
    return done(r, v);
}

QByteArray encodeMonitorControl(const MonitorControl &v)
{
    QByteArray out;
    Writer(out).u8(quint8(v.action)).bytes(v.target).bytes(v.text);
    return out;
}

std::optional<MonitorControl> decodeMonitorControl(QByteArrayView payload)
{
    Reader r(payload);
    MonitorControl v;
    v.action = r.enumerated(MonitorControlAction::ReloadConfig);
    v.target = r.bytes();
    v.text = r.bytes();
    return done(r, v);
}

QByteArray encodeMonitorControlResult(const MonitorControlResult &v)
{
    QByteArray out;
    Writer(out).u16(quint16(v.code)).str(v.text);
    return out;
}

std::optional<MonitorControlResult> decodeMonitorControlResult(QByteArrayView payload)
{
    Reader r(payload);
    MonitorControlResult v;
    v.code = ErrorCode(r.u16());
    v.text = r.str();
    return done(r, v);
}

QByteArray encodeMonitorBrokerInfo(const MonitorBrokerInfo &v)
{
    QByteArray out;
    Writer w(out);
    const auto count = quint16(qMin<qsizetype>(v.listeners.size(), std::numeric_limits<quint16>::max()));
    w.str(v.version).i64(v.pid).u16(count);
    for (qsizetype i = 0; i < count; ++i) {
        const MonitorListenerInfo &l = v.listeners.at(i);
        w.u8(quint8((l.monitorsOnly ? 0x1 : 0) | (l.tls ? 0x2 : 0))).str(l.address);
    }
    return out;
}

std::optional<MonitorBrokerInfo> decodeMonitorBrokerInfo(QByteArrayView payload)
{
    Reader r(payload);
    MonitorBrokerInfo v;
    v.version = r.str();
    v.pid = r.i64();
    const quint16 count = r.u16();
    for (quint16 i = 0; i < count && r.ok(); ++i) {
        MonitorListenerInfo l;
        const quint8 flags = r.u8();
        l.monitorsOnly = flags & 0x1;
        l.tls = flags & 0x2;
        l.address = r.str();
        v.listeners.append(l);
    }
    return done(r, v);
}

QByteArray encodeMonitorServiceOutputRequest(const MonitorServiceOutputRequest &v)
{
    QByteArray out;
    Writer(out).bytes(v.service).u32(v.maxLines).u64(v.afterSeq);
    return out;
}

std::optional<MonitorServiceOutputRequest> decodeMonitorServiceOutputRequest(QByteArrayView payload)
{
    Reader r(payload);
    MonitorServiceOutputRequest v;
    v.service = r.bytes();
    v.maxLines = r.u32();
    v.afterSeq = r.u64();
    return done(r, v);
}

QByteArray encodeMonitorServiceOutput(const MonitorServiceOutput &v)
{
    QByteArray out;
    Writer w(out);
    w.bytes(v.service).u16(quint16(v.code)).str(v.error).u64(v.dropped).u64(v.lastSeq).u32(v.keptLines)
        .u64(v.keptBytes).u32(v.maxLines).u64(v.maxBytes).u8(v.more ? 1 : 0).u32(quint32(v.lines.size()));
    for (const MonitorOutputLine &line : v.lines)
        w.u64(line.seq).i64(line.timeMs).u8(line.isStderr ? 2 : 1).bytes(line.text);
    return out;
}

std::optional<MonitorServiceOutput> decodeMonitorServiceOutput(QByteArrayView payload)
{
    Reader r(payload);
    MonitorServiceOutput v;
    v.service = r.bytes();
    v.code = ErrorCode(r.u16());
    v.error = r.str();
    v.dropped = r.u64();
    v.lastSeq = r.u64();
    v.keptLines = r.u32();
    v.keptBytes = r.u64();
    v.maxLines = r.u32();
    v.maxBytes = r.u64();
    v.more = r.u8() != 0;
    const quint32 count = r.u32();
    // Each line takes at least 19 bytes: a count the payload cannot hold is malformed.
    if (!r.ok() || count > quint32(payload.size() / 19))
        return std::nullopt;
    v.lines.reserve(count);
    for (quint32 i = 0; i < count && r.ok(); ++i) {
        MonitorOutputLine line;
        line.seq = r.u64();
        line.timeMs = r.i64();
        const quint8 stream = r.u8();
        if (stream != 1 && stream != 2)
            return std::nullopt;
        line.isStderr = stream == 2;
        line.text = r.bytes();
        v.lines.append(line);
    }
    return done(r, v);
}

// --- topics and calls (§6.8) ------------------------------------------------------------------

void appendMonitorPublicationRecord(QByteArray &batch, const MonitorPublicationRecord &v)
{
    Writer(batch).i64(v.timeUs).bytes(v.publisher).bytes(v.topic).u32(v.size).u32(v.reached).u32(v.notTaken)
        .u8(v.retain ? 1 : 0).u16(quint16(v.result)).bytes(v.preview);
    if (batch.size() >= 2) // the count in front
        qToBigEndian<quint16>(quint16(qFromBigEndian<quint16>(batch.constData()) + 1), batch.data());
}

QByteArray encodeMonitorPublicationBatch(const QList<MonitorPublicationRecord> &records)
{
    QByteArray out(2, '\0');
    const qsizetype n = qMin<qsizetype>(records.size(), std::numeric_limits<quint16>::max());
    for (qsizetype i = 0; i < n; ++i)
        appendMonitorPublicationRecord(out, records.at(i));
    return out;
}

std::optional<QList<MonitorPublicationRecord>> decodeMonitorPublicationBatch(QByteArrayView payload)
{
    Reader r(payload);
    const quint16 n = r.u16();
    QList<MonitorPublicationRecord> list;
    for (quint16 i = 0; i < n && r.ok(); ++i) {
        MonitorPublicationRecord v;
        v.timeUs = r.i64();
        v.publisher = r.bytes();
        v.topic = r.bytes();
        v.size = r.u32();
        v.reached = r.u32();
        v.notTaken = r.u32();
        v.retain = r.u8() & 1;
        v.result = ErrorCode(r.u16());
        v.preview = r.bytes();
        list.append(std::move(v));
    }
    return done(r, list);
}

void appendMonitorCallRecord(QByteArray &batch, const MonitorCallRecord &v)
{
    Writer(batch).i64(v.timeUs).bytes(v.caller).bytes(v.callee).u16(quint16(v.outcome)).u16(v.code).u32(v.roundTripUs)
        .u32(v.replySize);
    if (batch.size() >= 2)
        qToBigEndian<quint16>(quint16(qFromBigEndian<quint16>(batch.constData()) + 1), batch.data());
}

QByteArray encodeMonitorCallBatch(const QList<MonitorCallRecord> &records)
{
    QByteArray out(2, '\0');
    const qsizetype n = qMin<qsizetype>(records.size(), std::numeric_limits<quint16>::max());
    for (qsizetype i = 0; i < n; ++i)
        appendMonitorCallRecord(out, records.at(i));
    return out;
}

std::optional<QList<MonitorCallRecord>> decodeMonitorCallBatch(QByteArrayView payload)
{
    Reader r(payload);
    const quint16 n = r.u16();
    QList<MonitorCallRecord> list;
    for (quint16 i = 0; i < n && r.ok(); ++i) {
        MonitorCallRecord v;
        v.timeUs = r.i64();
        v.caller = r.bytes();
        v.callee = r.bytes();
        // An outcome this side does not name keeps its number (PROTOCOL §5.6): refusing it would
        // drop the whole batch, as monitors before policy_denied (12) did.
        v.outcome = CallOutcome(r.u16());
        v.code = r.u16();
        v.roundTripUs = r.u32();
        v.replySize = r.u32();
        list.append(std::move(v));
    }
    return done(r, list);
}

QByteArray encodeMonitorTopics(const MonitorTopics &v)
{
    QByteArray out;
    Writer w(out);
    w.i64(v.timeMs).u32(v.intervalMs).u32(v.trackedTopics).u64(v.untrackedPublications).u32(v.retainedTopics)
        .u64(v.retainedBytes).u32(v.subscriptions).u64(v.publications).u64(v.copiesDelivered).u64(v.copiesNotTaken);
    const qsizetype n = qMin<qsizetype>(v.entries.size(), std::numeric_limits<quint16>::max());
    w.u16(quint16(n));
    for (qsizetype i = 0; i < n; ++i) {
        const MonitorTopicEntry &e = v.entries.at(i);
        w.bytes(e.topic).u64(e.publications).u32(e.rateMilli).u32(e.subscribers).u32(e.retainedBytes)
            .u8(e.retained ? 1 : 0).i64(e.lastPublishedMs);
    }
    return out;
}

std::optional<MonitorTopics> decodeMonitorTopics(QByteArrayView payload)
{
    Reader r(payload);
    MonitorTopics v;
    v.timeMs = r.i64();
    v.intervalMs = r.u32();
    v.trackedTopics = r.u32();
    v.untrackedPublications = r.u64();
    v.retainedTopics = r.u32();
    v.retainedBytes = r.u64();
    v.subscriptions = r.u32();
    v.publications = r.u64();
    v.copiesDelivered = r.u64();
    v.copiesNotTaken = r.u64();
    const quint16 n = r.u16();
    for (quint16 i = 0; i < n && r.ok(); ++i) {
        MonitorTopicEntry e;
        e.topic = r.bytes();
        e.publications = r.u64();
        e.rateMilli = r.u32();
        e.subscribers = r.u32();
        e.retainedBytes = r.u32();
        e.retained = r.u8() & 1;
        e.lastPublishedMs = r.i64();
        v.entries.append(std::move(e));
    }
    return done(r, v);
}

QByteArray encodeMonitorSubscriptionsRequest(const MonitorSubscriptionsRequest &v)
{
    QByteArray out;
    Writer(out).u64(v.sessionId);
    return out;
}

std::optional<MonitorSubscriptionsRequest> decodeMonitorSubscriptionsRequest(QByteArrayView payload)
{
    Reader r(payload);
    MonitorSubscriptionsRequest v;
    v.sessionId = r.u64();
    return done(r, v);
}

QByteArray encodeMonitorSubscriptions(const MonitorSubscriptions &v)
{
    QByteArray out;
    Writer w(out);
    w.u64(v.sessionId).u16(quint16(v.code)).u32(v.total);
    const qsizetype n = qMin<qsizetype>(v.filters.size(), std::numeric_limits<quint16>::max());
    w.u16(quint16(n));
    for (qsizetype i = 0; i < n; ++i)
        w.bytes(v.filters.at(i));
    return out;
}

std::optional<MonitorSubscriptions> decodeMonitorSubscriptions(QByteArrayView payload)
{
    Reader r(payload);
    MonitorSubscriptions v;
    v.sessionId = r.u64();
    v.code = ErrorCode(r.u16());
    v.total = r.u32();
    const quint16 n = r.u16();
    for (quint16 i = 0; i < n && r.ok(); ++i)
        v.filters.append(r.bytes());
    return done(r, v);
}

} // namespace Kennel
