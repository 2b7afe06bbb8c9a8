// The live autoscaler's self-metrics (see self_metrics.h).
#include "scaling/self_metrics.h"

#include <cstdio>

namespace dso::scaling {

ScalingMetrics::ScalingMetrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)),
      desired_(prometheus::BuildGauge()
                   .Name("deepseek_operator_desired_replicas")
                   .Help("Replicas the autoscaler decided (Preview: would set)")
                   .Register(*registry_)),
      current_(prometheus::BuildGauge()
                   .Name("deepseek_operator_current_replicas")
                   .Help("Replicas the service is set to")
                   .Register(*registry_)),
      ready_(prometheus::BuildGauge()
                 .Name("deepseek_operator_ready_replicas")
                 .Help("Pods of the service that are Ready")
                 .Register(*registry_)),
      predicted_(prometheus::BuildGauge()
                     .Name("deepseek_operator_predicted_demand")
                     .Help("Forecast demand (requests/s) at the horizon, by band")
                     .Register(*registry_)),
      error_(prometheus::BuildGauge()
                 .Name("deepseek_operator_forecast_error")
                 .Help("Recent weighted absolute percentage error of the forecast")
                 .Register(*registry_)),
      cold_start_(prometheus::BuildGauge()
                      .Name("deepseek_operator_cold_start_seconds")
                      .Help("Cold-start estimate (creation to Ready) the horizon uses")
                      .Register(*registry_)),
      decisions_(prometheus::BuildCounter()
                     .Name("deepseek_operator_scaling_decisions_total")
                     .Help("Scaling decisions by the rule that set the recommendation")
                     .Register(*registry_)),
      query_failures_(prometheus::BuildCounter()
                          .Name("deepseek_operator_metric_query_failures_total")
                          .Help("Metric reads that gave no usable value (failed, empty, NaN)")
                          .Register(*registry_)),
      history_queries_(prometheus::BuildCounter()
                           .Name("deepseek_operator_history_queries_total")
                           .Help("Demand-history range queries, by result")
                           .Register(*registry_)),
      refit_seconds_(prometheus::BuildHistogram()
                         .Name("deepseek_operator_forecast_refit_seconds")
                         .Help("CPU time of each forecast refit")
                         .Register(*registry_)),
      limited_(prometheus::BuildGauge()
                   .Name("deepseek_operator_scaling_limited")
                   .Help("1 while a limit (min/max, schedule, rate, GPU budget) cut the decision")
                   .Register(*registry_)),
      unavailable_(prometheus::BuildGauge()
                       .Name("deepseek_operator_metrics_unavailable")
                       .Help("1 while the service's metrics are missing, NaN or stale")
                       .Register(*registry_)),
      gated_(prometheus::BuildGauge()
                 .Name("deepseek_operator_forecast_gated")
                 .Help("1 while the forecast is switched off for its recent error")
                 .Register(*registry_)),
      pass_seconds_(
          prometheus::BuildHistogram()
              .Name("deepseek_operator_scaling_pass_seconds")
              .Help("Wall time of one pass of the scaling loop over all autoscaled "
                    "services")
              .Register(*registry_)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10,
                                                               15, 30, 60, 120})),
      pass_overruns_(prometheus::BuildCounter()
                         .Name("deepseek_operator_scaling_pass_overruns_total")
                         .Help("Passes of the scaling loop that took longer than the decision "
                               "period (decisions come late)")
                         .Register(*registry_)
                         .Add({})) {}

void ScalingMetrics::record_pass(double seconds, double period) {
  pass_seconds_.Observe(seconds);
  if (seconds > period) pass_overruns_.Increment();
}

template <typename T>
T& ScalingMetrics::add(prometheus::Family<T>& family, const std::string& key,
                       const std::map<std::string, std::string>& labels) {
  T& metric = family.Add(labels);
  if (added_[key].emplace(&metric, true).second) {
    removers_[key].push_back([&family, &metric] { family.Remove(&metric); });
  }
  return metric;
}

void ScalingMetrics::record(const std::string& ns, const std::string& name,
                            const ServiceSample& s) {
  std::lock_guard lock(mu_);
  const std::string key = ns + "/" + name;
  const std::map<std::string, std::string> labels{{"namespace", ns}, {"name", name}};
  auto with = [&](const char* k, const std::string& v) {
    auto l = labels;
    l[k] = v;
    return l;
  };
  add(desired_, key, labels).Set(s.desired);
  add(current_, key, labels).Set(s.current);
  add(ready_, key, labels).Set(s.ready);
  if (s.point) add(predicted_, key, with("band", "point")).Set(*s.point);
  if (s.quantile) {
    char band[32];
    std::snprintf(band, sizeof band, "q%g", s.quantile_level);
    add(predicted_, key, with("band", band)).Set(*s.quantile);
  }
  add(error_, key, labels).Set(s.forecast_error);
  add(cold_start_, key, labels).Set(s.cold_start_seconds);
  if (!s.rule.empty()) add(decisions_, key, with("rule", s.rule)).Increment();
  add(query_failures_, key, labels).Increment(s.query_failures);
  if (s.history_ok > 0) add(history_queries_, key, with("result", "ok")).Increment(s.history_ok);
  if (s.history_failed > 0)
    add(history_queries_, key, with("result", "error")).Increment(s.history_failed);
  if (s.refit_seconds) {
    refit_seconds_
        .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                                         0.05, 0.1, 0.2, 0.5, 1, 2, 5})
        .Observe(*s.refit_seconds);
  }
  const std::string reason = s.limited ? s.limited_reason : "";
  auto& series = limited_series_[key];
  if (!series.second || series.first != reason) {
    if (series.second) {
      limited_.Remove(series.second);
      added_[key].erase(series.second);
    }
    series = {reason, &limited_.Add(reason.empty() ? labels : with("reason", reason))};
  }
  series.second->Set(s.limited ? 1 : 0);
  add(unavailable_, key, labels).Set(s.metrics_unavailable ? 1 : 0);
  add(gated_, key, labels).Set(s.forecast_gated ? 1 : 0);
}

void ScalingMetrics::forget(const std::string& ns, const std::string& name) {
  std::lock_guard lock(mu_);
  const std::string key = ns + "/" + name;
  for (auto& remove : removers_[key]) remove();
  removers_.erase(key);
  added_.erase(key);
  if (const auto it = limited_series_.find(key); it != limited_series_.end()) {
    limited_.Remove(it->second.second);
    limited_series_.erase(it);
  }
}

}  // namespace dso::scaling
