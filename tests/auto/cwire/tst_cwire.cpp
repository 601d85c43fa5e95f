// The C wire codec (clientlib/c/include/kennel/wire.h) against PROTOCOL §2-§5 and against the C++
// codec (clientlib/protocol/framecodec.h): every frame and payload encoded by one is decoded by
// the other to the same fields, and the decoders agree on every refusal, byte by byte.
#include "framecodec.h"
#include "names.h"
#include "topiccodec.h"

#include <kennel/wire.h>

#include <QRandomGenerator>
#include <QTest>

using namespace Kennel;

namespace {

const uint8_t *u8(const QByteArray &bytes) { return reinterpret_cast<const uint8_t *>(bytes.constData()); }
QByteArray bytes(const uint8_t *p, size_t n) { return QByteArray(reinterpret_cast<const char *>(p), qsizetype(n)); }

QByteArray cEncode(const Frame &frame)
{
    kennel_frame f {};
    f.type = quint8(frame.type);
    f.message_id = frame.messageId;
    f.flags = frame.flags;
    f.source = u8(frame.source);
    f.source_len = size_t(frame.source.size());
    f.target = u8(frame.target);
    f.target_len = size_t(frame.target.size());
    f.payload = u8(frame.payload);
    f.payload_len = size_t(frame.payload.size());
    QByteArray out(qsizetype(kennel_wire_frame_size(f.source_len, f.target_len, f.payload_len)), '\0');
    const size_t n = kennel_wire_encode(reinterpret_cast<uint8_t *>(out.data()), size_t(out.size()), &f);
    return n == size_t(out.size()) ? out : QByteArray();
}

// The C decoder's verdict in the C++ decoder's terms, so the two can be compared directly.
DecodeError cVerdict(enum kennel_decode_result r)
{
    switch (r) {
    case KENNEL_DECODE_OK: return DecodeError::None;
    case KENNEL_DECODE_NEED_MORE: return DecodeError::NeedMore;
    case KENNEL_DECODE_BAD_MAGIC: return DecodeError::BadMagic;
    case KENNEL_DECODE_UNSUPPORTED_VERSION: return DecodeError::UnsupportedVersion;
    case KENNEL_DECODE_FRAME_TOO_LARGE: return DecodeError::FrameTooLarge;
    case KENNEL_DECODE_MALFORMED: return DecodeError::Malformed;
    case KENNEL_DECODE_INVALID_NAME: return DecodeError::InvalidName;
    }
    return DecodeError::Malformed;
}

} // namespace

class tst_CWire : public QObject
{
    Q_OBJECT

private slots:
    void constantsMatchTheCppCodec();
    void framesEncodedInCDecodeInCpp_data();
    void framesEncodedInCDecodeInCpp();
    void framesEncodedInCppDecodeInC();
    void decodersAgreeOnEveryPrefixAndCorruption();
    void helloBothWays_data();
    void helloBothWays();
    void welcomeBothWays();
    void errorStatusAndTermsBothWays();
    void malformedPayloadsAreRefusedByBoth();
    void topicPayloadsBothWays();
    void callPayloadsBothWays();
    void topicAndCallPayloadsAgreeOnRandomBytes();
    void encodersRefuseWhatDoesNotFit();
    void namesAgreeWithCpp();
    void namesOfCodesMatch();
};

