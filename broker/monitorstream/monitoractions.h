// What a monitor may make the broker do to its clients and its message path: close a client's
// connections, send it a test message, and tap the router for traffic records. Everything else a
// monitor does (services, its own stream) needs no more than the views. The broker implements it
// (MonitorBackend).
#pragma once

#include "frame.h"

#include <QByteArray>
#include <QString>

namespace Kennel {

class TrafficTap;

class MonitorActions
{
public:
    virtual ~MonitorActions() = default;
    // Closes every connection of the client registered as `name` (a legacy client's receive and
    // main connections alike), a native one after a best-effort Bye naming `who`. Returns how many
    // were closed, or -1 if no client of that name is registered.
    virtual int disconnectClient(const QByteArray &name, const QString &who) = 0;

    struct TestDelivery
    {
        DeliveryStatus status = DeliveryStatus::NoSuchClient;
        QByteArray sender; // the name it went out as (shorter towards a legacy receiver)
    };
    // Sends `text` to `target` through the router, like any message, as from the monitor's
    // stand-in sender.
    virtual TestDelivery sendTestMessage(const QByteArray &target, const QByteArray &text) = 0;

    // Reads the configuration again and applies it, as SIGHUP does (Broker::reload); false with
    // *summary saying why when it was rejected (the running configuration kept).
    virtual bool reloadConfig(const QString &who, QString *summary) = 0;

    // The router's traffic tap (nullptr: none). One at a time.
    virtual void setTrafficTap(TrafficTap *tap) = 0;
    virtual const TrafficTap *trafficTap() const = 0;
};

} // namespace Kennel
