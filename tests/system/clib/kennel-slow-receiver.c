/* A receiver written the way a C program on a board is: it registers, asks the broker's watchdog to
 * watch it, and handles each message slowly (PAUSE_MS, as if it wrote it somewhere), printing
 * "got PAYLOAD" once it has. tst_clib kills it mid-stream (SIGKILL, or SIGSTOP and the watchdog)
 * and starts it again, to see that libkennel's acknowledgements (PROTOCOL §5.7) leave nothing
 * behind.
 *
 *   kennel-slow-receiver ADDRESS NAME PAUSE_MS [disconnect|terminate] [noack]
 *
 * The watchdog's action on expiry (1000 ms, 2 misses): disconnect (the default) or terminate.
 * "noack" turns the acknowledgement off (KENNEL_ACK_OFF), the old contract. */
#define _POSIX_C_SOURCE 200809L
#include <kennel/kennel.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void on_message(kennel *k, void *userdata, const kennel_message *m)
{
    const long pause_ms = *(const long *)userdata;
    struct timespec ts = { pause_ms / 1000, (pause_ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
    printf("got %.*s\n", (int)m->payload_len, (const char *)m->payload);
    fflush(stdout);
    kennel_watchdog_feed(k); /* a slow loop feeds where it works, not only between reads */
}

static void on_tick(kennel *k, void *userdata)
{
    (void)userdata;
    kennel_watchdog_feed(k);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s ADDRESS NAME PAUSE_MS [noack]\n", argv[0]);
        return 2;
    }
    long pause_ms = strtol(argv[3], NULL, 10);
    kennel *k = kennel_new(&pause_ms);
    if (!k)
        return 1;
    kennel_set_message_callback(k, on_message);
    kennel_watchdog_terms terms = { 1000, 2, KENNEL_EXPIRY_DISCONNECT };
    for (int i = 4; i < argc; ++i) {
        if (strcmp(argv[i], "noack") == 0)
            kennel_set_deliver_ack(k, KENNEL_ACK_OFF);
        else if (strcmp(argv[i], "terminate") == 0)
            terms.action = KENNEL_EXPIRY_TERMINATE;
    }
    /* Restarted at once, it may be faster than the broker noticing that the killed process's
     * connection closed: name_taken until then. */
    int r = KENNEL_E_REFUSED;
    for (int tries = 0; tries < 100; ++tries) {
        r = kennel_connect(k, argv[1], argv[2], 5000);
        if (r != KENNEL_E_REFUSED || kennel_broker_error(k) != KENNEL_ERROR_NAME_TAKEN)
            break;
        const struct timespec ts = { 0, 50 * 1000000L };
        nanosleep(&ts, NULL);
    }
    if (r != KENNEL_OK) {
        fprintf(stderr, "connect: %s\n", kennel_last_error(k));
        return 1;
    }
    r = kennel_watchdog_register(k, &terms, NULL, 5000);
    if (r == KENNEL_OK)
        r = kennel_set_tick(k, 200, on_tick);
    if (r != KENNEL_OK) {
        fprintf(stderr, "watchdog: %s\n", kennel_last_error(k));
        return 1;
    }
    printf("registered\n");
    fflush(stdout);
    r = kennel_run(k);
    fprintf(stderr, "ended: %s\n", kennel_last_error(k));
    kennel_free(k);
    return r == KENNEL_OK ? 0 : 1;
}
