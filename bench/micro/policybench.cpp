// Micro-benchmark of the access policy's price on the directed path (issue 21, docs/BENCHMARKS.md
// "Send policy"): Router::routeNative on one route (a stream to one peer) with no policy, and
// with a [policy] of 100 send rules whose verdict the SendGate caches per route. The receiver's
// output is emptied through a socket pair between timed stretches, as in routingbench.cpp, so
// what is timed is the broker's own work per message.
#include "accessgate.h"
#include "brokerconfig.h"
#include "brokercontext.h"
#include "eventpoller.h"
#include "nameregistry.h"
#include "policyengine.h"
#include "router.h"
#include "sendgate.h"
#include "session.h"

#include <benchmark/benchmark.h>

#include <memory>
#include <sys/socket.h>
#include <unistd.h>

using namespace Kennel;

namespace {

// 99 deny rules that match none of the names, then one allow rule that does: a verdict worked
// out walks all 100.
std::shared_ptr<const AccessPolicy> hundredRules()
{
    QList<std::pair<QString, QString>> rules;
    for (int i = 1; i <= 99; ++i)
        rules.append({QStringLiteral("block%1").arg(i), QStringLiteral("deny send blocked%1-* uid=%2").arg(i).arg(1000 + i)});
    rules.append({QStringLiteral("bench"), QStringLiteral("allow send bench-* local")});
    QStringList errors;
    return std::make_shared<const AccessPolicy>(AccessPolicy::parse(rules, true, &errors));
}

void routeWithPolicy(benchmark::State &state, bool armed)
{
    const qsizetype payloadSize = state.range(0);
    BrokerConfig config;
    EventPoller poller;
    NameRegistry registry;
    Router router(config, registry);
    BrokerContext context;
    context.config = &config;
    context.poller = &poller;
    context.registry = &registry;
    context.router = &router;
    PolicyEngine engine;
    AccessGate access(engine, [](qint64) { return QString(); });
    SendGate gate(access, registry);
    engine.replace(hundredRules());
    if (armed)
        router.setSendGate(&gate);

    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) {
        state.SkipWithError("socketpair");
        return;
    }
    auto receiver = std::make_unique<Session>(context, pair[0], 1, Session::Transport::Unix, QStringLiteral("bench"));
    auto sender = std::make_unique<Session>(context, -1, 2, Session::Transport::Unix, QStringLiteral("bench"));
    const NameRegistry::Claim rc = registry.registerReceiver("bench-rx", receiver.get());
    const NameRegistry::Claim sc = registry.registerReceiver("bench-tx", sender.get());
    if (!receiver->start() || rc.outcome != NameRegistry::Outcome::Registered || sc.outcome != NameRegistry::Outcome::Registered) {
        state.SkipWithError("could not register");
        ::close(pair[1]);
        return;
    }
    receiver->setIdentity(Session::Kind::Client, "bench-rx", rc.entry);
    sender->setIdentity(Session::Kind::Client, "bench-tx", sc.entry);

    const QByteArray payload(payloadSize, 'x');
    const int drainEvery = int(qMax<qsizetype>(1, (1024 * 1024) / (payloadSize + 64)));
    int sinceDrain = 0;
    quint32 id = 0;
    char sink[64 * 1024];
    for (auto _ : state) {
        const DeliveryStatus status = router.routeNative(*sender, "bench-rx", ++id, payload);
        if (Q_UNLIKELY(status != DeliveryStatus::Delivered)) {
            state.SkipWithError(deliveryStatusName(status));
            break;
        }
        if (++sinceDrain == drainEvery) {
            state.PauseTiming();
            sinceDrain = 0;
            for (int rounds = 0; receiver->pendingOutput() > 0 && rounds < 100000; ++rounds) {
                receiver->flushOutput();
                while (::recv(pair[1], sink, sizeof sink, MSG_DONTWAIT) > 0) {
                }
            }
            state.ResumeTiming();
        }
    }
    if (armed && gate.cacheMisses() != 1)
        state.SkipWithError("the verdict was not cached");
    state.SetItemsProcessed(state.iterations());
    sender.reset();
    receiver.reset();
    ::close(pair[1]);
}

void BM_RouteNativeNoPolicy(benchmark::State &state) { routeWithPolicy(state, false); }
BENCHMARK(BM_RouteNativeNoPolicy)->Arg(16)->Arg(500);

void BM_RouteNativeSendPolicy100(benchmark::State &state) { routeWithPolicy(state, true); }
BENCHMARK(BM_RouteNativeSendPolicy100)->Arg(16)->Arg(500);

} // namespace
