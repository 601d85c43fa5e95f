// Which unregistered names are "expected back", so that a message to them is held rather than
// refused (docs/ARCHITECTURE.md "Held delivery"):
// - a name the config lists ([hold] names), at any time;
// - the name of a supervised service ([service.NAME]) while it is starting, running (not yet
//   registered: a registered name is never asked about) or waiting to restart;
// - a name whose connection the watchdog or a crash closed, for [hold] lost_window_ms after it.
// Anything else is refused at once as before. Plain bookkeeping: no sockets, no timers; the
// caller passes `now`.
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QList>

#include <chrono>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace Kennel {

class ExpectedNames
{
public:
    using Clock = std::chrono::steady_clock;

    enum class Why : quint8 { NotExpected, Listed, Service, Lost };

    void setListed(const QList<QByteArray> &names);
    // A supervised service's state, as it changes: expected while starting, running or waiting to restart.
    void setServiceExpected(QByteArrayView name, bool expected);
    // The name's holder went away without saying goodbye: expected until `until`.
    void noteLost(QByteArrayView name, Clock::time_point until);
    // The name is registered again: the loss is over.
    void noteRegistered(QByteArrayView name);
    // The name will not come back (its service was stopped, exited for good or failed).
    void forgetLost(QByteArrayView name) { noteRegistered(name); }

    Why why(QByteArrayView name, Clock::time_point now) const;
    bool isExpected(QByteArrayView name, Clock::time_point now) const { return why(name, now) != Why::NotExpected; }

    // Lost names remembered at most; past it the ones whose window has passed are forgotten, and
    // if none has, the one that ends first (a flood of crashing clients cannot grow it).
    static constexpr size_t MaxLost = 4096;
    size_t lostCount() const { return m_lost.size(); }

private:
    static std::string key(QByteArrayView name) { return std::string(name.data(), size_t(name.size())); }

    std::unordered_set<std::string> m_listed;
    std::unordered_set<std::string> m_services;
    std::unordered_map<std::string, Clock::time_point> m_lost;
};

const char *expectedWhyName(ExpectedNames::Why why);

} // namespace Kennel
