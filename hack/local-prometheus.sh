#!/usr/bin/env bash
# A real Prometheus server on loopback, for tests and local development.
#
#   hack/local-prometheus.sh start [NAME] [--config FILE] [--tsdb DIR] [--retention DURATION]
#       start (or restart) Prometheus NAME (default "dev"); waits for /-/ready
#       --config     prometheus.yml to use (default: no scrape targets; evaluation every 15s)
#       --tsdb       an existing TSDB directory to serve (e.g. blocks made by promtool backfill)
#       --retention  storage.tsdb.retention.time (default 3650d, so backfilled blocks are kept)
#       --port       listen on this port (default: a free one; e.g. to restart on the same URL)
#   hack/local-prometheus.sh stop [NAME]    stop it and delete its state
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
die() { echo "local-prometheus.sh [$name]: $*" >&2; exit 1; }

config="" tsdb="" retention=3650d fixed_port=""
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config=$2; shift 2 ;;
    --tsdb) tsdb=$2; shift 2 ;;
    --retention) retention=$2; shift 2 ;;
    --port) fixed_port=$2; shift 2 ;;
    *) die "unknown argument '$1'" ;;
  esac
done

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

do_stop() {
  if [ -f "$DIR/pid" ]; then
    local pid; pid=$(cat "$DIR/pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$DIR"
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
    for _ in $(seq 1 200); do
      port=$((20000 + RANDOM % 20000))
      port_free "$port" && break
    done
  fi
  echo "$port" >"$DIR/port"
  if [ -z "$config" ]; then
    config=$DIR/prometheus.yml
    printf 'global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\nscrape_configs: []\n' >"$config"
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
  echo "local-prometheus.sh [$name]: ready at http://127.0.0.1:$port" >&2
}

case "$cmd" in
  start) do_start ;;
  stop) do_stop ;;
  env) [ -f "$DIR/port" ] || die "not started"; echo "export DSO_PROMETHEUS_URL=http://127.0.0.1:$(cat "$DIR/port")" ;;
  *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
