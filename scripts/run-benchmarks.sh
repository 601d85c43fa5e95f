#!/usr/bin/env bash
# Kennel's benchmarks in one command (docs/BENCHMARKS.md, "How to run the benchmarks").
#
# Installs what is missing (gcc, make, mosquitto, libbenchmark-dev; Debian, as root), builds the
# project (scripts/build.sh) and the external tools of ../shared/bench (routebench, ideal_fwd,
# compiled into the build directory, never into ../shared), then runs the same loads against
# kennel-broker, the bare forwarder ideal_fwd and mosquitto. Every run gets a freshly started
# broker on a loopback port (so peak RSS is that run's), ended by its PID when the run is over;
# mosquitto runs in the foreground with a config generated from ../shared/bench/mosquitto-bench*.conf
# and is never started as a system service. Within each repetition the brokers alternate, load by
# load, in an order rotated from one repetition to the next: on a shared machine absolute figures
# drift, so only ratios measured side by side mean anything.
#
# Loads (500-byte payloads, window 64, batch 16, as in ../shared/bench/README.md):
#   tput4, tput64  as fast as the window allows, 4 and 64 pairs
#   lat200, lat10k 4 pairs, each sender at 200 and 10,000 messages/s (latency at a fixed rate)
#   idle           N idle registered receivers, each checked reachable, held (memory per connection)
#   fan1x16, fan16x16  topics: 1 and 16 publishers to 16 subscribers on one topic, every publication
#                  to every subscriber (kennel-fanoutbench; figure: delivered msg/s)
#   calls          a call's round trip through the broker on a Unix socket against a direct
#                  ping-pong, 1 and 4 in flight, and the same round trip as two messages through a
#                  bare relay (kennel-ideal-native --unix), the floor for any process in the middle
#                  (kennel-callbench; figure: p50 and p99)
# Subjects: kennel-legacy (routebench, legacy frames), kennel-native (kennel-nativebench),
#   kennel-status (kennel-nativebench --status: a DeliveryStatus for every message), ideal
#   (ideal_fwd, legacy), ideal-native (bench/idealnative: ideal_fwd's loop speaking native frames,
#   driven by kennel-nativebench, so the native figures have a control measured by the same
#   generator), mosq-default and mosq-nodelay (mosquitto 2, MQTT QoS 0, the two configs; the table
#   quotes the better one); for the fan-out loads kennel-topics (kennel-broker's topics), ideal-fanout
#   (bench/idealfanout: the bare fan-out forwarder, the ceiling) and mosquitto's two configs, all
#   driven by kennel-fanoutbench; for calls kennel-calls (direct and broker alternate inside the run).
# Prints a table of medians and ratios; writes the raw key=value lines and the table to files.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${KENNEL_BUILD_DIR:-$root/build}
shared=${KENNEL_SHARED_BENCH:-$root/../shared/bench}

reps=3
duration=5
warmup=1
idle_n=15000
hold=5
only=''
results=''
port_base=18600
max_minutes=90
do_build=1
do_micro=1
trace_dir=''
stall_probe=0
micro_min_time=0.2
call_count=20000
call_rounds=5

usage() {
    cat <<'EOF'
usage: scripts/run-benchmarks.sh [options]
  --quick            one repetition, short runs (1 s, 1000 idle connections): proves the tools work
  --bus              only the topic fan-out and call loads (fan1x16, fan16x16, calls); same as
                     --only '^(fan1x16|fan16x16|calls)/' --no-micro
  --call-count N     round trips per calls run (default 20000; --quick 2000)
  --call-rounds N    alternated direct/broker rounds per calls job (default 5; --quick 1)
  --reps N           repetitions of every load (default 3; the table shows medians)
  --only REGEX       run only the jobs whose "load/subject" matches (extended regex), e.g.
                     'tput4/', 'lat200/(kennel-legacy|ideal)', 'kennel', 'micro' (the micro-benchmarks)
  --duration S       measured seconds per run (default 5)
  --warmup S         unmeasured seconds before (default 1)
  --idle N           idle connections for the memory load (default 15000)
  --hold S           seconds the idle connections are held (default 5)
  --results FILE     raw results file (default BUILD/bench-results/benchmarks-DATE.txt)
  --build-dir DIR    build directory (default $KENNEL_BUILD_DIR or ./build)
  --shared DIR       where routebench.c and ideal_fwd.c are (default $KENNEL_SHARED_BENCH or
                     ../shared/bench beside the repository)
  --port-base P      kennel-broker on P, ideal_fwd and ideal-native on P+1, mosquitto on P+2
                     (default 18600)
  --max-minutes M    stop starting new runs after M minutes (default 90)
  --no-build         use the binaries already in the build directory
  --no-micro         skip the Google Benchmark micro-benchmarks
  --trace DIR        paced (lat*) kennel-nativebench runs also write every measured message's
                     latency to DIR/LOAD-SUBJECT-REP.trace (read with scripts/trace-episodes.awk)
  --stall-probe      run kennel-stallprobe beside every run: records when the machine itself
                     stopped (probe_* fields; with --trace, DIR/LOAD-SUBJECT-REP.stalls)
  -h, --help
Jobs: loads tput4 tput64 lat200 lat10k idle; subjects kennel-legacy kennel-native kennel-status
ideal ideal-native mosq-default mosq-nodelay; and micro.
EOF
}

