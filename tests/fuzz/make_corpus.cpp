// Writes the fuzzers' seed corpus (tests/fuzz/corpus/<fuzzer>/): valid inputs of every kind, built
// with the real encoders so that they stay valid when the protocol changes. Run it to regenerate:
//     kennel-fuzz-corpus tests/fuzz/corpus
// (docs/FUZZING.md). The files are committed; libFuzzer starts each run from them, so the fuzzers
// begin past the header checks instead of rediscovering the magic number every time.
#include "framecodec.h"
#include "legacyframe.h"
#include "monitorcodec.h"
#include "topiccodec.h"

#include <QByteArray>
#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QList>
#include <QTextStream>

#include <cstdio>
#include <optional>

using namespace Kennel;

namespace {

QString g_root;
int g_written = 0;

bool write(const QString &fuzzer, const QString &name, const QByteArray &bytes)
{
    Q_ASSERT(bytes.size() < 4096); // seeds stay small: libFuzzer mutates them, it does not need bulk
    const QString dir = g_root + QLatin1Char('/') + fuzzer;
    if (!QDir().mkpath(dir))
        return false;
    QFile file(dir + QLatin1Char('/') + name);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate) || file.write(bytes) != bytes.size()) {
        std::fprintf(stderr, "kennel-fuzz-corpus: cannot write %s\n", qPrintable(file.fileName()));
        return false;
    }
    ++g_written;
    return true;
}

QByteArray frame(FrameType type, quint32 id, QByteArrayView source, QByteArrayView target, QByteArrayView payload,
                 quint16 flags = 0)
{
    QByteArray out;
    appendFrame(out, type, id, flags, source, target, payload);
    return out;
}

QByteArray hello(QByteArrayView name, Role role = Role::Client, QByteArray token = {},
                 std::optional<quint32> features = std::nullopt)
{
    HelloPayload h;
    h.role = role;
    h.token = token;
    h.features = features; // PROTOCOL §4.1.1
    return frame(FrameType::Hello, 1, name, {}, encodeHello(h));
}

QByteArray legacy(Legacy::Command command, qint32 wdt, QByteArrayView target, QByteArrayView source, QByteArrayView msg)
{
    QByteArray out(Legacy::FrameSize, Qt::Uninitialized);
    Legacy::encode(out.data(), command, wdt, target, source, msg);
    return out;
}

