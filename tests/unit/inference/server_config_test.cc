// Flags and environment of deepseek-inference-server.
#include "server/server_config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "inference/server_contract.h"

namespace dso::inference {
namespace {

std::expected<ParsedArgs, std::string> parse(std::vector<const char*> args,
                                             std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), "deepseek-inference-server");
  return parse_server_args(static_cast<int>(args.size()), args.data(), [&](const char* name) {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(ServerConfig, FlagsOverrideEnvironmentOverrideDefaults) {
  auto p = parse({"--model", "m.pt", "--max-batch-size=8"},
                 {{"DEEPSEEK_INFERENCE_MAX_BATCH_SIZE", "4"},
                  {"DEEPSEEK_INFERENCE_PORT", "9000"},
                  {"DEEPSEEK_INFERENCE_RATE_LIMIT_PER_HOUR", "10.5"}});
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->config.model_path, "m.pt");
  EXPECT_EQ(p->config.max_batch_size, 8);
  EXPECT_EQ(p->config.port, 9000);
  EXPECT_EQ(p->config.rate_limit_per_hour, 10.5);
  EXPECT_EQ(p->config.rate_limit_per_second, 100);
}

TEST(ServerConfig, BadValuesNameTheFlagOrVariable) {
  auto bad_flag = parse({"--model", "m", "--port", "70000"});
  ASSERT_FALSE(bad_flag);
  EXPECT_NE(bad_flag.error().find("--port '70000'"), std::string::npos) << bad_flag.error();
  auto bad_env = parse({"--model", "m"}, {{"DEEPSEEK_INFERENCE_MAX_QUEUE", "lots"}});
  ASSERT_FALSE(bad_env);
  EXPECT_NE(bad_env.error().find("DEEPSEEK_INFERENCE_MAX_QUEUE='lots'"), std::string::npos);
  EXPECT_FALSE(parse({"--model", "m", "--nope", "1"}));
  EXPECT_FALSE(parse({"--model"}));
  auto no_model = parse({});
  ASSERT_FALSE(no_model);
  EXPECT_NE(no_model.error().find("--model"), std::string::npos);
  EXPECT_FALSE(parse({"--model", "m", "--default-max-tokens", "600"}));
  EXPECT_FALSE(parse({"--model", "m", "--http-threads", "0"}));
  auto threads = parse({"--model", "m", "--http-threads", "4"});
  ASSERT_TRUE(threads);
  EXPECT_EQ(threads->config.http_threads, 4);
}

TEST(ServerConfig, HelpListsEveryFlagWithItsVariable) {
  auto p = parse({"--help"});
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->help);
  const auto help = help_text();
  for (const char* flag :
       {"--model ", "--device ", "--http-threads ", "--max-batch-size ", "--max-wait-us ",
        "--max-queue ", "--rate-limit-per-second ", "--rate-limit-per-hour ", "--api-keys ",
        "--cache-max-bytes ", "--drain-timeout-s ", "DEEPSEEK_INFERENCE_API_KEYS", "SIGTERM"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
}

TEST(ServerConfig, FlagTableIsTheContractsList) {
  const auto names = flag_names();
  for (const auto& name : names) EXPECT_TRUE(contract::is_flag(name)) << name << " not in contract";
  for (const auto flag : contract::kAllFlags) {
    EXPECT_NE(std::find(names.begin(), names.end(), std::string(flag)), names.end())
        << flag << " in the contract but not a server flag";
  }
  EXPECT_EQ(names.size(), std::size(contract::kAllFlags));
  // The flags the operator sets are among them.
  for (const auto flag :
       {contract::flag::kModel, contract::flag::kModelName, contract::flag::kPort,
        contract::flag::kDrainTimeout, contract::flag::kWarmupBatches, contract::flag::kApiKeys}) {
    EXPECT_TRUE(contract::is_flag(flag)) << flag;
  }
  EXPECT_EQ(contract::env_var("max-batch-size"), "DEEPSEEK_INFERENCE_MAX_BATCH_SIZE");
}

TEST(ServerConfig, GpuSimFlags) {
  auto p = parse({"--model", "builtin:gpu-sim", "--gpu-sim-step-ms", "40"},
                 {{"DEEPSEEK_INFERENCE_GPU_SIM_LOAD_S", "12"}});
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->config.gpu_sim_step_ms, 40);
  EXPECT_EQ(p->config.gpu_sim_load_s, 12);
  EXPECT_FALSE(parse({"--model", "builtin:gpu-sim", "--gpu-sim-step-ms", "-1"}));
}

TEST(ServerConfig, AModelDirectoryMeansItsModelFile) {
  const auto dir = std::filesystem::temp_directory_path() / "dso-model-dir-test";
  std::filesystem::create_directories(dir);
  EXPECT_EQ(model_file(dir.string()), (dir / "model.pt").string());
  EXPECT_EQ(model_file((dir / "weights.pt").string()), (dir / "weights.pt").string());
  EXPECT_EQ(model_file("builtin:gpu-sim"), "builtin:gpu-sim");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dso::inference
