/* The native Kennel wire format in plain C11: frame constants, the header codec and the payload
 * codecs of the version-1 core (Hello, Welcome, Error, DeliveryStatus, WatchdogTerms), of topics
 * (TopicFilter, TopicMessage, TopicAck, PublishStatus) and of calls (CallRequest, CallReply, CallResult).
 * docs/PROTOCOL.md is the contract; section numbers are cited as "PROTOCOL §n". The C++ codec
 * (clientlib/protocol/framecodec.h) implements the same layouts; tests/auto/cwire encodes with each
 * and decodes with the other so the two cannot drift apart.
 *
 * Everything here is pure: no allocation, no I/O, no global state. Decoders never copy: the views
 * they return point into the caller's bytes and live as long as those do. */
#ifndef KENNEL_WIRE_H
#define KENNEL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "kennel/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* PROTOCOL §2: a 16-byte header, integers big-endian. */
#define KENNEL_WIRE_MAGIC 0x4B4Eu /* "KN" */
#define KENNEL_WIRE_VERSION 1u
#define KENNEL_WIRE_HEADER_SIZE 16u
#define KENNEL_WIRE_MAX_NAME_LENGTH 64u
#define KENNEL_WIRE_MIN_FRAME_SIZE_LIMIT 1024u          /* the smallest maximum a broker may set */
#define KENNEL_WIRE_DEFAULT_MAX_FRAME_SIZE (1024u * 1024u)

/* Frame types (PROTOCOL §2.2). Unknown types decode normally: a client ignores them. */
enum kennel_frame_type {
    KENNEL_FRAME_HELLO = 0x01,
    KENNEL_FRAME_WELCOME = 0x02,
    KENNEL_FRAME_ERROR = 0x03,
    KENNEL_FRAME_BYE = 0x04,
    KENNEL_FRAME_PING = 0x05,
    KENNEL_FRAME_PONG = 0x06,
    KENNEL_FRAME_SEND = 0x10,
    KENNEL_FRAME_DELIVER = 0x11,
    KENNEL_FRAME_DELIVERY_STATUS = 0x12,
    KENNEL_FRAME_DELIVER_ACK = 0x13,
    /* Calls (PROTOCOL §5.6). */
    KENNEL_FRAME_CALL = 0x14,
    KENNEL_FRAME_CALL_INCOMING = 0x15,
    KENNEL_FRAME_REPLY = 0x16,
    KENNEL_FRAME_CALL_RESULT = 0x17,
    KENNEL_FRAME_WATCHDOG_REGISTER = 0x20,
    KENNEL_FRAME_WATCHDOG_FEED = 0x21,
    KENNEL_FRAME_WATCHDOG_ACK = 0x22,
    /* Topics (PROTOCOL §5.5). */
    KENNEL_FRAME_SUBSCRIBE = 0x30,
    KENNEL_FRAME_UNSUBSCRIBE = 0x31,
    KENNEL_FRAME_TOPIC_ACK = 0x32,
    KENNEL_FRAME_PUBLISH = 0x33,
    KENNEL_FRAME_PUBLISH_STATUS = 0x34,
    KENNEL_FRAME_PUBLICATION = 0x35,
    KENNEL_FRAME_MONITOR_FIRST = 0x40,
    KENNEL_FRAME_MONITOR_LAST = 0x7F
};

/* Header flags (PROTOCOL §2). */
#define KENNEL_FLAG_WANT_DELIVERY_STATUS 0x0001u /* also on Publish: answer with PublishStatus */
#define KENNEL_FLAG_RETAIN 0x0002u                /* Publish: keep it; Publication: a retained value */

/* Optional features (PROTOCOL §4.1.1). */
#define KENNEL_FEATURE_WATCHDOG 0x00000001u
/* `held` at once, then the final status (PROTOCOL §5.4). Not listed by this library: its status
 * callback promises one call per message, so it hears the final status only. */
#define KENNEL_FEATURE_HELD_STATUS 0x00000002u
/* NAME@BOARD across the broker's bridge; remote_timeout and remote_dropped said as such
 * (PROTOCOL §5.8). Not listed by this library: it hears them as no_such_client. */
#define KENNEL_FEATURE_REMOTE_NAMES 0x00000020u
/* topics (PROTOCOL §5.5): publish and subscribe. */
#define KENNEL_FEATURE_TOPICS 0x00000008u
/* calls (PROTOCOL §5.6): make calls and be called. */
#define KENNEL_FEATURE_CALLS 0x00000010u
/* Receiver acknowledgement (PROTOCOL §5.7). Listed by this library (unless kennel_set_deliver_ack
 * turns it off): it acknowledges each Deliver once the message callback has returned for it, so a
 * broker holds again for the name what a receiver that died had not processed. */
