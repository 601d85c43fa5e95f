/* libkennel (include/kennel/kennel.h): one non-blocking socket, one receive buffer decoded in
 * place, one output buffer. No threads; blocking only where the API says it waits. Topics and
 * calls are in topics_calls.c. */
#define _POSIX_C_SOURCE 200809L
#include "kennel/kennel.h"

#include "internal.h"
#include "transport.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int kn_fail(kennel *k, int result, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->last_error, sizeof k->last_error, fmt, ap);
    va_end(ap);
    return result;
}

const char *kennel_strerror(int result)
{
    switch (result) {
    case KENNEL_OK: return "success";
    case KENNEL_E_INVAL: return "invalid argument";
    case KENNEL_E_NOMEM: return "out of memory";
    case KENNEL_E_ADDRESS: return "bad broker address";
    case KENNEL_E_CONNECT: return "cannot connect to the broker";
    case KENNEL_E_STATE: return "not possible in this state";
    case KENNEL_E_IO: return "socket error";
    case KENNEL_E_CLOSED: return "connection closed by the broker";
    case KENNEL_E_PROTOCOL: return "protocol violation by the broker";
    case KENNEL_E_REFUSED: return "refused by the broker";
    case KENNEL_E_TIMEOUT: return "timed out";
    case KENNEL_E_AGAIN: return "output buffer full, try again";
    case KENNEL_E_TOOLARGE: return "message too large";
    case KENNEL_E_UNSUPPORTED: return "not offered by the broker";
    case KENNEL_E_BUSY: return "too many calls outstanding";
    default: return "unknown error";
    }
}

kennel *kennel_new(void *userdata)
{
    kennel *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->userdata = userdata;
    k->fd = -1;
    k->max_output = DEFAULT_MAX_OUTPUT;
    k->max_frame_size = KENNEL_WIRE_DEFAULT_MAX_FRAME_SIZE;
    k->max_calls = DEFAULT_MAX_CALLS;
    k->deliver_ack = KENNEL_ACK_AUTO;
    return k;
}

static void close_socket(kennel *k)
{
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
    k->registered = 0;
    k->in_len = k->in_off = 0;
    k->out_len = k->out_off = 0;
}

void kennel_free(kennel *k)
{
    if (!k)
        return;
    close_socket(k);
    free(k->in);
    free(k->out);
    free(k->calls);
    free(k);
}

void *kennel_userdata(const kennel *k) { return k ? k->userdata : NULL; }
void kennel_set_message_callback(kennel *k, kennel_message_cb cb) { k->on_message = cb; }
void kennel_set_status_callback(kennel *k, kennel_status_cb cb) { k->on_status = cb; }
void kennel_set_error_callback(kennel *k, kennel_error_cb cb) { k->on_error = cb; }
void kennel_set_disconnect_callback(kennel *k, kennel_disconnect_cb cb) { k->on_disconnect = cb; }

int kennel_set_tick(kennel *k, unsigned interval_ms, kennel_tick_cb cb)
{
    if (!k || (interval_ms && !cb))
        return KENNEL_E_INVAL;
    k->tick_ms = interval_ms;
    k->on_tick = cb;
    k->next_tick = now_ms() + interval_ms;
    return KENNEL_OK;
}

int kennel_set_max_output(kennel *k, size_t bytes)
{
    if (!k || bytes < KENNEL_WIRE_MIN_FRAME_SIZE_LIMIT)
        return KENNEL_E_INVAL;
    k->max_output = bytes;
    return KENNEL_OK;
}

int kennel_set_deliver_ack(kennel *k, int mode)
{
    if (!k || mode < KENNEL_ACK_OFF || mode > KENNEL_ACK_MANUAL)
        return KENNEL_E_INVAL;
    if (k->fd >= 0)
        return kn_fail(k, KENNEL_E_STATE, "kennel_set_deliver_ack applies to the next kennel_connect");
    k->deliver_ack = mode;
    return KENNEL_OK;
}

