// The protocol conformance test: one test function per numbered rule of docs/PROTOCOL.md, named
// after it (R-2.1.3 -> R_2_1_3_...), each driving a real kennel-broker process through raw
// sockets. Frames are built and read with the pure codec only (no client library, no broker code
// in this process), as an outside implementer would. The CTest check protocol_rules_have_tests
// fails when a rule has no function here.
#include "brokerprocess.h"
#include "framecodec.h"
#include "legacyframe.h"
#include "monitorcodec.h"

#include <QElapsedTimer>
#include <QLocalSocket>
#include <QTcpSocket>
#include <QtEndian>
#include <QtTest>

#include <csignal>
#include <optional>

#include <sys/types.h>
#include <unistd.h>

using namespace Kennel;
using KennelTest::BrokerProcess;

namespace {

constexpr int WaitMs = 5000;
constexpr quint32 FrameLimit = 8192; // the shared broker's max_frame_size and max_queue_bytes

// A peer speaking bytes: whatever it writes goes out as is; whatever arrives is kept raw and,
// when native, decoded frame by frame in arrival order.
class Conn
{
public:
    ~Conn() { delete m_device; }

    bool tcp(quint16 port)
    {
        auto *s = new QTcpSocket;
        m_device = s;
        s->connectToHost(QStringLiteral("127.0.0.1"), port);
        return s->waitForConnected(WaitMs);
    }
    bool unix(const QString &path)
    {
        auto *s = new QLocalSocket;
        m_device = s;
        s->connectToServer(path);
        return s->waitForConnected(WaitMs);
    }
    void write(const QByteArray &bytes)
    {
        m_device->write(bytes);
        if (auto *t = qobject_cast<QTcpSocket *>(m_device))
            t->flush();
        else if (auto *l = qobject_cast<QLocalSocket *>(m_device))
            l->flush();
        // flush() writes what the kernel takes now; the rest would wait for an event loop.
        while (m_device->bytesToWrite() > 0 && m_device->waitForBytesWritten(WaitMs)) {
        }
    }
    void send(FrameType type, quint32 id, QByteArrayView source, QByteArrayView target, QByteArrayView payload,
              quint16 flags = 0)
    {
        QByteArray out;
        appendFrame(out, type, id, flags, source, target, payload);
        write(out);
    }
    void hello(const QByteArray &name, quint32 id = 1, HelloPayload payload = {})
    {
        send(FrameType::Hello, id, name, {}, encodeHello(payload));
    }
    bool registerAs(const QByteArray &name)
    {
        hello(name);
        const std::optional<Frame> f = next();
        return f && f->type == FrameType::Welcome;
    }
    void sendTo(const QByteArray &target, const QByteArray &payload, quint32 id, bool wantStatus = true)
    {
        send(FrameType::Send, id, {}, target, payload, wantStatus ? WantDeliveryStatus : NoFlags);
    }

    // The next frame in arrival order, waiting up to `timeoutMs`.
    std::optional<Frame> next(int timeoutMs = WaitMs)
    {
        QElapsedTimer clock;
        clock.start();
        for (;;) {
            if (std::optional<Frame> f = decodeOne())
                return f;
            const qint64 left = timeoutMs - clock.elapsed();
            if (left <= 0 || !isOpen())
                return std::nullopt;
            pump(int(left));
        }
    }
    // The next frame of `type`, skipping others (Totals, records) on the way.
    std::optional<Frame> take(FrameType type, int timeoutMs = WaitMs)
    {
        QElapsedTimer clock;
        clock.start();
        while (clock.elapsed() < timeoutMs) {
            std::optional<Frame> f = next(int(timeoutMs - clock.elapsed()));
            if (!f)
                return std::nullopt;
            if (f->type == type)
                return f;
        }
        return std::nullopt;
    }
    // Nothing more arrives for `ms` (the connection may stay open).
    bool quietFor(int ms)
    {
        return !next(ms);
    }
    // Waits until the broker closed the connection.
    bool closed(int timeoutMs = WaitMs)
    {
        QElapsedTimer clock;
        clock.start();
        while (isOpen() && clock.elapsed() < timeoutMs)
            pump(int(timeoutMs - clock.elapsed()));
        return !isOpen();
    }
    qsizetype bytesReceived() const { return m_received; }
    const QByteArray &raw() const { return m_raw; }

private:
    bool isOpen() const
    {
        if (auto *t = qobject_cast<QTcpSocket *>(m_device))
            return t->state() == QAbstractSocket::ConnectedState || t->bytesAvailable() > 0;
        if (auto *l = qobject_cast<QLocalSocket *>(m_device))
            return l->state() == QLocalSocket::ConnectedState || l->bytesAvailable() > 0;
        return false;
    }
    void pump(int timeoutMs)
    {
        if (m_device->bytesAvailable() == 0) {
            if (auto *t = qobject_cast<QTcpSocket *>(m_device))
                t->waitForReadyRead(qMin(timeoutMs, 100));
            else if (auto *l = qobject_cast<QLocalSocket *>(m_device))
                l->waitForReadyRead(qMin(timeoutMs, 100));
        }
        const QByteArray bytes = m_device->readAll();
        m_received += bytes.size();
        m_raw += bytes;
        m_buffer += bytes;
    }
    std::optional<Frame> decodeOne()
    {
        const DecodeResult r = decodeFrame(m_buffer, 64 * 1024 * 1024);
        if (r.error != DecodeError::None)
            return std::nullopt;
        Frame f = r.frame.toFrame();
        m_buffer.remove(0, r.consumed);
        return f;
    }

