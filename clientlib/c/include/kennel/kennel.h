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
 * and the waiting calls (kennel_connect, kennel_watchdog_register); a callback may send, feed and
 * disconnect, but not wait or process (those return KENNEL_E_STATE there). */
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
#define KENNEL_C_VERSION_MINOR 1

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
    KENNEL_E_TOOLARGE = -12  /* the frame is over the broker's maximum frame size */
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
 * messageId of the frame it answers (0: none), `text` for people. */
typedef void (*kennel_error_cb)(kennel *k, void *userdata, uint16_t code, uint32_t id, const char *text);
/* A registered connection ended: `reason` a kennel_result (KENNEL_E_CLOSED, KENNEL_E_IO,
 * KENNEL_E_PROTOCOL, ...), or KENNEL_OK after kennel_disconnect(). Not called for a kennel_connect
 * that fails: its result says why. */
typedef void (*kennel_disconnect_cb)(kennel *k, void *userdata, int reason);
/* A periodic call from the loop (kennel_set_tick): feed the watchdog, run timers. */
typedef void (*kennel_tick_cb)(kennel *k, void *userdata);

KENNEL_EXPORT kennel *kennel_new(void *userdata); /* NULL when out of memory */
KENNEL_EXPORT void kennel_free(kennel *k);        /* closes without Bye; NULL is fine */
KENNEL_EXPORT void *kennel_userdata(const kennel *k);

KENNEL_EXPORT void kennel_set_message_callback(kennel *k, kennel_message_cb cb);
KENNEL_EXPORT void kennel_set_status_callback(kennel *k, kennel_status_cb cb);
KENNEL_EXPORT void kennel_set_error_callback(kennel *k, kennel_error_cb cb);
KENNEL_EXPORT void kennel_set_disconnect_callback(kennel *k, kennel_disconnect_cb cb);
/* Calls cb every interval_ms from kennel_loop_once()/kennel_run() (0: never). */
KENNEL_EXPORT int kennel_set_tick(kennel *k, unsigned interval_ms, kennel_tick_cb cb);
/* Bytes kennel_send may queue before it answers KENNEL_E_AGAIN (default 8 MiB). */
KENNEL_EXPORT int kennel_set_max_output(kennel *k, size_t bytes);

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