int kennel_is_connected(const kennel *k) { return k && k->fd >= 0 && k->registered; }
const char *kennel_name(const kennel *k) { return k->name; }
uint32_t kennel_broker_features(const kennel *k) { return k->broker_features; }
uint32_t kennel_max_frame_size(const kennel *k) { return k->max_frame_size; }
const char *kennel_broker_version(const kennel *k) { return k->broker_version; }
uint16_t kennel_broker_error(const kennel *k) { return k->broker_error; }
const char *kennel_last_error(const kennel *k) { return k->last_error; }
int kennel_fd(const kennel *k) { return k ? k->fd : -1; }
int kennel_want_write(const kennel *k) { return k && k->fd >= 0 && k->out_len > k->out_off; }

/* The one teardown: close, and tell the application once, if it had a registered connection
 * (a failed kennel_connect reports through its result alone). */
static int lost(kennel *k, int reason)
{
    const int was_registered = k->fd >= 0 && k->registered;
    close_socket(k);
    k->running = 0;
    kn_end_calls(k);
    if (was_registered && k->on_disconnect)
        k->on_disconnect(k, k->userdata, reason);
    return reason;
}

/* --- Output --- */

int kn_write_out(kennel *k)
{
    while (k->out_off < k->out_len) {
        const ssize_t n = send(k->fd, k->out + k->out_off, k->out_len - k->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return KENNEL_OK;
            kn_fail(k, KENNEL_E_IO, "write to the broker failed: %s", strerror(errno));
            return lost(k, KENNEL_E_IO);
        }
        k->out_off += (size_t)n;
    }
    k->out_off = k->out_len = 0;
    return KENNEL_OK;
}

/* Appends one frame to the output buffer (growing it within max_output). Its payload is written
 * from up to three parts (a fixed prefix, a topic, the application's bytes), so that no payload is
 * assembled in a temporary buffer first. */
int kn_queue_parts(kennel *k, uint8_t type, uint32_t id, uint16_t flags, const char *target, const void *head,
                   size_t head_len, const void *mid, size_t mid_len, const void *payload, size_t payload_len)
{
    const size_t target_len = target ? strlen(target) : 0;
    if (payload_len > k->max_frame_size || mid_len > k->max_frame_size) /* no overflow in the sum below */
        return kn_fail(k, KENNEL_E_TOOLARGE, "a %zu-byte payload is over the broker's maximum of %u bytes",
                       payload_len > mid_len ? payload_len : mid_len, (unsigned)k->max_frame_size);
    const size_t size = kennel_wire_frame_size(0, target_len, head_len + mid_len + payload_len);
    if (size > k->max_frame_size || payload_len > k->max_frame_size)
        return kn_fail(k, KENNEL_E_TOOLARGE, "a %zu-byte frame is over the broker's maximum of %u bytes", size,
                       (unsigned)k->max_frame_size);
    if (k->out_off > 0 && k->out_off == k->out_len)
        k->out_off = k->out_len = 0;
    if (k->out_off > 0) { /* compact before growing: the written part is dead */
        memmove(k->out, k->out + k->out_off, k->out_len - k->out_off);
        k->out_len -= k->out_off;
        k->out_off = 0;
    }
    if (k->out_len + size > k->max_output)
        return kn_fail(k, KENNEL_E_AGAIN, "%zu bytes already queued for the broker (limit %zu)", k->out_len,
                       k->max_output);
    if (k->out_len + size > k->out_cap) {
        size_t cap = k->out_cap ? k->out_cap : INITIAL_BUFFER;
        while (cap < k->out_len + size)
            cap *= 2;
        uint8_t *grown = realloc(k->out, cap);
        if (!grown)
            return kn_fail(k, KENNEL_E_NOMEM, "out of memory for a %zu-byte output buffer", cap);
        k->out = grown;
        k->out_cap = cap;
    }
    uint8_t *p = k->out + k->out_len;
    kennel_wire_write_header(p, type, (uint32_t)(size - KENNEL_WIRE_HEADER_SIZE), id, 0, (uint8_t)target_len, flags);
    p += KENNEL_WIRE_HEADER_SIZE;
    const void *parts[4] = { target, head, mid, payload };
    const size_t lengths[4] = { target_len, head_len, mid_len, payload_len };
    for (int i = 0; i < 4; ++i) {
        if (lengths[i])
            memcpy(p, parts[i], lengths[i]);
        p += lengths[i];
    }
    k->out_len += size;
    return KENNEL_OK;
}

