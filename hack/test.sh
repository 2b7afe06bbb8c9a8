#!/usr/bin/env bash
# Sets everything up and runs the test suite: the README's test command, and what CI runs.
#
#   hack/test.sh                 install dependencies, build, check formatting, run unit +
#                                integration + e2e tests
#   hack/test.sh -L unit         pass ctest arguments through (here: only the unit tests)
#   hack/test.sh -R smoke        one test by name
#
# Environment: BUILD_DIR (default build), DSO_SKIP_INSTALL=1 to skip hack/install-deps.sh,
# DSO_JOBS (default: number of cores).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${DSO_SKIP_INSTALL:-0}" != 1 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    hack/install-deps.sh
  else
    sudo hack/install-deps.sh
  fi
fi

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${DSO_JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
hack/lint.sh  # clang-format on every C++ file (docs/development.md)

# Benchmarks are excluded by default (they print tables for docs/; run them with hack/bench.sh).
if [ $# -eq 0 ]; then
  set -- -LE 'bench'
fi
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 900 "$@"
