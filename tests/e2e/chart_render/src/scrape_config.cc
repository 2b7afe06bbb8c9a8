// The Prometheus Operator's scrape jobs for PodMonitors, and prometheus.yml; see
// chart_render/scrape_config.h.
#include "chart_render/scrape_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <regex>
#include <stdexcept>

namespace dso::chart_render {
namespace {

const std::string kPodLabel = "__meta_kubernetes_pod_label_";
const std::string kPodLabelPresent = "__meta_kubernetes_pod_labelpresent_";

RelabelRule copy_to(const std::string& source, const std::string& target) {
  return RelabelRule{.source_labels = {source}, .target_label = target};
}

RelabelRule filter(const std::string& action, std::vector<std::string> sources,
                   const std::string& regex) {
  return RelabelRule{.source_labels = std::move(sources), .regex = regex, .action = action};
}

RelabelRule set_label(const std::string& target, const std::string& value) {
  return RelabelRule{.target_label = target, .replacement = value};
}

std::string joined(const std::vector<std::string>& values, const std::string& separator) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : separator) + v;
  return out;
}

// The keep/drop rules for spec.selector (the default "Relabel" selector mechanism).
std::vector<RelabelRule> selector_rules(const PodMonitor& m) {
  std::vector<RelabelRule> out;
  const auto pair = [](const std::string& key) {
    const std::string k = sanitize_label_name(key);
    return std::vector<std::string>{kPodLabel + k, kPodLabelPresent + k};
  };
  for (const auto& [key, value] : m.match_labels)
    out.push_back(filter("keep", pair(key), "(" + value + ");true"));
  for (const auto& e : m.match_expressions) {
    const std::string present = kPodLabelPresent + sanitize_label_name(e.key);
    if (e.op == "In" || e.op == "NotIn") {
      out.push_back(filter(e.op == "In" ? "keep" : "drop", pair(e.key),
                           "(" + joined(e.values, "|") + ");true"));
    } else {
      out.push_back(filter(e.op == "Exists" ? "keep" : "drop", {present}, "true"));
    }
  }
  return out;
}

// namespace/container/pod, podTargetLabels, job and endpoint.
std::vector<RelabelRule> target_label_rules(const PodMonitor& m, const PodMetricsEndpoint& ep) {
  std::vector<RelabelRule> out{copy_to("__meta_kubernetes_namespace", "namespace"),
                               copy_to("__meta_kubernetes_pod_container_name", "container"),
                               copy_to("__meta_kubernetes_pod_name", "pod")};
  for (const auto& label : m.pod_target_labels) {
    RelabelRule r = copy_to(kPodLabel + sanitize_label_name(label), sanitize_label_name(label));
    r.regex = "(.+)";
    r.replacement = "${1}";
    out.push_back(std::move(r));
  }
  out.push_back(set_label("job", m.ns + "/" + m.name));
  if (!m.job_label.empty()) {
    RelabelRule r = copy_to(kPodLabel + sanitize_label_name(m.job_label), "job");
    r.regex = "(.+)";
    r.replacement = "${1}";
    out.push_back(std::move(r));
  }
  if (!ep.port.empty()) out.push_back(set_label("endpoint", ep.port));
  return out;
}

std::vector<RelabelRule> relabel_configs(const PodMonitor& m, const PodMetricsEndpoint& ep) {
  std::vector<RelabelRule> out{copy_to("job", "__tmp_prometheus_job_name")};
  if (ep.filter_running)
    out.push_back(filter("drop", {"__meta_kubernetes_pod_phase"}, "(Failed|Succeeded)"));
  for (auto& r : selector_rules(m)) out.push_back(std::move(r));
  if (!ep.port.empty())
    out.push_back(filter("keep", {"__meta_kubernetes_pod_container_port_name"}, ep.port));
  for (auto& r : target_label_rules(m, ep)) out.push_back(std::move(r));
  out.insert(out.end(), ep.relabelings.begin(), ep.relabelings.end());
  return out;
}

