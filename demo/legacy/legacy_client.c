/*
 * legacy_client — a client of the old Kennel system (like its client1/client2),
 * written only from shared/LEGACY-PROTOCOL.md.
 *
 * It opens two TCP connections to the server:
 *   1. the receive connection: one frame cmd 0 (register receive channel),
 *      then it only reads 552-byte cmd 2 frames forwarded to its name;
 *   2. the main connection: cmd 1 (watchdog: wdt 0 register, wdt 1 feed) and
 *      cmd 2 (forward msg to target_name) frames; nothing is read from it.
 * Every frame is the 552-byte struct below, sent with write() of the whole
 * struct (looping over partial writes); reading accumulates exactly 552 bytes
 * per frame.
 *
 * Single thread, one poll() loop, no busy waiting.
 * Exit status: 0 done / signal / --exit-after-ms, 1 connection or I/O error,
 * 2 usage error.
 *
 * Build: cc -std=c99 -Wall -Wextra -O2 -o legacy_client legacy_client.c
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getopt_long; implies the POSIX.1-2008 interfaces */
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ frame */

/* Exactly the old struct (GCC layout, x86-64 / ARM, 4-byte int). */
struct frame {
    char head[10];         /* "head" */
    int cmd;               /* 0 register receive, 1 watchdog, 2 forward */
    int wdt;               /* cmd 1: 0 register, 1 feed; otherwise 0 */
    char target_name[10];  /* "null" when unused */
    char source_name[10];  /* the sender's name */
    char msg[512];         /* "null" when unused */
};

#define FRAME_SIZE 552

/* C99 has no _Static_assert: a negative array size fails the build. */
#define STATIC_ASSERT(cond, tag) typedef char static_assert_##tag[(cond) ? 1 : -1]
STATIC_ASSERT(sizeof(struct frame) == FRAME_SIZE, frame_size);
STATIC_ASSERT(offsetof(struct frame, head) == 0, off_head);
STATIC_ASSERT(offsetof(struct frame, cmd) == 12, off_cmd);
STATIC_ASSERT(offsetof(struct frame, wdt) == 16, off_wdt);
STATIC_ASSERT(offsetof(struct frame, target_name) == 20, off_target);
STATIC_ASSERT(offsetof(struct frame, source_name) == 30, off_source);
STATIC_ASSERT(offsetof(struct frame, msg) == 40, off_msg);

#define CMD_REGISTER 0
#define CMD_WATCHDOG 1
#define CMD_FORWARD 2

#define NAME_MAX_LEN 9   /* 10-byte field, NUL-terminated */
#define MSG_MAX_LEN 511  /* 512-byte field, NUL-terminated */

/* ----------------------------------------------------------------- limits */

#define CONNECT_TIMEOUT_MS 5000LL
#define WRITE_TIMEOUT_MS 10000LL
#define GRACE_AFTER_LAST_SEND_MS 2000LL
#define NO_DEADLINE LLONG_MAX

/* ---------------------------------------------------------------- globals */

static volatile sig_atomic_t g_stop = 0;
static int g_sigpipe[2] = { -1, -1 }; /* self-pipe: the handler wakes poll() */

static void on_signal(int sig)
{
    int saved = errno;
    char c = 1;
    (void)sig;
    g_stop = 1;
    if (g_sigpipe[1] >= 0) {
        ssize_t r = write(g_sigpipe[1], &c, 1); /* non-blocking; full is fine */
        (void)r;
    }
    errno = saved;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000L;
}

static long long min_ll(long long a, long long b) { return a < b ? a : b; }

static void stopping_exit(void)
{
    printf("stopping\n");
    exit(0);
}

static void fail(const char *what)
{
    fprintf(stderr, "legacy_client: %s\n", what);
    exit(1);
}

static void fail_errno(const char *what, int err)
{
    if (err == EPIPE || err == ECONNRESET)
        fprintf(stderr, "legacy_client: connection closed by server (%s: %s)\n",
                what, strerror(err));
    else
        fprintf(stderr, "legacy_client: %s: %s\n", what, strerror(err));
    exit(1);
}

