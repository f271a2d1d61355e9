# Installs mpshm into a scratch prefix (find_package mode) or points at its
# sources (add_subdirectory mode), then configures, builds and runs a consumer.
#   cmake -DMODE=find_package|add_subdirectory -DSOURCE_DIR= -DBINARY_DIR=
#         -DWORK_DIR= -DCXX= -DGENERATOR= -P run_consumer.cmake
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
set(build "${WORK_DIR}/build")
set(args -S "${SOURCE_DIR}/tests/consumer" -B "${build}" -G "${GENERATOR}"
         -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=Release)
if(MODE STREQUAL "find_package")
  set(prefix "${WORK_DIR}/prefix")
  run(${CMAKE_COMMAND} --install "${BINARY_DIR}" --prefix "${prefix}")
  if(NOT EXISTS "${prefix}/share/cmake/mpshm/mpshmConfig.cmake")
    message(FATAL_ERROR "the install did not produce mpshmConfig.cmake")
  endif()
  list(APPEND args -DCMAKE_PREFIX_PATH=${prefix})
else()
  list(APPEND args -DMPSHM_SOURCE_DIR=${SOURCE_DIR})
endif()
run(${CMAKE_COMMAND} ${args})
run(${CMAKE_COMMAND} --build "${build}")
run("${build}/consumer")
