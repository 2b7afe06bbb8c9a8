#!/usr/bin/env bash
# Builds bench-client-go against the client-go vendored in Debian's kubernetes 1.20.2 source tree
# (GO111MODULE=off, GOPATH layout: the program sits in a GOPATH package whose vendor/ is that
# tree's vendor/). About a minute on a 2-core machine.
#
#   hack/bench-client-go/build.sh OUTPUT_BINARY
set -euo pipefail
out=${1:?usage: build.sh OUTPUT_BINARY}
here=$(cd "$(dirname "$0")" && pwd)
tree=${DSO_KUBERNETES_TREE:-/var/cache/deepseek-operator/kubernetes-src/tree}
[ -d "$tree/vendor/k8s.io/client-go" ] || { echo "build.sh: $tree/vendor/k8s.io/client-go missing (hack/install-deps.sh)" >&2; exit 1; }
gopath=$(dirname "$out")/bench-client-go.gopath
pkg=$gopath/src/dso.example/benchclientgo
mkdir -p "$pkg"
cp "$here/main.go" "$pkg/main.go"
ln -sfn "$tree/vendor" "$pkg/vendor"
cd "$pkg"
GO111MODULE=off GOPATH=$gopath GOFLAGS= go build -o "$out" .
