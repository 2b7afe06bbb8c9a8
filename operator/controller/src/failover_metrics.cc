#include "controller/failover_metrics.h"

namespace dso::controller {

FailoverMetrics::FailoverMetrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)),
      failed_over_(prometheus::BuildGauge()
                       .Name("deepseek_operator_region_failed_over")
                       .Help("1 while the service's active primary region is a standby it failed "
                             "over to (status.primaryRegion), 0 otherwise")
                       .Register(*registry_)) {}

void FailoverMetrics::set(const std::string& ns, const std::string& name,
                          std::optional<bool> failed_over) {
  const std::map<std::string, std::string> labels{{"namespace", ns}, {"name", name}};
  if (failed_over) {
    failed_over_.Add(labels).Set(*failed_over ? 1 : 0);
  } else if (failed_over_.Has(labels)) {
    failed_over_.Remove(&failed_over_.Add(labels));
  }
}

}  // namespace dso::controller
