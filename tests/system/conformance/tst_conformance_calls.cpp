// Protocol conformance, PROTOCOL §5.6: calls. One test function per numbered rule, named after it,
// each driving a real kennel-broker process through raw sockets (see tst_conformance_messaging.cpp).
#include "conformancepeer.h"

using namespace ConformanceTest;

namespace {

// [calls] at small bounds so their edges are quick to reach; r566-t is expected back.
const QByteArray CallsConfig = QByteArrayLiteral("[limits]\nmax_frame_size = 8192\nmax_queue_bytes = 8192\n"
                                                 "[calls]\nmax_outstanding = 3\nmax_deadline_ms = 1500\ndefault_deadline_ms = 300\n"
                                                 "[hold]\nnames = r566-t\n");

bool registerWithCalls(Conn &conn, const QByteArray &name)
{
    HelloPayload hello;
    hello.features = FeatureCalls;
    conn.hello(name, 1, hello);
    const std::optional<Frame> w = conn.next();
    if (!w || w->type != FrameType::Welcome)
        return false;
    const std::optional<WelcomePayload> welcome = decodeWelcome(w->payload);
    return welcome && welcome->features && (*welcome->features & FeatureCalls);
}

void call(Conn &conn, const QByteArray &target, quint32 id, const QByteArray &payload, quint32 deadlineMs = 1000)
{
    conn.send(FrameType::Call, id, {}, target, encodeCallRequest(deadlineMs, payload));
}

std::optional<CallResultPayload> resultOf(const std::optional<Frame> &f)
{
    if (!f || f->type != FrameType::CallResult)
        return std::nullopt;
    return decodeCallResult(f->payload);
}

std::optional<CallOutcome> outcomeOf(const std::optional<Frame> &f)
{
    const std::optional<CallResultPayload> r = resultOf(f);
    return r ? std::optional<CallOutcome>(r->outcome) : std::nullopt;
}

} // namespace

class tst_ConformanceCalls : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();

    void R_5_6_1_callReplyAndErrorReply();
    void R_5_6_2_timeoutAndLateOrStrangerReply();
    void R_5_6_3_refusedAtOnce();
    void R_5_6_4_calleeGone();
    void R_5_6_5_outstandingBound();
    void R_5_6_6_waitsForExpectedCallee();
    void R_5_6_7_callFramesNeedFeatureAndRegistration();

private:
    BrokerProcess m_broker;
};

void tst_ConformanceCalls::initTestCase()
{
    QVERIFY(startBroker(m_broker, CallsConfig));
}

void tst_ConformanceCalls::R_5_6_1_callReplyAndErrorReply()
{
    Conn caller, callee;
    QVERIFY(caller.tcp(m_broker.tcpPort()));
    QVERIFY(callee.unix(m_broker.unixPath()));
    QVERIFY(registerWithCalls(caller, "r561-a"));
    QVERIFY(registerWithCalls(callee, "r561-b"));

    const QByteArray binary = QByteArray::fromHex("00ff0d0a00");
    call(caller, "r561-b", 0x0A0B0C0D, binary, 1000);
    std::optional<Frame> in = callee.next();
    QVERIFY(in && in->type == FrameType::CallIncoming);
    QCOMPARE(in->source, QByteArrayLiteral("r561-a"));
    QCOMPARE(in->target, QByteArrayLiteral("r561-b"));
    QVERIFY(in->messageId != 0);
    std::optional<CallRequest> request = decodeCallRequest(in->payload);
    QVERIFY(request);
    QCOMPARE(request->payload, binary);
    QVERIFY(request->deadlineMs > 0 && request->deadlineMs <= 1000);
    callee.send(FrameType::Reply, in->messageId, {}, {}, encodeCallReply(0, "answer"));
    std::optional<Frame> r = caller.next();
    QVERIFY(r && r->type == FrameType::CallResult);
    QCOMPARE(r->messageId, 0x0A0B0C0Du);
    QCOMPARE(r->target, QByteArrayLiteral("r561-b"));
    QVERIFY(r->source.isEmpty());
    std::optional<CallResultPayload> result = resultOf(r);
    QCOMPARE(result->outcome, CallOutcome::Replied);
    QCOMPARE(result->code, quint16(0));
    QCOMPARE(result->payload, QByteArrayLiteral("answer"));

    // Two callers may use the same call id towards one callee: the broker's ids tell them apart.
    call(caller, "r561-b", 7, "first");
    in = callee.next();
    QVERIFY(in && in->type == FrameType::CallIncoming);
    callee.send(FrameType::Reply, in->messageId, {}, {}, encodeCallReply(42, "no such thing"));
    result = resultOf(caller.next());
    QVERIFY(result);
    QCOMPARE(result->outcome, CallOutcome::ErrorReply);
    QCOMPARE(result->code, quint16(42));
    QCOMPARE(result->payload, QByteArrayLiteral("no such thing"));
}

