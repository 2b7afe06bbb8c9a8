// Self-metrics of dso::kube, exported through prometheus-cpp: work-queue depth/adds/retries,
// reconcile duration and errors per controller, watch restarts and relists per resource, and API
// request latency by verb and HTTP code. Names follow client-go/controller-runtime's.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace dso::kube {

// Thread-safe (prometheus-cpp metrics are). One per process, shared by every component.
class Metrics {
 public:
  explicit Metrics(
      std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>());

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  // rest_client_request_duration_seconds{verb,code}; code "0" for transport failures.
  void observe_request(const std::string& verb, int code, double seconds);
  // workqueue_depth / workqueue_adds_total / workqueue_retries_total {name}
  void set_queue_depth(const std::string& queue, std::size_t depth);
  void count_queue_add(const std::string& queue);
  void count_queue_retry(const std::string& queue);
  // controller_runtime_reconcile_time_seconds / _total{result} / _errors_total {controller}
  void observe_reconcile(const std::string& controller, double seconds, const std::string& result);
  // informer_watch_restarts_total / informer_relists_total {resource}
  void count_watch_restart(const std::string& resource);
  void count_relist(const std::string& resource);
  // leader_election_master_status{name}
  void set_leader(const std::string& name, bool leading);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Histogram>& request_duration_;
  prometheus::Family<prometheus::Gauge>& queue_depth_;
  prometheus::Family<prometheus::Counter>& queue_adds_;
  prometheus::Family<prometheus::Counter>& queue_retries_;
  prometheus::Family<prometheus::Histogram>& reconcile_time_;
  prometheus::Family<prometheus::Counter>& reconcile_total_;
  prometheus::Family<prometheus::Counter>& reconcile_errors_;
  prometheus::Family<prometheus::Counter>& watch_restarts_;
  prometheus::Family<prometheus::Counter>& relists_;
  prometheus::Family<prometheus::Gauge>& leader_;
};
using MetricsPtr = std::shared_ptr<Metrics>;

}  // namespace dso::kube