// Every payload the monitor codec knows, by frame type, with its fields filled.
QList<std::pair<FrameType, QByteArray>> monitorPayloads()
{
    MonitorSubscribe subscribe;
    subscribe.previewBytes = 16;
    subscribe.maxTrafficPerSecond = 100;
    MonitorSnapshotBegin begin;
    begin.brokerTimeMs = 1700000000000;
    begin.brokerStartedMs = 1690000000000;
    begin.clientCount = 2;
    begin.serviceCount = 1;
    begin.brokerVersion = QStringLiteral("0.1.0");
    begin.monitorIdentity = QStringLiteral("token");
    MonitorClient client;
    client.sessionId = 7;
    client.name = "alpha";
    client.pid = 4242;
    client.peerAddress = QStringLiteral("unix pid 4242 uid 1000");
    client.connectedSinceMs = 1700000000000;
    client.messagesIn = 3;
    client.watchState = MonitorWatchState::Late;
    client.watchIntervalMs = 500;
    client.watchAllowedMisses = 3;
    client.msSinceLastFeed = 900;
    client.msUntilExpiry = 600;
    MonitorClientGone gone{7, 1700000000001, QStringLiteral("peer closed the connection")};
    MonitorService service;
    service.name = QStringLiteral("demo");
    service.state = MonitorServiceState::Backoff;
    service.pid = 99;
    service.msUntilRestart = 2000;
    service.lastError = QStringLiteral("exited with code 1");
    MonitorWatchdogEvent event;
    event.sessionId = 7;
    event.name = "alpha";
    event.kind = MonitorWatchdogEventKind::Signalled;
    event.detail = QStringLiteral("SIGTERM");
    MonitorTrafficRecord record;
    record.timeUs = 1700000000000000;
    record.source = "alpha";
    record.target = "beta";
    record.size = 5;
    record.status = DeliveryStatus::TargetQueueFull;
    record.preview = "hello";
    // A held message's outcome (PROTOCOL R-6.7.3): the batch gets its trailer.
    MonitorTrafficRecord heldOutcome = record;
    heldOutcome.status = DeliveryStatus::Delivered;
    heldOutcome.heldMs = 812;
    MonitorHeld held{"beta", 3, 1536, 400, 29600};
    MonitorTrafficDropped dropped{1700000000000, 12};
    MonitorTotals totals;
    totals.messagesRouted = 100;
    totals.clients = 3;
    MonitorTopics topics;
    topics.timeMs = 1700000000000;
    topics.intervalMs = 1000;
    topics.trackedTopics = 1;
    topics.entries = {MonitorTopicEntry{"sensors/boiler/temp", 12, 2500, 3, 4, true, 1700000000000}};
    MonitorPublicationRecord publication;
    publication.timeUs = 1700000000000123;
    publication.publisher = "sensor";
    publication.topic = "sensors/boiler/temp";
    publication.size = 4;
    publication.reached = 3;
    publication.retain = true;
    publication.preview = "21.5";
    MonitorCallRecord call;
    call.timeUs = 1700000000000456;
    call.caller = "ui";
    call.callee = "db";
    call.outcome = CallOutcome::Timeout;
    call.roundTripUs = 200000;
    totals.policyRules = 2;
    totals.policySendChecked = 40;
    totals.policyRuleCounts = {{QStringLiteral("ui_only"), 40, 2}, {QStringLiteral("others"), 3, 3}};
    MonitorPolicyDenial denial;
    denial.sessionId = 7;
    denial.sender = "alpha";
    denial.target = "sensors/kitchen";
    denial.path = MonitorPolicyPath::Publish;
    denial.rule = 1;
    denial.ruleName = QStringLiteral("others");
    denial.ruleText = QStringLiteral("deny send topic:sensors/#");
    denial.ruleDenials = 3;
    MonitorControl control{MonitorControlAction::SendTestMessage, "alpha", "ping"};
    MonitorControlResult result{ErrorCode::NotPermitted, QStringLiteral("no such client")};
    return {
        {MonitorFrame::Subscribe, encodeMonitorSubscribe(subscribe)},
        {MonitorFrame::SnapshotBegin, encodeMonitorSnapshotBegin(begin)},
        {MonitorFrame::Client, encodeMonitorClient(client)},
        {MonitorFrame::Service, encodeMonitorService(service)},
        {MonitorFrame::SnapshotEnd, QByteArray()},
        {MonitorFrame::ClientGone, encodeMonitorClientGone(gone)},
        {MonitorFrame::WatchdogEvent, encodeMonitorWatchdogEvent(event)},
        {MonitorFrame::Traffic, encodeMonitorTrafficBatch({record, heldOutcome})},
        {MonitorFrame::Held, encodeMonitorHeld(held)},
        {MonitorFrame::TrafficDropped, encodeMonitorTrafficDropped(dropped)},
        {MonitorFrame::Totals, encodeMonitorTotals(totals)},
        {MonitorFrame::PolicyDenial, encodeMonitorPolicyDenial(denial)},
        {MonitorFrame::Control, encodeMonitorControl(control)},
        {MonitorFrame::ControlResult, encodeMonitorControlResult(result)},
        // Topics and calls (PROTOCOL §6.8)
        {MonitorFrame::Topics, encodeMonitorTopics(topics)},
        {MonitorFrame::Subscriptions, encodeMonitorSubscriptions({7, ErrorCode::None, 2, {"sensors/#", "alarms/+"}})},
        {MonitorFrame::Publications, encodeMonitorPublicationBatch({publication, publication})},
        {MonitorFrame::Calls, encodeMonitorCallBatch({call, call})},
    };
}

