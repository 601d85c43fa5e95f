// kennel-bridge-bench: the bridge's figures for docs/BENCHMARKS.md, against a mosquitto it starts
// itself on a free loopback port (never the system service) and two kennel-broker processes of
// this build as boards A and B. Not a ctest: its figures depend on the machine.
//
//   kennel-bridge-bench throughput [N]     board-to-board messages/s (alice@A -> bob@B), and the
//                                          same count published directly over MQTT (QoS 1)
//   kennel-bridge-bench latency [N]        round trips alice@A -> bob@B -> alice@A, against an MQTT
//                                          client echoing through the same mosquitto
//   kennel-bridge-bench spool [N]          BridgeSpool appends/s with synchronous NORMAL and FULL
//   kennel-bridge-bench outage [N] [S]     N messages at a steady rate with mosquitto stopped for S
//                                          seconds in the middle: lost, duplicated, out of order
#include "brokerprocess.h"
#include "bridgespool.h"
#include "kennelclient.h"
#include "mqttlink.h"
#include "../../tests/system/bridge/mosquittoprocess.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTemporaryDir>

#include <algorithm>
#include <cstdio>
#include <vector>

using namespace KennelTest;
using Kennel::KennelClient;

namespace {

QTemporaryDir *g_dir = nullptr;

// QTest::qWaitFor sleeps 10 ms between looks: fine for tests, not for a latency figure. This
// returns as soon as an event made the predicate true.
template<typename Pred>
bool waitUntil(Pred pred, int timeoutMs)
{
    QElapsedTimer t;
    t.start();
    while (!pred()) {
        if (t.elapsed() > timeoutMs)
            return false;
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 5);
    }
    return true;
}

bool startBoard(BrokerProcess &broker, const QByteArray &board, const MosquittoProcess &mqtt)
{
    BrokerProcess::Options options;
    options.configText = "[bridge]\nurl = " + mqtt.url().toUtf8() + "\nboard = " + board + "\nspool_path = "
                         + g_dir->filePath(QString::fromLatin1(board) + QStringLiteral(".spool")).toUtf8()
                         + "\nreconnect_min_ms = 100\nreconnect_max_ms = 1000\nstatus_timeout_ms = 120000\n"
                           "[limits]\nmax_queue_bytes = 64M\n";
    options.loggingRules = "kennel.*.info=false\nkennel.bridge.info=true";
    QString error;
    if (!broker.start(options, &error)) {
        std::fprintf(stderr, "board %s: %s\n", board.constData(), qPrintable(error));
        return false;
    }
    return QTest::qWaitFor([&] { return broker.countInLog("MQTT link up") >= 1; }, 10000);
}

struct Peer
{
    KennelClient client;
    std::vector<QByteArray> received;
    int delivered = 0;
};

bool connectPeer(Peer &peer, const BrokerProcess &broker, const QByteArray &name)
{
    peer.client.setBrokerAddress(*Kennel::BrokerAddress::parse(broker.unixAddress()));
    peer.client.setName(name);
    peer.client.setSendQueueLimits(1000000, qint64(1) << 30);
    QObject::connect(&peer.client, &KennelClient::messageReceived, &peer.client,
                     [&peer](const QByteArray &, const QByteArray &payload, quint32) { peer.received.push_back(payload); });
    QObject::connect(&peer.client, &KennelClient::deliveryStatusReceived, &peer.client,
                     [&peer](quint32, const QByteArray &, Kennel::DeliveryStatus s) {
                         if (s == Kennel::DeliveryStatus::Delivered)
                             ++peer.delivered;
                     });
    peer.client.connectToBroker();
    return QTest::qWaitFor([&] { return peer.client.state() == KennelClient::Registered; }, 5000);
}

// A plain MQTT client on the same mosquitto, for the baseline.
struct MqttPeer
{
    Kennel::MqttLink link;
    int received = 0;
    int acked = 0;
    bool start(const MosquittoProcess &mqtt, const QByteArray &id, const QByteArray &subscribe)
    {
        Kennel::MqttLink::Options o;
        o.host = QStringLiteral("127.0.0.1");
        o.port = mqtt.port();
        o.clientId = id;
        o.inflight = 1000;
        QObject::connect(&link, &Kennel::MqttLink::messageReceived, &link, [this](const QByteArray &, const QByteArray &) { ++received; });
        QObject::connect(&link, &Kennel::MqttLink::published, &link, [this](int) { ++acked; });
        if (!subscribe.isEmpty())
            QObject::connect(&link, &Kennel::MqttLink::connected, &link, [this, subscribe] { link.subscribe(subscribe); });
        link.start(o);
        return QTest::qWaitFor([this] { return link.isConnected(); }, 5000);
    }
};

