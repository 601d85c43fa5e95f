// peerprocess_helper tcp4|tcp6 PORT   connects to 127.0.0.1 / ::1 on PORT
// peerprocess_helper unix PATH        connects to the AF_UNIX stream socket at PATH
// Prints "connected" once connected, then holds the connection until its stdin closes, so the
// test decides exactly how long this process lives.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char **argv)
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s tcp4|tcp6|unix PORT|PATH\n", argv[0]);
        return 2;
    }
    const char *kind = argv[1];
    int fd = -1;
    int rc = -1;
    if (std::strcmp(kind, "tcp4") == 0) {
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(static_cast<unsigned short>(std::atoi(argv[2])));
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0)
            rc = connect(fd, reinterpret_cast<sockaddr *>(&sin), sizeof sin);
    } else if (std::strcmp(kind, "tcp6") == 0) {
        sockaddr_in6 sin6{};
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(static_cast<unsigned short>(std::atoi(argv[2])));
        sin6.sin6_addr = in6addr_loopback;
        fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0)
            rc = connect(fd, reinterpret_cast<sockaddr *>(&sin6), sizeof sin6);
    } else if (std::strcmp(kind, "unix") == 0) {
        sockaddr_un sun{};
        sun.sun_family = AF_UNIX;
        if (std::strlen(argv[2]) >= sizeof sun.sun_path) {
            std::fprintf(stderr, "path too long\n");
            return 2;
        }
        std::strcpy(sun.sun_path, argv[2]);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0)
            rc = connect(fd, reinterpret_cast<sockaddr *>(&sun), sizeof sun);
    } else {
        std::fprintf(stderr, "unknown kind %s\n", kind);
        return 2;
    }
    if (fd < 0 || rc != 0) {
        std::fprintf(stderr, "connect failed: %s\n", std::strerror(errno));
        return 1;
    }
    std::printf("connected\n");
    std::fflush(stdout);

    char buf[256];
    for (;;) {
        const ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno != EINTR))
            break;
    }
    close(fd);
    return 0;
}
