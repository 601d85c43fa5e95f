/* libkennel against a scripted fake broker (a forked child speaking the wire through the C codec):
 * what a real broker cannot be made to send. Thousands of Delivers of mixed sizes (one over the
 * initial buffer), a Ping in the middle, a frame with an invalid name, an unknown frame type, a
 * DeliveryStatus, an Error with a code from the future, a thousand Publications (topics of every
 * length up to 300 bytes, some retained), a TopicAck, calls to this client (answered by the
 * library: no call callback is set), then bytes that break framing. Checks: every message and
 * publication arrives whole and in order, NUL-terminated (topic too); the Ping is answered with
 * its id and payload, each call with error KENNEL_CALL_NOT_SERVED; the skipped and unknown frames
 * do not disturb the rest; the broken stream ends the session with KENNEL_E_PROTOCOL and the
 * disconnect callback; and the receive path allocates nothing per message (malloc is counted in
 * this program, except under the sanitizers, whose runtime owns malloc). That broker does not offer
 * deliver_ack: no DeliverAck may come. A second fake broker offers it (ack_session): cumulative
 * DeliverAcks, each after the callbacks it covers have returned, one per slow message, skipped
 * Delivers counted, and the acknowledgement before a Bye. Plain C11, no Qt: the library as a C
 * program sees it. */
#define _POSIX_C_SOURCE 200809L
#include <kennel/kennel.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MESSAGES 3000
#define BIG_SIZE 200000u
#define PUBLICATIONS 1000
#define CALLS 5

