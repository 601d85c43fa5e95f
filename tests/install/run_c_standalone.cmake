# Driver for the c_library_standalone test (cmake -P): clientlib/c configures and builds on its
# own, with a C compiler only and Qt made unfindable, as on a board's C-only toolchain.
# Inputs: SOURCE_DIR, WORK_DIR, GENERATOR, MAKE_PROGRAM, C_COMPILER.
file(REMOVE_RECURSE ${WORK_DIR})
set(args -S ${SOURCE_DIR} -B ${WORK_DIR} -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_DISABLE_FIND_PACKAGE_Qt6=ON -DCMAKE_C_FLAGS=-Werror)
if(MAKE_PROGRAM)
    list(APPEND args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
foreach(step configure build)
    if(step STREQUAL "configure")
        execute_process(COMMAND ${CMAKE_COMMAND} ${args} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
    else()
        execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
    endif()
    if(NOT result EQUAL 0)
        message(FATAL_ERROR "c_library_standalone: ${step} failed (${result}):\n${out}")
    endif()
endforeach()
file(GLOB built ${WORK_DIR}/libkennel.so*)
if(NOT built)
    message(FATAL_ERROR "c_library_standalone: no libkennel.so in ${WORK_DIR}")
endif()
message(STATUS "c_library_standalone: clientlib/c built alone: ${built}")
