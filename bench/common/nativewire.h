// The native wire format (docs/PROTOCOL.md §2) as the load tools write and read it: the 16-byte
// big-endian header and the frame types they use. The tools (kennel-nativebench,
// kennel-ideal-native) deliberately do not link Kennel's codec: a generator and a control must cost
// per message only what the frame itself requires, and must not move when the broker's codec
// changes. This header is theirs alone, plain C++17, no Qt.
#pragma once

#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace NativeWire {

constexpr size_t HeaderSize = 16;
constexpr uint16_t Magic = 0x4B4E; // "KN"
constexpr uint8_t Version = 1;
constexpr int MaxNameLength = 64; // §3
constexpr uint16_t WantDeliveryStatus = 0x0001;

enum FrameType : uint8_t {
    Hello = 0x01,
    Welcome = 0x02,
    Error = 0x03,
    Bye = 0x04,
    Ping = 0x05,
    Pong = 0x06,
    Send = 0x10,
    Deliver = 0x11,
    DeliveryStatusFrame = 0x12,
};

// htons/htonl + memcpy: one byte swap and one store (byte-wise stores cost ~25 instructions per
// header under callgrind, a tenth of a bare forwarder's whole per-message budget).
inline void put16(unsigned char *p, uint16_t v)
{
    v = htons(v);
    std::memcpy(p, &v, 2);
}
inline void put32(unsigned char *p, uint32_t v)
{
    v = htonl(v);
    std::memcpy(p, &v, 4);
}
inline uint16_t get16(const unsigned char *p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t get32(const unsigned char *p)
{
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

inline void writeHeader(unsigned char *p, uint8_t type, uint32_t bodyLength, uint32_t messageId,
                        uint8_t sourceLength, uint8_t targetLength, uint16_t flags = 0)
{
    put16(p, Magic);
    p[2] = Version;
    p[3] = type;
    put32(p + 4, bodyLength);
    put32(p + 8, messageId);
    p[12] = sourceLength;
    p[13] = targetLength;
    put16(p + 14, flags);
}

} // namespace NativeWire
