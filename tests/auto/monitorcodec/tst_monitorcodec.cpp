// The monitor payloads (PROTOCOL §6): every payload round-trips with every field set; every
// truncation is refused rather than read past its end; enum values out of range are refused; bytes
// appended by a newer broker are ignored.
#include "monitorcodec.h"

#include <QTest>

#include <functional>

using namespace Kennel;

class tst_MonitorCodec : public QObject
{
    Q_OBJECT

private slots:
    void subscribe();
    void snapshotBegin();
    void client();
    void clientGone();
    void service();
    void watchdogEvent();
    void policyDenial();
    void trafficBatch();
    void trafficBatchBuiltInPlace();
    void trafficBatchLyingCount();
    void trafficDropped();
    void totals();
    void control();
    void controlResult();
    void brokerInfo();
    void serviceOutput();
    void enumsOutOfRange();
    void frameNames();
    // Topics and calls (PROTOCOL §6.8).
    void subscribeBusRecordsPrefix();
    void publicationBatch();
    void callBatch();
    void callOutcomeUnknownKept();
    void topics();
    void subscriptions();
    // Held delivery's view (PROTOCOL §6.7).
    void held();
    void heldTotals();
    void trafficHeldTrailer();
};

namespace {
// Every proper prefix of a valid payload must be refused; the payload plus trailing bytes accepted.
template<typename T>
void checkTruncationAndExtension(const QByteArray &encoded, std::function<std::optional<T>(QByteArrayView)> decode)
{
    for (qsizetype n = 0; n < encoded.size(); ++n)
        QVERIFY2(!decode(QByteArrayView(encoded).first(n)), qPrintable(QStringLiteral("prefix of %1 bytes accepted").arg(n)));
    QVERIFY(decode(QByteArray(encoded + QByteArray("\x01\x02\x03", 3))));
}
} // namespace

void tst_MonitorCodec::subscribe()
{
    MonitorSubscribe v;
    v.wantTraffic = false;
    v.previewBytes = 300;
    v.maxTrafficPerSecond = 123456;
    const QByteArray e = encodeMonitorSubscribe(v);
    const auto d = decodeMonitorSubscribe(e);
    QVERIFY(d);
    QCOMPARE(d->wantTraffic, false);
    QCOMPARE(d->previewBytes, quint16(300));
    QCOMPARE(d->maxTrafficPerSecond, 123456u);
    QCOMPARE(d->wantBusRecords, false);
    // The full layout decodes, with trailing bytes too; prefixes shorter than the oldest layout do
    // not (the older prefix is subscribeBusRecordsPrefix()'s).
    for (qsizetype n = 0; n < 7; ++n)
        QVERIFY2(!decodeMonitorSubscribe(QByteArrayView(e).first(n)), qPrintable(QStringLiteral("prefix of %1 bytes accepted").arg(n)));
    QVERIFY(decodeMonitorSubscribe(QByteArray(e + QByteArray("\x01\x02\x03", 3))));
}

void tst_MonitorCodec::snapshotBegin()
{
    MonitorSnapshotBegin v;
    v.brokerTimeMs = 1795000000123;
    v.brokerStartedMs = 1794999990000;
    v.clientCount = 15000;
    v.serviceCount = 3;
    v.brokerVersion = QStringLiteral("0.1.0");
    v.monitorIdentity = QStringLiteral("peer uid 0 — ünïcode");
    const QByteArray e = encodeMonitorSnapshotBegin(v);
    const auto d = decodeMonitorSnapshotBegin(e);
    QVERIFY(d);
    QCOMPARE(d->brokerTimeMs, v.brokerTimeMs);
    QCOMPARE(d->brokerStartedMs, v.brokerStartedMs);
    QCOMPARE(d->clientCount, v.clientCount);
    QCOMPARE(d->serviceCount, v.serviceCount);
    QCOMPARE(d->brokerVersion, v.brokerVersion);
    QCOMPARE(d->monitorIdentity, v.monitorIdentity);
    QCOMPARE(d->role, MonitorRole::Operator);
    // Roles: one trailing byte; a record without it (an older broker's, which let every monitor
    // act) decodes as Operator, any other prefix is refused; a role this side does not know
    // decodes as ReadOnly.
    v.role = MonitorRole::ReadOnly;
    const QByteArray r = encodeMonitorSnapshotBegin(v);
    QCOMPARE(r.size(), e.size());
    QCOMPARE(decodeMonitorSnapshotBegin(r)->role, MonitorRole::ReadOnly);
    const qsizetype oldSize = r.size() - 1;
    const auto old = decodeMonitorSnapshotBegin(QByteArrayView(r).first(oldSize));
    QVERIFY(old);
    QCOMPARE(old->monitorIdentity, v.monitorIdentity);
    QCOMPARE(old->role, MonitorRole::Operator);
    for (qsizetype n = 0; n < r.size(); ++n) {
        if (n != oldSize)
            QVERIFY2(!decodeMonitorSnapshotBegin(QByteArrayView(r).first(n)), qPrintable(QStringLiteral("prefix of %1 bytes accepted").arg(n)));
    }
    QVERIFY(decodeMonitorSnapshotBegin(QByteArray(r + QByteArray("\x01\x02\x03", 3))));
    QByteArray unknown = r;
    unknown[unknown.size() - 1] = char(7);
    QCOMPARE(decodeMonitorSnapshotBegin(unknown)->role, MonitorRole::ReadOnly);
    QCOMPARE(monitorRoleName(MonitorRole::ReadOnly), "read-only");
    QCOMPARE(monitorRoleName(MonitorRole::Operator), "operator");
}

