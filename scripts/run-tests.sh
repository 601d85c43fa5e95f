#!/usr/bin/env bash
# Builds Kennel and runs the whole test suite with ctest, as CI does (.ci/run):
#   1. the normal build (g++, ./build or $KENNEL_BUILD_DIR) and every test;
#   2. the clang AddressSanitizer + UndefinedBehaviorSanitizer build (./build-asan or
#      $KENNEL_ASAN_BUILD_DIR) and every test again, then the fuzzers, each for
#      $KENNEL_FUZZ_SECONDS (default 60) seconds (docs/FUZZING.md);
#   3. the cross builds for the boards (scripts/cross-build.sh, docs/BOARD.md): armhf (./build-armhf)
#      with the board tests under qemu-user (the codecs, the old struct's layout, the broker with
#      old-protocol and native clients, libkennel), then arm64 (./build-arm64) the same;
#   4. the Debian packages for this machine's architecture (scripts/package.sh --test, docs/BOARD.md):
#      built, lintian without errors, the broker run from their contents in a scratch root.
# Options (for developers; no option = everything CI needs):
#   --normal-only     step 1 only
#   --sanitize-only   step 2 only
#   --cross-only      step 3 only
#   --no-cross        steps 1, 2 and 4
#   --no-package      everything but step 4
#   --package-only    step 4 only
#   --no-fuzz         step 2 without the fuzzers
#   anything else     passed to every ctest run, e.g. -R broker, -j 1, --repeat until-fail:3
# The fuzzers run after the rest of the sanitizer suite, not beside it: they keep both cores busy,
# and the attack tests measure latency.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

normal=1
sanitize=1
cross=1
package=1
fuzz=1
only=
ctest_args=()
for arg in "$@"; do
    case "$arg" in
        --normal-only|--sanitize-only|--cross-only|--package-only)
            if [ -n "$only" ]; then
                echo "run-tests.sh: $only and $arg exclude each other" >&2
                exit 2
            fi
            only=$arg
            normal=0; sanitize=0; cross=0; package=0
            case "$arg" in
                --normal-only) normal=1 ;;
                --sanitize-only) sanitize=1 ;;
                --cross-only) cross=1 ;;
                --package-only) package=1 ;;
            esac ;;
        --no-cross) no_cross=1 ;;
        --no-fuzz) fuzz=0 ;;
        --no-package) package=0 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) ctest_args+=("$arg") ;;
    esac
done
if [ -n "${no_cross:-}" ]; then
    if [ "$only" = --cross-only ]; then
        echo "run-tests.sh: --cross-only and --no-cross exclude each other" >&2
        exit 2
    fi
    cross=0
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
if [ "$cross" = 1 ]; then
    for arch in armhf arm64; do
        stamp "$arch cross build and board tests under qemu-user"
        bash "$root/scripts/cross-build.sh" "$arch" --test -- "${ctest_args[@]}"
    done
fi
if [ "$package" = 1 ]; then
    stamp "Debian packages: build, lintian, scratch-root run"
    bash "$root/scripts/package.sh" --test
fi
stamp "all passed"