#define KENNEL_FEATURE_DELIVER_ACK 0x00000004u
/* The stopping broker's Error shutting_down names the last Send it read (PROTOCOL ). Listed
 * by this library, which keeps no send queue: the error callback hears the mark as its `id`, so
 * the application can tell which of its sends were never read (kennel_id_after). */
#define KENNEL_FEATURE_SHUTDOWN_MARK 0x00000040u
#define KENNEL_KNOWN_FEATURES \
    (KENNEL_FEATURE_WATCHDOG | KENNEL_FEATURE_DELIVER_ACK | KENNEL_FEATURE_TOPICS | KENNEL_FEATURE_CALLS \
     | KENNEL_FEATURE_SHUTDOWN_MARK)
#define KENNEL_HELLO_HAS_FEATURES 0x01u
#define KENNEL_WELCOME_HAS_FEATURES 0x0001u

enum kennel_role { KENNEL_ROLE_CLIENT = 0, KENNEL_ROLE_MONITOR = 1 };

/* DeliveryStatus values (PROTOCOL §5.3); unknown values must be kept, not refused. */
enum kennel_delivery_status {
    KENNEL_STATUS_DELIVERED = 0,
    KENNEL_STATUS_NO_SUCH_CLIENT = 1,
    KENNEL_STATUS_QUEUE_FULL = 2,
    KENNEL_STATUS_TOO_LARGE_FOR_TARGET = 3,
    KENNEL_STATUS_NOT_REGISTERED = 4,
    KENNEL_STATUS_SENDER_NAME_UNFIT = 5,
    KENNEL_STATUS_INVALID_TARGET = 6,
    KENNEL_STATUS_SHUTTING_DOWN = 7,
    /* Held delivery (PROTOCOL §5.4). */
    KENNEL_STATUS_HELD = 8,
    KENNEL_STATUS_EXPIRED = 9,
    KENNEL_STATUS_DROPPED_NAME_COUNT = 10,
    KENNEL_STATUS_DROPPED_NAME_BYTES = 11,
    KENNEL_STATUS_DROPPED_TOTAL = 12,
    KENNEL_STATUS_START_FAILED = 13,
    /* The access policy's send rules deny it (PROTOCOL §4.5). */
    KENNEL_STATUS_POLICY_DENIED = 18,
    /* NAME@BOARD across the bridge (PROTOCOL 5.8): no final status within the deadline; dropped
     * from the bridge's spool at its bound. Sent only to clients that negotiated remote_names. */
    KENNEL_STATUS_REMOTE_TIMEOUT = 19,
    KENNEL_STATUS_REMOTE_DROPPED = 20,
    /* Receiver acknowledgement (PROTOCOL §5.7). */
    KENNEL_STATUS_UNACKNOWLEDGED = 21
};

/* Error frame codes (PROTOCOL §4.3); unknown codes must be kept, not refused. */
enum kennel_error_code {
    KENNEL_ERROR_NONE = 0,
    KENNEL_ERROR_BAD_MAGIC = 1,
    KENNEL_ERROR_UNSUPPORTED_VERSION = 2,
    KENNEL_ERROR_FRAME_TOO_LARGE = 3,
    KENNEL_ERROR_MALFORMED_FRAME = 4,
    KENNEL_ERROR_UNKNOWN_FRAME_TYPE = 5,
    KENNEL_ERROR_INVALID_NAME = 6,
    KENNEL_ERROR_NAME_TAKEN = 7,
    KENNEL_ERROR_NOT_REGISTERED = 8,
    KENNEL_ERROR_ALREADY_REGISTERED = 9,
    KENNEL_ERROR_REGISTER_TIMEOUT = 10,
    KENNEL_ERROR_TOO_MANY_CLIENTS = 11,
    KENNEL_ERROR_SOURCE_MISMATCH = 12,
    KENNEL_ERROR_PID_MISMATCH = 13,
    KENNEL_ERROR_NOT_PERMITTED = 14,
    KENNEL_ERROR_SHUTTING_DOWN = 15,
    KENNEL_ERROR_INCOMPLETE_FRAME_TIMEOUT = 16,
    KENNEL_ERROR_INVALID_WATCHDOG_TERMS = 17,
    KENNEL_ERROR_WATCHDOG_UNAVAILABLE = 18,
    KENNEL_ERROR_WATCHDOG_EXPIRED = 19,
    KENNEL_ERROR_IDLE_TIMEOUT = 20,
    KENNEL_ERROR_OVER_BUDGET = 21,
    /* Topics (PROTOCOL §5.5). */
    KENNEL_ERROR_INVALID_TOPIC = 23,
    KENNEL_ERROR_TOO_MANY_SUBSCRIPTIONS = 24,
    KENNEL_ERROR_RESERVED_TOPIC = 25,
    KENNEL_ERROR_RETAINED_STORE_FULL = 26,
    /* calls (PROTOCOL §5.6) */
    KENNEL_ERROR_INVALID_CALL = 27,
    /* access (PROTOCOL §4.5) */
    KENNEL_ERROR_NAME_RESERVED = 30,
    KENNEL_ERROR_POLICY_DENIED = 31,
    /* monitor roles (PROTOCOL §6.6): never sent to a client, named for completeness */
    KENNEL_ERROR_READ_ONLY = 32
};

