/* libkennel: a plain C11 client for the Kennel broker (docs/C-LIBRARY.md).
 *
 *   kennel *k = kennel_new(userdata);
 *   kennel_set_message_callback(k, on_message);
 *   if (kennel_connect(k, "unix:/run/kennel/broker.sock", "gpio_srv", 5000) != KENNEL_OK)
 *       fprintf(stderr, "%s\n", kennel_last_error(k));
 *   kennel_send(k, "logger", "up", 2, 0, NULL);
 *   kennel_run(k);           // or: poll kennel_fd() in your own loop and call kennel_process()
 *   kennel_free(k);
 *
 * No threads, no signals, no global state: one kennel object is used by one thread at a time.
 * Every function that can fail returns a negative enum kennel_result; kennel_last_error() says
 * what happened in a sentence. Received frames are decoded in place from one reusable buffer: no
 * allocation per message. Callbacks run from kennel_process(), kennel_loop_once(), kennel_run()
 * and the waiting calls (kennel_connect, kennel_watchdog_register); a callback may send, publish,
 * subscribe, call, reply, feed and disconnect, but not wait or process (those return
 * KENNEL_E_STATE there). */
#ifndef KENNEL_KENNEL_H
#define KENNEL_KENNEL_H

#include <stddef.h>
#include <stdint.h>

#include "kennel/export.h"
#include "kennel/wire.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KENNEL_C_VERSION_MAJOR 0
#define KENNEL_C_VERSION_MINOR 3

typedef struct kennel kennel;

enum kennel_result {
    KENNEL_OK = 0,
    KENNEL_E_INVAL = -1,     /* a bad argument: NULL, an invalid name, a negative size */
    KENNEL_E_NOMEM = -2,     /* out of memory */
    KENNEL_E_ADDRESS = -3,   /* the broker address cannot be parsed or resolved */
    KENNEL_E_CONNECT = -4,   /* the connection could not be made */
    KENNEL_E_STATE = -5,     /* not valid now: not connected, already connected, inside a callback */
    KENNEL_E_IO = -6,        /* a socket error; the message gives errno's text */
    KENNEL_E_CLOSED = -7,    /* the broker closed the connection */
    KENNEL_E_PROTOCOL = -8,  /* the broker sent bytes that break docs/PROTOCOL.md */
    KENNEL_E_REFUSED = -9,   /* the broker answered Error: kennel_broker_error() has its code */
    KENNEL_E_TIMEOUT = -10,  /* the answer did not come in time */
    KENNEL_E_AGAIN = -11,    /* the output buffer is full: let the loop write, then retry */
    KENNEL_E_TOOLARGE = -12, /* the frame is over the broker's maximum frame size */
    KENNEL_E_UNSUPPORTED = -13, /* the broker does not offer the feature (topics, calls) */
    KENNEL_E_BUSY = -14      /* kennel_set_max_calls calls are outstanding already */
};

/* The text of a result code ("connection closed by the broker"); never NULL. */
KENNEL_EXPORT const char *kennel_strerror(int result);

/* A message for this client (a Deliver frame). `source` and `target` are NUL-terminated;
 * `payload` points into the receive buffer and is followed by a NUL (so text can be printed
 * as is), valid only during the callback. */
typedef struct kennel_message {
    uint32_t id;         /* the sender's messageId */
    const char *source;  /* the sender's registered name, stamped by the broker */
    const char *target;  /* this client's name */
    const void *payload;
    size_t payload_len;
} kennel_message;

typedef void (*kennel_message_cb)(kennel *k, void *userdata, const kennel_message *message);
/* What became of a message sent with KENNEL_SEND_WANT_STATUS: `status` is an
 * enum kennel_delivery_status (or a newer value; kennel_delivery_status_name() names it). */
