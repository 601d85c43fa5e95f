/* Uses the installed C library the way a C program would: the codec, and the client's errors. */
#include <kennel/kennel.h>

#include <stdio.h>
#include <string.h>

static int fail(const char *what)
{
    fprintf(stderr, "c consumer: FAILED: %s\n", what);
    return 1;
}

int main(void)
{
    const char payload[] = "hello from outside";
    kennel_frame frame;
    memset(&frame, 0, sizeof frame);
    frame.type = KENNEL_FRAME_SEND;
    frame.message_id = 42;
    frame.flags = KENNEL_FLAG_WANT_DELIVERY_STATUS;
    frame.target = (const uint8_t *)"worker";
    frame.target_len = 6;
    frame.payload = (const uint8_t *)payload;
    frame.payload_len = sizeof payload - 1;
    uint8_t bytes[128];
    const size_t n = kennel_wire_encode(bytes, sizeof bytes, &frame);
    kennel_frame decoded;
    size_t consumed = 0;
    if (n == 0 || kennel_wire_decode(bytes, n, KENNEL_WIRE_DEFAULT_MAX_FRAME_SIZE, &decoded, &consumed, NULL) != KENNEL_DECODE_OK
        || consumed != n || decoded.message_id != 42 || decoded.payload_len != sizeof payload - 1)
        return fail("frame round trip");

    kennel *k = kennel_new(NULL);
    if (!k)
        return fail("kennel_new");
    if (kennel_connect(k, "not an address", "consumer", 100) != KENNEL_E_ADDRESS || !*kennel_last_error(k))
        return fail("a bad address is KENNEL_E_ADDRESS with a message");
    kennel_free(k);
    printf("c consumer: OK\n");
    return 0;
}
