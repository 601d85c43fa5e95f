// Protocol conformance, PROTOCOL §4.5 R-4.5.4..R-4.5.8 and R-5.6.8: the access policy's send rules
// on Sends (native and old protocol), Calls and Publishes, and their cached verdicts across a reload. One
// test function per numbered rule, named after it, each driving a real kennel-broker process
// through raw sockets with the pure codecs only.
#include "conformancepeer.h"

#include "topiccodec.h"

#include <QFile>

#include <tuple>

#include <csignal>

using namespace ConformanceTest;

namespace {

// Name rules for R-4.5.4..6, topic rules for R-4.5.7 (a name rule whose pattern reads like the
// topic, to show it does not judge topics).
const QByteArray PolicyConfig = QByteArrayLiteral("[policy]\n"
                                                  "r454 = deny send r454-*\n"
                                                  "r455 = deny send r455-t\n"
                                                  "r456 = deny send r456-t\n"
                                                  "r568 = deny send r568-*\n"
                                                  "r457_name = deny send r457x\n"
                                                  "r457_topic = deny send topic:r457/closed/#\n");

bool registerWith(Conn &conn, const QByteArray &name, quint32 features)
{
    HelloPayload hello;
    hello.features = features;
    conn.hello(name, 1, hello);
    const std::optional<Frame> w = conn.next();
    return w && w->type == FrameType::Welcome;
}

std::optional<PublishStatusPayload> publishStatusOf(const std::optional<Frame> &f, quint32 id)
{
    if (!f || f->type != FrameType::PublishStatus || f->messageId != id)
        return std::nullopt;
    return decodePublishStatus(f->payload);
}

bool isDeliverOf(const std::optional<Frame> &f, const QByteArray &payload)
{
    return f && f->type == FrameType::Deliver && f->payload == payload;
}

bool waitForLog(const BrokerProcess &broker, const QByteArray &line)
{
    QElapsedTimer clock;
    clock.start();
    while (!broker.log().contains(line) && clock.elapsed() < WaitMs)
        QTest::qWait(10);
    return broker.log().contains(line);
}

} // namespace

class tst_ConformancePolicy : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();

    void R_4_5_4_sendRuleJudgesTargetName();
    void R_4_5_5_deniedSenderToldOrDropped();
    void R_4_5_6_deniedCallRefused();
    void R_4_5_7_topicRuleJudgesPublications();
    void R_4_5_8_reloadRejudgesRoutes();
    void R_5_6_8_deniedCallEndsAtOnce();

private:
    BrokerProcess m_broker;
};

void tst_ConformancePolicy::initTestCase()
{
    QVERIFY(startBroker(m_broker, PolicyConfig));
}

void tst_ConformancePolicy::R_4_5_4_sendRuleJudgesTargetName()
{
    Conn rx, ok, tx;
    QVERIFY(rx.tcp(m_broker.tcpPort()));
    QVERIFY(rx.registerAs("r454-rx"));
    QVERIFY(ok.tcp(m_broker.tcpPort()));
    QVERIFY(ok.registerAs("r454ok"));
    QVERIFY(tx.unix(m_broker.unixPath()));
    QVERIFY(tx.registerAs("r454tx"));
    // Denied whether the name is there or not, and twice (the second from the route's cache).
    tx.sendTo("r454-rx", "no", 2);
    QCOMPARE(statusOf(tx.next()), DeliveryStatus::PolicyDenied);
    tx.sendTo("r454-rx", "no again", 3);
    QCOMPARE(statusOf(tx.next()), DeliveryStatus::PolicyDenied);
    tx.sendTo("r454-nobody", "no", 4);
    QCOMPARE(statusOf(tx.next()), DeliveryStatus::PolicyDenied);
    QVERIFY(rx.quietFor(200));
    // Names no rule matches: as without a policy.
    tx.sendTo("r454ok", "yes", 5);
    QCOMPARE(statusOf(tx.next()), DeliveryStatus::Delivered);
    QVERIFY(isDeliverOf(ok.next(), "yes"));
    tx.sendTo("r454nobody", "anyone?", 6);
    QCOMPARE(statusOf(tx.next()), DeliveryStatus::NoSuchClient);
}

