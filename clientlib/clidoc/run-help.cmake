# cmake -DPROGRAM=... -DARGUMENT=--help-man|--help-completion -DOUTPUT=... [-DEMULATOR=...] -P run-help.cmake
# Runs the program (offscreen: kennel-monitor is a GUI program) and writes what it prints.
set(ENV{QT_QPA_PLATFORM} offscreen)
# A sanitizer build: the leak checker would fail the build over a tool run.
set(ENV{ASAN_OPTIONS} "detect_leaks=0")
get_filename_component(dir ${OUTPUT} DIRECTORY)
file(MAKE_DIRECTORY ${dir})
execute_process(COMMAND ${EMULATOR} ${PROGRAM} ${ARGUMENT}
                OUTPUT_FILE ${OUTPUT}.tmp
                RESULT_VARIABLE result)
if(NOT result EQUAL 0)
    file(REMOVE ${OUTPUT}.tmp)
    message(FATAL_ERROR "${PROGRAM} ${ARGUMENT} failed: ${result}")
endif()
file(RENAME ${OUTPUT}.tmp ${OUTPUT})
