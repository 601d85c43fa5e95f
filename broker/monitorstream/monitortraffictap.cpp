#include "monitortraffictap.h"

#include "monitoractions.h"
#include "monitorconnection.h"
#include "session.h"

#include <ctime>

namespace Kennel {

namespace {
qint64 wallClockUs()
{
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return qint64(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}
} // namespace

MonitorTrafficTap::MonitorTrafficTap(MonitorActions &actions)
    : m_actions(actions)
{
}

MonitorTrafficTap::~MonitorTrafficTap()
{
    if (isTapped())
        m_actions.setTrafficTap(nullptr);
    m_sinks.clear();
}

void MonitorTrafficTap::update(const QList<MonitorConnection *> &subscribers, bool closed)
{
    m_sinks.clear();
    if (!closed) {
        for (MonitorConnection *connection : subscribers)
            if (connection->isAdmitted() && connection->wantsTraffic())
                m_sinks.push_back(connection);
    }
    m_actions.setTrafficTap(m_sinks.empty() ? nullptr : this);
}

void MonitorTrafficTap::clear()
{
    m_sinks.clear();
}

bool MonitorTrafficTap::isTapped() const
{
    return m_actions.trafficTap() == this;
}

void MonitorTrafficTap::record(const Endpoint &sender, QByteArrayView target, QByteArrayView payload, DeliveryStatus status)
{
    const qint64 timeUs = wallClockUs();
    // By index: recordTraffic never ends a connection synchronously, but stays cheap to check.
    for (size_t i = 0; i < m_sinks.size(); ++i)
        m_sinks[i]->recordTraffic(timeUs, sender.name(), target, payload, status);
}

void MonitorTrafficTap::recordPublication(const Endpoint &publisher, const Publication &publication)
{
    const qint64 timeUs = wallClockUs();
    for (size_t i = 0; i < m_sinks.size(); ++i)
        m_sinks[i]->recordPublication(timeUs, publisher.name(), publication);
}

void MonitorTrafficTap::recordCall(const CallEnd &call)
{
    const qint64 timeUs = wallClockUs();
    for (size_t i = 0; i < m_sinks.size(); ++i)
        m_sinks[i]->recordCall(timeUs, call);
}

void MonitorTrafficTap::recordHeldOutcome(QByteArrayView source, QByteArrayView target, QByteArrayView payload,
                                          DeliveryStatus status, qint64 heldMs)
{
    const qint64 timeUs = wallClockUs();
    for (size_t i = 0; i < m_sinks.size(); ++i)
        m_sinks[i]->recordTraffic(timeUs, source, target, payload, status, heldMs);
}

} // namespace Kennel
