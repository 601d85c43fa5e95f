// Protocol conformance, PROTOCOL §1-§4: detection, framing, names, the handshake, control frames and the watchdog.
// One test function per numbered rule of docs/PROTOCOL.md, named after it (R-2.1.3 ->
// R_2_1_3_...), each driving a real kennel-broker process through raw sockets. The CTest check
// protocol_rules_have_tests fails when a rule has no function in tst_conformance_*.cpp.
#include "conformancepeer.h"

#include <csignal>

#include <sys/types.h>
#include <unistd.h>

using namespace ConformanceTest;

class tst_ConformanceWire : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();

    void R_1_1_protocolFromFirstBytes();
    void R_1_2_answersCarryTheRequestId();
    void R_2_1_reservedFlagsIgnored();
    void R_2_1_1_badMagicIsFatal();
    void R_2_1_2_unsupportedHeaderVersionIsFatal();
    void R_2_1_3_frameTooLargeFromHeader();
    void R_2_1_4_inconsistentNameLengthsAreFatal();
    void R_2_1_5_invalidNameSkipsTheFrame();
    void R_2_1_6_unknownTypeIsNotFatal();
    void R_2_2_1_wrongDirectionAndMonitorRange();
    void R_2_2_2_nameFieldsOfBrokerFrames();
    void R_3_1_nameAlphabet();
    void R_3_2_noLeadingDashOrDot();
    void R_3_3_namesAreCaseSensitive();
    void R_3_4_brokerMaxNameLength();
    void R_4_1_1_welcome();
    void R_4_1_2_malformedHelloCloses();
    void R_4_1_3_refusedHelloKeepsConnection();
    void R_4_1_4_clientHelloWithoutTokenOrTarget();
    void R_4_1_5_pidClaimCheckedAgainstKernel();
    void R_4_1_6_deadHolderTakenOver();
    void R_4_1_7_beforeWelcome();
    void R_4_1_8_featureNegotiation();
    void R_4_2_1_byeFlushesAndCloses();
    void R_4_2_2_pingAnsweredPongIgnored();
    void R_4_2_3_idleTimeoutTiming();
    void R_4_3_1_errorFrameFields();
    void R_4_3_2_shutdownSaysShuttingDownThenBye();
    void R_4_3_4_shutdownMarksTheLastSendRead();
    void R_4_3_3_registerTimeoutForNativePeer();
    void R_4_4_1_watchdogAck();
    void R_4_4_2_invalidWatchdogTerms();
    void R_4_4_3_feedAnsweredOnlyWhenNotWatched();
    void R_4_4_4_expiryDisconnects();
    void R_4_4_5_notifyExpiryTellsClientNothing();
    void R_4_5_1_reservedNameRefusedConnectionStays();
    void R_4_5_2_reservedNameClosesLegacyConnection();
    void R_4_5_3_policyDeniesOwning();

private:
    BrokerProcess m_broker; // the shared one; tests that need other settings start their own
};

void tst_ConformanceWire::initTestCase()
{
    QVERIFY(startBroker(m_broker, SharedConfig));
}

// --- §1 ----------------------------------------------------------------------------------------

void tst_ConformanceWire::R_1_1_protocolFromFirstBytes()
{
    Conn garbage, native, legacy;
    QVERIFY(garbage.tcp(m_broker.tcpPort()));
    garbage.write("GET / HTTP/1.0\r\n\r\n");
    QCOMPARE(errorOf(garbage.next()), ErrorCode::BadMagic);
    QVERIFY(garbage.closed());
    QVERIFY(native.tcp(m_broker.tcpPort()));
    QVERIFY(native.registerAs("r11-native"));
    QVERIFY(legacy.tcp(m_broker.tcpPort()));
    QVERIFY(legacyReceiver(legacy, m_broker, "r11old"));
    native.sendTo("r11old", "hi", 1);
    const std::optional<Frame> status = native.next();
    QVERIFY(status);
    QCOMPARE(statusOf(status), DeliveryStatus::SenderNameUnfit); // "r11-native" is 10 bytes
    Conn shortName;
    QVERIFY(shortName.tcp(m_broker.tcpPort()));
    QVERIFY(shortName.registerAs("r11n"));
    shortName.sendTo("r11old", "hi", 1);
    QCOMPARE(statusOf(shortName.next()), DeliveryStatus::Delivered);
    QTRY_VERIFY_WITH_TIMEOUT((legacy.next(20), legacy.bytesReceived() == Legacy::FrameSize), WaitMs);
    QVERIFY(Legacy::decode(legacy.raw()).error == Legacy::DecodeError::None);
}