typedef void (*kennel_status_cb)(kennel *k, void *userdata, uint32_t id, const char *target, uint16_t status);
/* An Error frame from the broker: `code` an enum kennel_error_code (or a newer value), `id` the
 * messageId of the frame it answers (0: none), `text` for people. For KENNEL_ERROR_SHUTTING_DOWN
 * (the broker is stopping; Bye and the close follow) from a broker that offers
 * KENNEL_FEATURE_SHUTDOWN_MARK, `id` is the mark (PROTOCOL ): the id of the last
 * kennel_send the broker read on this connection, 0 for none. A send whose id is after it
 * (kennel_id_after) was never read and no receiver has seen it: send it again to the next broker
 * if you kept it. Earlier ones were read, and answered (with KENNEL_SEND_WANT_STATUS) before the
 * Error; one answered KENNEL_STATUS_SHUTTING_DOWN was not delivered either. */
typedef void (*kennel_error_cb)(kennel *k, void *userdata, uint16_t code, uint32_t id, const char *text);
/* A registered connection ended: `reason` a kennel_result (KENNEL_E_CLOSED, KENNEL_E_IO,
 * KENNEL_E_PROTOCOL, ...), or KENNEL_OK after kennel_disconnect(). Not called for a kennel_connect
 * that fails: its result says why. */
typedef void (*kennel_disconnect_cb)(kennel *k, void *userdata, int reason);
/* A periodic call from the loop (kennel_set_tick): feed the watchdog, run timers. */
typedef void (*kennel_tick_cb)(kennel *k, void *userdata);

/* --- Topics (PROTOCOL §5.5) --- */

/* A publication on a topic this client subscribed to. `topic` and `publisher` are NUL-terminated;
 * `payload` is followed by a NUL. All point into the receive buffer: valid during the callback. */
typedef struct kennel_publication {
    uint32_t id;            /* the publisher's messageId */
    const char *publisher;  /* the publisher's registered name, stamped by the broker */
    const char *topic;
    size_t topic_len;
    const void *payload;
    size_t payload_len;
    int retained;           /* 1: a retained value, sent because this client subscribed */
} kennel_publication;
typedef void (*kennel_publication_cb)(kennel *k, void *userdata, const kennel_publication *publication);

/* The broker's answer to kennel_subscribe/kennel_unsubscribe, exactly one per request. */
typedef struct kennel_topic_ack {
    uint32_t id;            /* what kennel_subscribe/kennel_unsubscribe gave in *id */
    uint16_t result;        /* 0, or an enum kennel_error_code: invalid_topic, too_many_subscriptions */
    uint32_t count;         /* Subscribe: retained values that follow; Unsubscribe: 1 removed, 0 not held */
    const char *text;       /* why, when refused; NUL-terminated, valid during the callback */
} kennel_topic_ack;
typedef void (*kennel_topic_ack_cb)(kennel *k, void *userdata, const kennel_topic_ack *ack);

/* What became of a publication sent with KENNEL_PUBLISH_WANT_STATUS. */
typedef struct kennel_publish_status {
    uint32_t id;
    uint16_t result;        /* 0, or invalid_topic, reserved_topic, retained_store_full (delivered, not kept) */
    uint32_t delivered;     /* subscribers it was queued to */
    uint32_t not_taken;     /* subscribers whose queue was full */
    const char *text;       /* why, when refused; NUL-terminated, valid during the callback */
} kennel_publish_status;
typedef void (*kennel_publish_status_cb)(kennel *k, void *userdata, const kennel_publish_status *status);

/* --- Calls (PROTOCOL §5.6) --- */

/* How a call made with kennel_call ended: exactly one for every call that kennel_call gave an id
 * (also when kennel_call then reports the connection lost: that call ends KENNEL_CALL_LINK_LOST). */
typedef struct kennel_call_result {
    uint32_t call_id;       /* what kennel_call gave in *call_id */
    const char *target;     /* the callee's name */
    uint16_t outcome;       /* enum kennel_call_outcome (or a newer value); kennel_call_outcome_name() */
    uint16_t code;          /* KENNEL_CALL_ERROR_REPLY: the callee's error code (1..65535) */
    const void *payload;    /* REPLIED: the reply; ERROR_REPLY: the callee's text; followed by a NUL */
    size_t payload_len;
} kennel_call_result;
typedef void (*kennel_call_result_cb)(kennel *k, void *userdata, const kennel_call_result *result);

