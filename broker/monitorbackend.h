// The broker's side of the monitor stream's narrow interfaces: MonitorHub reads the connections,
// the totals and the services, and asks for the few actions a monitor may take, through these
// and never through Broker itself. Owned by Broker, next to the pieces it forwards to.
#pragma once

#include "monitoractions.h"
#include "monitorclientview.h"
#include "monitorserviceview.h"
#include "localsender.h"

#include <memory>

namespace Kennel {

class Broker;
class Session;
class Supervisor;
struct BrokerContext;

class MonitorBackend final : public MonitorClientView, public MonitorServiceView, public MonitorActions
{
public:
    MonitorBackend(Broker &broker, BrokerContext &context, Supervisor &supervisor);
    ~MonitorBackend() override;

    // MonitorClientView
    void forEachSession(const std::function<void(const Session &)> &fn) const override;
    const Session *sessionById(quint64 id) const override;
    size_t connectionCount() const override;
    const TrafficCounters &totals() const override;
    void callTotals(MonitorTotals &totals) const override;
    quint32 subscriptionsOf(const Session &session) const override;
    quint64 publicationsNotTakenBy(const Session &session) const override;
    quint64 topicsGeneration() const override;
    void fillTopics(MonitorTopics &record, int maxEntries, qint64 nowMs) const override;
    QList<QByteArray> subscriptionFiltersOf(const Session &session) const override;
    bool isShuttingDown() const override;
    QStringList clientListenAddresses() const override;
    void fillBridgeTotals(MonitorTotals &totals) const override;
    quint64 reservedNamesRefused() const override;
    MonitorHeld heldFor(const QByteArray &name) const override;
    QList<MonitorHeld> heldNames() const override;
    void fillHeldTotals(MonitorTotals &totals) const override;
    void fillPolicyTotals(MonitorTotals &totals) const override;

    // MonitorServiceView
    const QList<Service *> &services() const override;
    Service *service(const QString &name) const override;
    const Service *serviceOwning(qint64 pid) const override;

    // MonitorActions
    int disconnectClient(const QByteArray &name, const QString &who) override;
    TestDelivery sendTestMessage(const QByteArray &target, const QByteArray &text) override;
    bool reloadConfig(const QString &who, QString *summary) override;
    void setTrafficTap(TrafficTap *tap) override;
    const TrafficTap *trafficTap() const override;

private:
    Broker &m_broker;
    BrokerContext &m_ctx;
    Supervisor &m_supervisor;
    // The senders of test messages: endpoints with a name and counters, and no connection, name
    // entry or place in the broker's tables.
    std::unique_ptr<LocalSender> m_testSender;
    std::unique_ptr<LocalSender> m_legacyTestSender;
};

} // namespace Kennel