void tst_CWire::constantsMatchTheCppCodec()
{
    QCOMPARE(KENNEL_WIRE_MAGIC, Wire::Magic);
    QCOMPARE(KENNEL_WIRE_VERSION, Wire::Version);
    QCOMPARE(int(KENNEL_WIRE_HEADER_SIZE), Wire::HeaderSize);
    QCOMPARE(int(KENNEL_WIRE_MAX_NAME_LENGTH), Wire::MaxNameLength);
    QCOMPARE(KENNEL_WIRE_MIN_FRAME_SIZE_LIMIT, Wire::MinFrameSizeLimit);
    QCOMPARE(KENNEL_WIRE_DEFAULT_MAX_FRAME_SIZE, Wire::DefaultMaxFrameSize);
    QCOMPARE(int(KENNEL_FRAME_WATCHDOG_ACK), int(FrameType::WatchdogAck));
    QCOMPARE(int(KENNEL_FRAME_DELIVERY_STATUS), int(FrameType::DeliveryStatus));
    QCOMPARE(int(KENNEL_FRAME_MONITOR_LAST), int(FrameType::MonitorLast));
    QCOMPARE(KENNEL_FLAG_WANT_DELIVERY_STATUS, quint32(WantDeliveryStatus));
    // The C library leaves held_status out on purpose (its status callback is called once per message)
    // and remote_names (it hears remote_timeout/remote_dropped as no_such_client). It speaks topics
    // and calls, acknowledges deliveries (PROTOCOL §5.7) and hands the shutdown mark to its error
    // callback (R-4.3.4).
    QCOMPARE(KENNEL_KNOWN_FEATURES, quint32(Wire::KnownFeatures & ~(FeatureHeldStatus | FeatureRemoteNames)));
    QVERIFY(KENNEL_KNOWN_FEATURES & KENNEL_FEATURE_DELIVER_ACK);
    QVERIFY(KENNEL_KNOWN_FEATURES & KENNEL_FEATURE_SHUTDOWN_MARK);
    QVERIFY(KENNEL_KNOWN_FEATURES & KENNEL_FEATURE_TOPICS);
    QVERIFY(KENNEL_KNOWN_FEATURES & KENNEL_FEATURE_CALLS);
    QCOMPARE(int(KENNEL_FRAME_CALL), int(FrameType::Call));
    QCOMPARE(int(KENNEL_FRAME_CALL_INCOMING), int(FrameType::CallIncoming));
    QCOMPARE(int(KENNEL_FRAME_REPLY), int(FrameType::Reply));
    QCOMPARE(int(KENNEL_FRAME_CALL_RESULT), int(FrameType::CallResult));
    QCOMPARE(int(KENNEL_FRAME_SUBSCRIBE), int(FrameType::Subscribe));
    QCOMPARE(int(KENNEL_FRAME_UNSUBSCRIBE), int(FrameType::Unsubscribe));
    QCOMPARE(int(KENNEL_FRAME_TOPIC_ACK), int(FrameType::TopicAck));
    QCOMPARE(int(KENNEL_FRAME_PUBLISH), int(FrameType::Publish));
    QCOMPARE(int(KENNEL_FRAME_PUBLISH_STATUS), int(FrameType::PublishStatus));
    QCOMPARE(KENNEL_FLAG_RETAIN, quint32(RetainFlag));
    QCOMPARE(int(KENNEL_CALL_START_FAILED), int(CallOutcome::StartFailed));
    QCOMPARE(int(KENNEL_CALL_DUPLICATE_ID), int(CallOutcome::DuplicateId));
    QCOMPARE(int(KENNEL_ERROR_INVALID_CALL), int(ErrorCode::InvalidCall));
    QCOMPARE(int(KENNEL_ERROR_RESERVED_TOPIC), int(ErrorCode::ReservedTopic));
    QCOMPARE(KENNEL_FEATURE_HELD_STATUS, quint32(FeatureHeldStatus));
    QCOMPARE(KENNEL_FEATURE_REMOTE_NAMES, quint32(FeatureRemoteNames));
    QCOMPARE(KENNEL_FEATURE_SHUTDOWN_MARK, quint32(FeatureShutdownMark));
    QCOMPARE(KENNEL_FEATURE_TOPICS, quint32(FeatureTopics));
    QCOMPARE(KENNEL_FEATURE_CALLS, quint32(FeatureCalls));
    QCOMPARE(KENNEL_FEATURE_DELIVER_ACK, quint32(FeatureDeliverAck));
    QCOMPARE(int(KENNEL_FRAME_DELIVER_ACK), int(FrameType::DeliverAck));
    QCOMPARE(int(KENNEL_FRAME_PUBLICATION), int(FrameType::Publication));
    QCOMPARE(int(KENNEL_ERROR_RETAINED_STORE_FULL), int(ErrorCode::RetainedStoreFull));
    QCOMPARE(int(KENNEL_ERROR_IDLE_TIMEOUT), int(ErrorCode::IdleTimeout));
    QCOMPARE(int(KENNEL_STATUS_SHUTTING_DOWN), int(DeliveryStatus::ShuttingDown));
    QCOMPARE(int(KENNEL_STATUS_START_FAILED), int(DeliveryStatus::StartFailed));
    QCOMPARE(kennel_delivery_status_name(KENNEL_STATUS_DROPPED_TOTAL), deliveryStatusName(DeliveryStatus::DroppedTotal));
    QCOMPARE(int(KENNEL_EXPIRY_NOTIFY), int(ExpiryAction::Notify));
}

