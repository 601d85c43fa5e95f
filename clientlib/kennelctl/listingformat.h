// What `kennelctl status`, `clients` and `services` print: a table or summary for people, or JSON
// (--json) for scripts, from one snapshot of the monitor stream. Pure: records in, text out.
#pragma once

#include <monitorcodec.h>

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <optional>

namespace KennelCtl {

// One snapshot as the monitor stream sends it, and the first totals after it (if any came).
struct BrokerSnapshot
{
    QString address;       // where kennelctl connected, for display
    QString welcomeVersion; // from the Welcome, when the snapshot has none
    Kennel::MonitorSnapshotBegin begin;
    QList<Kennel::MonitorClient> clients;
    QList<Kennel::MonitorService> services;
    std::optional<Kennel::MonitorTotals> totals;
    std::optional<Kennel::MonitorBrokerInfo> info; // absent from an older broker
    QList<Kennel::MonitorHeld> held; // names holding messages (PROTOCOL §6.7); none from an older broker
};

QString clientKindName(Kennel::MonitorClientKind kind);
QString watchStateName(Kennel::MonitorWatchState state);
QString serviceStateName(Kennel::MonitorServiceState state);
// "1h 02m 03s", "4.2 s", "350 ms"
QString formatDuration(qint64 ms);
// ISO 8601 local time with milliseconds
QString formatTime(qint64 epochMs);

QByteArray formatStatus(const BrokerSnapshot &snapshot);
// `held`: a HELD column, and a row for each name held for that has no client ("not connected").
QByteArray formatClients(const QList<Kennel::MonitorClient> &clients, const QList<Kennel::MonitorHeld> &held = {});
QByteArray formatServices(const QList<Kennel::MonitorService> &services);

QJsonObject clientJson(const Kennel::MonitorClient &client);
QJsonObject serviceJson(const Kennel::MonitorService &service);
QJsonObject totalsJson(const Kennel::MonitorTotals &totals);
QByteArray statusJson(const BrokerSnapshot &snapshot);
QByteArray clientsJson(const QList<Kennel::MonitorClient> &clients, const QList<Kennel::MonitorHeld> &held = {});
// "3 (1.2 KiB, oldest 4.1 s)", or "-" when nothing is held.
QString formatHeld(const Kennel::MonitorHeld &held);
QByteArray servicesJson(const QList<Kennel::MonitorService> &services);

} // namespace KennelCtl
