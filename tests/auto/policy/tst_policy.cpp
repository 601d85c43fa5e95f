// The access policy's rule engine (broker/policy/accesspolicy.h, docs/SECURITY.md "Access
// policy"): parsing with the errors an operator sees, and first-match-wins decisions for peers
// of every kind, unknown identities failing closed; PolicyEngine's swap of one policy for another.
#include "accesspolicy.h"
#include "policyengine.h"

#include <QTest>

using namespace Kennel;

Q_DECLARE_METATYPE(Kennel::PeerIdentity)

namespace {

using Rules = QList<std::pair<QString, QString>>;

AccessPolicy parsed(const Rules &rules, bool defaultAllow = true)
{
    QStringList errors;
    AccessPolicy policy = AccessPolicy::parse(rules, defaultAllow, &errors);
    if (!errors.isEmpty())
        qWarning("%s", qPrintable(errors.join(QLatin1Char('\n'))));
    return policy;
}

PeerIdentity local(uid_t uid, gid_t gid, const QString &program = {}, const QString &service = {})
{
    PeerIdentity p;
    p.uid = uid;
    p.gid = gid;
    p.program = program;
    p.service = service;
    p.serviceKnown = !program.isEmpty();
    return p;
}

// The rules every decision below is made with: first match wins.
const Rules Board = {
    {QStringLiteral("sensor_only_root"), QStringLiteral("allow own sensor-* uid=0")},
    {QStringLiteral("sensor_nobody_else"), QStringLiteral("deny own sensor-*")},
    {QStringLiteral("ui_may_send"), QStringLiteral("allow send sensor-* program=/usr/bin/ui")},
    {QStringLiteral("svc_may_send"), QStringLiteral("allow send sensor-* service=logger")},
    {QStringLiteral("no_remote_send"), QStringLiteral("deny send * remote")},
    {QStringLiteral("sensor_closed"), QStringLiteral("deny send sensor-?")},
    {QStringLiteral("group_owns"), QStringLiteral("allow own grp.* gid=20 local")},
    {QStringLiteral("grp_closed"), QStringLiteral("deny own grp.*")},
};

} // namespace

class tst_Policy : public QObject
{
    Q_OBJECT
private slots:
    void decide_data();
    void decide();
    void parseErrors_data();
    void parseErrors();
    void explain();
    void engineSwap();
    void topicRules_data();
    void topicRules();
    void sendChecksOnlyWhenNeeded();
    void hitsCounted();
};

void tst_Policy::decide_data()
{
    QTest::addColumn<int>("verb");
    QTest::addColumn<QByteArray>("name");
    QTest::addColumn<PeerIdentity>("peer");
    QTest::addColumn<bool>("allowed");
    QTest::addColumn<int>("rule");
    PeerIdentity remote;
    remote.remote = true;
    PeerIdentity unknown; // nothing established
    const int own = int(PolicyVerb::Own);
    const int send = int(PolicyVerb::Send);
    QTest::newRow("root owns sensor") << own << QByteArray("sensor-1") << local(0, 0) << true << 0;
    QTest::newRow("uid 1000 may not") << own << QByteArray("sensor-1") << local(1000, 1000) << false << 1;
    QTest::newRow("unknown uid may not") << own << QByteArray("sensor-1") << unknown << false << 1;
    QTest::newRow("other names free") << own << QByteArray("display") << local(1000, 1000) << true << -1;
    QTest::newRow("case matters") << own << QByteArray("Sensor-1") << local(1000, 1000) << true << -1;
    QTest::newRow("ui sends") << send << QByteArray("sensor-1") << local(1000, 1000, QStringLiteral("/usr/bin/ui")) << true << 2;
    QTest::newRow("logger service sends") << send << QByteArray("sensor-1")
                                          << local(1000, 1000, QStringLiteral("/usr/bin/logger"), QStringLiteral("logger")) << true << 3;
    QTest::newRow("other program denied") << send << QByteArray("sensor-1") << local(1000, 1000, QStringLiteral("/tmp/x")) << false << 5;
    QTest::newRow("unknown program: allow skipped, deny applies") << send << QByteArray("sensor-1") << unknown << false << 5;
    QTest::newRow("remote denied everything") << send << QByteArray("display") << remote << false << 4;
    QTest::newRow("local sends elsewhere") << send << QByteArray("display") << local(1000, 1000) << true << -1;
    QTest::newRow("? is one character") << send << QByteArray("sensor-10") << local(1000, 1000, QStringLiteral("/tmp/x")) << true << -1;
    QTest::newRow("gid 20 local owns") << own << QByteArray("grp.a") << local(1000, 20) << true << 6;
    QTest::newRow("gid 20 remote may not") << own << QByteArray("grp.a") << [] { PeerIdentity p = local(1000, 20); p.remote = true; return p; }() << false << 7;
    QTest::newRow("other gid may not") << own << QByteArray("grp.a") << local(1000, 21) << false << 7;
}

