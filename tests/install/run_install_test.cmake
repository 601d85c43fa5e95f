# Driver for the install_consumer test (cmake -P). Inputs: KENNEL_BUILD_DIR, WORK_DIR,
# CONSUMER_SOURCE_DIR, C_CONSUMER_SOURCE_DIR, C_EXAMPLE, GENERATOR, MAKE_PROGRAM, C_COMPILER,
# CXX_COMPILER, QT6_DIR.
cmake_minimum_required(VERSION 3.21)

foreach(var KENNEL_BUILD_DIR WORK_DIR CONSUMER_SOURCE_DIR GENERATOR)
    if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
        message(FATAL_ERROR "run_install_test.cmake: ${var} is not set")
    endif()
endforeach()

set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/consumer-build)
# Start from nothing: stale files from an earlier run could hide a missing install rule.
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run step)
    execute_process(COMMAND ${ARGN}
        RESULT_VARIABLE result
        OUTPUT_VARIABLE output
        ERROR_VARIABLE output)
    if(NOT result EQUAL 0)
        message(FATAL_ERROR "install_consumer: ${step} failed (${result}):\n${output}")
    endif()
    message(STATUS "install_consumer: ${step}: ok")
    set(last_output "${output}" PARENT_SCOPE)
endfunction()

run("install" ${CMAKE_COMMAND} --install ${KENNEL_BUILD_DIR} --prefix ${prefix})

# The files a consumer relies on, checked by name so a failure says what is missing.
file(GLOB_RECURSE config_files ${prefix}/*/KennelConfig.cmake)
if(NOT config_files)
    message(FATAL_ERROR "install_consumer: no KennelConfig.cmake under ${prefix}")
endif()
foreach(header kennelclient.h brokeraddress.h framecodec.h frame.h names.h legacyframe.h kennel_export.h
               kennel.h wire.h export.h)
    if(NOT EXISTS ${prefix}/include/kennel/${header})
        message(FATAL_ERROR "install_consumer: include/kennel/${header} was not installed")
    endif()
endforeach()
if(EXISTS ${prefix}/include/kennel/clientconnection.h)
    message(FATAL_ERROR "install_consumer: the private clientconnection.h was installed")
endif()

set(configure_args -S ${CONSUMER_SOURCE_DIR} -B ${consumer_build} -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
if(MAKE_PROGRAM)
    list(APPEND configure_args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
if(CXX_COMPILER)
    list(APPEND configure_args -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
endif()
if(QT6_DIR)
    # Qt found where the main build found it, whether or not that is a default location.
    list(APPEND configure_args -DQt6_DIR=${QT6_DIR})
endif()
run("configure consumer" ${CMAKE_COMMAND} ${configure_args})
run("build consumer" ${CMAKE_COMMAND} --build ${consumer_build})

# No LD_LIBRARY_PATH: the consumer must find libkennelclient through the package alone.
run("run consumer" ${consumer_build}/kennel_consumer)
if(NOT last_output MATCHES "consumer: OK")
    message(FATAL_ERROR "install_consumer: the consumer did not report OK:\n${last_output}")
endif()

find_program(kennelctl NAMES kennelctl PATHS ${prefix}/bin NO_DEFAULT_PATH)
if(NOT kennelctl)
    message(FATAL_ERROR "install_consumer: bin/kennelctl was not installed")
endif()
run("run installed kennelctl" ${kennelctl} --version)
# The man pages and completions generated from --help (clientlib/clidoc) go where man and
# bash-completion look.
foreach(program kennel-broker kennelctl kennel-monitor)
    if(NOT EXISTS ${prefix}/share/man/man1/${program}.1)
        message(FATAL_ERROR "install_consumer: share/man/man1/${program}.1 was not installed")
    endif()
    if(NOT EXISTS ${prefix}/share/bash-completion/completions/${program})
        message(FATAL_ERROR "install_consumer: share/bash-completion/completions/${program} was not installed")
    endif()
endforeach()

# --- The C library: through CMake's package (the C component alone, no Qt), and through
# pkg-config the way a Makefile or a cross build uses it. ---
if(C_CONSUMER_SOURCE_DIR)
    set(c_consumer_build ${WORK_DIR}/c-consumer-build)
    set(c_args -S ${C_CONSUMER_SOURCE_DIR} -B ${c_consumer_build} -G ${GENERATOR}
        -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
    if(MAKE_PROGRAM)
        list(APPEND c_args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
    endif()
    if(C_COMPILER)
        list(APPEND c_args -DCMAKE_C_COMPILER=${C_COMPILER})
    endif()
    run("configure C consumer" ${CMAKE_COMMAND} ${c_args})
    run("build C consumer" ${CMAKE_COMMAND} --build ${c_consumer_build})
    run("run C consumer" ${c_consumer_build}/kennel_c_consumer)
    if(NOT last_output MATCHES "c consumer: OK")
        message(FATAL_ERROR "install_consumer: the C consumer did not report OK:\n${last_output}")
    endif()

    file(GLOB_RECURSE pc_files ${prefix}/*/pkgconfig/kennel.pc)
    if(NOT pc_files)
        message(FATAL_ERROR "install_consumer: no pkgconfig/kennel.pc under ${prefix}")
    endif()
    list(GET pc_files 0 pc_file)
    get_filename_component(pc_dir ${pc_file} DIRECTORY)
    find_program(pkg_config NAMES pkg-config pkgconf REQUIRED)
    run("pkg-config kennel" ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pc_dir} ${pkg_config} --cflags --libs kennel)
    string(STRIP "${last_output}" pc_flags)
    separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
    # The prefix the flags name must be this install, not the configured CMAKE_INSTALL_PREFIX.
    if(NOT pc_flags MATCHES "${prefix}")
        message(FATAL_ERROR "install_consumer: pkg-config's flags do not point into ${prefix}: ${pc_flags}")
    endif()
    run("pkg-config kennel libdir" ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pc_dir} ${pkg_config} --variable=libdir kennel)
    string(STRIP "${last_output}" pc_libdir)
    separate_arguments(env_cflags UNIX_COMMAND "$ENV{CFLAGS} $ENV{LDFLAGS}")
    # The documented example, compiled the way docs/C-LIBRARY.md says, against the installed files.
    run("cc kennel-echo.c $(pkg-config --cflags --libs kennel)"
        ${C_COMPILER} -std=c11 -Wall -Wextra -Werror ${env_cflags} ${C_EXAMPLE} ${pc_flags}
        -Wl,-rpath,${pc_libdir} -o ${WORK_DIR}/kennel-echo)
    execute_process(COMMAND ${WORK_DIR}/kennel-echo RESULT_VARIABLE result ERROR_VARIABLE output OUTPUT_VARIABLE output)
    if(NOT result EQUAL 2 OR NOT output MATCHES "usage:")
        message(FATAL_ERROR "install_consumer: the pkg-config-built example did not run (${result}):\n${output}")
    endif()
    message(STATUS "install_consumer: run pkg-config-built example: ok")
endif()
