// scaling/null_source.h: the MetricsSource `run` uses without --prometheus-url — every value
// unknown, so autoscaled services hold their replicas and report MetricsUnavailable (never read
// as zero demand).
#pragma once

#include <string>

#include "metrics/source.h"

namespace dso::scaling {

using autoscaler::Seconds;

class NullMetricsSource final : public metrics::MetricsSource {
 public:
  // `why` goes into every problem line and error (e.g. "no --prometheus-url given").
  explicit NullMetricsSource(std::string why) : why_(std::move(why)) {}
  metrics::ServiceLoad current(const api::DeepSeekService& service, Seconds now) override;
  std::expected<predictor::Series, std::string> demand_history(const api::DeepSeekService& service,
                                                               Seconds start, Seconds end,
                                                               Seconds step) override;

 private:
  std::string why_;
};

}  // namespace dso::scaling
