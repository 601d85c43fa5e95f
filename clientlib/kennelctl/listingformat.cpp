#include "listingformat.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSet>

#include <algorithm>

namespace KennelCtl {

using namespace Kennel;

namespace {

// Columns as wide as their widest cell, two spaces apart; the last one is not padded.
QByteArray renderTable(const QList<QStringList> &rows)
{
    QList<qsizetype> widths;
    for (const QStringList &row : rows) {
        for (qsizetype i = 0; i < row.size(); ++i) {
            if (widths.size() <= i)
                widths.append(0);
            widths[i] = std::max(widths[i], row.at(i).size());
        }
    }
    QByteArray out;
    for (const QStringList &row : rows) {
        QString line;
        for (qsizetype i = 0; i < row.size(); ++i)
            line += i + 1 < row.size() ? row.at(i).leftJustified(widths.at(i) + 2) : row.at(i);
        out += line.trimmed().toUtf8() + '\n';
    }
    return out;
}

QString orDash(qint64 value, const QString &text)
{
    return value > 0 ? text : QStringLiteral("-");
}

QString number(quint64 value)
{
    return QString::number(value);
}

QString formatBytes(quint64 bytes)
{
    if (bytes < 1024)
        return QStringLiteral("%1 B").arg(bytes);
    if (bytes < 1024 * 1024)
        return QStringLiteral("%1 KiB").arg(double(bytes) / 1024.0, 0, 'f', 1);
    return QStringLiteral("%1 MiB").arg(double(bytes) / (1024.0 * 1024.0), 0, 'f', 1);
}

const MonitorHeld *heldFor(const QList<MonitorHeld> &held, const QByteArray &name)
{
    for (const MonitorHeld &h : held) {
        if (h.name == name)
            return &h;
    }
    return nullptr;
}

QJsonObject heldJson(const MonitorHeld *h)
{
    return QJsonObject{{QStringLiteral("heldCount"), qint64(h ? h->count : 0)},
                       {QStringLiteral("heldBytes"), qint64(h ? h->bytes : 0)},
                       {QStringLiteral("heldOldestAgeMs"), h && h->count ? h->oldestAgeMs : qint64(-1)}};
}

QString bridgeStateName(quint8 state)
{
    switch (state) {
    case 0: return QStringLiteral("none");
    case 1: return QStringLiteral("disconnected");
    case 2: return QStringLiteral("connected");
    }
    return QStringLiteral("unknown");
}

qint64 uptimeMs(const BrokerSnapshot &s)
{
    return s.begin.brokerStartedMs > 0 ? std::max<qint64>(0, s.begin.brokerTimeMs - s.begin.brokerStartedMs) : -1;
}

QString version(const BrokerSnapshot &s)
{
    return s.begin.brokerVersion.isEmpty() ? s.welcomeVersion : s.begin.brokerVersion;
}

} // namespace

QString clientKindName(MonitorClientKind kind)
{
    switch (kind) {
    case MonitorClientKind::Native:
        return QStringLiteral("native");
    case MonitorClientKind::LegacyReceiver:
        return QStringLiteral("legacy-receiver");
    case MonitorClientKind::LegacySender:
        return QStringLiteral("legacy-sender");
    case MonitorClientKind::Monitor:
        return QStringLiteral("monitor");
    }
    return QStringLiteral("unknown");
}

QString watchStateName(MonitorWatchState state)
{
    switch (state) {
    case MonitorWatchState::NotWatched:
        return QStringLiteral("not-watched");
    case MonitorWatchState::Healthy:
        return QStringLiteral("healthy");
    case MonitorWatchState::Late:
        return QStringLiteral("late");
    case MonitorWatchState::Expired:
        return QStringLiteral("expired");
    }
    return QStringLiteral("unknown");
}

QString serviceStateName(MonitorServiceState state)
{
    switch (state) {
    case MonitorServiceState::Stopped:
        return QStringLiteral("stopped");
    case MonitorServiceState::Starting:
        return QStringLiteral("starting");
    case MonitorServiceState::Running:
        return QStringLiteral("running");
    case MonitorServiceState::Backoff:
        return QStringLiteral("backoff");
    case MonitorServiceState::Stopping:
        return QStringLiteral("stopping");
    case MonitorServiceState::Exited:
        return QStringLiteral("exited");
    case MonitorServiceState::Failed:
        return QStringLiteral("failed");
    }
    return QStringLiteral("unknown");
}

QString formatDuration(qint64 ms)
{
    if (ms < 0)
        return QStringLiteral("-");
    if (ms < 1000)
        return QStringLiteral("%1 ms").arg(ms);
    if (ms < 60000)
        return QStringLiteral("%1 s").arg(double(ms) / 1000.0, 0, 'f', 1);
    const qint64 s = ms / 1000;
    if (s < 3600)
        return QStringLiteral("%1m %2s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
    if (s < 86400)
        return QStringLiteral("%1h %2m %3s").arg(s / 3600).arg((s / 60) % 60, 2, 10, QLatin1Char('0')).arg(s % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1d %2h %3m").arg(s / 86400).arg((s / 3600) % 24, 2, 10, QLatin1Char('0')).arg((s / 60) % 60, 2, 10, QLatin1Char('0'));
}

QString formatTime(qint64 epochMs)
{
    return QDateTime::fromMSecsSinceEpoch(epochMs).toString(Qt::ISODateWithMs);
}

QString formatHeld(const MonitorHeld &h)
{
    if (!h.count)
        return QStringLiteral("-");
    return QStringLiteral("%1 (%2, oldest %3)").arg(h.count).arg(formatBytes(h.bytes), formatDuration(h.oldestAgeMs));
}

QByteArray formatStatus(const BrokerSnapshot &s)
{
    int watched = 0, late = 0;
    for (const MonitorClient &c : s.clients) {
        if (c.watchState != MonitorWatchState::NotWatched)
            ++watched;
        if (c.watchState == MonitorWatchState::Late || c.watchState == MonitorWatchState::Expired)
            ++late;
    }
    QStringList services;
    for (const MonitorService &service : s.services)
        services += QStringLiteral("%1 %2").arg(service.name, serviceStateName(service.state));
    QList<QStringList> rows;
    rows.append({QStringLiteral("broker:"), QStringLiteral("%1 at %2").arg(version(s), s.address)});
    if (s.info) {
        rows.append({QStringLiteral("pid:"), QString::number(s.info->pid)});
        QStringList listeners;
        for (const MonitorListenerInfo &l : s.info->listeners)
            listeners += l.address + (l.monitorsOnly ? (l.tls ? QStringLiteral(" (monitors, TLS)") : QStringLiteral(" (monitors)")) : QString());
        rows.append({QStringLiteral("listening:"), listeners.isEmpty() ? QStringLiteral("-") : listeners.join(QStringLiteral(", "))});
    }
    rows.append({QStringLiteral("admitted:"), s.begin.monitorIdentity.isEmpty() ? QStringLiteral("-") : s.begin.monitorIdentity});
    // Roles (PROTOCOL §6.6): a read-only monitor's start/stop/restart/disconnect are refused.
    rows.append({QStringLiteral("role:"), s.begin.role == MonitorRole::Operator
                                              ? QStringLiteral("operator")
                                              : QStringLiteral("read-only (start, stop, restart and disconnect are refused)")});
    const qint64 up = uptimeMs(s);
    rows.append({QStringLiteral("uptime:"), up < 0 ? QStringLiteral("-")
                                                   : QStringLiteral("%1 (since %2)").arg(formatDuration(up), formatTime(s.begin.brokerStartedMs))});
    rows.append({QStringLiteral("clients:"), QStringLiteral("%1 (%2 watched, %3 late)").arg(s.clients.size()).arg(watched).arg(late)});
    rows.append({QStringLiteral("services:"), services.isEmpty() ? QStringLiteral("none")
                                                                 : QStringLiteral("%1: %2").arg(s.services.size()).arg(services.join(QStringLiteral(", ")))});
    if (const std::optional<MonitorTotals> &t = s.totals) {
        rows.append({QStringLiteral("messages:"), QStringLiteral("%1 routed (%2 bytes), %3 undelivered")
                                                      .arg(number(t->messagesRouted), number(t->bytesRouted), number(t->undelivered))});
        // Held delivery (PROTOCOL §6.7): what waits for names expected back, and what became of it.
        QStringList heldNames;
        for (const MonitorHeld &h : s.held)
            heldNames += QStringLiteral("%1 %2").arg(QString::fromUtf8(h.name), formatHeld(h));
        rows.append({QStringLiteral("held:"), QStringLiteral("%1 now (%2) for %3 name(s)%4")
                                                  .arg(number(t->heldMessages), formatBytes(t->heldBytes))
                                                  .arg(t->heldNames)
                                                  .arg(heldNames.isEmpty() ? QString() : QStringLiteral(": ") + heldNames.join(QStringLiteral(", ")))});
        rows.append({QStringLiteral("held since start:"),
                     QStringLiteral("%1 held, %2 delivered, %3 expired, %4 dropped (%5 name count / %6 name bytes / %7 total), "
                                    "%8 start_failed, %9 refused at delivery")
                         .arg(number(t->heldTotal), number(t->heldDelivered), number(t->heldExpired),
                              number(t->heldDroppedNameCount + t->heldDroppedNameBytes + t->heldDroppedTotal),
                              number(t->heldDroppedNameCount), number(t->heldDroppedNameBytes), number(t->heldDroppedTotal),
                              number(t->heldStartFailed), number(t->heldRefusedAtDelivery))});
        rows.append({QStringLiteral("undelivered:"),
                     QStringLiteral("%1 unacknowledged held again, %2 unacknowledged not held, %3 old-protocol senders not told, "
                                    "%4 senders gone before the outcome")
                         .arg(number(t->heldReheld), number(t->heldUnacknowledged), number(t->heldLegacyUntold), number(t->heldUntold))});
        if (t->bridgeState)
            rows.append({QStringLiteral("bridge:"),
                         QStringLiteral("%1, spool %2 (oldest %3, %4 dropped), %5 forwarded, %6 received, %7 timeouts")
                             .arg(bridgeStateName(t->bridgeState), number(t->bridgeSpoolDepth),
                                  t->bridgeSpoolDepth ? formatDuration(qint64(t->bridgeSpoolOldestAgeMs)) : QStringLiteral("-"),
                                  number(t->bridgeSpoolDropped), number(t->bridgeForwarded), number(t->bridgeReceived),
                                  number(t->bridgeTimeouts))});
        else
            rows.append({QStringLiteral("bridge:"), QStringLiteral("none")});
        rows.append({QStringLiteral("watchdog:"), QStringLiteral("%1 watched, %2 expiries, %3 kills")
                                                      .arg(t->watched).arg(number(t->expiries), number(t->kills))});
        rows.append({QStringLiteral("monitors:"), QString::number(t->monitors)});
        rows.append({QStringLiteral("budgets:"), QStringLiteral("%1 shed, %2 monitor overflows, %3 snapshots refused")
                                                     .arg(number(t->budgetSheds), number(t->monitorOverflows), number(t->snapshotsRefused))});
        rows.append({QStringLiteral("admission:"),
                     QStringLiteral("%1 failures, refused %2 per address / %3 per prefix / %4 room full, %5 timeouts, "
                                    "%6 guesses refused, %7 services refused")
                         .arg(number(t->admissionFailures), number(t->admissionRefusedPerAddress), number(t->admissionRefusedPerPrefix),
                              number(t->admissionRefusedRoomFull), number(t->admissionTimeouts), number(t->guessesRefused),
                              number(t->servicesRefused))});
        rows.append({QStringLiteral("tls:"), QStringLiteral("handshakes refused %1 per address / %2 per prefix / %3 full")
                                                 .arg(number(t->handshakesRefusedPerAddress), number(t->handshakesRefusedPerPrefix),
                                                      number(t->handshakesRefusedFull))});
        // The access policy, when there is one: its rules and what they decided.
        if (t->policyRules > 0 || t->policyDenials > 0) {
            QStringList denying;
            for (const MonitorPolicyRuleCount &r : t->policyRuleCounts) {
                if (r.denials > 0)
                    denying << QStringLiteral("%1 %2/%3").arg(r.name, number(r.denials), number(r.hits));
            }
            rows.append({QStringLiteral("policy:"),
                         QStringLiteral("%1 rules, %2 denials; sends %3 judged, %4 denied, %5 verdicts worked out%6")
                             .arg(t->policyRules)
                             .arg(number(t->policyDenials), number(t->policySendChecked), number(t->policySendDenied),
                                  number(t->policyCacheMisses),
                                  denying.isEmpty() ? QString() : QStringLiteral("; denied/hits by rule: ") + denying.join(QStringLiteral(", ")))});
        }
    } else {
        rows.append({QStringLiteral("totals:"), QStringLiteral("not received")});
    }
    return renderTable(rows);
}

QByteArray formatClients(const QList<MonitorClient> &clients, const QList<MonitorHeld> &held)
{
    QList<QStringList> rows{{QStringLiteral("NAME"), QStringLiteral("KIND"), QStringLiteral("PID"), QStringLiteral("WATCHDOG"),
                             QStringLiteral("FEEDS"), QStringLiteral("DEADLINE"), QStringLiteral("IN"), QStringLiteral("OUT"),
                             QStringLiteral("REFUSED"), QStringLiteral("DROPPED"), QStringLiteral("EXPIRIES"), QStringLiteral("KILLS"),
                             QStringLiteral("HELD")}};
    QSet<QByteArray> connected;
    for (const MonitorClient &c : clients) {
        const bool watched = c.watchState != MonitorWatchState::NotWatched;
        const MonitorHeld *h = heldFor(held, c.name);
        connected.insert(c.name);
        rows.append({QString::fromUtf8(c.name), clientKindName(c.kind), orDash(c.pid, QString::number(c.pid)),
                     watched ? watchStateName(c.watchState) : QStringLiteral("-"), watched ? number(c.feeds) : QStringLiteral("-"),
                     watched ? formatDuration(c.msUntilExpiry).remove(QLatin1Char(' ')) : QStringLiteral("-"), number(c.messagesIn),
                     number(c.messagesOut), number(c.refused), number(c.dropped), QString::number(c.expiries), QString::number(c.kills),
                     h ? formatHeld(*h) : QStringLiteral("-")});
    }
    // Names expected back that hold messages and have no client: the operator's first question
    // after a restart ("where did my messages go?").
    const QString dash = QStringLiteral("-");
    for (const MonitorHeld &h : held) {
        if (h.count && !connected.contains(h.name))
            rows.append({QString::fromUtf8(h.name), QStringLiteral("not-connected"), dash, dash, dash, dash, dash, dash, dash, dash,
                         dash, dash, formatHeld(h)});
    }
    return renderTable(rows);
}

QByteArray formatServices(const QList<MonitorService> &services)
{
    QList<QStringList> rows{{QStringLiteral("NAME"), QStringLiteral("STATE"), QStringLiteral("PID"), QStringLiteral("STARTS"),
                             QStringLiteral("RESTARTS"), QStringLiteral("LAST-EXIT"), QStringLiteral("NEXT-RESTART"), QStringLiteral("ERROR")}};
    for (const MonitorService &s : services) {
        QString lastExit = QStringLiteral("-");
        if (s.lastExitMs > 0)
            lastExit = s.lastExitSignal ? QStringLiteral("signal %1").arg(s.lastExitSignal) : QStringLiteral("code %1").arg(s.lastExitCode);
        rows.append({s.name, serviceStateName(s.state), orDash(s.pid, QString::number(s.pid)), QString::number(s.starts),
                     QString::number(s.restarts), lastExit, s.msUntilRestart >= 0 ? formatDuration(s.msUntilRestart).remove(QLatin1Char(' ')) : QStringLiteral("-"),
                     s.lastError.isEmpty() ? QStringLiteral("-") : s.lastError});
    }
    return renderTable(rows);
}

QJsonObject clientJson(const MonitorClient &c)
{
    QJsonObject o{{QStringLiteral("session"), QString::number(c.sessionId)},
                  {QStringLiteral("name"), QString::fromUtf8(c.name)},
                  {QStringLiteral("kind"), clientKindName(c.kind)},
                  {QStringLiteral("pid"), c.pid},
                  {QStringLiteral("peer"), c.peerAddress},
                  {QStringLiteral("connectedSinceMs"), c.connectedSinceMs},
                  {QStringLiteral("messagesIn"), qint64(c.messagesIn)},
                  {QStringLiteral("messagesOut"), qint64(c.messagesOut)},
                  {QStringLiteral("bytesIn"), qint64(c.bytesIn)},
                  {QStringLiteral("bytesOut"), qint64(c.bytesOut)},
                  {QStringLiteral("refused"), qint64(c.refused)},
                  {QStringLiteral("dropped"), qint64(c.dropped)},
                  {QStringLiteral("watchdog"), watchStateName(c.watchState)},
                  {QStringLiteral("watchIntervalMs"), qint64(c.watchIntervalMs)},
                  {QStringLiteral("watchAllowedMisses"), int(c.watchAllowedMisses)},
                  {QStringLiteral("feeds"), qint64(c.feeds)},
                  {QStringLiteral("msSinceLastFeed"), c.msSinceLastFeed},
                  {QStringLiteral("msUntilExpiry"), c.msUntilExpiry},
                  {QStringLiteral("expiries"), qint64(c.expiries)},
                  {QStringLiteral("kills"), qint64(c.kills)}};
    return o;
}

namespace {
void insertAll(QJsonObject &into, const QJsonObject &from)
{
    for (auto it = from.begin(); it != from.end(); ++it)
        into.insert(it.key(), it.value());
}
} // namespace

QJsonObject serviceJson(const MonitorService &s)
{
    return QJsonObject{{QStringLiteral("name"), s.name},
                       {QStringLiteral("state"), serviceStateName(s.state)},
                       {QStringLiteral("pid"), s.pid},
                       {QStringLiteral("starts"), qint64(s.starts)},
                       {QStringLiteral("restarts"), qint64(s.restarts)},
                       {QStringLiteral("lastExitCode"), s.lastExitCode},
                       {QStringLiteral("lastExitSignal"), s.lastExitSignal},
                       {QStringLiteral("lastExitMs"), s.lastExitMs},
                       {QStringLiteral("msUntilRestart"), s.msUntilRestart},
                       {QStringLiteral("lastError"), s.lastError}};
}

QJsonObject totalsJson(const MonitorTotals &t)
{
    return QJsonObject{{QStringLiteral("timeMs"), t.timeMs},
                       {QStringLiteral("messagesRouted"), qint64(t.messagesRouted)},
                       {QStringLiteral("bytesRouted"), qint64(t.bytesRouted)},
                       {QStringLiteral("undelivered"), qint64(t.undelivered)},
                       {QStringLiteral("clients"), qint64(t.clients)},
                       {QStringLiteral("monitors"), qint64(t.monitors)},
                       {QStringLiteral("watched"), qint64(t.watched)},
                       {QStringLiteral("expiries"), qint64(t.expiries)},
                       {QStringLiteral("kills"), qint64(t.kills)},
                       {QStringLiteral("budgetSheds"), qint64(t.budgetSheds)},
                       {QStringLiteral("monitorOverflows"), qint64(t.monitorOverflows)},
                       {QStringLiteral("snapshotsRefused"), qint64(t.snapshotsRefused)},
                       {QStringLiteral("admissionRefusedPerAddress"), qint64(t.admissionRefusedPerAddress)},
                       {QStringLiteral("admissionRefusedPerPrefix"), qint64(t.admissionRefusedPerPrefix)},
                       {QStringLiteral("admissionRefusedRoomFull"), qint64(t.admissionRefusedRoomFull)},
                       {QStringLiteral("admissionTimeouts"), qint64(t.admissionTimeouts)},
                       {QStringLiteral("guessesRefused"), qint64(t.guessesRefused)},
                       {QStringLiteral("servicesRefused"), qint64(t.servicesRefused)},
                       {QStringLiteral("admissionFailures"), qint64(t.admissionFailures)},
                       {QStringLiteral("handshakesRefusedPerAddress"), qint64(t.handshakesRefusedPerAddress)},
                       {QStringLiteral("handshakesRefusedPerPrefix"), qint64(t.handshakesRefusedPerPrefix)},
                       {QStringLiteral("handshakesRefusedFull"), qint64(t.handshakesRefusedFull)},
                       {QStringLiteral("policyRules"), qint64(t.policyRules)},
                       {QStringLiteral("policyDenials"), qint64(t.policyDenials)},
                       {QStringLiteral("policySendChecked"), qint64(t.policySendChecked)},
                       {QStringLiteral("policySendDenied"), qint64(t.policySendDenied)},
                       {QStringLiteral("policyCacheMisses"), qint64(t.policyCacheMisses)},
                       // Held delivery (PROTOCOL §6.7).
                       {QStringLiteral("held"), QJsonObject{{QStringLiteral("messages"), qint64(t.heldMessages)},
                                                            {QStringLiteral("bytes"), qint64(t.heldBytes)},
                                                            {QStringLiteral("names"), qint64(t.heldNames)},
                                                            {QStringLiteral("held"), qint64(t.heldTotal)},
                                                            {QStringLiteral("delivered"), qint64(t.heldDelivered)},
                                                            {QStringLiteral("refusedAtDelivery"), qint64(t.heldRefusedAtDelivery)},
                                                            {QStringLiteral("expired"), qint64(t.heldExpired)},
                                                            {QStringLiteral("droppedNameCount"), qint64(t.heldDroppedNameCount)},
                                                            {QStringLiteral("droppedNameBytes"), qint64(t.heldDroppedNameBytes)},
                                                            {QStringLiteral("droppedTotal"), qint64(t.heldDroppedTotal)},
                                                            {QStringLiteral("startFailed"), qint64(t.heldStartFailed)},
                                                            {QStringLiteral("reheld"), qint64(t.heldReheld)},
                                                            {QStringLiteral("unacknowledged"), qint64(t.heldUnacknowledged)},
                                                            {QStringLiteral("legacyUntold"), qint64(t.heldLegacyUntold)},
                                                            {QStringLiteral("untold"), qint64(t.heldUntold)}}},
                       // The bridge to the fleet (docs/FLEET.md); state "none" without one.
                       {QStringLiteral("bridge"), QJsonObject{{QStringLiteral("state"), bridgeStateName(t.bridgeState)},
                                                              {QStringLiteral("spoolDepth"), qint64(t.bridgeSpoolDepth)},
                                                              {QStringLiteral("spoolOldestAgeMs"), qint64(t.bridgeSpoolOldestAgeMs)},
                                                              {QStringLiteral("spoolDropped"), qint64(t.bridgeSpoolDropped)},
                                                              {QStringLiteral("forwarded"), qint64(t.bridgeForwarded)},
                                                              {QStringLiteral("received"), qint64(t.bridgeReceived)},
                                                              {QStringLiteral("timeouts"), qint64(t.bridgeTimeouts)}}}};
}

QByteArray statusJson(const BrokerSnapshot &s)
{
    int watched = 0, late = 0;
    for (const MonitorClient &c : s.clients) {
        watched += c.watchState != MonitorWatchState::NotWatched;
        late += c.watchState == MonitorWatchState::Late || c.watchState == MonitorWatchState::Expired;
    }
    QJsonArray services;
    for (const MonitorService &service : s.services)
        services.append(QJsonObject{{QStringLiteral("name"), service.name}, {QStringLiteral("state"), serviceStateName(service.state)}});
    QJsonObject o{{QStringLiteral("broker"), s.address},
                  {QStringLiteral("version"), version(s)},
                  {QStringLiteral("admittedBy"), s.begin.monitorIdentity},
                  {QStringLiteral("role"), QLatin1String(monitorRoleName(s.begin.role))}, // roles
                  {QStringLiteral("startedMs"), s.begin.brokerStartedMs},
                  {QStringLiteral("uptimeMs"), uptimeMs(s)},
                  {QStringLiteral("clients"), int(s.clients.size())},
                  {QStringLiteral("watched"), watched},
                  {QStringLiteral("late"), late},
                  {QStringLiteral("services"), services}};
    QJsonArray held;
    for (const MonitorHeld &h : s.held) {
        QJsonObject entry{{QStringLiteral("name"), QString::fromUtf8(h.name)}};
        insertAll(entry, heldJson(&h));
        held.append(entry);
    }
    o.insert(QStringLiteral("held"), held);
    if (s.totals)
        o.insert(QStringLiteral("totals"), totalsJson(*s.totals));
    if (s.info) {
        o.insert(QStringLiteral("pid"), s.info->pid);
        QJsonArray listeners;
        for (const MonitorListenerInfo &l : s.info->listeners)
            listeners.append(QJsonObject{{QStringLiteral("address"), l.address},
                                         {QStringLiteral("monitorsOnly"), l.monitorsOnly},
                                         {QStringLiteral("tls"), l.tls}});
        o.insert(QStringLiteral("listeners"), listeners);
    }
    return QJsonDocument(o).toJson(QJsonDocument::Compact) + '\n';
}

QByteArray clientsJson(const QList<MonitorClient> &clients, const QList<MonitorHeld> &held)
{
    QJsonArray a;
    QSet<QByteArray> connected;
    for (const MonitorClient &c : clients) {
        QJsonObject o = clientJson(c);
        o.insert(QStringLiteral("connected"), true);
        insertAll(o, heldJson(heldFor(held, c.name)));
        connected.insert(c.name);
        a.append(o);
    }
    // A name held for with no client: its name, connected false and what is held.
    for (const MonitorHeld &h : held) {
        if (!h.count || connected.contains(h.name))
            continue;
        QJsonObject o{{QStringLiteral("name"), QString::fromUtf8(h.name)}, {QStringLiteral("connected"), false}};
        insertAll(o, heldJson(&h));
        a.append(o);
    }
    return QJsonDocument(a).toJson(QJsonDocument::Compact) + '\n';
}

QByteArray servicesJson(const QList<MonitorService> &services)
{
    QJsonArray a;
    for (const MonitorService &s : services)
        a.append(serviceJson(s));
    return QJsonDocument(a).toJson(QJsonDocument::Compact) + '\n';
}

} // namespace KennelCtl
