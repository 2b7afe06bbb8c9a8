#!/usr/bin/env bash
# A real Prometheus server on loopback, for tests and local development.
#
#   hack/local-prometheus.sh start [NAME] [--config FILE] [--tsdb DIR] [--retention DURATION]
#       start (or restart) Prometheus NAME (default "dev"); waits for /-/ready
#       --config     prometheus.yml to use (default: no scrape targets; evaluation every 15s)
#       --tsdb       an existing TSDB directory to serve (e.g. blocks made by promtool backfill)
#       --retention  storage.tsdb.retention.time (default 3650d, so backfilled blocks are kept)
#       --port       listen on this port (default: a free one; e.g. to restart on the same URL)
#       --scrape-interval  global scrape and evaluation interval (default 15s)
#   hack/local-prometheus.sh start NAME --kube-cluster CLUSTER [--chart-values FILE] [--namespace NS]
#       discover the inference pods of cluster CLUSTER (hack/local-cluster.sh) as the chart's
#       PodMonitor makes the Prometheus Operator do: `helm template` of charts/deepseek-operator
#       (release dso in dso-system, metrics.podMonitor.enabled=true, plus FILE) through
#       `dso-chart-render scrape-config` ($DSO_CHART_RENDER, default
#       build/tests/e2e/chart_render/dso-chart-render) with the cluster's API server, CA and admin
#       token; DIR/manifests.yaml and DIR/prometheus.yml keep what was rendered
#       --namespace  discover only in NS (repeatable; default: what the PodMonitor selects)
#       --discovery  kubernetes (kubernetes_sd_configs), http (`dso-chart-render pod-sd` serving
#                    the pods over HTTP SD, for a Prometheus without Kubernetes discovery such as
#                    Debian's) or auto (default: kubernetes when promtool accepts it, else http)
#   hack/local-prometheus.sh stop [NAME]    stop it (and its pod-sd) and delete its state
#   hack/local-prometheus.sh env  [NAME]    print `export DSO_PROMETHEUS_URL=...`
#
# State lives under $DSO_CLUSTER_ROOT/prometheus-NAME (default /tmp/dso-clusters).
set -euo pipefail

cmd=${1:-}
name=${2:-dev}
case "$name" in *[!a-zA-Z0-9_-]*|"") echo "local-prometheus.sh: bad name '$name'" >&2; exit 2 ;; esac
shift $(( $# >= 2 ? 2 : $# ))
ROOT=${DSO_CLUSTER_ROOT:-/tmp/dso-clusters}
DIR=$ROOT/prometheus-$name
READY_TIMEOUT=${DSO_READY_TIMEOUT:-60}
REPO=$(cd "$(dirname "$0")/.." && pwd)
RENDER=${DSO_CHART_RENDER:-$REPO/build/tests/e2e/chart_render/dso-chart-render}
HELM=${DSO_HELM:-/var/cache/deepseek-operator/bin/helm}
die() { echo "local-prometheus.sh [$name]: $*" >&2; exit 1; }

config="" tsdb="" retention=3650d fixed_port="" scrape_interval=15s
kube_cluster="" chart_values="" discovery=auto namespaces=()
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || die "$1: missing value"
  case "$1" in
    --config) config=$2 ;;
    --tsdb) tsdb=$2 ;;
    --retention) retention=$2 ;;
    --port) fixed_port=$2 ;;
    --scrape-interval) scrape_interval=$2 ;;
    --kube-cluster) kube_cluster=$2 ;;
    --chart-values) chart_values=$(realpath "$2") || die "--chart-values: no file '$2'" ;;
    --namespace) namespaces+=("--namespace" "$2") ;;
    --discovery) discovery=$2 ;;
    *) die "unknown argument '$1'" ;;
  esac
  shift 2
done
[ -z "$kube_cluster" ] || [ -z "$config" ] || die "--config and --kube-cluster exclude each other"
[ -n "$kube_cluster" ] || { [ -z "$chart_values" ] && [ ${#namespaces[@]} -eq 0 ]; } \
  || die "--chart-values and --namespace need --kube-cluster"
case "$discovery" in auto|kubernetes|http) ;; *) die "--discovery: '$discovery' is not auto, kubernetes or http" ;; esac

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 20000))
    port_free "$p" && { echo "$p"; return; }
  done
  die "no free loopback port found"
}

# Stops the process whose pid is in DIR/FILE (TERM, then KILL after 10 s).
stop_pidfile() {
  [ -f "$DIR/$1" ] || return 0
  local pid; pid=$(cat "$DIR/$1")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$DIR/$1"
}

do_stop() {
  stop_pidfile pid
  stop_pidfile pod-sd.pid
  rm -rf "$DIR"
}

# Whether this Prometheus has Kubernetes service discovery (Debian's is built without it).
has_kubernetes_sd() {
  printf 'scrape_configs:\n  - job_name: probe\n    kubernetes_sd_configs:\n      - role: pod\n' \
    >"$DIR/probe.yml"
  promtool check config "$DIR/probe.yml" >/dev/null 2>&1
}