static int queue_frame(kennel *k, uint8_t type, uint32_t id, uint16_t flags, const char *target,
                       const void *payload, size_t payload_len)
{
    return kn_queue_parts(k, type, id, flags, target, NULL, 0, NULL, 0, payload, payload_len);
}

/* PROTOCOL: one DeliverAck carries the count of every Deliver handled so far, so one frame
 * per read covers all that read brought. */
static int queue_ack(kennel *k, uint32_t count)
{
    if (!k->acking || count == k->acked)
        return KENNEL_OK;
    const int r = queue_frame(k, KENNEL_FRAME_DELIVER_ACK, count, 0, NULL, NULL, 0);
    if (r < 0)
        return r;
    k->acked = count;
    k->acked_at = now_ms();
    return KENNEL_OK;
}

/* In KENNEL_ACK_AUTO: acknowledges what was handled and writes it now, so the broker tells the
 * senders `delivered` and a crash after this point does not deliver these messages again. A full
 * output buffer leaves it for the next try. */
static int auto_ack(kennel *k)
{
    if (k->deliver_ack != KENNEL_ACK_AUTO)
        return KENNEL_OK;
    const int r = queue_ack(k, k->delivered);
    if (r < 0 && r != KENNEL_E_AGAIN)
        return r;
    return kn_write_out(k);
}

int kennel_ack(kennel *k)
{
    if (!k)
        return KENNEL_E_INVAL;
    if (!kennel_is_connected(k))
        return kn_fail(k, KENNEL_E_STATE, "not connected");
    if (!k->acking)
        return kn_fail(k, KENNEL_E_UNSUPPORTED, "deliver_ack is not negotiated on this connection");
    /* From the message callback, that message counts as handled too. */
    const int r = queue_ack(k, k->delivered + (k->in_message ? 1u : 0u));
    if (r < 0)
        return r;
    return k->dispatching ? KENNEL_OK : kn_write_out(k);
}

uint32_t kn_take_id(kennel *k)
{
    if (++k->next_id == 0) /* 0 means "answers nothing" in Error frames (PROTOCOL §1) */
        k->next_id = 1;
    return k->next_id;
}

/* --- Input --- */

void kn_copy_name(char *dst, const uint8_t *src, size_t len)
{
    if (len)
        memcpy(dst, src, len);
    dst[len] = '\0';
}