/* A call to this client. Answer it once, now or later, with kennel_reply/kennel_reply_error. */
typedef struct kennel_incoming_call {
    uint32_t call_id;       /* the broker's id of the call: give it to kennel_reply */
    const char *caller;     /* the caller's registered name */
    uint32_t deadline_ms;   /* what was left of the caller's deadline when the broker sent it */
    const void *payload;    /* followed by a NUL; valid during the callback */
    size_t payload_len;
} kennel_incoming_call;
typedef void (*kennel_call_cb)(kennel *k, void *userdata, const kennel_incoming_call *call);

/* 1 if `id` was given out after `mark` (ids increase by one per request, wrapping past 0, so they
 * compare as serial numbers, RFC 1982), else 0. For the shutdown mark: `mark` 0 means no send was
 * read, so every id is after it. */
static inline int kennel_id_after(uint32_t id, uint32_t mark)
{
    const uint32_t distance = id - mark - 1u; /* modulo 2^32; no cast, for C++ callers' warnings */
    return mark == 0 || distance < 0x7FFFFFFFu;
}

KENNEL_EXPORT kennel *kennel_new(void *userdata); /* NULL when out of memory */
KENNEL_EXPORT void kennel_free(kennel *k);        /* closes without Bye; NULL is fine */
KENNEL_EXPORT void *kennel_userdata(const kennel *k);

KENNEL_EXPORT void kennel_set_message_callback(kennel *k, kennel_message_cb cb);
KENNEL_EXPORT void kennel_set_status_callback(kennel *k, kennel_status_cb cb);
KENNEL_EXPORT void kennel_set_error_callback(kennel *k, kennel_error_cb cb);
KENNEL_EXPORT void kennel_set_disconnect_callback(kennel *k, kennel_disconnect_cb cb);
KENNEL_EXPORT void kennel_set_publication_callback(kennel *k, kennel_publication_cb cb);
KENNEL_EXPORT void kennel_set_topic_ack_callback(kennel *k, kennel_topic_ack_cb cb);
KENNEL_EXPORT void kennel_set_publish_status_callback(kennel *k, kennel_publish_status_cb cb);
KENNEL_EXPORT void kennel_set_call_result_callback(kennel *k, kennel_call_result_cb cb);
/* Without this callback a call to this client is answered at once with error code
 * KENNEL_CALL_NOT_SERVED, so that its caller does not wait for the deadline. */
KENNEL_EXPORT void kennel_set_call_callback(kennel *k, kennel_call_cb cb);
/* Calls cb every interval_ms from kennel_loop_once()/kennel_run() (0: never). */
KENNEL_EXPORT int kennel_set_tick(kennel *k, unsigned interval_ms, kennel_tick_cb cb);
/* Bytes kennel_send may queue before it answers KENNEL_E_AGAIN (default 8 MiB). */
KENNEL_EXPORT int kennel_set_max_output(kennel *k, size_t bytes);
/* Receiver acknowledgement (PROTOCOL §5.7), KENNEL_ACK_AUTO by default: when the broker offers
 * deliver_ack, each message is acknowledged once the message callback has returned for it (one
 * DeliverAck per read, and every 10 ms while slow callbacks work through one read). Its sender
 * then hears `delivered` only when it has been processed, and what this process had not processed
 * when it died (SIGKILL, a crash, the watchdog) is delivered again to the name's next holder if the
 * broker expects the name back. A message whose callback had returned but whose acknowledgement
 * was not yet written when the process died may arrive twice.
 * KENNEL_ACK_MANUAL: nothing is acknowledged until kennel_ack(); for a program that finishes a
 * message after its callback (a batch written and synced later). The broker keeps at most
 * `[hold] unacked_max_count`/`_bytes` unacknowledged (10000, 4 MiB by default); past that, senders
 * hear `queue_full`. A Bye leaves the rest unacknowledged (their senders hear `unacknowledged`).
 * KENNEL_ACK_OFF: the old contract, `delivered` when queued, and what was queued to a dead process
 * is lost. Takes effect at the next kennel_connect (KENNEL_E_STATE while connected). */
