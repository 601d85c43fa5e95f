# Fails when a rule of docs/PROTOCOL.md (a bold **R-x.y.z**) has no test function named after it
# in the conformance tests (tst_conformance_*.cpp: R_x_y_z_<words>), when a test function names a rule the document does
# not have, or when Appendix A's table leaves a rule out.
# Usage: cmake -DPROTOCOL=<PROTOCOL.md> -DTESTS_DIR=<tests/system/conformance> -P check-rules.cmake
file(READ "${PROTOCOL}" doc)
file(GLOB sources "${TESTS_DIR}/tst_conformance_*.cpp")
if(NOT sources)
    message(FATAL_ERROR "no tst_conformance_*.cpp in ${TESTS_DIR}")
endif()
set(tests "")
foreach(source IN LISTS sources)
    file(READ "${source}" text)
    string(APPEND tests "${text}")
endforeach()

string(REGEX MATCHALL "\\*\\*R-[0-9]+(\\.[0-9]+)+\\*\\*" defined "${doc}")
list(REMOVE_DUPLICATES defined)
list(LENGTH defined count)
if(count EQUAL 0)
    message(FATAL_ERROR "no rules (**R-x.y**) found in ${PROTOCOL}")
endif()

set(missing "")
set(untabled "")
set(ids "")
foreach(marker IN LISTS defined)
    string(REPLACE "*" "" id "${marker}")
    list(APPEND ids "${id}")
    string(REPLACE "-" "_" fn "${id}")
    string(REPLACE "." "_" fn "${fn}")
    # R_2_1_ must be followed by a letter: R_2_1_1_... is another rule.
    if(NOT tests MATCHES "void ${fn}_[A-Za-z][A-Za-z0-9_]*\\(\\)")
        list(APPEND missing "${id}")
    endif()
    string(REPLACE "." "\\." id_re "${id}")
    if(NOT doc MATCHES "\\| ${id_re} \\| `${fn}_[A-Za-z]")
        list(APPEND untabled "${id}")
    endif()
endforeach()

# Test functions for rules the document does not (or no longer) state.
string(REGEX MATCHALL "void R(_[0-9]+)+_[A-Za-z][A-Za-z0-9_]*\\(\\)" functions "${tests}")
list(REMOVE_DUPLICATES functions)
set(orphans "")
foreach(f IN LISTS functions)
    string(REGEX MATCH "R(_[0-9]+)+" prefix "${f}")
    string(REGEX REPLACE "^R_" "R-" id "${prefix}")
    string(REPLACE "_" "." id "${id}")
    string(REGEX REPLACE "^R\\." "R-" id "${id}")
    list(FIND ids "${id}" found)
    if(found EQUAL -1)
        list(APPEND orphans "${f}")
    endif()
endforeach()

if(missing OR untabled OR orphans)
    message(FATAL_ERROR "PROTOCOL.md and its conformance test disagree:\n"
                        "  rules without a test function: ${missing}\n"
                        "  rules missing from Appendix A: ${untabled}\n"
                        "  test functions for no rule: ${orphans}")
endif()
message(STATUS "${count} rules, each with its conformance test")