void tst_MonitorCodec::client()
{
    MonitorClient v;
    v.sessionId = 0x0102030405060708ull;
    v.name = "sensor-1";
    v.kind = MonitorClientKind::LegacySender;
    v.pid = 4242;
    v.peerAddress = QStringLiteral("127.0.0.1:40000");
    v.connectedSinceMs = 1795000000000;
    v.messagesIn = 1;
    v.messagesOut = 2;
    v.bytesIn = 3;
    v.bytesOut = 4;
    v.refused = 5;
    v.dropped = 6;
    v.watchState = MonitorWatchState::Late;
    v.watchIntervalMs = 3000;
    v.watchAllowedMisses = 3;
    v.feeds = 77;
    v.msSinceLastFeed = 3100;
    v.msUntilExpiry = 5900;
    v.expiries = 8;
    v.kills = 9;
    const QByteArray e = encodeMonitorClient(v);
    const auto d = decodeMonitorClient(e);
    QVERIFY(d);
    QCOMPARE(d->sessionId, v.sessionId);
    QCOMPARE(d->name, v.name);
    QCOMPARE(d->kind, v.kind);
    QCOMPARE(d->pid, v.pid);
    QCOMPARE(d->peerAddress, v.peerAddress);
    QCOMPARE(d->connectedSinceMs, v.connectedSinceMs);
    QCOMPARE(d->messagesIn, v.messagesIn);
    QCOMPARE(d->messagesOut, v.messagesOut);
    QCOMPARE(d->bytesIn, v.bytesIn);
    QCOMPARE(d->bytesOut, v.bytesOut);
    QCOMPARE(d->refused, v.refused);
    QCOMPARE(d->dropped, v.dropped);
    QCOMPARE(d->watchState, v.watchState);
    QCOMPARE(d->watchIntervalMs, v.watchIntervalMs);
    QCOMPARE(d->watchAllowedMisses, v.watchAllowedMisses);
    QCOMPARE(d->feeds, v.feeds);
    QCOMPARE(d->msSinceLastFeed, v.msSinceLastFeed);
    QCOMPARE(d->msUntilExpiry, v.msUntilExpiry);
    QCOMPARE(d->expiries, v.expiries);
    QCOMPARE(d->kills, v.kills);
    QCOMPARE(d->subscriptions, 0u);
    // Topics: trailing fields; a record without them (an older broker's) is accepted with 0,
    // any other prefix refused.
    v.subscriptions = 12;
    v.publicationsNotTaken = 345;
    const QByteArray t = encodeMonitorClient(v);
    QCOMPARE(t.size(), e.size()); // written always, 0 when there are none
    const auto withTopics = decodeMonitorClient(t);
    QCOMPARE(withTopics->subscriptions, 12u);
    QCOMPARE(withTopics->publicationsNotTaken, 345u);
    const qsizetype oldSize = t.size() - 12;
    const auto old = decodeMonitorClient(QByteArrayView(t).first(oldSize));
    QVERIFY(old);
    QCOMPARE(old->kills, v.kills);
    QCOMPARE(old->subscriptions, 0u);
    for (qsizetype n = 0; n < t.size(); ++n) {
        if (n != oldSize)
            QVERIFY2(!decodeMonitorClient(QByteArrayView(t).first(n)), qPrintable(QStringLiteral("prefix of %1 bytes accepted").arg(n)));
    }
    QVERIFY(decodeMonitorClient(QByteArray(t + QByteArray("\x01\x02\x03", 3))));
    // Defaults (never fed: -1) survive too.
    QCOMPARE(decodeMonitorClient(encodeMonitorClient(MonitorClient{}))->msSinceLastFeed, qint64(-1));
}

void tst_MonitorCodec::clientGone()
{
    const QByteArray e = encodeMonitorClientGone({99, 1795000000001, QStringLiteral("peer closed the connection")});
    const auto d = decodeMonitorClientGone(e);
    QVERIFY(d);
    QCOMPARE(d->sessionId, 99u);
    QCOMPARE(d->timeMs, 1795000000001);
    QCOMPARE(d->reason, QStringLiteral("peer closed the connection"));
    checkTruncationAndExtension<MonitorClientGone>(e, decodeMonitorClientGone);
}

void tst_MonitorCodec::service()
{
    MonitorService v;
    v.name = QStringLiteral("client1");
    v.state = MonitorServiceState::Backoff;
    v.pid = 0;
    v.starts = 4;
    v.restarts = 3;
    v.lastExitCode = -1;
    v.lastExitSignal = 15;
    v.lastExitMs = 1795000000002;
    v.msUntilRestart = 2000;
    v.lastError = QStringLiteral("killed by the watchdog");
    const QByteArray e = encodeMonitorService(v);
    const auto d = decodeMonitorService(e);
    QVERIFY(d);
    QCOMPARE(d->name, v.name);
    QCOMPARE(d->state, v.state);
    QCOMPARE(d->starts, v.starts);
    QCOMPARE(d->restarts, v.restarts);
    QCOMPARE(d->lastExitCode, v.lastExitCode);
    QCOMPARE(d->lastExitSignal, v.lastExitSignal);
    QCOMPARE(d->lastExitMs, v.lastExitMs);
    QCOMPARE(d->msUntilRestart, v.msUntilRestart);
    QCOMPARE(d->lastError, v.lastError);
    checkTruncationAndExtension<MonitorService>(e, decodeMonitorService);
}

void tst_MonitorCodec::watchdogEvent()
{
    MonitorWatchdogEvent v;
    v.sessionId = 7;
    v.name = "client1";
    v.timeMs = 1795000000003;
    v.kind = MonitorWatchdogEventKind::Signalled;
    v.pid = 31337;
    v.feeds = 12;
    v.detail = QStringLiteral("SIGTERM sent via pidfd");
    const QByteArray e = encodeMonitorWatchdogEvent(v);
    const auto d = decodeMonitorWatchdogEvent(e);
    QVERIFY(d);
    QCOMPARE(d->sessionId, v.sessionId);
    QCOMPARE(d->name, v.name);
    QCOMPARE(d->timeMs, v.timeMs);
    QCOMPARE(d->kind, v.kind);
    QCOMPARE(d->pid, v.pid);
    QCOMPARE(d->feeds, v.feeds);
    QCOMPARE(d->detail, v.detail);
    checkTruncationAndExtension<MonitorWatchdogEvent>(e, decodeMonitorWatchdogEvent);
}

