/* libkennel's topics (PROTOCOL §5.5) and calls (§5.6): the requests, the dispatch of what the
 * broker answers, and the table of outstanding calls. The connection, the buffers and the loop
 * are kennel.c's (internal.h). */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void kennel_set_publication_callback(kennel *k, kennel_publication_cb cb) { k->on_publication = cb; }
void kennel_set_topic_ack_callback(kennel *k, kennel_topic_ack_cb cb) { k->on_topic_ack = cb; }
void kennel_set_publish_status_callback(kennel *k, kennel_publish_status_cb cb) { k->on_publish_status = cb; }
void kennel_set_call_result_callback(kennel *k, kennel_call_result_cb cb) { k->on_call_result = cb; }
void kennel_set_call_callback(kennel *k, kennel_call_cb cb) { k->on_call = cb; }

int kennel_set_max_calls(kennel *k, unsigned max_calls)
{
    if (!k || max_calls == 0)
        return KENNEL_E_INVAL;
    if (k->fd >= 0 || k->calls) /* the table is sized once */
        return kn_fail(k, KENNEL_E_STATE,
                       "kennel_set_max_calls must come before connecting and before the first kennel_call");
    k->max_calls = max_calls;
    return KENNEL_OK;
}

unsigned kennel_outstanding_calls(const kennel *k) { return k ? k->calls_count : 0; }

void kn_end_calls(kennel *k)
{
    /* Calls still outstanding will hear nothing from this connection: each ends here, once. */
    const int was_dispatching = k->dispatching;
    k->dispatching = 1;
    while (k->calls_count > 0) {
        const struct outstanding_call call = k->calls[--k->calls_count];
        if (k->on_call_result) {
            kennel_call_result r;
            memset(&r, 0, sizeof r);
            r.call_id = call.id;
            r.target = call.target;
            r.outcome = KENNEL_CALL_LINK_LOST;
            r.payload = "";
            k->on_call_result(k, k->userdata, &r);
        }
    }
    k->dispatching = was_dispatching;
}

static int take_call(kennel *k, uint32_t id, char *target)
{
    for (unsigned i = 0; i < k->calls_count; ++i) {
        if (k->calls[i].id == id) {
            memcpy(target, k->calls[i].target, sizeof k->calls[i].target);
            k->calls[i] = k->calls[--k->calls_count];
            return 1;
        }
    }
    return 0;
}

static void dispatch_publication(kennel *k, const kennel_frame *f, const kennel_topic_message *m)
{
    /* The topic is followed by the message: to hand it out NUL-terminated without a copy, move it
     * two bytes down over its length field (read already) and end it in the gap. */
    uint8_t *topic = (uint8_t *)m->topic - KENNEL_TOPIC_PREFIX_SIZE;
    memmove(topic, m->topic, m->topic_len);
    topic[m->topic_len] = '\0';
    kennel_publication pub;
    kn_copy_name(k->peer_source, f->source, f->source_len);
    pub.id = f->message_id;
    pub.publisher = k->peer_source;
    pub.topic = (const char *)topic;
    pub.topic_len = m->topic_len;
    pub.payload = m->message;
    pub.payload_len = m->message_len;
    pub.retained = (f->flags & KENNEL_FLAG_RETAIN) != 0;
    k->on_publication(k, k->userdata, &pub);
}

