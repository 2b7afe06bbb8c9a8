#!/usr/bin/env bash
# One testbed replica's capacity at the SLO (docs/e2e.md): a deepseek-inference-server on the
# builtin:gpu-sim model, with the e2e tests' flags, under dso-loadgen at rising constant rates
# (the e2e tests' request sizes: tests/data/azure_llm_conv.csv scaled by 1/8, at most 64 tokens);
# prints one Markdown row per rate: completed/s, p50, p99, 429 share, violation seconds.
#
#   tests/bench/e2e/replica_capacity.sh SERVER LOADGEN [RATES...]   (default 5 10 15 20 25 30 35)
# Environment: STEP_MS (20), BATCH (16), SECONDS_PER_RATE (40), SLO (2s).
set -euo pipefail
server=$1 loadgen=$2
shift 2
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(5 10 15 20 25 30 35)
step=${STEP_MS:-20} batch=${BATCH:-16} seconds=${SECONDS_PER_RATE:-40} slo=${SLO:-2s}
sizes=$(cd "$(dirname "$0")/../../.." && pwd)/tests/data/azure_llm_conv.csv
port=$((20000 + RANDOM % 20000))
log=$(mktemp)
"$server" --model builtin:gpu-sim --gpu-sim-step-ms "$step" --max-batch-size "$batch" \
  --max-queue-wait-ms 3000 --host 127.0.0.1 --port "$port" --warmup-batches 0 >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
echo "| offered req/s | completed req/s | p50 s | p99 s | 429 share | violation seconds of $seconds |"
echo "|---|---|---|---|---|---|"
for r in "${rates[@]}"; do
  summary=$("$loadgen" --rate "$r" --duration "${seconds}s" --target "127.0.0.1:$port" \
    --model deepseek-byte-lm --stream=false --seed 1 --sizes "$sizes" --slo-p99 "$slo")
  /usr/bin/python3 - "$r" "$seconds" "$summary" <<'PY'
import json, sys
r, seconds, s = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3])
fmt = lambda v: "-" if v is None else "%.2f" % v
print("| %s | %.1f | %s | %s | %.1f%% | %d |" % (r, s["completed"] / seconds, fmt(s["p50_s"]),
      fmt(s["p99_s"]), 100.0 * s["rejected_share"], s["violation_seconds"]))
PY
done
