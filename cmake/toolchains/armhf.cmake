# Debian armhf (32-bit ARMv7, hard float: the TI AM5728 board): crossbuild-essential-armhf and
# qt6-base-dev:armhf. Use: cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/armhf.cmake, or
# scripts/cross-build.sh armhf, which also installs the packages.
set(KENNEL_CROSS_TRIPLET arm-linux-gnueabihf)
set(KENNEL_CROSS_PROCESSOR arm)
set(KENNEL_CROSS_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
# GCC 7.1 changed how armhf passes some aggregates (e.g. a std::pair<qint64, int> or a struct of
# a 64-bit and a smaller member by value); GCC 12 prints a "-Wpsabi" note at every such call
# ("parameter passing for argument of type ... changed in GCC 7.1"). It only concerns linking
# against code built by GCC older than 7.1: everything on Debian 12 armhf (Qt, libstdc++) is built
# by GCC 12, so the notes say nothing about this build, and they drown its real warnings.
set(CMAKE_C_FLAGS_INIT "-Wno-psabi")
set(CMAKE_CXX_FLAGS_INIT "-Wno-psabi")
