// The watchdog end to end: real client processes (the legacy C client), real signals, a broker in
// this process with short intervals. What is checked is what the issue promises: a client that
// stops feeding is signalled by the PID the kernel gives, escalating to SIGKILL; nothing else can
// be signalled by anything a client sends; a supervised client comes back.
#include "testbroker.h"
#include "unrelatedholder.h"

#include "clientwatchdog.h"
#include "nameregistry.h"
#include "supervisor.h"

#include <QProcess>
#include <QSignalSpy>
#include <QTest>

#include <algorithm>
#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

using namespace Kennel;
using namespace KennelTest;
using namespace std::chrono_literals;

Q_DECLARE_METATYPE(Kennel::WatchState)
Q_DECLARE_METATYPE(Kennel::WatchdogAction)

class tst_WatchdogClients : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanup();

    void healthyLegacyClientIsNeverSignalled();
    void expiredLegacyClientIsTerminatedAndItsNameReleased();
    void clientIgnoringSigtermIsKilled();
    void lateThenFedRecovers();
    void disconnectAction();
    void notifyAction();
    void termsAreCheckedAgainstTheConfig();
    void claimedPidMustMatchTheKernel_data();
    void claimedPidMustMatchTheKernel();
    void legacyConnectionCannotFeedAnotherProcessesName();
    void theBrokerNeverSignalsItself();
    void ambiguousPeerIsDisconnectedNotSignalled();
    void manyClientsKeepTheirDeadlines();
    void supervisedClientIsKilledAndRestarted();
    void historyForgetsGoneNamesAtTheCap();

private:
    static BrokerConfig fastConfig();
    QProcess *startLegacy(TestBroker &broker, const QByteArray &name, const QStringList &extra);
    static WatchdogTerms terms(quint32 intervalMs, quint16 misses, ExpiryAction action);
    static std::optional<WatchdogTerms> registerWatchdog(RawPeer &peer, const WatchdogTerms &asked, ErrorCode *error = nullptr);
    static bool connectWatched(TestBroker &broker, RawPeer &peer, const QByteArray &name);

    QList<QProcess *> m_processes;
    QList<pid_t> m_forked;
};

void tst_WatchdogClients::initTestCase()
{
    qRegisterMetaType<Kennel::WatchState>();
    qRegisterMetaType<Kennel::WatchdogAction>();
    qRegisterMetaType<Kennel::ProcessSignaller::Outcome>();
    QVERIFY2(QFile::exists(binaryPath(QStringLiteral("kennel-legacy-client"))), "build kennel-legacy-client first");
}

void tst_WatchdogClients::cleanup()
{
    // Only what this test started, by its PID.
    for (QProcess *process : std::as_const(m_processes)) {
        if (process->state() != QProcess::NotRunning) {
            process->kill();
            process->waitForFinished(5000);
        }
        delete process;
    }
    m_processes.clear();
    for (pid_t pid : std::as_const(m_forked)) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
    }
    m_forked.clear();
}

BrokerConfig tst_WatchdogClients::fastConfig()
{
    BrokerConfig config;
    config.watchdog.defaultInterval = 200ms;
    config.watchdog.defaultAllowedMisses = 2;
    config.watchdog.minInterval = 50ms;
    config.watchdog.killGrace = 500ms;
    return config;
}

QProcess *tst_WatchdogClients::startLegacy(TestBroker &broker, const QByteArray &name, const QStringList &extra)
{
    auto *process = new QProcess;
    m_processes.append(process);
    process->setProcessChannelMode(QProcess::ForwardedErrorChannel);
    QStringList args{QStringLiteral("--name"), QString::fromLatin1(name), QStringLiteral("--peer"), QStringLiteral("nobody"),
                     QStringLiteral("--host"), QStringLiteral("127.0.0.1"), QStringLiteral("--port"),
                     QString::number(broker.tcpPort()), QStringLiteral("--send-interval-ms"), QStringLiteral("100000"),
                     QStringLiteral("--watchdog"), QStringLiteral("--quiet-feed")};
    args += extra;
    process->start(binaryPath(QStringLiteral("kennel-legacy-client")), args);
    return process;
}

WatchdogTerms tst_WatchdogClients::terms(quint32 intervalMs, quint16 misses, ExpiryAction action)
{
    WatchdogTerms t;
    t.intervalMs = intervalMs;
    t.allowedMisses = misses;
    t.action = action;
    return t;
}