void tst_ConformanceCalls::R_5_6_2_timeoutAndLateOrStrangerReply()
{
    Conn caller, callee, stranger;
    QVERIFY(caller.tcp(m_broker.tcpPort()));
    QVERIFY(callee.tcp(m_broker.tcpPort()));
    QVERIFY(stranger.tcp(m_broker.tcpPort()));
    QVERIFY(registerWithCalls(caller, "r562-a"));
    QVERIFY(registerWithCalls(callee, "r562-b"));
    QVERIFY(registerWithCalls(stranger, "r562-c"));

    QElapsedTimer clock;
    clock.start();
    call(caller, "r562-b", 1, "slow", 200);
    std::optional<Frame> in = callee.next();
    QVERIFY(in && in->type == FrameType::CallIncoming);
    // A stranger answering with the id it might guess is ignored: the call still times out.
    stranger.send(FrameType::Reply, in->messageId, {}, {}, encodeCallReply(0, "forged"));
    std::optional<Frame> r = caller.next(3000);
    QCOMPARE(outcomeOf(r), CallOutcome::Timeout);
    QCOMPARE(r->messageId, 1u);
    QVERIFY2(clock.elapsed() >= 190, QByteArray::number(clock.elapsed()).constData());
    QVERIFY(stranger.quietFor(50)); // not answered
    // The callee's late reply is dropped, not forwarded and not answered.
    callee.send(FrameType::Reply, in->messageId, {}, {}, encodeCallReply(0, "late"));
    QVERIFY(caller.quietFor(200));
    QVERIFY(callee.quietFor(1));

    // 0: the default deadline (300 ms); over the maximum: cut to 1500 ms.
    clock.restart();
    call(caller, "r562-b", 2, "default", 0);
    in = callee.next();
    QVERIFY(in && decodeCallRequest(in->payload)->deadlineMs <= 300);
    QCOMPARE(outcomeOf(caller.next(3000)), CallOutcome::Timeout);
    QVERIFY2(clock.elapsed() < 1000, QByteArray::number(clock.elapsed()).constData());
    call(caller, "r562-b", 3, "long", 100000);
    in = callee.next();
    QVERIFY(in);
    const quint32 left = decodeCallRequest(in->payload)->deadlineMs;
    QVERIFY2(left <= 1500 && left > 1000, QByteArray::number(left).constData());
    callee.send(FrameType::Reply, in->messageId, {}, {}, encodeCallReply(0, "in time"));
    QCOMPARE(outcomeOf(caller.next()), CallOutcome::Replied);
}

void tst_ConformanceCalls::R_5_6_3_refusedAtOnce()
{
    Conn caller, plain, old;
    QVERIFY(caller.tcp(m_broker.tcpPort()));
    QVERIFY(plain.tcp(m_broker.tcpPort()));
    QVERIFY(old.tcp(m_broker.tcpPort()));
    QVERIFY(registerWithCalls(caller, "r563-a"));
    QVERIFY(plain.registerAs("r563-plain")); // no features: cannot be called
    QVERIFY(legacyReceiver(old, m_broker, "r563old"));

    call(caller, "r563-nobody", 1, "x");
    std::optional<Frame> r = caller.next(200); // at once: well before the 1 s deadline
    QCOMPARE(outcomeOf(r), CallOutcome::NoSuchClient);
    QCOMPARE(r->target, QByteArrayLiteral("r563-nobody"));
    call(caller, "r563-plain", 2, "x");
    QCOMPARE(outcomeOf(caller.next(200)), CallOutcome::NotCallable);
    QVERIFY(plain.quietFor(50));
    call(caller, "r563old", 3, "x");
    QCOMPARE(outcomeOf(caller.next(200)), CallOutcome::NotCallable);
    call(caller, {}, 4, "x");
    QCOMPARE(outcomeOf(caller.next(200)), CallOutcome::InvalidTarget);
}

