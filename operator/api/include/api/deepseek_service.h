// DeepSeekService (inference.deepseek.io/v1alpha1): the typed form of the custom resource, parsed
// from the JSON the API server returns, with the defaults of crds/ applied, and the cross-field
// checks that a 1.20 API server cannot express (no CEL) — reported as a Degraded condition.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace dso::api {

inline constexpr const char* kGroup = "inference.deepseek.io";
inline constexpr const char* kVersion = "v1alpha1";
inline constexpr const char* kApiVersion = "inference.deepseek.io/v1alpha1";
inline constexpr const char* kKind = "DeepSeekService";
inline constexpr const char* kResource = "deepseekservices";

// The serving runtime the image runs (runtime/profile.h has what each means for the pod).
enum class Runtime { kDeepSeek, kVllm, kSglang, kOpenAICompatible };
enum class RegionRole { kPrimary, kStandby };
enum class PredictiveMode { kOff, kPreview, kAuto };
enum class MetricType {
  kRequestsPerSecond,
  kP99Latency,
  kQueueDepth,
  kGpuUtilization,
  kKvCacheUsage,
  kPromQL
};
enum class MetricsFallback { kHold, kFollowForecast };
enum class SelectPolicy { kMax, kMin, kDisabled };
enum class ScalingPolicyType { kPods, kPercent };

struct ModelSource {
  std::optional<std::string> pvc_claim;
  std::string pvc_sub_path;
  std::optional<std::string> host_path;
  std::optional<std::string> uri;
  std::string mount_path = "/models";
};

struct Model {
  std::string name;
  std::string image;
  std::string image_pull_policy = "IfNotPresent";
  std::vector<std::string> image_pull_secrets;
  std::vector<std::string> args;
  nlohmann::json env = nlohmann::json::array();  // container env entries, passed through
  int port = 8000;
  Runtime runtime = Runtime::kDeepSeek;
  std::map<std::string, std::string>
      metric_names;  // requestsTotal, queueDepth, ... (non-default runtimes)
  ModelSource source;
  int warmup_requests = 8;
  std::chrono::milliseconds load_timeout = std::chrono::minutes(20);
};

struct SpotCapacity {
  int percent = 0;
  std::map<std::string, std::string> node_selector;
  nlohmann::json tolerations = nlohmann::json::array();
};

struct Resources {
  int gpus_per_pod = 1;
  std::string gpu_type;  // empty: any GPU
  std::string gpu_type_label = "nvidia.com/gpu.product";
  std::string cpu = "4";
  std::string memory = "32Gi";
  nlohmann::json tolerations = nlohmann::json::array();
  std::string priority_class_name;
  SpotCapacity spot;
};

struct ClusterRef {
  std::string secret_name;
  std::string secret_key = "kubeconfig";
  std::string ns;  // namespace in that cluster; empty = the service's
};

struct Region {
  std::string name;
  RegionRole role = RegionRole::kPrimary;
  std::optional<ClusterRef> cluster;  // nullopt: this cluster
  std::map<std::string, std::string> node_selector;
  std::optional<int> min_replicas;
  std::optional<int> max_replicas;
  std::optional<int> weight;
};

struct MetricSpec {
  MetricType type = MetricType::kRequestsPerSecond;
  double target = 10;
  std::string query;  // PromQL only
};

struct ScalingPolicy {
  ScalingPolicyType type = ScalingPolicyType::kPods;
  int value = 1;
  int period_seconds = 60;
};

struct ScalingRules {
  std::optional<int> stabilization_window_seconds;  // nullopt: HPA default (0 up, 300 down)
  SelectPolicy select_policy = SelectPolicy::kMax;
  std::vector<ScalingPolicy> policies;  // empty: HPA defaults
};

struct Predictive {
  PredictiveMode mode = PredictiveMode::kAuto;
  std::string model = "auto";
  std::vector<std::string> seasonalities;
  std::chrono::milliseconds history = std::chrono::hours(24 * 14);
  double quantile = 0.9;
  std::optional<std::chrono::milliseconds> horizon;  // nullopt: auto (cold start + one period)
  std::chrono::milliseconds cold_start = std::chrono::minutes(5);
  std::optional<double> capacity_per_replica;
  double max_forecast_error = 1.0;  // the engine default the simulator measured
};

struct Schedule {
  std::string name;
  std::string cron;
  std::chrono::milliseconds duration{0};
  std::string time_zone = "UTC";
  std::optional<int> min_replicas;
  std::optional<int> max_replicas;
};

struct Autoscaling {
  bool enabled = true;
  int min_replicas = 1;
  int max_replicas = 10;
  bool scale_to_zero = false;
  std::vector<MetricSpec> metrics;  // default: RequestsPerSecond 10
  double tolerance = 0.1;
  ScalingRules scale_up;
  ScalingRules scale_down;
  Predictive predictive;
  std::vector<Schedule> schedules;
  MetricsFallback on_metrics_unavailable = MetricsFallback::kHold;
  std::chrono::milliseconds stale_after = std::chrono::minutes(2);
  std::optional<int> max_gpus;
};

struct Failover {
  bool enabled = true;
  std::chrono::milliseconds unhealthy_after = std::chrono::minutes(2);
  std::chrono::milliseconds healthy_after = std::chrono::minutes(10);
  std::string traffic_config_map;
};

struct DeepSeekServiceSpec {
  std::optional<int> replicas;
  Model model;
  Resources resources;
  std::vector<Region> regions;  // default: one primary "default" in this cluster
  Autoscaling autoscaling;
  Failover failover;
  int termination_grace_period_seconds = 300;
  int pre_stop_seconds = 10;  // spec.drain.preStopSeconds
};

struct ObjectMeta {
  std::string name;
  std::string ns;
  std::string uid;
  std::string resource_version;
  std::int64_t generation = 0;
  std::map<std::string, std::string> labels;
  bool being_deleted = false;  // metadata.deletionTimestamp set
};

struct DeepSeekService {
  ObjectMeta metadata;
  DeepSeekServiceSpec spec;
};

// Parses a DeepSeekService object. Fields the API server defaults are defaulted here too, so an
// object written before a default existed parses the same. Errors name the field
// (e.g. "spec.autoscaling.predictive.history: bad duration ...").
std::expected<DeepSeekService, std::string> parse_deepseek_service(const nlohmann::json& object);

// Cross-field checks the API server cannot make. Returns one message per problem, each naming the
// fields (e.g. "spec.autoscaling.minReplicas (5) > spec.autoscaling.maxReplicas (2)"); empty =
// valid.
std::vector<std::string> validate(const DeepSeekServiceSpec& spec);

// The primary region (the first with role primary), or nullptr.
const Region* primary_region(const DeepSeekServiceSpec& spec);

}  // namespace dso::api