/* Handles one decoded frame. The byte after its payload is NUL for the callbacks' duration. */
static int dispatch(kennel *k, const kennel_frame *f, uint8_t *payload_end)
{
    const uint8_t saved = *payload_end;
    *payload_end = 0;
    int result = KENNEL_OK;
    k->dispatching = 1;
    switch (f->type) {
    case KENNEL_FRAME_DELIVER:
        if (k->on_message) {
            kennel_message m;
            kn_copy_name(k->peer_source, f->source, f->source_len);
            kn_copy_name(k->peer_target, f->target, f->target_len);
            m.id = f->message_id;
            m.source = k->peer_source;
            m.target = k->peer_target;
            m.payload = f->payload;
            m.payload_len = f->payload_len;
            k->in_message = 1;
            k->on_message(k, k->userdata, &m);
            k->in_message = 0;
        }
        /* Counted once the callback has returned (or when there is none, so that the counts
         * agree): acknowledged means processed (PROTOCOL §5.7). */
        ++k->delivered;
        break;
    case KENNEL_FRAME_DELIVERY_STATUS: {
        uint16_t status;
        if (kennel_wire_decode_delivery_status(f->payload, f->payload_len, &status) != 0) {
            result = kn_fail(k, KENNEL_E_PROTOCOL, "the broker sent a malformed delivery status");
            break;
        }
        if (k->on_status) {
            kn_copy_name(k->peer_target, f->target, f->target_len);
            k->on_status(k, k->userdata, f->message_id, k->peer_target, status);
        }
        break;
    }
    case KENNEL_FRAME_PUBLICATION:
    case KENNEL_FRAME_TOPIC_ACK:
    case KENNEL_FRAME_PUBLISH_STATUS:
    case KENNEL_FRAME_CALL_RESULT:
    case KENNEL_FRAME_CALL_INCOMING:
        result = kn_dispatch_topics_calls(k, f);
        break;
    case KENNEL_FRAME_PING:
        /* PROTOCOL §4.2: always answered, with the Ping's id and payload. */
        result = queue_frame(k, KENNEL_FRAME_PONG, f->message_id, 0, NULL, f->payload, f->payload_len);
        break;
    case KENNEL_FRAME_WELCOME: {
        kennel_welcome w;
        if (kennel_wire_decode_welcome(f->payload, f->payload_len, &w) != 0) {
            result = kn_fail(k, KENNEL_E_PROTOCOL, "the broker sent a malformed Welcome");
            break;
        }
        k->registered = 1;
        k->max_frame_size = w.max_frame_size;
        k->broker_features = w.has_features ? w.features : 0;
        /* PROTOCOL: acknowledge only when both sides listed it; counted from here. */
        k->acking = k->deliver_ack != KENNEL_ACK_OFF && (k->broker_features & KENNEL_FEATURE_DELIVER_ACK) != 0;
        k->delivered = k->acked = 0;
        k->acked_at = now_ms();
        const size_t n = w.broker_version_len < sizeof k->broker_version - 1 ? w.broker_version_len
                                                                             : sizeof k->broker_version - 1;
        memcpy(k->broker_version, w.broker_version, n);
        k->broker_version[n] = '\0';
        if (f->message_id == k->wait_id)
            k->wait_done = 1;
        break;
    }
    case KENNEL_FRAME_WATCHDOG_ACK:
        if (f->message_id == k->wait_id) {
            if (kennel_wire_decode_watchdog_terms(f->payload, f->payload_len, &k->wait_terms) != 0) {
                result = kn_fail(k, KENNEL_E_PROTOCOL, "the broker sent malformed watchdog terms");
                break;
            }
            k->wait_done = 1;
        }
        break;
    case KENNEL_FRAME_ERROR: {
        kennel_error_payload e;
        if (kennel_wire_decode_error(f->payload, f->payload_len, &e) != 0) {
            result = kn_fail(k, KENNEL_E_PROTOCOL, "the broker sent a malformed Error frame");
            break;
        }
        k->broker_error = e.code;
        kn_fail(k, KENNEL_E_REFUSED, "the broker answered %s (%u): %.*s", kennel_error_code_name(e.code),
                (unsigned)e.code, (int)(e.text_len > 160 ? 160 : e.text_len), (const char *)e.text);
        if (k->wait_id && f->message_id == k->wait_id)
            k->wait_done = KENNEL_E_REFUSED;
        if (k->on_error)
            k->on_error(k, k->userdata, e.code, f->message_id, (const char *)e.text);
        break;
    }
    default:
        /* Bye: the close follows. Pong and unknown types: ignored, so that a newer broker can add
         * frames (PROTOCOL §2.1). */
        break;
    }
    k->dispatching = 0;
    *payload_end = saved;
    return result;
}

