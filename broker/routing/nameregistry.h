// Who answers to which name. A name is held by one native client or one legacy process (its receive
// connection plus any main connections of the same process); it is released when the last
// connection holding it closes. A legacy main connection may also send under the name of a native
// client of its own process (one program using both protocols). "Same process" means the process
// instance owning the name's connection demonstrably holds the newcomer's peer socket too
// (Endpoint::sameProcessAs; for a connection, docs/WATCHDOG.md "Who owns a connection").
//
// The registry only keeps the table: it never ends a holder. A registration that finds holders
// whose peer is gone unbinds them and hands them back in Claim::evicted, and the caller ends them
// once the table is consistent again (ending one re-enters release()).
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace Kennel {

class Endpoint;

struct NameEntry
{
    QByteArray name;
    Endpoint *receiver = nullptr;           // where messages to the name go; null: nobody receives
    std::vector<Endpoint *> legacySenders;  // legacy main connections bound to the name
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
    struct Claim
    {
        Outcome outcome = Outcome::Taken;
        NameEntry *entry = nullptr; // the name's entry, unless Taken
        QString why;                // on Taken: held by another connection, another process, or a
                                    // process that cannot be verified
        // Former holders whose peer was gone, already unbound from the name (any outcome): the
        // caller ends them (Endpoint::evict). Empty unless a holder was found dead.
        std::vector<Endpoint *> evicted;
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

    // Native Hello or legacy cmd 0: make `endpoint` the receiver of `name`.
    Claim registerReceiver(QByteArrayView name, Endpoint *endpoint);
    // Legacy main connection: send and feed under `name`, which must not belong to another process.
    Claim bindLegacySender(QByteArrayView name, Endpoint *endpoint);
    // The endpoint is ending: drop it from its entry and the entry if nobody is left.
    void release(Endpoint *endpoint);
    // Every endpoint holding `endpoint`'s name, `endpoint` first: one client to an operator or the
    // watchdog (a legacy client is its receive connection and its main connections). Only
    // `endpoint` if it holds no name.
    std::vector<Endpoint *> holdersWith(Endpoint *endpoint) const;

private:
    NameEntry *acquire(QByteArrayView name);
    void dropIfUnused(NameEntry *entry);
    // The live holders of `entry` other than `session` belong to the same process as `session`.
    bool heldOnlyByProcessOf(NameEntry *entry, Endpoint *endpoint, QString *why) const;
    // Unbinds the holders of `entry` other than `except` whose peer is gone, into `evicted`;
    // returns the entry, or nullptr if that left it empty (and destroyed it).
    NameEntry *evictDeadHolders(NameEntry *entry, Endpoint *except, std::vector<Endpoint *> *evicted);

    std::unordered_map<std::string_view, std::unique_ptr<NameEntry>> m_entries;
    quint64 m_generation = 0;
};

// Ends the holders a claim evicted (their peer was gone) now that the table is consistent: each
// closes as taken over by `newcomer`. The registering code calls it before anything else.
void endEvicted(const NameRegistry::Claim &claim, QByteArrayView name, const Endpoint &newcomer);

} // namespace Kennel
