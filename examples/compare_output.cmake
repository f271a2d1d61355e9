# Runs PROGRAM and fails unless its standard output is byte for byte EXPECTED.
#   cmake -DPROGRAM=<exe> -DEXPECTED=<file> [-DEMULATOR=wine] -P compare_output.cmake
# A Windows program (run through EMULATOR) ends its lines with CR LF, as
# text mode does there: those are compared as LF, and nothing else is eased.
execute_process(COMMAND ${EMULATOR} "${PROGRAM}" OUTPUT_VARIABLE actual RESULT_VARIABLE rc)
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