void tst_ConformancePolicy::R_4_5_5_deniedSenderToldOrDropped()
{
    Conn rx, ok, tx, old, m;
    // A monitor sees every denial, the old program's too (it alone cannot be told).
    QVERIFY(m.unix(m_broker.unixPath()));
    HelloPayload monitorHello;
    monitorHello.role = Role::Monitor;
    m.hello("r455-monitor", 1, monitorHello);
    QCOMPARE(m.next()->type, FrameType::Welcome);
    m.send(MonitorFrame::Subscribe, 2, {}, {}, encodeMonitorSubscribe({}));
    QVERIFY(m.take(MonitorFrame::SnapshotEnd));
    QVERIFY(rx.tcp(m_broker.tcpPort()));
    QVERIFY(rx.registerAs("r455-t"));
    QVERIFY(ok.tcp(m_broker.tcpPort()));
    QVERIFY(ok.registerAs("r455ok"));
    QVERIFY(tx.tcp(m_broker.tcpPort()));
    QVERIFY(tx.registerAs("r455tx"));
    // No status asked: an Error with the Send's messageId naming the rule; the connection stays.
    tx.sendTo("r455-t", "no", 7, false);
    const std::optional<Frame> refused = tx.next();
    QCOMPARE(errorOf(refused), ErrorCode::PolicyDenied);
    QCOMPARE(refused->messageId, 7u);
    QVERIFY(decodeError(refused->payload)->text.contains(QLatin1String("r455 = deny send r455-t")));
    tx.sendTo("r455ok", "still here", 8);
    QCOMPARE(statusOf(tx.next()), DeliveryStatus::Delivered);
    QVERIFY(isDeliverOf(ok.next(), "still here"));
    // The old protocol: dropped without a word, the connection stays and may send elsewhere.
    QVERIFY(old.unix(m_broker.unixPath()));
    old.write(legacyFrame(Legacy::Command::Forward, 0, "r455-t", "r455old", "no"));
    old.write(legacyFrame(Legacy::Command::Forward, 0, "r455ok", "r455old", "old yes"));
    QVERIFY(isDeliverOf(ok.next(), "old yes"));
    QVERIFY(rx.quietFor(200));
    QCOMPARE(old.bytesReceived(), 0);
    QVERIFY(!old.closed(100));
    QVERIFY(waitForLog(m_broker, "denied legacy send from 'r455old'"));
    // Two denials on the monitor stream, in order: the native Send, then the old program's.
    for (const auto &[sender, path, denials] : {std::tuple{QByteArray("r455tx"), MonitorPolicyPath::Send, 1u},
                                                 std::tuple{QByteArray("r455old"), MonitorPolicyPath::LegacySend, 2u}}) {
        const std::optional<Frame> f = m.take(MonitorFrame::PolicyDenial);
        QVERIFY(f);
        const std::optional<MonitorPolicyDenial> d = decodeMonitorPolicyDenial(f->payload);
        QVERIFY(d);
        QCOMPARE(d->sender, sender);
        QCOMPARE(d->target, QByteArray("r455-t"));
        QCOMPARE(d->path, path);
        QCOMPARE(d->rule, 1);
        QCOMPARE(d->ruleName, QStringLiteral("r455"));
        QCOMPARE(d->ruleText, QStringLiteral("deny send r455-t"));
        QCOMPARE(d->ruleDenials, quint64(denials));
        QVERIFY(d->sessionId != 0);
    }
}

