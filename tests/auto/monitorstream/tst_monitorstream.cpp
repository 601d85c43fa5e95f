// The broker's monitor stream end to end (PROTOCOL §6, docs/MONITOR.md): a broker in this process,
// raw peers as monitors and clients, byte for byte. What is checked is what the monitor stream promises
// (docs/PROTOCOL.md section 6):
// nothing privileged without admission; a snapshot and then events that match what really
// happened; traffic records for delivered and undelivered messages, capped with explicit markers;
// a monitor that stops reading never slows routing nor grows the broker's queue past its bound;
// control actions that work and are refused for unknown targets.
#include "testbroker.h"

#include "clientwatchdog.h"
#include "monitorcodec.h"
#include "monitorhub.h"
#include "nameregistry.h"
#include "supervisor.h"

#include <QElapsedTimer>
#include <QLocalSocket>
#include <QSignalSpy>
#include <QTest>

#include <functional>

using namespace Kennel;
using namespace KennelTest;
using namespace std::chrono_literals;

namespace {

const QByteArray Token = QByteArrayLiteral("monitor-stream-test-token-0123456789");

QByteArray helloFrame(const QByteArray &name, const QByteArray &token, Role role = Role::Monitor, quint32 id = 1)
{
    Frame f;
    f.type = FrameType::Hello;
    f.messageId = id;
    f.source = name;
    HelloPayload hello;
    hello.role = role;
    hello.token = token;
    f.payload = encodeHello(hello);
    return encodeFrame(f);
}

QByteArray subscribeFrame(bool traffic, quint16 preview = 0, quint32 rate = 0, quint32 id = 2)
{
    Frame f;
    f.type = MonitorFrame::Subscribe;
    f.messageId = id;
    MonitorSubscribe s;
    s.wantTraffic = traffic;
    s.previewBytes = preview;
    s.maxTrafficPerSecond = rate;
    f.payload = encodeMonitorSubscribe(s);
    return encodeFrame(f);
}

QByteArray controlFrame(MonitorControlAction action, const QByteArray &target, const QByteArray &text, quint32 id)
{
    Frame f;
    f.type = MonitorFrame::Control;
    f.messageId = id;
    MonitorControl c;
    c.action = action;
    c.target = target;
    c.text = text;
    f.payload = encodeMonitorControl(c);
    return encodeFrame(f);
}

// No answer at all within the time allowed.
constexpr ErrorCode NoAnswer = ErrorCode(999);

// None for a Welcome, else the Error's code (or NoAnswer).
ErrorCode admissionAnswer(RawPeer &peer, int timeoutMs = 5000)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        for (qsizetype i = 0; i < peer.frames().size(); ++i) {
            const Frame f = peer.frames().at(i);
            if (f.type == FrameType::Welcome) {
                peer.frames().removeAt(i);
                return ErrorCode::None;
            }
            if (f.type == FrameType::Error) {
                peer.frames().removeAt(i);
                return decodeError(f.payload).value_or(ErrorPayload{}).code;
            }
        }
        QTest::qWait(5);
    }
    return NoAnswer;
}

struct Snapshot
{
    MonitorSnapshotBegin begin;
    QList<MonitorClient> clients;
    QList<MonitorService> services;

    const MonitorClient *client(const QByteArray &name) const
    {
        for (const MonitorClient &c : clients)
            if (c.name == name)
                return &c;
        return nullptr;
    }
};

std::optional<Snapshot> readSnapshot(RawPeer &peer)
{
    const auto begin = peer.take(MonitorFrame::SnapshotBegin);
    if (!begin)
        return std::nullopt;
    Snapshot s;
    s.begin = decodeMonitorSnapshotBegin(begin->payload).value_or(MonitorSnapshotBegin{});
    if (!peer.take(MonitorFrame::SnapshotEnd))
        return std::nullopt;
    // Everything of the snapshot came before its end, so the first frames of each type are its own.
    for (quint32 i = 0; i < s.begin.clientCount; ++i) {
        const auto f = peer.take(MonitorFrame::Client, 0);
        if (!f)
            return std::nullopt;
        s.clients.append(decodeMonitorClient(f->payload).value_or(MonitorClient{}));
    }
    for (quint32 i = 0; i < s.begin.serviceCount; ++i) {
        const auto f = peer.take(MonitorFrame::Service, 0);
        if (!f)
            return std::nullopt;
        s.services.append(decodeMonitorService(f->payload).value_or(MonitorService{}));
    }
    return s;
}

// Admitted over `peer` (already connected) and subscribed; the snapshot.
std::optional<Snapshot> admitAndSubscribe(RawPeer &peer, const QByteArray &name, const QByteArray &token,
                                          bool traffic = true, quint16 preview = 0, quint32 rate = 0)
{
    peer.writeBytes(helloFrame(name, token));
    if (admissionAnswer(peer) != ErrorCode::None)
        return std::nullopt;
    peer.writeBytes(subscribeFrame(traffic, preview, rate));
    return readSnapshot(peer);
}

template<typename T>
std::optional<T> waitFor(RawPeer &peer, FrameType type, std::optional<T> (*decode)(QByteArrayView),
                         const std::function<bool(const T &)> &match, int timeoutMs = 5000)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        if (const auto f = peer.take(type, 10)) {
            const std::optional<T> v = decode(f->payload);
            if (v && match(*v))
                return v;
        }
    }
    return std::nullopt;
}

