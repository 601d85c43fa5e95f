// The native wire codec: every frame at every byte boundary, every header check, the name rule and
// the control payloads (docs/PROTOCOL.md §2-§6, §8).
#include "framecodec.h"
#include "names.h"

#include <QRegularExpression>
#include <QSet>
#include <QTest>

#include <limits>

using namespace Kennel;

namespace Kennel {
// Readable QCOMPARE failures.
char *toString(const Frame &frame)
{
    return QTest::toString(QStringLiteral("Frame(type=0x%1 id=%2 flags=0x%3 source=\"%4\" target=\"%5\" payload=%6 bytes)")
                               .arg(quint8(frame.type), 2, 16, QLatin1Char('0'))
                               .arg(frame.messageId)
                               .arg(frame.flags, 4, 16, QLatin1Char('0'))
                               .arg(QString::fromLatin1(frame.source), QString::fromLatin1(frame.target))
                               .arg(frame.payload.size()));
}
char *toString(DecodeError error)
{
    return qstrdup(decodeErrorName(error));
}
} // namespace Kennel

Q_DECLARE_METATYPE(Kennel::DecodeError)
Q_DECLARE_METATYPE(Kennel::ErrorCode)

namespace {

Frame makeFrame(FrameType type, quint32 messageId = 0, quint16 flags = 0, const QByteArray &source = {},
                const QByteArray &target = {}, const QByteArray &payload = {})
{
    Frame frame;
    frame.type = type;
    frame.messageId = messageId;
    frame.flags = flags;
    frame.source = source;
    frame.target = target;
    frame.payload = payload;
    return frame;
}

// A header built byte by byte from the table in PROTOCOL §2, independent of writeHeader().
QByteArray rawHeader(quint8 type, quint32 bodyLength, quint32 messageId = 0, quint8 sourceLength = 0,
                     quint8 targetLength = 0, quint16 flags = 0, quint8 version = 1, quint16 magic = 0x4B4E)
{
    QByteArray h(16, '\0');
    h[0] = char(magic >> 8);
    h[1] = char(magic & 0xFF);
    h[2] = char(version);
    h[3] = char(type);
    h[4] = char(bodyLength >> 24);
    h[5] = char(bodyLength >> 16);
    h[6] = char(bodyLength >> 8);
    h[7] = char(bodyLength);
    h[8] = char(messageId >> 24);
    h[9] = char(messageId >> 16);
    h[10] = char(messageId >> 8);
    h[11] = char(messageId);
    h[12] = char(sourceLength);
    h[13] = char(targetLength);
    h[14] = char(flags >> 8);
    h[15] = char(flags);
    return h;
}

QByteArray binaryPayload(int size)
{
    QByteArray bytes(size, Qt::Uninitialized);
    for (int i = 0; i < size; ++i)
        bytes[i] = char((i * 37 + 11) & 0xFF); // every byte value, NULs included
    return bytes;
}

QList<Frame> sampleFrames()
{
    HelloPayload monitorHello;
    monitorHello.role = Role::Monitor;
    monitorHello.pid = 4242;
    monitorHello.token = QByteArrayLiteral("s3cret");
    return {
        makeFrame(FrameType::Hello, 1, 0, QByteArrayLiteral("sensor-1"), {}, encodeHello({})),
        makeFrame(FrameType::Hello, 2, 0, QByteArrayLiteral("mon"), {}, encodeHello(monitorHello)),
        makeFrame(FrameType::Welcome, 1, 0, {}, QByteArrayLiteral("sensor-1"),
                  encodeWelcome({1, Wire::DefaultMaxFrameSize, QByteArrayLiteral("0.1.0"), {}})),
        makeFrame(FrameType::Error, 7, 0, {}, {}, encodeError({ErrorCode::NameTaken, QStringLiteral("name taken: ü")})),
        makeFrame(FrameType::Bye),
        makeFrame(FrameType::Ping, 0xFFFFFFFFu),
        makeFrame(FrameType::Pong, 0xFFFFFFFFu),
        makeFrame(FrameType::Send, 12345, WantDeliveryStatus, {}, QByteArrayLiteral("logger"),
                  QByteArrayLiteral("hello, logger")),
        makeFrame(FrameType::Send, 1, 0xFFFF, {}, QByteArrayLiteral("a"), {}),
        makeFrame(FrameType::Deliver, 12345, 0, QByteArrayLiteral("sensor-1"), QByteArrayLiteral("logger"),
                  binaryPayload(300)),
        makeFrame(FrameType::Deliver, 9, 0, QByteArray(64, 'x'), QByteArray(64, 'y'), binaryPayload(1)),
        makeFrame(FrameType::DeliveryStatus, 12345, 0, {}, {}, encodeDeliveryStatus(DeliveryStatus::TargetQueueFull)),
        makeFrame(FrameType::WatchdogRegister, 3, 0, {}, {}, encodeWatchdogTerms({1000, 3, ExpiryAction::Kill})),
        makeFrame(FrameType::WatchdogFeed, 4),
        makeFrame(FrameType::WatchdogAck, 3, 0, {}, {}, encodeWatchdogTerms({3000, 2, ExpiryAction::Terminate})),
        makeFrame(FrameType::MonitorFirst, 5, 0, {}, {}, QByteArrayLiteral("snapshot")),
        makeFrame(FrameType(0x41), 6, 0, QByteArrayLiteral("a.b_c-D"), QByteArrayLiteral("Z9"), {}),
        makeFrame(FrameType(0x5A), 7, 0x8000, {}, {}, binaryPayload(1000)),
        makeFrame(FrameType::MonitorLast, 8, 0, {}, {}, QByteArrayLiteral("x")),
    };
}

void addSampleRows()
{
    QTest::addColumn<Frame>("frame");
    int i = 0;
    for (const Frame &frame : sampleFrames()) {
        QTest::addRow("%02d %s 0x%02x", i++, frameTypeName(frame.type), unsigned(quint8(frame.type))) << frame;
    }
}

} // namespace

class tst_FrameCodec : public QObject
{
    Q_OBJECT

private slots:
    // Layout and round trips
    void headerLayout();
    void roundTrip_data() { addSampleRows(); }
    void roundTrip();
    void appendFrameAppends();
    void unknownTypeIsNotAnError_data();
    void unknownTypeIsNotAnError();
    void emptyNamesAreFramed();
    // Streams
    void splitAtEveryOffset_data() { addSampleRows(); }
    void splitAtEveryOffset();
    void byteByByte_data() { addSampleRows(); }
    void byteByByte();
    void concatenated_data();
    void concatenated();
    void decodeFrameWalksConcatenatedFrames();
    void truncated_data() { addSampleRows(); }
    void truncated();
    // Header checks
    void frameTooLarge_data();
    void frameTooLarge();
    void frameAtTheLimit();
    void badMagic_data();
    void badMagic();
    void unsupportedVersion_data();
    void unsupportedVersion();
    void malformed_data();
    void malformed();
    void remoteNamesDecode();
    void invalidName_data();
    void invalidName();
    void invalidNameStreamContinues();
    void fatalErrorIsSticky_data();
    void fatalErrorIsSticky();
    void resetRecovers();
    // Names
    void nameRules_data();
    void nameRules();
    void nameRulesEveryByte();
    // Control payloads
    void helloLayout();
    void helloRoundTrip_data();
    void helloRoundTrip();
    void helloRejects_data();
    void helloRejects();
    void welcomeLayout();
    void welcomeRoundTrip();
    void featureNegotiationLayout();
    void welcomeRejects_data();
    void welcomeRejects();
    void errorLayout();
    void errorRoundTrip_data();
    void errorRoundTrip();
    void errorRejectsShortInput();
    void deliveryStatusRoundTrip_data();
    void deliveryStatusRoundTrip();
    void deliveryStatusRejectsShortInput();
    void watchdogTermsLayout();
    void watchdogTermsRoundTrip_data();
    void watchdogTermsRoundTrip();
    void callPayloads();
    void watchdogTermsRejects_data();
    void watchdogTermsRejects();
    // Names for logs and tools
    void frameTypeNames();
    void deliveryStatusNames();
    void errorCodeNames();
    void decodeErrorNames();
    void errorCodeFor_data();
    void errorCodeFor();
};