std::expected<std::vector<std::string>, std::string> discovery_namespaces(
    const PodMonitor& m, const std::vector<std::string>& only) {
  std::vector<std::string> selected;
  if (!m.any_namespace) selected = m.match_names.empty() ? std::vector{m.ns} : m.match_names;
  if (only.empty()) return selected;
  if (selected.empty()) return only;
  std::vector<std::string> kept;
  for (const auto& ns : selected)
    if (std::find(only.begin(), only.end(), ns) != only.end()) kept.push_back(ns);
  if (kept.empty()) {
    return std::unexpected("PodMonitor " + m.ns + "/" + m.name + " selects namespaces [" +
                           joined(selected, ", ") + "], none of --namespace [" +
                           joined(only, ", ") + "]");
  }
  return kept;
}

// ---- YAML output ----

void quoted(YAML::Emitter& e, const std::string& text) {
  e << YAML::DoubleQuoted << text;
}

void key(YAML::Emitter& e, const char* name) {
  e << YAML::Key << name << YAML::Value;
}

void string_field(YAML::Emitter& e, const char* name, const std::string& value) {
  if (value.empty()) return;
  key(e, name);
  quoted(e, value);
}

void string_list(YAML::Emitter& e, const std::vector<std::string>& values) {
  e << YAML::Flow << YAML::BeginSeq;
  for (const auto& v : values) quoted(e, v);
  e << YAML::EndSeq;
}

void emit_rule(YAML::Emitter& e, const RelabelRule& r) {
  e << YAML::BeginMap;
  if (!r.source_labels.empty()) {
    key(e, "source_labels");
    string_list(e, r.source_labels);
  }
  if (r.separator) {
    key(e, "separator");
    quoted(e, *r.separator);
  }
  string_field(e, "target_label", r.target_label);
  string_field(e, "regex", r.regex);
  if (r.modulus != 0) {
    key(e, "modulus");
    e << r.modulus;
  }
  if (r.replacement) {
    key(e, "replacement");
    quoted(e, *r.replacement);
  }
  string_field(e, "action", r.action);
  e << YAML::EndMap;
}

void emit_rules(YAML::Emitter& e, const char* name, const std::vector<RelabelRule>& rules) {
  if (rules.empty()) return;
  key(e, name);
  e << YAML::BeginSeq;
  for (const auto& r : rules) emit_rule(e, r);
  e << YAML::EndSeq;
}

void emit_kubernetes_sd(YAML::Emitter& e, const ScrapeJob& job, const PrometheusConfigOptions& o) {
  key(e, "kubernetes_sd_configs");
  e << YAML::BeginSeq << YAML::BeginMap;
  string_field(e, "role", "pod");
  if (!job.namespaces.empty()) {
    key(e, "namespaces");
    e << YAML::BeginMap;
    key(e, "names");
    string_list(e, job.namespaces);
    e << YAML::EndMap;
  }
  string_field(e, "api_server", o.api_server);
  if (!o.bearer_token_file.empty()) {
    key(e, "authorization");
    e << YAML::BeginMap;
    string_field(e, "type", "Bearer");
    string_field(e, "credentials_file", o.bearer_token_file);
    e << YAML::EndMap;
  }
  if (!o.ca_file.empty()) {
    key(e, "tls_config");
    e << YAML::BeginMap;
    string_field(e, "ca_file", o.ca_file);
    e << YAML::EndMap;
  }
  e << YAML::EndMap << YAML::EndSeq;
}

// The pod-sd endpoint answers for the namespaces in its query (all when there is none).
void emit_http_sd(YAML::Emitter& e, const ScrapeJob& job, const PrometheusConfigOptions& o) {
  std::string url = o.pod_sd_url;
  while (url.ends_with('/')) url.pop_back();
  url += "/pods";
  if (!job.namespaces.empty()) url += "?namespaces=" + joined(job.namespaces, ",");
  key(e, "http_sd_configs");
  e << YAML::BeginSeq << YAML::BeginMap;
  string_field(e, "url", url);
  string_field(e, "refresh_interval", o.pod_sd_refresh);
  e << YAML::EndMap << YAML::EndSeq;
}

