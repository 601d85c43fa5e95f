#include "clientwatchdog.h"
#include "logging.h"

#include <QSet>

#include <algorithm>
#include <vector>

namespace Kennel {

namespace {
QString text(const QByteArray &name)
{
    return QString::fromLatin1(name);
}

qint64 ms(std::chrono::milliseconds d)
{
    return qint64(d.count());
}

WatchdogAction fromWire(ExpiryAction action)
{
    switch (action) {
    case ExpiryAction::Terminate: return WatchdogAction::Terminate;
    case ExpiryAction::Kill: return WatchdogAction::Kill;
    case ExpiryAction::Disconnect: return WatchdogAction::Disconnect;
    case ExpiryAction::Notify: return WatchdogAction::Notify;
    case ExpiryAction::Default: break;
    }
    return WatchdogAction::Terminate;
}

ExpiryAction toWire(WatchdogAction action)
{
    switch (action) {
    case WatchdogAction::Terminate: return ExpiryAction::Terminate;
    case WatchdogAction::Kill: return ExpiryAction::Kill;
    case WatchdogAction::Disconnect: return ExpiryAction::Disconnect;
    case WatchdogAction::Notify: return ExpiryAction::Notify;
    }
    return ExpiryAction::Default;
}

bool sendsSignal(WatchdogAction action)
{
    return action == WatchdogAction::Terminate || action == WatchdogAction::Kill;
}
} // namespace

ClientWatchdog::ClientWatchdog(const WatchdogSettings &settings, OpenDescriptor openDescriptor,
                               DisconnectClient disconnectClient, QObject *parent)
    : QObject(parent)
    , m_settings(settings)
    , m_openDescriptor(std::move(openDescriptor))
    , m_disconnectClient(std::move(disconnectClient))
{
    connect(&m_engine, &DeadlineEngine::stateChanged, this, &ClientWatchdog::onStateChanged);
    connect(&m_engine, &DeadlineEngine::expired, this, &ClientWatchdog::onExpired);
    connect(&m_signaller, &ProcessSignaller::outcome, this, &ClientWatchdog::onSignalOutcome);
}

ClientWatchdog::~ClientWatchdog() = default;

ClientWatchdog::Granted ClientWatchdog::registerNative(const WatchedClient &client, const WatchdogTerms &asked)
{
    Granted refused;
    WatchTerms terms;
    terms.interval = asked.intervalMs ? std::chrono::milliseconds(asked.intervalMs) : m_settings.defaultInterval;
    terms.allowedMisses = asked.allowedMisses ? int(asked.allowedMisses) : m_settings.defaultAllowedMisses;
    if (terms.interval < m_settings.minInterval || terms.interval > m_settings.maxInterval) {
        refused.error = ErrorCode::InvalidWatchdogTerms;
        refused.reason = QStringLiteral("interval %1 ms is outside %2..%3 ms")
                             .arg(ms(terms.interval)).arg(ms(m_settings.minInterval)).arg(ms(m_settings.maxInterval));
        return refused;
    }
    if (terms.allowedMisses > m_settings.maxAllowedMisses) {
        refused.error = ErrorCode::InvalidWatchdogTerms;
        refused.reason = QStringLiteral("%1 allowed misses is more than the broker's maximum of %2")
                             .arg(terms.allowedMisses).arg(m_settings.maxAllowedMisses);
        return refused;
    }
    const bool chosen = asked.action != ExpiryAction::Default;
    WatchdogAction action = m_settings.actionFor(client.name);
    if (chosen) {
        action = fromWire(asked.action);
        if (!m_settings.clientSelectableActions.contains(action)) {
            refused.error = ErrorCode::NotPermitted;
            refused.reason = QStringLiteral("the broker's policy does not let clients choose '%1'")
                                 .arg(QLatin1String(watchdogActionName(action)));
            return refused;
        }
    }
    return grant(client, terms, action, chosen);
}

ClientWatchdog::Granted ClientWatchdog::registerLegacy(const WatchedClient &client)
{
    WatchTerms terms;
    terms.interval = m_settings.defaultInterval;
    terms.allowedMisses = m_settings.defaultAllowedMisses;
    return grant(client, terms, m_settings.actionFor(client.name), false);
}

ClientWatchdog::Granted ClientWatchdog::grant(const WatchedClient &client, WatchTerms terms, WatchdogAction action, bool actionChosen)
{
    terms.grace = m_settings.registerGrace;
    Watched watched;
    watched.name = client.name;
    watched.action = action;
    QString identity;
    if (sendsSignal(action)) {
        // Established now, not at expiry: the peer is alive and connected now, and the answer
        // (with its start time) is what the signaller later checks the process against.
        const PeerLookupResult &peer = client.owner();
        if (peer.status == PeerLookup::Found) {
            watched.process = peer.process;
            identity = QStringLiteral("pid %1").arg(peer.process.pid);
        } else if (peer.status == PeerLookup::Ambiguous) {
            // Often transient (a child between fork() and exec() of a program that closes its
            // copies there): decided at expiry, when a signal would be sent.
            watched.resolveAtExpiry = true;
            identity = QStringLiteral("process not yet known (%1); looked up again at expiry").arg(peer.detail);
        } else {
            // Never a guess: a process we cannot name is disconnected instead, and the Ack says so.
            qCWarning(lcWatchdog).noquote() << client.description << "asked to be watched with action"
                                            << watchdogActionName(action) << "but its process cannot be signalled ("
                                            << peer.detail << "): it will be disconnected instead";
            watched.action = WatchdogAction::Disconnect;
            identity = QStringLiteral("process unknown");
        }
    }
    const quint64 key = client.id;
    const bool again = m_watched.count(key) != 0;
    m_watched[key] = watched;
    m_engine.watch(key, terms);
    ++historyOf(watched.name).registrations;
    qCInfo(lcWatchdog).noquote() << (again ? "re-registered" : "registered") << client.description
                                 << QStringLiteral("every %1 ms, %2 misses allowed (expires %3 ms after its last feed), on expiry: %4%5%6")
                                        .arg(ms(terms.interval))
                                        .arg(terms.allowedMisses)
                                        .arg(ms(terms.interval * terms.allowedMisses))
                                        .arg(QLatin1String(watchdogActionName(watched.action)))
                                        .arg(actionChosen ? QStringLiteral(" (its choice)") : QString())
                                        .arg(identity.isEmpty() ? QString() : QStringLiteral(", ") + identity);
    Q_EMIT registered(key, watched.name, watched.action);
    Granted granted;
    granted.ok = true;
    granted.terms.intervalMs = quint32(terms.interval.count());
    granted.terms.allowedMisses = quint16(terms.allowedMisses);
    granted.terms.action = toWire(watched.action);
    return granted;
}

bool ClientWatchdog::feed(quint64 key)
{
    if (Q_UNLIKELY(!m_engine.entry(key)))
        return false;
    m_engine.feed(key);
    return true;
}

void ClientWatchdog::forget(quint64 key)
{
    if (m_watched.erase(key))
        m_engine.unwatch(key);
}

void ClientWatchdog::stop()
{
    m_stopped = true;
}

const ClientWatchdog::History *ClientWatchdog::history(const QByteArray &name) const
{
    const auto it = m_history.constFind(name);
    return it == m_history.cend() ? nullptr : &it.value();
}

ClientWatchdog::History &ClientWatchdog::historyOf(const QByteArray &name)
{
    auto it = m_history.find(name);
    if (it != m_history.end())
        return it.value();
    // Names of clients long gone keep their history for the monitor, but not without bound
    // ([watchdog] history_names). The loader keeps it at 16 or more; an in-code config that
    // skipped validate() still gets a working cap.
    const qsizetype cap = std::max(1, m_settings.historyNames);
    if (m_history.size() >= cap) {
        // Forget a quarter of those no longer watched in one go: the monitor has long since shown
        // their history, and one pass over the watched names then serves many registrations
        // (evicting one name per registration would cost that pass every time). Watched names are
        // never forgotten: their clients are still here. So the cap is exceeded only while every
        // name in the history is watched, and watched names are bounded by max_clients.
        QSet<QByteArray> live;
        live.reserve(qsizetype(m_watched.size()));
        for (const auto &w : m_watched)
            live.insert(w.second.name);
        qsizetype toForget = std::max<qsizetype>(1, cap / 4);
        for (auto old = m_history.begin(); old != m_history.end() && toForget > 0;) {
            if (live.contains(old.key())) {
                ++old;
            } else {
                old = m_history.erase(old);
                --toForget;
            }
        }
    }
    return m_history[name];
}

void ClientWatchdog::onStateChanged(quint64 key, WatchState from, WatchState to)
{
    const auto it = m_watched.find(key);
    if (it == m_watched.end())
        return;
    const DeadlineEngine::Entry *entry = m_engine.entry(key);
    if (to == WatchState::Late && entry) {
        // Reported as of the moment it went late, which is when this runs (the engine's clock).
        qCInfo(lcWatchdog).noquote() << QStringLiteral("'%1' is late: no feed for %2 ms; it expires in %3 ms")
                                            .arg(text(it->second.name))
                                            .arg(ms(entry->terms.interval))
                                            .arg(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                     entry->expiresAt() - entry->lateAt()).count());
    } else if (to == WatchState::Healthy) {
        qCInfo(lcWatchdog).noquote() << QStringLiteral("'%1' fed again: healthy").arg(text(it->second.name));
    }
    Q_EMIT stateChanged(key, it->second.name, from, to);
}

