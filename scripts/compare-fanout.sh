#!/usr/bin/env bash
# A/B fan-out comparison of two kennel-broker builds (docs/BENCHMARKS.md, "Shared fan-out frames").
#
# Runs kennel-fanoutbench (one generator binary, from --gen-build, for every subject) against
# kennel-broker from build A and from build B, alternating A and B run by run (the order rotated
# from one repetition to the next), for each load (PUBSxSUBS) and payload size. Every run gets a
# freshly started broker on a loopback port, ended by its PID when the run is over. Directed
# loads (tputN: kennel-nativebench, N pairs) check that the directed path did not pay. Prints the
# medians of delivered msg/s, broker CPU, broker CPU per delivered message (ns/msg: the figure
# least moved by the other load on a shared machine) and p50 latency per subject, and the ratio of
# every subject's msg/s to the first one's. On a shared machine
# absolute figures drift; only the ratios measured side by side mean anything.
#
# A subject is DIR or DIR@CONFIG (kennel-broker --config CONFIG), so one build can be measured
# with several settings (e.g. [topics] shared_frame_bytes) in one alternation.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
subjects=()
gen_build=$root/build
loads='1x16 16x16'
sizes='500 16384'
reps=3
duration=3
warmup=1
port=18700
results=''

usage() {
    cat <<'USAGE'
usage: scripts/compare-fanout.sh --subject DIR[@CONFIG] --subject DIR[@CONFIG] [...] [options]
  --subject S      a build directory (its bin/kennel-broker), optionally @ an INI config; 2 or more
  --gen-build DIR  where bin/kennel-fanoutbench is (default ./build)
  --loads LIST     PUBSxSUBS fan-out loads (kennel-fanoutbench) and tputN directed loads
                   (kennel-nativebench, N pairs) (default '1x16 16x16')
  --sizes LIST     payload sizes in bytes (default '500 16384')
  --reps N         repetitions (default 3; the table shows medians)
  --duration S     measured seconds per run (default 3)
  --warmup S       unmeasured seconds before (default 1)
  --port P         loopback port for the brokers (default 18700)
  --results FILE   raw key=value lines (default /tmp/compare-fanout-DATE.txt)
  --summarize FILE only print the table of an earlier results file
USAGE
}
die() { echo "compare-fanout: $*" >&2; exit 1; }
summarize() { # results-file subject-count
    local results=$1 n=$2
    echo
    echo "subjects:"
    for i in $(seq 0 $((n - 1))); do echo "  $i = $(sed -n "s/^# subject $i = //p" "$results")"; done
    awk -v n="$n" '
    function median(list,   a, c, i, j, t) {
        c = split(list, a, " ")
        for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        if (c == 0) return -1
        return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
    }
    /status=ok/ {
        for (f = 1; f <= NF; f++) { split($f, kv, "="); v[kv[1]] = kv[2] }
        key = v["load"] " " v["size"]
        keys[key] = 1
        msgs[key, v["subject"]] = msgs[key, v["subject"]] " " v["msgs_per_s"]
        cpu[key, v["subject"]] = cpu[key, v["subject"]] " " v["broker_cpu_pct"]
        p50[key, v["subject"]] = p50[key, v["subject"]] " " v["p50_us"]
        if (v["msgs_per_s"] > 0 && v["broker_cpu_pct"] >= 0)
            per[key, v["subject"]] = per[key, v["subject"]] " " (v["broker_cpu_pct"] / 100 / v["msgs_per_s"] * 1e9)
    }
    END {
        printf "%-6s %6s", "#load", "size"
        for (i = 0; i < n; i++) printf " %12s %7s %8s %8s", "msg/s[" i "]", "cpu%", "ns/msg", "p50us"
        for (i = 1; i < n; i++) printf " %8s", i "/0"
        printf "\n"
        for (key in keys) {
            split(key, k, " ")
            printf "%-6s %6s", k[1], k[2]
            for (i = 0; i < n; i++) { m[i] = median(msgs[key, i]); printf " %12.0f %7.1f %8.1f %8.1f", m[i], median(cpu[key, i]), median(per[key, i]), median(p50[key, i]) }
            for (i = 1; i < n; i++) printf " %8.3f", (m[0] > 0 ? m[i] / m[0] : 0)
            printf "\n"
        }
    }' "$results" | sort
    echo "raw: $results"
}
while [ $# -gt 0 ]; do
    case $1 in
    --subject) subjects+=("${2:?}"); shift ;;
    --gen-build) gen_build=${2:?}; shift ;;
    --loads) loads=${2:?}; shift ;;
    --sizes) sizes=${2:?}; shift ;;
    --reps) reps=${2:?}; shift ;;
    --duration) duration=${2:?}; shift ;;
    --warmup) warmup=${2:?}; shift ;;
    --port) port=${2:?}; shift ;;
    --results) results=${2:?}; shift ;;
    --summarize) summarize "${2:?}" "$(grep -c '^# subject ' "$2")"; exit 0 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done
