#!/usr/bin/env bash
# bench_runner_smoke: the benchmark runner's smoke run (scripts/run-benchmarks.sh), or, when the
# external tools it measures against are not there, a skip that says so in the test's output and
# in ctest's summary (exit 77, the test's SKIP_RETURN_CODE), never a test that silently is not.
# Usage: smoke.sh SHARED_DIR RUNNER [runner options...]
# SHARED_DIR "-": the jobs chosen need none of the external tools (bench_bus_smoke: the fan-out
# and call loads without mosquitto), so nothing is checked and no --shared is passed.
set -euo pipefail
shared=$1
runner=$2
shift 2
if [ -n "${KENNEL_BENCH_SMOKE_SKIP:-}" ]; then
    echo "bench_runner_smoke SKIPPED: $KENNEL_BENCH_SMOKE_SKIP. The runner's smoke run did not run."
    exit 77
fi
if [ "$shared" = - ]; then
    exec bash "$runner" "$@"
fi
for f in routebench.c ideal_fwd.c mosquitto-bench.conf mosquitto-bench-nodelay.conf; do
    if [ ! -f "$shared/$f" ]; then
        echo "bench_runner_smoke SKIPPED: $shared/$f is missing. routebench and ideal_fwd are not part of"
        echo "this repository; configure with -DKENNEL_SHARED_BENCH_DIR=DIR naming the folder that holds them"
        echo "(docs/BENCHMARKS.md). The runner's smoke run did not run."
        exit 77
    fi
done
exec bash "$runner" --shared "$shared" "$@"
