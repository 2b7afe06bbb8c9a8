// Flags and environment of deepseek-inference-server (see server_config.h).
#include "server/server_config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>
#include <vector>

#include "inference/server_contract.h"

namespace dso::inference {
namespace {

struct Setting {
  const char* flag;  // without the leading "--"
  const char* help;
  // Parses `value` into the config; returns an error text (what is expected) or "".
  std::function<std::string(ServerConfig&, const std::string&)> set;
  std::function<std::string(const ServerConfig&)> show;
};

std::function<std::string(ServerConfig&, const std::string&)> int_field(int ServerConfig::*field,
                                                                        long lo, long hi) {
  return [=](ServerConfig& c, const std::string& v) -> std::string {
    long out = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || end != v.data() + v.size() || out < lo || out > hi) {
      return "want an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    }
    c.*field = static_cast<int>(out);
    return "";
  };
}

std::function<std::string(ServerConfig&, const std::string&)> double_field(
    double ServerConfig::*field) {
  return [=](ServerConfig& c, const std::string& v) -> std::string {
    std::istringstream in(v);
    double out = 0;
    in >> out;
    if (v.empty() || !in.eof() || in.fail() || !(out >= 0) || std::isinf(out)) {
      return "want a number >= 0";
    }
    c.*field = out;
    return "";
  };
}

std::function<std::string(ServerConfig&, const std::string&)> string_field(
    std::string ServerConfig::*field) {
  return [=](ServerConfig& c, const std::string& v) -> std::string {
    c.*field = v;
    return "";
  };
}

template <typename T>
std::function<std::string(const ServerConfig&)> show(T ServerConfig::*field) {
  return [=](const ServerConfig& c) {
    std::ostringstream out;
    out << c.*field;
    return out.str();
  };
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> all = {
      {"host", "address to listen on", string_field(&ServerConfig::host),
       show(&ServerConfig::host)},
      {"port", "TCP port", int_field(&ServerConfig::port, 0, 65535), show(&ServerConfig::port)},
      {"model",
       "TorchScript model file (.pt), or a directory holding model.pt (a mounted volume); "
       "required. builtin:null: a model that does no work (measures the server's own overhead); "
       "builtin:gpu-sim: a stand-in for a GPU on machines without one (--gpu-sim-*)",
       string_field(&ServerConfig::model_path), show(&ServerConfig::model_path)},
      {"model-url",
       "https:// URL of the model file: downloaded to --model (a directory: its model.pt) before "
       "loading, unless that file exists (TLS verified against the system CAs)",
       string_field(&ServerConfig::model_url), show(&ServerConfig::model_url)},
      {"model-name", "model id clients put in \"model\" and /v1/models lists",
       string_field(&ServerConfig::model_name), show(&ServerConfig::model_name)},
      {"device", "where the model runs: cpu, cuda, cuda:N", string_field(&ServerConfig::device),
       show(&ServerConfig::device)},
      {"threads", "LibTorch intra-op threads (0: LibTorch's default)",
       int_field(&ServerConfig::threads, 0, 1024), show(&ServerConfig::threads)},
      {"http-threads",
       "cpprestsdk I/O threads: HTTP parsing, routing and writing answers (1 has the lowest "
       "latency per request; raise it when one core cannot keep up with many streaming clients)",
       int_field(&ServerConfig::http_threads, 1, 256), show(&ServerConfig::http_threads)},
      {"max-batch-size", "most sequences per forward pass (1 turns batching off)",
       int_field(&ServerConfig::max_batch_size, 1, 4096), show(&ServerConfig::max_batch_size)},
      {"max-wait-us", "how long an idle model waits for a batch to fill, microseconds",
       int_field(&ServerConfig::max_wait_us, 0, 10'000'000), show(&ServerConfig::max_wait_us)},
      {"max-queue", "waiting requests beyond this get 429 + Retry-After",
       int_field(&ServerConfig::max_queue, 0, 1'000'000), show(&ServerConfig::max_queue)},
      {"max-queue-wait-ms",
       "also 429 when the expected queue wait (requests ahead / measured completions per second) "
       "exceeds this (0: off)",
       int_field(&ServerConfig::max_queue_wait_ms, 0, 3'600'000),
       show(&ServerConfig::max_queue_wait_ms)},
      {"max-tokens-limit", "largest max_tokens a request may ask for (above: 400)",
       int_field(&ServerConfig::max_tokens_limit, 1, 1'000'000),
       show(&ServerConfig::max_tokens_limit)},
      {"default-max-tokens", "max_tokens when a request does not say",
       int_field(&ServerConfig::default_max_tokens, 1, 1'000'000),
       show(&ServerConfig::default_max_tokens)},
      {"max-body-bytes", "largest request body (above: 413)",
       int_field(&ServerConfig::max_body_bytes, 1, 1 << 30), show(&ServerConfig::max_body_bytes)},
      {"rate-limit-per-second", "requests per second per API key or client address (0: off)",
       double_field(&ServerConfig::rate_limit_per_second),
       show(&ServerConfig::rate_limit_per_second)},
      {"rate-limit-per-hour", "requests per hour per API key or client address (0: off)",
       double_field(&ServerConfig::rate_limit_per_hour), show(&ServerConfig::rate_limit_per_hour)},
      {"api-keys",
       "file with one API key per line, or a directory of key files (a mounted Secret); empty: "
       "no authentication",
       string_field(&ServerConfig::api_keys), show(&ServerConfig::api_keys)},
      {"priority-api-keys",
       "with --api-keys: the keys (same format) whose requests may ask for X-Priority: high; "
       "empty: none may (the header is ignored). Without --api-keys any client may",
       string_field(&ServerConfig::priority_api_keys), show(&ServerConfig::priority_api_keys)},
      {"api-keys-reload-s",
       "re-read --api-keys and --priority-api-keys this often, seconds (0: never)",
       int_field(&ServerConfig::api_keys_reload_s, 0, 86400),
       show(&ServerConfig::api_keys_reload_s)},
      {"cache-max-bytes", "response cache size for temperature-0 requests (0: no cache)",
       int_field(&ServerConfig::cache_max_bytes, 0, std::numeric_limits<int>::max()),
       show(&ServerConfig::cache_max_bytes)},
      {"cache-ttl-s", "seconds a cached response stays valid",
       int_field(&ServerConfig::cache_ttl_s, 1, 86400 * 30), show(&ServerConfig::cache_ttl_s)},
      {"warmup-batches", "forward passes at full batch size before reporting ready",
       int_field(&ServerConfig::warmup_batches, 0, 1000), show(&ServerConfig::warmup_batches)},
      {"drain-timeout-s", "on SIGTERM, how long in-flight requests may take to finish",
       int_field(&ServerConfig::drain_timeout_s, 0, 3600), show(&ServerConfig::drain_timeout_s)},
      {"gpu-metrics-interval-s", "how often GPU utilisation and memory are sampled (NVML)",
       int_field(&ServerConfig::gpu_metrics_interval_s, 1, 3600),
       show(&ServerConfig::gpu_metrics_interval_s)},
      {"gpu-sim-step-ms",
       "builtin:gpu-sim: wall time of one forward pass for the whole batch (the thread sleeps: no "
       "CPU), milliseconds",
       int_field(&ServerConfig::gpu_sim_step_ms, 0, 60'000), show(&ServerConfig::gpu_sim_step_ms)},
      {"gpu-sim-load-s",
       "builtin:gpu-sim: seconds \"loading the weights\" takes before the server listens, as a "
       "real model load delays readiness",
       int_field(&ServerConfig::gpu_sim_load_s, 0, 3600), show(&ServerConfig::gpu_sim_load_s)},
  };
  return all;
}

std::string env_name(const char* flag) {
  return contract::env_var(flag);
}

}  // namespace

std::expected<ParsedArgs, std::string> parse_server_args(int argc, const char* const* argv,
                                                         const GetEnv& getenv) {
  ParsedArgs parsed;
  for (const auto& s : settings()) {
    const auto env = env_name(s.flag);
    if (const char* value = getenv(env.c_str())) {
      if (auto error = s.set(parsed.config, value); !error.empty()) {
        return std::unexpected(env + "='" + value + "': " + error);
      }
    }
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      parsed.help = true;
      return parsed;
    }
    if (!arg.starts_with("--")) {
      return std::unexpected("unexpected argument '" + arg + "' (try --help)");
    }
    std::string name = arg.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto it = std::find_if(settings().begin(), settings().end(),
                           [&](const Setting& s) { return name == s.flag; });
    if (it == settings().end())
      return std::unexpected("unknown flag '--" + name + "' (try --help)");
    if (!has_value) {
      if (i + 1 >= argc) return std::unexpected("flag '--" + name + "' needs a value");
      value = argv[++i];
    }
    if (auto error = it->set(parsed.config, value); !error.empty()) {
      return std::unexpected("--" + name + " '" + value + "': " + error);
    }
  }
  if (parsed.config.model_path.empty()) {
    return std::unexpected("no model: pass --model PATH or set DEEPSEEK_INFERENCE_MODEL");
  }
  if (parsed.config.default_max_tokens > parsed.config.max_tokens_limit) {
    return std::unexpected(
        "--default-max-tokens " + std::to_string(parsed.config.default_max_tokens) +
        " is above --max-tokens-limit " + std::to_string(parsed.config.max_tokens_limit));
  }
  return parsed;
}

std::vector<std::string> flag_names() {
  std::vector<std::string> names;
  for (const auto& s : settings()) names.emplace_back(s.flag);
  return names;
}

std::string model_file(const std::string& model) {
  if (model.starts_with("builtin:")) return model;
  std::error_code error;
  if (std::filesystem::is_directory(model, error))
    return (std::filesystem::path(model) / contract::kModelFileInDirectory).string();
  return model;
}

std::string help_text() {
  std::ostringstream out;
  out << "usage: deepseek-inference-server --model PATH [flags]\n\n"
         "OpenAI-compatible inference server for a TorchScript language model, with dynamic\n"
         "batching, priorities (X-Priority: high), rate limits, API keys, a response cache,\n"
         "Prometheus metrics and graceful drain on SIGTERM.\n\n"
         "Endpoints: POST /v1/completions, POST /v1/chat/completions, GET /v1/models,\n"
         "           GET /healthz, GET /readyz, GET /metrics\n\n"
         "Flags (each also read from the environment variable shown; a flag wins):\n";
  const ServerConfig defaults;
  for (const auto& s : settings()) {
    out << "  --" << s.flag << " VALUE\n      " << s.help << "\n      env " << env_name(s.flag)
        << ", default '" << s.show(defaults) << "'\n";
  }
  out << "\nSignals: SIGTERM or SIGINT starts a drain: /readyz answers 503, new requests get 503,\n"
         "in-flight requests finish (up to --drain-timeout-s), then the process exits 0.\n";
  return out.str();
}

}  // namespace dso::inference
