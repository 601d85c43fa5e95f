// What `kennelctl watch` and `kennelctl sniff` print: one line per event or traffic record, as
// text (journalctl -f / mosquitto_sub -v style) or as one JSON object per line (--json).
// Pure: records in, lines out (without the newline).
#pragma once

#include <monitorcodec.h>

#include <QByteArray>
#include <QString>

namespace KennelCtl {

// One line of `watch`: when, what kind of event, about whom, and the rest.
struct WatchLine
{
    qint64 timeMs = 0;
    QString event;  // joined, left, registered, late, healthy, expired, signalled, exited,
                    // action-failed, disconnected, notified, service, held
    QString name;   // client or service name
    qint64 pid = 0;
    QString detail; // kind of client, close reason, the watchdog's detail, the service's state
};

QString watchdogEventName(Kennel::MonitorWatchdogEventKind kind);
QByteArray formatWatchLine(const WatchLine &line, bool json);
// A service's new state as a watch line's detail: "running (pid 42)", "backoff (restart in 400 ms)".
QString serviceDetail(const Kennel::MonitorService &service);

// "TIME SOURCE -> TARGET STATUS SIZE bytes: PREVIEW", the preview escaped (escapeForLine), with
// "..." when the payload was longer than the preview.
QByteArray formatTrafficLine(const Kennel::MonitorTrafficRecord &record, bool json);

} // namespace KennelCtl