enum kennel_ack_mode { KENNEL_ACK_OFF = 0, KENNEL_ACK_AUTO = 1, KENNEL_ACK_MANUAL = 2 };
KENNEL_EXPORT int kennel_set_deliver_ack(kennel *k, int mode);
/* Acknowledges every message handed to the message callback so far (in its callback: that one
 * too). KENNEL_E_UNSUPPORTED when the connection does not acknowledge (KENNEL_ACK_OFF, or a broker
 * without deliver_ack); KENNEL_E_AGAIN when the output buffer is full (retry). Usable in
 * KENNEL_ACK_AUTO as well, to acknowledge early from a long callback. */
KENNEL_EXPORT int kennel_ack(kennel *k);

/* Connects to `address` ("HOST:PORT", "[V6]:PORT" or "unix:PATH", as every Kennel program takes
 * it), sends Hello for `name` and waits up to timeout_ms for Welcome. On failure the connection is
 * closed; KENNEL_E_REFUSED means the broker said no (kennel_broker_error(): name_taken, ...). */
KENNEL_EXPORT int kennel_connect(kennel *k, const char *address, const char *name, int timeout_ms);
/* Sends Bye, writes what is queued (up to 1 s) and closes. */
KENNEL_EXPORT int kennel_disconnect(kennel *k);
KENNEL_EXPORT int kennel_is_connected(const kennel *k);

/* The registered name, the broker's Welcome figures (PROTOCOL §4.1). */
KENNEL_EXPORT const char *kennel_name(const kennel *k);
KENNEL_EXPORT uint32_t kennel_broker_features(const kennel *k); /* 0 from a broker without negotiation */
KENNEL_EXPORT uint32_t kennel_max_frame_size(const kennel *k);
KENNEL_EXPORT const char *kennel_broker_version(const kennel *k);
/* The code of the last Error frame the broker sent (0: none yet). */
KENNEL_EXPORT uint16_t kennel_broker_error(const kennel *k);
/* A sentence about the last failure of a call on k; "" when there was none. */
KENNEL_EXPORT const char *kennel_last_error(const kennel *k);

#define KENNEL_SEND_WANT_STATUS 0x1u
/* Queues a message for `target` and writes what the socket takes now. With
 * KENNEL_SEND_WANT_STATUS the status callback hears, exactly once, what became of it. *id (if not
 * NULL) receives the messageId, which the status callback carries. */
KENNEL_EXPORT int kennel_send(kennel *k, const char *target, const void *payload, size_t len, unsigned flags,
                              uint32_t *id);
/* --- Topics (PROTOCOL §5.5; the broker must offer KENNEL_FEATURE_TOPICS, else KENNEL_E_UNSUPPORTED).
 * Filters and topics in MQTT syntax ('+' one level, '#' the rest); the broker checks them against
 * its bounds and answers a refusal in the ack or status. Subscriptions belong to the connection:
 * after a new kennel_connect, subscribe again. --- */

/* Asks for the publications matching `filter`; the topic ack callback gets the answer with *id,
 * then the retained values it matches arrive as publications with `retained` set. */
KENNEL_EXPORT int kennel_subscribe(kennel *k, const char *filter, uint32_t *id);
KENNEL_EXPORT int kennel_unsubscribe(kennel *k, const char *filter, uint32_t *id);

#define KENNEL_PUBLISH_WANT_STATUS 0x1u /* the publish status callback hears how many took it */
#define KENNEL_PUBLISH_RETAIN 0x2u      /* keep it as the topic's value for later subscribers; an
                                         * empty retained publication clears it */
