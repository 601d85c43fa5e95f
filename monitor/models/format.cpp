#include "format.h"

#include <QDate>
#include <QDateTime>

namespace Kennel::Format {

QString clientKind(MonitorClientKind kind)
{
    switch (kind) {
    case MonitorClientKind::Native:
        return QStringLiteral("native");
    case MonitorClientKind::LegacyReceiver:
        return QStringLiteral("legacy receiver");
    case MonitorClientKind::LegacySender:
        return QStringLiteral("legacy sender");
    case MonitorClientKind::Monitor:
        return QStringLiteral("monitor");
    }
    return QStringLiteral("kind %1").arg(int(kind));
}

QString watchState(MonitorWatchState state)
{
    switch (state) {
    case MonitorWatchState::NotWatched:
        return QStringLiteral("not watched");
    case MonitorWatchState::Healthy:
        return QStringLiteral("healthy");
    case MonitorWatchState::Late:
        return QStringLiteral("late");
    case MonitorWatchState::Expired:
        return QStringLiteral("expired");
    }
    return QStringLiteral("state %1").arg(int(state));
}

QString serviceState(MonitorServiceState state)
{
    switch (state) {
    case MonitorServiceState::Stopped:
        return QStringLiteral("stopped");
    case MonitorServiceState::Starting:
        return QStringLiteral("starting");
    case MonitorServiceState::Running:
        return QStringLiteral("running");
    case MonitorServiceState::Backoff:
        return QStringLiteral("waiting to restart");
    case MonitorServiceState::Stopping:
        return QStringLiteral("stopping");
    case MonitorServiceState::Exited:
        return QStringLiteral("exited");
    case MonitorServiceState::Failed:
        return QStringLiteral("failed");
    }
    return QStringLiteral("state %1").arg(int(state));
}

QString watchdogEventKind(MonitorWatchdogEventKind kind)
{
    switch (kind) {
    case MonitorWatchdogEventKind::Registered:
        return QStringLiteral("watched");
    case MonitorWatchdogEventKind::Late:
        return QStringLiteral("late");
    case MonitorWatchdogEventKind::Healthy:
        return QStringLiteral("healthy again");
    case MonitorWatchdogEventKind::Expired:
        return QStringLiteral("expired");
    case MonitorWatchdogEventKind::Signalled:
        return QStringLiteral("signalled");
    case MonitorWatchdogEventKind::ProcessExited:
        return QStringLiteral("process ended");
    case MonitorWatchdogEventKind::ActionFailed:
        return QStringLiteral("action failed");
    case MonitorWatchdogEventKind::Disconnected:
        return QStringLiteral("disconnected by watchdog");
    case MonitorWatchdogEventKind::Notified:
        return QStringLiteral("expiry notified");
    }
    return QStringLiteral("event %1").arg(int(kind));
}

QString controlAction(MonitorControlAction action)
{
    switch (action) {
    case MonitorControlAction::DisconnectClient:
        return QStringLiteral("disconnect");
    case MonitorControlAction::SendTestMessage:
        return QStringLiteral("send test message to");
    case MonitorControlAction::RestartService:
        return QStringLiteral("restart");
    case MonitorControlAction::StopService:
        return QStringLiteral("stop");
    case MonitorControlAction::StartService:
        return QStringLiteral("start");
    case MonitorControlAction::ReloadConfig:
        return QStringLiteral("reload the configuration of");
    }
    return QStringLiteral("action %1").arg(int(action));
}

QString deliveryStatus(quint16 status)
{
    // Every status the protocol names, held delivery's among them ("held", "expired", ...).
    const char *name = deliveryStatusName(DeliveryStatus(status));
    if (qstrcmp(name, "unknown") != 0)
        return QString::fromLatin1(name);
    return QStringLiteral("status %1").arg(status);
}

QString errorCode(ErrorCode code)
{
    const char *name = errorCodeName(code);
    return name ? QString::fromLatin1(name) : QStringLiteral("error %1").arg(int(code));
}

QString readOnlyTooltip()
{
    return QStringLiteral("Read-only monitor: the broker admitted this connection to watch, not to control "
                          "(its token or uid has the read-only role in the broker's [monitor] configuration)");
}

QString count(qint64 n, const char *singular, const char *plural)
{
    return QStringLiteral("%1 %2").arg(n).arg(QLatin1String(n == 1 ? singular : plural));
}

QString duration(qint64 ms)
{
    if (ms < 0)
        return QStringLiteral("—");
    if (ms < 1000)
        return QStringLiteral("%1 ms").arg(ms);
    if (ms < 60 * 1000)
        return QStringLiteral("%1 s").arg(double(ms) / 1000.0, 0, 'f', 1);
    const qint64 s = ms / 1000;
    if (s < 3600)
        return QStringLiteral("%1 min %2 s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
    if (s < 24 * 3600)
        return QStringLiteral("%1 h %2 min").arg(s / 3600).arg((s / 60) % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1 d %2 h").arg(s / 86400).arg((s / 3600) % 24);
}

QString bytes(quint64 bytes)
{
    if (bytes < 1024)
        return QStringLiteral("%1 B").arg(bytes);
    const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
    double value = double(bytes) / 1024.0;
    int unit = 0;
    while (value >= 1024.0 && unit < 3) {
        value /= 1024.0;
        ++unit;
    }
    return QStringLiteral("%1 %2").arg(value, 0, 'f', 1).arg(QLatin1String(units[unit]));
}

QString rate(double perSecond, bool isBytes)
{
    if (isBytes)
        return bytes(quint64(perSecond + 0.5)) + QStringLiteral("/s");
    if (perSecond >= 10000)
        return QStringLiteral("%1k msg/s").arg(perSecond / 1000.0, 0, 'f', 1);
    return QStringLiteral("%1 msg/s").arg(perSecond, 0, 'f', perSecond < 10 ? 1 : 0);
}

QString wallClock(qint64 msSinceEpoch)
{
    if (msSinceEpoch <= 0)
        return QStringLiteral("—");
    const QDateTime t = QDateTime::fromMSecsSinceEpoch(msSinceEpoch);
    if (t.date() == QDate::currentDate())
        return t.toString(QStringLiteral("HH:mm:ss"));
    return t.toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"));
}

QString wallClockPrecise(qint64 usSinceEpoch)
{
    return QDateTime::fromMSecsSinceEpoch(usSinceEpoch / 1000).toString(QStringLiteral("HH:mm:ss.zzz"));
}

QString isoUtc(qint64 usSinceEpoch)
{
    const qint64 ms = usSinceEpoch >= 0 ? usSinceEpoch / 1000 : (usSinceEpoch - 999) / 1000;
    const qint64 micros = usSinceEpoch - ms * 1000;
    return QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC).toString(QStringLiteral("yyyy-MM-ddTHH:mm:ss.zzz"))
        + QStringLiteral("%1Z").arg(micros, 3, 10, QLatin1Char('0'));
}

QString previewText(const QByteArray &payload)
{
    QString text = QString::fromUtf8(payload);
    for (QChar &c : text) {
        const char16_t u = c.unicode();
        if (u < 0x20 || u == 0x7f || u == 0xfffd || (u >= 0x80 && u < 0xa0) || c.category() == QChar::Separator_Line
            || c.category() == QChar::Separator_Paragraph)
            c = QChar(0x00b7);
    }
    return text;
}

QString previewHex(const QByteArray &payload)
{
    return QString::fromLatin1(payload.toHex(' '));
}

QString hexDump(const QByteArray &bytes, int perLine)
{
    const int PerLine = std::max(2, perLine);
    QString out;
    for (qsizetype at = 0; at < bytes.size(); at += PerLine) {
        QString hex;
        QString ascii;
        for (int i = 0; i < PerLine; ++i) {
            if (i == PerLine / 2)
                hex += u' ';
            if (at + i < bytes.size()) {
                const auto b = uchar(bytes.at(at + i));
                hex += QStringLiteral("%1 ").arg(b, 2, 16, QLatin1Char('0'));
                ascii += b >= 0x20 && b < 0x7f ? QChar(char16_t(b)) : QChar(u'.');
            } else {
                hex += QStringLiteral("   ");
            }
        }
        out += QStringLiteral("%1  %2 |%3|\n").arg(at, 8, 16, QLatin1Char('0')).arg(hex, ascii);
    }
    return out;
}

} // namespace Kennel::Format