std::optional<MonitorWatchdogEvent> waitWatchdogEvent(RawPeer &peer, const QByteArray &name, MonitorWatchdogEventKind kind,
                                                      int timeoutMs = 5000)
{
    return waitFor<MonitorWatchdogEvent>(peer, MonitorFrame::WatchdogEvent, &decodeMonitorWatchdogEvent,
                                         [&](const MonitorWatchdogEvent &e) { return e.name == name && e.kind == kind; },
                                         timeoutMs);
}

std::optional<MonitorControlResult> control(RawPeer &monitor, MonitorControlAction action, const QByteArray &target,
                                            const QByteArray &text = {})
{
    static quint32 id = 100;
    const quint32 mine = ++id;
    monitor.writeBytes(controlFrame(action, target, text, mine));
    const auto f = monitor.take(MonitorFrame::ControlResult);
    if (!f || f->messageId != mine)
        return std::nullopt;
    return decodeMonitorControlResult(f->payload);
}

struct TrafficSeen
{
    QList<MonitorTrafficRecord> records;
    quint64 dropped = 0;
};

// Drains every Traffic and TrafficDropped frame that has arrived.
void collectTraffic(RawPeer &peer, TrafficSeen &seen)
{
    QList<Frame> &frames = peer.frames();
    for (qsizetype i = 0; i < frames.size();) {
        if (frames[i].type == MonitorFrame::Traffic) {
            const auto batch = decodeMonitorTrafficBatch(frames[i].payload);
            if (batch)
                seen.records += *batch;
            frames.removeAt(i);
        } else if (frames[i].type == MonitorFrame::TrafficDropped) {
            if (const auto d = decodeMonitorTrafficDropped(frames[i].payload))
                seen.dropped += d->dropped;
            frames.removeAt(i);
        } else {
            ++i;
        }
    }
}

const MonitorTrafficRecord *findRecord(const TrafficSeen &seen, const QByteArray &source, const QByteArray &target,
                                       DeliveryStatus status)
{
    for (const MonitorTrafficRecord &r : seen.records)
        if (r.source == source && r.target == target && r.status == status)
            return &r;
    return nullptr;
}

void registerWatchdog(RawPeer &peer, quint32 intervalMs, quint16 misses, ExpiryAction action)
{
    Frame f;
    f.type = FrameType::WatchdogRegister;
    f.messageId = 9;
    WatchdogTerms t;
    t.intervalMs = intervalMs;
    t.allowedMisses = misses;
    t.action = action;
    f.payload = encodeWatchdogTerms(t);
    peer.send(f);
}

void feed(RawPeer &peer)
{
    Frame f;
    f.type = FrameType::WatchdogFeed;
    peer.send(f);
}

ServiceSettings shellService(const QString &name, const QString &script, ServiceSettings::Restart restart)
{
    ServiceSettings s;
    s.name = name;
    s.program = QStringLiteral("/bin/sh");
    s.arguments = {QStringLiteral("-c"), script};
    s.restart = restart;
    s.restartDelay = 100ms;
    s.restartDelayMax = 200ms;
    s.startLimit = 100;
    s.stopTimeout = 1000ms;
    return s;
}

} // namespace

class tst_MonitorStream : public QObject
{
    Q_OBJECT

private slots:
    void clientCannotAskForTheStream();
    void tcpMonitorNeedsTheToken_data();
    void tcpMonitorNeedsTheToken();
    void unixPeerByCredentials_data();
    void unixPeerByCredentials();
    void rightTokenOverTcp();
    void admissionRefusalsInTotals();
    void tokenFileErrorStopsStart();
    void maxMonitors();
    void monitorListener();
    void snapshotContent();
    void clientAndWatchdogEvents();
    void serviceEvents();
    void trafficRecords();
    void perSecondCapSendsDroppedMarker();
    void stalledMonitorDoesNotSlowRouting();
    void controlActions();
    void handoverKeepsPipelinedBytes();
    void shutdownSaysBye();

private:
    static BrokerConfig config();
};

BrokerConfig tst_MonitorStream::config()
{
    BrokerConfig c;
    c.monitor.token = Token;
    c.monitor.failureDelay = 20ms;
    c.monitor.failureDelayMax = 100ms;
    c.monitor.totalsInterval = 200ms;
    c.watchdog.minInterval = 50ms;
    return c;
}

void tst_MonitorStream::clientCannotAskForTheStream()
{
    TestBroker broker(config());
    QVERIFY(broker.start());
    RawPeer client;
    QVERIFY(client.connectTcp(broker.tcpPort()));
    QVERIFY(client.registerAs("plain"));
    client.writeBytes(subscribeFrame(true, 0, 0, 33));
    const auto error = client.take(FrameType::Error);
    QVERIFY(error);
    QCOMPARE(error->messageId, 33u);
    QCOMPARE(decodeError(error->payload)->code, ErrorCode::NotPermitted);
    client.writeBytes(controlFrame(MonitorControlAction::StopService, "x", {}, 34));
    const auto error2 = client.take(FrameType::Error);
    QVERIFY(error2);
    QCOMPARE(decodeError(error2->payload)->code, ErrorCode::NotPermitted);
    // Not fatal: the client goes on, and nothing of the stream was sent to it.
    client.frames().clear();
    client.writeBytes(encodeFrame(Frame{FrameType::Ping, 35, 0, {}, {}, "x"}));
    QVERIFY(client.take(FrameType::Pong));
    for (const Frame &f : client.frames())
        QVERIFY(quint8(f.type) < quint8(FrameType::MonitorFirst));
    QCOMPARE(broker.broker().monitors().admittedCount(), 0);
}

void tst_MonitorStream::tcpMonitorNeedsTheToken_data()
{
    QTest::addColumn<QByteArray>("token");
    QTest::newRow("no token") << QByteArray();
    QTest::newRow("wrong token") << QByteArrayLiteral("monitor-stream-test-token-0123456788");
}

