/* The transport of libkennel: see transport.h. */
#define _POSIX_C_SOURCE 200809L
#include "transport.h"

#include "kennel/kennel.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int fail(struct transport_error *err, int result, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, err->size, fmt, ap);
    va_end(ap);
    return result;
}

static int connect_wait(struct transport_error *k, int fd, const struct sockaddr *addr, socklen_t len, int timeout_ms,
                        const char *address)
{
    if (connect(fd, addr, len) == 0)
        return KENNEL_OK;
    if (errno != EINPROGRESS && errno != EINTR)
        return fail(k, KENNEL_E_CONNECT, "cannot connect to %s: %s", address, strerror(errno));
    struct pollfd p = { .fd = fd, .events = POLLOUT, .revents = 0 };
    const int n = poll(&p, 1, timeout_ms);
    if (n == 0)
        return fail(k, KENNEL_E_TIMEOUT, "connecting to %s took over %d ms", address, timeout_ms);
    int err = 0;
    socklen_t errlen = sizeof err;
    if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0)
        err = errno;
    if (err)
        return fail(k, KENNEL_E_CONNECT, "cannot connect to %s: %s", address, strerror(err));
    return KENNEL_OK;
}

static int open_socket(struct transport_error *k, int family)
{
    const int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fail(k, KENNEL_E_IO, "socket: %s", strerror(errno));
    return fd;
}

/* The address forms of clientlib/client/brokeraddress.h: unix:PATH, HOST:PORT, [V6]:PORT. */
int kennel_transport_open(const char *address, int timeout_ms, int *out_fd, struct transport_error *k)
{
    if (strncmp(address, "unix:", 5) == 0) {
        const char *path = address + 5;
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        if (!*path || strlen(path) >= sizeof sun.sun_path)
            return fail(k, KENNEL_E_ADDRESS, "bad Unix socket path in \"%s\"", address);
        memcpy(sun.sun_path, path, strlen(path));
        const int fd = open_socket(k, AF_UNIX);
        if (fd < 0)
            return KENNEL_E_IO;
        const int r = connect_wait(k, fd, (const struct sockaddr *)&sun, sizeof sun, timeout_ms, address);
        if (r < 0) {
            close(fd);
            return r;
        }
        *out_fd = fd;
        return KENNEL_OK;
    }

    char host[256];
    const char *colon = strrchr(address, ':');
    const char *host_start = address;
    size_t host_len = colon ? (size_t)(colon - address) : 0;
    if (colon && address[0] == '[') { /* [V6]:PORT */
        if (host_len < 2 || address[host_len - 1] != ']')
            return fail(k, KENNEL_E_ADDRESS, "bad IPv6 address in \"%s\" (want [ADDR]:PORT)", address);
        host_start = address + 1;
        host_len -= 2;
    } else if (colon && memchr(address, ':', host_len)) {
        return fail(k, KENNEL_E_ADDRESS, "an IPv6 address needs brackets: \"[%s\"]:PORT", address);
    }
    if (!colon || host_len == 0 || host_len >= sizeof host)
        return fail(k, KENNEL_E_ADDRESS, "bad broker address \"%s\" (want HOST:PORT or unix:PATH)", address);
    char *end = NULL;
    errno = 0;
    const unsigned long port = strtoul(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || port == 0 || port > 65535 || colon[1] == '-' || colon[1] == '+')
        return fail(k, KENNEL_E_ADDRESS, "bad port in \"%s\" (want 1..65535)", address);
    memcpy(host, host_start, host_len);
    host[host_len] = '\0';

    struct addrinfo hints, *list = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char service[8];
    snprintf(service, sizeof service, "%lu", port);
    const int gai = getaddrinfo(host, service, &hints, &list);
    if (gai != 0)
        return fail(k, KENNEL_E_ADDRESS, "cannot resolve \"%s\": %s", host, gai_strerror(gai));
    int r = fail(k, KENNEL_E_ADDRESS, "\"%s\" has no address", host);
    for (const struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        const int fd = open_socket(k, ai->ai_family);
        if (fd < 0) {
            r = KENNEL_E_IO;
            continue;
        }
        r = connect_wait(k, fd, ai->ai_addr, ai->ai_addrlen, timeout_ms, address);
        if (r == KENNEL_OK) {
            const int one = 1; /* small frames, sent as they are made */
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            *out_fd = fd;
            break;
        }
        close(fd);
    }
    freeaddrinfo(list);
    return r;
}

