// Reading PodMonitors out of rendered manifests; see chart_render/pod_monitor.h.
#include "chart_render/pod_monitor.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <initializer_list>
#include <string_view>
#include <utility>

namespace dso::chart_render {
namespace {

using kube::Json;

// Reads the fields of one PodMonitor. The first error wins and names the field's path; later
// reads return empty values, so callers check ok() once at the end.
class FieldReader {
 public:
  explicit FieldReader(std::string where) : where_(std::move(where)) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  void fail(const std::string& path, const std::string& what) {
    if (ok()) error_ = where_ + ": " + path + what;
  }

  // Refuses any key of `object` outside `known`; `object` must be a JSON object.
  bool only(const Json& object, const std::string& path,
            std::initializer_list<std::string_view> known) {
    if (!object.is_object()) {
      fail(path, ": expected a mapping");
      return false;
    }
    for (const auto& [key, value] : object.items()) {
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        fail(path + "." + key, " is not supported by dso-chart-render");
        return false;
      }
    }
    return true;
  }

  // The member `key` of `parent`, or nullptr when it is absent or null.
  static const Json* member(const Json& parent, std::string_view key) {
    const auto it = parent.find(key);
    return it == parent.end() || it->is_null() ? nullptr : &*it;
  }

  std::string string(const Json& parent, const std::string& path, std::string_view key) {
    const Json* v = member(parent, key);
    if (v == nullptr) return "";
    if (!v->is_string()) {
      fail(join(path, key), ": expected a string");
      return "";
    }
    return v->get<std::string>();
  }

  std::optional<bool> boolean(const Json& parent, const std::string& path, std::string_view key) {
    const Json* v = member(parent, key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_boolean()) {
      fail(join(path, key), ": expected true or false");
      return std::nullopt;
    }
    return v->get<bool>();
  }

  std::vector<std::string> strings(const Json& parent, const std::string& path,
                                   std::string_view key) {
    std::vector<std::string> out;
    const Json* v = member(parent, key);
    if (v == nullptr) return out;
    if (!v->is_array()) {
      fail(join(path, key), ": expected a list of strings");
      return out;
    }
    for (std::size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) {
        fail(join(path, key) + "[" + std::to_string(i) + "]", ": expected a string");
        return {};
      }
      out.push_back((*v)[i].get<std::string>());
    }
    return out;
  }

  std::map<std::string, std::string> string_map(const Json& parent, const std::string& path,
                                                std::string_view key) {
    std::map<std::string, std::string> out;
    const Json* v = member(parent, key);
    if (v == nullptr) return out;
    if (!v->is_object()) {
      fail(join(path, key), ": expected a mapping");
      return out;
    }
    for (const auto& [k, value] : v->items()) {
      if (!value.is_string()) {
        fail(join(path, key) + "." + k, ": expected a string");
        return {};
      }
      out.emplace(k, value.get<std::string>());
    }
    return out;
  }

  // A list member whose items are read by `read_item(item, item_path)`.
  template <typename T, typename F>
  std::vector<T> list(const Json& parent, const std::string& path, std::string_view key,
                      F read_item) {
    std::vector<T> out;
    const Json* v = member(parent, key);
    if (v == nullptr) return out;
    if (!v->is_array()) {
      fail(join(path, key), ": expected a list");
      return out;
    }
    for (std::size_t i = 0; i < v->size() && ok(); ++i) {
      out.push_back(read_item((*v)[i], join(path, key) + "[" + std::to_string(i) + "]"));
    }
    return out;
  }

  static std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }

 private:
  std::string where_;
  std::string error_;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

constexpr std::array<std::string_view, 11> kActions = {
    "replace",   "keep",      "drop",      "hashmod",   "labelmap", "labeldrop",
    "labelkeep", "lowercase", "uppercase", "keepequal", "dropequal"};