die() {
    echo "run-benchmarks: $*" >&2
    exit 1
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
is_num() { [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]; }
# $1 within [$2, $3] (decimals allowed)
in_range() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v + 0 >= lo + 0 && v + 0 <= hi + 0) }'; }

# --quick sets short values first, so that options given with it still override them.
for arg in "$@"; do
    if [ "$arg" = --quick ]; then
        reps=1 duration=1 warmup=0.5 idle_n=1000 hold=1 micro_min_time=0.01 call_count=2000 call_rounds=1
    fi
done
while [ $# -gt 0 ]; do
    case $1 in
    --quick) ;;
    --bus) only='^(fan1x16|fan16x16|calls)/' do_micro=0 ;;
    --call-count) call_count=${2:?--call-count needs a value}; shift ;;
    --call-rounds) call_rounds=${2:?--call-rounds needs a value}; shift ;;
    --reps) reps=${2:?--reps needs a value}; shift ;;
    --only) only=${2:?--only needs a value}; shift ;;
    --duration) duration=${2:?--duration needs a value}; shift ;;
    --warmup) warmup=${2:?--warmup needs a value}; shift ;;
    --idle) idle_n=${2:?--idle needs a value}; shift ;;
    --hold) hold=${2:?--hold needs a value}; shift ;;
    --results) results=${2:?--results needs a value}; shift ;;
    --build-dir) build=${2:?--build-dir needs a value}; shift ;;
    --shared) shared=${2:?--shared needs a value}; shift ;;
    --port-base) port_base=${2:?--port-base needs a value}; shift ;;
    --max-minutes) max_minutes=${2:?--max-minutes needs a value}; shift ;;
    --no-build) do_build=0 ;;
    --no-micro) do_micro=0 ;;
    --trace) trace_dir=${2:?--trace needs a directory}; shift ;;
    --stall-probe) stall_probe=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done
is_uint "$reps" && in_range "$reps" 1 20 || die "--reps must be 1..20"
is_num "$duration" && in_range "$duration" 0.2 600 || die "--duration must be 0.2..600 seconds"
is_num "$warmup" && in_range "$warmup" 0 60 || die "--warmup must be 0..60 seconds"
is_uint "$idle_n" && in_range "$idle_n" 1 100000 || die "--idle must be 1..100000"
is_num "$hold" && in_range "$hold" 0 600 || die "--hold must be 0..600 seconds"
is_uint "$port_base" && in_range "$port_base" 1024 65000 || die "--port-base must be 1024..65000"
is_uint "$max_minutes" && in_range "$max_minutes" 1 1440 || die "--max-minutes must be 1..1440"
is_uint "$call_count" && in_range "$call_count" 100 1000000 || die "--call-count must be 100..1000000"
is_uint "$call_rounds" && in_range "$call_rounds" 1 99 || die "--call-rounds must be 1..99"
if [ -n "$only" ]; then
    rc=0
    echo | grep -Eq -- "$only" 2>/dev/null || rc=$?
    [ $rc -le 1 ] || die "--only: '$only' is not an extended regular expression"
fi

# ---- the job list ------------------------------------------------------------------------------
loads=(tput4 tput64 lat200 lat10k idle fan1x16 fan16x16 calls)
subjects_for() {
    case $1 in
    tput4 | tput64) echo "kennel-legacy ideal mosq-default mosq-nodelay kennel-native kennel-status ideal-native" ;;
    lat200 | lat10k) echo "kennel-legacy ideal mosq-default mosq-nodelay kennel-native ideal-native" ;;
    idle) echo "kennel-legacy ideal mosq-default kennel-native" ;;
    fan1x16 | fan16x16) echo "kennel-topics ideal-fanout mosq-default mosq-nodelay" ;;
    calls) echo "kennel-calls" ;;
    esac
}
selected() { [ -z "$only" ] || echo "$1" | grep -Eq -- "$only"; }

jobs_selected=0 need_mosq=0 need_kennel=0 need_ideal_native=0 need_routebench=0 need_fanout=0 need_ideal_fanout=0
need_calls=0
for load in "${loads[@]}"; do
    for subject in $(subjects_for "$load"); do
        selected "$load/$subject" || continue
        jobs_selected=$((jobs_selected + 1))
        case $load in
        fan*) need_fanout=1 ;;
        calls) ;;
        *) [[ $subject == kennel-native || $subject == kennel-status || $subject == ideal-native ]] || need_routebench=1 ;;
        esac
        case $subject in
        mosq-*) need_mosq=1 ;;
        kennel-calls) need_kennel=1 need_calls=1 need_ideal_native=1 ;;
        kennel-*) need_kennel=1 ;;
        ideal-native) need_kennel=1 need_ideal_native=1 ;;
        ideal-fanout) need_ideal_fanout=1 ;;
        esac
    done
done
[ $do_micro -eq 1 ] && ! selected micro && do_micro=0
[ $jobs_selected -gt 0 ] || [ $do_micro -eq 1 ] || die "--only '$only' selects no job (see --help)"

