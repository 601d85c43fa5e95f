// Which process owns the other end of a connected socket, as the kernel sees it. The broker may
// signal a client's process; a process ID a client merely states would let it aim the broker at
// anyone, so the answer here comes only from the kernel (SO_PEERCRED, /proc/net/tcp*, /proc/PID/fd).
//
// AF_UNIX: SO_PEERCRED names the process that called connect() (or socketpair()), with the
// credentials it had then. It cannot show that the socket was later inherited across fork() or
// passed with SCM_RIGHTS: the connecting process is reported even if others hold the socket too
// (never Ambiguous). On Linux >= 6.5 SO_PEERPIDFD pins that process, so a connecting process that
// has exited is NotFound even if its PID has been reused; on older kernels the PID is only checked
// to exist, and a reused PID would be reported with the newcomer's start time.
// Callers that act later must check isSameProcessInstance() against the start time taken here.
//
// AF_INET / AF_INET6 (TCP): a peer on this machine is found by its kernel socket (the one whose
// 4-tuple is ours reversed: an exact sock_diag netlink query, or /proc/net/tcp and tcp6 where that
// is unavailable) and then by scanning every process's fd table for that socket's inode. That
// sees inherited and passed descriptors, so a socket held by more than one process is reported as
// Ambiguous rather than attributed to one of them. The result is a snapshot of that moment.
// The scan costs O(processes + their descriptors), about 1 ms with 100 processes and tens of ms
// with 1000 on a small VM: do it once per connection, only when needed, and consider a worker
// thread on big systems (the functions here keep no state and may run on any thread).
// Without ptrace access to a process (root or CAP_SYS_PTRACE for other users' processes) its fd
// table is unreadable: a holder there is invisible, and the detail string says how many tables
// could not be read. Only each process's main fd table is looked at (/proc/PID/fd, not
// /proc/PID/task/*): a thread that unshare()d its fd table is not seen.
#pragma once

#include <QString>
#include <QtGlobal>

#include <optional>
#include <sys/types.h>

namespace Kennel {

struct PeerProcess
{
    pid_t pid = 0;
    // AF_UNIX: the peer's effective uid when it connected (SO_PEERCRED). TCP: the socket's owner
    // as the kernel lists it, normally the uid of the process that created the socket.
    uid_t uid = ~0u;
    // /proc/PID/stat field 22 (clock ticks since boot): a PID is reused, a (PID, start time) pair
    // is not, so this is what tells the process found from a later one with the same PID.
    quint64 startTime = 0;
};

enum class PeerLookup {
    Found,
    Remote,    // the peer is not on this machine
    NotFound,  // local, but no process owns the peer socket (it exited), or /proc is unreadable
    Ambiguous, // more than one process holds the peer socket (fd inherited across fork or passed)
};

struct PeerLookupResult
{
    PeerLookup status = PeerLookup::NotFound;
    PeerProcess process; // meaningful only when status == Found
    QString detail;      // why, for the log
};

// Dispatches on the socket's family. Never throws; errors come back as NotFound with a detail.
PeerLookupResult lookupPeerProcess(int connectedFd);

enum class ClaimCheck {
    Confirmed,    // the claimed process holds the peer socket
    Mismatch,     // it does not (or does not exist): the claim is false
    Unverifiable, // a remote peer, or nothing the kernel shows can settle it; the claim is not used
};

struct ClaimCheckResult
{
    ClaimCheck status = ClaimCheck::Unverifiable;
    QString detail;
};

// Checks a process ID the peer claims (a Hello's pid) against the kernel: SO_PEERCRED on Unix
// sockets; on TCP, whether that process's fd table holds the peer's socket. Much cheaper than
// lookupPeerProcess() (one fd table instead of all of /proc), so it can run for every Hello. A
// confirmed claim is still not a licence to signal: an inherited socket is held by more than one
// process, which only lookupPeerProcess() detects.
ClaimCheckResult checkClaimedPid(int connectedFd, pid_t claimed);

// /proc/PID/stat field 22, or nullopt if the process does not exist (or /proc is unreadable).
std::optional<quint64> processStartTime(pid_t pid);

// True if p.pid still exists and is the same process (same start time), not a reuse of the PID.
bool isSameProcessInstance(const PeerProcess &p);

namespace detail {
// For tests: on a current kernel SO_PEERPIDFD and sock_diag answer nearly every lookup, so without
// this the fallbacks for older or smaller kernels (SO_PEERCRED alone, /proc/net/tcp*) would go
// untested. Enabled by default.
void setKernelFastPathsEnabled(bool enabled);
} // namespace detail

} // namespace Kennel