void tst_ConformanceWire::R_1_2_answersCarryTheRequestId()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    c.hello("r12", 4242);
    std::optional<Frame> f = c.next();
    QVERIFY(f && f->type == FrameType::Welcome);
    QCOMPARE(f->messageId, 4242u);
    c.send(FrameType::Ping, 77, {}, {}, "x");
    f = c.next();
    QVERIFY(f && f->type == FrameType::Pong);
    QCOMPARE(f->messageId, 77u);
    c.sendTo("nobody-r12", "x", 0xDEADBEEF);
    f = c.next();
    QCOMPARE(statusOf(f), DeliveryStatus::NoSuchClient);
    QCOMPARE(f->messageId, 0xDEADBEEFu);
}

// --- §2 ----------------------------------------------------------------------------------------

void tst_ConformanceWire::R_2_1_reservedFlagsIgnored()
{
    Conn a, b;
    QVERIFY(a.tcp(m_broker.tcpPort()));
    QVERIFY(b.tcp(m_broker.tcpPort()));
    QVERIFY(a.registerAs("r21-a"));
    QVERIFY(b.registerAs("r21-b"));
    // Every reserved bit set, WantDeliveryStatus clear: delivered, nothing said.
    a.send(FrameType::Send, 3, {}, "r21-b", "flags", 0xFFFE);
    const std::optional<Frame> d = b.next();
    QVERIFY(d && d->type == FrameType::Deliver);
    QCOMPARE(d->flags, quint16(0));
    QVERIFY(a.quietFor(200));
}

void tst_ConformanceWire::R_2_1_1_badMagicIsFatal()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    c.write("KX");
    const std::optional<Frame> f = c.next();
    QCOMPARE(errorOf(f), ErrorCode::BadMagic);
    QCOMPARE(f->messageId, 0u);
    QVERIFY(c.closed());
}

void tst_ConformanceWire::R_2_1_2_unsupportedHeaderVersionIsFatal()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    c.write(QByteArray("KN\x02", 3)); // three bytes are enough to decide
    QCOMPARE(errorOf(c.next()), ErrorCode::UnsupportedVersion);
    QVERIFY(c.closed());
}

void tst_ConformanceWire::R_2_1_3_frameTooLargeFromHeader()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    c.write(header(FrameType::Send, 0xFFFFFFFFu, 0, 0)); // no body follows, none is awaited
    QCOMPARE(errorOf(c.next()), ErrorCode::FrameTooLarge);
    QVERIFY(c.closed());
}

void tst_ConformanceWire::R_2_1_4_inconsistentNameLengthsAreFatal()
{
    Conn over64, overBody;
    QVERIFY(over64.tcp(m_broker.tcpPort()));
    over64.write(header(FrameType::Send, 100, 65, 0));
    QCOMPARE(errorOf(over64.next()), ErrorCode::MalformedFrame);
    QVERIFY(over64.closed());
    QVERIFY(overBody.tcp(m_broker.tcpPort()));
    overBody.write(header(FrameType::Send, 5, 3, 3));
    QCOMPARE(errorOf(overBody.next()), ErrorCode::MalformedFrame);
    QVERIFY(overBody.closed());
}

void tst_ConformanceWire::R_2_1_5_invalidNameSkipsTheFrame()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    QVERIFY(c.registerAs("r215"));
    c.sendTo("a b", "x", 31);
    c.send(FrameType::Ping, 32, {}, {}, {});
    const std::optional<Frame> e = c.next();
    QCOMPARE(errorOf(e), ErrorCode::InvalidName);
    QCOMPARE(e->messageId, 31u);
    const std::optional<Frame> p = c.next();
    QVERIFY(p && p->type == FrameType::Pong);
    QCOMPARE(p->messageId, 32u);
}

void tst_ConformanceWire::R_2_1_6_unknownTypeIsNotFatal()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    QVERIFY(c.registerAs("r216"));
    c.send(FrameType(0x99), 61, {}, {}, "future");
    const std::optional<Frame> e = c.next();
    QCOMPARE(errorOf(e), ErrorCode::UnknownFrameType);
    QCOMPARE(e->messageId, 61u);
    c.send(FrameType::Ping, 62, {}, {}, {});
    QCOMPARE(c.next()->type, FrameType::Pong);
}

