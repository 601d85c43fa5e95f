# Runs `systemd-analyze security --offline=true kennel-broker.service` in UNIT_DIR and fails if
# the overall exposure is above MAX (tests/package/CMakeLists.txt).
execute_process(COMMAND ${SYSTEMD_ANALYZE} security --offline=true --no-pager kennel-broker.service
    WORKING_DIRECTORY ${UNIT_DIR}
    OUTPUT_VARIABLE output ERROR_VARIABLE errors RESULT_VARIABLE result)
string(REGEX MATCH "Overall exposure level for kennel-broker.service: ([0-9]+\\.[0-9])" found "${output}")
if(NOT found)
    message(FATAL_ERROR "systemd-analyze gave no exposure level (status ${result}):\n${output}\n${errors}")
endif()
set(exposure ${CMAKE_MATCH_1})
# Compared in tenths: CMake compares whole numbers only.
string(REPLACE "." "" exposure_tenths ${exposure})
string(REPLACE "." "" max_tenths ${MAX})
if(exposure_tenths GREATER max_tenths)
    message(FATAL_ERROR "kennel-broker.service: exposure ${exposure} is above ${MAX}; what systemd-analyze reports:\n${output}")
endif()
message(STATUS "kennel-broker.service: exposure ${exposure} (at most ${MAX})")
