#include "expectednames.h"

#include <algorithm>

namespace Kennel {

void ExpectedNames::setListed(const QList<QByteArray> &names)
{
    m_listed.clear();
    for (const QByteArray &name : names)
        m_listed.insert(key(name));
}

void ExpectedNames::setServiceExpected(QByteArrayView name, bool expected)
{
    if (expected)
        m_services.insert(key(name));
    else
        m_services.erase(key(name));
}

void ExpectedNames::noteLost(QByteArrayView name, Clock::time_point until)
{
    if (m_lost.size() >= MaxLost && m_lost.find(key(name)) == m_lost.end()) {
        const Clock::time_point now = Clock::now();
        for (auto it = m_lost.begin(); it != m_lost.end();)
            it = it->second <= now ? m_lost.erase(it) : std::next(it);
        if (m_lost.size() >= MaxLost)
            m_lost.erase(std::min_element(m_lost.begin(), m_lost.end(),
                                          [](const auto &a, const auto &b) { return a.second < b.second; }));
    }
    m_lost[key(name)] = until;
}

void ExpectedNames::noteRegistered(QByteArrayView name)
{
    if (!m_lost.empty())
        m_lost.erase(key(name));
}

ExpectedNames::Why ExpectedNames::why(QByteArrayView name, Clock::time_point now) const
{
    const std::string k = key(name);
    if (m_listed.count(k))
        return Why::Listed;
    if (m_services.count(k))
        return Why::Service;
    const auto it = m_lost.find(k);
    if (it != m_lost.end() && now < it->second)
        return Why::Lost;
    return Why::NotExpected;
}

const char *expectedWhyName(ExpectedNames::Why why)
{
    switch (why) {
    case ExpectedNames::Why::NotExpected: return "not expected";
    case ExpectedNames::Why::Listed: return "listed in [hold] names";
    case ExpectedNames::Why::Service: return "a supervised service on its way up";
    case ExpectedNames::Why::Lost: return "lost to the watchdog or a crash";
    }
    return "?";
}

} // namespace Kennel
