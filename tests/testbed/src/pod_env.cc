// A container's environment: see pod_env.h.
#include "testbed/pod_env.h"

#include <regex>

namespace dso::testbed {
namespace {

using kube::Json;

std::string str(const Json& object, const char* key) {
  return object.contains(key) && object[key].is_string() ? object[key].get<std::string>() : "";
}

StringMap string_map(const Json& object) {
  StringMap out;
  if (!object.is_object()) return out;
  for (const auto& [k, v] : object.items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

std::expected<std::string, std::string> field_value(const std::string& path, const PodFacts& p) {
  if (path == "metadata.name") return p.name;
  if (path == "metadata.namespace") return p.ns;
  if (path == "metadata.uid") return p.uid;
  if (path == "spec.nodeName") return p.node_name;
  if (path == "spec.serviceAccountName") return p.service_account;
  if (path == "status.podIP") return p.pod_ip;
  if (path == "status.hostIP") return p.host_ip;
  static const std::regex keyed(R"(metadata\.(labels|annotations)\['([^']+)'\])");
  std::smatch m;
  if (std::regex_match(path, m, keyed)) {
    const StringMap& map = m[1] == "labels" ? p.labels : p.annotations;
    const auto it = map.find(m[2]);
    return it == map.end() ? "" : it->second;
  }
  return std::unexpected("fieldRef " + path + " is not supported by the testbed");
}

// One env entry's value; nullopt for an optional reference that is missing.
std::expected<std::optional<std::string>, std::string> entry_value(const Json& e,
                                                                   const PodFacts& pod,
                                                                   ObjectSource& objects,
                                                                   const StringMap& so_far) {
  if (!e.contains("valueFrom")) return expand(str(e, "value"), so_far);
  const Json& from = e["valueFrom"];
  if (from.contains("fieldRef")) {
    auto v = field_value(str(from["fieldRef"], "fieldPath"), pod);
    if (!v) return std::unexpected(v.error());
    return *v;
  }
  for (const char* kind : {"configMapKeyRef", "secretKeyRef"}) {
    if (!from.contains(kind)) continue;
    const Json& ref = from[kind];
    const bool optional = ref.value("optional", false);
    const std::string name = str(ref, "name"), key = str(ref, "key");
    auto data = std::string(kind) == "secretKeyRef" ? objects.secret(pod.ns, name)
                                                    : objects.config_map(pod.ns, name);
    if (!data) {
      if (optional) return std::optional<std::string>();
      return std::unexpected(data.error());
    }
    const auto it = data->find(key);
    if (it == data->end()) {
      if (optional) return std::optional<std::string>();
      return std::unexpected(std::string(kind) + " " + name + ": no key " + key);
    }
    return it->second;
  }
  return std::unexpected("valueFrom " + from.dump() + " is not supported by the testbed");
}

void set(EnvList& env, StringMap& index, const std::string& name, const std::string& value) {
  if (const auto it = index.find(name); it != index.end()) {
    for (auto& [n, v] : env) {
      if (n == name) v = value;
    }
  } else {
    env.emplace_back(name, value);
  }
  index[name] = value;
}

}  // namespace

PodFacts PodFacts::of(const Json& pod, std::string pod_ip, std::string host_ip) {
  PodFacts p;
  const Json& meta = pod.value("metadata", Json::object());
  const Json& spec = pod.value("spec", Json::object());
  p.name = str(meta, "name");
  p.ns = str(meta, "namespace");
  p.uid = str(meta, "uid");
  p.node_name = str(spec, "nodeName");
  p.service_account = str(spec, "serviceAccountName");
  p.labels = string_map(meta.value("labels", Json::object()));
  p.annotations = string_map(meta.value("annotations", Json::object()));
  p.pod_ip = std::move(pod_ip);
  p.host_ip = std::move(host_ip);
  return p;
}

std::expected<EnvList, std::string> container_env(const Json& container, const Image& image,
                                                  const PodFacts& pod, ObjectSource& objects) {
  EnvList env;
  StringMap index;
  for (const auto& [name, value] : image.env) set(env, index, name, value);
  for (const Json& from : container.value("envFrom", Json::array())) {
    const std::string prefix = str(from, "prefix");
    for (const char* kind : {"configMapRef", "secretRef"}) {
      if (!from.contains(kind)) continue;
      const std::string name = str(from[kind], "name");
      auto data = std::string(kind) == "secretRef" ? objects.secret(pod.ns, name)
                                                   : objects.config_map(pod.ns, name);
      if (!data) {
        if (from[kind].value("optional", false)) continue;
        return std::unexpected("envFrom " + std::string(kind) + ": " + data.error());
      }
      for (const auto& [k, v] : *data) set(env, index, prefix + k, v);
    }
  }
  for (const Json& e : container.value("env", Json::array())) {
    const std::string name = str(e, "name");
    auto value = entry_value(e, pod, objects, index);
    if (!value) return std::unexpected("env " + name + ": " + value.error());
    if (*value) set(env, index, name, **value);
  }
  return env;
}

std::string expand(const std::string& text, const StringMap& env) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out += text[i];
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    const auto close = text[i + 1] == '(' ? text.find(')', i + 2) : std::string::npos;
    if (close == std::string::npos) {
      out += text[i];
      continue;
    }
    const std::string name = text.substr(i + 2, close - i - 2);
    const auto it = env.find(name);
    out += it == env.end() ? text.substr(i, close - i + 1) : it->second;
    i = close;
  }
  return out;
}

}  // namespace dso::testbed