void tst_CWire::framesEncodedInCDecodeInCpp_data()
{
    QTest::addColumn<Frame>("frame");
    const auto make = [](FrameType type, quint32 id, quint16 flags, QByteArray source, QByteArray target,
                         QByteArray payload) {
        Frame f;
        f.type = type;
        f.messageId = id;
        f.flags = flags;
        f.source = source;
        f.target = target;
        f.payload = payload;
        return f;
    };
    QTest::newRow("send") << make(FrameType::Send, 7, WantDeliveryStatus, {}, "worker", "hello");
    QTest::newRow("deliver") << make(FrameType::Deliver, 0xFFFFFFFF, 0, "a", "b", QByteArray(70000, 'x'));
    QTest::newRow("bye") << make(FrameType::Bye, 1, 0, {}, {}, {});
    // What libkennel acknowledges with: no names, no payload, the count (wrapped past 2^32) as id.
    QTest::newRow("deliver_ack") << make(FrameType::DeliverAck, 0xFFFFFFFF, 0, {}, {}, {});
    QTest::newRow("64-byte names") << make(FrameType::Send, 3, 0, QByteArray(64, 'S'), QByteArray(64, 'T'), "p");
    QTest::newRow("unknown type") << make(FrameType(0x9A), 9, 0xFFFE, {}, {}, QByteArray("\0\1\2", 3));
}

void tst_CWire::framesEncodedInCDecodeInCpp()
{
    QFETCH(Frame, frame);
    const QByteArray c = cEncode(frame);
    QCOMPARE(c, encodeFrame(frame)); // byte for byte the same encoding
    const DecodeResult r = decodeFrame(c, Wire::DefaultMaxFrameSize);
    QCOMPARE(r.error, DecodeError::None);
    QCOMPARE(r.consumed, c.size());
    QCOMPARE(r.frame.toFrame(), frame);
}

void tst_CWire::framesEncodedInCppDecodeInC()
{
    Frame frame;
    frame.type = FrameType::Deliver;
    frame.messageId = 0x01020304;
    frame.flags = 0x8001;
    frame.source = "gpio_srv";
    frame.target = "logger";
    frame.payload = "temperature 41";
    QByteArray stream = encodeFrame(frame) + encodeFrame(frame); // two back to back
    kennel_frame f {};
    size_t consumed = 0, frameSize = 0;
    QCOMPARE(kennel_wire_decode(u8(stream), size_t(stream.size()), Wire::DefaultMaxFrameSize, &f, &consumed, &frameSize),
             KENNEL_DECODE_OK);
    QCOMPARE(qsizetype(consumed), stream.size() / 2);
    QCOMPARE(f.type, quint8(FrameType::Deliver));
    QCOMPARE(f.message_id, frame.messageId);
    QCOMPARE(f.flags, frame.flags);
    QCOMPARE(bytes(f.source, f.source_len), frame.source);
    QCOMPARE(bytes(f.target, f.target_len), frame.target);
    QCOMPARE(bytes(f.payload, f.payload_len), frame.payload);
    // In place: the views point into the caller's bytes, nothing was copied.
    QCOMPARE(reinterpret_cast<const char *>(f.payload), stream.constData() + 16 + 8 + 6);
}

