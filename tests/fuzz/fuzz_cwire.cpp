// fuzz_cwire: arbitrary bytes into the C wire codec (clientlib/c, the decoder libkennel runs on
// every byte a broker sends it), differentially against the C++ codec. Same input format as
// fuzz_nativeframe, so they share their seeds' shape: the first byte picks a payload decoder (a
// frame type; 0 none), the rest is walked as a stream of frames. Checks: the C decoder gives the
// C++ decoder's verdict, size and fields on every frame, at the smallest and the default frame
// limit; every frame it decodes re-encodes (C encoder) to exactly its bytes; every payload both
// decoders accept or both refuse, and an accepted one re-encodes in C to what C++ encodes (the
// core payloads, the topic payloads of PROTOCOL §5.5 and the call payloads of §5.6).
#define KENNEL_FUZZER_NAME "fuzz_cwire"
#include "fuzzcheck.h"

#include "framecodec.h"
#include "topiccodec.h"

#include <kennel/wire.h>

#include <QByteArray>

#include <cstdint>
#include <cstring>
#include <vector>

using namespace Kennel;

namespace {

constexpr size_t MaxInput = 64 * 1024;

QByteArray bytes(const uint8_t *p, size_t n) { return QByteArray(reinterpret_cast<const char *>(p), qsizetype(n)); }

DecodeError asCpp(kennel_decode_result r)
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
    KENNEL_FUZZ_CHECK(!"result out of range");
    return DecodeError::Malformed;
}

void payloads(uint8_t selector, const uint8_t *p, size_t n)
{
    const QByteArrayView view(reinterpret_cast<const char *>(p), qsizetype(n));
    std::vector<uint8_t> out(n + 16);
    switch (selector) {
    case KENNEL_FRAME_HELLO: {
        kennel_hello h;
        const auto cpp = decodeHello(view);
        KENNEL_FUZZ_CHECK((kennel_wire_decode_hello(p, n, &h) == 0) == cpp.has_value());
        if (cpp)
            KENNEL_FUZZ_CHECK(bytes(out.data(), kennel_wire_encode_hello(out.data(), out.size(), &h)) == encodeHello(*cpp));
        break;
    }
    case KENNEL_FRAME_WELCOME: {
        kennel_welcome w;
        const auto cpp = decodeWelcome(view);
        KENNEL_FUZZ_CHECK((kennel_wire_decode_welcome(p, n, &w) == 0) == cpp.has_value());
        if (cpp)
            KENNEL_FUZZ_CHECK(bytes(out.data(), kennel_wire_encode_welcome(out.data(), out.size(), &w)) == encodeWelcome(*cpp));
        break;
    }
    case KENNEL_FRAME_ERROR: {
        kennel_error_payload e;
        const auto cpp = decodeError(view);
        KENNEL_FUZZ_CHECK((kennel_wire_decode_error(p, n, &e) == 0) == cpp.has_value());
        if (cpp) { // the C++ side turns the text into a QString; the C side keeps the bytes as they are
            KENNEL_FUZZ_CHECK(e.code == quint16(cpp->code));
            KENNEL_FUZZ_CHECK(bytes(out.data(), kennel_wire_encode_error(out.data(), out.size(), &e)) == bytes(p, n));
        }
        break;
    }
    case KENNEL_FRAME_DELIVERY_STATUS: {
        uint16_t s = 0;
        const auto cpp = decodeDeliveryStatus(view);
        KENNEL_FUZZ_CHECK((kennel_wire_decode_delivery_status(p, n, &s) == 0) == cpp.has_value());
        if (cpp)
            KENNEL_FUZZ_CHECK(s == quint16(*cpp));
        break;
    }
    case KENNEL_FRAME_WATCHDOG_REGISTER:
    case KENNEL_FRAME_WATCHDOG_ACK: {
        kennel_watchdog_terms t;
        const auto cpp = decodeWatchdogTerms(view);
        KENNEL_FUZZ_CHECK((kennel_wire_decode_watchdog_terms(p, n, &t) == 0) == cpp.has_value());
        if (cpp)
            KENNEL_FUZZ_CHECK(bytes(out.data(), kennel_wire_encode_watchdog_terms(out.data(), out.size(), &t))
                              == encodeWatchdogTerms(*cpp));
        break;
    }
    case KENNEL_FRAME_SUBSCRIBE:
    case KENNEL_FRAME_UNSUBSCRIBE: {
        const uint8_t *filter = nullptr;
        size_t filterLen = 0;
        const auto cpp = decodeTopicFilter(view);
        KENNEL_FUZZ_CHECK((kennel_wire_decode_topic_filter(p, n, &filter, &filterLen) == 0) == cpp.has_value());
        if (cpp) { // re-encoded without the reserved bytes after the filter, as C++ does
            KENNEL_FUZZ_CHECK(filter == p + 2 && bytes(filter, filterLen) == cpp->toByteArray());
            KENNEL_FUZZ_CHECK(bytes(out.data(), kennel_wire_encode_topic_filter(out.data(), out.size(), filter, filterLen))
                              == encodeTopicFilter(*cpp));
        }
        break;
    }
    case KENNEL_FRAME_PUBLISH:
    case KENNEL_FRAME_PUBLICATION: {
        kennel_topic_message m;
        const auto cpp = decodeTopicMessage(view);
        KENNEL_FUZZ_CHECK((kennel_wire_decode_topic_message(p, n, &m) == 0) == cpp.has_value());
        if (cpp) {
            KENNEL_FUZZ_CHECK(bytes(m.topic, m.topic_len) == cpp->topic.toByteArray());
            KENNEL_FUZZ_CHECK(m.message + m.message_len == p + n);
            KENNEL_FUZZ_CHECK(bytes(out.data(), kennel_wire_encode_topic_message(out.data(), out.size(), &m)) == bytes(p, n));
        }
        break;
    }
    case KENNEL_FRAME_TOPIC_ACK: {
        kennel_topic_ack_payload a;
        const auto cpp = decodeTopicAck(view);
        KENNEL_FUZZ_CHECK((kennel_wire_decode_topic_ack(p, n, &a) == 0) == cpp.has_value());
        if (cpp) { // text as bytes on the C side, a QString on the C++ side: compare the fixed fields
            KENNEL_FUZZ_CHECK(a.result == quint16(cpp->result) && a.count == cpp->count);
            KENNEL_FUZZ_CHECK(bytes(out.data(), kennel_wire_encode_topic_ack(out.data(), out.size(), &a)) == bytes(p, n));
        }
        break;
    }
    case KENNEL_FRAME_PUBLISH_STATUS: {
        kennel_publish_status_payload s;
        const auto cpp = decodePublishStatus(view);
        KENNEL_FUZZ_CHECK((kennel_wire_decode_publish_status(p, n, &s) == 0) == cpp.has_value());
        if (cpp) {
            KENNEL_FUZZ_CHECK(s.result == quint16(cpp->result) && s.delivered == cpp->delivered
                              && s.not_taken == cpp->notTaken);
            KENNEL_FUZZ_CHECK(bytes(out.data(), kennel_wire_encode_publish_status(out.data(), out.size(), &s)) == bytes(p, n));
        }
        break;
    }
    case KENNEL_FRAME_CALL:
    case KENNEL_FRAME_CALL_INCOMING: {
        kennel_call_request r;
        const auto cpp = decodeCallRequest(view);
        KENNEL_FUZZ_CHECK((kennel_wire_decode_call_request(p, n, &r) == 0) == cpp.has_value());
        if (cpp) {
            KENNEL_FUZZ_CHECK(r.deadline_ms == cpp->deadlineMs && bytes(r.request, r.request_len) == cpp->payload);
            KENNEL_FUZZ_CHECK(bytes(out.data(), kennel_wire_encode_call_request(out.data(), out.size(), &r))
                              == encodeCallRequest(cpp->deadlineMs, cpp->payload));
        }
        break;
    }
    case KENNEL_FRAME_REPLY: {
        kennel_call_reply r;
        const auto cpp = decodeCallReply(view);
        KENNEL_FUZZ_CHECK((kennel_wire_decode_call_reply(p, n, &r) == 0) == cpp.has_value());
        if (cpp) {
            KENNEL_FUZZ_CHECK(r.code == cpp->code && bytes(r.body, r.body_len) == cpp->payload);
            KENNEL_FUZZ_CHECK(bytes(out.data(), kennel_wire_encode_call_reply(out.data(), out.size(), &r))
                              == encodeCallReply(cpp->code, cpp->payload));
        }
        break;
    }
    case KENNEL_FRAME_CALL_RESULT: {
        kennel_call_result_payload r;
        const auto cpp = decodeCallResult(view);
        KENNEL_FUZZ_CHECK((kennel_wire_decode_call_result(p, n, &r) == 0) == cpp.has_value());
        if (cpp) {
            KENNEL_FUZZ_CHECK(r.outcome == quint16(cpp->outcome) && r.code == cpp->code
                              && bytes(r.body, r.body_len) == cpp->payload);
            KENNEL_FUZZ_CHECK(bytes(out.data(), kennel_wire_encode_call_result(out.data(), out.size(), &r))
                              == encodeCallResult(cpp->outcome, cpp->code, cpp->payload));
        }
        break;
    }
    default:
        break;
    }
}

