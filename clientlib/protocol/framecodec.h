// The native frame codec: pure functions and a streaming decoder. Bytes in, frames or a decode
// error out; no sockets, no event loop, so every byte boundary can be tested and fuzzed.
#pragma once

#include "frame.h"
#include "kennel_export.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include <optional>

namespace Kennel {

enum class DecodeError {
    None,
    NeedMore,          // not an error: the frame is not complete yet
    BadMagic,
    UnsupportedVersion,
    FrameTooLarge,     // decided from the header alone, before any body is buffered
    Malformed,         // name lengths exceed the body, or a name is over Wire::MaxNameLength
    InvalidName,       // a name holds bytes outside [A-Za-z0-9._-]; the frame is still skippable
};
KENNEL_CLIENT_EXPORT const char *decodeErrorName(DecodeError error);
// The ErrorCode a peer should be sent for a decode error.
KENNEL_CLIENT_EXPORT ErrorCode errorCodeFor(DecodeError error);

// A frame decoded in place: the views point into the caller's buffer and live as long as it does.
struct KENNEL_CLIENT_EXPORT FrameView
{
    FrameType type = FrameType::Ping;
    quint32 messageId = 0;
    quint16 flags = 0;
    QByteArrayView source;
    QByteArrayView target;
    QByteArrayView payload;

    Frame toFrame() const;
};

struct DecodeResult
{
    DecodeError error = DecodeError::NeedMore;
    // Bytes the frame occupies. Set for None and InvalidName (the caller may skip the frame and go
    // on); 0 otherwise. For NeedMore with a valid header it stays 0 and `frameSize` says how much
    // the whole frame will take, so a reader can size its buffer once.
    qsizetype consumed = 0;
    qsizetype frameSize = 0;
    FrameView frame;
};

// Decodes the frame at the start of `data`. `maxFrameSize` bounds header + body.
KENNEL_CLIENT_EXPORT DecodeResult decodeFrame(QByteArrayView data, quint32 maxFrameSize);

// Writes the 16-byte header at `dst` (which must have room for it).
KENNEL_CLIENT_EXPORT void writeHeader(char *dst, FrameType type, quint32 bodyLength, quint32 messageId,
                                      quint8 sourceLength, quint8 targetLength, quint16 flags);

// Appends a whole frame to `out`. Names longer than Wire::MaxNameLength are a programming error.
KENNEL_CLIENT_EXPORT void appendFrame(QByteArray &out, FrameType type, quint32 messageId, quint16 flags,
                                      QByteArrayView source, QByteArrayView target, QByteArrayView payload);
KENNEL_CLIENT_EXPORT QByteArray encodeFrame(const Frame &frame);

// A streaming decoder for clients: append what the transport delivered, take frames out.
//
// next() returns a frame, or nullopt with error() saying why:
//   None         more bytes are needed; append() and call next() again.
//   InvalidName  a frame with a bad name was skipped (once per such frame); the next call to
//                next() clears the error and goes on with the frame after it.
//   anything else  fatal: framing is lost. next() keeps returning nullopt, error() stays set and
//                appended bytes are dropped until reset().
// A typical loop:
//   for (;;) {
//       if (auto frame = decoder.next()) { handle(*frame); continue; }
//       if (decoder.error() == DecodeError::InvalidName) { report(); continue; }
//       if (decoder.error() != DecodeError::None) fail(decoder.error());
//       break;
//   }
// Consumed bytes are dropped as the stream advances, so the buffer holds at most one partial
// frame plus the last append().
class KENNEL_CLIENT_EXPORT FrameDecoder
{
public:
    explicit FrameDecoder(quint32 maxFrameSize = Wire::DefaultMaxFrameSize);

