/* The transport of libkennel: see transport.h. */
#define _POSIX_C_SOURCE 200809L
#include "transport.h"

#include "kennel/kennel.h"

#include <arpa/inet.h>
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

/* PROTOCOL's address rules as BrokerAddress::parse (clientlib/client/brokeraddress.cpp) applies
 * them, so that an address means the same to every Kennel program: tst_clib compares the two. */
enum { MAX_UNIX_PATH_BYTES = 107, MAX_HOST_NAME_LENGTH = 253, MAX_LABEL_LENGTH = 63 };

static int valid_port(const char *text, unsigned long *port)
{
    if (!*text || strlen(text) > 5)
        return 0;
    for (const char *c = text; *c; ++c) { /* digits only: no sign, no space */
        if (*c < '0' || *c > '9')
            return 0;
    }
    *port = strtoul(text, NULL, 10);
    return *port <= 65535;
}

static int valid_host(const char *host)
{
    const size_t len = strlen(host);
    if (len == 0)
        return 0;
    if (strspn(host, "0123456789.") == len) {
        /* Four parts, or a typo: inet_aton's shorthand ("1.2.3") is not taken. */
        struct in_addr a;
        size_t dots = 0;
        for (const char *c = host; *c; ++c)
            dots += *c == '.';
        return dots == 3 && inet_pton(AF_INET, host, &a) == 1;
    }
    if (len > MAX_HOST_NAME_LENGTH)
        return 0;
    size_t label = 0;
    for (const char *c = host;; ++c) {
        if (*c == '.' || *c == '\0') {
            if (label == 0 || label > MAX_LABEL_LENGTH)
                return 0;
            if (*c == '\0')
                return 1;
            label = 0;
            continue;
        }
        const int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')
                       || *c == '-' || *c == '_';
        if (!ok)
            return 0;
        ++label;
    }
}

int kennel_transport_open(const char *address, int timeout_ms, int *out_fd, struct transport_error *k)
{
    if (!*address)
        return fail(k, KENNEL_E_ADDRESS, "empty broker address");
    for (const unsigned char *c = (const unsigned char *)address; *c; ++c) {
        if (*c <= ' ' || *c == 0x7F)
            return fail(k, KENNEL_E_ADDRESS, "broker address \"%s\" contains whitespace or control characters",
                        address);
    }
    if (strncmp(address, "unix:", 5) == 0) {
        const char *path = address + 5;
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        if (!*path)
            return fail(k, KENNEL_E_ADDRESS, "missing socket path in \"%s\" (expected unix:PATH)", address);
        if (strlen(path) > MAX_UNIX_PATH_BYTES)
            return fail(k, KENNEL_E_ADDRESS, "socket path in \"%s\" is longer than %d bytes", address,
                        MAX_UNIX_PATH_BYTES);
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

    char host[MAX_HOST_NAME_LENGTH + 1];
    const char *port_text;
    if (address[0] == '[') { /* [V6]:PORT */
        const char *close_bracket = strchr(address, ']');
        if (!close_bracket)
            return fail(k, KENNEL_E_ADDRESS, "missing ']' in \"%s\" (expected [IPV6]:PORT)", address);
        const size_t host_len = (size_t)(close_bracket - address - 1);
        struct in6_addr a6;
        if (host_len >= sizeof host)
            return fail(k, KENNEL_E_ADDRESS, "\"%s\" is not a valid IPv6 address", address);
        memcpy(host, address + 1, host_len);
        host[host_len] = '\0';
        if (inet_pton(AF_INET6, host, &a6) != 1)
            return fail(k, KENNEL_E_ADDRESS, "\"%s\" is not a valid IPv6 address", host);
        if (close_bracket[1] != ':')
            return fail(k, KENNEL_E_ADDRESS, "missing port in \"%s\" (expected [IPV6]:PORT)", address);
        port_text = close_bracket + 2;
    } else {
        const char *colon = strrchr(address, ':');
        if (!colon)
            return fail(k, KENNEL_E_ADDRESS,
                        "missing port in \"%s\" (expected HOST:PORT, [IPV6]:PORT or unix:PATH)", address);
        const size_t host_len = (size_t)(colon - address);
        if (memchr(address, ':', host_len))
            return fail(k, KENNEL_E_ADDRESS, "IPv6 addresses need brackets: \"[%.*s]:%s\"", (int)host_len, address,
                        colon + 1);
        if (host_len >= sizeof host)
            return fail(k, KENNEL_E_ADDRESS, "host name in \"%s\" is longer than %d characters", address,
                        MAX_HOST_NAME_LENGTH);
        memcpy(host, address, host_len);
        host[host_len] = '\0';
        if (!valid_host(host))
            return fail(k, KENNEL_E_ADDRESS, "\"%s\" is not a valid host name (expected HOST:PORT)", host);
        port_text = colon + 1;
    }
    unsigned long port = 0;
    if (!valid_port(port_text, &port))
        return fail(k, KENNEL_E_ADDRESS, "bad port in \"%s\" (expected 1..65535)", address);
    if (port == 0) /* a listener may ask for port 0; nobody can connect to it */
        return fail(k, KENNEL_E_ADDRESS, "port 0 in \"%s\" cannot be connected to", address);

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

