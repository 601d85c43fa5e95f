#!/usr/bin/env bash
# Renders docs/monitor.png: kennel-monitor watching the demo, offscreen, at the moment the story is
# all on screen — client1 killed by the watchdog and restarted twice, client2's feed counter,
# traffic including the messages that found no client1. Takes about 30 s.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KENNEL_BUILD_DIR:-$root/build}
out=${1:-$root/docs/monitor.png}
bash "$root/scripts/build.sh"
port=${KENNEL_SCREENSHOT_PORT:-18290}
# The demo kills client1 9 s after each start and restarts it a second later: at 21.5 s it has
# been killed twice and is running again.
QT_QPA_PLATFORM=offscreen "$build/bin/kennel-demo" --duration 25 --port "$port" --monitor on \
    --monitor-arg --window-size --monitor-arg 1024x768 \
    --monitor-arg --screenshot --monitor-arg "$out" --monitor-arg --screenshot-delay --monitor-arg 21.5
test -s "$out"
echo "screenshot: $out"