void tst_ConformanceWire::R_2_2_1_wrongDirectionAndMonitorRange()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    QVERIFY(c.registerAs("r221"));
    const QList<quint8> unknown = {0x02, 0x07, 0x0F, 0x11, 0x12, 0x13, 0x22, 0x3F, 0x80, 0xFF};
    for (quint8 type : unknown) {
        c.send(FrameType(type), type, {}, {}, {});
        const std::optional<Frame> e = c.next();
        QVERIFY2(errorOf(e) == ErrorCode::UnknownFrameType, qPrintable(QString::number(type, 16)));
        QCOMPARE(e->messageId, quint32(type));
    }
    for (quint8 type : {quint8(0x40), quint8(0x50), quint8(0x5A), quint8(0x7F)}) {
        c.send(FrameType(type), type, {}, {}, {});
        const std::optional<Frame> e = c.next();
        QVERIFY2(errorOf(e) == ErrorCode::NotPermitted, qPrintable(QString::number(type, 16)));
        QCOMPARE(e->messageId, quint32(type));
    }
    c.send(FrameType::Ping, 1, {}, {}, {});
    QCOMPARE(c.next()->type, FrameType::Pong); // none of them closed the connection
}

void tst_ConformanceWire::R_2_2_2_nameFieldsOfBrokerFrames()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    c.hello("r222");
    std::optional<Frame> f = c.next();
    QVERIFY(f && f->type == FrameType::Welcome);
    QVERIFY(f->source.isEmpty());
    QCOMPARE(f->target, QByteArrayLiteral("r222"));
    c.send(FrameType::WatchdogRegister, 2, {}, {}, encodeWatchdogTerms({60000, 3, ExpiryAction::Notify}));
    f = c.next();
    QVERIFY(f && f->type == FrameType::WatchdogAck);
    QVERIFY(f->source.isEmpty());
    QCOMPARE(f->target, QByteArrayLiteral("r222"));
    c.send(FrameType::Ping, 3, {}, {}, "p");
    f = c.next();
    QVERIFY(f && f->type == FrameType::Pong && f->source.isEmpty() && f->target.isEmpty());
    c.send(FrameType(0x99), 4, {}, {}, {});
    f = c.next();
    QVERIFY(f && f->type == FrameType::Error && f->source.isEmpty() && f->target.isEmpty());
    c.sendTo("nobody-r222", "x", 5);
    f = c.next();
    QVERIFY(f && f->type == FrameType::DeliveryStatus && f->source.isEmpty());
    QCOMPARE(f->target, QByteArrayLiteral("nobody-r222"));
}

// --- §3 ----------------------------------------------------------------------------------------

void tst_ConformanceWire::R_3_1_nameAlphabet()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    for (const QByteArray &bad : {QByteArrayLiteral("a/b"), QByteArrayLiteral("a b"), QByteArray("a\0b", 3),
                                  QByteArrayLiteral("caf\xc3\xa9")}) {
        c.hello(bad);
        QVERIFY2(errorOf(c.next()) == ErrorCode::InvalidName, bad.toHex().constData());
    }
    c.hello("A-z_0.9");
    QCOMPARE(c.next()->type, FrameType::Welcome);
}

void tst_ConformanceWire::R_3_2_noLeadingDashOrDot()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    for (const QByteArray &bad : {QByteArrayLiteral("."), QByteArrayLiteral(".."), QByteArrayLiteral("-rf"),
                                  QByteArrayLiteral(".hidden"), QByteArrayLiteral("-")}) {
        c.hello(bad);
        QVERIFY2(errorOf(c.next()) == ErrorCode::InvalidName, bad.constData());
    }
    c.hello("client1"); // an old program's kind of name
    QCOMPARE(c.next()->type, FrameType::Welcome);
    // In a Send's target too, and an old program's name with the same rule.
    c.sendTo("-rf", "x", 9);
    QCOMPARE(errorOf(c.next()), ErrorCode::InvalidName);
    Conn old;
    QVERIFY(old.tcp(m_broker.tcpPort()));
    old.write(legacyFrame(Legacy::Command::RegisterReceiver, 0, "null", "-rf", "null"));
    QVERIFY(old.closed());
    QCOMPARE(old.bytesReceived(), qsizetype(0));
}

void tst_ConformanceWire::R_3_3_namesAreCaseSensitive()
{
    Conn upper, lower;
    QVERIFY(upper.tcp(m_broker.tcpPort()));
    QVERIFY(lower.tcp(m_broker.tcpPort()));
    QVERIFY(upper.registerAs("R33Logger"));
    QVERIFY(lower.registerAs("r33logger"));
    upper.sendTo("r33logger", "x", 1);
    QCOMPARE(statusOf(upper.next()), DeliveryStatus::Delivered);
    QCOMPARE(lower.next()->source, QByteArrayLiteral("R33Logger"));
}

