// The contract of deepseek-inference-server with everything that starts, probes or scrapes it: the
// operator's pod builder and PromQL (operator/runtime, operator/metrics), the Helm chart's
// monitors, the testbed and the load generator. Flag names (each also an environment variable),
// probe paths, the port, and the metric and label names the autoscaler reads are defined here
// once; the server's own parser (server_config.cc) and metrics (metrics.cc) use the same
// constants, and tests feed the operator's pod spec through the server's parser.
//
// Header only, no dependencies: the operator includes it without linking anything of the server.
#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace dso::inference::contract {

// Every flag --NAME is also read from the environment as DEEPSEEK_INFERENCE_<NAME> with '-' as
// '_' and upper case (a flag on the command line wins).
inline constexpr std::string_view kEnvPrefix = "DEEPSEEK_INFERENCE_";

// "max-batch-size" -> "DEEPSEEK_INFERENCE_MAX_BATCH_SIZE".
inline std::string env_var(std::string_view flag) {
  std::string name(kEnvPrefix);
  for (const char c : flag) {
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

// Flags the operator sets from the DeepSeekService spec.
namespace flag {
inline constexpr std::string_view kModel = "model";           // file, directory or builtin:*
inline constexpr std::string_view kModelUrl = "model-url";    // https:// download into --model
inline constexpr std::string_view kModelName = "model-name";  // spec.model.name
inline constexpr std::string_view kPort = "port";             // spec.model.port
inline constexpr std::string_view kDrainTimeout = "drain-timeout-s";
inline constexpr std::string_view kWarmupBatches = "warmup-batches";
inline constexpr std::string_view kApiKeys = "api-keys";
}  // namespace flag

// Every flag the server accepts (server_config.cc's table holds exactly these; a unit test checks
// both ways). The operator refuses spec.model.args naming anything else for runtime deepseek.
inline constexpr std::string_view kAllFlags[] = {
    "host",
    "port",
    "model",
    "model-url",
    "model-name",
    "device",
    "threads",
    "http-threads",
    "max-batch-size",
    "max-wait-us",
    "max-queue",
    "max-queue-wait-ms",
    "max-tokens-limit",
    "default-max-tokens",
    "max-body-bytes",
    "rate-limit-per-second",
    "rate-limit-per-hour",
    "api-keys",
    "api-keys-reload-s",
    "priority-api-keys",
    "cache-max-bytes",
    "cache-ttl-s",
    "warmup-batches",
    "drain-timeout-s",
    "gpu-metrics-interval-s",
    "gpu-sim-step-ms",
    "gpu-sim-load-s",
};

inline bool is_flag(std::string_view name) {
  for (const auto f : kAllFlags) {
    if (f == name) return true;
  }
  return false;
}

// --model values that are not files.
inline constexpr std::string_view kNullModel = "builtin:null";       // no work: overhead benchmarks
inline constexpr std::string_view kGpuSimModel = "builtin:gpu-sim";  // a GPU's step time, no CPU
// --model naming a directory loads this file inside it (a mounted volume holds the weights).
inline constexpr std::string_view kModelFileInDirectory = "model.pt";

inline constexpr int kDefaultPort = 8000;

// HTTP paths. /healthz: the process serves (liveness). /readyz: loaded, warmed up and not
// draining (readiness and startup).
inline constexpr std::string_view kHealthPath = "/healthz";
inline constexpr std::string_view kReadyPath = "/readyz";
inline constexpr std::string_view kMetricsPath = "/metrics";

// Metric names (docs/inference-metrics.md has them all; these are the ones others query).
namespace metric {
inline constexpr std::string_view kRequestsTotal = "deepseek_inference_requests_total";
inline constexpr std::string_view kRequestDuration = "deepseek_inference_request_duration_seconds";
inline constexpr std::string_view kTimeToFirstToken =
    "deepseek_inference_time_to_first_token_seconds";
inline constexpr std::string_view kQueueDepth = "deepseek_inference_queue_depth";
inline constexpr std::string_view kGpuUtilization = "deepseek_inference_gpu_utilization_ratio";
inline constexpr std::string_view kReady = "deepseek_inference_ready";
}  // namespace metric

// Labels of kRequestsTotal.
namespace label {
inline constexpr std::string_view kCode = "code";
inline constexpr std::string_view kEndpoint = "endpoint";
inline constexpr std::string_view kPriority = "priority";
}  // namespace label

}  // namespace dso::inference::contract