# ---- the external tools ------------------------------------------------------------------------
# routebench and ideal_fwd for the directed loads, the mosquitto configs wherever mosquitto runs;
# the fan-out and call loads need nothing else from there.
shared_files=()
[ $need_routebench -eq 0 ] || shared_files+=(routebench.c ideal_fwd.c)
[ $need_mosq -eq 0 ] || shared_files+=(mosquitto-bench.conf mosquitto-bench-nodelay.conf)
for f in "${shared_files[@]+"${shared_files[@]}"}"; do
    [ -f "$shared/$f" ] || die "$shared/$f is missing: the benchmark tools live in ../shared/bench beside the repository (see docs/BENCHMARKS.md)"
done

# ---- everything we start is ended by its PID, whatever happens --------------------------------
tmp=$(mktemp -d /tmp/kennel-bench.XXXXXX)
started_pids=()
created_policy=''
cleanup() {
    local pid
    for pid in "${started_pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    for pid in "${started_pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    [ -n "$created_policy" ] && rm -f "$created_policy"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- install what is missing -------------------------------------------------------------------
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for p in gcc make; do installed "$p" || missing+=("$p"); done
    [ $need_mosq -eq 1 ] && ! installed mosquitto && missing+=(mosquitto)
    [ $do_micro -eq 1 ] && ! installed libbenchmark-dev && missing+=(libbenchmark-dev)
else
    command -v gcc >/dev/null || die "gcc is missing and this is not a Debian system: install it"
    [ $need_mosq -eq 0 ] || command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] \
        || die "mosquitto is missing and this is not a Debian system: install it (or --only without mosq)"
fi
if [ ${#missing[@]} -gt 0 ]; then
    apt=(apt-get)
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "missing packages (${missing[*]}): run this as root or install them"
        apt=(sudo -n apt-get)
    fi
    # Installing mosquitto must not start its system service: a policy-rc.d that forbids starting
    # services, for the install only, when the machine has none of its own.
    if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" -eq 0 ]; then
        printf '#!/bin/sh\n# written by kennel scripts/run-benchmarks.sh for one apt-get install\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=/usr/sbin/policy-rc.d
    fi
    echo "run-benchmarks: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${apt[@]}" update -qq
    "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [ -n "$created_policy" ]; then
        rm -f "$created_policy"
        created_policy=''
    fi
fi
mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)

# ---- build -------------------------------------------------------------------------------------
if [ $do_build -eq 1 ]; then
    echo "run-benchmarks: building Kennel in $build"
    KENNEL_BUILD_DIR="$build" bash "$root/scripts/build.sh" >"$tmp/build.log" 2>&1 || {
        tail -n 40 "$tmp/build.log" >&2
        die "the build failed (log above)"
    }
fi
broker_bin="$build/bin/kennel-broker"
native_bin="$build/bin/kennel-nativebench"
ideal_native_bin="$build/bin/kennel-ideal-native"
probe_bin="$build/bin/kennel-stallprobe"
micro_bin="$build/bin/kennel-microbench"
fanout_bin="$build/bin/kennel-fanoutbench"
ideal_fanout_bin="$build/bin/kennel-ideal-fanout"
callbench_bin="$build/bin/kennel-callbench"
[ $need_kennel -eq 0 ] || [ -x "$broker_bin" ] || die "$broker_bin is missing (build first, or drop --no-build)"
[ $need_kennel -eq 0 ] || [ -x "$native_bin" ] || die "$native_bin is missing (build first, or drop --no-build)"
[ $need_ideal_native -eq 0 ] || [ -x "$ideal_native_bin" ] || die "$ideal_native_bin is missing (build first, or drop --no-build)"
[ $need_fanout -eq 0 ] || [ -x "$fanout_bin" ] || die "$fanout_bin is missing (build first, or drop --no-build)"
[ $need_ideal_fanout -eq 0 ] || [ -x "$ideal_fanout_bin" ] || die "$ideal_fanout_bin is missing (build first, or drop --no-build)"
[ $need_calls -eq 0 ] || [ -x "$callbench_bin" ] || die "$callbench_bin is missing (build first, or drop --no-build)"
[ $stall_probe -eq 0 ] || [ -x "$probe_bin" ] || die "$probe_bin is missing (build first, or drop --no-build)"
if [ $do_micro -eq 1 ] && [ ! -x "$micro_bin" ]; then
    echo "run-benchmarks: $micro_bin was not built (Google Benchmark not found by CMake?); skipping the micro-benchmarks" >&2
    do_micro=0
fi

tools="$build/bench-tools"
if [ $need_routebench -eq 1 ]; then
    mkdir -p "$tools"
    # The flags of ../shared/bench/Makefile, output here so ../shared stays untouched.
    for tool in routebench ideal_fwd; do
        if [ ! -x "$tools/$tool" ] || [ "$shared/$tool.c" -nt "$tools/$tool" ]; then
            gcc -O2 -g -Wall -Wextra -o "$tools/$tool" "$shared/$tool.c" || die "could not compile $shared/$tool.c"
        fi
    done
fi
routebench="$tools/routebench"
ideal_bin="$tools/ideal_fwd"

# ---- results files -----------------------------------------------------------------------------
stamp=$(date +%Y%m%d-%H%M%S)
[ -n "$results" ] || results="$build/bench-results/benchmarks-$stamp.txt"
mkdir -p "$(dirname "$results")"
[ -z "$trace_dir" ] || mkdir -p "$trace_dir" || die "cannot create $trace_dir"
summary="${results%.txt}-summary.md"
[ "$summary" != "$results" ] || summary="$results-summary.md"
: >"$results"
{
    echo "# kennel benchmarks $(date -Is)"
    echo "# machine: $(uname -srm), $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "# kennel: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (with local changes)'), build type $(grep -m1 '^CMAKE_BUILD_TYPE' "$build/CMakeCache.txt" 2>/dev/null | cut -d= -f2)"
    echo "# gcc: $(gcc -dumpfullversion 2>/dev/null); mosquitto: $({ "$mosquitto_bin" -h 2>&1 || true; } | grep -m1 -o 'version [0-9.]*' || true)"
    echo "# settings: reps=$reps duration=$duration warmup=$warmup idle=$idle_n hold=$hold size=500 window=64 batch=16 call_count=$call_count call_rounds=$call_rounds only='${only}'"
    echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# uptime at start: $(uptime)"
} >>"$results"

# ---- starting and stopping brokers -------------------------------------------------------------
kennel_port=$port_base
ideal_port=$((port_base + 1))
mosq_port=$((port_base + 2))
broker_pid=''

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fd_limit=$(ulimit -n)
if [ "$fd_limit" != unlimited ] && [ $((idle_n + 64)) -gt "$fd_limit" ]; then
    echo "run-benchmarks: warning: $idle_n idle connections need more descriptors than the limit ($fd_limit)" >&2
fi

# Up to 10 s for a process of ours to create its Unix socket; its log's tail when it does not.
wait_for_socket() { # pid socket name log
    for _ in $(seq 100); do
        [ -S "$2" ] && return 0
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    echo "run-benchmarks: $3 did not create $2; its log:" >&2
    tail -n 20 "$4" >&2
    return 1
}

start_broker() { # subject log
    local subject=$1 log=$2 port
    case $subject in
    kennel-calls)
        # A Unix socket: the call benchmark's direct ping-pong is a Unix socketpair.
        rm -f "$tmp/calls.sock"
        "$broker_bin" --listen "unix:$tmp/calls.sock" >"$log" 2>&1 &
        broker_pid=$!
        started_pids+=("$broker_pid")
        wait_for_socket "$broker_pid" "$tmp/calls.sock" kennel-broker "$log" && return 0
        stop_broker
        return 1
        ;;
    kennel-*)
        port=$kennel_port
        port_open "$port" && die "port $port is in use before kennel-broker starts (choose --port-base)"
        "$broker_bin" --listen "127.0.0.1:$port" --max-clients $((idle_n + 1000)) >"$log" 2>&1 &
        ;;
    ideal)
        port=$ideal_port
        port_open "$port" && die "port $port is in use before ideal_fwd starts (choose --port-base)"
        "$ideal_bin" --host 127.0.0.1 --port "$port" --quiet >"$log" 2>&1 &
        ;;
    ideal-fanout)
        port=$ideal_port
        port_open "$port" && die "port $port is in use before kennel-ideal-fanout starts (choose --port-base)"
        "$ideal_fanout_bin" --host 127.0.0.1 --port "$port" --quiet >"$log" 2>&1 &
        ;;
    ideal-native)
        port=$ideal_port
        port_open "$port" && die "port $port is in use before kennel-ideal-native starts (choose --port-base)"
        "$ideal_native_bin" --host 127.0.0.1 --port "$port" --quiet >"$log" 2>&1 &
        ;;
    mosq-*)
        port=$mosq_port
        port_open "$port" && die "port $port is in use before mosquitto starts (choose --port-base)"
        local conf="$shared/mosquitto-bench.conf"
        [ "$subject" = mosq-nodelay ] && conf="$shared/mosquitto-bench-nodelay.conf"
        # The shipped config with our loopback port: generated per run, used in the foreground.
        sed -E "s/^listener[[:space:]].*/listener $port 127.0.0.1/" "$conf" >"$tmp/$subject.conf"
        grep -q "^listener $port 127.0.0.1\$" "$tmp/$subject.conf" || die "$conf has no listener line to rewrite"
        "$mosquitto_bin" -c "$tmp/$subject.conf" >"$log" 2>&1 &
        ;;
    esac
    broker_pid=$!
    started_pids+=("$broker_pid")
    for _ in $(seq 100); do
        port_open "$port" && return 0
        kill -0 "$broker_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "run-benchmarks: $subject did not start listening on $port; its log:" >&2
    tail -n 20 "$log" >&2
    stop_broker
    return 1
}

