#!/usr/bin/env bash
# Runs the benchmarks (ctest label "bench"); each prints the table recorded in docs/.
#
#   hack/bench.sh               all benchmarks (installs the peers: Prophet, statsmodels, wrk, ...)
#   hack/bench.sh -R predictor  one benchmark by name
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${DSO_SKIP_INSTALL:-0}" != 1 ]; then
  if [ "$(id -u)" -eq 0 ]; then hack/install-deps.sh --bench; else sudo hack/install-deps.sh --bench; fi
fi
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
cd "$BUILD_DIR"
ctest --output-on-failure -V -L bench "$@"
