/* libkennel's internals shared by its source files: the object, and the helpers kennel.c gives
 * topics_calls.c (topics and calls, PROTOCOL §5.5, §5.6). Not installed; the library is built
 * with hidden visibility, so none of these names is exported. */
#ifndef KENNEL_INTERNAL_H
#define KENNEL_INTERNAL_H

#include "kennel/kennel.h"

enum {
    INITIAL_BUFFER = 64 * 1024,
    READS_PER_PROCESS = 16,
    DEFAULT_MAX_OUTPUT = 8 * 1024 * 1024,
    DEFAULT_MAX_CALLS = 256,
    MAX_TOPIC_LENGTH = 0xFFFF,
    /* A slow receive callback still acknowledges at least this often within one read, so that a
     * crash re-delivers only what it processed in the last few milliseconds (PROTOCOL ). */
    ACK_INTERVAL_MS = 10
};

/* A call made with kennel_call and not answered yet: kept so that the connection's end can
 * answer it (KENNEL_CALL_LINK_LOST) and every call hears exactly one result. */
struct outstanding_call {
    uint32_t id;
    char target[KENNEL_WIRE_MAX_NAME_LENGTH + 1];
};

struct kennel {
    void *userdata;
    int fd;
    int registered;
    int running;
    int dispatching;     /* inside a callback: no waiting, no reading */

    kennel_message_cb on_message;
    kennel_status_cb on_status;
    kennel_error_cb on_error;
    kennel_disconnect_cb on_disconnect;
    kennel_tick_cb on_tick;
    kennel_publication_cb on_publication;
    kennel_topic_ack_cb on_topic_ack;
    kennel_publish_status_cb on_publish_status;
    kennel_call_result_cb on_call_result;
    kennel_call_cb on_call;
    unsigned tick_ms;
    int64_t next_tick;

    char name[KENNEL_WIRE_MAX_NAME_LENGTH + 1];
    char peer_source[KENNEL_WIRE_MAX_NAME_LENGTH + 1]; /* NUL-terminated copies for callbacks */
    char peer_target[KENNEL_WIRE_MAX_NAME_LENGTH + 1];
    char broker_version[64];
    uint32_t broker_features;
    uint32_t max_frame_size;
    uint16_t broker_error;
    char last_error[256];

    /* Receiver acknowledgement (PROTOCOL §5.7): Deliver frames handled since the Welcome, and the
     * count last queued in a DeliverAck; both modulo 2^32, as the broker counts them. */
    int deliver_ack;     /* enum kennel_ack_mode (kennel_set_deliver_ack) */
    int acking;          /* negotiated on this connection */
    uint32_t delivered, acked;
    int64_t acked_at;    /* when the last DeliverAck was queued (CLOCK_MONOTONIC ms) */
    int in_message;      /* inside the message callback: kennel_disconnect counts that message */

    uint32_t next_id;
    /* What a waiting call waits for: the messageId of its request and how it ended. */
    uint32_t wait_id;
    int wait_done;       /* 0 waiting, 1 answered, <0 refused/failed */
    kennel_watchdog_terms wait_terms;

    struct outstanding_call *calls; /* allocated once, at the first call: max_calls entries */
    unsigned calls_count, max_calls;

    uint8_t *in;         /* receive buffer: [in_off, in_len) not yet decoded; in_cap > in_len always */
    size_t in_len, in_off, in_cap;
    uint8_t *out;        /* output buffer: [out_off, out_len) not yet written */
    size_t out_len, out_off, out_cap, max_output;
};

/* kennel.c */
/* Writes a sentence to last_error and returns `result`. */
int kn_fail(kennel *k, int result, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Appends one frame (payload = head + mid + payload) to the output buffer. */
int kn_queue_parts(kennel *k, uint8_t type, uint32_t id, uint16_t flags, const char *target, const void *head,
                   size_t head_len, const void *mid, size_t mid_len, const void *payload, size_t payload_len);
/* Writes what the socket takes now; on an error the connection is lost (callbacks run). */
int kn_write_out(kennel *k);
uint32_t kn_take_id(kennel *k);
void kn_copy_name(char *dst, const uint8_t *src, size_t len);

/* topics_calls.c */
/* Dispatches a Publication, TopicAck, PublishStatus, CallResult or CallIncoming. */
int kn_dispatch_topics_calls(kennel *k, const kennel_frame *f);
/* The connection ended: each outstanding call ends KENNEL_CALL_LINK_LOST, once. */
void kn_end_calls(kennel *k);

#endif /* KENNEL_INTERNAL_H */
