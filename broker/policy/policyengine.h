// The broker's current access policy, swapped whole when the configuration is read again
// (replace(): the reload wiring calls it), with a counter of denials per rule. Decisions are taken
// against one immutable AccessPolicy; a caller that cached a decision checks generation().
#pragma once

#include "accesspolicy.h"

#include <QList>

#include <memory>

namespace Kennel {

class PolicyEngine
{
public:
    PolicyEngine() : m_policy(std::make_shared<const AccessPolicy>()) {}

    // From now on decisions follow `policy`; the per-rule counters start again (rules may have
    // moved). Bumps generation().
    void replace(std::shared_ptr<const AccessPolicy> policy)
    {
        m_policy = policy ? std::move(policy) : std::make_shared<const AccessPolicy>();
        m_denials = QList<quint64>(m_policy->rules().size(), 0);
        m_hits = QList<quint64>(m_policy->rules().size(), 0);
        m_defaultDenials = 0;
        m_defaultHits = 0;
        ++m_generation;
    }
    const AccessPolicy &current() const { return *m_policy; }
    std::shared_ptr<const AccessPolicy> snapshot() const { return m_policy; }
    quint64 generation() const { return m_generation; }

    // The current policy's decision, a denial counted against the rule that made it.
    AccessPolicy::Decision decide(PolicyVerb verb, QByteArrayView name, const PeerIdentity &peer)
    {
        const AccessPolicy::Decision d = m_policy->decide(verb, name, peer);
        note(d);
        return d;
    }
    // A cached decision that allows, applied again (the send paths' common case).
    void noteAllowed(int rule)
    {
        if (rule >= 0 && rule < m_hits.size())
            ++m_hits.data()[rule];
        else
            ++m_defaultHits;
    }
    // A decision taken (or a cached one applied again): a hit on its rule, and a denial if it denies.
    void note(const AccessPolicy::Decision &d)
    {
        if (d.rule >= 0 && d.rule < m_hits.size())
            ++m_hits[d.rule];
        else
            ++m_defaultHits;
        if (!d.allowed)
            noteDenied(d);
    }
    void noteDenied(const AccessPolicy::Decision &d)
    {
        ++m_total;
        if (d.rule >= 0 && d.rule < m_denials.size())
            ++m_denials[d.rule];
        else
            ++m_defaultDenials;
    }
    // Denials per rule of the current policy (index as in rules()), by the default, and in all
    // since the broker started.
    const QList<quint64> &denials() const { return m_denials; }
    // Decisions per rule (allowed and denied), and by the default, under the current policy.
    const QList<quint64> &hits() const { return m_hits; }
    quint64 defaultHits() const { return m_defaultHits; }
    quint64 defaultDenials() const { return m_defaultDenials; }
    quint64 totalDenials() const { return m_total; }

private:
    std::shared_ptr<const AccessPolicy> m_policy;
    QList<quint64> m_denials;
    QList<quint64> m_hits;
    quint64 m_defaultDenials = 0;
    quint64 m_defaultHits = 0;
    quint64 m_total = 0;
    quint64 m_generation = 0;
};

} // namespace Kennel
