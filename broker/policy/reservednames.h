// Names reserved for their services ([service.NAME] names, docs/SECURITY.md "Names reserved for
// their services"): such a name may be registered only by a connection whose owner — the process
// the kernel shows holding the peer socket (docs/WATCHDOG.md "Who owns a connection") — is the
// service's process or one of its descendants, as the supervisor tells (Supervisor::serviceOwning:
// the service's cgroup, else its main process up the parent chain). Anything that cannot be
// established is refused: fail closed. The table is an immutable value the broker may swap
// (replace()) when the configuration is read again.
#pragma once

#include "brokerconfig.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QHash>
#include <QString>

#include <functional>
#include <memory>

namespace Kennel {

class NameRegistry;
class Session;

class ReservedNames
{
public:
    // The name of the service whose process tree holds `pid`; empty if none.
    using ServiceOwning = std::function<QString(qint64 pid)>;
    // Reserved name -> the service it is reserved for.
    using Table = QHash<QByteArray, QString>;

    explicit ReservedNames(ServiceOwning serviceOwning);

    // Every service's reserved names ([service.NAME] names; default: the name it registers).
    static Table tableFor(const QList<ServiceSettings> &services);
    // Swaps the table in whole: registrations from now on are judged by `table`; names already
    // held are left as they are.
    void replace(std::shared_ptr<const Table> table) { m_table = std::move(table); }
    const Table &table() const { return *m_table; }

    // The service `name` is reserved for; nullptr if it is free for anyone.
    const QString *serviceFor(QByteArrayView name) const;

    // Empty if `session` may register (or bind, legacy) `name`; else why not, and the refusal is
    // counted. A name already held by a live connection is left to the registry's own rule (only
    // that holder's process may join it, and the holder was judged here when it came): no
    // process walk for every connection an attacker opens against a held name.
    QString refusal(Session &session, QByteArrayView name, const NameRegistry &registry);

    // Registrations refused because the name is reserved for a service, since the broker started.
    quint64 refusedCount() const { return m_refused; }

private:
    QString refuse(const QString &why);

    ServiceOwning m_serviceOwning;
    std::shared_ptr<const Table> m_table;
    quint64 m_refused = 0;
};

} // namespace Kennel
