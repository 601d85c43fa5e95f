/*
 * forking_client: an old-protocol client written the way the board's real ones are, plus the
 * processes the identity attacks need. Ordinary C: plain socket() (no SOCK_CLOEXEC), popen() in the
 * main loop, a reader forked after connecting. Used by tst_legacyidentity, and by
 * tst_board (tests/system/board) as the old program on the board's architecture.
 *
 * Client mode (default):
 *   --name N --recv ADDR --main ADDR [--peer NAME --send-ms MS] [--watch --feed-ms MS
 *   --stop-feeding-after-ms MS] [--popen-ms MS] [--fork-reader --reader-log FILE] [--main-first]
 *   ADDR is unix:PATH or HOST:PORT (--recv none: no receive connection). Forwards "ping N" to --peer; the reader prints "got SRC MSG".
 * --decoy: same program name, connects nowhere, waits to be ended by the test.
 * --stale ADDR --as NAME --peer NAME --trigger FILE: connect, fork a holder, print both pids and
 *   exit; the holder waits for FILE, then forwards "forged" and registers the watchdog as NAME.
 * --steer-pid PID -- PROGRAM ARGS: fork until a child gets PID (as an unprivileged attacker steers
 *   the PID counter), that child execs PROGRAM; prints "victim PID" and waits for it.
 * --pass ADDR --as NAME --to PATH [--keep]: connect to ADDR, register the watchdog as NAME, pass the
 *   socket to PATH with SCM_RIGHTS, close our copy unless --keep, then idle.
 * --hold PATH: listen at PATH, take one passed descriptor, close everything else, idle.
 * --relay ADDR: listen on 127.0.0.1:0, print "relay-port N", relay one client to ADDR.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct frame {
    char head[10];
    int cmd;
    int wdt;
    char target_name[10];
    char source_name[10];
    char msg[512];
};
typedef char frame_size_check[sizeof(struct frame) == 552 ? 1 : -1];

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what)
{
    fprintf(stderr, "forking_client %d: %s: %s\n", (int)getpid(), what, strerror(errno));
    exit(1);
}

/* Plain socket(), as the old programs do: every fork()ed child inherits it. */
static int connect_to(const char *addr)
{
    int fd;
    if (strncmp(addr, "unix:", 5) == 0) {
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        strncpy(sun.sun_path, addr + 5, sizeof sun.sun_path - 1);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0)
            die(addr);
        return fd;
    }
    char host[64];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof host)
        die("address");
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
        die("host");
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0)
        die(addr);
    return fd;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int send_frame(int fd, int cmd, int wdt, const char *target, const char *source, const char *msg)
{
    struct frame f;
    memset(&f, 0, sizeof f);
    strcpy(f.head, "head");
    f.cmd = cmd;
    f.wdt = wdt;
    snprintf(f.target_name, sizeof f.target_name, "%s", target ? target : "null");
    snprintf(f.source_name, sizeof f.source_name, "%s", source);
    snprintf(f.msg, sizeof f.msg, "%s", msg ? msg : "null");
    return write_all(fd, &f, sizeof f);
}

static void idle_forever(void) __attribute__((noreturn));
static void idle_forever(void)
{
    for (;;)
        poll(NULL, 0, -1);
}

/* The forked reader: reads the receive connection until its parent is gone. */
static void reader(int fd, const char *log_path, pid_t parent) __attribute__((noreturn));
static void reader(int fd, const char *log_path, pid_t parent)
{
    FILE *log = log_path ? fopen(log_path, "a") : NULL;
    if (log) {
        fprintf(log, "reader %d start\n", (int)getpid());
        fflush(log);
    }
    char buf[552];
    size_t have = 0;
    for (;;) {
        if (getppid() != parent) {
            if (log) {
                fprintf(log, "reader %d exit parent-gone\n", (int)getpid());
                fclose(log);
            }
            _exit(0);
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n <= 0) {
            if (log) {
                fprintf(log, "reader %d exit eof\n", (int)getpid());
                fclose(log);
            }
            _exit(0);
        }
        have += (size_t)n;
        if (have == sizeof buf) {
            struct frame f;
            memcpy(&f, buf, sizeof f);
            f.source_name[9] = '\0';
            f.msg[511] = '\0';
            printf("got %s %s\n", f.source_name, f.msg);
            fflush(stdout);
            have = 0;
        }
    }
}