static int set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0)
        return -1;
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/*
 * Wait until fd has `events` ready, a stop signal arrived or `deadline`
 * (absolute, ms) passed. Returns 0 ready, 1 stop requested, 2 deadline.
 * Exits on poll() failure.
 */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        struct pollfd p[2];
        long long now, left;
        int timeout, r;

        if (g_stop)
            return 1;
        now = now_ms();
        if (deadline != NO_DEADLINE && now >= deadline)
            return 2;
        left = deadline == NO_DEADLINE ? -1 : deadline - now;
        timeout = left < 0 ? -1 : (int)min_ll(left, INT_MAX);

        p[0].fd = g_sigpipe[0];
        p[0].events = POLLIN;
        p[0].revents = 0;
        p[1].fd = fd;
        p[1].events = events;
        p[1].revents = 0;
        r = poll(p, 2, timeout);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fail_errno("poll", errno);
        }
        if (p[0].revents)
            return 1;
        if (p[1].revents)
            return 0; /* includes POLLERR/POLLHUP: the next call reports it */
    }
}

/* ------------------------------------------------------------- networking */

/* Connect (non-blocking socket, bounded wait). Exits on failure, on a stop
 * signal (status 0) and when the --exit-after-ms deadline passes (status 0). */
static int connect_to(const char *host, const char *port, long long exit_deadline,
                      const char *label)
{
    struct addrinfo hints, *res = NULL, *ai;
    int rc, last_err = 0;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "legacy_client: cannot resolve %s:%s: %s\n", host, port,
                gai_strerror(rc));
        exit(1);
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            last_err = errno;
            continue;
        }
        if (set_nonblocking(fd) < 0) {
            last_err = errno;
            close(fd);
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            freeaddrinfo(res);
            return fd;
        }
        if (errno == EINPROGRESS || errno == EINTR) {
            long long deadline = min_ll(now_ms() + CONNECT_TIMEOUT_MS, exit_deadline);
            int w = wait_fd(fd, POLLOUT, deadline);
            if (w == 1) {
                close(fd);
                freeaddrinfo(res);
                stopping_exit();
            }
            if (w == 2) {
                if (exit_deadline != NO_DEADLINE && now_ms() >= exit_deadline) {
                    close(fd);
                    freeaddrinfo(res);
                    exit(0);
                }
                last_err = ETIMEDOUT;
                close(fd);
                continue;
            } else {
                int soerr = 0;
                socklen_t len = sizeof soerr;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
                    soerr = errno;
                if (soerr == 0) {
                    freeaddrinfo(res);
                    return fd;
                }
                last_err = soerr;
            }
        } else {
            last_err = errno;
        }
        close(fd);
    }
    freeaddrinfo(res);
    fprintf(stderr, "legacy_client: cannot connect %s connection to %s:%s: %s\n",
            label, host, port, strerror(last_err ? last_err : ECONNREFUSED));
    exit(1);
}

/*
 * Write all `len` bytes (one write() normally suffices; partial writes and
 * EINTR are looped over). Exits on error (EPIPE/ECONNRESET reported as
 * "connection closed by server"), on a stop signal (status 0), when the
 * server does not accept data for WRITE_TIMEOUT_MS (status 1) and when the
 * --exit-after-ms deadline passes (status 0).
 */
static void write_all(int fd, const void *buf, size_t len, long long exit_deadline,
                      const char *label)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            if (g_stop)
                stopping_exit();
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            long long deadline = min_ll(now_ms() + WRITE_TIMEOUT_MS, exit_deadline);
            int w = wait_fd(fd, POLLOUT, deadline);
            if (w == 1)
                stopping_exit();
            if (w == 2) {
                if (exit_deadline != NO_DEADLINE && now_ms() >= exit_deadline)
                    exit(0);
                fprintf(stderr, "legacy_client: write on %s connection timed out "
                        "(server not reading)\n", label);
                exit(1);
            }
            continue;
        }
        if (n == 0) {
            fprintf(stderr, "legacy_client: write on %s connection returned 0\n", label);
            exit(1);
        }
        {
            char what[64];
            snprintf(what, sizeof what, "write on %s connection", label);
            fail_errno(what, errno);
        }
    }
}

