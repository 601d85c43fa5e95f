// The old clients' side of the 552-byte frame, in plain C (oldclient.c): the struct exactly as
// they declare it, filled and read the way they do. tst_legacylayout holds it against the codec.
#pragma once

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// What the C compiler made of the struct, and of the types whose size differs between the
// architectures (long, time_t, pointers: 4 bytes on armhf, 8 on arm64 and x86-64).
struct old_frame_layout {
    size_t size, align;
    size_t head_offset, head_size;
    size_t cmd_offset, cmd_size;
    size_t wdt_offset, wdt_size;
    size_t target_offset, target_size;
    size_t source_offset, source_size;
    size_t msg_offset, msg_size;
    size_t int_size, long_size, time_t_size, pointer_size;
    int char_is_signed;
};
void old_frame_get_layout(struct old_frame_layout *out);

// An old client's send: a struct on its stack (undefined bytes left as they were: `junk`), the
// fields set with strcpy and plain assignments, and write() of the whole struct (here: copied to
// `out`, 552 bytes).
void old_frame_write(void *out, unsigned char junk, int cmd, int wdt, const char *target,
                     const char *source, const char *msg);

// An old client's receive: read() into the struct (here: copied from `in`), then its fields.
// Names and msg are copied with strncpy-style bounds into the caller's buffers (10 and 512 bytes).
void old_frame_read(const void *in, int *cmd, int *wdt, char *target, char *source, char *msg);

#ifdef __cplusplus
}
#endif