// Every prefix of valid frames, and every single-byte corruption of their headers, gets the same
// verdict (and the same size) from both decoders: PROTOCOL §2.1's order is one definition.
void tst_CWire::decodersAgreeOnEveryPrefixAndCorruption()
{
    QList<QByteArray> inputs;
    Frame f;
    f.type = FrameType::Send;
    f.messageId = 5;
    f.source = "abc";
    f.target = "def";
    f.payload = "payload";
    inputs << encodeFrame(f);
    f.source = "b@d"; // invalid name: skippable
    inputs << encodeFrame(f);
    QRandomGenerator rng(1717);
    for (int i = 0; i < 16; ++i) {
        QByteArray corrupt = inputs.first();
        corrupt[int(rng.bounded(16))] = char(rng.bounded(256));
        inputs << corrupt;
    }
    for (int i = 0; i < 2000; ++i) { // headers of random bytes with the magic and version right
        QByteArray random(16 + int(rng.bounded(80)), Qt::Uninitialized);
        for (char &c : random)
            c = char(rng.bounded(256));
        random[0] = 'K';
        random[1] = 'N';
        random[2] = 1;
        random[12] = char(rng.bounded(70));
        random[13] = char(rng.bounded(70));
        random[4] = random[5] = random[6] = 0;
        inputs << random;
    }
    int checked = 0;
    for (const QByteArray &input : std::as_const(inputs)) {
        for (qsizetype n = 0; n <= input.size(); ++n) {
            for (quint32 limit : {quint32(40), quint32(Wire::DefaultMaxFrameSize)}) {
                const DecodeResult cpp = decodeFrame(QByteArrayView(input).first(n), limit);
                kennel_frame cf {};
                size_t consumed = 0, frameSize = 0;
                const auto c = kennel_wire_decode(u8(input), size_t(n), limit, &cf, &consumed, &frameSize);
                QCOMPARE(cVerdict(c), cpp.error);
                QCOMPARE(qsizetype(consumed), cpp.consumed);
                QCOMPARE(qsizetype(frameSize), cpp.frameSize);
                if (cpp.error == DecodeError::None || cpp.error == DecodeError::InvalidName) {
                    QCOMPARE(bytes(cf.payload, cf.payload_len), cpp.frame.payload.toByteArray());
                    QCOMPARE(bytes(cf.source, cf.source_len), cpp.frame.source.toByteArray());
                }
                ++checked;
            }
        }
    }
    QVERIFY(checked > 100000);
    // Check 3 without 32-bit overflow: bodyLength 0xFFFFFFFF.
    QByteArray huge("KN\x01\x10\xFF\xFF\xFF\xFF\0\0\0\0\0\0\0\0", 16);
    QCOMPARE(kennel_wire_decode(u8(huge), 16, 0xFFFFFFFFu, nullptr, nullptr, nullptr), KENNEL_DECODE_FRAME_TOO_LARGE);
}

void tst_CWire::helloBothWays_data()
{
    QTest::addColumn<bool>("withFeatures");
    QTest::addColumn<QByteArray>("token");
    QTest::newRow("version-1 hello") << false << QByteArray();
    QTest::newRow("with features") << true << QByteArray();
    QTest::newRow("monitor token") << true << QByteArray("s3cret");
}

void tst_CWire::helloBothWays()
{
    QFETCH(bool, withFeatures);
    QFETCH(QByteArray, token);
    kennel_hello h {};
    h.role = token.isEmpty() ? KENNEL_ROLE_CLIENT : KENNEL_ROLE_MONITOR;
    h.protocol_version = 1;
    h.pid = 4242;
    h.has_features = withFeatures;
    h.features = 0x80000001u;
    h.token = u8(token);
    h.token_len = size_t(token.size());
    uint8_t buf[64];
    const size_t n = kennel_wire_encode_hello(buf, sizeof buf, &h);
    QVERIFY(n > 0);
    const auto cpp = decodeHello(QByteArrayView(reinterpret_cast<const char *>(buf), qsizetype(n)));
    QVERIFY(cpp);
    QCOMPARE(quint8(cpp->role), h.role);
    QCOMPARE(cpp->pid, 4242u);
    QCOMPARE(cpp->features.has_value(), withFeatures);
    if (withFeatures)
        QCOMPARE(*cpp->features, 0x80000001u);
    QCOMPARE(cpp->token, token);
    // And back: the C++ encoding decodes in C to the same fields, and is the same bytes.
    const QByteArray back = encodeHello(*cpp);
    QCOMPARE(back, bytes(buf, n));
    kennel_hello d {};
    QCOMPARE(kennel_wire_decode_hello(u8(back), size_t(back.size()), &d), 0);
    QCOMPARE(d.pid, 4242u);
    QCOMPARE(d.has_features, int(withFeatures));
    QCOMPARE(bytes(d.token, d.token_len), token);
}

void tst_CWire::welcomeBothWays()
{
    for (bool features : {false, true}) {
        WelcomePayload w;
        w.maxFrameSize = 65536;
        w.brokerVersion = "0.1.0";
        if (features)
            w.features = FeatureWatchdog;
        const QByteArray cpp = encodeWelcome(w);
        kennel_welcome c {};
        QCOMPARE(kennel_wire_decode_welcome(u8(cpp), size_t(cpp.size()), &c), 0);
        QCOMPARE(c.max_frame_size, 65536u);
        QCOMPARE(c.has_features, int(features));
        QCOMPARE(c.features, features ? KENNEL_FEATURE_WATCHDOG : 0u);
        QCOMPARE(bytes(c.broker_version, c.broker_version_len), QByteArray("0.1.0"));
        uint8_t buf[64];
        const size_t n = kennel_wire_encode_welcome(buf, sizeof buf, &c);
        QCOMPARE(bytes(buf, n), cpp);
    }
}

