#include "controller/desired_objects.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>

#include "runtime/profile.h"

namespace dso::controller {
namespace {

using nlohmann::json;

constexpr const char* kHttpPortName = "http";

std::string short_hash(const std::string& text) {
  // FNV-1a: stable across runs and builds (std::hash is not guaranteed to be).
  std::uint32_t h = 2166136261u;
  for (unsigned char c : text) h = (h ^ c) * 16777619u;
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", h);
  return std::string(buf, 8);
}

std::string fnv1a64_hex(const std::string& text) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string(buf, 16);
}

std::string applied_hash(json object) {
  if (object.contains("metadata") && object["metadata"].contains("annotations")) {
    json& annotations = object["metadata"]["annotations"];
    annotations.erase(kAppliedHashAnnotation);
    if (annotations.empty()) object["metadata"].erase("annotations");
  }
  return fnv1a64_hex(object.dump());
}

// Every field of `want` has the same value in `have` (see cluster_holds).
bool holds(const json& want, const json& have) {
  if (want.is_object()) {
    if (!have.is_object()) return false;
    for (const auto& [key, value] : want.items()) {
      const auto it = have.find(key);
      if (it == have.end() || !holds(value, *it)) return false;
    }
    return true;
  }
  if (want.is_array()) {
    if (!have.is_array() || have.size() != want.size()) return false;
    for (std::size_t i = 0; i < want.size(); ++i) {
      if (!holds(want[i], have[i])) return false;
    }
    return true;
  }
  return want == have;
}

json owner_reference(const api::DeepSeekService& dss) {
  return json{{"apiVersion", api::kApiVersion}, {"kind", api::kKind}, {"name", dss.metadata.name},
              {"uid", dss.metadata.uid},        {"controller", true}, {"blockOwnerDeletion", true}};
}

json metadata(const api::DeepSeekService& dss, const api::Region& region,
              const BuildOptions& options) {
  json meta{
      {"name", region_object_name(dss, region)},
      {"namespace", options.target_namespace.empty() ? dss.metadata.ns : options.target_namespace},
      {"labels", region_labels(dss, region)}};
  if (options.same_cluster && !dss.metadata.uid.empty())
    meta["ownerReferences"] = json::array({owner_reference(dss)});
  return meta;
}

json selector_labels(const api::DeepSeekService& dss, const api::Region& region) {
  return json{{kServiceLabel, dss.metadata.name}, {kRegionLabel, region.name}};
}

json http_probe(const runtime::HttpProbe& p) {
  return json{{"httpGet", {{"path", p.path}, {"port", kHttpPortName}}},
              {"periodSeconds", p.period_seconds},
              {"timeoutSeconds", p.timeout_seconds},
              {"failureThreshold", p.failure_threshold}};
}

json pod_template(const api::DeepSeekService& dss, const api::Region& region) {
  const api::Model& m = dss.spec.model;
  const api::Resources& r = dss.spec.resources;
  json labels = region_labels(dss, region);

  json resources{{"requests", {{"cpu", r.cpu}, {"memory", r.memory}}},
                 {"limits", {{"memory", r.memory}}}};
  if (r.gpus_per_pod > 0) {
    // Extended resources: requests must equal limits.
    resources["requests"]["nvidia.com/gpu"] = std::to_string(r.gpus_per_pod);
    resources["limits"]["nvidia.com/gpu"] = std::to_string(r.gpus_per_pod);
  }

  // Arguments, environment, probes and preStop come from the runtime's profile; the startup probe
  // allows the whole loadTimeout, and liveness starts only after it succeeds.
  const runtime::InferenceContainer rc = runtime::inference_container(dss);
  json container{
      {"name", "inference"},
      {"image", m.image},
      {"imagePullPolicy", m.image_pull_policy},
      {"ports",
       json::array({{{"name", kHttpPortName}, {"containerPort", m.port}, {"protocol", "TCP"}}})},
      {"env", rc.env},
      {"resources", resources},
      {"startupProbe", http_probe(rc.startup)},
      {"readinessProbe", http_probe(rc.readiness)},
      {"livenessProbe", http_probe(rc.liveness)},
      {"securityContext",
       {{"allowPrivilegeEscalation", false},
        {"readOnlyRootFilesystem", true},
        {"runAsNonRoot", true},
        {"capabilities", {{"drop", json::array({"ALL"})}}},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"volumeMounts", json::array({{{"name", "tmp"}, {"mountPath", "/tmp"}}})},
  };
  if (!rc.command.empty()) container["command"] = rc.command;
  if (!rc.args.empty()) container["args"] = rc.args;
  if (!rc.pre_stop.is_null()) container["lifecycle"] = {{"preStop", rc.pre_stop}};

  json volumes = json::array({{{"name", "tmp"}, {"emptyDir", json::object()}}});
  if (m.source.pvc_claim) {
    json pvc{{"claimName", *m.source.pvc_claim}, {"readOnly", true}};
    volumes.push_back({{"name", "model"}, {"persistentVolumeClaim", pvc}});
  } else if (m.source.host_path) {
    volumes.push_back(
        {{"name", "model"}, {"hostPath", {{"path", *m.source.host_path}, {"type", "Directory"}}}});
  } else if (m.source.uri) {
    volumes.push_back({{"name", "model"}, {"emptyDir", json::object()}});
  }
  if (volumes.size() > 1) {
    json mount{{"name", "model"},
               {"mountPath", m.source.mount_path},
               {"readOnly", !rc.writable_model_volume}};
    if (!m.source.pvc_sub_path.empty()) mount["subPath"] = m.source.pvc_sub_path;
    container["volumeMounts"].push_back(mount);
  }

  json node_selector = json::object();
  for (const auto& [k, v] : region.node_selector) node_selector[k] = v;
  if (!r.gpu_type.empty()) node_selector[r.gpu_type_label] = r.gpu_type;

  json spec{
      {"containers", json::array({container})},
      {"volumes", volumes},
      {"terminationGracePeriodSeconds", dss.spec.termination_grace_period_seconds},
      {"automountServiceAccountToken", false},
      {"enableServiceLinks", false},
      {"securityContext",
       {{"runAsNonRoot", true},
        {"runAsUser", 65532},
        {"runAsGroup", 65532},
        {"fsGroup", 65532},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      // Spread replicas over nodes and zones so one failure takes few of them.
      {"topologySpreadConstraints",
       json::array({{{"maxSkew", 1},
                     {"topologyKey", "kubernetes.io/hostname"},
                     {"whenUnsatisfiable", "ScheduleAnyway"},
                     {"labelSelector", {{"matchLabels", selector_labels(dss, region)}}}},
                    {{"maxSkew", 1},
                     {"topologyKey", "topology.kubernetes.io/zone"},
                     {"whenUnsatisfiable", "ScheduleAnyway"},
                     {"labelSelector", {{"matchLabels", selector_labels(dss, region)}}}}})},
  };
  if (!node_selector.empty()) spec["nodeSelector"] = node_selector;
  json tolerations = r.tolerations;
  if (r.gpus_per_pod > 0) {
    tolerations.push_back(
        {{"key", "nvidia.com/gpu"}, {"operator", "Exists"}, {"effect", "NoSchedule"}});
  }
  if (!tolerations.empty()) spec["tolerations"] = tolerations;
  if (!r.priority_class_name.empty()) spec["priorityClassName"] = r.priority_class_name;
  if (!m.image_pull_secrets.empty()) {
    json secrets = json::array();
    for (const auto& s : m.image_pull_secrets) secrets.push_back({{"name", s}});
    spec["imagePullSecrets"] = secrets;
  }
  return json{{"metadata", {{"labels", labels}}}, {"spec", spec}};
}

}  // namespace

std::string region_object_name(const api::DeepSeekService& dss, const api::Region& region) {
  std::string name = dss.metadata.name + "-" + region.name;
  if (name.size() <= 63) return name;
  const std::string suffix = "-" + short_hash(name);
  name.resize(63 - suffix.size());
  while (!name.empty() && name.back() == '-') name.pop_back();
  return name + suffix;
}

std::map<std::string, std::string> region_labels(const api::DeepSeekService& dss,
                                                 const api::Region& region) {
  return {{"app.kubernetes.io/name", "deepseek-inference"},
          {"app.kubernetes.io/instance", dss.metadata.name},
          {"app.kubernetes.io/component", "inference"},
          {"app.kubernetes.io/part-of", "deepseek-operator"},
          {"app.kubernetes.io/managed-by", "deepseek-operator"},
          {kServiceLabel, dss.metadata.name},
          {kRegionLabel, region.name}};
}

std::string service_selector(const api::DeepSeekService& dss) {
  return std::string(kServiceLabel) + "=" + dss.metadata.name;
}

RegionObjects build_region_objects(const api::DeepSeekService& dss, const api::Region& region,
                                   const BuildOptions& options) {
  RegionObjects out;
  out.deployment = {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", metadata(dss, region, options)},
      {"spec",
       {{"replicas", options.replicas},
        {"selector", {{"matchLabels", selector_labels(dss, region)}}},
        // A new pod must be Ready before an old one goes: capacity never drops during a rollout.
        {"strategy",
         {{"type", "RollingUpdate"},
          {"rollingUpdate", {{"maxSurge", "25%"}, {"maxUnavailable", 0}}}}},
        {"revisionHistoryLimit", 5},
        {"progressDeadlineSeconds",
         std::max<long long>(
             600, 2 * std::chrono::duration_cast<std::chrono::seconds>(dss.spec.model.load_timeout)
                          .count())},
        {"template", pod_template(dss, region)}}},
  };
  out.service = {
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata", metadata(dss, region, options)},
      {"spec",
       {{"type", "ClusterIP"},
        {"selector", selector_labels(dss, region)},
        {"ports", json::array({{{"name", kHttpPortName},
                                {"port", 80},
                                {"targetPort", kHttpPortName},
                                {"protocol", "TCP"}}})}}},
  };
  out.pdb = {
      {"apiVersion", options.pdb_api_version},
      {"kind", "PodDisruptionBudget"},
      {"metadata", metadata(dss, region, options)},
      // One voluntary disruption at a time: draining a GPU node never takes several replicas at
      // once.
      {"spec",
       {{"maxUnavailable", 1}, {"selector", {{"matchLabels", selector_labels(dss, region)}}}}},
  };
  return out;
}

json with_applied_hash(json object) {
  const std::string hash = applied_hash(object);
  object["metadata"]["annotations"][kAppliedHashAnnotation] = hash;
  return object;
}

bool cluster_holds(const json& desired, const json& cluster) {
  if (!cluster.is_object() || !desired.is_object()) return false;
  const auto annotation = [](const json& o) -> std::string {
    const json& meta = o.contains("metadata") ? o["metadata"] : json::object();
    const json& annotations = meta.contains("annotations") ? meta["annotations"] : json::object();
    const auto it = annotations.find(kAppliedHashAnnotation);
    return it != annotations.end() && it->is_string() ? it->get<std::string>() : "";
  };
  const std::string want = annotation(desired);
  if (want.empty() || want != annotation(cluster)) return false;
  for (const auto& [key, value] : desired.items()) {
    if (key == "apiVersion" || key == "kind") continue;  // list items may carry neither
    const auto it = cluster.find(key);
    if (it == cluster.end() || !holds(value, *it)) return false;
  }
  return true;
}

json build_traffic_config_map(const api::DeepSeekService& dss, const std::string& active_primary,
                              const std::map<std::string, int>& weights) {
  json labels = json::object();
  if (!dss.spec.regions.empty()) labels = region_labels(dss, dss.spec.regions.front());
  labels.erase(kRegionLabel);
  labels["app.kubernetes.io/component"] = "traffic-weights";
  json meta{{"name", dss.spec.failover.traffic_config_map},
            {"namespace", dss.metadata.ns},
            {"labels", labels}};
  if (!dss.metadata.uid.empty()) meta["ownerReferences"] = json::array({owner_reference(dss)});
  json data = json::object();
  json weights_json = json::object();
  for (const auto& [region, weight] : weights) {
    data[region] = std::to_string(weight);
    weights_json[region] = weight;
  }
  data["primary"] = active_primary;
  data["weights.json"] = weights_json.dump();
  return json{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", meta}, {"data", data}};
}

std::map<std::string, int> plan_region_replicas(const api::DeepSeekServiceSpec& spec, int total) {
  std::map<std::string, int> out;
  for (const api::Region& r : spec.regions) {
    int replicas = r.role == api::RegionRole::kPrimary ? total : r.min_replicas.value_or(0);
    if (r.min_replicas) replicas = std::max(replicas, *r.min_replicas);
    if (r.max_replicas) replicas = std::min(replicas, *r.max_replicas);
    out[r.name] = std::max(0, replicas);
  }
  return out;
}

}  // namespace dso::controller