void tst_MonitorStream::tcpMonitorNeedsTheToken()
{
    QFETCH(QByteArray, token);
    TestBroker broker(config());
    QVERIFY(broker.start());
    RawPeer monitor;
    QVERIFY(monitor.connectTcp(broker.tcpPort()));
    // Subscribe right behind the Hello: it must not be served before the answer.
    monitor.writeBytes(helloFrame("intruder", token) + subscribeFrame(true));
    QCOMPARE(admissionAnswer(monitor), ErrorCode::NotPermitted);
    QVERIFY(monitor.waitForDisconnect());
    for (const Frame &f : monitor.frames())
        QVERIFY2(quint8(f.type) < quint8(FrameType::MonitorFirst), "stream frames sent to a refused monitor");
    QCOMPARE(broker.broker().monitors().admittedCount(), 0);
    QTRY_COMPARE(broker.broker().monitors().monitors().size(), 0);
}

void tst_MonitorStream::unixPeerByCredentials_data()
{
    QTest::addColumn<bool>("allowLocalPeers");
    QTest::newRow("allowed") << true;
    QTest::newRow("not allowed") << false;
}

void tst_MonitorStream::unixPeerByCredentials()
{
    QFETCH(bool, allowLocalPeers);
    BrokerConfig c = config();
    c.monitor.allowLocalPeers = allowLocalPeers;
    TestBroker broker(c);
    QVERIFY(broker.start());
    RawPeer monitor;
    QVERIFY(monitor.connectUnix(broker.unixPath()));
    monitor.writeBytes(helloFrame("local", {}));
    const ErrorCode answer = admissionAnswer(monitor);
    if (!allowLocalPeers) {
        QCOMPARE(answer, ErrorCode::NotPermitted);
        QVERIFY(monitor.waitForDisconnect());
        return;
    }
    QCOMPARE(answer, ErrorCode::None);
    monitor.writeBytes(subscribeFrame(false));
    const auto snapshot = readSnapshot(monitor);
    QVERIFY(snapshot);
    QVERIFY2(snapshot->begin.monitorIdentity.startsWith(QLatin1String("peer uid")), qPrintable(snapshot->begin.monitorIdentity));
    QCOMPARE(broker.broker().monitors().admittedCount(), 1);
}

void tst_MonitorStream::rightTokenOverTcp()
{
    TestBroker broker(config());
    QVERIFY(broker.start());
    RawPeer monitor;
    QVERIFY(monitor.connectTcp(broker.tcpPort()));
    monitor.writeBytes(helloFrame("ops", Token));
    QCOMPARE(admissionAnswer(monitor), ErrorCode::None);
    monitor.writeBytes(subscribeFrame(true));
    const auto snapshot = readSnapshot(monitor);
    QVERIFY(snapshot);
    QCOMPARE(snapshot->begin.monitorIdentity, QStringLiteral("token"));
    QCOMPARE(snapshot->begin.brokerVersion, QStringLiteral(KENNEL_VERSION));
    QVERIFY(snapshot->begin.brokerTimeMs >= snapshot->begin.brokerStartedMs);
    // Totals follow periodically.
    const auto totals = monitor.take(MonitorFrame::Totals, 3000);
    QVERIFY(totals);
    const auto decoded = decodeMonitorTotals(totals->payload);
    QVERIFY(decoded);
    QCOMPARE(decoded->monitors, 1u);
}

// The admission counters reach the operators in the totals record. A wrong token and a
// Unix peer refused by uid, seen by an admitted monitor in the totals that follow; every field
// as the broker counts it.
void tst_MonitorStream::admissionRefusalsInTotals()
{
    BrokerConfig c = config();
    TestBroker broker(c);
    QVERIFY(broker.start());
    RawPeer monitor;
    QVERIFY(monitor.connectTcp(broker.tcpPort()));
    monitor.writeBytes(helloFrame("ops", Token));
    QCOMPARE(admissionAnswer(monitor), ErrorCode::None);
    monitor.writeBytes(subscribeFrame(false));
    QVERIFY(readSnapshot(monitor));
    const auto first = monitor.take(MonitorFrame::Totals, 3000);
    QVERIFY(first);
    const auto before = decodeMonitorTotals(first->payload);
    QVERIFY(before);
    QCOMPARE(before->admissionFailures, 0u);

    RawPeer intruder;
    QVERIFY(intruder.connectTcp(broker.tcpPort()));
    intruder.writeBytes(helloFrame("intruder", QByteArrayLiteral("wrong-token-wrong-token")));
    QCOMPARE(admissionAnswer(intruder), ErrorCode::NotPermitted);
    const MonitorHub::AdmissionCounters counted = broker.broker().monitors().admissionCounters();
    QVERIFY(counted.failures >= 1);

    // The next totals record carries it (records already queued may predate it).
    std::optional<MonitorTotals> after;
    for (int i = 0; i < 20 && !(after && after->admissionFailures >= 1); ++i) {
        const auto f = monitor.take(MonitorFrame::Totals, 3000);
        QVERIFY(f);
        after = decodeMonitorTotals(f->payload);
        QVERIFY(after);
    }
    QVERIFY(after && after->admissionFailures >= 1);
    const MonitorHub::AdmissionCounters now = broker.broker().monitors().admissionCounters();
    QCOMPARE(after->admissionFailures, now.failures);
    QCOMPARE(after->admissionRefusedPerAddress, now.refusedPerAddress);
    QCOMPARE(after->admissionRefusedPerPrefix, now.refusedPerPrefix);
    QCOMPARE(after->admissionRefusedRoomFull, now.refusedRoomFull);
    QCOMPARE(after->admissionTimeouts, now.timedOut);
    QCOMPARE(after->guessesRefused, now.guessesRefused);
    QCOMPARE(after->servicesRefused, now.servicesRefused);
    QCOMPARE(after->handshakesRefusedPerAddress, now.handshakesRefusedPerAddress);
    QCOMPARE(after->handshakesRefusedPerPrefix, now.handshakesRefusedPerPrefix);
    QCOMPARE(after->handshakesRefusedFull, now.handshakesRefusedFull);
}