void tst_CWire::errorStatusAndTermsBothWays()
{
    const QByteArray err = encodeError({ErrorCode::NameTaken, QStringLiteral("taken")});
    kennel_error_payload e {};
    QCOMPARE(kennel_wire_decode_error(u8(err), size_t(err.size()), &e), 0);
    QCOMPARE(e.code, quint16(KENNEL_ERROR_NAME_TAKEN));
    QCOMPARE(bytes(e.text, e.text_len), QByteArray("taken"));
    uint8_t buf[64];
    QCOMPARE(bytes(buf, kennel_wire_encode_error(buf, sizeof buf, &e)), err);
    e.code = 999; // unknown codes keep their number
    const size_t n = kennel_wire_encode_error(buf, sizeof buf, &e);
    QCOMPARE(quint16(decodeError(QByteArrayView(reinterpret_cast<char *>(buf), qsizetype(n)))->code), quint16(999));

    for (quint16 s : {quint16(0), quint16(2), quint16(7), quint16(300)}) {
        const size_t len = kennel_wire_encode_delivery_status(buf, sizeof buf, s);
        QCOMPARE(bytes(buf, len), encodeDeliveryStatus(DeliveryStatus(s)));
        uint16_t back = 0xFFFF;
        const QByteArray cpp = encodeDeliveryStatus(DeliveryStatus(s));
        QCOMPARE(kennel_wire_decode_delivery_status(u8(cpp), size_t(cpp.size()), &back), 0);
        QCOMPARE(back, s);
    }

    const kennel_watchdog_terms t = {1500, 4, KENNEL_EXPIRY_KILL};
    const size_t tn = kennel_wire_encode_watchdog_terms(buf, sizeof buf, &t);
    const auto cppTerms = decodeWatchdogTerms(QByteArrayView(reinterpret_cast<char *>(buf), qsizetype(tn)));
    QVERIFY(cppTerms);
    QCOMPARE(cppTerms->intervalMs, 1500u);
    QCOMPARE(cppTerms->allowedMisses, quint16(4));
    QCOMPARE(cppTerms->action, ExpiryAction::Kill);
    QCOMPARE(bytes(buf, tn), encodeWatchdogTerms(*cppTerms));
}

void tst_CWire::malformedPayloadsAreRefusedByBoth()
{
    // Every short or invalid payload, checked against both decoders' verdicts.
    QRandomGenerator rng(99);
    for (int i = 0; i < 5000; ++i) {
        QByteArray p(int(rng.bounded(14)), Qt::Uninitialized);
        for (char &c : p)
            c = char(rng.bounded(4) == 0 ? rng.bounded(256) : rng.bounded(3));
        kennel_hello h;
        QCOMPARE(kennel_wire_decode_hello(u8(p), size_t(p.size()), &h) == 0, decodeHello(p).has_value());
        kennel_welcome w;
        QCOMPARE(kennel_wire_decode_welcome(u8(p), size_t(p.size()), &w) == 0, decodeWelcome(p).has_value());
        kennel_error_payload e;
        QCOMPARE(kennel_wire_decode_error(u8(p), size_t(p.size()), &e) == 0, decodeError(p).has_value());
        uint16_t s;
        QCOMPARE(kennel_wire_decode_delivery_status(u8(p), size_t(p.size()), &s) == 0,
                 decodeDeliveryStatus(p).has_value());
        kennel_watchdog_terms t;
        QCOMPARE(kennel_wire_decode_watchdog_terms(u8(p), size_t(p.size()), &t) == 0,
                 decodeWatchdogTerms(p).has_value());
    }
    const QByteArray lowMax("\0\x01\0\0\0\0\x03\xFF", 8); // maxFrameSize 1023 < 1024
    kennel_welcome w;
    QCOMPARE(kennel_wire_decode_welcome(u8(lowMax), 8, &w), -1);
}