void tst_ConformanceWire::R_3_4_brokerMaxNameLength()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker, QByteArrayLiteral("[limits]\nmax_name_length = 8\n")));
    Conn c;
    QVERIFY(c.tcp(broker.tcpPort()));
    c.hello("ninechars");
    QCOMPARE(errorOf(c.next()), ErrorCode::InvalidName);
    c.hello("eightchr");
    QCOMPARE(c.next()->type, FrameType::Welcome);
}

// --- §4.1 --------------------------------------------------------------------------------------

void tst_ConformanceWire::R_4_1_1_welcome()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    c.hello("r411", 11);
    const std::optional<Frame> f = c.next();
    QVERIFY(f && f->type == FrameType::Welcome);
    QCOMPARE(f->messageId, 11u);
    QVERIFY(f->source.isEmpty());
    QCOMPARE(f->target, QByteArrayLiteral("r411"));
    const std::optional<WelcomePayload> w = decodeWelcome(f->payload);
    QVERIFY(w);
    QCOMPARE(w->protocolVersion, quint16(1));
    QCOMPARE(w->maxFrameSize, FrameLimit);
}

void tst_ConformanceWire::R_4_1_2_malformedHelloCloses()
{
    Conn shortHello, badRole, version0;
    QVERIFY(shortHello.tcp(m_broker.tcpPort()));
    shortHello.send(FrameType::Hello, 1, "r412a", {}, QByteArray(7, '\0'));
    QCOMPARE(errorOf(shortHello.next()), ErrorCode::MalformedFrame);
    QVERIFY(shortHello.closed());
    QVERIFY(badRole.tcp(m_broker.tcpPort()));
    QByteArray payload = encodeHello({});
    payload[0] = char(7);
    badRole.send(FrameType::Hello, 1, "r412b", {}, payload);
    QCOMPARE(errorOf(badRole.next()), ErrorCode::MalformedFrame);
    QVERIFY(badRole.closed());
    QVERIFY(version0.tcp(m_broker.tcpPort()));
    HelloPayload v0;
    v0.protocolVersion = 0;
    version0.hello("r412c", 1, v0);
    QCOMPARE(errorOf(version0.next()), ErrorCode::UnsupportedVersion);
    QVERIFY(version0.closed());
}

void tst_ConformanceWire::R_4_1_3_refusedHelloKeepsConnection()
{
    Conn holder, c;
    QVERIFY(holder.tcp(m_broker.tcpPort()));
    QVERIFY(holder.registerAs("r413"));
    QVERIFY(c.tcp(m_broker.tcpPort()));
    c.hello("r413");
    QCOMPARE(errorOf(c.next()), ErrorCode::NameTaken);
    c.hello("bad name");
    QCOMPARE(errorOf(c.next()), ErrorCode::InvalidName);
    c.hello("r413-b");
    QCOMPARE(c.next()->type, FrameType::Welcome);
    c.hello("r413-c", 5);
    const std::optional<Frame> again = c.next();
    QCOMPARE(errorOf(again), ErrorCode::AlreadyRegistered);
    QCOMPARE(again->messageId, 5u);
    holder.sendTo("r413-b", "still me", 1);
    QCOMPARE(statusOf(holder.next()), DeliveryStatus::Delivered);
    QCOMPARE(c.next()->target, QByteArrayLiteral("r413-b"));
}

void tst_ConformanceWire::R_4_1_4_clientHelloWithoutTokenOrTarget()
{
    Conn withToken, withTarget;
    QVERIFY(withToken.tcp(m_broker.tcpPort()));
    HelloPayload hello;
    hello.token = "secret";
    withToken.hello("r414a", 1, hello);
    QCOMPARE(errorOf(withToken.next()), ErrorCode::MalformedFrame);
    QVERIFY(withToken.closed());
    QVERIFY(withTarget.tcp(m_broker.tcpPort()));
    withTarget.send(FrameType::Hello, 1, "r414b", "someone", encodeHello({}));
    QCOMPARE(errorOf(withTarget.next()), ErrorCode::MalformedFrame);
    QVERIFY(withTarget.closed());
}

