#include "processtree.h"

#include <QDir>
#include <QFile>
#include <QHash>
#include <QSet>

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace Kennel::ProcessTree {

namespace {

constexpr qint64 MaxStatBytes = 4096;
constexpr qint64 MaxEnvironBytes = 64 * 1024;

QByteArray readSmall(const QByteArray &path, qint64 maxBytes)
{
    const int fd = ::open(path.constData(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return {};
    QByteArray data(maxBytes, Qt::Uninitialized);
    qint64 filled = 0;
    while (filled < maxBytes) {
        const ssize_t n = ::read(fd, data.data() + filled, size_t(maxBytes - filled));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        filled += n;
    }
    ::close(fd);
    data.truncate(filled);
    return data;
}

} // namespace

std::optional<ProcStat> stat(pid_t pid)
{
    if (pid <= 0)
        return std::nullopt;
    const QByteArray text = readSmall("/proc/" + QByteArray::number(pid) + "/stat", MaxStatBytes);
    // "PID (COMM) S PPID PGRP ...": COMM may hold blanks and parentheses, so the fields start
    // after the last ')'.
    const qsizetype close = text.lastIndexOf(')');
    if (close < 0)
        return std::nullopt;
    const QList<QByteArray> fields = text.mid(close + 2).split(' ');
    // fields[0] is field 3 (state); start time is field 22.
    if (fields.size() < 20)
        return std::nullopt;
    ProcStat st;
    st.pid = pid;
    st.state = fields[0].isEmpty() ? '?' : fields[0].at(0);
    st.ppid = pid_t(fields[1].toLongLong());
    st.pgrp = pid_t(fields[2].toLongLong());
    st.startTime = fields[19].toULongLong();
    return st;
}

QList<ProcStat> all()
{
    QList<ProcStat> out;
    const QStringList entries = QDir(QStringLiteral("/proc")).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    for (const QString &entry : entries) {
        bool ok = false;
        const qint64 pid = entry.toLongLong(&ok);
        if (!ok || pid <= 0)
            continue;
        if (const std::optional<ProcStat> st = stat(pid_t(pid)))
            out.append(*st);
    }
    return out;
}

std::optional<QByteArray> environmentValue(pid_t pid, QByteArrayView variable)
{
    const QByteArray environ = readSmall("/proc/" + QByteArray::number(pid) + "/environ", MaxEnvironBytes);
    const QByteArray prefix = variable.toByteArray() + '=';
    for (const QByteArray &entry : environ.split('\0')) {
        if (entry.startsWith(prefix))
            return entry.mid(prefix.size());
    }
    return std::nullopt;
}

QList<ProcStat> leftovers(pid_t pgrp, pid_t reaper, QByteArrayView service, const QList<pid_t> &exclude)
{
    const QList<ProcStat> processes = all();
    QHash<pid_t, QList<const ProcStat *>> children;
    for (const ProcStat &p : processes)
        children[p.ppid].append(&p);

    QSet<pid_t> chosen;
    QList<const ProcStat *> queue;
    for (const ProcStat &p : processes) {
        if (exclude.contains(p.pid) || p.pid == reaper)
            continue;
        bool mine = pgrp > 0 && p.pgrp == pgrp;
        if (!mine && reaper > 0 && p.ppid == reaper) {
            const std::optional<QByteArray> mark = environmentValue(p.pid, "KENNEL_SERVICE");
            mine = mark && *mark == service;
        }
        if (mine && !chosen.contains(p.pid)) {
            chosen.insert(p.pid);
            queue.append(&p);
        }
    }
    // And everything below them (a helper's helpers, whatever their group).
    for (qsizetype i = 0; i < queue.size(); ++i) {
        for (const ProcStat *child : children.value(queue.at(i)->pid)) {
            if (exclude.contains(child->pid) || chosen.contains(child->pid))
                continue;
            chosen.insert(child->pid);
            queue.append(child);
        }
    }
    QList<ProcStat> out;
    out.reserve(queue.size());
    for (const ProcStat *p : std::as_const(queue))
        out.append(*p);
    return out;
}

} // namespace Kennel::ProcessTree