void tst_MonitorCodec::policyDenial()
{
    MonitorPolicyDenial v;
    v.timeMs = 1795000000005;
    v.sessionId = 9;
    v.sender = "ui";
    v.target = "sensors/kitchen/temp";
    v.path = MonitorPolicyPath::Publish;
    v.rule = 3;
    v.ruleName = QStringLiteral("no_sensors");
    v.ruleText = QStringLiteral("deny send topic:sensors/# uid=1000");
    v.ruleDenials = 77;
    const QByteArray e = encodeMonitorPolicyDenial(v);
    const auto d = decodeMonitorPolicyDenial(e);
    QVERIFY(d);
    QCOMPARE(d->timeMs, v.timeMs);
    QCOMPARE(d->sessionId, v.sessionId);
    QCOMPARE(d->sender, v.sender);
    QCOMPARE(d->target, v.target);
    QCOMPARE(d->path, v.path);
    QCOMPARE(d->rule, 3);
    QCOMPARE(d->ruleName, v.ruleName);
    QCOMPARE(d->ruleText, v.ruleText);
    QCOMPARE(d->ruleDenials, 77u);
    checkTruncationAndExtension<MonitorPolicyDenial>(e, decodeMonitorPolicyDenial);
    QCOMPARE(monitorFrameName(MonitorFrame::PolicyDenial), "monitor_policy_denial");
    // The default decided: rule -1; a path past the last known is refused.
    v.rule = -1;
    QCOMPARE(decodeMonitorPolicyDenial(encodeMonitorPolicyDenial(v))->rule, -1);
    QByteArray bad = encodeMonitorPolicyDenial(v);
    bad[8 + 8 + 2 + 2 + 2 + 20] = char(quint8(MonitorPolicyPath::Call) + 1);
    QVERIFY(!decodeMonitorPolicyDenial(bad));
}

void tst_MonitorCodec::trafficBatch()
{
    QList<MonitorTrafficRecord> records;
    for (int i = 0; i < 3; ++i) {
        MonitorTrafficRecord r;
        r.timeUs = 1795000000000000 + i;
        r.source = "a" + QByteArray::number(i);
        r.target = "b";
        r.size = quint32(500 + i);
        r.status = i == 2 ? DeliveryStatus::TargetQueueFull : DeliveryStatus::Delivered;
        r.preview = QByteArray("\x00\xff payload", 10);
        records.append(r);
    }
    const QByteArray e = encodeMonitorTrafficBatch(records);
    const auto d = decodeMonitorTrafficBatch(e);
    QVERIFY(d);
    QCOMPARE(d->size(), 3);
    for (int i = 0; i < 3; ++i) {
        QCOMPARE(d->at(i).timeUs, records.at(i).timeUs);
        QCOMPARE(d->at(i).source, records.at(i).source);
        QCOMPARE(d->at(i).target, records.at(i).target);
        QCOMPARE(d->at(i).size, records.at(i).size);
        QCOMPARE(d->at(i).status, records.at(i).status);
        QCOMPARE(d->at(i).preview, records.at(i).preview);
    }
    for (qsizetype n = 0; n < e.size(); ++n)
        QVERIFY(!decodeMonitorTrafficBatch(QByteArrayView(e).first(n)));
    QVERIFY(decodeMonitorTrafficBatch(encodeMonitorTrafficBatch({}))->isEmpty());
}

void tst_MonitorCodec::trafficBatchBuiltInPlace()
{
    QByteArray batch;
    appendMonitorTrafficRecord(batch, 1, "src", "dst", 10, DeliveryStatus::NoSuchClient, "hello");
    appendMonitorTrafficRecord(batch, 2, "src", "dst", 11, DeliveryStatus::Delivered, {});
    const auto d = decodeMonitorTrafficBatch(batch);
    QVERIFY(d);
    QCOMPARE(d->size(), 2);
    QCOMPARE(d->at(0).status, DeliveryStatus::NoSuchClient);
    QCOMPARE(d->at(0).preview, QByteArray("hello"));
    QCOMPARE(d->at(1).size, 11u);
}

void tst_MonitorCodec::trafficBatchLyingCount()
{
    // A count of 65535 with no records behind it: refused at once, nothing reserved for it.
    QVERIFY(!decodeMonitorTrafficBatch(QByteArray("\xff\xff", 2)));
    QByteArray batch;
    appendMonitorTrafficRecord(batch, 1, "s", "t", 1, DeliveryStatus::Delivered, "x");
    batch[1] = 2; // claims two records, holds one
    QVERIFY(!decodeMonitorTrafficBatch(batch));
}

void tst_MonitorCodec::trafficDropped()
{
    const QByteArray e = encodeMonitorTrafficDropped({1795000000004, 4096});
    const auto d = decodeMonitorTrafficDropped(e);
    QVERIFY(d);
    QCOMPARE(d->dropped, 4096u);
    QCOMPARE(d->timeMs, 1795000000004);
    checkTruncationAndExtension<MonitorTrafficDropped>(e, decodeMonitorTrafficDropped);
}

namespace {
// The held block of the totals (PROTOCOL R-6.7.4): 2 x u64, u32, 12 x u64.
constexpr qsizetype HeldBlockSize = 2 * 8 + 4 + 12 * 8;
} // namespace