void walk(const uint8_t *data, size_t size, uint32_t limit)
{
    size_t offset = 0;
    while (offset <= size) {
        kennel_frame f;
        size_t consumed = 0, frameSize = 0;
        const kennel_decode_result r = kennel_wire_decode(data + offset, size - offset, limit, &f, &consumed, &frameSize);
        const DecodeResult cpp = decodeFrame(
            QByteArrayView(reinterpret_cast<const char *>(data + offset), qsizetype(size - offset)), limit);
        KENNEL_FUZZ_CHECK(asCpp(r) == cpp.error);
        KENNEL_FUZZ_CHECK(qsizetype(consumed) == cpp.consumed);
        KENNEL_FUZZ_CHECK(qsizetype(frameSize) == cpp.frameSize);
        if (r != KENNEL_DECODE_OK && r != KENNEL_DECODE_INVALID_NAME)
            return;
        KENNEL_FUZZ_CHECK(f.type == quint8(cpp.frame.type) && f.message_id == cpp.frame.messageId
                          && f.flags == cpp.frame.flags);
        KENNEL_FUZZ_CHECK(bytes(f.payload, f.payload_len) == cpp.frame.payload.toByteArray());
        // In place: every view lies inside the frame's own bytes.
        KENNEL_FUZZ_CHECK(f.source >= data + offset && f.payload + f.payload_len <= data + offset + consumed);
        std::vector<uint8_t> again(consumed);
        KENNEL_FUZZ_CHECK(kennel_wire_encode(again.data(), again.size(), &f) == consumed);
        KENNEL_FUZZ_CHECK(std::memcmp(again.data(), data + offset, consumed) == 0);
        offset += consumed;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > MaxInput)
        return 0;
    const uint8_t selector = data[0];
    payloads(selector, data + 1, size - 1);
    walk(data + 1, size - 1, KENNEL_WIRE_MIN_FRAME_SIZE_LIMIT);
    walk(data + 1, size - 1, KENNEL_WIRE_DEFAULT_MAX_FRAME_SIZE);
    return 0;
}