#ifndef KENNEL_NO_MALLOC_COUNT
extern void *__libc_malloc(size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_calloc(size_t count, size_t size);
static volatile long g_allocations;
void *malloc(size_t size)
{
    ++g_allocations;
    return __libc_malloc(size);
}
void *realloc(void *ptr, size_t size)
{
    ++g_allocations;
    return __libc_realloc(ptr, size);
}
void *calloc(size_t count, size_t size)
{
    ++g_allocations;
    return __libc_calloc(count, size);
}
#endif

static int g_failures;
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "test_cclient: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            ++g_failures;                                                                          \
        }                                                                                          \
    } while (0)

static size_t payload_size(unsigned i) { return i % 500 == 250 ? BIG_SIZE : (i * 37u) % 3000u; }

/* Publication i: a topic of (i % 300) + 1 bytes, "t/" and letters; a message of (i * 13) % 2000. */
static size_t topic_for(unsigned i, char *topic)
{
    const size_t len = i % 300u + 1u;
    for (size_t j = 0; j < len; ++j)
        topic[j] = j == 1 ? '/' : (char)('a' + (i + j) % 26);
    topic[len] = '\0';
    return len;
}
static size_t publication_size(unsigned i) { return (i * 13u) % 2000u; }

/* --- The fake broker --- */

static int write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len) {
        const ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, void *data, size_t len)
{
    uint8_t *p = data;
    while (len) {
        const ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static uint8_t g_frame[BIG_SIZE + 256];

static int send_frame_flags(int fd, uint8_t type, uint32_t id, uint16_t flags, const char *source, const char *target,
                            const void *payload, size_t payload_len)
{
    kennel_frame f;
    memset(&f, 0, sizeof f);
    f.type = type;
    f.flags = flags;
    f.message_id = id;
    f.source = (const uint8_t *)source;
    f.source_len = source ? strlen(source) : 0;
    f.target = (const uint8_t *)target;
    f.target_len = target ? strlen(target) : 0;
    f.payload = payload;
    f.payload_len = payload_len;
    const size_t n = kennel_wire_encode(g_frame, sizeof g_frame, &f);
    return n ? write_all(fd, g_frame, n) : -1;
}

static int send_frame(int fd, uint8_t type, uint32_t id, const char *source, const char *target, const void *payload,
                      size_t payload_len)
{
    return send_frame_flags(fd, type, id, 0, source, target, payload, payload_len);
}

/* Reads one whole frame into g_frame; returns its decoded view. */
static int read_frame(int fd, kennel_frame *f)
{
    if (read_all(fd, g_frame, KENNEL_WIRE_HEADER_SIZE) != 0)
        return -1;
    size_t size = 0, consumed = 0;
    kennel_wire_decode(g_frame, KENNEL_WIRE_HEADER_SIZE, sizeof g_frame, f, &consumed, &size);
    if (size < KENNEL_WIRE_HEADER_SIZE || read_all(fd, g_frame + KENNEL_WIRE_HEADER_SIZE, size - KENNEL_WIRE_HEADER_SIZE) != 0)
        return -1;
    return kennel_wire_decode(g_frame, size, sizeof g_frame, f, &consumed, NULL) == KENNEL_DECODE_OK ? 0 : -1;
}

static int fake_broker(int listener)
{
    const int fd = accept(listener, NULL, NULL);
    if (fd < 0)
        return 10;
    kennel_frame f;
    kennel_hello hello;
    if (read_frame(fd, &f) != 0 || f.type != KENNEL_FRAME_HELLO || f.source_len != 5
        || memcmp(f.source, "ctest", 5) != 0 || kennel_wire_decode_hello(f.payload, f.payload_len, &hello) != 0
        || !hello.has_features || hello.features != KENNEL_KNOWN_FEATURES || hello.pid != (uint32_t)getppid())
        return 11;
    uint8_t payload[64];
    const kennel_welcome welcome = { 1, 4u * 1024 * 1024, 1, KENNEL_FEATURE_WATCHDOG, (const uint8_t *)"fake", 4 };
    size_t n = kennel_wire_encode_welcome(payload, sizeof payload, &welcome);
    if (send_frame(fd, KENNEL_FRAME_WELCOME, f.message_id, NULL, "ctest", payload, n) != 0)
        return 12;

    static uint8_t body[BIG_SIZE];
    for (unsigned i = 0; i < MESSAGES; ++i) {
        const size_t size = payload_size(i);
        memset(body, (int)('a' + i % 26), size);
        if (send_frame(fd, KENNEL_FRAME_DELIVER, i, "peer", "ctest", body, size) != 0)
            return 13;
        if (i == MESSAGES / 2) { /* mid-stream: a Ping, a bad name, an unknown type */
            if (send_frame(fd, KENNEL_FRAME_PING, 77, NULL, NULL, "abc", 3) != 0
                || send_frame(fd, KENNEL_FRAME_DELIVER, 9999, "-bd", "ctest", "skip me", 7) != 0
                || send_frame(fd, 0x0F, 1, NULL, NULL, "future", 6) != 0)
                return 14;
        }
    }
    static uint8_t message[4096];
    for (unsigned i = 0; i < PUBLICATIONS; ++i) {
        char topic[512];
        kennel_topic_message m;
        m.topic = (const uint8_t *)topic;
        m.topic_len = topic_for(i, topic);
        memset(body, (int)('A' + i % 26), publication_size(i));
        m.message = body;
        m.message_len = publication_size(i);
        const size_t len = kennel_wire_encode_topic_message(message, sizeof message, &m);
        if (!len || send_frame_flags(fd, KENNEL_FRAME_PUBLICATION, i, i % 3 == 0 ? KENNEL_FLAG_RETAIN : 0, "pub", NULL,
                                     message, len) != 0)
            return 20;
    }
    const kennel_topic_ack_payload ack = { KENNEL_ERROR_TOO_MANY_SUBSCRIPTIONS, 0, (const uint8_t *)"full", 4 };
    n = kennel_wire_encode_topic_ack(payload, sizeof payload, &ack);
    if (send_frame(fd, KENNEL_FRAME_TOPIC_ACK, 31, NULL, NULL, payload, n) != 0)
        return 21;
    for (unsigned i = 0; i < CALLS; ++i) {
        const kennel_call_request req = { 1000, (const uint8_t *)"q?", 2 };
        n = kennel_wire_encode_call_request(payload, sizeof payload, &req);
        if (send_frame(fd, KENNEL_FRAME_CALL_INCOMING, 500 + i, "caller", "ctest", payload, n) != 0)
            return 22;
    }
    n = kennel_wire_encode_delivery_status(payload, sizeof payload, KENNEL_STATUS_NO_SUCH_CLIENT);
    if (send_frame(fd, KENNEL_FRAME_DELIVERY_STATUS, 5, NULL, "nobody", payload, n) != 0)
        return 15;
    const kennel_error_payload error = { 999, (const uint8_t *)"a code from the future", 22 };
    n = kennel_wire_encode_error(payload, sizeof payload, &error);
    if (send_frame(fd, KENNEL_FRAME_ERROR, 0, NULL, NULL, payload, n) != 0)
        return 16;

    /* The Pong must come back, with the Ping's id and payload (PROTOCOL §4.2), and each call be
     * answered with KENNEL_CALL_NOT_SERVED and its id. */
    unsigned replies = 0;
    int pong = 0;
    while (!pong || replies < CALLS) {
        if (read_frame(fd, &f) != 0)
            return 17;
        if (f.type == KENNEL_FRAME_PONG) {
            if (f.message_id != 77 || f.payload_len != 3 || memcmp(f.payload, "abc", 3) != 0)
                return 18;
            pong = 1;
        } else if (f.type == KENNEL_FRAME_DELIVER_ACK) {
            return 24; /* this broker did not offer deliver_ack (PROTOCOL §4.1.1) */
        } else if (f.type == KENNEL_FRAME_REPLY) {
            kennel_call_reply reply;
            if (kennel_wire_decode_call_reply(f.payload, f.payload_len, &reply) != 0
                || reply.code != KENNEL_CALL_NOT_SERVED || f.message_id != 500 + replies)
                return 23;
            ++replies;
        }
    }
    /* Framing broken: the client must give up on the stream. */
    if (write_all(fd, "XX", 2) != 0)
        return 19;
    char c;
    while (read(fd, &c, 1) > 0) /* until the client closes */
        ;
    close(fd);
    return 0;
}

/* --- Receiver acknowledgement (PROTOCOL §5.7) against a broker that offers deliver_ack. The
 * client writes a byte to `processed` at the end of each message callback, so the fake broker can
 * tell that an acknowledgement never comes before the callbacks it covers have returned. --- */

#define SLOW_MS 25 /* past the library's 10 ms: each slow message is acknowledged on its own */

static size_t g_batch_len;
static uint8_t g_batch[4096];

static int batch_frame(uint8_t type, uint32_t id, const char *source, const char *target, const char *payload)
{
    kennel_frame f;
    memset(&f, 0, sizeof f);
    f.type = type;
    f.message_id = id;
    f.source = (const uint8_t *)source;
    f.source_len = source ? strlen(source) : 0;
    f.target = (const uint8_t *)target;
    f.target_len = target ? strlen(target) : 0;
    f.payload = (const uint8_t *)payload;
    f.payload_len = strlen(payload);
    const size_t n = kennel_wire_encode(g_batch + g_batch_len, sizeof g_batch - g_batch_len, &f);
    g_batch_len += n;
    return n ? 0 : -1;
}

/* Bytes the client has written to the pipe so far (it is non-blocking here). */
static unsigned processed_so_far(int processed)
{
    static unsigned total;
    char buf[64];
    ssize_t n;
    while ((n = read(processed, buf, sizeof buf)) > 0)
        total += (unsigned)n;
    return total;
}

/* Reads frames until a DeliverAck; the ack must be header-only. Returns its count, or -1. */
static int64_t read_ack(int fd, int *pongs)
{
    kennel_frame f;
    for (;;) {
        if (read_frame(fd, &f) != 0)
            return -1;
        if (f.type == KENNEL_FRAME_PONG && f.message_id == 88) {
            ++*pongs;
            continue;
        }
        if (f.type != KENNEL_FRAME_DELIVER_ACK || f.source_len || f.target_len || f.payload_len || f.flags)
            return -1;
        return f.message_id;
    }
}

static int fake_acking_broker(int listener, int processed)
{
    const int fd = accept(listener, NULL, NULL);
    if (fd < 0)
        return 30;
    fcntl(processed, F_SETFL, O_NONBLOCK);
    kennel_frame f;
    kennel_hello hello;
    if (read_frame(fd, &f) != 0 || f.type != KENNEL_FRAME_HELLO
        || kennel_wire_decode_hello(f.payload, f.payload_len, &hello) != 0 || !hello.has_features
        || !(hello.features & KENNEL_FEATURE_DELIVER_ACK))
        return 31;
    uint8_t payload[64];
    const kennel_welcome welcome = { 1, 1024u * 1024, 1, KENNEL_FEATURE_WATCHDOG | KENNEL_FEATURE_DELIVER_ACK,
                                     (const uint8_t *)"fake", 4 };
    const size_t n = kennel_wire_encode_welcome(payload, sizeof payload, &welcome);
    if (send_frame(fd, KENNEL_FRAME_WELCOME, f.message_id, NULL, "cack", payload, n) != 0)
        return 32;

    /* Five quick messages, one the library must skip (a bad name) but count, and a Ping, in one
     * write: one cumulative DeliverAck of 6, after all five callbacks returned. */
    g_batch_len = 0;
    for (unsigned i = 0; i < 5; ++i)
        if (batch_frame(KENNEL_FRAME_DELIVER, 100 + i, "peer", "cack", "fast") != 0)
            return 33;
    if (batch_frame(KENNEL_FRAME_DELIVER, 200, "-bd", "cack", "skip me") != 0
        || batch_frame(KENNEL_FRAME_PING, 88, NULL, NULL, "p") != 0 || write_all(fd, g_batch, g_batch_len) != 0)
        return 34;
    int pongs = 0;
    int64_t ack;
    do {
        ack = read_ack(fd, &pongs);
        if (ack < 0 || ack > 6)
            return 35;
        if (processed_so_far(processed) < (unsigned)(ack > 5 ? 5 : ack)) /* acknowledged before processed */
            return 36;
    } while (ack != 6);

    /* Three slow messages in one write: each is acknowledged when its callback has returned, not
     * at the end of the read, so a crash would deliver again at most one of them. */
    g_batch_len = 0;
    for (unsigned i = 0; i < 3; ++i)
        if (batch_frame(KENNEL_FRAME_DELIVER, 300 + i, "peer", "cack", "slow") != 0)
            return 37;
    if (write_all(fd, g_batch, g_batch_len) != 0)
        return 38;
    for (int64_t expected = 7; expected <= 9; ++expected) {
        ack = read_ack(fd, &pongs);
        if (ack != expected)
            return 39;
        if (processed_so_far(processed) < (unsigned)ack - 1) /* the skipped one wrote nothing */
            return 40;
    }

    /* "bye": the callback disconnects; that message counts as processed, acknowledged before Bye. */
    g_batch_len = 0;
    if (batch_frame(KENNEL_FRAME_DELIVER, 400, "peer", "cack", "bye") != 0 || write_all(fd, g_batch, g_batch_len) != 0)
        return 41;
    if (read_ack(fd, &pongs) != 10 || pongs != 1)
        return 42;
    if (read_frame(fd, &f) != 0 || f.type != KENNEL_FRAME_BYE)
        return 43;
    char c;
    if (read(fd, &c, 1) != 0)
        return 44;
    close(fd);
    return 0;
}

static int g_processed_fd = -1;
static unsigned g_ack_messages;
static int g_ack_disconnect = 1;

static void on_ack_message(kennel *k, void *userdata, const kennel_message *m)
{
    (void)userdata;
    ++g_ack_messages;
    if (strcmp(m->payload, "slow") == 0) {
        const struct timespec ts = { 0, SLOW_MS * 1000000L };
        nanosleep(&ts, NULL);
    }
    CHECK(write(g_processed_fd, "x", 1) == 1); /* before a disconnect lets the fake broker exit */
    if (strcmp(m->payload, "bye") == 0)
        CHECK(kennel_disconnect(k) == KENNEL_OK);
}

static void on_ack_disconnect(kennel *k, void *userdata, int reason)
{
    (void)k;
    (void)userdata;
    g_ack_disconnect = reason;
}

static void ack_session(const char *dir)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s/a", dir);
    int pipefd[2];
    const int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(pipe(pipefd) == 0);
    CHECK(listener >= 0 && bind(listener, (struct sockaddr *)&sun, sizeof sun) == 0 && listen(listener, 1) == 0);
    const pid_t child = fork();
    if (child == 0) {
        close(pipefd[1]);
        _exit(fake_acking_broker(listener, pipefd[0]));
    }
    close(listener);
    close(pipefd[0]);
    g_processed_fd = pipefd[1];

    kennel *k = kennel_new(NULL);
    kennel_set_message_callback(k, on_ack_message);
    kennel_set_disconnect_callback(k, on_ack_disconnect);
    CHECK(kennel_set_deliver_ack(k, KENNEL_ACK_OFF) == KENNEL_OK && kennel_set_deliver_ack(k, 3) == KENNEL_E_INVAL);
    CHECK(kennel_ack(k) == KENNEL_E_STATE); /* not connected */
    CHECK(kennel_set_deliver_ack(k, KENNEL_ACK_AUTO) == KENNEL_OK);
    char address[128];
    snprintf(address, sizeof address, "unix:%s", sun.sun_path);
    CHECK(kennel_connect(k, address, "cack", 5000) == KENNEL_OK);
    CHECK(kennel_set_deliver_ack(k, 0) == KENNEL_E_STATE); /* for the next connection only */
    const time_t give_up = time(NULL) + 10; /* a missing acknowledgement stalls both sides */
    while (kennel_fd(k) >= 0 && time(NULL) < give_up)
        kennel_loop_once(k, 100);
    CHECK(kennel_fd(k) == -1);
    CHECK(g_ack_messages == 9);
    CHECK(g_ack_disconnect == KENNEL_OK);
    kennel_free(k);
    close(pipefd[1]);

    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "test_cclient: the acking fake broker failed with status %d\n", WEXITSTATUS(status));
    unlink(sun.sun_path);
}

