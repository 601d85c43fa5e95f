#include "framecodec.h"

#include "names.h"

#include <QtEndian>

#include <cstring>
#include <limits>

namespace Kennel {

namespace {

// Header field offsets (PROTOCOL §2).
constexpr int MagicOffset = 0;
constexpr int VersionOffset = 2;
constexpr int TypeOffset = 3;
constexpr int BodyLengthOffset = 4;
constexpr int MessageIdOffset = 8;
constexpr int SourceLengthOffset = 12;
constexpr int TargetLengthOffset = 13;
constexpr int FlagsOffset = 14;

constexpr uchar MagicHigh = uchar(Wire::Magic >> 8);   // 'K'
constexpr uchar MagicLow = uchar(Wire::Magic & 0xFF);  // 'N'

bool isFatal(DecodeError error)
{
    return error != DecodeError::None && error != DecodeError::NeedMore && error != DecodeError::InvalidName;
}

void copyBytes(char *dst, QByteArrayView bytes)
{
    // memcpy from a null view is undefined even for 0 bytes, and empty names are common.
    if (!bytes.isEmpty())
        std::memcpy(dst, bytes.data(), size_t(bytes.size()));
}

} // namespace

const char *decodeErrorName(DecodeError error)
{
    switch (error) {
    case DecodeError::None: return "none";
    case DecodeError::NeedMore: return "need_more";
    case DecodeError::BadMagic: return "bad_magic";
    case DecodeError::UnsupportedVersion: return "unsupported_version";
    case DecodeError::FrameTooLarge: return "frame_too_large";
    case DecodeError::Malformed: return "malformed";
    case DecodeError::InvalidName: return "invalid_name";
    }
    return "unknown";
}

ErrorCode errorCodeFor(DecodeError error)
{
    switch (error) {
    case DecodeError::None:
    case DecodeError::NeedMore:
        return ErrorCode::None;
    case DecodeError::BadMagic: return ErrorCode::BadMagic;
    case DecodeError::UnsupportedVersion: return ErrorCode::UnsupportedVersion;
    case DecodeError::FrameTooLarge: return ErrorCode::FrameTooLarge;
    case DecodeError::Malformed: return ErrorCode::MalformedFrame;
    case DecodeError::InvalidName: return ErrorCode::InvalidName;
    }
    return ErrorCode::MalformedFrame;
}

Frame FrameView::toFrame() const
{
    Frame frame;
    frame.type = type;
    frame.messageId = messageId;
    frame.flags = flags;
    frame.source = source.toByteArray();
    frame.target = target.toByteArray();
    frame.payload = payload.toByteArray();
    return frame;
}

DecodeResult decodeFrame(QByteArrayView data, quint32 maxFrameSize)
{
    const auto *p = reinterpret_cast<const uchar *>(data.data());
    const qsizetype size = data.size();
    // One result object, returned from every exit, so that the compiler builds it in the caller's
    // place: returning different objects cost a copy of the whole result per frame (callgrind:
    // a fifth of decodeFrame's instructions).
    DecodeResult result;

    // Each check runs as soon as the bytes it needs are present, so a peer that is not speaking
    // this protocol is refused on its first byte rather than after 16 (PROTOCOL §1, §2.1).
    if (size < 1)
        return result; // NeedMore
    if (p[MagicOffset] != MagicHigh) {
        result.error = DecodeError::BadMagic;
        return result;
    }
    if (size < 2)
        return result; // NeedMore
    if (p[MagicOffset + 1] != MagicLow) {
        result.error = DecodeError::BadMagic;
        return result;
    }
    if (size < 3)
        return result; // NeedMore
    if (p[VersionOffset] != Wire::Version) { // PROTOCOL §8.2: no negotiation at the frame level
        result.error = DecodeError::UnsupportedVersion;
        return result;
    }
    if (size < Wire::HeaderSize)
        return result; // NeedMore

    // The header alone decides the size: an oversized claim is refused before a single body byte
    // is buffered (PROTOCOL §2.1 check 3). 64-bit sum: bodyLength may be 0xFFFFFFFF.
    const quint32 bodyLength = qFromBigEndian<quint32>(p + BodyLengthOffset);
    const quint64 total = quint64(Wire::HeaderSize) + bodyLength;
    if (total > maxFrameSize || total > quint64(std::numeric_limits<qsizetype>::max())) {
        result.error = DecodeError::FrameTooLarge;
        return result;
    }

    // PROTOCOL §2.1 check 4: name lengths within the name limit and within the body. Still
    // header-only, so a broken frame is refused before its body is awaited.
    const quint8 sourceLength = p[SourceLengthOffset];
    const quint8 targetLength = p[TargetLengthOffset];
    if (sourceLength > Wire::MaxNameLength || targetLength > Wire::MaxNameLength
        || quint32(sourceLength) + targetLength > bodyLength) {
        result.error = DecodeError::Malformed;
        return result;
    }

    result.frameSize = qsizetype(total);
    if (quint64(size) < total)
        return result; // NeedMore; frameSize tells the reader how much to expect

    FrameView &frame = result.frame;
    frame.type = FrameType(p[TypeOffset]); // unknown types are the layer above's business (PROTOCOL §2.1)
    frame.messageId = qFromBigEndian<quint32>(p + MessageIdOffset);
    frame.flags = qFromBigEndian<quint16>(p + FlagsOffset);
    const qsizetype payloadLength = qsizetype(bodyLength) - sourceLength - targetLength;
    frame.source = data.sliced(Wire::HeaderSize, sourceLength);
    frame.target = data.sliced(Wire::HeaderSize + sourceLength, targetLength);
    frame.payload = data.sliced(Wire::HeaderSize + sourceLength + targetLength, payloadLength);
    result.consumed = result.frameSize;

    // PROTOCOL §2.1 check 5, §3: empty names are legal at this level (a Send leaves its source
    // empty); a non-empty one must obey the rule. Framing is intact: the caller may skip the frame.
    // NAME@BOARD (PROTOCOL §5.8) is a valid target and a valid Deliver source; Hello still asks
    // for a plain name (NativeHandler), so nobody registers one.
    const bool namesValid = (sourceLength == 0 || isValidTarget(frame.source, Wire::MaxNameLength))
                            && (targetLength == 0 || isValidTarget(frame.target, Wire::MaxNameLength));
    result.error = namesValid ? DecodeError::None : DecodeError::InvalidName;
    return result;
}

void writeHeader(char *dst, FrameType type, quint32 bodyLength, quint32 messageId, quint8 sourceLength,
                 quint8 targetLength, quint16 flags)
{
    qToBigEndian<quint16>(Wire::Magic, dst + MagicOffset);
    dst[VersionOffset] = char(Wire::Version);
    dst[TypeOffset] = char(type);
    qToBigEndian<quint32>(bodyLength, dst + BodyLengthOffset);
    qToBigEndian<quint32>(messageId, dst + MessageIdOffset);
    dst[SourceLengthOffset] = char(sourceLength);
    dst[TargetLengthOffset] = char(targetLength);
    qToBigEndian<quint16>(flags, dst + FlagsOffset);
}

void appendFrame(QByteArray &out, FrameType type, quint32 messageId, quint16 flags, QByteArrayView source,
                 QByteArrayView target, QByteArrayView payload)
{
    Q_ASSERT_X(source.size() <= Wire::MaxNameLength && target.size() <= Wire::MaxNameLength, "appendFrame",
               "names are at most Wire::MaxNameLength bytes (PROTOCOL §3)");
    const quint64 bodyLength = quint64(source.size()) + quint64(target.size()) + quint64(payload.size());
    Q_ASSERT_X(bodyLength <= std::numeric_limits<quint32>::max(), "appendFrame", "body over 4 GiB");

    // The views must not point into `out`: growing it may move its bytes.
    const qsizetype start = out.size();
    out.resize(start + Wire::HeaderSize + qsizetype(bodyLength));
    char *dst = out.data() + start;
    writeHeader(dst, type, quint32(bodyLength), messageId, quint8(source.size()), quint8(target.size()), flags);
    dst += Wire::HeaderSize;
    copyBytes(dst, source);
    dst += source.size();
    copyBytes(dst, target);
    dst += target.size();
    copyBytes(dst, payload);
}

QByteArray encodeFrame(const Frame &frame)
{
    QByteArray out;
    out.reserve(Wire::HeaderSize + frame.source.size() + frame.target.size() + frame.payload.size());
    appendFrame(out, frame.type, frame.messageId, frame.flags, frame.source, frame.target, frame.payload);
    return out;
}

// --- FrameDecoder ----------------------------------------------------------------------------

FrameDecoder::FrameDecoder(quint32 maxFrameSize)
    : m_maxFrameSize(maxFrameSize)
{
}

void FrameDecoder::append(QByteArrayView bytes)
{
    // After a fatal error nothing that follows can be framed: don't hoard it.
    if (isFatal(m_error) || bytes.isEmpty())
        return;
    // Drop consumed bytes once they are the larger part of the buffer: each byte is moved at most
    // a bounded number of times, and the buffer never holds more than one partial frame plus what
    // the last append() brought.
    if (m_offset > 0 && m_offset >= m_buffer.size() - m_offset) {
        m_buffer.remove(0, m_offset);
        m_offset = 0;
    }
    m_buffer.append(bytes.data(), bytes.size());
}

std::optional<Frame> FrameDecoder::next()
{
    if (isFatal(m_error))
        return std::nullopt;
    m_error = DecodeError::None; // an InvalidName report lasts until the next call

    const DecodeResult result = decodeFrame(QByteArrayView(m_buffer).sliced(m_offset), m_maxFrameSize);
    const auto consume = [this](qsizetype bytes) {
        m_offset += bytes;
        if (m_offset == m_buffer.size()) {
            m_buffer.truncate(0); // keeps the capacity for the next read
            m_offset = 0;
        }
    };
    switch (result.error) {
    case DecodeError::None: {
        Frame frame = result.frame.toFrame(); // copy out before the buffer may be reused
        consume(result.consumed);
        return frame;
    }
    case DecodeError::NeedMore:
        return std::nullopt;
    case DecodeError::InvalidName:
        consume(result.consumed);
        m_error = DecodeError::InvalidName;
        return std::nullopt;
    case DecodeError::BadMagic:
    case DecodeError::UnsupportedVersion:
    case DecodeError::FrameTooLarge:
    case DecodeError::Malformed:
        break;
    }
    m_error = result.error;
    m_buffer = QByteArray();
    m_offset = 0;
    return std::nullopt;
}

void FrameDecoder::reset()
{
    m_buffer = QByteArray();
    m_offset = 0;
    m_error = DecodeError::None;
}

// --- Control payloads (PROTOCOL §4) ------------------------------------------------------------
// Fixed fields first, big-endian, then at most one variable-length field running to the end of
// the payload: no inner length prefixes to get wrong. Reserved bytes are written as 0 and ignored
// on reading, so a later version may give them a meaning (PROTOCOL §4, §8.2).

namespace {

constexpr qsizetype HelloFixedSize = 8;
constexpr qsizetype WelcomeFixedSize = 8;
constexpr qsizetype FeaturesSize = 4; // PROTOCOL §4.1.1, after the fixed part when flagged
constexpr qsizetype ErrorFixedSize = 2;
constexpr qsizetype DeliveryStatusSize = 2;
constexpr qsizetype WatchdogTermsSize = 8;

const uchar *bytesOf(QByteArrayView view)
{
    return reinterpret_cast<const uchar *>(view.data());
}

} // namespace

QByteArray encodeHello(const HelloPayload &hello)
{
    const qsizetype fixed = HelloFixedSize + (hello.features ? FeaturesSize : 0);
    QByteArray out(fixed + hello.token.size(), Qt::Uninitialized);
    char *p = out.data();
    p[0] = char(hello.role);
    p[1] = char(hello.features ? Wire::HelloHasFeatures : 0);
    qToBigEndian<quint16>(hello.protocolVersion, p + 2);
    qToBigEndian<quint32>(hello.pid, p + 4);
    if (hello.features)
        qToBigEndian<quint32>(*hello.features, p + HelloFixedSize);
    copyBytes(p + fixed, hello.token);
    return out;
}

std::optional<HelloPayload> decodeHello(QByteArrayView payload)
{
    if (payload.size() < HelloFixedSize)
        return std::nullopt;
    const uchar *p = bytesOf(payload);
    // PROTOCOL §4.1: a role this side does not know cannot be granted anything; refuse it.
    if (p[0] != uchar(Role::Client) && p[0] != uchar(Role::Monitor))
        return std::nullopt;
    HelloPayload hello;
    hello.role = Role(p[0]);
    hello.protocolVersion = qFromBigEndian<quint16>(p + 2);
    hello.pid = qFromBigEndian<quint32>(p + 4);
    qsizetype fixed = HelloFixedSize;
    // PROTOCOL §4.1.1: the other bits of byte 1 are reserved and ignored.
    if (p[1] & Wire::HelloHasFeatures) {
        if (payload.size() < HelloFixedSize + FeaturesSize)
            return std::nullopt;
        hello.features = qFromBigEndian<quint32>(p + HelloFixedSize);
        fixed += FeaturesSize;
    }
    hello.token = payload.sliced(fixed).toByteArray();
    return hello;
}

QByteArray encodeWelcome(const WelcomePayload &welcome)
{
    const qsizetype fixed = WelcomeFixedSize + (welcome.features ? FeaturesSize : 0);
    QByteArray out(fixed + welcome.brokerVersion.size(), Qt::Uninitialized);
    char *p = out.data();
    qToBigEndian<quint16>(welcome.protocolVersion, p);
    qToBigEndian<quint16>(welcome.features ? Wire::WelcomeHasFeatures : 0, p + 2);
    qToBigEndian<quint32>(welcome.maxFrameSize, p + 4);
    if (welcome.features)
        qToBigEndian<quint32>(*welcome.features, p + WelcomeFixedSize);
    copyBytes(p + fixed, welcome.brokerVersion);
    return out;
}

std::optional<WelcomePayload> decodeWelcome(QByteArrayView payload)
{
    if (payload.size() < WelcomeFixedSize)
        return std::nullopt;
    const uchar *p = bytesOf(payload);
    WelcomePayload welcome;
    welcome.protocolVersion = qFromBigEndian<quint16>(p);
    welcome.maxFrameSize = qFromBigEndian<quint32>(p + 4);
    // PROTOCOL §4.1, §8.1: no broker may go below this, or its own control frames would not fit; a
    // smaller figure is a corrupt Welcome, not a limit to obey.
    if (welcome.maxFrameSize < Wire::MinFrameSizeLimit)
        return std::nullopt;
    qsizetype fixed = WelcomeFixedSize;
    if (qFromBigEndian<quint16>(p + 2) & Wire::WelcomeHasFeatures) {
        if (payload.size() < WelcomeFixedSize + FeaturesSize)
            return std::nullopt;
        welcome.features = qFromBigEndian<quint32>(p + WelcomeFixedSize);
        fixed += FeaturesSize;
    }
    welcome.brokerVersion = payload.sliced(fixed).toByteArray();
    return welcome;
}

QByteArray encodeError(const ErrorPayload &error)
{
    const QByteArray text = error.text.toUtf8();
    QByteArray out(ErrorFixedSize + text.size(), Qt::Uninitialized);
    qToBigEndian<quint16>(quint16(error.code), out.data());
    copyBytes(out.data() + ErrorFixedSize, text);
    return out;
}

std::optional<ErrorPayload> decodeError(QByteArrayView payload)
{
    if (payload.size() < ErrorFixedSize)
        return std::nullopt;
    ErrorPayload error;
    // PROTOCOL §4.3: codes this side does not know are kept, not refused: a newer broker may send
    // them, and the number is still worth logging.
    error.code = ErrorCode(qFromBigEndian<quint16>(bytesOf(payload)));
    error.text = QString::fromUtf8(payload.sliced(ErrorFixedSize));
    return error;
}

QByteArray encodeDeliveryStatus(DeliveryStatus status)
{
    QByteArray out(DeliveryStatusSize, Qt::Uninitialized);
    qToBigEndian<quint16>(quint16(status), out.data());
    return out;
}

std::optional<DeliveryStatus> decodeDeliveryStatus(QByteArrayView payload)
{
    // PROTOCOL §5.3: unknown statuses keep their number (a newer broker may add some); bytes past
    // the fixed layout are ignored so a later version may append fields (PROTOCOL §8.2).
    if (payload.size() < DeliveryStatusSize)
        return std::nullopt;
    return DeliveryStatus(qFromBigEndian<quint16>(bytesOf(payload)));
}

QByteArray encodeWatchdogTerms(const WatchdogTerms &terms)
{
    QByteArray out(WatchdogTermsSize, Qt::Uninitialized);
    char *p = out.data();
    qToBigEndian<quint32>(terms.intervalMs, p);
    qToBigEndian<quint16>(terms.allowedMisses, p + 4);
    p[6] = char(terms.action);
    p[7] = 0;
    return out;
}

std::optional<WatchdogTerms> decodeWatchdogTerms(QByteArrayView payload)
{
    if (payload.size() < WatchdogTermsSize)
        return std::nullopt;
    const uchar *p = bytesOf(payload);
    // PROTOCOL §4.4: an action this side cannot carry out must not be accepted as if it could.
    if (p[6] > uchar(ExpiryAction::Notify))
        return std::nullopt;
    WatchdogTerms terms;
    terms.intervalMs = qFromBigEndian<quint32>(p);
    terms.allowedMisses = qFromBigEndian<quint16>(p + 4);
    terms.action = ExpiryAction(p[6]);
    return terms;
}

// --- Calls (PROTOCOL §5.6) ----------------------------------------------------------------------

namespace {
constexpr qsizetype CallRequestFixedSize = 4;
constexpr qsizetype CallReplyFixedSize = 2;
constexpr qsizetype CallResultFixedSize = 4;
} // namespace

QByteArray encodeCallRequest(quint32 deadlineMs, QByteArrayView payload)
{
    QByteArray out(CallRequestFixedSize + payload.size(), Qt::Uninitialized);
    qToBigEndian<quint32>(deadlineMs, out.data());
    copyBytes(out.data() + CallRequestFixedSize, payload);
    return out;
}

std::optional<CallRequest> decodeCallRequest(QByteArrayView payload)
{
    if (payload.size() < CallRequestFixedSize)
        return std::nullopt;
    CallRequest request;
    request.deadlineMs = qFromBigEndian<quint32>(bytesOf(payload));
    request.payload = payload.sliced(CallRequestFixedSize).toByteArray();
    return request;
}

QByteArray encodeCallReply(quint16 code, QByteArrayView payload)
{
    QByteArray out(CallReplyFixedSize + payload.size(), Qt::Uninitialized);
    qToBigEndian<quint16>(code, out.data());
    copyBytes(out.data() + CallReplyFixedSize, payload);
    return out;
}

std::optional<CallReply> decodeCallReply(QByteArrayView payload)
{
    if (payload.size() < CallReplyFixedSize)
        return std::nullopt;
    CallReply reply;
    reply.code = qFromBigEndian<quint16>(bytesOf(payload));
    reply.payload = payload.sliced(CallReplyFixedSize).toByteArray();
    return reply;
}

QByteArray encodeCallResult(CallOutcome outcome, quint16 code, QByteArrayView payload)
{
    QByteArray out(CallResultFixedSize + payload.size(), Qt::Uninitialized);
    qToBigEndian<quint16>(quint16(outcome), out.data());
    qToBigEndian<quint16>(code, out.data() + 2);
    copyBytes(out.data() + CallResultFixedSize, payload);
    return out;
}

std::optional<CallResultPayload> decodeCallResult(QByteArrayView payload)
{
    // Outcomes this side does not know keep their number (a newer broker may add some).
    if (payload.size() < CallResultFixedSize)
        return std::nullopt;
    CallResultPayload result;
    result.outcome = CallOutcome(qFromBigEndian<quint16>(bytesOf(payload)));
    result.code = qFromBigEndian<quint16>(bytesOf(payload) + 2);
    result.payload = payload.sliced(CallResultFixedSize).toByteArray();
    return result;
}

} // namespace Kennel
