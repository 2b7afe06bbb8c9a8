// scaling/self_metrics.h: the live autoscaler's own Prometheus metrics, served by `run` on
// /metrics next to dso::kube's.
// clang-format off
// Per service (labels namespace, name):
//   deepseek_operator_desired_replicas               the autoscaler's decision (Preview: what it would set)
//   deepseek_operator_current_replicas               the replicas the service is set to
//   deepseek_operator_ready_replicas                 pods Ready
//   deepseek_operator_predicted_demand{band}         the forecast at the horizon, band "point" or "q0.9"
//   deepseek_operator_forecast_error                 recent weighted absolute percentage error
//   deepseek_operator_cold_start_seconds             the cold-start estimate the horizon uses
//   deepseek_operator_scaling_decisions_total{rule}
//   deepseek_operator_metric_query_failures_total    unknown values (failed, empty, NaN) read
//   deepseek_operator_history_queries_total{result="ok|error"}
//   deepseek_operator_scaling_limited                1 while a limit (min/max, schedule, rate, GPU budget) cut the decision
//   deepseek_operator_metrics_unavailable            1 while the metrics are missing, NaN or stale
//   deepseek_operator_forecast_gated                 1 while the forecast is gated off for its error
// The last three are what the Helm chart's alerts use. Without labels:
//   deepseek_operator_forecast_refit_seconds         histogram of the CPU time of each refit
//   deepseek_operator_scaling_pass_seconds           histogram of the wall time of one pass over all
//                                                    autoscaled services (one decision period's work)
//   deepseek_operator_scaling_pass_overruns_total    passes that took longer than the decision period
// clang-format on
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace dso::scaling {

// Thread-safe (prometheus-cpp metrics are).
class ScalingMetrics {
 public:
  explicit ScalingMetrics(std::shared_ptr<prometheus::Registry> registry);

  struct ServiceSample {
    int desired = 0, current = 0, ready = 0;
    std::optional<double> point, quantile;
    double quantile_level = 0.0;
    double forecast_error = 0.0;
    double cold_start_seconds = 0.0;
    std::string rule;
    int query_failures = 0;
    int history_ok = 0, history_failed = 0;
    std::optional<double> refit_seconds;
    bool limited = false, metrics_unavailable = false, forecast_gated = false;
    std::string limited_reason;  // the ScalingLimited reason when limited
  };
  void record(const std::string& ns, const std::string& name, const ServiceSample& sample);
  // Drops a deleted service's series.
  void forget(const std::string& ns, const std::string& name);
  // One pass of the scaling loop over every autoscaled service took `seconds` (wall time);
  // `period` is the decision period it had.
  void record_pass(double seconds, double period);

 private:
  template <typename T>
  T& add(prometheus::Family<T>& family, const std::string& key,
         const std::map<std::string, std::string>& labels);

  std::shared_ptr<prometheus::Registry> registry_;
  std::mutex mu_;
  // Per service key: every (family, metric) added, so that forget() can remove them.
  std::map<std::string, std::vector<std::function<void()>>> removers_;
  std::map<std::string, std::map<const void*, bool>> added_;
  // The one scaling_limited series per service and its reason (replaced when the reason changes).
  std::map<std::string, std::pair<std::string, prometheus::Gauge*>> limited_series_;
  prometheus::Family<prometheus::Gauge>& desired_;
  prometheus::Family<prometheus::Gauge>& current_;
  prometheus::Family<prometheus::Gauge>& ready_;
  prometheus::Family<prometheus::Gauge>& predicted_;
  prometheus::Family<prometheus::Gauge>& error_;
  prometheus::Family<prometheus::Gauge>& cold_start_;
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Family<prometheus::Counter>& query_failures_;
  prometheus::Family<prometheus::Counter>& history_queries_;
  prometheus::Family<prometheus::Histogram>& refit_seconds_;
  prometheus::Family<prometheus::Gauge>& limited_;
  prometheus::Family<prometheus::Gauge>& unavailable_;
  prometheus::Family<prometheus::Gauge>& gated_;
  prometheus::Histogram& pass_seconds_;
  prometheus::Counter& pass_overruns_;
};

}  // namespace dso::scaling