// --- Layout and round trips --------------------------------------------------------------------

void tst_FrameCodec::headerLayout()
{
    const Frame frame = makeFrame(FrameType::Send, 0x01020304, 0x0A0B, QByteArrayLiteral("src"),
                                  QByteArrayLiteral("target"), QByteArrayLiteral("payload!"));
    const QByteArray expected = rawHeader(0x10, 3 + 6 + 8, 0x01020304, 3, 6, 0x0A0B)
                                + QByteArrayLiteral("src") + QByteArrayLiteral("target") + QByteArrayLiteral("payload!");
    QCOMPARE(encodeFrame(frame), expected);
    QCOMPARE(expected.left(4), QByteArray::fromHex("4b4e0110"));

    char header[Wire::HeaderSize];
    writeHeader(header, FrameType::Deliver, 0xDEADBEEF, 0xCAFEBABE, 64, 1, 0x8001);
    QCOMPARE(QByteArray(header, Wire::HeaderSize), rawHeader(0x11, 0xDEADBEEF, 0xCAFEBABE, 64, 1, 0x8001));
}

void tst_FrameCodec::roundTrip()
{
    QFETCH(Frame, frame);
    const QByteArray bytes = encodeFrame(frame);
    QCOMPARE(bytes.size(), Wire::HeaderSize + frame.source.size() + frame.target.size() + frame.payload.size());

    const DecodeResult r = decodeFrame(bytes, Wire::DefaultMaxFrameSize);
    QCOMPARE(r.error, DecodeError::None);
    QCOMPARE(r.consumed, bytes.size());
    QCOMPARE(r.frameSize, bytes.size());
    QCOMPARE(quint8(r.frame.type), quint8(frame.type));
    QCOMPARE(r.frame.toFrame(), frame);
    // Views, not copies: they point into the input.
    QVERIFY(r.frame.payload.data() >= bytes.constData() && r.frame.payload.data() <= bytes.constData() + bytes.size());

    // Whatever follows the frame is not part of it.
    const QByteArray followed = bytes + QByteArrayLiteral("KN\x01");
    const DecodeResult r2 = decodeFrame(followed, Wire::DefaultMaxFrameSize);
    QCOMPARE(r2.error, DecodeError::None);
    QCOMPARE(r2.consumed, bytes.size());
    QCOMPARE(r2.frame.toFrame(), frame);
}

void tst_FrameCodec::appendFrameAppends()
{
    const Frame frame = makeFrame(FrameType::Deliver, 77, 0, QByteArrayLiteral("a"), QByteArrayLiteral("b"),
                                  QByteArrayLiteral("c"));
    QByteArray out = QByteArrayLiteral("prefix");
    appendFrame(out, frame.type, frame.messageId, frame.flags, frame.source, frame.target, frame.payload);
    QCOMPARE(out, QByteArrayLiteral("prefix") + encodeFrame(frame));
}

void tst_FrameCodec::unknownTypeIsNotAnError_data()
{
    QTest::addColumn<int>("type");
    for (int type : {0x00, 0x07, 0x0F, 0x1F, 0x23, 0x3F, 0x80, 0xC0, 0xFF})
        QTest::addRow("0x%02x", type) << type;
}

void tst_FrameCodec::unknownTypeIsNotAnError()
{
    // PROTOCOL §2.1: framing is intact, so the decoder delivers it; answering UnknownFrameType is
    // the business of the layer above.
    QFETCH(int, type);
    const Frame frame = makeFrame(FrameType(type), 99, 0, {}, QByteArrayLiteral("t"), QByteArrayLiteral("p"));
    const QByteArray bytes = encodeFrame(frame); // the views below point into it
    const DecodeResult r = decodeFrame(bytes, Wire::DefaultMaxFrameSize);
    QCOMPARE(r.error, DecodeError::None);
    QCOMPARE(int(quint8(r.frame.type)), type);
    QCOMPARE(r.frame.toFrame(), frame);
    QCOMPARE(frameTypeName(FrameType(type)), "unknown");
}

void tst_FrameCodec::emptyNamesAreFramed()
{
    const QByteArray bytes = rawHeader(0x10, 0);
    const DecodeResult r = decodeFrame(bytes, Wire::DefaultMaxFrameSize);
    QCOMPARE(r.error, DecodeError::None);
    QCOMPARE(r.consumed, Wire::HeaderSize);
    QVERIFY(r.frame.source.isEmpty());
    QVERIFY(r.frame.target.isEmpty());
    QVERIFY(r.frame.payload.isEmpty());
}

// --- Streams -----------------------------------------------------------------------------------

void tst_FrameCodec::splitAtEveryOffset()
{
    QFETCH(Frame, frame);
    const QByteArray bytes = encodeFrame(frame);
    for (qsizetype split = 0; split <= bytes.size(); ++split) {
        FrameDecoder decoder;
        decoder.append(QByteArrayView(bytes).first(split));
        if (split < bytes.size()) {
            QVERIFY2(!decoder.next(), qPrintable(QStringLiteral("split %1").arg(split)));
            QCOMPARE(decoder.error(), DecodeError::None);
            QCOMPARE(decoder.bufferedBytes(), split);
        }
        decoder.append(QByteArrayView(bytes).sliced(split));
        const std::optional<Frame> decoded = decoder.next();
        QVERIFY2(decoded, qPrintable(QStringLiteral("split %1").arg(split)));
        QCOMPARE(*decoded, frame);
        QVERIFY(!decoder.next());
        QCOMPARE(decoder.error(), DecodeError::None);
        QCOMPARE(decoder.bufferedBytes(), 0);
    }
}

void tst_FrameCodec::byteByByte()
{
    QFETCH(Frame, frame);
    const QByteArray bytes = encodeFrame(frame);
    FrameDecoder decoder;
    QList<Frame> decoded;
    for (char byte : bytes) {
        decoder.append(QByteArrayView(&byte, 1));
        while (std::optional<Frame> f = decoder.next())
            decoded.append(*f);
        QCOMPARE(decoder.error(), DecodeError::None);
    }
    QCOMPARE(decoded.size(), 1);
    QCOMPARE(decoded.first(), frame);
    QCOMPARE(decoder.bufferedBytes(), 0);
}