    QIODevice *m_device = nullptr;
    QByteArray m_buffer;
    QByteArray m_raw;
    qsizetype m_received = 0;
};

std::optional<ErrorCode> errorOf(const std::optional<Frame> &f)
{
    if (!f || f->type != FrameType::Error)
        return std::nullopt;
    const std::optional<ErrorPayload> e = decodeError(f->payload);
    return e ? std::optional<ErrorCode>(e->code) : std::nullopt;
}

std::optional<DeliveryStatus> statusOf(const std::optional<Frame> &f)
{
    if (!f || f->type != FrameType::DeliveryStatus)
        return std::nullopt;
    return decodeDeliveryStatus(f->payload);
}

QByteArray legacyFrame(Legacy::Command cmd, qint32 wdt, const QByteArray &target, const QByteArray &source,
                       const QByteArray &msg)
{
    QByteArray out(Legacy::FrameSize, '\0');
    Legacy::encode(out.data(), cmd, wdt, target, source, msg);
    return out;
}

// Sends an old program's receive registration and waits until the broker has taken it (its log
// says so): the old protocol has no answer to wait for.
bool legacyReceiver(Conn &conn, BrokerProcess &broker, const QByteArray &name)
{
    conn.write(legacyFrame(Legacy::Command::RegisterReceiver, 0, "null", name, "null"));
    const QByteArray line = "registered legacy receive connection '" + name + "'";
    QElapsedTimer clock;
    clock.start();
    while (!broker.log().contains(line) && clock.elapsed() < WaitMs)
        QTest::qWait(10);
    return broker.log().contains(line);
}

QByteArray header(FrameType type, quint32 bodyLength, quint8 sourceLength, quint8 targetLength, quint32 id = 9)
{
    QByteArray h(Wire::HeaderSize, '\0');
    writeHeader(h.data(), type, bodyLength, id, sourceLength, targetLength, 0);
    return h;
}

} // namespace

class tst_Conformance : public QObject
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
    void R_4_3_3_registerTimeoutForNativePeer();
    void R_4_4_1_watchdogAck();
    void R_4_4_2_invalidWatchdogTerms();
    void R_4_4_3_feedAnsweredOnlyWhenNotWatched();
    void R_4_4_4_expiryDisconnects();
    void R_4_4_5_notifyExpiryTellsClientNothing();
    void R_5_1_1_sourceStamped();
    void R_5_1_2_sendBeforeWelcome();
    void R_5_1_3_orderPreserved();
    void R_5_1_4_sendToOwnName();
    void R_5_2_1_deliverFields();
    void R_5_3_1_statusOnlyWhenAsked();
    void R_5_3_2_statuses();
    void R_5_3_3_sendDuringStopGetsShuttingDown();
    void R_5_3_4_queueFull();
    void R_6_1_1_monitorWelcome();
    void R_6_1_2_wrongTokenRefusedWhateverTheUid();
    void R_6_3_1_monitorStreamHeaders();
    void R_6_3_2_monitorRecordsCarryKernelPid();
    void R_7_2_1_legacyFramesAccumulated();
    void R_7_2_2_badLegacyFrameClosesSilently();
    void R_7_2_3_legacyNeverPinged();
    void R_7_2_4_silentPeerGetsNoNativeBytes();
    void R_7_3_1_legacyNameTakenCloses();
    void R_7_4_1_mainConnectionBoundToFirstName();
    void R_7_5_1_legacyNativeInterplay();
    void R_8_1_1_frameSizeLimitAtEdge();
    void R_8_1_2_largestDeliverFitsQueue();
    void R_8_1_3_incompleteFrameTimeout();
    void R_8_2_1_higherHelloVersionWelcomedAsOne();

private:
    bool start(BrokerProcess &broker, const QByteArray &config, const QStringList &arguments = {});
    BrokerProcess m_broker; // the shared one; tests that need other settings start their own
};

bool tst_Conformance::start(BrokerProcess &broker, const QByteArray &config, const QStringList &arguments)
{
    BrokerProcess::Options options;
    options.configText = config;
    options.arguments = arguments;
    QString error;
    if (!broker.start(options, &error)) {
        qWarning("%s", qPrintable(error));
        return false;
    }
    return true;
}

void tst_Conformance::initTestCase()
{
    QVERIFY(start(m_broker,
                  QByteArrayLiteral("[limits]\nmax_frame_size = 8192\nmax_queue_bytes = 8192\nregister_timeout_ms = 1500\n"
                                    "incomplete_frame_timeout_ms = 300\n"
                                    "[watchdog]\nmin_interval_ms = 50\n")));
}