void tst_MonitorStream::tokenFileErrorStopsStart()
{
    BrokerConfig c = config();
    c.monitor.token.clear();
    c.monitor.tokenFile = QStringLiteral("/nonexistent/kennel-monitor-token");
    TestBroker broker(c);
    QVERIFY(!broker.start());
}

void tst_MonitorStream::maxMonitors()
{
    BrokerConfig c = config();
    c.monitor.maxMonitors = 1;
    TestBroker broker(c);
    QVERIFY(broker.start());
    RawPeer first;
    QVERIFY(first.connectTcp(broker.tcpPort()));
    first.writeBytes(helloFrame("first", Token));
    QCOMPARE(admissionAnswer(first), ErrorCode::None);
    RawPeer second;
    QVERIFY(second.connectTcp(broker.tcpPort()));
    second.writeBytes(helloFrame("second", Token));
    QCOMPARE(admissionAnswer(second), ErrorCode::TooManyClients);
    QVERIFY(second.waitForDisconnect());
    // The place is free again once the first one leaves.
    first.close();
    QTRY_COMPARE(broker.broker().monitors().admittedCount(), 0);
    RawPeer third;
    QVERIFY(third.connectTcp(broker.tcpPort()));
    third.writeBytes(helloFrame("third", Token));
    QCOMPARE(admissionAnswer(third), ErrorCode::None);
}

void tst_MonitorStream::monitorListener()
{
    BrokerConfig c = config();
    ListenAddress address;
    address.kind = ListenAddress::Kind::Tcp;
    address.host = QStringLiteral("127.0.0.1");
    address.port = 0;
    c.monitor.listen = {address};
    TestBroker broker(c);
    QVERIFY(broker.start());
    const QList<ListenAddress> monitorAddresses = broker.broker().monitorAddresses();
    QCOMPARE(monitorAddresses.size(), 1);
    // Not offered to clients and services.
    for (const ListenAddress &a : broker.broker().boundAddresses())
        QVERIFY(a.port != monitorAddresses.first().port || a.kind != ListenAddress::Kind::Tcp);

    RawPeer client;
    QVERIFY(client.connectTcp(monitorAddresses.first().port));
    client.writeBytes(helloFrame("client", {}, Role::Client));
    QCOMPARE(admissionAnswer(client), ErrorCode::NotPermitted);
    QVERIFY(client.waitForDisconnect());

    RawPeer monitor;
    QVERIFY(monitor.connectTcp(monitorAddresses.first().port));
    const auto snapshot = admitAndSubscribe(monitor, "remote", Token);
    QVERIFY(snapshot);
    QCOMPARE(snapshot->begin.monitorIdentity, QStringLiteral("token"));
}

void tst_MonitorStream::snapshotContent()
{
    BrokerConfig c = config();
    c.services = {shellService(QStringLiteral("sleeper"), QStringLiteral("sleep 30"), ServiceSettings::Restart::Never)};
    TestBroker broker(c);
    QVERIFY(broker.start());
    Service *sleeper = broker.broker().supervisor().service(QStringLiteral("sleeper"));
    QVERIFY(sleeper);
    QTRY_COMPARE(sleeper->state(), Service::State::Running);

    RawPeer alpha;
    QVERIFY(alpha.connectTcp(broker.tcpPort()));
    QVERIFY(alpha.registerAs("alpha"));
    RawPeer dog;
    QVERIFY(dog.connectUnix(broker.unixPath()));
    QVERIFY(dog.registerAs("dog"));
    registerWatchdog(dog, 5000, 3, ExpiryAction::Notify);
    QVERIFY(dog.take(FrameType::WatchdogAck));
    for (int i = 0; i < 3; ++i)
        feed(dog);
    LegacyPeer leg;
    QVERIFY(leg.connectTcp(broker.tcpPort()));
    leg.registerReceiver("leg");
    QTRY_VERIFY(broker.broker().registry().find("leg"));
    const quint64 dogId = broker.broker().sessionByName("dog")->id();
    QTRY_COMPARE(broker.broker().watchdog().engine().entry(dogId)->feeds, quint64(3));
    alpha.sendTo("dog", "hi", 1, false);
    QVERIFY(dog.take(FrameType::Deliver));

    RawPeer monitor;
    QVERIFY(monitor.connectTcp(broker.tcpPort()));
    const auto snapshot = admitAndSubscribe(monitor, "ops", Token, false);
    QVERIFY(snapshot);
    QCOMPARE(snapshot->begin.clientCount, 3u);
    QCOMPARE(snapshot->clients.size(), 3);
    QCOMPARE(snapshot->begin.serviceCount, 1u);

    const MonitorClient *a = snapshot->client("alpha");
    QVERIFY(a);
    QCOMPARE(a->kind, MonitorClientKind::Native);
    QCOMPARE(a->sessionId, broker.broker().sessionByName("alpha")->id());
    QVERIFY2(a->peerAddress.startsWith(QLatin1String("127.0.0.1:")), qPrintable(a->peerAddress));
    QCOMPARE(a->messagesIn, quint64(1));
    QCOMPARE(a->bytesIn, quint64(2));
    QCOMPARE(a->watchState, MonitorWatchState::NotWatched);
    QCOMPARE(a->msUntilExpiry, qint64(-1));
    QVERIFY(a->connectedSinceMs > 0 && a->connectedSinceMs <= snapshot->begin.brokerTimeMs);

    const MonitorClient *d = snapshot->client("dog");
    QVERIFY(d);
    QVERIFY2(d->peerAddress.startsWith(QLatin1String("unix")), qPrintable(d->peerAddress));
    QCOMPARE(d->messagesOut, quint64(1));
    QCOMPARE(d->watchState, MonitorWatchState::Healthy);
    QCOMPARE(d->watchIntervalMs, 5000u);
    QCOMPARE(d->watchAllowedMisses, quint16(3));
    QCOMPARE(d->feeds, quint64(3));
    QVERIFY(d->msSinceLastFeed >= 0 && d->msSinceLastFeed < 5000);
    QVERIFY(d->msUntilExpiry > 5000 && d->msUntilExpiry <= 15000);

    const MonitorClient *l = snapshot->client("leg");
    QVERIFY(l);
    QCOMPARE(l->kind, MonitorClientKind::LegacyReceiver);

    const MonitorService &s = snapshot->services.first();
    QCOMPARE(s.name, QStringLiteral("sleeper"));
    QCOMPARE(s.state, MonitorServiceState::Running);
    QCOMPARE(s.pid, sleeper->status().pid);
    QVERIFY(s.pid > 0);
    QCOMPARE(s.starts, 1u);
    QCOMPARE(s.msUntilRestart, qint64(-1));
}