void tst_CWire::topicPayloadsBothWays()
{
    uint8_t buf[70000 + 16];
    // TopicFilter: C encodes what C++ encodes; each decodes the other's.
    for (const QByteArray &filter : {QByteArray("sensors/+/temp"), QByteArray("#"), QByteArray(65535, 'f')}) {
        const size_t n = kennel_wire_encode_topic_filter(buf, sizeof buf, u8(filter), size_t(filter.size()));
        QCOMPARE(bytes(buf, n), encodeTopicFilter(filter));
        const uint8_t *f = nullptr;
        size_t fl = 0;
        const QByteArray cpp = encodeTopicFilter(filter) + "reserved"; // later bytes: ignored by both
        QCOMPARE(kennel_wire_decode_topic_filter(u8(cpp), size_t(cpp.size()), &f, &fl), 0);
        QCOMPARE(bytes(f, fl), filter);
        QCOMPARE(decodeTopicFilter(cpp)->toByteArray(), filter);
    }
    QCOMPARE(kennel_wire_encode_topic_filter(buf, sizeof buf, buf, 65536), size_t(0)); // over the u16

    // TopicMessage (Publish, Publication), with an empty and a binary message.
    for (const QByteArray &message : {QByteArray(), QByteArray("21.5"), QByteArray("\0\1\xFF", 3)}) {
        const QByteArray topic("boiler/temp");
        const kennel_topic_message m {u8(topic), size_t(topic.size()), u8(message), size_t(message.size())};
        const size_t n = kennel_wire_encode_topic_message(buf, sizeof buf, &m);
        QCOMPARE(bytes(buf, n), encodeTopicMessage(topic, message));
        const auto cpp = decodeTopicMessage(QByteArrayView(reinterpret_cast<char *>(buf), qsizetype(n)));
        QVERIFY(cpp);
        QCOMPARE(cpp->topic.toByteArray(), topic);
        QCOMPARE(cpp->message.toByteArray(), message);
        kennel_topic_message back {};
        QCOMPARE(kennel_wire_decode_topic_message(buf, n, &back), 0);
        QCOMPARE(bytes(back.topic, back.topic_len), topic);
        QCOMPARE(bytes(back.message, back.message_len), message);
    }
    // The whole Publication frame as the broker writes it (writePublication) decodes in C.
    const QByteArray topic("a/b"), message("payload");
    QByteArray frame(qsizetype(publicationFrameSize("pub", topic, message)), '\0');
    writePublication(frame.data(), 42, RetainFlag, "pub", topic, message);
    kennel_frame f {};
    size_t consumed = 0;
    QCOMPARE(kennel_wire_decode(u8(frame), size_t(frame.size()), Wire::DefaultMaxFrameSize, &f, &consumed, nullptr),
             KENNEL_DECODE_OK);
    QCOMPARE(f.type, quint8(KENNEL_FRAME_PUBLICATION));
    QCOMPARE(f.flags, quint16(KENNEL_FLAG_RETAIN));
    QCOMPARE(bytes(f.source, f.source_len), QByteArray("pub"));
    kennel_topic_message pm {};
    QCOMPARE(kennel_wire_decode_topic_message(f.payload, f.payload_len, &pm), 0);
    QCOMPARE(bytes(pm.topic, pm.topic_len), topic);
    QCOMPARE(bytes(pm.message, pm.message_len), message);

    // TopicAck and PublishStatus, with codes this side does not know kept.
    for (quint16 result : {quint16(0), quint16(KENNEL_ERROR_TOO_MANY_SUBSCRIPTIONS), quint16(999)}) {
        const QByteArray text = result ? QByteArray("why not") : QByteArray();
        const kennel_topic_ack_payload a {result, 0x01020304u, u8(text), size_t(text.size())};
        const size_t an = kennel_wire_encode_topic_ack(buf, sizeof buf, &a);
        const QByteArray cppAck = encodeTopicAck({ErrorCode(result), 0x01020304u, QString::fromUtf8(text)});
        QCOMPARE(bytes(buf, an), cppAck);
        kennel_topic_ack_payload ab {};
        QCOMPARE(kennel_wire_decode_topic_ack(u8(cppAck), size_t(cppAck.size()), &ab), 0);
        QCOMPARE(ab.result, result);
        QCOMPARE(ab.count, 0x01020304u);
        QCOMPARE(bytes(ab.text, ab.text_len), text);

        const kennel_publish_status_payload p {result, 7, 0xFFFFFFFFu, u8(text), size_t(text.size())};
        const size_t pn = kennel_wire_encode_publish_status(buf, sizeof buf, &p);
        const QByteArray cppStatus = encodePublishStatus({ErrorCode(result), 7, 0xFFFFFFFFu, QString::fromUtf8(text)});
        QCOMPARE(bytes(buf, pn), cppStatus);
        kennel_publish_status_payload pb {};
        QCOMPARE(kennel_wire_decode_publish_status(u8(cppStatus), size_t(cppStatus.size()), &pb), 0);
        QCOMPARE(pb.result, result);
        QCOMPARE(pb.delivered, 7u);
        QCOMPARE(pb.not_taken, 0xFFFFFFFFu);
        QCOMPARE(bytes(pb.text, pb.text_len), text);
    }
    QCOMPARE(kennel_wire_encode_topic_ack(buf, 5, nullptr), size_t(0));
}

