// The commands an admitted monitor may send (PROTOCOL §6, docs/MONITOR.md): disconnect a
// client, send it a test message, start, stop or restart a supervised service. Each is checked,
// carried out through MonitorActions or the service view, logged with who asked, and answered
// with a result; none can take down the broker or a client other than its target.
#pragma once

#include "monitorcodec.h"

#include <QByteArray>
#include <QString>

namespace Kennel {

class MonitorActions;
class MonitorServiceView;

class MonitorControlHandler
{
public:
    // Control text (SendTestMessage) and targets: the bounds of a message and a name.
    static constexpr int MaxControlTargetBytes = 256;

    MonitorControlHandler(int maxNameLength, MonitorServiceView &services, MonitorActions &actions);

    // Carries out `request` from the monitor described as `who` (refused with ShuttingDown if
    // `stopping`), logs it and returns the result to send back.
    MonitorControlResult handle(const QString &who, const MonitorControl &request, bool stopping);

private:
    MonitorControlResult disconnectClient(const QByteArray &target, const QString &who);
    MonitorControlResult sendTestMessage(const QByteArray &target, const QByteArray &text);
    MonitorControlResult serviceAction(MonitorControlAction action, const QByteArray &target);

    const int m_maxNameLength;
    MonitorServiceView &m_services;
    MonitorActions &m_actions;
};

} // namespace Kennel
