#include "nameregistry.h"

#include "session.h"


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

void NameRegistry::evictDeadHolders(NameEntry *entry, Session *except, bool *evicted)
{
    // A holder whose peer is already gone (the process died, the kernel closed its socket, and we
    // have not read the EOF yet) must not keep a restarted process from its own name.
    auto gone = [except](Session *s) { return s != except && s->isPeerGone(); };
    std::vector<Session *> dead;
    if (entry->receiver && gone(entry->receiver))
        dead.push_back(entry->receiver);
    for (Session *s : entry->legacySenders)
        if (gone(s))
            dead.push_back(s);
    // Closing a holder may destroy `entry` (its last holder gone): the caller looks it up again.
    const QString detail = QStringLiteral("name %1 taken over by %2")
                               .arg(QString::fromLatin1(entry->name), except->describe());
    for (Session *s : dead) {
        *evicted = true;
        s->close(Session::CloseReason::TakenOver, detail);
    }
}

bool NameRegistry::heldOnlyByProcessOf(NameEntry *entry, Session *session, QString *why) const
{
    if (entry->receiver && entry->receiver != session && !session->sameProcessAs(*entry->receiver, why))
        return false;
    for (Session *s : entry->legacySenders)
        if (s != session && !session->sameProcessAs(*s, why))
            return false;
    return true;
}

NameRegistry::Outcome NameRegistry::registerReceiver(QByteArrayView name, Session *session, NameEntry **out, QString *why)
{
    const QByteArray key = name.toByteArray(); // evicting may destroy the entry the view came from
    NameEntry *entry = find(key);
    bool evicted = false;
    if (entry) {
        if (entry->receiver == session) {
            *out = entry;
            return Outcome::AlreadyBound;
        }
        evictDeadHolders(entry, session, &evicted);
        entry = find(key);
    }
    if (entry) {
        // One receiver per name; legacy main connections already sending under it may be joined
        // by their own process's receive connection or native client.
        if (entry->receiver) {
            if (why)
                *why = QStringLiteral("another connection receives for it");
            return Outcome::Taken;
        }
        if (!heldOnlyByProcessOf(entry, session, why))
            return Outcome::Taken;
    } else {
        entry = acquire(key);
    }
    entry->receiver = session;
    *out = entry;
    return evicted ? Outcome::TookOver : Outcome::Registered;
}

NameRegistry::Outcome NameRegistry::bindLegacySender(QByteArrayView name, Session *session, NameEntry **out, QString *why)
{
    const QByteArray key = name.toByteArray();
    NameEntry *entry = find(key);
    bool evicted = false;
    if (entry) {
        if (std::find(entry->legacySenders.begin(), entry->legacySenders.end(), session) != entry->legacySenders.end()) {
            *out = entry;
            return Outcome::AlreadyBound;
        }
        evictDeadHolders(entry, session, &evicted);
        entry = find(key);
    }
    if (entry) {
        // The receiver may be a native client of the same process (issue 19, item 11).
        if (!heldOnlyByProcessOf(entry, session, why))
            return Outcome::Taken;
    } else {
        entry = acquire(key);
    }
    entry->legacySenders.push_back(session);
    *out = entry;
    return evicted ? Outcome::TookOver : Outcome::Registered;
}

void NameRegistry::release(Session *session)
{
    NameEntry *entry = session->nameEntry();
    if (!entry)
        return;
    if (entry->receiver == session)
        entry->receiver = nullptr;
    auto &senders = entry->legacySenders;
    senders.erase(std::remove(senders.begin(), senders.end(), session), senders.end());
    dropIfUnused(entry);
}

} // namespace Kennel
