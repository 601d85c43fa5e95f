#!/usr/bin/env bash
# The main job: build Kennel, then run the broker with its built-in defaults and the demo clients,
# printing a timeline until Ctrl-C (or --duration SECONDS).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KENNEL_BUILD_DIR:-$root/build}
bash "$root/scripts/build.sh"
exec "$build/bin/kennel-demo" "$@"