int kn_dispatch_topics_calls(kennel *k, const kennel_frame *f)
{
    int result = KENNEL_OK;
    switch (f->type) {
    case KENNEL_FRAME_PUBLICATION: {
        kennel_topic_message m;
        if (kennel_wire_decode_topic_message(f->payload, f->payload_len, &m) != 0) {
            result = kn_fail(k, KENNEL_E_PROTOCOL, "the broker sent a malformed Publication");
            break;
        }
        if (k->on_publication)
            dispatch_publication(k, f, &m);
        break;
    }
    case KENNEL_FRAME_TOPIC_ACK: {
        kennel_topic_ack_payload a;
        if (kennel_wire_decode_topic_ack(f->payload, f->payload_len, &a) != 0) {
            result = kn_fail(k, KENNEL_E_PROTOCOL, "the broker sent a malformed TopicAck");
            break;
        }
        if (k->on_topic_ack) {
            const kennel_topic_ack ack = { f->message_id, a.result, a.count, (const char *)a.text };
            k->on_topic_ack(k, k->userdata, &ack);
        }
        break;
    }
    case KENNEL_FRAME_PUBLISH_STATUS: {
        kennel_publish_status_payload p;
        if (kennel_wire_decode_publish_status(f->payload, f->payload_len, &p) != 0) {
            result = kn_fail(k, KENNEL_E_PROTOCOL, "the broker sent a malformed PublishStatus");
            break;
        }
        if (k->on_publish_status) {
            const kennel_publish_status st = { f->message_id, p.result, p.delivered, p.not_taken,
                                               (const char *)p.text };
            k->on_publish_status(k, k->userdata, &st);
        }
        break;
    }
    case KENNEL_FRAME_CALL_RESULT: {
        kennel_call_result_payload p;
        if (kennel_wire_decode_call_result(f->payload, f->payload_len, &p) != 0) {
            result = kn_fail(k, KENNEL_E_PROTOCOL, "the broker sent a malformed CallResult");
            break;
        }
        /* One result per call: one for a call this object did not make (or ended already) is dropped. */
        if (!take_call(k, f->message_id, k->peer_target) || !k->on_call_result)
            break;
        kennel_call_result r;
        r.call_id = f->message_id;
        r.target = k->peer_target;
        r.outcome = p.outcome;
        r.code = p.code;
        r.payload = p.body;
        r.payload_len = p.body_len;
        k->on_call_result(k, k->userdata, &r);
        break;
    }
    case KENNEL_FRAME_CALL_INCOMING: {
        kennel_call_request req;
        if (kennel_wire_decode_call_request(f->payload, f->payload_len, &req) != 0) {
            result = kn_fail(k, KENNEL_E_PROTOCOL, "the broker sent a malformed CallIncoming");
            break;
        }
        if (!k->on_call) {
            static const char text[] = "no call callback in this libkennel client";
            const uint8_t code[2] = { (uint8_t)(KENNEL_CALL_NOT_SERVED >> 8), (uint8_t)KENNEL_CALL_NOT_SERVED };
            result = kn_queue_parts(k, KENNEL_FRAME_REPLY, f->message_id, 0, NULL, code, sizeof code, NULL, 0, text,
                                    sizeof text - 1);
            break;
        }
        kennel_incoming_call call;
        kn_copy_name(k->peer_source, f->source, f->source_len);
        call.call_id = f->message_id;
        call.caller = k->peer_source;
        call.deadline_ms = req.deadline_ms;
        call.payload = req.request;
        call.payload_len = req.request_len;
        k->on_call(k, k->userdata, &call);
        break;
    }
    default:
        break;
    }
    return result;
}

/* --- Topics and calls --- */

/* What every request of an optional feature checks first. */
static int feature_ready(kennel *k, uint32_t feature, const char *what)
{
    if (!kennel_is_connected(k))
        return kn_fail(k, KENNEL_E_STATE, "not connected");
    if (!(k->broker_features & feature))
        return kn_fail(k, KENNEL_E_UNSUPPORTED, "the broker does not offer %s (its features: 0x%x)", what,
                       (unsigned)k->broker_features);
    return KENNEL_OK;
}

static int topic_request(kennel *k, uint8_t type, const char *filter, uint32_t *id)
{
    if (!k || !filter)
        return KENNEL_E_INVAL;
    const size_t len = strlen(filter);
    if (len == 0 || len > MAX_TOPIC_LENGTH)
        return kn_fail(k, KENNEL_E_INVAL, "a topic filter has 1 to %d bytes, not %zu", MAX_TOPIC_LENGTH, len);
    int r = feature_ready(k, KENNEL_FEATURE_TOPICS, "topics");
    if (r < 0)
        return r;
    const uint32_t message_id = kn_take_id(k);
    const uint8_t prefix[2] = { (uint8_t)(len >> 8), (uint8_t)len };
    r = kn_queue_parts(k, type, message_id, 0, NULL, prefix, sizeof prefix, NULL, 0, filter, len);
    if (r < 0)
        return r;
    if (id)
        *id = message_id;
    return k->dispatching ? KENNEL_OK : kn_write_out(k);
}

int kennel_subscribe(kennel *k, const char *filter, uint32_t *id)
{
    return topic_request(k, KENNEL_FRAME_SUBSCRIBE, filter, id);
}

