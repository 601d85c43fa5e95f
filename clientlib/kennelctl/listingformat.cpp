#include "listingformat.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>

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
    const qint64 up = uptimeMs(s);
    rows.append({QStringLiteral("uptime:"), up < 0 ? QStringLiteral("-")
                                                   : QStringLiteral("%1 (since %2)").arg(formatDuration(up), formatTime(s.begin.brokerStartedMs))});
    rows.append({QStringLiteral("clients:"), QStringLiteral("%1 (%2 watched, %3 late)").arg(s.clients.size()).arg(watched).arg(late)});
    rows.append({QStringLiteral("services:"), services.isEmpty() ? QStringLiteral("none")
                                                                 : QStringLiteral("%1: %2").arg(s.services.size()).arg(services.join(QStringLiteral(", ")))});
    if (const std::optional<MonitorTotals> &t = s.totals) {
        rows.append({QStringLiteral("messages:"), QStringLiteral("%1 routed (%2 bytes), %3 undelivered")
                                                      .arg(number(t->messagesRouted), number(t->bytesRouted), number(t->undelivered))});
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

QByteArray formatClients(const QList<MonitorClient> &clients)
{
    QList<QStringList> rows{{QStringLiteral("NAME"), QStringLiteral("KIND"), QStringLiteral("PID"), QStringLiteral("WATCHDOG"),
                             QStringLiteral("FEEDS"), QStringLiteral("DEADLINE"), QStringLiteral("IN"), QStringLiteral("OUT"),
                             QStringLiteral("REFUSED"), QStringLiteral("DROPPED"), QStringLiteral("EXPIRIES"), QStringLiteral("KILLS")}};
    for (const MonitorClient &c : clients) {
        const bool watched = c.watchState != MonitorWatchState::NotWatched;
        rows.append({QString::fromUtf8(c.name), clientKindName(c.kind), orDash(c.pid, QString::number(c.pid)),
                     watched ? watchStateName(c.watchState) : QStringLiteral("-"), watched ? number(c.feeds) : QStringLiteral("-"),
                     watched ? formatDuration(c.msUntilExpiry).remove(QLatin1Char(' ')) : QStringLiteral("-"), number(c.messagesIn),
                     number(c.messagesOut), number(c.refused), number(c.dropped), QString::number(c.expiries), QString::number(c.kills)});
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
                       {QStringLiteral("policyCacheMisses"), qint64(t.policyCacheMisses)}};
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
                  {QStringLiteral("startedMs"), s.begin.brokerStartedMs},
                  {QStringLiteral("uptimeMs"), uptimeMs(s)},
                  {QStringLiteral("clients"), int(s.clients.size())},
                  {QStringLiteral("watched"), watched},
                  {QStringLiteral("late"), late},
                  {QStringLiteral("services"), services}};
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

QByteArray clientsJson(const QList<MonitorClient> &clients)
{
    QJsonArray a;
    for (const MonitorClient &c : clients)
        a.append(clientJson(c));
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
