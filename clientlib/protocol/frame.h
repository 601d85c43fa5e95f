// The native Kennel frame: the types every program speaking the protocol shares.
// docs/PROTOCOL.md is the normative description; section numbers there are cited as "PROTOCOL §n".
#pragma once

#include "kennel_export.h"

#include <QByteArray>
#include <QMetaType>

#include <cstdint>

namespace Kennel {

// PROTOCOL §2: fixed 16-byte header, all integers big-endian.
//   0  u16 magic        0x4B4E ("KN")
//   2  u8  version      1
//   3  u8  type         FrameType
//   4  u32 bodyLength   bytes after the header: source name + target name + payload
//   8  u32 messageId
//  12  u8  sourceLength
//  13  u8  targetLength
//  14  u16 flags        FrameFlag
namespace Wire {
constexpr quint16 Magic = 0x4B4E;
constexpr quint8 Version = 1;
constexpr int HeaderSize = 16;
constexpr int MaxNameLength = 64;
// The smallest maximum a broker may configure: every control frame must fit.
constexpr quint32 MinFrameSizeLimit = 1024;
constexpr quint32 DefaultMaxFrameSize = 1024 * 1024;
} // namespace Wire

enum class FrameType : quint8 {
    Hello = 0x01,            // client -> broker: register a name (PROTOCOL §4.1)
    Welcome = 0x02,          // broker -> client: registration accepted
    Error = 0x03,            // either way: numeric code + text; may close the connection
    Bye = 0x04,              // either way: orderly goodbye
    Ping = 0x05,
    Pong = 0x06,
    Send = 0x10,             // client -> broker: deliver payload to target
    Deliver = 0x11,          // broker -> client: a message for you, stamped with its sender
    DeliveryStatus = 0x12,   // broker -> sender: what became of message `messageId`
    DeliverAck = 0x13,       // client -> broker: my application has processed this many Delivers (PROTOCOL §5.7)
    // Calls (PROTOCOL §5.6, feature `calls`): request/reply with a deadline, through the broker.
    Call = 0x14,             // caller -> broker: call `target` (payload: CallRequest)
    CallIncoming = 0x15,     // broker -> callee: a call for you, stamped with its caller (payload: CallRequest)
    Reply = 0x16,            // callee -> broker: the answer to incoming call `messageId` (payload: CallReply)
    CallResult = 0x17,       // broker -> caller: how call `messageId` ended (payload: CallResultPayload)
    WatchdogRegister = 0x20, // client -> broker: watch me (interval, allowed misses, action)
    WatchdogFeed = 0x21,     // client -> broker: I am alive
    WatchdogAck = 0x22,      // broker -> client: watchdog registration accepted, effective terms
    // Topics (PROTOCOL §5.5), feature `topics`.
    Subscribe = 0x30,        // client -> broker: add a topic filter
    Unsubscribe = 0x31,      // client -> broker: remove one
    TopicAck = 0x32,         // broker -> client: the outcome of a Subscribe or Unsubscribe
    Publish = 0x33,          // client -> broker: a message to a topic (optionally retained)
    PublishStatus = 0x34,    // broker -> client: what became of a Publish (asked with WantDeliveryStatus)
    Publication = 0x35,      // broker -> subscriber: a publication, stamped with its publisher
    // 0x40..0x7F are reserved for the monitor stream (PROTOCOL §6); a broker refuses them from
    // clients that have not been admitted as monitors.
    MonitorFirst = 0x40,
    MonitorLast = 0x7F,
};

enum FrameFlag : quint16 {
    NoFlags = 0,
    WantDeliveryStatus = 0x0001, // on Send: answer with a DeliveryStatus frame; on Publish: a PublishStatus
    RetainFlag = 0x0002,         // on Publish: keep it as the topic's retained value; on Publication: it is one
};

// Optional features, negotiated in Hello and Welcome (PROTOCOL §4.1.1). A client lists those it
// understands; the broker answers with those it offers; a feature's frames are only ever sent to
// a client that listed it. Bits are never reused; new ones are added as features come.
enum Feature : quint32 {
    NoFeatures = 0,
    FeatureWatchdog = 0x00000001, // the broker serves WatchdogRegister/Feed/Ack (PROTOCOL §4.4)
    FeatureHeldStatus = 0x00000002, // a held message is answered `held` at once, then its final status (PROTOCOL §5.4)
    FeatureDeliverAck = 0x00000004, // the client acknowledges Delivers; unacknowledged ones are kept for its name (PROTOCOL §5.7)
    FeatureTopics = 0x00000008,     // Subscribe/Unsubscribe/Publish are served, Publications sent (PROTOCOL §5.5)
    FeatureCalls = 0x00000010,      // Call, CallIncoming, Reply, CallResult (PROTOCOL §5.6)
    FeatureRemoteNames = 0x00000020, // the broker bridges NAME@BOARD; remote_timeout/remote_dropped said as such (PROTOCOL §5.8)
    FeatureShutdownMark = 0x00000040, // the shutdown Error carries the id of the last Send the broker read (PROTOCOL)
};
namespace Wire {
// The features this version of the library knows.
constexpr quint32 KnownFeatures = FeatureWatchdog | FeatureHeldStatus | FeatureDeliverAck | FeatureTopics | FeatureCalls | FeatureRemoteNames
                                  | FeatureShutdownMark;
// Hello byte 1 and Welcome bytes 2..3: bit 0 says a u32 feature set follows the fixed part.
constexpr quint8 HelloHasFeatures = 0x01;
constexpr quint16 WelcomeHasFeatures = 0x0001;
} // namespace Wire

enum class Role : quint8 {
    Client = 0,
    Monitor = 1,
};

// Reasons a message was or was not handed to its target (PROTOCOL §5).
enum class DeliveryStatus : quint16 {
    Delivered = 0,        // queued on the target's connection
    NoSuchClient = 1,     // no client is registered under the target name
    TargetQueueFull = 2,  // the target's output bound is reached: it is not reading fast enough
    TooLargeForTarget = 3,// the target cannot carry it (legacy: payload over 511 bytes)
    NotRegistered = 4,    // the sender has not registered a name yet
    SenderNameUnfit = 5,  // legacy target: the sender's name does not fit the 9-character field
    InvalidTarget = 6,    // the target name is not a valid name
    ShuttingDown = 7,     // the broker is stopping and accepts no new messages
    // Held delivery (PROTOCOL §5.4): the target is expected back.
    Held = 8,             // kept for the target; the final status follows (held_status feature only)
    Expired = 9,          // held, and the target did not come back within the hold's time to live
    DroppedNameCount = 10,// not held: the target already holds [hold] max_count messages (this, the newest, is dropped)
    DroppedNameBytes = 11,// not held: it would take the target's held bytes past [hold] max_bytes
    DroppedTotal = 12,    // not held: it would take all held messages past [hold] total_bytes
    StartFailed = 13,     // held for an on-demand service whose start failed (PROTOCOL §5.4)
    // The access policy (PROTOCOL ).
    PolicyDenied = 18,    // a [policy] send rule (or default = deny) does not let this sender send to the target
    // Remote names NAME@BOARD across the bridge (PROTOCOL §5.8, docs/FLEET.md).
    RemoteTimeout = 19,   // no final status came back from the target's board within [bridge] status_timeout_ms
    RemoteDropped = 20,   // dropped from the bridge's spool at its byte bound before it was published
    // Receiver acknowledgement (PROTOCOL §5.7).
    Unacknowledged = 21,  // handed to an acknowledging receiver whose connection ended without acknowledging it, and its name is not expected back
};

// Error frame codes (PROTOCOL §4.3). Codes below 1000 travel on the wire; the client library
// uses 1000 and up for local failures so the two ranges never collide.
enum class ErrorCode : quint16 {
    None = 0,
    BadMagic = 1,
    UnsupportedVersion = 2,
    FrameTooLarge = 3,
    MalformedFrame = 4,
    UnknownFrameType = 5,
    InvalidName = 6,
    NameTaken = 7,
    NotRegistered = 8,
    AlreadyRegistered = 9,
    RegisterTimeout = 10,
    TooManyClients = 11,
    SourceMismatch = 12,
    PidMismatch = 13,
    NotPermitted = 14,
    ShuttingDown = 15,
    IncompleteFrameTimeout = 16,
    InvalidWatchdogTerms = 17,
    WatchdogUnavailable = 18,
    WatchdogExpired = 19, // the client stopped feeding and its expiry action is to disconnect it
    IdleTimeout = 20,     // nothing arrived from the client for the broker's idle timeout, Ping unanswered
    OverBudget = 21,      // shed: the connection held the most of a broker-wide memory budget that ran out
    // Topics (PROTOCOL §5.5).
    InvalidTopic = 23,         // a topic name or filter breaks the grammar or the broker's bounds
    TooManySubscriptions = 24, // the client already holds [topics] max_subscriptions filters
    ReservedTopic = 25,        // a client published to a '$' topic: those are the broker's own
    RetainedStoreFull = 26,    // published, but not retained: [topics] retained_count/retained_bytes
    InvalidCall = 27,     // a Call or Reply whose payload cannot be decoded (PROTOCOL §5.6); not fatal
    // Access (PROTOCOL §4.5).
    NameReserved = 30,    // the name is reserved for a supervised service, and this is not its process
    PolicyDenied = 31,    // the access policy ([policy]) does not let this peer own the name, send to it (no status asked), publish to the topic or call it
    // Monitor roles (PROTOCOL §6.6).
    ReadOnly = 32,        // a control request from a read-only monitor: it may see, not act
};

// How a call ended (PROTOCOL §5.6): the `outcome` of a CallResult. Only Replied and ErrorReply
// come from the callee; the others are the broker's.
enum class CallOutcome : quint16 {
    Replied = 0,        // the callee answered; the result carries its reply
    ErrorReply = 1,     // the callee answered with an application error (code and text)
    Timeout = 2,        // no reply within the deadline
    NoSuchClient = 3,   // nobody holds the name, and it is not expected back
    CalleeGone = 4,     // the callee's connection ended with the call outstanding
    TooManyCalls = 5,   // the caller already has [calls] max_outstanding calls outstanding
    NotCallable = 6,    // the callee cannot take calls: an old-protocol program, or a client without `calls`
    QueueFull = 7,      // the callee's output bound is reached: it is not reading
    InvalidTarget = 8,  // the target name is empty
    ShuttingDown = 9,   // the broker is stopping
    DuplicateId = 10,   // the caller already has a call outstanding with this messageId
    StartFailed = 11,   // the call waited for an on-demand service whose start failed
    PolicyDenied = 12,  // the access policy's send rules deny the caller this name (PROTOCOL)
};


// One decoded native frame. Names and payload are shallow copies (QByteArray implicit sharing)
// or, from FrameView, views into the decoder's buffer.
struct KENNEL_CLIENT_EXPORT Frame
{
    FrameType type = FrameType::Ping;
    quint32 messageId = 0;
    quint16 flags = 0;
    QByteArray source;
    QByteArray target;
    QByteArray payload;

    bool operator==(const Frame &other) const;
    bool operator!=(const Frame &other) const { return !(*this == other); }
};

KENNEL_CLIENT_EXPORT const char *frameTypeName(FrameType type);
KENNEL_CLIENT_EXPORT const char *deliveryStatusName(DeliveryStatus status);
KENNEL_CLIENT_EXPORT const char *errorCodeName(ErrorCode code);
KENNEL_CLIENT_EXPORT const char *callOutcomeName(CallOutcome outcome);

} // namespace Kennel

Q_DECLARE_METATYPE(Kennel::Frame)