void tst_MonitorStream::clientAndWatchdogEvents()
{
    TestBroker broker(config());
    QVERIFY(broker.start());
    RawPeer monitor;
    QVERIFY(monitor.connectUnix(broker.unixPath()));
    QVERIFY(admitAndSubscribe(monitor, "ops", {}, false));

    // Up.
    RawPeer late;
    QVERIFY(late.connectUnix(broker.unixPath()));
    QVERIFY(late.registerAs("late"));
    const auto up = waitFor<MonitorClient>(monitor, MonitorFrame::Client, &decodeMonitorClient,
                                           [](const MonitorClient &c) { return c.name == "late"; });
    QVERIFY(up);
    QCOMPARE(up->sessionId, broker.broker().sessionByName("late")->id());

    // Registered, late, expired: 100 ms x 2, never fed.
    registerWatchdog(late, 100, 2, ExpiryAction::Notify);
    const auto registered = waitWatchdogEvent(monitor, "late", MonitorWatchdogEventKind::Registered);
    QVERIFY(registered);
    QCOMPARE(registered->sessionId, up->sessionId);
    QVERIFY2(registered->detail.contains(QLatin1String("every 100 ms")), qPrintable(registered->detail));
    QVERIFY(waitWatchdogEvent(monitor, "late", MonitorWatchdogEventKind::Late));
    QVERIFY(waitWatchdogEvent(monitor, "late", MonitorWatchdogEventKind::Expired));
    QVERIFY(waitWatchdogEvent(monitor, "late", MonitorWatchdogEventKind::Notified));

    // Fed again after being late: healthy.
    registerWatchdog(late, 150, 10, ExpiryAction::Notify);
    QVERIFY(waitWatchdogEvent(monitor, "late", MonitorWatchdogEventKind::Late));
    feed(late);
    QVERIFY(waitWatchdogEvent(monitor, "late", MonitorWatchdogEventKind::Healthy));

    // Down.
    const quint64 id = up->sessionId;
    late.close();
    const auto gone = waitFor<MonitorClientGone>(monitor, MonitorFrame::ClientGone, &decodeMonitorClientGone,
                                                 [id](const MonitorClientGone &g) { return g.sessionId == id; });
    QVERIFY(gone);
    QCOMPARE(gone->reason, QStringLiteral("peer closed the connection"));

    // A client that expires with action disconnect: expired, disconnected, gone.
    RawPeer dropped;
    QVERIFY(dropped.connectUnix(broker.unixPath()));
    QVERIFY(dropped.registerAs("dropped"));
    registerWatchdog(dropped, 100, 1, ExpiryAction::Disconnect);
    QVERIFY(waitWatchdogEvent(monitor, "dropped", MonitorWatchdogEventKind::Expired));
    QVERIFY(waitWatchdogEvent(monitor, "dropped", MonitorWatchdogEventKind::Disconnected));
    QVERIFY(dropped.waitForDisconnect());

    // The refresh carries the feed counter: a watched client's record comes again once it changes.
    RawPeer fed;
    QVERIFY(fed.connectUnix(broker.unixPath()));
    QVERIFY(fed.registerAs("fed"));
    registerWatchdog(fed, 5000, 3, ExpiryAction::Notify);
    QVERIFY(waitWatchdogEvent(monitor, "fed", MonitorWatchdogEventKind::Registered));
    for (int i = 0; i < 4; ++i)
        feed(fed);
    const auto refreshed = waitFor<MonitorClient>(monitor, MonitorFrame::Client, &decodeMonitorClient,
                                                  [](const MonitorClient &c) { return c.name == "fed" && c.feeds == 4; }, 4000);
    QVERIFY(refreshed);
    QCOMPARE(refreshed->watchState, MonitorWatchState::Healthy);
}

