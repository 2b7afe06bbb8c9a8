// metrics/promql.h: the CRD's metric specs (spec.autoscaling.metrics) turned into PromQL over the
// inference server's metric names, and into the decision engine's metric targets.
//
// The queries, the label contract and each built-in metric's kind are documented in
// docs/metrics.md. In short, for the project's own server (runtime deepseek) and a service NAME in
// namespace NS, with selector S = {namespace="NS",deepseek_service="NAME"}:
//
//   RequestsPerSecond  sum(rate(deepseek_inference_requests_total S [1m]))           total
//   P99Latency         histogram_quantile(0.99, sum by (le)
//                        (rate(deepseek_inference_request_duration_seconds_bucket S [1m]))) average
//   QueueDepth         sum(deepseek_inference_queue_depth S)                           total
//   GPUUtilization     avg(deepseek_inference_gpu_utilization_ratio S)                 average
//   KVCacheUsage       (no metric in runtime deepseek: needs spec.model.metricNames.kvCacheUsage)
//   PromQL             the user's query, verbatim                                      total
//
// Other runtimes use their own names (runtime/profile.h, runtime::metric_names: the one place that
// says which metrics a runtime exports); spec.model.metricNames overrides any name. Everything here
// is pure string work, no I/O.
#pragma once

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "api/deepseek_service.h"
#include "autoscaler/policy.h"

namespace dso::metrics {

// How pods are selected and rates are taken (`run --prometheus-namespace-label`,
// `--prometheus-service-label`, `--prometheus-rate-window`). The defaults match the Helm chart's
// PodMonitor, which relabels the pod label app.kubernetes.io/instance (= the DeepSeekService's
// name) into `deepseek_service` (the chart's prometheus.serviceLabel).
struct QueryOptions {
  std::string namespace_label = "namespace";
  std::string service_label = "deepseek_service";
  // The range of rate() in current-value queries: at least 4 scrape intervals (15 s scrapes).
  autoscaler::Seconds rate_window = 60;
};

// The CRD's spelling of a metric type: "RequestsPerSecond", "P99Latency", "QueueDepth",
// "GPUUtilization", "KVCacheUsage", "PromQL".
std::string_view to_string(api::MetricType type);

// How the decision engine relates a built-in metric's value to replicas (docs/metrics.md):
// kTotalValue (a sum over the service, target per replica: desired = ceil(value / target)) for
// RequestsPerSecond, QueueDepth and PromQL (KEDA's convention for an external query);
// kAverageValue (desired = ceil(ready * value / target)) for P99Latency, GPUUtilization and
// KVCacheUsage.
autoscaler::MetricKind metric_kind(api::MetricType type);

// The name of spec.autoscaling.metrics[index] as MetricSample::name and MetricTarget::name: the
// type's CRD spelling ("RequestsPerSecond"), with "[index]" appended when the type occurs more than
// once in the spec or is PromQL ("PromQL[2]"). Unique within a spec. Precondition: index < size.
std::string scaling_metric_name(const api::DeepSeekServiceSpec& spec, std::size_t index);

// spec.autoscaling.metrics[index] as a decision-engine target: name as above, kind as above,
// target = the spec's target. Precondition: index < size.
autoscaler::MetricTarget metric_target(const api::DeepSeekServiceSpec& spec, std::size_t index);

// The series selector of a service's pods, e.g. {namespace="prod",deepseek_service="chat"}.
std::string service_selector(const api::DeepSeekService& service, const QueryOptions& options = {});

// The instant query for spec.autoscaling.metrics[index] of `service`. A PromQL spec's query is
// returned verbatim. Errors (one line, naming spec.autoscaling.metrics[index] and the runtime): the
// runtime has no metric for the type and spec.model.metricNames does not name one; a bad
// metricNames entry; index out of range.
std::expected<std::string, std::string> metric_query(const api::DeepSeekService& service,
                                                     std::size_t index,
                                                     const QueryOptions& options = {});

// The service's demand in requests per second, summed over its pods, with rate() over `window`
// seconds (0: options.rate_window). Errors as metric_query.
std::expected<std::string, std::string> demand_query(const api::DeepSeekService& service,
                                                     const QueryOptions& options = {},
                                                     autoscaler::Seconds window = 0);

// The same demand per pod: `sum by (pod) (rate(REQUESTS S [W]))`, with 0 for each pod scraped at
// least twice in the window that has served nothing yet (`or on (pod)` over `up`), so that one
// series names each pod Prometheus measured (the PodMonitor's `pod` label; series without it sum
// into one with an empty pod). PrometheusSource sums it for the demand and counts the pods: fewer
// than are Ready means some went unscraped, and the service must not look idle for it. Errors as
// demand_query.
std::expected<std::string, std::string> demand_by_instance_query(
    const api::DeepSeekService& service, const QueryOptions& options = {});

// A PromQL duration: 60 -> "1m", 90 -> "90s", 3600 -> "1h", 86400 -> "1d". Precondition: > 0.
std::string promql_duration(autoscaler::Seconds seconds);

// A PromQL double-quoted string literal for `value` (escapes \, " and control characters).
std::string promql_string(std::string_view value);

}  // namespace dso::metrics