void ClientWatchdog::onExpired(quint64 key)
{
    const auto it = m_watched.find(key);
    if (it == m_watched.end())
        return;
    const Watched watched = it->second;
    m_watched.erase(it);
    const int fd = m_openDescriptor(key);
    History &history = historyOf(watched.name);
    ++history.expiries;
    if (m_stopped || fd < 0)
        return;
    const QString line = QStringLiteral("'%1' expired: it stopped feeding; action: %2")
                             .arg(text(watched.name), QLatin1String(watchdogActionName(watched.action)));
    if (watched.action == WatchdogAction::Notify)
        qCInfo(lcWatchdog).noquote() << line;
    else
        qCWarning(lcWatchdog).noquote() << line;
    switch (watched.action) {
    case WatchdogAction::Notify:
        Q_EMIT actionTaken(key, watched.name, watched.action, QStringLiteral("reported only"));
        return;
    case WatchdogAction::Disconnect:
        ++history.disconnects;
        Q_EMIT actionTaken(key, watched.name, watched.action, QStringLiteral("disconnected"));
        m_disconnectClient(key, QStringLiteral("watchdog expired: no feed in time"));
        return;
    case WatchdogAction::Terminate:
    case WatchdogAction::Kill:
        break;
    }
    // The owner again, now: the socket may have been passed on, shared, or its holder may have
    // exited since registration. Only the same instance (or, if it was ambiguous then, whoever
    // owns it now) is signalled; anything else is disconnected.
    const PeerLookupResult now = lookupPeerProcess(fd);
    QString refusal;
    if (now.status != PeerLookup::Found)
        refusal = now.detail;
    else if (!watched.resolveAtExpiry
             && (now.process.pid != watched.process.pid || now.process.startTime != watched.process.startTime))
        refusal = QStringLiteral("the connection is now owned by pid %1, not by pid %2 that registered")
                      .arg(now.process.pid).arg(watched.process.pid);
    if (!refusal.isEmpty()) {
        qCWarning(lcWatchdog).noquote() << QStringLiteral("'%1' is not signalled: %2").arg(text(watched.name), refusal);
        ++history.disconnects;
        ++history.failures;
        history.lastOutcome = ProcessSignaller::Outcome::Refused;
        history.lastDetail = refusal;
        Q_EMIT actionTaken(key, watched.name, WatchdogAction::Disconnect, QStringLiteral("not signalled: ") + refusal);
        m_disconnectClient(key, QStringLiteral("watchdog expired; its process cannot be signalled: ") + refusal);
        return;
    }
    const PeerProcess process = now.process;
    // Asked by the signaller once the process is pinned by its pidfd, just before the signal.
    auto stillHolds = [this, key, process](QString *why) {
        const int current = m_openDescriptor(key);
        if (current < 0) {
            *why = QStringLiteral("the watched connection has closed");
            return false;
        }
        const HoldingResult held = checkHoldsPeer(current, process);
        if (held.status == Holding::Holds)
            return true;
        *why = held.detail;
        return false;
    };
    m_signalled[key] = watched.name;
    Q_EMIT actionTaken(key, watched.name, watched.action, QStringLiteral("signalling pid %1").arg(process.pid));
    Q_EMIT aboutToSignal(process.pid);
    if (watched.action == WatchdogAction::Kill)
        m_signaller.kill(key, process, stillHolds);
    else
        m_signaller.terminate(key, process, m_settings.killGrace, stillHolds);
}

