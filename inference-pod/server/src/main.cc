// deepseek-inference-server: loads a TorchScript model, warms it up, serves the OpenAI-compatible
// API with dynamic batching, and drains gracefully on SIGTERM (see --help and
// docs/inference-server.md).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <optional>
#include <thread>

#include "inference/server_contract.h"
#include "model/gpu_sim_model.h"
#include "model/null_model.h"
#include "model/torchscript_model.h"
#include "server/api_keys.h"
#include "server/api_service.h"
#include "server/batch_scheduler.h"
#include "server/gpu_monitor.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/model_download.h"
#include "server/rate_limiter.h"
#include "server/response_cache.h"
#include "server/server_config.h"

namespace {

using namespace dso::inference;
using Clock = std::chrono::steady_clock;

void log(const std::string& line) {
  std::cerr << "deepseek-inference-server: " << line << std::endl;
}

// The model --model names: a builtin, or a TorchScript file (a directory: its model.pt).
std::expected<LanguageModelPtr, std::string> load_model(const ServerConfig& config) {
  namespace contract = dso::inference::contract;
  if (config.model_path == kNullModelPath) return std::make_unique<NullModel>();
  if (config.model_path == contract::kGpuSimModel) {
    if (config.gpu_sim_load_s > 0) {
      log("builtin:gpu-sim: loading for " + std::to_string(config.gpu_sim_load_s) + " s");
      std::this_thread::sleep_for(std::chrono::seconds(config.gpu_sim_load_s));
    }
    return std::make_unique<GpuSimModel>(std::chrono::milliseconds(config.gpu_sim_step_ms));
  }
  if (config.model_path.starts_with("builtin:")) {
    return std::unexpected("--model " + config.model_path + ": unknown builtin (builtin:null, " +
                           std::string(contract::kGpuSimModel) + ")");
  }
  const std::string file = model_file(config.model_path);
  if (!config.model_url.empty()) {
    const auto fetched = download_model(config.model_url, file);
    if (!fetched) return std::unexpected(fetched.error());
    if (*fetched > 0)
      log("downloaded " + config.model_url + " to " + file + " (" + std::to_string(*fetched) +
          " bytes)");
  }
  return load_torchscript_model({file, config.device, 256, config.threads});
}

// SIGTERM and SIGINT: blocked in every thread from the start, taken synchronously.
sigset_t termination_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

// The keys at `path` (none when it is empty), logged as "`what` N keys from PATH".
std::expected<std::optional<ApiKeyStore>, std::string> load_keys(const std::string& path,
                                                                 const std::string& what) {
  if (path.empty()) return std::optional<ApiKeyStore>();
  auto loaded = ApiKeyStore::load(path);
  if (!loaded) return std::unexpected(loaded.error());
  log(what + " " + std::to_string(loaded->size()) + " keys from " + path);
  return std::optional<ApiKeyStore>(std::move(*loaded));
}

// While the model loads (a download, minutes of weights) nothing is served, so there is nothing to
// drain: a SIGTERM then (a pod deleted or scaled away during its cold start) ends the process at
// once instead of holding the GPU until the grace period's SIGKILL. Watches on its own thread
// until the model is in; from then on the main loop takes the signals and drains.
class LoadWatch {
 public:
  LoadWatch()
      : thread_([](std::stop_token stop) {
          const sigset_t signals = termination_signals();
          while (!stop.stop_requested()) {
            timespec tick{0, 100'000'000};
            const int sig = sigtimedwait(&signals, nullptr, &tick);
            if (sig == SIGTERM || sig == SIGINT) {
              log(std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT") +
                  " while loading the model: nothing is served yet, exiting");
              std::fflush(nullptr);
              std::_Exit(0);
            }
          }
        }) {}

 private:
  std::jthread thread_;  // stopped and joined when the watch ends
};

// Until SIGTERM or SIGINT: samples the GPUs into the metrics and re-reads the key stores on their
// periods.
void wait_for_stop(const ServerConfig& config, const std::string& device, ServerMetrics& metrics,
                   const ApiService& service,
                   std::initializer_list<std::optional<ApiKeyStore>*> key_stores) {
  std::unique_ptr<GpuMonitor> gpu = device.starts_with("cuda") ? GpuMonitor::open() : nullptr;
  const sigset_t signals = termination_signals();
  auto last_gpu = Clock::now() - std::chrono::hours(1);
  auto last_keys = Clock::now();
  for (;;) {
    timespec tick{1, 0};
    const int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) {
      log(std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT") + ": draining " +
          std::to_string(service.in_flight()) + " in-flight requests (deadline " +
          std::to_string(config.drain_timeout_s) + " s)");
      return;
    }
    const auto now = Clock::now();
    if (gpu && now - last_gpu >= std::chrono::seconds(config.gpu_metrics_interval_s)) {
      for (const auto& s : gpu->sample()) {
        metrics.set_gpu(s.index, s.utilization_ratio, s.memory_used_bytes, s.memory_total_bytes);
      }
      last_gpu = now;
    }
    if (config.api_keys_reload_s > 0 &&
        now - last_keys >= std::chrono::seconds(config.api_keys_reload_s)) {
      for (auto* store : key_stores) {
        if (!*store) continue;
        if (auto reloaded = (*store)->reload(); !reloaded)
          log(reloaded.error() + " (keeping old keys)");
      }
      last_keys = now;
    }
  }
}

