# Build options for hardening work: AddressSanitizer + UndefinedBehaviorSanitizer for the whole
# tree (KENNEL_SANITIZE) and libFuzzer targets (KENNEL_FUZZ). Kept out of the top-level
# CMakeLists.txt so the normal build reads as before; docs/FUZZING.md says how to use both.
#
# After include(Sanitizers):
#   KENNEL_SANITIZE        ON: every target is compiled and linked with ASan + UBSan.
#   KENNEL_FUZZ            ON: tests/fuzz/ adds the fuzz targets (Clang only: libFuzzer is Clang's).
#   KENNEL_SANITIZER_FLAGS the sanitizer flags, for targets that need them again (the fuzzers).

option(KENNEL_SANITIZE "Build everything with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)

if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    set(_kennel_fuzz_default ON)
else()
    set(_kennel_fuzz_default OFF)
endif()
option(KENNEL_FUZZ "Build the libFuzzer targets in tests/fuzz (needs Clang)" ${_kennel_fuzz_default})
unset(_kennel_fuzz_default)

if(KENNEL_FUZZ AND NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "KENNEL_FUZZ needs Clang (libFuzzer ships with it), not ${CMAKE_CXX_COMPILER_ID}: "
                        "configure with -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang, or -DKENNEL_FUZZ=OFF")
endif()

# -fno-sanitize-recover: a UBSan finding must fail the run, not scroll past in a log.
set(KENNEL_SANITIZER_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)

if(KENNEL_SANITIZE)
    add_compile_options(${KENNEL_SANITIZER_FLAGS})
    add_link_options(${KENNEL_SANITIZER_FLAGS})
    if(KENNEL_FUZZ)
        # Coverage for the fuzzers reaches into the libraries they drive (the broker core, the
        # client library); the sanitizer runtimes every other program links provide the
        # callbacks' defaults, so this costs the tests a little speed and nothing else.
        add_compile_options(-fsanitize=fuzzer-no-link)
    endif()
    message(STATUS "Kennel: AddressSanitizer + UndefinedBehaviorSanitizer build")
endif()
