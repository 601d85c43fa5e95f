/* A service written the way old daemons are: fork, setsid, fork again, the middle process exits,
 * the grandchild keeps running in its own session (out of the service's process group). The
 * grandchild writes its PID to the file named by argv[1] once it is set up.
 * argv[2]: "exit" - the main process exits 0 after the daemon is up (it "daemonized");
 *          "stay" - the main process keeps running too;
 *          "hide" - as "exit", and the daemon also sheds its environment (it executes itself
 *                   again with none, as "hidden": /proc/PID/environ no longer says
 *                   KENNEL_SERVICE), so that only a cgroup can still tell whose it is.
 * Test helper for tst_monitoradmission. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void runDaemon(const char *pidFile)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", pidFile);
    FILE *f = fopen(tmp, "w");
    if (!f)
        _exit(5);
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
    rename(tmp, pidFile);
    for (;;)
        pause();
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: daemonizer PIDFILE exit|stay|hide\n");
        return 2;
    }
    if (strcmp(argv[2], "hidden") == 0)
        runDaemon(argv[1]);
    pid_t child = fork();
    if (child < 0)
        return 3;
    if (child == 0) {
        setsid();
        pid_t grandchild = fork();
        if (grandchild < 0)
            _exit(4);
        if (grandchild > 0)
            _exit(0); /* the middle process: gone, the daemon is an orphan */
        if (strcmp(argv[2], "hide") == 0) {
            char *const args[] = {argv[0], argv[1], (char *)"hidden", NULL};
            char *const none[] = {NULL};
            execve("/proc/self/exe", args, none);
            _exit(6);
        }
        runDaemon(argv[1]);
    }
    int status = 0;
    waitpid(child, &status, 0);
    if (strcmp(argv[2], "stay") == 0) {
        for (;;)
            pause();
    }
    return 0;
}
