#include "legacyframe.h"

#include <QtEndian>

#include <cstring>

namespace Kennel::Legacy {

namespace {

// The head field is the C string "head": its four letters and the NUL are defined; bytes 5..11
// (the rest of the 10-byte array and the struct's 2 padding bytes) are whatever the sender's
// stack held, so they are never looked at (PROTOCOL §7.1).
constexpr char Head[] = "head";
constexpr int HeadMarkerSize = sizeof(Head); // includes the NUL
constexpr int HeadFieldSize = 10;
constexpr int IntSize = 4;

// The old C server wrote `int` fields in host byte order. Every machine it ran on (x86-64,
// 32/64-bit ARM Linux) is little-endian, so the wire order is, explicitly, little-endian: this
// code gives the same bytes on any host (PROTOCOL §7.1).
qint32 readInt(const char *p)
{
    return qFromLittleEndian<qint32>(p);
}

// A name is the field up to its NUL; a field without one is refused, never read past (PROTOCOL §7.2).
bool readName(QByteArrayView frame, int offset, QByteArrayView *name)
{
    const char *field = frame.data() + offset;
    const void *nul = std::memchr(field, 0, NameFieldSize);
    if (!nul)
        return false;
    *name = QByteArrayView(field, static_cast<const char *>(nul) - field);
    return true;
}

void writeName(char *dst, QByteArrayView name)
{
    // Truncation keeps room for the NUL the old programs' strcpy/strcmp rely on; the caller is
    // expected to have refused longer names already.
    const qsizetype n = qMin<qsizetype>(name.size(), MaxNameLength);
    if (n > 0)
        std::memcpy(dst, name.data(), size_t(n));
}

} // namespace

Sniff sniff(QByteArrayView firstBytes)
{
    // Decide on the first byte that differs: a native client's 'K' is refused from the
    // legacy path without waiting for four more bytes that may never come (PROTOCOL §1).
    const qsizetype n = qMin<qsizetype>(firstBytes.size(), HeadMarkerSize);
    if (n == 0)
        return Sniff::NeedMore;
    if (std::memcmp(firstBytes.data(), Head, size_t(n)) != 0)
        return Sniff::NotLegacy;
    return n == HeadMarkerSize ? Sniff::Legacy : Sniff::NeedMore;
}

const char *decodeErrorName(DecodeError error)
{
    switch (error) {
    case DecodeError::None: return "none";
    case DecodeError::NeedMore: return "need_more";
    case DecodeError::BadHead: return "bad_head";
    case DecodeError::UnterminatedName: return "unterminated_name";
    case DecodeError::UnknownCommand: return "unknown_command";
    }
    return "unknown";
}

QByteArrayView FrameView::text() const
{
    const qsizetype limit = qMin<qsizetype>(msgField.size(), MaxTextLength);
    if (limit <= 0)
        return {};
    const char *begin = msgField.data();
    const void *nul = std::memchr(begin, 0, size_t(limit));
    // No NUL in the first 511 bytes: the old programs could not have meant more than 511
    // characters of text, so the 512th byte is never part of it (PROTOCOL §7.5).
    return QByteArrayView(begin, nul ? static_cast<const char *>(nul) - begin : limit);
}

DecodeResult decode(QByteArrayView data)
{
    DecodeResult result;
    // Frames have a fixed size, but a stream that is out of step shows it in its first bytes:
    // BadHead is reported as soon as they are here, like the native decoder's BadMagic. The other
    // checks wait for the whole frame (PROTOCOL §7.2).
    if (sniff(data) == Sniff::NotLegacy) {
        result.error = DecodeError::BadHead;
        return result;
    }
    if (data.size() < FrameSize)
        return result; // NeedMore

    const char *p = data.data();
    FrameView &frame = result.frame;
    const qint32 cmd = readInt(p + CmdOffset);
    const qint32 wdt = readInt(p + WdtOffset);
    // PROTOCOL §7.2: wdt only means something with cmd 1; old clients leave it 0 elsewhere but
    // nothing guaranteed that, so it is not checked there.
    if (cmd < qint32(Command::RegisterReceiver) || cmd > qint32(Command::Forward)
        || (cmd == qint32(Command::Watchdog) && wdt != qint32(WatchdogOp::Register) && wdt != qint32(WatchdogOp::Feed))) {
        result.error = DecodeError::UnknownCommand;
        return result;
    }
    if (!readName(data, TargetOffset, &frame.target) || !readName(data, SourceOffset, &frame.source)) {
        result.error = DecodeError::UnterminatedName;
        return result;
    }
    frame.command = Command(cmd);
    frame.wdt = wdt;
    frame.msgField = data.sliced(MsgOffset, MsgFieldSize);
    result.error = DecodeError::None;
    return result;
}

void encode(char *dst, Command command, qint32 wdt, QByteArrayView target, QByteArrayView source, QByteArrayView msg)
{
    // One memset covers the head's tail, the struct padding, the bytes after each NUL and the
    // rest of msg: nothing from this process's memory leaves in a frame (PROTOCOL §7.1).
    std::memset(dst, 0, FrameSize);
    std::memcpy(dst + HeadOffset, Head, HeadMarkerSize);
    static_assert(HeadOffset + HeadFieldSize + 2 == CmdOffset, "2 padding bytes align cmd");
    qToLittleEndian<qint32>(qint32(command), dst + CmdOffset);
    qToLittleEndian<qint32>(wdt, dst + WdtOffset);
    static_assert(WdtOffset + IntSize == TargetOffset && TargetOffset + NameFieldSize == SourceOffset
                      && SourceOffset + NameFieldSize == MsgOffset && MsgOffset + MsgFieldSize == FrameSize,
                  "the layout of the old C struct");
    writeName(dst + TargetOffset, target);
    writeName(dst + SourceOffset, source);
    const qsizetype n = qMin<qsizetype>(msg.size(), MsgFieldSize);
    if (n > 0)
        std::memcpy(dst + MsgOffset, msg.data(), size_t(n));
}

} // namespace Kennel::Legacy
