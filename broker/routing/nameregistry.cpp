#include "nameregistry.h"

#include "endpoint.h"

#include <algorithm>

namespace Kennel {

NameEntry *NameRegistry::acquire(QByteArrayView name)
{
    if (NameEntry *entry = find(name))
        return entry;
    auto entry = std::make_unique<NameEntry>();
    entry->name = name.toByteArray();
    NameEntry *raw = entry.get();
    // The key views the entry's own copy of the name, so lookups by a view into a read buffer
    // need no allocation.
    m_entries.emplace(std::string_view(raw->name.constData(), size_t(raw->name.size())), std::move(entry));
    return raw;
}

void NameRegistry::dropIfUnused(NameEntry *entry)
{
    if (entry->receiver || !entry->legacySenders.empty())
        return;
    ++m_generation;
    m_entries.erase(std::string_view(entry->name.constData(), size_t(entry->name.size())));
}

NameEntry *NameRegistry::evictDeadHolders(NameEntry *entry, Endpoint *except, std::vector<Endpoint *> *evicted)
{
    // A holder whose peer is already gone (the process died, the kernel closed its socket, and we
    // have not read the EOF yet) must not keep a restarted process from its own name.
    auto gone = [except](Endpoint *e) { return e != except && e->isPeerGone(); };
    const size_t before = evicted->size();
    if (entry->receiver && gone(entry->receiver)) {
        evicted->push_back(entry->receiver);
        entry->receiver = nullptr;
    }
    auto &senders = entry->legacySenders;
    for (Endpoint *e : senders)
        if (gone(e))
            evicted->push_back(e);
    senders.erase(std::remove_if(senders.begin(), senders.end(), gone), senders.end());
    if (evicted->size() == before)
        return entry;
    // Unbound here, so that ending them later (the caller's job) leaves this table alone.
    for (size_t i = before; i < evicted->size(); ++i)
        (*evicted)[i]->m_entry = nullptr;
    const QByteArray key = entry->name;
    dropIfUnused(entry);
    return find(key);
}

bool NameRegistry::heldOnlyByProcessOf(NameEntry *entry, Endpoint *endpoint, QString *why) const
{
    if (entry->receiver && entry->receiver != endpoint && !endpoint->sameProcessAs(*entry->receiver, why))
        return false;
    for (Endpoint *e : entry->legacySenders)
        if (e != endpoint && !endpoint->sameProcessAs(*e, why))
            return false;
    return true;
}

NameRegistry::Claim NameRegistry::registerReceiver(QByteArrayView name, Endpoint *endpoint)
{
    Claim claim;
    NameEntry *entry = find(name);
    if (entry) {
        if (entry->receiver == endpoint) {
            claim.outcome = Outcome::AlreadyBound;
            claim.entry = entry;
            return claim;
        }
        entry = evictDeadHolders(entry, endpoint, &claim.evicted);
    }
    if (entry) {
        // One receiver per name; legacy main connections already sending under it may be joined
        // by their own process's receive connection or native client.
        if (entry->receiver) {
            claim.why = QStringLiteral("another connection receives for it");
            return claim;
        }
        if (!heldOnlyByProcessOf(entry, endpoint, &claim.why))
            return claim;
    } else {
        entry = acquire(name);
    }
    entry->receiver = endpoint;
    endpoint->m_entry = entry;
    claim.entry = entry;
    claim.outcome = claim.evicted.empty() ? Outcome::Registered : Outcome::TookOver;
    return claim;
}

NameRegistry::Claim NameRegistry::bindLegacySender(QByteArrayView name, Endpoint *endpoint)
{
    Claim claim;
    NameEntry *entry = find(name);
    if (entry) {
        if (std::find(entry->legacySenders.begin(), entry->legacySenders.end(), endpoint) != entry->legacySenders.end()) {
            claim.outcome = Outcome::AlreadyBound;
            claim.entry = entry;
            return claim;
        }
        entry = evictDeadHolders(entry, endpoint, &claim.evicted);
    }
    if (entry) {
        // The receiver may be a native client of the same process (one program, both protocols).
        if (!heldOnlyByProcessOf(entry, endpoint, &claim.why))
            return claim;
    } else {
        entry = acquire(name);
    }
    entry->legacySenders.push_back(endpoint);
    endpoint->m_entry = entry;
    claim.entry = entry;
    claim.outcome = claim.evicted.empty() ? Outcome::Registered : Outcome::TookOver;
    return claim;
}

void NameRegistry::release(Endpoint *endpoint)
{
    NameEntry *entry = endpoint->m_entry;
    if (!entry)
        return;
    endpoint->m_entry = nullptr;
    if (entry->receiver == endpoint)
        entry->receiver = nullptr;
    auto &senders = entry->legacySenders;
    senders.erase(std::remove(senders.begin(), senders.end(), endpoint), senders.end());
    dropIfUnused(entry);
}

std::vector<Endpoint *> NameRegistry::holdersWith(Endpoint *endpoint) const
{
    std::vector<Endpoint *> holders{endpoint};
    const NameEntry *entry = endpoint->m_entry;
    if (!entry)
        return holders;
    if (entry->receiver && entry->receiver != endpoint)
        holders.push_back(entry->receiver);
    for (Endpoint *e : entry->legacySenders)
        if (e != endpoint && std::find(holders.begin(), holders.end(), e) == holders.end())
            holders.push_back(e);
    return holders;
}

void endEvicted(const NameRegistry::Claim &claim, QByteArrayView name, const Endpoint &newcomer)
{
    if (claim.evicted.empty())
        return;
    const QString detail = QStringLiteral("name %1 taken over by %2")
                               .arg(QString::fromLatin1(name.toByteArray()), newcomer.describe());
    for (Endpoint *holder : claim.evicted)
        holder->evict(detail);
}

} // namespace Kennel
