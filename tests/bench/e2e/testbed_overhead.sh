#!/usr/bin/env bash
# What a testbed node agent costs per pod (docs/e2e.md): a local cluster with 2 testbed nodes, then
# N inference-server pods (builtin:gpu-sim, the operator's probes: startup/readiness /readyz,
# liveness /healthz), and the agent's CPU (utime + stime from /proc) over a minute and its RSS,
# with no pod and with N pods. Needs the build's dso-testbed-node and deepseek-inference-server.
#
#   tests/bench/e2e/testbed_overhead.sh [N]     (default 10)
set -euo pipefail
n=${1:-10}
cd "$(dirname "$0")/../../.."
name=tbbench
export DSO_CLUSTER_ROOT=${DSO_CLUSTER_ROOT:-/tmp/dso-clusters}
hack/local-cluster.sh start "$name" --nodes 2 >/dev/null
trap 'hack/local-cluster.sh stop "$name" >/dev/null 2>&1' EXIT
export KUBECONFIG=$DSO_CLUSTER_ROOT/$name/kubeconfig
agent=$(cat "$DSO_CLUSTER_ROOT/$name/testbed.pid")
ticks=$(getconf CLK_TCK)
cpu_seconds() { awk -v t="$ticks" '{print ($14 + $15) / t}' "/proc/$agent/stat"; }
rss_mib() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$agent/status"; }
measure() {  # prints "cpu-seconds-per-minute rss-MiB"
  local a b
  a=$(cpu_seconds); sleep 60; b=$(cpu_seconds)
  echo "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", b - a}') $(rss_mib)"
}
read -r idle_cpu idle_rss < <(measure)
kubectl apply -f - >/dev/null 2>&1 <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: overhead}
spec:
  replicas: $n
  selector: {matchLabels: {app: overhead}}
  template:
    metadata: {labels: {app: overhead}}
    spec:
      containers:
      - name: inference
        image: ghcr.io/deepseek-operator/inference-server:0.1.0
        ports: [{name: http, containerPort: 8000}]
        resources: {limits: {nvidia.com/gpu: "1"}}
        startupProbe: {httpGet: {path: /readyz, port: http}, periodSeconds: 10, failureThreshold: 30}
        readinessProbe: {httpGet: {path: /readyz, port: http}, periodSeconds: 5}
        livenessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 10}
YAML
kubectl rollout status deployment/overhead --timeout=180s >/dev/null
read -r busy_cpu busy_rss < <(measure)
echo "| pods | agent CPU s per minute | agent RSS MiB |"
echo "|---|---|---|"
echo "| 0 | $idle_cpu | $idle_rss |"
echo "| $n | $busy_cpu | $busy_rss |"
awk -v n="$n" -v a="$idle_cpu" -v b="$busy_cpu" -v r0="$idle_rss" -v r1="$busy_rss" \
  'BEGIN {printf "per pod: %.3f CPU s per minute (%.2f%% of a core), %.2f MiB RSS\n", (b - a) / n, 100 * (b - a) / n / 60, (r1 - r0) / n}'
