# Debian arm64 (AArch64): crossbuild-essential-arm64 and qt6-base-dev:arm64. Use:
# cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/arm64.cmake, or scripts/cross-build.sh arm64,
# which also installs the packages.
set(KENNEL_CROSS_TRIPLET aarch64-linux-gnu)
set(KENNEL_CROSS_PROCESSOR aarch64)
set(KENNEL_CROSS_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
