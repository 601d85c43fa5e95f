/* The C wire codec (include/kennel/wire.h). Layouts and check order follow docs/PROTOCOL.md §2-§5
 * exactly as clientlib/protocol/framecodec.cpp does; tests/auto/cwire holds the two together. */
#include "kennel/wire.h"

#include <string.h>

enum {
    MAGIC_OFFSET = 0,
    VERSION_OFFSET = 2,
    TYPE_OFFSET = 3,
    BODY_LENGTH_OFFSET = 4,
    MESSAGE_ID_OFFSET = 8,
    SOURCE_LENGTH_OFFSET = 12,
    TARGET_LENGTH_OFFSET = 13,
    FLAGS_OFFSET = 14,

    HELLO_FIXED_SIZE = 8,
    WELCOME_FIXED_SIZE = 8,
    FEATURES_SIZE = 4,
    ERROR_FIXED_SIZE = 2,
    DELIVERY_STATUS_SIZE = 2,
    TOPIC_ACK_FIXED_SIZE = 6,
    PUBLISH_STATUS_FIXED_SIZE = 10,
    CALL_RESULT_FIXED_SIZE = 4,
    MAX_TOPIC_LENGTH = 0xFFFF
};

static uint16_t get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
/* memcpy from a null pointer is undefined even for 0 bytes, and empty names are common. */
static void copy(uint8_t *dst, const uint8_t *src, size_t n)
{
    if (n)
        memcpy(dst, src, n);
}

