// How kennel-monitor words and formats what the stream carries: state names, durations, sizes,
// payload previews. One place, so the tables, the events log, the CSV export and the tests agree.
#pragma once

#include "monitorcodec.h"

#include <QByteArray>
#include <QString>

namespace Kennel::Format {

QString clientKind(MonitorClientKind kind);          // "native", "legacy receiver", ...
QString watchState(MonitorWatchState state);         // "not watched", "healthy", "late", "expired"
QString serviceState(MonitorServiceState state);     // "running", "backoff", ...
QString watchdogEventKind(MonitorWatchdogEventKind kind);
QString controlAction(MonitorControlAction action);  // "disconnect", "send test message", ...
// deliveryStatusName() for known values, "status N" for the ones a newer broker may add.
QString deliveryStatus(quint16 status);
QString errorCode(ErrorCode code);
// Roles (PROTOCOL §6.6): why a control is greyed on a read-only link (a tooltip).
QString readOnlyTooltip();

// "1 client", "3 clients": the number with the word in the form it takes. English only, as
// the rest of the monitor.
QString count(qint64 n, const char *singular, const char *plural);

QString duration(qint64 ms);  // "350 ms", "4.2 s", "3 min 05 s", "2 h 01 min"
QString bytes(quint64 bytes); // "512 B", "1.5 KiB", "3.0 MiB"
QString rate(double perSecond, bool bytes);
QString wallClock(qint64 msSinceEpoch);        // local "hh:mm:ss", with the date when not today
QString wallClockPrecise(qint64 usSinceEpoch); // local "hh:mm:ss.zzz"
QString isoUtc(qint64 usSinceEpoch);           // "2024-05-01T12:00:00.123456Z", for exports

// A payload preview as text: UTF-8 where it decodes, every control or undecodable byte shown as
// '·', so a binary payload cannot garble a table row or a CSV line.
QString previewText(const QByteArray &payload);
QString previewHex(const QByteArray &payload); // "4b 4e 01 ..."
// hexdump -C's layout: per line the offset, `perLine` bytes in hex (a gap in the middle) and the
// same bytes as ASCII, '.' for anything not printable. Lines end with '\n'. With 16 (hexdump's):
// "00000000  4b 4e 01 41 20 20 20 20  20 20 20 20 20 20 20 20  |KN.A            |"
QString hexDump(const QByteArray &bytes, int perLine = 16);

} // namespace Kennel::Format