/* Decodes and dispatches every whole frame in the buffer. */
static int drain(kennel *k, int *count)
{
    /* A Deliver is larger than its Send by the stamped name (PROTOCOL §5.2). */
    const uint32_t limit = k->max_frame_size + KENNEL_WIRE_MAX_NAME_LENGTH;
    while (k->fd >= 0 && k->in_off < k->in_len) {
        kennel_frame f;
        size_t consumed = 0, frame_size = 0;
        const enum kennel_decode_result r
            = kennel_wire_decode(k->in + k->in_off, k->in_len - k->in_off, limit, &f, &consumed, &frame_size);
        if (r == KENNEL_DECODE_NEED_MORE) {
            if (frame_size + 1 > k->in_cap) { /* size the buffer once for this frame */
                uint8_t *grown = realloc(k->in, frame_size + 1);
                if (!grown) {
                    kn_fail(k, KENNEL_E_NOMEM, "out of memory for a %zu-byte frame", frame_size);
                    return lost(k, KENNEL_E_NOMEM);
                }
                k->in = grown;
                k->in_cap = frame_size + 1;
            }
            break;
        }
        if (r == KENNEL_DECODE_INVALID_NAME) { /* framing intact: skip it */
            k->in_off += consumed;
            if (f.type == KENNEL_FRAME_DELIVER) /* the broker counted it: so must the acknowledgement */
                ++k->delivered;
            continue;
        }
        if (r != KENNEL_DECODE_OK) {
            kn_fail(k, KENNEL_E_PROTOCOL, "undecodable frame from the broker: %s", kennel_decode_result_name(r));
            return lost(k, KENNEL_E_PROTOCOL);
        }
        k->in_off += consumed;
        const int result = dispatch(k, &f, (uint8_t *)f.payload + f.payload_len);
        if (result < 0 && result != KENNEL_E_AGAIN)
            return lost(k, result);
        ++*count;
        /* A slow callback does not hold the whole read's acknowledgement back: what it has
         * processed is acknowledged every ACK_INTERVAL_MS (read_in acknowledges the rest). */
        if (k->acking && k->fd >= 0 && k->delivered != k->acked && now_ms() - k->acked_at >= ACK_INTERVAL_MS) {
            const int w = auto_ack(k);
            if (w < 0)
                return w;
        }
    }
    if (k->in_off == k->in_len)
        k->in_off = k->in_len = 0;
    return KENNEL_OK;
}

static int read_in(kennel *k, int *count)
{
    for (int i = 0; i < READS_PER_PROCESS && k->fd >= 0; ++i) {
        if (!k->in) {
            k->in = malloc(INITIAL_BUFFER);
            if (!k->in)
                return kn_fail(k, KENNEL_E_NOMEM, "out of memory for the receive buffer");
            k->in_cap = INITIAL_BUFFER;
        }
        if (k->in_off > 0) { /* keep the partial frame at the start */
            memmove(k->in, k->in + k->in_off, k->in_len - k->in_off);
            k->in_len -= k->in_off;
            k->in_off = 0;
        }
        /* One byte always spare: dispatch() NUL-terminates the payload in place. drain() has sized
         * the buffer for the partial frame it holds, so there is room unless a frame just filled it. */
        if (k->in_cap - k->in_len <= 1)
            return KENNEL_OK;
        const ssize_t n = recv(k->fd, k->in + k->in_len, k->in_cap - k->in_len - 1, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return KENNEL_OK;
            kn_fail(k, KENNEL_E_IO, "read from the broker failed: %s", strerror(errno));
            return lost(k, KENNEL_E_IO);
        }
        if (n == 0) {
            if (k->broker_error) /* it said why first (e.g. too_many_clients, watchdog_expired) */
                kn_fail(k, KENNEL_E_CLOSED, "the broker closed the connection after Error %s (%u)",
                        kennel_error_code_name(k->broker_error), (unsigned)k->broker_error);
            else
                kn_fail(k, KENNEL_E_CLOSED, "the broker closed the connection");
            return lost(k, KENNEL_E_CLOSED);
        }
        k->in_len += (size_t)n;
        int r = drain(k, count);
        if (r < 0)
            return r;
        if (k->fd >= 0 && (r = auto_ack(k)) < 0) /* one DeliverAck per read */
            return r;
    }
    return KENNEL_OK;
}

