// The access policy's send rules on the message paths (docs/SECURITY.md "Send rules", PROTOCOL
// ..R-4.5.8): a directed message (native or old protocol) and a call are judged by the
// target name, a publication by its topic. The router, the topic bus and the call router hold a
// pointer to the gate only while the policy has something to check (Broker::armSendGate()), so
// an empty [policy] costs them one predictable branch and nothing else.
//
// Cost with send rules: a verdict is cached per route, in the sender (Endpoint::sendVerdicts: its
// last target, compared like RouteCache, then a bounded table of the others). A cached verdict
// holds while the policy and the name table are unchanged (one generation for both); a reload
// or any registration or unregistration makes every sender's verdicts stale, and the next
// message per route asks the policy again. What the kernel says of a sender (its uid, gid,
// program, service: /proc reads) is kept per connection until the policy changes, so a sender
// spraying names, or registrations elsewhere, cost a walk over the rules and no more. Each
// message, cached or not, counts as a hit on its rule (PolicyEngine::hits()), and a denial as a
// denial.
#pragma once

#include "accessgate.h"

#include "endpoint.h"
#include "logthrottle.h"
#include "nameregistry.h"

#include <QByteArrayView>
#include <QHash>
#include <QString>

#include <cstring>

namespace Kennel {

class SendGate
{
public:
    // Per sender, at most this many routes are remembered beyond the last one; past it the
    // table starts again (a sender spraying names pays a policy walk per message, no memory).
    static constexpr int MaxCachedRoutes = 256;
    // Senders whose identity is kept; past it the table starts again.
    static constexpr int MaxKnownPeers = 4096;

    SendGate(AccessGate &access, const NameRegistry &registry) : m_access(access), m_registry(registry) {}

    // Does the current policy judge names (send rules, or default = deny)? Topics?
    bool checksNames() const { return m_access.engine().current().checksNames(); }
    bool checksTopics() const { return m_access.engine().current().checksTopics(); }

    // May `sender` send to (or call) `target`? A denial is counted, logged (rate-limited) and
    // reported to the denial listener; lastRefusal() then says why, for the peer. Inline for
    // the stream on one allowed route (the directed path's common case); the rest out of line.
    bool allowsName(Endpoint &sender, QByteArrayView target, PolicyPath path)
    {
        const SendVerdicts &cache = sender.sendVerdicts;
        if (Q_LIKELY(cache.last.allowed && cache.generation == generation() && cache.lastTarget.size() == target.size()
                     && std::memcmp(cache.lastTarget.constData(), target.data(), size_t(target.size())) == 0)) {
            ++m_checked;
            m_access.engine().noteAllowed(cache.last.rule);
            return true;
        }
        return allows(sender, sender.sendVerdicts, target, false, path);
    }
    // May `sender` publish to `topic`?
    bool allowsTopic(Endpoint &sender, QByteArrayView topic, PolicyPath path);

    // Why the last denial was made: "sending to 'x' is denied ([policy] NAME = TEXT)".
    QString lastRefusal() const;

    // Since the broker started: messages judged, denied, and verdicts that had to be worked out
    // (cache misses: a first message on a route, or the first after a change).
    quint64 checked() const { return m_checked; }
    quint64 denied() const { return m_denied; }
    quint64 cacheMisses() const { return m_misses; }

private:
    // Both only grow, so their sum changes whenever either does.
    quint64 generation() const { return m_access.engine().generation() + m_registry.generation(); }
    bool allows(Endpoint &sender, SendVerdicts &cache, QByteArrayView target, bool topic, PolicyPath path);
    SendVerdict work(Endpoint &sender, QByteArrayView target, bool topic);
    void deny(Endpoint &sender, QByteArrayView target, bool topic, PolicyPath path, int rule);

    AccessGate &m_access;
    const NameRegistry &m_registry;
    LogThrottle m_denialLog;
    struct KnownPeer
    {
        quint64 policyGeneration = 0;
        PeerIdentity peer;
    };
    QHash<quint64, KnownPeer> m_peers; // by Session::id(), never reused
    QByteArray m_lastTarget;
    bool m_lastTopic = false;
    int m_lastRule = -1;
    quint64 m_checked = 0;
    quint64 m_denied = 0;
    quint64 m_misses = 0;
};

} // namespace Kennel
