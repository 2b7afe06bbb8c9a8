#include "api/deepseek_service.h"

#include <set>
#include <stdexcept>

#include "traces/duration.h"

namespace dso::api {
namespace {

using nlohmann::json;

// Thrown inside the parser only; parse_deepseek_service turns it into the error value.
struct FieldError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A view of one JSON object at a path ("spec.model"), with typed, defaulted field access whose
// errors name the full path of the field.
class Fields {
 public:
  Fields(const json& object, std::string path) : object_(object), path_(std::move(path)) {
    if (!object_.is_object() && !object_.is_null()) fail(path_, "must be an object");
  }

  std::string path(std::string_view key) const { return path_ + "." + std::string(key); }
  bool has(std::string_view key) const {
    return object_.is_object() && object_.contains(key) && !object_.at(key).is_null();
  }
  const json& raw(std::string_view key) const {
    static const json kNull;
    return has(key) ? object_.at(key) : kNull;
  }
  Fields object(std::string_view key) const { return Fields(raw(key), path(key)); }

  std::string string(std::string_view key, std::string fallback = {}) const {
    if (!has(key)) return fallback;
    if (!raw(key).is_string()) fail(path(key), "must be a string");
    return raw(key).get<std::string>();
  }
  std::optional<int> optional_int(std::string_view key) const {
    if (!has(key)) return std::nullopt;
    const json& v = raw(key);
    if (!v.is_number_integer()) fail(path(key), "must be an integer");
    const auto value = v.get<std::int64_t>();
    if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max())
      fail(path(key), "out of range");
    return static_cast<int>(value);
  }
  int integer(std::string_view key, int fallback) const {
    return optional_int(key).value_or(fallback);
  }
  std::optional<double> optional_number(std::string_view key) const {
    if (!has(key)) return std::nullopt;
    if (!raw(key).is_number()) fail(path(key), "must be a number");
    return raw(key).get<double>();
  }
  double number(std::string_view key, double fallback) const {
    return optional_number(key).value_or(fallback);
  }
  bool boolean(std::string_view key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!raw(key).is_boolean()) fail(path(key), "must be true or false");
    return raw(key).get<bool>();
  }
  std::chrono::milliseconds duration(std::string_view key,
                                     std::chrono::milliseconds fallback) const {
    if (!has(key)) return fallback;
    auto parsed = traces::parse_duration(string(key));
    if (!parsed) fail(path(key), parsed.error());
    return std::chrono::seconds(*parsed);
  }
  std::map<std::string, std::string> string_map(std::string_view key) const {
    std::map<std::string, std::string> out;
    if (!has(key)) return out;
    if (!raw(key).is_object()) fail(path(key), "must be an object of strings");
    for (const auto& [k, v] : raw(key).items()) {
      if (!v.is_string()) fail(path(key) + "." + k, "must be a string");
      out.emplace(k, v.get<std::string>());
    }
    return out;
  }
  // Calls `each(Fields item, path)` for every element of an array field.
  template <typename F>
  void for_each(std::string_view key, F each) const {
    if (!has(key)) return;
    if (!raw(key).is_array()) fail(path(key), "must be an array");
    std::size_t i = 0;
    for (const json& item : raw(key)) {
      each(Fields(item, path(key) + "[" + std::to_string(i) + "]"));
      ++i;
    }
  }
  json array(std::string_view key) const {
    if (!has(key)) return json::array();
    if (!raw(key).is_array()) fail(path(key), "must be an array");
    return raw(key);
  }
  template <typename E>
  E one_of(std::string_view key, std::initializer_list<std::pair<const char*, E>> choices,
           E fallback) const {
    if (!has(key)) return fallback;
    const std::string value = string(key);
    std::string allowed;
    for (const auto& [name, e] : choices) {
      if (value == name) return e;
      allowed += std::string(allowed.empty() ? "" : ", ") + name;
    }
    fail(path(key), "unsupported value \"" + value + "\" (one of: " + allowed + ")");
  }

  [[noreturn]] static void fail(const std::string& where, const std::string& why) {
    throw FieldError(where + ": " + why);
  }

 private:
  const json& object_;
  std::string path_;
};