static int process(kennel *k)
{
    int count = 0;
    int r = read_in(k, &count);
    if (r < 0)
        return r;
    if (k->fd >= 0 && (r = kn_write_out(k)) < 0)
        return r;
    return count;
}

int kennel_process(kennel *k)
{
    if (!k)
        return KENNEL_E_INVAL;
    if (k->dispatching)
        return kn_fail(k, KENNEL_E_STATE, "kennel_process called from a callback");
    if (k->fd < 0)
        return kn_fail(k, KENNEL_E_STATE, "not connected");
    return process(k);
}

static void run_tick(kennel *k)
{
    if (!k->tick_ms || !k->on_tick)
        return;
    const int64_t now = now_ms();
    if (now < k->next_tick)
        return;
    k->next_tick = now + k->tick_ms;
    k->dispatching = 1;
    k->on_tick(k, k->userdata);
    k->dispatching = 0;
}

/* Polls up to timeout_ms (bounded by the next tick), then processes. */
static int loop_once(kennel *k, int timeout_ms, int ticks)
{
    if (ticks && k->tick_ms && k->on_tick) {
        const int64_t until = k->next_tick - now_ms();
        if (until < 0)
            timeout_ms = 0;
        else if (timeout_ms < 0 || until < timeout_ms)
            timeout_ms = (int)until;
    }
    struct pollfd p = { .fd = k->fd, .events = POLLIN | (kennel_want_write(k) ? POLLOUT : 0), .revents = 0 };
    const int n = poll(&p, 1, timeout_ms);
    if (n < 0 && errno != EINTR) {
        kn_fail(k, KENNEL_E_IO, "poll failed: %s", strerror(errno));
        return lost(k, KENNEL_E_IO);
    }
    int r = 0;
    if (n > 0)
        r = process(k);
    if (r >= 0 && ticks && k->fd >= 0) {
        run_tick(k);
        if (k->fd >= 0) {
            const int w = kn_write_out(k);
            if (w < 0)
                return w;
        }
    }
    return r;
}

int kennel_loop_once(kennel *k, int timeout_ms)
{
    if (!k)
        return KENNEL_E_INVAL;
    if (k->dispatching)
        return kn_fail(k, KENNEL_E_STATE, "kennel_loop_once called from a callback");
    if (k->fd < 0)
        return kn_fail(k, KENNEL_E_STATE, "not connected");
    return loop_once(k, timeout_ms, 1);
}

int kennel_run(kennel *k)
{
    if (!k)
        return KENNEL_E_INVAL;
    if (k->dispatching)
        return kn_fail(k, KENNEL_E_STATE, "kennel_run called from a callback");
    if (k->fd < 0)
        return kn_fail(k, KENNEL_E_STATE, "not connected");
    k->running = 1;
    while (k->running && k->fd >= 0) {
        const int r = loop_once(k, -1, 1);
        if (r < 0 && r != KENNEL_E_AGAIN) {
            k->running = 0;
            return r;
        }
    }
    k->running = 0;
    return KENNEL_OK;
}

void kennel_stop(kennel *k)
{
    if (k)
        k->running = 0;
}

/* Waits for the answer to request wait_id; other frames go to the callbacks meanwhile. */
static int wait_answer(kennel *k, int timeout_ms, const char *what)
{
    const int64_t deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
    int r = kn_write_out(k);
    while (r >= 0 && k->wait_done == 0 && k->fd >= 0) {
        const int64_t left = deadline - now_ms();
        if (left <= 0) {
            k->wait_id = 0;
            return kn_fail(k, KENNEL_E_TIMEOUT, "no answer to %s within %d ms", what, timeout_ms);
        }
        r = loop_once(k, (int)left, 0);
    }
    k->wait_id = 0;
    if (r < 0 && r != KENNEL_E_AGAIN)
        return r;
    if (k->wait_done < 0)
        return k->wait_done; /* last_error says what the broker answered */
    if (k->fd < 0)
        return KENNEL_E_CLOSED;
    return KENNEL_OK;
}

