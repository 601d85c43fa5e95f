#include "monitorcontrolhandler.h"

#include "monitoractions.h"
#include "monitorserviceview.h"
#include "names.h"
#include "service.h"

#include <QLoggingCategory>

namespace Kennel {

namespace {
Q_LOGGING_CATEGORY(lcMonitorControl, "kennel.monitor", QtInfoMsg)

const char *actionName(MonitorControlAction action)
{
    switch (action) {
    case MonitorControlAction::DisconnectClient: return "disconnect client";
    case MonitorControlAction::SendTestMessage: return "send a test message to";
    case MonitorControlAction::RestartService: return "restart service";
    case MonitorControlAction::StopService: return "stop service";
    case MonitorControlAction::StartService: return "start service";
    case MonitorControlAction::ReloadConfig: return "reload the configuration of";
    }
    return "?";
}

// Names a peer chose, safe to print: anything outside printable ASCII becomes '?'.
QString printable(QByteArrayView bytes)
{
    QString out;
    out.reserve(bytes.size());
    for (char c : bytes)
        out.append(c >= 0x20 && c < 0x7f ? QLatin1Char(c) : QLatin1Char('?'));
    return out;
}

MonitorControlResult result(ErrorCode code, const QString &text)
{
    MonitorControlResult r;
    r.code = code;
    r.text = text;
    return r;
}
} // namespace

MonitorControlHandler::MonitorControlHandler(int maxNameLength, MonitorServiceView &services, MonitorActions &actions)
    : m_maxNameLength(maxNameLength)
    , m_services(services)
    , m_actions(actions)
{
}

MonitorControlResult MonitorControlHandler::handle(const QString &who, MonitorRole role, const MonitorControl &request, bool stopping)
{
    const QByteArray target = request.target;
    if (role != MonitorRole::Operator) {
        // Before anything else: a read-only monitor learns nothing about the target either.
        ++m_readOnlyRefused;
        int suppressed = 0;
        if (m_readOnlyLog.allow(&suppressed)) {
            if (suppressed)
                qCWarning(lcMonitorControl, "%d more control requests of read-only monitors not logged", suppressed);
            qCWarning(lcMonitorControl).noquote()
                << QStringLiteral("%1 asked to %2 '%3': read_only - refused, a read-only monitor may not act "
                                  "(%4 refused in all)")
                       .arg(who, QLatin1String(actionName(request.action)), printable(target))
                       .arg(m_readOnlyRefused);
        }
        return result(ErrorCode::ReadOnly,
                      QStringLiteral("this monitor is read-only: it may watch, not control (its token or uid has "
                                     "the read-only role in the broker's [monitor] configuration)"));
    }
    MonitorControlResult outcome;
    if (stopping) {
        outcome = result(ErrorCode::ShuttingDown, QStringLiteral("the broker is shutting down"));
    } else if (request.action == MonitorControlAction::ReloadConfig) {
        // No target: the broker itself. Logged by the reload, line by line, and here with who asked.
        QString summary;
        const bool ok = m_actions.reloadConfig(who, &summary);
        outcome = result(ok ? ErrorCode::None : ErrorCode::NotPermitted, summary);
    } else if (target.isEmpty() || target.size() > MaxControlTargetBytes) {
        outcome = result(ErrorCode::InvalidName, QStringLiteral("a control needs a target name of 1 to %1 bytes").arg(MaxControlTargetBytes));
    } else {
        switch (request.action) {
        case MonitorControlAction::DisconnectClient:
            outcome = disconnectClient(target, who);
            break;
        case MonitorControlAction::SendTestMessage:
            outcome = sendTestMessage(target, request.text);
            break;
        case MonitorControlAction::RestartService:
        case MonitorControlAction::StopService:
        case MonitorControlAction::StartService:
            outcome = serviceAction(request.action, target);
            break;
        case MonitorControlAction::ReloadConfig:
            break;
        }
    }
    const QString line = QStringLiteral("%1 asked to %2 '%3': %4%5")
                             .arg(who, QLatin1String(actionName(request.action)), printable(target),
                                  outcome.code == ErrorCode::None ? QString() : QLatin1String(errorCodeName(outcome.code)) + QStringLiteral(" - "),
                                  outcome.text);
    if (outcome.code == ErrorCode::None)
        qCInfo(lcMonitorControl).noquote() << line;
    else
        qCWarning(lcMonitorControl).noquote() << line;
    return outcome;
}

MonitorControlResult MonitorControlHandler::disconnectClient(const QByteArray &target, const QString &who)
{
    if (!isValidName(target, m_maxNameLength))
        return result(ErrorCode::InvalidName, QStringLiteral("'%1' is not a client name").arg(printable(target)));
    const int closed = m_actions.disconnectClient(target, who);
    if (closed < 0)
        return result(ErrorCode::NotRegistered, QStringLiteral("no client named '%1'").arg(printable(target)));
    return result(ErrorCode::None, QStringLiteral("closed %1 connection%2 of '%3'")
                                       .arg(closed).arg(closed == 1 ? QString() : QStringLiteral("s"), printable(target)));
}

MonitorControlResult MonitorControlHandler::sendTestMessage(const QByteArray &target, const QByteArray &text)
{
    if (!isValidName(target, m_maxNameLength))
        return result(ErrorCode::InvalidName, QStringLiteral("'%1' is not a client name").arg(printable(target)));
    const MonitorActions::TestDelivery delivery = m_actions.sendTestMessage(target, text);
    const DeliveryStatus status = delivery.status;
    const QString statusText = QLatin1String(deliveryStatusName(status));
    switch (status) {
    case DeliveryStatus::Delivered:
        return result(ErrorCode::None, QStringLiteral("delivered to '%1' as from '%2' (%3 bytes)")
                                           .arg(printable(target), QString::fromLatin1(delivery.sender)).arg(text.size()));
    case DeliveryStatus::NoSuchClient:
        return result(ErrorCode::NotRegistered, QStringLiteral("%1: no client named '%2' receives messages").arg(statusText, printable(target)));
    case DeliveryStatus::InvalidTarget:
        return result(ErrorCode::InvalidName, statusText);
    case DeliveryStatus::ShuttingDown:
        return result(ErrorCode::ShuttingDown, statusText);
    case DeliveryStatus::TooLargeForTarget:
        return result(ErrorCode::FrameTooLarge, QStringLiteral("%1: '%2' cannot take %3 bytes")
                                                    .arg(statusText, printable(target)).arg(text.size()));
    case DeliveryStatus::Held:
        return result(ErrorCode::None, QStringLiteral("held for '%1', expected back").arg(printable(target)));
    case DeliveryStatus::TargetQueueFull:
    case DeliveryStatus::SenderNameUnfit:
    case DeliveryStatus::NotRegistered:
    case DeliveryStatus::Expired:
    case DeliveryStatus::DroppedNameCount:
    case DeliveryStatus::DroppedNameBytes:
    case DeliveryStatus::DroppedTotal:
    case DeliveryStatus::StartFailed:
    case DeliveryStatus::PolicyDenied:
    case DeliveryStatus::RemoteTimeout:
    case DeliveryStatus::RemoteDropped:
    case DeliveryStatus::Unacknowledged:
        break;
    }
    return result(ErrorCode::NotPermitted, QStringLiteral("%1: not delivered to '%2'").arg(statusText, printable(target)));
}

MonitorControlResult MonitorControlHandler::serviceAction(MonitorControlAction action, const QByteArray &target)
{
    Service *service = m_services.service(QString::fromUtf8(target));
    if (!service)
        return result(ErrorCode::NotRegistered, QStringLiteral("no service named '%1'").arg(printable(target)));
    const char *before = Service::stateName(service->state());
    switch (action) {
    case MonitorControlAction::RestartService:
        service->restart();
        return result(ErrorCode::None, QStringLiteral("restarting '%1' (was %2)").arg(service->name(), QLatin1String(before)));
    case MonitorControlAction::StopService:
        if (service->state() == Service::State::Stopped)
            return result(ErrorCode::None, QStringLiteral("'%1' is stopped already").arg(service->name()));
        service->stop();
        return result(ErrorCode::None, QStringLiteral("stopping '%1' (was %2)").arg(service->name(), QLatin1String(before)));
    case MonitorControlAction::StartService:
        if (service->state() == Service::State::Running || service->state() == Service::State::Starting)
            return result(ErrorCode::None, QStringLiteral("'%1' is %2 already").arg(service->name(), QLatin1String(before)));
        service->start();
        return result(ErrorCode::None, QStringLiteral("starting '%1' (was %2)").arg(service->name(), QLatin1String(before)));
    case MonitorControlAction::DisconnectClient:
    case MonitorControlAction::SendTestMessage:
    case MonitorControlAction::ReloadConfig:
        break;
    }
    return result(ErrorCode::NotPermitted, QStringLiteral("not a service action"));
}

} // namespace Kennel
