// Pods as Prometheus HTTP SD target groups; see chart_render/pod_targets.h.
#include "chart_render/pod_targets.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "chart_render/scrape_config.h"

namespace dso::chart_render {
namespace {

using kube::Json;

const std::string kMeta = "__meta_kubernetes_";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

Json object_at(const Json& parent, const char* key) {
  const auto it = parent.find(key);
  return it != parent.end() && it->is_object() ? *it : Json::object();
}

Json array_at(const Json& parent, const char* key) {
  const auto it = parent.find(key);
  return it != parent.end() && it->is_array() ? *it : Json::array();
}

std::string string_at(const Json& parent, const char* key) {
  const auto it = parent.find(key);
  return it != parent.end() && it->is_string() ? it->get<std::string>() : "";
}

// The status of the Ready condition, lower-cased; "unknown" without one.
std::string pod_ready(const Json& status) {
  for (const auto& c : array_at(status, "conditions"))
    if (c.is_object() && string_at(c, "type") == "Ready") return lower(string_at(c, "status"));
  return "unknown";
}

void add_map(Json& labels, const Json& map, const std::string& prefix,
             const std::string& present_prefix) {
  for (const auto& [k, v] : map.items()) {
    const std::string name = sanitize_label_name(k);
    labels[prefix + name] = v.is_string() ? v.get<std::string>() : v.dump();
    labels[present_prefix + name] = "true";
  }
}

// The labels every target of the pod has (podLabels plus the namespace).
Json pod_labels(const Json& pod) {
  const Json metadata = object_at(pod, "metadata");
  const Json spec = object_at(pod, "spec");
  const Json status = object_at(pod, "status");
  Json labels{{kMeta + "namespace", string_at(metadata, "namespace")},
              {kMeta + "pod_name", string_at(metadata, "name")},
              {kMeta + "pod_ip", string_at(status, "podIP")},
              {kMeta + "pod_ready", pod_ready(status)},
              {kMeta + "pod_phase", string_at(status, "phase")},
              {kMeta + "pod_node_name", string_at(spec, "nodeName")},
              {kMeta + "pod_host_ip", string_at(status, "hostIP")},
              {kMeta + "pod_uid", string_at(metadata, "uid")}};
  for (const auto& owner : array_at(metadata, "ownerReferences")) {
    if (!owner.is_object() || !owner.value("controller", false)) continue;
    if (!string_at(owner, "kind").empty())
      labels[kMeta + "pod_controller_kind"] = string_at(owner, "kind");
    if (!string_at(owner, "name").empty())
      labels[kMeta + "pod_controller_name"] = string_at(owner, "name");
    break;
  }
  add_map(labels, object_at(metadata, "labels"), kMeta + "pod_label_", kMeta + "pod_labelpresent_");
  add_map(labels, object_at(metadata, "annotations"), kMeta + "pod_annotation_",
          kMeta + "pod_annotationpresent_");
  return labels;
}

std::string container_id(const Json& statuses, const std::string& name) {
  for (const auto& s : statuses)
    if (s.is_object() && string_at(s, "name") == name) return string_at(s, "containerID");
  return "";
}

// The pod's IP and port as Go's net.JoinHostPort writes them (IPv6 in brackets).
std::string host_port(const std::string& ip, const std::string& port) {
  return ip.find(':') == std::string::npos ? ip + ":" + port : "[" + ip + "]:" + port;
}

void add_container_targets(Json& groups, const Json& base, const Json& container, bool is_init,
                           const std::string& id, const std::string& ip) {
  Json labels = base;
  labels[kMeta + "pod_container_name"] = string_at(container, "name");
  labels[kMeta + "pod_container_id"] = id;
  labels[kMeta + "pod_container_image"] = string_at(container, "image");
  labels[kMeta + "pod_container_init"] = is_init ? "true" : "false";
  const Json ports = array_at(container, "ports");
  if (ports.empty()) {
    groups.push_back({{"targets", Json::array({ip})}, {"labels", labels}});
    return;
  }
  for (const auto& port : ports) {
    if (!port.is_object()) continue;
    const std::string number = std::to_string(port.value("containerPort", 0));
    Json target = labels;
    target[kMeta + "pod_container_port_number"] = number;
    target[kMeta + "pod_container_port_name"] = string_at(port, "name");
    target[kMeta + "pod_container_port_protocol"] = string_at(port, "protocol");
    groups.push_back({{"targets", Json::array({host_port(ip, number)})}, {"labels", target}});
  }
}

void add_pod(Json& groups, const Json& pod) {
  const Json spec = object_at(pod, "spec");
  const Json status = object_at(pod, "status");
  const std::string ip = string_at(status, "podIP");
  if (ip.empty()) return;  // starting or evicted: no targets
  const Json base = pod_labels(pod);
  for (const auto& c : array_at(spec, "containers")) {
    add_container_targets(groups, base, c, false,
                          container_id(array_at(status, "containerStatuses"), string_at(c, "name")),
                          ip);
  }
  for (const auto& c : array_at(spec, "initContainers")) {
    add_container_targets(
        groups, base, c, true,
        container_id(array_at(status, "initContainerStatuses"), string_at(c, "name")), ip);
  }
}

}  // namespace

Json pod_target_groups(const std::vector<Json>& pods) {
  Json groups = Json::array();
  for (const auto& pod : pods)
    if (pod.is_object()) add_pod(groups, pod);
  return groups;
}

}  // namespace dso::chart_render