    void append(QByteArrayView bytes);
    // The next complete frame, or nullopt when more bytes are needed or an error stopped the
    // stream (see error()). After an error other than InvalidName the stream cannot be resynchronised.
    std::optional<Frame> next();
    DecodeError error() const { return m_error; }
    qsizetype bufferedBytes() const { return m_buffer.size() - m_offset; }
    void reset();

private:
    QByteArray m_buffer;
    qsizetype m_offset = 0;
    quint32 m_maxFrameSize;
    DecodeError m_error = DecodeError::None;
};

// --- Payload layouts of the control frames (PROTOCOL §4) -------------------------------------

struct HelloPayload
{
    Role role = Role::Client;
    quint16 protocolVersion = Wire::Version;
    quint32 pid = 0; // 0: not claimed
    QByteArray token; // monitors only; empty for clients
    // The features the client understands (PROTOCOL §4.1.1); nullopt: none said, the Hello is
    // byte for byte a plain version-1 Hello.
    std::optional<quint32> features;
};
KENNEL_CLIENT_EXPORT QByteArray encodeHello(const HelloPayload &hello);
KENNEL_CLIENT_EXPORT std::optional<HelloPayload> decodeHello(QByteArrayView payload);

struct WelcomePayload
{
    quint16 protocolVersion = Wire::Version;
    quint32 maxFrameSize = Wire::DefaultMaxFrameSize;
    QByteArray brokerVersion;
    // The features the broker offers (PROTOCOL §4.1.1); only answered to a Hello that listed its
    // own, nullopt otherwise.
    std::optional<quint32> features;
};
KENNEL_CLIENT_EXPORT QByteArray encodeWelcome(const WelcomePayload &welcome);
KENNEL_CLIENT_EXPORT std::optional<WelcomePayload> decodeWelcome(QByteArrayView payload);

struct ErrorPayload
{
    ErrorCode code = ErrorCode::None;
    QString text;
};
KENNEL_CLIENT_EXPORT QByteArray encodeError(const ErrorPayload &error);
KENNEL_CLIENT_EXPORT std::optional<ErrorPayload> decodeError(QByteArrayView payload);

KENNEL_CLIENT_EXPORT QByteArray encodeDeliveryStatus(DeliveryStatus status);
KENNEL_CLIENT_EXPORT std::optional<DeliveryStatus> decodeDeliveryStatus(QByteArrayView payload);

// --- Calls (PROTOCOL §5.6) ----------------------------------------------------------------------

// Call and CallIncoming: u32 deadlineMs, then the request. In a Call, the time the caller grants
// (0: the broker's default); in a CallIncoming, what is left of it when the broker sent it.
struct CallRequest
{
    quint32 deadlineMs = 0;
    QByteArray payload;
};
KENNEL_CLIENT_EXPORT QByteArray encodeCallRequest(quint32 deadlineMs, QByteArrayView payload);
KENNEL_CLIENT_EXPORT std::optional<CallRequest> decodeCallRequest(QByteArrayView payload);

// Reply: u16 code (0: the reply; 1..65535: an application error), then the reply's bytes, or
// the error's text (UTF-8).
struct CallReply
{
    quint16 code = 0;
    QByteArray payload;
};
KENNEL_CLIENT_EXPORT QByteArray encodeCallReply(quint16 code, QByteArrayView payload);
KENNEL_CLIENT_EXPORT std::optional<CallReply> decodeCallReply(QByteArrayView payload);

// CallResult: u16 outcome (CallOutcome), u16 code (the callee's error code with ErrorReply, else
// 0), then the reply (Replied), the error's text (ErrorReply) or nothing.
struct CallResultPayload
{
    CallOutcome outcome = CallOutcome::Replied;
    quint16 code = 0;
    QByteArray payload;
};
KENNEL_CLIENT_EXPORT QByteArray encodeCallResult(CallOutcome outcome, quint16 code, QByteArrayView payload);
KENNEL_CLIENT_EXPORT std::optional<CallResultPayload> decodeCallResult(QByteArrayView payload);

enum class ExpiryAction : quint8 {
    Default = 0, // whatever the broker's config says for this name
    Terminate = 1,
    Kill = 2,
    Disconnect = 3,
    Notify = 4,
};

struct WatchdogTerms
{
    quint32 intervalMs = 0;    // 0: the broker's default
    quint16 allowedMisses = 0; // 0: the broker's default
    ExpiryAction action = ExpiryAction::Default;
};
KENNEL_CLIENT_EXPORT QByteArray encodeWatchdogTerms(const WatchdogTerms &terms);
KENNEL_CLIENT_EXPORT std::optional<WatchdogTerms> decodeWatchdogTerms(QByteArrayView payload);

} // namespace Kennel