int kennel_unsubscribe(kennel *k, const char *filter, uint32_t *id)
{
    return topic_request(k, KENNEL_FRAME_UNSUBSCRIBE, filter, id);
}

int kennel_publish(kennel *k, const char *topic, const void *payload, size_t len, unsigned flags, uint32_t *id)
{
    if (!k || !topic || (!payload && len))
        return KENNEL_E_INVAL;
    const size_t topic_len = strlen(topic);
    if (topic_len == 0 || topic_len > MAX_TOPIC_LENGTH)
        return kn_fail(k, KENNEL_E_INVAL, "a topic has 1 to %d bytes, not %zu", MAX_TOPIC_LENGTH, topic_len);
    int r = feature_ready(k, KENNEL_FEATURE_TOPICS, "topics");
    if (r < 0)
        return r;
    const uint32_t message_id = kn_take_id(k);
    const uint16_t wire_flags = (uint16_t)(((flags & KENNEL_PUBLISH_WANT_STATUS) ? KENNEL_FLAG_WANT_DELIVERY_STATUS : 0)
                                           | ((flags & KENNEL_PUBLISH_RETAIN) ? KENNEL_FLAG_RETAIN : 0));
    const uint8_t prefix[2] = { (uint8_t)(topic_len >> 8), (uint8_t)topic_len };
    r = kn_queue_parts(k, KENNEL_FRAME_PUBLISH, message_id, wire_flags, NULL, prefix, sizeof prefix, topic, topic_len,
                       payload, len);
    if (r < 0)
        return r;
    if (id)
        *id = message_id;
    return k->dispatching ? KENNEL_OK : kn_write_out(k);
}

int kennel_call(kennel *k, const char *target, const void *payload, size_t len, uint32_t timeout_ms, uint32_t *call_id)
{
    if (!k || !target || (!payload && len))
        return KENNEL_E_INVAL;
    const size_t target_len = strlen(target);
    if (!kennel_wire_valid_target((const uint8_t *)target, target_len))
        return kn_fail(k, KENNEL_E_INVAL, "\"%.64s\" is not a valid target name", target);
    int r = feature_ready(k, KENNEL_FEATURE_CALLS, "calls");
    if (r < 0)
        return r;
    if (!k->calls) {
        k->calls = calloc(k->max_calls, sizeof *k->calls);
        if (!k->calls)
            return kn_fail(k, KENNEL_E_NOMEM, "out of memory for %u outstanding calls", k->max_calls);
    }
    if (k->calls_count >= k->max_calls)
        return kn_fail(k, KENNEL_E_BUSY, "%u calls are outstanding already (kennel_set_max_calls)", k->calls_count);
    const uint32_t id = kn_take_id(k);
    const uint8_t deadline[4] = { (uint8_t)(timeout_ms >> 24), (uint8_t)(timeout_ms >> 16), (uint8_t)(timeout_ms >> 8),
                                  (uint8_t)timeout_ms };
    r = kn_queue_parts(k, KENNEL_FRAME_CALL, id, 0, target, deadline, sizeof deadline, NULL, 0, payload, len);
    if (r < 0)
        return r;
    struct outstanding_call *call = &k->calls[k->calls_count++];
    call->id = id;
    memcpy(call->target, target, target_len + 1);
    if (call_id)
        *call_id = id;
    return k->dispatching ? KENNEL_OK : kn_write_out(k);
}

static int answer(kennel *k, uint32_t call_id, uint16_t code, const void *payload, size_t len)
{
    if (!k || (!payload && len) || call_id == 0)
        return KENNEL_E_INVAL;
    const int r = feature_ready(k, KENNEL_FEATURE_CALLS, "calls");
    if (r < 0)
        return r;
    const uint8_t prefix[2] = { (uint8_t)(code >> 8), (uint8_t)code };
    const int q = kn_queue_parts(k, KENNEL_FRAME_REPLY, call_id, 0, NULL, prefix, sizeof prefix, NULL, 0, payload, len);
    if (q < 0)
        return q;
    return k->dispatching ? KENNEL_OK : kn_write_out(k);
}

int kennel_reply(kennel *k, uint32_t call_id, const void *payload, size_t len)
{
    return answer(k, call_id, 0, payload, len);
}

int kennel_reply_error(kennel *k, uint32_t call_id, uint16_t code, const char *text)
{
    return answer(k, call_id, code ? code : 1, text, text ? strlen(text) : 0);
}