// --- §1 ----------------------------------------------------------------------------------------

void tst_Conformance::R_1_1_protocolFromFirstBytes()
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

void tst_Conformance::R_1_2_answersCarryTheRequestId()
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

void tst_Conformance::R_2_1_reservedFlagsIgnored()
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

void tst_Conformance::R_2_1_1_badMagicIsFatal()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    c.write("KX");
    const std::optional<Frame> f = c.next();
    QCOMPARE(errorOf(f), ErrorCode::BadMagic);
    QCOMPARE(f->messageId, 0u);
    QVERIFY(c.closed());
}

void tst_Conformance::R_2_1_2_unsupportedHeaderVersionIsFatal()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    c.write(QByteArray("KN\x02", 3)); // three bytes are enough to decide
    QCOMPARE(errorOf(c.next()), ErrorCode::UnsupportedVersion);
    QVERIFY(c.closed());
}

void tst_Conformance::R_2_1_3_frameTooLargeFromHeader()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    c.write(header(FrameType::Send, 0xFFFFFFFFu, 0, 0)); // no body follows, none is awaited
    QCOMPARE(errorOf(c.next()), ErrorCode::FrameTooLarge);
    QVERIFY(c.closed());
}

void tst_Conformance::R_2_1_4_inconsistentNameLengthsAreFatal()
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

void tst_Conformance::R_2_1_5_invalidNameSkipsTheFrame()
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

void tst_Conformance::R_2_1_6_unknownTypeIsNotFatal()
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

void tst_Conformance::R_2_2_1_wrongDirectionAndMonitorRange()
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

void tst_Conformance::R_2_2_2_nameFieldsOfBrokerFrames()
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

void tst_Conformance::R_3_1_nameAlphabet()
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

void tst_Conformance::R_3_2_noLeadingDashOrDot()
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

void tst_Conformance::R_3_3_namesAreCaseSensitive()
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

void tst_Conformance::R_3_4_brokerMaxNameLength()
{
    BrokerProcess broker;
    QVERIFY(start(broker, QByteArrayLiteral("[limits]\nmax_name_length = 8\n")));
    Conn c;
    QVERIFY(c.tcp(broker.tcpPort()));
    c.hello("ninechars");
    QCOMPARE(errorOf(c.next()), ErrorCode::InvalidName);
    c.hello("eightchr");
    QCOMPARE(c.next()->type, FrameType::Welcome);
}

// --- §4.1 --------------------------------------------------------------------------------------

void tst_Conformance::R_4_1_1_welcome()
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

void tst_Conformance::R_4_1_2_malformedHelloCloses()
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

void tst_Conformance::R_4_1_3_refusedHelloKeepsConnection()
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

void tst_Conformance::R_4_1_4_clientHelloWithoutTokenOrTarget()
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

void tst_Conformance::R_4_1_5_pidClaimCheckedAgainstKernel()
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

void tst_Conformance::R_4_1_6_deadHolderTakenOver()
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

void tst_Conformance::R_4_1_7_beforeWelcome()
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

void tst_Conformance::R_4_1_8_featureNegotiation()
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

void tst_Conformance::R_4_2_1_byeFlushesAndCloses()
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

void tst_Conformance::R_4_2_2_pingAnsweredPongIgnored()
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

void tst_Conformance::R_4_2_3_idleTimeoutTiming()
{
    constexpr int IdleMs = 1000;
    BrokerProcess broker;
    QVERIFY(start(broker, {}, {QStringLiteral("--idle-timeout"), QString::number(IdleMs)}));
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

void tst_Conformance::R_4_3_1_errorFrameFields()
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

void tst_Conformance::R_4_3_2_shutdownSaysShuttingDownThenBye()
{
    BrokerProcess broker;
    QVERIFY(start(broker, {}));
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

void tst_Conformance::R_4_3_3_registerTimeoutForNativePeer()
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

void tst_Conformance::R_4_4_1_watchdogAck()
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

void tst_Conformance::R_4_4_2_invalidWatchdogTerms()
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

void tst_Conformance::R_4_4_3_feedAnsweredOnlyWhenNotWatched()
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

void tst_Conformance::R_4_4_4_expiryDisconnects()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    QVERIFY(c.registerAs("r444"));
    c.send(FrameType::WatchdogRegister, 1, {}, {}, encodeWatchdogTerms({100, 1, ExpiryAction::Disconnect}));
    QCOMPARE(c.next()->type, FrameType::WatchdogAck);
    QCOMPARE(errorOf(c.next(3000)), ErrorCode::WatchdogExpired);
    QVERIFY(c.closed());
}

void tst_Conformance::R_4_4_5_notifyExpiryTellsClientNothing()
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

// --- §5 ----------------------------------------------------------------------------------------

void tst_Conformance::R_5_1_1_sourceStamped()
{
    Conn a, b;
    QVERIFY(a.tcp(m_broker.tcpPort()));
    QVERIFY(b.tcp(m_broker.tcpPort()));
    QVERIFY(a.registerAs("r511-a"));
    QVERIFY(b.registerAs("r511-b"));
    a.send(FrameType::Send, 1, "r511-b", "r511-b", "impersonating", WantDeliveryStatus);
    QCOMPARE(errorOf(a.next()), ErrorCode::SourceMismatch);
    a.send(FrameType::Send, 2, "r511-a", "r511-b", "own name", WantDeliveryStatus);
    QCOMPARE(statusOf(a.next()), DeliveryStatus::Delivered);
    const std::optional<Frame> d = b.next();
    QCOMPARE(d->payload, QByteArrayLiteral("own name")); // the impersonation was not delivered
    QCOMPARE(d->source, QByteArrayLiteral("r511-a"));
}

void tst_Conformance::R_5_1_2_sendBeforeWelcome()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    c.sendTo("r512-x", "x", 1, true);
    const std::optional<Frame> s = c.next();
    QCOMPARE(statusOf(s), DeliveryStatus::NotRegistered);
    QCOMPARE(s->messageId, 1u);
    c.sendTo("r512-x", "x", 2, false);
    QCOMPARE(errorOf(c.next()), ErrorCode::NotRegistered);
}

