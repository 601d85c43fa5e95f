# Shared part of the Debian cross toolchain files (armhf.cmake, arm64.cmake): Debian's cross
# compilers (crossbuild-essential-ARCH) and Debian's multiarch Qt (qt6-base-dev:ARCH), which
# installs beside the build machine's own Qt in /usr/lib/<triplet>. The including file sets
# KENNEL_CROSS_TRIPLET, KENNEL_CROSS_PROCESSOR and KENNEL_CROSS_QEMU. docs/BOARD.md explains.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${KENNEL_CROSS_PROCESSOR})
set(CMAKE_C_COMPILER ${KENNEL_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${KENNEL_CROSS_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${KENNEL_CROSS_TRIPLET})
# pkg-config for the target: the triplet wrapper reads only the target's .pc files.
find_program(PKG_CONFIG_EXECUTABLE NAMES ${KENNEL_CROSS_TRIPLET}-pkg-config)
# Without a TRIPLET-pkg-config wrapper (Debian 12's pkgconf ships none for foreign
# architectures), the host's pkg-config must read the target's .pc files only: otherwise it
# finds the amd64 libmosquitto and sqlite3 and the link fails.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${KENNEL_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# No sysroot: multiarch puts the target's libraries and CMake packages under /usr/lib/<triplet>,
# which CMake searches first because CMAKE_LIBRARY_ARCHITECTURE names it. Programs (moc, rcc,
# qemu) are the build machine's.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)

# Debian's multiarch Qt is not a "cross-built Qt": its Qt6CoreTools package for the target points
# at /usr/lib/qt6/libexec/moc and rcc, which qt6-base-dev-tools (Multi-Arch: foreign, the build
# machine's architecture) installs. So no QT_HOST_PATH is needed; setting one would make Qt's
# CMake files look for a Qt6HostInfo package that Debian does not ship.

# ctest, add_custom_command(... COMMAND <target>) and try_run() run the target's programs through
# qemu-user. No binfmt_misc registration is needed (containers often cannot have one): the
# program's own loader and libraries are the multiarch ones in /lib/<triplet> and /usr/lib/<triplet>,
# which qemu finds at their usual paths. Programs a test starts get the same prefix through
# KENNEL_TEST_EMULATOR (tests/CMakeLists.txt).
find_program(KENNEL_CROSS_QEMU_PATH NAMES ${KENNEL_CROSS_QEMU}-static ${KENNEL_CROSS_QEMU})
if(KENNEL_CROSS_QEMU_PATH)
    set(CMAKE_CROSSCOMPILING_EMULATOR ${KENNEL_CROSS_QEMU_PATH})
endif()
