#!/usr/bin/env bash
# Benchmarks deepseek-inference-server with the project's own load generator (tests/bench/inference),
# replaying request sizes from tests/data/azure_llm_conv.csv. Prints markdown tables; record
# them in docs/inference-server.md with this command and the machine.
#
#   hack/bench-inference.sh                      throughput, overhead, 2x overload (CPU)
#   hack/bench-inference.sh --device cuda        the same on the first GPU
#   hack/bench-inference.sh --mode soak          10-minute 2x overload, server memory every 30 s
#   hack/bench-inference.sh --mode throughput --bound-ms 1000 --duration-s 10
#   hack/bench-inference.sh --mode overhead      the server's overhead per request, broken down
#   hack/bench-inference.sh --mode overhead --baseline-server OLD_BINARY
#                                                the same with another server binary in the same rounds
#
# Any argument is passed to inference_bench (--help lists them). Environment: BUILD_DIR (build),
# DSO_JOBS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja >/dev/null
cmake --build "$BUILD_DIR" -j "${DSO_JOBS:-2}" --target inference_bench deepseek-inference-server byte_lm_model
DATA=${DSO_TEST_DATA:-$(pwd)/tests/data}
echo "# machine: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# command: hack/bench-inference.sh $*"
exec "$BUILD_DIR/tests/bench/inference/inference_bench" \
  --server "$BUILD_DIR/inference-pod/deepseek-inference-server" \
  --model "$BUILD_DIR/inference-pod/byte_lm.pt" \
  --overhead-model "$BUILD_DIR/inference-pod/byte_lm_tiny.pt" \
  --trace "$DATA/azure_llm_conv.csv" "$@"