std::optional<WatchdogTerms> tst_WatchdogClients::registerWatchdog(RawPeer &peer, const WatchdogTerms &asked, ErrorCode *error)
{
    Frame f;
    f.type = FrameType::WatchdogRegister;
    f.messageId = 77;
    f.payload = encodeWatchdogTerms(asked);
    peer.send(f);
    QDeadlineTimer deadline(5000);
    while (!deadline.hasExpired()) {
        if (auto ack = peer.take(FrameType::WatchdogAck, 10)) {
            if (ack->messageId != 77)
                return std::nullopt;
            return decodeWatchdogTerms(ack->payload);
        }
        if (auto refused = peer.take(FrameType::Error, 10)) {
            if (error)
                *error = decodeError(refused->payload).value_or(ErrorPayload{}).code;
            return std::nullopt;
        }
    }
    return std::nullopt;
}

// Connected, registered as `name` and watched: notify, every minute, so that nothing expires
// while a test runs.
bool tst_WatchdogClients::connectWatched(TestBroker &broker, RawPeer &peer, const QByteArray &name)
{
    return peer.connectUnix(broker.unixPath()) && peer.registerAs(name)
           && registerWatchdog(peer, terms(60000, 1, ExpiryAction::Notify)).has_value();
}

void feed(RawPeer &peer)
{
    Frame f;
    f.type = FrameType::WatchdogFeed;
    peer.send(f);
}

void tst_WatchdogClients::healthyLegacyClientIsNeverSignalled()
{
    TestBroker broker(fastConfig());
    QVERIFY(broker.start());
    QSignalSpy actions(&broker.broker().watchdog(), &ClientWatchdog::actionTaken);
    QSignalSpy states(&broker.broker().watchdog(), &ClientWatchdog::stateChanged);
    QProcess *client = startLegacy(broker, "healthy", {QStringLiteral("--feed-interval-ms"), QStringLiteral("50")});
    QTRY_VERIFY(broker.broker().watchdog().history("healthy"));
    QCOMPARE(broker.broker().watchdog().history("healthy")->registrations, 1u);
    // Ten intervals, five times its whole allowance: no transition at all.
    QVERIFY(!actions.wait(2000));
    QCOMPARE(states.count(), 0);
    QCOMPARE(client->state(), QProcess::Running);
    QCOMPARE(broker.broker().watchdog().history("healthy")->expiries, 0u);
}

void tst_WatchdogClients::expiredLegacyClientIsTerminatedAndItsNameReleased()
{
    TestBroker broker(fastConfig());
    QVERIFY(broker.start());
    QSignalSpy outcomes(&broker.broker().watchdog(), &ClientWatchdog::signalOutcome);
    QElapsedTimer clock;
    QProcess *client = startLegacy(broker, "stalled", {QStringLiteral("--feed-interval-ms"), QStringLiteral("100000")});
    QTRY_VERIFY(broker.broker().watchdog().history("stalled"));
    clock.start();
    // Its deadline (200 ms x 2) plus the kill grace, with room for a loaded machine. (QTRY, not
    // waitForFinished: the broker runs on this thread's event loop.)
    QTRY_COMPARE_WITH_TIMEOUT(client->state(), QProcess::NotRunning, 5000);
    QVERIFY2(clock.elapsed() >= 350, "signalled before its deadline");
    const ClientWatchdog::History *history = broker.broker().watchdog().history("stalled");
    QTRY_COMPARE(history->processesEnded, 1u);
    QCOMPARE(history->expiries, 1u);
    QCOMPARE(history->signalsSent, 1u); // SIGTERM was enough
    QCOMPARE(outcomes.first().at(1).toLongLong(), qint64(client->processId() ? client->processId() : outcomes.first().at(1).toLongLong()));
    QCOMPARE(outcomes.first().at(2).value<ProcessSignaller::Outcome>(), ProcessSignaller::Outcome::TermSent);
    QTRY_VERIFY(!broker.broker().registry().find("stalled"));
}