void tst_Conformance::R_5_1_3_orderPreserved()
{
    Conn a, b;
    QVERIFY(a.unix(m_broker.unixPath()));
    QVERIFY(b.unix(m_broker.unixPath()));
    QVERIFY(a.registerAs("r513-a"));
    QVERIFY(b.registerAs("r513-b"));
    QByteArray burst;
    // 200 frames of about 30 bytes: all within the target's 8 KiB queue even if handled in one batch.
    for (quint32 i = 1; i <= 200; ++i)
        appendFrame(burst, FrameType::Send, i, NoFlags, {}, "r513-b", QByteArray::number(i));
    a.write(burst);
    for (quint32 i = 1; i <= 200; ++i) {
        const std::optional<Frame> d = b.next();
        QVERIFY2(d, m_broker.log().right(1500).constData());
        QCOMPARE(d->messageId, i);
        QCOMPARE(d->payload, QByteArray::number(i));
    }
}

void tst_Conformance::R_5_1_4_sendToOwnName()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    QVERIFY(c.registerAs("r514"));
    c.sendTo("r514", "to myself", 3);
    std::optional<Frame> d = c.take(FrameType::Deliver);
    QVERIFY(d);
    QCOMPARE(d->source, QByteArrayLiteral("r514"));
    QCOMPARE(d->target, QByteArrayLiteral("r514"));
    QCOMPARE(d->payload, QByteArrayLiteral("to myself"));
}

void tst_Conformance::R_5_2_1_deliverFields()
{
    Conn a, b;
    QVERIFY(a.tcp(m_broker.tcpPort()));
    QVERIFY(b.tcp(m_broker.tcpPort()));
    QVERIFY(a.registerAs("r521-a"));
    QVERIFY(b.registerAs("r521-b"));
    const QByteArray binary = QByteArray::fromHex("00ff00fe0d0a00");
    a.sendTo("r521-b", binary, 0x01020304, true);
    const std::optional<Frame> d = b.next();
    QVERIFY(d && d->type == FrameType::Deliver);
    QCOMPARE(d->source, QByteArrayLiteral("r521-a"));
    QCOMPARE(d->target, QByteArrayLiteral("r521-b"));
    QCOMPARE(d->messageId, 0x01020304u);
    QCOMPARE(d->flags, quint16(0));
    QCOMPARE(d->payload, binary);
    a.sendTo("r521-b", {}, 5, false); // empty payloads are messages too
    QCOMPARE(b.next()->payload, QByteArray());
}

void tst_Conformance::R_5_3_1_statusOnlyWhenAsked()
{
    Conn a, b;
    QVERIFY(a.tcp(m_broker.tcpPort()));
    QVERIFY(b.tcp(m_broker.tcpPort()));
    QVERIFY(a.registerAs("r531-a"));
    QVERIFY(b.registerAs("r531-b"));
    a.sendTo("r531-b", "quiet", 1, false);
    a.sendTo("r531-nobody", "quiet failure", 2, false);
    a.sendTo("r531-b", "loud", 3, true);
    const std::optional<Frame> s = a.next();
    QCOMPARE(statusOf(s), DeliveryStatus::Delivered);
    QCOMPARE(s->messageId, 3u); // nothing for 1 and 2
    QVERIFY(a.quietFor(200)); // and exactly one for 3
}

