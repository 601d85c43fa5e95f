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

class Session;

class AccessGate
{
public:
    // The name of the service whose process tree holds `pid`; empty if none.
    using ServiceOwning = std::function<QString(qint64 pid)>;

    AccessGate(PolicyEngine &engine, ServiceOwning serviceOwning)
        : m_engine(engine), m_serviceOwning(std::move(serviceOwning)) {}

    PolicyEngine &engine() { return m_engine; }

    // What the kernel says about `session`'s peer; the program and service only if `withProcess`.
    PeerIdentity identityOf(Session &session, bool withProcess) const;
    // Empty if the policy lets `session` own `name`; else why not (counted against the rule).
    QString ownRefusal(Session &session, QByteArrayView name);

private:
    PolicyEngine &m_engine;
    ServiceOwning m_serviceOwning;
};

} // namespace Kennel
