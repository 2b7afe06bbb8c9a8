// metrics/source.h: what the live autoscaler reads about a service's load — the seam between
// the scaling loop (operator/scaling/) and where the numbers come from (Prometheus in
// metrics/prometheus_source.h; a fake in unit tests).
//
// A value that could not be read is NaN with a reason, never 0: a failed query, an empty result,
// NaN or ±Inf from PromQL, or a result older than the staleness bound are all "unknown" to the
// decision engine (autoscaler::MetricsState), so that a Prometheus outage holds replicas instead of
// scaling a service to its minimum.
#pragma once

#include <expected>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/deepseek_service.h"
#include "autoscaler/decision.h"
#include "predictor/forecast.h"

namespace dso::metrics {

using autoscaler::Seconds;

// The service's load as read at one moment.
struct ServiceLoad {
  // One sample per spec.autoscaling.metrics entry, in spec order, named as
  // scaling_metric_name(spec, index) names it; value NaN when unknown.
  std::vector<autoscaler::MetricSample> metrics;
  // Total demand over the service's pods in the forecast's unit (requests per second); NaN when
  // unknown.
  double demand = std::numeric_limits<double>::quiet_NaN();
  Seconds demand_sampled_at = 0;
  // Pods whose request counter had a rate in the window (series with a `pod` label), when the
  // series name pods at all: fewer than the service's ready pods means the values may be low (some
  // pods went unscraped), and the scaling loop marks them partial (may scale up, never down).
  std::optional<int> reporting_pods;
  // One line per problem met while reading (query failed, empty result, NaN, Prometheus warnings),
  // each naming the query; empty when everything was read cleanly.
  std::vector<std::string> problems;
};

// Where a service's load comes from. Implementations are thread-safe: the scaling loop may read
// several services at once.
class MetricsSource {
 public:
  virtual ~MetricsSource() = default;

  // The load of `service` at `now` (unix seconds). Never fails as a whole: what could not be read
  // is NaN with a line in `problems`. Cost: one query per metric plus one for demand.
  virtual ServiceLoad current(const api::DeepSeekService& service, Seconds now) = 0;

  // The service's demand (requests per second, as in ServiceLoad::demand) over [start, end) at
  // `step` seconds, for the predictor: values[i] is the mean over [start + i*step, start +
  // (i+1)*step), so a point is stamped with the interval it measured (as a trace's rows are).
  // Missing points are NaN (the predictor fills gaps); an error (Prometheus unreachable, bad query,
  // a malformed answer) names the query and the cause.
  virtual std::expected<predictor::Series, std::string> demand_history(
      const api::DeepSeekService& service, Seconds start, Seconds end, Seconds step) = 0;
};

using MetricsSourcePtr = std::shared_ptr<MetricsSource>;

}  // namespace dso::metrics
