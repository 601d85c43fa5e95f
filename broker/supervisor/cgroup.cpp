#include "cgroup.h"
#include "errnotext.h"

#include <QByteArray>
#include <QDir>
#include <QFile>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace Kennel {

namespace {

constexpr qint64 MaxSmallFile = 1024 * 1024;
// Rounds of "read cgroup.procs, SIGKILL each" before giving up on a group that keeps forking.
constexpr int MaxKillRounds = 16;

QByteArray readSmall(const QByteArray &path)
{
    const int fd = ::open(path.constData(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return {};
    QByteArray data;
    char buffer[4096];
    while (data.size() < MaxSmallFile) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        data.append(buffer, n);
    }
    ::close(fd);
    return data;
}

bool writeSmall(const QByteArray &path, QByteArrayView text)
{
    const int fd = ::open(path.constData(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    const bool ok = ::write(fd, text.data(), size_t(text.size())) == ssize_t(text.size());
    ::close(fd);
    return ok;
}

// The "0::/path" line of /proc/PID/cgroup.
QString unifiedPathOf(const QByteArray &procFile)
{
    for (const QByteArray &line : readSmall(procFile).split('\n')) {
        if (line.startsWith("0::"))
            return QString::fromUtf8(line.mid(3));
    }
    return {};
}

bool delegated(const QByteArray &dir)
{
    char value[8] = {};
    for (const char *name : {"trusted.delegate", "user.delegate"}) {
        const ssize_t n = ::getxattr(dir.constData(), name, value, sizeof value - 1);
        if (n > 0 && value[0] == '1')
            return true;
    }
    return false;
}


} // namespace

CgroupBase CgroupBase::choose(bool enabled)
{
    CgroupBase base;
    if (!enabled) {
        base.m_reason = QStringLiteral("[supervisor] cgroup = off");
        return base;
    }
    const QString own = unifiedPathOf("/proc/self/cgroup");
    if (own.isEmpty()) {
        base.m_reason = QStringLiteral("no cgroup v2 hierarchy (no 0:: line in /proc/self/cgroup)");
        return base;
    }
    // The cgroup2 mount: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE ...".
    QString mountPoint, mountRoot;
    for (const QByteArray &line : readSmall("/proc/self/mountinfo").split('\n')) {
        const qsizetype dash = line.indexOf(" - ");
        if (dash < 0 || !line.mid(dash + 3).startsWith("cgroup2 "))
            continue;
        const QList<QByteArray> fields = line.left(dash).split(' ');
        if (fields.size() < 5)
            continue;
        mountRoot = QString::fromUtf8(fields.at(3));
        mountPoint = QString::fromUtf8(fields.at(4)); // octal escapes (\040) are not expected here
        break;
    }
    if (mountPoint.isEmpty()) {
        base.m_reason = QStringLiteral("no cgroup2 file system mounted (/proc/self/mountinfo)");
        return base;
    }
    const QString root = mountRoot == QLatin1String("/") ? QString() : mountRoot;
    if (!root.isEmpty() && !(own == root || own.startsWith(root + QLatin1Char('/')))) {
        base.m_reason = QStringLiteral("the broker's cgroup %1 is not below the cgroup2 mount %2 (root %3)")
                            .arg(own, mountPoint, mountRoot);
        return base;
    }
    const QString ownRelative = own.mid(root.size()); // "/" or "/a/b"
    const QString ownDir = mountPoint + (ownRelative == QLatin1String("/") ? QString() : ownRelative);
    const QByteArray ownDirBytes = QFile::encodeName(ownDir);

    if (qEnvironmentVariableIsSet("INVOCATION_ID") && own != QLatin1String("/")) {
        // A systemd service: its cgroup is systemd's unless delegated to it.
        if (!delegated(ownDirBytes)) {
            base.m_reason = QStringLiteral("under systemd without a delegated cgroup (Delegate=yes) at %1").arg(ownDir);
            return base;
        }
        if (::access(QByteArray(ownDirBytes + "/cgroup.procs").constData(), W_OK) != 0) {
            const int error = errno;
            base.m_reason = QStringLiteral("delegated cgroup %1 not writable: %2").arg(ownDir, errnoText(error));
            return base;
        }
        // No internal processes: the broker leaves its group for a leaf of its own first.
        const QString leaf = ownDir + QStringLiteral("/broker");
        QString error;
        if (!Cgroup::create(leaf, &error)
            || !writeSmall(QFile::encodeName(leaf) + "/cgroup.procs", "0")) {
            if (error.isEmpty())
                error = errnoText(errno);
            base.m_reason = QStringLiteral("cannot move the broker into %1: %2").arg(leaf, error);
            return base;
        }
        base.m_path = ownDir;
        base.m_hierarchy = own;
        return base;
    }

    // Groups of brokers that were killed (-9) and could not remove theirs: gone once empty.
    const QStringList stale = QDir(ownDir).entryList({QStringLiteral("kennel-*")}, QDir::Dirs | QDir::NoDotAndDotDot);
    for (const QString &entry : stale) {
        bool ok = false;
        const qint64 pid = entry.mid(7).toLongLong(&ok);
        if (!ok || pid <= 0 || QFile::exists(QStringLiteral("/proc/%1").arg(pid)))
            continue;
        const QString dir = ownDir + QLatin1Char('/') + entry;
        for (const QString &child : QDir(dir).entryList(QDir::Dirs | QDir::NoDotAndDotDot))
            Cgroup::remove(dir + QLatin1Char('/') + child);
        Cgroup::remove(dir);
    }

    const QString name = QStringLiteral("kennel-%1").arg(::getpid());
    const QString dir = ownDir + QLatin1Char('/') + name;
    QString error;
    if (!Cgroup::create(dir, &error)) {
        base.m_reason = QStringLiteral("cannot create %1: %2").arg(dir, error);
        return base;
    }
    base.m_path = dir;
    base.m_hierarchy = (own == QLatin1String("/") ? QString() : own) + QLatin1Char('/') + name;
    base.m_created = true;
    return base;
}

void CgroupBase::removeCreated()
{
    if (m_created && Cgroup::remove(m_path))
        m_created = false;
}

namespace Cgroup {

QList<pid_t> members(const QString &groupPath)
{
    QList<pid_t> pids;
    for (const QByteArray &line : readSmall(QFile::encodeName(groupPath) + "/cgroup.procs").split('\n')) {
        bool ok = false;
        const long pid = line.toLong(&ok);
        if (ok && pid > 0)
            pids.append(pid_t(pid));
    }
    return pids;
}

bool create(const QString &groupPath, QString *error)
{
    const QByteArray path = QFile::encodeName(groupPath);
    if (::mkdir(path.constData(), 0755) == 0 || errno == EEXIST)
        return true;
    // The base went (another supervisor in this process removed kennel-PID when it ended): once
    // more with the parent made first, one level only.
    const qsizetype slash = path.lastIndexOf('/');
    if (errno == ENOENT && slash > 0 && ::mkdir(path.left(slash).constData(), 0755) == 0
        && ::mkdir(path.constData(), 0755) == 0)
        return true;
    if (error)
        *error = errnoText(errno);
    return false;
}

int openProcs(const QString &groupPath, QString *error)
{
    const int fd = ::open(QByteArray(QFile::encodeName(groupPath) + "/cgroup.procs").constData(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 && error)
        *error = errnoText(errno);
    return fd;
}

bool movePid(int procsFd, pid_t pid)
{
    // Decimal by hand: snprintf is not async-signal-safe.
    char text[24];
    char *end = text + sizeof text;
    char *p = end;
    unsigned long value = pid > 0 ? static_cast<unsigned long>(pid) : 0;
    do {
        *--p = char('0' + value % 10);
        value /= 10;
    } while (value != 0);
    return procsFd >= 0 && ::write(procsFd, p, size_t(end - p)) == ssize_t(end - p);
}

QList<pid_t> killAll(const QString &groupPath, pid_t except)
{
    QList<pid_t> found;
    const QByteArray dir = QFile::encodeName(groupPath);
    for (int round = 0; round < MaxKillRounds; ++round) {
        QList<pid_t> pids = members(groupPath);
        pids.removeAll(except);
        if (pids.isEmpty())
            break;
        for (const pid_t pid : std::as_const(pids)) {
            if (!found.contains(pid))
                found.append(pid);
        }
        // cgroup.kill (Linux 5.14) kills the whole group at once, forks in flight included.
        if (except <= 0 && writeSmall(dir + "/cgroup.kill", "1"))
            break;
        for (const pid_t pid : std::as_const(pids))
            ::kill(pid, SIGKILL);
    }
    return found;
}

bool remove(const QString &groupPath)
{
    return ::rmdir(QFile::encodeName(groupPath).constData()) == 0 || errno == ENOENT;
}

QString ofProcess(pid_t pid)
{
    if (pid <= 0)
        return {};
    return unifiedPathOf("/proc/" + QByteArray::number(pid) + "/cgroup");
}

} // namespace Cgroup
} // namespace Kennel
