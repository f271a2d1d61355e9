#!/usr/bin/env bash
# Builds mpshm's libFuzzer harnesses (tests/fuzz: one per attach path) with
# clang, AddressSanitizer and UBSan, and fuzzes each for a bounded time, two
# at a time, from a copy of the seed corpus in the build tree (the repository
# is never written to). A finding fails the run and leaves its input in
# <build>/tests/fuzz/work/<harness>/artifacts/.
#
# Environment (all optional):
#   MPSHM_FUZZ_SECONDS  seconds per harness (default 20)
#   MPSHM_BUILD_DIR     build directory (default build/fuzz)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh

# Debian's clang only recommends its sanitizer and libFuzzer runtimes.
mpshm_ensure_deps clang libclang-rt-14-dev

build=${MPSHM_BUILD_DIR:-build/fuzz}
# -O1 -g without -DNDEBUG: assertions (Boost's included) stay on.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DCMAKE_CXX_COMPILER=clang++ -DMPSHM_BUILD_TESTS=ON -DMPSHM_BUILD_EXAMPLES=OFF \
  -DMPSHM_BUILD_BENCH=OFF -DMPSHM_BUILD_FUZZERS=ON \
  -DMPSHM_FUZZ_SECONDS="${MPSHM_FUZZ_SECONDS:-20}"
cmake --build "$build" --target mpshm_fuzzers -j "$(nproc)"
ctest --test-dir "$build" -L fuzz --output-on-failure -j 2