void emit_params(YAML::Emitter& e, const std::map<std::string, std::vector<std::string>>& params) {
  if (params.empty()) return;
  key(e, "params");
  e << YAML::BeginMap;
  for (const auto& [name, values] : params) {
    e << YAML::Key;
    quoted(e, name);
    e << YAML::Value;
    string_list(e, values);
  }
  e << YAML::EndMap;
}

void emit_job(YAML::Emitter& e, const ScrapeJob& job, const PrometheusConfigOptions& o) {
  e << YAML::BeginMap;
  string_field(e, "job_name", job.job_name);
  key(e, "honor_labels");
  e << job.honor_labels;
  if (job.honor_timestamps) {
    key(e, "honor_timestamps");
    e << *job.honor_timestamps;
  }
  if (o.pod_sd_url.empty())
    emit_kubernetes_sd(e, job, o);
  else
    emit_http_sd(e, job, o);
  string_field(e, "scrape_interval", job.scrape_interval);
  string_field(e, "scrape_timeout", job.scrape_timeout);
  string_field(e, "metrics_path", job.metrics_path);
  emit_params(e, job.params);
  string_field(e, "scheme", job.scheme);
  emit_rules(e, "relabel_configs", job.relabel_configs);
  emit_rules(e, "metric_relabel_configs", job.metric_relabel_configs);
  e << YAML::EndMap;
}

}  // namespace

std::string sanitize_label_name(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    const bool valid =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!valid) c = '_';
  }
  return out;
}

bool is_prometheus_duration(std::string_view text) {
  // Prometheus' model.ParseDuration grammar.
  static const std::regex kDuration(
      "(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?");
  return !text.empty() && std::regex_match(text.begin(), text.end(), kDuration);
}

std::expected<std::vector<ScrapeJob>, std::string> scrape_jobs(
    const PodMonitor& monitor, const std::vector<std::string>& only_namespaces) {
  const auto namespaces = discovery_namespaces(monitor, only_namespaces);
  if (!namespaces) return std::unexpected(namespaces.error());
  std::vector<ScrapeJob> jobs;
  for (std::size_t i = 0; i < monitor.endpoints.size(); ++i) {
    const PodMetricsEndpoint& ep = monitor.endpoints[i];
    jobs.push_back(ScrapeJob{
        .job_name = "podMonitor/" + monitor.ns + "/" + monitor.name + "/" + std::to_string(i),
        .honor_labels = ep.honor_labels,
        .honor_timestamps = ep.honor_timestamps,
        .namespaces = *namespaces,
        .scrape_interval = ep.interval,
        .scrape_timeout = ep.scrape_timeout,
        .metrics_path = ep.path,
        .scheme = ep.scheme,
        .params = ep.params,
        .relabel_configs = relabel_configs(monitor, ep),
        .metric_relabel_configs = ep.metric_relabelings,
    });
  }
  return jobs;
}

std::string prometheus_yml(const std::vector<ScrapeJob>& jobs,
                           const PrometheusConfigOptions& options) {
  YAML::Emitter e;
  e << YAML::Comment(
      "Rendered by dso-chart-render from the chart's PodMonitors: the scrape jobs that the\n"
      "Prometheus Operator generates for them (prometheus-operator pkg/prometheus/promcfg.go,\n"
      "generatePodMonitorConfig). Do not edit: render it again.");
  e << YAML::BeginMap;
  key(e, "global");
  e << YAML::BeginMap;
  string_field(e, "scrape_interval", options.scrape_interval);
  string_field(e, "evaluation_interval", options.scrape_interval);
  e << YAML::EndMap;
  key(e, "scrape_configs");
  e << YAML::BeginSeq;
  for (const auto& job : jobs) emit_job(e, job, options);
  e << YAML::EndSeq << YAML::EndMap;
  if (!e.good()) throw std::logic_error("prometheus_yml: YAML emitter: " + e.GetLastError());
  return std::string(e.c_str()) + "\n";
}

}  // namespace dso::chart_render