/* CallResult outcomes (PROTOCOL §5.6); unknown values must be kept, not refused. */
enum kennel_call_outcome {
    KENNEL_CALL_REPLIED = 0,
    KENNEL_CALL_ERROR_REPLY = 1,
    KENNEL_CALL_TIMEOUT = 2,
    KENNEL_CALL_NO_SUCH_CLIENT = 3,
    KENNEL_CALL_CALLEE_GONE = 4,
    KENNEL_CALL_TOO_MANY_CALLS = 5,
    KENNEL_CALL_NOT_CALLABLE = 6,
    KENNEL_CALL_QUEUE_FULL = 7,
    KENNEL_CALL_INVALID_TARGET = 8,
    KENNEL_CALL_SHUTTING_DOWN = 9,
    KENNEL_CALL_DUPLICATE_ID = 10,
    KENNEL_CALL_START_FAILED = 11,
    /* Not on the wire: libkennel's own word that the connection ended with the call outstanding. */
    KENNEL_CALL_LINK_LOST = 1000
};

/* Watchdog expiry actions (PROTOCOL §4.4). */
enum kennel_expiry_action {
    KENNEL_EXPIRY_DEFAULT = 0,
    KENNEL_EXPIRY_TERMINATE = 1,
    KENNEL_EXPIRY_KILL = 2,
    KENNEL_EXPIRY_DISCONNECT = 3,
    KENNEL_EXPIRY_NOTIFY = 4
};

/* Outcome of kennel_wire_decode(), in the order of PROTOCOL §2.1's checks. */
enum kennel_decode_result {
    KENNEL_DECODE_OK = 0,
    KENNEL_DECODE_NEED_MORE = 1,          /* not an error: the frame is not complete yet */
    KENNEL_DECODE_BAD_MAGIC = 2,          /* fatal */
    KENNEL_DECODE_UNSUPPORTED_VERSION = 3,/* fatal */
    KENNEL_DECODE_FRAME_TOO_LARGE = 4,    /* fatal, decided from the header alone */
    KENNEL_DECODE_MALFORMED = 5,          /* fatal: name lengths exceed 64 or the body */
    KENNEL_DECODE_INVALID_NAME = 6        /* a name breaks §3; the frame can be skipped */
};

/* A frame decoded in place: the pointers point into the decoded bytes. */
typedef struct kennel_frame {
    uint8_t type;
    uint16_t flags;
    uint32_t message_id;
    const uint8_t *source;
    size_t source_len;
    const uint8_t *target;
    size_t target_len;
    const uint8_t *payload;
    size_t payload_len;
} kennel_frame;

/* Decodes the frame at the start of data[0..len). Applies PROTOCOL §2.1's checks as soon as the
 * bytes each needs are there. On OK and INVALID_NAME, *consumed is the frame's size and *frame is
 * filled; on NEED_MORE with a whole header, *frame_size (if not NULL) says how big the frame will
 * be (0 before that). max_frame_size bounds header + body. */
KENNEL_EXPORT enum kennel_decode_result kennel_wire_decode(const uint8_t *data, size_t len, uint32_t max_frame_size,
                                                           kennel_frame *frame, size_t *consumed, size_t *frame_size);
KENNEL_EXPORT const char *kennel_decode_result_name(enum kennel_decode_result result);
/* The Error code a peer is sent for a decode failure (0 for OK and NEED_MORE). */
KENNEL_EXPORT uint16_t kennel_wire_error_for(enum kennel_decode_result result);