void tst_MonitorCodec::totals()
{
    MonitorTotals v;
    v.timeMs = 5;
    v.messagesRouted = 6;
    v.bytesRouted = 7;
    v.undelivered = 8;
    v.clients = 9;
    v.monitors = 10;
    v.watched = 11;
    v.expiries = 12;
    v.kills = 13;
    v.budgetSheds = 14;
    v.monitorOverflows = 15;
    v.snapshotsRefused = 16;
    v.admissionRefusedPerAddress = 17;
    v.admissionRefusedPerPrefix = 18;
    v.admissionRefusedRoomFull = 19;
    v.admissionTimeouts = 20;
    v.guessesRefused = 21;
    v.servicesRefused = 22;
    v.admissionFailures = 23;
    v.handshakesRefusedPerAddress = 24;
    v.handshakesRefusedPerPrefix = 25;
    v.handshakesRefusedFull = 26;
    v.calls = 27;
    v.callsReplied = 28;
    v.callsTimedOut = 29;
    v.callsCalleeGone = 30;
    v.callsRefused = 31;
    v.repliesDropped = 32;
    v.bridgeState = 2;
    v.bridgeSpoolDepth = 33;
    v.bridgeSpoolOldestAgeMs = 34;
    v.bridgeSpoolDropped = 35;
    v.bridgeForwarded = 36;
    v.bridgeReceived = 37;
    v.bridgeTimeouts = 38;
    v.reservedNamesRefused = 39;
    v.policyRules = 40;
    v.policyDenials = 41;
    v.policySendChecked = 42;
    v.policySendDenied = 43;
    v.policyCacheMisses = 44;
    v.policyRuleCounts = {{QStringLiteral("deny_ui"), 45, 46}, {QStringLiteral("r2"), 47, 0}};
    const QByteArray e = encodeMonitorTotals(v);
    const auto d = decodeMonitorTotals(e);
    QVERIFY(d);
    QCOMPARE(d->messagesRouted, 6u);
    QCOMPARE(d->bytesRouted, 7u);
    QCOMPARE(d->undelivered, 8u);
    QCOMPARE(d->clients, 9u);
    QCOMPARE(d->monitors, 10u);
    QCOMPARE(d->watched, 11u);
    QCOMPARE(d->expiries, 12u);
    QCOMPARE(d->kills, 13u);
    QCOMPARE(d->budgetSheds, 14u);
    QCOMPARE(d->monitorOverflows, 15u);
    QCOMPARE(d->snapshotsRefused, 16u);
    QCOMPARE(d->admissionRefusedPerAddress, 17u);
    QCOMPARE(d->admissionRefusedPerPrefix, 18u);
    QCOMPARE(d->admissionRefusedRoomFull, 19u);
    QCOMPARE(d->admissionTimeouts, 20u);
    QCOMPARE(d->guessesRefused, 21u);
    QCOMPARE(d->servicesRefused, 22u);
    QCOMPARE(d->admissionFailures, 23u);
    QCOMPARE(d->handshakesRefusedPerAddress, 24u);
    QCOMPARE(d->handshakesRefusedPerPrefix, 25u);
    QCOMPARE(d->handshakesRefusedFull, 26u);
    QCOMPARE(d->calls, 27u);
    QCOMPARE(d->callsReplied, 28u);
    QCOMPARE(d->callsTimedOut, 29u);
    QCOMPARE(d->callsCalleeGone, 30u);
    QCOMPARE(d->callsRefused, 31u);
    QCOMPARE(d->repliesDropped, 32u);
    QCOMPARE(d->bridgeState, quint8(2));
    QCOMPARE(d->bridgeSpoolDepth, 33u);
    QCOMPARE(d->bridgeSpoolOldestAgeMs, 34u);
    QCOMPARE(d->bridgeSpoolDropped, 35u);
    QCOMPARE(d->bridgeForwarded, 36u);
    QCOMPARE(d->bridgeReceived, 37u);
    QCOMPARE(d->bridgeTimeouts, 38u);
    QCOMPARE(d->reservedNamesRefused, 39u);
    QCOMPARE(d->policyRules, 40u);
    QCOMPARE(d->policyDenials, 41u);
    QCOMPARE(d->policySendChecked, 42u);
    QCOMPARE(d->policySendDenied, 43u);
    QCOMPARE(d->policyCacheMisses, 44u);
    QCOMPARE(d->policyRuleCounts.size(), 2);
    QCOMPARE(d->policyRuleCounts[0].name, QStringLiteral("deny_ui"));
    QCOMPARE(d->policyRuleCounts[0].hits, 45u);
    QCOMPARE(d->policyRuleCounts[0].denials, 46u);
    QCOMPARE(d->policyRuleCounts[1].name, QStringLiteral("r2"));
    QCOMPARE(d->policyRuleCounts[1].hits, 47u);
    constexpr qsizetype PolicyBlockSize = 4 + 4 * 8 + 2 + (2 + 7 + 2 * 8) + (2 + 2 + 2 * 8);
    QCOMPARE(e.size(), 8 + 3 * 8 + 3 * 4 + 2 * 8 + 3 * 8 + 10 * 8 + 6 * 8 + 1 + 6 * 8 + 8 + HeldBlockSize + PolicyBlockSize);
    // An older broker's totals end after kills: accepted, the newer counters 0; a budgets-era
    // one after snapshotsRefused: accepted, the admission counters 0; any other prefix is refused.
    constexpr qsizetype OldSize = 8 + 3 * 8 + 3 * 4 + 2 * 8;
    constexpr qsizetype BudgetsSize = OldSize + 3 * 8;
    constexpr qsizetype AdmissionSize = BudgetsSize + 10 * 8; // before the calls block
    const auto admission = decodeMonitorTotals(QByteArrayView(e).first(AdmissionSize));
    QVERIFY(admission);
    QCOMPARE(admission->handshakesRefusedFull, 26u);
    QCOMPARE(admission->calls, 0u);
    constexpr qsizetype CallsSize = AdmissionSize + 6 * 8; // before the bridge's block
    const auto callsEra = decodeMonitorTotals(QByteArrayView(e).first(CallsSize));
    QVERIFY(callsEra);
    QCOMPARE(callsEra->repliesDropped, 32u);
    QCOMPARE(callsEra->bridgeState, quint8(0));
    constexpr qsizetype BridgeSize = CallsSize + 1 + 6 * 8; // before the access counter
    const auto bridgeEra = decodeMonitorTotals(QByteArrayView(e).first(BridgeSize));
    QVERIFY(bridgeEra);
    QCOMPARE(bridgeEra->bridgeTimeouts, 38u);
    QCOMPARE(bridgeEra->reservedNamesRefused, 0u);
    constexpr qsizetype AccessSize = BridgeSize + 8; // before the policy's block
    const auto accessEra = decodeMonitorTotals(QByteArrayView(e).first(AccessSize));
    QVERIFY(accessEra);
    QCOMPARE(accessEra->reservedNamesRefused, 39u);
    QCOMPARE(accessEra->policyRules, 0u);
    QVERIFY(accessEra->policyRuleCounts.isEmpty());
    const auto heldEra = decodeMonitorTotals(QByteArrayView(e).first(AccessSize + HeldBlockSize)); // before the policy's block
    QVERIFY(heldEra);
    QCOMPARE(heldEra->policyRules, 0u);
    const auto old = decodeMonitorTotals(QByteArrayView(e).first(OldSize));
    QVERIFY(old);
    QCOMPARE(old->kills, 13u);
    QCOMPARE(old->budgetSheds, 0u);
    QCOMPARE(old->admissionRefusedPerAddress, 0u);
    const auto budgets = decodeMonitorTotals(QByteArrayView(e).first(BudgetsSize));
    QVERIFY(budgets);
    QCOMPARE(budgets->snapshotsRefused, 16u);
    QCOMPARE(budgets->admissionRefusedPerAddress, 0u);
    QCOMPARE(budgets->handshakesRefusedFull, 0u);
    for (qsizetype n = 0; n < e.size(); ++n) {
        if (n != OldSize && n != BudgetsSize && n != AdmissionSize && n != CallsSize && n != BridgeSize && n != AccessSize
            && n != AccessSize + HeldBlockSize)
            QVERIFY2(!decodeMonitorTotals(QByteArrayView(e).first(n)), qPrintable(QStringLiteral("prefix of %1 bytes accepted").arg(n)));
    }
    QCOMPARE(admission->bridgeState, quint8(0));
    QVERIFY(decodeMonitorTotals(QByteArray(e + QByteArray("\x01\x02\x03", 3))));
}