Model parse_model(const Fields& f) {
  Model m;
  m.name = f.string("name");
  if (m.name.empty()) Fields::fail(f.path("name"), "required");
  m.image = f.string("image");
  if (m.image.empty()) Fields::fail(f.path("image"), "required");
  m.image_pull_policy = f.string("imagePullPolicy", m.image_pull_policy);
  f.for_each("imagePullSecrets",
             [&](const Fields& s) { m.image_pull_secrets.push_back(s.string("name")); });
  for (const json& arg : f.array("args")) {
    if (!arg.is_string()) Fields::fail(f.path("args"), "must be strings");
    m.args.push_back(arg.get<std::string>());
  }
  m.env = f.array("env");
  m.port = f.integer("port", m.port);
  m.runtime = f.one_of<Runtime>("runtime",
                                {{"deepseek", Runtime::kDeepSeek},
                                 {"vllm", Runtime::kVllm},
                                 {"sglang", Runtime::kSglang},
                                 {"openai-compatible", Runtime::kOpenAICompatible}},
                                m.runtime);
  m.metric_names = f.string_map("metricNames");
  const Fields source = f.object("source");
  if (source.has("pvc")) {
    m.source.pvc_claim = source.object("pvc").string("claimName");
    m.source.pvc_sub_path = source.object("pvc").string("subPath");
  }
  if (source.has("hostPath")) m.source.host_path = source.object("hostPath").string("path");
  if (source.has("uri")) m.source.uri = source.string("uri");
  m.source.mount_path = source.string("mountPath", m.source.mount_path);
  const Fields preload = f.object("preload");
  m.warmup_requests = preload.integer("warmupRequests", m.warmup_requests);
  m.load_timeout = preload.duration("loadTimeout", m.load_timeout);
  return m;
}

Resources parse_resources(const Fields& f) {
  Resources r;
  r.gpus_per_pod = f.integer("gpusPerPod", r.gpus_per_pod);
  r.gpu_type = f.string("gpuType");
  r.gpu_type_label = f.string("gpuTypeLabel", r.gpu_type_label);
  r.cpu = f.string("cpu", r.cpu);
  r.memory = f.string("memory", r.memory);
  r.tolerations = f.array("tolerations");
  r.priority_class_name = f.string("priorityClassName");
  const Fields spot = f.object("spot");
  r.spot.percent = spot.integer("percent", 0);
  r.spot.node_selector = spot.string_map("nodeSelector");
  r.spot.tolerations = spot.array("tolerations");
  return r;
}

Region parse_region(const Fields& f) {
  Region r;
  r.name = f.string("name");
  if (r.name.empty()) Fields::fail(f.path("name"), "required");
  r.role = f.one_of<RegionRole>(
      "role", {{"primary", RegionRole::kPrimary}, {"standby", RegionRole::kStandby}}, r.role);
  if (f.has("cluster")) {
    const Fields c = f.object("cluster");
    const Fields ref = c.object("secretRef");
    ClusterRef cluster;
    cluster.secret_name = ref.string("name");
    if (cluster.secret_name.empty()) Fields::fail(ref.path("name"), "required");
    cluster.secret_key = ref.string("key", cluster.secret_key);
    cluster.ns = c.string("namespace");
    r.cluster = cluster;
  }
  r.node_selector = f.string_map("nodeSelector");
  r.min_replicas = f.optional_int("minReplicas");
  r.max_replicas = f.optional_int("maxReplicas");
  r.weight = f.optional_int("weight");
  return r;
}

ScalingRules parse_rules(const Fields& f) {
  ScalingRules rules;
  rules.stabilization_window_seconds = f.optional_int("stabilizationWindowSeconds");
  rules.select_policy = f.one_of<SelectPolicy>("selectPolicy",
                                               {{"Max", SelectPolicy::kMax},
                                                {"Min", SelectPolicy::kMin},
                                                {"Disabled", SelectPolicy::kDisabled}},
                                               rules.select_policy);
  f.for_each("policies", [&](const Fields& p) {
    ScalingPolicy policy;
    policy.type = p.one_of<ScalingPolicyType>(
        "type", {{"Pods", ScalingPolicyType::kPods}, {"Percent", ScalingPolicyType::kPercent}},
        policy.type);
    policy.value = p.integer("value", policy.value);
    policy.period_seconds = p.integer("periodSeconds", policy.period_seconds);
    rules.policies.push_back(policy);
  });
  return rules;
}