void tst_Conformance::R_5_3_2_statuses()
{
    Conn n, longName;
    QVERIFY(n.tcp(m_broker.tcpPort()));
    QVERIFY(n.registerAs("r532"));
    QVERIFY(longName.tcp(m_broker.tcpPort()));
    QVERIFY(longName.registerAs("r532-long-name"));
    Conn old;
    QVERIFY(old.tcp(m_broker.tcpPort()));
    QVERIFY(legacyReceiver(old, m_broker, "r532old"));
    n.sendTo("r532old", "sync", 1);
    QCOMPARE(statusOf(n.next()), DeliveryStatus::Delivered);
    n.sendTo("r532-nobody", "x", 2);
    QCOMPARE(statusOf(n.next()), DeliveryStatus::NoSuchClient);
    n.sendTo({}, "x", 3);
    QCOMPARE(statusOf(n.next()), DeliveryStatus::InvalidTarget);
    n.sendTo("r532old", QByteArray(512, 'x'), 4);
    QCOMPARE(statusOf(n.next()), DeliveryStatus::TooLargeForTarget);
    longName.sendTo("r532old", "x", 5);
    QCOMPARE(statusOf(longName.next()), DeliveryStatus::SenderNameUnfit);
}

void tst_Conformance::R_5_3_3_sendDuringStopGetsShuttingDown()
{
    BrokerProcess broker;
    QVERIFY(start(broker, {}));
    Conn a, b;
    QVERIFY(a.unix(broker.unixPath()));
    QVERIFY(b.unix(broker.unixPath()));
    QVERIFY(a.registerAs("r533-a"));
    QVERIFY(b.registerAs("r533-b"));
    // The broker is stopped while the Send and the SIGTERM arrive: it finds both when it runs
    // again. Whichever it handles first, the Send is answered exactly once, before the Error.
    const pid_t pid = pid_t(broker.pid());
    QCOMPARE(::kill(pid, SIGSTOP), 0);
    a.sendTo("r533-b", "too late?", 7);
    QCOMPARE(::kill(pid, SIGTERM), 0);
    QCOMPARE(::kill(pid, SIGCONT), 0);
    const std::optional<Frame> s = a.next();
    QVERIFY(s && s->type == FrameType::DeliveryStatus);
    QCOMPARE(s->messageId, 7u);
    const DeliveryStatus status = *statusOf(s);
    QVERIFY2(status == DeliveryStatus::ShuttingDown || status == DeliveryStatus::Delivered,
             deliveryStatusName(status));
    QCOMPARE(errorOf(a.next()), ErrorCode::ShuttingDown);
    QCOMPARE(a.next()->type, FrameType::Bye);
    // Delivered only if the broker took it before it began to stop.
    const std::optional<Frame> first = b.next();
    QVERIFY(first);
    QCOMPARE(first->type, status == DeliveryStatus::Delivered ? FrameType::Deliver : FrameType::Error);
    qInfo("the Send read %s the stop began: %s", status == DeliveryStatus::Delivered ? "before" : "after",
          deliveryStatusName(status));
    QTRY_VERIFY_WITH_TIMEOUT(!broker.isRunning(), WaitMs);
    QCOMPARE(broker.exitCode(), 0);
    // Deterministic: a Send the broker reads after the stop began gets shutting_down (see
    // tst_broker shutdownSaysByeAndFinishes, where the test controls the broker's event loop).
}

void tst_Conformance::R_5_3_4_queueFull()
{
    Conn a, b;
    QVERIFY(a.unix(m_broker.unixPath()));
    QVERIFY(b.unix(m_broker.unixPath()));
    QVERIFY(a.registerAs("r534-a"));
    QVERIFY(b.registerAs("r534-b")); // and never reads while `a` sends
    const QByteArray payload(4000, 'q');
    int delivered = 0, full = 0;
    for (quint32 id = 1; id <= 1500 && full == 0; ++id) {
        a.sendTo("r534-b", payload, id);
        const std::optional<DeliveryStatus> s = statusOf(a.next());
        QVERIFY(s);
        if (*s == DeliveryStatus::Delivered)
            ++delivered;
        else if (*s == DeliveryStatus::TargetQueueFull)
            ++full;
        else
            QFAIL(deliveryStatusName(*s));
    }
    QVERIFY2(full == 1, "the queue bound never held");
    QVERIFY(delivered > 0);
    for (int i = 0; i < delivered; ++i)
        QVERIFY(b.next());
    a.sendTo("r534-b", "room again", 9999);
    QCOMPARE(statusOf(a.next()), DeliveryStatus::Delivered);
}

// --- §6 ----------------------------------------------------------------------------------------

void tst_Conformance::R_6_1_1_monitorWelcome()
{
    Conn m;
    QVERIFY(m.unix(m_broker.unixPath())); // the broker's own user: admitted by uid, no token
    HelloPayload hello;
    hello.role = Role::Monitor;
    m.hello("r611-monitor", 66, hello);
    const std::optional<Frame> w = m.next();
    QVERIFY(w && w->type == FrameType::Welcome);
    QCOMPARE(w->messageId, 66u);
    QVERIFY(w->source.isEmpty());
    QCOMPARE(w->target, QByteArrayLiteral("r611-monitor"));
    const std::optional<WelcomePayload> p = decodeWelcome(w->payload);
    QVERIFY(p && !p->features);
    QCOMPARE(p->maxFrameSize, FrameLimit);
}