void tst_WatchdogClients::clientIgnoringSigtermIsKilled()
{
    TestBroker broker(fastConfig());
    QVERIFY(broker.start());
    QSignalSpy outcomes(&broker.broker().watchdog(), &ClientWatchdog::signalOutcome);
    QProcess *client = startLegacy(broker, "stubborn",
                                   {QStringLiteral("--feed-interval-ms"), QStringLiteral("100000"), QStringLiteral("--ignore-sigterm")});
    QVERIFY(client->waitForStarted());
    const qint64 pid = client->processId();
    QTRY_VERIFY(broker.broker().watchdog().history("stubborn"));
    QTRY_COMPARE_WITH_TIMEOUT(client->state(), QProcess::NotRunning, 8000);
    QCOMPARE(client->exitStatus(), QProcess::CrashExit);
    QTRY_COMPARE(outcomes.count(), 3);
    QCOMPARE(outcomes.at(0).at(2).value<ProcessSignaller::Outcome>(), ProcessSignaller::Outcome::TermSent);
    QCOMPARE(outcomes.at(1).at(2).value<ProcessSignaller::Outcome>(), ProcessSignaller::Outcome::KillSent);
    QCOMPARE(outcomes.at(2).at(2).value<ProcessSignaller::Outcome>(), ProcessSignaller::Outcome::Exited);
    for (const QList<QVariant> &o : std::as_const(outcomes)) {
        QCOMPARE(o.at(0).toByteArray(), QByteArray("stubborn"));
        QCOMPARE(o.at(1).toLongLong(), pid);
    }
    QCOMPARE(broker.broker().watchdog().history("stubborn")->signalsSent, 2u);
    QTRY_VERIFY(!broker.broker().registry().find("stubborn"));
}

void tst_WatchdogClients::lateThenFedRecovers()
{
    TestBroker broker(fastConfig());
    QVERIFY(broker.start());
    RawPeer peer;
    QVERIFY(peer.connectUnix(broker.unixPath()));
    QVERIFY(peer.registerAs("sleepy"));
    QSignalSpy states(&broker.broker().watchdog(), &ClientWatchdog::stateChanged);
    const auto granted = registerWatchdog(peer, terms(150, 4, ExpiryAction::Notify));
    QVERIFY(granted);
    QCOMPARE(granted->intervalMs, 150u);
    QCOMPARE(granted->allowedMisses, quint16(4));
    QCOMPARE(granted->action, ExpiryAction::Notify);
    QTRY_COMPARE(states.count(), 1);
    QCOMPARE(states.at(0).at(2).value<WatchState>(), WatchState::Healthy);
    QCOMPARE(states.at(0).at(3).value<WatchState>(), WatchState::Late);
    feed(peer);
    QTRY_COMPARE(states.count(), 2);
    QCOMPARE(states.at(1).at(2).value<WatchState>(), WatchState::Late);
    QCOMPARE(states.at(1).at(3).value<WatchState>(), WatchState::Healthy);
    const DeadlineEngine::Entry *entry = broker.broker().watchdog().engine().entry(broker.broker().sessionByName("sleepy")->id());
    QVERIFY(entry);
    QCOMPARE(entry->feeds, 1u);
    QCOMPARE(entry->lateCount, 1u);
    QCOMPARE(broker.broker().watchdog().history("sleepy")->expiries, 0u);
}

void tst_WatchdogClients::disconnectAction()
{
    TestBroker broker(fastConfig());
    QVERIFY(broker.start());
    RawPeer peer;
    QVERIFY(peer.connectUnix(broker.unixPath()));
    QVERIFY(peer.registerAs("dropme"));
    const auto granted = registerWatchdog(peer, terms(100, 1, ExpiryAction::Disconnect));
    QVERIFY(granted);
    QCOMPARE(granted->action, ExpiryAction::Disconnect);
    const auto error = peer.take(FrameType::Error, 5000);
    QVERIFY(error);
    QCOMPARE(decodeError(error->payload)->code, ErrorCode::WatchdogExpired);
    QVERIFY(peer.waitForDisconnect());
    QTRY_VERIFY(!broker.broker().registry().find("dropme"));
    QCOMPARE(broker.broker().watchdog().history("dropme")->disconnects, 1u);
    QCOMPARE(broker.broker().watchdog().history("dropme")->signalsSent, 0u);
}

