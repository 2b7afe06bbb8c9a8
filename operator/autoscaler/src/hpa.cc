// The HPA v2 rules (see hpa.h); comments name the Kubernetes function each mirrors.
#include "autoscaler/hpa.h"

#include <algorithm>
#include <climits>
#include <cmath>

namespace dso::autoscaler::hpa {

int replicas_for_metric(MetricKind kind, double value, double target, int current_replicas,
                        int ready_replicas, double tolerance, double* ratio_out) {
  double ratio = 0.0;
  int replicas = current_replicas;
  if (kind == MetricKind::kAverageValue) {
    // GetResourceReplicas / GetMetricReplicas: usage ratio over the pods that report metrics.
    ratio = value / target;
    if (std::abs(1.0 - ratio) > tolerance) {
      replicas = static_cast<int>(std::ceil(ratio * static_cast<double>(ready_replicas)));
    }
  } else {
    // GetExternalPerPodMetricReplicas: total usage against the per-pod target.
    ratio = current_replicas > 0 ? value / (target * static_cast<double>(current_replicas))
                                 : (value > 0 ? INFINITY : 1.0);
    if (std::abs(1.0 - ratio) > tolerance) {
      replicas = static_cast<int>(std::ceil(value / target));
    }
  }
  if (ratio_out != nullptr) *ratio_out = ratio;
  return replicas;
}

int stabilize(const std::deque<ScalerState::Recommendation>& history, int current, int desired,
              Seconds up_window, Seconds down_window, Seconds now) {
  // stabilizeRecommendationWithBehaviors: samples strictly after the cutoffs count.
  int up = desired;
  int down = desired;
  const Seconds up_cutoff = now - up_window;
  const Seconds down_cutoff = now - down_window;
  for (const auto& rec : history) {
    if (rec.at > up_cutoff) up = std::min(up, rec.replicas);
    if (rec.at > down_cutoff) down = std::max(down, rec.replicas);
  }
  int recommendation = current;
  if (recommendation < up) recommendation = up;
  if (recommendation > down) recommendation = down;
  return recommendation;
}

int change_in_period(const std::deque<ScalerState::ScaleEvent>& events, Seconds period,
                     Seconds now) {
  // getReplicasChangePerPeriod
  int change = 0;
  for (const auto& event : events) {
    if (event.at > now - period) change += event.change;
  }
  return change;
}

int scale_up_limit(int current, const ScalerState& state, const ScalingRules& rules, Seconds now) {
  // calculateScaleUpLimitWithScalingRules
  if (rules.select == SelectPolicy::kDisabled) return current;
  const bool pick_min = rules.select == SelectPolicy::kMin;
  long long result = pick_min ? LLONG_MAX : LLONG_MIN;
  for (const auto& policy : rules.policies) {
    const int added = change_in_period(state.scale_up_events, policy.period, now);
    const int deleted = change_in_period(state.scale_down_events, policy.period, now);
    const long long period_start = static_cast<long long>(current) - added + deleted;
    long long proposed = 0;
    if (policy.type == RatePolicyType::kPods) {
      proposed = period_start + policy.value;
    } else {
      proposed = static_cast<long long>(
          std::ceil(static_cast<double>(period_start) * (1.0 + policy.value / 100.0)));
    }
    result = pick_min ? std::min(result, proposed) : std::max(result, proposed);
  }
  if (rules.policies.empty()) return INT_MAX;
  // convertDesiredReplicasWithBehaviorRate: never below current while events age out.
  return static_cast<int>(std::clamp<long long>(result, current, INT_MAX));
}

int scale_down_limit(int current, const ScalerState& state, const ScalingRules& rules,
                     Seconds now) {
  // calculateScaleDownLimitWithBehaviors
  if (rules.select == SelectPolicy::kDisabled) return current;
  const bool pick_min_change = rules.select == SelectPolicy::kMin;
  long long result = pick_min_change ? LLONG_MIN : LLONG_MAX;
  for (const auto& policy : rules.policies) {
    const int added = change_in_period(state.scale_up_events, policy.period, now);
    const int deleted = change_in_period(state.scale_down_events, policy.period, now);
    const long long period_start = static_cast<long long>(current) - added + deleted;
    long long proposed = 0;
    if (policy.type == RatePolicyType::kPods) {
      proposed = period_start - policy.value;
    } else {
      // Go truncates the float towards zero: int32(float64(start) * (1 - value/100)).
      proposed = static_cast<long long>(
          std::trunc(static_cast<double>(period_start) * (1.0 - policy.value / 100.0)));
    }
    result = pick_min_change ? std::max(result, proposed) : std::min(result, proposed);
  }
  if (rules.policies.empty()) return 0;
  // convertDesiredReplicasWithBehaviorRate: never above current.
  return static_cast<int>(std::clamp<long long>(result, INT_MIN, current));
}

}  // namespace dso::autoscaler::hpa