/* PROTOCOL §3: 1..64 bytes of [A-Za-z0-9._-], not starting with '-' or '.'. */
KENNEL_EXPORT int kennel_wire_valid_name(const uint8_t *name, size_t len);
/* A name, or NAME@BOARD (a name on another board, PROTOCOL 5.8): where a message may be sent and
 * who a delivered one may be from. Never a name to register. */
KENNEL_EXPORT int kennel_wire_valid_target(const uint8_t *target, size_t len);

/* Bytes a frame with these parts takes. */
KENNEL_EXPORT size_t kennel_wire_frame_size(size_t source_len, size_t target_len, size_t payload_len);
/* Writes the 16-byte header at dst. */
KENNEL_EXPORT void kennel_wire_write_header(uint8_t *dst, uint8_t type, uint32_t body_length, uint32_t message_id,
                                            uint8_t source_len, uint8_t target_len, uint16_t flags);
/* Writes a whole frame to dst[0..cap): returns its size, or 0 when it does not fit in cap, a name
 * is over 64 bytes or the body over 4 GiB. The parts must not overlap dst. */
KENNEL_EXPORT size_t kennel_wire_encode(uint8_t *dst, size_t cap, const kennel_frame *frame);

/* --- Payloads (PROTOCOL §4). Encoders return the bytes written, or 0 when cap is too small;
 * decoders return 0 on success and -1 on a malformed payload. --- */

typedef struct kennel_hello {
    uint8_t role;              /* enum kennel_role */
    uint16_t protocol_version; /* KENNEL_WIRE_VERSION */
    uint32_t pid;              /* 0: none claimed */
    int has_features;          /* HasFeatures set, `features` present (PROTOCOL §4.1.1) */
    uint32_t features;
    const uint8_t *token;      /* monitors only */
    size_t token_len;
} kennel_hello;
KENNEL_EXPORT size_t kennel_wire_encode_hello(uint8_t *dst, size_t cap, const kennel_hello *hello);
KENNEL_EXPORT int kennel_wire_decode_hello(const uint8_t *payload, size_t len, kennel_hello *hello);

typedef struct kennel_welcome {
    uint16_t protocol_version;
    uint32_t max_frame_size;   /* at least KENNEL_WIRE_MIN_FRAME_SIZE_LIMIT, else malformed */
    int has_features;
    uint32_t features;
    const uint8_t *broker_version; /* UTF-8, informational */
    size_t broker_version_len;
} kennel_welcome;
KENNEL_EXPORT size_t kennel_wire_encode_welcome(uint8_t *dst, size_t cap, const kennel_welcome *welcome);
KENNEL_EXPORT int kennel_wire_decode_welcome(const uint8_t *payload, size_t len, kennel_welcome *welcome);

typedef struct kennel_error_payload {
    uint16_t code;             /* enum kennel_error_code, or one this side does not know */
    const uint8_t *text;       /* UTF-8 for people; never parse it */
    size_t text_len;
} kennel_error_payload;
KENNEL_EXPORT size_t kennel_wire_encode_error(uint8_t *dst, size_t cap, const kennel_error_payload *error);
KENNEL_EXPORT int kennel_wire_decode_error(const uint8_t *payload, size_t len, kennel_error_payload *error);

KENNEL_EXPORT size_t kennel_wire_encode_delivery_status(uint8_t *dst, size_t cap, uint16_t status);
KENNEL_EXPORT int kennel_wire_decode_delivery_status(const uint8_t *payload, size_t len, uint16_t *status);

typedef struct kennel_watchdog_terms {
    uint32_t interval_ms;      /* 0: the broker's default */
    uint16_t allowed_misses;   /* 0: the broker's default */
    uint8_t action;            /* enum kennel_expiry_action */
} kennel_watchdog_terms;
#define KENNEL_WATCHDOG_TERMS_SIZE 8u
KENNEL_EXPORT size_t kennel_wire_encode_watchdog_terms(uint8_t *dst, size_t cap, const kennel_watchdog_terms *terms);
KENNEL_EXPORT int kennel_wire_decode_watchdog_terms(const uint8_t *payload, size_t len, kennel_watchdog_terms *terms);

/* --- Topics (PROTOCOL §5.5). The decoders check the layout only; the grammar of names and filters
 * is the broker's to check (it answers invalid_topic). --- */

