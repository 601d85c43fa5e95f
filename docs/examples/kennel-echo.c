/* kennel-echo: a complete libkennel client (docs/C-LIBRARY.md). It registers NAME, asks the
 * broker's watchdog to watch it and feeds it from the loop's tick, greets PEER (if given) asking
 * for a delivery status, and answers every message with "echo: " and the message. "quit" ends it.
 *
 *   cc kennel-echo.c $(pkg-config --cflags --libs kennel) -o kennel-echo
 *   ./kennel-echo unix:/run/kennel/broker.sock echo1 logger
 *
 * The test tests/system/clib builds this file and runs it against a real broker, so it stays true. */
#include <kennel/kennel.h>

#include <stdio.h>
#include <string.h>

#define WATCHDOG_INTERVAL_MS 500u
#define WATCHDOG_MISSES 3u

static void on_message(kennel *k, void *userdata, const kennel_message *m)
{
    (void)userdata;
    /* The payload is followed by a NUL: text can be printed as it is. */
    printf("message %u from %s: %s\n", (unsigned)m->id, m->source, (const char *)m->payload);
    if (m->payload_len == 4 && memcmp(m->payload, "quit", 4) == 0) {
        kennel_disconnect(k); /* Bye; kennel_run() returns */
        return;
    }
    char reply[600];
    const int n = snprintf(reply, sizeof reply, "echo: %.*s", (int)m->payload_len, (const char *)m->payload);
    uint32_t id = 0;
    const int r = kennel_send(k, m->source, reply, (size_t)n < sizeof reply ? (size_t)n : sizeof reply - 1,
                              KENNEL_SEND_WANT_STATUS, &id);
    if (r != KENNEL_OK)
        fprintf(stderr, "kennel-echo: cannot answer %s: %s\n", m->source, kennel_last_error(k));
}

static void on_status(kennel *k, void *userdata, uint32_t id, const char *target, uint16_t status)
{
    (void)k;
    (void)userdata;
    printf("status %u to %s: %s\n", (unsigned)id, target, kennel_delivery_status_name(status));
}

static void on_error(kennel *k, void *userdata, uint16_t code, uint32_t id, const char *text)
{
    (void)k;
    (void)userdata;
    printf("broker error %s (%u) for %u: %s\n", kennel_error_code_name(code), (unsigned)code, (unsigned)id, text);
}

static void on_tick(kennel *k, void *userdata)
{
    (void)userdata;
    kennel_watchdog_feed(k); /* the loop is alive, so this process is */
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s ADDRESS NAME [PEER]\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, also into a pipe */

    kennel *k = kennel_new(NULL);
    if (!k)
        return 1;
    kennel_set_message_callback(k, on_message);
    kennel_set_status_callback(k, on_status);
    kennel_set_error_callback(k, on_error);

    int r = kennel_connect(k, argv[1], argv[2], 5000);
    if (r != KENNEL_OK) {
        fprintf(stderr, "kennel-echo: %s (%s)\n", kennel_last_error(k), kennel_strerror(r));
        kennel_free(k);
        return 1;
    }
    printf("registered as %s (broker %s, features 0x%x)\n", kennel_name(k), kennel_broker_version(k),
           (unsigned)kennel_broker_features(k));

    /* Disconnect us if we stop feeding: three intervals missed and the broker closes the connection. */
    const kennel_watchdog_terms asked = { WATCHDOG_INTERVAL_MS, WATCHDOG_MISSES, KENNEL_EXPIRY_DISCONNECT };
    kennel_watchdog_terms granted;
    r = kennel_watchdog_register(k, &asked, &granted, 5000);
    if (r != KENNEL_OK) {
        fprintf(stderr, "kennel-echo: watchdog: %s\n", kennel_last_error(k));
        kennel_free(k);
        return 1;
    }
    printf("watchdog every %u ms, %u misses, action %u\n", (unsigned)granted.interval_ms,
           (unsigned)granted.allowed_misses, (unsigned)granted.action);
    kennel_set_tick(k, granted.interval_ms / 3, on_tick);

    if (argc > 3) {
        uint32_t id = 0;
        const char hello[] = "hello from C";
        if (kennel_send(k, argv[3], hello, sizeof hello - 1, KENNEL_SEND_WANT_STATUS, &id) == KENNEL_OK)
            printf("sent %u to %s\n", (unsigned)id, argv[3]);
    }

    r = kennel_run(k); /* until "quit", or until the broker goes */
    if (r != KENNEL_OK)
        fprintf(stderr, "kennel-echo: %s\n", kennel_last_error(k));
    printf("bye\n");
    kennel_free(k);
    return r == KENNEL_OK ? 0 : 1;
}
