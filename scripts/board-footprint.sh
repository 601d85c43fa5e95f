#!/usr/bin/env bash
# The broker's footprint per architecture, for docs/BENCHMARKS.md: the size of kennel-broker
# stripped, and its resident memory at idle and with N registered clients (default 100).
#   board-footprint.sh [--clients N] [amd64|armhf|arm64]...    (default: each one that is built)
# amd64 is ./build (or $KENNEL_BUILD_DIR); armhf and arm64 are ./build-ARCH (scripts/cross-build.sh),
# whose broker runs under qemu-user. The clients are this machine's kennel-nativebench (./build,
# built with the bench programs) on the broker's Unix socket: what they cost the broker does not
# depend on the clients' architecture. Under qemu-user the process's RSS also holds the emulator
# (its own code and heap, and the translated code): the guest's share is given beside it, the
# RSS less qemu's own mappings (docs/BOARD.md says how). Times under emulation mean nothing and
# none are reported. The broker is ended by its PID; nothing else is touched.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
native=${KENNEL_BUILD_DIR:-$root/build}

clients=100
archs=()
while [ $# -gt 0 ]; do
    case "$1" in
        --clients) shift; clients=${1:?--clients needs a number} ;;
        amd64|armhf|arm64) archs+=("$1") ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "board-footprint.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[ ${#archs[@]} -gt 0 ] || archs=(amd64 armhf arm64)

bench=$native/bin/kennel-nativebench
if [ ! -x "$bench" ]; then
    echo "board-footprint.sh: $bench is missing: build ./build with the bench programs first" >&2
    exit 1
fi

work=$(mktemp -d)
broker_pid=
cleanup() {
    if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
        kill -TERM "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }

# The guest's share of a qemu-user process's RSS: every mapping's Rss except qemu's own: its
# binary, its heap and stack, the vdso, and its translation buffer (the largest anonymous mapping
# that is executable). What qemu allocates with mmap() for itself besides is still counted, so
# this is an upper bound of what the program would use on a board.
guest_kib() {
    awk '
        /^[0-9a-f]+-[0-9a-f]+ / {
            flush()
            split($1, r, "-"); perms = $2; path = $6
            size = 0; skip = (path ~ /qemu-/ || path == "[heap]" || path == "[stack]" || path == "[vdso]" || path == "[vvar]")
            exec_anon = (perms ~ /x/ && path == "")
            next
        }
        $1 == "Rss:" { rss = $2; size = 1 }
        function flush() {
            if (!size) return
            if (exec_anon && rss > biggest_exec) { total += biggest_exec; biggest_exec = rss }
            else if (!skip) total += rss
            size = 0; rss = 0
        }
        END { flush(); print total }
    ' "/proc/$1/smaps"
}

# Sizes: kennel-broker, and the two libraries a board installs with it (it links libkennelclient;
# C programs link libkennel), each stripped.
printf '%-6s %12s %12s %12s %10s %10s %12s %12s %12s\n' arch broker_bytes libclient_b libkennel_b idle_kib \
    "${clients}cl_kib" guest_idle_kib "guest_${clients}cl_kib" per_client_b
for arch in "${archs[@]}"; do
    case "$arch" in
        amd64) build=$native; strip=strip; emulator=() ;;
        armhf) build=$root/build-armhf; strip=arm-linux-gnueabihf-strip; emulator=(qemu-arm-static) ;;
        arm64) build=$root/build-arm64; strip=aarch64-linux-gnu-strip; emulator=(qemu-aarch64-static) ;;
    esac
    broker=$build/bin/kennel-broker
    if [ ! -x "$broker" ]; then
        echo "board-footprint.sh: no $broker (build it first); skipping $arch" >&2
        continue
    fi
    stripped() { "$strip" -o "$work/stripped" "$1" && stat -c %s "$work/stripped"; }
    size=$(stripped "$broker")
    libclient=$(stripped "$build/clientlib/libkennelclient.so.0")
    libkennel=$(stripped "$build/clientlib/c/libkennel.so.0")

    sock=$work/$arch.sock
    "${emulator[@]}" "$broker" --listen "unix:$sock" --print-listening >"$work/$arch.out" 2>"$work/$arch.log" &
    broker_pid=$!
    for _ in $(seq 600); do
        grep -qx ready "$work/$arch.out" 2>/dev/null && break
        kill -0 "$broker_pid" 2>/dev/null || { cat "$work/$arch.log" >&2; exit 1; }
        sleep 0.1
    done
    grep -qx ready "$work/$arch.out" || { echo "board-footprint.sh: the $arch broker did not start" >&2; exit 1; }
    sleep 3 # settle: idle is idle, not start-up
    idle=$(kib "$broker_pid" VmRSS)
    guest_idle=$idle
    [ ${#emulator[@]} -eq 0 ] || guest_idle=$(guest_kib "$broker_pid")

    # Registered, each sent one message, held: the figure is taken during the hold.
    "$bench" --unix "$sock" --idle "$clients" --hold 6 --watch-pid "$broker_pid" >"$work/$arch.bench" 2>&1 &
    bench_pid=$!
    for _ in $(seq 300); do
        [ "$(ls "/proc/$broker_pid/fd" | wc -l)" -ge "$clients" ] && break
        sleep 0.1
    done
    sleep 3
    loaded=$(kib "$broker_pid" VmRSS)
    guest_loaded=$loaded
    [ ${#emulator[@]} -eq 0 ] || guest_loaded=$(guest_kib "$broker_pid")
    if ! wait "$bench_pid"; then
        echo "board-footprint.sh: kennel-nativebench failed against the $arch broker:" >&2
        cat "$work/$arch.bench" >&2
        exit 1
    fi
    grep -q "errors_rx=0" "$work/$arch.bench" || { cat "$work/$arch.bench" >&2; exit 1; }
    kill -TERM "$broker_pid"
    wait "$broker_pid" || true
    broker_pid=
    printf '%-6s %12s %12s %12s %10s %10s %12s %12s %12s\n' "$arch" "$size" "$libclient" "$libkennel" "$idle" "$loaded" "$guest_idle" "$guest_loaded" \
        "$(( (guest_loaded - guest_idle) * 1024 / clients ))"
done