/* Subscribe, Unsubscribe: u16 length, the filter; later bytes reserved (ignored). */
KENNEL_EXPORT size_t kennel_wire_encode_topic_filter(uint8_t *dst, size_t cap, const uint8_t *filter, size_t len);
KENNEL_EXPORT int kennel_wire_decode_topic_filter(const uint8_t *payload, size_t len, const uint8_t **filter,
                                                  size_t *filter_len);

/* Publish, Publication: u16 length, the topic, the message (the rest). */
typedef struct kennel_topic_message {
    const uint8_t *topic;
    size_t topic_len;            /* at most 65535 */
    const uint8_t *message;
    size_t message_len;
} kennel_topic_message;
#define KENNEL_TOPIC_PREFIX_SIZE 2u
KENNEL_EXPORT size_t kennel_wire_encode_topic_message(uint8_t *dst, size_t cap, const kennel_topic_message *m);
KENNEL_EXPORT int kennel_wire_decode_topic_message(const uint8_t *payload, size_t len, kennel_topic_message *m);

/* TopicAck: u16 result (0 or an error code), u32 count, text (the rest). */
typedef struct kennel_topic_ack_payload {
    uint16_t result;
    uint32_t count;
    const uint8_t *text;
    size_t text_len;
} kennel_topic_ack_payload;
KENNEL_EXPORT size_t kennel_wire_encode_topic_ack(uint8_t *dst, size_t cap, const kennel_topic_ack_payload *a);
KENNEL_EXPORT int kennel_wire_decode_topic_ack(const uint8_t *payload, size_t len, kennel_topic_ack_payload *a);

/* PublishStatus: u16 result, u32 delivered, u32 notTaken, text (the rest). */
typedef struct kennel_publish_status_payload {
    uint16_t result;
    uint32_t delivered;
    uint32_t not_taken;
    const uint8_t *text;
    size_t text_len;
} kennel_publish_status_payload;
KENNEL_EXPORT size_t kennel_wire_encode_publish_status(uint8_t *dst, size_t cap,
                                                       const kennel_publish_status_payload *s);
KENNEL_EXPORT int kennel_wire_decode_publish_status(const uint8_t *payload, size_t len,
                                                    kennel_publish_status_payload *s);

/* --- Calls (PROTOCOL §5.6). --- */

/* Call, CallIncoming: u32 deadlineMs, the request (the rest). */
typedef struct kennel_call_request {
    uint32_t deadline_ms;
    const uint8_t *request;
    size_t request_len;
} kennel_call_request;
#define KENNEL_CALL_REQUEST_PREFIX_SIZE 4u
KENNEL_EXPORT size_t kennel_wire_encode_call_request(uint8_t *dst, size_t cap, const kennel_call_request *r);
KENNEL_EXPORT int kennel_wire_decode_call_request(const uint8_t *payload, size_t len, kennel_call_request *r);

/* Reply: u16 code (0 a reply, else the callee's error), the body (the rest). */
typedef struct kennel_call_reply {
    uint16_t code;
    const uint8_t *body;
    size_t body_len;
} kennel_call_reply;
#define KENNEL_CALL_REPLY_PREFIX_SIZE 2u
KENNEL_EXPORT size_t kennel_wire_encode_call_reply(uint8_t *dst, size_t cap, const kennel_call_reply *r);
KENNEL_EXPORT int kennel_wire_decode_call_reply(const uint8_t *payload, size_t len, kennel_call_reply *r);

/* CallResult: u16 outcome, u16 code, the body (the rest). */
typedef struct kennel_call_result_payload {
    uint16_t outcome;            /* enum kennel_call_outcome, or one this side does not know */
    uint16_t code;
    const uint8_t *body;
    size_t body_len;
} kennel_call_result_payload;
KENNEL_EXPORT size_t kennel_wire_encode_call_result(uint8_t *dst, size_t cap, const kennel_call_result_payload *r);
KENNEL_EXPORT int kennel_wire_decode_call_result(const uint8_t *payload, size_t len, kennel_call_result_payload *r);

/* Names for logs, the same words as the C++ frameTypeName(), errorCodeName(), deliveryStatusName(),
 * callOutcomeName() (and "link_lost" for KENNEL_CALL_LINK_LOST). */
KENNEL_EXPORT const char *kennel_call_outcome_name(uint16_t outcome);
KENNEL_EXPORT const char *kennel_frame_type_name(uint8_t type);
KENNEL_EXPORT const char *kennel_error_code_name(uint16_t code);
KENNEL_EXPORT const char *kennel_delivery_status_name(uint16_t status);

#ifdef __cplusplus
}
#endif

#endif /* KENNEL_WIRE_H */
