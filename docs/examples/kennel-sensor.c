/* kennel-sensor: topics and calls with libkennel (docs/C-LIBRARY.md). It registers NAME and
 *   - publishes its reading to "sensors/NAME/temp", retained (a later subscriber gets the last one),
 *     asking how many subscribers took it;
 *   - subscribes to "cmd/NAME/+": "cmd/NAME/set" sets the reading (and publishes it),
 *     "cmd/NAME/call" calls the name in the message with "ping", "cmd/NAME/quit" ends it;
 *   - serves calls: "read" is answered with the reading, anything else with error 1.
 *
 *   cc kennel-sensor.c $(pkg-config --cflags --libs kennel) -o kennel-sensor
 *   ./kennel-sensor unix:/run/kennel/broker.sock boiler
 *   export KENNEL_BROKER=unix:/run/kennel/broker.sock
 *   kennelctl sub 'sensors/#'                 # sensors/boiler/temp: 20.0
 *   kennelctl pub cmd/boiler/set 21.5
 *   kennelctl call boiler read --timeout 500  # 21.5
 *
 * The test tests/system/clib builds this file and runs it against a real broker, so it stays true. */
#include <kennel/kennel.h>

#include <stdio.h>
#include <string.h>

struct sensor {
    char reading[32];
    char topic[128];   /* sensors/NAME/temp */
    char commands[128]; /* cmd/NAME/ */
};

static void publish_reading(kennel *k, struct sensor *s)
{
    uint32_t id = 0;
    if (kennel_publish(k, s->topic, s->reading, strlen(s->reading), KENNEL_PUBLISH_RETAIN | KENNEL_PUBLISH_WANT_STATUS,
                       &id) != KENNEL_OK)
        fprintf(stderr, "kennel-sensor: cannot publish: %s\n", kennel_last_error(k));
}

static void on_publication(kennel *k, void *userdata, const kennel_publication *p)
{
    struct sensor *s = userdata;
    /* topic and payload are NUL-terminated: text can be used as it is. */
    printf("publication on %s from %s: %s%s\n", p->topic, p->publisher, (const char *)p->payload,
           p->retained ? " (retained)" : "");
    const char *command = p->topic + strlen(s->commands);
    if (strcmp(command, "set") == 0 && p->payload_len > 0 && p->payload_len < sizeof s->reading) {
        memcpy(s->reading, p->payload, p->payload_len + 1);
        publish_reading(k, s);
    } else if (strcmp(command, "call") == 0) {
        uint32_t call_id = 0;
        if (kennel_call(k, (const char *)p->payload, "ping", 4, 500, &call_id) == KENNEL_OK)
            printf("calling %s: call %u\n", (const char *)p->payload, (unsigned)call_id);
        else
            printf("cannot call %s: %s\n", (const char *)p->payload, kennel_last_error(k));
    } else if (strcmp(command, "quit") == 0) {
        kennel_disconnect(k); /* Bye; kennel_run() returns */
    }
}

static void on_topic_ack(kennel *k, void *userdata, const kennel_topic_ack *ack)
{
    (void)k;
    (void)userdata;
    if (ack->result == 0)
        printf("subscribed (request %u): %u retained\n", (unsigned)ack->id, (unsigned)ack->count);
    else
        printf("subscription %u refused: %s: %s\n", (unsigned)ack->id, kennel_error_code_name(ack->result), ack->text);
}

static void on_publish_status(kennel *k, void *userdata, const kennel_publish_status *st)
{
    (void)k;
    (void)userdata;
    printf("published %u: %s, delivered %u, not taken %u\n", (unsigned)st->id,
           st->result ? kennel_error_code_name(st->result) : "ok", (unsigned)st->delivered, (unsigned)st->not_taken);
}

static void on_call(kennel *k, void *userdata, const kennel_incoming_call *call)
{
    struct sensor *s = userdata;
    printf("call %u from %s: %s\n", (unsigned)call->call_id, call->caller, (const char *)call->payload);
    if (call->payload_len == 4 && memcmp(call->payload, "read", 4) == 0)
        kennel_reply(k, call->call_id, s->reading, strlen(s->reading));
    else
        kennel_reply_error(k, call->call_id, 1, "unknown request (ask \"read\")");
}

static void on_call_result(kennel *k, void *userdata, const kennel_call_result *r)
{
    (void)k;
    (void)userdata;
    if (r->outcome == KENNEL_CALL_REPLIED)
        printf("call %u to %s: replied: %s\n", (unsigned)r->call_id, r->target, (const char *)r->payload);
    else if (r->outcome == KENNEL_CALL_ERROR_REPLY)
        printf("call %u to %s: error %u: %s\n", (unsigned)r->call_id, r->target, (unsigned)r->code,
               (const char *)r->payload);
    else /* timeout, no_such_client, callee_gone, ... */
        printf("call %u to %s: %s\n", (unsigned)r->call_id, r->target, kennel_call_outcome_name(r->outcome));
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s ADDRESS NAME\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, also into a pipe */

    struct sensor s;
    snprintf(s.reading, sizeof s.reading, "20.0");
    snprintf(s.topic, sizeof s.topic, "sensors/%.64s/temp", argv[2]);
    snprintf(s.commands, sizeof s.commands, "cmd/%.64s/", argv[2]);

    kennel *k = kennel_new(&s);
    if (!k)
        return 1;
    kennel_set_publication_callback(k, on_publication);
    kennel_set_topic_ack_callback(k, on_topic_ack);
    kennel_set_publish_status_callback(k, on_publish_status);
    kennel_set_call_callback(k, on_call);
    kennel_set_call_result_callback(k, on_call_result);

    int r = kennel_connect(k, argv[1], argv[2], 5000);
    if (r != KENNEL_OK) {
        fprintf(stderr, "kennel-sensor: %s (%s)\n", kennel_last_error(k), kennel_strerror(r));
        kennel_free(k);
        return 1;
    }
    printf("registered as %s\n", kennel_name(k));

    /* Subscriptions belong to the connection: after a new kennel_connect, subscribe again. */
    char filter[140];
    snprintf(filter, sizeof filter, "%s+", s.commands);
    r = kennel_subscribe(k, filter, NULL);
    if (r == KENNEL_OK)
        publish_reading(k, &s);
    if (r != KENNEL_OK) { /* KENNEL_E_UNSUPPORTED from a broker without topics */
        fprintf(stderr, "kennel-sensor: %s\n", kennel_last_error(k));
        kennel_free(k);
        return 1;
    }

    r = kennel_run(k); /* until cmd/NAME/quit, or until the broker goes */
    if (r != KENNEL_OK)
        fprintf(stderr, "kennel-sensor: %s\n", kennel_last_error(k));
    printf("bye\n");
    kennel_free(k);
    return r == KENNEL_OK ? 0 : 1;
}
