// The watchdog as clients meet it: terms asked for and granted, feeds, and what happens to a
// client's process when it stops feeding. Timing is DeadlineEngine's (one timer for everyone); sending
// signals is ProcessSignaller's; this class decides who is watched on which terms, whom an expiry
// may touch, and keeps the audit trail (log lines, per-client counters, events for the monitor).
//
// The one rule everything here serves: only the process the kernel names as the connection's owner
// may be signalled, never one a client names (docs/WATCHDOG.md, "Who owns a connection"). The
// owner is named at registration and again at expiry, and the signaller checks, with the process
// pinned by its pidfd, that it still holds the connection just before the signal. A peer that is
// remote, relayed by a forwarder, ambiguous (held by unrelated processes) or gone is disconnected
// instead, and that is said, never guessed.
#pragma once

#include "brokerconfig.h"
#include "framecodec.h"
#include "peerprocess.h"
#include "processsignaller.h"
#include "deadlineengine.h"

#include <QByteArray>
#include <QHash>
#include <QObject>

#include <functional>
#include <unordered_map>

namespace Kennel {

// A connection as the watchdog meets it at registration; the protocol handlers fill it in from
// their session, so the watchdog knows no connection class.
struct WatchedClient
{
    quint64 id = 0;  // the connection id: the watch key, and what the owner is asked about later
    QByteArray name;
    QString description; // the connection as log lines name it
    // The process the kernel names as the connection's owner. Looking a TCP peer up walks /proc,
    // so it is asked only for an action that signals (and the connection caches it).
    std::function<const PeerLookupResult &()> owner;
};

class ClientWatchdog : public QObject
{
    Q_OBJECT
public:
    // Per client name, across reconnections and restarts: what the monitor shows as the client's
    // watchdog history.
    struct History
    {
        quint32 registrations = 0;
        quint32 expiries = 0;
        quint32 signalsSent = 0;   // SIGTERM and SIGKILL
        quint32 processesEnded = 0;// exited after our signal
        quint32 disconnects = 0;   // expiries that closed the connection instead of (or after failing) a signal
        quint32 failures = 0;      // refused, failed, or already gone: nothing could be signalled
        ProcessSignaller::Outcome lastOutcome = ProcessSignaller::Outcome::Exited;
        QString lastDetail;
    };

    struct Granted
    {
        bool ok = false;
        WatchdogTerms terms;   // effective terms, for the Ack
        ErrorCode error = ErrorCode::None;
        QString reason;        // why refused
    };

    // The descriptor of connection `id` while it is open, else -1: whose process owns it is
    // asked of the kernel through it at expiry and just before a signal.
    using OpenDescriptor = std::function<int(quint64 id)>;
    // Ends the client connection `id` belongs to, all of it (a legacy client is its receive
    // connection and its main connections), telling it `why` where its protocol can; nothing if
    // it has closed. The owner of the connections does it: the watchdog does not walk the name
    // table.
    using DisconnectClient = std::function<void(quint64 id, const QString &why)>;

    ClientWatchdog(const WatchdogSettings &settings, OpenDescriptor openDescriptor, DisconnectClient disconnectClient,
                   QObject *parent = nullptr);
    ~ClientWatchdog() override;

    // A native WatchdogRegister. Out-of-bounds terms and forbidden actions are refused.
    Granted registerNative(const WatchedClient &client, const WatchdogTerms &asked);
    // A legacy `cmd 1, wdt 0`: the configured defaults and the action configured for the name.
    Granted registerLegacy(const WatchedClient &client);
    // False if connection `id` is not watched (the caller tells the peer).
    bool feed(quint64 id);
    // Connection `id` is closing: stop watching it, without any action.
    void forget(quint64 id);
    // A reload: terms, bounds, actions and the history cap for registrations from now on; clients
    // already watched keep the terms and action they were granted.
    void setSettings(const WatchdogSettings &settings) { m_settings = settings; }
    // Shutting down: no more expiries or signals; pending escalations stay (a process already sent
    // SIGTERM still gets its SIGKILL if the broker lives that long).
    void stop();

    const DeadlineEngine &engine() const { return m_engine; }
    const History *history(const QByteArray &name) const;
    // Names with a history, watched or not: at most [watchdog] history_names, unless every one of
    // them is watched (those are never forgotten).
    qsizetype historySize() const { return m_history.size(); }
    const ProcessSignaller &signaller() const { return m_signaller; }

signals:
    // A client was granted terms (again, if it re-registered); `action` is the effective one.
    void registered(quint64 sessionId, const QByteArray &name, Kennel::WatchdogAction action);
    void stateChanged(quint64 sessionId, const QByteArray &name, Kennel::WatchState from, Kennel::WatchState to);
    // Emitted just before a signal is sent to `pid` because of an expiry: the supervisor counts that
    // exit as a failure whatever its status.
    void aboutToSignal(qint64 pid);
    void actionTaken(quint64 sessionId, const QByteArray &name, Kennel::WatchdogAction action, const QString &detail);
    void signalOutcome(const QByteArray &name, qint64 pid, Kennel::ProcessSignaller::Outcome outcome, const QString &detail);

private:
    struct Watched
    {
        QByteArray name;
        WatchdogAction action = WatchdogAction::Terminate;
        PeerProcess process; // valid when action is Terminate or Kill and !resolveAtExpiry
        // Registered while the socket was held by unrelated processes (a transient state, e.g. a
        // child between fork and exec): the owner is looked for again at expiry.
        bool resolveAtExpiry = false;
    };

    Granted grant(const WatchedClient &client, WatchTerms terms, WatchdogAction action, bool actionChosen);
    void onStateChanged(quint64 key, WatchState from, WatchState to);
    void onExpired(quint64 key);
    void onSignalOutcome(quint64 key, qint64 pid, ProcessSignaller::Outcome outcome, const QString &detail);
    History &historyOf(const QByteArray &name);

    WatchdogSettings m_settings;
    OpenDescriptor m_openDescriptor;
    DisconnectClient m_disconnectClient;
    DeadlineEngine m_engine;
    ProcessSignaller m_signaller;
    std::unordered_map<quint64, Watched> m_watched;
    // Which name a pending signal was for: the connection may be gone by the time the outcome comes.
    std::unordered_map<quint64, QByteArray> m_signalled;
    QHash<QByteArray, History> m_history;
    bool m_stopped = false;
};

} // namespace Kennel