int throughput(int n)
{
    MosquittoProcess mqtt;
    BrokerProcess a, b;
    Peer alice, bob;
    if (!mqtt.start() || !startBoard(a, "A", mqtt) || !startBoard(b, "B", mqtt) || !connectPeer(alice, a, "alice")
        || !connectPeer(bob, b, "bob"))
        return 1;
    const QByteArray payload(64, 'x');
    QElapsedTimer timer;
    timer.start();
    for (int i = 0; i < n; ++i)
        alice.client.send("bob@B", payload, false);
    const bool all = waitUntil([&] { return int(bob.received.size()) >= n; }, 600000);
    const double bridged = double(timer.nsecsElapsed()) / 1e9;
    std::printf("bridged: %d of %d messages (64 B) board A -> board B in %.2f s: %.0f msg/s\n", int(bob.received.size()), n,
                bridged, bob.received.size() / bridged);

    MqttPeer pub, sub;
    if (!sub.start(mqtt, "bench-sub", "bench/t") || !pub.start(mqtt, "bench-pub", {}))
        return 1;
    QTest::qWait(200);
    timer.restart();
    int published = 0;
    while (published < n) {
        // The same window as the bridge (64 in flight), so the two are compared like for like.
        if (published - pub.acked < 64 && pub.link.publish("bench/t", payload) >= 0)
            ++published;
        else
            QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 10);
    }
    (void)waitUntil([&] { return sub.received >= n; }, 600000);
    const double direct = double(timer.nsecsElapsed()) / 1e9;
    std::printf("direct MQTT: %d of %d messages (64 B, QoS 1, 64 in flight) in %.2f s: %.0f msg/s\n", sub.received, n,
                direct, sub.received / direct);
    return all ? 0 : 2;
}

int latency(int n)
{
    MosquittoProcess mqtt;
    BrokerProcess a, b;
    Peer alice, bob;
    if (!mqtt.start() || !startBoard(a, "A", mqtt) || !startBoard(b, "B", mqtt) || !connectPeer(alice, a, "alice")
        || !connectPeer(bob, b, "bob"))
        return 1;
    QObject::connect(&bob.client, &KennelClient::messageReceived, &bob.client,
                     [&bob](const QByteArray &source, const QByteArray &payload, quint32) { bob.client.send(source, payload, false); });
    std::vector<double> bridged;
    for (int i = 0; i < n; ++i) {
        const size_t before = alice.received.size();
        QElapsedTimer t;
        t.start();
        alice.client.send("bob@B", "ping", false);
        if (!waitUntil([&] { return alice.received.size() > before; }, 10000))
            return 2;
        bridged.push_back(double(t.nsecsElapsed()) / 1000.0);
    }
    // Baseline: an MQTT client that echoes, through the same mosquitto.
    MqttPeer echo, probe;
    if (!echo.start(mqtt, "bench-echo", "bench/ping") || !probe.start(mqtt, "bench-probe", "bench/pong"))
        return 1;
    QObject::connect(&echo.link, &Kennel::MqttLink::messageReceived, &echo.link,
                     [&echo](const QByteArray &, const QByteArray &payload) { echo.link.publish("bench/pong", payload); });
    QTest::qWait(200);
    std::vector<double> direct;
    for (int i = 0; i < n; ++i) {
        const int before = probe.received;
        QElapsedTimer t;
        t.start();
        probe.link.publish("bench/ping", "ping");
        if (!waitUntil([&] { return probe.received > before; }, 10000))
            return 2;
        direct.push_back(double(t.nsecsElapsed()) / 1000.0);
    }
    auto pct = [](std::vector<double> v, double p) {
        std::sort(v.begin(), v.end());
        return v[size_t(p * double(v.size() - 1))];
    };
    std::printf("round trip alice@A -> bob@B -> alice@A (%d): median %.0f us, p99 %.0f us\n", n, pct(bridged, 0.5),
                pct(bridged, 0.99));
    std::printf("round trip MQTT client -> echo client -> MQTT client (%d): median %.0f us, p99 %.0f us\n", n,
                pct(direct, 0.5), pct(direct, 0.99));
    std::printf("added by the bridge, one way: about %.0f us (median)\n", (pct(bridged, 0.5) - pct(direct, 0.5)) / 2);
    return 0;
}