Autoscaling parse_autoscaling(const Fields& f) {
  Autoscaling a;
  a.enabled = f.boolean("enabled", a.enabled);
  a.min_replicas = f.integer("minReplicas", a.min_replicas);
  a.max_replicas = f.integer("maxReplicas", a.max_replicas);
  a.scale_to_zero = f.boolean("scaleToZero", a.scale_to_zero);
  f.for_each("metrics", [&](const Fields& m) {
    MetricSpec metric;
    metric.type = m.one_of<MetricType>("type",
                                       {{"RequestsPerSecond", MetricType::kRequestsPerSecond},
                                        {"P99Latency", MetricType::kP99Latency},
                                        {"QueueDepth", MetricType::kQueueDepth},
                                        {"GPUUtilization", MetricType::kGpuUtilization},
                                        {"KVCacheUsage", MetricType::kKvCacheUsage},
                                        {"PromQL", MetricType::kPromQL}},
                                       metric.type);
    metric.target = m.number("target", metric.target);
    metric.query = m.string("query");
    a.metrics.push_back(metric);
  });
  if (a.metrics.empty()) a.metrics.push_back(MetricSpec{});
  const Fields behavior = f.object("behavior");
  a.tolerance = behavior.number("tolerance", a.tolerance);
  a.scale_up = parse_rules(behavior.object("scaleUp"));
  a.scale_down = parse_rules(behavior.object("scaleDown"));
  const Fields p = f.object("predictive");
  a.predictive.mode = p.one_of<PredictiveMode>("mode",
                                               {{"Off", PredictiveMode::kOff},
                                                {"Preview", PredictiveMode::kPreview},
                                                {"Auto", PredictiveMode::kAuto}},
                                               a.predictive.mode);
  a.predictive.model = p.string("model", a.predictive.model);
  for (const json& s : p.array("seasonalities")) {
    if (!s.is_string()) Fields::fail(p.path("seasonalities"), "must be strings");
    a.predictive.seasonalities.push_back(s.get<std::string>());
  }
  a.predictive.history = p.duration("history", a.predictive.history);
  a.predictive.quantile = p.number("quantile", a.predictive.quantile);
  const std::string horizon = p.string("horizon", "auto");
  if (horizon != "auto") a.predictive.horizon = p.duration("horizon", {});
  a.predictive.cold_start = p.duration("coldStart", a.predictive.cold_start);
  a.predictive.capacity_per_replica = p.optional_number("capacityPerReplica");
  a.predictive.max_forecast_error = p.number("maxForecastError", a.predictive.max_forecast_error);
  f.for_each("schedules", [&](const Fields& s) {
    Schedule schedule;
    schedule.name = s.string("name");
    schedule.cron = s.string("cron");
    schedule.duration = s.duration("duration", schedule.duration);
    schedule.time_zone = s.string("timeZone", schedule.time_zone);
    schedule.min_replicas = s.optional_int("minReplicas");
    schedule.max_replicas = s.optional_int("maxReplicas");
    a.schedules.push_back(schedule);
  });
  const Fields fallback = f.object("fallback");
  a.on_metrics_unavailable = fallback.one_of<MetricsFallback>(
      "onMetricsUnavailable",
      {{"Hold", MetricsFallback::kHold}, {"FollowForecast", MetricsFallback::kFollowForecast}},
      a.on_metrics_unavailable);
  a.stale_after = fallback.duration("staleAfter", a.stale_after);
  a.max_gpus = f.object("gpuBudget").optional_int("maxGPUs");
  return a;
}

}  // namespace

std::expected<DeepSeekService, std::string> parse_deepseek_service(const json& object) {
  try {
    DeepSeekService dss;
    const Fields root(object, "");
    const Fields meta = root.object("metadata");
    dss.metadata.name = meta.string("name");
    dss.metadata.ns = meta.string("namespace");
    dss.metadata.uid = meta.string("uid");
    dss.metadata.resource_version = meta.string("resourceVersion");
    if (meta.has("generation"))
      dss.metadata.generation = meta.raw("generation").get<std::int64_t>();
    dss.metadata.labels = meta.string_map("labels");
    dss.metadata.being_deleted = meta.has("deletionTimestamp");
    if (!root.has("spec")) Fields::fail("spec", "required");
    const Fields spec(root.raw("spec"), "spec");
    dss.spec.replicas = spec.optional_int("replicas");
    dss.spec.model = parse_model(spec.object("model"));
    dss.spec.resources = parse_resources(spec.object("resources"));
    spec.for_each("regions", [&](const Fields& r) { dss.spec.regions.push_back(parse_region(r)); });
    if (dss.spec.regions.empty()) {
      Region only;
      only.name = "default";
      dss.spec.regions.push_back(std::move(only));
    }
    dss.spec.autoscaling = parse_autoscaling(spec.object("autoscaling"));
    const Fields failover = spec.object("failover");
    dss.spec.failover.enabled = failover.boolean("enabled", dss.spec.failover.enabled);
    dss.spec.failover.unhealthy_after =
        failover.duration("unhealthyAfter", dss.spec.failover.unhealthy_after);
    dss.spec.failover.healthy_after =
        failover.duration("healthyAfter", dss.spec.failover.healthy_after);
    dss.spec.failover.traffic_config_map =
        failover.object("trafficPublication").string("configMapName");
    const Fields drain = spec.object("drain");
    dss.spec.termination_grace_period_seconds =
        drain.integer("terminationGracePeriodSeconds", dss.spec.termination_grace_period_seconds);
    dss.spec.pre_stop_seconds = drain.integer("preStopSeconds", dss.spec.pre_stop_seconds);
    return dss;
  } catch (const FieldError& e) {
    std::string message = e.what();
    if (message.starts_with(".")) message.erase(0, 1);  // root-level paths
    return std::unexpected(std::move(message));
  } catch (const json::exception& e) {
    return std::unexpected(std::string("malformed object: ") + e.what());
  }
}

