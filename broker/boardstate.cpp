#include "boardstate.h"

#include "bridgemanager.h"
#include "broker.h"

#include <QJsonArray>

namespace Kennel {

BoardState::BoardState(Broker &broker, BridgeManager &bridge, QObject *parent)
    : QObject(parent)
    , m_broker(broker)
    , m_bridge(bridge)
{
    ClientWatchdog &watchdog = broker.watchdog();
    connect(&watchdog, &ClientWatchdog::stateChanged, this,
            [this](quint64, const QByteArray &name, WatchState, WatchState to) {
                if (to == WatchState::Expired) {
                    ++m_expiries;
                    m_bridge.publishEvent({{QStringLiteral("event"), QStringLiteral("expiry")},
                                           {QStringLiteral("client"), QString::fromLatin1(name)}});
                    return; // publishEvent refreshes the summary
                }
                m_bridge.noteChange();
            });
    connect(&watchdog, &ClientWatchdog::actionTaken, this,
            [this](quint64, const QByteArray &name, WatchdogAction action, const QString &detail) {
                if (action != WatchdogAction::Terminate && action != WatchdogAction::Kill)
                    return;
                ++m_kills;
                m_bridge.publishEvent({{QStringLiteral("event"), QStringLiteral("kill")},
                                       {QStringLiteral("client"), QString::fromLatin1(name)},
                                       {QStringLiteral("action"), QLatin1String(watchdogActionName(action))},
                                       {QStringLiteral("detail"), detail}});
            });
    connect(&broker.supervisor(), &Supervisor::serviceStateChanged, this, [this](Service *service, Service::State state) {
        if (state == Service::State::Starting && service->status().restarts > 0) {
            ++m_restarts;
            m_bridge.publishEvent({{QStringLiteral("event"), QStringLiteral("restart")},
                                   {QStringLiteral("service"), service->name()},
                                   {QStringLiteral("restarts"), service->status().restarts}});
        } else if (state == Service::State::Failed) {
            ++m_serviceFailures;
            m_bridge.publishEvent({{QStringLiteral("event"), QStringLiteral("service_failed")},
                                   {QStringLiteral("service"), service->name()},
                                   {QStringLiteral("error"), service->status().lastError}});
        } else {
            m_bridge.noteChange();
        }
    });
}

QJsonObject BoardState::summary() const
{
    qint64 clients = 0;
    qint64 watched = 0;
    qint64 late = 0;
    const DeadlineEngine &engine = m_broker.watchdog().engine();
    m_broker.forEachSession([&](const Session &session) {
        if (session.kind() != Session::Kind::Client)
            return;
        ++clients;
        if (const DeadlineEngine::Entry *entry = engine.entry(session.id())) {
            ++watched;
            if (entry->state == WatchState::Late)
                ++late;
        }
    });
    QJsonArray services;
    qint64 failed = 0;
    for (const Service *service : m_broker.supervisor().services()) {
        const Service::Status status = service->status();
        if (status.state == Service::State::Failed)
            ++failed;
        services.append(QJsonObject{{QStringLiteral("name"), service->name()},
                                    {QStringLiteral("state"), QLatin1String(Service::stateName(status.state))},
                                    {QStringLiteral("pid"), status.pid},
                                    {QStringLiteral("restarts"), status.restarts}});
    }
    const TrafficCounters &totals = m_broker.totals();
    return QJsonObject{
        {QStringLiteral("schema"), 1},
        {QStringLiteral("clients"), clients},
        {QStringLiteral("watched"), watched},
        {QStringLiteral("late"), late},
        {QStringLiteral("expiries"), qint64(m_expiries)},
        {QStringLiteral("kills"), qint64(m_kills)},
        {QStringLiteral("restarts"), qint64(m_restarts)},
        {QStringLiteral("services_failed"), failed},
        {QStringLiteral("services"), services},
        {QStringLiteral("counters"), QJsonObject{{QStringLiteral("messages_in"), qint64(totals.messagesIn)},
                                                 {QStringLiteral("messages_out"), qint64(totals.messagesOut)},
                                                 {QStringLiteral("bytes_in"), qint64(totals.bytesIn)},
                                                 {QStringLiteral("bytes_out"), qint64(totals.bytesOut)}}},
    };
}

} // namespace Kennel
