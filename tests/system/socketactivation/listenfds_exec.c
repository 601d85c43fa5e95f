/* What systemd does when it starts a socket-activated service, and no more: the listening sockets
 * named on the command line become descriptors 3, 4, ... in order, LISTEN_FDS says how many,
 * LISTEN_PID is this process (which keeps its PID across exec), LISTEN_FDNAMES names them, then
 * the program is executed.
 *
 * usage: listenfds_exec FD[,FD...] NAMES|- PROGRAM [ARGUMENTS...]
 * NAMES is the colon-separated LISTEN_FDNAMES value, or "-" for none. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FDS 16
#define FIRST_FD 3

int main(int argc, char **argv)
{
    int sources[MAX_FDS], moved[MAX_FDS], count = 0, i;
    char *list, *token, *save = NULL, value[32];

    if (argc < 4) {
        fprintf(stderr, "usage: %s FD[,FD...] NAMES|- PROGRAM [ARGUMENTS...]\n", argv[0]);
        return 2;
    }
    list = strdup(argv[1]);
    for (token = strtok_r(list, ",", &save); token && count < MAX_FDS; token = strtok_r(NULL, ",", &save))
        sources[count++] = atoi(token);
    /* Out of the way first: a source may sit where another one is to go. */
    for (i = 0; i < count; ++i) {
        moved[i] = fcntl(sources[i], F_DUPFD, 100);
        if (moved[i] < 0) {
            fprintf(stderr, "listenfds_exec: descriptor %d: %s\n", sources[i], strerror(errno));
            return 2;
        }
    }
    for (i = 0; i < count; ++i) {
        if (sources[i] >= FIRST_FD + count)
            close(sources[i]);
    }
    for (i = 0; i < count; ++i) {
        if (dup2(moved[i], FIRST_FD + i) < 0) { /* dup2 leaves FD_CLOEXEC off: inherited by exec */
            fprintf(stderr, "listenfds_exec: dup2: %s\n", strerror(errno));
            return 2;
        }
        close(moved[i]);
    }
    snprintf(value, sizeof value, "%d", count);
    setenv("LISTEN_FDS", value, 1);
    snprintf(value, sizeof value, "%ld", (long)getpid());
    setenv("LISTEN_PID", value, 1);
    if (strcmp(argv[2], "-") != 0)
        setenv("LISTEN_FDNAMES", argv[2], 1);
    else
        unsetenv("LISTEN_FDNAMES");
    execv(argv[3], argv + 3);
    fprintf(stderr, "listenfds_exec: %s: %s\n", argv[3], strerror(errno));
    return 127;
}