std::uint64_t read_modulus(FieldReader& r, const Json& rule, const std::string& path) {
  const Json* v = FieldReader::member(rule, "modulus");
  if (v == nullptr) return 0;
  if (!v->is_number_integer() || v->get<std::int64_t>() < 0) {
    r.fail(path + ".modulus", ": expected a whole number >= 0");
    return 0;
  }
  return v->get<std::uint64_t>();
}

RelabelRule read_relabel_rule(FieldReader& r, const Json& rule, const std::string& path) {
  RelabelRule out;
  if (!r.only(rule, path,
              {"sourceLabels", "separator", "targetLabel", "regex", "modulus", "replacement",
               "action"})) {
    return out;
  }
  out.source_labels = r.strings(rule, path, "sourceLabels");
  if (FieldReader::member(rule, "separator") != nullptr)
    out.separator = r.string(rule, path, "separator");
  out.target_label = r.string(rule, path, "targetLabel");
  out.regex = r.string(rule, path, "regex");
  out.modulus = read_modulus(r, rule, path);
  if (FieldReader::member(rule, "replacement") != nullptr)
    out.replacement = r.string(rule, path, "replacement");
  // The CRD defaults action to "replace"; the operator writes it lower-cased.
  out.action = lower(r.string(rule, path, "action"));
  if (out.action.empty()) out.action = "replace";
  if (std::find(kActions.begin(), kActions.end(), out.action) == kActions.end())
    r.fail(path + ".action", ": unknown action \"" + out.action + "\"");
  return out;
}

std::map<std::string, std::vector<std::string>> read_params(FieldReader& r, const Json& endpoint,
                                                            const std::string& path) {
  std::map<std::string, std::vector<std::string>> out;
  const Json* params = FieldReader::member(endpoint, "params");
  if (params == nullptr) return out;
  if (!params->is_object()) {
    r.fail(path + ".params", ": expected a mapping");
    return out;
  }
  for (const auto& [key, value] : params->items())
    out.emplace(key, r.strings(*params, path + ".params", key));
  return out;
}

PodMetricsEndpoint read_endpoint(FieldReader& r, const Json& endpoint, const std::string& path) {
  PodMetricsEndpoint out;
  if (!r.only(endpoint, path,
              {"port", "path", "interval", "scrapeTimeout", "scheme", "honorLabels",
               "honorTimestamps", "filterRunning", "params", "relabelings", "metricRelabelings"})) {
    return out;
  }
  out.port = r.string(endpoint, path, "port");
  out.path = r.string(endpoint, path, "path");
  out.interval = r.string(endpoint, path, "interval");
  out.scrape_timeout = r.string(endpoint, path, "scrapeTimeout");
  out.scheme = lower(r.string(endpoint, path, "scheme"));
  out.honor_labels = r.boolean(endpoint, path, "honorLabels").value_or(false);
  out.honor_timestamps = r.boolean(endpoint, path, "honorTimestamps");
  out.filter_running = r.boolean(endpoint, path, "filterRunning").value_or(true);
  out.params = read_params(r, endpoint, path);
  const auto rule = [&r](const Json& item, const std::string& item_path) {
    return read_relabel_rule(r, item, item_path);
  };
  out.relabelings = r.list<RelabelRule>(endpoint, path, "relabelings", rule);
  out.metric_relabelings = r.list<RelabelRule>(endpoint, path, "metricRelabelings", rule);
  return out;
}

LabelRequirement read_requirement(FieldReader& r, const Json& expr, const std::string& path) {
  LabelRequirement out;
  if (!r.only(expr, path, {"key", "operator", "values"})) return out;
  out.key = r.string(expr, path, "key");
  out.op = r.string(expr, path, "operator");
  out.values = r.strings(expr, path, "values");
  if (out.op != "In" && out.op != "NotIn" && out.op != "Exists" && out.op != "DoesNotExist")
    r.fail(path + ".operator", ": expected In, NotIn, Exists or DoesNotExist");
  return out;
}

