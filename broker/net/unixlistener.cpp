#include "unixlistener.h"
#include "errnotext.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace Kennel {

namespace {
bool fillAddress(const QString &path, sockaddr_un *addr)
{
    const QByteArray native = QFile::encodeName(path);
    *addr = {};
    addr->sun_family = AF_UNIX;
    if (size_t(native.size()) >= sizeof addr->sun_path)
        return false;
    std::memcpy(addr->sun_path, native.constData(), size_t(native.size()));
    return true;
}

// Something accepts connections at `path` right now.
bool isLive(const QString &path)
{
    sockaddr_un addr{};
    if (!fillAddress(path, &addr))
        return false;
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    const bool live = ::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0;
    ::close(fd);
    return live;
}
} // namespace

UnixListener::~UnixListener()
{
    UnixListener::close();
}

void UnixListener::close()
{
    const bool wasListening = isListening();
    SocketListener::close();
    // Only the file this listener created: after a failed listenAt() the path may be another's.
    if (wasListening && m_ownsFile && !m_path.isEmpty())
        ::unlink(QFile::encodeName(m_path).constData());
    m_path.clear();
}

bool UnixListener::listenAt(const QString &path, QString *error)
{
    close();
    const QFileInfo info(path);
    const QString absolute = info.absoluteFilePath();
    auto fail = [&](const QString &why) {
        setErrorString(why);
        *error = why;
        return false;
    };
    if (!QDir().mkpath(info.absolutePath()))
        return fail(QStringLiteral("cannot create directory %1").arg(info.absolutePath()));
    sockaddr_un addr{};
    if (!fillAddress(absolute, &addr))
        return fail(QStringLiteral("cannot listen on %1: the path is too long for a Unix socket").arg(path));
    if (info.exists() || info.isSymLink()) {
        if (isLive(absolute))
            return fail(QStringLiteral("another process is already listening on %1").arg(path));
        // A socket file nobody answers on is what a crashed broker leaves behind. Anything else at
        // that path (a config file named by mistake) is not ours to delete.
        struct stat st{};
        if (::lstat(addr.sun_path, &st) != 0 || !S_ISSOCK(st.st_mode))
            return fail(QStringLiteral("cannot listen on %1: it exists and is not a socket").arg(path));
        ::unlink(addr.sun_path);
    }
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(QStringLiteral("cannot listen on %1: %2").arg(path, errnoText(errno)));
    if (::bind(fd, reinterpret_cast<const sockaddr *>(&addr), sizeof addr) != 0) {
        const QString why = errnoText(errno);
        ::close(fd);
        return fail(QStringLiteral("cannot listen on %1: %2").arg(path, why));
    }
    if (::listen(fd, listenBacklogSize()) != 0) {
        const QString why = errnoText(errno);
        ::close(fd);
        ::unlink(addr.sun_path); // ours: bind() just created it
        return fail(QStringLiteral("cannot listen on %1: %2").arg(path, why));
    }
    m_path = absolute;
    m_ownsFile = true;
    adoptListening(fd);
    return true;
}

void UnixListener::adoptPassed(int fd, const QString &path)
{
    close();
    m_path = QFileInfo(path).absoluteFilePath();
    // systemd's: unlinking it would leave the .socket unit listening on a name nobody can find.
    m_ownsFile = false;
    adoptListening(fd);
}

} // namespace Kennel
