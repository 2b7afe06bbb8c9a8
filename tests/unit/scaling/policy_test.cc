// spec.autoscaling -> engine policy (scaling/policy.h).
#include "scaling/policy.h"

#include <gtest/gtest.h>

#include "scaling/service_scaler.h"
#include "sim/policies.h"

namespace dso::scaling {
namespace {

using nlohmann::json;

api::DeepSeekServiceSpec spec_of(json autoscaling, json extra = json::object()) {
  json object{
      {"apiVersion", "inference.deepseek.io/v1alpha1"},
      {"kind", "DeepSeekService"},
      {"metadata", {{"name", "chat"}, {"namespace", "ml"}}},
      {"spec", {{"model", {{"name", "m"}, {"image", "img"}}}, {"autoscaling", autoscaling}}}};
  object["spec"].merge_patch(extra);
  auto parsed = api::parse_deepseek_service(object);
  EXPECT_TRUE(parsed) << parsed.error();
  return parsed->spec;
}

TEST(ScalingPolicy, DefaultsFollowTheCrd) {
  const auto p = to_scaling_policy(spec_of(json::object()), 15);
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->min_replicas, 1);
  EXPECT_EQ(p->max_replicas, 10);
  ASSERT_EQ(p->metrics.size(), 1u);
  EXPECT_EQ(p->metrics[0].name, "RequestsPerSecond");
  EXPECT_EQ(p->metrics[0].kind, autoscaler::MetricKind::kTotalValue);
  EXPECT_DOUBLE_EQ(p->metrics[0].target, 10);
  EXPECT_EQ(p->capacity_per_replica, 10.0);  // the per-replica RPS target
  EXPECT_TRUE(p->predictive.enabled);        // Preview decides like Auto
  EXPECT_DOUBLE_EQ(p->predictive.quantile, 0.9);
  EXPECT_EQ(p->predictive.decision_period, 15);
  EXPECT_EQ(p->predictive.cold_start, 300);
  EXPECT_DOUBLE_EQ(p->predictive.gate_max_error, 1.0);
  EXPECT_EQ(p->metrics_fallback, autoscaler::MetricsFallback::kHold);
  EXPECT_EQ(p->metric_max_age, 120);
  EXPECT_EQ(p->scale_up.stabilization_window, 0);
  EXPECT_EQ(p->scale_down.stabilization_window, 300);
  EXPECT_EQ(p->scale_up.policies.size(), 2u);
  EXPECT_FALSE(p->gpu_budget);
  EXPECT_TRUE(use_measured_cold_starts(spec_of(json::object())));
}

TEST(ScalingPolicy, ModeOffIsReactiveOnly) {
  const auto p = to_scaling_policy(spec_of({{"predictive", {{"mode", "Off"}}}}), 15);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->predictive.enabled);
  const auto a = to_scaling_policy(spec_of({{"predictive", {{"mode", "Auto"}}}}), 30);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->predictive.enabled);
  EXPECT_EQ(a->predictive.decision_period, 30);
}

TEST(ScalingPolicy, MetricsKindsNamesAndCapacity) {
  const auto spec = spec_of({{"metrics",
                              {{{"type", "GPUUtilization"}, {"target", 0.7}},
                               {{"type", "PromQL"}, {"target", 5}, {"query", "sum(x)"}},
                               {{"type", "PromQL"}, {"target", 3}, {"query", "sum(y)"}},
                               {{"type", "P99Latency"}, {"target", 2}}}},
                             {"predictive", {{"capacityPerReplica", 42}}}});
  const auto p = to_scaling_policy(spec, 15);
  ASSERT_TRUE(p) << p.error();
  ASSERT_EQ(p->metrics.size(), 4u);
  EXPECT_EQ(p->metrics[0].name, "GPUUtilization");
  EXPECT_EQ(p->metrics[0].kind, autoscaler::MetricKind::kAverageValue);
  EXPECT_EQ(p->metrics[1].name, "PromQL[1]");
  EXPECT_EQ(p->metrics[2].name, "PromQL[2]");
  EXPECT_EQ(p->metrics[1].kind, autoscaler::MetricKind::kTotalValue);
  EXPECT_EQ(p->metrics[3].kind, autoscaler::MetricKind::kAverageValue);
  EXPECT_EQ(p->capacity_per_replica, 42.0);
  // No RequestsPerSecond metric and no capacityPerReplica: learned.
  const auto learned =
      to_scaling_policy(spec_of({{"metrics", {{{"type", "QueueDepth"}, {"target", 4}}}}}), 15);
  ASSERT_TRUE(learned);
  EXPECT_FALSE(learned->capacity_per_replica);
}

TEST(ScalingPolicy, BehaviorFallbackGpuBudget) {
  const auto spec =
      spec_of({{"behavior",
                {{"tolerance", 0.2},
                 {"scaleDown",
                  {{"stabilizationWindowSeconds", 60},
                   {"selectPolicy", "Min"},
                   {"policies", {{{"type", "Pods"}, {"value", 2}, {"periodSeconds", 30}}}}}},
                 {"scaleUp", {{"selectPolicy", "Disabled"}}}}},
               {"fallback", {{"onMetricsUnavailable", "FollowForecast"}, {"staleAfter", "5m"}}},
               {"gpuBudget", {{"maxGPUs", 8}}}},
              {{"resources", {{"gpusPerPod", 2}}}});
  const auto p = to_scaling_policy(spec, 15);
  ASSERT_TRUE(p) << p.error();
  EXPECT_DOUBLE_EQ(p->tolerance, 0.2);
  EXPECT_EQ(p->scale_down.stabilization_window, 60);
  EXPECT_EQ(p->scale_down.select, autoscaler::SelectPolicy::kMin);
  ASSERT_EQ(p->scale_down.policies.size(), 1u);
  EXPECT_EQ(p->scale_down.policies[0].type, autoscaler::RatePolicyType::kPods);
  EXPECT_EQ(p->scale_down.policies[0].value, 2);
  EXPECT_EQ(p->scale_down.policies[0].period, 30);
  EXPECT_EQ(p->scale_up.select, autoscaler::SelectPolicy::kDisabled);
  EXPECT_EQ(p->scale_up.policies.size(), 2u);  // HPA defaults kept
  EXPECT_EQ(p->metrics_fallback, autoscaler::MetricsFallback::kFollowForecast);
  EXPECT_EQ(p->metric_max_age, 300);
  EXPECT_EQ(p->gpus_per_replica, 2);
  EXPECT_EQ(p->gpu_budget, 8);
}