void tst_ConformancePolicy::R_4_5_6_deniedCallRefused()
{
    Conn callee, caller;
    QVERIFY(callee.tcp(m_broker.tcpPort()));
    QVERIFY(registerWith(callee, "r456-t", FeatureCalls));
    QVERIFY(caller.tcp(m_broker.tcpPort()));
    QVERIFY(registerWith(caller, "r456c", FeatureCalls));
    caller.send(FrameType::Call, 11, {}, "r456-t", encodeCallRequest(1000, "no"));
    const std::optional<Frame> refused = caller.next();
    QVERIFY(refused && refused->type == FrameType::CallResult);
    QCOMPARE(refused->messageId, 11u);
    const std::optional<CallResultPayload> result = decodeCallResult(refused->payload);
    QVERIFY(result);
    QCOMPARE(result->outcome, CallOutcome::PolicyDenied);
    QVERIFY(callee.quietFor(200));
}

void tst_ConformancePolicy::R_4_5_7_topicRuleJudgesPublications()
{
    Conn sub, pub;
    QVERIFY(sub.tcp(m_broker.tcpPort()));
    QVERIFY(registerWith(sub, "r457s", FeatureTopics));
    sub.send(FrameType::Subscribe, 2, {}, {}, encodeTopicFilter("r457/#"));
    QCOMPARE(sub.next()->type, FrameType::TopicAck);
    sub.send(FrameType::Subscribe, 3, {}, {}, encodeTopicFilter("r457x"));
    QCOMPARE(sub.next()->type, FrameType::TopicAck);
    QVERIFY(pub.tcp(m_broker.tcpPort()));
    QVERIFY(registerWith(pub, "r457p", FeatureTopics));
    // Status asked: PublishStatus policy_denied; not asked: an Error. Retained: not kept.
    pub.send(FrameType::Publish, 4, {}, {}, encodeTopicMessage("r457/closed/a", "no"), WantDeliveryStatus | RetainFlag);
    const std::optional<PublishStatusPayload> status = publishStatusOf(pub.next(), 4);
    QVERIFY(status);
    QCOMPARE(status->result, ErrorCode::PolicyDenied);
    QCOMPARE(status->delivered, 0u);
    pub.send(FrameType::Publish, 5, {}, {}, encodeTopicMessage("r457/closed", "no"));
    const std::optional<Frame> refused = pub.next();
    QCOMPARE(errorOf(refused), ErrorCode::PolicyDenied);
    QCOMPARE(refused->messageId, 5u);
    QVERIFY(sub.quietFor(200));
    // Elsewhere under r457/, and the topic a name rule's pattern reads like: published.
    pub.send(FrameType::Publish, 6, {}, {}, encodeTopicMessage("r457/open", "yes"), WantDeliveryStatus);
    QCOMPARE(publishStatusOf(pub.next(), 6)->delivered, 1u);
    QCOMPARE(sub.next()->type, FrameType::Publication);
    pub.send(FrameType::Publish, 7, {}, {}, encodeTopicMessage("r457x", "yes"), WantDeliveryStatus);
    QCOMPARE(publishStatusOf(pub.next(), 7)->delivered, 1u);
    QCOMPARE(sub.next()->type, FrameType::Publication);
    // A new subscriber finds nothing retained from the denied publication.
    Conn late;
    QVERIFY(late.tcp(m_broker.tcpPort()));
    QVERIFY(registerWith(late, "r457late", FeatureTopics));
    late.send(FrameType::Subscribe, 8, {}, {}, encodeTopicFilter("r457/closed/#"));
    const std::optional<Frame> ack = late.next();
    QCOMPARE(ack->type, FrameType::TopicAck);
    QCOMPARE(decodeTopicAck(ack->payload)->count, 0u);
}