# The calls job's bare relay (kennel-ideal-native on a Unix socket), beside the broker.
relay_pid=''
start_relay() {
    rm -f "$tmp/relay.sock"
    "$ideal_native_bin" --unix "$tmp/relay.sock" --quiet >"$tmp/relay.log" 2>&1 &
    relay_pid=$!
    started_pids+=("$relay_pid")
    wait_for_socket "$relay_pid" "$tmp/relay.sock" kennel-ideal-native "$tmp/relay.log" && return 0
    stop_relay
    return 1
}

stop_relay() {
    [ -n "$relay_pid" ] || return 0
    kill -TERM "$relay_pid" 2>/dev/null || true
    wait "$relay_pid" 2>/dev/null || true
    forget_pid "$relay_pid"
    relay_pid=''
}

stop_broker() {
    [ -n "$broker_pid" ] || return 0
    kill -TERM "$broker_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$broker_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$broker_pid" 2>/dev/null && kill -KILL "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
    forget_pid "$broker_pid"
    broker_pid=''
}

forget_pid() {
    local keep=() p
    for p in "${started_pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    started_pids=("${keep[@]+"${keep[@]}"}")
}

# ---- one run -----------------------------------------------------------------------------------
run_job() { # rep load subject
    local rep=$1 load=$2 subject=$3 log="$tmp/broker.log" out="$tmp/gen.out" err="$tmp/gen.err"
    local gen=() common=() limit line rc=0
    if ! start_broker "$subject" "$log"; then
        echo "rep=$rep load=$load subject=$subject status=broker_failed" >>"$results"
        return
    fi
    case $load/$subject in
    calls/*) run_calls "$rep"; return ;;
    fan*/kennel-topics) gen=("$fanout_bin" --proto native --port "$kennel_port") ;;
    fan*/ideal-fanout) gen=("$fanout_bin" --proto native --port "$ideal_port") ;;
    fan*/mosq-*) gen=("$fanout_bin" --proto mqtt --port "$mosq_port") ;;
    */kennel-legacy) gen=("$routebench" --proto legacy --port "$kennel_port") ;;
    */kennel-native) gen=("$native_bin" --port "$kennel_port") ;;
    */kennel-status) gen=("$native_bin" --port "$kennel_port" --status) ;;
    */ideal) gen=("$routebench" --proto legacy --port "$ideal_port") ;;
    */ideal-native) gen=("$native_bin" --port "$ideal_port") ;;
    */mosq-*) gen=("$routebench" --proto mqtt --port "$mosq_port") ;;
    esac
    # Paced loads only: at full load a trace would be millions of lines about queueing, not tails.
    if [ -n "$trace_dir" ] && [ "${gen[0]}" = "$native_bin" ] && [[ $load == lat* ]]; then
        gen+=(--trace "$trace_dir/$load-$subject-$rep.trace")
    fi
    common=(--host 127.0.0.1 --size 500 --window 64 --batch 16 --setup-timeout 60 --watch-pid "$broker_pid")
    case $load in
    tput4) common+=(--pairs 4 --duration "$duration" --warmup "$warmup" --drain 2) ;;
    tput64) common+=(--pairs 64 --duration "$duration" --warmup "$warmup" --drain 2) ;;
    lat200) common+=(--pairs 4 --rate 200 --duration "$duration" --warmup "$warmup" --drain 2) ;;
    lat10k) common+=(--pairs 4 --rate 10000 --duration "$duration" --warmup "$warmup" --drain 2) ;;
    idle) common+=(--idle "$idle_n" --hold "$hold") ;;
    fan1x16) common=(--host 127.0.0.1 --size 500 --window 64 --batch 16 --setup-timeout 60 --watch-pid "$broker_pid"
                     --pubs 1 --subs 16 --duration "$duration" --warmup "$warmup" --drain 2) ;;
    fan16x16) common=(--host 127.0.0.1 --size 500 --window 64 --batch 16 --setup-timeout 60 --watch-pid "$broker_pid"
                      --pubs 16 --subs 16 --duration "$duration" --warmup "$warmup" --drain 2) ;;
    esac
    # Bounded even if a generator hangs: its own limits plus a margin.
    limit=$(awk -v d="$duration" -v w="$warmup" -v h="$hold" 'BEGIN { printf "%d", 60 + d + w + 2 + h + 30 + 30 }')
    local pressure0 runq0 pressure1 runq1 contention='' probe_pid='' probe_out="$tmp/probe.out" probe_line=''
    if [ $stall_probe -eq 1 ] && [ "$load" != idle ]; then
        local probe_args=(--duration "$limit")
        [ -z "$trace_dir" ] || probe_args+=(--out "$trace_dir/$load-$subject-$rep.stalls")
        "$probe_bin" "${probe_args[@]}" >"$probe_out" 2>&1 &
        probe_pid=$!
        started_pids+=("$probe_pid")
    fi
    pressure0=$(cpu_pressure_us)
    runq0=$(runqueue_wait_ns "$broker_pid")
    # In the background and waited for, so that a signal to this script is handled at once (the
    # trap ends the generator and the broker) rather than after the run.
    timeout --signal=INT --kill-after=10 "$limit" "${gen[@]}" "${common[@]}" >"$out" 2>"$err" &
    local gen_pid=$!
    started_pids+=("$gen_pid")
    wait "$gen_pid" || rc=$?
    forget_pid "$gen_pid"
    pressure1=$(cpu_pressure_us)
    runq1=$(runqueue_wait_ns "$broker_pid")
    if [ -n "$probe_pid" ]; then
        kill -INT "$probe_pid" 2>/dev/null || true
        wait "$probe_pid" 2>/dev/null || true
        forget_pid "$probe_pid"
        probe_line=$(grep -m1 '^probe_' "$probe_out" || true)
        [ -z "$probe_line" ] || contention+="$probe_line "
    fi
    # How much of the run something waited for a CPU: the shared machine's noise, recorded beside
    # each figure so that a slow run can be told from a slow broker (docs/BENCHMARKS.md, "Noise").
    [ -z "$pressure0" ] || [ -z "$pressure1" ] || contention+="cpu_pressure_ms=$(((pressure1 - pressure0) / 1000)) "
    [ -z "$runq0" ] || [ -z "$runq1" ] || contention+="broker_runq_wait_ms=$(((runq1 - runq0) / 1000000)) "
    stop_broker
    line=$(grep -E '(^| )status=' "$out" | tail -n 1 || true)
    [ -n "$line" ] || line="status=no_output exit=$rc"
    # A generator that measured well but failed afterwards (its --trace file could not be
    # written) did not end ok either.
    [ "$rc" -eq 0 ] || line="${line% status=ok} status=exit_$rc"
    if [ -n "$probe_pid" ] && [ -z "$probe_line" ]; then
        line="${line% status=ok} status=probe_failed"
        sed -n '1,5p' "$probe_out" >&2
    fi
    local record="rep=$rep load=$load subject=$subject $contention$line"
    echo "$record" >>"$results"
    if ! echo "$line" | grep -q ' status=ok$'; then
        echo "run-benchmarks: $load/$subject (repetition $rep) did not end ok: exit $rc, ${line##* }" >&2
        sed -n '1,5p' "$err" >&2
    fi
    printf '  %-7s %-14s %s\n' "$load" "$subject" "$(summarise_line "$record")"
}