/* --- The client --- */

static unsigned g_received, g_publications;
static int g_order_ok = 1, g_publications_ok = 1, g_status, g_error, g_disconnect = 1, g_ack;

static void on_message(kennel *k, void *userdata, const kennel_message *m)
{
    (void)k;
    (void)userdata;
    const unsigned i = g_received++;
    const uint8_t *p = m->payload;
    int ok = m->id == i && m->payload_len == payload_size(i) && strcmp(m->source, "peer") == 0
             && strcmp(m->target, "ctest") == 0 && p[m->payload_len] == '\0';
    for (size_t j = 0; ok && j < m->payload_len; j += 97)
        ok = p[j] == (uint8_t)('a' + i % 26);
    if (!ok)
        g_order_ok = 0;
}

static void on_publication(kennel *k, void *userdata, const kennel_publication *p)
{
    (void)k;
    (void)userdata;
    const unsigned i = g_publications++;
    char topic[512];
    const size_t topic_len = topic_for(i, topic);
    const uint8_t *m = p->payload;
    int ok = p->id == i && p->topic_len == topic_len && strcmp(p->topic, topic) == 0 && strcmp(p->publisher, "pub") == 0
             && p->payload_len == publication_size(i) && m[p->payload_len] == '\0' && p->retained == (i % 3 == 0);
    for (size_t j = 0; ok && j < p->payload_len; j += 61)
        ok = m[j] == (uint8_t)('A' + i % 26);
    if (!ok)
        g_publications_ok = 0;
}