void tst_Conformance::R_6_1_2_wrongTokenRefusedWhateverTheUid()
{
    BrokerProcess broker;
    QVERIFY(start(broker, QByteArrayLiteral("[monitor]\ntoken = right-token-right-token\nfailure_delay_ms = 10\n")));
    Conn wrong, none, right;
    QVERIFY(wrong.unix(broker.unixPath()));
    HelloPayload hello;
    hello.role = Role::Monitor;
    hello.token = "wrong-token-wrong-token";
    wrong.hello("r612a", 1, hello);
    QCOMPARE(errorOf(wrong.next()), ErrorCode::NotPermitted);
    QVERIFY(wrong.closed());
    QVERIFY(none.unix(broker.unixPath()));
    hello.token.clear();
    none.hello("r612b", 1, hello);
    QCOMPARE(none.next()->type, FrameType::Welcome);
    QVERIFY(right.tcp(broker.tcpPort()));
    hello.token = "right-token-right-token";
    right.hello("r612c", 1, hello);
    QCOMPARE(right.next()->type, FrameType::Welcome);
}

void tst_Conformance::R_6_3_1_monitorStreamHeaders()
{
    Conn client, m;
    QVERIFY(client.tcp(m_broker.tcpPort()));
    QVERIFY(client.registerAs("r631-client"));
    QVERIFY(m.unix(m_broker.unixPath()));
    HelloPayload hello;
    hello.role = Role::Monitor;
    m.hello("r631-monitor", 1, hello);
    QCOMPARE(m.next()->type, FrameType::Welcome);
    m.send(MonitorFrame::Subscribe, 41, {}, {}, encodeMonitorSubscribe({}));
    bool sawClient = false;
    for (;;) {
        const std::optional<Frame> f = m.next();
        QVERIFY(f);
        QCOMPARE(f->messageId, 0u);
        QVERIFY(f->target.isEmpty());
        if (f->type == MonitorFrame::Client) {
            const std::optional<MonitorClient> r = decodeMonitorClient(f->payload);
            QVERIFY(r);
            QCOMPARE(f->source, r->name);
            sawClient = sawClient || r->name == "r631-client";
        } else {
            QVERIFY(f->source.isEmpty());
        }
        if (f->type == MonitorFrame::SnapshotEnd)
            break;
    }
    QVERIFY(sawClient);
    MonitorControl control;
    control.action = MonitorControlAction::SendTestMessage;
    control.target = "r631-client";
    control.text = "from the monitor";
    m.send(MonitorFrame::Control, 42, {}, {}, encodeMonitorControl(control));
    const std::optional<Frame> result = m.take(MonitorFrame::ControlResult);
    QVERIFY(result);
    QCOMPARE(result->messageId, 42u);
    QVERIFY(result->source.isEmpty() && result->target.isEmpty());
    m.send(FrameType::Ping, 43, {}, {}, {});
    QCOMPARE(m.take(FrameType::Pong)->messageId, 43u);
}

void tst_Conformance::R_6_3_2_monitorRecordsCarryKernelPid()
{
    Conn unixClient, watched, m;
    QVERIFY(unixClient.unix(m_broker.unixPath()));
    QVERIFY(unixClient.registerAs("r632-unix")); // claims no pid
    QVERIFY(watched.tcp(m_broker.tcpPort()));
    QVERIFY(watched.registerAs("r632-notify"));
    watched.send(FrameType::WatchdogRegister, 1, {}, {}, encodeWatchdogTerms({60000, 3, ExpiryAction::Notify}));
    QCOMPARE(watched.next()->type, FrameType::WatchdogAck);
    QVERIFY(m.unix(m_broker.unixPath()));
    HelloPayload hello;
    hello.role = Role::Monitor;
    m.hello("r632-monitor", 1, hello);
    QCOMPARE(m.next()->type, FrameType::Welcome);
    m.send(MonitorFrame::Subscribe, 2, {}, {}, encodeMonitorSubscribe({}));
    QHash<QByteArray, qint64> pids;
    for (;;) {
        const std::optional<Frame> f = m.next();
        QVERIFY(f);
        if (f->type == MonitorFrame::Client) {
            const MonitorClient r = *decodeMonitorClient(f->payload);
            pids.insert(r.name, r.pid);
        }
        if (f->type == MonitorFrame::SnapshotEnd)
            break;
    }
    QCOMPARE(pids.value("r632-unix", -1), qint64(::getpid()));
    QCOMPARE(pids.value("r632-notify", -1), qint64(::getpid()));
    // The watchdog's "registered" event names the process too.
    Conn later;
    QVERIFY(later.tcp(m_broker.tcpPort()));
    QVERIFY(later.registerAs("r632-later"));
    later.send(FrameType::WatchdogRegister, 1, {}, {}, encodeWatchdogTerms({60000, 3, ExpiryAction::Notify}));
    QCOMPARE(later.next()->type, FrameType::WatchdogAck);
    for (;;) {
        const std::optional<Frame> f = m.take(MonitorFrame::WatchdogEvent);
        QVERIFY(f);
        const std::optional<MonitorWatchdogEvent> e = decodeMonitorWatchdogEvent(f->payload);
        QVERIFY(e);
        if (e->name != "r632-later")
            continue;
        QCOMPARE(e->kind, MonitorWatchdogEventKind::Registered);
        QCOMPARE(e->pid, qint64(::getpid()));
        break;
    }
}