void tst_WatchdogClients::notifyAction()
{
    TestBroker broker(fastConfig());
    QVERIFY(broker.start());
    QSignalSpy actions(&broker.broker().watchdog(), &ClientWatchdog::actionTaken);
    RawPeer peer;
    QVERIFY(peer.connectUnix(broker.unixPath()));
    QVERIFY(peer.registerAs("tellme"));
    QVERIFY(registerWatchdog(peer, terms(100, 2, ExpiryAction::Notify)));
    QTRY_COMPARE(actions.count(), 1);
    QCOMPARE(actions.at(0).at(1).toByteArray(), QByteArray("tellme"));
    QCOMPARE(actions.at(0).at(2).value<WatchdogAction>(), WatchdogAction::Notify);
    // Still connected and served; the expiry ended the watch, so feeding now is refused.
    Frame ping;
    ping.type = FrameType::Ping;
    ping.messageId = 5;
    peer.send(ping);
    QVERIFY(peer.take(FrameType::Pong));
    feed(peer);
    const auto error = peer.take(FrameType::Error);
    QVERIFY(error);
    QCOMPARE(decodeError(error->payload)->code, ErrorCode::WatchdogUnavailable);
    QVERIFY(peer.isConnected());
    QCOMPARE(broker.broker().watchdog().history("tellme")->signalsSent, 0u);
}

void tst_WatchdogClients::termsAreCheckedAgainstTheConfig()
{
    BrokerConfig config = fastConfig();
    config.watchdog.maxInterval = 10s;
    config.watchdog.maxAllowedMisses = 10;
    TestBroker broker(config);
    QVERIFY(broker.start());
    RawPeer peer;
    QVERIFY(peer.connectUnix(broker.unixPath()));

    ErrorCode error = ErrorCode::None;
    QVERIFY(!registerWatchdog(peer, terms(0, 0, ExpiryAction::Default), &error));
    QCOMPARE(error, ErrorCode::NotRegistered);
    feed(peer);
    QCOMPARE(decodeError(peer.take(FrameType::Error)->payload)->code, ErrorCode::NotRegistered);

    QVERIFY(peer.registerAs("picky"));
    feed(peer);
    QCOMPARE(decodeError(peer.take(FrameType::Error)->payload)->code, ErrorCode::WatchdogUnavailable);
    QVERIFY(!registerWatchdog(peer, terms(10, 0, ExpiryAction::Default), &error));
    QCOMPARE(error, ErrorCode::InvalidWatchdogTerms);
    QVERIFY(!registerWatchdog(peer, terms(10001, 0, ExpiryAction::Default), &error));
    QCOMPARE(error, ErrorCode::InvalidWatchdogTerms);
    QVERIFY(!registerWatchdog(peer, terms(0, 11, ExpiryAction::Default), &error));
    QCOMPARE(error, ErrorCode::InvalidWatchdogTerms);
    // Kill is not among the actions a client may choose by default.
    QVERIFY(!registerWatchdog(peer, terms(0, 0, ExpiryAction::Kill), &error));
    QCOMPARE(error, ErrorCode::NotPermitted);
    Frame bad;
    bad.type = FrameType::WatchdogRegister;
    bad.payload = QByteArray("\x00\x00\x00\x00\x00\x00\x09\x00", 8); // action 9 does not exist
    peer.send(bad);
    QCOMPARE(decodeError(peer.take(FrameType::Error)->payload)->code, ErrorCode::InvalidWatchdogTerms);
    QVERIFY(peer.isConnected());

    // Zeros take the defaults; the peer is this test process, which the broker would never signal,
    // but it is found, so the effective action stays the configured one.
    const auto granted = registerWatchdog(peer, terms(0, 0, ExpiryAction::Default));
    QVERIFY(granted);
    QCOMPARE(granted->intervalMs, 200u);
    QCOMPARE(granted->allowedMisses, quint16(2));
    QCOMPARE(granted->action, ExpiryAction::Terminate);
    QVERIFY(broker.broker().watchdog().engine().entry(broker.broker().sessionByName("picky")->id()));
}

void tst_WatchdogClients::claimedPidMustMatchTheKernel_data()
{
    QTest::addColumn<bool>("overUnix");
    QTest::addRow("unix") << true;
    QTest::addRow("tcp") << false;
}

