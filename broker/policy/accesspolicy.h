// The access policy ([policy], docs/SECURITY.md "Access policy"): who may own which names and
// send to which, by the peer's kernel identity. A pure value: parsed from rule texts, evaluated
// against a PeerIdentity; it never looks anything up itself (PolicyEngine and the handlers give
// it the identity the kernel showed).
//
// A rule is `ACTION VERB PATTERN [CONDITION ...]`:
//   ACTION     allow | deny
//   VERB       own | send          (publish, subscribe: reserved, refused)
//   PATTERN    a name pattern: A-Z a-z 0-9 . _ - and the wildcards * (any run) and ? (one);
//              or, for send only, topic:FILTER — an MQTT topic filter (+ one level, # the rest)
//              that judges publications to the topics it matches (a name pattern never does)
//   CONDITION  uid=N  gid=N  program=/absolute/path  service=NAME  remote  local
// All conditions must hold; none: everyone. The FIRST rule (in file order) whose verb, pattern and
// conditions match decides; no rule matches: `default` (allow unless set). A condition the broker
// could not establish for a peer (no process found, say) counts as matching a deny rule and as
// not matching an allow rule: what is unknown is never granted (fail closed).
#pragma once

#include "brokerconfig.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QString>
#include <QStringList>

#include <optional>
#include <sys/types.h>

namespace Kennel {

enum class PolicyVerb : quint8 { Own, Send };
// A send rule's pattern starting with this names a topic filter, not a name.
constexpr const char *TopicPrefix = "topic:";
const char *policyVerbName(PolicyVerb verb); // "own", "send"

// What the kernel says about a peer. nullopt / empty: could not be established.
struct PeerIdentity
{
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    QString program;       // /proc/PID/exe of the connection's owner
    QString service;       // the supervised service whose process owns it; empty: none (or unknown)
    bool serviceKnown = false; // the owner was established, so an empty service means "none"
    bool remote = false;   // TCP from another host
};

struct PolicyRule
{
    QString name;          // the key in [policy]
    bool allow = true;
    PolicyVerb verb = PolicyVerb::Own;
    WatchdogActionRule pattern; // its matcher (same pattern alphabet as [watchdog.actions])
    QByteArray topicFilter;     // non-empty: a `send topic:FILTER` rule (pattern unused)
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    QString program;
    QString service;
    std::optional<bool> remote; // remote (true) or local (false)

    QString text() const;  // the rule as written, normalised
    QString patternText() const // "sensor*" or "topic:sensors/#"
    {
        return topicFilter.isEmpty() ? pattern.namePattern : QLatin1String(TopicPrefix) + QString::fromUtf8(topicFilter);
    }
};

// "uid=1000 gid=20 program=/usr/bin/x service=NAME remote" (kennel-broker --explain-policy): a peer
// as an operator describes it; what is not given is unknown. nullopt with *error for a bad word.
std::optional<PeerIdentity> parsePeerDescription(const QStringList &words, QString *error);

class AccessPolicy
{
public:
    struct Decision
    {
        bool allowed = true;
        int rule = -1;     // index into rules(); -1: the default decided
    };

    // Parses `rules` (key, value) in file order; `defaultAllow` for no match. Errors name the key.
    static AccessPolicy parse(const QList<std::pair<QString, QString>> &rules, bool defaultAllow, QStringList *errors);

    Decision decide(PolicyVerb verb, QByteArrayView name, const PeerIdentity &peer) const;
    // A publication to `topic`: the first `send topic:FILTER` rule whose filter matches it.
    Decision decideTopic(QByteArrayView topic, const PeerIdentity &peer) const;
    const QList<PolicyRule> &rules() const { return m_rules; }
    bool defaultAllow() const { return m_defaultAllow; }
    bool isEmpty() const { return m_rules.isEmpty(); }
    bool hasRulesFor(PolicyVerb verb) const { return verb == PolicyVerb::Own ? m_hasOwn : m_hasSend; }
    // Must sending be checked at all? Only with send rules, or a default that denies.
    bool checksNames() const { return m_hasSend || !m_defaultAllow; }
    bool checksTopics() const { return m_hasSendTopic || !m_defaultAllow; }
    // Does any rule need the owner's program or service (a walk of /proc to establish)?
    bool needsProcess() const { return m_needsProcess; }

    // The effective policy for `peer`: each rule that applies to it, in order, and the default.
    QStringList explain(const PeerIdentity &peer) const;

private:
    QList<PolicyRule> m_rules;
    bool m_defaultAllow = true;
    bool m_hasOwn = false;
    bool m_hasSend = false;      // send rules on names
    bool m_hasSendTopic = false; // send rules on topics
    bool m_needsProcess = false;
};

} // namespace Kennel