/* Publishes to `topic`. Without KENNEL_PUBLISH_WANT_STATUS a refusal comes as an Error frame (the
 * error callback, with *id). */
KENNEL_EXPORT int kennel_publish(kennel *k, const char *topic, const void *payload, size_t len, unsigned flags,
                                 uint32_t *id);

/* --- Calls (PROTOCOL §5.6; the broker must offer KENNEL_FEATURE_CALLS, else KENNEL_E_UNSUPPORTED). --- */

/* Calls `target` with `payload`, granting it timeout_ms (0: the broker's default; the broker cuts
 * a longer one to its maximum). The call result callback hears exactly once how it ended, with
 * *call_id: the reply, the callee's error, the broker's word (timeout, no_such_client, callee_gone,
 * too_many_calls, ...), or KENNEL_CALL_LINK_LOST when the connection ends first. */
KENNEL_EXPORT int kennel_call(kennel *k, const char *target, const void *payload, size_t len, uint32_t timeout_ms,
                              uint32_t *call_id);
/* Calls that may be outstanding at once (default 256); one more is refused with KENNEL_E_BUSY.
 * The table is sized once: set it before connecting (KENNEL_E_STATE while connected or after the
 * first kennel_call). */
KENNEL_EXPORT int kennel_set_max_calls(kennel *k, unsigned max_calls);
KENNEL_EXPORT unsigned kennel_outstanding_calls(const kennel *k);

/* Answers a call to this client (kennel_incoming_call.call_id): with a reply, or with an
 * application error (`code` 1..65535, 0 is taken as 1, and a text). A second answer, or one after
 * the deadline, is dropped by the broker. */
#define KENNEL_CALL_NOT_SERVED 0xFFFFu /* the error code of a call nobody here serves */
KENNEL_EXPORT int kennel_reply(kennel *k, uint32_t call_id, const void *payload, size_t len);
KENNEL_EXPORT int kennel_reply_error(kennel *k, uint32_t call_id, uint16_t code, const char *text);

/* Waits up to timeout_ms for the output buffer to drain. */
KENNEL_EXPORT int kennel_flush(kennel *k, int timeout_ms);

/* Asks the broker to watch this client (PROTOCOL §4.4) and waits up to timeout_ms for its answer;
 * `effective` (if not NULL) receives the terms the broker applied. KENNEL_E_REFUSED with
 * kennel_broker_error() invalid_watchdog_terms or watchdog_unavailable when it will not. */
KENNEL_EXPORT int kennel_watchdog_register(kennel *k, const kennel_watchdog_terms *terms,
                                           kennel_watchdog_terms *effective, int timeout_ms);
/* "I am alive": feed at least once per interval. */
KENNEL_EXPORT int kennel_watchdog_feed(kennel *k);

/* --- Event loop integration. The library never blocks except in the waiting calls above,
 * kennel_loop_once() and kennel_run(). --- */

/* The socket to poll for reading (and for writing when kennel_want_write()); -1 if not connected. */
KENNEL_EXPORT int kennel_fd(const kennel *k);
KENNEL_EXPORT int kennel_want_write(const kennel *k);
/* Reads what has arrived, dispatches it to the callbacks (answering Pings), writes what is
 * queued; never blocks. Returns the number of frames dispatched, or a negative result (the
 * connection is then closed and the disconnect callback has run). */
KENNEL_EXPORT int kennel_process(kennel *k);
/* Waits up to timeout_ms (-1: forever, until the next tick) for the socket, then kennel_process(). */
KENNEL_EXPORT int kennel_loop_once(kennel *k, int timeout_ms);
/* kennel_loop_once() until kennel_stop(), kennel_disconnect() or an error: KENNEL_OK, or why it ended. */
KENNEL_EXPORT int kennel_run(kennel *k);
KENNEL_EXPORT void kennel_stop(kennel *k);

#ifdef __cplusplus
}
#endif

#endif /* KENNEL_KENNEL_H */