void tst_ConformanceWire::R_4_1_5_pidClaimCheckedAgainstKernel()
{
    Conn liar, honest;
    QVERIFY(liar.unix(m_broker.unixPath()));
    HelloPayload lie;
    lie.pid = quint32(m_broker.pid()); // a live process, but not the peer
    liar.hello("r415a", 1, lie);
    QCOMPARE(errorOf(liar.next()), ErrorCode::PidMismatch);
    QVERIFY(liar.closed());
    QVERIFY(honest.unix(m_broker.unixPath()));
    HelloPayload truth;
    truth.pid = quint32(::getpid());
    honest.hello("r415b", 1, truth);
    QCOMPARE(honest.next()->type, FrameType::Welcome);
}

void tst_ConformanceWire::R_4_1_6_deadHolderTakenOver()
{
    {
        Conn first;
        QVERIFY(first.tcp(m_broker.tcpPort()));
        QVERIFY(first.registerAs("r416"));
    } // closed here, the broker may not have noticed yet
    Conn second;
    QVERIFY(second.tcp(m_broker.tcpPort()));
    QVERIFY(second.registerAs("r416"));
}

void tst_ConformanceWire::R_4_1_7_beforeWelcome()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    c.sendTo("anyone", "x", 1, false);
    QCOMPARE(errorOf(c.next()), ErrorCode::NotRegistered);
    c.sendTo("anyone", "x", 2, true);
    QCOMPARE(statusOf(c.next()), DeliveryStatus::NotRegistered);
    c.send(FrameType::WatchdogFeed, 3, {}, {}, {});
    QCOMPARE(errorOf(c.next()), ErrorCode::NotRegistered);
    c.send(FrameType::Ping, 4, {}, {}, {});
    QCOMPARE(c.next()->type, FrameType::Pong);
    QVERIFY(c.registerAs("r417"));
}

void tst_ConformanceWire::R_4_1_8_featureNegotiation()
{
    Conn plain, negotiating;
    QVERIFY(plain.tcp(m_broker.tcpPort()));
    plain.hello("r418a");
    const std::optional<Frame> v1 = plain.next();
    QVERIFY(v1 && v1->type == FrameType::Welcome);
    // The version-1 Welcome byte for byte: flags 0, the version text right after the fixed part.
    QCOMPARE(qFromBigEndian<quint16>(v1->payload.constData() + 2), quint16(0));
    QVERIFY(!decodeWelcome(v1->payload)->features);
    QVERIFY(negotiating.tcp(m_broker.tcpPort()));
    HelloPayload hello;
    hello.features = 0xFFFFFFFFu; // everything, known or not: the broker answers what it offers
    negotiating.hello("r418b", 1, hello);
    const std::optional<Frame> w = negotiating.next();
    QVERIFY(w && w->type == FrameType::Welcome);
    const std::optional<WelcomePayload> offer = decodeWelcome(w->payload);
    QVERIFY(offer && offer->features);
    QVERIFY(*offer->features & FeatureWatchdog);
    QCOMPARE(offer->brokerVersion, decodeWelcome(v1->payload)->brokerVersion);
}

// --- §4.2 --------------------------------------------------------------------------------------

void tst_ConformanceWire::R_4_2_1_byeFlushesAndCloses()
{
    Conn a, b;
    QVERIFY(a.tcp(m_broker.tcpPort()));
    QVERIFY(b.tcp(m_broker.tcpPort()));
    QVERIFY(a.registerAs("r421-a"));
    QVERIFY(b.registerAs("r421-b"));
    a.sendTo("r421-b", "one", 1);
    QCOMPARE(statusOf(a.next()), DeliveryStatus::Delivered); // queued towards b
    QByteArray pingThenBye;
    appendFrame(pingThenBye, FrameType::Ping, 8, NoFlags, {}, {}, {});
    appendFrame(pingThenBye, FrameType::Bye, 9, NoFlags, {}, {}, {});
    b.write(pingThenBye);
    const std::optional<Frame> d = b.next();
    QVERIFY(d && d->type == FrameType::Deliver);
    QCOMPARE(b.next()->type, FrameType::Pong); // queued before the Bye: flushed
    QVERIFY(b.closed());
}

void tst_ConformanceWire::R_4_2_2_pingAnsweredPongIgnored()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    c.send(FrameType::Ping, 5, {}, {}, "before hello");
    std::optional<Frame> f = c.next();
    QVERIFY(f && f->type == FrameType::Pong);
    QCOMPARE(f->payload, QByteArrayLiteral("before hello"));
    QVERIFY(c.registerAs("r422"));
    c.send(FrameType::Pong, 6, {}, {}, "unsolicited");
    QVERIFY(c.quietFor(200));
    const QByteArray big(FrameLimit - Wire::HeaderSize, 'p');
    c.send(FrameType::Ping, 7, {}, {}, big);
    f = c.next();
    QVERIFY(f && f->type == FrameType::Pong);
    QCOMPARE(f->payload, big);
}

