/* The old clients' frame, in the C they are written in: the struct as LEGACY-PROTOCOL.md and the
 * old programs declare it (only char arrays and int: no long, time_t or pointer, so nothing in it
 * changes size between armhf, arm64 and x86-64; the test checks that, not assumes it). */
#include "oldclient.h"

#include <stdalign.h>
#include <string.h>
#include <time.h>

struct frame {
    char head[10];
    int cmd;
    int wdt;
    char target_name[10];
    char source_name[10];
    char msg[512];
};

void old_frame_get_layout(struct old_frame_layout *out)
{
    struct frame f;
    out->size = sizeof(struct frame);
    out->align = alignof(struct frame);
    out->head_offset = offsetof(struct frame, head);
    out->head_size = sizeof f.head;
    out->cmd_offset = offsetof(struct frame, cmd);
    out->cmd_size = sizeof f.cmd;
    out->wdt_offset = offsetof(struct frame, wdt);
    out->wdt_size = sizeof f.wdt;
    out->target_offset = offsetof(struct frame, target_name);
    out->target_size = sizeof f.target_name;
    out->source_offset = offsetof(struct frame, source_name);
    out->source_size = sizeof f.source_name;
    out->msg_offset = offsetof(struct frame, msg);
    out->msg_size = sizeof f.msg;
    out->int_size = sizeof(int);
    out->long_size = sizeof(long);
    out->time_t_size = sizeof(time_t);
    out->pointer_size = sizeof(void *);
    out->char_is_signed = (char)-1 < 0;
}

void old_frame_write(void *out, unsigned char junk, int cmd, int wdt, const char *target,
                     const char *source, const char *msg)
{
    struct frame f;
    memset(&f, junk, sizeof f); /* stands for what the stack held */
    strcpy(f.head, "head");
    f.cmd = cmd;
    f.wdt = wdt;
    strcpy(f.target_name, target);
    strcpy(f.source_name, source);
    strcpy(f.msg, msg);
    memcpy(out, &f, sizeof f);
}

void old_frame_read(const void *in, int *cmd, int *wdt, char *target, char *source, char *msg)
{
    struct frame f;
    memcpy(&f, in, sizeof f);
    *cmd = f.cmd;
    *wdt = f.wdt;
    memcpy(target, f.target_name, sizeof f.target_name);
    memcpy(source, f.source_name, sizeof f.source_name);
    memcpy(msg, f.msg, sizeof f.msg);
}
