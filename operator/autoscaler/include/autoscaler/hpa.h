// autoscaler/hpa.h: the Kubernetes HorizontalPodAutoscaler v2 rules, as pure functions.
//
// These follow pkg/controller/podautoscaler (replica_calculator.go, horizontal.go) so that a
// policy behaves the way cluster admins expect: the usage-ratio formula with tolerance, the
// stabilization windows (strictly newer than now - window), and the Pods/Percent rate policies
// measured from the replicas at the start of each policy's period. decide() composes them; they
// are public so that tests can pin each rule on its own.
#pragma once

#include <deque>

#include "autoscaler/decision.h"
#include "autoscaler/policy.h"

namespace dso::autoscaler::hpa {

// The replicas one metric asks for. kAverageValue: ratio = value / target, replicas =
// ceil(ratio * ready_replicas); kTotalValue: ratio = value / (target * current_replicas),
// replicas = ceil(value / target). Within tolerance (|1 - ratio| <= tolerance) the answer is
// current_replicas. Returns the ratio through `ratio_out` when non-null.
int replicas_for_metric(MetricKind kind, double value, double target, int current_replicas,
                        int ready_replicas, double tolerance, double* ratio_out = nullptr);

// Stabilization: the recommendation is kept within [min of recommendations newer than
// now - up_window, max of recommendations newer than now - down_window], both windows including
// `desired` itself, starting from `current`. Does not record `desired` (see record()).
int stabilize(const std::deque<ScalerState::Recommendation>& history, int current, int desired,
              Seconds up_window, Seconds down_window, Seconds now);

// Replicas added (or removed) by the events newer than now - period.
int change_in_period(const std::deque<ScalerState::ScaleEvent>& events, Seconds period,
                     Seconds now);

// The most replicas the scale-up rules allow from `current` (current itself when Disabled).
int scale_up_limit(int current, const ScalerState& state, const ScalingRules& rules, Seconds now);
// The fewest replicas the scale-down rules allow from `current` (current itself when Disabled).
int scale_down_limit(int current, const ScalerState& state, const ScalingRules& rules, Seconds now);

}  // namespace dso::autoscaler::hpa
