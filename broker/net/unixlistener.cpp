#include "unixlistener.h"

#include <QDir>
#include <QFileInfo>

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace Kennel {

namespace {
// Something accepts connections at `path` right now.
bool isLive(const QString &path)
{
    const QByteArray native = QFile::encodeName(path);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (size_t(native.size()) >= sizeof addr.sun_path)
        return false;
    std::memcpy(addr.sun_path, native.constData(), size_t(native.size()));
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    const bool live = ::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0;
    ::close(fd);
    return live;
}
} // namespace

bool UnixListener::listenAt(const QString &path, QString *error)
{
    const QFileInfo info(path);
    if (!QDir().mkpath(info.absolutePath())) {
        *error = QStringLiteral("cannot create directory %1").arg(info.absolutePath());
        return false;
    }
    if (info.exists()) {
        if (isLive(path)) {
            *error = QStringLiteral("another process is already listening on %1").arg(path);
            return false;
        }
        // A socket file nobody answers on is what a crashed broker leaves behind.
        QLocalServer::removeServer(path);
    }
    if (!listen(path)) {
        *error = QStringLiteral("cannot listen on %1: %2").arg(path, errorString());
        return false;
    }
    return true;
}

} // namespace Kennel