// Drain: not ready, refuse new work, let accepted requests finish within the deadline; after it,
// end the rest with 503.
void drain(const ServerConfig& config, ApiService& service, BatchScheduler& scheduler) {
  service.begin_drain();
  scheduler.stop_accepting();
  const auto deadline = Clock::now() + std::chrono::seconds(config.drain_timeout_s);
  while (service.in_flight() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (service.in_flight() > 0) {
    log("drain deadline passed with " + std::to_string(service.in_flight()) +
        " requests in flight: ending them with 503");
    scheduler.abort_all();
    const auto grace = Clock::now() + std::chrono::seconds(2);
    while (service.in_flight() > 0 && Clock::now() < grace) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

int serve(const ServerConfig& config) {
  // Before the model download (an HTTP client) can start cpprestsdk's machinery.
  if (auto configured = configure_http_runtime(static_cast<std::size_t>(config.http_threads));
      !configured) {
    log(configured.error());
    return 1;
  }
  std::optional<LoadWatch> load_watch(std::in_place);
  auto model = load_model(config);
  load_watch.reset();
  if (!model) {
    log(model.error());
    // Exit without static destructors: after a failed TLS download cpprestsdk's pool threads may
    // still be unwinding the connection, and destroying the pool under them corrupted the heap
    // (SIGABRT "malloc_consolidate(): unaligned fastbin chunk detected", 1 run in 30).
    std::fflush(nullptr);
    std::_Exit(1);
  }
  auto& lm = **model;
  log("loaded " + model_file(config.model_path) + " on " + lm.device() + " (vocab " +
      std::to_string(lm.vocab_size()) + ", context " + std::to_string(lm.context_length()) + ")");

  auto keys = load_keys(config.api_keys, "API keys required");
  auto priority_keys = load_keys(config.priority_api_keys, "X-Priority: high allowed for");
  if (!keys || !priority_keys) {
    log(!keys ? keys.error() : priority_keys.error());
    return 1;
  }
  if (!config.priority_api_keys.empty() && !*keys) {
    log("--priority-api-keys needs --api-keys: without keys any client may ask for priority");
    return 1;
  }

  ServerMetrics metrics({config.model_name, lm.device(), config.max_batch_size,
                         static_cast<std::size_t>(config.max_queue)});
  BatchScheduler scheduler(lm,
                           {config.max_batch_size, std::chrono::microseconds(config.max_wait_us),
                            static_cast<std::size_t>(config.max_queue),
                            std::chrono::milliseconds(config.max_queue_wait_ms),
                            /*first_step_on_caller=*/true},
                           &metrics);
  RateLimiter limiter({config.rate_limit_per_second, config.rate_limit_per_hour});
  std::optional<ResponseCache> cache;
  if (config.cache_max_bytes > 0) {
    cache.emplace(CacheOptions{static_cast<std::size_t>(config.cache_max_bytes),
                               std::chrono::seconds(config.cache_ttl_s), 100000});
  }
  ServiceOptions options;
  options.limits = {config.model_name, config.max_tokens_limit, config.default_max_tokens,
                    static_cast<std::size_t>(config.max_body_bytes)};
  options.max_body_bytes = static_cast<std::size_t>(config.max_body_bytes);
  options.priority_keys = *priority_keys ? &**priority_keys : nullptr;
  ApiService service(options, scheduler, limiter, *keys ? &**keys : nullptr,
                     cache ? &*cache : nullptr, metrics);

  const std::string url = "http://" + config.host + ":" + std::to_string(config.port);
  HttpServer server(url, service, options.max_body_bytes,
                    static_cast<std::size_t>(config.http_threads));
  if (auto opened = server.open(); !opened) {
    log(opened.error());
    return 1;
  }
  log("listening on " + url + " (not ready: warming up)");

  // Model preloading: full-size batches before the first user request.
  const auto warm_start = Clock::now();
  try {
    scheduler.warm_up(config.warmup_batches, config.max_batch_size,
                      std::min(64, lm.context_length()));
  } catch (const std::exception& e) {
    log(std::string("warm-up failed: ") + e.what());
    return 1;
  }
  service.set_ready(true);
  log("ready after " + std::to_string(config.warmup_batches) + " warm-up batches in " +
      std::to_string(std::chrono::duration<double>(Clock::now() - warm_start).count()) + " s");

  wait_for_stop(config, lm.device(), metrics, service, {&*keys, &*priority_keys});
  drain(config, service, scheduler);
  // Give the network layer a moment to flush the last responses before the listener closes.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.close();
  log("drained; exiting");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken synchronously by the main thread: block them before any thread starts.
  const sigset_t signals = termination_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto parsed = parse_server_args(argc, argv, [](const char* name) { return std::getenv(name); });
  if (!parsed) {
    std::cerr << "deepseek-inference-server: " << parsed.error() << "\n";
    return 2;
  }
  if (parsed->help) {
    std::cout << help_text();
    return 0;
  }
  try {
    return serve(parsed->config);
  } catch (const std::exception& e) {
    log(std::string("fatal: ") + e.what());
    return 1;
  }
}