void tst_ConformanceWire::R_4_2_3_idleTimeoutTiming()
{
    constexpr int IdleMs = 1000;
    BrokerProcess broker;
    QVERIFY(startBroker(broker, {}, {QStringLiteral("--idle-timeout"), QString::number(IdleMs)}));
    Conn silent;
    QVERIFY(silent.unix(broker.unixPath()));
    QElapsedTimer clock;
    silent.hello("silent");
    clock.start(); // the broker read the Hello after this: its silence is no longer than ours
    QCOMPARE(silent.next()->type, FrameType::Welcome);
    const std::optional<Frame> ping = silent.next(3 * IdleMs);
    const qint64 pingAt = clock.elapsed();
    QVERIFY(ping && ping->type == FrameType::Ping);
    const std::optional<Frame> error = silent.next(3 * IdleMs);
    const qint64 closedAt = clock.elapsed();
    QCOMPARE(errorOf(error), ErrorCode::IdleTimeout);
    QVERIFY(silent.closed());
    qInfo("idle timeout %d ms: Ping after %lld ms, IdleTimeout after %lld ms", IdleMs, pingAt, closedAt);
    // Half of it at the earliest; the upper bounds allow for this process's own lateness.
    QVERIFY2(pingAt >= IdleMs / 2 && pingAt <= IdleMs * 6 / 10 + 150, qPrintable(QString::number(pingAt)));
    QVERIFY2(closedAt >= IdleMs && closedAt <= IdleMs * 5 / 4 + 100, qPrintable(QString::number(closedAt)));
}

// --- §4.3 --------------------------------------------------------------------------------------

void tst_ConformanceWire::R_4_3_1_errorFrameFields()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    QVERIFY(c.registerAs("r431"));
    c.send(FrameType::Send, 314, "r431-not-me", "r431", "x");
    const std::optional<Frame> f = c.next();
    QCOMPARE(errorOf(f), ErrorCode::SourceMismatch);
    QCOMPARE(f->messageId, 314u);
    QVERIFY(f->source.isEmpty() && f->target.isEmpty());
    const std::optional<ErrorPayload> e = decodeError(f->payload);
    QVERIFY(!e->text.isEmpty());
    QCOMPARE(e->text.toUtf8(), f->payload.mid(2)); // UTF-8, the rest of the payload
}

void tst_ConformanceWire::R_4_3_2_shutdownSaysShuttingDownThenBye()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker, {}));
    Conn a;
    QVERIFY(a.tcp(broker.tcpPort()));
    QVERIFY(a.registerAs("r432"));
    Conn old;
    QVERIFY(old.tcp(broker.tcpPort()));
    QVERIFY(legacyReceiver(old, broker, "r432old"));
    a.sendTo("r432old", "sync", 1); // the legacy registration is done once this is delivered
    QCOMPARE(statusOf(a.next()), DeliveryStatus::Delivered);
    QVERIFY(!old.next(200)); // (a legacy frame is not a native one)
    ::kill(pid_t(broker.pid()), SIGTERM);
    const std::optional<Frame> e = a.next();
    QCOMPARE(errorOf(e), ErrorCode::ShuttingDown);
    QCOMPARE(e->messageId, 0u);
    QCOMPARE(a.next()->type, FrameType::Bye);
    QVERIFY(a.closed());
    QVERIFY(old.closed());
    QCOMPARE(old.bytesReceived(), qsizetype(Legacy::FrameSize)); // the message, no native frame
    QTRY_VERIFY_WITH_TIMEOUT(!broker.isRunning(), WaitMs);
    QCOMPARE(broker.exitCode(), 0);
}

