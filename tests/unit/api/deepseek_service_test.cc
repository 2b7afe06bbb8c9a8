#include "api/deepseek_service.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

namespace dso::api {
namespace {

using nlohmann::json;

// YAML (as users write it) to JSON (as the API server returns it).
json yaml_to_json(const YAML::Node& node) {
  if (node.IsMap()) {
    json out = json::object();
    for (const auto& kv : node) out[kv.first.as<std::string>()] = yaml_to_json(kv.second);
    return out;
  }
  if (node.IsSequence()) {
    json out = json::array();
    for (const auto& item : node) out.push_back(yaml_to_json(item));
    return out;
  }
  if (node.IsNull()) return nullptr;
  const std::string s = node.as<std::string>();
  if (node.Tag() == "!") return s;  // quoted
  if (s == "true" || s == "false") return s == "true";
  try {
    std::size_t used = 0;
    const long long i = std::stoll(s, &used);
    if (used == s.size()) return i;
    const double d = std::stod(s, &used);
    if (used == s.size()) return d;
  } catch (const std::exception&) {
  }
  return s;
}

json sample(const std::string& file) {
  return yaml_to_json(YAML::LoadFile(std::string(DSO_SOURCE_DIR) + "/crds/samples/" + file));
}

TEST(DeepSeekService, MinimalSampleGetsTheCrdDefaults) {
  const auto dss = parse_deepseek_service(sample("minimal.yaml"));
  ASSERT_TRUE(dss.has_value()) << dss.error();
  EXPECT_EQ(dss->metadata.name, "chat-small");
  EXPECT_EQ(dss->spec.model.port, 8000);
  EXPECT_EQ(dss->spec.resources.gpus_per_pod, 1);
  ASSERT_EQ(dss->spec.regions.size(), 1u);
  EXPECT_EQ(dss->spec.regions[0].name, "default");
  EXPECT_EQ(dss->spec.regions[0].role, RegionRole::kPrimary);
  EXPECT_TRUE(dss->spec.autoscaling.enabled);
  EXPECT_EQ(dss->spec.autoscaling.min_replicas, 1);
  EXPECT_EQ(dss->spec.autoscaling.max_replicas, 10);
  ASSERT_EQ(dss->spec.autoscaling.metrics.size(), 1u);
  EXPECT_EQ(dss->spec.autoscaling.metrics[0].type, MetricType::kRequestsPerSecond);
  EXPECT_EQ(dss->spec.autoscaling.predictive.mode, PredictiveMode::kAuto);
  EXPECT_EQ(dss->spec.autoscaling.predictive.history, std::chrono::hours(24 * 14));
  EXPECT_FALSE(dss->spec.autoscaling.predictive.horizon.has_value());
  EXPECT_TRUE(validate(dss->spec).empty());
}

TEST(DeepSeekService, FullSampleParsesEveryPart) {
  const auto dss = parse_deepseek_service(sample("full.yaml"));
  ASSERT_TRUE(dss.has_value()) << dss.error();
  const auto& s = dss->spec;
  EXPECT_EQ(s.resources.gpus_per_pod, 8);
  EXPECT_EQ(s.resources.gpu_type, "NVIDIA-H100-80GB-HBM3");
  EXPECT_EQ(s.resources.spot.percent, 20);
  ASSERT_EQ(s.regions.size(), 2u);
  EXPECT_EQ(s.regions[1].role, RegionRole::kStandby);
  EXPECT_FALSE(s.regions[1].cluster.has_value());
  EXPECT_EQ(s.regions[1].node_selector.at("topology.kubernetes.io/region"), "us-west-2");
  EXPECT_EQ(s.autoscaling.metrics.size(), 3u);
  EXPECT_EQ(s.autoscaling.metrics[2].type, MetricType::kPromQL);
  EXPECT_FALSE(s.autoscaling.metrics[2].query.empty());
  EXPECT_EQ(s.autoscaling.scale_up.policies.size(), 2u);
  EXPECT_EQ(s.autoscaling.scale_down.stabilization_window_seconds, 300);
  EXPECT_EQ(s.autoscaling.predictive.mode, PredictiveMode::kAuto);
  EXPECT_EQ(s.autoscaling.predictive.cold_start, std::chrono::minutes(8));
  ASSERT_EQ(s.autoscaling.schedules.size(), 1u);
  EXPECT_EQ(s.autoscaling.schedules[0].duration, std::chrono::hours(10));
  EXPECT_EQ(s.autoscaling.max_gpus, 480);
  EXPECT_EQ(s.termination_grace_period_seconds, 600);
  EXPECT_EQ(s.pre_stop_seconds, 15);
  EXPECT_EQ(primary_region(s)->name, "us-east");
  EXPECT_TRUE(validate(s).empty());
}

TEST(DeepSeekService, RegionInAnotherClusterNamesItsSecret) {
  json object = sample("minimal.yaml");
  object["spec"]["regions"] = json::array(
      {{{"name", "us"}},
       {{"name", "eu"},
        {"role", "standby"},
        {"cluster", {{"secretRef", {{"name", "eu-kubeconfig"}}}, {"namespace", "serving"}}}}});
  const auto dss = parse_deepseek_service(object);
  ASSERT_TRUE(dss.has_value()) << dss.error();
  ASSERT_TRUE(dss->spec.regions[1].cluster.has_value());
  EXPECT_EQ(dss->spec.regions[1].cluster->secret_name, "eu-kubeconfig");
  EXPECT_EQ(dss->spec.regions[1].cluster->secret_key, "kubeconfig");
  EXPECT_EQ(dss->spec.regions[1].cluster->ns, "serving");
}

TEST(DeepSeekService, PreStopMustEndBeforeTheGracePeriod) {
  json object = sample("minimal.yaml");
  object["spec"]["drain"] = {{"terminationGracePeriodSeconds", 10}, {"preStopSeconds", 10}};
  const auto dss = parse_deepseek_service(object);
  ASSERT_TRUE(dss.has_value()) << dss.error();
  const auto problems = validate(dss->spec);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("spec.drain.preStopSeconds (10)"), std::string::npos) << problems[0];
}

TEST(DeepSeekService, ParseErrorsNameTheField) {
  json object = sample("minimal.yaml");
  object["spec"]["autoscaling"] = {{"predictive", {{"history", "fortnight"}}}};
  EXPECT_EQ(parse_deepseek_service(object).error(),
            "spec.autoscaling.predictive.history: invalid duration 'fortnight': expected a number "
            "(examples: 15s, 5m, 1h30m, 7d, 2w)");
  object = sample("minimal.yaml");
  object["spec"]["regions"] = json::array({{{"name", "a"}, {"minReplicas", "two"}}});
  EXPECT_EQ(parse_deepseek_service(object).error(),
            "spec.regions[0].minReplicas: must be an integer");
  object = sample("minimal.yaml");
  object["spec"]["model"].erase("image");
  EXPECT_EQ(parse_deepseek_service(object).error(), "spec.model.image: required");
  object = sample("minimal.yaml");
  object["spec"]["autoscaling"] = {{"metrics", json::array({{{"type", "Vibes"}, {"target", 1}}})}};
  EXPECT_EQ(parse_deepseek_service(object).error(),
            "spec.autoscaling.metrics[0].type: unsupported value \"Vibes\" (one of: "
            "RequestsPerSecond, P99Latency, "
            "QueueDepth, GPUUtilization, KVCacheUsage, PromQL)");
  EXPECT_EQ(parse_deepseek_service(json{{"metadata", {{"name", "x"}}}}).error(), "spec: required");
  EXPECT_EQ(parse_deepseek_service(json::array()).error(), ": must be an object");
}

TEST(DeepSeekService, CrossFieldChecksTheApiServerCannotMake) {
  auto dss = parse_deepseek_service(sample("minimal.yaml")).value();
  auto& s = dss.spec;
  s.autoscaling.min_replicas = 5;
  s.autoscaling.max_replicas = 2;
  s.resources.gpus_per_pod = 0;
  s.resources.gpu_type = "H100";
  s.autoscaling.metrics = {MetricSpec{MetricType::kPromQL, 3, ""},
                           MetricSpec{MetricType::kGpuUtilization, 70, ""}};
  Region standby;
  standby.name = "default";
  standby.role = RegionRole::kPrimary;
  standby.min_replicas = 3;
  standby.max_replicas = 1;
  s.regions.push_back(standby);
  const auto problems = validate(s);
  const std::vector<std::string> expected = {
      "spec.autoscaling.minReplicas (5) > spec.autoscaling.maxReplicas (2)",
      "spec.resources.gpuType \"H100\" is set but spec.resources.gpusPerPod is 0",
      "spec.autoscaling.metrics[0].query is required for type PromQL",
      "spec.autoscaling.metrics[1].target must be a fraction in (0, 1] for this metric",
      "spec.regions[1].name \"default\" is used twice",
      "spec.regions[1].minReplicas (3) > maxReplicas (1)",
      "spec.regions: 2 regions have role primary (one allowed)",
  };
  EXPECT_EQ(problems, expected);
}

TEST(DeepSeekService, ZeroMinimumNeedsScaleToZero) {
  auto dss = parse_deepseek_service(sample("minimal.yaml")).value();
  dss.spec.autoscaling.min_replicas = 0;
  ASSERT_EQ(validate(dss.spec).size(), 1u);
  dss.spec.autoscaling.scale_to_zero = true;
  EXPECT_TRUE(validate(dss.spec).empty());
}

}  // namespace
}  // namespace dso::api