int kennel_wire_valid_name(const uint8_t *name, size_t len)
{
    if (!name || len == 0 || len > KENNEL_WIRE_MAX_NAME_LENGTH)
        return 0;
    /* never read as an option or a hidden file. */
    if (name[0] == '-' || name[0] == '.')
        return 0;
    for (size_t i = 0; i < len; ++i) {
        const uint8_t c = name[i];
        const int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.'
                       || c == '_' || c == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

int kennel_wire_valid_target(const uint8_t *target, size_t len)
{
    if (!target || len == 0 || len > KENNEL_WIRE_MAX_NAME_LENGTH)
        return 0;
    const uint8_t *at = memchr(target, '@', len);
    if (!at)
        return kennel_wire_valid_name(target, len);
    /* NAME@BOARD (PROTOCOL 5.8): both parts names, one '@' only. */
    const size_t left = (size_t)(at - target);
    return kennel_wire_valid_name(target, left) && kennel_wire_valid_name(at + 1, len - left - 1);
}

enum kennel_decode_result kennel_wire_decode(const uint8_t *p, size_t size, uint32_t max_frame_size,
                                             kennel_frame *frame, size_t *consumed, size_t *frame_size)
{
    if (consumed)
        *consumed = 0;
    if (frame_size)
        *frame_size = 0;
    /* Each check as soon as the bytes it needs are in (PROTOCOL §2.1): a peer that does not speak
     * the protocol is refused on its first byte. */
    if (size < 1)
        return KENNEL_DECODE_NEED_MORE;
    if (p[MAGIC_OFFSET] != (uint8_t)(KENNEL_WIRE_MAGIC >> 8))
        return KENNEL_DECODE_BAD_MAGIC;
    if (size < 2)
        return KENNEL_DECODE_NEED_MORE;
    if (p[MAGIC_OFFSET + 1] != (uint8_t)(KENNEL_WIRE_MAGIC & 0xFF))
        return KENNEL_DECODE_BAD_MAGIC;
    if (size < 3)
        return KENNEL_DECODE_NEED_MORE;
    if (p[VERSION_OFFSET] != KENNEL_WIRE_VERSION)
        return KENNEL_DECODE_UNSUPPORTED_VERSION;
    if (size < KENNEL_WIRE_HEADER_SIZE)
        return KENNEL_DECODE_NEED_MORE;

    /* Check 3, in 64 bits: bodyLength may be 0xFFFFFFFF. */
    const uint32_t body_length = get32(p + BODY_LENGTH_OFFSET);
    const uint64_t total = (uint64_t)KENNEL_WIRE_HEADER_SIZE + body_length;
    if (total > max_frame_size || total > (uint64_t)SIZE_MAX)
        return KENNEL_DECODE_FRAME_TOO_LARGE;
    /* Check 4, still from the header alone. */
    const uint8_t source_len = p[SOURCE_LENGTH_OFFSET];
    const uint8_t target_len = p[TARGET_LENGTH_OFFSET];
    if (source_len > KENNEL_WIRE_MAX_NAME_LENGTH || target_len > KENNEL_WIRE_MAX_NAME_LENGTH
        || (uint32_t)source_len + target_len > body_length)
        return KENNEL_DECODE_MALFORMED;

    if (frame_size)
        *frame_size = (size_t)total;
    if ((uint64_t)size < total)
        return KENNEL_DECODE_NEED_MORE;

    kennel_frame f;
    f.type = p[TYPE_OFFSET]; /* unknown types are the caller's business (§2.1) */
    f.message_id = get32(p + MESSAGE_ID_OFFSET);
    f.flags = get16(p + FLAGS_OFFSET);
    f.source = p + KENNEL_WIRE_HEADER_SIZE;
    f.source_len = source_len;
    f.target = f.source + source_len;
    f.target_len = target_len;
    f.payload = f.target + target_len;
    f.payload_len = (size_t)body_length - source_len - target_len;
    if (frame)
        *frame = f;
    if (consumed)
        *consumed = (size_t)total;
    /* Check 5: empty names are legal at this level; framing is intact either way. */
    if ((source_len && !kennel_wire_valid_target(f.source, source_len))
        || (target_len && !kennel_wire_valid_target(f.target, target_len)))
        return KENNEL_DECODE_INVALID_NAME;
    return KENNEL_DECODE_OK;
}

const char *kennel_decode_result_name(enum kennel_decode_result result)
{
    switch (result) {
    case KENNEL_DECODE_OK: return "none";
    case KENNEL_DECODE_NEED_MORE: return "need_more";
    case KENNEL_DECODE_BAD_MAGIC: return "bad_magic";
    case KENNEL_DECODE_UNSUPPORTED_VERSION: return "unsupported_version";
    case KENNEL_DECODE_FRAME_TOO_LARGE: return "frame_too_large";
    case KENNEL_DECODE_MALFORMED: return "malformed";
    case KENNEL_DECODE_INVALID_NAME: return "invalid_name";
    }
    return "unknown";
}

uint16_t kennel_wire_error_for(enum kennel_decode_result result)
{
    switch (result) {
    case KENNEL_DECODE_OK:
    case KENNEL_DECODE_NEED_MORE: return KENNEL_ERROR_NONE;
    case KENNEL_DECODE_BAD_MAGIC: return KENNEL_ERROR_BAD_MAGIC;
    case KENNEL_DECODE_UNSUPPORTED_VERSION: return KENNEL_ERROR_UNSUPPORTED_VERSION;
    case KENNEL_DECODE_FRAME_TOO_LARGE: return KENNEL_ERROR_FRAME_TOO_LARGE;
    case KENNEL_DECODE_MALFORMED: return KENNEL_ERROR_MALFORMED_FRAME;
    case KENNEL_DECODE_INVALID_NAME: return KENNEL_ERROR_INVALID_NAME;
    }
    return KENNEL_ERROR_MALFORMED_FRAME;
}

size_t kennel_wire_frame_size(size_t source_len, size_t target_len, size_t payload_len)
{
    return KENNEL_WIRE_HEADER_SIZE + source_len + target_len + payload_len;
}

void kennel_wire_write_header(uint8_t *dst, uint8_t type, uint32_t body_length, uint32_t message_id,
                              uint8_t source_len, uint8_t target_len, uint16_t flags)
{
    put16(dst + MAGIC_OFFSET, KENNEL_WIRE_MAGIC);
    dst[VERSION_OFFSET] = KENNEL_WIRE_VERSION;
    dst[TYPE_OFFSET] = type;
    put32(dst + BODY_LENGTH_OFFSET, body_length);
    put32(dst + MESSAGE_ID_OFFSET, message_id);
    dst[SOURCE_LENGTH_OFFSET] = source_len;
    dst[TARGET_LENGTH_OFFSET] = target_len;
    put16(dst + FLAGS_OFFSET, flags);
}

size_t kennel_wire_encode(uint8_t *dst, size_t cap, const kennel_frame *f)
{
    if (f->source_len > KENNEL_WIRE_MAX_NAME_LENGTH || f->target_len > KENNEL_WIRE_MAX_NAME_LENGTH)
        return 0;
    const uint64_t body = (uint64_t)f->source_len + f->target_len + (uint64_t)f->payload_len;
    if (body > UINT32_MAX || body + KENNEL_WIRE_HEADER_SIZE > cap)
        return 0;
    kennel_wire_write_header(dst, f->type, (uint32_t)body, f->message_id, (uint8_t)f->source_len,
                             (uint8_t)f->target_len, f->flags);
    uint8_t *p = dst + KENNEL_WIRE_HEADER_SIZE;
    copy(p, f->source, f->source_len);
    p += f->source_len;
    copy(p, f->target, f->target_len);
    p += f->target_len;
    copy(p, f->payload, f->payload_len);
    return (size_t)(body + KENNEL_WIRE_HEADER_SIZE);
}

/* --- Payloads: fixed fields first, then at most one field running to the end (PROTOCOL §4). */

size_t kennel_wire_encode_hello(uint8_t *dst, size_t cap, const kennel_hello *h)
{
    const size_t fixed = HELLO_FIXED_SIZE + (h->has_features ? FEATURES_SIZE : 0);
    if (cap < fixed || cap - fixed < h->token_len)
        return 0;
    dst[0] = h->role;
    dst[1] = h->has_features ? KENNEL_HELLO_HAS_FEATURES : 0;
    put16(dst + 2, h->protocol_version);
    put32(dst + 4, h->pid);
    if (h->has_features)
        put32(dst + HELLO_FIXED_SIZE, h->features);
    copy(dst + fixed, h->token, h->token_len);
    return fixed + h->token_len;
}

int kennel_wire_decode_hello(const uint8_t *p, size_t len, kennel_hello *h)
{
    if (len < HELLO_FIXED_SIZE)
        return -1;
    if (p[0] != KENNEL_ROLE_CLIENT && p[0] != KENNEL_ROLE_MONITOR)
        return -1;
    kennel_hello out;
    memset(&out, 0, sizeof out);
    out.role = p[0];
    out.protocol_version = get16(p + 2);
    out.pid = get32(p + 4);
    size_t fixed = HELLO_FIXED_SIZE;
    if (p[1] & KENNEL_HELLO_HAS_FEATURES) { /* the other bits are reserved and ignored */
        if (len < HELLO_FIXED_SIZE + FEATURES_SIZE)
            return -1;
        out.has_features = 1;
        out.features = get32(p + HELLO_FIXED_SIZE);
        fixed += FEATURES_SIZE;
    }
    out.token = p + fixed;
    out.token_len = len - fixed;
    *h = out;
    return 0;
}

size_t kennel_wire_encode_welcome(uint8_t *dst, size_t cap, const kennel_welcome *w)
{
    const size_t fixed = WELCOME_FIXED_SIZE + (w->has_features ? FEATURES_SIZE : 0);
    if (cap < fixed || cap - fixed < w->broker_version_len)
        return 0;
    put16(dst, w->protocol_version);
    put16(dst + 2, w->has_features ? KENNEL_WELCOME_HAS_FEATURES : 0);
    put32(dst + 4, w->max_frame_size);
    if (w->has_features)
        put32(dst + WELCOME_FIXED_SIZE, w->features);
    copy(dst + fixed, w->broker_version, w->broker_version_len);
    return fixed + w->broker_version_len;
}

int kennel_wire_decode_welcome(const uint8_t *p, size_t len, kennel_welcome *w)
{
    if (len < WELCOME_FIXED_SIZE)
        return -1;
    kennel_welcome out;
    memset(&out, 0, sizeof out);
    out.protocol_version = get16(p);
    out.max_frame_size = get32(p + 4);
    /* A figure below the floor is a corrupt Welcome, not a limit to obey (PROTOCOL §4.1, §8.1). */
    if (out.max_frame_size < KENNEL_WIRE_MIN_FRAME_SIZE_LIMIT)
        return -1;
    size_t fixed = WELCOME_FIXED_SIZE;
    if (get16(p + 2) & KENNEL_WELCOME_HAS_FEATURES) {
        if (len < WELCOME_FIXED_SIZE + FEATURES_SIZE)
            return -1;
        out.has_features = 1;
        out.features = get32(p + WELCOME_FIXED_SIZE);
        fixed += FEATURES_SIZE;
    }
    out.broker_version = p + fixed;
    out.broker_version_len = len - fixed;
    *w = out;
    return 0;
}

size_t kennel_wire_encode_error(uint8_t *dst, size_t cap, const kennel_error_payload *e)
{
    if (cap < ERROR_FIXED_SIZE || cap - ERROR_FIXED_SIZE < e->text_len)
        return 0;
    put16(dst, e->code);
    copy(dst + ERROR_FIXED_SIZE, e->text, e->text_len);
    return ERROR_FIXED_SIZE + e->text_len;
}

int kennel_wire_decode_error(const uint8_t *p, size_t len, kennel_error_payload *e)
{
    if (len < ERROR_FIXED_SIZE)
        return -1;
    e->code = get16(p); /* unknown codes are kept (PROTOCOL §4.3) */
    e->text = p + ERROR_FIXED_SIZE;
    e->text_len = len - ERROR_FIXED_SIZE;
    return 0;
}

size_t kennel_wire_encode_delivery_status(uint8_t *dst, size_t cap, uint16_t status)
{
    if (cap < DELIVERY_STATUS_SIZE)
        return 0;
    put16(dst, status);
    return DELIVERY_STATUS_SIZE;
}

int kennel_wire_decode_delivery_status(const uint8_t *p, size_t len, uint16_t *status)
{
    if (len < DELIVERY_STATUS_SIZE)
        return -1;
    *status = get16(p); /* unknown statuses are kept; later bytes ignored (PROTOCOL §5.3, §8.2) */
    return 0;
}

size_t kennel_wire_encode_watchdog_terms(uint8_t *dst, size_t cap, const kennel_watchdog_terms *t)
{
    if (cap < KENNEL_WATCHDOG_TERMS_SIZE)
        return 0;
    put32(dst, t->interval_ms);
    put16(dst + 4, t->allowed_misses);
    dst[6] = t->action;
    dst[7] = 0;
    return KENNEL_WATCHDOG_TERMS_SIZE;
}

int kennel_wire_decode_watchdog_terms(const uint8_t *p, size_t len, kennel_watchdog_terms *t)
{
    if (len < KENNEL_WATCHDOG_TERMS_SIZE)
        return -1;
    /* An action this side cannot carry out must not be accepted as if it could (PROTOCOL §4.4). */
    if (p[6] > KENNEL_EXPIRY_NOTIFY)
        return -1;
    t->interval_ms = get32(p);
    t->allowed_misses = get16(p + 4);
    t->action = p[6];
    return 0;
}

/* --- Topics (PROTOCOL §5.5) --- */

size_t kennel_wire_encode_topic_filter(uint8_t *dst, size_t cap, const uint8_t *filter, size_t len)
{
    if (len > MAX_TOPIC_LENGTH || cap < KENNEL_TOPIC_PREFIX_SIZE || cap - KENNEL_TOPIC_PREFIX_SIZE < len)
        return 0;
    put16(dst, (uint16_t)len);
    copy(dst + KENNEL_TOPIC_PREFIX_SIZE, filter, len);
    return KENNEL_TOPIC_PREFIX_SIZE + len;
}

int kennel_wire_decode_topic_filter(const uint8_t *p, size_t len, const uint8_t **filter, size_t *filter_len)
{
    if (len < KENNEL_TOPIC_PREFIX_SIZE)
        return -1;
    const size_t n = get16(p);
    if (len - KENNEL_TOPIC_PREFIX_SIZE < n)
        return -1;
    *filter = p + KENNEL_TOPIC_PREFIX_SIZE; /* later bytes are reserved: ignored */
    *filter_len = n;
    return 0;
}

size_t kennel_wire_encode_topic_message(uint8_t *dst, size_t cap, const kennel_topic_message *m)
{
    const size_t size = KENNEL_TOPIC_PREFIX_SIZE + m->topic_len;
    if (m->topic_len > MAX_TOPIC_LENGTH || cap < size || cap - size < m->message_len)
        return 0;
    put16(dst, (uint16_t)m->topic_len);
    copy(dst + KENNEL_TOPIC_PREFIX_SIZE, m->topic, m->topic_len);
    copy(dst + size, m->message, m->message_len);
    return size + m->message_len;
}

int kennel_wire_decode_topic_message(const uint8_t *p, size_t len, kennel_topic_message *m)
{
    const uint8_t *topic;
    size_t topic_len;
    if (kennel_wire_decode_topic_filter(p, len, &topic, &topic_len) != 0)
        return -1;
    m->topic = topic;
    m->topic_len = topic_len;
    m->message = topic + topic_len;
    m->message_len = len - KENNEL_TOPIC_PREFIX_SIZE - topic_len;
    return 0;
}

size_t kennel_wire_encode_topic_ack(uint8_t *dst, size_t cap, const kennel_topic_ack_payload *a)
{
    if (cap < TOPIC_ACK_FIXED_SIZE || cap - TOPIC_ACK_FIXED_SIZE < a->text_len)
        return 0;
    put16(dst, a->result);
    put32(dst + 2, a->count);
    copy(dst + TOPIC_ACK_FIXED_SIZE, a->text, a->text_len);
    return TOPIC_ACK_FIXED_SIZE + a->text_len;
}

int kennel_wire_decode_topic_ack(const uint8_t *p, size_t len, kennel_topic_ack_payload *a)
{
    if (len < TOPIC_ACK_FIXED_SIZE)
        return -1;
    a->result = get16(p); /* unknown codes are kept (PROTOCOL §4.3) */
    a->count = get32(p + 2);
    a->text = p + TOPIC_ACK_FIXED_SIZE;
    a->text_len = len - TOPIC_ACK_FIXED_SIZE;
    return 0;
}

size_t kennel_wire_encode_publish_status(uint8_t *dst, size_t cap, const kennel_publish_status_payload *s)
{
    if (cap < PUBLISH_STATUS_FIXED_SIZE || cap - PUBLISH_STATUS_FIXED_SIZE < s->text_len)
        return 0;
    put16(dst, s->result);
    put32(dst + 2, s->delivered);
    put32(dst + 6, s->not_taken);
    copy(dst + PUBLISH_STATUS_FIXED_SIZE, s->text, s->text_len);
    return PUBLISH_STATUS_FIXED_SIZE + s->text_len;
}

int kennel_wire_decode_publish_status(const uint8_t *p, size_t len, kennel_publish_status_payload *s)
{
    if (len < PUBLISH_STATUS_FIXED_SIZE)
        return -1;
    s->result = get16(p);
    s->delivered = get32(p + 2);
    s->not_taken = get32(p + 6);
    s->text = p + PUBLISH_STATUS_FIXED_SIZE;
    s->text_len = len - PUBLISH_STATUS_FIXED_SIZE;
    return 0;
}

/* --- Calls (PROTOCOL §5.6) --- */

size_t kennel_wire_encode_call_request(uint8_t *dst, size_t cap, const kennel_call_request *r)
{
    if (cap < KENNEL_CALL_REQUEST_PREFIX_SIZE || cap - KENNEL_CALL_REQUEST_PREFIX_SIZE < r->request_len)
        return 0;
    put32(dst, r->deadline_ms);
    copy(dst + KENNEL_CALL_REQUEST_PREFIX_SIZE, r->request, r->request_len);
    return KENNEL_CALL_REQUEST_PREFIX_SIZE + r->request_len;
}

int kennel_wire_decode_call_request(const uint8_t *p, size_t len, kennel_call_request *r)
{
    if (len < KENNEL_CALL_REQUEST_PREFIX_SIZE)
        return -1;
    r->deadline_ms = get32(p);
    r->request = p + KENNEL_CALL_REQUEST_PREFIX_SIZE;
    r->request_len = len - KENNEL_CALL_REQUEST_PREFIX_SIZE;
    return 0;
}

size_t kennel_wire_encode_call_reply(uint8_t *dst, size_t cap, const kennel_call_reply *r)
{
    if (cap < KENNEL_CALL_REPLY_PREFIX_SIZE || cap - KENNEL_CALL_REPLY_PREFIX_SIZE < r->body_len)
        return 0;
    put16(dst, r->code);
    copy(dst + KENNEL_CALL_REPLY_PREFIX_SIZE, r->body, r->body_len);
    return KENNEL_CALL_REPLY_PREFIX_SIZE + r->body_len;
}

int kennel_wire_decode_call_reply(const uint8_t *p, size_t len, kennel_call_reply *r)
{
    if (len < KENNEL_CALL_REPLY_PREFIX_SIZE)
        return -1;
    r->code = get16(p);
    r->body = p + KENNEL_CALL_REPLY_PREFIX_SIZE;
    r->body_len = len - KENNEL_CALL_REPLY_PREFIX_SIZE;
    return 0;
}

size_t kennel_wire_encode_call_result(uint8_t *dst, size_t cap, const kennel_call_result_payload *r)
{
    if (cap < CALL_RESULT_FIXED_SIZE || cap - CALL_RESULT_FIXED_SIZE < r->body_len)
        return 0;
    put16(dst, r->outcome);
    put16(dst + 2, r->code);
    copy(dst + CALL_RESULT_FIXED_SIZE, r->body, r->body_len);
    return CALL_RESULT_FIXED_SIZE + r->body_len;
}

int kennel_wire_decode_call_result(const uint8_t *p, size_t len, kennel_call_result_payload *r)
{
    if (len < CALL_RESULT_FIXED_SIZE)
        return -1;
    r->outcome = get16(p); /* outcomes this side does not know keep their number */
    r->code = get16(p + 2);
    r->body = p + CALL_RESULT_FIXED_SIZE;
    r->body_len = len - CALL_RESULT_FIXED_SIZE;
    return 0;
}

const char *kennel_call_outcome_name(uint16_t outcome)
{
    static const char *const names[] = {
        "replied", "error_reply", "timeout", "no_such_client", "callee_gone", "too_many_calls",
        "not_callable", "queue_full", "invalid_target", "shutting_down", "duplicate_id", "start_failed",
        "policy_denied",
    };
    if (outcome == KENNEL_CALL_LINK_LOST)
        return "link_lost";
    return outcome < sizeof names / sizeof names[0] ? names[outcome] : "unknown";
}

const char *kennel_frame_type_name(uint8_t type)
{
    switch (type) {
    case KENNEL_FRAME_HELLO: return "hello";
    case KENNEL_FRAME_WELCOME: return "welcome";
    case KENNEL_FRAME_ERROR: return "error";
    case KENNEL_FRAME_BYE: return "bye";
    case KENNEL_FRAME_PING: return "ping";
    case KENNEL_FRAME_PONG: return "pong";
    case KENNEL_FRAME_SEND: return "send";
    case KENNEL_FRAME_DELIVER: return "deliver";
    case KENNEL_FRAME_DELIVERY_STATUS: return "delivery_status";
    case KENNEL_FRAME_DELIVER_ACK: return "deliver_ack";
    case KENNEL_FRAME_WATCHDOG_REGISTER: return "watchdog_register";
    case KENNEL_FRAME_WATCHDOG_FEED: return "watchdog_feed";
    case KENNEL_FRAME_WATCHDOG_ACK: return "watchdog_ack";
    case KENNEL_FRAME_CALL: return "call";
    case KENNEL_FRAME_CALL_INCOMING: return "call_incoming";
    case KENNEL_FRAME_REPLY: return "reply";
    case KENNEL_FRAME_CALL_RESULT: return "call_result";
    case KENNEL_FRAME_SUBSCRIBE: return "subscribe";
    case KENNEL_FRAME_UNSUBSCRIBE: return "unsubscribe";
    case KENNEL_FRAME_TOPIC_ACK: return "topic_ack";
    case KENNEL_FRAME_PUBLISH: return "publish";
    case KENNEL_FRAME_PUBLISH_STATUS: return "publish_status";
    case KENNEL_FRAME_PUBLICATION: return "publication";
    default: break;
    }
    if (type >= KENNEL_FRAME_MONITOR_FIRST && type <= KENNEL_FRAME_MONITOR_LAST)
        return "monitor";
    return "unknown";
}

const char *kennel_error_code_name(uint16_t code)
{
    static const char *const names[] = {
        "none", "bad_magic", "unsupported_version", "frame_too_large", "malformed_frame",
        "unknown_frame_type", "invalid_name", "name_taken", "not_registered", "already_registered",
        "register_timeout", "too_many_clients", "source_mismatch", "pid_mismatch", "not_permitted",
        "shutting_down", "incomplete_frame_timeout", "invalid_watchdog_terms", "watchdog_unavailable",
        "watchdog_expired", "idle_timeout", "over_budget",
    };
    if (code == KENNEL_ERROR_INVALID_CALL)
        return "invalid_call"; /* calls, PROTOCOL §5.6 */
    if (code == KENNEL_ERROR_NAME_RESERVED)
        return "name_reserved"; /* access, PROTOCOL §4.5 */
    if (code == KENNEL_ERROR_POLICY_DENIED)
        return "policy_denied";
    if (code == KENNEL_ERROR_READ_ONLY)
        return "read_only"; /* monitor roles, PROTOCOL §6.6 */
    switch (code) { /* topics (PROTOCOL §5.5) */
    case KENNEL_ERROR_INVALID_TOPIC: return "invalid_topic";
    case KENNEL_ERROR_TOO_MANY_SUBSCRIPTIONS: return "too_many_subscriptions";
    case KENNEL_ERROR_RESERVED_TOPIC: return "reserved_topic";
    case KENNEL_ERROR_RETAINED_STORE_FULL: return "retained_store_full";
    default: break;
    }
    return code < sizeof names / sizeof names[0] ? names[code] : "unknown";
}

const char *kennel_delivery_status_name(uint16_t status)
{
    static const char *const names[] = {
        "delivered", "no_such_client", "queue_full", "too_large_for_target",
        "not_registered", "sender_name_unfit", "invalid_target", "shutting_down",
        "held", "expired", "dropped_name_count", "dropped_name_bytes", "dropped_total", "start_failed",
        "unknown", "unknown", "unknown", "unknown", /* 14..17: not assigned */
        "policy_denied",
        "remote_timeout", "remote_dropped",
    };
    if (status == KENNEL_STATUS_UNACKNOWLEDGED)
        return "unacknowledged";
    return status < sizeof names / sizeof names[0] ? names[status] : "unknown";
}
