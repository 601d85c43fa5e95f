// The bounds of held delivery ([hold] in the config, docs/CONFIG.md): how much the broker keeps
// for a name that is expected back, for how long, and which names are expected. Plain values, so
// the hold table and its tests need nothing of the config loader.
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QtGlobal>

#include <chrono>
#include <optional>

namespace Kennel {

// The bounds for one name's held messages.
struct HoldLimits
{
    int maxCount = 1000;                 // messages held for one name
    qint64 maxBytes = 1024 * 1024;       // their stored bytes (payload; 512 per old-protocol message)
    std::chrono::milliseconds ttl{30000}; // from holding to expiry
};

// The bounds of what one acknowledging receiver's connection keeps unacknowledged (PROTOCOL §5.7):
// past them it is answered target_queue_full, as for a full output queue.
struct UnackedLimits
{
    int maxCount = 10000;               // Deliver frames
    qint64 maxBytes = 4 * 1024 * 1024;  // their whole frames' bytes
};

// [hold.PATTERN]: other bounds for the names the pattern matches (`*` any run of characters, `?`
// one). A key the section leaves out is the [hold] one.
struct HoldOverride
{
    QByteArray pattern;
    std::optional<int> maxCount;
    std::optional<qint64> maxBytes;
    std::optional<std::chrono::milliseconds> ttl;
};

// `*` matches any run of characters (none too), `?` exactly one, anything else itself.
inline bool holdPatternMatches(QByteArrayView pattern, QByteArrayView name)
{
    qsizetype p = 0, n = 0, star = -1, resume = 0;
    while (n < name.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
            ++p;
            ++n;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            resume = n;
        } else if (star >= 0) {
            p = star + 1;
            n = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*')
        ++p;
    return p == pattern.size();
}

struct HoldSettings
{
    bool enabled = true;
    HoldLimits limits;
    // Broker-wide stored bytes of all held messages (a BudgetLedger budget); 0: derived from RAM.
    qint64 totalBytes = 0;
    // A name whose connection the watchdog or a crash closed is expected back for this long.
    std::chrono::milliseconds lostWindow{10000};
    // Names expected back at any time (a program started by something other than the broker).
    QList<QByteArray> names;
    // What an acknowledging receiver may leave unacknowledged ([hold] unacked_max_count, unacked_max_bytes).
    UnackedLimits unacked;
    // All acknowledging receivers together ([hold] unacked_total_bytes); 0: derived from RAM.
    qint64 unackedTotalBytes = 0;
    // [hold.PATTERN] sections, in file order: the first that matches a name gives its bounds.
    QList<HoldOverride> overrides;

    HoldLimits limitsFor(QByteArrayView name) const
    {
        for (const HoldOverride &o : overrides) {
            if (!holdPatternMatches(o.pattern, name))
                continue;
            HoldLimits l = limits;
            if (o.maxCount)
                l.maxCount = *o.maxCount;
            if (o.maxBytes)
                l.maxBytes = *o.maxBytes;
            if (o.ttl)
                l.ttl = *o.ttl;
            return l;
        }
        return limits;
    }
};

} // namespace Kennel