void tst_CWire::callPayloadsBothWays()
{
    uint8_t buf[256];
    for (const QByteArray &body : {QByteArray(), QByteArray("question?"), QByteArray("\0\xFE", 2)}) {
        const kennel_call_request req {200, u8(body), size_t(body.size())};
        const size_t rn = kennel_wire_encode_call_request(buf, sizeof buf, &req);
        QCOMPARE(bytes(buf, rn), encodeCallRequest(200, body));
        const QByteArray cppReq = encodeCallRequest(0xFFFFFFFFu, body);
        kennel_call_request rb {};
        QCOMPARE(kennel_wire_decode_call_request(u8(cppReq), size_t(cppReq.size()), &rb), 0);
        QCOMPARE(rb.deadline_ms, 0xFFFFFFFFu);
        QCOMPARE(bytes(rb.request, rb.request_len), body);

        for (quint16 code : {quint16(0), quint16(1), quint16(65535)}) {
            const kennel_call_reply rep {code, u8(body), size_t(body.size())};
            const size_t pn = kennel_wire_encode_call_reply(buf, sizeof buf, &rep);
            QCOMPARE(bytes(buf, pn), encodeCallReply(code, body));
            const auto cpp = decodeCallReply(QByteArrayView(reinterpret_cast<char *>(buf), qsizetype(pn)));
            QVERIFY(cpp);
            QCOMPARE(cpp->code, code);
            QCOMPARE(cpp->payload, body);
        }
        for (quint16 outcome : {quint16(KENNEL_CALL_REPLIED), quint16(KENNEL_CALL_ERROR_REPLY),
                                quint16(KENNEL_CALL_CALLEE_GONE), quint16(500)}) {
            const QByteArray cpp = encodeCallResult(CallOutcome(outcome), 17, body);
            kennel_call_result_payload cr {};
            QCOMPARE(kennel_wire_decode_call_result(u8(cpp), size_t(cpp.size()), &cr), 0);
            QCOMPARE(cr.outcome, outcome); // unknown outcomes keep their number
            QCOMPARE(cr.code, quint16(17));
            QCOMPARE(bytes(cr.body, cr.body_len), body);
            QCOMPARE(bytes(buf, kennel_wire_encode_call_result(buf, sizeof buf, &cr)), cpp);
        }
    }
    const kennel_call_request req {1, nullptr, 0};
    QCOMPARE(kennel_wire_encode_call_request(buf, 3, &req), size_t(0));
    QCOMPARE(kennel_wire_encode_call_request(buf, 4, &req), size_t(4));
}