void tst_FrameCodec::concatenated_data()
{
    QTest::addColumn<int>("chunkSize");
    for (int chunk : {1, 2, 3, 7, 15, 16, 17, 64, 333, 1024, 1 << 20})
        QTest::addRow("chunks of %d", chunk) << chunk;
}

void tst_FrameCodec::concatenated()
{
    QFETCH(int, chunkSize);
    const QList<Frame> frames = sampleFrames();
    QByteArray stream;
    for (const Frame &frame : frames)
        stream += encodeFrame(frame);

    FrameDecoder decoder;
    QList<Frame> decoded;
    qsizetype maxBuffered = 0;
    for (qsizetype pos = 0; pos < stream.size(); pos += chunkSize) {
        decoder.append(QByteArrayView(stream).sliced(pos, qMin<qsizetype>(chunkSize, stream.size() - pos)));
        maxBuffered = qMax(maxBuffered, decoder.bufferedBytes());
        while (std::optional<Frame> f = decoder.next())
            decoded.append(*f);
        QCOMPARE(decoder.error(), DecodeError::None);
    }
    QCOMPARE(decoded, frames);
    QCOMPARE(decoder.bufferedBytes(), 0);
    // Only unread bytes are buffered: never more than the largest frame plus one chunk.
    qsizetype largest = 0;
    for (const Frame &frame : frames)
        largest = qMax(largest, encodeFrame(frame).size());
    QVERIFY(maxBuffered <= largest + chunkSize);
}

void tst_FrameCodec::decodeFrameWalksConcatenatedFrames()
{
    const QList<Frame> frames = sampleFrames();
    QByteArray stream;
    for (const Frame &frame : frames)
        stream += encodeFrame(frame);
    QList<Frame> decoded;
    QByteArrayView rest(stream);
    while (!rest.isEmpty()) {
        const DecodeResult r = decodeFrame(rest, Wire::DefaultMaxFrameSize);
        QCOMPARE(r.error, DecodeError::None);
        QVERIFY(r.consumed > 0);
        decoded.append(r.frame.toFrame());
        rest = rest.sliced(r.consumed);
    }
    QCOMPARE(decoded, frames);
}

void tst_FrameCodec::truncated()
{
    QFETCH(Frame, frame);
    const QByteArray bytes = encodeFrame(frame);
    for (qsizetype size = 0; size < bytes.size(); ++size) {
        const DecodeResult r = decodeFrame(QByteArrayView(bytes).first(size), Wire::DefaultMaxFrameSize);
        QCOMPARE(r.error, DecodeError::NeedMore);
        QCOMPARE(r.consumed, 0);
        // Once the header is complete, the reader learns the whole frame's size.
        QCOMPARE(r.frameSize, size >= Wire::HeaderSize ? bytes.size() : 0);
    }
}

// --- Header checks -----------------------------------------------------------------------------

void tst_FrameCodec::frameTooLarge_data()
{
    QTest::addColumn<quint32>("maxFrameSize");
    QTest::addColumn<quint32>("bodyLength");
    QTest::newRow("one byte over the minimum limit") << Wire::MinFrameSizeLimit << (Wire::MinFrameSizeLimit - 16 + 1);
    QTest::newRow("one byte over the default limit") << Wire::DefaultMaxFrameSize << (Wire::DefaultMaxFrameSize - 16 + 1);
    QTest::newRow("4 GiB claimed, default limit") << Wire::DefaultMaxFrameSize << 0xFFFFFFFFu;
    QTest::newRow("4 GiB claimed, 1 KiB limit") << Wire::MinFrameSizeLimit << 0xFFFFFFFFu;
    // header + body wraps a 32-bit sum: the check must not be fooled by it.
    QTest::newRow("overflow: body 0xFFFFFFFF, limit 0xFFFFFFFF") << 0xFFFFFFFFu << 0xFFFFFFFFu;
    QTest::newRow("overflow: body 0xFFFFFFF0, limit 0xFFFFFFFF") << 0xFFFFFFFFu << 0xFFFFFFF0u;
    QTest::newRow("limit below the header size") << 8u << 0u;
}

void tst_FrameCodec::frameTooLarge()
{
    QFETCH(quint32, maxFrameSize);
    QFETCH(quint32, bodyLength);
    // Only the 16 header bytes: the verdict must not wait for a body that may never come.
    const QByteArray header = rawHeader(0x10, bodyLength);
    const DecodeResult r = decodeFrame(header, maxFrameSize);
    QCOMPARE(r.error, DecodeError::FrameTooLarge);
    QCOMPARE(r.consumed, 0);

    FrameDecoder decoder(maxFrameSize);
    decoder.append(header);
    QVERIFY(!decoder.next());
    QCOMPARE(decoder.error(), DecodeError::FrameTooLarge);
    QCOMPARE(decoder.bufferedBytes(), 0);
}

void tst_FrameCodec::frameAtTheLimit()
{
    const quint32 limit = Wire::MinFrameSizeLimit;
    const Frame frame = makeFrame(FrameType::Send, 1, 0, {}, QByteArrayLiteral("t"), binaryPayload(int(limit) - 16 - 1));
    const QByteArray bytes = encodeFrame(frame);
    QCOMPARE(bytes.size(), qsizetype(limit));

    const DecodeResult header = decodeFrame(QByteArrayView(bytes).first(Wire::HeaderSize), limit);
    QCOMPARE(header.error, DecodeError::NeedMore);
    QCOMPARE(header.frameSize, qsizetype(limit));

    const DecodeResult whole = decodeFrame(bytes, limit);
    QCOMPARE(whole.error, DecodeError::None);
    QCOMPARE(whole.frame.toFrame(), frame);

    QCOMPARE(decodeFrame(bytes, limit - 1).error, DecodeError::FrameTooLarge);
}

void tst_FrameCodec::badMagic_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<DecodeError>("expected");
    QTest::newRow("empty") << QByteArray() << DecodeError::NeedMore;
    QTest::newRow("K") << QByteArrayLiteral("K") << DecodeError::NeedMore;
    QTest::newRow("KN") << QByteArrayLiteral("KN") << DecodeError::NeedMore;
    QTest::newRow("KN, version 1") << QByteArray::fromHex("4b4e01") << DecodeError::NeedMore;
    // One byte is enough to refuse a stranger.
    QTest::newRow("first byte X") << QByteArrayLiteral("X") << DecodeError::BadMagic;
    QTest::newRow("first byte NUL") << QByteArray(1, '\0') << DecodeError::BadMagic;
    QTest::newRow("first byte k") << QByteArrayLiteral("k") << DecodeError::BadMagic;
    QTest::newRow("legacy head") << QByteArray("head\0", 5) << DecodeError::BadMagic;
    QTest::newRow("HTTP") << QByteArrayLiteral("GET / HTTP/1.1\r\n") << DecodeError::BadMagic;
    QTest::newRow("second byte wrong") << QByteArrayLiteral("KX") << DecodeError::BadMagic;
    QTest::newRow("little-endian magic") << QByteArray::fromHex("4e4b") << DecodeError::BadMagic;
    QTest::newRow("full header, second byte wrong") << rawHeader(0x05, 0, 0, 0, 0, 0, 1, 0x4B4F)
                                                    << DecodeError::BadMagic;
    QTest::newRow("full header, magic zero") << rawHeader(0x05, 0, 0, 0, 0, 0, 1, 0) << DecodeError::BadMagic;
}