# The calls job: kennel-callbench against the broker just started, direct and broker alternating
# inside it; one record per in-flight count (loads calls1 and calls4).
run_calls() { # rep
    local rep=$1 out="$tmp/gen.out" err="$tmp/gen.err" rc=0 limit pressure0 pressure1 contention='' line
    limit=$(awk -v n="$call_count" -v r="$call_rounds" 'BEGIN { printf "%d", 60 + r * (n * 4 * 2 * 1.1 / 2000) }')
    pressure0=$(cpu_pressure_us)
    if ! start_relay; then
        stop_broker
        for k in 1 4; do echo "rep=$rep load=calls$k subject=kennel-calls status=relay_failed" >>"$results"; done
        return
    fi
    limit=$(awk -v l="$limit" 'BEGIN { printf "%d", l * 1.5 }') # three paths instead of two
    timeout --signal=TERM --kill-after=10 "$limit" "$callbench_bin" --relay "unix:$tmp/relay.sock" "unix:$tmp/calls.sock" \
        "$call_count" 64 "$call_rounds" \
        >"$out" 2>"$err" &
    local gen_pid=$!
    started_pids+=("$gen_pid")
    wait "$gen_pid" || rc=$?
    forget_pid "$gen_pid"
    pressure1=$(cpu_pressure_us)
    [ -z "$pressure0" ] || [ -z "$pressure1" ] || contention+="cpu_pressure_ms=$(((pressure1 - pressure0) / 1000)) "
    stop_relay
    stop_broker
    for k in 1 4; do
        line=$(grep -E "^inflight=$k .*status=" "$out" | tail -n 1 || true)
        [ -n "$line" ] || line="status=no_output exit=$rc"
        [ "$rc" -eq 0 ] || line="${line% status=ok} status=exit_$rc"
        local record="rep=$rep load=calls$k subject=kennel-calls $contention$line"
        echo "$record" >>"$results"
        if ! echo "$line" | grep -q ' status=ok$'; then
            echo "run-benchmarks: calls/kennel-calls (repetition $rep) did not end ok: exit $rc, ${line##* }" >&2
            sed -n '1,5p' "$err" >&2
        fi
        printf '  %-7s %-14s %s\n' "calls$k" kennel-calls "$(summarise_line "$record")"
    done
}