void tst_MonitorCodec::control()
{
    const QByteArray e = encodeMonitorControl({MonitorControlAction::SendTestMessage, "client2", "ping from the monitor"});
    const auto d = decodeMonitorControl(e);
    QVERIFY(d);
    QCOMPARE(d->action, MonitorControlAction::SendTestMessage);
    QCOMPARE(d->target, QByteArray("client2"));
    QCOMPARE(d->text, QByteArray("ping from the monitor"));
    checkTruncationAndExtension<MonitorControl>(e, decodeMonitorControl);
}

void tst_MonitorCodec::controlResult()
{
    const QByteArray e = encodeMonitorControlResult({ErrorCode::InvalidName, QStringLiteral("no such service")});
    const auto d = decodeMonitorControlResult(e);
    QVERIFY(d);
    QCOMPARE(d->code, ErrorCode::InvalidName);
    QCOMPARE(d->text, QStringLiteral("no such service"));
    checkTruncationAndExtension<MonitorControlResult>(e, decodeMonitorControlResult);
}

void tst_MonitorCodec::brokerInfo()
{
    MonitorBrokerInfo info;
    info.version = QStringLiteral("1.2.3");
    info.pid = 4242;
    info.listeners = {{false, false, QStringLiteral("127.0.0.1:8000")}, {true, true, QStringLiteral("10.0.0.2:8001")},
                      {true, false, QStringLiteral("unix:/run/kennel/monitor.sock")}};
    const QByteArray e = encodeMonitorBrokerInfo(info);
    const auto d = decodeMonitorBrokerInfo(e);
    QVERIFY(d);
    QCOMPARE(d->version, info.version);
    QCOMPARE(d->pid, 4242);
    QCOMPARE(d->listeners.size(), 3);
    QCOMPARE(d->listeners.at(0).monitorsOnly, false);
    QCOMPARE(d->listeners.at(1).monitorsOnly, true);
    QCOMPARE(d->listeners.at(1).tls, true);
    QCOMPARE(d->listeners.at(2).tls, false);
    QCOMPARE(d->listeners.at(2).address, QStringLiteral("unix:/run/kennel/monitor.sock"));
    checkTruncationAndExtension<MonitorBrokerInfo>(e, decodeMonitorBrokerInfo);
    // A count that promises more listeners than follow.
    QByteArray lying = encodeMonitorBrokerInfo({QStringLiteral("v"), 1, {}});
    lying[lying.size() - 1] = char(5);
    QVERIFY(!decodeMonitorBrokerInfo(lying));
}

// PROTOCOL §6.5: a request and an answer round trip; a truncated one, a line count the payload
// cannot hold and an unknown stream are refused.
void tst_MonitorCodec::serviceOutput()
{
    const QByteArray r = encodeMonitorServiceOutputRequest({"talker", 40, 12345678901ull});
    const auto request = decodeMonitorServiceOutputRequest(r);
    QVERIFY(request);
    QCOMPARE(request->service, QByteArray("talker"));
    QCOMPARE(request->maxLines, 40u);
    QCOMPARE(request->afterSeq, 12345678901ull);
    checkTruncationAndExtension<MonitorServiceOutputRequest>(r, decodeMonitorServiceOutputRequest);

    MonitorServiceOutput v;
    v.service = "talker";
    v.dropped = 11;
    v.lastSeq = 51;
    v.keptLines = 2;
    v.keptBytes = 9;
    v.maxLines = 40;
    v.maxBytes = 262144;
    v.more = true;
    v.lines = {{50, 1700000000000, false, "line 50"}, {51, 1700000000001, true, "x\n"}};
    const QByteArray e = encodeMonitorServiceOutput(v);
    const auto d = decodeMonitorServiceOutput(e);
    QVERIFY(d);
    QCOMPARE(d->service, v.service);
    QCOMPARE(d->code, ErrorCode::None);
    QCOMPARE(d->dropped, 11u);
    QCOMPARE(d->lastSeq, 51u);
    QCOMPARE(d->maxBytes, 262144u);
    QVERIFY(d->more);
    QCOMPARE(d->lines.size(), 2);
    QCOMPARE(d->lines.at(1).seq, 51u);
    QCOMPARE(d->lines.at(1).timeMs, 1700000000001);
    QVERIFY(d->lines.at(1).isStderr);
    QVERIFY(!d->lines.at(0).isStderr);
    QCOMPARE(d->lines.at(1).text, QByteArray("x\n"));
    checkTruncationAndExtension<MonitorServiceOutput>(e, decodeMonitorServiceOutput);

    MonitorServiceOutput refused;
    refused.code = ErrorCode::NotRegistered;
    refused.error = QStringLiteral("no service named 'x'");
    const auto r2 = decodeMonitorServiceOutput(encodeMonitorServiceOutput(refused));
    QVERIFY(r2);
    QCOMPARE(r2->code, ErrorCode::NotRegistered);
    QCOMPARE(r2->error, refused.error);

    // A count of 2^32-1 lines in a short payload; a stream byte of 3.
    QByteArray huge = encodeMonitorServiceOutput(MonitorServiceOutput{});
    huge[huge.size() - 1] = char(0xff);
    huge[huge.size() - 2] = char(0xff);
    huge[huge.size() - 3] = char(0xff);
    huge[huge.size() - 4] = char(0xff);
    QVERIFY(!decodeMonitorServiceOutput(huge));
    QByteArray badStream = e;
    const qsizetype streamAt = e.indexOf(QByteArray("line 50")) - 2 - 1;
    QCOMPARE(badStream.at(streamAt), char(1));
    badStream[streamAt] = char(3);
    QVERIFY(!decodeMonitorServiceOutput(badStream));
}

