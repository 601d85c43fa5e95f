// Which process owns the other end of a connected socket, as the kernel sees it. The broker may
// signal a client's process; a process ID a client merely states would let it aim the broker at
// anyone, so the answer here comes only from the kernel. The model is written down in
// docs/WATCHDOG.md ("Who owns a connection"); in short:
//
// - The peer socket is found by the kernel: AF_UNIX through unix_diag (UNIX_DIAG_PEER: the inode
//   of the other end), TCP by its 4-tuple (inet_diag, or /proc/net/tcp*), and only on this machine.
// - Every process holding that socket is found in the /proc/PID/fd tables. SO_PEERCRED and
//   SO_PEERPIDFD are not used to name the owner: they say who connected, not who holds the socket
//   now (it may have been inherited across fork() or passed with SCM_RIGHTS, and the connector may
//   have exited and its PID been reused). So kernels with and without SO_PEERPIDFD (< 6.5) take
//   the same path.
// - Holders that are one process and its descendants (popen()'s sh and ps, a forked reader) are
//   owned by that ancestor; unrelated holders are Ambiguous; nobody holding it is NotFound.
// - An owner that also relays (holds a listening socket, or a TCP connection to something other
//   than the broker) is a Forwarder: not the client, never signalled.
// - Every failure (no unix_diag, /proc unreadable, out of descriptors) is NotFound: fail closed.
//
// The answer is a snapshot; the (PID, start time) pair identifies the process instance, and
// checkHoldsPeer() re-checks, just before acting, that the instance still holds the socket.
// A lookup walks every process's fd table (O(processes + their descriptors)): it runs when a
// connection is watched or a name is shared, never per message. The only state kept is a cache of
// the broker's own listening addresses (mutex-guarded), so the functions may run on any thread. Without ptrace access to a process
// (root or CAP_SYS_PTRACE for other users' processes) its fd table is unreadable: a holder there
// is invisible, and the detail says how many tables could not be read.
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
    quint64 peerInode = 0; // the peer socket the process was found holding
};

enum class PeerLookup {
    Found,
    Remote,    // the peer is not on this machine
    NotFound,  // local, but no process owns the peer socket (it exited), or /proc is unreadable
    Ambiguous, // unrelated processes hold the peer socket (passed, or shared by siblings)
    Forwarder, // the holder relays for others (socat, ssh -L): process is named, never signalled
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
// sockets (another PID is a Mismatch at once), then whether the claimed process holds the peer's
// socket, reading at most ClaimScanLimit of its descriptors. Cheap enough for every Hello. A
// confirmed claim is still not a licence to signal: only lookupPeerProcess() names an owner.
ClaimCheckResult checkClaimedPid(int connectedFd, pid_t claimed);

// At most this many descriptors of a claimed process are read to check a claim: a claim against a
// process with more is Unverifiable (not used), and a Hello costs the same whatever the claim.
constexpr int ClaimScanLimit = 256;

enum class Holding { Holds, NotHeld, Unknown };

struct HoldingResult
{
    Holding status = Holding::Unknown;
    QString detail;
};

// Does the process instance `process` (pid and start time) hold the socket at the other end of
// `connectedFd` right now? Reads that one process's fd table. Used before a signal, and to tell
// whether two connections belong to one process.
HoldingResult checkHoldsPeer(int connectedFd, const PeerProcess &process);

// /proc/PID/stat field 22, or nullopt if the process does not exist (or /proc is unreadable).
std::optional<quint64> processStartTime(pid_t pid);

// True if p.pid still exists and is the same process (same start time), not a reuse of the PID.
bool isSameProcessInstance(const PeerProcess &p);

namespace detail {
// For tests, and the broker's KENNEL_IDENTITY_SLOW_PATHS=1: on a current kernel inet_diag answers
// every TCP lookup, so without this the /proc/net/tcp* fallback of older or smaller kernels would go
// untested. Enabled by default.
void setKernelFastPathsEnabled(bool enabled);
} // namespace detail

} // namespace Kennel
