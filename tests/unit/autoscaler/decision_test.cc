// The decision engine: HPA behaviour end to end, the predictive floor, gating, missing metrics,
// schedules, the GPU budget, scale-to-zero and explanations.
#include "autoscaler/decision.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>

namespace dso::autoscaler {
namespace {

constexpr Seconds kT0 = 1'700'000'000;  // a Tuesday, 22:13:20 UTC

ScalingPolicy hpa_policy(int min = 1, int max = 100) {
  ScalingPolicy p;
  p.min_replicas = min;
  p.max_replicas = max;
  p.metrics = {{"util", MetricKind::kAverageValue, 0.7, std::nullopt}};
  p.demand_floor = false;
  return p;
}

Observation observe(int replicas, double util, Seconds at) {
  Observation o;
  o.current_replicas = replicas;
  o.ready_replicas = replicas;
  o.metrics = {{"util", util, at}};
  return o;
}

// A flat forecast from `start`, one value per minute, with a q0.9 band `spread` above it.
ForecastPtr flat_forecast(Seconds start, std::vector<double> point, double spread) {
  auto f = std::make_shared<predictor::Forecast>();
  f->start = start;
  f->step = 60;
  f->model = "test";
  f->point = point;
  f->quantile_levels = {0.9};
  std::vector<double> band = point;
  for (double& v : band) v += spread;
  f->quantiles = {band};
  return f;
}

TEST(Decide, ScalesUpByRatioAndRecordsEvent) {
  const auto r = decide(hpa_policy(), observe(4, 1.4, kT0), {}, kT0);
  EXPECT_EQ(r.decision.replicas, 8);  // ceil(4 * 1.4 / 0.7), within the 100% rate
  EXPECT_EQ(r.decision.explanation.rule, Rule::kReactive);
  ASSERT_EQ(r.state.scale_up_events.size(), 1u);
  EXPECT_EQ(r.state.scale_up_events.front().change, 4);
}

TEST(Decide, ScaleUpRateLimitedAndExplained) {
  const auto r = decide(hpa_policy(), observe(2, 7.0, kT0), {}, kT0);
  EXPECT_EQ(r.decision.explanation.recommended, 20);
  EXPECT_EQ(r.decision.replicas, 6);  // max(2 * 2, 2 + 4)
  ASSERT_FALSE(r.decision.explanation.limits.empty());
  EXPECT_EQ(r.decision.explanation.limits.back().name(), "scale-up rate");
}

TEST(Decide, ScaleDownWaitsForTheStabilizationWindow) {
  ScalerState state;
  auto r = decide(hpa_policy(), observe(10, 0.7, kT0), state, kT0);  // within tolerance
  EXPECT_EQ(r.decision.replicas, 10);
  EXPECT_EQ(r.decision.explanation.rule, Rule::kTolerance);
  state = r.state;
  // Load halves: the recommendation is 5, but the window holds 10 for 300 s.
  for (Seconds t = kT0 + 15; t < kT0 + 300; t += 15) {
    r = decide(hpa_policy(), observe(10, 0.35, t), state, t);
    state = r.state;
    EXPECT_EQ(r.decision.replicas, 10) << "at +" << t - kT0;
  }
  // At +300 s the first sample is no longer strictly inside the window (HPA's cutoff).
  r = decide(hpa_policy(), observe(10, 0.35, kT0 + 300), state, kT0 + 300);
  EXPECT_EQ(r.decision.replicas, 5);
}

TEST(Decide, MaxOverMetrics) {
  auto policy = hpa_policy();
  policy.metrics.push_back({"queue", MetricKind::kTotalValue, 10.0, std::nullopt});
  auto o = observe(4, 0.7, kT0);              // util says 4
  o.metrics.push_back({"queue", 75.0, kT0});  // queue says 8
  const auto r = decide(policy, o, {}, kT0);
  EXPECT_EQ(r.decision.replicas, 8);
  ASSERT_EQ(r.decision.explanation.metric_proposals.size(), 2u);
  EXPECT_EQ(*r.decision.explanation.metric_proposals[0].replicas, 4);
  EXPECT_EQ(*r.decision.explanation.metric_proposals[1].replicas, 8);
}

TEST(Decide, MinAndMaxBound) {
  auto r = decide(hpa_policy(2, 6), observe(4, 2.1, kT0), {}, kT0);
  EXPECT_EQ(r.decision.replicas, 6);
  EXPECT_EQ(r.decision.explanation.limits.back().name(), "max");
  EXPECT_EQ(r.decision.explanation.limits.back().kind, LimitKind::kMax);
  EXPECT_EQ(limited_reason(LimitKind::kMax), "TooManyReplicas");
  // Current above max goes to max whatever the metrics say; below min goes to min.
  r = decide(hpa_policy(2, 6), observe(9, 0.7, kT0), {}, kT0);
  EXPECT_EQ(r.decision.replicas, 6);
  EXPECT_EQ(r.decision.explanation.rule, Rule::kAboveMaximum);
  r = decide(hpa_policy(2, 6), observe(1, 0.7, kT0), {}, kT0);
  EXPECT_EQ(r.decision.replicas, 2);
  EXPECT_EQ(r.decision.explanation.rule, Rule::kBelowMinimum);
}

TEST(Decide, MissingStaleOrNaNMetricsHoldNeverScaleToMinimum) {
  const auto policy = hpa_policy(1, 100);
  auto o = observe(12, std::nan(""), kT0);
  auto r = decide(policy, o, {}, kT0);
  EXPECT_EQ(r.decision.replicas, 12);
  EXPECT_EQ(r.decision.explanation.metrics_state, MetricsState::kMissing);
  EXPECT_EQ(r.decision.explanation.rule, Rule::kHoldNoMetrics);

  o = observe(12, 0.1, kT0 - 600);  // a 10-minute-old sample
  r = decide(policy, o, {}, kT0);
  EXPECT_EQ(r.decision.replicas, 12);
  EXPECT_EQ(r.decision.explanation.metrics_state, MetricsState::kStale);

  o = observe(12, -3.0, kT0);
  r = decide(policy, o, {}, kT0);
  EXPECT_EQ(r.decision.replicas, 12);
  EXPECT_EQ(r.decision.explanation.metrics_state, MetricsState::kInvalid);

  o = observe(12, 0.1, kT0);
  o.metrics.clear();  // the query returned no series at all
  r = decide(policy, o, {}, kT0);
  EXPECT_EQ(r.decision.replicas, 12);
}

TEST(Decide, PartialMetricsMayScaleUpButNotDown) {
  auto policy = hpa_policy();
  policy.metrics.push_back({"queue", MetricKind::kTotalValue, 10.0, std::nullopt});
  auto o = observe(4, 1.4, kT0);
  o.metrics.push_back({"queue", std::nan(""), kT0});
  auto r = decide(policy, o, {}, kT0);
  EXPECT_EQ(r.decision.replicas, 8);
  EXPECT_EQ(r.decision.explanation.metrics_state, MetricsState::kPartial);
  o = observe(4, 0.2, kT0);
  o.metrics.push_back({"queue", std::nan(""), kT0});
  r = decide(policy, o, {}, kT0);
  EXPECT_EQ(r.decision.replicas, 4);
  EXPECT_EQ(r.decision.explanation.rule, Rule::kHoldNoMetrics);
}

ScalingPolicy predictive_policy() {
  auto p = hpa_policy(1, 100);
  p.capacity_per_replica = 100.0;
  p.demand_floor = true;
  p.metrics[0].predictive_target = 0.9;
  p.predictive.enabled = true;
  p.predictive.quantile = 0.9;
  p.predictive.cold_start = 300;
  p.predictive.decision_period = 15;
  return p;
}

TEST(Decide, APartialSampleMayScaleUpNeverDown) {
  // 2 of 4 pods were scraped: the average looks half as busy as it is.
  Observation low = observe(4, 0.3, kT0);
  low.metrics[0].partial = true;
  low.metrics[0].partial_note = "2 of 4 ready pods reported requests";
  const auto held = decide(hpa_policy(), low, {}, kT0);
  EXPECT_EQ(held.decision.replicas, 4);
  EXPECT_EQ(held.decision.explanation.rule, Rule::kHoldNoMetrics);
  EXPECT_EQ(held.decision.explanation.metrics_state, MetricsState::kPartial);
  EXPECT_NE(held.decision.explanation.metric_proposals[0].problem.find("2 of 4 ready pods"),
            std::string::npos);
  // The same partial value asking for more is acted on.
  Observation high = observe(4, 1.4, kT0);
  high.metrics[0].partial = true;
  high.metrics[0].partial_note = "2 of 4 ready pods reported requests";
  const auto up = decide(hpa_policy(), high, {}, kT0);
  EXPECT_EQ(up.decision.replicas, 8);
  EXPECT_EQ(up.decision.explanation.metrics_state, MetricsState::kPartial);
}

TEST(Decide, AHoldCountsForTheScaleDownWindowWhenMetricsReturn) {
  ScalingPolicy p = hpa_policy();
  p.scale_down.stabilization_window = 120;
  ScalerState state;
  // Metrics missing for three minutes: held at 6 (each hold is a recommendation of 6).
  for (Seconds t = kT0; t < kT0 + 180; t += 15) {
    state = decide(p, observe(6, std::nan(""), t), std::move(state), t).state;
  }
  // Back with a low reading: the window still has the held 6 in it.
  const auto back = decide(p, observe(6, 0.1, kT0 + 180), std::move(state), kT0 + 180);
  EXPECT_EQ(back.decision.replicas, 6) << back.decision.explanation.summary();
}

TEST(Decide, PredictiveFloorHoldsCapacityForTheRiseWithinTheHorizon) {
  // Demand 200 now; the band rises to 1000 at +5 min and 3000 at +10 min.
  std::vector<double> point(30, 200.0);
  for (int i = 5; i < 30; ++i) point[i] = 1000.0;
  for (int i = 10; i < 30; ++i) point[i] = 3000.0;
  auto o = observe(4, 200.0 / 400.0, kT0);
  o.demand = 200.0;
  o.demand_sampled_at = kT0;
  o.forecast = flat_forecast(kT0, point, 50.0);
  const auto r = decide(predictive_policy(), o, {}, kT0);
  const auto& ex = r.decision.explanation;
  // Horizon = 300 s cold start + 15 s: covers +5 min (1050 -> 11 replicas), not +10 min.
  EXPECT_EQ(ex.horizon, 315);
  EXPECT_FALSE(ex.cold_start_measured);
  ASSERT_TRUE(ex.predictive.has_value());
  EXPECT_EQ(*ex.predictive, 11);
  EXPECT_DOUBLE_EQ(ex.predicted_demand, 1050.0);
  EXPECT_EQ(ex.rule, Rule::kPredictive);
  // The floor is planned capacity: the reactive rate limit (100% per 15 s from 4) does not hold
  // it back.
  EXPECT_EQ(r.decision.replicas, 11);
  EXPECT_TRUE(ex.limits.empty());
  // The reactive path ran at the predictive target (0.9): ceil(4 * 0.5 / 0.9) = 3.
  EXPECT_DOUBLE_EQ(ex.metric_proposals[0].target, 0.9);
  EXPECT_NE(ex.summary().find("predictive 11"), std::string::npos);
}

TEST(Decide, MeasuredColdStartSetsTheHorizon) {
  std::vector<double> point(30, 200.0);
  for (int i = 10; i < 30; ++i) point[i] = 3000.0;
  auto o = observe(4, 0.5, kT0);
  o.demand = 200.0;
  o.demand_sampled_at = kT0;
  o.forecast = flat_forecast(kT0, point, 0.0);
  o.cold_starts = {500, 560, 610, 590, 620, 580, 600, 570, 555, 600};
  const auto r = decide(predictive_policy(), o, {}, kT0);
  // p90 of the samples is 610 s: the horizon reaches +625 s, past the rise at +600 s.
  EXPECT_TRUE(r.decision.explanation.cold_start_measured);
  EXPECT_EQ(r.decision.explanation.cold_start_estimate, 610);
  EXPECT_EQ(*r.decision.explanation.predictive, 30);
  EXPECT_EQ(r.state.cold_starts.size(), 10u);
}

TEST(Decide, CapacityIsLearnedFromObservedThroughputWhenNotConfigured) {
  auto policy = predictive_policy();
  policy.capacity_per_replica.reset();
  auto o = observe(4, 0.5, kT0);
  o.demand = 200.0;
  o.demand_sampled_at = kT0;
  o.forecast = flat_forecast(kT0, std::vector<double>(30, 1000.0), 0.0);
  auto r = decide(policy, o, {}, kT0);
  EXPECT_FALSE(r.decision.explanation.predictive.has_value());
  EXPECT_EQ(r.decision.explanation.forecast_note, "capacity per replica unknown");
  o.capacity_sample = 125.0;  // one replica served 125/s at the target latency
  r = decide(policy, o, r.state, kT0 + 15);
  ASSERT_TRUE(r.decision.explanation.capacity.has_value());
  EXPECT_DOUBLE_EQ(*r.decision.explanation.capacity, 125.0);
  EXPECT_EQ(*r.decision.explanation.predictive, 8);  // ceil(1000 / 125)
  // Later samples move the estimate gradually (exponential average).
  o.capacity_sample = 225.0;
  r = decide(policy, o, r.state, kT0 + 30);
  EXPECT_DOUBLE_EQ(*r.decision.explanation.capacity, 135.0);
}

TEST(Decide, NeverBelowCurrentDemandEvenWhenTheForecastIsLow) {
  auto o = observe(10, 0.1, kT0);  // util is low (a stale-looking gauge) but demand is 950
  o.demand = 950.0;
  o.demand_sampled_at = kT0;
  o.forecast = flat_forecast(kT0, std::vector<double>(30, 100.0), 0.0);
  ScalerState state;
  auto policy = predictive_policy();
  policy.scale_down.stabilization_window = 0;
  policy.predictive.correction_window = 0;  // isolate the demand floor
  const auto r = decide(policy, o, state, kT0);
  EXPECT_EQ(r.decision.replicas, 10);
  EXPECT_EQ(r.decision.explanation.rule, Rule::kCurrentDemand);
}

TEST(Decide, TheDemandFloorKeepsTheReactiveToleranceSoTheyDoNotFlap) {
  // Seen live: demand 64 req/s at 12 per replica is 5.35 replicas. The reactive rule keeps 5
  // (within its 10% tolerance) while the floor asked for 6: the two alternated every period, each
  // time starting and killing a pod. The floor holds the current count within the same tolerance.
  auto policy = predictive_policy();
  policy.capacity_per_replica = 12.0;
  policy.predictive.correction_window = 0;
  auto o = observe(5, 0.945, kT0);  // 5% over the predictive target: within tolerance
  o.demand = 64.2;
  o.demand_sampled_at = kT0;
  o.forecast = flat_forecast(kT0, std::vector<double>(30, 50.0), 0.0);
  const auto within = decide(policy, o, {}, kT0);
  EXPECT_EQ(within.decision.replicas, 5);
  EXPECT_EQ(*within.decision.explanation.demand_replicas, 5);
  // Beyond the tolerance the floor asks for the full ceil again.
  o.demand = 67.0;
  const auto beyond = decide(policy, o, {}, kT0);
  EXPECT_EQ(beyond.decision.replicas, 6);
  EXPECT_EQ(beyond.decision.explanation.rule, Rule::kCurrentDemand);
}

TEST(Decide, LevelTheForecastMissedIsCarriedThroughTheHorizon) {
  // The forecast expects 400 now rising to 800 in 4 minutes; demand has run at 600 for 10 min.
  std::vector<double> point(30, 400.0);
  for (int i = 4; i < 30; ++i) point[i] = 800.0;
  const auto forecast = flat_forecast(kT0, point, 0.0);
  ScalerState state;
  DecisionResult r;
  for (Seconds t = kT0; t <= kT0 + 180; t += 15) {
    auto o = observe(8, 600.0 / 800.0, t);
    o.demand = 600.0;
    o.demand_sampled_at = t;
    o.forecast = forecast;
    r = decide(predictive_policy(), o, state, t);
    state = r.state;
  }
  const auto& ex = r.decision.explanation;
  EXPECT_DOUBLE_EQ(ex.level_correction, 1.5);
  EXPECT_DOUBLE_EQ(ex.predicted_demand, 1200.0);  // 800 x 1.5
  EXPECT_EQ(*ex.predictive, 12);
  // Without the correction the floor is the forecast's own 800.
  auto plain = predictive_policy();
  plain.predictive.correction_window = 0;
  state = {};
  for (Seconds t = kT0; t <= kT0 + 180; t += 15) {
    auto o = observe(8, 600.0 / 800.0, t);
    o.demand = 600.0;
    o.demand_sampled_at = t;
    o.forecast = forecast;
    r = decide(plain, o, state, t);
    state = r.state;
  }
  EXPECT_EQ(*r.decision.explanation.predictive, 8);
}

TEST(Decide, ScaleDownFollowsTheFloorAtOnceButWaitsWhenTheForecastIsOff) {
  auto policy = predictive_policy();  // predictive scale-down window 0 s, HPA's 300 s otherwise
  ScalerState state;
  auto o = observe(10, 0.9, kT0);  // 10 replicas busy: demand 900
  o.demand = 900.0;
  o.demand_sampled_at = kT0;
  o.forecast = flat_forecast(kT0, std::vector<double>(40, 900.0), 0.0);
  auto r = decide(policy, o, state, kT0);
  EXPECT_EQ(r.decision.replicas, 10);
  state = r.state;
  // Demand falls to 300 and the forecast agrees: the floor lets go at once.
  auto low = observe(10, 0.3, kT0 + 15);
  low.demand = 300.0;
  low.demand_sampled_at = kT0 + 15;
  low.forecast = flat_forecast(kT0 + 15, std::vector<double>(40, 300.0), 0.0);
  r = decide(policy, low, state, kT0 + 15);
  EXPECT_EQ(r.decision.replicas, 4);  // max(reactive ceil(10 x 0.3 / 0.9), floor 3, demand 3)
  // Without a forecast the same drop waits for the HPA window.
  low.forecast = nullptr;
  r = decide(policy, low, state, kT0 + 15);
  EXPECT_EQ(r.decision.replicas, 10);
  EXPECT_EQ(r.decision.explanation.limits.front().name(), "scale-down stabilization 300s");
  EXPECT_TRUE(r.decision.explanation.limits.front().is_stabilization());
  EXPECT_EQ(limited_reason(r.decision.explanation.limits.front().kind), "");
}

TEST(Decide, InaccurateForecastIsGatedAndReactiveTakesOver) {
  auto policy = predictive_policy();
  // The forecast says 5000 but demand stays at 300: error ~15.
  const auto forecast = flat_forecast(kT0, std::vector<double>(200, 5000.0), 0.0);
  ScalerState state;
  DecisionResult r;
  for (int k = 0; k < 12; ++k) {
    const Seconds t = kT0 + 15 * k;
    auto o = observe(4, 300.0 / 400.0, t);
    o.demand = 300.0;
    o.demand_sampled_at = t;
    o.forecast = forecast;
    r = decide(policy, o, state, t);
    state = r.state;
  }
  const auto& ex = r.decision.explanation;
  EXPECT_TRUE(ex.forecast_gated);
  EXPECT_FALSE(ex.predictive.has_value());
  EXPECT_NE(ex.forecast_note.find("gated"), std::string::npos);
  EXPECT_GT(ex.forecast_error, 10.0);
  EXPECT_DOUBLE_EQ(ex.metric_proposals[0].target, 0.7);  // back to the plain target
}

TEST(Decide, GateReopensWhenTheForecastRecovers) {
  auto policy = predictive_policy();
  policy.predictive.gate_window = 300;
  ScalerState state;
  DecisionResult r;
  auto bad = flat_forecast(kT0, std::vector<double>(200, 5000.0), 0.0);
  auto good = flat_forecast(kT0, std::vector<double>(200, 300.0), 0.0);
  for (int k = 0; k < 80; ++k) {
    const Seconds t = kT0 + 15 * k;
    auto o = observe(4, 0.75, t);
    o.demand = 300.0;
    o.demand_sampled_at = t;
    o.forecast = k < 20 ? bad : good;
    r = decide(policy, o, state, t);
    state = r.state;
    if (k == 19) {
      EXPECT_TRUE(r.decision.explanation.forecast_gated);
    }
  }
  EXPECT_FALSE(r.decision.explanation.forecast_gated);
  EXPECT_TRUE(r.decision.explanation.predictive.has_value());
}

TEST(Decide, MissingMetricsFollowForecastWhenAsked) {
  auto policy = predictive_policy();
  policy.metrics_fallback = MetricsFallback::kFollowForecast;
  policy.scale_down.stabilization_window = 0;
  auto o = observe(10, std::nan(""), kT0);
  o.forecast = flat_forecast(kT0, std::vector<double>(30, 390.0), 0.0);
  auto r = decide(policy, o, {}, kT0);
  EXPECT_EQ(r.decision.replicas, 4);
  EXPECT_EQ(r.decision.explanation.rule, Rule::kFollowForecast);
  // Without a forecast it holds.
  o.forecast = nullptr;
  r = decide(policy, o, {}, kT0);
  EXPECT_EQ(r.decision.replicas, 10);
  EXPECT_EQ(r.decision.explanation.rule, Rule::kHoldNoMetrics);
}

TEST(Decide, ForecastThatEndedBeforeNowIsNotUsed) {
  auto o = observe(4, 0.7, kT0);
  o.demand = 280.0;
  o.demand_sampled_at = kT0;
  o.forecast = flat_forecast(kT0 - 3600, std::vector<double>(30, 5000.0), 0.0);
  const auto r = decide(predictive_policy(), o, {}, kT0);
  EXPECT_FALSE(r.decision.explanation.predictive.has_value());
  EXPECT_EQ(r.decision.explanation.forecast_note, "forecast does not cover now");
  EXPECT_EQ(r.decision.replicas, 4);
}

TEST(Decide, ScheduleWindowsBringTheirOwnBounds) {
  auto policy = hpa_policy(1, 100);
  // kT0 is a Tuesday 22:13 UTC.
  policy.schedules = {{"evening", 1u << 2, 22 * 60, 23 * 60, 6, 8}};
  auto r = decide(policy, observe(2, 0.7, kT0), {}, kT0);
  EXPECT_EQ(r.decision.replicas, 6);
  EXPECT_EQ(r.decision.explanation.limits.back().name(), "schedule evening min");
  EXPECT_EQ(limited_reason(r.decision.explanation.limits.back().kind), "TooFewReplicas");
  r = decide(policy, observe(7, 2.0, kT0), {}, kT0);
  EXPECT_EQ(r.decision.replicas, 8);
  EXPECT_EQ(r.decision.explanation.limits.back().name(), "schedule evening max");
  // An hour later the window is over.
  r = decide(policy, observe(2, 0.7, kT0 + 3600), {}, kT0 + 3600);
  EXPECT_EQ(r.decision.replicas, 2);
}

TEST(Decide, GpuBudgetCapsReplicas) {
  auto policy = hpa_policy(1, 100);
  policy.gpus_per_replica = 2;
  policy.gpu_budget = 10;
  const auto r = decide(policy, observe(4, 1.4, kT0), {}, kT0);
  EXPECT_EQ(r.decision.replicas, 5);
  EXPECT_EQ(r.decision.explanation.limits.back().name(), "gpu budget");
}

TEST(Decide, ScaleToZeroOnlyWhenAsked) {
  auto policy = hpa_policy(0, 10);
  EXPECT_FALSE(validate(policy).has_value());
  EXPECT_NE(validate(policy).error().find("scaleToZero"), std::string::npos);
  EXPECT_THROW(decide(policy, observe(1, 0.0, kT0), {}, kT0), std::invalid_argument);

  policy.scale_to_zero = true;
  policy.scale_down.stabilization_window = 0;
  policy.capacity_per_replica = 100.0;
  policy.demand_floor = true;
  auto o = observe(1, 0.0, kT0);
  o.demand = 0.0;
  o.demand_sampled_at = kT0;
  auto r = decide(policy, o, {}, kT0);
  EXPECT_EQ(r.decision.replicas, 0);
  // From zero, demand starts a replica (no pod reports the average metric).
  o = observe(0, 0.0, kT0 + 15);
  o.ready_replicas = 0;
  o.demand = 150.0;
  o.demand_sampled_at = kT0 + 15;
  r = decide(policy, o, r.state, kT0 + 15);
  EXPECT_EQ(r.decision.replicas, 2);
  // With the default policy (min 1) an idle workload stays at 1.
  auto keep = hpa_policy(1, 10);
  keep.scale_down.stabilization_window = 0;
  r = decide(keep, observe(3, 0.0, kT0), {}, kT0);
  EXPECT_EQ(r.decision.replicas, 1);
}

TEST(Validate, RejectsNonsense) {
  auto p = hpa_policy(5, 2);
  EXPECT_NE(validate(p).error().find("minReplicas 5 > maxReplicas 2"), std::string::npos);
  p = hpa_policy();
  p.metrics[0].target = 0;
  EXPECT_FALSE(validate(p).has_value());
  p = hpa_policy();
  p.predictive.quantile = 1.5;
  EXPECT_FALSE(validate(p).has_value());
  p = hpa_policy();
  p.schedules = {{"bad", 0x7f, 600, 300, std::nullopt, std::nullopt}};
  EXPECT_FALSE(validate(p).has_value());
  EXPECT_TRUE(validate(hpa_policy()).has_value());
}

TEST(Decide, IsDeterministic) {
  auto o = observe(4, 1.1, kT0);
  o.demand = 440;
  o.demand_sampled_at = kT0;
  o.forecast = flat_forecast(kT0, std::vector<double>(30, 700.0), 30.0);
  const auto a = decide(predictive_policy(), o, {}, kT0);
  const auto b = decide(predictive_policy(), o, {}, kT0);
  EXPECT_EQ(a.decision.replicas, b.decision.replicas);
  EXPECT_EQ(a.decision.explanation.summary(), b.decision.explanation.summary());
}

}  // namespace
}  // namespace dso::autoscaler
