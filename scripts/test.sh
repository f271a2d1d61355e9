#!/usr/bin/env bash
# Builds and runs mpshm's whole test suite (unit, multi-process, CPython
# interoperability, examples, package consumer, benchmark smoke runs).
#
# Environment (all optional):
#   MPSHM_CXX        compiler (default g++; clang++ installs clang)
#   MPSHM_SANITIZE   e.g. address,undefined
#   MPSHM_BUILD_DIR  build directory (default build/tests)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh

cxx=${MPSHM_CXX:-g++}
extra=()
if [[ "$cxx" == clang++* ]]; then
  extra+=(clang)
  # Debian's clang only recommends its sanitizer runtimes.
  if [[ -n "${MPSHM_SANITIZE:-}" ]]; then extra+=(libclang-rt-14-dev); fi
fi
mpshm_ensure_deps "${extra[@]}"

build=${MPSHM_BUILD_DIR:-build/tests}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" \
  -DMPSHM_BUILD_TESTS=ON -DMPSHM_BUILD_EXAMPLES=ON -DMPSHM_BUILD_BENCH=ON \
  -DMPSHM_SANITIZE="${MPSHM_SANITIZE:-}"
cmake --build "$build" -j "$(nproc)"
ctest --test-dir "$build" --output-on-failure -j 2
