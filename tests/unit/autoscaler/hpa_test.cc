// Pins the HPA v2 rules against the documented Kubernetes semantics
// (kubernetes.io "Horizontal Pod Autoscaling", pkg/controller/podautoscaler).
#include "autoscaler/hpa.h"

#include <gtest/gtest.h>

namespace dso::autoscaler {
namespace {

using hpa::replicas_for_metric;

TEST(HpaFormula, DesiredIsCeilOfCurrentTimesRatio) {
  // The documented example: 200m current, 100m target -> double the replicas.
  EXPECT_EQ(replicas_for_metric(MetricKind::kAverageValue, 200, 100, 3, 3, 0.1), 6);
  // 50m against 100m halves them.
  EXPECT_EQ(replicas_for_metric(MetricKind::kAverageValue, 50, 100, 4, 4, 0.1), 2);
  // ceil: 3 * 1.5 = 4.5 -> 5.
  EXPECT_EQ(replicas_for_metric(MetricKind::kAverageValue, 150, 100, 3, 3, 0.1), 5);
}

TEST(HpaFormula, ToleranceKeepsCurrentReplicas) {
  // |1 - ratio| <= 0.1 keeps the current count, even when ceil would change it.
  EXPECT_EQ(replicas_for_metric(MetricKind::kAverageValue, 109, 100, 10, 10, 0.1), 10);
  EXPECT_EQ(replicas_for_metric(MetricKind::kAverageValue, 91, 100, 10, 10, 0.1), 10);
  EXPECT_EQ(replicas_for_metric(MetricKind::kAverageValue, 111, 100, 10, 10, 0.1), 12);
  EXPECT_EQ(replicas_for_metric(MetricKind::kAverageValue, 89, 100, 10, 10, 0.1), 9);
}

TEST(HpaFormula, AverageUsesPodsThatReportAndTotalUsesTarget) {
  // Average over the 2 ready pods of 5: ceil(2 * 2) = 4.
  EXPECT_EQ(replicas_for_metric(MetricKind::kAverageValue, 200, 100, 5, 2, 0.1), 4);
  // External AverageValue: ceil(total / target) regardless of pods; ratio vs current.
  double ratio = 0;
  EXPECT_EQ(replicas_for_metric(MetricKind::kTotalValue, 500, 100, 3, 3, 0.1, &ratio), 5);
  EXPECT_NEAR(ratio, 500.0 / 300.0, 1e-12);
  EXPECT_EQ(replicas_for_metric(MetricKind::kTotalValue, 305, 100, 3, 3, 0.1), 3);
}

TEST(HpaStabilization, ScaleDownTakesMaxOfWindowScaleUpMinOfWindow) {
  std::deque<ScalerState::Recommendation> history{{0, 10}, {100, 7}, {200, 4}};
  // Down window 300 s at t=250: max(10, 7, 4, desired 3) = 10 caps the drop.
  EXPECT_EQ(hpa::stabilize(history, 10, 3, 0, 300, 250), 10);
  // At t=300 the t=0 sample is not strictly after the cutoff: max(7, 4, 3) = 7.
  EXPECT_EQ(hpa::stabilize(history, 10, 3, 0, 300, 300), 7);
  // Up window 120 s at t=250: min(4 (t=200), 7 (t=100 > 130? no)) -> only 4 and desired 12.
  EXPECT_EQ(hpa::stabilize(history, 4, 12, 120, 300, 250), 4);
  // With no window a rise goes through at once.
  EXPECT_EQ(hpa::stabilize(history, 4, 12, 0, 300, 250), 12);
}

ScalerState with_events(std::deque<ScalerState::ScaleEvent> up,
                        std::deque<ScalerState::ScaleEvent> down) {
  ScalerState s;
  s.scale_up_events = std::move(up);
  s.scale_down_events = std::move(down);
  return s;
}

TEST(HpaRates, DefaultScaleUpIsMaxOfDoubleAndFourPods) {
  const auto rules = default_scale_up();
  EXPECT_EQ(hpa::scale_up_limit(1, {}, rules, 0), 5);    // +4 pods beats 100%
  EXPECT_EQ(hpa::scale_up_limit(10, {}, rules, 0), 20);  // 100% beats +4
  // An earlier scale-up in the same 15 s period counts against it: 10 -> 20 at t=0, at t=10 the
  // period started at 10 replicas, so the limit stays 20.
  EXPECT_EQ(hpa::scale_up_limit(20, with_events({{0, 10}}, {}), rules, 10), 20);
  // At t=15 the event is no longer strictly inside the period.
  EXPECT_EQ(hpa::scale_up_limit(20, with_events({{0, 10}}, {}), rules, 15), 40);
}

TEST(HpaRates, SelectPolicyMinAndDisabled) {
  auto rules = default_scale_up();
  rules.select = SelectPolicy::kMin;
  EXPECT_EQ(hpa::scale_up_limit(10, {}, rules, 0), 14);  // min(20, 14)
  rules.select = SelectPolicy::kDisabled;
  EXPECT_EQ(hpa::scale_up_limit(10, {}, rules, 0), 10);
}

TEST(HpaRates, ScaleDownPodsPolicyPerPeriod) {
  ScalingRules rules{.stabilization_window = 0,
                     .select = SelectPolicy::kMax,
                     .policies = {{RatePolicyType::kPods, 1, 60}}};
  EXPECT_EQ(hpa::scale_down_limit(10, {}, rules, 0), 9);
  // 10 -> 9 at t=0; within the 60 s period nothing more may go.
  EXPECT_EQ(hpa::scale_down_limit(9, with_events({}, {{0, 1}}), rules, 30), 9);
  EXPECT_EQ(hpa::scale_down_limit(9, with_events({}, {{0, 1}}), rules, 60), 8);
  // Percent truncates: 10% of 15 from 15 -> int(13.5) = 13.
  ScalingRules percent{.stabilization_window = 0,
                       .select = SelectPolicy::kMax,
                       .policies = {{RatePolicyType::kPercent, 10, 60}}};
  EXPECT_EQ(hpa::scale_down_limit(15, {}, percent, 0), 13);
  // Max picks the policy allowing the biggest drop, Min the smallest.
  percent.policies.push_back({RatePolicyType::kPods, 4, 60});
  EXPECT_EQ(hpa::scale_down_limit(15, {}, percent, 0), 11);
  percent.select = SelectPolicy::kMin;
  EXPECT_EQ(hpa::scale_down_limit(15, {}, percent, 0), 13);
  percent.select = SelectPolicy::kDisabled;
  EXPECT_EQ(hpa::scale_down_limit(15, {}, percent, 0), 15);
}

TEST(HpaRates, PercentScaleUpRoundsUp) {
  ScalingRules rules{.stabilization_window = 0,
                     .select = SelectPolicy::kMax,
                     .policies = {{RatePolicyType::kPercent, 10, 60}}};
  EXPECT_EQ(hpa::scale_up_limit(3, {}, rules, 0), 4);  // ceil(3.3)
}

}  // namespace
}  // namespace dso::autoscaler
