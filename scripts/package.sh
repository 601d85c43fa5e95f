#!/usr/bin/env bash
# Builds Kennel's Debian packages (docs/BOARD.md, "Debian packages"):
#   package.sh [amd64|armhf|arm64] [--test]
#     ARCH    the packages' architecture; default: this machine's (dpkg --print-architecture).
#             armhf and arm64 are cross-built with Debian's cross compilers and multiarch Qt
#             (cmake/toolchains/ARCH.cmake, as scripts/cross-build.sh).
#     --test  afterwards, check them (tests/package/test-packages.sh): lintian without errors,
#             the contents, and (for this machine's architecture) the broker from the packages'
#             contents unpacked into a scratch root: it starts as an unprivileged user with the
#             unit's capabilities, passes a message between two kennelctl and stops.
#             For armhf and arm64 the packaged broker and kennelctl run under qemu-user instead.
# Packages: kennel-broker, libkennel, libkennel-dev, kennelctl, kennel-monitor, and a -dbgsym
# package with the debug symbols of each one that has binaries. They are written to
# ./build-deb/ARCH (or $KENNEL_PACKAGE_DIR/ARCH), built there from a copy of the source tree
# (the tracked and untracked-but-not-ignored files, so uncommitted changes are included).
# Installs what it needs the first time, as root (through sudo if not root): debhelper, lintian,
# the build dependencies (scripts/install-deps.sh) and for a cross build the target's
# (crossbuild-essential-ARCH, qt6-base-dev:ARCH, ...). A compiler launcher: ccache is used when
# installed (debian/rules), with the environment's CCACHE_* settings.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
all_args=("$@")

arch=
run_tests=0
while [ $# -gt 0 ]; do
    case "$1" in
        amd64|armhf|arm64) arch=$1 ;;
        --test) run_tests=1 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "package.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
build_arch=$(dpkg --print-architecture)
arch=${arch:-$build_arch}

started=$(date +%s)
stamp() { echo "package.sh: $1 ($(( $(date +%s) - started )) s)"; }

bash "$root/scripts/install-deps.sh"

# debhelper (dh, dh_strip's -dbgsym, dh_shlibdeps, dh_installsystemd), lintian for the test,
# and for a cross build what scripts/cross-build.sh installs.
packages=(debhelper dpkg-dev fakeroot lintian qt6-base-dev-tools file binutils util-linux)
if [ "$arch" != "$build_arch" ]; then
    packages+=("crossbuild-essential-$arch" "qt6-base-dev:$arch" "libmosquitto-dev:$arch" "libsqlite3-dev:$arch"
               qemu-user-static)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            exec sudo --preserve-env "$0" "${all_args[@]}"
        fi
        echo "package.sh: missing packages (${missing[*]}); run this as root once" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if [ "$arch" != "$build_arch" ] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
        echo "package.sh: adding the $arch architecture to dpkg"
        dpkg --add-architecture "$arch"
    fi
    stamp "installing ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# One version: debian/changelog's must be the project's (CMakeLists.txt), or the packages would
# say another version than the programs' --version.
project_version=$(sed -n 's/^project(Kennel VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
package_version=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)
if [ "$project_version" != "$package_version" ]; then
    echo "package.sh: debian/changelog says $package_version, CMakeLists.txt $project_version: add a changelog entry (dch -v $project_version)" >&2
    exit 1
fi

out=${KENNEL_PACKAGE_DIR:-$root/build-deb}/$arch
src=$out/kennel-$package_version
stamp "copying the source tree to $src"
mkdir -p "$out"
rm -f "$out"/*.deb "$out"/*.ddeb "$out"/*.changes "$out"/*.buildinfo
# From scratch every time (dpkg-buildpackage's clean step removes the build directory anyway);
# ccache, when installed, makes a second build quick.
rm -rf "$src"
mkdir -p "$src"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf -) \
    | tar -xf - -C "$src"

stamp "building the $arch packages"
build_options=(-us -uc -b)
if [ "$arch" != "$build_arch" ]; then
    # -d: the build dependencies are the target's (qt6-base-dev:ARCH ...) and the build
    # machine's (cmake, debhelper), installed above; dpkg-checkbuilddeps would want cmake:ARCH.
    build_options+=(-a "$arch" -d)
    # The cross compilers (the toolchain file names them too): dpkg-architecture warns otherwise.
    triplet=$(dpkg-architecture -a "$arch" -q DEB_HOST_GNU_TYPE 2>/dev/null)
    export CC=$triplet-gcc CXX=$triplet-g++
fi
(cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage "${build_options[@]}") >"$out/build.log" 2>&1 || {
    tail -n 60 "$out/build.log" >&2
    echo "package.sh: the package build failed; the whole log is $out/build.log" >&2
    exit 1
}
stamp "built:"
ls -l "$out"/*.deb

if [ "$run_tests" = 1 ]; then
    stamp "testing the packages"
    bash "$root/tests/package/test-packages.sh" "$arch" "$out"
    stamp "packages tested"
fi
