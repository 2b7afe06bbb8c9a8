#!/usr/bin/env bash
# See it work: the whole loop on this machine, no GPU needed. Starts a local control plane with
# testbed nodes (pods run the real inference server as local processes), Prometheus discovering the
# pods with the Helm chart's relabelling, and the operator with the chart's arguments; applies a
# DeepSeekService in predictive Auto mode; backfills two weeks of a real trace (crane_input1, a
# production service with a sharp daily rise) as the service's request counter; then replays the
# next minutes live, across the rise, with a progress line, and writes the per-second results and a
# chart to out/demo/.
#
#   hack/demo.sh              set up (hack/install-deps.sh), build, run (about 10 minutes)
#   hack/demo.sh --keep       leave the cluster, Prometheus and the operator running at the end
#
# Environment: DSO_SKIP_INSTALL=1 skips the dependency check; BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done
say() { printf '\n==> %s\n' "$*"; }

if [ "${DSO_SKIP_INSTALL:-0}" != 1 ]; then
  if [ "$(id -u)" -eq 0 ]; then hack/install-deps.sh; else sudo hack/install-deps.sh; fi
fi
BUILD=${BUILD_DIR:-build}
say "building"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target deepseek-operator deepseek-inference-server \
  dso-testbed-node dso-chart-render dso-loadgen dso-trace-backfill

export DSO_CLUSTER_ROOT=${DSO_CLUSTER_ROOT:-/tmp/dso-clusters}
export DSO_BUILD_DIR=$PWD/$BUILD DSO_CHART_RENDER=$PWD/$BUILD/tests/e2e/chart_render/dso-chart-render
OUT=$PWD/out/demo
HELM=${DSO_HELM:-/var/cache/deepseek-operator/bin/helm}
NS=demo SERVICE=chat SCALE=4 RISE_ROW=$((14 * 1440 + 663))
rm -rf "$OUT" && mkdir -p "$OUT"
operator_pid=""
cleanup() {
  [ -n "$operator_pid" ] && kill "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null
  hack/local-prometheus.sh stop demo >/dev/null 2>&1 || true
  hack/local-cluster.sh stop demo >/dev/null 2>&1 || true
}
[ "$keep" -eq 1 ] || trap cleanup EXIT

say "a control plane with 4 testbed nodes (8 GPUs each)"
hack/local-cluster.sh start demo --nodes 4
export KUBECONFIG=$DSO_CLUSTER_ROOT/demo/kubeconfig
kubectl apply -f crds/deepseekservices.inference.deepseek.io.yaml
kubectl wait --for=condition=Established --timeout=60s crd/deepseekservices.inference.deepseek.io
kubectl create namespace "$NS"

# The clock: the live replay starts on a whole minute at least 60 s from now, the trace's rise
# 3 minutes later (60-240 s into one of the autoscaler's 5-minute forecast steps).
live=$(( ( $(date +%s) + 60 + 59 ) / 60 * 60 ))
rise=$(( live + 180 )); while [ $(( rise % 300 )) -eq 0 ]; do rise=$(( rise + 60 )); done
end=$(( rise + 300 ))

say "two weeks of crane_input1 as the service's request counter (promtool)"
"$BUILD/tests/e2e/dso-trace-backfill" --trace tests/data/crane_input1.csv --scale "$SCALE" \
  --namespace "$NS" --service "$SERVICE" --row "$RISE_ROW" --at "$rise" --until "$live" \
  --out "$OUT/backfill.om"
promtool tsdb create-blocks-from openmetrics "$OUT/backfill.om" "$OUT/tsdb" >/dev/null
rm -f "$OUT/backfill.om"

say "Prometheus, discovering the pods with the chart's PodMonitor relabelling"
printf 'metrics:\n  podMonitor:\n    enabled: true\n    interval: 5s\nprometheus:\n  rateWindow: 20s\n' >"$OUT/values.yaml"
hack/local-prometheus.sh start demo --kube-cluster demo --chart-values "$OUT/values.yaml" \
  --scrape-interval 5s --tsdb "$OUT/tsdb"
prom=$(hack/local-prometheus.sh env demo | sed 's/.*=//')

say "the operator, with the chart's arguments"
mapfile -t args < <("$HELM" template dso charts/deepseek-operator -n dso-system -f "$OUT/values.yaml" \
  --set prometheus.url="$prom" | "$DSO_CHART_RENDER" operator-args --manifests -)
kubectl create namespace dso-system
echo "deepseek-operator ${args[*]} --kubeconfig=$KUBECONFIG"
"$BUILD/operator/cmd/deepseek-operator" "${args[@]}" --kubeconfig="$KUBECONFIG" \
  --health-addr=0 >"$OUT/operator.log" 2>&1 &
operator_pid=$!

say "a DeepSeekService in predictive Auto mode (30 s model load: a real cold start)"
kubectl -n "$NS" apply -f - <<YAML
apiVersion: inference.deepseek.io/v1alpha1
kind: DeepSeekService
metadata: {name: $SERVICE}
spec:
  model:
    name: chat-model
    image: ghcr.io/deepseek-operator/inference-server:0.1.0
    args: ["--gpu-sim-step-ms=20", "--max-batch-size=16", "--gpu-sim-load-s=30",
           "--max-queue-wait-ms=3000"]
  drain: {terminationGracePeriodSeconds: 30, preStopSeconds: 3}
  autoscaling:
    minReplicas: 1
    maxReplicas: 10
    metrics: [{type: RequestsPerSecond, target: 12}]
    predictive: {mode: Auto, history: 14d, coldStart: 40s, maxForecastError: 3}
YAML
kubectl -n "$NS" wait --for=condition=Ready --timeout=180s "dss/$SERVICE"
kubectl -n "$NS" get dss

say "replaying the trace live from $(date -u -d @"$live" +%H:%M:%S) UTC; the rise comes at $(date -u -d @"$rise" +%H:%M:%S)"
sleep $(( live - $(date +%s) ))
"$BUILD/tests/e2e/loadgen/dso-loadgen" --kubeconfig "$KUBECONFIG" --service "$NS/$SERVICE-default" \
  --model chat-model --trace tests/data/crane_input1.csv --trace-scale "$SCALE" \
  --trace-start-row $(( RISE_ROW - (rise - live) / 60 )) --duration $(( end - live ))s \
  --stream=false --seed 2026 --progress --csv "$OUT/load.csv" --svg "$OUT/load.svg" \
  | tee "$OUT/summary.json"

say "where it ended"
kubectl -n "$NS" get dss
"$BUILD/operator/cmd/deepseek-operator" explain "$NS/$SERVICE" --kubeconfig "$KUBECONFIG" || true
echo
echo "per-second results: $OUT/load.csv; chart: $OUT/load.svg; operator log: $OUT/operator.log"
[ "$keep" -eq 0 ] || echo "still running (--keep): hack/local-prometheus.sh stop demo; hack/local-cluster.sh stop demo; kill $operator_pid"