void tst_Policy::decide()
{
    QFETCH(int, verb);
    QFETCH(QByteArray, name);
    QFETCH(PeerIdentity, peer);
    QFETCH(bool, allowed);
    QFETCH(int, rule);
    const AccessPolicy policy = parsed(Board);
    QCOMPARE(policy.rules().size(), Board.size());
    const AccessPolicy::Decision d = policy.decide(PolicyVerb(verb), name, peer);
    QCOMPARE(d.allowed, allowed);
    QCOMPARE(d.rule, rule);
}

void tst_Policy::parseErrors_data()
{
    QTest::addColumn<QString>("rule");
    QTest::addColumn<QString>("error");
    QTest::newRow("short") << QStringLiteral("allow own") << QStringLiteral("policy/r: \"allow own\" is not a rule (ACTION VERB PATTERN [CONDITION ...])");
    QTest::newRow("action") << QStringLiteral("permit own a") << QStringLiteral("policy/r: \"permit\" is not an action (allow, deny)");
    QTest::newRow("verb") << QStringLiteral("allow take a") << QStringLiteral("policy/r: \"take\" is not a verb (own, send)");
    QTest::newRow("publish later") << QStringLiteral("allow publish a") << QStringLiteral("policy/r: \"publish\" is not supported by this broker (own, send)");
    QTest::newRow("pattern") << QStringLiteral("allow own a/b") << QStringLiteral("policy/r: \"a/b\" is not a name pattern (1..128 of A-Z a-z 0-9 . _ - * ?)");
    QTest::newRow("uid") << QStringLiteral("allow own a uid=root") << QStringLiteral("policy/r: \"uid=root\" is not a condition (uid=N, gid=N, program=/PATH, service=NAME, remote, local)");
    QTest::newRow("topic filter for own") << QStringLiteral("allow own topic:a/#") << QStringLiteral("policy/r: \"topic:a/#\" names topics: only send rules take a topic filter");
    QTest::newRow("topic filter") << QStringLiteral("deny send topic:a/#/b") << QStringLiteral("policy/r: \"topic:a/#/b\" is not a topic filter (a wildcard must be a whole level, and '#' the last)");
    QTest::newRow("empty topic filter") << QStringLiteral("deny send topic:") << QStringLiteral("policy/r: \"topic:\" is not a topic filter (empty)");
    QTest::newRow("relative program") << QStringLiteral("allow own a program=ui") << QStringLiteral("policy/r: \"program=ui\" is not a condition (uid=N, gid=N, program=/PATH, service=NAME, remote, local)");
}

void tst_Policy::parseErrors()
{
    QFETCH(QString, rule);
    QFETCH(QString, error);
    QStringList errors;
    const AccessPolicy policy = AccessPolicy::parse({{QStringLiteral("r"), rule}}, true, &errors);
    QCOMPARE(errors, QStringList{error});
    QVERIFY(policy.isEmpty());
}

void tst_Policy::explain()
{
    const AccessPolicy policy = parsed(Board, false);
    QCOMPARE(policy.explain(local(1000, 20, QStringLiteral("/usr/bin/ui"))),
             (QStringList{QStringLiteral("deny own sensor-* (rule sensor_nobody_else: deny own sensor-*)"),
                          QStringLiteral("allow send sensor-* (rule ui_may_send: allow send sensor-* program=/usr/bin/ui)"),
                          QStringLiteral("deny send sensor-? (rule sensor_closed: deny send sensor-?)"),
                          QStringLiteral("allow own grp.* (rule group_owns: allow own grp.* gid=20 local)"),
                          QStringLiteral("deny own grp.* (rule grp_closed: deny own grp.*)"),
                          QStringLiteral("deny own * (default)"), QStringLiteral("deny send * (default)"),
                          QStringLiteral("deny send topic:# (default)")}));
    QVERIFY(policy.hasRulesFor(PolicyVerb::Send));
    QVERIFY(policy.needsProcess());
    QVERIFY(!parsed({{QStringLiteral("a"), QStringLiteral("deny own x uid=5")}}).hasRulesFor(PolicyVerb::Send));
}

void tst_Policy::engineSwap()
{
    PolicyEngine engine;
    QVERIFY(engine.current().isEmpty());
    QVERIFY(engine.current().decide(PolicyVerb::Own, "sensor-1", local(1000, 1000)).allowed); // today's behaviour
    const quint64 before = engine.generation();
    auto strict = std::make_shared<const AccessPolicy>(parsed(Board));
    engine.replace(strict);
    QVERIFY(engine.generation() != before);
    QCOMPARE(engine.denials().size(), Board.size());
    const AccessPolicy::Decision d = engine.decide(PolicyVerb::Own, "sensor-1", local(1000, 1000));
    QVERIFY(!d.allowed);
    QCOMPARE(engine.denials().at(1), 1u);
    // A holder of the old policy keeps it whole while the engine moves on.
    std::shared_ptr<const AccessPolicy> held = engine.snapshot();
    engine.replace(std::make_shared<const AccessPolicy>());
    QVERIFY(engine.decide(PolicyVerb::Own, "sensor-1", local(1000, 1000)).allowed);
    QVERIFY(engine.denials().isEmpty());
    QCOMPARE(held->rules().size(), Board.size());
}

