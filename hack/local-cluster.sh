#!/usr/bin/env bash
# A real single-node Kubernetes control plane on loopback, for tests and local development:
# etcd + kube-apiserver (RBAC on, TLS with a generated CA) + kube-controller-manager + kube-scheduler.
#
#   hack/local-cluster.sh start [NAME] [--nodes N] [--region R] [--zones A,B] [--gpus G]
#                                        start (or restart) cluster NAME (default "dev"); waits for
#                                        /readyz; with --nodes, N testbed nodes whose pods run as
#                                        real local processes (tests/testbed/README.md)
#   hack/local-cluster.sh stop  [NAME]   stop it and delete its state
#   hack/local-cluster.sh env   [NAME]   print shell exports: KUBECONFIG, DSO_APISERVER, DSO_ETCD, ...
#   hack/local-cluster.sh status [NAME]  exit 0 when its API server answers /readyz
#   hack/local-cluster.sh restart-apiserver [NAME]   kill and restart kube-apiserver only (fault tests)
#
# Several named clusters can run at once: each has its own ports, etcd data, certificates and
# kubeconfig under $DSO_CLUSTER_ROOT/NAME (default /tmp/dso-clusters/NAME). Identities in the
# kubeconfig: "admin" (bearer token, system:masters; the default context) and "admin-cert" (client
# certificate). Binaries come from hack/install-deps.sh. DSO_APISERVER_EXTRA_ARGS adds kube-apiserver
# flags at start (kept across restart-apiserver). Testbed nodes run build/tests/testbed/dso-testbed-node
# ($DSO_TESTBED_BIN) with an image table that maps the inference-server image to the built
# build/inference-pod/deepseek-inference-server ($DSO_INFERENCE_SERVER) serving builtin:gpu-sim
# ($DSO_TESTBED_IMAGES names another table); each cluster gets its own pod /24 on bridge dsotb0.
set -euo pipefail

cmd=${1:-}
name=${2:-dev}
case "$name" in *[!a-zA-Z0-9_-]*|"") echo "local-cluster.sh: bad cluster name '$name'" >&2; exit 2 ;; esac
shift $(( $# >= 2 ? 2 : $# ))
nodes=0 region=local zones="" gpus=8
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --region) region=$2; shift 2 ;;
    --zones) zones=$2; shift 2 ;;
    --gpus) gpus=$2; shift 2 ;;
    *) echo "local-cluster.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${DSO_BUILD_DIR:-$REPO/build}
TESTBED_BIN=${DSO_TESTBED_BIN:-$BUILD/tests/testbed/dso-testbed-node}
INFERENCE_SERVER=${DSO_INFERENCE_SERVER:-$BUILD/inference-pod/deepseek-inference-server}
SUBNETS=/run/dso-testbed/subnets
ROOT=${DSO_CLUSTER_ROOT:-/tmp/dso-clusters}
DIR=$ROOT/$name
CACHE=${DSO_CACHE:-/var/cache/deepseek-operator}
K8S_BIN=${DSO_K8S_BIN:-$CACHE/kubernetes-1.20.2/bin}
READY_TIMEOUT=${DSO_READY_TIMEOUT:-90}

die() { echo "local-cluster.sh [$name]: $*" >&2; exit 1; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 20000))
    if port_free "$p" && ! grep -qx "$p" "$DIR/ports.used" 2>/dev/null; then
      echo "$p" >>"$DIR/ports.used"
      echo "$p"
      return
    fi
  done
  die "no free loopback port found"
}

# Starts a daemon in its own process group, logging to DIR/NAME.log, pid in DIR/NAME.pid.
spawn() {
  local what=$1; shift
  setsid "$@" >"$DIR/$what.log" 2>&1 </dev/null &
  echo $! >"$DIR/$what.pid"
}

