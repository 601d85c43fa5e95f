#!/usr/bin/env bash
# Builds Kennel and runs the whole test suite with ctest, as CI does (.ci/run):
#   1. the normal build (g++, ./build or $KENNEL_BUILD_DIR) and every test;
#   2. the clang AddressSanitizer + UndefinedBehaviorSanitizer build (./build-asan or
#      $KENNEL_ASAN_BUILD_DIR) and every test again, then the fuzzers, each for
#      $KENNEL_FUZZ_SECONDS (default 60) seconds (docs/FUZZING.md).
# Options (for developers; no option = everything CI needs):
#   --normal-only     step 1 only
#   --sanitize-only   step 2 only
#   --no-fuzz         step 2 without the fuzzers
#   anything else     passed to every ctest run, e.g. -R broker, -j 1, --repeat until-fail:3
# The fuzzers run after the rest of the sanitizer suite, not beside it: they keep both cores busy,
# and the attack tests measure latency.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

normal=1
sanitize=1
fuzz=1
ctest_args=()
for arg in "$@"; do
    case "$arg" in
        --normal-only) sanitize=0 ;;
        --sanitize-only) normal=0 ;;
        --no-fuzz) fuzz=0 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) ctest_args+=("$arg") ;;
    esac
done
if [ "$normal" = 0 ] && [ "$sanitize" = 0 ]; then
    echo "run-tests.sh: --normal-only and --sanitize-only exclude each other" >&2
    exit 2
fi

started=$(date +%s)
stamp() { echo "run-tests.sh: $1 ($(( $(date +%s) - started )) s since start)"; }

if [ "$normal" = 1 ]; then
    build=${KENNEL_BUILD_DIR:-$root/build}
    stamp "normal build in $build"
    bash "$root/scripts/build.sh"
    stamp "normal test suite"
    ctest --test-dir "$build" --output-on-failure --parallel 2 "${ctest_args[@]}"
fi

if [ "$sanitize" = 1 ]; then
    asan=${KENNEL_ASAN_BUILD_DIR:-$root/build-asan}
    stamp "AddressSanitizer + UBSan build in $asan"
    bash "$root/scripts/build.sh" --sanitize
    stamp "sanitizer test suite"
    ctest --test-dir "$asan" --output-on-failure --parallel 2 --label-exclude fuzz "${ctest_args[@]}"
    if [ "$fuzz" = 1 ]; then
        stamp "fuzzers (${KENNEL_FUZZ_SECONDS:-60} s each)"
        ctest --test-dir "$asan" --output-on-failure --parallel 2 --label-regex fuzz "${ctest_args[@]}"
    fi
fi
stamp "all passed"