void tst_WatchdogClients::claimedPidMustMatchTheKernel()
{
    QFETCH(bool, overUnix);
    TestBroker broker;
    QVERIFY(broker.start());
    // Our parent (it does not hold the socket) and a PID that does not exist. A claim the kernel
    // cannot settle (a process whose descriptors are closed to us) is not refused but not used.
    quint32 unused = 4194303;
    while (unused > 2 && ::kill(pid_t(unused), 0) == 0)
        --unused;
    for (const quint32 claim : {quint32(::getppid()), unused}) {
        RawPeer liar;
        QVERIFY(overUnix ? liar.connectUnix(broker.unixPath()) : liar.connectTcp(broker.tcpPort()));
        liar.hello("liar", claim);
        const auto error = liar.take(FrameType::Error);
        QVERIFY(error);
        QCOMPARE(decodeError(error->payload)->code, ErrorCode::PidMismatch);
        QVERIFY(liar.waitForDisconnect());
        QVERIFY(!broker.broker().registry().find("liar"));
    }
    RawPeer honest;
    QVERIFY(overUnix ? honest.connectUnix(broker.unixPath()) : honest.connectTcp(broker.tcpPort()));
    QVERIFY(honest.registerAs("honest")); // claims this process's PID, which holds the socket
}

void tst_WatchdogClients::legacyConnectionCannotFeedAnotherProcessesName()
{
    TestBroker broker(fastConfig());
    QVERIFY(broker.start());
    QProcess *owner = startLegacy(broker, "owner", {QStringLiteral("--feed-interval-ms"), QStringLiteral("100000")});
    QTRY_VERIFY(broker.broker().watchdog().history("owner"));
    // This test process is not the owner: its feeds and registrations under that name are refused
    // and the connection closed, and the owner's deadline is not moved by them.
    for (qint32 wdt : {1, 0}) {
        LegacyPeer impostor;
        QVERIFY(impostor.connectTcp(broker.tcpPort()));
        impostor.sendFrame(Legacy::Command::Watchdog, wdt, "null", "owner", "null");
        QVERIFY(impostor.waitForDisconnect());
    }
    QCOMPARE(broker.broker().watchdog().history("owner")->registrations, 1u);
    QTRY_COMPARE_WITH_TIMEOUT(owner->state(), QProcess::NotRunning, 5000);
    QTRY_COMPARE(broker.broker().watchdog().history("owner")->processesEnded, 1u);
}

void tst_WatchdogClients::theBrokerNeverSignalsItself()
{
    TestBroker broker(fastConfig());
    QVERIFY(broker.start());
    QSignalSpy outcomes(&broker.broker().watchdog(), &ClientWatchdog::signalOutcome);
    // The peer is this very process, which also runs the broker: found by the kernel, refused by
    // the signaller, so the client is disconnected instead.
    RawPeer peer;
    QVERIFY(peer.connectTcp(broker.tcpPort()));
    QVERIFY(peer.registerAs("myself"));
    QVERIFY(registerWatchdog(peer, terms(100, 1, ExpiryAction::Terminate)));
    QTRY_COMPARE(outcomes.count(), 1);
    QCOMPARE(outcomes.at(0).at(2).value<ProcessSignaller::Outcome>(), ProcessSignaller::Outcome::Refused);
    QCOMPARE(outcomes.at(0).at(1).toLongLong(), qint64(::getpid()));
    QVERIFY(peer.waitForDisconnect());
    QCOMPARE(broker.broker().watchdog().history("myself")->failures, 1u);
    QCOMPARE(broker.broker().watchdog().history("myself")->disconnects, 1u);
}

void tst_WatchdogClients::ambiguousPeerIsDisconnectedNotSignalled()
{
    TestBroker broker(fastConfig());
    QVERIFY(broker.start());
    RawPeer peer;
    QVERIFY(peer.connectTcp(broker.tcpPort()));
    QVERIFY(peer.registerAs("shared"));
    // A process that is not ours holds the same socket: which of the two owns the client is
    // unknowable. (A forked child would not do: the parent owns what its children inherit.)
    UnrelatedHolder stranger;
    QVERIFY(stranger.pid() > 0);
    QSignalSpy outcomes(&broker.broker().watchdog(), &ClientWatchdog::signalOutcome);
    QSignalSpy actions(&broker.broker().watchdog(), &ClientWatchdog::actionTaken);
    const auto granted = registerWatchdog(peer, terms(100, 1, ExpiryAction::Terminate));
    QVERIFY(granted);
    // Looked up again at expiry, still ambiguous then: disconnected, nobody signalled.
    const auto error = peer.take(FrameType::Error, 5000);
    QVERIFY(error);
    QCOMPARE(decodeError(error->payload)->code, ErrorCode::WatchdogExpired);
    QCOMPARE(outcomes.count(), 0);
    QCOMPARE(actions.count(), 1);
    QCOMPARE(actions.at(0).at(2).value<WatchdogAction>(), WatchdogAction::Disconnect);
    QVERIFY(!stranger.gone()); // still alive: nobody signalled it
}