std::vector<std::string> validate(const DeepSeekServiceSpec& spec) {
  std::vector<std::string> problems;
  const auto& a = spec.autoscaling;
  if (a.min_replicas > a.max_replicas) {
    problems.push_back("spec.autoscaling.minReplicas (" + std::to_string(a.min_replicas) +
                       ") > spec.autoscaling.maxReplicas (" + std::to_string(a.max_replicas) + ")");
  }
  if (a.enabled && a.min_replicas == 0 && !a.scale_to_zero) {
    problems.push_back(
        "spec.autoscaling.minReplicas is 0 but spec.autoscaling.scaleToZero is false");
  }
  if (spec.resources.gpus_per_pod == 0 && !spec.resources.gpu_type.empty()) {
    problems.push_back("spec.resources.gpuType \"" + spec.resources.gpu_type +
                       "\" is set but spec.resources.gpusPerPod is 0");
  }
  for (std::size_t i = 0; i < a.metrics.size(); ++i) {
    const auto& m = a.metrics[i];
    const std::string where = "spec.autoscaling.metrics[" + std::to_string(i) + "]";
    if (m.type == MetricType::kPromQL && m.query.empty())
      problems.push_back(where + ".query is required for type PromQL");
    if (m.type != MetricType::kPromQL && !m.query.empty())
      problems.push_back(where + ".query is only for type PromQL");
    if ((m.type == MetricType::kGpuUtilization || m.type == MetricType::kKvCacheUsage) &&
        m.target > 1) {
      problems.push_back(where + ".target must be a fraction in (0, 1] for this metric");
    }
  }
  std::set<std::string> names;
  int primaries = 0;
  for (std::size_t i = 0; i < spec.regions.size(); ++i) {
    const Region& r = spec.regions[i];
    const std::string where = "spec.regions[" + std::to_string(i) + "]";
    if (!names.insert(r.name).second)
      problems.push_back(where + ".name \"" + r.name + "\" is used twice");
    if (r.role == RegionRole::kPrimary) ++primaries;
    if (r.name == "primary" && !spec.failover.traffic_config_map.empty()) {
      problems.push_back(where +
                         ".name \"primary\" is a key of the traffic ConfigMap "
                         "(spec.failover.trafficPublication): rename the region");
    }
    if (r.min_replicas && r.max_replicas && *r.min_replicas > *r.max_replicas) {
      problems.push_back(where + ".minReplicas (" + std::to_string(*r.min_replicas) +
                         ") > maxReplicas (" + std::to_string(*r.max_replicas) + ")");
    }
  }
  if (primaries == 0) problems.push_back("spec.regions: no region has role primary");
  if (primaries > 1)
    problems.push_back("spec.regions: " + std::to_string(primaries) +
                       " regions have role primary (one allowed)");
  const auto& m = spec.model.source;
  if (int(m.pvc_claim.has_value()) + int(m.host_path.has_value()) + int(m.uri.has_value()) > 1) {
    problems.push_back("spec.model.source: set only one of pvc, hostPath, uri");
  }
  for (std::size_t i = 0; i < a.schedules.size(); ++i) {
    const auto& s = a.schedules[i];
    if (s.min_replicas && s.max_replicas && *s.min_replicas > *s.max_replicas) {
      problems.push_back("spec.autoscaling.schedules[" + std::to_string(i) +
                         "].minReplicas > maxReplicas");
    }
  }
  if (spec.pre_stop_seconds > 0 && spec.pre_stop_seconds >= spec.termination_grace_period_seconds) {
    problems.push_back("spec.drain.preStopSeconds (" + std::to_string(spec.pre_stop_seconds) +
                       ") must be less than spec.drain.terminationGracePeriodSeconds (" +
                       std::to_string(spec.termination_grace_period_seconds) + ")");
  }
  if (a.predictive.quantile < 0.5 || a.predictive.quantile >= 1) {
    problems.push_back("spec.autoscaling.predictive.quantile must be in [0.5, 1)");
  }
  return problems;
}

const Region* primary_region(const DeepSeekServiceSpec& spec) {
  for (const Region& r : spec.regions) {
    if (r.role == RegionRole::kPrimary) return &r;
  }
  return nullptr;
}

}  // namespace dso::api
