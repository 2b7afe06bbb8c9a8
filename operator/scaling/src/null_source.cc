// A MetricsSource with nothing behind it (see null_source.h).
#include "scaling/null_source.h"

#include <limits>

#include "metrics/promql.h"

namespace dso::scaling {

metrics::ServiceLoad NullMetricsSource::current(const api::DeepSeekService& service, Seconds now) {
  metrics::ServiceLoad load;
  for (std::size_t i = 0; i < service.spec.autoscaling.metrics.size(); ++i) {
    load.metrics.push_back({metrics::scaling_metric_name(service.spec, i),
                            std::numeric_limits<double>::quiet_NaN(), now});
  }
  load.problems.push_back("metrics unavailable: " + why_);
  return load;
}

std::expected<predictor::Series, std::string> NullMetricsSource::demand_history(
    const api::DeepSeekService&, Seconds, Seconds, Seconds) {
  return std::unexpected("demand history unavailable: " + why_);
}

}  // namespace dso::scaling
