#include "accesspolicy.h"

#include "topicname.h"

#include <QRegularExpression>

namespace Kennel {

namespace {

enum class Match { Yes, No, Unknown };

Match both(Match a, Match b)
{
    if (a == Match::No || b == Match::No)
        return Match::No;
    if (a == Match::Unknown || b == Match::Unknown)
        return Match::Unknown;
    return Match::Yes;
}

// Do the rule's conditions hold for `peer`? Unknown when one needs what was not established.
Match conditions(const PolicyRule &rule, const PeerIdentity &peer)
{
    Match m = Match::Yes;
    if (rule.remote)
        m = both(m, peer.remote == *rule.remote ? Match::Yes : Match::No);
    if (rule.uid)
        m = both(m, !peer.uid ? Match::Unknown : *peer.uid == *rule.uid ? Match::Yes : Match::No);
    if (rule.gid)
        m = both(m, !peer.gid ? Match::Unknown : *peer.gid == *rule.gid ? Match::Yes : Match::No);
    if (!rule.program.isEmpty())
        m = both(m, peer.program.isEmpty() ? Match::Unknown : peer.program == rule.program ? Match::Yes : Match::No);
    if (!rule.service.isEmpty())
        m = both(m, !peer.serviceKnown ? Match::Unknown : peer.service == rule.service ? Match::Yes : Match::No);
    return m;
}

bool applies(const PolicyRule &rule, const PeerIdentity &peer)
{
    const Match m = conditions(rule, peer);
    // Fail closed: an unknown condition makes a deny rule apply and an allow rule not.
    return m == Match::Yes || (m == Match::Unknown && !rule.allow);
}

std::optional<quint32> number(const QString &text)
{
    bool ok = false;
    const uint v = text.toUInt(&ok);
    return ok ? std::optional<quint32>(v) : std::nullopt;
}

} // namespace

const char *policyVerbName(PolicyVerb verb)
{
    switch (verb) {
    case PolicyVerb::Own: return "own";
    case PolicyVerb::Send: return "send";
    }
    return "?";
}

std::optional<PeerIdentity> parsePeerDescription(const QStringList &words, QString *error)
{
    PeerIdentity peer;
    for (const QString &w : words) {
        const qsizetype eq = w.indexOf(QLatin1Char('='));
        const QString what = eq < 0 ? w : w.left(eq);
        const QString arg = eq < 0 ? QString() : w.mid(eq + 1);
        if (w == QLatin1String("remote")) {
            peer.remote = true;
        } else if (w == QLatin1String("local")) {
            peer.remote = false;
        } else if (what == QLatin1String("uid") && number(arg)) {
            peer.uid = uid_t(*number(arg));
        } else if (what == QLatin1String("gid") && number(arg)) {
            peer.gid = gid_t(*number(arg));
        } else if (what == QLatin1String("program") && arg.startsWith(QLatin1Char('/'))) {
            peer.program = arg;
            peer.serviceKnown = true; // a process was named: no service unless service= says
        } else if (what == QLatin1String("service") && !arg.isEmpty()) {
            peer.service = arg;
            peer.serviceKnown = true;
        } else {
            *error = QLatin1Char('"') + w + QStringLiteral("\" is not uid=N, gid=N, program=/PATH, service=NAME, remote or local");
            return std::nullopt;
        }
    }
    return peer;
}

QString PolicyRule::text() const
{
    QStringList words{allow ? QStringLiteral("allow") : QStringLiteral("deny"), QLatin1String(policyVerbName(verb)),
                      patternText()};
    if (uid)
        words << QStringLiteral("uid=%1").arg(*uid);
    if (gid)
        words << QStringLiteral("gid=%1").arg(*gid);
    if (!program.isEmpty())
        words << QStringLiteral("program=") + program;
    if (!service.isEmpty())
        words << QStringLiteral("service=") + service;
    if (remote)
        words << (*remote ? QStringLiteral("remote") : QStringLiteral("local"));
    return words.join(QLatin1Char(' '));
}

AccessPolicy AccessPolicy::parse(const QList<std::pair<QString, QString>> &rules, bool defaultAllow, QStringList *errors)
{
    AccessPolicy policy;
    policy.m_defaultAllow = defaultAllow;
    static const QRegularExpression blanks(QStringLiteral("\\s+"));
    for (const auto &[key, value] : rules) {
        const QString where = QStringLiteral("policy/") + key + QStringLiteral(": ");
        const QStringList words = value.split(blanks, Qt::SkipEmptyParts);
        if (words.size() < 3) {
            errors->append(where + QLatin1Char('"') + value + QStringLiteral("\" is not a rule (ACTION VERB PATTERN [CONDITION ...])"));
            continue;
        }
        PolicyRule rule;
        rule.name = key;
        bool ok = true;
        if (words[0] == QLatin1String("allow") || words[0] == QLatin1String("deny")) {
            rule.allow = words[0] == QLatin1String("allow");
        } else {
            errors->append(where + QLatin1Char('"') + words[0] + QStringLiteral("\" is not an action (allow, deny)"));
            ok = false;
        }
        if (words[1] == QLatin1String("own")) {
            rule.verb = PolicyVerb::Own;
        } else if (words[1] == QLatin1String("send")) {
            rule.verb = PolicyVerb::Send;
        } else if (words[1] == QLatin1String("publish") || words[1] == QLatin1String("subscribe")) {
            errors->append(where + QLatin1Char('"') + words[1] + QStringLiteral("\" is not supported by this broker (own, send)"));
            ok = false;
        } else {
            errors->append(where + QLatin1Char('"') + words[1] + QStringLiteral("\" is not a verb (own, send)"));
            ok = false;
        }
        if (words[2].startsWith(QLatin1String(TopicPrefix))) {
            // Topics are UTF-8 and use their own wildcards: a filter of its own, never a name pattern.
            const QByteArray filter = words[2].mid(qsizetype(qstrlen(TopicPrefix))).toUtf8();
            const Topic::Check check = Topic::checkFilter(filter, Topic::MaxLength, Topic::MaxLength);
            if (rule.verb != PolicyVerb::Send) {
                errors->append(where + QLatin1Char('"') + words[2] + QStringLiteral("\" names topics: only send rules take a topic filter"));
                ok = false;
            } else if (check != Topic::Check::Ok) {
                errors->append(where + QLatin1Char('"') + words[2] + QStringLiteral("\" is not a topic filter (")
                               + QLatin1String(Topic::checkText(check)) + QLatin1Char(')'));
                ok = false;
            } else {
                rule.topicFilter = filter;
            }
        } else if (WatchdogActionRule::isValidPattern(words[2])) {
            rule.pattern.namePattern = words[2];
        } else {
            errors->append(where + QLatin1Char('"') + words[2]
                           + QStringLiteral("\" is not a name pattern (1..128 of A-Z a-z 0-9 . _ - * ?)"));
            ok = false;
        }
        for (qsizetype i = 3; i < words.size(); ++i) {
            const QString &w = words[i];
            const qsizetype eq = w.indexOf(QLatin1Char('='));
            const QString what = eq < 0 ? w : w.left(eq);
            const QString arg = eq < 0 ? QString() : w.mid(eq + 1);
            bool good = true;
            if (w == QLatin1String("remote") || w == QLatin1String("local")) {
                rule.remote = w == QLatin1String("remote");
            } else if (what == QLatin1String("uid") && number(arg)) {
                rule.uid = uid_t(*number(arg));
            } else if (what == QLatin1String("gid") && number(arg)) {
                rule.gid = gid_t(*number(arg));
            } else if (what == QLatin1String("program") && arg.startsWith(QLatin1Char('/'))) {
                rule.program = arg;
            } else if (what == QLatin1String("service") && !arg.isEmpty()) {
                rule.service = arg;
            } else {
                good = false;
            }
            if (!good) {
                errors->append(where + QLatin1Char('"') + w
                               + QStringLiteral("\" is not a condition (uid=N, gid=N, program=/PATH, service=NAME, remote, local)"));
                ok = false;
            }
        }
        if (!ok)
            continue;
        policy.m_hasOwn |= rule.verb == PolicyVerb::Own;
        policy.m_hasSend |= rule.verb == PolicyVerb::Send && rule.topicFilter.isEmpty();
        policy.m_hasSendTopic |= !rule.topicFilter.isEmpty();
        policy.m_needsProcess |= !rule.program.isEmpty() || !rule.service.isEmpty();
        policy.m_rules.append(rule);
    }
    return policy;
}

AccessPolicy::Decision AccessPolicy::decide(PolicyVerb verb, QByteArrayView name, const PeerIdentity &peer) const
{
    for (qsizetype i = 0; i < m_rules.size(); ++i) {
        const PolicyRule &rule = m_rules[i];
        if (rule.verb == verb && rule.topicFilter.isEmpty() && rule.pattern.matches(name) && applies(rule, peer))
            return {rule.allow, int(i)};
    }
    return {m_defaultAllow, -1};
}

AccessPolicy::Decision AccessPolicy::decideTopic(QByteArrayView topic, const PeerIdentity &peer) const
{
    for (qsizetype i = 0; i < m_rules.size(); ++i) {
        const PolicyRule &rule = m_rules[i];
        if (!rule.topicFilter.isEmpty() && Topic::matches(rule.topicFilter, topic) && applies(rule, peer))
            return {rule.allow, int(i)};
    }
    return {m_defaultAllow, -1};
}

QStringList AccessPolicy::explain(const PeerIdentity &peer) const
{
    QStringList lines;
    for (const PolicyRule &rule : m_rules) {
        if (!applies(rule, peer))
            continue;
        lines << QStringLiteral("%1 %2 %3 (rule %4: %5)")
                     .arg(rule.allow ? QStringLiteral("allow") : QStringLiteral("deny"), QLatin1String(policyVerbName(rule.verb)),
                          rule.patternText(), rule.name, rule.text());
    }
    const QString fallback = m_defaultAllow ? QStringLiteral("allow") : QStringLiteral("deny");
    lines << QStringLiteral("%1 own * (default)").arg(fallback) << QStringLiteral("%1 send * (default)").arg(fallback)
          << QStringLiteral("%1 send topic:# (default)").arg(fallback);
    return lines;
}

} // namespace Kennel