# Microseconds during which some task waited for a CPU (PSI, Linux 4.20+); empty where unavailable.
cpu_pressure_us() {
    awk '/^some / { for (i = 2; i <= NF; i++) if ($i ~ /^total=/) print substr($i, 7) }' /proc/pressure/cpu 2>/dev/null || true
}

# Nanoseconds the process has spent runnable but waiting for a CPU (schedstat's second field).
runqueue_wait_ns() {
    awk '{ print $2 }' "/proc/$1/schedstat" 2>/dev/null || true
}

# A short progress line from a generator's summary.
summarise_line() {
    echo "$1" | awk '{
        for (i = 1; i <= NF; i++) { n = index($i, "="); if (n) v[substr($i, 1, n - 1)] = substr($i, n + 1) }
        if ("direct_p50_us" in v) printf "p50 %s us direct, %s us broker (%sx), %s us bare relay (%sx), p99 %s / %s / %s us, %s", v["direct_p50_us"], v["broker_p50_us"], v["p50_ratio"], v["relay_p50_us"], v["relay_ratio"], v["direct_p99_us"], v["broker_p99_us"], v["relay_p99_us"], v["status"]
        else if ("mode" in v) printf "%s connected, %s verified, %s B/conn, %s", v["connected"], v["verified"], v["rss_per_conn_bytes"], v["status"]
        else {
            printf "%s msg/s, p99 %s us, lost %s, broker cpu %s%%, hwm %s kB, cpu pressure %s ms", v["msgs_per_s"], v["p99_us"], v["lost"], v["broker_cpu_pct"], v["broker_hwm_kb"], ("cpu_pressure_ms" in v ? v["cpu_pressure_ms"] : "?")
            if ("probe_stalls" in v) printf ", machine stalls %s (%s ms, worst %s us)", v["probe_stalls"], v["probe_stall_ms"], v["probe_worst_us"]
            printf ", %s", v["status"]
        }
    }'
}

