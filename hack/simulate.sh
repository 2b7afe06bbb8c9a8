#!/usr/bin/env bash
# Sets everything up and runs the main job: `deepseek-operator simulate` on the bundled real trace
# (NYC taxi demand, NAB), comparing this project's predictive policy with HPA-, Knative-, AIBrix- and
# Crane-style autoscaling. Extra arguments go to `simulate` (see `deepseek-operator simulate --help`).
#
#   hack/simulate.sh                         all policies on the bundled trace, results in out/simulate
#   hack/simulate.sh --cold-start 10m        the same with 10-minute cold starts
#   hack/simulate.sh --trace FILE.csv        your own trace (CSV: timestamp,value)
#
# Environment: BUILD_DIR (default build), DSO_SKIP_INSTALL=1 to skip hack/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${DSO_SKIP_INSTALL:-0}" != 1 ]; then
  if [ "$(id -u)" -eq 0 ]; then hack/install-deps.sh; else sudo hack/install-deps.sh; fi
fi
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target deepseek-operator
has_out=0
for a in "$@"; do [ "$a" = --out ] && has_out=1; done
if [ $has_out -eq 0 ]; then set -- --out out/simulate "$@"; fi
exec "$BUILD_DIR/operator/cmd/deepseek-operator" simulate "$@"