static void on_topic_ack(kennel *k, void *userdata, const kennel_topic_ack *ack)
{
    (void)k;
    (void)userdata;
    g_ack = ack->id == 31 && ack->result == KENNEL_ERROR_TOO_MANY_SUBSCRIPTIONS && strcmp(ack->text, "full") == 0 ? 1 : -1;
}

static void on_status(kennel *k, void *userdata, uint32_t id, const char *target, uint16_t status)
{
    (void)k;
    (void)userdata;
    g_status = id == 5 && strcmp(target, "nobody") == 0 && status == KENNEL_STATUS_NO_SUCH_CLIENT ? 1 : -1;
}

static void on_error(kennel *k, void *userdata, uint16_t code, uint32_t id, const char *text)
{
    (void)k;
    (void)userdata;
    g_error = code == 999 && id == 0 && strcmp(text, "a code from the future") == 0 ? 1 : -1;
}

static void on_disconnect(kennel *k, void *userdata, int reason)
{
    (void)k;
    (void)userdata;
    g_disconnect = reason;
}

int main(void)
{
    char dir[] = "/tmp/kennel-cclient-XXXXXX";
    if (!mkdtemp(dir))
        return 2;
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s/s", dir);
    const int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&sun, sizeof sun) != 0 || listen(listener, 1) != 0)
        return 2;
    const pid_t child = fork();
    if (child == 0)
        _exit(fake_broker(listener));
    close(listener);

    kennel *k = kennel_new(NULL);
    kennel_set_message_callback(k, on_message);
    kennel_set_status_callback(k, on_status);
    kennel_set_error_callback(k, on_error);
    kennel_set_disconnect_callback(k, on_disconnect);
    kennel_set_publication_callback(k, on_publication);
    kennel_set_topic_ack_callback(k, on_topic_ack);
    char address[128];
    snprintf(address, sizeof address, "unix:%s", sun.sun_path);

