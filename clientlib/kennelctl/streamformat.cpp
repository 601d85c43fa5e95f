#include "streamformat.h"

#include "commands.h"
#include "listingformat.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>

namespace KennelCtl {

using namespace Kennel;

QString watchdogEventName(MonitorWatchdogEventKind kind)
{
    switch (kind) {
    case MonitorWatchdogEventKind::Registered:
        return QStringLiteral("registered");
    case MonitorWatchdogEventKind::Late:
        return QStringLiteral("late");
    case MonitorWatchdogEventKind::Healthy:
        return QStringLiteral("healthy");
    case MonitorWatchdogEventKind::Expired:
        return QStringLiteral("expired");
    case MonitorWatchdogEventKind::Signalled:
        return QStringLiteral("signalled");
    case MonitorWatchdogEventKind::ProcessExited:
        return QStringLiteral("exited");
    case MonitorWatchdogEventKind::ActionFailed:
        return QStringLiteral("action-failed");
    case MonitorWatchdogEventKind::Disconnected:
        return QStringLiteral("disconnected");
    case MonitorWatchdogEventKind::Notified:
        return QStringLiteral("notified");
    }
    return QStringLiteral("unknown");
}

QString serviceDetail(const MonitorService &s)
{
    QString text = serviceStateName(s.state);
    if (s.state == MonitorServiceState::Backoff && s.msUntilRestart >= 0)
        text += QStringLiteral(" (restart in %1)").arg(formatDuration(s.msUntilRestart));
    else if (s.pid > 0 && (s.state == MonitorServiceState::Running || s.state == MonitorServiceState::Starting))
        text += QStringLiteral(" (pid %1)").arg(s.pid);
    else if (!s.lastError.isEmpty())
        text += QStringLiteral(" (%1)").arg(s.lastError);
    return text;
}

QByteArray formatWatchLine(const WatchLine &line, bool json)
{
    if (json) {
        QJsonObject o{{QStringLiteral("time"), formatTime(line.timeMs)},
                      {QStringLiteral("timeMs"), line.timeMs},
                      {QStringLiteral("event"), line.event},
                      {QStringLiteral("name"), line.name},
                      {QStringLiteral("detail"), line.detail}};
        if (line.pid > 0)
            o.insert(QStringLiteral("pid"), line.pid);
        return QJsonDocument(o).toJson(QJsonDocument::Compact);
    }
    QString text = QStringLiteral("%1 %2 %3").arg(formatTime(line.timeMs), line.event, line.name);
    if (line.pid > 0)
        text += QStringLiteral(" pid %1").arg(line.pid);
    if (!line.detail.isEmpty())
        text += QStringLiteral(": ") + line.detail;
    // Names and details come from clients; one event stays one line.
    return escapeForLine(text.toUtf8());
}

QByteArray formatTrafficLine(const MonitorTrafficRecord &r, bool json)
{
    const char *statusName = deliveryStatusName(r.status);
    QString status = statusName ? QString::fromLatin1(statusName) : QStringLiteral("status_%1").arg(int(r.status));
    // A held message's final outcome (PROTOCOL ): "delivered after 812 ms held".
    const QString heldFor = r.heldMs >= 0 ? QStringLiteral(" after %1 ms held").arg(r.heldMs) : QString();
    const QString time = QDateTime::fromMSecsSinceEpoch(r.timeUs / 1000).toString(Qt::ISODateWithMs);
    const bool truncated = quint32(r.preview.size()) < r.size;
    const QByteArray preview = escapeForLine(r.preview);
    if (json) {
        QJsonObject o{{QStringLiteral("time"), time},
                                         {QStringLiteral("timeUs"), r.timeUs},
                                         {QStringLiteral("source"), QString::fromUtf8(escapeForLine(r.source))},
                                         {QStringLiteral("target"), QString::fromUtf8(escapeForLine(r.target))},
                                         {QStringLiteral("status"), status},
                                         {QStringLiteral("size"), qint64(r.size)},
                                         {QStringLiteral("preview"), QString::fromUtf8(preview)},
                                         {QStringLiteral("previewHex"), QString::fromLatin1(r.preview.toHex())},
                                         {QStringLiteral("truncated"), truncated}};
        if (r.heldMs >= 0)
            o.insert(QStringLiteral("heldMs"), r.heldMs);
        return QJsonDocument(o).toJson(QJsonDocument::Compact);
    }
    return time.toUtf8() + ' ' + escapeForLine(r.source) + " -> " + escapeForLine(r.target) + ' ' + (status + heldFor).toUtf8() + ' '
           + QByteArray::number(r.size) + " bytes: " + preview + (truncated ? "..." : "");
}

} // namespace KennelCtl
