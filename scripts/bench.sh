#!/usr/bin/env bash
# Builds the benchmarks (Release) and runs bench/compare.py: mpshm against the
# raw system calls, Boost and CPython, side by side in one run. Arguments go
# to compare.py (--repetitions N, --quick, --update-readme README.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh
mpshm_ensure_deps gnuplot-nox

build=${MPSHM_BUILD_DIR:-build/bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DMPSHM_BUILD_TESTS=OFF -DMPSHM_BUILD_EXAMPLES=OFF -DMPSHM_BUILD_BENCH=ON
cmake --build "$build" -j "$(nproc)"
python3 bench/compare.py --build-dir "$build" "$@"