void tst_MonitorStream::serviceEvents()
{
    BrokerConfig c = config();
    c.services = {shellService(QStringLiteral("flaky"), QStringLiteral("sleep 0.3; exit 3"), ServiceSettings::Restart::OnFailure)};
    TestBroker broker(c);
    QVERIFY(broker.start());
    RawPeer monitor;
    QVERIFY(monitor.connectUnix(broker.unixPath()));
    QVERIFY(admitAndSubscribe(monitor, "ops", {}, false));
    const auto exited = waitFor<MonitorService>(monitor, MonitorFrame::Service, &decodeMonitorService,
                                                [](const MonitorService &s) {
                                                    return s.name == QLatin1String("flaky") && s.state == MonitorServiceState::Backoff;
                                                });
    QVERIFY(exited);
    QCOMPARE(exited->lastExitCode, 3);
    QVERIFY(exited->lastExitMs > 0);
    QVERIFY(exited->msUntilRestart >= 0);
    const auto restarted = waitFor<MonitorService>(monitor, MonitorFrame::Service, &decodeMonitorService,
                                                   [](const MonitorService &s) {
                                                       return s.name == QLatin1String("flaky") && s.state == MonitorServiceState::Running;
                                                   });
    QVERIFY(restarted);
    QVERIFY(restarted->restarts >= 1);
    QVERIFY(restarted->pid > 0);
}

void tst_MonitorStream::trafficRecords()
{
    BrokerConfig c = config();
    c.monitor.trafficPreviewBytes = 8;
    TestBroker broker(c);
    QVERIFY(broker.start());
    RawPeer monitor;
    QVERIFY(monitor.connectUnix(broker.unixPath()));
    QVERIFY(admitAndSubscribe(monitor, "ops", {}, true, 100 /* more than the broker allows */));
    QVERIFY(broker.broker().monitors().isTrafficTapped());

    RawPeer a;
    QVERIFY(a.connectTcp(broker.tcpPort()));
    QVERIFY(a.registerAs("a"));
    RawPeer b;
    QVERIFY(b.connectTcp(broker.tcpPort()));
    QVERIFY(b.registerAs("b"));
    LegacyPeer legacySender;
    QVERIFY(legacySender.connectTcp(broker.tcpPort()));

    a.sendTo("b", "hello-world-123", 1, false);
    a.sendTo("nobody", "lost message", 2, true);
    QVERIFY(a.take(FrameType::DeliveryStatus));
    a.sendTo({}, "no target", 3, true);
    legacySender.forward("b", "old", "from the past");
    QVERIFY(b.take(FrameType::Deliver));
    QVERIFY(b.take(FrameType::Deliver));

    TrafficSeen seen;
    QTRY_VERIFY_WITH_TIMEOUT((collectTraffic(monitor, seen), seen.records.size() >= 4), 3000);
    const MonitorTrafficRecord *delivered = findRecord(seen, "a", "b", DeliveryStatus::Delivered);
    QVERIFY(delivered);
    QCOMPARE(delivered->size, 15u);
    QCOMPARE(delivered->preview, QByteArray("hello-wo"));
    QVERIFY(qAbs(delivered->timeUs / 1000 - QDateTime::currentMSecsSinceEpoch()) < 10000);
    const MonitorTrafficRecord *lost = findRecord(seen, "a", "nobody", DeliveryStatus::NoSuchClient);
    QVERIFY(lost);
    QCOMPARE(lost->size, 12u);
    QCOMPARE(lost->preview, QByteArray("lost mes"));
    QVERIFY(findRecord(seen, "a", {}, DeliveryStatus::InvalidTarget));
    const MonitorTrafficRecord *legacy = findRecord(seen, "old", "b", DeliveryStatus::Delivered);
    QVERIFY(legacy);
    QCOMPARE(legacy->size, 13u);
    QCOMPARE(seen.dropped, quint64(0));

    // Without a monitor that wants traffic the router is not tapped at all.
    monitor.close();
    QTRY_VERIFY(!broker.broker().monitors().isTrafficTapped());
}

void tst_MonitorStream::perSecondCapSendsDroppedMarker()
{
    BrokerConfig c = config();
    c.monitor.maxTrafficPerSecond = 5;
    TestBroker broker(c);
    QVERIFY(broker.start());
    RawPeer monitor;
    QVERIFY(monitor.connectUnix(broker.unixPath()));
    QVERIFY(admitAndSubscribe(monitor, "ops", {}, true, 0, 1000 /* capped by the broker's 5 */));
    RawPeer a;
    QVERIFY(a.connectTcp(broker.tcpPort()));
    QVERIFY(a.registerAs("a"));
    RawPeer b;
    QVERIFY(b.connectTcp(broker.tcpPort()));
    QVERIFY(b.registerAs("b"));
    constexpr int Count = 50;
    for (int i = 0; i < Count; ++i)
        a.sendTo("b", QByteArray::number(i), quint32(i), false);
    QTRY_COMPARE(b.frames().size(), Count);

    TrafficSeen seen;
    QTRY_VERIFY_WITH_TIMEOUT((collectTraffic(monitor, seen), quint64(seen.records.size()) + seen.dropped >= Count), 5000);
    QCOMPARE(quint64(seen.records.size()) + seen.dropped, quint64(Count));
    // Five per wall-clock second: the burst may straddle one second boundary, not more.
    QVERIFY2(seen.records.size() <= 10, qPrintable(QString::number(seen.records.size())));
    QVERIFY(seen.dropped >= Count - 10);
    const QList<MonitorHub::MonitorInfo> info = broker.broker().monitors().monitors();
    QCOMPARE(info.size(), 1);
    QCOMPARE(info.first().trafficRecordsDropped, seen.dropped);
}