// Every native frame type with a plausible payload.
QList<std::pair<QString, QByteArray>> nativeFrames()
{
    WelcomePayload welcome;
    welcome.brokerVersion = "0.1.0";
    WatchdogTerms terms{500, 3, ExpiryAction::Notify};
    QList<std::pair<QString, QByteArray>> frames = {
        {QStringLiteral("hello"), hello("alpha")},
        {QStringLiteral("hello-monitor"), hello({}, Role::Monitor, "0123456789abcdef0123")},
        {QStringLiteral("welcome"), frame(FrameType::Welcome, 1, {}, "alpha", encodeWelcome(welcome))},
        {QStringLiteral("hello-features"), hello("alpha", Role::Client, {}, Wire::KnownFeatures)},
        {QStringLiteral("welcome-features"),
         frame(FrameType::Welcome, 1, {}, "alpha", encodeWelcome({1, Wire::DefaultMaxFrameSize, "0.1.0", Wire::KnownFeatures}))},
        {QStringLiteral("error"), frame(FrameType::Error, 2, {}, {}, encodeError({ErrorCode::NameTaken, QStringLiteral("name taken")}))},
        {QStringLiteral("bye"), frame(FrameType::Bye, 3, {}, {}, {})},
        {QStringLiteral("ping"), frame(FrameType::Ping, 4, {}, {}, "t")},
        {QStringLiteral("pong"), frame(FrameType::Pong, 4, {}, {}, "t")},
        {QStringLiteral("send"), frame(FrameType::Send, 5, {}, "beta", "hello beta", WantDeliveryStatus)},
        {QStringLiteral("deliver"), frame(FrameType::Deliver, 5, "alpha", "beta", "hello beta")},
        {QStringLiteral("deliverystatus"), frame(FrameType::DeliveryStatus, 5, {}, {}, encodeDeliveryStatus(DeliveryStatus::NoSuchClient))},
        {QStringLiteral("watchdogregister"), frame(FrameType::WatchdogRegister, 6, {}, {}, encodeWatchdogTerms(terms))},
        {QStringLiteral("watchdogfeed"), frame(FrameType::WatchdogFeed, 7, {}, {}, {})},
        {QStringLiteral("watchdogack"), frame(FrameType::WatchdogAck, 6, {}, {}, encodeWatchdogTerms(terms))},
        {QStringLiteral("call"), frame(FrameType::Call, 9, {}, "beta", encodeCallRequest(500, "question"))},
        {QStringLiteral("call_incoming"), frame(FrameType::CallIncoming, 1, "alpha", "beta", encodeCallRequest(499, "question"))},
        {QStringLiteral("reply"), frame(FrameType::Reply, 1, {}, {}, encodeCallReply(0, "answer"))},
        {QStringLiteral("call_result"), frame(FrameType::CallResult, 9, {}, "beta", encodeCallResult(CallOutcome::ErrorReply, 7, "no"))},
    };
    for (const auto &[type, payload] : monitorPayloads())
        frames.append({QLatin1String(monitorFrameName(type)), frame(type, 8, {}, type == MonitorFrame::Control ? "alpha" : "", payload)});
    return frames;
}

