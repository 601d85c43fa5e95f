# Debian armhf (32-bit ARMv7, hard float: the TI AM5728 board): crossbuild-essential-armhf and
# qt6-base-dev:armhf. Use: cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/armhf.cmake, or
# scripts/cross-build.sh armhf, which also installs the packages.
set(KENNEL_CROSS_TRIPLET arm-linux-gnueabihf)
set(KENNEL_CROSS_PROCESSOR arm)
set(KENNEL_CROSS_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
