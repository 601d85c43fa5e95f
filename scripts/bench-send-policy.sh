#!/usr/bin/env bash
# The directed path with a [policy] of 100 send rules against no policy (docs/BENCHMARKS.md "Send
# policy"; issue 21). One kennel-broker of this build per run, on loopback; kennel-nativebench
# drives it with the loads of scripts/run-benchmarks.sh (tput4: 4 pairs flat out; lat10k: 4 pairs
# at 10,000 msg/s each). Runs alternate none, policy, none, policy, ... so that drift on the shared
# machine falls on both alike; prints one line per run and the medians per variant at the end.
#
# The policy: 99 deny rules that match none of the benchmark's names, then one allow rule that
# does, so every verdict the broker works out walks all 100 rules (pattern and conditions);
# afterwards the per-route cache answers.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${KENNEL_BUILD_DIR:-$root/build}
reps=5
duration=3
warmup=1
loads='tput4 lat10k'
port=18650

usage() {
    cat <<'EOF'
usage: scripts/bench-send-policy.sh [--reps N] [--duration S] [--warmup S] [--loads 'tput4 lat10k']
                                    [--build-dir DIR] [--port P]
EOF
}
while [ $# -gt 0 ]; do
    case $1 in
    --reps) reps=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --loads) loads=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done

broker_bin="$build/bin/kennel-broker"
native_bin="$build/bin/kennel-nativebench"
[ -x "$broker_bin" ] && [ -x "$native_bin" ] || { echo "build kennel-broker and kennel-nativebench first" >&2; exit 1; }

tmp=$(mktemp -d)
broker_pid=''
cleanup() {
    if [ -n "$broker_pid" ]; then kill -TERM "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

{
    echo '[policy]'
    for i in $(seq -w 1 99); do echo "block$i = deny send blocked$i-* uid=$((1000 + 10#$i))"; done
    echo 'bench = allow send nb* local'
} >"$tmp/policy.ini"
: >"$tmp/none.ini"

run() { # variant load
    local variant=$1 load=$2 args=()
    "$broker_bin" --config "$tmp/$variant.ini" --listen "127.0.0.1:$port" >"$tmp/broker.log" 2>&1 &
    broker_pid=$!
    for _ in $(seq 200); do grep -q 'listening' "$tmp/broker.log" 2>/dev/null && break; sleep 0.05; done
    if ! grep -q 'listening' "$tmp/broker.log"; then
        echo "load=$load variant=$variant status=broker_failed"
        kill -TERM "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; broker_pid=''
        sleep 1
        return
    fi
    case $load in
    tput4) args=(--pairs 4) ;;
    lat10k) args=(--pairs 4 --rate 10000) ;;
    esac
    local line
    line=$(timeout --signal=INT --kill-after=10 $((duration + warmup + 60)) "$native_bin" --host 127.0.0.1 --port "$port" \
        --size 500 --window 64 --batch 16 --setup-timeout 60 --watch-pid "$broker_pid" \
        --duration "$duration" --warmup "$warmup" --drain 2 "${args[@]}" 2>/dev/null | grep -m1 '^proto=' || true)
    kill -TERM "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
    broker_pid=''
    local mps p99 lost
    mps=$(sed -n 's/.* msgs_per_s=\([0-9.]*\).*/\1/p' <<<"$line")
    p99=$(sed -n 's/.* p99_us=\([0-9.]*\).*/\1/p' <<<"$line")
    lost=$(sed -n 's/.* lost=\([0-9]*\).*/\1/p' <<<"$line")
    echo "load=$load variant=$variant msgs_per_s=${mps:-?} p99_us=${p99:-?} lost=${lost:-?}"
}

for load in $loads; do
    for rep in $(seq "$reps"); do
        if [ $((rep % 2)) -eq 1 ]; then run none "$load"; run policy "$load"; else run policy "$load"; run none "$load"; fi
    done
done | tee "$tmp/results"

echo
echo "medians of up to $reps run(s) each (policy / none: throughput higher is better, p99 lower is better)"
for load in $loads; do
    awk -v load="$load" '
        function median(a, n,   i, j, t) {
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        $1 == "load=" load && $3 !~ /status=/ && $3 != "msgs_per_s=0" && $3 != "msgs_per_s=?" {
            split($2, v, "="); split($3, m, "="); split($4, p, "=")
            if (v[2] == "none") { nm[++nn] = m[2]; np[nn] = p[2] } else { pm[++pn] = m[2]; pp[pn] = p[2] }
        }
        END {
            mn = median(nm, nn); mp = median(pm, pn); qn = median(np, nn); qp = median(pp, pn)
            printf "%s: none %.0f msg/s p99 %.0f us; policy %.0f msg/s p99 %.0f us; ratio msg/s %.3f, p99 %.3f\n", load, mn, qn, mp, qp, (mn ? mp / mn : 0), (qn ? qp / qn : 0)
        }' "$tmp/results"
done
