# CTest's fuzz_corpus: the committed seed corpus is exactly what kennel-fuzz-corpus writes today, so
# a protocol change cannot leave the fuzzers starting from frames the codecs no longer accept.
# On failure: cmake --build <build> --target fuzz-corpus-update, and commit tests/fuzz/corpus.
#   cmake -DGENERATOR=<binary> -DCOMMITTED=<dir> -DOUT=<dir> -P check-corpus.cmake
file(REMOVE_RECURSE ${OUT})
execute_process(COMMAND ${GENERATOR} ${OUT} RESULT_VARIABLE status)
if(NOT status EQUAL 0)
    message(FATAL_ERROR "${GENERATOR} failed (status ${status})")
endif()
file(GLOB_RECURSE generated RELATIVE ${OUT} ${OUT}/*)
file(GLOB_RECURSE committed RELATIVE ${COMMITTED} ${COMMITTED}/*)
list(SORT generated)
list(SORT committed)
if(NOT generated STREQUAL committed)
    message(FATAL_ERROR "tests/fuzz/corpus lists other files than the generator writes:\n"
                        "committed: ${committed}\ngenerated: ${generated}\n"
                        "regenerate with: cmake --build <build> --target fuzz-corpus-update")
endif()
foreach(f IN LISTS generated)
    file(SHA256 ${OUT}/${f} a)
    file(SHA256 ${COMMITTED}/${f} b)
    if(NOT a STREQUAL b)
        message(FATAL_ERROR "tests/fuzz/corpus/${f} differs from what the generator writes today; "
                            "regenerate with: cmake --build <build> --target fuzz-corpus-update")
    endif()
endforeach()
message(STATUS "seed corpus current: ${generated}")
