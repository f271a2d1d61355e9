# Runs PROGRAM and fails unless its standard output is byte for byte EXPECTED
# (and, with STDERR_REGEX, its standard error matches that regular expression).
#   cmake -DPROGRAM=<exe> -DEXPECTED=<file> [-DEMULATOR=wine] [-DSTDERR_REGEX=<re>]
#         -P compare_output.cmake
# A Windows program (run through EMULATOR) ends its lines with CR LF, as
# text mode does there: those are compared as LF, and nothing else is eased.
if(DEFINED STDERR_REGEX)
  execute_process(COMMAND ${EMULATOR} "${PROGRAM}" OUTPUT_VARIABLE actual ERROR_VARIABLE errors
                  RESULT_VARIABLE rc)
  if(NOT errors MATCHES "${STDERR_REGEX}")
    message(FATAL_ERROR "${PROGRAM}'s standard error does not match '${STDERR_REGEX}':\n${errors}")
  endif()
else()
  execute_process(COMMAND ${EMULATOR} "${PROGRAM}" OUTPUT_VARIABLE actual RESULT_VARIABLE rc)
endif()
if(EMULATOR)
  string(REPLACE "\r\n" "\n" actual "${actual}")
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} exited with ${rc}; it printed:\n${actual}")
endif()
file(READ "${EXPECTED}" expected)
if(NOT actual STREQUAL expected)
  message(FATAL_ERROR "${PROGRAM} printed:\n${actual}\nexpected (${EXPECTED}):\n${expected}")
endif()
message(STATUS "output matches ${EXPECTED}")
