// What /proc says about processes, for the supervisor's tracking of its services:
// who a process's parent is, when it started (a PID and its start time name one process; a
// reused PID has a later start time), its process group, and whether a process carries a
// service's mark in its environment. Reads are small and bounded; nothing here blocks on anything
// but procfs.
#pragma once

#include <QByteArray>
#include <QList>

#include <optional>
#include <sys/types.h>

namespace Kennel {

struct ProcStat
{
    pid_t pid = 0;
    pid_t ppid = 0;
    pid_t pgrp = 0;
    char state = '?';          // 'R', 'S', 'Z' (zombie), ...
    quint64 startTime = 0;     // clock ticks after boot (field 22)
};

namespace ProcessTree {

// /proc/PID/stat; nullopt if the process is gone (or /proc is not there).
std::optional<ProcStat> stat(pid_t pid);
// Every process's stat, in no particular order (a process may vanish meanwhile: it is skipped).
QList<ProcStat> all();
// The value of `variable` in the environment the process was started with (/proc/PID/environ,
// at most 64 KiB read); nullopt if unset or unreadable.
std::optional<QByteArray> environmentValue(pid_t pid, QByteArrayView variable);
// The processes that belong to a service besides its main process: those in process group
// `pgrp` (if > 0), those that are children of `reaper` (the broker, a subreaper) carrying
// KENNEL_SERVICE=`service` in their environment, and every descendant of these. `exclude`: PIDs
// never to count (the main process, other services' main processes).
QList<ProcStat> leftovers(pid_t pgrp, pid_t reaper, QByteArrayView service, const QList<pid_t> &exclude);

} // namespace ProcessTree
} // namespace Kennel
