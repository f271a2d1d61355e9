#!/usr/bin/env bash
# Cross-builds mpshm's Win32 path with mingw-w64 and runs its tests and
# examples under Wine (no display needed).
#
# Environment (all optional):
#   MPSHM_BUILD_DIR  build directory (default build/win32)
#   WINEPREFIX       Wine's prefix (default <build>/wineprefix; ~700 MB)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh
# The -posix compiler variant: the -win32 one has no std::mutex.
mpshm_ensure_deps g++-mingw-w64-x86-64-posix wine googletest

build=${MPSHM_BUILD_DIR:-build/win32}
# Boost is header-only: the host's headers serve, reached through a folder
# of their own (adding /usr/include would mix glibc's headers into mingw's).
mkdir -p "$build/deps/include"
ln -sfn /usr/include/boost "$build/deps/include/boost"
cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake \
  -DCMAKE_BUILD_TYPE=Release \
  -DMPSHM_BOOST_INCLUDE_DIR="$PWD/$build/deps/include" \
  -DMPSHM_GTEST_SOURCE_DIR=/usr/src/googletest \
  -DMPSHM_BUILD_TESTS=ON -DMPSHM_BUILD_EXAMPLES=ON -DMPSHM_BUILD_BENCH=OFF \
  -DMPSHM_BUILD_TOOLS=OFF -DMPSHM_INSTALL=OFF

export WINEPREFIX=${WINEPREFIX:-$PWD/$build/wineprefix}
export WINEDEBUG=-all
unset DISPLAY
# Debian's wine stops its server after every program unless one is kept
# running: start it once (and the prefix with it), stop it at the end.
mkdir -p "$WINEPREFIX"
wineserver -p
trap 'wineserver -k >/dev/null 2>&1 || true' EXIT
wine cmd /c exit </dev/null >/dev/null 2>&1 || true

# gtest_discover_tests lists each test program through Wine while building.
cmake --build "$build" -j "$(nproc)"
# Wine's process creation fails now and then under load (CreateProcessW
# returns ERROR_INTERNAL_ERROR, "Internal error", for a child that Windows
# itself starts): a test that fails is run again, up to three times in all,
# and only a test that fails every time fails the stage.
ctest --test-dir "$build" --output-on-failure -j 2 --repeat until-pass:3
