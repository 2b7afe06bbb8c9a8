// Configuration of deepseek-inference-server: every setting is a flag and an environment variable
// (DEEPSEEK_INFERENCE_<FLAG>, e.g. --max-batch-size and DEEPSEEK_INFERENCE_MAX_BATCH_SIZE); a flag
// wins over the environment. help_text() lists them all with their defaults. The names are the
// contract others build on (inference/server_contract.h): the table here holds exactly
// contract::kAllFlags.
#pragma once

#include <cstddef>
#include <expected>
#include <functional>
#include <string>
#include <vector>

namespace dso::inference {

struct ServerConfig {
  std::string host = "0.0.0.0";
  int port = 8000;
  std::string model_path;
  std::string model_url;  // downloaded to model_file(model_path) when that file is missing
  std::string model_name = "deepseek-byte-lm";
  std::string device = "cpu";
  int threads = 0;
  int http_threads = 1;
  int max_batch_size = 16;
  int max_wait_us = 2000;
  int max_queue = 256;
  int max_queue_wait_ms = 0;
  int max_tokens_limit = 512;
  int default_max_tokens = 16;
  int max_body_bytes = 1 << 20;
  double rate_limit_per_second = 100;
  double rate_limit_per_hour = 5000;
  std::string api_keys;
  int api_keys_reload_s = 30;
  std::string priority_api_keys;
  int cache_max_bytes = 64 << 20;
  int cache_ttl_s = 300;
  int warmup_batches = 3;
  int drain_timeout_s = 30;
  int gpu_metrics_interval_s = 5;
  int gpu_sim_step_ms = 25;  // builtin:gpu-sim: one forward pass, whole batch
  int gpu_sim_load_s = 0;    // builtin:gpu-sim: "loading the weights" before listening
};

struct ParsedArgs {
  ServerConfig config;
  bool help = false;
};

using GetEnv = std::function<const char*(const char*)>;

// Reads the environment through `getenv`, then the flags. Fails with a one-line message naming the
// flag or variable and the bad value.
std::expected<ParsedArgs, std::string> parse_server_args(int argc, const char* const* argv,
                                                         const GetEnv& getenv);

std::string help_text();

// The flag names of the settings table, in help order (a test holds them to the contract).
std::vector<std::string> flag_names();

// The model file --model names: the value itself, or DIR/model.pt when it is a directory (a
// mounted volume of weights); builtin:* values unchanged.
std::string model_file(const std::string& model);

}  // namespace dso::inference