void tst_MonitorCodec::enumsOutOfRange()
{
    QByteArray control = encodeMonitorControl({MonitorControlAction::ReloadConfig, "x", {}});
    control[0] = char(quint8(MonitorControlAction::ReloadConfig) + 1);
    QVERIFY(!decodeMonitorControl(control));

    QByteArray service = encodeMonitorService({});
    service[2] = char(quint8(MonitorServiceState::Failed) + 1); // after the empty name's u16 length
    QVERIFY(!decodeMonitorService(service));

    MonitorWatchdogEvent event;
    QByteArray e = encodeMonitorWatchdogEvent(event);
    e[8 + 2 + 8] = char(quint8(MonitorWatchdogEventKind::Notified) + 1);
    QVERIFY(!decodeMonitorWatchdogEvent(e));

    QByteArray batch;
    appendMonitorTrafficRecord(batch, 1, "s", "t", 1, DeliveryStatus::Delivered, {});
    batch[2 + 8 + 3 + 3 + 4 + 1] = 99; // status low byte: a status this version does not know is kept, not refused
    const auto unknownStatus = decodeMonitorTrafficBatch(batch);
    QVERIFY(unknownStatus);
    QCOMPARE(quint16(unknownStatus->first().status), quint16(99));
}

void tst_MonitorCodec::frameNames()
{
    QCOMPARE(monitorFrameName(MonitorFrame::Subscribe), "monitor_subscribe");
    QCOMPARE(monitorFrameName(MonitorFrame::ControlResult), "monitor_control_result");
    QCOMPARE(monitorFrameName(MonitorFrame::InfoRequest), "monitor_info_request");
    QCOMPARE(monitorFrameName(MonitorFrame::Info), "monitor_info");
    QCOMPARE(monitorFrameName(FrameType::Send), nullptr);
    QCOMPARE(monitorFrameName(FrameType(0x7F)), nullptr);
}

// An older monitor's Subscribe (7 bytes) still decodes, asking for no bus records; a newer one's
// flag survives the round trip.
void tst_MonitorCodec::subscribeBusRecordsPrefix()
{
    MonitorSubscribe v;
    v.wantBusRecords = true;
    v.previewBytes = 16;
    const QByteArray e = encodeMonitorSubscribe(v);
    QCOMPARE(e.size(), 8);
    const auto d = decodeMonitorSubscribe(e);
    QVERIFY(d);
    QCOMPARE(d->wantBusRecords, true);
    const auto old = decodeMonitorSubscribe(QByteArrayView(e).first(7));
    QVERIFY(old);
    QCOMPARE(old->wantBusRecords, false);
    QCOMPARE(old->previewBytes, quint16(16));
}

void tst_MonitorCodec::publicationBatch()
{
    MonitorPublicationRecord a;
    a.timeUs = 1700000000123456;
    a.publisher = "sensor";
    a.topic = "sensors/boiler/temp";
    a.size = 500;
    a.reached = 3;
    a.notTaken = 1;
    a.retain = true;
    a.result = ErrorCode::RetainedStoreFull;
    a.preview = QByteArray("21.5\0x", 6);
    MonitorPublicationRecord b;
    b.publisher = "ui";
    b.topic = "t";
    const QByteArray e = encodeMonitorPublicationBatch({a, b});
    const auto d = decodeMonitorPublicationBatch(e);
    QVERIFY(d);
    QCOMPARE(d->size(), 2);
    const MonitorPublicationRecord &r = d->first();
    QCOMPARE(r.timeUs, a.timeUs);
    QCOMPARE(r.publisher, a.publisher);
    QCOMPARE(r.topic, a.topic);
    QCOMPARE(r.size, 500u);
    QCOMPARE(r.reached, 3u);
    QCOMPARE(r.notTaken, 1u);
    QCOMPARE(r.retain, true);
    QCOMPARE(r.result, ErrorCode::RetainedStoreFull);
    QCOMPARE(r.preview, a.preview);
    QCOMPARE(d->at(1).retain, false);
    QCOMPARE(d->at(1).topic, QByteArray("t"));
    // Built in place (as the broker does) it is the same bytes.
    QByteArray inPlace(2, '\0');
    appendMonitorPublicationRecord(inPlace, a);
    appendMonitorPublicationRecord(inPlace, b);
    QCOMPARE(inPlace, e);
    checkTruncationAndExtension<QList<MonitorPublicationRecord>>(e, decodeMonitorPublicationBatch);
}