kill_one() {
  local pidfile=$DIR/$1.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

make_certs() {
  local c=$DIR/pki
  mkdir -p "$c"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=dso-local-ca-$name" \
    -keyout "$c/ca.key" -out "$c/ca.crt" 2>/dev/null
  cat >"$c/server.ext" <<EXT
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1
extendedKeyUsage=serverAuth
EXT
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout "$c/apiserver.key" \
    -out "$c/apiserver.csr" 2>/dev/null
  openssl x509 -req -in "$c/apiserver.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial \
    -days 3650 -extfile "$c/server.ext" -out "$c/apiserver.crt" 2>/dev/null
  echo "extendedKeyUsage=clientAuth" >"$c/client.ext"
  openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=admin-cert" -keyout "$c/admin.key" \
    -out "$c/admin.csr" 2>/dev/null
  openssl x509 -req -in "$c/admin.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial \
    -days 3650 -extfile "$c/client.ext" -out "$c/admin.crt" 2>/dev/null
  openssl genrsa -out "$c/sa.key" 2048 2>/dev/null
  openssl rsa -in "$c/sa.key" -pubout -out "$c/sa.pub" 2>/dev/null
  local token
  token=$(openssl rand -hex 24)
  echo "$token" >"$c/admin.token"
  echo "$token,admin,admin,system:masters" >"$c/tokens.csv"
  chmod 600 "$c"/*.key "$c/admin.token" "$c/tokens.csv"
}

write_kubeconfig() {
  local c=$DIR/pki server=https://127.0.0.1:$(cat "$DIR/apiserver.port")
  cat >"$DIR/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: $name
  cluster:
    server: $server
    certificate-authority: $c/ca.crt
users:
- name: admin
  user:
    token: $(cat "$c/admin.token")
- name: admin-cert
  user:
    client-certificate: $c/admin.crt
    client-key: $c/admin.key
contexts:
- name: $name
  context: {cluster: $name, user: admin}
- name: $name-cert
  context: {cluster: $name, user: admin-cert}
current-context: $name
KC
  chmod 600 "$DIR/kubeconfig"
}

start_apiserver() {
  local c=$DIR/pki
  spawn kube-apiserver "$K8S_BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$(cat "$DIR/etcd.port")" \
    --bind-address=127.0.0.1 --secure-port="$(cat "$DIR/apiserver.port")" \
    --tls-cert-file="$c/apiserver.crt" --tls-private-key-file="$c/apiserver.key" \
    --client-ca-file="$c/ca.crt" --token-auth-file="$c/tokens.csv" \
    --service-account-key-file="$c/sa.pub" --service-account-signing-key-file="$c/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc \
    --authorization-mode=Node,RBAC --service-cluster-ip-range=10.96.0.0/16 \
    --allow-privileged=true --enable-priority-and-fairness=false --cert-dir="$c" \
    --profiling=false --v=1 $(cat "$DIR/apiserver.extra-args" 2>/dev/null || true)
}

wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT))
  until kubectl --kubeconfig "$DIR/kubeconfig" get --raw /readyz >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      tail -n 20 "$DIR/kube-apiserver.log" >&2 || true
      die "kube-apiserver not ready within ${READY_TIMEOUT}s (log: $DIR/kube-apiserver.log)"
    fi
    kill -0 "$(cat "$DIR/kube-apiserver.pid")" 2>/dev/null || {
      tail -n 20 "$DIR/kube-apiserver.log" >&2; die "kube-apiserver exited (log: $DIR/kube-apiserver.log)"; }
    sleep 0.5
  done
}

# The testbed's pod subnet 10.244.C.0/24: the lowest C in 1..250 no other cluster holds (an atomic
# mkdir claims it; stop releases it).
claim_subnet() {
  mkdir -p "$SUBNETS"
  local c
  for c in $(seq 1 250); do
    if mkdir "$SUBNETS/$c" 2>/dev/null; then
      echo "$DIR" >"$SUBNETS/$c/owner"
      echo "$c"
      return
    fi
    # A claim whose cluster folder is gone (a killed run) is free again.
    if [ ! -d "$(cat "$SUBNETS/$c/owner" 2>/dev/null || echo /nonexistent)" ]; then
      echo "$DIR" >"$SUBNETS/$c/owner"
      echo "$c"
      return
    fi
  done
  die "no free testbed pod subnet under $SUBNETS"
}

start_testbed() {
  [ -x "$TESTBED_BIN" ] || die "$TESTBED_BIN missing: build the project first (cmake --build build)"
  [ -x "$INFERENCE_SERVER" ] || die "$INFERENCE_SERVER missing: build the project first"
  local c images=${DSO_TESTBED_IMAGES:-$DIR/testbed-images.json}
  c=$(claim_subnet)
  echo "$c" >"$DIR/testbed.subnet"
  if [ -z "${DSO_TESTBED_IMAGES:-}" ]; then
    # The project's images as local programs: the inference server image runs the built server on
    # the GPU stand-in model (docs/e2e.md); "testbed/shell" runs commands from the host's PATH.
    cat >"$images" <<IMAGES
{
  "ghcr.io/deepseek-operator/inference-server": {
    "entrypoint": ["$INFERENCE_SERVER"],
    "env": {"DEEPSEEK_INFERENCE_MODEL": "builtin:gpu-sim", "DEEPSEEK_INFERENCE_PORT": "8000"}
  },
  "testbed/shell": {"entrypoint": []}
}
IMAGES
  fi
  spawn testbed "$TESTBED_BIN" --kubeconfig "$DIR/kubeconfig" --images "$images" \
    --state-dir "$DIR/testbed" --roots-dir "/run/dso-testbed/roots/$name" --name "$name" \
    --nodes "$nodes" --gpus "$gpus" --region "$region" ${zones:+--zones "$zones"} \
    --pod-subnet "10.244.$c.0/24" --restart-backoff "${DSO_TESTBED_RESTART_BACKOFF:-10s}"
  local deadline=$((SECONDS + 30))
  until [ "$(kubectl --kubeconfig "$DIR/kubeconfig" get nodes -o name 2>/dev/null | wc -l)" -ge "$nodes" ]; do
    kill -0 "$(cat "$DIR/testbed.pid")" 2>/dev/null || { tail -n 20 "$DIR/testbed.log" >&2; die "testbed nodes exited (log: $DIR/testbed.log)"; }
    [ $SECONDS -lt $deadline ] || die "testbed nodes not registered within 30s (log: $DIR/testbed.log)"
    sleep 0.3
  done
}

do_stop() {
  # Pods first: the agent stops their processes (SIGTERM, SIGKILL after 2 s).
  kill_one testbed
  if [ -f "$DIR/testbed.subnet" ]; then rm -rf "$SUBNETS/$(cat "$DIR/testbed.subnet")"; fi
  rm -rf "/run/dso-testbed/roots/$name"
  for p in kube-scheduler kube-controller-manager kube-apiserver etcd; do kill_one "$p"; done
  rm -rf "$DIR"
}

do_start() {
  for b in kube-apiserver kube-controller-manager kube-scheduler; do
    [ -x "$K8S_BIN/$b" ] || die "$K8S_BIN/$b missing: run hack/install-deps.sh"
  done
  command -v etcd >/dev/null || die "etcd missing: run hack/install-deps.sh"
  [ -d "$DIR" ] && do_stop
  mkdir -p "$DIR"
  local t0=$SECONDS
  make_certs
  pick_port >"$DIR/etcd.port"
  pick_port >"$DIR/etcd-peer.port"
  pick_port >"$DIR/apiserver.port"
  # Extra kube-apiserver flags for fault tests (e.g. --watch-cache-sizes=configmaps#0), kept for
  # restart-apiserver.
  echo "${DSO_APISERVER_EXTRA_ARGS:-}" >"$DIR/apiserver.extra-args"
  local ep; ep=$(cat "$DIR/etcd.port")
  spawn etcd etcd --name "$name" --data-dir "$DIR/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$ep" --advertise-client-urls "http://127.0.0.1:$ep" \
    --listen-peer-urls "http://127.0.0.1:$(cat "$DIR/etcd-peer.port")" \
    --initial-advertise-peer-urls "http://127.0.0.1:$(cat "$DIR/etcd-peer.port")" \
    --initial-cluster "$name=http://127.0.0.1:$(cat "$DIR/etcd-peer.port")"
  write_kubeconfig
  start_apiserver
  wait_ready
  # Without a kubelet the node lifecycle controller would taint fake GPU nodes unreachable after
  # ~40 s; tests play the kubelet's part for pods instead (see tests/integration/README.md).
  spawn kube-controller-manager "$K8S_BIN/kube-controller-manager" --kubeconfig="$DIR/kubeconfig" \
    --service-account-private-key-file="$DIR/pki/sa.key" --root-ca-file="$DIR/pki/ca.crt" \
    --controllers='*,-nodelifecycle' --leader-elect=false --bind-address=127.0.0.1 \
    --secure-port=0 --port=0 --use-service-account-credentials=false
  spawn kube-scheduler "$K8S_BIN/kube-scheduler" --kubeconfig="$DIR/kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port=0 --port=0
  local with=""
  if [ "$nodes" -gt 0 ]; then start_testbed; with=" with $nodes testbed nodes"; fi
  echo "local-cluster.sh [$name]: ready in $((SECONDS - t0))s$with at https://127.0.0.1:$(cat "$DIR/apiserver.port") (KUBECONFIG=$DIR/kubeconfig)" >&2
}

case "$cmd" in
  start) do_start ;;
  stop) do_stop ;;
  status) kubectl --kubeconfig "$DIR/kubeconfig" get --raw /readyz >/dev/null 2>&1 ;;
  env)
    [ -f "$DIR/kubeconfig" ] || die "not started (no $DIR/kubeconfig)"
    echo "export KUBECONFIG=$DIR/kubeconfig"
    echo "export DSO_APISERVER=https://127.0.0.1:$(cat "$DIR/apiserver.port")"
    echo "export DSO_CA_FILE=$DIR/pki/ca.crt"
    echo "export DSO_TOKEN_FILE=$DIR/pki/admin.token"
    echo "export DSO_ETCD=http://127.0.0.1:$(cat "$DIR/etcd.port")"
    if [ -f "$DIR/testbed.subnet" ]; then
      echo "export DSO_TESTBED_STATE=$DIR/testbed"
      echo "export DSO_TESTBED_SUBNET=10.244.$(cat "$DIR/testbed.subnet").0/24"
    fi
    ;;
  restart-apiserver)
    [ -f "$DIR/kube-apiserver.pid" ] || die "not started"
    kill_one kube-apiserver
    start_apiserver
    wait_ready
    ;;
  *) sed -n '2,24p' "$0" >&2; exit 2 ;;
esac
