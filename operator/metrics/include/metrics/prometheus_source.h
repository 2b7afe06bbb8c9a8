// metrics/prometheus_source.h: the MetricsSource the operator runs with — a service's load read
// from Prometheus through the queries of metrics/promql.h.
//
// How a result becomes a value (docs/metrics.md, "Error semantics"): one series with a finite
// value is that value; a failed query, an empty result, several series from a query that must give
// one, a string result, NaN and ±Inf are NaN with a problem line naming the query; Prometheus
// warnings (partial data) keep the value and add a problem line. Demand history comes from one
// range query (chunked under Prometheus's 11,000-point limit) of the demand query with rate() over
// max(rate window, step), so that consecutive points cover the whole span without overlap.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <string>

#include "metrics/prometheus_client.h"
#include "metrics/promql.h"
#include "metrics/source.h"

namespace dso::metrics {

struct PrometheusSourceOptions {
  QueryOptions queries;  // label names and rate window (defaults match the Helm chart)
};

class PrometheusSource : public MetricsSource {
 public:
  explicit PrometheusSource(PrometheusClientPtr client, PrometheusSourceOptions options = {});

  // One instant query per spec metric, evaluated at `now`, plus one for demand unless a
  // RequestsPerSecond metric's query is the same (then its answer is reused). Never throws.
  ServiceLoad current(const api::DeepSeekService& service, Seconds now) override;

  // Points at start, start + step, ... (< end); the point at t is the mean request rate over
  // (t - w, t] with w = max(rate window, step). Points Prometheus has no value for, and NaN/±Inf
  // values, are NaN. A service with no data at all gives all-NaN values, not an error. Errors:
  // step <= 0, a bad metricNames entry, any failed chunk (Prometheus's message, naming the query
  // and URL), a result with more than one series.
  std::expected<predictor::Series, std::string> demand_history(const api::DeepSeekService& service,
                                                               Seconds start, Seconds end,
                                                               Seconds step) override;

  // Queries issued by this source (ranges count once per query, not per chunk), and those that
  // failed (unreachable, timeout, HTTP or API error, malformed answer) — for self-metrics.
  std::uint64_t queries() const { return queries_.load(); }
  std::uint64_t query_failures() const { return failures_.load(); }

  const PrometheusSourceOptions& options() const { return options_; }

 private:
  struct Value {
    double value = 0;
    Seconds sampled_at = 0;
    std::string warning = {};  // Prometheus said the answer is incomplete (the first warning)
  };
  // One instant query reduced to one value; NaN + a problem line when it cannot be.
  Value read_one(const std::string& what, const std::string& query, Seconds now,
                 std::vector<std::string>& problems);
  // The demand per instance, summed; *instances = how many series there were.
  Value read_demand(const std::string& query, Seconds now, std::vector<std::string>& problems,
                    std::optional<int>* instances);

  PrometheusClientPtr client_;
  PrometheusSourceOptions options_;
  std::atomic<std::uint64_t> queries_{0};
  std::atomic<std::uint64_t> failures_{0};
};

}  // namespace dso::metrics