[ ${#subjects[@]} -ge 2 ] || die "give at least two --subject"
gen=$gen_build/bin/kennel-fanoutbench
native=$gen_build/bin/kennel-nativebench
[ -x "$gen" ] || die "$gen is missing"
[[ " $loads " != *" tput"* ]] || [ -x "$native" ] || die "$native is missing"
for s in "${subjects[@]}"; do
    [ -x "${s%@*}/bin/kennel-broker" ] || die "${s%@*}/bin/kennel-broker is missing"
    [[ $s != *@* ]] || [ -f "${s#*@}" ] || die "config ${s#*@} is missing"
done
[ -n "$results" ] || results=/tmp/compare-fanout-$(date +%Y%m%d-%H%M%S).txt
: >"$results"
for i in "${!subjects[@]}"; do echo "# subject $i = ${subjects[$i]}" >>"$results"; done
echo "# compare-fanout $(date -Is) reps=$reps duration=$duration warmup=$warmup load average $(cut -d' ' -f1-3 /proc/loadavg)" >>"$results"


broker_pid=''
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
stop_broker() {
    [ -n "$broker_pid" ] || return 0
    kill "$broker_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$broker_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
    broker_pid=''
}
trap stop_broker EXIT

run_one() { # rep subject-index load size
    local rep=$1 i=$2 load=$3 size=$4 s=${subjects[$2]} args=() line
    args=(--listen "127.0.0.1:$port" --max-clients 1000)
    [[ $s != *@* ]] || args+=(--config "${s#*@}")
    port_open "$port" && die "port $port is in use"
    "${s%@*}/bin/kennel-broker" "${args[@]}" >/tmp/compare-fanout-broker.log 2>&1 &
    broker_pid=$!
    for _ in $(seq 100); do port_open "$port" && break; sleep 0.05; done
    local cmd=()
    case $load in
    tput*) # the directed path: kennel-nativebench, N sender/receiver pairs
        cmd=("$native" --host 127.0.0.1 --port "$port" --pairs "${load#tput}") ;;
    *x*) # fan-out: PUBS publishers to SUBS subscribers on one topic
        cmd=("$gen" --proto native --host 127.0.0.1 --port "$port" --pubs "${load%x*}" --subs "${load#*x}") ;;
    *) die "unknown load $load (PUBSxSUBS or tputN)" ;;
    esac
    line=$(timeout $((60 + ${duration%.*} + ${warmup%.*} + 10)) "${cmd[@]}" --size "$size" --window 64 --batch 16 \
        --setup-timeout 30 --duration "$duration" --warmup "$warmup" --drain 2 --watch-pid "$broker_pid" | tail -n 1) || true
    stop_broker
    echo "rep=$rep subject=$i load=$load size=$size $line" | tee -a "$results"
}

n=${#subjects[@]}
for rep in $(seq "$reps"); do
    for size in $sizes; do
        for load in $loads; do
            for k in $(seq 0 $((n - 1))); do
                run_one "$rep" $(((k + rep) % n)) "$load" "$size"
            done
        done
    done
done
summarize "$results" "$n"