void tst_FrameCodec::badMagic()
{
    QFETCH(QByteArray, bytes);
    QFETCH(DecodeError, expected);
    const DecodeResult r = decodeFrame(bytes, Wire::DefaultMaxFrameSize);
    QCOMPARE(r.error, expected);
    QCOMPARE(r.consumed, 0);
}

void tst_FrameCodec::unsupportedVersion_data()
{
    QTest::addColumn<int>("version");
    QTest::addColumn<bool>("headerOnly");
    for (int version : {0, 2, 0x7F, 0xFF}) {
        QTest::addRow("version %d, 3 bytes", version) << version << false;
        QTest::addRow("version %d, full header", version) << version << true;
    }
}

void tst_FrameCodec::unsupportedVersion()
{
    QFETCH(int, version);
    QFETCH(bool, headerOnly);
    const QByteArray header = rawHeader(0x05, 0, 0, 0, 0, 0, quint8(version));
    const QByteArray bytes = headerOnly ? header : header.left(3);
    QCOMPARE(decodeFrame(bytes, Wire::DefaultMaxFrameSize).error, DecodeError::UnsupportedVersion);
}

void tst_FrameCodec::malformed_data()
{
    QTest::addColumn<quint32>("bodyLength");
    QTest::addColumn<int>("sourceLength");
    QTest::addColumn<int>("targetLength");
    QTest::newRow("source 65") << 100u << 65 << 0;
    QTest::newRow("target 65") << 100u << 0 << 65;
    QTest::newRow("source 255") << 1000u << 255 << 0;
    QTest::newRow("both 255") << 1000u << 255 << 255;
    QTest::newRow("source longer than body") << 3u << 4 << 0;
    QTest::newRow("target longer than body") << 3u << 0 << 4;
    QTest::newRow("names longer than body") << 5u << 3 << 3;
    QTest::newRow("empty body, one name byte") << 0u << 1 << 0;
    QTest::newRow("both 64, body 127") << 127u << 64 << 64;
}

void tst_FrameCodec::malformed()
{
    QFETCH(quint32, bodyLength);
    QFETCH(int, sourceLength);
    QFETCH(int, targetLength);
    const QByteArray header = rawHeader(0x11, bodyLength, 1, quint8(sourceLength), quint8(targetLength));
    // Decided from the header alone ...
    QCOMPARE(decodeFrame(header, Wire::DefaultMaxFrameSize).error, DecodeError::Malformed);
    // ... and the same with the body present.
    const QByteArray whole = header + QByteArray(qsizetype(bodyLength), 'a');
    QCOMPARE(decodeFrame(whole, Wire::DefaultMaxFrameSize).error, DecodeError::Malformed);

    FrameDecoder decoder;
    decoder.append(whole);
    QVERIFY(!decoder.next());
    QCOMPARE(decoder.error(), DecodeError::Malformed);
}

void tst_FrameCodec::remoteNamesDecode()
{
    // PROTOCOL §5.8: a Send to NAME@BOARD and a Deliver from SENDER@ORIGIN decode; 64 bytes in all at most.
    const Frame send = makeFrame(FrameType::Send, 7, 0, {}, QByteArrayLiteral("bob@board-2"), QByteArrayLiteral("x"));
    const QByteArray sendBytes = encodeFrame(send); // the decoded frame's names are views into it
    const DecodeResult r = decodeFrame(sendBytes, Wire::DefaultMaxFrameSize);
    QCOMPARE(r.error, DecodeError::None);
    QCOMPARE(r.frame.target, QByteArrayView("bob@board-2"));
    const Frame deliver = makeFrame(FrameType::Deliver, 7, 0, QByteArrayLiteral("alice@A"), QByteArrayLiteral("bob"), {});
    QCOMPARE(decodeFrame(encodeFrame(deliver), Wire::DefaultMaxFrameSize).error, DecodeError::None);
    QVERIFY(isValidTarget(QByteArray(QByteArray(31, 'n') + '@' + QByteArray(32, 'b'))));
    QVERIFY(!isValidTarget(QByteArray(QByteArray(32, 'n') + '@' + QByteArray(32, 'b'))));
    QVERIFY(!isValidName("bob@B")); // never a name to register
}

void tst_FrameCodec::invalidName_data()
{
    QTest::addColumn<QByteArray>("source");
    QTest::addColumn<QByteArray>("target");
    QTest::newRow("source with space") << QByteArrayLiteral("a b") << QByteArrayLiteral("ok");
    QTest::newRow("target with slash") << QByteArrayLiteral("ok") << QByteArrayLiteral("a/b");
    QTest::newRow("target with NUL") << QByteArray() << QByteArray("ab\0", 3);
    QTest::newRow("source with high byte") << QByteArrayLiteral("\x80") << QByteArray();
    QTest::newRow("target UTF-8") << QByteArray() << QByteArrayLiteral("caf\xc3\xa9");
    QTest::newRow("target with newline") << QByteArray() << QByteArrayLiteral("a\n");
    // NAME@BOARD is a target (PROTOCOL §5.8); these are not.
    QTest::newRow("target with no board") << QByteArray() << QByteArrayLiteral("a@");
    QTest::newRow("target with no name") << QByteArray() << QByteArrayLiteral("@b");
    QTest::newRow("target with two at signs") << QByteArray() << QByteArrayLiteral("a@b@c");
    QTest::newRow("source board starting with a dot") << QByteArrayLiteral("a@.b") << QByteArrayLiteral("ok");
    QTest::newRow("both bad") << QByteArrayLiteral("*") << QByteArrayLiteral("?");
}

void tst_FrameCodec::invalidName()
{
    QFETCH(QByteArray, source);
    QFETCH(QByteArray, target);
    const Frame frame = makeFrame(FrameType::Send, 42, WantDeliveryStatus, source, target, QByteArrayLiteral("data"));
    const QByteArray bytes = encodeFrame(frame);
    const DecodeResult r = decodeFrame(bytes, Wire::DefaultMaxFrameSize);
    QCOMPARE(r.error, DecodeError::InvalidName);
    // The frame can be skipped, and the answer can name its message id.
    QCOMPARE(r.consumed, bytes.size());
    QCOMPARE(r.frameSize, bytes.size());
    QCOMPARE(r.frame.messageId, 42u);
    QCOMPARE(r.frame.type, FrameType::Send);

    // Until it is complete, it is just an incomplete frame.
    QCOMPARE(decodeFrame(QByteArrayView(bytes).chopped(1), Wire::DefaultMaxFrameSize).error, DecodeError::NeedMore);
}