/* Build a zeroed frame with the unused strings set to "null". */
static void frame_init(struct frame *f, int cmd, int wdt, const char *target,
                       const char *source, const char *msg)
{
    memset(f, 0, sizeof *f);
    strcpy(f->head, "head");
    f->cmd = cmd;
    f->wdt = wdt;
    /* lengths were validated at start-up; copy bounded all the same */
    snprintf(f->target_name, sizeof f->target_name, "%s", target ? target : "null");
    snprintf(f->source_name, sizeof f->source_name, "%s", source);
    snprintf(f->msg, sizeof f->msg, "%s", msg ? msg : "null");
}

/* Print a fixed-size field up to its NUL, printable ASCII only ('?' otherwise). */
static void print_field(const char *s, size_t size)
{
    size_t i;
    for (i = 0; i < size && s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];
        putchar(c >= 0x20 && c < 0x7f ? (int)c : '?');
    }
}

/* ---------------------------------------------------------------- options */

static void usage(FILE *out)
{
    fprintf(out,
        "usage: legacy_client --name NAME --peer PEER [--host 127.0.0.1] [--port 8000]\n"
        "                     [--send-interval-ms 1000] [--count N (0 = forever)]\n"
        "                     [--text \"hello\"] [--expect N]\n"
        "                     [--watchdog] [--feed-interval-ms 1000] [--quiet-feed]\n"
        "                     [--exit-after-ms MS (0 = never)] [--ignore-sigterm]\n"
        "NAME and PEER: 1 to %d characters.\n", NAME_MAX_LEN);
}

static void usage_error(const char *msg)
{
    fprintf(stderr, "legacy_client: %s\n", msg);
    usage(stderr);
    exit(2);
}

static long long parse_num(const char *opt, const char *s, long long min, long long max)
{
    char *end;
    long long v;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "legacy_client: invalid value for --%s: '%s' (expected %lld..%lld)\n",
                opt, s, min, max);
        usage(stderr);
        exit(2);
    }
    return v;
}