void tst_ConformanceCalls::R_5_6_4_calleeGone()
{
    Conn caller, byeCallee;
    QVERIFY(caller.tcp(m_broker.tcpPort()));
    QVERIFY(registerWithCalls(caller, "r564-a"));
    {
        Conn callee;
        QVERIFY(callee.unix(m_broker.unixPath()));
        QVERIFY(registerWithCalls(callee, "r564-b"));
        call(caller, "r564-b", 1, "one", 1400);
        call(caller, "r564-b", 2, "two", 1400);
        QVERIFY(callee.next());
        QVERIFY(callee.next());
    } // the callee's socket closes without a word: a crash
    QElapsedTimer clock;
    clock.start();
    std::optional<Frame> r1 = caller.next(1000), r2 = caller.next(1000);
    QCOMPARE(outcomeOf(r1), CallOutcome::CalleeGone);
    QCOMPARE(outcomeOf(r2), CallOutcome::CalleeGone);
    QCOMPARE(QSet<quint32>({r1->messageId, r2->messageId}), QSet<quint32>({1u, 2u}));
    QVERIFY(clock.elapsed() < 1000); // at once, not at the deadline

    // A Bye ends them the same way.
    QVERIFY(byeCallee.tcp(m_broker.tcpPort()));
    QVERIFY(registerWithCalls(byeCallee, "r564-c"));
    call(caller, "r564-c", 3, "three", 1400);
    QVERIFY(byeCallee.next());
    byeCallee.send(FrameType::Bye, 0, {}, {}, {});
    QCOMPARE(outcomeOf(caller.next(1000)), CallOutcome::CalleeGone);
}

void tst_ConformanceCalls::R_5_6_5_outstandingBound()
{
    Conn caller, callee;
    QVERIFY(caller.tcp(m_broker.tcpPort()));
    QVERIFY(callee.tcp(m_broker.tcpPort()));
    QVERIFY(registerWithCalls(caller, "r565-a"));
    QVERIFY(registerWithCalls(callee, "r565-b"));
    for (quint32 id = 1; id <= 3; ++id)
        call(caller, "r565-b", id, "x", 1400);
    std::vector<quint32> incoming;
    for (int i = 0; i < 3; ++i) {
        const std::optional<Frame> in = callee.next();
        QVERIFY(in && in->type == FrameType::CallIncoming);
        incoming.push_back(in->messageId);
    }
    QVERIFY(caller.quietFor(50)); // three are within the bound
    call(caller, "r565-b", 4, "x", 1400);
    std::optional<Frame> r = caller.next(500);
    QCOMPARE(outcomeOf(r), CallOutcome::TooManyCalls);
    QCOMPARE(r->messageId, 4u);
    QVERIFY(callee.quietFor(50)); // not handed over
    // The same id as an outstanding call: refused (checked before the bound).
    call(caller, "r565-b", 2, "again", 1400);
    QCOMPARE(outcomeOf(caller.next(500)), CallOutcome::DuplicateId);
    // One answered: room for one more.
    callee.send(FrameType::Reply, incoming[0], {}, {}, encodeCallReply(0, "done"));
    QCOMPARE(outcomeOf(caller.next()), CallOutcome::Replied);
    call(caller, "r565-b", 5, "x", 1400);
    const std::optional<Frame> in = callee.next();
    QVERIFY(in && in->type == FrameType::CallIncoming);
    callee.send(FrameType::Reply, in->messageId, {}, {}, encodeCallReply(0, "five"));
    r = caller.next();
    QCOMPARE(outcomeOf(r), CallOutcome::Replied);
    QCOMPARE(r->messageId, 5u);
}

