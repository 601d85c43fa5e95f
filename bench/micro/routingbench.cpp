// Micro-benchmarks of the routing table: finding a name among many (NameRegistry::find, the hash
// lookup every message to a new target pays) and the Router's whole message path with the
// sender's route cache hitting (a stream to one peer: a compare, no hash) and missing (every
// message to another peer). The router writes into the receiver's real output queue, which is
// emptied through a socket pair between timed stretches, so what is timed is the broker's own
// work per message — counters, checks, encoding — without the syscalls that carry it.
#include "brokerconfig.h"
#include "brokercontext.h"
#include "deliveryledger.h"
#include "eventpoller.h"
#include "nameregistry.h"
#include "router.h"
#include "session.h"

#include <benchmark/benchmark.h>

#include <QByteArray>
#include <QString>

#include <cerrno>
#include <memory>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

using namespace Kennel;

namespace {

QByteArray clientName(int i)
{
    return QByteArrayLiteral("client-") + QByteArray::number(i).rightJustified(5, '0');
}

// A broker's tables without its listeners: the context the sessions need, sessions that never
// touch a socket unless asked (descriptor -1), and receivers with a socket pair to drain into.
class Tables
{
public:
    Tables()
        : router(config, registry)
    {
        context.config = &config;
        context.poller = &poller;
        context.registry = &registry;
        context.router = &router;
    }
    ~Tables()
    {
        // Sessions first: the registry holds raw pointers to them but never calls into them here.
        sessions.clear();
        for (int fd : peerFds)
            ::close(fd);
    }

    Session *addClient(const QByteArray &name, bool receiving)
    {
        int fd = -1;
        if (receiving) {
            int pair[2];
            if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0)
                return nullptr;
            fd = pair[0];
            peerFds.push_back(pair[1]);
        }
        auto session = std::make_unique<Session>(context, fd, quint64(sessions.size() + 1), Session::Transport::Unix,
                                                 QStringLiteral("bench"));
        // In the poller's epoll set so that flushOutput() can update its events; the poller is
        // never run, so nothing is read.
        if (receiving && !session->start())
            return nullptr;
        const NameRegistry::Claim claim = registry.registerReceiver(name, session.get());
        if (claim.outcome != NameRegistry::Outcome::Registered)
            return nullptr;
        session->setIdentity(Session::Kind::Client, name, claim.entry);
        sessions.push_back(std::move(session));
        return sessions.back().get();
    }

    // Empties every receiver's output queue through its socket pair.
    bool drain()
    {
        char sink[64 * 1024];
        for (size_t i = 0, peer = 0; i < sessions.size(); ++i) {
            Session *s = sessions[i].get();
            if (s->fd() < 0)
                continue;
            const int peerFd = peerFds[peer++];
            for (int rounds = 0; s->pendingOutput() > 0; ++rounds) {
                if (rounds > 100000 || !s->isOpen())
                    return false;
                s->flushOutput();
                while (::recv(peerFd, sink, sizeof sink, MSG_DONTWAIT) > 0) {
                }
            }
        }
        return true;
    }

    BrokerConfig config;
    EventPoller poller;
    NameRegistry registry;
    Router router;
    BrokerContext context;
    std::vector<std::unique_ptr<Session>> sessions;
    std::vector<int> peerFds;
};

void BM_NameRegistryFind(benchmark::State &state)
{
    const int names = int(state.range(0));
    Tables tables;
    for (int i = 0; i < names; ++i)
        if (!tables.addClient(clientName(i), false)) {
            state.SkipWithError("could not register the names");
            return;
        }
    // Looked up through views into another buffer, as the broker looks up targets in its read buffer.
    std::vector<QByteArray> keys;
    for (int i = 0; i < names; i += qMax(1, names / 256))
        keys.push_back(clientName(i));
    size_t k = 0;
    for (auto _ : state) {
        NameEntry *entry = tables.registry.find(keys[k]);
        benchmark::DoNotOptimize(entry);
        if (++k == keys.size())
            k = 0;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NameRegistryFind)->Arg(16)->Arg(1000)->Arg(15000);

void BM_NameRegistryFindMissing(benchmark::State &state)
{
    Tables tables;
    for (int i = 0; i < 1000; ++i)
        tables.addClient(clientName(i), false);
    const QByteArray absent("nobody-here");
    for (auto _ : state) {
        NameEntry *entry = tables.registry.find(absent);
        benchmark::DoNotOptimize(entry);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NameRegistryFindMissing);

// Router::routeNative from one sender to `targets` receivers in turn, among `names` registered
// names: targets = 1 is the cache-hit path, more than 1 misses the cache on every message.
// `acked`: the receivers acknowledge (PROTOCOL §5.7): every Deliver is also kept in their ledger,
// and released by an acknowledgement every AckEvery messages (one per read, as KennelClient does).
void routeNative(benchmark::State &state, int targets, int names, bool acked = false)
{
    constexpr quint32 AckEvery = 16;
    const qsizetype payloadSize = state.range(0);
    Tables tables;
    Session *sender = tables.addClient("bench-sender", false);
    std::vector<QByteArray> targetNames;
    std::vector<Session *> receivers;
    for (int i = 0; i < targets; ++i) {
        targetNames.push_back(clientName(i));
        Session *receiver = tables.addClient(targetNames.back(), true);
        if (!receiver) {
            state.SkipWithError("could not set up a receiver (socketpair or epoll)");
            return;
        }
        if (acked)
            receiver->keepUnacknowledged(std::make_unique<DeliveryLedger>(UnackedLimits{}));
        receivers.push_back(receiver);
    }
    for (int i = targets; i < names; ++i)
        tables.addClient(clientName(i), false);
    if (!sender) {
        state.SkipWithError("could not register the sender");
        return;
    }
    const QByteArray payload(payloadSize, 'x');
    // Drain well before the output bound (4 MiB) so that every message is Delivered.
    const int drainEvery = int(qMax<qsizetype>(1, (1024 * 1024) / (payloadSize + 64)));
    int sinceDrain = 0;
    size_t t = 0;
    quint32 id = 0;
    for (auto _ : state) {
        const DeliveryStatus status = tables.router.routeNative(*sender, targetNames[t], ++id, payload);
        if (Q_UNLIKELY(status != DeliveryStatus::Delivered)) {
            state.SkipWithError(deliveryStatusName(status));
            break;
        }
        if (acked && id % AckEvery == 0) {
            for (Session *receiver : receivers)
                receiver->unacked->acknowledge(quint32(receiver->unacked->acknowledged() + receiver->unacked->count()),
                                               [](const char *, size_t, quint64) {});
        }
        if (++t == targetNames.size())
            t = 0;
        if (++sinceDrain == drainEvery) {
            state.PauseTiming();
            sinceDrain = 0;
            if (!tables.drain()) {
                state.SkipWithError("could not drain the receivers");
                break;
            }
            state.ResumeTiming();
        }
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * payloadSize);
}

void BM_RouteNativeCacheHit(benchmark::State &state) { routeNative(state, 1, 1000); }
BENCHMARK(BM_RouteNativeCacheHit)->Arg(16)->Arg(500);

void BM_RouteNativeCacheMiss(benchmark::State &state) { routeNative(state, 64, 1000); }
BENCHMARK(BM_RouteNativeCacheMiss)->Arg(16)->Arg(500);

// The cache-hit path to a receiver that acknowledges every 16 messages (PROTOCOL §5.7).
void BM_RouteNativeAcked(benchmark::State &state) { routeNative(state, 1, 1000, true); }
BENCHMARK(BM_RouteNativeAcked)->Arg(16)->Arg(500);

} // namespace
