// fuzz_nativeframe: arbitrary bytes into the native codec (clientlib/protocol). The first byte picks
// a payload decoder (a FrameType; 0 picks none); the rest is walked as a stream of frames the way
// the broker's Session does, with the smallest and the default maximum frame size, and fed to the
// client's streaming FrameDecoder in uneven chunks. What makes this find logic bugs rather than
// only crashes: every frame that decodes must re-encode to exactly its bytes, every payload that
// decodes must survive encode -> decode -> encode unchanged, the two walks must agree with each
// other up to the size limit, and the streaming decoder must see the same frames as the walk.
#define KENNEL_FUZZER_NAME "fuzz_nativeframe"
#include "fuzzcheck.h"

#include "framecodec.h"
#include "monitorcodec.h"
#include "topiccodec.h"
#include "topicname.h"

#include <QByteArray>
#include <QList>

#include <cstdint>
#include <vector>

using namespace Kennel;

namespace {

// Input bytes beyond this add nothing a shorter input cannot reach (frames over the small limit
// are refused from their header) and only slow the run down.
constexpr size_t MaxInput = 64 * 1024;

// encode(decode(p)) must decode again, to a value that encodes to the same bytes. Not byte
// equality with `p`: reserved bytes, bytes after the known layout, booleans and invalid UTF-8 are
// normalised on the first pass, and must be stable from then on.
template<typename Decode, typename Encode>
void roundTrip(QByteArrayView payload, Decode decode, Encode encode)
{
    const auto first = decode(payload);
    if (!first)
        return;
    const QByteArray encoded = encode(*first);
    const auto second = decode(encoded);
    KENNEL_FUZZ_CHECK(second.has_value());
    KENNEL_FUZZ_CHECK(encode(*second) == encoded);
}

void decodePayload(FrameType type, QByteArrayView p)
{
    switch (quint8(type)) {
    case quint8(FrameType::Hello):
        roundTrip(p, decodeHello, encodeHello);
        if (const auto hello = decodeHello(p)) // nothing but the reserved byte is normalised
            KENNEL_FUZZ_CHECK(encodeHello(*hello).size() == p.size());
        break;
    case quint8(FrameType::Welcome):
        roundTrip(p, decodeWelcome, encodeWelcome);
        if (const auto welcome = decodeWelcome(p))
            KENNEL_FUZZ_CHECK(welcome->maxFrameSize >= Wire::MinFrameSizeLimit);
        break;
    case quint8(FrameType::Error):
        roundTrip(p, decodeError, encodeError);
        break;
    case quint8(FrameType::DeliveryStatus):
        roundTrip(p, decodeDeliveryStatus, encodeDeliveryStatus);
        break;
    case quint8(FrameType::WatchdogRegister):
    case quint8(FrameType::WatchdogAck):
        roundTrip(p, decodeWatchdogTerms, encodeWatchdogTerms);
        if (const auto terms = decodeWatchdogTerms(p))
            KENNEL_FUZZ_CHECK(quint8(terms->action) <= quint8(ExpiryAction::Notify));
        break;
    case quint8(FrameType::Call):
    case quint8(FrameType::CallIncoming):
        roundTrip(p, decodeCallRequest, [](const CallRequest &r) { return encodeCallRequest(r.deadlineMs, r.payload); });
        if (const auto request = decodeCallRequest(p)) // nothing is normalised: byte for byte
            KENNEL_FUZZ_CHECK(encodeCallRequest(request->deadlineMs, request->payload) == p);
        break;
    case quint8(FrameType::Reply):
        roundTrip(p, decodeCallReply, [](const CallReply &r) { return encodeCallReply(r.code, r.payload); });
        if (const auto reply = decodeCallReply(p))
            KENNEL_FUZZ_CHECK(encodeCallReply(reply->code, reply->payload) == p);
        break;
    case quint8(FrameType::CallResult):
        roundTrip(p, decodeCallResult, [](const CallResultPayload &r) { return encodeCallResult(r.outcome, r.code, r.payload); });
        if (const auto result = decodeCallResult(p))
            KENNEL_FUZZ_CHECK(encodeCallResult(result->outcome, result->code, result->payload) == p);
        break;
    case quint8(FrameType::Subscribe):
    case quint8(FrameType::Unsubscribe):
        roundTrip(p, decodeTopicFilter, encodeTopicFilter);
        if (const auto filter = decodeTopicFilter(p)) {
            // The grammar never crashes, and a filter without wildcards that checks as one also
            // checks as a name and matches itself.
            if (Topic::checkFilter(*filter, Topic::MaxLength, 1024) == Topic::Check::Ok && !Topic::hasWildcard(*filter)) {
                KENNEL_FUZZ_CHECK(Topic::checkName(*filter, Topic::MaxLength, 1024) == Topic::Check::Ok);
                KENNEL_FUZZ_CHECK(Topic::matches(*filter, *filter) || Topic::isReserved(*filter));
            }
        }
        break;
    case quint8(FrameType::Publish):
    case quint8(FrameType::Publication):
        roundTrip(p, decodeTopicMessage, [](const TopicMessage &m) { return encodeTopicMessage(m.topic, m.message); });
        if (const auto m = decodeTopicMessage(p)) {
            KENNEL_FUZZ_CHECK(encodeTopicMessage(m->topic, m->message) == p); // nothing is normalised
            if (Topic::checkName(m->topic, Topic::MaxLength, 1024) == Topic::Check::Ok && !Topic::isReserved(m->topic))
                KENNEL_FUZZ_CHECK(Topic::matches("#", m->topic));
        }
        break;
    case quint8(FrameType::TopicAck):
        roundTrip(p, decodeTopicAck, encodeTopicAck);
        break;
    case quint8(FrameType::PublishStatus):
        roundTrip(p, decodePublishStatus, encodePublishStatus);
        break;
    case quint8(MonitorFrame::Subscribe):
        roundTrip(p, decodeMonitorSubscribe, encodeMonitorSubscribe);
        break;
    case quint8(MonitorFrame::SnapshotBegin):
        roundTrip(p, decodeMonitorSnapshotBegin, encodeMonitorSnapshotBegin);
        break;
    case quint8(MonitorFrame::Client):
        roundTrip(p, decodeMonitorClient, encodeMonitorClient);
        break;
    case quint8(MonitorFrame::Service):
        roundTrip(p, decodeMonitorService, encodeMonitorService);
        break;
    case quint8(MonitorFrame::ClientGone):
        roundTrip(p, decodeMonitorClientGone, encodeMonitorClientGone);
        break;
    case quint8(MonitorFrame::WatchdogEvent):
        roundTrip(p, decodeMonitorWatchdogEvent, encodeMonitorWatchdogEvent);
        break;
    case quint8(MonitorFrame::Traffic): {
        roundTrip(p, decodeMonitorTrafficBatch, encodeMonitorTrafficBatch);
        // The batch the broker builds in place must be the batch the list encoder builds.
        if (const auto records = decodeMonitorTrafficBatch(p); records && !records->isEmpty()) {
            QByteArray inPlace; // the count in front is kept by appendMonitorTrafficRecord
            QByteArray trailer; // held outcomes (PROTOCOL R-6.7.3), appended after the records
            quint16 index = 0;
            for (const MonitorTrafficRecord &r : *records) {
                if (r.heldMs >= 0)
                    appendMonitorHeldTrailerEntry(trailer, index, r.heldMs);
                appendMonitorTrafficRecord(inPlace, r.timeUs, r.source, r.target, r.size, r.status, r.preview);
                ++index;
            }
            KENNEL_FUZZ_CHECK(QByteArray(inPlace + trailer) == encodeMonitorTrafficBatch(*records));
        }
        break;
    }
    case quint8(MonitorFrame::TrafficDropped):
        roundTrip(p, decodeMonitorTrafficDropped, encodeMonitorTrafficDropped);
        break;
    case quint8(MonitorFrame::Held):
        roundTrip(p, decodeMonitorHeld, encodeMonitorHeld);
        break;
    case quint8(MonitorFrame::Totals):
        roundTrip(p, decodeMonitorTotals, encodeMonitorTotals);
        break;
    case quint8(MonitorFrame::PolicyDenial):
        roundTrip(p, decodeMonitorPolicyDenial, encodeMonitorPolicyDenial);
        break;
    case quint8(MonitorFrame::Control):
        roundTrip(p, decodeMonitorControl, encodeMonitorControl);
        break;
    case quint8(MonitorFrame::ControlResult):
        roundTrip(p, decodeMonitorControlResult, encodeMonitorControlResult);
        break;
    case quint8(MonitorFrame::Info):
        roundTrip(p, decodeMonitorBrokerInfo, encodeMonitorBrokerInfo);
        break;
    case quint8(MonitorFrame::ServiceOutputRequest):
        roundTrip(p, decodeMonitorServiceOutputRequest, encodeMonitorServiceOutputRequest);
        break;
    case quint8(MonitorFrame::ServiceOutput):
        roundTrip(p, decodeMonitorServiceOutput, encodeMonitorServiceOutput);
        break;
    // Topics and calls (PROTOCOL §6.8); 0x4D is the request one way and the answer the other.
    case quint8(MonitorFrame::Topics):
        roundTrip(p, decodeMonitorTopics, encodeMonitorTopics);
        break;
    case quint8(MonitorFrame::Subscriptions):
        roundTrip(p, decodeMonitorSubscriptionsRequest, encodeMonitorSubscriptionsRequest);
        roundTrip(p, decodeMonitorSubscriptions, encodeMonitorSubscriptions);
        break;
    case quint8(MonitorFrame::Publications):
        roundTrip(p, decodeMonitorPublicationBatch, encodeMonitorPublicationBatch);
        if (const auto records = decodeMonitorPublicationBatch(p); records && !records->isEmpty()) {
            QByteArray inPlace(2, '\0'); // the broker's way: the count in front, bumped per record
            for (const MonitorPublicationRecord &r : *records)
                appendMonitorPublicationRecord(inPlace, r);
            KENNEL_FUZZ_CHECK(inPlace == encodeMonitorPublicationBatch(*records));
        }
        break;
    case quint8(MonitorFrame::Calls):
        roundTrip(p, decodeMonitorCallBatch, encodeMonitorCallBatch);
        break;
    default:
        break;
    }
}

// One step of a walk: a frame, a skipped frame with a bad name, or the end of the walk.
struct Event
{
    DecodeError error;
    Frame frame; // None only
    bool operator==(const Event &o) const { return error == o.error && frame == o.frame; }
};

struct Walk
{
    std::vector<Event> events; // None and InvalidName, in order
    DecodeError end = DecodeError::NeedMore; // NeedMore or a fatal error
    qsizetype consumed = 0;
};

// As Session::processNativeFrames: decode at the position, handle or skip, stop on NeedMore or on
// a fatal error.
Walk walk(QByteArrayView data, quint32 maxFrameSize)
{
    Walk w;
    qsizetype pos = 0;
    while (pos < data.size()) {
        const QByteArrayView rest = data.sliced(pos);
        const DecodeResult r = decodeFrame(rest, maxFrameSize);
        switch (r.error) {
        case DecodeError::None: {
            KENNEL_FUZZ_CHECK(r.consumed >= Wire::HeaderSize && r.consumed == r.frameSize);
            KENNEL_FUZZ_CHECK(quint64(r.consumed) <= maxFrameSize && r.consumed <= rest.size());
            KENNEL_FUZZ_CHECK(r.frame.source.size() <= Wire::MaxNameLength && r.frame.target.size() <= Wire::MaxNameLength);
            // The views lie inside this frame's bytes.
            KENNEL_FUZZ_CHECK(r.frame.source.size() + r.frame.target.size() + r.frame.payload.size()
                              == r.consumed - Wire::HeaderSize);
            const Frame frame = r.frame.toFrame();
            KENNEL_FUZZ_CHECK(encodeFrame(frame) == rest.first(r.consumed));
            decodePayload(frame.type, r.frame.payload);
            w.events.push_back({DecodeError::None, frame});
            pos += r.consumed;
            continue;
        }
        case DecodeError::InvalidName:
            KENNEL_FUZZ_CHECK(r.consumed >= Wire::HeaderSize && r.consumed <= rest.size());
            w.events.push_back({DecodeError::InvalidName, Frame()});
            pos += r.consumed;
            continue;
        case DecodeError::NeedMore:
            KENNEL_FUZZ_CHECK(r.consumed == 0);
            // A complete header always says how large the frame will be, and it is more than is here.
            if (rest.size() >= Wire::HeaderSize)
                KENNEL_FUZZ_CHECK(r.frameSize > rest.size() && quint64(r.frameSize) <= maxFrameSize);
            w.end = DecodeError::NeedMore;
            w.consumed = pos;
            return w;
        default:
            KENNEL_FUZZ_CHECK(r.consumed == 0);
            w.end = r.error;
            w.consumed = pos;
            return w;
        }
    }
    w.consumed = pos;
    return w;
}

// The client's streaming decoder, fed in chunks whose sizes come from a generator seeded by the
// input: it must produce what the walk produced, whatever the chunking.
void stream(QByteArrayView data, quint32 maxFrameSize, const Walk &expected)
{
    FrameDecoder decoder(maxFrameSize);
    std::vector<Event> events;
    quint32 lcg = quint32(data.size()) * 2654435761u + 1;
    qsizetype pos = 0;
    bool fatal = false;
    while (pos < data.size() && !fatal) {
        lcg = lcg * 1664525u + 1013904223u;
        const qsizetype chunk = qMin<qsizetype>(1 + qsizetype((lcg >> 16) % 300), data.size() - pos);
        decoder.append(data.sliced(pos, chunk));
        pos += chunk;
        for (;;) {
            if (auto frame = decoder.next()) {
                events.push_back({DecodeError::None, *frame});
                continue;
            }
            if (decoder.error() == DecodeError::InvalidName) {
                events.push_back({DecodeError::InvalidName, Frame()});
                continue;
            }
            fatal = decoder.error() != DecodeError::None;
            break;
        }
    }
    KENNEL_FUZZ_CHECK(events == expected.events);
    if (expected.end == DecodeError::NeedMore) {
        KENNEL_FUZZ_CHECK(decoder.error() == DecodeError::None);
        KENNEL_FUZZ_CHECK(decoder.bufferedBytes() == data.size() - expected.consumed);
    } else {
        KENNEL_FUZZ_CHECK(decoder.error() == expected.end);
        KENNEL_FUZZ_CHECK(decoder.bufferedBytes() == 0);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > MaxInput)
        return 0;
    const auto selector = FrameType(data[0]);
    const QByteArrayView bytes(reinterpret_cast<const char *>(data + 1), qsizetype(size - 1));

    // The payload decoders on their own: the walk only reaches them through a valid frame.
    decodePayload(selector, bytes);
    // Error codes and names for any value, as the broker's log lines print them.
    KENNEL_FUZZ_CHECK(frameTypeName(selector) != nullptr);
    KENNEL_FUZZ_CHECK(errorCodeName(ErrorCode(quint16(data[0]) << 8 | (size > 1 ? data[1] : 0))) != nullptr);

    const Walk large = walk(bytes, Wire::DefaultMaxFrameSize);
    const Walk small = walk(bytes, Wire::MinFrameSizeLimit);
    // The small limit may stop the walk earlier (FrameTooLarge), never make it see anything else.
    KENNEL_FUZZ_CHECK(small.events.size() <= large.events.size());
    for (size_t i = 0; i < small.events.size(); ++i)
        KENNEL_FUZZ_CHECK(small.events[i] == large.events[i]);
    if (small.events.size() < large.events.size() || small.end != large.end)
        KENNEL_FUZZ_CHECK(small.end == DecodeError::FrameTooLarge);

    stream(bytes, Wire::DefaultMaxFrameSize, large);
    stream(bytes, Wire::MinFrameSizeLimit, small);
    return 0;
}