# Starts `dso-chart-render pod-sd` for the cluster on a free port; sets pod_sd_url.
start_pod_sd() {
  local port; port=$(free_port)
  setsid "$RENDER" pod-sd --listen "127.0.0.1:$port" --api-server "$DSO_APISERVER" \
    --ca-file "$DSO_CA_FILE" --bearer-token-file "$DSO_TOKEN_FILE" \
    >"$DIR/pod-sd.log" 2>&1 </dev/null &
  echo $! >"$DIR/pod-sd.pid"
  local deadline=$((SECONDS + READY_TIMEOUT))
  until curl -sS -o /dev/null "http://127.0.0.1:$port/pods?namespaces=default" 2>/dev/null; do
    kill -0 "$(cat "$DIR/pod-sd.pid")" 2>/dev/null || { cat "$DIR/pod-sd.log" >&2; die "pod-sd exited"; }
    [ $SECONDS -lt $deadline ] || die "pod-sd not answering within ${READY_TIMEOUT}s"
    sleep 0.2
  done
  pod_sd_url=http://127.0.0.1:$port
}

# Writes DIR/prometheus.yml from the chart's PodMonitor for cluster $kube_cluster.
render_config() {
  [ -x "$RENDER" ] || die "$RENDER missing: build the dso-chart-render target (or set DSO_CHART_RENDER)"
  [ -x "$HELM" ] || HELM=$(command -v helm) || die "helm missing: run hack/install-deps.sh"
  local env_out
  env_out=$("$REPO/hack/local-cluster.sh" env "$kube_cluster") || die "cluster '$kube_cluster' is not started"
  eval "$env_out"
  "$HELM" template dso "$REPO/charts/deepseek-operator" -n dso-system \
    --set metrics.podMonitor.enabled=true ${chart_values:+-f "$chart_values"} \
    >"$DIR/manifests.yaml" 2>"$DIR/helm.log" || { cat "$DIR/helm.log" >&2; die "helm template failed"; }
  if [ "$discovery" = auto ]; then
    if has_kubernetes_sd; then discovery=kubernetes; else discovery=http; fi
  fi
  local sd=(--api-server "$DSO_APISERVER" --ca-file "$DSO_CA_FILE" --bearer-token-file "$DSO_TOKEN_FILE")
  if [ "$discovery" = http ]; then
    # Check the render before starting anything; the URL is filled in below.
    "$RENDER" scrape-config --manifests "$DIR/manifests.yaml" --pod-sd-url http://127.0.0.1:1 \
      --scrape-interval "$scrape_interval" "${namespaces[@]}" >/dev/null || die "dso-chart-render failed"
    trap 'stop_pidfile pod-sd.pid' EXIT
    start_pod_sd
    sd=(--pod-sd-url "$pod_sd_url")
  fi
  "$RENDER" scrape-config --manifests "$DIR/manifests.yaml" "${sd[@]}" \
    --scrape-interval "$scrape_interval" "${namespaces[@]}" >"$DIR/prometheus.yml" \
    || die "dso-chart-render failed"
  config=$DIR/prometheus.yml
  echo "local-prometheus.sh [$name]: pods of cluster $kube_cluster by $discovery discovery ($config)" >&2
}

do_start() {
  command -v prometheus >/dev/null || die "prometheus missing: run hack/install-deps.sh"
  [ -d "$DIR" ] && do_stop
  mkdir -p "$DIR"
  local port
  if [ -n "$fixed_port" ]; then
    port=$fixed_port
    port_free "$port" || die "port $port is in use"
  else
    port=$(free_port)
  fi
  echo "$port" >"$DIR/port"
  [ -z "$kube_cluster" ] || render_config
  if [ -z "$config" ]; then
    config=$DIR/prometheus.yml
    printf 'global:\n  scrape_interval: %s\n  evaluation_interval: %s\nscrape_configs: []\n' \
      "$scrape_interval" "$scrape_interval" >"$config"
  fi
  [ -n "$tsdb" ] || tsdb=$DIR/data
  setsid prometheus --config.file="$config" --storage.tsdb.path="$tsdb" \
    --storage.tsdb.retention.time="$retention" --web.listen-address="127.0.0.1:$port" \
    --web.enable-lifecycle --web.enable-admin-api >"$DIR/prometheus.log" 2>&1 </dev/null &
  echo $! >"$DIR/pid"
  local deadline=$((SECONDS + READY_TIMEOUT))
  until curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; do
    kill -0 "$(cat "$DIR/pid")" 2>/dev/null || { tail -n 20 "$DIR/prometheus.log" >&2; die "exited (log: $DIR/prometheus.log)"; }
    [ $SECONDS -lt $deadline ] || die "not ready within ${READY_TIMEOUT}s (log: $DIR/prometheus.log)"
    sleep 0.3
  done
  trap - EXIT
  echo "local-prometheus.sh [$name]: ready at http://127.0.0.1:$port" >&2
}

case "$cmd" in
  start) do_start ;;
  stop) do_stop ;;
  env) [ -f "$DIR/port" ] || die "not started"; echo "export DSO_PROMETHEUS_URL=http://127.0.0.1:$(cat "$DIR/port")" ;;
  *) sed -n '2,25p' "$0" >&2; exit 2 ;;
esac