void tst_FrameCodec::invalidNameStreamContinues()
{
    const Frame first = makeFrame(FrameType::Send, 1, 0, {}, QByteArrayLiteral("alpha"), QByteArrayLiteral("one"));
    const Frame bad = makeFrame(FrameType::Send, 2, 0, {}, QByteArrayLiteral("no such name!"), QByteArrayLiteral("two"));
    const Frame last = makeFrame(FrameType::Send, 3, 0, {}, QByteArrayLiteral("gamma"), QByteArrayLiteral("three"));
    const QByteArray stream = encodeFrame(first) + encodeFrame(bad) + encodeFrame(bad) + encodeFrame(last);

    FrameDecoder decoder;
    decoder.append(stream);
    QCOMPARE(decoder.next(), std::optional<Frame>(first));
    QCOMPARE(decoder.error(), DecodeError::None);
    // Reported once per bad frame, then the stream goes on.
    QVERIFY(!decoder.next());
    QCOMPARE(decoder.error(), DecodeError::InvalidName);
    QVERIFY(!decoder.next());
    QCOMPARE(decoder.error(), DecodeError::InvalidName);
    QCOMPARE(decoder.next(), std::optional<Frame>(last));
    QCOMPARE(decoder.error(), DecodeError::None);
    QVERIFY(!decoder.next());
    QCOMPARE(decoder.error(), DecodeError::None);
    QCOMPARE(decoder.bufferedBytes(), 0);
}

void tst_FrameCodec::fatalErrorIsSticky_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<DecodeError>("expected");
    QTest::newRow("bad magic") << QByteArrayLiteral("X") << DecodeError::BadMagic;
    QTest::newRow("unsupported version") << QByteArray::fromHex("4b4e02") << DecodeError::UnsupportedVersion;
    QTest::newRow("too large") << rawHeader(0x10, 0xFFFFFFFF) << DecodeError::FrameTooLarge;
    QTest::newRow("malformed") << rawHeader(0x10, 0, 0, 1, 0) << DecodeError::Malformed;
}

void tst_FrameCodec::fatalErrorIsSticky()
{
    QFETCH(QByteArray, bytes);
    QFETCH(DecodeError, expected);
    FrameDecoder decoder;
    decoder.append(bytes);
    QVERIFY(!decoder.next());
    QCOMPARE(decoder.error(), expected);
    // A valid frame after the break cannot be trusted to be one: nothing more comes out.
    decoder.append(encodeFrame(makeFrame(FrameType::Ping, 1)));
    QVERIFY(!decoder.next());
    QVERIFY(!decoder.next());
    QCOMPARE(decoder.error(), expected);
    QCOMPARE(decoder.bufferedBytes(), 0);
}

void tst_FrameCodec::resetRecovers()
{
    FrameDecoder decoder;
    decoder.append(QByteArrayLiteral("garbage"));
    QVERIFY(!decoder.next());
    QCOMPARE(decoder.error(), DecodeError::BadMagic);
    decoder.reset();
    QCOMPARE(decoder.error(), DecodeError::None);
    QCOMPARE(decoder.bufferedBytes(), 0);
    const Frame ping = makeFrame(FrameType::Ping, 5);
    decoder.append(encodeFrame(ping));
    QCOMPARE(decoder.next(), std::optional<Frame>(ping));

    // reset() also drops a partial frame.
    decoder.append(encodeFrame(ping).left(10));
    decoder.reset();
    decoder.append(encodeFrame(ping));
    QCOMPARE(decoder.next(), std::optional<Frame>(ping));
}

// --- Names -------------------------------------------------------------------------------------

void tst_FrameCodec::nameRules_data()
{
    QTest::addColumn<QByteArray>("name");
    QTest::addColumn<int>("maxLength");
    QTest::addColumn<bool>("valid");
    QTest::newRow("empty") << QByteArray() << 64 << false;
    QTest::newRow("1 byte") << QByteArrayLiteral("a") << 64 << true;
    QTest::newRow("64 bytes") << QByteArray(64, 'n') << 64 << true;
    QTest::newRow("65 bytes") << QByteArray(65, 'n') << 64 << false;
    QTest::newRow("upper") << QByteArrayLiteral("ABCDEFGHIJKLMNOPQRSTUVWXYZ") << 64 << true;
    QTest::newRow("lower") << QByteArrayLiteral("abcdefghijklmnopqrstuvwxyz") << 64 << true;
    QTest::newRow("digits") << QByteArrayLiteral("0123456789") << 64 << true;
    QTest::newRow("punctuation allowed") << QByteArrayLiteral("a.b_c-d") << 64 << true;
    QTest::newRow("dot") << QByteArrayLiteral(".") << 64 << false;
    QTest::newRow("only dots") << QByteArrayLiteral("..") << 64 << false;
    QTest::newRow("leading dot") << QByteArrayLiteral(".hidden") << 64 << false;
    QTest::newRow("leading dash") << QByteArrayLiteral("-x") << 64 << false;
    QTest::newRow("option-like") << QByteArrayLiteral("-rf") << 64 << false;
    QTest::newRow("lone dash") << QByteArrayLiteral("-") << 64 << false;
    QTest::newRow("trailing dot and dash") << QByteArrayLiteral("a.-") << 64 << true;
    QTest::newRow("leading underscore") << QByteArrayLiteral("_a") << 64 << true;
    QTest::newRow("leading digit") << QByteArrayLiteral("1a") << 64 << true;
    QTest::newRow("old program names") << QByteArrayLiteral("client1") << 9 << true;
    QTest::newRow("old program names 2") << QByteArrayLiteral("watchdog") << 9 << true;
    QTest::newRow("space") << QByteArrayLiteral("a b") << 64 << false;
    QTest::newRow("tab") << QByteArrayLiteral("a\tb") << 64 << false;
    QTest::newRow("NUL") << QByteArray("a\0b", 3) << 64 << false;
    QTest::newRow("DEL") << QByteArrayLiteral("a\x7f") << 64 << false;
    QTest::newRow("slash") << QByteArrayLiteral("a/b") << 64 << false;
    QTest::newRow("colon") << QByteArrayLiteral("a:b") << 64 << false;
    QTest::newRow("at") << QByteArrayLiteral("a@b") << 64 << false;
    QTest::newRow("plus") << QByteArrayLiteral("a+b") << 64 << false;
    QTest::newRow("star") << QByteArrayLiteral("*") << 64 << false;
    QTest::newRow("tilde") << QByteArrayLiteral("~a") << 64 << false;
    QTest::newRow("brackets") << QByteArrayLiteral("[a]") << 64 << false;
    QTest::newRow("backtick") << QByteArrayLiteral("`a") << 64 << false;
    QTest::newRow("high byte") << QByteArrayLiteral("a\x80") << 64 << false;
    QTest::newRow("0xFF") << QByteArrayLiteral("\xff") << 64 << false;
    QTest::newRow("UTF-8 letter") << QByteArrayLiteral("caf\xc3\xa9") << 64 << false;
    QTest::newRow("legacy width 9, 9 bytes") << QByteArray(9, 'x') << 9 << true;
    QTest::newRow("legacy width 9, 10 bytes") << QByteArray(10, 'x') << 9 << false;
    QTest::newRow("maxLength 1, 1 byte") << QByteArrayLiteral("x") << 1 << true;
    QTest::newRow("maxLength 1, 2 bytes") << QByteArrayLiteral("xy") << 1 << false;
    QTest::newRow("maxLength 0") << QByteArrayLiteral("x") << 0 << false;
    QTest::newRow("maxLength negative") << QByteArrayLiteral("x") << -1 << false;
    QTest::newRow("maxLength 100 caps at 64: 64 bytes") << QByteArray(64, 'x') << 100 << true;
    QTest::newRow("maxLength 100 caps at 64: 65 bytes") << QByteArray(65, 'x') << 100 << false;
    QTest::newRow("maxLength huge") << QByteArray(65, 'x') << std::numeric_limits<int>::max() << false;
}

