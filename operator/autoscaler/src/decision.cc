// The scaling decision (see decision.h): reactive HPA path + predictive floor + limits.
#include "autoscaler/decision.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <stdexcept>

#include "autoscaler/hpa.h"
#include "text.h"

namespace dso::autoscaler {

std::string_view to_string(Rule rule) {
  switch (rule) {
    case Rule::kReactive:
      return "reactive";
    case Rule::kPredictive:
      return "predictive";
    case Rule::kCurrentDemand:
      return "current-demand";
    case Rule::kTolerance:
      return "within-tolerance";
    case Rule::kHoldNoMetrics:
      return "hold-no-metrics";
    case Rule::kFollowForecast:
      return "follow-forecast-no-metrics";
    case Rule::kBelowMinimum:
      return "below-minimum";
    case Rule::kAboveMaximum:
      return "above-maximum";
  }
  return "unknown";
}

std::string_view to_string(MetricsState state) {
  switch (state) {
    case MetricsState::kOk:
      return "ok";
    case MetricsState::kPartial:
      return "partial";
    case MetricsState::kMissing:
      return "missing";
    case MetricsState::kStale:
      return "stale";
    case MetricsState::kInvalid:
      return "invalid";
    case MetricsState::kNone:
      return "none";
  }
  return "unknown";
}

std::string Explanation::summary() const {
  std::string out =
      strprintf("%d (rule %s): metrics %s", recommended, std::string(to_string(rule)).c_str(),
                std::string(to_string(metrics_state)).c_str());
  if (reactive) out += strprintf(", reactive %d", *reactive);
  if (predictive) {
    out += strprintf(", predictive %d (demand %.4g within %llds", *predictive, predicted_demand,
                     static_cast<long long>(horizon));
    if (level_correction > 1.0) out += strprintf(", level x%.2f", level_correction);
    out += ")";
  } else if (!forecast_note.empty()) {
    out += ", forecast unused: " + forecast_note;
  }
  if (demand_replicas) out += strprintf(", current demand needs %d", *demand_replicas);
  for (const auto& limit : limits) {
    out += strprintf(", %s %d->%d", limit.name().c_str(), limit.before, limit.after);
  }
  return out;
}

std::string LimitApplied::name() const {
  switch (kind) {
    case LimitKind::kScaleUpStabilization:
      return strprintf("scale-up stabilization %llds", static_cast<long long>(window));
    case LimitKind::kScaleDownStabilization:
      return strprintf("scale-down stabilization %llds", static_cast<long long>(window));
    case LimitKind::kScaleUpRate:
      return "scale-up rate";
    case LimitKind::kScaleDownRate:
      return "scale-down rate";
    case LimitKind::kMin:
      return "min";
    case LimitKind::kMax:
      return "max";
    case LimitKind::kScheduleMin:
      return "schedule " + schedule + " min";
    case LimitKind::kScheduleMax:
      return "schedule " + schedule + " max";
    case LimitKind::kGpuBudget:
      return "gpu budget";
  }
  return "unknown";
}

bool LimitApplied::is_stabilization() const {
  return kind == LimitKind::kScaleUpStabilization || kind == LimitKind::kScaleDownStabilization;
}

std::string_view limited_reason(LimitKind kind) {
  switch (kind) {
    case LimitKind::kScaleUpStabilization:
    case LimitKind::kScaleDownStabilization:
      return "";
    case LimitKind::kScaleUpRate:
      return "ScaleUpLimit";
    case LimitKind::kScaleDownRate:
      return "ScaleDownLimit";
    case LimitKind::kMin:
    case LimitKind::kScheduleMin:
      return "TooFewReplicas";
    case LimitKind::kMax:
    case LimitKind::kScheduleMax:
      return "TooManyReplicas";
    case LimitKind::kGpuBudget:
      return "GPUBudget";
  }
  return "";
}

namespace {

constexpr double kCapacityLearningRate = 0.1;

Seconds floor_div(Seconds a, Seconds b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Nearest-rank percentile of a small sample.
Seconds percentile(std::deque<Seconds> values, double p) {
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

// ceil(x) that forgives floating-point noise just above an integer (4.0000000001 -> 4).
int ceil_replicas(double x) {
  if (!(x > 0.0)) return 0;
  const double c = std::ceil(x - 1e-9);
  return c >= 1e9 ? 1000000000 : static_cast<int>(c);
}

const ScheduleWindow* active_schedule(const ScalingPolicy& policy, Seconds now) {
  const Seconds day = floor_div(now, 86400);
  const int weekday = static_cast<int>(((day % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
  const int minute = static_cast<int>((now - day * 86400) / 60);
  for (const auto& s : policy.schedules) {
    if ((s.days_of_week >> weekday & 1u) != 0 && minute >= s.start_minute &&
        minute < s.end_minute) {
      return &s;
    }
  }
  return nullptr;
}

// Index of the forecast step holding time t, or -1 when t is outside the forecast.
long forecast_index(const predictor::Forecast& f, Seconds t) {
  if (f.step <= 0 || t < f.start) return -1;
  const Seconds i = (t - f.start) / f.step;
  return i < static_cast<Seconds>(f.point.size()) ? static_cast<long>(i) : -1;
}

// The quantile band at `level` (matched within 1e-9), else the point forecast.
const std::vector<double>& band_or_point(const predictor::Forecast& f, double level) {
  for (std::size_t k = 0; k < f.quantile_levels.size() && k < f.quantiles.size(); ++k) {
    if (std::abs(f.quantile_levels[k] - level) < 1e-9 && f.quantiles[k].size() == f.point.size()) {
      return f.quantiles[k];
    }
  }
  return f.point;
}

LimitApplied limit_of(LimitKind kind, int bound = 0, Seconds window = 0,
                      std::string schedule = {}) {
  LimitApplied limit;
  limit.kind = kind;
  limit.after = bound;
  limit.window = window;
  limit.schedule = std::move(schedule);
  return limit;
}

// Moves `replicas` to `to`, recording the limit when that changes them.
void apply_limit(std::vector<LimitApplied>& limits, LimitApplied limit, int& replicas, int to) {
  if (to == replicas) return;
  limit.before = replicas;
  limit.after = to;
  limits.push_back(std::move(limit));
  replicas = to;
}

// Stage 1: learn from this observation (cold starts, capacity) and derive the horizon.
void learn(const ScalingPolicy& policy, const Observation& obs, ScalerState& state,
           Explanation& ex) {
  const auto& pp = policy.predictive;
  for (const Seconds cs : obs.cold_starts) {
    if (cs >= 0) state.cold_starts.push_back(cs);
  }
  while (state.cold_starts.size() > pp.cold_start_samples) state.cold_starts.pop_front();
  if (obs.capacity_sample && std::isfinite(*obs.capacity_sample) && *obs.capacity_sample > 0.0) {
    state.learned_capacity = state.learned_capacity
                                 ? (1 - kCapacityLearningRate) * *state.learned_capacity +
                                       kCapacityLearningRate * *obs.capacity_sample
                                 : *obs.capacity_sample;
  }
  ex.capacity = policy.capacity_per_replica ? policy.capacity_per_replica : state.learned_capacity;
  ex.cold_start_measured = !state.cold_starts.empty();
  ex.cold_start_estimate = ex.cold_start_measured
                               ? percentile(state.cold_starts, pp.cold_start_percentile)
                               : pp.cold_start;
  ex.horizon = ex.cold_start_estimate + pp.decision_period;
}

// Stage 2a: the forecast's accuracy checks (actual vs predicted now) and the gate over them.
void check_forecast(const PredictivePolicy& pp, const Observation& obs, bool demand_fresh,
                    Seconds now, ScalerState& state, Explanation& ex) {
  const predictor::Forecast* forecast = obs.forecast.get();
  const long now_index = forecast ? forecast_index(*forecast, now) : -1;
  ex.forecast_available = now_index >= 0;
  if (ex.forecast_available && demand_fresh) {
    const double predicted = forecast->point[static_cast<std::size_t>(now_index)];
    if (std::isfinite(predicted)) {
      state.forecast_checks.push_back({now, obs.demand, predicted});
      state.check_abs_error_sum += std::abs(obs.demand - predicted);
      state.check_actual_sum += obs.demand;
    }
  }
  while (!state.forecast_checks.empty() &&
         state.forecast_checks.front().at <= now - pp.gate_window) {
    const auto& old = state.forecast_checks.front();
    state.check_abs_error_sum -= std::abs(old.actual - old.predicted);
    state.check_actual_sum -= old.actual;
    state.forecast_checks.pop_front();
  }
  if (state.forecast_checks.empty()) state.check_abs_error_sum = state.check_actual_sum = 0.0;
  const bool enough_checks = state.forecast_checks.size() >= pp.gate_min_samples;
  ex.forecast_error = enough_checks && state.check_actual_sum > 0.0
                          ? state.check_abs_error_sum / state.check_actual_sum
                          : 0.0;
  if (pp.enabled && enough_checks) {
    if (!state.forecast_gated && ex.forecast_error > pp.gate_max_error) {
      state.forecast_gated = true;
    } else if (state.forecast_gated &&
               ex.forecast_error <= pp.gate_max_error * pp.gate_reenable_fraction) {
      state.forecast_gated = false;
    }
  }
  ex.forecast_gated = pp.enabled && state.forecast_gated;
}

// The band's peak over [now, now + horizon], raised by the recent level correction; nullopt when
// the band has no finite value there.
std::optional<double> forecast_peak(const PredictivePolicy& pp, const predictor::Forecast& forecast,
                                    Seconds now, const ScalerState& state, Explanation& ex) {
  const std::vector<double>& values = band_or_point(forecast, pp.quantile);
  const long last = static_cast<long>(values.size()) - 1;
  const long end_index =
      std::min<long>(last, static_cast<long>((now + ex.horizon - forecast.start) / forecast.step));
  std::optional<double> peak;
  for (long i = forecast_index(forecast, now); i <= end_index; ++i) {
    const double v = values[static_cast<std::size_t>(i)];
    if (std::isfinite(v)) peak = std::max(peak.value_or(0.0), v);
  }
  if (peak && pp.correction_window > 0) {
    double actual = 0.0, predicted = 0.0;
    for (auto it = state.forecast_checks.rbegin();
         it != state.forecast_checks.rend() && it->at > now - pp.correction_window; ++it) {
      actual += it->actual;
      predicted += it->predicted;
    }
    if (predicted > 0.0 && actual > predicted) {
      ex.level_correction = actual / predicted;
      *peak *= ex.level_correction;
    }
  }
  return peak;
}

// Stage 2b: the predictive floor, or the note saying why there is none. True when it is active.
bool predictive_floor(const PredictivePolicy& pp, const predictor::Forecast* forecast, Seconds now,
                      const ScalerState& state, Explanation& ex) {
  if (!pp.enabled) {
    ex.forecast_note = "predictive scaling disabled";
  } else if (!ex.forecast_available) {
    ex.forecast_note = forecast ? "forecast does not cover now" : "no forecast";
  } else if (ex.forecast_gated) {
    ex.forecast_note =
        strprintf("gated: recent error %.2f > %.2f", ex.forecast_error, pp.gate_max_error);
  } else if (!ex.capacity) {
    ex.forecast_note = "capacity per replica unknown";
  } else if (const auto peak = forecast_peak(pp, *forecast, now, state, ex); !peak) {
    ex.forecast_note = "forecast has no finite values within the horizon";
  } else {
    ex.predicted_demand = *peak;
    ex.predictive = ceil_replicas(*peak / *ex.capacity);
    return true;
  }
  return false;
}

// Stage 2c: the replicas the current demand needs. The reactive rule's tolerance applies to it
// too: within it the current count holds, or the two rules would alternate at the band's edge,
// starting and killing a pod each period.
void demand_floor(const ScalingPolicy& policy, const Observation& obs, bool demand_fresh,
                  int current, Explanation& ex) {
  if (!policy.demand_floor || !demand_fresh || !ex.capacity) return;
  const double needed = obs.demand / *ex.capacity;
  const bool within = current > 0 && needed <= current * (1.0 + policy.tolerance);
  ex.demand_replicas = std::min(ceil_replicas(needed), within ? current : INT_MAX);
}

// Why a metric's sample cannot be used (kOk when it can; kPartial is decided by the caller).
MetricsState sample_problem(const MetricSample* sample, const ScalingPolicy& policy, Seconds now,
                            MetricProposal& proposal) {
  if (!sample) {
    proposal.problem = "missing";
    return MetricsState::kMissing;
  }
  proposal.value = sample->value;
  if (std::isnan(sample->value)) {
    proposal.problem = "NaN (query failed or returned nothing)";
    return MetricsState::kMissing;
  }
  if (!std::isfinite(sample->value) || sample->value < 0.0) {
    proposal.problem = strprintf("invalid value %g", sample->value);
    return MetricsState::kInvalid;
  }
  if (now - sample->sampled_at > policy.metric_max_age) {
    proposal.problem =
        strprintf("stale (%llds old > %llds)", static_cast<long long>(now - sample->sampled_at),
                  static_cast<long long>(policy.metric_max_age));
    return MetricsState::kStale;
  }
  return sample->partial ? MetricsState::kPartial : MetricsState::kOk;
}

// One metric's HPA proposal. Returns the metric's state after proposing: kOk when the proposal
// counts (a partial sample that asks for more replicas counts, and sets *partial_used).
MetricsState propose(const MetricTarget& target, const MetricSample* sample,
                     const ScalingPolicy& policy, bool predictive_active, int current, int ready,
                     Seconds now, bool& partial_used, MetricProposal& proposal) {
  proposal.name = target.name;
  proposal.target =
      predictive_active && target.predictive_target ? *target.predictive_target : target.target;
  const MetricsState problem = sample_problem(sample, policy, now, proposal);
  if (problem != MetricsState::kOk && problem != MetricsState::kPartial) return problem;
  if (target.kind == MetricKind::kAverageValue && ready == 0) {
    // No pod to average over (e.g. scaled to zero): the metric asks for nothing; the demand
    // and forecast floors decide whether to start a replica.
    proposal.replicas = 0;
    proposal.problem = "no ready pods";
  } else {
    proposal.replicas = hpa::replicas_for_metric(target.kind, proposal.value, proposal.target,
                                                 current, ready, policy.tolerance, &proposal.ratio);
  }
  if (problem == MetricsState::kPartial) {
    if (*proposal.replicas <= current) {
      // A partial value that does not ask for more than the current replicas says nothing:
      // the pods that were not counted may carry the rest.
      proposal.problem = "partial: " + sample->partial_note + " (may scale up, never down)";
      proposal.replicas.reset();
      return MetricsState::kPartial;
    }
    proposal.problem = "partial: " + sample->partial_note + " (scaling up on it)";
    partial_used = true;
  }
  return MetricsState::kOk;
}

// Stage 3: the reactive path, one HPA proposal per metric. True when the metrics failed (the
// decision then holds or follows the forecast).
bool reactive_path(const ScalingPolicy& policy, const Observation& obs, bool predictive_active,
                   int current, int ready, Seconds now, Explanation& ex) {
  int usable = 0;
  bool any_partial = false;  // a usable sample was partial (it asked for more replicas)
  MetricsState first_problem = MetricsState::kNone;
  for (const auto& target : policy.metrics) {
    const auto it = std::find_if(obs.metrics.begin(), obs.metrics.end(),
                                 [&](const MetricSample& s) { return s.name == target.name; });
    MetricProposal proposal{};
    const MetricsState state =
        propose(target, it == obs.metrics.end() ? nullptr : &*it, policy, predictive_active,
                current, ready, now, any_partial, proposal);
    if (state == MetricsState::kOk) {
      ++usable;
      ex.reactive = std::max(ex.reactive.value_or(0), *proposal.replicas);
    } else if (first_problem == MetricsState::kNone) {
      first_problem = state;
    }
    ex.metric_proposals.push_back(std::move(proposal));
  }
  const int metric_count = static_cast<int>(policy.metrics.size());
  if (metric_count == 0) {
    ex.metrics_state = MetricsState::kNone;
  } else if (usable == metric_count) {
    ex.metrics_state = any_partial ? MetricsState::kPartial : MetricsState::kOk;
  } else if (usable > 0 && ex.reactive && *ex.reactive > current) {
    // HPA: with some metrics unusable, the usable ones may still scale up, never down.
    ex.metrics_state = MetricsState::kPartial;
  } else {
    ex.metrics_state = usable > 0 ? MetricsState::kPartial : first_problem;
    ex.reactive.reset();
    return true;
  }
  return false;
}

struct Bounds {
  LimitApplied min = limit_of(LimitKind::kMin);  // `after` holds the bound
  LimitApplied max = limit_of(LimitKind::kMax);
};

// The effective bounds: the policy's, then the active schedule's, then the GPU budget (a hard cap).
Bounds effective_bounds(const ScalingPolicy& policy, Seconds now) {
  Bounds b;
  b.min.after = policy.min_replicas;
  b.max.after = policy.max_replicas;
  if (const auto* s = active_schedule(policy, now)) {
    if (s->min_replicas) b.min = limit_of(LimitKind::kScheduleMin, *s->min_replicas, 0, s->name);
    if (s->max_replicas) b.max = limit_of(LimitKind::kScheduleMax, *s->max_replicas, 0, s->name);
    if (b.min.after > b.max.after) b.min.after = b.max.after;
  }
  if (policy.gpu_budget) {
    const int budget_replicas = *policy.gpu_budget / policy.gpus_per_replica;
    if (budget_replicas < b.max.after) {
      b.max = limit_of(LimitKind::kGpuBudget, budget_replicas);
      b.min.after = std::min(b.min.after, b.max.after);
    }
  }
  return b;
}

// Stage 4: the recommendation, max(reactive, predictive, current demand) with ties to the first
// named, unless the current replicas are out of bounds or the metrics failed. Returns true when
// the HPA behavior (stage 5) applies to it; false when the replicas are settled (ex.recommended
// is then final but for the max).
bool recommend(const ScalingPolicy& policy, bool metrics_failed, bool predictive_active,
               int current, const Bounds& bounds, Seconds now, ScalerState& state,
               Explanation& ex) {
  if (current > bounds.max.after) {
    ex.rule = Rule::kAboveMaximum;
    ex.recommended = bounds.max.after;
    ex.limits.push_back(bounds.max);
    ex.limits.back().before = current;
    return false;
  }
  if (current < bounds.min.after) {
    ex.rule = Rule::kBelowMinimum;
    ex.recommended = bounds.min.after;
    ex.limits.push_back(bounds.min);
    ex.limits.back().before = current;
    return false;
  }
  if (metrics_failed || (policy.metrics.empty() && !predictive_active && !ex.demand_replicas)) {
    if (metrics_failed && policy.metrics_fallback == MetricsFallback::kFollowForecast &&
        predictive_active) {
      ex.rule = Rule::kFollowForecast;
      ex.recommended = std::max(*ex.predictive, ex.demand_replicas.value_or(0));
      return true;
    }
    ex.rule = Rule::kHoldNoMetrics;
    ex.recommended = current;
    // The held replicas are this period's recommendation: when the metrics come back, the
    // scale-down window still remembers them (an outage's end is no reason to drop at once).
    state.recommendations.push_back({now, current});
    return false;
  }
  ex.recommended = -1;
  const bool within_tolerance =
      ex.reactive && *ex.reactive == current &&
      std::all_of(ex.metric_proposals.begin(), ex.metric_proposals.end(),
                  [&](const auto& p) { return !p.replicas || *p.replicas == current; });
  if (ex.reactive) {
    ex.recommended = *ex.reactive;
    ex.rule = within_tolerance ? Rule::kTolerance : Rule::kReactive;
  }
  if (ex.predictive && *ex.predictive > ex.recommended) {
    ex.recommended = *ex.predictive;
    ex.rule = Rule::kPredictive;
  }
  if (ex.demand_replicas && *ex.demand_replicas > ex.recommended) {
    ex.recommended = *ex.demand_replicas;
    ex.rule = Rule::kCurrentDemand;
  }
  if (ex.recommended < 0) ex.recommended = current;
  return true;
}

// Stage 5: HPA behavior on the recommendation: stabilization, then the rate policies, then the
// bounds. Records the unstabilized recommendation.
int apply_behavior(const ScalingPolicy& policy, bool predictive_active, int current,
                   const Bounds& bounds, Seconds now, ScalerState& state, Explanation& ex) {
  int replicas = ex.recommended;
  const Seconds up_window = policy.scale_up.stabilization_window;
  const Seconds down_window = predictive_active ? policy.predictive.scale_down_window
                                                : policy.scale_down.stabilization_window;
  const int stabilized =
      hpa::stabilize(state.recommendations, current, ex.recommended, up_window, down_window, now);
  if (stabilized > replicas) {  // held up by the scale-down window
    apply_limit(ex.limits, limit_of(LimitKind::kScaleDownStabilization, 0, down_window), replicas,
                stabilized);
  } else if (stabilized < replicas) {
    apply_limit(ex.limits, limit_of(LimitKind::kScaleUpStabilization, 0, up_window), replicas,
                stabilized);
  }
  if (replicas > current) {
    // The rate policies damp reactive noise; planned capacity (the forecast floor, already
    // timed to be ready when needed) is not throttled by them. max and the GPU budget still cap.
    const int planned = predictive_active && ex.predictive ? *ex.predictive : 0;
    const int limit = std::max(hpa::scale_up_limit(current, state, policy.scale_up, now), planned);
    if (replicas > limit)
      apply_limit(ex.limits, limit_of(LimitKind::kScaleUpRate), replicas, limit);
  } else if (replicas < current) {
    const int limit = hpa::scale_down_limit(current, state, policy.scale_down, now);
    if (replicas < limit)
      apply_limit(ex.limits, limit_of(LimitKind::kScaleDownRate), replicas, limit);
  }
  if (replicas > bounds.max.after) apply_limit(ex.limits, bounds.max, replicas, bounds.max.after);
  if (replicas < bounds.min.after) apply_limit(ex.limits, bounds.min, replicas, bounds.min.after);
  state.recommendations.push_back({now, ex.recommended});
  return replicas;
}

// Stage 6: forget what no window can see any more; scale events feed the rate policies.
void update_history(const ScalingPolicy& policy, int current, int replicas, Seconds now,
                    ScalerState& state) {
  const Seconds keep =
      std::max({policy.scale_up.stabilization_window, policy.scale_down.stabilization_window,
                policy.predictive.scale_down_window});
  while (!state.recommendations.empty() && state.recommendations.front().at <= now - keep) {
    state.recommendations.pop_front();
  }
  if (replicas > current) state.scale_up_events.push_back({now, replicas - current});
  if (replicas < current) state.scale_down_events.push_back({now, current - replicas});
  Seconds longest = 0;
  for (const auto& p : policy.scale_up.policies) longest = std::max(longest, p.period);
  for (const auto& p : policy.scale_down.policies) longest = std::max(longest, p.period);
  for (auto* events : {&state.scale_up_events, &state.scale_down_events}) {
    while (!events->empty() && events->front().at <= now - longest) events->pop_front();
  }
}

}  // namespace

DecisionResult decide(const ScalingPolicy& policy, const Observation& obs, ScalerState state,
                      Seconds now) {
  if (auto valid = validate(policy); !valid) throw std::invalid_argument(valid.error());
  Explanation ex;
  const int current = std::max(0, obs.current_replicas);
  const int ready = std::max(0, obs.ready_replicas);
  const bool demand_fresh = std::isfinite(obs.demand) && obs.demand >= 0.0 &&
                            now - obs.demand_sampled_at <= policy.metric_max_age;

  learn(policy, obs, state, ex);
  check_forecast(policy.predictive, obs, demand_fresh, now, state, ex);
  const bool predictive_active =
      predictive_floor(policy.predictive, obs.forecast.get(), now, state, ex);
  demand_floor(policy, obs, demand_fresh, current, ex);
  const bool metrics_failed =
      reactive_path(policy, obs, predictive_active, current, ready, now, ex);
  const Bounds bounds = effective_bounds(policy, now);
  int replicas = current;
  if (recommend(policy, metrics_failed, predictive_active, current, bounds, now, state, ex)) {
    replicas = apply_behavior(policy, predictive_active, current, bounds, now, state, ex);
  } else {
    replicas = ex.rule == Rule::kHoldNoMetrics ? current : ex.recommended;
    if (replicas > bounds.max.after) apply_limit(ex.limits, bounds.max, replicas, bounds.max.after);
  }
  update_history(policy, current, replicas, now, state);
  return {ScaleDecision{replicas, current, std::move(ex)}, std::move(state)};
}

}  // namespace dso::autoscaler