static int run_client(int argc, char **argv)
{
    const char *name = NULL, *recv_addr = NULL, *main_addr = NULL, *peer = NULL, *reader_log = NULL;
    int send_ms = 0, feed_ms = 0, popen_ms = 0, watch = 0, fork_reader = 0, main_first = 0;
    long long stop_feeding_after = -1;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--name")) name = v, ++i;
        else if (!strcmp(a, "--recv")) recv_addr = v, ++i;
        else if (!strcmp(a, "--main")) main_addr = v, ++i;
        else if (!strcmp(a, "--peer")) peer = v, ++i;
        else if (!strcmp(a, "--reader-log")) reader_log = v, ++i;
        else if (!strcmp(a, "--send-ms")) send_ms = atoi(v), ++i;
        else if (!strcmp(a, "--feed-ms")) feed_ms = atoi(v), ++i;
        else if (!strcmp(a, "--popen-ms")) popen_ms = atoi(v), ++i;
        else if (!strcmp(a, "--stop-feeding-after-ms")) stop_feeding_after = atoll(v), ++i;
        else if (!strcmp(a, "--watch")) watch = 1;
        else if (!strcmp(a, "--fork-reader")) fork_reader = 1;
        else if (!strcmp(a, "--main-first")) main_first = 1;
        else { fprintf(stderr, "unknown argument %s\n", a); return 2; }
    }
    if (!name || !recv_addr || !main_addr)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    int main_fd = -1, recv_fd;
    if (main_first) {
        main_fd = connect_to(main_addr);
        if (send_frame(main_fd, 1, 0, NULL, name, NULL) != 0)
            die("main first frame");
    }
    /* "none": a main connection only (the forwarder test relays just that one). */
    const int has_recv = strcmp(recv_addr, "none") != 0;
    recv_fd = has_recv ? connect_to(recv_addr) : -1;
    if (has_recv && send_frame(recv_fd, 0, 0, NULL, name, NULL) != 0)
        die("register");
    if (main_fd < 0) {
        main_fd = connect_to(main_addr);
        if (watch && send_frame(main_fd, 1, 0, NULL, name, NULL) != 0)
            die("watchdog register");
    }
    printf("client %d registered\n", (int)getpid());
    fflush(stdout);
    if (fork_reader && has_recv) {
        const pid_t parent = getpid();
        const pid_t child = fork();
        if (child < 0)
            die("fork");
        if (child == 0)
            reader(recv_fd, reader_log, parent);
        /* The parent keeps its copy of the receive socket, as real programs forget to close it. */
    }
    const long long start = now_ms();
    long long next_send = start, next_feed = start, next_popen = start;
    int sent = 0, stopped = 0;
    for (;;) {
        const long long t = now_ms();
        if (send_ms > 0 && peer && t >= next_send) {
            char msg[32];
            snprintf(msg, sizeof msg, "ping %d", ++sent);
            if (send_frame(main_fd, 2, 0, peer, name, msg) != 0)
                die("forward");
            next_send = t + send_ms;
        }
        if (watch && feed_ms > 0 && t >= next_feed) {
            if (stop_feeding_after >= 0 && t - start >= stop_feeding_after) {
                if (!stopped) {
                    printf("client %d stops feeding\n", (int)getpid());
                    fflush(stdout);
                    stopped = 1;
                }
            } else if (send_frame(main_fd, 1, 1, NULL, name, NULL) != 0) {
                die("feed");
            }
            next_feed = t + feed_ms;
        }
        if (popen_ms > 0 && t >= next_popen) {
            /* The old clients' "is the server alive" check. */
            FILE *ps = popen("ps -a | grep forking_cl | wc -l", "r");
            if (ps) {
                char line[64];
                while (fgets(line, sizeof line, ps)) {
                }
                pclose(ps);
            }
            next_popen = t + popen_ms;
        }
        if (!fork_reader && has_recv) {
            struct pollfd p = {recv_fd, POLLIN, 0};
            if (poll(&p, 1, 0) > 0)
                reader(recv_fd, reader_log, getppid()); /* not used without a reader in the tests */
        }
        poll(NULL, 0, 10);
    }
}

static int run_stale(const char *addr, const char *as, const char *peer, const char *trigger)
{
    const int fd = connect_to(addr);
    const pid_t holder = fork();
    if (holder < 0)
        die("fork");
    if (holder == 0) {
        struct stat st;
        while (stat(trigger, &st) != 0)
            poll(NULL, 0, 20);
        send_frame(fd, 2, 0, peer, as, "forged");
        send_frame(fd, 1, 0, NULL, as, NULL);
        printf("holder %d acted\n", (int)getpid());
        fflush(stdout);
        idle_forever();
    }
    printf("connector %d holder %d\n", (int)getpid(), (int)holder);
    fflush(stdout);
    return 0;
}

