#include "kube/metrics.h"

namespace dso::kube {
namespace {

prometheus::Histogram::BucketBoundaries latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

}  // namespace

Metrics::Metrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)),
      request_duration_(prometheus::BuildHistogram()
                            .Name("rest_client_request_duration_seconds")
                            .Help("Kubernetes API request latency by verb and HTTP code")
                            .Register(*registry_)),
      queue_depth_(prometheus::BuildGauge()
                       .Name("workqueue_depth")
                       .Help("Current depth of the work queue")
                       .Register(*registry_)),
      queue_adds_(prometheus::BuildCounter()
                      .Name("workqueue_adds_total")
                      .Help("Adds handled by the work queue")
                      .Register(*registry_)),
      queue_retries_(prometheus::BuildCounter()
                         .Name("workqueue_retries_total")
                         .Help("Rate-limited re-adds handled by the work queue")
                         .Register(*registry_)),
      reconcile_time_(prometheus::BuildHistogram()
                          .Name("controller_runtime_reconcile_time_seconds")
                          .Help("Time per reconcile, by controller")
                          .Register(*registry_)),
      reconcile_total_(prometheus::BuildCounter()
                           .Name("controller_runtime_reconcile_total")
                           .Help("Reconciles by controller and result")
                           .Register(*registry_)),
      reconcile_errors_(prometheus::BuildCounter()
                            .Name("controller_runtime_reconcile_errors_total")
                            .Help("Reconciles that returned an error or threw, by controller")
                            .Register(*registry_)),
      watch_restarts_(prometheus::BuildCounter()
                          .Name("informer_watch_restarts_total")
                          .Help("Watches re-opened after ending or failing, by resource")
                          .Register(*registry_)),
      relists_(prometheus::BuildCounter()
                   .Name("informer_relists_total")
                   .Help("Full LISTs after start, 410 Gone or a failed watch, by resource")
                   .Register(*registry_)),
      leader_(prometheus::BuildGauge()
                  .Name("leader_election_master_status")
                  .Help("1 while this process holds the lease")
                  .Register(*registry_)) {}

void Metrics::observe_request(const std::string& verb, int code, double seconds) {
  request_duration_.Add({{"verb", verb}, {"code", std::to_string(code)}}, latency_buckets())
      .Observe(seconds);
}

void Metrics::set_queue_depth(const std::string& queue, std::size_t depth) {
  queue_depth_.Add({{"name", queue}}).Set(static_cast<double>(depth));
}

void Metrics::count_queue_add(const std::string& queue) {
  queue_adds_.Add({{"name", queue}}).Increment();
}

void Metrics::count_queue_retry(const std::string& queue) {
  queue_retries_.Add({{"name", queue}}).Increment();
}

void Metrics::observe_reconcile(const std::string& controller, double seconds,
                                const std::string& result) {
  reconcile_time_.Add({{"controller", controller}}, latency_buckets()).Observe(seconds);
  reconcile_total_.Add({{"controller", controller}, {"result", result}}).Increment();
  if (result == "error" || result == "terminal_error") {
    reconcile_errors_.Add({{"controller", controller}}).Increment();
  }
}

void Metrics::count_watch_restart(const std::string& resource) {
  watch_restarts_.Add({{"resource", resource}}).Increment();
}

void Metrics::count_relist(const std::string& resource) {
  relists_.Add({{"resource", resource}}).Increment();
}

void Metrics::set_leader(const std::string& name, bool leading) {
  leader_.Add({{"name", name}}).Set(leading ? 1 : 0);
}

}  // namespace dso::kube