void tst_FrameCodec::nameRules()
{
    QFETCH(QByteArray, name);
    QFETCH(int, maxLength);
    QFETCH(bool, valid);
    QCOMPARE(isValidName(name, maxLength), valid);
}

void tst_FrameCodec::nameRulesEveryByte()
{
    for (int c = 0; c < 256; ++c) {
        const bool expected = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.'
                              || c == '_' || c == '-';
        const char byte = char(c);
        // Allowed inside a name, but not as its first byte (PROTOCOL §3).
        const bool expectedFirst = expected && c != '.' && c != '-';
        QVERIFY2(isValidName(QByteArrayView(&byte, 1)) == expectedFirst, qPrintable(QString::number(c)));
        QByteArray inside = QByteArrayLiteral("ab");
        inside.insert(1, byte);
        QVERIFY2(isValidName(inside) == expected, qPrintable(QString::number(c)));
    }
}

// --- Control payloads --------------------------------------------------------------------------

void tst_FrameCodec::helloLayout()
{
    HelloPayload hello;
    hello.role = Role::Monitor;
    hello.protocolVersion = 0x0102;
    hello.pid = 0x0A0B0C0D;
    hello.token = QByteArrayLiteral("tok");
    QCOMPARE(encodeHello(hello), QByteArray::fromHex("01 00 0102 0A0B0C0D") + QByteArrayLiteral("tok"));
}

void tst_FrameCodec::helloRoundTrip_data()
{
    QTest::addColumn<int>("role");
    QTest::addColumn<int>("version");
    QTest::addColumn<quint32>("pid");
    QTest::addColumn<QByteArray>("token");
    QTest::newRow("client, defaults") << int(Role::Client) << 1 << 0u << QByteArray();
    QTest::newRow("client with pid") << int(Role::Client) << 1 << 31337u << QByteArray();
    QTest::newRow("monitor with token") << int(Role::Monitor) << 1 << 0xFFFFFFFFu << binaryPayload(64);
    QTest::newRow("future version") << int(Role::Client) << 0xFFFF << 1u << QByteArray();
}

void tst_FrameCodec::helloRoundTrip()
{
    QFETCH(int, role);
    QFETCH(int, version);
    QFETCH(quint32, pid);
    QFETCH(QByteArray, token);
    HelloPayload hello;
    hello.role = Role(role);
    hello.protocolVersion = quint16(version);
    hello.pid = pid;
    hello.token = token;
    const std::optional<HelloPayload> decoded = decodeHello(encodeHello(hello));
    QVERIFY(decoded);
    QCOMPARE(decoded->role, hello.role);
    QCOMPARE(decoded->protocolVersion, hello.protocolVersion);
    QCOMPARE(decoded->pid, hello.pid);
    QCOMPARE(decoded->token, hello.token);
}

void tst_FrameCodec::helloRejects_data()
{
    QTest::addColumn<QByteArray>("payload");
    const QByteArray good = encodeHello({});
    for (int size = 0; size < good.size(); ++size)
        QTest::addRow("short: %d bytes", size) << good.left(size);
    QTest::newRow("role 2") << QByteArray::fromHex("02 00 0001 00000000");
    QTest::newRow("role 0xFF") << QByteArray::fromHex("ff 00 0001 00000000");
}

void tst_FrameCodec::helloRejects()
{
    QFETCH(QByteArray, payload);
    QVERIFY(!decodeHello(payload));
}

void tst_FrameCodec::welcomeLayout()
{
    const WelcomePayload welcome{0x0001, 0x00100000, QByteArrayLiteral("0.1.0"), {}};
    QCOMPARE(encodeWelcome(welcome), QByteArray::fromHex("0001 0000 00100000") + QByteArrayLiteral("0.1.0"));
    // The flag bits other than bit 0 are reserved and ignored on reading.
    const std::optional<WelcomePayload> decoded = decodeWelcome(QByteArray::fromHex("0001 abcc 00000400"));
    QVERIFY(decoded);
    QCOMPARE(decoded->maxFrameSize, 1024u);
    QVERIFY(!decoded->features);
    QVERIFY(decoded->brokerVersion.isEmpty());
}

// PROTOCOL §4.1.1: the feature set sits between the fixed part and the text field, flagged by
// bit 0 of Hello byte 1 / Welcome bytes 2..3; without the flag both are the version-1 layouts.
void tst_FrameCodec::featureNegotiationLayout()
{
    HelloPayload hello;
    hello.pid = 0x01020304;
    hello.features = 0x80000001u;
    QCOMPARE(encodeHello(hello), QByteArray::fromHex("00 01 0001 01020304 80000001"));
    hello.role = Role::Monitor;
    hello.token = "tok";
    const QByteArray monitorHello = encodeHello(hello);
    QCOMPARE(monitorHello, QByteArray::fromHex("01 01 0001 01020304 80000001") + QByteArrayLiteral("tok"));
    std::optional<HelloPayload> decodedHello = decodeHello(monitorHello);
    QVERIFY(decodedHello);
    QCOMPARE(decodedHello->features, std::optional<quint32>(0x80000001u));
    QCOMPARE(decodedHello->token, QByteArrayLiteral("tok"));
    // No features: exactly the version-1 Hello, and the token starts at byte 8.
    hello.features.reset();
    QCOMPARE(encodeHello(hello), QByteArray::fromHex("01 00 0001 01020304") + QByteArrayLiteral("tok"));
    decodedHello = decodeHello(QByteArray::fromHex("00 fe 0001 00000000 80000001"));
    QVERIFY(decodedHello);
    QVERIFY(!decodedHello->features);
    QCOMPARE(decodedHello->token, QByteArray::fromHex("80000001"));
    // Flagged but cut short: malformed.
    QVERIFY(!decodeHello(QByteArray::fromHex("00 01 0001 00000000 800000")));

    WelcomePayload welcome{1, 4096, QByteArrayLiteral("0.2"), 0x00000001u};
    const QByteArray encoded = encodeWelcome(welcome);
    QCOMPARE(encoded, QByteArray::fromHex("0001 0001 00001000 00000001") + QByteArrayLiteral("0.2"));
    const std::optional<WelcomePayload> decodedWelcome = decodeWelcome(encoded);
    QVERIFY(decodedWelcome);
    QCOMPARE(decodedWelcome->features, std::optional<quint32>(1u));
    QCOMPARE(decodedWelcome->brokerVersion, QByteArrayLiteral("0.2"));
    QVERIFY(!decodeWelcome(QByteArray::fromHex("0001 0001 00001000 000000")));
}

