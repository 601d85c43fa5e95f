// Where the access policy meets a connection: the peer's identity established from the kernel
// (uid and gid of its owner, /proc/PID/exe, its service, remote or not) and the policy's decision
// for owning a name, a denial counted against its rule. Only asked when the policy has rules for
// the verb: with an empty [policy] nothing is looked up and nothing changes.
#pragma once

#include "accesspolicy.h"
#include "policyengine.h"

#include <QString>

#include <functional>

namespace Kennel {

class Endpoint;
class Session;

// Where a policy decision was asked for: the `what` of a denial shown to monitors (0x4E).
enum class PolicyPath : quint8 { Own = 0, Send = 1, LegacySend = 2, Publish = 3, Call = 4 };
const char *policyPathName(PolicyPath path); // "own", "send", "legacy send", "publish", "call"

class AccessGate
{
public:
    // The name of the service whose process tree holds `pid`; empty if none.
    using ServiceOwning = std::function<QString(qint64 pid)>;
    // Told about every denial: who (`sender`: its name may still be empty for an owning one),
    // the name or topic asked for, where, and the deciding rule (-1: the default).
    using DenialListener = std::function<void(const Endpoint &sender, QByteArrayView target, PolicyPath path, int rule)>;

    AccessGate(PolicyEngine &engine, ServiceOwning serviceOwning)
        : m_engine(engine), m_serviceOwning(std::move(serviceOwning)) {}

    PolicyEngine &engine() { return m_engine; }

    // What the kernel says about `session`'s peer; the program and service only if `withProcess`.
    PeerIdentity identityOf(Session &session, bool withProcess) const;
    // Empty if the policy lets `session` own `name`; else why not (counted against the rule).
    QString ownRefusal(Session &session, QByteArrayView name);

    // "([policy] NAME = TEXT)" or "([policy] default = deny)": what a denial cites.
    QString citeRule(int rule) const;

    void setDenialListener(DenialListener listener) { m_denialListener = std::move(listener); }
    void reportDenial(const Endpoint &sender, QByteArrayView target, PolicyPath path, int rule) const
    {
        if (m_denialListener)
            m_denialListener(sender, target, path, rule);
    }

private:
    DenialListener m_denialListener;
    PolicyEngine &m_engine;
    ServiceOwning m_serviceOwning;
};

} // namespace Kennel
