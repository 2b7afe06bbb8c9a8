// The failover gauge served by `run` on /metrics: deepseek_operator_region_failed_over
// {namespace, name}, 1 while a DeepSeekService's active primary is not its configured primary
// (controller/failover.h), 0 otherwise; the series goes when the service is deleted. The Helm
// chart's DeepSeekServiceRegionFailedOver alert fires on it.
#pragma once

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <memory>
#include <optional>
#include <string>

namespace dso::controller {

// Thread-safe (prometheus-cpp families are).
class FailoverMetrics {
 public:
  explicit FailoverMetrics(std::shared_ptr<prometheus::Registry> registry);
  // What ReconcilerOptions::failover_state reports: nullopt drops the service's series. O(log n).
  void set(const std::string& ns, const std::string& name, std::optional<bool> failed_over);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>& failed_over_;
};

}  // namespace dso::controller