int spool(int n)
{
    for (bool full : {false, true}) {
        Kennel::BridgeSpool s;
        QString error;
        if (!s.open(g_dir->filePath(full ? QStringLiteral("full.spool") : QStringLiteral("normal.spool")), full, &error)) {
            std::fprintf(stderr, "%s\n", qPrintable(error));
            return 1;
        }
        const QByteArray topic("kennel/B/msg/A");
        const QByteArray payload(100, 'x');
        QElapsedTimer t;
        t.start();
        for (int i = 0; i < n; ++i)
            s.append(topic, payload, nullptr);
        const double secs = double(t.nsecsElapsed()) / 1e9;
        std::printf("spool appends, synchronous=%s: %d in %.2f s: %.0f/s (%.1f us each)\n", full ? "FULL" : "NORMAL", n,
                    secs, n / secs, secs * 1e6 / n);
        const auto rows = s.rowsAfter(0, n);
        t.restart();
        for (const auto &row : rows)
            s.remove(row);
        const double rsecs = double(t.nsecsElapsed()) / 1e9;
        std::printf("spool removes, synchronous=%s: %.0f/s\n", full ? "FULL" : "NORMAL", n / rsecs);
    }
    return 0;
}

int outage(int n, int seconds)
{
    MosquittoProcess mqtt;
    BrokerProcess a, b;
    Peer alice, bob;
    if (!mqtt.start() || !startBoard(a, "A", mqtt) || !startBoard(b, "B", mqtt) || !connectPeer(alice, a, "alice")
        || !connectPeer(bob, b, "bob"))
        return 1;
    // Spread over the outage and as long again on each side.
    const int spanMs = 3 * seconds * 1000;
    QElapsedTimer t;
    t.start();
    int sent = 0;
    bool stopped = false, restarted = false;
    while (sent < n) {
        const qint64 now = t.elapsed();
        const int due = int(qMin<qint64>(n, (now * n) / spanMs + 1));
        while (sent < due)
            alice.client.send("bob@B", QByteArray::number(sent++), true);
        if (!stopped && now >= seconds * 1000) {
            mqtt.stop();
            stopped = true;
            std::printf("mosquitto stopped at %.1f s after %d messages\n", now / 1000.0, sent);
        }
        if (stopped && !restarted && now >= 2 * seconds * 1000) {
            mqtt.restart();
            restarted = true;
            std::printf("mosquitto restarted at %.1f s after %d messages\n", now / 1000.0, sent);
        }
        QTest::qWait(5);
    }
    if (!restarted)
        mqtt.restart();
    (void)QTest::qWaitFor([&] { return int(bob.received.size()) >= n && alice.delivered >= n; }, 120000);
    QTest::qWait(1000); // duplicates would arrive now
    std::vector<int> seen(size_t(n), 0);
    int outOfOrder = 0, last = -1;
    for (const QByteArray &p : bob.received) {
        const int i = p.toInt();
        if (i >= 0 && i < n)
            ++seen[size_t(i)];
        if (i < last)
            ++outOfOrder;
        last = i;
    }
    const int lost = int(std::count(seen.begin(), seen.end(), 0));
    int duplicated = 0;
    for (int c : seen)
        duplicated += c > 1 ? c - 1 : 0;
    std::printf("%d messages through a %d s outage: received %zu, lost %d, duplicated %d, out of order %d, "
                "statuses delivered %d, spool drops in A's log %d\n",
                n, seconds, bob.received.size(), lost, duplicated, outOfOrder, alice.delivered,
                a.countInLog("spool bound"));
    return lost || duplicated || outOfOrder ? 2 : 0;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    QTemporaryDir dir;
    g_dir = &dir;
    const QStringList args = app.arguments().mid(1);
    const QString mode = args.value(0);
    const int n = args.value(1).toInt();
    if (mode == QLatin1String("throughput"))
        return throughput(n > 0 ? n : 20000);
    if (mode == QLatin1String("latency"))
        return latency(n > 0 ? n : 1000);
    if (mode == QLatin1String("spool"))
        return spool(n > 0 ? n : 20000);
    if (mode == QLatin1String("outage"))
        return outage(n > 0 ? n : 10000, args.value(2).toInt() > 0 ? args.value(2).toInt() : 60);
    std::fprintf(stderr, "usage: kennel-bridge-bench throughput|latency|spool|outage [N] [seconds]\n");
    return 64;
}
