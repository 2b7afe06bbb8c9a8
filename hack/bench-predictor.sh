#!/usr/bin/env bash
# Side-by-side benchmark of the predictor against Prophet (R, r-cran-prophet) and statsmodels
# ExponentialSmoothing on the same rolling-origin folds, in one run (docs/predictor.md).
#
#   hack/bench-predictor.sh            build predictor_bench, run the peers, print the tables
#   hack/bench-predictor.sh --no-m4    skip the M4 hourly validation set
#
# Needs the peers: hack/install-deps.sh --bench (r-cran-prophet, python3-statsmodels, pandas).
# Environment: BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
m4=--m4
for arg in "$@"; do
  case "$arg" in
    --no-m4) m4= ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "bench-predictor.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done
for p in r-cran-prophet python3-statsmodels python3-pandas; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || {
    echo "bench-predictor.sh: $p is missing: run hack/install-deps.sh --bench" >&2; exit 1; }
done
BUILD_DIR=${BUILD_DIR:-build}
[ -f "$BUILD_DIR/build.ninja" ] || cmake -S . -B "$BUILD_DIR" -G Ninja -DDSO_BUILD_INFERENCE=OFF >/dev/null
cmake --build "$BUILD_DIR" --target predictor_bench >/dev/null
bench="$BUILD_DIR/tests/bench/predictor/predictor_bench"
folds=$(mktemp -d /tmp/dso-bench-predictor.XXXXXX)
trap 'rm -rf "$folds"' EXIT

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(. /etc/os-release; echo "$PRETTY_NAME")" >&2
"$bench" --write-folds "$folds" --no-hour >/dev/null
echo "# Prophet (R) on $(find "$folds" -name '*.meta' | wc -l) folds..." >&2
Rscript hack/bench/prophet_folds.R "$folds" >&2
echo "# statsmodels ExponentialSmoothing..." >&2
/usr/bin/python3 hack/bench/statsmodels_folds.py "$folds" >&2
"$bench" --folds "$folds" $m4