// --- §7 ----------------------------------------------------------------------------------------

void tst_Conformance::R_7_2_1_legacyFramesAccumulated()
{
    Conn receiver, sender;
    QVERIFY(receiver.tcp(m_broker.tcpPort()));
    const QByteArray reg = legacyFrame(Legacy::Command::RegisterReceiver, 0, "null", "r721rx", "null");
    for (int i = 0; i < reg.size(); i += 100) // in pieces, as a slow writer would
        receiver.write(reg.mid(i, 100));
    QVERIFY(sender.tcp(m_broker.tcpPort()));
    QVERIFY(sender.registerAs("r721tx"));
    sender.sendTo("r721rx", "arrived", 1);
    QCOMPARE(statusOf(sender.next()), DeliveryStatus::Delivered);
    QTRY_VERIFY_WITH_TIMEOUT((receiver.next(20), receiver.bytesReceived() == Legacy::FrameSize), WaitMs);
    const Legacy::DecodeResult r = Legacy::decode(receiver.raw());
    QCOMPARE(r.error, Legacy::DecodeError::None);
    QCOMPARE(r.frame.text(), QByteArrayView("arrived"));
}

void tst_Conformance::R_7_2_2_badLegacyFrameClosesSilently()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    QByteArray bad = legacyFrame(Legacy::Command::Forward, 0, "x", "r722", "y");
    qToLittleEndian<qint32>(7, bad.data() + Legacy::CmdOffset);
    c.write(bad);
    QVERIFY(c.closed());
    QCOMPARE(c.bytesReceived(), qsizetype(0));
}

void tst_Conformance::R_7_2_3_legacyNeverPinged()
{
    BrokerProcess broker;
    QVERIFY(start(broker, {}, {QStringLiteral("--idle-timeout"), QStringLiteral("1000")}));
    Conn old;
    QVERIFY(old.tcp(broker.tcpPort()));
    QVERIFY(legacyReceiver(old, broker, "r723"));
    QVERIFY(old.quietFor(1800)); // past the whole idle timeout: no Ping, no close
    Conn n;
    QVERIFY(n.tcp(broker.tcpPort()));
    QVERIFY(n.registerAs("r723n"));
    n.sendTo("r723", "still there", 1);
    QCOMPARE(statusOf(n.next()), DeliveryStatus::Delivered);
}

void tst_Conformance::R_7_2_4_silentPeerGetsNoNativeBytes()
{
    // The register timeout: nothing sent, or half a legacy head.
    Conn silent, halfHead;
    QVERIFY(silent.tcp(m_broker.tcpPort()));
    QVERIFY(halfHead.unix(m_broker.unixPath()));
    halfHead.write("hea");
    QVERIFY(silent.closed(4000));
    QVERIFY(halfHead.closed(4000));
    QCOMPARE(silent.bytesReceived(), qsizetype(0));
    QCOMPARE(halfHead.bytesReceived(), qsizetype(0));
    // The client limit: a connection refused at the door before saying anything.
    BrokerProcess full;
    QVERIFY(start(full, {}, {QStringLiteral("--max-clients"), QStringLiteral("1")}));
    Conn first, refused;
    QVERIFY(first.tcp(full.tcpPort()));
    QVERIFY(first.registerAs("r724"));
    QVERIFY(refused.tcp(full.tcpPort()));
    QVERIFY(refused.closed());
    QCOMPARE(refused.bytesReceived(), qsizetype(0));
}

void tst_Conformance::R_7_3_1_legacyNameTakenCloses()
{
    Conn holder, old;
    QVERIFY(holder.tcp(m_broker.tcpPort()));
    QVERIFY(holder.registerAs("r731"));
    QVERIFY(old.tcp(m_broker.tcpPort()));
    old.write(legacyFrame(Legacy::Command::RegisterReceiver, 0, "null", "r731", "null"));
    QVERIFY(old.closed());
    QCOMPARE(old.bytesReceived(), qsizetype(0));
}

void tst_Conformance::R_7_4_1_mainConnectionBoundToFirstName()
{
    Conn rx, main, n;
    QVERIFY(n.tcp(m_broker.tcpPort()));
    QVERIFY(n.registerAs("r741-n"));
    QVERIFY(main.tcp(m_broker.tcpPort()));
    main.write(legacyFrame(Legacy::Command::Forward, 0, "r741-n", "r741a", "first"));
    const std::optional<Frame> d = n.next();
    QVERIFY(d);
    QCOMPARE(d->source, QByteArrayLiteral("r741a"));
    main.write(legacyFrame(Legacy::Command::Forward, 0, "r741-n", "r741b", "second"));
    QVERIFY(main.closed());
    QVERIFY(n.quietFor(200));
}

