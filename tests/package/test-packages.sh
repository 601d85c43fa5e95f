#!/usr/bin/env bash
# Checks the Debian packages scripts/package.sh built (docs/BOARD.md, "Debian packages"):
#   test-packages.sh ARCH DIR        (DIR: where the .deb, .ddeb and .changes are)
# 1. lintian over the .changes (every package and -dbgsym): no errors; warnings are listed.
# 2. The contents, unpacked with dpkg-deb -x into a scratch root (nothing is installed on this
#    machine): every package is there, binaries for ARCH and stripped, their debug symbols in the
#    -dbgsym packages by build-id, Depends computed from the binaries (Qt's and our own
#    libkennel's), the conffile, the postinst's user, the unit's user and paths, its
#    systemd-analyze security exposure below KENNEL_UNIT_EXPOSURE_MAX (default 3.5).
# 3. This machine's architecture only, as root: the broker from the scratch root runs as an
#    unprivileged user (nobody) with exactly the unit's capabilities (ambient CAP_KILL,
#    CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, no new privileges) — as systemd would start it, but
#    without systemd: the machine's own services are not touched. It starts, a kennelctl listen
#    receives what a kennelctl send sends through it, an old-protocol client of root's that stops
#    feeding is terminated by its PID, its supervised service has no capability
#    left (the ambient set is not inherited), the C example builds against libkennel-dev with
#    pkg-config, and on SIGTERM the broker stops with status 0.
#    Another architecture (armhf, arm64), under qemu-user when qemu-ARCH-static is installed: the
#    packaged broker starts, carries a message between two packaged kennelctl and stops.
set -euo pipefail
# `cmd | grep -q` is not used: grep -q stops reading at the first match, and a `cmd` that still
# writes (readelf on a large file) then dies of SIGPIPE, which pipefail reports as a failure.
arch=${1:?architecture}
dir=${2:?package directory}
started=$(date +%s)
step() { echo "test-packages: $1 ($(( $(date +%s) - started )) s)"; }
fail() { echo "test-packages: FAIL: $*" >&2; exit 1; }

changes=$(ls "$dir"/kennel_*_"$arch".changes 2>/dev/null | head -n 1)
[ -n "$changes" ] || fail "no kennel_*_$arch.changes in $dir"
version=$(basename "$changes" | sed 's/^kennel_\(.*\)_'"$arch"'\.changes$/\1/')
work=$(mktemp -d /tmp/kennel-package-test.XXXXXX)
broker_pid=
listener_pid=
cleanup() {
    # Only what this script started, by PID.
    [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null || true
    [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# 1. lintian
step "lintian $changes"
lintian_status=0
lintian --fail-on error --tag-display-limit 0 "$changes" >"$dir/lintian.log" 2>&1 || lintian_status=$?
cat "$dir/lintian.log"
if [ "$lintian_status" != 0 ] || grep -q '^E: ' "$dir/lintian.log"; then
    fail "lintian reports errors (status $lintian_status; $dir/lintian.log)"
fi
echo "test-packages: lintian: 0 errors, $(grep -c '^W: ' "$dir/lintian.log" || true) warnings"

# 2. Contents
step "contents"
rootfs=$work/root
debug=$work/debug
mkdir -p "$rootfs" "$debug"
for package in kennel-broker libkennel libkennel-dev kennelctl kennel-monitor; do
    deb=$dir/${package}_${version}_${arch}.deb
    [ -f "$deb" ] || fail "missing $deb"
    dpkg-deb -x "$deb" "$rootfs"
done
for package in kennel-broker libkennel kennelctl kennel-monitor; do
    ddeb=$dir/${package}-dbgsym_${version}_${arch}.deb
    [ -f "$ddeb" ] || fail "missing $ddeb (debug symbols)"
    dpkg-deb -x "$ddeb" "$debug"
done

case "$arch" in
    amd64) machine="X86-64"; triplet=x86_64-linux-gnu ;;
    armhf) machine="ARM"; triplet=arm-linux-gnueabihf ;;
    arm64) machine="AArch64"; triplet=aarch64-linux-gnu ;;
    *) fail "unknown architecture $arch" ;;
esac
elves=("$rootfs"/usr/bin/kennel-broker "$rootfs"/usr/bin/kennelctl "$rootfs"/usr/bin/kennel-monitor)
for lib in "$rootfs/usr/lib/$triplet"/libkennel.so.* "$rootfs/usr/lib/$triplet"/libkennelclient.so.*; do
    [ -L "$lib" ] || elves+=("$lib")