void tst_FrameCodec::welcomeRoundTrip()
{
    for (quint32 max : {Wire::MinFrameSizeLimit, Wire::DefaultMaxFrameSize, 0xFFFFFFFFu}) {
        const WelcomePayload welcome{7, max, QByteArrayLiteral("kennel 1.2.3-rc1"), {}};
        const std::optional<WelcomePayload> decoded = decodeWelcome(encodeWelcome(welcome));
        QVERIFY(decoded);
        QCOMPARE(decoded->protocolVersion, welcome.protocolVersion);
        QCOMPARE(decoded->maxFrameSize, welcome.maxFrameSize);
        QCOMPARE(decoded->brokerVersion, welcome.brokerVersion);
    }
}

void tst_FrameCodec::welcomeRejects_data()
{
    QTest::addColumn<QByteArray>("payload");
    const QByteArray good = encodeWelcome({});
    for (int size = 0; size < 8; ++size)
        QTest::addRow("short: %d bytes", size) << good.left(size);
    QTest::newRow("max frame size 0") << QByteArray::fromHex("0001 0000 00000000");
    QTest::newRow("max frame size 1023") << QByteArray::fromHex("0001 0000 000003ff");
}

void tst_FrameCodec::welcomeRejects()
{
    QFETCH(QByteArray, payload);
    QVERIFY(!decodeWelcome(payload));
}

void tst_FrameCodec::errorLayout()
{
    QCOMPARE(encodeError({ErrorCode::NameTaken, QStringLiteral("taken")}), QByteArray::fromHex("0007") + QByteArrayLiteral("taken"));
    QCOMPARE(encodeError({ErrorCode::None, QString()}), QByteArray::fromHex("0000"));
}

void tst_FrameCodec::errorRoundTrip_data()
{
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("text");
    for (int code = int(ErrorCode::None); code <= int(ErrorCode::OverBudget); ++code)
        QTest::addRow("%s", errorCodeName(ErrorCode(code))) << code << QStringLiteral("because %1").arg(code);
    // Codes from a newer broker survive with their number.
    QTest::newRow("unknown 20") << 20 << QStringLiteral("new");
    QTest::newRow("unknown 999") << 999 << QString();
    QTest::newRow("local range 1000") << 1000 << QStringLiteral("local");
    QTest::newRow("unknown 0xFFFF") << 0xFFFF << QStringLiteral("max");
    QTest::newRow("non-ASCII text") << int(ErrorCode::InvalidName) << QStringLiteral("Größe \u2260 ok");
}

void tst_FrameCodec::errorRoundTrip()
{
    QFETCH(int, code);
    QFETCH(QString, text);
    const std::optional<ErrorPayload> decoded = decodeError(encodeError({ErrorCode(code), text}));
    QVERIFY(decoded);
    QCOMPARE(int(decoded->code), code);
    QCOMPARE(decoded->text, text);
}

void tst_FrameCodec::errorRejectsShortInput()
{
    QVERIFY(!decodeError(QByteArray()));
    QVERIFY(!decodeError(QByteArray(1, '\0')));
    QVERIFY(decodeError(QByteArray(2, '\0')));
}

void tst_FrameCodec::deliveryStatusRoundTrip_data()
{
    QTest::addColumn<int>("status");
    for (int status = int(DeliveryStatus::Delivered); status <= int(DeliveryStatus::StartFailed); ++status)
        QTest::addRow("%s", deliveryStatusName(DeliveryStatus(status))) << status;
    QTest::newRow("unknown 14") << 14;
    QTest::newRow("unknown 0xFFFF") << 0xFFFF;
}

void tst_FrameCodec::deliveryStatusRoundTrip()
{
    QFETCH(int, status);
    const QByteArray bytes = encodeDeliveryStatus(DeliveryStatus(status));
    QCOMPARE(bytes.size(), 2);
    QCOMPARE(quint8(bytes[0]), quint8(status >> 8));
    QCOMPARE(quint8(bytes[1]), quint8(status));
    const std::optional<DeliveryStatus> decoded = decodeDeliveryStatus(bytes);
    QVERIFY(decoded);
    QCOMPARE(int(*decoded), status);
}

void tst_FrameCodec::deliveryStatusRejectsShortInput()
{
    QVERIFY(!decodeDeliveryStatus(QByteArray()));
    QVERIFY(!decodeDeliveryStatus(QByteArray(1, '\x01')));
    // PROTOCOL §8.2: bytes past a fixed layout are left for later versions.
    const std::optional<DeliveryStatus> extended = decodeDeliveryStatus(QByteArray::fromHex("0002 ffff"));
    QVERIFY(extended);
    QCOMPARE(*extended, DeliveryStatus::TargetQueueFull);
}

void tst_FrameCodec::watchdogTermsLayout()
{
    const WatchdogTerms terms{0x00010203, 0x0405, ExpiryAction::Disconnect};
    QCOMPARE(encodeWatchdogTerms(terms), QByteArray::fromHex("00010203 0405 03 00"));
}

void tst_FrameCodec::watchdogTermsRoundTrip_data()
{
    QTest::addColumn<quint32>("intervalMs");
    QTest::addColumn<int>("allowedMisses");
    QTest::addColumn<int>("action");
    QTest::newRow("broker defaults") << 0u << 0 << int(ExpiryAction::Default);
    QTest::newRow("terminate") << 1000u << 3 << int(ExpiryAction::Terminate);
    QTest::newRow("kill") << 3000u << 2 << int(ExpiryAction::Kill);
    QTest::newRow("disconnect") << 250u << 1 << int(ExpiryAction::Disconnect);
    QTest::newRow("notify, extremes") << 0xFFFFFFFFu << 0xFFFF << int(ExpiryAction::Notify);
}

void tst_FrameCodec::watchdogTermsRoundTrip()
{
    QFETCH(quint32, intervalMs);
    QFETCH(int, allowedMisses);
    QFETCH(int, action);
    const WatchdogTerms terms{intervalMs, quint16(allowedMisses), ExpiryAction(action)};
    const std::optional<WatchdogTerms> decoded = decodeWatchdogTerms(encodeWatchdogTerms(terms));
    QVERIFY(decoded);
    QCOMPARE(decoded->intervalMs, terms.intervalMs);
    QCOMPARE(decoded->allowedMisses, terms.allowedMisses);
    QCOMPARE(decoded->action, terms.action);
}