// PROTOCOL R-4.5.7: `send topic:FILTER` rules judge publications, name patterns never do, and a
// topic rule never judges a name.
void tst_Policy::topicRules_data()
{
    QTest::addColumn<QByteArray>("topic");
    QTest::addColumn<PeerIdentity>("peer");
    QTest::addColumn<bool>("allowed");
    QTest::addColumn<int>("rule");
    QTest::newRow("root publishes sensors") << QByteArray("sensors/kitchen/temp") << local(0, 0) << true << 1;
    QTest::newRow("others may not") << QByteArray("sensors/kitchen/temp") << local(1000, 1000) << false << 2;
    QTest::newRow("# takes the parent") << QByteArray("sensors") << local(1000, 1000) << false << 2;
    QTest::newRow("+ is one level") << QByteArray("ui/a/state") << local(1000, 1000) << false << 3;
    QTest::newRow("+ not two") << QByteArray("ui/a/b/state") << local(1000, 1000) << true << -1;
    QTest::newRow("name pattern * does not match topics") << QByteArray("display") << local(1000, 1000) << true << -1;
}

void tst_Policy::topicRules()
{
    QFETCH(QByteArray, topic);
    QFETCH(PeerIdentity, peer);
    QFETCH(bool, allowed);
    QFETCH(int, rule);
    const AccessPolicy policy = parsed({
        {QStringLiteral("names"), QStringLiteral("deny send *")},
        {QStringLiteral("root_sensors"), QStringLiteral("allow send topic:sensors/# uid=0")},
        {QStringLiteral("sensors"), QStringLiteral("deny send topic:sensors/#")},
        {QStringLiteral("ui_state"), QStringLiteral("deny send topic:ui/+/state")},
    });
    QCOMPARE(policy.rules().size(), 4);
    QCOMPARE(policy.rules().at(1).text(), QStringLiteral("allow send topic:sensors/# uid=0"));
    const AccessPolicy::Decision d = policy.decideTopic(topic, peer);
    QCOMPARE(d.allowed, allowed);
    QCOMPARE(d.rule, rule);
    // The name rule judges names only; the topic rules are invisible to names.
    QCOMPARE(policy.decide(PolicyVerb::Send, "sensors", peer).rule, 0);
}

// The send paths pay nothing unless the policy has something for them (PROTOCOL R-4.5.4).
void tst_Policy::sendChecksOnlyWhenNeeded()
{
    QVERIFY(!parsed({}).checksNames());
    QVERIFY(!parsed({}).checksTopics());
    QVERIFY(!parsed({{QStringLiteral("a"), QStringLiteral("deny own x")}}).checksNames());
    const AccessPolicy names = parsed({{QStringLiteral("a"), QStringLiteral("deny send x")}});
    QVERIFY(names.checksNames());
    QVERIFY(!names.checksTopics());
    const AccessPolicy topics = parsed({{QStringLiteral("a"), QStringLiteral("deny send topic:x/#")}});
    QVERIFY(!topics.checksNames());
    QVERIFY(topics.checksTopics());
    // default = deny with no rules denies everything: both are checked.
    QVERIFY(parsed({}, false).checksNames());
    QVERIFY(parsed({}, false).checksTopics());
}

void tst_Policy::hitsCounted()
{
    PolicyEngine engine;
    engine.replace(std::make_shared<const AccessPolicy>(parsed(Board)));
    QCOMPARE(engine.hits().size(), Board.size());
    engine.decide(PolicyVerb::Own, "sensor-1", local(0, 0));       // allowed by rule 0
    engine.decide(PolicyVerb::Own, "sensor-1", local(1000, 1000)); // denied by rule 1
    engine.decide(PolicyVerb::Own, "display", local(1000, 1000));  // the default
    engine.note({false, 5});                                        // a cached send verdict, again
    QCOMPARE(engine.hits().at(0), 1u);
    QCOMPARE(engine.denials().at(0), 0u);
    QCOMPARE(engine.hits().at(1), 1u);
    QCOMPARE(engine.denials().at(1), 1u);
    QCOMPARE(engine.hits().at(5), 1u);
    QCOMPARE(engine.denials().at(5), 1u);
    QCOMPARE(engine.defaultHits(), 1u);
    QCOMPARE(engine.totalDenials(), 2u);
    engine.replace(std::make_shared<const AccessPolicy>(parsed(Board)));
    QCOMPARE(engine.hits().at(0), 0u); // a new policy counts afresh
    QCOMPARE(engine.totalDenials(), 2u);
}

QTEST_GUILESS_MAIN(tst_Policy)
#include "tst_policy.moc"