void read_selector(FieldReader& r, const Json& spec, PodMonitor& out) {
  const Json* selector = FieldReader::member(spec, "selector");
  if (selector == nullptr ||
      !r.only(*selector, "spec.selector", {"matchLabels", "matchExpressions"}))
    return;
  out.match_labels = r.string_map(*selector, "spec.selector", "matchLabels");
  out.match_expressions = r.list<LabelRequirement>(
      *selector, "spec.selector", "matchExpressions",
      [&r](const Json& item, const std::string& path) { return read_requirement(r, item, path); });
}

void read_namespace_selector(FieldReader& r, const Json& spec, PodMonitor& out) {
  const Json* selector = FieldReader::member(spec, "namespaceSelector");
  if (selector == nullptr || !r.only(*selector, "spec.namespaceSelector", {"any", "matchNames"}))
    return;
  out.any_namespace = r.boolean(*selector, "spec.namespaceSelector", "any").value_or(false);
  out.match_names = r.strings(*selector, "spec.namespaceSelector", "matchNames");
}

void read_spec(FieldReader& r, const Json& spec, PodMonitor& out) {
  if (!r.only(spec, "spec",
              {"selector", "selectorMechanism", "namespaceSelector", "podMetricsEndpoints",
               "jobLabel", "podTargetLabels"})) {
    return;
  }
  // RoleSelector moves the selector into the discovery config; only the default is implemented.
  if (const auto mechanism = r.string(spec, "spec", "selectorMechanism");
      !mechanism.empty() && mechanism != "Relabel") {
    r.fail("spec.selectorMechanism",
           ": \"" + mechanism + "\" is not supported by dso-chart-render");
  }
  read_selector(r, spec, out);
  read_namespace_selector(r, spec, out);
  out.job_label = r.string(spec, "spec", "jobLabel");
  out.pod_target_labels = r.strings(spec, "spec", "podTargetLabels");
  out.endpoints = r.list<PodMetricsEndpoint>(
      spec, "spec", "podMetricsEndpoints",
      [&r](const Json& item, const std::string& path) { return read_endpoint(r, item, path); });
}

bool is_pod_monitor(const Json& doc) {
  return doc.is_object() && doc.value("kind", "") == "PodMonitor" &&
         doc.value("apiVersion", "") == "monitoring.coreos.com/v1";
}

std::expected<PodMonitor, std::string> read_pod_monitor(const Json& doc, std::size_t index) {
  const Json metadata = doc.value("metadata", Json::object());
  PodMonitor out;
  out.name = metadata.is_object() ? metadata.value("name", "") : "";
  out.ns = metadata.is_object() ? metadata.value("namespace", "") : "";
  const std::string where =
      "PodMonitor " + (out.name.empty() ? "#" + std::to_string(index) : out.name);
  if (out.name.empty()) return std::unexpected(where + ": metadata.name is missing");
  if (out.ns.empty())
    return std::unexpected(where +
                           ": metadata.namespace is missing (render with helm template -n NS)");
  FieldReader r("PodMonitor " + out.ns + "/" + out.name);
  const Json* spec = FieldReader::member(doc, "spec");
  if (spec == nullptr)
    return std::unexpected(r.error().empty() ? where + ": spec is missing" : r.error());
  read_spec(r, *spec, out);
  if (r.ok() && out.endpoints.empty()) r.fail("spec.podMetricsEndpoints", ": is empty");
  if (!r.ok()) return std::unexpected(r.error());
  return out;
}

}  // namespace

std::expected<std::vector<PodMonitor>, std::string> read_pod_monitors(
    const std::vector<kube::Json>& manifests) {
  std::vector<PodMonitor> out;
  for (const auto& doc : manifests) {
    if (!is_pod_monitor(doc)) continue;
    auto monitor = read_pod_monitor(doc, out.size());
    if (!monitor) return std::unexpected(monitor.error());
    out.push_back(std::move(*monitor));
  }
  if (out.empty()) {
    return std::unexpected(
        "no PodMonitor (monitoring.coreos.com/v1) in the manifests: render the chart with --set "
        "metrics.podMonitor.enabled=true");
  }
  return out;
}

}  // namespace dso::chart_render
