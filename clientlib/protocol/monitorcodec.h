// The monitor stream's payloads (PROTOCOL §6): what a privileged monitor and the broker say to each
// other inside frame types 0x40..0x7F. Pure like the frame codec: structs in, bytes out and back,
// no sockets, so both ends and the fuzzer share one implementation.
//
// Encoding rules for every payload here: integers big-endian; a "str" is u16 length + UTF-8 bytes;
// a "bytes" is u16 length + raw bytes; fields in the order declared. Receivers ignore bytes after
// the layout they know (a newer broker may append fields) and refuse a payload shorter than it.
// Times travel as milliseconds since the Unix epoch (wall clock, for display) or as relative
// durations (monotonic, for deadlines), never as monotonic time points: the two ends do not share
// a monotonic clock.
#pragma once

#include "frame.h"
#include "kennel_export.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QString>

#include <optional>

namespace Kennel {

// Frame types of the monitor range. m->b: monitor to broker; b->m: broker to monitor.
namespace MonitorFrame {
constexpr FrameType Subscribe = FrameType(0x40);      // m->b  MonitorSubscribe; answered by a snapshot
constexpr FrameType SnapshotBegin = FrameType(0x41);  // b->m  MonitorSnapshotBegin
constexpr FrameType Client = FrameType(0x42);         // b->m  MonitorClient (snapshot entry, or a client that joined/changed)
constexpr FrameType Service = FrameType(0x43);        // b->m  MonitorService (snapshot entry, or a service that changed)
constexpr FrameType SnapshotEnd = FrameType(0x44);    // b->m  empty: the snapshot is complete, events follow
constexpr FrameType ClientGone = FrameType(0x45);     // b->m  MonitorClientGone
constexpr FrameType WatchdogEvent = FrameType(0x46);  // b->m  MonitorWatchdogEvent
constexpr FrameType Traffic = FrameType(0x47);        // b->m  MonitorTrafficBatch
constexpr FrameType TrafficDropped = FrameType(0x48); // b->m  MonitorTrafficDropped
constexpr FrameType Totals = FrameType(0x49);         // b->m  MonitorTotals, periodically
constexpr FrameType PolicyDenial = FrameType(0x4E);   // b->m  MonitorPolicyDenial: the access policy denied something
constexpr FrameType Control = FrameType(0x50);        // m->b  MonitorControl; target = client or service name
constexpr FrameType ControlResult = FrameType(0x51);  // b->m  MonitorControlResult, messageId of the Control
constexpr FrameType InfoRequest = FrameType(0x54);    // m->b  empty; answered by Info
constexpr FrameType Info = FrameType(0x55);           // b->m  MonitorBrokerInfo, messageId of the InfoRequest
// A service's recent output (PROTOCOL §6.5).
constexpr FrameType ServiceOutputRequest = FrameType(0x52); // m->b  MonitorServiceOutputRequest
constexpr FrameType ServiceOutput = FrameType(0x53);        // b->m  MonitorServiceOutput, messageId of the request
// Topics and calls (PROTOCOL §6.8).
constexpr FrameType Topics = FrameType(0x4C);        // b->m  MonitorTopics, periodically while topics change
constexpr FrameType Subscriptions = FrameType(0x4D); // m->b  MonitorSubscriptionsRequest; b->m MonitorSubscriptions, messageId of the request
constexpr FrameType Publications = FrameType(0x56);  // b->m  MonitorPublicationBatch (asked for with MonitorSubscribe.wantBusRecords)
constexpr FrameType Calls = FrameType(0x57);         // b->m  MonitorCallBatch (asked for with MonitorSubscribe.wantBusRecords)
// Held delivery (PROTOCOL §6.7): what is held for one name, in the snapshot and on change.
constexpr FrameType Held = FrameType(0x4A);                 // b->m  MonitorHeld
} // namespace MonitorFrame

KENNEL_CLIENT_EXPORT const char *monitorFrameName(FrameType type); // "monitor_subscribe", ... or nullptr

struct KENNEL_CLIENT_EXPORT MonitorSubscribe
{
    bool wantTraffic = true;
    quint16 previewBytes = 0;        // payload bytes per traffic record; 0: the broker's default
    quint32 maxTrafficPerSecond = 0; // records per second this monitor wants at most; 0: broker's default
    // Appended (PROTOCOL §6.8); an older monitor does not send it (then false): publications as
    // MonitorPublicationBatch and calls as MonitorCallBatch records instead of a publication as a
    // traffic record to "topic:TOPIC" (and no calls).
    bool wantBusRecords = false;
};

// What an admitted monitor may do (PROTOCOL §6.6): an operator sees and controls, a read-only
// monitor only sees. 0 is what an older broker (which knows no roles) lets every monitor do.
enum class MonitorRole : quint8 { Operator = 0, ReadOnly = 1 };
KENNEL_CLIENT_EXPORT const char *monitorRoleName(MonitorRole role); // "operator", "read-only"

struct KENNEL_CLIENT_EXPORT MonitorSnapshotBegin
{
    qint64 brokerTimeMs = 0;   // wall clock when the snapshot was taken
    qint64 brokerStartedMs = 0;
    quint32 clientCount = 0;   // MonitorClient frames that follow
    quint32 serviceCount = 0;  // MonitorService frames that follow
    QString brokerVersion;
    QString monitorIdentity;   // how the broker admitted this monitor ("token", "peer uid 0", ...), for display
    // Roles (PROTOCOL §6.6); absent from an older broker's (then 0, Operator): what this monitor
    // may do, so that it can offer only that.
    MonitorRole role = MonitorRole::Operator;
};

// The protocol a client speaks and what its connection is (Session::Kind).
enum class MonitorClientKind : quint8 { Native = 0, LegacyReceiver = 1, LegacySender = 2, Monitor = 3 };
enum class MonitorWatchState : quint8 { NotWatched = 0, Healthy = 1, Late = 2, Expired = 3 };

struct KENNEL_CLIENT_EXPORT MonitorClient
{
    quint64 sessionId = 0;         // stable for the connection's life; the key for every later event
    QByteArray name;               // also in the frame's source field
    MonitorClientKind kind = MonitorClientKind::Native;
    qint64 pid = 0;                // from the kernel; 0 unknown (remote, ambiguous, not looked up)
    QString peerAddress;           // "127.0.0.1:5555", "unix pid 42 uid 0"
    qint64 connectedSinceMs = 0;   // wall clock
    quint64 messagesIn = 0, messagesOut = 0, bytesIn = 0, bytesOut = 0;
    quint64 refused = 0;           // its messages the broker refused (no such client, queue full, ...)
    quint64 dropped = 0;           // messages to it that were dropped
    // Watchdog (state NotWatched: the rest is zero).
    MonitorWatchState watchState = MonitorWatchState::NotWatched;
    quint32 watchIntervalMs = 0;
    quint16 watchAllowedMisses = 0;
    quint64 feeds = 0;
    qint64 msSinceLastFeed = -1;   // relative to when the frame was sent; -1: never fed
    qint64 msUntilExpiry = -1;     // relative; -1: not watched
    quint32 expiries = 0;          // for this name, across reconnections
    quint32 kills = 0;             // signals sent to its processes, across reconnections
    // Topics (PROTOCOL §5.5); absent from an older broker's records (then 0): the filters it
    // holds, and publications it could not take (its queue was full, or it cannot carry them).
    quint32 subscriptions = 0;
    quint64 publicationsNotTaken = 0;
};

struct KENNEL_CLIENT_EXPORT MonitorClientGone
{
    quint64 sessionId = 0;
    qint64 timeMs = 0;
    QString reason; // "peer closed the connection", "refused", ...
};

enum class MonitorServiceState : quint8 { Stopped = 0, Starting = 1, Running = 2, Backoff = 3, Stopping = 4, Exited = 5, Failed = 6 };

struct KENNEL_CLIENT_EXPORT MonitorService
{
    QString name;
    MonitorServiceState state = MonitorServiceState::Stopped;
    qint64 pid = 0;
    quint32 starts = 0;
    quint32 restarts = 0;
    qint32 lastExitCode = 0;
    qint32 lastExitSignal = 0;   // 0: exited normally
    qint64 lastExitMs = 0;       // wall clock; 0: never exited
    qint64 msUntilRestart = -1;  // Backoff: relative; else -1
    QString lastError;
};

enum class MonitorWatchdogEventKind : quint8 {
    Registered = 0,
    Late = 1,
    Healthy = 2,      // fed again after being late
    Expired = 3,
    Signalled = 4,    // SIGTERM or SIGKILL sent (detail says which)
    ProcessExited = 5,
    ActionFailed = 6, // nothing could be signalled (detail says why); the client was disconnected
    Disconnected = 7, // the action was disconnect
    Notified = 8,     // the action was notify
};

struct KENNEL_CLIENT_EXPORT MonitorWatchdogEvent
{
    quint64 sessionId = 0;
    QByteArray name;
    qint64 timeMs = 0;
    MonitorWatchdogEventKind kind = MonitorWatchdogEventKind::Registered;
    qint64 pid = 0;
    quint64 feeds = 0;
    QString detail;
};

// Traffic: what the router did with one message. status is a DeliveryStatus (0 = delivered).
struct KENNEL_CLIENT_EXPORT MonitorTrafficRecord
{
    qint64 timeUs = 0;          // wall clock, microseconds since the epoch
    QByteArray source;
    QByteArray target;
    quint32 size = 0;           // payload bytes
    DeliveryStatus status = DeliveryStatus::Delivered;
    QByteArray preview;         // the first previewBytes of the payload
    // Held delivery (PROTOCOL ): >= 0 when this record is the final outcome of a message
    // that was held (status delivered, expired, start_failed, ...), and for how long it was held;
    // -1 for every other record. Travels in the batch's trailer, which an older reader ignores.
    qint64 heldMs = -1;
};

// What is held for one name that has no receiver (PROTOCOL §6.7): sent in the snapshot for every
// name that holds something, and again (coalesced, at most once per totals interval) when that
// changes; count 0 says the name's queue emptied (delivered, expired, dropped).
struct KENNEL_CLIENT_EXPORT MonitorHeld
{
    QByteArray name;
    quint32 count = 0;         // messages held now
    quint64 bytes = 0;         // their stored bytes
    qint64 oldestAgeMs = 0;    // relative: how long the oldest has been held when the frame was sent
    qint64 nextExpiryMs = -1;  // relative: when the oldest expires; -1 when nothing is held
};

struct KENNEL_CLIENT_EXPORT MonitorTrafficDropped
{
    qint64 timeMs = 0;
    quint32 dropped = 0;        // traffic records not sent since the last batch (sampling or a full queue)
};

// What a denial by the access policy (docs/SECURITY.md) was asked for.
enum class MonitorPolicyPath : quint8 {
    Own = 0,        // registering (owning) a name
    Send = 1,       // a native Send to a name
    LegacySend = 2, // an old-protocol cmd 2 to a name (the sender cannot be told)
    Publish = 3,    // a publication to a topic
    Call = 4,       // a call to a name
};

// One denial (0x4E), sent as it happens.
struct KENNEL_CLIENT_EXPORT MonitorPolicyDenial
{
    qint64 timeMs = 0;
    quint64 sessionId = 0;   // the peer's connection; 0: none (a message from across the bridge)
    QByteArray sender;       // its name (empty: it was registering, and has none yet)
    QByteArray target;       // the name, or the topic
    MonitorPolicyPath path = MonitorPolicyPath::Send;
    qint32 rule = -1;        // the deciding rule's place in [policy] (0 = first); -1: the default
    QString ruleName;        // its key in [policy]; empty for the default
    QString ruleText;        // "deny send sensor* uid=1000", or "default = deny"
    quint64 ruleDenials = 0; // denials by that rule (or the default) since the policy was loaded
};

// One rule of the current policy in the totals: its key, and the decisions it made since the
// policy was loaded (hits: allowed and denied).
struct KENNEL_CLIENT_EXPORT MonitorPolicyRuleCount
{
    QString name;
    quint64 hits = 0, denials = 0;
};

struct KENNEL_CLIENT_EXPORT MonitorTotals
{
    qint64 timeMs = 0;
    quint64 messagesRouted = 0, bytesRouted = 0, undelivered = 0;
    quint32 clients = 0, monitors = 0, watched = 0;
    quint64 expiries = 0, kills = 0;
    // Since the broker started; absent from an older broker's totals (then 0):
    // connections and monitors shed over a broker-wide memory budget, monitors disconnected past
    // their own queue bound, Subscribes refused because the last snapshot was not read.
    quint64 budgetSheds = 0, monitorOverflows = 0, snapshotsRefused = 0;
    // Monitor admission since the broker started; absent from an older broker's
    // totals (then 0): Hellos refused at the door because their address, their network prefix
    // (IPv4 /24, IPv6 /64) or the whole waiting room had no place left; Hellos not answered
    // within admission_timeout_ms; token checks refused over the broker-wide guess budget;
    // services refused by uid; wrong credentials; TLS handshakes refused on the monitor listeners
    // per address, per prefix, and with every slot taken.
    quint64 admissionRefusedPerAddress = 0, admissionRefusedPerPrefix = 0, admissionRefusedRoomFull = 0;
    quint64 admissionTimeouts = 0, guessesRefused = 0, servicesRefused = 0, admissionFailures = 0;
    quint64 handshakesRefusedPerAddress = 0, handshakesRefusedPerPrefix = 0, handshakesRefusedFull = 0;
    // Calls (PROTOCOL §5.6) since the broker started; absent from an older broker's totals (then 0):
    // calls taken, ended with a reply or an error reply, by timeout, by callee_gone, refused or
    // ended otherwise (no_such_client, too_many_calls, ...), and replies dropped (late, or from a
    // connection the call was not made to).
    quint64 calls = 0, callsReplied = 0, callsTimedOut = 0, callsCalleeGone = 0, callsRefused = 0, repliesDropped = 0;
    // The bridge to the fleet's MQTT broker (docs/FLEET.md); absent from an older broker's totals
    // (then 0): bridgeState 0 no bridge, 1 disconnected, 2 connected; the spool's depth, the age
    // of its oldest message and the messages its bound dropped; NAME@BOARD messages forwarded,
    // messages received from other boards, remote_timeouts told.
    quint8 bridgeState = 0;
    quint64 bridgeSpoolDepth = 0, bridgeSpoolOldestAgeMs = 0, bridgeSpoolDropped = 0;
    quint64 bridgeForwarded = 0, bridgeReceived = 0, bridgeTimeouts = 0;
    // Access (docs/SECURITY.md), since the broker started; absent from an older broker's totals
    // (then 0): registrations refused because the name is reserved for a service (name_reserved).
    quint64 reservedNamesRefused = 0;
    // Held delivery (PROTOCOL §5.4, §6.7); absent from an older broker's totals (then 0). Now:
    // messages and bytes held, names holding some. Since the broker started: messages held,
    // delivered after being held, refused by the new holder at delivery, expired, dropped at each
    // bound (name count, name bytes, total), answered start_failed, unacknowledged messages held
    // again and not held again, outcomes old-protocol senders could not be told, and final
    // outcomes whose native sender had gone.
    quint64 heldMessages = 0, heldBytes = 0;
    quint32 heldNames = 0;
    quint64 heldTotal = 0, heldDelivered = 0, heldRefusedAtDelivery = 0, heldExpired = 0;
    quint64 heldDroppedNameCount = 0, heldDroppedNameBytes = 0, heldDroppedTotal = 0, heldStartFailed = 0;
    quint64 heldReheld = 0, heldUnacknowledged = 0, heldLegacyUntold = 0, heldUntold = 0;
    // The access policy ([policy], docs/SECURITY.md); absent from an older broker's totals (then
    // 0): the current policy's rules, denials since the broker started (owning and sending),
    // messages, publications and calls judged by send rules and of those denied, verdicts worked
    // out rather than taken from the per-route cache, and per rule of the current policy (in
    // [policy] order, at most MaxPolicyRuleCounts) its hits and denials.
    static constexpr int MaxPolicyRuleCounts = 256;
    quint32 policyRules = 0;
    quint64 policyDenials = 0, policySendChecked = 0, policySendDenied = 0, policyCacheMisses = 0;
    QList<MonitorPolicyRuleCount> policyRuleCounts;
};

enum class MonitorControlAction : quint8 {
    DisconnectClient = 0, // target: client name
    SendTestMessage = 1,  // target: client name; payload text: the message (stamped as from "kennel-monitor")
    RestartService = 2,   // target: service name
    StopService = 3,
    StartService = 4,
    ReloadConfig = 5,     // target: ignored (send "broker"); the broker reads its configuration again (SIGHUP)
};

struct KENNEL_CLIENT_EXPORT MonitorControl
{
    MonitorControlAction action = MonitorControlAction::DisconnectClient;
    QByteArray target;
    QByteArray text;
};

struct KENNEL_CLIENT_EXPORT MonitorControlResult
{
    ErrorCode code = ErrorCode::None; // None: done
    QString text;
};

// What the broker is and where it listens (Info, answering an InfoRequest): what an operator's
// `kennelctl status` shows beyond the snapshot.
struct KENNEL_CLIENT_EXPORT MonitorListenerInfo
{
    bool monitorsOnly = false; // a [monitor] listen address; else a client listener (monitors welcome too)
    bool tls = false;
    QString address;           // "127.0.0.1:8000", "unix:/run/kennel/broker.sock"
};

struct KENNEL_CLIENT_EXPORT MonitorBrokerInfo
{
    QString version;
    qint64 pid = 0;
    QList<MonitorListenerInfo> listeners;
};

// A service's recent output (PROTOCOL §6.5): the lines its supervisor keeps (a ring per service).
struct KENNEL_CLIENT_EXPORT MonitorServiceOutputRequest
{
    QByteArray service;
    quint32 maxLines = 0; // the newest this many; 0: all kept (within the answer's frame)
    quint64 afterSeq = 0; // >0: from the first line after this one, oldest first (follow)
};

struct KENNEL_CLIENT_EXPORT MonitorOutputLine
{
    quint64 seq = 0;
    qint64 timeMs = 0;
    bool isStderr = false;
    QByteArray text;
};

struct KENNEL_CLIENT_EXPORT MonitorServiceOutput
{
    QByteArray service;
    ErrorCode code = ErrorCode::None; // NotRegistered: no such service
    QString error;
    quint64 dropped = 0;   // lines that fell off the ring since the service was defined
    quint64 lastSeq = 0;   // the newest line's sequence number (0: none yet)
    quint32 keptLines = 0; // what the ring holds, and its bounds
    quint64 keptBytes = 0;
    quint32 maxLines = 0;
    quint64 maxBytes = 0;
    bool more = false;     // lines were left out to fit the frame: ask again
    QList<MonitorOutputLine> lines;
};

// Topics and calls (PROTOCOL §6.8).
// One publication: who published to which topic, how many subscribers took it and how many could not.
struct KENNEL_CLIENT_EXPORT MonitorPublicationRecord
{
    qint64 timeUs = 0;       // wall clock, microseconds since the epoch
    QByteArray publisher;
    QByteArray topic;
    quint32 size = 0;        // payload bytes
    quint32 reached = 0;     // subscribers that took it
    quint32 notTaken = 0;    // subscribers that could not (queue full, or cannot carry it)
    bool retain = false;
    ErrorCode result = ErrorCode::None; // None, or why the publication was not (wholly) taken (retained_store_full)
    QByteArray preview;
};

// One call, when it ended: caller, callee, outcome and round trip (from the Call to its result).
struct KENNEL_CLIENT_EXPORT MonitorCallRecord
{
    qint64 timeUs = 0;       // when it ended
    QByteArray caller;
    QByteArray callee;
    CallOutcome outcome = CallOutcome::Replied;
    quint16 code = 0;        // an error reply's application code
    quint32 roundTripUs = 0; // 0 for a call refused at once; saturates at 2^32-1
    quint32 replySize = 0;   // payload bytes of the reply (Replied, ErrorReply)
};

// Per-topic figures, the busiest first, at most the broker's topics_per_record of them.
struct KENNEL_CLIENT_EXPORT MonitorTopicEntry
{
    QByteArray topic;
    quint64 publications = 0;     // since the broker started (or since the topic was first tracked)
    quint32 rateMilli = 0;        // publications per second over the last interval, times 1000
    quint32 subscribers = 0;      // subscribers its last publication reached or could not reach
    quint32 retainedBytes = 0;    // the retained value's size (0: none, or an empty one)
    bool retained = false;        // a retained value is kept
    qint64 lastPublishedMs = 0;   // wall clock; 0: never (a retained value from before tracking)
};

struct KENNEL_CLIENT_EXPORT MonitorTopics
{
    qint64 timeMs = 0;
    quint32 intervalMs = 0;        // what rateMilli was measured over
    quint32 trackedTopics = 0;     // topics the broker keeps figures for (entries below: the busiest)
    quint64 untrackedPublications = 0; // publications to topics past max_tracked_topics
    quint32 retainedTopics = 0;
    quint64 retainedBytes = 0;
    quint32 subscriptions = 0;     // filters held, all clients together
    quint64 publications = 0, copiesDelivered = 0, copiesNotTaken = 0; // since the broker started
    QList<MonitorTopicEntry> entries;
};

struct KENNEL_CLIENT_EXPORT MonitorSubscriptionsRequest
{
    quint64 sessionId = 0;
};

struct KENNEL_CLIENT_EXPORT MonitorSubscriptions
{
    quint64 sessionId = 0;
    ErrorCode code = ErrorCode::None; // NotRegistered: no such connection
    quint32 total = 0;                // filters it holds; `filters` may list fewer (the frame's bound)
    QList<QByteArray> filters;
};

KENNEL_CLIENT_EXPORT QByteArray encodeMonitorPublicationBatch(const QList<MonitorPublicationRecord> &records);
KENNEL_CLIENT_EXPORT void appendMonitorPublicationRecord(QByteArray &batch, const MonitorPublicationRecord &record);
KENNEL_CLIENT_EXPORT std::optional<QList<MonitorPublicationRecord>> decodeMonitorPublicationBatch(QByteArrayView payload);
KENNEL_CLIENT_EXPORT QByteArray encodeMonitorCallBatch(const QList<MonitorCallRecord> &records);
KENNEL_CLIENT_EXPORT void appendMonitorCallRecord(QByteArray &batch, const MonitorCallRecord &record);
KENNEL_CLIENT_EXPORT std::optional<QList<MonitorCallRecord>> decodeMonitorCallBatch(QByteArrayView payload);
KENNEL_CLIENT_EXPORT QByteArray encodeMonitorTopics(const MonitorTopics &v);
KENNEL_CLIENT_EXPORT std::optional<MonitorTopics> decodeMonitorTopics(QByteArrayView payload);
KENNEL_CLIENT_EXPORT QByteArray encodeMonitorSubscriptionsRequest(const MonitorSubscriptionsRequest &v);
KENNEL_CLIENT_EXPORT std::optional<MonitorSubscriptionsRequest> decodeMonitorSubscriptionsRequest(QByteArrayView payload);
KENNEL_CLIENT_EXPORT QByteArray encodeMonitorSubscriptions(const MonitorSubscriptions &v);
KENNEL_CLIENT_EXPORT std::optional<MonitorSubscriptions> decodeMonitorSubscriptions(QByteArrayView payload);

KENNEL_CLIENT_EXPORT QByteArray encodeMonitorServiceOutputRequest(const MonitorServiceOutputRequest &v);
KENNEL_CLIENT_EXPORT std::optional<MonitorServiceOutputRequest> decodeMonitorServiceOutputRequest(QByteArrayView payload);
KENNEL_CLIENT_EXPORT QByteArray encodeMonitorServiceOutput(const MonitorServiceOutput &v);
KENNEL_CLIENT_EXPORT std::optional<MonitorServiceOutput> decodeMonitorServiceOutput(QByteArrayView payload);

// Encoders append nothing but the payload; decoders return nullopt for a payload that is too short,
// has a string running past its end, or an enum value outside its range.
KENNEL_CLIENT_EXPORT QByteArray encodeMonitorSubscribe(const MonitorSubscribe &v);
KENNEL_CLIENT_EXPORT std::optional<MonitorSubscribe> decodeMonitorSubscribe(QByteArrayView payload);
KENNEL_CLIENT_EXPORT QByteArray encodeMonitorSnapshotBegin(const MonitorSnapshotBegin &v);
KENNEL_CLIENT_EXPORT std::optional<MonitorSnapshotBegin> decodeMonitorSnapshotBegin(QByteArrayView payload);
KENNEL_CLIENT_EXPORT QByteArray encodeMonitorClient(const MonitorClient &v);
KENNEL_CLIENT_EXPORT std::optional<MonitorClient> decodeMonitorClient(QByteArrayView payload);
KENNEL_CLIENT_EXPORT QByteArray encodeMonitorClientGone(const MonitorClientGone &v);
KENNEL_CLIENT_EXPORT std::optional<MonitorClientGone> decodeMonitorClientGone(QByteArrayView payload);
KENNEL_CLIENT_EXPORT QByteArray encodeMonitorService(const MonitorService &v);
KENNEL_CLIENT_EXPORT std::optional<MonitorService> decodeMonitorService(QByteArrayView payload);
KENNEL_CLIENT_EXPORT QByteArray encodeMonitorWatchdogEvent(const MonitorWatchdogEvent &v);
KENNEL_CLIENT_EXPORT std::optional<MonitorWatchdogEvent> decodeMonitorWatchdogEvent(QByteArrayView payload);
// A batch: u16 count, then the records. appendMonitorTrafficRecord lets the broker build a batch in
// place without a QList.
KENNEL_CLIENT_EXPORT QByteArray encodeMonitorTrafficBatch(const QList<MonitorTrafficRecord> &records);
KENNEL_CLIENT_EXPORT void appendMonitorTrafficRecord(QByteArray &batch, qint64 timeUs, QByteArrayView source,
                                                     QByteArrayView target, quint32 size, DeliveryStatus status,
                                                     QByteArrayView preview);
KENNEL_CLIENT_EXPORT std::optional<QList<MonitorTrafficRecord>> decodeMonitorTrafficBatch(QByteArrayView payload);
KENNEL_CLIENT_EXPORT QByteArray encodeMonitorTrafficDropped(const MonitorTrafficDropped &v);
KENNEL_CLIENT_EXPORT std::optional<MonitorTrafficDropped> decodeMonitorTrafficDropped(QByteArrayView payload);
KENNEL_CLIENT_EXPORT QByteArray encodeMonitorPolicyDenial(const MonitorPolicyDenial &v);
KENNEL_CLIENT_EXPORT std::optional<MonitorPolicyDenial> decodeMonitorPolicyDenial(QByteArrayView payload);
KENNEL_CLIENT_EXPORT QByteArray encodeMonitorTotals(const MonitorTotals &v);
KENNEL_CLIENT_EXPORT std::optional<MonitorTotals> decodeMonitorTotals(QByteArrayView payload);
KENNEL_CLIENT_EXPORT QByteArray encodeMonitorControl(const MonitorControl &v);
KENNEL_CLIENT_EXPORT std::optional<MonitorControl> decodeMonitorControl(QByteArrayView payload);
KENNEL_CLIENT_EXPORT QByteArray encodeMonitorControlResult(const MonitorControlResult &v);
KENNEL_CLIENT_EXPORT std::optional<MonitorControlResult> decodeMonitorControlResult(QByteArrayView payload);
KENNEL_CLIENT_EXPORT QByteArray encodeMonitorHeld(const MonitorHeld &v);
KENNEL_CLIENT_EXPORT std::optional<MonitorHeld> decodeMonitorHeld(QByteArrayView payload);
// The trailer of a traffic batch (PROTOCOL ): u16 n, then n x (u16 record index, u32 held ms),
// for the records that are held messages' final outcomes. Appended after the records by whoever
// built the batch in place.
KENNEL_CLIENT_EXPORT void appendMonitorHeldTrailerEntry(QByteArray &trailer, quint16 recordIndex, qint64 heldMs);
KENNEL_CLIENT_EXPORT QByteArray encodeMonitorBrokerInfo(const MonitorBrokerInfo &v);
KENNEL_CLIENT_EXPORT std::optional<MonitorBrokerInfo> decodeMonitorBrokerInfo(QByteArrayView payload);

} // namespace Kennel
