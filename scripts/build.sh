#!/usr/bin/env bash
# Configures and builds Kennel in ./build (or $KENNEL_BUILD_DIR) with Ninja.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KENNEL_BUILD_DIR:-$root/build}
bash "$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKENNEL_WERROR=ON >/dev/null
cmake --build "$build" --parallel "$(nproc)"