TEST(ScalingPolicy, ExplicitHorizonFixesTheColdStart) {
  const auto spec = spec_of({{"predictive", {{"horizon", "10m"}}}});
  const auto p = to_scaling_policy(spec, 15);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->predictive.cold_start, 600 - 15);
  EXPECT_FALSE(use_measured_cold_starts(spec));
}

TEST(ScalingPolicy, SchedulesBecomeUtcWindows) {
  api::Schedule s;
  s.name = "office";
  s.cron = "30 8 * * 1-5";
  s.duration = std::chrono::hours(10);
  s.min_replicas = 4;
  auto w = schedule_windows(s, 0);
  ASSERT_TRUE(w) << w.error();
  ASSERT_EQ(w->size(), 1u);
  EXPECT_EQ((*w)[0].days_of_week, 0b0111110u);
  EXPECT_EQ((*w)[0].start_minute, 8 * 60 + 30);
  EXPECT_EQ((*w)[0].end_minute, 18 * 60 + 30);
  EXPECT_EQ((*w)[0].min_replicas, 4);

  s.cron = "0 22 * * FRI,sat";
  s.duration = std::chrono::hours(4);
  w = schedule_windows(s, 0);
  ASSERT_TRUE(w) << w.error();
  ASSERT_EQ(w->size(), 2u);
  EXPECT_EQ((*w)[0].days_of_week, (1u << 5) | (1u << 6));
  EXPECT_EQ((*w)[0].end_minute, 1440);
  EXPECT_EQ((*w)[1].days_of_week, (1u << 6) | (1u << 0));  // Saturday and Sunday mornings
  EXPECT_EQ((*w)[1].start_minute, 0);
  EXPECT_EQ((*w)[1].end_minute, 120);

  s.cron = "0 22 * * 5-7";
  w = schedule_windows(s, 0);
  ASSERT_TRUE(w);
  EXPECT_EQ((*w)[0].days_of_week, (1u << 5) | (1u << 6) | 1u);
}

TEST(ScalingPolicy, UnsupportedSchedulesAreOneLineErrors) {
  api::Schedule s;
  s.name = "x";
  s.cron = "*/5 8 * * *";
  s.duration = std::chrono::hours(1);
  auto w = schedule_windows(s, 2);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().rfind("spec.autoscaling.schedules[2].cron: ", 0), 0u) << w.error();
  s.cron = "0 8 1 * *";
  EXPECT_FALSE(schedule_windows(s, 0));
  s.cron = "0 8 * * 1";
  s.time_zone = "Europe/Paris";
  w = schedule_windows(s, 0);
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().find("timeZone"), std::string::npos);
  s.time_zone = "UTC";
  s.duration = std::chrono::hours(25);
  EXPECT_FALSE(schedule_windows(s, 0));

  // Through the whole conversion, with the field named.
  const auto spec = spec_of({{"schedules",
                              {{{"name", "n"},
                                {"cron", "0 8 * * MON-FRI"},
                                {"duration", "1h"},
                                {"timeZone", "America/New_York"}}}}});
  const auto p = to_scaling_policy(spec, 15);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().find("schedules[0].timeZone"), std::string::npos) << p.error();
}

TEST(ScalingPolicy, ForecastOptionsFromSpec) {
  const auto spec =
      spec_of({{"predictive", {{"model", "snaive-week"}, {"history", "21d"}, {"quantile", 0.95}}}});
  const auto o = forecast_options(spec);
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->model, predictor::ModelKind::kSeasonalNaiveWeek);
  EXPECT_EQ(o->quantiles, std::vector<double>{0.95});
  EXPECT_DOUBLE_EQ(o->max_history_days, 21.0);
}

// The live operator must forecast the way `simulate` measured the seasonal policy: otherwise the
// replays measure a forecast that is not the one running (docs/simulate.md lists what else
// differs, and why).
TEST(ScalingPolicy, ForecastOptionsAreTheSimulatedSeasonalPolicys) {
  const auto o = forecast_options(spec_of({{"predictive", json::object()}}));
  ASSERT_TRUE(o) << o.error();
  const sim::SeasonalSettings simulated;
  EXPECT_EQ(o->backtest_origins, simulated.backtest_origins);
  EXPECT_EQ(o->calibrate_quantiles, simulated.calibrate_quantiles);
  EXPECT_EQ(o->quantiles, std::vector<double>{simulated.quantile});
  EXPECT_EQ(o->model, predictor::ModelKind::kAuto);
  const ScalerSettings live;
  EXPECT_EQ(live.forecast_step, simulated.forecast_step);
  EXPECT_EQ(live.refit_every, simulated.refit_every);
  EXPECT_EQ(live.forecast_margin, simulated.horizon_margin);
}

}  // namespace
}  // namespace dso::scaling