void tst_WatchdogClients::manyClientsKeepTheirDeadlines()
{
    raiseDescriptorLimit();
    TestBroker broker(fastConfig());
    QVERIFY(broker.start());
    constexpr int Clients = 300;
    std::vector<std::unique_ptr<RawPeer>> peers;
    for (int i = 0; i < Clients; ++i) {
        auto peer = std::make_unique<RawPeer>();
        QVERIFY(peer->connectUnix(broker.unixPath()));
        peer->hello("w" + QByteArray::number(i), 0);
        peers.push_back(std::move(peer));
    }
    for (auto &peer : peers)
        QVERIFY(peer->take(FrameType::Welcome));
    for (auto &peer : peers) {
        Frame f;
        f.type = FrameType::WatchdogRegister;
        f.payload = encodeWatchdogTerms(terms(300, 2, ExpiryAction::Notify));
        peer->send(f);
    }
    for (auto &peer : peers)
        QVERIFY(peer->take(FrameType::WatchdogAck));
    QCOMPARE(broker.broker().watchdog().engine().size(), size_t(Clients));
    QSignalSpy states(&broker.broker().watchdog(), &ClientWatchdog::stateChanged);
    // Every client feeds every 100 ms for 2 s: seven intervals, not one of them late.
    QTimer feeder;
    int rounds = 0;
    connect(&feeder, &QTimer::timeout, this, [&] {
        ++rounds;
        for (auto &peer : peers)
            feed(*peer);
    });
    feeder.start(100);
    QTRY_VERIFY_WITH_TIMEOUT(rounds >= 20, 10000);
    feeder.stop();
    QCOMPARE(states.count(), 0);
    // Then all stop: each goes late, then expires, within its allowance and a loaded machine's slack.
    QSignalSpy actions(&broker.broker().watchdog(), &ClientWatchdog::actionTaken);
    QTRY_COMPARE_WITH_TIMEOUT(actions.count(), Clients, 5000);
    QCOMPARE(states.count(), 2 * Clients);
    QCOMPARE(broker.broker().watchdog().engine().size(), size_t(0));
}

void tst_WatchdogClients::supervisedClientIsKilledAndRestarted()
{
    BrokerConfig config = fastConfig();
    ListenAddress tcp;
    tcp.kind = ListenAddress::Kind::Tcp;
    tcp.host = QStringLiteral("127.0.0.1");
    tcp.port = 0;
    config.listen = {tcp};
    // The port is known only once the broker listens, and services start then: the client reads
    // it from the environment the broker gives it.
    ServiceSettings service;
    service.name = QStringLiteral("slowpoke");
    service.program = QStringLiteral("/bin/sh");
    service.arguments = {QStringLiteral("-c"),
                         QStringLiteral("exec \"$0\" --name slowpoke --peer nobody --host 127.0.0.1 --port \"${KENNEL_BROKER##*:}\" "
                                        "--send-interval-ms 100000 --watchdog --feed-interval-ms 100000 --quiet-feed"),
                         binaryPath(QStringLiteral("kennel-legacy-client"))};
    service.restartDelay = 100ms;
    service.restartDelayMax = 400ms;
    config.services = {service};
    TestBroker broker(config);
    QVERIFY(broker.start());
    Service *supervised = broker.broker().supervisor().service(QStringLiteral("slowpoke"));
    QVERIFY(supervised);
    QSignalSpy started(supervised, &Service::started);
    QSignalSpy outcomes(&broker.broker().watchdog(), &ClientWatchdog::signalOutcome);
    // Registered, expired, terminated, restarted, registered again.
    QTRY_VERIFY_WITH_TIMEOUT(broker.broker().watchdog().history("slowpoke")
                                 && broker.broker().watchdog().history("slowpoke")->registrations >= 2,
                             10000);
    QVERIFY(started.count() >= 2);
    QCOMPARE(started.at(0).at(0).toLongLong(), outcomes.at(0).at(1).toLongLong()); // the killed PID was the service's
    QVERIFY(started.at(1).at(0).toLongLong() != started.at(0).at(0).toLongLong());
    // The legacy client exits 0 on SIGTERM; the supervisor counts the watchdog's kill as a failure
    // all the same, which is why an on-failure service was restarted.
    QCOMPARE(supervised->settings().restart, ServiceSettings::Restart::OnFailure);
    QVERIFY(supervised->status().restarts >= 1);
    broker.broker().shutdown();
    QSignalSpy finished(&broker.broker(), &Broker::finished);
    QVERIFY(finished.wait(10000));
    QCOMPARE(supervised->state(), Service::State::Stopped);
}