bool writeNative()
{
    const QString f = QStringLiteral("fuzz_nativeframe");
    bool ok = true;
    // Selector 0: the bytes are only walked as frames.
    for (const auto &[name, bytes] : nativeFrames())
        ok &= write(f, QStringLiteral("frame-") + name, QByteArray(QByteArray(1, '\0') + bytes));
    // A stream of several frames, one with a bad name (skipped), one cut off at the end.
    const QByteArray stream = hello("alpha") + frame(FrameType::Send, 2, {}, "beta", "x") + frame(FrameType::Send, 3, {}, "no way", "x")
                        + frame(FrameType::Ping, 4, {}, {}, {});
    ok &= write(f, QStringLiteral("stream-hello-send-badname-ping"), QByteArray(QByteArray(1, '\0') + stream));
    ok &= write(f, QStringLiteral("stream-cut-off"), QByteArray(QByteArray(1, '\0') + stream.left(stream.size() - 3)));
    // Selector = a frame type: its payload decoder gets the bytes directly.
    WelcomePayload welcome;
    welcome.brokerVersion = "0.1.0";
    HelloPayload h;
    h.pid = 1234;
    ok &= write(f, QStringLiteral("payload-hello"), QByteArray(QByteArray(1, char(FrameType::Hello)) + encodeHello(h)));
    ok &= write(f, QStringLiteral("payload-welcome"), QByteArray(QByteArray(1, char(FrameType::Welcome)) + encodeWelcome(welcome)));
    h.features = Wire::KnownFeatures;
    welcome.features = Wire::KnownFeatures;
    ok &= write(f, QStringLiteral("payload-hello-features"), QByteArray(QByteArray(1, char(FrameType::Hello)) + encodeHello(h)));
    ok &= write(f, QStringLiteral("payload-welcome-features"), QByteArray(QByteArray(1, char(FrameType::Welcome)) + encodeWelcome(welcome)));
    ok &= write(f, QStringLiteral("payload-error"), QByteArray(QByteArray(1, char(FrameType::Error)) + encodeError({ErrorCode::TooManyClients, QStringLiteral("full")})));
    ok &= write(f, QStringLiteral("payload-deliverystatus"), QByteArray(QByteArray(1, char(FrameType::DeliveryStatus)) + encodeDeliveryStatus(DeliveryStatus::Delivered)));
    ok &= write(f, QStringLiteral("payload-watchdogterms"), QByteArray(QByteArray(1, char(FrameType::WatchdogRegister)) + encodeWatchdogTerms({1000, 2, ExpiryAction::Disconnect})));
    ok &= write(f, QStringLiteral("payload-call"), QByteArray(QByteArray(1, char(FrameType::Call)) + encodeCallRequest(1000, "q")));
    ok &= write(f, QStringLiteral("payload-reply"), QByteArray(QByteArray(1, char(FrameType::Reply)) + encodeCallReply(3, "failed")));
    ok &= write(f, QStringLiteral("payload-call_result"),
                QByteArray(QByteArray(1, char(FrameType::CallResult)) + encodeCallResult(CallOutcome::Replied, 0, "a")));
    for (const auto &[type, payload] : monitorPayloads())
        ok &= write(f, QStringLiteral("payload-") + QLatin1String(monitorFrameName(type)), QByteArray(QByteArray(1, char(type)) + payload));
    // Topics (PROTOCOL §5.5): the frames, walked, and their payloads, decoded.
    const QList<std::pair<QString, QByteArray>> topicFrames = {
        {QStringLiteral("subscribe"), frame(FrameType::Subscribe, 9, {}, {}, encodeTopicFilter("sensors/+/temp"))},
        {QStringLiteral("unsubscribe"), frame(FrameType::Unsubscribe, 10, {}, {}, encodeTopicFilter("alarms/#"))},
        {QStringLiteral("topicack"), frame(FrameType::TopicAck, 9, {}, {}, encodeTopicAck({ErrorCode::None, 2, {}}))},
        {QStringLiteral("publish"), frame(FrameType::Publish, 11, {}, {}, encodeTopicMessage("sensors/kitchen/temp", "21.5"), WantDeliveryStatus | RetainFlag)},
        {QStringLiteral("publishstatus"), frame(FrameType::PublishStatus, 11, {}, {}, encodePublishStatus({ErrorCode::RetainedStoreFull, 3, 1, QStringLiteral("not retained")}))},
        {QStringLiteral("publication"), frame(FrameType::Publication, 11, "alpha", {}, encodeTopicMessage("sensors/kitchen/temp", "21.5"), RetainFlag)},
    };
    for (const auto &[name, bytes] : topicFrames) {
        ok &= write(f, QStringLiteral("frame-") + name, QByteArray(QByteArray(1, '\0') + bytes));
        ok &= write(f, QStringLiteral("payload-") + name, QByteArray(bytes.mid(3, 1) + bytes.mid(Wire::HeaderSize + quint8(bytes.at(12)) + quint8(bytes.at(13)))));
    }
    return ok;
}

