#!/usr/bin/env bash
# Cross-builds Kennel for a board with Debian's cross compilers and multiarch Qt, and optionally
# runs the board's tests under qemu-user (docs/BOARD.md).
#   cross-build.sh armhf|arm64 [--test] [--target T]... [-- ctest arguments]
#     armhf   32-bit ARMv7 hard-float (the TI AM5728 board); arm64: AArch64
#     --test  afterwards, run the board tests (ctest -L board) under qemu-user
#     --target T  build only T (repeatable); default: everything a board's build has: the broker,
#             the client libraries (Qt and C), kennelctl and the board tests
# Builds in ./build-ARCH (or $KENNEL_ARMHF_BUILD_DIR / $KENNEL_ARM64_BUILD_DIR) with
# cmake/toolchains/ARCH.cmake: no monitor, demo or bench (they are not for a board). Installs what it needs the first time
# (root: dpkg --add-architecture ARCH, crossbuild-essential-ARCH, qt6-base-dev:ARCH, the bridge's
# libmosquitto-dev:ARCH and libsqlite3-dev:ARCH,
# qemu-user-static; about 5 minutes for both architectures) and nothing when it is there.
# A compiler launcher such as ccache can be given the usual CMake way (CMAKE_CXX_COMPILER_LAUNCHER).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
all_args=("$@")

arch=
run_tests=0
targets=()
ctest_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        armhf|arm64) arch=$1 ;;
        --test) run_tests=1 ;;
        --target) shift; targets+=(--target "${1:?--target needs a target name}") ;;
        --) shift; ctest_args=("$@"); break ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "cross-build.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ -z "$arch" ]; then
    echo "cross-build.sh: which architecture? armhf or arm64 (see --help)" >&2
    exit 2
fi

bash "$root/scripts/install-deps.sh"

# What the cross build needs, beside the build machine's own compiler and Qt (install-deps.sh):
# the cross compiler, the target's Qt (its libraries and CMake files; moc and rcc stay the build
# machine's, from qt6-base-dev-tools) and qemu-user to run the target's programs.
packages=("crossbuild-essential-$arch" "qt6-base-dev:$arch" "libmosquitto-dev:$arch" "libsqlite3-dev:$arch" qemu-user-static)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            exec sudo --preserve-env "$0" "${all_args[@]}"
        fi
        echo "cross-build.sh: missing packages (${missing[*]}); run this as root once" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
        echo "cross-build.sh: adding the $arch architecture to dpkg"
        dpkg --add-architecture "$arch"
    fi
    echo "cross-build.sh: installing ${missing[*]} (takes minutes the first time)"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

dir_variable=KENNEL_${arch^^}_BUILD_DIR
build=${!dir_variable:-$root/build-$arch}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/$arch.cmake" \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKENNEL_WERROR=ON \
      -DKENNEL_BUILD_MONITOR=OFF -DKENNEL_BUILD_DEMO=OFF -DKENNEL_BUILD_BENCH=OFF -DKENNEL_BUILD_TESTS=ON >/dev/null
cmake --build "$build" --parallel "$(nproc)" "${targets[@]}"
echo "cross-build.sh: built for $arch in $build"

if [ "$run_tests" = 1 ]; then
    # Serially: the broker test measures a watchdog's deadline, and emulation is slow enough.
    ctest --test-dir "$build" --output-on-failure -L board "${ctest_args[@]}"
fi