// Short and random payloads: both decoders accept or refuse each one alike, and agree on the fields.
void tst_CWire::topicAndCallPayloadsAgreeOnRandomBytes()
{
    QRandomGenerator rng(1414);
    for (int i = 0; i < 5000; ++i) {
        QByteArray p(int(rng.bounded(16)), Qt::Uninitialized);
        for (char &c : p)
            c = char(rng.bounded(4) == 0 ? rng.bounded(256) : rng.bounded(12));
        const uint8_t *f = nullptr;
        size_t fl = 0;
        const auto filter = decodeTopicFilter(p);
        QCOMPARE(kennel_wire_decode_topic_filter(u8(p), size_t(p.size()), &f, &fl) == 0, filter.has_value());
        if (filter)
            QCOMPARE(bytes(f, fl), filter->toByteArray());
        kennel_topic_message m {};
        const auto message = decodeTopicMessage(p);
        QCOMPARE(kennel_wire_decode_topic_message(u8(p), size_t(p.size()), &m) == 0, message.has_value());
        if (message)
            QCOMPARE(bytes(m.message, m.message_len), message->message.toByteArray());
        kennel_topic_ack_payload a {};
        const auto ack = decodeTopicAck(p);
        QCOMPARE(kennel_wire_decode_topic_ack(u8(p), size_t(p.size()), &a) == 0, ack.has_value());
        if (ack)
            QCOMPARE(a.count, ack->count);
        kennel_publish_status_payload s {};
        const auto status = decodePublishStatus(p);
        QCOMPARE(kennel_wire_decode_publish_status(u8(p), size_t(p.size()), &s) == 0, status.has_value());
        if (status)
            QCOMPARE(s.not_taken, status->notTaken);
        kennel_call_request r {};
        QCOMPARE(kennel_wire_decode_call_request(u8(p), size_t(p.size()), &r) == 0, decodeCallRequest(p).has_value());
        kennel_call_reply y {};
        QCOMPARE(kennel_wire_decode_call_reply(u8(p), size_t(p.size()), &y) == 0, decodeCallReply(p).has_value());
        kennel_call_result_payload c {};
        QCOMPARE(kennel_wire_decode_call_result(u8(p), size_t(p.size()), &c) == 0, decodeCallResult(p).has_value());
    }
}

void tst_CWire::encodersRefuseWhatDoesNotFit()
{
    uint8_t buf[32];
    kennel_frame f {};
    f.type = KENNEL_FRAME_SEND;
    const QByteArray longName(65, 'a');
    f.target = u8(longName);
    f.target_len = 65;
    QCOMPARE(kennel_wire_encode(buf, sizeof buf, &f), size_t(0)); // name over 64
    f.target_len = 10;
    f.payload = u8(longName);
    f.payload_len = 7; // 16 + 10 + 7 = 33 > 32
    QCOMPARE(kennel_wire_encode(buf, sizeof buf, &f), size_t(0));
    f.payload_len = 6;
    QCOMPARE(kennel_wire_encode(buf, sizeof buf, &f), size_t(32));
    kennel_hello h {};
    h.has_features = 1;
    QCOMPARE(kennel_wire_encode_hello(buf, 11, &h), size_t(0));
    QCOMPARE(kennel_wire_encode_hello(buf, 12, &h), size_t(12));
    const kennel_watchdog_terms t {};
    QCOMPARE(kennel_wire_encode_watchdog_terms(buf, 7, &t), size_t(0));
}

void tst_CWire::namesAgreeWithCpp()
{
    for (const QByteArray &name : {QByteArray("client1"), QByteArray("gpio_srv"), QByteArray("-rf"), QByteArray(".."),
                                  QByteArray("a.b-c_D9"), QByteArray("sp ace"), QByteArray(64, 'x'), QByteArray(65, 'x'),
                                  QByteArray(), QByteArray("caf\xC3\xA9"), QByteArray("a/b")}) {
        QCOMPARE(kennel_wire_valid_name(u8(name), size_t(name.size())) != 0, isValidName(name));
    }
    for (int c = 0; c < 256; ++c) {
        const QByteArray name = QByteArray("a") + char(c);
        QCOMPARE(kennel_wire_valid_name(u8(name), 2) != 0, isValidName(name));
    }
}

void tst_CWire::namesOfCodesMatch()
{
    for (int t = 0; t < 256; ++t)
        QCOMPARE(kennel_frame_type_name(quint8(t)), frameTypeName(FrameType(t)));
    for (int c = 0; c < 40; ++c)
        QCOMPARE(kennel_error_code_name(quint16(c)), errorCodeName(ErrorCode(c)));
    for (int s = 0; s < 20; ++s)
        QCOMPARE(kennel_delivery_status_name(quint16(s)), deliveryStatusName(DeliveryStatus(s)));
    QCOMPARE(kennel_delivery_status_name(KENNEL_STATUS_UNACKNOWLEDGED), deliveryStatusName(DeliveryStatus::Unacknowledged));
    for (int o = 0; o < 20; ++o)
        QCOMPARE(kennel_call_outcome_name(quint16(o)), callOutcomeName(CallOutcome(o)));
    QCOMPARE(kennel_call_outcome_name(KENNEL_CALL_LINK_LOST), "link_lost");
}

QTEST_APPLESS_MAIN(tst_CWire)
#include "tst_cwire.moc"
