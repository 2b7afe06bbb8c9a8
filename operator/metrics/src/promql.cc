#include "metrics/promql.h"

#include <cstdio>

#include "runtime/profile.h"

namespace dso::metrics {
namespace {

std::string where(std::size_t index) {
  return "spec.autoscaling.metrics[" + std::to_string(index) + "]";
}

std::string missing(const api::DeepSeekService& service, std::size_t index, std::string_view type,
                    std::string_view key) {
  return where(index) + " (" + std::string(type) + ") of " + service.metadata.ns + "/" +
         service.metadata.name + ": runtime " +
         std::string(runtime::runtime_name(service.spec.model.runtime)) +
         " exposes no such metric; name one in spec.model.metricNames." + std::string(key);
}

}  // namespace

std::string_view to_string(api::MetricType type) {
  switch (type) {
    case api::MetricType::kRequestsPerSecond:
      return "RequestsPerSecond";
    case api::MetricType::kP99Latency:
      return "P99Latency";
    case api::MetricType::kQueueDepth:
      return "QueueDepth";
    case api::MetricType::kGpuUtilization:
      return "GPUUtilization";
    case api::MetricType::kKvCacheUsage:
      return "KVCacheUsage";
    case api::MetricType::kPromQL:
      return "PromQL";
  }
  return "unknown";
}

autoscaler::MetricKind metric_kind(api::MetricType type) {
  switch (type) {
    case api::MetricType::kRequestsPerSecond:
    case api::MetricType::kQueueDepth:
    case api::MetricType::kPromQL:
      return autoscaler::MetricKind::kTotalValue;
    case api::MetricType::kP99Latency:
    case api::MetricType::kGpuUtilization:
    case api::MetricType::kKvCacheUsage:
      return autoscaler::MetricKind::kAverageValue;
  }
  return autoscaler::MetricKind::kTotalValue;
}

std::string scaling_metric_name(const api::DeepSeekServiceSpec& spec, std::size_t index) {
  const auto& metrics = spec.autoscaling.metrics;
  const api::MetricType type = metrics.at(index).type;
  std::size_t same = 0;
  for (const auto& m : metrics) same += m.type == type ? 1 : 0;
  std::string name(to_string(type));
  if (same > 1 || type == api::MetricType::kPromQL) name += "[" + std::to_string(index) + "]";
  return name;
}

autoscaler::MetricTarget metric_target(const api::DeepSeekServiceSpec& spec, std::size_t index) {
  autoscaler::MetricTarget target;
  target.name = scaling_metric_name(spec, index);
  target.kind = metric_kind(spec.autoscaling.metrics.at(index).type);
  target.target = spec.autoscaling.metrics.at(index).target;
  return target;
}

std::string promql_string(std::string_view value) {
  std::string out = "\"";
  for (const char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string promql_duration(autoscaler::Seconds seconds) {
  if (seconds % 86400 == 0) return std::to_string(seconds / 86400) + "d";
  if (seconds % 3600 == 0) return std::to_string(seconds / 3600) + "h";
  if (seconds % 60 == 0) return std::to_string(seconds / 60) + "m";
  return std::to_string(seconds) + "s";
}

std::string service_selector(const api::DeepSeekService& service, const QueryOptions& options) {
  return "{" + options.namespace_label + "=" + promql_string(service.metadata.ns) + "," +
         options.service_label + "=" + promql_string(service.metadata.name) + "}";
}

std::expected<std::string, std::string> metric_query(const api::DeepSeekService& service,
                                                     std::size_t index,
                                                     const QueryOptions& options) {
  const auto& metrics = service.spec.autoscaling.metrics;
  if (index >= metrics.size()) {
    return std::unexpected(where(index) + " of " + service.metadata.ns + "/" +
                           service.metadata.name + ": no such metric (" +
                           std::to_string(metrics.size()) + " configured)");
  }
  const api::MetricSpec& spec = metrics[index];
  if (spec.type == api::MetricType::kPromQL) {
    if (spec.query.empty()) return std::unexpected(where(index) + ".query is empty");
    return spec.query;
  }
  auto names = runtime::metric_names(service.spec.model);
  if (!names) return std::unexpected(names.error());
  const std::string sel = service_selector(service, options);
  const std::string window = "[" + promql_duration(options.rate_window) + "]";
  switch (spec.type) {
    case api::MetricType::kRequestsPerSecond:
      if (names->requests_total.empty())
        return std::unexpected(missing(service, index, to_string(spec.type), "requestsTotal"));
      return "sum(rate(" + names->requests_total + sel + window + "))";
    case api::MetricType::kP99Latency:
      if (names->request_duration_seconds.empty()) {
        return std::unexpected(
            missing(service, index, to_string(spec.type), "requestDurationSeconds"));
      }
      return "histogram_quantile(0.99, sum by (le) (rate(" + names->request_duration_seconds +
             "_bucket" + sel + window + ")))";
    case api::MetricType::kQueueDepth:
      if (names->queue_depth.empty())
        return std::unexpected(missing(service, index, to_string(spec.type), "queueDepth"));
      return "sum(" + names->queue_depth + sel + ")";
    case api::MetricType::kGpuUtilization:
      if (names->gpu_utilization.empty())
        return std::unexpected(missing(service, index, to_string(spec.type), "gpuUtilization"));
      return "avg(" + names->gpu_utilization + sel + ")";
    case api::MetricType::kKvCacheUsage:
      if (names->kv_cache_usage.empty())
        return std::unexpected(missing(service, index, to_string(spec.type), "kvCacheUsage"));
      return "avg(" + names->kv_cache_usage + sel + ")";
    case api::MetricType::kPromQL:
      break;
  }
  return std::unexpected(where(index) + ": unknown metric type");
}

std::expected<std::string, std::string> demand_query(const api::DeepSeekService& service,
                                                     const QueryOptions& options,
                                                     autoscaler::Seconds window) {
  auto names = runtime::metric_names(service.spec.model);
  if (!names) return std::unexpected(names.error());
  if (names->requests_total.empty()) {
    return std::unexpected("demand of " + service.metadata.ns + "/" + service.metadata.name +
                           ": runtime " +
                           std::string(runtime::runtime_name(service.spec.model.runtime)) +
                           " exposes no request counter; name one in "
                           "spec.model.metricNames.requestsTotal");
  }
  if (window <= 0) window = options.rate_window;
  return "sum(rate(" + names->requests_total + service_selector(service, options) + "[" +
         promql_duration(window) + "]))";
}

}  // namespace dso::metrics

namespace dso::metrics {

std::expected<std::string, std::string> demand_by_instance_query(
    const api::DeepSeekService& service, const QueryOptions& options) {
  auto total = demand_query(service, options);
  if (!total) return total;
  // Each pod's rate, and 0 for a pod scraped at least twice in the window that served nothing (its
  // request counter has no series yet): every pod Prometheus could have measured is named, none
  // that it could not.
  const std::string window = "[" + promql_duration(options.rate_window) + "]";
  return "sum by (pod) " + total->substr(3) + " or on (pod) (0 * sum by (pod) (sum_over_time(up" +
         service_selector(service, options) + window + ") >= 2))";
}

}  // namespace dso::metrics