// [watchdog] history_names at its minimum, 16, so the first eviction forgets exactly 16 / 4 = 4
// names. Two names stay watched throughout; 14 come and go; then new names register and stay,
// until fewer names than a quarter are left to forget. What would make each check fail: a cap not
// taken from the config or compared with '>' (17 names), a history dropped when its client goes
// (fewer than 16), a wrong quantum (not 10 gone names left), a watched name forgotten (the last
// eviction finds only 2 gone names: forgetting 4 would have to take watched ones), the new name
// evicted by its own registration.
void tst_WatchdogClients::historyForgetsGoneNamesAtTheCap()
{
    constexpr int Cap = 16;
    BrokerConfig config = fastConfig();
    config.watchdog.historyNames = Cap;
    TestBroker broker(config);
    QVERIFY(broker.start());
    const ClientWatchdog &watchdog = broker.broker().watchdog();
    const auto remembered = [&](const QList<QByteArray> &names) {
        return int(std::count_if(names.cbegin(), names.cend(), [&](const QByteArray &n) { return watchdog.history(n); }));
    };

    std::vector<std::unique_ptr<RawPeer>> kept; // watched until the end
    QList<QByteArray> watchedNames;
    for (const QByteArray &name : {QByteArray("keep0"), QByteArray("keep1")}) {
        kept.push_back(std::make_unique<RawPeer>());
        QVERIFY(connectWatched(broker, *kept.back(), name));
        watchedNames.append(name);
    }
    QList<QByteArray> goneNames;
    for (int i = 0; i < Cap - 2; ++i) {
        const QByteArray name = "gone" + QByteArray::number(i);
        RawPeer peer;
        QVERIFY(connectWatched(broker, peer, name));
        peer.close();
        // Its session closed and no longer watched, before the next one comes.
        QTRY_COMPARE(watchdog.engine().size(), size_t(2));
        goneNames.append(name);
    }
    // At the cap, nothing forgotten yet: the gone names' histories outlive their clients.
    QCOMPARE(watchdog.historySize(), qsizetype(Cap));
    QCOMPARE(remembered(goneNames), Cap - 2);
    QCOMPARE(remembered(watchedNames), 2);

    // The 17th name: exactly a quarter of the cap forgotten, all of them gone names.
    int goneLeft = Cap - 2;
    for (int i = 0; goneLeft > 0; ++i) {
        QVERIFY2(i < 2 * Cap, "gone names never all forgotten");
        const QByteArray name = "new" + QByteArray::number(i);
        const bool atCap = watchdog.historySize() >= Cap;
        kept.push_back(std::make_unique<RawPeer>());
        QVERIFY(connectWatched(broker, *kept.back(), name));
        watchedNames.append(name);
        if (atCap)
            goneLeft -= std::min(Cap / 4, goneLeft);
        QVERIFY2(watchdog.history(name), name.constData());
        QCOMPARE(remembered(goneNames), goneLeft);
        QCOMPARE(remembered(watchedNames), int(watchedNames.size()));
        QVERIFY2(watchdog.historySize() <= Cap, qPrintable(QString::number(watchdog.historySize())));
        QCOMPARE(watchdog.historySize(), qsizetype(goneLeft + watchedNames.size()));
        if (i == 0)
            QCOMPARE(goneLeft, Cap - 2 - Cap / 4);
    }
    // The last eviction found 2 gone names where the quantum is 4: it forgot those 2 and nothing
    // watched. And the names watched from the start were never forgotten and made anew.
    QCOMPARE(watchedNames.size(), qsizetype(2 + 13));
    QCOMPARE(watchdog.historySize(), qsizetype(15));
    for (const QByteArray &name : {QByteArray("keep0"), QByteArray("keep1")})
        QCOMPARE(watchdog.history(name)->registrations, 1u);
}

QTEST_MAIN(tst_WatchdogClients)
#include "tst_watchdogclients.moc"
