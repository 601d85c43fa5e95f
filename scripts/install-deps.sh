#!/usr/bin/env bash
# Installs what building and testing Kennel needs on Debian 12, and nothing when it is all there.
set -euo pipefail

# openssl: the command-line tool; the monitor's TLS tests generate their certificates with it.
# libqt6svg6: the SVG icon engine, for kennel-monitor's icons (without it Qt falls back to the
# style's standard icons).
# clang, libclang-rt-14-dev: the sanitizer build and the fuzzers (libFuzzer and the ASan/UBSan
# runtimes are in libclang-rt-14-dev, which Debian's clang only recommends). llvm-14: its
# llvm-symbolizer turns sanitizer reports into function names and lines.
# libmosquitto-dev, libsqlite3-dev, pkg-config: the broker's bridge (MQTT link, spool; docs/FLEET.md);
# mosquitto: the MQTT broker the bridge tests start on a loopback port of their own (never the service).
packages=(cmake ninja-build g++ gcc make qt6-base-dev openssl libqt6svg6 clang libclang-rt-14-dev llvm-14
          pkg-config libmosquitto-dev libsqlite3-dev mosquitto)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        exec sudo "$0" "$@"
    fi
    echo "install-deps: missing packages (${missing[*]}); run this as root" >&2
    exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
