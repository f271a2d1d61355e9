# Cross-compiling mpshm's Win32 path on Debian with mingw-w64, run under Wine:
#   cmake -S . -B build/win32 -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake
# (scripts/win32-test.sh does it all). The -posix compiler variant: the
# -win32 one has no std::mutex, so GoogleTest does not build with it.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Static: the programs then need no mingw DLLs beside them under Wine.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
# ctest runs the cross-built programs through Wine.
find_program(MPSHM_WINE wine)
if(MPSHM_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${MPSHM_WINE})
endif()
