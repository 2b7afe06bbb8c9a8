// Policy defaults and validation (see policy.h).
#include "autoscaler/policy.h"

#include <cmath>

#include "text.h"

namespace dso::autoscaler {

ScalingRules default_scale_up() {
  return ScalingRules{
      .stabilization_window = 0,
      .select = SelectPolicy::kMax,
      .policies = {{RatePolicyType::kPercent, 100, 15}, {RatePolicyType::kPods, 4, 15}}};
}

ScalingRules default_scale_down() {
  return ScalingRules{.stabilization_window = 300,
                      .select = SelectPolicy::kMax,
                      .policies = {{RatePolicyType::kPercent, 100, 15}}};
}

namespace {

std::expected<void, std::string> fail(std::string message) {
  return std::unexpected("scaling policy: " + std::move(message));
}

std::expected<void, std::string> validate_rules(const ScalingRules& rules, const char* which) {
  if (rules.stabilization_window < 0 || rules.stabilization_window > 3600) {
    return fail(strprintf("%s.stabilizationWindowSeconds %lld is outside [0, 3600]", which,
                          static_cast<long long>(rules.stabilization_window)));
  }
  for (const auto& p : rules.policies) {
    if (p.value <= 0) return fail(strprintf("%s.policies value %d must be > 0", which, p.value));
    if (p.period <= 0 || p.period > 1800) {
      return fail(strprintf("%s.policies periodSeconds %lld is outside (0, 1800]", which,
                            static_cast<long long>(p.period)));
    }
  }
  if (rules.policies.empty() && rules.select != SelectPolicy::kDisabled) {
    return fail(
        strprintf("%s.policies is empty (use selectPolicy Disabled to forbid changes)", which));
  }
  return {};
}

}  // namespace

std::expected<void, std::string> validate(const ScalingPolicy& policy) {
  if (policy.min_replicas < 0) return fail(strprintf("minReplicas %d < 0", policy.min_replicas));
  if (policy.min_replicas == 0 && !policy.scale_to_zero) {
    return fail("minReplicas 0 needs scaleToZero: true");
  }
  if (policy.max_replicas < 1) return fail(strprintf("maxReplicas %d < 1", policy.max_replicas));
  if (policy.min_replicas > policy.max_replicas) {
    return fail(
        strprintf("minReplicas %d > maxReplicas %d", policy.min_replicas, policy.max_replicas));
  }
  if (!(policy.tolerance >= 0.0 && policy.tolerance < 1.0)) {
    return fail(strprintf("tolerance %g is outside [0, 1)", policy.tolerance));
  }
  for (const auto& m : policy.metrics) {
    if (m.name.empty()) return fail("a metric has no name");
    if (!(m.target > 0.0) || !std::isfinite(m.target)) {
      return fail(strprintf("metric %s: target %g must be > 0", m.name.c_str(), m.target));
    }
    if (m.predictive_target &&
        (!(*m.predictive_target > 0.0) || !std::isfinite(*m.predictive_target))) {
      return fail(strprintf("metric %s: predictive target %g must be > 0", m.name.c_str(),
                            *m.predictive_target));
    }
  }
  if (auto r = validate_rules(policy.scale_up, "behavior.scaleUp"); !r) return r;
  if (auto r = validate_rules(policy.scale_down, "behavior.scaleDown"); !r) return r;
  if (policy.capacity_per_replica &&
      (!(*policy.capacity_per_replica > 0.0) || !std::isfinite(*policy.capacity_per_replica))) {
    return fail(strprintf("capacity per replica %g must be > 0", *policy.capacity_per_replica));
  }
  const auto& p = policy.predictive;
  if (!(p.quantile > 0.0 && p.quantile < 1.0)) {
    return fail(strprintf("predictive.quantile %g is outside (0, 1)", p.quantile));
  }
  if (p.cold_start < 0)
    return fail(strprintf("predictive.coldStart %llds < 0", static_cast<long long>(p.cold_start)));
  if (!(p.cold_start_percentile > 0.0 && p.cold_start_percentile <= 1.0)) {
    return fail(
        strprintf("predictive.coldStartPercentile %g is outside (0, 1]", p.cold_start_percentile));
  }
  if (p.cold_start_samples == 0) return fail("predictive.coldStartSamples must be >= 1");
  if (p.decision_period <= 0) {
    return fail(strprintf("predictive.decisionPeriod %llds must be > 0",
                          static_cast<long long>(p.decision_period)));
  }
  if (!(p.gate_max_error > 0.0)) {
    return fail(strprintf("predictive.gateMaxError %g must be > 0", p.gate_max_error));
  }
  if (!(p.gate_reenable_fraction > 0.0 && p.gate_reenable_fraction <= 1.0)) {
    return fail(strprintf("predictive.gateReenableFraction %g is outside (0, 1]",
                          p.gate_reenable_fraction));
  }
  if (p.scale_down_window < 0 || p.scale_down_window > 3600) {
    return fail(strprintf("predictive.scaleDownWindow %llds is outside [0, 3600]",
                          static_cast<long long>(p.scale_down_window)));
  }
  if (p.correction_window < 0) {
    return fail(strprintf("predictive.correctionWindow %llds < 0",
                          static_cast<long long>(p.correction_window)));
  }
  if (p.gate_window <= 0)
    return fail(strprintf("predictive.gateWindow %llds must be > 0",
                          static_cast<long long>(p.gate_window)));
  if (policy.metric_max_age <= 0) {
    return fail(
        strprintf("metricMaxAge %llds must be > 0", static_cast<long long>(policy.metric_max_age)));
  }
  for (const auto& s : policy.schedules) {
    if (s.start_minute < 0 || s.start_minute >= 1440 || s.end_minute <= s.start_minute ||
        s.end_minute > 1440) {
      return fail(strprintf("schedule %s: minutes [%d, %d) are not a window within one day",
                            s.name.c_str(), s.start_minute, s.end_minute));
    }
    if ((s.days_of_week & 0x7f) == 0)
      return fail(strprintf("schedule %s: no days", s.name.c_str()));
    if (s.min_replicas &&
        (*s.min_replicas < 0 || (*s.min_replicas == 0 && !policy.scale_to_zero))) {
      return fail(strprintf("schedule %s: minReplicas %d needs scaleToZero", s.name.c_str(),
                            *s.min_replicas));
    }
    if (s.max_replicas && *s.max_replicas < 1) {
      return fail(strprintf("schedule %s: maxReplicas %d < 1", s.name.c_str(), *s.max_replicas));
    }
    if (s.min_replicas && s.max_replicas && *s.min_replicas > *s.max_replicas) {
      return fail(strprintf("schedule %s: minReplicas %d > maxReplicas %d", s.name.c_str(),
                            *s.min_replicas, *s.max_replicas));
    }
  }
  if (policy.gpus_per_replica < 1) {
    return fail(strprintf("gpusPerReplica %d < 1", policy.gpus_per_replica));
  }
  if (policy.gpu_budget && *policy.gpu_budget < 0) {
    return fail(strprintf("gpuBudget %d < 0", *policy.gpu_budget));
  }
  return {};
}

}  // namespace dso::autoscaler