void tst_ConformanceWire::R_4_3_4_shutdownMarksTheLastSendRead()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker, {}));
    Conn a, b;
    QVERIFY(a.tcp(broker.tcpPort()));
    QVERIFY(b.tcp(broker.tcpPort()));
    HelloPayload marked;
    marked.features = FeatureShutdownMark;
    a.hello("r434-a", 1, marked);
    const std::optional<Frame> welcome = a.next();
    QVERIFY(welcome && welcome->type == FrameType::Welcome);
    QVERIFY(decodeWelcome(welcome->payload)->features.value_or(0) & FeatureShutdownMark);
    QVERIFY(b.registerAs("r434-b"));
    for (quint32 id : {11u, 12u, 13u}) {
        a.sendTo("r434-b", "before", id);
        QCOMPARE(statusOf(a.next()), DeliveryStatus::Delivered);
    }
    // Stopped while a whole Send and the first bytes of the next one arrive, then told to stop:
    // the whole one is read (and answered), the partial one never is.
    const pid_t pid = pid_t(broker.pid());
    QCOMPARE(::kill(pid, SIGSTOP), 0);
    a.sendTo("r434-b", "during", 14);
    QByteArray partial;
    appendFrame(partial, FrameType::Send, 15, WantDeliveryStatus, {}, "r434-b", "never read whole");
    a.write(partial.left(10));
    QCOMPARE(::kill(pid, SIGTERM), 0);
    QCOMPARE(::kill(pid, SIGCONT), 0);
    const std::optional<Frame> s = a.next();
    QVERIFY(s && s->type == FrameType::DeliveryStatus);
    QCOMPARE(s->messageId, 14u);
    const std::optional<Frame> e = a.next();
    QCOMPARE(errorOf(e), ErrorCode::ShuttingDown);
    QCOMPARE(e->messageId, 14u); // the last Send read; 15 is the client's to send again
    QCOMPARE(a.next()->type, FrameType::Bye);
    // A client that did not list the feature hears messageId 0, as before.
    const std::optional<Frame> eb = b.take(FrameType::Error);
    QCOMPARE(errorOf(eb), ErrorCode::ShuttingDown);
    QCOMPARE(eb->messageId, 0u);
    QTRY_VERIFY_WITH_TIMEOUT(!broker.isRunning(), WaitMs);
}

void tst_ConformanceWire::R_4_3_3_registerTimeoutForNativePeer()
{
    Conn c;
    QElapsedTimer clock;
    clock.start();
    QVERIFY(c.tcp(m_broker.tcpPort()));
    c.send(FrameType::Ping, 1, {}, {}, {}); // native, but never a Hello
    QCOMPARE(c.next()->type, FrameType::Pong);
    QCOMPARE(errorOf(c.next(4000)), ErrorCode::RegisterTimeout);
    QVERIFY(c.closed());
    QVERIFY(clock.elapsed() >= 1500 - 50);
}

// --- §4.4 --------------------------------------------------------------------------------------

void tst_ConformanceWire::R_4_4_1_watchdogAck()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    QVERIFY(c.registerAs("r441"));
    c.send(FrameType::WatchdogRegister, 21, {}, {}, encodeWatchdogTerms({}));
    const std::optional<Frame> f = c.next();
    QVERIFY(f && f->type == FrameType::WatchdogAck);
    QCOMPARE(f->messageId, 21u);
    const std::optional<WatchdogTerms> t = decodeWatchdogTerms(f->payload);
    QVERIFY(t);
    QVERIFY(t->intervalMs > 0 && t->allowedMisses > 0 && t->action != ExpiryAction::Default);
}

void tst_ConformanceWire::R_4_4_2_invalidWatchdogTerms()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    QVERIFY(c.registerAs("r442"));
    c.send(FrameType::WatchdogRegister, 1, {}, {}, QByteArray(7, '\0'));
    QCOMPARE(errorOf(c.next()), ErrorCode::InvalidWatchdogTerms);
    QByteArray badAction = encodeWatchdogTerms({});
    badAction[6] = char(5);
    c.send(FrameType::WatchdogRegister, 2, {}, {}, badAction);
    QCOMPARE(errorOf(c.next()), ErrorCode::InvalidWatchdogTerms);
    c.send(FrameType::WatchdogRegister, 3, {}, {}, encodeWatchdogTerms({1, 1, ExpiryAction::Notify})); // under the minimum
    QCOMPARE(errorOf(c.next()), ErrorCode::InvalidWatchdogTerms);
    c.send(FrameType::Ping, 4, {}, {}, {});
    QCOMPARE(c.next()->type, FrameType::Pong);
}

void tst_ConformanceWire::R_4_4_3_feedAnsweredOnlyWhenNotWatched()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    QVERIFY(c.registerAs("r443"));
    c.send(FrameType::WatchdogFeed, 1, {}, {}, {});
    QCOMPARE(errorOf(c.next()), ErrorCode::WatchdogUnavailable);
    c.send(FrameType::WatchdogRegister, 2, {}, {}, encodeWatchdogTerms({60000, 3, ExpiryAction::Notify}));
    QCOMPARE(c.next()->type, FrameType::WatchdogAck);
    c.send(FrameType::WatchdogFeed, 3, {}, {}, {});
    QVERIFY(c.quietFor(200));
}