# ---- the runs ----------------------------------------------------------------------------------
t_start=$(date +%s)
out_of_time=0
if [ $jobs_selected -gt 0 ]; then
    echo "run-benchmarks: $jobs_selected jobs x $reps repetitions; raw results in $results"
    for rep in $(seq "$reps"); do
        echo "repetition $rep/$reps"
        for load in "${loads[@]}"; do
            read -r -a subs <<<"$(subjects_for "$load")"
            n=${#subs[@]}
            # Alternate: each repetition starts the round one broker further on.
            for k in $(seq 0 $((n - 1))); do
                subject=${subs[$(((k + rep - 1) % n))]}
                selected "$load/$subject" || continue
                if [ $(($(date +%s) - t_start)) -ge $((max_minutes * 60)) ]; then
                    out_of_time=1
                    break 3
                fi
                run_job "$rep" "$load" "$subject"
            done
        done
    done
    [ $out_of_time -eq 0 ] || echo "run-benchmarks: --max-minutes $max_minutes reached; the table covers what ran" >&2
fi

if [ $do_micro -eq 1 ]; then
    echo "micro-benchmarks (kennel-microbench)"
    micro_out="${results%.txt}-micro.txt"
    timeout --kill-after=10 900 "$micro_bin" --benchmark_min_time="$micro_min_time" >"$micro_out" 2>&1 \
        || echo "run-benchmarks: kennel-microbench failed; see $micro_out" >&2
    grep -E '^(BM_|-|Benchmark)' "$micro_out" || true
fi

[ $jobs_selected -gt 0 ] || exit 0

# ---- the table ---------------------------------------------------------------------------------
awk -v reps="$reps" '
function median(s,    a, n, i, j, t) {
    n = split(s, a, " ")
    if (n == 0) return ""
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] + 0 : (a[n / 2] + a[n / 2 + 1]) / 2
}
function add(key, field, value) { if (value != "" && value != "-1" && value != "-1.0") vals[key, field] = vals[key, field] (vals[key, field] == "" ? "" : " ") value }
function fmt(v, kind) {
    if (v == "") return "–"
    if (kind == "rate") return v >= 1e6 ? sprintf("%.2f M", v / 1e6) : (v >= 1e3 ? sprintf("%.0f k", v / 1e3) : sprintf("%.0f", v))
    if (kind == "us") return v >= 1000 ? sprintf("%.2f ms", v / 1000) : sprintf("%.0f µs", v)
    if (kind == "us2") return v >= 1000 ? sprintf("%.2f ms", v / 1000) : sprintf("%.1f µs", v)
    if (kind == "mb") return sprintf("%.1f MB", v / 1024)
    if (kind == "b") return sprintf("%.0f B", v)
    return v
}
function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "–" : sprintf("%.2f", a / b) }
/^#/ || NF == 0 { next }
{
    delete v
    for (i = 1; i <= NF; i++) { n = index($i, "="); if (n) v[substr($i, 1, n - 1)] = substr($i, n + 1) }
    key = v["load"] SUBSEP v["subject"]
    if (!(key in seen)) { seen[key] = 1; order[++norder] = key }
    runs[key]++
    if (v["status"] != "ok") failed[key]++
    if (v["load"] ~ /^calls/) {
        add(key, "dp50", v["direct_p50_us"]); add(key, "bp50", v["broker_p50_us"]); add(key, "ratio", v["p50_ratio"])
        add(key, "dp99", v["direct_p99_us"]); add(key, "bp99", v["broker_p99_us"])
        add(key, "rp50", v["relay_p50_us"]); add(key, "rp99", v["relay_p99_us"]); add(key, "rratio", v["relay_ratio"])
        add(key, "brratio", v["broker_relay_ratio"])
    } else if (v["load"] == "idle") {
        add(key, "fig", v["rss_per_conn_bytes"]); add(key, "hwm", v["broker_hwm_kb"])
        add(key, "conn", v["connected"]); add(key, "ver", v["verified"])
    } else {
        fig = v["load"] ~ /^lat/ ? v["p99_us"] : v["msgs_per_s"]
        add(key, "fig", fig); add(key, "p50", v["p50_us"]); add(key, "p99", v["p99_us"])
        add(key, "cpu", v["broker_cpu_pct"]); add(key, "hwm", v["broker_hwm_kb"])
        lost[key] += v["lost"]; ooo[key] += v["ooo"]
    }
}
END {
    nl = split("tput4 tput64 lat200 lat10k idle fan1x16 fan16x16", L, " ")
    title["tput4"] = "throughput, 4 pairs (figure: delivered msg/s; ratios: higher is better)"
    title["tput64"] = "throughput, 64 pairs (figure: delivered msg/s; ratios: higher is better)"
    title["lat200"] = "latency, 4 pairs x 200 msg/s (figure: p99; ratios: lower is better)"
    title["lat10k"] = "latency, 4 pairs x 10,000 msg/s (figure: p99; ratios: lower is better)"
    title["idle"] = "idle registered connections (figure: broker RSS per connection; lower is better)"
    title["fan1x16"] = "fan-out, 1 publisher -> 16 subscribers (figure: delivered msg/s; ratios: higher is better)"
    title["fan16x16"] = "fan-out, 16 publishers -> 16 subscribers (figure: delivered msg/s; ratios: higher is better)"
    ns = split("kennel-legacy kennel-native kennel-status kennel-topics ideal ideal-native ideal-fanout mosq-default mosq-nodelay", S, " ")
    # The control measured by the same generator: routebench for the legacy subjects, kennel-nativebench
    # for the native ones (kennel-status has none: the bare forwarders do not ask for status).
    control["kennel-legacy"] = "ideal"; control["ideal"] = "ideal"
    control["kennel-native"] = "ideal-native"; control["ideal-native"] = "ideal-native"
    control["kennel-topics"] = "ideal-fanout"; control["ideal-fanout"] = "ideal-fanout"
    printf "Medians of %s repetition(s). vs ideal_fwd / vs mosquitto: the figure divided by theirs (mosquitto: its better config, marked *);\n", reps
    printf "vs same generator: divided by the bare forwarder measured with the same load generator (ideal_fwd for legacy, ideal-native for native,\nideal-fanout for topics).\n"
    for (li = 1; li <= nl; li++) {
        load = L[li]
        any = 0
        for (si = 1; si <= ns; si++) if ((load SUBSEP S[si]) in seen) any = 1
        if (!any) continue
        kind = load == "idle" ? "b" : (load ~ /^lat/ ? "us" : "rate")
        lower_better = load != "tput4" && load != "tput64" && load !~ /^fan/
        for (si = 1; si <= ns; si++) med[S[si]] = median(vals[load, S[si], "fig"])
        best = ""
        for (si = 1; si <= ns; si++) {
            s = S[si]
            if (s !~ /^mosq/ || med[s] == "") continue
            if (best == "" || (lower_better ? med[s] < med[best] : med[s] > med[best])) best = s
        }
        printf "\n### %s\n\n", title[load]
        if (load == "idle")
            printf "| broker | runs | per run | median | reachable | peak RSS | failed runs | vs ideal_fwd | vs mosquitto |\n| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        else
            printf "| broker | runs | per run | median | p50 | p99 | broker CPU | peak RSS | lost | ooo | failed runs | vs ideal_fwd | vs same generator | vs mosquitto |\n| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        for (si = 1; si <= ns; si++) {
            s = S[si]; key = load SUBSEP s
            if (!(key in seen)) continue
            n = split(vals[key, "fig"], each, " "); per = ""
            for (i = 1; i <= n; i++) per = per (i > 1 ? ", " : "") fmt(each[i], kind)
            name = s (s == best ? " *" : "")
            vi = ratio(med[s], med["ideal"]); vm = ratio(med[s], best == "" ? "" : med[best])
            vg = (s in control) ? ratio(med[s], med[control[s]]) : "–"
            if (load == "idle")
                printf "| %s | %d | %s | %s | %s/%s | %s | %d | %s | %s |\n", name, runs[key], per, fmt(med[s], kind), median(vals[key, "ver"]), median(vals[key, "conn"]), fmt(median(vals[key, "hwm"]), "mb"), failed[key], vi, vm
            else
                printf "| %s | %d | %s | %s | %s | %s | %s | %s | %d | %d | %d | %s | %s | %s |\n", name, runs[key], per, fmt(med[s], kind), fmt(median(vals[key, "p50"]), "us"), fmt(median(vals[key, "p99"]), "us"), (median(vals[key, "cpu"]) == "" ? "–" : sprintf("%.0f %%", median(vals[key, "cpu"]))), fmt(median(vals[key, "hwm"]), "mb"), lost[key], ooo[key], failed[key], vi, vg, vm
        }
    }
    if (("calls1" SUBSEP "kennel-calls") in seen || ("calls4" SUBSEP "kennel-calls") in seen) {
        printf "\n### calls: round trip through the broker (Unix socket) against a direct Unix-socket ping-pong (lower is better; target p50 ratio <= 2), and through a bare relay (the floor for any process in the middle)\n\n"
        printf "| in flight | jobs | direct p50 | broker p50 | p50 ratio (per job) | p50 ratio | bare relay p50 | relay / direct | broker / relay | direct p99 | broker p99 | relay p99 | failed jobs |\n| ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        for (k = 1; k <= 4; k += 3) {
            key = "calls" k SUBSEP "kennel-calls"
            if (!(key in seen)) continue
            n = split(vals[key, "ratio"], each, " "); per = ""
            for (i = 1; i <= n; i++) per = per (i > 1 ? ", " : "") each[i]
            d = median(vals[key, "dp50"]); b = median(vals[key, "bp50"])
            r = median(vals[key, "rp50"])
            printf "| %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", k, runs[key], fmt(d, "us2"), fmt(b, "us2"), per, ratio(b, d), fmt(r, "us2"), ratio(r, d), ratio(b, r), fmt(median(vals[key, "dp99"]), "us2"), fmt(median(vals[key, "bp99"]), "us2"), fmt(median(vals[key, "rp99"]), "us2"), failed[key]
        }
    }
}' "$results" | tee "$summary"
echo
echo "run-benchmarks: raw lines in $results, this table in $summary"
# Any run that did not end ok fails the whole: the figures above would be incomplete, and the CI
# smoke run (tests/system/benchrunner) must be able to fail.
not_ok=$(grep '^rep=' "$results" | grep -cv ' status=ok\( \|$\)' || true)
if [ "$not_ok" -gt 0 ]; then
    echo "run-benchmarks: $not_ok run(s) did not end ok (see the failed runs column and $results)" >&2
    exit 1
fi
