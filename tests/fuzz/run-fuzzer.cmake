# CTest's fuzz_<name>: runs one fuzzer for a bounded time on a fresh copy of its seed corpus, so the
# committed corpus in the source tree is never written to. Exit status: libFuzzer's (0 only when
# the time ran out with no crash, leak, timeout, failed check or sanitizer report).
#   cmake -DFUZZER=<binary> -DSEEDS=<dir> [-DFINDINGS=<dir>] -DWORK=<dir> -DSECONDS=<n>
#         -DRSS_LIMIT_MB=<n> -DINPUT_TIMEOUT=<s> -P run-fuzzer.cmake
foreach(var FUZZER SEEDS WORK SECONDS RSS_LIMIT_MB INPUT_TIMEOUT)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "run-fuzzer.cmake: -D${var}=... is required")
    endif()
endforeach()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts)
file(GLOB seeds ${SEEDS}/*)
if(NOT seeds)
    message(FATAL_ERROR "run-fuzzer.cmake: no seed corpus in ${SEEDS}")
endif()
file(COPY ${seeds} DESTINATION ${WORK}/corpus)
# Inputs that once failed (tests/fuzz/findings/<fuzzer>/) run first with the seeds: a regression
# fails the entry at once.
if(DEFINED FINDINGS)
    file(GLOB findings ${FINDINGS}/*)
    if(findings)
        file(COPY ${findings} DESTINATION ${WORK}/corpus)
    endif()
endif()

# -artifact_prefix: a finding is written to the build directory (crash-<sha1>, leak-..., timeout-...)
# and its path printed; docs/FUZZING.md says how to replay it.
execute_process(COMMAND ${FUZZER} -max_total_time=${SECONDS} -rss_limit_mb=${RSS_LIMIT_MB} -timeout=${INPUT_TIMEOUT}
                        -print_final_stats=1 -artifact_prefix=${WORK}/artifacts/ ${WORK}/corpus
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
    file(GLOB findings ${WORK}/artifacts/*)
    message(FATAL_ERROR "${FUZZER} failed (status ${status}); findings: ${findings}")
endif()
