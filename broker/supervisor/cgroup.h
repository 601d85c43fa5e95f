// cgroup v2 for the supervisor: a group per service, so that whatever a
// service starts — a daemon that double-forks, calls setsid() and clears its environment
// included — stays findable and can be killed. The kernel keeps a process in its parent's group
// across fork, and only someone with write access to the hierarchy can move it out.
//
// Where the groups go (CgroupBase::choose), first that works:
// - under systemd (INVOCATION_ID set) with a delegated cgroup (Delegate=yes: the unit's group
//   carries the trusted.delegate or user.delegate xattr): the broker's own group. cgroup v2 lets
//   a group with children hold no processes once controllers are enabled in it, so the broker
//   first moves itself into the leaf <own>/broker; services go to <own>/service-NAME;
// - not under systemd: a group the broker creates, <own group in the cgroup2 mount>/kennel-PID,
//   removed when the broker ends;
// - neither: no cgroups (process groups and the subreaper, see Service); why is said in the log.
// Every call is a small read or write in cgroupfs; nothing blocks on anything but the kernel.
#pragma once

#include <QList>
#include <QString>

#include <sys/types.h>

namespace Kennel {

class CgroupBase
{
public:
    // enabled false ([supervisor] cgroup = off): an invalid base, reason() says so.
    static CgroupBase choose(bool enabled);

    bool isValid() const { return !m_path.isEmpty(); }
    const QString &path() const { return m_path; }         // in the filesystem
    const QString &hierarchyPath() const { return m_hierarchy; } // as in /proc/PID/cgroup
    const QString &reason() const { return m_reason; }     // why none, when invalid
    // Removes the base if the broker created it (and it is empty by now); quiet otherwise.
    void removeCreated();

private:
    QString m_path;
    QString m_hierarchy;
    QString m_reason;
    bool m_created = false;
};

namespace Cgroup {

// The PIDs in a group's cgroup.procs (live members; empty if the group is gone).
QList<pid_t> members(const QString &groupPath);
// mkdir (an existing group is fine); false with *error if it cannot be made.
bool create(const QString &groupPath, QString *error);
// An fd to write to for moving a process into the group (O_WRONLY|O_CLOEXEC), or -1 with *error.
int openProcs(const QString &groupPath, QString *error);
// Writes `pid` (0: the writer) to an fd from openProcs(). Async-signal-safe.
bool movePid(int procsFd, pid_t pid);
// SIGKILL to every member but `except` (0: none): cgroup.kill when the kernel has it (5.14) and
// no one is spared, else each PID of cgroup.procs, re-read until empty (a bounded number of
// rounds: a member may fork meanwhile). The members found, for the caller to reap its children.
QList<pid_t> killAll(const QString &groupPath, pid_t except);
// rmdir; true if the group is gone (removed now, or was not there).
bool remove(const QString &groupPath);
// The cgroup v2 path of a process ("/kennel-1/service-x"), empty if unknown.
QString ofProcess(pid_t pid);

} // namespace Cgroup
} // namespace Kennel