#ifndef KENNEL_NO_MALLOC_COUNT
    const long before = g_allocations;
#endif
    int r = kennel_connect(k, address, "ctest", 5000);
    CHECK(r == KENNEL_OK);
    CHECK(kennel_broker_features(k) == KENNEL_FEATURE_WATCHDOG);
    CHECK(strcmp(kennel_broker_version(k), "fake") == 0);
    CHECK(kennel_max_frame_size(k) == 4u * 1024 * 1024);
    int rounds = 0;
    while (r >= 0 && rounds++ < 100000)
        r = kennel_loop_once(k, 5000);
#ifndef KENNEL_NO_MALLOC_COUNT
    const long allocations = g_allocations - before;
    /* The two buffers and one growth of the receive buffer for the big frames: a handful, for
     * thousands of messages. */
    printf("test_cclient: %ld allocations for %u messages and %u publications\n", allocations, g_received,
           g_publications);
    CHECK(allocations <= 4);
#else
    printf("test_cclient: allocations not counted under the sanitizers\n");
#endif
    CHECK(r == KENNEL_E_PROTOCOL);
    CHECK(strstr(kennel_last_error(k), "bad_magic") != NULL);
    CHECK(g_disconnect == KENNEL_E_PROTOCOL);
    CHECK(g_received == MESSAGES);
    CHECK(g_order_ok);
    CHECK(g_publications == PUBLICATIONS);
    CHECK(g_publications_ok);
    CHECK(g_ack == 1);
    CHECK(g_status == 1);
    CHECK(g_error == 1);
    CHECK(kennel_broker_error(k) == 999);
    CHECK(kennel_fd(k) == -1);
    kennel_free(k);

    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "test_cclient: the fake broker failed with status %d\n", WEXITSTATUS(status));
    unlink(sun.sun_path);
    ack_session(dir);

    /* The shutdown mark's comparison (PROTOCOL ): serial numbers, 0 = nothing read. */
    CHECK(kennel_id_after(5, 4) && !kennel_id_after(4, 5) && !kennel_id_after(5, 5));
    CHECK(kennel_id_after(1, 0xFFFFFFFFu) && !kennel_id_after(0xFFFFFFFFu, 1));
    CHECK(kennel_id_after(0x80000000u, 1) && !kennel_id_after(0x80000001u, 1));
    CHECK(kennel_id_after(7, 0) && kennel_id_after(0xFFFFFFFFu, 0));
    rmdir(dir);
    if (g_failures)
        return 1;
    printf("test_cclient: OK, %u messages\n", g_received);
    return 0;
}
