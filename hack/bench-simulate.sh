#!/usr/bin/env bash
# Builds and runs the simulate benchmark (tests/bench/sim): every policy on nyc_taxi,
# crane_input1, crane_input2 and crane_input8 (tests/data) with --peak-replicas 20 and cold
# starts of 5 and 10 minutes; prints each table and the seasonal policy's targets.
#
#   hack/bench-simulate.sh                  all four traces
#   hack/bench-simulate.sh FILE.csv ...     other traces
#
# Environment: BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DDSO_BUILD_INFERENCE=OFF >/dev/null
cmake --build "$BUILD_DIR" --target bench_simulate | grep -v "^\[" || true
test -x "$BUILD_DIR/tests/bench/sim/bench_simulate"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -srm), $(nproc) cores, commit $(git rev-parse --short HEAD)"
exec "$BUILD_DIR/tests/bench/sim/bench_simulate" "$@"
