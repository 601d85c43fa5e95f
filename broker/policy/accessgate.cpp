#include "accessgate.h"

#include "session.h"

#include <QFile>
#include <QFileInfo>

namespace Kennel {

namespace {

// The effective gid from /proc/PID/status ("Gid: real effective saved fs").
std::optional<gid_t> effectiveGid(pid_t pid)
{
    QFile status(QStringLiteral("/proc/%1/status").arg(pid));
    if (!status.open(QIODevice::ReadOnly))
        return std::nullopt;
    for (int i = 0; i < 64 && !status.atEnd(); ++i) {
        const QByteArray line = status.readLine(256);
        if (!line.startsWith("Gid:"))
            continue;
        const QList<QByteArray> fields = line.mid(4).simplified().split(' ');
        bool ok = false;
        const uint gid = fields.size() >= 2 ? fields[1].toUInt(&ok) : 0;
        return ok ? std::optional<gid_t>(gid_t(gid)) : std::nullopt;
    }
    return std::nullopt;
}

} // namespace

PeerIdentity AccessGate::identityOf(Session &session, bool withProcess) const
{
    PeerIdentity peer;
    const PeerLookupResult &owner = session.peerProcess();
    if (owner.status == PeerLookup::Remote) {
        peer.remote = true;
        peer.serviceKnown = true; // a peer on another host is no service's
        return peer;
    }
    if (owner.status != PeerLookup::Found)
        return peer; // nothing established: deny rules apply, allow rules do not
    if (owner.process.uid != ~0u)
        peer.uid = owner.process.uid;
    const pid_t pid = owner.process.pid;
    peer.gid = effectiveGid(pid);
    if (withProcess) {
        // The kernel's link, not argv[0]: a client cannot choose it.
        peer.program = QFileInfo(QStringLiteral("/proc/%1/exe").arg(pid)).symLinkTarget();
        peer.service = m_serviceOwning(pid);
        peer.serviceKnown = true;
    }
    return peer;
}

QString AccessGate::ownRefusal(Session &session, QByteArrayView name)
{
    const AccessPolicy &policy = m_engine.current();
    if (!policy.hasRulesFor(PolicyVerb::Own) && policy.defaultAllow())
        return {};
    const PeerIdentity peer = identityOf(session, policy.needsProcess());
    const AccessPolicy::Decision d = m_engine.decide(PolicyVerb::Own, name, peer);
    if (d.allowed)
        return {};
    reportDenial(session, name, PolicyPath::Own, d.rule);
    return QStringLiteral("'%1' may not be owned by this peer ").arg(QString::fromLatin1(name.toByteArray())) + citeRule(d.rule);
}

QString AccessGate::citeRule(int rule) const
{
    const AccessPolicy &policy = m_engine.current();
    if (rule < 0 || rule >= policy.rules().size())
        return QStringLiteral("([policy] default = %1)").arg(policy.defaultAllow() ? QStringLiteral("allow") : QStringLiteral("deny"));
    const PolicyRule &r = policy.rules().at(rule);
    return QStringLiteral("([policy] %1 = %2)").arg(r.name, r.text());
}

const char *policyPathName(PolicyPath path)
{
    switch (path) {
    case PolicyPath::Own: return "own";
    case PolicyPath::Send: return "send";
    case PolicyPath::LegacySend: return "legacy send";
    case PolicyPath::Publish: return "publish";
    case PolicyPath::Call: return "call";
    }
    return "?";
}

} // namespace Kennel
