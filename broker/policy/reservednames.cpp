#include "reservednames.h"

#include "endpoint.h"
#include "nameregistry.h"
#include "session.h"

#include <algorithm>

namespace Kennel {

ReservedNames::ReservedNames(ServiceOwning serviceOwning)
    : m_serviceOwning(std::move(serviceOwning))
    , m_table(std::make_shared<const Table>())
{
}

ReservedNames::Table ReservedNames::tableFor(const QList<ServiceSettings> &services)
{
    Table table;
    for (const ServiceSettings &service : services) {
        for (const QString &name : service.namesReserved())
            table.insert(name.toLatin1(), service.name);
    }
    return table;
}

const QString *ReservedNames::serviceFor(QByteArrayView name) const
{
    if (m_table->isEmpty())
        return nullptr;
    const auto it = m_table->constFind(QByteArray::fromRawData(name.data(), name.size()));
    return it == m_table->constEnd() ? nullptr : &it.value();
}

QString ReservedNames::refuse(const QString &why)
{
    ++m_refused;
    return why;
}

QString ReservedNames::refusal(Session &session, QByteArrayView name, const NameRegistry &registry)
{
    const QString *service = serviceFor(name);
    if (!service)
        return {};
    if (const NameEntry *entry = registry.find(name)) {
        // Held by a live connection: the registry's same-process rule decides, against a holder
        // that passed here. A holder whose peer is gone would be taken over: judge the newcomer.
        const bool live = (entry->receiver && !entry->receiver->isPeerGone())
                          || std::any_of(entry->legacySenders.begin(), entry->legacySenders.end(),
                                         [](Endpoint *e) { return !e->isPeerGone(); });
        if (live)
            return {};
    }
    const QString reserved = QStringLiteral("'%1' is reserved for service %2")
                                 .arg(QString::fromLatin1(name.toByteArray()), *service);
    // A Unix peer's connector (SO_PEERCRED) must be the service's too: a cheap first test, so that
    // a squatter's attempts cost no walk of every process's descriptors.
    if (session.transport() == Session::Transport::Unix && session.connectingPid() > 0
        && m_serviceOwning(session.connectingPid()) != *service) {
        return refuse(QStringLiteral("%1, and process %2 that connected is not its process or a descendant")
                          .arg(reserved).arg(session.connectingPid()));
    }
    const PeerLookupResult &owner = session.peerProcess();
    switch (owner.status) {
    case PeerLookup::Found:
        break;
    case PeerLookup::Remote:
        return refuse(QStringLiteral("%1, and a peer on another host is not its process").arg(reserved));
    case PeerLookup::NotFound:
    case PeerLookup::Ambiguous:
    case PeerLookup::Forwarder:
        return refuse(QStringLiteral("%1, and the process owning this connection cannot be established (%2)")
                          .arg(reserved, owner.detail));
    }
    const QString owning = m_serviceOwning(owner.process.pid);
    if (owning != *service) {
        return refuse(QStringLiteral("%1, and process %2 owning this connection is %3")
                          .arg(reserved)
                          .arg(owner.process.pid)
                          .arg(owning.isEmpty() ? QStringLiteral("no service's") : QStringLiteral("service %1's").arg(owning)));
    }
    return {};
}

} // namespace Kennel
