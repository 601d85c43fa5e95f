#!/usr/bin/env bash
# Configures and builds Kennel with Ninja.
#   build.sh             the normal build (the system compiler, g++) in ./build or $KENNEL_BUILD_DIR
#   build.sh --sanitize  the clang AddressSanitizer + UndefinedBehaviorSanitizer build with the
#                        fuzzers (KENNEL_SANITIZE, KENNEL_FUZZ; docs/FUZZING.md) in ./build-asan or
#                        $KENNEL_ASAN_BUILD_DIR; KENNEL_FUZZ_SECONDS sets how long each fuzzer's
#                        CTest entry runs (default 60).
# A compiler launcher such as ccache can be given the usual CMake way, e.g.
#   CMAKE_CXX_COMPILER_LAUNCHER=ccache bash scripts/build.sh
# (CMake reads those variables from the environment when it first configures a build directory).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

mode=normal
case "${1:-}" in
    "") ;;
    --sanitize) mode=sanitize ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
esac

bash "$root/scripts/install-deps.sh"
if [ "$mode" = normal ]; then
    build=${KENNEL_BUILD_DIR:-$root/build}
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKENNEL_WERROR=ON >/dev/null
else
    build=${KENNEL_ASAN_BUILD_DIR:-$root/build-asan}
    # The compiler is chosen when the directory is first configured; naming it again later would
    # make CMake throw the cache away (and with it any compiler launcher) and rebuild everything.
    compilers=()
    [ -f "$build/CMakeCache.txt" ] || compilers=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++)
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKENNEL_WERROR=ON "${compilers[@]}" \
          -DKENNEL_SANITIZE=ON -DKENNEL_FUZZ=ON -DKENNEL_FUZZ_SECONDS="${KENNEL_FUZZ_SECONDS:-60}" >/dev/null
fi
cmake --build "$build" --parallel "$(nproc)"
