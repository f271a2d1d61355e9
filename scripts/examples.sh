#!/usr/bin/env bash
# Builds every example in examples/ and runs each, printing its output.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh
mpshm_ensure_deps

build=${MPSHM_BUILD_DIR:-build/examples}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMPSHM_BUILD_TESTS=OFF -DMPSHM_BUILD_EXAMPLES=ON -DMPSHM_BUILD_BENCH=OFF
cmake --build "$build" -j "$(nproc)"
while read -r example; do
  [[ -z "$example" ]] && continue
  echo "=== examples/$example.cpp"
  "$build/examples/$example"
done <"$build/examples/examples.txt"