int kennel_connect(kennel *k, const char *address, const char *name, int timeout_ms)
{
    if (!k || !address || !name)
        return KENNEL_E_INVAL;
    if (k->dispatching || k->fd >= 0)
        return kn_fail(k, KENNEL_E_STATE, "already connected");
    const size_t name_len = strlen(name);
    if (!kennel_wire_valid_name((const uint8_t *)name, name_len))
        return kn_fail(k, KENNEL_E_INVAL, "\"%s\" is not a valid name (1..64 of A-Z a-z 0-9 . _ -, not "
                                          "starting with . or -)", name);
    k->last_error[0] = '\0';
    k->broker_error = 0;
    k->broker_features = 0;
    k->broker_version[0] = '\0';
    k->max_frame_size = KENNEL_WIRE_DEFAULT_MAX_FRAME_SIZE;
    k->calls_count = 0;
    struct transport_error err = { k->last_error, sizeof k->last_error };
    int r = kennel_transport_open(address, timeout_ms, &k->fd, &err);
    if (r < 0)
        return r;

    /* PROTOCOL §4.1, §4.1.1: list the features this library knows; claim our pid as a cross check. */
    kennel_hello hello;
    memset(&hello, 0, sizeof hello);
    hello.role = KENNEL_ROLE_CLIENT;
    hello.protocol_version = KENNEL_WIRE_VERSION;
    hello.pid = (uint32_t)getpid();
    hello.has_features = 1;
    hello.features = KENNEL_KNOWN_FEATURES & (k->deliver_ack != KENNEL_ACK_OFF ? ~0u : ~KENNEL_FEATURE_DELIVER_ACK);
    uint8_t payload[16];
    const size_t payload_len = kennel_wire_encode_hello(payload, sizeof payload, &hello);
    const uint32_t id = kn_take_id(k);
    kennel_frame f;
    memset(&f, 0, sizeof f);
    f.type = KENNEL_FRAME_HELLO;
    f.message_id = id;
    f.source = (const uint8_t *)name;
    f.source_len = name_len;
    f.payload = payload;
    f.payload_len = payload_len;
    uint8_t frame[KENNEL_WIRE_HEADER_SIZE + KENNEL_WIRE_MAX_NAME_LENGTH + sizeof payload];
    const size_t size = kennel_wire_encode(frame, sizeof frame, &f);
    if (!k->out) {
        k->out = malloc(INITIAL_BUFFER);
        if (!k->out) {
            close_socket(k);
            return kn_fail(k, KENNEL_E_NOMEM, "out of memory for the output buffer");
        }
        k->out_cap = INITIAL_BUFFER;
    }
    memcpy(k->out, frame, size);
    k->out_len = size;
    k->out_off = 0;
    memcpy(k->name, name, name_len + 1);

    k->wait_id = id;
    k->wait_done = 0;
    r = wait_answer(k, timeout_ms, "Hello");
    if (r < 0) {
        close_socket(k); /* quietly: the application never had a connection */
        return r;
    }
    return KENNEL_OK;
}

int kennel_flush(kennel *k, int timeout_ms)
{
    if (!k)
        return KENNEL_E_INVAL;
    const int64_t deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
    while (k->fd >= 0 && kennel_want_write(k)) {
        const int r = kn_write_out(k);
        if (r < 0)
            return r;
        if (!kennel_want_write(k))
            break;
        const int64_t left = deadline - now_ms();
        if (left <= 0)
            return kn_fail(k, KENNEL_E_TIMEOUT, "%zu bytes still queued after %d ms", k->out_len - k->out_off,
                           timeout_ms);
        struct pollfd p = { .fd = k->fd, .events = POLLOUT, .revents = 0 };
        poll(&p, 1, (int)left);
    }
    return k->fd >= 0 ? KENNEL_OK : KENNEL_E_CLOSED;
}