void ClientWatchdog::onSignalOutcome(quint64 key, qint64 pid, ProcessSignaller::Outcome outcome, const QString &detail)
{
    const auto named = m_signalled.find(key);
    const QByteArray name = named == m_signalled.end() ? QByteArray() : named->second;
    History &history = historyOf(name);
    history.lastOutcome = outcome;
    history.lastDetail = detail;
    bool final = true;
    bool nothingDone = false;
    switch (outcome) {
    case ProcessSignaller::Outcome::TermSent:
    case ProcessSignaller::Outcome::KillSent:
        ++history.signalsSent;
        final = false;
        break;
    case ProcessSignaller::Outcome::Exited:
        ++history.processesEnded;
        break;
    case ProcessSignaller::Outcome::AlreadyGone:
    case ProcessSignaller::Outcome::Refused:
    case ProcessSignaller::Outcome::Failed:
        ++history.failures;
        nothingDone = true;
        break;
    }
    const QString line = QStringLiteral("'%1' pid %2: %3: %4")
                             .arg(text(name)).arg(pid).arg(QLatin1String(ProcessSignaller::outcomeName(outcome)), detail);
    if (nothingDone)
        qCWarning(lcWatchdog).noquote() << line;
    else
        qCInfo(lcWatchdog).noquote() << line;
    Q_EMIT signalOutcome(name, pid, outcome, detail);
    if (outcome == ProcessSignaller::Outcome::Exited) {
        // Children that inherited its sockets (a forked reader) may keep the connections open:
        // the name is released for the restarted process all the same.
        if (m_openDescriptor(key) >= 0)
            m_disconnectClient(key, QStringLiteral("watchdog expired: its process was ended"));
    }
    if (nothingDone) {
        // The client stays hung otherwise, holding its name: take that away at least.
        if (m_openDescriptor(key) >= 0) {
            ++history.disconnects;
            m_disconnectClient(key, QStringLiteral("watchdog expired and its process could not be signalled: ") + detail);
        }
    }
    if (final && named != m_signalled.end())
        m_signalled.erase(named);
}

} // namespace Kennel