void tst_ConformancePolicy::R_4_5_8_reloadRejudgesRoutes()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker, QByteArrayLiteral("[policy]\nr458 = deny send r458-a\n")));
    Conn tx;
    QVERIFY(tx.tcp(broker.tcpPort()));
    QVERIFY(tx.registerAs("r458tx"));
    tx.sendTo("r458-a", "no", 2);
    QCOMPARE(statusOf(tx.next()), DeliveryStatus::PolicyDenied);
    tx.sendTo("r458-b", "yes", 3);
    QCOMPARE(statusOf(tx.next()), DeliveryStatus::NoSuchClient);
    QFile config(broker.directory() + QStringLiteral("/broker.ini"));
    QVERIFY(config.open(QIODevice::WriteOnly | QIODevice::Truncate));
    config.write("[policy]\nr458 = deny send r458-b\n");
    config.close();
    QCOMPARE(::kill(pid_t(broker.pid()), SIGHUP), 0);
    QVERIFY(waitForLog(broker, "reload: configuration reloaded"));
    // The same connection, the same routes: judged by the new rules.
    tx.sendTo("r458-a", "yes now", 4);
    QCOMPARE(statusOf(tx.next()), DeliveryStatus::NoSuchClient);
    tx.sendTo("r458-b", "no now", 5);
    QCOMPARE(statusOf(tx.next()), DeliveryStatus::PolicyDenied);
    QCOMPARE(broker.stopVerdict(), QString());
}

void tst_ConformancePolicy::R_5_6_8_deniedCallEndsAtOnce()
{
    Conn callee, ok, caller;
    QVERIFY(callee.tcp(m_broker.tcpPort()));
    QVERIFY(registerWith(callee, "r568-t", FeatureCalls));
    QVERIFY(ok.tcp(m_broker.tcpPort()));
    QVERIFY(registerWith(ok, "r568ok", FeatureCalls));
    QVERIFY(caller.unix(m_broker.unixPath()));
    QVERIFY(registerWith(caller, "r568c", FeatureCalls));
    constexpr quint32 DeadlineMs = 8000;
    // A registered callee, the same route again (its cached verdict), and a name nobody holds:
    // each ends at once, long before the deadline, with the caller's id, the target and the rule.
    const QList<std::pair<quint32, QByteArray>> calls = {{21, "r568-t"}, {22, "r568-t"}, {23, "r568-nobody"}};
    for (const auto &[id, target] : calls) {
        QElapsedTimer clock;
        clock.start();
        caller.send(FrameType::Call, id, {}, target, encodeCallRequest(DeadlineMs, "no"));
        const std::optional<Frame> f = caller.next(int(DeadlineMs / 4));
        QVERIFY2(f && f->type == FrameType::CallResult, f ? frameTypeName(f->type) : "nothing");
        QVERIFY(clock.elapsed() < DeadlineMs / 4);
        QCOMPARE(f->messageId, id);
        QCOMPARE(f->target, target);
        const std::optional<CallResultPayload> result = decodeCallResult(f->payload);
        QVERIFY(result);
        QCOMPARE(result->outcome, CallOutcome::PolicyDenied);
        QCOMPARE(quint16(result->outcome), quint16(12));
        QCOMPARE(result->code, quint16(0));
        QVERIFY2(result->payload.contains("r568"), result->payload.constData());
    }
    QVERIFY(callee.quietFor(200));
    // A denied call holds no id: 21 is free again, and an allowed call on the same connection goes through.
    caller.send(FrameType::Call, 21, {}, "r568ok", encodeCallRequest(DeadlineMs, "yes"));
    const std::optional<Frame> incoming = ok.next();
    QVERIFY(incoming && incoming->type == FrameType::CallIncoming);
    ok.send(FrameType::Reply, incoming->messageId, {}, {}, encodeCallReply(0, "done"));
    const std::optional<Frame> replied = caller.next();
    QVERIFY(replied && replied->type == FrameType::CallResult);
    QCOMPARE(replied->messageId, 21u);
    QCOMPARE(decodeCallResult(replied->payload)->outcome, CallOutcome::Replied);
    QCOMPARE(decodeCallResult(replied->payload)->payload, QByteArrayLiteral("done"));
}

QTEST_MAIN(tst_ConformancePolicy)
#include "tst_conformance_policy.moc"