int kennel_disconnect(kennel *k)
{
    if (!k)
        return KENNEL_E_INVAL;
    if (k->fd < 0)
        return kn_fail(k, KENNEL_E_STATE, "not connected");
    /* PROTOCOL: acknowledge before the Bye, or the broker answers what was processed
     * `unacknowledged`. Called from the message callback, that message counts as processed. With
     * KENNEL_ACK_MANUAL what the application has not acknowledged stays so. */
    int r = KENNEL_OK;
    if (k->deliver_ack == KENNEL_ACK_AUTO)
        r = queue_ack(k, k->delivered + (k->in_message ? 1u : 0u));
    /* PROTOCOL §4.2: Bye, then close once it is written. */
    if (r == KENNEL_OK)
        r = queue_frame(k, KENNEL_FRAME_BYE, kn_take_id(k), 0, NULL, NULL, 0);
    if (r == KENNEL_OK)
        r = kennel_flush(k, 1000);
    lost(k, KENNEL_OK); /* a no-op if the flush already lost the connection */
    return r == KENNEL_E_CLOSED ? KENNEL_OK : r;
}

int kennel_send(kennel *k, const char *target, const void *payload, size_t len, unsigned flags, uint32_t *id)
{
    if (!k || !target || (!payload && len))
        return KENNEL_E_INVAL;
    if (!kennel_is_connected(k))
        return kn_fail(k, KENNEL_E_STATE, "not connected");
    if (!kennel_wire_valid_target((const uint8_t *)target, strlen(target)))
        return kn_fail(k, KENNEL_E_INVAL, "\"%.64s\" is not a valid target name", target);
    const uint32_t message_id = kn_take_id(k);
    const uint16_t wire_flags = (flags & KENNEL_SEND_WANT_STATUS) ? KENNEL_FLAG_WANT_DELIVERY_STATUS : 0;
    const int r = queue_frame(k, KENNEL_FRAME_SEND, message_id, wire_flags, target, payload, len);
    if (r < 0)
        return r;
    if (id)
        *id = message_id;
    return k->dispatching ? KENNEL_OK : kn_write_out(k);
}

int kennel_watchdog_register(kennel *k, const kennel_watchdog_terms *terms, kennel_watchdog_terms *effective,
                             int timeout_ms)
{
    if (!k || !terms || terms->action > KENNEL_EXPIRY_NOTIFY)
        return KENNEL_E_INVAL;
    if (k->dispatching)
        return kn_fail(k, KENNEL_E_STATE, "kennel_watchdog_register waits and cannot be called from a callback");
    if (!kennel_is_connected(k))
        return kn_fail(k, KENNEL_E_STATE, "not connected");
    uint8_t payload[KENNEL_WATCHDOG_TERMS_SIZE];
    kennel_wire_encode_watchdog_terms(payload, sizeof payload, terms);
    const uint32_t id = kn_take_id(k);
    int r = queue_frame(k, KENNEL_FRAME_WATCHDOG_REGISTER, id, 0, NULL, payload, sizeof payload);
    if (r < 0)
        return r;
    k->wait_id = id;
    k->wait_done = 0;
    r = wait_answer(k, timeout_ms, "WatchdogRegister");
    if (r == KENNEL_OK && effective)
        *effective = k->wait_terms;
    return r;
}

int kennel_watchdog_feed(kennel *k)
{
    if (!k)
        return KENNEL_E_INVAL;
    if (!kennel_is_connected(k))
        return kn_fail(k, KENNEL_E_STATE, "not connected");
    const int r = queue_frame(k, KENNEL_FRAME_WATCHDOG_FEED, kn_take_id(k), 0, NULL, NULL, 0);
    if (r < 0)
        return r;
    return k->dispatching ? KENNEL_OK : kn_write_out(k);
}