void tst_MonitorCodec::callBatch()
{
    MonitorCallRecord a;
    a.timeUs = 42;
    a.caller = "ui";
    a.callee = "db";
    a.outcome = CallOutcome::ErrorReply;
    a.code = 7;
    a.roundTripUs = 1234;
    a.replySize = 99;
    MonitorCallRecord b;
    b.caller = "ui";
    b.callee = "gone";
    b.outcome = CallOutcome::CalleeGone;
    const QByteArray e = encodeMonitorCallBatch({a, b});
    const auto d = decodeMonitorCallBatch(e);
    QVERIFY(d);
    QCOMPARE(d->size(), 2);
    QCOMPARE(d->first().caller, QByteArray("ui"));
    QCOMPARE(d->first().callee, QByteArray("db"));
    QCOMPARE(d->first().outcome, CallOutcome::ErrorReply);
    QCOMPARE(d->first().code, quint16(7));
    QCOMPARE(d->first().roundTripUs, 1234u);
    QCOMPARE(d->first().replySize, 99u);
    QCOMPARE(d->at(1).outcome, CallOutcome::CalleeGone);
    checkTruncationAndExtension<QList<MonitorCallRecord>>(e, decodeMonitorCallBatch);
}

void tst_MonitorCodec::callOutcomeUnknownKept()
{
    MonitorCallRecord a;
    a.caller = "c";
    a.callee = "d";
    a.outcome = CallOutcome::PolicyDenied;
    MonitorCallRecord b = a;
    b.outcome = CallOutcome::Replied;
    QByteArray e = encodeMonitorCallBatch({a, b});
    auto d = decodeMonitorCallBatch(e);
    QVERIFY(d);
    QCOMPARE(d->first().outcome, CallOutcome::PolicyDenied);
    // One this version does not name: kept by number, and the batch's other records with it.
    e[2 + 8 + 3 + 3 + 1] = char(quint8(CallOutcome::PolicyDenied) + 1); // the first outcome's low byte
    d = decodeMonitorCallBatch(e);
    QVERIFY(d);
    QCOMPARE(d->size(), 2);
    QCOMPARE(quint16(d->first().outcome), quint16(quint16(CallOutcome::PolicyDenied) + 1));
    QCOMPARE(d->at(1).outcome, CallOutcome::Replied);
}

void tst_MonitorCodec::topics()
{
    MonitorTopics v;
    v.timeMs = 1700000000000;
    v.intervalMs = 1000;
    v.trackedTopics = 5000;
    v.untrackedPublications = 17;
    v.retainedTopics = 2;
    v.retainedBytes = 300;
    v.subscriptions = 9;
    v.publications = 100;
    v.copiesDelivered = 250;
    v.copiesNotTaken = 3;
    MonitorTopicEntry t;
    t.topic = "a/b";
    t.publications = 100;
    t.rateMilli = 2500;
    t.subscribers = 3;
    t.retainedBytes = 12;
    t.retained = true;
    t.lastPublishedMs = 1699999999999;
    v.entries = {t, MonitorTopicEntry{}};
    const QByteArray e = encodeMonitorTopics(v);
    const auto d = decodeMonitorTopics(e);
    QVERIFY(d);
    QCOMPARE(d->intervalMs, 1000u);
    QCOMPARE(d->trackedTopics, 5000u);
    QCOMPARE(d->untrackedPublications, 17u);
    QCOMPARE(d->retainedTopics, 2u);
    QCOMPARE(d->retainedBytes, 300u);
    QCOMPARE(d->subscriptions, 9u);
    QCOMPARE(d->publications, 100u);
    QCOMPARE(d->copiesDelivered, 250u);
    QCOMPARE(d->copiesNotTaken, 3u);
    QCOMPARE(d->entries.size(), 2);
    QCOMPARE(d->entries.first().topic, QByteArray("a/b"));
    QCOMPARE(d->entries.first().rateMilli, 2500u);
    QCOMPARE(d->entries.first().subscribers, 3u);
    QCOMPARE(d->entries.first().retainedBytes, 12u);
    QCOMPARE(d->entries.first().retained, true);
    QCOMPARE(d->entries.first().lastPublishedMs, t.lastPublishedMs);
    QCOMPARE(d->entries.at(1).retained, false);
    checkTruncationAndExtension<MonitorTopics>(e, decodeMonitorTopics);
}

void tst_MonitorCodec::subscriptions()
{
    const QByteArray request = encodeMonitorSubscriptionsRequest({77});
    QCOMPARE(decodeMonitorSubscriptionsRequest(request)->sessionId, 77u);
    checkTruncationAndExtension<MonitorSubscriptionsRequest>(request, decodeMonitorSubscriptionsRequest);

    MonitorSubscriptions v;
    v.sessionId = 77;
    v.total = 3;
    v.filters = {"sensors/+/temp", "alarms/#"};
    const QByteArray e = encodeMonitorSubscriptions(v);
    const auto d = decodeMonitorSubscriptions(e);
    QVERIFY(d);
    QCOMPARE(d->sessionId, 77u);
    QCOMPARE(d->code, ErrorCode::None);
    QCOMPARE(d->total, 3u);
    QCOMPARE(d->filters, v.filters);
    checkTruncationAndExtension<MonitorSubscriptions>(e, decodeMonitorSubscriptions);

    MonitorSubscriptions none;
    none.sessionId = 5;
    none.code = ErrorCode::NotRegistered;
    QCOMPARE(decodeMonitorSubscriptions(encodeMonitorSubscriptions(none))->code, ErrorCode::NotRegistered);
    QCOMPARE(monitorFrameName(MonitorFrame::Topics), "monitor_topics");
    QCOMPARE(monitorFrameName(MonitorFrame::Subscriptions), "monitor_subscriptions");
    QCOMPARE(monitorFrameName(MonitorFrame::Publications), "monitor_publications");
    QCOMPARE(monitorFrameName(MonitorFrame::Calls), "monitor_calls");
}

