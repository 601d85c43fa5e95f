#include "boardstate.h"

#include "bridgemanager.h"
#include "broker.h"

#include <QJsonArray>
#include <QSysInfo>

#include <optional>

namespace Kennel {

namespace {

// Where a fleet view opens this board's own monitor connection (FLEET.md, "monitor"): the first
// monitor-only TCP listener (with [monitor] tls), else the first client TCP listener, which
// admits monitors too. A wildcard host is no address for another machine: the host name stands in.
QJsonObject monitorAddress(const Broker &broker)
{
    auto firstTcp = [](const QList<ListenAddress> &addresses) -> std::optional<ListenAddress> {
        for (const ListenAddress &a : addresses)
            if (a.kind == ListenAddress::Kind::Tcp)
                return a;
        return std::nullopt;
    };
    bool tls = broker.config().monitor.tls;
    std::optional<ListenAddress> address = firstTcp(broker.monitorAddresses());
    if (!address) {
        tls = false;
        address = firstTcp(broker.boundAddresses());
    }
    // [bridge] monitor_address: what reaches that listener from elsewhere (NAT, a port forward);
    // the operator's word, so said even when the broker has no TCP listener of its own.
    if (const QString &advertised = broker.config().bridge.monitorAddress; !advertised.isEmpty())
        return QJsonObject{{QStringLiteral("address"), advertised}, {QStringLiteral("tls"), address && tls}};
    if (!address)
        return {};
    QString host = address->host;
    if (host.isEmpty() || host == QLatin1String("0.0.0.0") || host == QLatin1String("::") || host == QLatin1String("[::]"))
        host = QSysInfo::machineHostName();
    const bool v6 = host.contains(QLatin1Char(':')) && !host.startsWith(QLatin1Char('['));
    const QString text = (v6 ? QStringLiteral("[%1]").arg(host) : host) + QStringLiteral(":%1").arg(address->port);
    return QJsonObject{{QStringLiteral("address"), text}, {QStringLiteral("tls"), tls}};
}

} // namespace

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
    QJsonObject out{
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
    const QJsonObject monitor = monitorAddress(m_broker);
    if (!monitor.isEmpty())
        out.insert(QStringLiteral("monitor"), monitor);
    return out;
}

} // namespace Kennel
