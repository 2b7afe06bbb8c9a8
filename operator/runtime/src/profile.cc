// Serving runtimes: see profile.h.
#include "runtime/profile.h"

#include <algorithm>
#include <chrono>

#include "inference/server_contract.h"

namespace dso::runtime {
namespace {

using nlohmann::json;
namespace contract = inference::contract;

constexpr int kStartupPeriodSeconds = 10;

json env_var(std::string_view name, const std::string& value) {
  return json{{"name", std::string(name)}, {"value", value}};
}

// The startup probe allows the whole spec.model.preload.loadTimeout before it gives up.
HttpProbe startup_probe(const api::Model& m, std::string path) {
  const auto load_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(m.load_timeout).count();
  const int failures = static_cast<int>(
      std::max<long long>(1, (load_seconds + kStartupPeriodSeconds - 1) / kStartupPeriodSeconds));
  return {std::move(path), kStartupPeriodSeconds, 5, failures};
}

void set_probes(InferenceContainer& c, const api::Model& m, const std::string& ready,
                const std::string& live) {
  c.startup = startup_probe(m, ready);
  c.readiness = {ready, 5, 5, 3};
  c.liveness = {live, 10, 5, 3};
}

// A preStop that keeps the pod serving while load balancers drop it. `sleep` is in the project's
// image (Ubuntu CUDA base) and in vLLM's and SGLang's; Kubernetes before 1.29 has no sleep action.
json sleep_hook(int seconds) {
  if (seconds <= 0) return nullptr;
  return json{{"exec", {{"command", json::array({"sleep", std::to_string(seconds)})}}}};
}

std::string uri_scheme(const std::string& uri) {
  const auto colon = uri.find("://");
  return colon == std::string::npos ? "" : uri.substr(0, colon);
}

// The Hugging Face id of an hf:// uri ("hf://deepseek-ai/DeepSeek-V3" -> "deepseek-ai/...").
std::string hf_id(const std::string& uri) {
  return uri.substr(std::string("hf://").size());
}

bool has_volume(const api::ModelSource& s) {
  return s.pvc_claim || s.host_path || s.uri;
}

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

InferenceContainer deepseek_container(const api::DeepSeekService& dss) {
  const api::Model& m = dss.spec.model;
  InferenceContainer c;
  c.env.push_back(env_var(contract::env_var(contract::flag::kModelName), m.name));
  c.env.push_back(env_var(contract::env_var(contract::flag::kPort), std::to_string(m.port)));
  c.env.push_back(env_var(contract::env_var(contract::flag::kDrainTimeout),
                          std::to_string(drain_timing(dss.spec).drain)));
  c.env.push_back(env_var(contract::env_var(contract::flag::kWarmupBatches),
                          std::to_string(m.warmup_requests)));
  // Without a source the image's own model (its DEEPSEEK_INFERENCE_MODEL) is served.
  if (has_volume(m.source))
    c.env.push_back(env_var(contract::env_var(contract::flag::kModel), m.source.mount_path));
  if (m.source.uri) {
    c.env.push_back(env_var(contract::env_var(contract::flag::kModelUrl), *m.source.uri));
    c.writable_model_volume = true;
  }
  c.args = m.args;
  set_probes(c, m, std::string(contract::kReadyPath), std::string(contract::kHealthPath));
  return c;
}

// vLLM and SGLang name the model by a path or a Hugging Face id; without a source, the served
// name is the id they download.
std::string model_reference(const api::Model& m) {
  if (m.source.uri) return hf_id(*m.source.uri);
  if (m.source.pvc_claim || m.source.host_path) return m.source.mount_path;
  return m.name;
}

// Where Hugging Face downloads go: the model volume for an hf:// source, else the pod's /tmp
// (the root filesystem is read-only).
json hf_home(const api::Model& m) {
  return env_var("HF_HOME", m.source.uri ? m.source.mount_path : "/tmp/huggingface");
}

InferenceContainer vllm_container(const api::DeepSeekService& dss) {
  const api::Model& m = dss.spec.model;
  InferenceContainer c;
  c.args = {"--model", model_reference(m), "--served-model-name",
            m.name,    "--port",           std::to_string(m.port)};
  c.args.insert(c.args.end(), m.args.begin(), m.args.end());
  c.env.push_back(hf_home(m));
  c.writable_model_volume = m.source.uri.has_value();
  set_probes(c, m, "/health", "/health");
  return c;
}

InferenceContainer sglang_container(const api::DeepSeekService& dss) {
  const api::Model& m = dss.spec.model;
  InferenceContainer c;
  c.command = {"python3", "-m", "sglang.launch_server"};
  c.args = {
      "--model-path", model_reference(m),     "--served-model-name", m.name, "--host", "0.0.0.0",
      "--port",       std::to_string(m.port), "--enable-metrics"};
  c.args.insert(c.args.end(), m.args.begin(), m.args.end());
  c.env.push_back(hf_home(m));
  c.writable_model_volume = m.source.uri.has_value();
  set_probes(c, m, "/health", "/health");
  return c;
}

InferenceContainer generic_container(const api::DeepSeekService& dss) {
  const api::Model& m = dss.spec.model;
  InferenceContainer c;
  c.args = m.args;
  set_probes(c, m, "/v1/models", "/v1/models");
  return c;
}

// The name of a --flag or --flag=value argument; "" for anything else.
std::string flag_of(const std::string& arg) {
  if (!arg.starts_with("--") || arg.size() == 2) return "";
  const auto eq = arg.find('=');
  return arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
}

std::vector<std::string> validate_deepseek(const api::Model& m) {
  std::vector<std::string> problems;
  for (std::size_t i = 0; i < m.args.size(); ++i) {
    const std::string& arg = m.args[i];
    const std::string flag = flag_of(arg);
    const std::string where = "spec.model.args[" + std::to_string(i) + "]";
    if (flag.empty()) {
      // The value of the flag before it ("--max-batch-size", "32").
      if (i > 0 && !flag_of(m.args[i - 1]).empty() && m.args[i - 1].find('=') == std::string::npos)
        continue;
      problems.push_back(where + " \"" + arg +
                         "\": not a flag (runtime deepseek takes --flag=value arguments)");
    } else if (!contract::is_flag(flag)) {
      problems.push_back(where + " \"" + arg + "\": --" + flag +
                         " is not a flag of deepseek-inference-server (its --help lists them)");
    }
  }
  if (m.source.uri && uri_scheme(*m.source.uri) != "https") {
    problems.push_back("spec.model.source.uri \"" + *m.source.uri +
                       "\": runtime deepseek downloads https:// only; use pvc or hostPath");
  }
  return problems;
}

std::vector<std::string> validate_hf_runtime(const api::Model& m) {
  if (m.source.uri && uri_scheme(*m.source.uri) != "hf") {
    return {"spec.model.source.uri \"" + *m.source.uri + "\": runtime " +
            std::string(runtime_name(m.runtime)) +
            " loads hf:// (Hugging Face) ids; use pvc or hostPath for other sources"};
  }
  return {};
}

}  // namespace

std::string_view runtime_name(api::Runtime runtime) {
  switch (runtime) {
    case api::Runtime::kDeepSeek:
      return "deepseek";
    case api::Runtime::kVllm:
      return "vllm";
    case api::Runtime::kSglang:
      return "sglang";
    case api::Runtime::kOpenAICompatible:
      return "openai-compatible";
  }
  return "unknown";
}

DrainTiming drain_timing(const api::DeepSeekServiceSpec& spec) {
  DrainTiming t;
  t.grace = spec.termination_grace_period_seconds;
  t.pre_stop = spec.pre_stop_seconds;
  t.drain = std::max(0, t.grace - t.pre_stop - kExitMarginSeconds);
  return t;
}

InferenceContainer inference_container(const api::DeepSeekService& dss) {
  InferenceContainer c;
  switch (dss.spec.model.runtime) {
    case api::Runtime::kDeepSeek:
      c = deepseek_container(dss);
      break;
    case api::Runtime::kVllm:
      c = vllm_container(dss);
      break;
    case api::Runtime::kSglang:
      c = sglang_container(dss);
      break;
    case api::Runtime::kOpenAICompatible:
      c = generic_container(dss);
      break;
  }
  for (const auto& e : dss.spec.model.env) c.env.push_back(e);  // last: they win on duplicates
  c.pre_stop = sleep_hook(drain_timing(dss.spec).pre_stop);
  return c;
}

std::expected<MetricNames, std::string> metric_names(const api::Model& model) {
  MetricNames names;
  switch (model.runtime) {
    case api::Runtime::kDeepSeek:
      names.requests_total = contract::metric::kRequestsTotal;
      names.request_duration_seconds = contract::metric::kRequestDuration;
      names.queue_depth = contract::metric::kQueueDepth;
      names.gpu_utilization = contract::metric::kGpuUtilization;
      // The server has no paged KV cache (docs/inference-metrics.md): no default.
      break;
    case api::Runtime::kVllm:
    case api::Runtime::kOpenAICompatible:
      // vLLM's names (vllm/engine/metrics.py). vLLM exports no GPU busy gauge (DCGM's
      // DCGM_FI_DEV_GPU_UTIL is 0-100 and labelled by pod, not by service): no default.
      names.requests_total = "vllm:request_success_total";
      names.request_duration_seconds = "vllm:e2e_request_latency_seconds";
      names.queue_depth = "vllm:num_requests_waiting";
      names.kv_cache_usage = "vllm:kv_cache_usage_perc";  // vllm:gpu_cache_usage_perc before 0.9
      break;
    case api::Runtime::kSglang:
      names.requests_total = "sglang:num_requests_total";
      names.request_duration_seconds = "sglang:e2e_request_latency_seconds";
      names.queue_depth = "sglang:num_queue_reqs";
      names.kv_cache_usage = "sglang:token_usage";
      break;
  }
  for (const auto& [key, value] : model.metric_names) {
    std::string* slot = nullptr;
    if (key == "requestsTotal") slot = &names.requests_total;
    if (key == "requestDurationSeconds") slot = &names.request_duration_seconds;
    if (key == "queueDepth") slot = &names.queue_depth;
    if (key == "gpuUtilization") slot = &names.gpu_utilization;
    if (key == "kvCacheUsage") slot = &names.kv_cache_usage;
    if (slot == nullptr) {
      return std::unexpected("spec.model.metricNames." + key +
                             ": unknown key (requestsTotal, requestDurationSeconds, queueDepth, "
                             "gpuUtilization, kvCacheUsage)");
    }
    if (!valid_metric_name(value)) {
      return std::unexpected("spec.model.metricNames." + key + ": \"" + value +
                             "\" is not a Prometheus metric name");
    }
    std::string name = value;
    // A histogram may be named by its _bucket series; the queries add _bucket themselves.
    if (slot == &names.request_duration_seconds && name.size() > 7 && name.ends_with("_bucket")) {
      name.resize(name.size() - 7);
    }
    *slot = std::move(name);
  }
  return names;
}

std::vector<std::string> validate_runtime(const api::DeepSeekServiceSpec& spec) {
  const api::Model& m = spec.model;
  std::vector<std::string> problems;
  switch (m.runtime) {
    case api::Runtime::kDeepSeek:
      problems = validate_deepseek(m);
      break;
    case api::Runtime::kVllm:
    case api::Runtime::kSglang:
      problems = validate_hf_runtime(m);
      break;
    case api::Runtime::kOpenAICompatible:
      if (m.source.uri) {
        problems.push_back(
            "spec.model.source.uri: runtime openai-compatible cannot be told "
            "where to download; use pvc or hostPath and name the path in args");
      }
      break;
  }
  if (const auto names = metric_names(m); !names) problems.push_back(names.error());
  return problems;
}

}  // namespace dso::runtime
