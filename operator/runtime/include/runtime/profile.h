// runtime/profile.h: what each serving runtime of spec.model.runtime means for the pod the operator
// builds and for the queries its autoscaler sends: the container's command, arguments and
// environment from the spec, its probe paths, the preStop hook and drain timing, and the names of
// the metrics the runtime exports. One definition serves the pod builder (controller/) and the
// PromQL builder (metrics/). Pure functions of the typed resource; no I/O.
//
//   deepseek           the project's server: settings as DEEPSEEK_INFERENCE_* variables
//                      (inference/server_contract.h), the image's entrypoint, /readyz and /healthz
//   vllm               vLLM's OpenAI server: --model, --served-model-name, --port; /health
//   sglang             SGLang: python3 -m sglang.launch_server --model-path ... --enable-metrics;
//                      /health
//   openai-compatible  any OpenAI-compatible server: no arguments added, GET /v1/models probes,
//                      vLLM's metric names unless spec.model.metricNames says otherwise
//
// docs/deepseekservice.md ("Runtimes") has the same as tables.
#pragma once

#include <expected>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/deepseek_service.h"

namespace dso::runtime {

// "deepseek", "vllm", "sglang", "openai-compatible" (the CRD's spelling).
std::string_view runtime_name(api::Runtime runtime);

struct HttpProbe {
  std::string path;
  int period_seconds = 10;
  int timeout_seconds = 5;
  int failure_threshold = 3;
};

// Seconds of a pod's removal: the kubelet runs the preStop hook (the pod keeps serving while load
// balancers drop it), then sends SIGTERM; the server drains for `drain` and exits before the
// grace period ends. grace = spec.drain.terminationGracePeriodSeconds,
// pre_stop = spec.drain.preStopSeconds, drain = max(0, grace - pre_stop - kExitMarginSeconds).
struct DrainTiming {
  int grace = 0;
  int pre_stop = 0;
  int drain = 0;
};
inline constexpr int kExitMarginSeconds = 5;  // for the server to end what is left and exit
DrainTiming drain_timing(const api::DeepSeekServiceSpec& spec);

// The inference container's runtime-specific parts.
struct InferenceContainer {
  std::vector<std::string> command;              // empty: the image's entrypoint
  std::vector<std::string> args;                 // the runtime's own, then spec.model.args
  nlohmann::json env = nlohmann::json::array();  // the runtime's, then spec.model.env (wins)
  HttpProbe startup, readiness, liveness;
  nlohmann::json pre_stop;  // a core/v1 LifecycleHandler; null: none
  // The model volume is written by the server (a `uri` source it downloads into).
  bool writable_model_volume = false;
};

// Precondition: validate_runtime(dss.spec) is empty.
InferenceContainer inference_container(const api::DeepSeekService& dss);

// The metric names a runtime exposes, after spec.model.metricNames. An empty name means the
// runtime has no such metric (a metric spec that needs it cannot be queried).
struct MetricNames {
  std::string requests_total;            // counter of finished requests
  std::string request_duration_seconds;  // histogram base name (without _bucket)
  std::string queue_depth;               // gauge: requests waiting per pod
  std::string gpu_utilization;           // gauge: busy fraction 0..1 per GPU
  std::string kv_cache_usage;            // gauge: KV-cache fill fraction 0..1 per pod
};

// The runtime's default names with spec.model.metricNames (keys requestsTotal,
// requestDurationSeconds, queueDepth, gpuUtilization, kvCacheUsage) applied. Errors name the key:
// an unknown key, or a value that is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*).
std::expected<MetricNames, std::string> metric_names(const api::Model& model);

// What the runtime cannot do with this spec, one message per problem naming the field: a
// spec.model.args entry that is not a flag of the project's server (runtime deepseek), a model
// source the runtime cannot load (e.g. an s3:// uri), a bad metricNames entry.
std::vector<std::string> validate_runtime(const api::DeepSeekServiceSpec& spec);

}  // namespace dso::runtime
