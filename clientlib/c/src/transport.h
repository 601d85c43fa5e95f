/* Opening the connection to a broker: the address forms of clientlib/client/brokeraddress.h
 * (unix:PATH, HOST:PORT, [V6]:PORT), a non-blocking socket, connect() bounded by a timeout.
 * Internal to libkennel. */
#ifndef KENNEL_TRANSPORT_H
#define KENNEL_TRANSPORT_H

#include <stddef.h>

/* Where a failure is described: kennel.c passes its last-error buffer. */
struct transport_error {
    char *text;
    size_t size;
};

/* Connects to `address` within timeout_ms: KENNEL_OK with a non-blocking, close-on-exec socket in
 * *out_fd, or a negative kennel_result with the reason in err. May block in getaddrinfo(). */
int kennel_transport_open(const char *address, int timeout_ms, int *out_fd, struct transport_error *err);

#endif /* KENNEL_TRANSPORT_H */
