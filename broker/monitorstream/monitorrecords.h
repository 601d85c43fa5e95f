// The records a monitor is sent about the broker (PROTOCOL §6, docs/MONITOR.md): the snapshot a
// Subscribe is answered with, a client's and a service's record, a watchdog event, and the
// once-a-second refresh of the client records that changed. Built from the read-only views; the
// hub decides who gets them and when.
//
// Client records are re-sent at most once a second, and only to monitors whose last record of
// that client differs (by signature): there is no event per message or per feed. A monitor whose
// queue is over half its bound skips a refresh (it gets the changes at the next one).
#pragma once

#include "monitorcodec.h"

#include <QByteArray>
#include <QList>
#include <QString>

namespace Kennel {

class ClientWatchdog;
class MonitorClientView;
class MonitorConnection;
class MonitorServiceView;
class Service;
class Session;

class MonitorRecords
{
public:
    MonitorRecords(const MonitorClientView &clients, const MonitorServiceView &services, const ClientWatchdog &watchdog);

    // Wall-clock milliseconds, as records carry them.
    static qint64 nowMs();
    // The owner if it is known already, else the process that connected a Unix socket, else 0.
    static qint64 knownPid(const Session &session);
    MonitorClient client(const Session &session) const;
    // What the refresh compares; a collision only delays an update by a second.
    static quint64 signature(const MonitorClient &record);
    MonitorService service(const Service &service) const;
    // pid -1: the connection's process if the kernel named it already.
    MonitorWatchdogEvent watchdogEvent(quint64 sessionId, const QByteArray &name, MonitorWatchdogEventKind kind,
                                       const QString &detail, qint64 pid = -1) const;

    // SnapshotBegin, every registered client and every service, SnapshotEnd; resets what the
    // monitor was last told about each client.
    void sendSnapshot(MonitorConnection &connection) const;
    // The client records that changed since each subscriber last heard of them. A copy of the
    // list: a write may end a connection, and the hub then takes it off its own.
    void refreshClients(QList<MonitorConnection *> subscribers, qint64 maxQueueBytes) const;

private:
    const MonitorClientView &m_clients;
    const MonitorServiceView &m_services;
    const ClientWatchdog &m_watchdog;
    qint64 m_startedMs = 0;
};

} // namespace Kennel
