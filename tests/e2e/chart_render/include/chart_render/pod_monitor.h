// chart_render/pod_monitor.h: the PodMonitors (monitoring.coreos.com/v1) of a chart's rendered
// manifests (`helm template` output), read into the fields that dso-chart-render turns into
// Prometheus scrape jobs. A field the generator does not implement is refused by name, never
// dropped, so a chart change that the rendered config could not follow fails loudly.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kube/types.h"

namespace dso::chart_render {

// One relabelling rule with Prometheus' relabel_config fields. In a PodMonitor they are spelt in
// camelCase (sourceLabels, targetLabel, ...); unset optional fields are left out of the output.
struct RelabelRule {
  std::vector<std::string> source_labels{};
  std::optional<std::string> separator{};
  std::string target_label{};
  std::string regex{};
  std::uint64_t modulus = 0;
  std::optional<std::string> replacement{};
  std::string action{};  // lower case; "" leaves Prometheus' default (replace)

  bool operator==(const RelabelRule&) const = default;
};

// A matchExpressions entry of the PodMonitor's pod selector.
struct LabelRequirement {
  std::string key{};
  std::string op{};  // In, NotIn, Exists, DoesNotExist
  std::vector<std::string> values{};
};

// spec.podMetricsEndpoints[i].
struct PodMetricsEndpoint {
  std::string port{};  // the container port's name
  std::string path{};
  std::string interval{};
  std::string scrape_timeout{};
  std::string scheme{};
  bool honor_labels = false;
  std::optional<bool> honor_timestamps{};
  bool filter_running = true;
  std::map<std::string, std::vector<std::string>> params{};
  std::vector<RelabelRule> relabelings{};
  std::vector<RelabelRule> metric_relabelings{};
};

struct PodMonitor {
  std::string ns{};
  std::string name{};
  std::map<std::string, std::string> match_labels{};  // sorted by key, as the operator emits them
  std::vector<LabelRequirement> match_expressions{};
  bool any_namespace = false;              // namespaceSelector.any
  std::vector<std::string> match_names{};  // namespaceSelector.matchNames
  std::string job_label{};
  std::vector<std::string> pod_target_labels{};
  std::vector<PodMetricsEndpoint> endpoints{};
};

// Every PodMonitor among `manifests` (other kinds are skipped), in order. A relabelling rule
// without an action gets "replace", the default the CRD has the API server fill in. Errors: no
// PodMonitor at all; a field that is unsupported or of the wrong type, named with its path, e.g.
// "PodMonitor ops/x: spec.podMetricsEndpoints[0].portNumber is not supported by dso-chart-render".
std::expected<std::vector<PodMonitor>, std::string> read_pod_monitors(
    const std::vector<kube::Json>& manifests);

}  // namespace dso::chart_render
