#include "sendgate.h"
#include "logging.h"

#include "endpoint.h"
#include "localsender.h"
#include "nameregistry.h"
#include "session.h"

#include <cstring>

namespace Kennel {

bool SendGate::allowsTopic(Endpoint &sender, QByteArrayView topic, PolicyPath path)
{
    return allows(sender, sender.topicVerdicts, topic, true, path);
}

bool SendGate::allows(Endpoint &sender, SendVerdicts &cache, QByteArrayView target, bool topic, PolicyPath path)
{
    ++m_checked;
    const quint64 generation = SendGate::generation();
    SendVerdict verdict;
    if (Q_LIKELY(cache.generation == generation && cache.lastTarget.size() == target.size()
                 && std::memcmp(cache.lastTarget.constData(), target.data(), size_t(target.size())) == 0)) {
        verdict = cache.last;
    } else {
        if (cache.generation != generation) {
            cache.routes.clear();
            cache.generation = generation;
        }
        const QByteArray key = target.toByteArray();
        const auto it = cache.routes.constFind(key);
        if (it != cache.routes.constEnd()) {
            verdict = *it;
        } else {
            ++m_misses;
            verdict = work(sender, target, topic);
            if (cache.routes.size() >= MaxCachedRoutes)
                cache.routes.clear();
            cache.routes.insert(key, verdict);
        }
        cache.lastTarget = key;
        cache.last = verdict;
    }
    m_access.engine().note({verdict.allowed, verdict.rule});
    if (Q_LIKELY(verdict.allowed))
        return true;
    deny(sender, target, topic, path, verdict.rule);
    return false;
}

SendVerdict SendGate::work(Endpoint &sender, QByteArrayView target, bool topic)
{
    const AccessPolicy &policy = m_access.engine().current();
    PeerIdentity peer;
    if (auto *session = dynamic_cast<Session *>(&sender)) {
        const quint64 policyGeneration = m_access.engine().generation();
        auto known = m_peers.find(session->id());
        if (known == m_peers.end() || known->policyGeneration != policyGeneration) {
            if (known == m_peers.end() && m_peers.size() >= MaxKnownPeers)
                m_peers.clear();
            known = m_peers.insert(session->id(), {policyGeneration, m_access.identityOf(*session, policy.needsProcess())});
        }
        peer = known->peer;
    } else if (dynamic_cast<LocalSender *>(&sender)) {
        return {}; // the broker's own (a monitor's test message): the monitor's role decides that
    } else {
        // A message from another board across the bridge: a remote peer, nothing else known.
        peer.remote = true;
        peer.serviceKnown = true;
    }
    const AccessPolicy::Decision d = topic ? policy.decideTopic(target, peer) : policy.decide(PolicyVerb::Send, target, peer);
    return {qint32(d.rule), d.allowed};
}

void SendGate::deny(Endpoint &sender, QByteArrayView target, bool topic, PolicyPath path, int rule)
{
    ++m_denied;
    m_lastTarget = target.toByteArray();
    m_lastTopic = topic;
    m_lastRule = rule;
    m_access.reportDenial(sender, target, path, rule);
    int suppressed = 0;
    if (!m_denialLog.allow(&suppressed))
        return;
    if (suppressed)
        qCWarning(lcPolicy, "%d more policy denials not logged", suppressed);
    qCWarning(lcPolicy).noquote() << "denied" << policyPathName(path) << "from" << sender.describe() << "to"
                                  << (topic ? QString::fromUtf8(target.toByteArray()) : QString::fromLatin1(target.toByteArray()))
                                  << m_access.citeRule(rule);
}

QString SendGate::lastRefusal() const
{
    return QStringLiteral("%1 '%2' is denied ")
               .arg(m_lastTopic ? QStringLiteral("publishing to") : QStringLiteral("sending to"),
                    m_lastTopic ? QString::fromUtf8(m_lastTarget) : QString::fromLatin1(m_lastTarget))
           + m_access.citeRule(m_lastRule);
}

} // namespace Kennel
