// The serving runtimes' profiles: what each puts into the pod, and what each refuses.
#include <gtest/gtest.h>

#include <map>

#include "runtime/profile.h"

namespace dso::runtime {
namespace {

using nlohmann::json;

api::DeepSeekService service(json model, json drain = json::object()) {
  json object = {{"metadata", {{"name", "chat"}, {"namespace", "ml"}}},
                 {"spec", {{"model", std::move(model)}, {"drain", std::move(drain)}}}};
  return api::parse_deepseek_service(object).value();
}

std::map<std::string, std::string> env_of(const InferenceContainer& c) {
  std::map<std::string, std::string> env;
  for (const json& e : c.env) env[e["name"]] = e.value("value", "");
  return env;
}

TEST(RuntimeProfile, DeepSeekSetsTheServersOwnVariables) {
  const auto dss =
      service({{"name", "deepseek-tiny"},
               {"image", "i"},
               {"port", 9000},
               {"args", json::array({"--max-batch-size=8"})},
               {"source", {{"hostPath", {{"path", "/data/w"}}}}},
               {"preload", {{"warmupRequests", 3}, {"loadTimeout", "2m"}}},
               {"env", json::array({{{"name", "DEEPSEEK_INFERENCE_PORT"}, {"value", "9001"}}})}},
              {{"terminationGracePeriodSeconds", 60}, {"preStopSeconds", 20}});
  const InferenceContainer c = inference_container(dss);
  EXPECT_TRUE(c.command.empty());  // the image's entrypoint
  EXPECT_EQ(c.args, (std::vector<std::string>{"--max-batch-size=8"}));
  const auto env = env_of(c);
  EXPECT_EQ(env.at("DEEPSEEK_INFERENCE_MODEL_NAME"), "deepseek-tiny");
  EXPECT_EQ(env.at("DEEPSEEK_INFERENCE_MODEL"), "/models");
  EXPECT_EQ(env.at("DEEPSEEK_INFERENCE_WARMUP_BATCHES"), "3");
  EXPECT_EQ(env.at("DEEPSEEK_INFERENCE_DRAIN_TIMEOUT_S"), "35");  // 60 - 20 - 5
  EXPECT_FALSE(env.contains("DEEPSEEK_INFERENCE_MODEL_URL"));
  // The user's entry comes after the operator's: the last one wins in a container's env.
  EXPECT_EQ(c.env.back()["value"], "9001");
  EXPECT_EQ(c.startup.path, "/readyz");
  EXPECT_EQ(c.startup.failure_threshold, 12);  // 2 minutes at 10 s
  EXPECT_EQ(c.readiness.path, "/readyz");
  EXPECT_EQ(c.liveness.path, "/healthz");
  EXPECT_EQ(c.pre_stop["exec"]["command"], json::array({"sleep", "20"}));
  EXPECT_FALSE(c.writable_model_volume);
}

TEST(RuntimeProfile, DrainTimingNeverGoesNegative) {
  api::DeepSeekServiceSpec spec;
  spec.termination_grace_period_seconds = 8;
  spec.pre_stop_seconds = 5;
  EXPECT_EQ(drain_timing(spec).drain, 0);
  spec.pre_stop_seconds = 0;
  EXPECT_EQ(drain_timing(spec).drain, 3);
  const auto dss = service({{"name", "m"}, {"image", "i"}},
                           {{"terminationGracePeriodSeconds", 30}, {"preStopSeconds", 0}});
  EXPECT_TRUE(inference_container(dss).pre_stop.is_null());
}

TEST(RuntimeProfile, DeepSeekDownloadsAnHttpsUriIntoAWritableVolume) {
  const auto dss = service(
      {{"name", "m"}, {"image", "i"}, {"source", {{"uri", "https://models.example/m.pt"}}}});
  const InferenceContainer c = inference_container(dss);
  const auto env = env_of(c);
  EXPECT_EQ(env.at("DEEPSEEK_INFERENCE_MODEL_URL"), "https://models.example/m.pt");
  EXPECT_EQ(env.at("DEEPSEEK_INFERENCE_MODEL"), "/models");
  EXPECT_TRUE(c.writable_model_volume);
  EXPECT_TRUE(validate_runtime(dss.spec).empty());
  const auto s3 =
      service({{"name", "m"}, {"image", "i"}, {"source", {{"uri", "s3://bucket/m.pt"}}}});
  ASSERT_EQ(validate_runtime(s3.spec).size(), 1u);
  EXPECT_NE(validate_runtime(s3.spec)[0].find("spec.model.source.uri"), std::string::npos);
}

TEST(RuntimeProfile, DeepSeekArgsMustBeServerFlags) {
  const auto dss =
      service({{"name", "m"},
               {"image", "i"},
               {"args", json::array({"--max-batch-size=32", "--max-wait=5ms", "--max-queue", "64",
                                     "stray", "--api-keys=/keys"})}});
  const auto problems = validate_runtime(dss.spec);
  ASSERT_EQ(problems.size(), 2u) << json(problems).dump();
  EXPECT_NE(problems[0].find("spec.model.args[1]"), std::string::npos) << problems[0];
  EXPECT_NE(problems[0].find("--max-wait is not a flag"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("spec.model.args[4] \"stray\""), std::string::npos) << problems[1];
}

TEST(RuntimeProfile, VllmNamesTheModelAndServedName) {
  const auto dss = service({{"name", "deepseek-v3"},
                            {"image", "vllm/vllm-openai:v0.8"},
                            {"runtime", "vllm"},
                            {"port", 8080},
                            {"args", json::array({"--tensor-parallel-size", "8"})},
                            {"source", {{"pvc", {{"claimName", "weights"}}}}}});
  const InferenceContainer c = inference_container(dss);
  EXPECT_TRUE(c.command.empty());
  EXPECT_EQ(c.args,
            (std::vector<std::string>{"--model", "/models", "--served-model-name", "deepseek-v3",
                                      "--port", "8080", "--tensor-parallel-size", "8"}));
  EXPECT_EQ(c.readiness.path, "/health");
  EXPECT_EQ(env_of(c).at("HF_HOME"), "/tmp/huggingface");
  EXPECT_TRUE(validate_runtime(dss.spec).empty());
  EXPECT_EQ(metric_names(dss.spec.model)->requests_total, "vllm:request_success_total");
}

TEST(RuntimeProfile, HuggingFaceIdsForVllmAndSglang) {
  const auto dss = service({{"name", "ds"},
                            {"image", "lmsysorg/sglang:latest"},
                            {"runtime", "sglang"},
                            {"source", {{"uri", "hf://deepseek-ai/DeepSeek-V3"}}}});
  const InferenceContainer c = inference_container(dss);
  EXPECT_EQ(c.command, (std::vector<std::string>{"python3", "-m", "sglang.launch_server"}));
  ASSERT_GE(c.args.size(), 2u);
  EXPECT_EQ(c.args[0], "--model-path");
  EXPECT_EQ(c.args[1], "deepseek-ai/DeepSeek-V3");
  EXPECT_NE(std::find(c.args.begin(), c.args.end(), "--enable-metrics"), c.args.end());
  EXPECT_EQ(env_of(c).at("HF_HOME"), "/models");  // the writable volume holds the download
  EXPECT_TRUE(c.writable_model_volume);
  EXPECT_EQ(metric_names(dss.spec.model)->queue_depth, "sglang:num_queue_reqs");
  const auto https = service({{"name", "ds"},
                              {"image", "i"},
                              {"runtime", "vllm"},
                              {"source", {{"uri", "https://example/m"}}}});
  EXPECT_EQ(validate_runtime(https.spec).size(), 1u);
}

TEST(RuntimeProfile, GenericServersGetTheirOwnArgsAndModelsProbes) {
  const auto dss = service({{"name", "m"},
                            {"image", "i"},
                            {"runtime", "openai-compatible"},
                            {"args", json::array({"serve", "--port=8000"})}});
  const InferenceContainer c = inference_container(dss);
  EXPECT_EQ(c.args, (std::vector<std::string>{"serve", "--port=8000"}));
  EXPECT_EQ(c.readiness.path, "/v1/models");
  EXPECT_TRUE(
      validate_runtime(dss.spec).empty());  // no flag check for servers the project does not ship
}

TEST(RuntimeProfile, MetricNamesOverridesAreChecked) {
  auto dss = service({{"name", "m"}, {"image", "i"}});
  dss.spec.model.metric_names["requestDurationSeconds"] = "http_latency_seconds_bucket";
  EXPECT_EQ(metric_names(dss.spec.model)->request_duration_seconds, "http_latency_seconds");
  dss.spec.model.metric_names["queueDepth"] = "bad name{}";
  ASSERT_EQ(validate_runtime(dss.spec).size(), 1u);
  EXPECT_NE(validate_runtime(dss.spec)[0].find("spec.model.metricNames.queueDepth"),
            std::string::npos);
}

}  // namespace
}  // namespace dso::runtime