void tst_ConformanceWire::R_4_4_4_expiryDisconnects()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    QVERIFY(c.registerAs("r444"));
    c.send(FrameType::WatchdogRegister, 1, {}, {}, encodeWatchdogTerms({100, 1, ExpiryAction::Disconnect}));
    QCOMPARE(c.next()->type, FrameType::WatchdogAck);
    QCOMPARE(errorOf(c.next(3000)), ErrorCode::WatchdogExpired);
    QVERIFY(c.closed());
}

void tst_ConformanceWire::R_4_4_5_notifyExpiryTellsClientNothing()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    QVERIFY(c.registerAs("r445"));
    c.send(FrameType::WatchdogRegister, 1, {}, {}, encodeWatchdogTerms({100, 1, ExpiryAction::Notify}));
    QCOMPARE(c.next()->type, FrameType::WatchdogAck);
    QVERIFY(c.quietFor(800)); // expired meanwhile: nothing said
    c.send(FrameType::WatchdogFeed, 2, {}, {}, {});
    QCOMPARE(errorOf(c.next()), ErrorCode::WatchdogUnavailable);
    c.send(FrameType::WatchdogRegister, 3, {}, {}, encodeWatchdogTerms({60000, 1, ExpiryAction::Notify}));
    QCOMPARE(c.next()->type, FrameType::WatchdogAck);
}

// --- §4.5 -------------------------------------------------------------------------------------

namespace {
// A supervised service that never registers, and the names reserved for it.
const QByteArray ReservingConfig = QByteArrayLiteral("[service.r45]\nprogram = /bin/sh\narguments = -c, \"exec sleep 600\"\n"
                                                     "names = r451, r452\n");
} // namespace

void tst_ConformanceWire::R_4_5_1_reservedNameRefusedConnectionStays()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker, ReservingConfig));
    for (const bool overTcp : {true, false}) {
        Conn c;
        QVERIFY(overTcp ? c.tcp(broker.tcpPort()) : c.unix(broker.unixPath()));
        c.hello("r451", 7);
        const std::optional<Frame> refused = c.next();
        QCOMPARE(errorOf(refused), ErrorCode::NameReserved);
        QCOMPARE(refused->messageId, 7u);
        // Open, unregistered: another name is welcome.
        QVERIFY(c.registerAs(overTcp ? "r451-tcp" : "r451-unix"));
        // The reserved name is not held: a Send to it finds nobody.
        c.sendTo("r451", "anyone?", 2);
        QCOMPARE(statusOf(c.next()), DeliveryStatus::NoSuchClient);
    }
    QCOMPARE(broker.stopVerdict(), QString());
}

void tst_ConformanceWire::R_4_5_2_reservedNameClosesLegacyConnection()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker, ReservingConfig));
    Conn receive, main;
    QVERIFY(receive.unix(broker.unixPath()));
    receive.write(legacyFrame(Legacy::Command::RegisterReceiver, 0, "null", "r452", "null"));
    QVERIFY(receive.closed());
    QCOMPARE(receive.bytesReceived(), 0);
    QVERIFY(main.tcp(broker.tcpPort()));
    main.write(legacyFrame(Legacy::Command::Forward, 0, "nobody", "r451", "hello"));
    QVERIFY(main.closed());
    QCOMPARE(main.bytesReceived(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(broker.countInLog("name_reserved"), 2, WaitMs);
    QCOMPARE(broker.stopVerdict(), QString());
}

void tst_ConformanceWire::R_4_5_3_policyDeniesOwning()
{
    BrokerProcess broker;
    QVERIFY(startBroker(broker, QByteArrayLiteral("[policy]\nclosed = deny own r453-*\n")));
    Conn c, old;
    QVERIFY(c.tcp(broker.tcpPort()));
    c.hello("r453-a", 4);
    const std::optional<Frame> refused = c.next();
    QCOMPARE(errorOf(refused), ErrorCode::PolicyDenied);
    QCOMPARE(refused->messageId, 4u);
    QVERIFY(c.registerAs("r453")); // the pattern wants the dash
    QVERIFY(old.unix(broker.unixPath()));
    old.write(legacyFrame(Legacy::Command::RegisterReceiver, 0, "null", "r453-b", "null"));
    QVERIFY(old.closed());
    QCOMPARE(old.bytesReceived(), 0);
    QCOMPARE(broker.stopVerdict(), QString());
}

QTEST_MAIN(tst_ConformanceWire)
#include "tst_conformance_wire.moc"