// PROTOCOL §5.6: the three call payloads, their layouts, short ones refused, unknown outcomes kept.
void tst_FrameCodec::callPayloads()
{
    QCOMPARE(encodeCallRequest(0x01020304, "ab"), QByteArray::fromHex("01020304 6162"));
    std::optional<CallRequest> request = decodeCallRequest(QByteArray::fromHex("000001f4"));
    QVERIFY(request);
    QCOMPARE(request->deadlineMs, 500u);
    QVERIFY(request->payload.isEmpty());
    QVERIFY(!decodeCallRequest(QByteArray::fromHex("000001")));

    QCOMPARE(encodeCallReply(0x0102, "x"), QByteArray::fromHex("0102 78"));
    std::optional<CallReply> reply = decodeCallReply(encodeCallReply(0, QByteArray(1000, '\0')));
    QVERIFY(reply);
    QCOMPARE(reply->code, quint16(0));
    QCOMPARE(reply->payload, QByteArray(1000, '\0'));
    QVERIFY(!decodeCallReply(QByteArray::fromHex("01")));

    QCOMPARE(encodeCallResult(CallOutcome::ErrorReply, 42, "no"), QByteArray::fromHex("0001 002a 6e6f"));
    std::optional<CallResultPayload> result = decodeCallResult(QByteArray::fromHex("0063 0000"));
    QVERIFY(result);
    QCOMPARE(int(result->outcome), 99); // a newer broker's outcome keeps its number
    QCOMPARE(QByteArray(callOutcomeName(result->outcome)), QByteArray("unknown"));
    QVERIFY(!decodeCallResult(QByteArray::fromHex("000100")));
    QCOMPARE(QByteArray(callOutcomeName(CallOutcome::CalleeGone)), QByteArray("callee_gone"));
    QCOMPARE(QByteArray(callOutcomeName(CallOutcome::PolicyDenied)), QByteArray("policy_denied"));
    QCOMPARE(encodeCallResult(CallOutcome::PolicyDenied, 0, "r"), QByteArray::fromHex("000c 0000 72"));
    QCOMPARE(QByteArray(frameTypeName(FrameType::CallIncoming)), QByteArray("call_incoming"));
    QCOMPARE(QByteArray(errorCodeName(ErrorCode::InvalidCall)), QByteArray("invalid_call"));
}

void tst_FrameCodec::watchdogTermsRejects_data()
{
    QTest::addColumn<QByteArray>("payload");
    const QByteArray good = encodeWatchdogTerms({});
    for (int size = 0; size < good.size(); ++size)
        QTest::addRow("short: %d bytes", size) << good.left(size);
    QTest::newRow("action 5") << QByteArray::fromHex("000003e8 0003 05 00");
    QTest::newRow("action 0xFF") << QByteArray::fromHex("000003e8 0003 ff 00");
}

void tst_FrameCodec::watchdogTermsRejects()
{
    QFETCH(QByteArray, payload);
    QVERIFY(!decodeWatchdogTerms(payload));
}

// --- Names for logs and tools ------------------------------------------------------------------

namespace {
void verifyNameSet(const QList<QByteArray> &names)
{
    static const QRegularExpression snake(QStringLiteral("^[a-z][a-z_]*$"));
    QSet<QByteArray> seen;
    for (const QByteArray &name : names) {
        QVERIFY2(snake.match(QLatin1String(name)).hasMatch(), name.constData());
        QVERIFY2(name != "unknown", name.constData());
        QVERIFY2(!seen.contains(name), name.constData());
        seen.insert(name);
    }
}
} // namespace

void tst_FrameCodec::frameTypeNames()
{
    const QList<FrameType> known = {FrameType::Hello, FrameType::Welcome, FrameType::Error, FrameType::Bye,
                                    FrameType::Ping, FrameType::Pong, FrameType::Send, FrameType::Deliver,
                                    FrameType::DeliveryStatus, FrameType::WatchdogRegister,
                                    FrameType::WatchdogFeed, FrameType::WatchdogAck};
    QList<QByteArray> names;
    for (FrameType type : known)
        names.append(frameTypeName(type));
    verifyNameSet(names);
    QCOMPARE(frameTypeName(FrameType::Send), "send");
    QCOMPARE(frameTypeName(FrameType::DeliveryStatus), "delivery_status");
    QCOMPARE(frameTypeName(FrameType::DeliverAck), "deliver_ack");
    for (int type = 0x40; type <= 0x7F; ++type)
        QCOMPARE(frameTypeName(FrameType(type)), "monitor");
    for (int type : {0x00, 0x07, 0x1F, 0x23, 0x3F, 0x80, 0xFF})
        QCOMPARE(frameTypeName(FrameType(type)), "unknown");
}

void tst_FrameCodec::deliveryStatusNames()
{
    QList<QByteArray> names;
    for (int status = 0; status <= int(DeliveryStatus::StartFailed); ++status)
        names.append(deliveryStatusName(DeliveryStatus(status)));
    verifyNameSet(names);
    QCOMPARE(deliveryStatusName(DeliveryStatus::Delivered), "delivered");
    QCOMPARE(deliveryStatusName(DeliveryStatus::NoSuchClient), "no_such_client");
    QCOMPARE(deliveryStatusName(DeliveryStatus::TargetQueueFull), "queue_full");
    QCOMPARE(deliveryStatusName(DeliveryStatus::Held), "held");
    QCOMPARE(deliveryStatusName(DeliveryStatus::StartFailed), "start_failed");
    QCOMPARE(deliveryStatusName(DeliveryStatus::Unacknowledged), "unacknowledged");
    QCOMPARE(deliveryStatusName(DeliveryStatus(14)), "unknown");
    QCOMPARE(deliveryStatusName(DeliveryStatus(0xFFFF)), "unknown");
}

void tst_FrameCodec::errorCodeNames()
{
    QList<QByteArray> names;
    for (int code = 0; code <= int(ErrorCode::OverBudget); ++code)
        names.append(errorCodeName(ErrorCode(code)));
    verifyNameSet(names);
    QCOMPARE(errorCodeName(ErrorCode::NameTaken), "name_taken");
    QCOMPARE(errorCodeName(ErrorCode::SourceMismatch), "source_mismatch");
    QCOMPARE(errorCodeName(ErrorCode(22)), "unknown");
    QCOMPARE(errorCodeName(ErrorCode(1000)), "unknown");
}

void tst_FrameCodec::decodeErrorNames()
{
    QList<QByteArray> names;
    for (int error = int(DecodeError::None); error <= int(DecodeError::InvalidName); ++error)
        names.append(decodeErrorName(DecodeError(error)));
    verifyNameSet(names);
    QCOMPARE(decodeErrorName(DecodeError::FrameTooLarge), "frame_too_large");
    QCOMPARE(decodeErrorName(DecodeError(100)), "unknown");
}

void tst_FrameCodec::errorCodeFor_data()
{
    QTest::addColumn<DecodeError>("error");
    QTest::addColumn<ErrorCode>("code");
    QTest::newRow("none") << DecodeError::None << ErrorCode::None;
    QTest::newRow("need more") << DecodeError::NeedMore << ErrorCode::None;
    QTest::newRow("bad magic") << DecodeError::BadMagic << ErrorCode::BadMagic;
    QTest::newRow("version") << DecodeError::UnsupportedVersion << ErrorCode::UnsupportedVersion;
    QTest::newRow("too large") << DecodeError::FrameTooLarge << ErrorCode::FrameTooLarge;
    QTest::newRow("malformed") << DecodeError::Malformed << ErrorCode::MalformedFrame;
    QTest::newRow("invalid name") << DecodeError::InvalidName << ErrorCode::InvalidName;
}

void tst_FrameCodec::errorCodeFor()
{
    QFETCH(DecodeError, error);
    QFETCH(ErrorCode, code);
    QCOMPARE(Kennel::errorCodeFor(error), code);
}

QTEST_APPLESS_MAIN(tst_FrameCodec)
#include "tst_framecodec.moc"