void tst_MonitorStream::stalledMonitorDoesNotSlowRouting()
{
    BrokerConfig c = config();
    c.monitor.maxQueueBytes = 64 * 1024;
    c.monitor.maxTrafficPerSecond = 10000000;
    c.monitor.trafficPreviewBytes = 1024;
    TestBroker broker(c);
    QVERIFY(broker.start());
    MonitorHub &hub = broker.broker().monitors();

    // Subscribes for every record with the largest preview, then never reads: Qt's buffer on this
    // side holds 1 KiB, so the kernel's buffers fill and the broker's queue for it is all that grows.
    QLocalSocket stalled;
    stalled.setReadBufferSize(1024);
    stalled.connectToServer(broker.unixPath());
    QVERIFY(stalled.waitForConnected(5000));
    stalled.write(helloFrame("stalled", {}) + subscribeFrame(true, 1024, 0));
    stalled.flush();
    QTRY_VERIFY(!hub.monitors().isEmpty() && hub.monitors().first().subscribed);

    RawPeer a;
    QVERIFY(a.connectTcp(broker.tcpPort()));
    QVERIFY(a.registerAs("a"));
    RawPeer b;
    QVERIFY(b.connectTcp(broker.tcpPort()));
    QVERIFY(b.registerAs("b"));

    constexpr int Chunks = 20;
    constexpr int PerChunk = 1000;
    const QByteArray payload(1000, 'x');
    QByteArray chunk;
    for (int i = 0; i < PerChunk; ++i) {
        Frame f;
        f.type = FrameType::Send;
        f.target = "b";
        f.payload = payload;
        chunk += encodeFrame(f);
    }
    qint64 maxQueued = 0;
    bool disconnected = false;
    QElapsedTimer clock;
    clock.start();
    for (int n = 1; n <= Chunks; ++n) {
        a.writeBytes(chunk);
        QTRY_COMPARE_WITH_TIMEOUT(b.frames().size(), n * PerChunk, 10000);
        const QList<MonitorHub::MonitorInfo> monitors = hub.monitors();
        if (monitors.isEmpty())
            disconnected = true;
        else
            maxQueued = std::max(maxQueued, monitors.first().queuedBytes);
    }
    const qint64 elapsed = clock.elapsed();
    qInfo("%d messages of %lld bytes routed in %lld ms past a stalled monitor (its queue peaked at %lld bytes%s)",
          Chunks * PerChunk, qlonglong(payload.size()), qlonglong(elapsed), qlonglong(maxQueued),
          disconnected ? ", then it was disconnected" : "");
    QCOMPARE(broker.broker().totals().messagesOut, quint64(Chunks * PerChunk));
    QCOMPARE(broker.broker().totals().undeliveredTotal(), quint64(0));
    QVERIFY2(maxQueued <= 2 * c.monitor.maxQueueBytes, qPrintable(QString::number(maxQueued)));
    // It really was stalled, and traffic alone never gets a monitor cut off: its records were
    // counted as dropped instead of queued.
    QVERIFY(!disconnected);
    QVERIFY(hub.monitors().first().trafficRecordsDropped > 0);
    QVERIFY(elapsed < 30000);
}