static int decimal_digits(unsigned long long v)
{
    int d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

/* ------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    const char *name = NULL, *peer = NULL, *host = "127.0.0.1", *text = "hello";
    char port[16] = "8000";
    long long send_interval = 1000, feed_interval = 1000, exit_after = 0;
    unsigned long long count = 0, expect = 0;
    int watchdog = 0, quiet_feed = 0, ignore_term = 0;

    enum { O_NAME = 256, O_PEER, O_HOST, O_PORT, O_SEND_IV, O_COUNT, O_TEXT, O_WATCHDOG,
           O_FEED_IV, O_EXIT_AFTER, O_QUIET_FEED, O_EXPECT, O_IGNORE_TERM, O_HELP };
    static const struct option lo[] = {
        { "name", required_argument, NULL, O_NAME },
        { "peer", required_argument, NULL, O_PEER },
        { "host", required_argument, NULL, O_HOST },
        { "port", required_argument, NULL, O_PORT },
        { "send-interval-ms", required_argument, NULL, O_SEND_IV },
        { "count", required_argument, NULL, O_COUNT },
        { "text", required_argument, NULL, O_TEXT },
        { "watchdog", no_argument, NULL, O_WATCHDOG },
        { "feed-interval-ms", required_argument, NULL, O_FEED_IV },
        { "exit-after-ms", required_argument, NULL, O_EXIT_AFTER },
        { "quiet-feed", no_argument, NULL, O_QUIET_FEED },
        { "expect", required_argument, NULL, O_EXPECT },
        /* Plays a hung process that shrugs off SIGTERM, so the watchdog must escalate to SIGKILL. */
        { "ignore-sigterm", no_argument, NULL, O_IGNORE_TERM },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 }
    };
    int ch;

    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case O_NAME: name = optarg; break;
        case O_PEER: peer = optarg; break;
        case O_HOST: host = optarg; break;
        case O_PORT:
            snprintf(port, sizeof port, "%lld", parse_num("port", optarg, 1, 65535));
            break;
        case O_SEND_IV: send_interval = parse_num("send-interval-ms", optarg, 1, INT_MAX); break;
        case O_COUNT: count = (unsigned long long)parse_num("count", optarg, 0, LLONG_MAX); break;
        case O_TEXT: text = optarg; break;
        case O_WATCHDOG: watchdog = 1; break;
        case O_FEED_IV: feed_interval = parse_num("feed-interval-ms", optarg, 1, INT_MAX); break;
        case O_EXIT_AFTER: exit_after = parse_num("exit-after-ms", optarg, 0, INT_MAX); break;
        case O_QUIET_FEED: quiet_feed = 1; break;
        case O_IGNORE_TERM: ignore_term = 1; break;
        case O_EXPECT: expect = (unsigned long long)parse_num("expect", optarg, 0, LLONG_MAX); break;
        case O_HELP: usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc)
        usage_error("unexpected argument");
    if (name == NULL || peer == NULL)
        usage_error("--name and --peer are required");
    if (name[0] == '\0' || strlen(name) > NAME_MAX_LEN)
        usage_error("--name must be 1 to 9 characters");
    if (peer[0] == '\0' || strlen(peer) > NAME_MAX_LEN)
        usage_error("--peer must be 1 to 9 characters");
    {
        /* "<text> #<seq> from <NAME>" must fit in 511 characters for every seq */
        int seq_digits = count ? decimal_digits(count) : 20;
        size_t need = strlen(text) + 2 + (size_t)seq_digits + 6 + strlen(name);
        if (need > MSG_MAX_LEN)
            usage_error("--text too long: \"<text> #<seq> from <NAME>\" must fit in 511 characters");
    }

    setvbuf(stdout, NULL, _IOLBF, 0);

    /* signals: SIGPIPE ignored (EPIPE reported instead); SIGTERM/SIGINT stop */
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_IGN;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGPIPE, &sa, NULL);

        if (pipe(g_sigpipe) < 0)
            fail_errno("pipe", errno);
        if (set_nonblocking(g_sigpipe[0]) < 0 || set_nonblocking(g_sigpipe[1]) < 0)
            fail_errno("fcntl", errno);
        fcntl(g_sigpipe[0], F_SETFD, FD_CLOEXEC);
        fcntl(g_sigpipe[1], F_SETFD, FD_CLOEXEC);

        sa.sa_handler = on_signal;
        sa.sa_flags = 0; /* no SA_RESTART: blocking calls return EINTR */
        sigaction(SIGINT, &sa, NULL);
        if (ignore_term)
            sa.sa_handler = SIG_IGN;
        sigaction(SIGTERM, &sa, NULL);
    }

    long long start = now_ms();
    long long exit_deadline = exit_after > 0 ? start + exit_after : NO_DEADLINE;
    struct frame f;

    /* 1. receive connection, registered with cmd 0 */
    int rfd = connect_to(host, port, exit_deadline, "receive");
    frame_init(&f, CMD_REGISTER, 0, NULL, name, NULL);
    write_all(rfd, &f, sizeof f, exit_deadline, "receive");
    printf("registered receive channel as %s\n", name);

    /* 2. main connection: watchdog and forwards */
    int mfd = connect_to(host, port, exit_deadline, "main");
    if (watchdog) {
        frame_init(&f, CMD_WATCHDOG, 0, NULL, name, NULL);
        write_all(mfd, &f, sizeof f, exit_deadline, "main");
        printf("registered watchdog as %s\n", name);
    }

    unsigned long long seq = 0, received = 0;
    long long next_send = now_ms() + send_interval;
    long long next_feed = now_ms() + feed_interval;
    long long last_send = 0;
    unsigned char rbuf[FRAME_SIZE * 16];
    size_t rlen = 0;

    for (;;) {
        long long now = now_ms();
        int sending = count == 0 || seq < count;

        if (g_stop)
            stopping_exit();
        if (exit_deadline != NO_DEADLINE && now >= exit_deadline)
            return 0;
        if (!sending) {
            if (expect > 0 && received >= expect)
                return 0;
            if (now >= last_send + GRACE_AFTER_LAST_SEND_MS) {
                if (expect > 0)
                    fprintf(stderr, "legacy_client: %s received %llu of %llu expected "
                            "messages\n", name, received, expect);
                return 0;
            }
        }

        if (sending && now >= next_send) {
            char msg[MSG_MAX_LEN + 1];
            seq++;
            snprintf(msg, sizeof msg, "%s #%llu from %s", text, seq, name);
            frame_init(&f, CMD_FORWARD, 0, peer, name, msg);
            write_all(mfd, &f, sizeof f, exit_deadline, "main");
            printf("sent #%llu to %s\n", seq, peer);
            last_send = now;
            next_send += send_interval;
            if (next_send <= now) /* fell behind (e.g. stopped process): no burst */
                next_send = now + send_interval;
            continue;
        }
        if (watchdog && now >= next_feed) {
            frame_init(&f, CMD_WATCHDOG, 1, NULL, name, NULL);
            write_all(mfd, &f, sizeof f, exit_deadline, "main");
            if (!quiet_feed)
                printf("fed watchdog\n");
            next_feed += feed_interval;
            if (next_feed <= now)
                next_feed = now + feed_interval;
            continue;
        }

        /* sleep until the next event */
        long long wake = exit_deadline;
        if (sending)
            wake = min_ll(wake, next_send);
        else
            wake = min_ll(wake, last_send + GRACE_AFTER_LAST_SEND_MS);
        if (watchdog)
            wake = min_ll(wake, next_feed);
        int timeout = wake == NO_DEADLINE ? -1 : (int)min_ll(wake > now ? wake - now : 0, INT_MAX);

        struct pollfd p[3];
        p[0].fd = g_sigpipe[0]; p[0].events = POLLIN; p[0].revents = 0;
        p[1].fd = rfd;          p[1].events = POLLIN; p[1].revents = 0;
        p[2].fd = mfd;          p[2].events = POLLIN; p[2].revents = 0;
        int r = poll(p, 3, timeout);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fail_errno("poll", errno);
        }
        if (p[0].revents)
            stopping_exit();

        if (p[1].revents) {
            ssize_t n = read(rfd, rbuf + rlen, sizeof rbuf - rlen);
            if (n == 0)
                fail("connection closed by server (receive connection)");
            if (n < 0) {
                if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
                    fail_errno("read on receive connection", errno);
            } else {
                size_t off = 0;
                rlen += (size_t)n;
                while (rlen - off >= FRAME_SIZE) {
                    struct frame in;
                    memcpy(&in, rbuf + off, FRAME_SIZE);
                    off += FRAME_SIZE;
                    if (in.cmd != CMD_FORWARD) {
                        fprintf(stderr, "legacy_client: ignoring frame with cmd %d on "
                                "receive connection\n", in.cmd);
                        continue;
                    }
                    received++;
                    printf("received from ");
                    print_field(in.source_name, sizeof in.source_name);
                    printf(": ");
                    print_field(in.msg, sizeof in.msg);
                    printf("\n");
                }
                if (off > 0) {
                    memmove(rbuf, rbuf + off, rlen - off);
                    rlen -= off;
                }
            }
        }

        if (p[2].revents) {
            /* nothing is expected here: detect close, discard anything else */
            char junk[FRAME_SIZE];
            ssize_t n = read(mfd, junk, sizeof junk);
            if (n == 0)
                fail("connection closed by server (main connection)");
            if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
                fail_errno("read on main connection", errno);
        }
    }
}
