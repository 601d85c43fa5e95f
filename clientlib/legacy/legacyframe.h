// The old C server's 552-byte frame (docs/LEGACY-PROTOCOL.md, docs/PROTOCOL.md §7).
// Pure: bytes in, a view of the fields or an error out.
#pragma once

#include "kennel_export.h"

#include <QByteArrayView>

namespace Kennel::Legacy {

// The struct as GCC lays it out on x86-64 and 32/64-bit ARM: little-endian 4-byte ints.
constexpr int FrameSize = 552;
constexpr int HeadOffset = 0;
constexpr int CmdOffset = 12;
constexpr int WdtOffset = 16;
constexpr int TargetOffset = 20;
constexpr int SourceOffset = 30;
constexpr int MsgOffset = 40;
constexpr int NameFieldSize = 10;
constexpr int MsgFieldSize = 512;
constexpr int MaxNameLength = NameFieldSize - 1;
constexpr int MaxTextLength = MsgFieldSize - 1;

enum class Command : qint32 {
    RegisterReceiver = 0,
    Watchdog = 1,
    Forward = 2,
};
enum class WatchdogOp : qint32 {
    Register = 0,
    Feed = 1,
};

// True once `data` holds enough bytes to tell: the old frames start with the text "head" and its NUL.
// Returns nullopt-like tri-state through `decided`.
enum class Sniff { NeedMore, Legacy, NotLegacy };
KENNEL_CLIENT_EXPORT Sniff sniff(QByteArrayView firstBytes);

enum class DecodeError {
    None,
    NeedMore,
    BadHead,            // the frame does not start with "head\0": the stream is out of step
    UnterminatedName,   // a name field has no NUL within its 10 bytes
    UnknownCommand,     // cmd not 0, 1 or 2, or cmd 1 with wdt not 0 or 1
};
KENNEL_CLIENT_EXPORT const char *decodeErrorName(DecodeError error);

struct KENNEL_CLIENT_EXPORT FrameView
{
    Command command = Command::Forward;
    qint32 wdt = 0;
    QByteArrayView target;  // up to its NUL; "null" means unused
    QByteArrayView source;  // up to its NUL
    QByteArrayView msgField;// all 512 bytes, as sent (bytes after the text's NUL are undefined)
    QByteArrayView text() const; // msg up to its first NUL (at most 511 bytes)
};

struct DecodeResult
{
    DecodeError error = DecodeError::NeedMore;
    FrameView frame; // valid when error == None; a decoded frame always consumes FrameSize bytes
};

KENNEL_CLIENT_EXPORT DecodeResult decode(QByteArrayView data);

// Writes one 552-byte frame at `dst`. Names are truncated to 9 bytes by contract (callers check);
// `msg` is copied up to 512 bytes and the rest of the field zero-filled; padding is zeroed so no
// stale memory leaves the process.
KENNEL_CLIENT_EXPORT void encode(char *dst, Command command, qint32 wdt, QByteArrayView target,
                                 QByteArrayView source, QByteArrayView msg);

} // namespace Kennel::Legacy