void tst_MonitorStream::controlActions()
{
    BrokerConfig c = config();
    c.services = {shellService(QStringLiteral("sleeper"), QStringLiteral("sleep 30"), ServiceSettings::Restart::Never)};
    TestBroker broker(c);
    QVERIFY(broker.start());
    Service *sleeper = broker.broker().supervisor().service(QStringLiteral("sleeper"));
    QTRY_COMPARE(sleeper->state(), Service::State::Running);
    RawPeer monitor;
    QVERIFY(monitor.connectTcp(broker.tcpPort()));
    QVERIFY(admitAndSubscribe(monitor, "ops", Token, true));

    // A test message, as from kennel-monitor, through the router: counted and recorded.
    RawPeer beta;
    QVERIFY(beta.connectTcp(broker.tcpPort()));
    QVERIFY(beta.registerAs("beta"));
    auto r = control(monitor, MonitorControlAction::SendTestMessage, "beta", "ping from ops");
    QVERIFY(r);
    QCOMPARE(r->code, ErrorCode::None);
    const auto delivered = beta.take(FrameType::Deliver);
    QVERIFY(delivered);
    QCOMPARE(delivered->source, QByteArray(MonitorHub::TestMessageSender));
    QCOMPARE(delivered->payload, QByteArray("ping from ops"));
    QCOMPARE(broker.broker().sessionByName("beta")->counters.messagesOut, quint64(1));
    TrafficSeen seen;
    QTRY_VERIFY((collectTraffic(monitor, seen), findRecord(seen, MonitorHub::TestMessageSender, "beta", DeliveryStatus::Delivered)));

    // A legacy receiver gets it in the msg field, from the name that fits its 9 characters.
    LegacyPeer oldie;
    QVERIFY(oldie.connectTcp(broker.tcpPort()));
    oldie.registerReceiver("oldie");
    QTRY_VERIFY(broker.broker().registry().find("oldie"));
    r = control(monitor, MonitorControlAction::SendTestMessage, "oldie", "hello old friend");
    QVERIFY(r);
    QCOMPARE(r->code, ErrorCode::None);
    const auto legacyDelivered = oldie.take();
    QVERIFY(legacyDelivered);
    QCOMPARE(legacyDelivered->text, QByteArray("hello old friend"));
    QCOMPARE(legacyDelivered->source, QByteArray(MonitorHub::LegacyTestMessageSender));

    r = control(monitor, MonitorControlAction::SendTestMessage, "ghost", "anyone?");
    QVERIFY(r);
    QCOMPARE(r->code, ErrorCode::NotRegistered);
    r = control(monitor, MonitorControlAction::SendTestMessage, "bad name!", "x");
    QVERIFY(r);
    QCOMPARE(r->code, ErrorCode::InvalidName);

    // Disconnect: a native client, and a legacy client with both its connections.
    r = control(monitor, MonitorControlAction::DisconnectClient, "beta");
    QVERIFY(r);
    QCOMPARE(r->code, ErrorCode::None);
    QVERIFY(beta.waitForDisconnect());
    QVERIFY(beta.take(FrameType::Bye, 0));
    LegacyPeer oldieMain;
    QVERIFY(oldieMain.connectTcp(broker.tcpPort()));
    oldieMain.forward("nobody", "oldie", "bind me");
    QTRY_COMPARE(broker.broker().registry().find("oldie")->legacySenders.size(), size_t(1));
    r = control(monitor, MonitorControlAction::DisconnectClient, "oldie");
    QVERIFY(r);
    QCOMPARE(r->code, ErrorCode::None);
    QVERIFY2(r->text.contains(QLatin1String("2 connections")), qPrintable(r->text));
    QVERIFY(oldie.waitForDisconnect());
    QVERIFY(oldieMain.waitForDisconnect());
    QTRY_VERIFY(!broker.broker().registry().find("oldie"));
    r = control(monitor, MonitorControlAction::DisconnectClient, "ghost");
    QVERIFY(r);
    QCOMPARE(r->code, ErrorCode::NotRegistered);

    // Services.
    const qint64 firstPid = sleeper->status().pid;
    r = control(monitor, MonitorControlAction::RestartService, "sleeper");
    QVERIFY(r);
    QCOMPARE(r->code, ErrorCode::None);
    QTRY_VERIFY_WITH_TIMEOUT(sleeper->state() == Service::State::Running && sleeper->status().pid != firstPid, 5000);
    r = control(monitor, MonitorControlAction::StopService, "sleeper");
    QVERIFY(r);
    QCOMPARE(r->code, ErrorCode::None);
    QTRY_COMPARE_WITH_TIMEOUT(sleeper->state(), Service::State::Stopped, 5000);
    QVERIFY(waitFor<MonitorService>(monitor, MonitorFrame::Service, &decodeMonitorService,
                                    [](const MonitorService &s) { return s.state == MonitorServiceState::Stopped; }));
    r = control(monitor, MonitorControlAction::StartService, "sleeper");
    QVERIFY(r);
    QCOMPARE(r->code, ErrorCode::None);
    QTRY_COMPARE_WITH_TIMEOUT(sleeper->state(), Service::State::Running, 5000);
    for (MonitorControlAction action : {MonitorControlAction::RestartService, MonitorControlAction::StopService,
                                        MonitorControlAction::StartService}) {
        r = control(monitor, action, "ghost");
        QVERIFY(r);
        QCOMPARE(r->code, ErrorCode::NotRegistered);
    }
}

void tst_MonitorStream::handoverKeepsPipelinedBytes()
{
    TestBroker broker(config());
    QVERIFY(broker.start());
    RawPeer monitor;
    QVERIFY(monitor.connectTcp(broker.tcpPort()));
    QTRY_COMPARE(broker.broker().connectionCount(), size_t(1));
    // Hello, Subscribe and a Ping in one write: the broker reads them together, hands the
    // connection over at the Hello, and the rest must not be lost.
    monitor.writeBytes(helloFrame("ops", Token) + subscribeFrame(false) + encodeFrame(Frame{FrameType::Ping, 7, 0, {}, {}, "p"}));
    QCOMPARE(admissionAnswer(monitor), ErrorCode::None);
    QVERIFY(readSnapshot(monitor));
    const auto pong = monitor.take(FrameType::Pong);
    QVERIFY(pong);
    QCOMPARE(pong->messageId, 7u);
    // It left the client tables.
    QTRY_COMPARE(broker.broker().connectionCount(), size_t(0));
    QVERIFY(!broker.broker().registry().find("ops"));

    // It keeps working: events, and it is not a client.
    RawPeer client;
    QVERIFY(client.connectTcp(broker.tcpPort()));
    QVERIFY(client.registerAs("ops")); // monitors hold no client name
    QVERIFY(waitFor<MonitorClient>(monitor, MonitorFrame::Client, &decodeMonitorClient,
                                   [](const MonitorClient &c) { return c.name == "ops"; }));
    Frame send;
    send.type = FrameType::Send;
    send.messageId = 8;
    send.target = "ops";
    send.payload = "x";
    monitor.send(send);
    const auto refused = monitor.take(FrameType::Error);
    QVERIFY(refused);
    QCOMPARE(refused->messageId, 8u);
    QCOMPARE(decodeError(refused->payload)->code, ErrorCode::NotPermitted);
    QVERIFY(monitor.isConnected());
    QVERIFY(!client.take(FrameType::Deliver, 200));
}

void tst_MonitorStream::shutdownSaysBye()
{
    TestBroker broker(config());
    QVERIFY(broker.start());
    RawPeer monitor;
    QVERIFY(monitor.connectUnix(broker.unixPath()));
    QVERIFY(admitAndSubscribe(monitor, "ops", {}, true));
    QSignalSpy finished(&broker.broker(), &Broker::finished);
    broker.broker().shutdown();
    QVERIFY(monitor.take(FrameType::Bye));
    QVERIFY(monitor.waitForDisconnect());
    QTRY_COMPARE(finished.count(), 1);
    QVERIFY(!broker.broker().monitors().isTrafficTapped());
}

QTEST_GUILESS_MAIN(tst_MonitorStream)
#include "tst_monitorstream.moc"