static int run_steer(pid_t target, char **exec_argv)
{
    for (int tries = 0; tries < 200000; ++tries) {
        const pid_t child = fork();
        if (child < 0)
            die("fork");
        if (child == 0) {
            if (getpid() != target)
                _exit(0);
            execv(exec_argv[0], exec_argv);
            _exit(127);
        }
        if (child == target) {
            printf("victim %d\n", (int)child);
            fflush(stdout);
            int status = 0;
            waitpid(child, &status, 0);
            if (WIFSIGNALED(status)) {
                printf("victim %d killed by signal %d\n", (int)child, WTERMSIG(status));
                fflush(stdout);
            }
            return 0;
        }
        waitpid(child, NULL, 0);
    }
    fprintf(stderr, "could not steer to pid %d\n", (int)target);
    return 3;
}

static int run_pass(const char *addr, const char *as, const char *to, int keep)
{
    const int fd = connect_to(addr);
    if (send_frame(fd, 1, 0, NULL, as, NULL) != 0)
        die("watchdog register");
    poll(NULL, 0, 200); /* let the broker take the registration before the socket moves */
    char to_addr[200];
    snprintf(to_addr, sizeof to_addr, "unix:%s", to);
    const int carrier = connect_to(to_addr);
    char byte = 'x';
    struct iovec iov = {&byte, 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    if (sendmsg(carrier, &msg, 0) != 1)
        die("sendmsg");
    close(carrier);
    if (!keep)
        close(fd);
    printf("passer %d passed\n", (int)getpid());
    fflush(stdout);
    idle_forever();
    return 0;
}

static int run_hold(const char *path)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    strncpy(sun.sun_path, path, sizeof sun.sun_path - 1);
    const int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&sun, sizeof sun) != 0 || listen(listener, 1) != 0)
        die("listen");
    printf("holder %d listening\n", (int)getpid());
    fflush(stdout);
    const int conn = accept(listener, NULL, NULL);
    if (conn < 0)
        die("accept");
    char byte;
    struct iovec iov = {&byte, 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    if (recvmsg(conn, &msg, 0) != 1)
        die("recvmsg");
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    int fd = -1;
    if (c && c->cmsg_type == SCM_RIGHTS)
        memcpy(&fd, CMSG_DATA(c), sizeof fd);
    close(conn);
    close(listener);
    unlink(path);
    printf("holder %d holds %d\n", (int)getpid(), fd);
    fflush(stdout);
    idle_forever();
    return 0;
}

static int run_relay(const char *to)
{
    const int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    if (listener < 0 || bind(listener, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(listener, 4) != 0
        || getsockname(listener, (struct sockaddr *)&sin, &len) != 0)
        die("relay listen");
    printf("relay-port %d\n", ntohs(sin.sin_port));
    fflush(stdout);
    const int a = accept(listener, NULL, NULL);
    if (a < 0)
        die("accept");
    const int b = connect_to(to);
    char buf[4096];
    for (;;) {
        struct pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            die("poll");
        for (int i = 0; i < 2; ++i) {
            if (!p[i].revents)
                continue;
            const ssize_t n = read(p[i].fd, buf, sizeof buf);
            if (n <= 0)
                idle_forever(); /* one side gone: keep the other open, as a lazy relay would */
            if (write_all(i == 0 ? b : a, buf, (size_t)n) != 0)
                idle_forever();
        }
    }
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && !strcmp(argv[1], "--decoy")) {
        printf("decoy %d\n", (int)getpid());
        fflush(stdout);
        idle_forever();
    }
    if (argc >= 9 && !strcmp(argv[1], "--stale"))
        return run_stale(argv[2], argv[4], argv[6], argv[8]);
    if (argc >= 5 && !strcmp(argv[1], "--steer-pid") && !strcmp(argv[3], "--"))
        return run_steer((pid_t)atoi(argv[2]), argv + 4);
    if (argc >= 7 && !strcmp(argv[1], "--pass"))
        return run_pass(argv[2], argv[4], argv[6], argc >= 8 && !strcmp(argv[7], "--keep"));
    if (argc >= 3 && !strcmp(argv[1], "--hold"))
        return run_hold(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "--relay"))
        return run_relay(argv[2]);
    return run_client(argc, argv);
}
