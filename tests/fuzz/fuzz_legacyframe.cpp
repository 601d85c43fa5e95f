// fuzz_legacyframe: arbitrary bytes into the legacy codec (clientlib/legacy): Legacy::sniff on every
// prefix, and Legacy::decode walking 552-byte frames the way Session::processLegacy does. Logic
// checks besides the sanitizers: sniff never changes its mind as more bytes arrive, decode agrees
// with sniff, a decoded frame's fields obey the layout's limits, and a decoded frame re-encoded
// with Legacy::encode decodes to the same fields.
#define KENNEL_FUZZER_NAME "fuzz_legacyframe"
#include "fuzzcheck.h"

#include "legacyframe.h"

#include <QByteArray>

#include <cstdint>
#include <cstring>

using namespace Kennel;

namespace {

constexpr size_t MaxInput = 16 * Legacy::FrameSize;

void checkSniff(QByteArrayView data)
{
    // Decided on the first differing byte, and final once decided.
    Legacy::Sniff previous = Legacy::Sniff::NeedMore;
    for (qsizetype n = 0; n <= qMin<qsizetype>(data.size(), 8); ++n) {
        const Legacy::Sniff s = Legacy::sniff(data.first(n));
        if (previous != Legacy::Sniff::NeedMore)
            KENNEL_FUZZ_CHECK(s == previous);
        if (n == 0)
            KENNEL_FUZZ_CHECK(s == Legacy::Sniff::NeedMore);
        if (n >= 5)
            KENNEL_FUZZ_CHECK(s == (std::memcmp(data.data(), "head", 5) == 0 ? Legacy::Sniff::Legacy
                                                                              : Legacy::Sniff::NotLegacy));
        previous = s;
    }
}

bool nameOk(QByteArrayView name)
{
    return name.size() <= Legacy::MaxNameLength && !name.contains('\0');
}

void checkFrame(const Legacy::FrameView &f)
{
    KENNEL_FUZZ_CHECK(nameOk(f.target) && nameOk(f.source));
    KENNEL_FUZZ_CHECK(f.msgField.size() == Legacy::MsgFieldSize);
    const QByteArrayView text = f.text();
    KENNEL_FUZZ_CHECK(text.size() <= Legacy::MaxTextLength && !text.contains('\0'));
    KENNEL_FUZZ_CHECK(qint32(f.command) >= 0 && qint32(f.command) <= 2);
    if (f.command == Legacy::Command::Watchdog)
        KENNEL_FUZZ_CHECK(f.wdt == 0 || f.wdt == 1);

    // Re-encode what was understood and read it back: every field the broker acts on survives.
    char buffer[Legacy::FrameSize];
    Legacy::encode(buffer, f.command, f.wdt, f.target, f.source, f.msgField);
    const Legacy::DecodeResult again = Legacy::decode(QByteArrayView(buffer, Legacy::FrameSize));
    KENNEL_FUZZ_CHECK(again.error == Legacy::DecodeError::None);
    KENNEL_FUZZ_CHECK(again.frame.command == f.command && again.frame.wdt == f.wdt);
    KENNEL_FUZZ_CHECK(again.frame.target == f.target && again.frame.source == f.source);
    KENNEL_FUZZ_CHECK(again.frame.msgField == f.msgField && again.frame.text() == text);
    // Nothing but the defined bytes leaves the process: the head's tail and the padding are zero.
    for (int i = 5; i < Legacy::CmdOffset; ++i)
        KENNEL_FUZZ_CHECK(buffer[i] == 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MaxInput)
        return 0;
    const QByteArrayView bytes(reinterpret_cast<const char *>(data), qsizetype(size));
    checkSniff(bytes);
    KENNEL_FUZZ_CHECK(Legacy::decodeErrorName(Legacy::DecodeError(size % 8)) != nullptr);

    // The whole input at once: short of a frame it is NeedMore unless the head is already wrong.
    const Legacy::DecodeResult whole = Legacy::decode(bytes);
    if (Legacy::sniff(bytes) == Legacy::Sniff::NotLegacy)
        KENNEL_FUZZ_CHECK(whole.error == Legacy::DecodeError::BadHead);
    else if (bytes.size() < Legacy::FrameSize)
        KENNEL_FUZZ_CHECK(whole.error == Legacy::DecodeError::NeedMore);

    // As Session::processLegacy: frame after frame until one is refused or the bytes run out.
    qsizetype pos = 0;
    while (bytes.size() - pos >= Legacy::FrameSize) {
        const Legacy::DecodeResult r = Legacy::decode(bytes.sliced(pos, Legacy::FrameSize));
        KENNEL_FUZZ_CHECK(r.error != Legacy::DecodeError::NeedMore);
        if (r.error != Legacy::DecodeError::None)
            break;
        checkFrame(r.frame);
        pos += Legacy::FrameSize;
    }
    return 0;
}