// fuzz_cwire takes fuzz_nativeframe's input format: the core frames, a stream, the core payloads.
bool writeCWire()
{
    const QString f = QStringLiteral("fuzz_cwire");
    bool ok = true;
    for (const auto &[name, bytes] : nativeFrames()) {
        if (quint8(bytes.at(3)) < quint8(FrameType::MonitorFirst))
            ok &= write(f, QStringLiteral("frame-") + name, QByteArray(QByteArray(1, '\0') + bytes));
    }
    const QByteArray stream = hello("alpha") + frame(FrameType::Send, 2, {}, "beta", "x") + frame(FrameType::Send, 3, {}, "no way", "x")
                        + frame(FrameType::Ping, 4, {}, {}, {});
    ok &= write(f, QStringLiteral("stream-hello-send-badname-ping"), QByteArray(QByteArray(1, '\0') + stream));
    ok &= write(f, QStringLiteral("stream-cut-off"), QByteArray(QByteArray(1, '\0') + stream.left(stream.size() - 3)));
    WelcomePayload welcome;
    welcome.brokerVersion = "0.1.0";
    welcome.features = Wire::KnownFeatures;
    HelloPayload h;
    h.pid = 1234;
    h.features = Wire::KnownFeatures;
    ok &= write(f, QStringLiteral("payload-hello-features"), QByteArray(QByteArray(1, char(FrameType::Hello)) + encodeHello(h)));
    ok &= write(f, QStringLiteral("payload-welcome-features"), QByteArray(QByteArray(1, char(FrameType::Welcome)) + encodeWelcome(welcome)));
    ok &= write(f, QStringLiteral("payload-error"), QByteArray(QByteArray(1, char(FrameType::Error)) + encodeError({ErrorCode::NameTaken, QStringLiteral("taken")})));
    ok &= write(f, QStringLiteral("payload-deliverystatus"), QByteArray(QByteArray(1, char(FrameType::DeliveryStatus)) + encodeDeliveryStatus(DeliveryStatus::TargetQueueFull)));
    ok &= write(f, QStringLiteral("payload-watchdogterms"), QByteArray(QByteArray(1, char(FrameType::WatchdogAck)) + encodeWatchdogTerms({300, 2, ExpiryAction::Disconnect})));
    // Topics and calls, which libkennel speaks too: one payload of each kind.
    const QList<std::pair<FrameType, QByteArray>> topicAndCallPayloads = {
        {FrameType::Subscribe, encodeTopicFilter("sensors/+/temp")},
        {FrameType::Publication, encodeTopicMessage("sensors/kitchen/temp", "21.5")},
        {FrameType::TopicAck, encodeTopicAck({ErrorCode::TooManySubscriptions, 0, QStringLiteral("too many")})},
        {FrameType::PublishStatus, encodePublishStatus({ErrorCode::None, 3, 1, {}})},
        {FrameType::CallIncoming, encodeCallRequest(200, "status?")},
        {FrameType::Reply, encodeCallReply(0, "ok")},
        {FrameType::CallResult, encodeCallResult(CallOutcome::ErrorReply, 7, "no such sensor")},
    };
    for (const auto &[type, payload] : topicAndCallPayloads)
        ok &= write(f, QStringLiteral("payload-") + QLatin1String(frameTypeName(type)),
                    QByteArray(QByteArray(1, char(type)) + payload));
    return ok;
}

bool writeLegacy()
{
    const QString f = QStringLiteral("fuzz_legacyframe");
    using C = Legacy::Command;
    bool ok = true;
    ok &= write(f, QStringLiteral("cmd0-register-receiver"), legacy(C::RegisterReceiver, 0, "null", "alpha", {}));
    ok &= write(f, QStringLiteral("cmd1-watchdog-register"), legacy(C::Watchdog, 0, "null", "alpha", {}));
    ok &= write(f, QStringLiteral("cmd1-watchdog-feed"), legacy(C::Watchdog, 1, "null", "alpha", {}));
    ok &= write(f, QStringLiteral("cmd2-forward"), legacy(C::Forward, 0, "beta", "alpha", "hello beta"));
    ok &= write(f, QStringLiteral("cmd2-forward-511"), legacy(C::Forward, 0, "beta", "alpha", QByteArray(511, 'x')));
    ok &= write(f, QStringLiteral("sequence-0-1-2"),
                QByteArray(legacy(C::RegisterReceiver, 0, "null", "alpha", {}) + legacy(C::Watchdog, 0, "null", "alpha", {})
                           + legacy(C::Forward, 0, "beta", "alpha", "hi")));
    ok &= write(f, QStringLiteral("head-only"), QByteArray("head", 5));
    return ok;
}

