// Micro-benchmarks of the wire codecs: what one frame costs to decode and encode, native and legacy,
// in the form the broker uses (in place, no allocation) and in the form clients use (FrameDecoder,
// encodeFrame: QByteArray copies). The broker's share of a message is small next to the syscalls
// that carry it; these figures show when a change to the codec moves it, repeatably, without
// sockets or a second process.
#include "framecodec.h"
#include "legacyframe.h"

#include <benchmark/benchmark.h>

#include <QByteArray>

#include <cstring>
#include <vector>

using namespace Kennel;

namespace {

// A Deliver as the broker writes it: stamped source, target, payload of `size` bytes.
QByteArray deliverFrame(qsizetype size)
{
    QByteArray out;
    appendFrame(out, FrameType::Deliver, 42, NoFlags, "sender-0001", "receiver-0001", QByteArray(size, 'x'));
    return out;
}

void BM_DecodeFrame(benchmark::State &state)
{
    const QByteArray frame = deliverFrame(state.range(0));
    const QByteArrayView view(frame);
    for (auto _ : state) {
        DecodeResult result = decodeFrame(view, Wire::DefaultMaxFrameSize);
        benchmark::DoNotOptimize(result);
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * frame.size());
}
BENCHMARK(BM_DecodeFrame)->Arg(0)->Arg(500)->Arg(4096);

// The header check alone on a buffer holding only part of a frame: what a short read costs.
void BM_DecodeFrameNeedMore(benchmark::State &state)
{
    const QByteArray frame = deliverFrame(500);
    const QByteArrayView view = QByteArrayView(frame).first(100);
    for (auto _ : state) {
        DecodeResult result = decodeFrame(view, Wire::DefaultMaxFrameSize);
        benchmark::DoNotOptimize(result);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeFrameNeedMore);

// The broker's encoding: the header written into reserved output, names and payload copied.
void BM_WriteHeaderAndCopy(benchmark::State &state)
{
    const QByteArray payload(state.range(0), 'x');
    const QByteArray source("sender-0001"), target("receiver-0001");
    const size_t frameSize = size_t(Wire::HeaderSize + source.size() + target.size() + payload.size());
    std::vector<char> out(frameSize * 64);
    size_t pos = 0;
    for (auto _ : state) {
        if (pos + frameSize > out.size())
            pos = 0;
        char *dst = out.data() + pos;
        writeHeader(dst, FrameType::Deliver, quint32(frameSize - Wire::HeaderSize), 7, quint8(source.size()),
                    quint8(target.size()), NoFlags);
        char *p = dst + Wire::HeaderSize;
        std::memcpy(p, source.constData(), size_t(source.size()));
        p += source.size();
        std::memcpy(p, target.constData(), size_t(target.size()));
        p += target.size();
        std::memcpy(p, payload.constData(), size_t(payload.size()));
        pos += frameSize;
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * qint64(frameSize));
}
BENCHMARK(BM_WriteHeaderAndCopy)->Arg(0)->Arg(500)->Arg(4096);

// appendFrame into a QByteArray that keeps its capacity: the library's batched send path.
void BM_AppendFrame(benchmark::State &state)
{
    const QByteArray payload(state.range(0), 'x');
    QByteArray out;
    out.reserve(1 << 20);
    for (auto _ : state) {
        if (out.size() > (1 << 20) - 8192)
            out.truncate(0); // keeps the capacity
        appendFrame(out, FrameType::Send, 7, NoFlags, {}, "receiver-0001", payload);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * (Wire::HeaderSize + 13 + payload.size()));
}
BENCHMARK(BM_AppendFrame)->Arg(0)->Arg(500)->Arg(4096);

// encodeFrame: one allocation per frame (the convenience API).
void BM_EncodeFrame(benchmark::State &state)
{
    Frame frame;
    frame.type = FrameType::Send;
    frame.messageId = 7;
    frame.target = "receiver-0001";
    frame.payload = QByteArray(state.range(0), 'x');
    for (auto _ : state) {
        QByteArray bytes = encodeFrame(frame);
        benchmark::DoNotOptimize(bytes.data());
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeFrame)->Arg(0)->Arg(500);

// A client's receive path: a stream of frames arriving in socket-sized chunks, taken out one by
// one as Frame objects (shallow copies of the decoder's buffer).
void BM_FrameDecoderStream(benchmark::State &state)
{
    const int frames = 1000;
    const QByteArray one = deliverFrame(state.range(0));
    QByteArray stream;
    stream.reserve(one.size() * frames);
    for (int i = 0; i < frames; ++i)
        stream.append(one);
    const qsizetype chunk = 64 * 1024;
    FrameDecoder decoder;
    for (auto _ : state) {
        int got = 0;
        for (qsizetype pos = 0; pos < stream.size(); pos += chunk) {
            decoder.append(QByteArrayView(stream).sliced(pos, qMin(chunk, stream.size() - pos)));
            while (auto frame = decoder.next()) {
                benchmark::DoNotOptimize(frame->payload.constData());
                ++got;
            }
        }
        if (got != frames || decoder.error() != DecodeError::None) {
            state.SkipWithError("the decoder lost frames");
            break;
        }
    }
    state.SetItemsProcessed(state.iterations() * frames);
    state.SetBytesProcessed(state.iterations() * stream.size());
}
BENCHMARK(BM_FrameDecoderStream)->Arg(16)->Arg(500);

QByteArray legacyForward()
{
    QByteArray frame(Legacy::FrameSize, '\0');
    QByteArray msg(Legacy::MsgFieldSize, 'x');
    msg[Legacy::MaxTextLength] = '\0';
    Legacy::encode(frame.data(), Legacy::Command::Forward, 0, "recv0001", "send0001", msg);
    return frame;
}

void BM_LegacyDecode(benchmark::State &state)
{
    const QByteArray frame = legacyForward();
    for (auto _ : state) {
        Legacy::DecodeResult result = Legacy::decode(frame);
        benchmark::DoNotOptimize(result);
        QByteArrayView text = result.frame.text(); // the native receiver's view: up to the NUL
        benchmark::DoNotOptimize(text);
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * Legacy::FrameSize);
}
BENCHMARK(BM_LegacyDecode);

void BM_LegacyEncode(benchmark::State &state)
{
    const QByteArray msg(Legacy::MsgFieldSize, 'x');
    std::vector<char> out(Legacy::FrameSize);
    for (auto _ : state) {
        Legacy::encode(out.data(), Legacy::Command::Forward, 0, "recv0001", "send0001", msg);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * Legacy::FrameSize);
}
BENCHMARK(BM_LegacyEncode);

} // namespace
