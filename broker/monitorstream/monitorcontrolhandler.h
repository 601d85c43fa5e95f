// The commands an admitted monitor may send (PROTOCOL §6, docs/MONITOR.md): disconnect a
// client, send it a test message, start, stop or restart a supervised service. Each is checked,
// carried out through MonitorActions or the service view, logged with who asked, and answered
// with a result; none can take down the broker or a client other than its target.
#pragma once

#include "logthrottle.h"
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
    // `stopping`, with ReadOnly, counted and logged at most a few lines a second, if `role` is
    // ReadOnly), logs it and returns the result to send back.
    MonitorControlResult handle(const QString &who, MonitorRole role, const MonitorControl &request, bool stopping);
    // Requests refused because the monitor was read-only.
    quint64 readOnlyRefused() const { return m_readOnlyRefused; }

private:
    MonitorControlResult disconnectClient(const QByteArray &target, const QString &who);
    MonitorControlResult sendTestMessage(const QByteArray &target, const QByteArray &text);
    MonitorControlResult serviceAction(MonitorControlAction action, const QByteArray &target);

    const int m_maxNameLength;
    MonitorServiceView &m_services;
    MonitorActions &m_actions;
    quint64 m_readOnlyRefused = 0;
    LogThrottle m_readOnlyLog{5}; // a read-only monitor clicking in a loop cannot flood the log
};

} // namespace Kennel
