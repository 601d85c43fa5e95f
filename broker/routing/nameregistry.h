// Who answers to which name. A name is held by one native client or one legacy process (its receive
// connection plus any main connections of the same process); it is released when the last
// connection holding it closes. A legacy main connection may also send under the name of a native
// client of its own process (one program using both protocols). "Same process" means the process
// instance owning the name's connection demonstrably holds the newcomer's peer socket too
// (Session::sameProcessAs, docs/WATCHDOG.md "Who owns a connection").
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace Kennel {

class Session;

struct NameEntry
{
    QByteArray name;
    Session *receiver = nullptr;            // where messages to the name go; null: nobody receives
    std::vector<Session *> legacySenders;   // legacy main connections bound to the name
};

class NameRegistry
{
public:
    enum class Outcome {
        Registered,
        TookOver,       // the previous holder's connection was already dead
        Taken,          // held by a live connection (or another process's legacy connections)
        AlreadyBound,   // this connection already holds the name
    };

    NameEntry *find(QByteArrayView name) const
    {
        auto it = m_entries.find(std::string_view(name.data(), size_t(name.size())));
        return it == m_entries.end() ? nullptr : it->second.get();
    }
    // Bumped whenever an entry is destroyed, so a cached NameEntry pointer is valid while the
    // generation it was cached under is current.
    quint64 generation() const { return m_generation; }
    size_t size() const { return m_entries.size(); }

    // Native Hello or legacy cmd 0: make `session` the receiver of `name`.
    // On Taken, *why (if given) says why: held by another connection, another process, or a
    // process that cannot be verified.
    Outcome registerReceiver(QByteArrayView name, Session *session, NameEntry **entry, QString *why = nullptr);
    // Legacy main connection: send and feed under `name`, which must not belong to another process.
    Outcome bindLegacySender(QByteArrayView name, Session *session, NameEntry **entry, QString *why = nullptr);
    // The session is closing: drop it from its entry and the entry if nobody is left.
    void release(Session *session);

private:
    NameEntry *acquire(QByteArrayView name);
    void dropIfUnused(NameEntry *entry);
    // The live holders of `entry` other than `session` belong to the same process as `session`.
    bool heldOnlyByProcessOf(NameEntry *entry, Session *session, QString *why) const;
    void evictDeadHolders(NameEntry *entry, Session *except, bool *evicted);

    std::unordered_map<std::string_view, std::unique_ptr<NameEntry>> m_entries;
    quint64 m_generation = 0;
};

} // namespace Kennel
