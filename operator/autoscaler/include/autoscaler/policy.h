// autoscaler/policy.h: what a user asks of the autoscaler — the operator's public scaling policy.
//
// A ScalingPolicy combines the Kubernetes HPA v2 contract that cluster admins know (metrics with
// targets, tolerance, behavior: stabilization windows and Pods/Percent rate policies, min/max)
// with the operator's additions: a predictive floor from a demand forecast, forecast-accuracy
// gating, a fallback for missing metrics, schedules, a GPU budget and opt-in scale-to-zero.
// Defaults are Kubernetes' where Kubernetes has one; the others are documented in
// docs/simulate.md ("The decision engine").
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <vector>

namespace dso::autoscaler {

// Unix seconds (a point in time) or a duration in seconds; the engine never reads a clock.
using Seconds = std::int64_t;

// How a metric's observed value relates to replicas (the two HPA v2 forms the operator uses).
enum class MetricKind {
  // A per-pod average (HPA Resource/Pods metric, AverageValue or Utilization): desired =
  // ceil(ready_replicas * value / target).
  kAverageValue,
  // A total over the workload compared with a per-pod average target (HPA External/Object metric
  // with an AverageValue target): desired = ceil(value / target).
  kTotalValue,
};

struct MetricTarget {
  std::string name;  // matches MetricSample::name
  MetricKind kind = MetricKind::kAverageValue;
  double target = 0.0;  // per pod, > 0
  // The target while the predictive floor is active (forecast present, accurate, not gated). The
  // floor already holds capacity for coming rises, so the reactive path may run hotter than the
  // HPA's usual target; unset means `target`.
  std::optional<double> predictive_target;
};

enum class RatePolicyType { kPods, kPercent };

// HPAScalingPolicy: at most `value` pods (or percent of the replicas at the start of the period)
// added or removed within any `period` seconds.
struct RatePolicy {
  RatePolicyType type = RatePolicyType::kPercent;
  int value = 100;
  Seconds period = 15;
};

// HPA selectPolicy: Max picks the policy allowing the largest change, Min the smallest; Disabled
// forbids changes in that direction.
enum class SelectPolicy { kMax, kMin, kDisabled };

// HPAScalingRules for one direction.
struct ScalingRules {
  Seconds stabilization_window = 0;
  SelectPolicy select = SelectPolicy::kMax;
  std::vector<RatePolicy> policies;
};

// Kubernetes defaults: scale up 0 s window, max of {100% per 15 s, 4 pods per 15 s}; scale down
// 300 s window, 100% per 15 s.
ScalingRules default_scale_up();
ScalingRules default_scale_down();

// What to do when the metrics cannot be trusted (missing, stale, NaN, negative).
enum class MetricsFallback {
  kHold,           // keep the current replicas
  kFollowForecast  // follow the predictive floor when a usable forecast exists, else hold
};

struct PredictivePolicy {
  bool enabled = false;
  // The forecast band the floor provisions for (must be one of the forecast's quantile levels;
  // the point forecast is used when the band is absent).
  double quantile = 0.9;
  // Pod cold start (creation -> Ready) assumed until measurements exist.
  Seconds cold_start = 300;
  // The horizon uses this percentile of the last `cold_start_samples` measured cold starts.
  double cold_start_percentile = 0.9;
  std::size_t cold_start_samples = 20;
  // The decision period: the horizon is cold start + one period (a replica requested now must
  // cover demand until the next decision's replicas can be ready).
  Seconds decision_period = 15;
  // The scale-down stabilization window while the floor is active (it replaces
  // ScalingPolicy::scale_down's window then). The floor already holds whatever the forecast expects
  // within the horizon, so holding the highest recommendation of the last 5 minutes on top of it
  // only pays for GPUs nothing will use; the HPA window applies again whenever the floor is off
  // (no forecast, gated, metrics failed).
  Seconds scale_down_window = 0;
  // The scale-up rate policies (behavior.scaleUp) never hold replicas below the floor: they damp
  // reactive noise, while the floor is planned capacity timed to be ready when needed.
  // Level correction: while demand over the last `correction_window` ran above the forecast's
  // point (sum actual / sum predicted > 1), the floor's band is scaled up by that ratio, so that a
  // level the forecast missed is carried through the horizon. 0 turns it off.
  Seconds correction_window = 900;
  // Accuracy gating: the forecast is switched off while its weighted absolute percentage error
  // (sum |actual - point| / sum actual) over the last `gate_window` exceeds `gate_max_error`,
  // and on again once it falls below gate_max_error * gate_reenable_fraction. `actual` is the
  // demand at each decision while the point forecasts a step's peak, so on quiet, noisy
  // stretches the error reads above the forecast's own (an unbiased per-step gate was measured
  // and not adopted: docs/simulate.md). The default 1.0
  // gates a forecast whose errors are as large as the demand itself (e.g. a holiday or an
  // incident the history never saw); lower values also gate merely noisy forecasts, whose bands
  // still hold useful capacity.
  double gate_max_error = 1.0;
  double gate_reenable_fraction = 0.8;
  Seconds gate_window = 3600;
  std::size_t gate_min_samples = 8;
};

// A time window (UTC) with its own replica bounds, e.g. "weekdays 08:00-20:00 at least 4".
struct ScheduleWindow {
  std::string name;
  unsigned days_of_week = 0x7f;  // bit 0 = Sunday ... bit 6 = Saturday
  int start_minute = 0;          // minute of the day, [0, 1440)
  int end_minute = 1440;         // exclusive, (start_minute, 1440]; windows do not wrap midnight
  std::optional<int> min_replicas;
  std::optional<int> max_replicas;
};

struct ScalingPolicy {
  int min_replicas = 1;
  int max_replicas = 10;
  // Only with this set may min_replicas (or a schedule's minimum) be 0.
  bool scale_to_zero = false;
  std::vector<MetricTarget> metrics;
  double tolerance = 0.1;  // HPA's default
  ScalingRules scale_up = default_scale_up();
  ScalingRules scale_down = default_scale_down();
  // Demand (e.g. requests/s) one replica serves at the target latency; unset means learned from
  // Observation::capacity_sample. Needed by the predictive floor and the current-demand floor.
  std::optional<double> capacity_per_replica;
  // Replicas never fall below ceil(current demand / capacity) when both are known.
  bool demand_floor = true;
  PredictivePolicy predictive;
  MetricsFallback metrics_fallback = MetricsFallback::kHold;
  // A metric or demand sample older than this is stale.
  Seconds metric_max_age = 180;
  std::vector<ScheduleWindow> schedules;
  int gpus_per_replica = 1;
  std::optional<int> gpu_budget;  // at most this many GPUs in total
};

// Checks the policy's invariants (min <= max, scale-to-zero only when asked, positive targets,
// quantile in (0,1), ...). Returns a one-line message naming the field on failure.
std::expected<void, std::string> validate(const ScalingPolicy& policy);

}  // namespace dso::autoscaler
