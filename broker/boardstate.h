// What the bridge publishes about this board (docs/FLEET.md, "The summary" and "Events"): the
// summary JSON read from the broker's parts, and the watchdog's and supervisor's changes turned
// into events and summary refreshes. In the composition root because it reads all of them; it
// exists only when [bridge] is configured.
#pragma once

#include <QJsonObject>
#include <QObject>

namespace Kennel {

class Broker;
class BridgeManager;

class BoardState : public QObject
{
    Q_OBJECT
public:
    BoardState(Broker &broker, BridgeManager &bridge, QObject *parent = nullptr);
    QJsonObject summary() const;

private:
    Broker &m_broker;
    BridgeManager &m_bridge;
    quint64 m_expiries = 0;
    quint64 m_kills = 0;
    quint64 m_restarts = 0;
    quint64 m_serviceFailures = 0;
};

} // namespace Kennel