void tst_Conformance::R_7_5_1_legacyNativeInterplay()
{
    Conn rx, tx, n;
    QVERIFY(rx.tcp(m_broker.tcpPort()));
    QVERIFY(legacyReceiver(rx, m_broker, "r751rx"));
    QVERIFY(n.tcp(m_broker.tcpPort()));
    QVERIFY(n.registerAs("r751n"));
    n.sendTo("r751rx", "sync", 1);
    QCOMPARE(statusOf(n.next()), DeliveryStatus::Delivered);
    QVERIFY(tx.tcp(m_broker.tcpPort()));
    // legacy -> legacy: the whole field, bytes after the NUL included.
    QByteArray field(512, '\0');
    field.replace(0, 3, "bin");
    field[100] = char(0xAB);
    QByteArray binary = legacyFrame(Legacy::Command::Forward, 0, "r751rx", "r751tx", {});
    binary.replace(Legacy::MsgOffset, 512, field); // the whole field, as an old program's struct holds it
    tx.write(binary);
    QTRY_VERIFY2_WITH_TIMEOUT((rx.next(20), rx.bytesReceived() == 2 * Legacy::FrameSize), m_broker.log().right(1500).constData(), WaitMs);
    QCOMPARE(rx.raw().mid(Legacy::FrameSize + Legacy::MsgOffset, 512), field);
    // native -> legacy: zero-filled.
    QCOMPARE(rx.raw().mid(Legacy::MsgOffset, 512), QByteArray("sync") + QByteArray(508, '\0'));
    // legacy -> native: text up to the NUL, the sender's name, a broker-assigned id.
    tx.write(legacyFrame(Legacy::Command::Forward, 0, "r751n", "r751tx", "hello native"));
    const std::optional<Frame> d = n.next();
    QVERIFY(d && d->type == FrameType::Deliver);
    QCOMPARE(d->source, QByteArrayLiteral("r751tx"));
    QCOMPARE(d->payload, QByteArrayLiteral("hello native"));
    tx.write(legacyFrame(Legacy::Command::Forward, 0, "r751n", "r751tx", "again"));
    const std::optional<Frame> d2 = n.next();
    QVERIFY(d2 && d2->messageId > d->messageId); // one counter, counting up
}

// --- §8 ----------------------------------------------------------------------------------------

void tst_Conformance::R_8_1_1_frameSizeLimitAtEdge()
{
    Conn a, b;
    QVERIFY(a.tcp(m_broker.tcpPort()));
    QVERIFY(b.tcp(m_broker.tcpPort()));
    QVERIFY(a.registerAs("r811-a"));
    QVERIFY(b.registerAs("b"));
    const int largest = int(FrameLimit) - Wire::HeaderSize - 1;
    a.sendTo("b", QByteArray(largest, 'm'), 1);
    QCOMPARE(statusOf(a.next()), DeliveryStatus::Delivered);
    QCOMPARE(b.next()->payload.size(), largest);
    a.sendTo("b", QByteArray(largest + 1, 'm'), 2);
    QCOMPARE(errorOf(a.next()), ErrorCode::FrameTooLarge);
    QVERIFY(a.closed());
}

void tst_Conformance::R_8_1_2_largestDeliverFitsQueue()
{
    // The shared broker has max_queue_bytes = max_frame_size: the tightest the configuration allows.
    Conn a, b;
    const QByteArray longName(Wire::MaxNameLength, 'L');
    QVERIFY(a.tcp(m_broker.tcpPort()));
    QVERIFY(b.tcp(m_broker.tcpPort()));
    QVERIFY(a.registerAs(longName));
    QVERIFY(b.registerAs("c"));
    const int largest = int(FrameLimit) - Wire::HeaderSize - 1;
    a.sendTo("c", QByteArray(largest, 'm'), 1);
    QCOMPARE(statusOf(a.next()), DeliveryStatus::Delivered);
    const std::optional<Frame> d = b.next();
    QVERIFY(d);
    QCOMPARE(encodeFrame(*d).size(), qsizetype(FrameLimit) + Wire::MaxNameLength);
}

void tst_Conformance::R_8_1_3_incompleteFrameTimeout()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    QVERIFY(c.registerAs("r813"));
    QElapsedTimer clock;
    clock.start();
    QByteArray partial;
    appendFrame(partial, FrameType::Send, 1, NoFlags, {}, "r813", QByteArray(100, 'x'));
    c.write(partial.left(40));
    QCOMPARE(errorOf(c.next()), ErrorCode::IncompleteFrameTimeout);
    QVERIFY(c.closed());
    QVERIFY(clock.elapsed() >= 300 - 20);
}

void tst_Conformance::R_8_2_1_higherHelloVersionWelcomedAsOne()
{
    Conn c;
    QVERIFY(c.tcp(m_broker.tcpPort()));
    HelloPayload hello;
    hello.protocolVersion = 7;
    c.hello("r821", 1, hello);
    const std::optional<Frame> w = c.next();
    QVERIFY(w && w->type == FrameType::Welcome);
    QCOMPARE(decodeWelcome(w->payload)->protocolVersion, quint16(1));
}

QTEST_MAIN(tst_Conformance)
#include "tst_conformance.moc"