done
[ ${#elves[@]} = 5 ] || fail "expected 3 programs and 2 libraries, found: ${elves[*]}"
for elf in "${elves[@]}"; do
    readelf -h "$elf" | grep "Machine:.*$machine" >/dev/null || fail "$elf is not built for $arch ($machine)"
    if readelf -S "$elf" | grep '\.debug_info' >/dev/null; then
        fail "$elf is not stripped"
    fi
    id=$(readelf -n "$elf" 2>/dev/null | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
    [ -n "$id" ] || fail "$elf has no build-id"
    symbols=$debug/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
    [ -f "$symbols" ] || fail "no debug symbols for $elf (expected $symbols in a -dbgsym package)"
    readelf -S "$symbols" 2>/dev/null | grep '\.debug_info' >/dev/null || fail "$symbols has no .debug_info"
    if readelf -d "$elf" | grep -E 'RPATH|RUNPATH' >/dev/null; then
        fail "$elf has an RPATH: $(readelf -d "$elf" | grep -E 'RPATH|RUNPATH')"
    fi
done

field() { dpkg-deb -f "$dir/${1}_${version}_${arch}.deb" "$2"; }
field kennel-broker Depends | grep 'libqt6core6' >/dev/null || fail "kennel-broker's Depends lacks Qt: $(field kennel-broker Depends)"
field kennel-broker Depends | grep 'adduser' >/dev/null || fail "kennel-broker does not depend on adduser"
field kennelctl Depends | grep 'libkennel (' >/dev/null || fail "kennelctl's Depends lacks libkennel: $(field kennelctl Depends)"
field kennel-monitor Depends | grep 'libqt6widgets6' >/dev/null || fail "kennel-monitor's Depends lacks Qt Widgets"
echo "test-packages: kennel-broker Depends: $(field kennel-broker Depends)"
control=$work/control
mkdir -p "$control"
dpkg-deb -e "$dir/kennel-broker_${version}_${arch}.deb" "$control"
grep -qx '/etc/kennel/kennel.ini' "$control/conffiles" || fail "/etc/kennel/kennel.ini is not a conffile"
grep -q 'adduser --system --group' "$control/postinst" || fail "the postinst does not create the kennel user"
grep -q 'deb-systemd-helper' "$control/postinst" || fail "the postinst does not enable the units"

unit=$rootfs/lib/systemd/system/kennel-broker.service
[ -f "$rootfs/lib/systemd/system/kennel-broker.socket" ] || fail "no socket unit"
grep -qx 'User=kennel' "$unit" || fail "the unit does not run the broker as kennel"
grep -qx 'ExecStart=/usr/bin/kennel-broker --config /etc/kennel/kennel.ini' "$unit" || fail "ExecStart: $(grep ExecStart= "$unit")"
grep -q '^listen = 127.0.0.1:8000, unix:/run/kennel/broker.sock' "$rootfs/etc/kennel/kennel.ini" \
    || fail "kennel.ini does not listen where kennel-broker.socket does"
grep -q '^d /run/kennel 0755 kennel kennel' "$rootfs/usr/lib/tmpfiles.d/kennel.conf" || fail "no runtime directory (tmpfiles.d)"
for f in usr/share/man/man1/kennelctl.1.gz usr/share/bash-completion/completions/kennelctl \
         usr/share/applications/kennel-monitor.desktop usr/share/icons/hicolor/scalable/apps/kennel-monitor.svg \
         usr/include/kennel/kennel.h "usr/lib/$triplet/pkgconfig/kennel.pc" "usr/lib/$triplet/cmake/Kennel/KennelConfig.cmake"; do
    [ -e "$rootfs/$f" ] || fail "missing /$f"
done

# systemd-analyze reads the unit file alone (--offline: no running systemd needed).
exposure_max=${KENNEL_UNIT_EXPOSURE_MAX:-3.5}
exposure=$(cd "$(dirname "$unit")" && systemd-analyze security --offline=true --no-pager kennel-broker.service 2>/dev/null \
           | sed -n 's/.*Overall exposure level for kennel-broker.service: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || fail "systemd-analyze security gave no exposure level"
echo "test-packages: systemd-analyze security: exposure $exposure (at most $exposure_max)"
awk -v e="$exposure" -v m="$exposure_max" 'BEGIN { exit !(e <= m) }' || fail "the unit's exposure $exposure is above $exposure_max"

if [ "$arch" != "$(dpkg --print-architecture)" ]; then
    # 3'. Another architecture's packages: their programs run under qemu-user (docs/BOARD.md,
    # "Running under qemu-user"): the packaged broker starts from the scratch root, carries a
    # message between two packaged kennelctl and stops on SIGTERM with status 0. No capabilities
    # and no old-protocol client: the emulated broker has no sock_diag (docs/BOARD.md), and the
    # watchdog across users is what step 3 checks natively; cross-build.sh --test covers the rest.
    case "$arch" in
        armhf) qemu=qemu-arm-static ;;
        arm64) qemu=qemu-aarch64-static ;;
    esac
    if ! command -v "$qemu" >/dev/null 2>&1; then
        step "done ($arch: no $qemu, so its programs were not run)"
        exit 0
    fi
    step "running the packaged $arch broker and kennelctl under $qemu"
    # Only the emulated programs get the scratch root's libraries (the target's loader reads
    # LD_LIBRARY_PATH from the environment qemu passes on); Qt and libc are the installed multiarch
    # packages', at their usual paths.
    # An array, not a function: started in the background it must be the emulator's own PID
    # (env execs it), which the SIGTERM below and the cleanup trap signal.
    emulated=(env LD_LIBRARY_PATH="$rootfs/usr/lib/$triplet" "$qemu")
    run=$work/run
    mkdir -p "$run"
    printf '[broker]\nlisten = unix:%s/broker.sock\n' "$run" >"$work/kennel.ini"
    "${emulated[@]}" "$rootfs/usr/bin/kennel-broker" --config "$work/kennel.ini" >"$work/broker.log" 2>&1 &
    broker_pid=$!
    for _ in $(seq 300); do
        [ -S "$run/broker.sock" ] && break
        kill -0 "$broker_pid" 2>/dev/null || { cat "$work/broker.log"; fail "the broker exited at start"; }
        sleep 0.1
    done
    [ -S "$run/broker.sock" ] || { cat "$work/broker.log"; fail "the broker did not listen within 30 s"; }
    export KENNEL_BROKER=unix:$run/broker.sock
    "${emulated[@]}" "$rootfs/usr/bin/kennelctl" listen pkgtest --count 1 --timeout 30000 >"$work/listen.out" 2>"$work/listen.err" &
    listener_pid=$!
    for _ in $(seq 300); do
        grep -q "listening as pkgtest" "$work/listen.err" && break
        sleep 0.1
    done
    "${emulated[@]}" "$rootfs/usr/bin/kennelctl" send pkgtest "hello from the $arch package" --as pkgsender \
        || { cat "$work/broker.log"; fail "kennelctl send was not delivered"; }
    wait "$listener_pid" || fail "kennelctl listen: status $? ($(cat "$work/listen.err"))"
    listener_pid=
    grep -qx "pkgsender: hello from the $arch package" "$work/listen.out" || fail "kennelctl listen printed: $(cat "$work/listen.out")"
    echo "test-packages: kennelctl listen ($arch, emulated) got: $(cat "$work/listen.out")"
    kill -TERM "$broker_pid"
    status=0
    wait "$broker_pid" || status=$?
    broker_pid=
    [ "$status" = 0 ] || { cat "$work/broker.log"; fail "the broker stopped with status $status"; }
    grep -q "kennel.broker info: stopped" "$work/broker.log" || fail "the broker did not log its stop"
    step "done: the packaged $arch broker ran under $qemu, carried a message and stopped"
    exit 0
fi

# 3. Run from the scratch root
[ "$(id -u)" = 0 ] || fail "the scratch-root run needs root (to start the broker as another user with capabilities)"
step "running the packaged broker from the scratch root"
export LD_LIBRARY_PATH=$rootfs/usr/lib/$triplet
ldd "$rootfs/usr/bin/kennelctl" | grep "$rootfs/usr/lib/$triplet/libkennelclient" >/dev/null \
    || fail "kennelctl does not load the scratch root's libkennelclient: $(ldd "$rootfs/usr/bin/kennelctl" | grep kennel)"
chmod 0755 "$work"
run=$work/run
mkdir -p "$run"
chown 65534:65534 "$run"
config=$work/kennel.ini
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$config" <<EOF
[broker]
listen = unix:$run/broker.sock, 127.0.0.1:$port

[watchdog]
default_interval_ms = 500
default_allowed_misses = 2

[service.capcheck]
program = /bin/sh
arguments = -c, "grep -E '^Cap(Prm|Eff|Amb)' /proc/self/status; exec sleep 600"
restart = never
EOF
chmod 0644 "$config"
caps=+kill,+sys_ptrace,+dac_read_search
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all,$caps --ambient-caps=-all,$caps \
        --bounding-set=-all,$caps --no-new-privs -- \
        "$rootfs/usr/bin/kennel-broker" --config "$config" >"$work/broker.log" 2>&1 &
broker_pid=$!
export KENNEL_BROKER=unix:$run/broker.sock
for _ in $(seq 100); do
    [ -S "$run/broker.sock" ] && break
    kill -0 "$broker_pid" 2>/dev/null || { cat "$work/broker.log"; fail "the broker exited at start"; }
    sleep 0.1
done
[ -S "$run/broker.sock" ] || { cat "$work/broker.log"; fail "the broker did not listen within 10 s"; }
grep -q "CapEff" /proc/"$broker_pid"/status
[ "$(awk '/^CapAmb/ {print $2}' /proc/"$broker_pid"/status)" = 0000000000080024 ] \
    || fail "the broker does not run with the unit's ambient capabilities"

"$rootfs/usr/bin/kennelctl" listen pkgtest --count 1 --timeout 10000 >"$work/listen.out" 2>"$work/listen.err" &
listener_pid=$!
for _ in $(seq 100); do
    grep -q "listening as pkgtest" "$work/listen.err" && break
    sleep 0.1
done
"$rootfs/usr/bin/kennelctl" send pkgtest "hello from the package" --as pkgsender \
    || { cat "$work/broker.log"; fail "kennelctl send was not delivered"; }
wait "$listener_pid" || fail "kennelctl listen: status $? ($(cat "$work/listen.err"))"
listener_pid=
grep -qx "pkgsender: hello from the package" "$work/listen.out" || fail "kennelctl listen printed: $(cat "$work/listen.out")"
echo "test-packages: kennelctl listen got: $(cat "$work/listen.out")"

for _ in $(seq 100); do
    grep -q "capcheck: CapAmb" "$work/broker.log" && break
    sleep 0.1
done
grep "capcheck: Cap" "$work/broker.log" || fail "the service's capabilities were not logged"
for set in CapPrm CapEff CapAmb; do
    grep -q "capcheck: $set:[[:space:]]*0000000000000000" "$work/broker.log" \
        || fail "the supervised service kept capabilities ($set): $(grep "capcheck: $set" "$work/broker.log")"
done

# The watchdog across users: an old-protocol client (the demo's, plain C, built here) of root's
# stops feeding; the broker, running as nobody, must identify it over TCP (/proc/PID/fd:
# CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH) and terminate it by its PID (CAP_KILL). Without those
# capabilities it cannot even register ("the process holding it cannot be identified").
source_root=$(cd "$(dirname "$0")/../.." && pwd)
cc -std=c99 -O2 -o "$work/legacy-client" "$source_root/demo/legacy/legacy_client.c" || fail "cannot build the old-protocol client"
"$work/legacy-client" --name slow --peer nobody --port "$port" --watchdog --feed-interval-ms 60000 \
    --send-interval-ms 60000 >"$work/legacy.log" 2>&1 &
legacy_pid=$!
legacy_status=
for _ in $(seq 150); do
    if ! kill -0 "$legacy_pid" 2>/dev/null; then
        legacy_status=0
        wait "$legacy_pid" || legacy_status=$?
        break
    fi
    sleep 0.1
done
if [ -z "$legacy_status" ]; then
    kill "$legacy_pid" 2>/dev/null || true
    fail "the broker did not end the old client of another user in 15 s: $(grep slow "$work/broker.log")"
fi
grep -q "'slow' pid $legacy_pid: term-sent: SIGTERM sent" "$work/broker.log" \
    || fail "the old client ended (status $legacy_status) but not by the broker's SIGTERM: $(grep slow "$work/broker.log")"
[ "$legacy_status" = 0 ] || fail "the old client exited with $legacy_status after SIGTERM"
echo "test-packages: the broker (as nobody) terminated root's old client, pid $legacy_pid, on its watchdog's expiry"

# libkennel-dev: the C example, built the way docs/C-LIBRARY.md says, against the scratch root.
example=$source_root/docs/examples/kennel-echo.c
if [ -f "$example" ]; then
    cc -o "$work/kennel-echo" "$example" $(PKG_CONFIG_PATH=$rootfs/usr/lib/$triplet/pkgconfig pkg-config --cflags --libs kennel) \
        || fail "the C example does not build against libkennel-dev"
fi

kill -TERM "$broker_pid"
status=0
wait "$broker_pid" || status=$?
broker_pid=
[ "$status" = 0 ] || { cat "$work/broker.log"; fail "the broker stopped with status $status"; }
grep -q "kennel.broker info: stopped" "$work/broker.log" || fail "the broker did not log its stop"
step "done: the packaged broker started as an unprivileged user, carried a message and stopped"