void tst_MonitorCodec::held()
{
    MonitorHeld v;
    v.name = "client1";
    v.count = 42;
    v.bytes = 1ull << 33;
    v.oldestAgeMs = 1234;
    v.nextExpiryMs = 28766;
    const QByteArray e = encodeMonitorHeld(v);
    const auto d = decodeMonitorHeld(e);
    QVERIFY(d);
    QCOMPARE(d->name, QByteArray("client1"));
    QCOMPARE(d->count, 42u);
    QCOMPARE(d->bytes, 1ull << 33);
    QCOMPARE(d->oldestAgeMs, 1234);
    QCOMPARE(d->nextExpiryMs, 28766);
    QCOMPARE(e.size(), 2 + 7 + 4 + 8 + 8 + 8);
    checkTruncationAndExtension<MonitorHeld>(e, decodeMonitorHeld);
    // The emptied queue's record: count 0, no expiry.
    const auto empty = decodeMonitorHeld(encodeMonitorHeld({"x", 0, 0, 0, -1}));
    QVERIFY(empty);
    QCOMPARE(empty->count, 0u);
    QCOMPARE(empty->nextExpiryMs, -1);
    QCOMPARE(monitorFrameName(MonitorFrame::Held), "monitor_held");
}

void tst_MonitorCodec::heldTotals()
{
    MonitorTotals v;
    v.reservedNamesRefused = 39;
    v.heldMessages = 40;
    v.heldBytes = 41;
    v.heldNames = 42;
    v.heldTotal = 43;
    v.heldDelivered = 44;
    v.heldRefusedAtDelivery = 45;
    v.heldExpired = 46;
    v.heldDroppedNameCount = 47;
    v.heldDroppedNameBytes = 48;
    v.heldDroppedTotal = 49;
    v.heldStartFailed = 50;
    v.heldReheld = 51;
    v.heldUnacknowledged = 52;
    v.heldLegacyUntold = 53;
    v.heldUntold = 54;
    const QByteArray e = encodeMonitorTotals(v);
    const auto d = decodeMonitorTotals(e);
    QVERIFY(d);
    QCOMPARE(d->reservedNamesRefused, 39u);
    QCOMPARE(d->heldMessages, 40u);
    QCOMPARE(d->heldBytes, 41u);
    QCOMPARE(d->heldNames, 42u);
    QCOMPARE(d->heldTotal, 43u);
    QCOMPARE(d->heldDelivered, 44u);
    QCOMPARE(d->heldRefusedAtDelivery, 45u);
    QCOMPARE(d->heldExpired, 46u);
    QCOMPARE(d->heldDroppedNameCount, 47u);
    QCOMPARE(d->heldDroppedNameBytes, 48u);
    QCOMPARE(d->heldDroppedTotal, 49u);
    QCOMPARE(d->heldStartFailed, 50u);
    QCOMPARE(d->heldReheld, 51u);
    QCOMPARE(d->heldUnacknowledged, 52u);
    QCOMPARE(d->heldLegacyUntold, 53u);
    QCOMPARE(d->heldUntold, 54u);
    // An access-era broker's totals end before the held block: accepted, the held figures 0;
    // a cut inside the block is refused.
    const qsizetype heldEnd = e.size() - (4 + 4 * 8 + 2); // the policy's block follows, empty
    const qsizetype accessEra = heldEnd - HeldBlockSize;
    const auto older = decodeMonitorTotals(QByteArrayView(e).first(accessEra));
    QVERIFY(older);
    QCOMPARE(older->reservedNamesRefused, 39u);
    QCOMPARE(older->heldMessages, 0u);
    QCOMPARE(older->heldUntold, 0u);
    QVERIFY(decodeMonitorTotals(QByteArrayView(e).first(heldEnd)));
    for (qsizetype n = accessEra + 1; n < heldEnd; ++n)
        QVERIFY2(!decodeMonitorTotals(QByteArrayView(e).first(n)), qPrintable(QStringLiteral("prefix of %1 bytes accepted").arg(n)));
}

void tst_MonitorCodec::trafficHeldTrailer()
{
    // A held message's record (`held`), an ordinary one, and the held message's final outcome
    // with the time it was held: the trailer marks the third.
    QList<MonitorTrafficRecord> records(3);
    records[0].source = "client2";
    records[0].target = "client1";
    records[0].status = DeliveryStatus::Held;
    records[1].source = "a";
    records[1].target = "b";
    records[2].source = "client2";
    records[2].target = "client1";
    records[2].status = DeliveryStatus::Delivered;
    records[2].heldMs = 812;
    const QByteArray e = encodeMonitorTrafficBatch(records);
    const auto d = decodeMonitorTrafficBatch(e);
    QVERIFY(d);
    QCOMPARE(d->size(), 3);
    QCOMPARE(d->at(0).heldMs, -1);
    QCOMPARE(d->at(0).status, DeliveryStatus::Held);
    QCOMPARE(d->at(1).heldMs, -1);
    QCOMPARE(d->at(2).heldMs, 812);
    QCOMPARE(d->at(2).status, DeliveryStatus::Delivered);
    // What an older reader sees: the records without the trailer decode alike, the held time lost.
    const QByteArray withoutTrailer = e.first(e.size() - (2 + 6));
    const auto old = decodeMonitorTrafficBatch(withoutTrailer);
    QVERIFY(old);
    QCOMPARE(old->size(), 3);
    QCOMPARE(old->at(2).heldMs, -1);
    // A cut trailer, or one naming a record the batch does not have, is refused.
    for (qsizetype n = withoutTrailer.size() + 1; n < e.size(); ++n)
        QVERIFY(!decodeMonitorTrafficBatch(QByteArrayView(e).first(n)));
    QByteArray bad = e;
    bad[e.size() - 5] = 3; // the index's low byte: record 3 of 0..2
    QVERIFY(!decodeMonitorTrafficBatch(bad));
    // Built in place as the broker does: records, then the trailer appended at the end.
    QByteArray batch;
    QByteArray trailer;
    appendMonitorTrafficRecord(batch, 1, "s", "t", 1, DeliveryStatus::Expired, {});
    appendMonitorHeldTrailerEntry(trailer, 0, 30000);
    const auto inPlace = decodeMonitorTrafficBatch(QByteArray(batch + trailer));
    QVERIFY(inPlace);
    QCOMPARE(inPlace->at(0).status, DeliveryStatus::Expired);
    QCOMPARE(inPlace->at(0).heldMs, 30000);
}

QTEST_APPLESS_MAIN(tst_MonitorCodec)
#include "tst_monitorcodec.moc"
