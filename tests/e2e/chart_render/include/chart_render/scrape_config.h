// chart_render/scrape_config.h: a complete prometheus.yml for the PodMonitors of a chart, with
// the scrape jobs the Prometheus Operator would generate for them (prometheus-operator
// pkg/prometheus/promcfg.go, generatePodMonitorConfig), so that a plain Prometheus discovers and
// labels the inference pods exactly as the chart's PodMonitor makes it do in a real cluster.
//
// What is not generated, on purpose: the two sharding rules the operator appends (hashmod over
// __address__ with modulus = shards, then keep on $(SHARD), which its config reloader
// substitutes): with one Prometheus they keep every target. Scrape classes, limits and the
// Prometheus CR's own settings (external labels, enforced namespace label) do not exist without the
// CR.
#pragma once

#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chart_render/pod_monitor.h"

namespace dso::chart_render {

// One entry of scrape_configs.
struct ScrapeJob {
  std::string job_name{};  // podMonitor/<ns>/<name>/<endpoint index>
  bool honor_labels = false;
  std::optional<bool> honor_timestamps{};
  std::vector<std::string> namespaces{};  // where to discover pods; empty: all namespaces
  std::string scrape_interval{};          // "" = the global one
  std::string scrape_timeout{};
  std::string metrics_path{};
  std::string scheme{};
  std::map<std::string, std::vector<std::string>> params{};
  std::vector<RelabelRule> relabel_configs{};
  std::vector<RelabelRule> metric_relabel_configs{};
};

// The Prometheus Operator's jobs for `monitor`, one per spec.podMetricsEndpoints[i], relabel rules
// in its order: __tmp_prometheus_job_name; drop Failed|Succeeded pods (unless filterRunning is
// false); the selector's keep/drop rules (matchLabels by sorted key, then matchExpressions); keep
// on the port name; namespace, container, pod; podTargetLabels; job "<ns>/<name>" (and jobLabel);
// endpoint = port name; then the endpoint's own relabelings. Discovery namespaces: any → all,
// matchNames → those, neither → the PodMonitor's namespace. A non-empty `only_namespaces` narrows
// that to the ones listed (for a shared test cluster); an error when none is left.
std::expected<std::vector<ScrapeJob>, std::string> scrape_jobs(
    const PodMonitor& monitor, const std::vector<std::string>& only_namespaces = {});

// How the generated Prometheus reaches the pods and which global settings it gets.
struct PrometheusConfigOptions {
  std::string scrape_interval = "15s";  // global scrape_interval and evaluation_interval
  // kubernetes_sd_configs (role pod) against this API server, trusting ca_file and sending the
  // token read from bearer_token_file.
  std::string api_server{};
  std::string ca_file{};
  std::string bearer_token_file{};
  // When set: http_sd_configs polling `dso-chart-render pod-sd` at this base URL instead (for a
  // Prometheus built without Kubernetes discovery, such as Debian's); the relabelling is the same.
  std::string pod_sd_url{};
  std::string pod_sd_refresh = "2s";
};

// prometheus.yml text: a comment naming its origin, global settings, then `jobs`. Every string
// is a YAML double-quoted scalar, escaped.
std::string prometheus_yml(const std::vector<ScrapeJob>& jobs,
                           const PrometheusConfigOptions& options);

// Whether `text` is a Prometheus duration: units y w d h m s ms in that order, each at most once,
// at least one ("15s", "1m30s", "500ms").
bool is_prometheus_duration(std::string_view text);

// `name` with every character outside [a-zA-Z0-9_] replaced by '_', as Prometheus does to pod
// label names in __meta_kubernetes_pod_label_<name>.
std::string sanitize_label_name(std::string_view name);

}  // namespace dso::chart_render