// fuzz_session input: chunks of [connection][length][bytes], at most 255 bytes each.
class Script
{
public:
    Script &to(int connection, QByteArrayView bytes)
    {
        do {
            const qsizetype n = qMin<qsizetype>(bytes.size(), 255);
            m_out.append(char(connection)).append(char(n)).append(bytes.data(), n);
            bytes = bytes.sliced(n);
        } while (!bytes.isEmpty());
        return *this;
    }
    Script &hangUp(int connection)
    {
        m_out.append(char(3)).append(char(connection));
        return *this;
    }
    QByteArray bytes() const { return m_out; }

private:
    QByteArray m_out;
};

bool writeSession()
{
    const QString f = QStringLiteral("fuzz_session");
    using C = Legacy::Command;
    const QByteArray send = frame(FrameType::Send, 10, {}, "beta", "hello beta", WantDeliveryStatus);
    const QByteArray terms = frame(FrameType::WatchdogRegister, 11, {}, {}, encodeWatchdogTerms({1000, 3, ExpiryAction::Notify}));
    const QByteArray feed = frame(FrameType::WatchdogFeed, 12, {}, {}, {});
    MonitorSubscribe subscribe;
    bool ok = true;
    ok &= write(f, QStringLiteral("native-hello-send"), Script().to(0, hello("alpha")).to(1, hello("beta")).to(0, send).bytes());
    ok &= write(f, QStringLiteral("native-three-clients"),
                Script().to(0, hello("alpha")).to(1, hello("beta")).to(2, hello("gamma"))
                    .to(2, frame(FrameType::Send, 1, {}, "alpha", "from gamma")).to(0, send)
                    .to(1, frame(FrameType::Send, 2, {}, "nobody", "lost", WantDeliveryStatus)).bytes());
    ok &= write(f, QStringLiteral("native-watchdog"), Script().to(0, hello("alpha")).to(0, terms).to(0, feed).to(0, feed).bytes());
    // PROTOCOL §5.7: an acknowledging receiver, a partial acknowledgement, a crash with two left
    // (held again for its name) and an acknowledgement beyond the count from its successor.
    ok &= write(f, QStringLiteral("native-deliver-ack"),
                Script().to(0, hello("alpha", Role::Client, {}, FeatureDeliverAck)).to(1, hello("beta"))
                    .to(1, frame(FrameType::Send, 1, {}, "alpha", "one", WantDeliveryStatus))
                    .to(1, frame(FrameType::Send, 2, {}, "alpha", "two", WantDeliveryStatus))
                    .to(1, frame(FrameType::Send, 3, {}, "alpha", "three", WantDeliveryStatus))
                    .to(0, frame(FrameType::DeliverAck, 1, {}, {}, {})).hangUp(0)
                    .to(2, hello("alpha", Role::Client, {}, FeatureDeliverAck)).to(2, frame(FrameType::DeliverAck, 9, {}, {}, {})).bytes());
    ok &= write(f, QStringLiteral("native-ping-bye"),
                Script().to(0, hello("alpha")).to(0, frame(FrameType::Ping, 3, {}, {}, "x")).to(0, frame(FrameType::Bye, 4, {}, {}, {})).bytes());
    ok &= write(f, QStringLiteral("native-name-taken"), Script().to(0, hello("alpha")).to(1, hello("alpha")).hangUp(0).to(2, hello("alpha")).bytes());
    ok &= write(f, QStringLiteral("native-impersonation"),
                Script().to(0, hello("alpha")).to(1, hello("beta")).to(1, frame(FrameType::Send, 5, "alpha", "alpha", "spoofed")).bytes());
    ok &= write(f, QStringLiteral("native-before-hello"), Script().to(0, send).to(0, feed).to(0, hello("alpha")).bytes());
    ok &= write(f, QStringLiteral("native-split-frame"), Script().to(0, hello("alpha").left(7)).to(0, hello("alpha").mid(7)).bytes());
    ok &= write(f, QStringLiteral("native-monitor-frame-from-client"),
                Script().to(0, hello("alpha")).to(0, frame(MonitorFrame::Subscribe, 6, {}, {}, encodeMonitorSubscribe(subscribe))).bytes());
    ok &= write(f, QStringLiteral("monitor-hello-subscribe"),
                Script().to(0, hello("alpha")).to(1, QByteArray(hello({}, Role::Monitor) + frame(MonitorFrame::Subscribe, 2, {}, {}, encodeMonitorSubscribe(subscribe))))
                    .to(0, frame(FrameType::Send, 3, {}, "alpha", "seen by the monitor")).bytes());
    ok &= write(f, QStringLiteral("monitor-control"),
                Script().to(0, hello("alpha")).to(1, hello({}, Role::Monitor))
                    .to(1, frame(MonitorFrame::Control, 4, {}, "alpha", encodeMonitorControl({MonitorControlAction::SendTestMessage, "alpha", "t"})))
                    .bytes());
    ok &= write(f, QStringLiteral("legacy-receiver-and-forward"),
                Script().to(0, legacy(C::RegisterReceiver, 0, "null", "alpha", {})).to(1, legacy(C::Forward, 0, "alpha", "beta", "hi alpha")).bytes());
    ok &= write(f, QStringLiteral("legacy-watchdog"),
                Script().to(1, legacy(C::Watchdog, 0, "null", "beta", {})).to(1, legacy(C::Watchdog, 1, "null", "beta", {})).bytes());
    ok &= write(f, QStringLiteral("legacy-to-native"),
                Script().to(0, hello("alpha")).to(1, legacy(C::Forward, 0, "alpha", "beta", "legacy to native"))
                    .to(0, frame(FrameType::Send, 7, {}, "gamma", "native to legacy")).to(2, legacy(C::RegisterReceiver, 0, "null", "gamma", {})).bytes());
    ok &= write(f, QStringLiteral("legacy-then-native-bytes"), Script().to(0, QByteArray(legacy(C::RegisterReceiver, 0, "null", "alpha", {}) + hello("alpha"))).bytes());
    // Calls (PROTOCOL §5.6): a reply (a fresh broker's first call id is 1), a late and a stranger's
    // reply, a call to nobody, and a callee hanging up with a call outstanding.
    const QByteArray callHello = hello("alpha", Role::Client, {}, FeatureCalls);
    ok &= write(f, QStringLiteral("native-calls"),
                Script().to(0, callHello).to(1, hello("beta", Role::Client, {}, FeatureCalls)).to(2, hello("gamma", Role::Client, {}, FeatureCalls))
                    .to(0, frame(FrameType::Call, 20, {}, "beta", encodeCallRequest(100, "q1")))
                    .to(2, frame(FrameType::Reply, 1, {}, {}, encodeCallReply(0, "forged")))
                    .to(1, frame(FrameType::Reply, 1, {}, {}, encodeCallReply(0, "a1")))
                    .to(1, frame(FrameType::Reply, 1, {}, {}, encodeCallReply(0, "late")))
                    .to(0, frame(FrameType::Call, 21, {}, "nobody", encodeCallRequest(0, "q2")))
                    .to(0, frame(FrameType::Call, 22, {}, "beta", encodeCallRequest(5000, "q3")))
                    .hangUp(1).bytes());
    ok &= write(f, QStringLiteral("garbage-first"), Script().to(0, "GET / HTTP/1.0\r\n\r\n").to(1, hello("beta")).bytes());
    return ok;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() != 2) {
        std::fprintf(stderr, "usage: kennel-fuzz-corpus <corpus directory>   (tests/fuzz/corpus in the source tree)\n");
        return 2;
    }
    g_root = args.at(1);
    const bool ok = writeNative() && writeCWire() && writeLegacy() && writeSession();
    std::printf("kennel-fuzz-corpus: %d files in %s\n", g_written, qPrintable(g_root));
    return ok ? 0 : 1;
}