void tst_ConformanceCalls::R_5_6_6_waitsForExpectedCallee()
{
    Conn caller, callee;
    QVERIFY(caller.tcp(m_broker.tcpPort()));
    QVERIFY(registerWithCalls(caller, "r566-a"));
    call(caller, "r566-t", 1, "wait for me", 1400);
    QVERIFY(caller.quietFor(200)); // waiting, not refused
    QVERIFY(callee.tcp(m_broker.tcpPort()));
    QVERIFY(registerWithCalls(callee, "r566-t"));
    const std::optional<Frame> in = callee.next();
    QVERIFY(in && in->type == FrameType::CallIncoming);
    QCOMPARE(in->source, QByteArrayLiteral("r566-a"));
    QCOMPARE(decodeCallRequest(in->payload)->payload, QByteArrayLiteral("wait for me"));
    QVERIFY(decodeCallRequest(in->payload)->deadlineMs < 1400);
    callee.send(FrameType::Reply, in->messageId, {}, {}, encodeCallReply(0, "here"));
    const std::optional<CallResultPayload> result = resultOf(caller.next());
    QVERIFY(result);
    QCOMPARE(result->outcome, CallOutcome::Replied);
    QCOMPARE(result->payload, QByteArrayLiteral("here"));

    // Nobody comes within the deadline: timeout.
    Conn lonely;
    QVERIFY(lonely.tcp(m_broker.tcpPort()));
    QVERIFY(registerWithCalls(lonely, "r566-l"));
    callee.send(FrameType::Bye, 0, {}, {}, {});
    QVERIFY(callee.closed());
    call(lonely, "r566-t", 2, "anyone?", 200);
    QCOMPARE(outcomeOf(lonely.next(2000)), CallOutcome::Timeout);
}

void tst_ConformanceCalls::R_5_6_7_callFramesNeedFeatureAndRegistration()
{
    Conn plain, pending, caller;
    QVERIFY(plain.tcp(m_broker.tcpPort()));
    QVERIFY(plain.registerAs("r567-plain"));
    call(plain, "r567-plain", 1, "x");
    std::optional<Frame> e = plain.next();
    QCOMPARE(errorOf(e), ErrorCode::UnknownFrameType);
    QCOMPARE(e->messageId, 1u);
    plain.send(FrameType::Reply, 2, {}, {}, encodeCallReply(0, "x"));
    QCOMPARE(errorOf(plain.next()), ErrorCode::UnknownFrameType);

    QVERIFY(pending.tcp(m_broker.tcpPort()));
    call(pending, "r567-plain", 3, "x");
    QCOMPARE(errorOf(pending.next()), ErrorCode::UnknownFrameType); // no Hello: no features

    QVERIFY(caller.tcp(m_broker.tcpPort()));
    QVERIFY(registerWithCalls(caller, "r567-a"));
    caller.send(FrameType::Call, 4, {}, "r567-a", QByteArrayLiteral("\x00\x01"));
    e = caller.next();
    QCOMPARE(errorOf(e), ErrorCode::InvalidCall);
    QCOMPARE(e->messageId, 4u);
    caller.send(FrameType::Reply, 5, {}, {}, QByteArrayLiteral("\x00"));
    QCOMPARE(errorOf(caller.next()), ErrorCode::InvalidCall);
    // Broker-only call frames from a client: unknown. The connection stays open throughout.
    caller.send(FrameType::CallResult, 6, {}, {}, encodeCallResult(CallOutcome::Replied, 0, {}));
    QCOMPARE(errorOf(caller.next()), ErrorCode::UnknownFrameType);
    call(caller, "r567-a", 7, "to myself");
    const std::optional<Frame> in = caller.next();
    QVERIFY(in && in->type == FrameType::CallIncoming);
    caller.send(FrameType::Reply, in->messageId, {}, {}, encodeCallReply(0, "me"));
    QCOMPARE(outcomeOf(caller.next()), CallOutcome::Replied);
}

QTEST_GUILESS_MAIN(tst_ConformanceCalls)
#include "tst_conformance_calls.moc"
