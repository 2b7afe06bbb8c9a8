// autoscaler/decision.h: the scaling decision — observations, policy, state and `now` in;
// decision (with its explanation) and new state out.
//
// decide() is the operator's one scaling rule, used unchanged by the live controller and by
// `deepseek-operator simulate`. It is pure: no I/O, no clock reads, no globals; the same inputs
// always give the same decision. How the reactive (HPA) path and the predictive floor combine:
//
//   reactive    = max over metrics of the HPA proposal (tolerance applies per metric; the
//                 metric's predictive_target while the floor is active)
//   predictive  = ceil(max forecast band over [now, now + horizon] x level correction / capacity),
//                 horizon = measured cold start (percentile) + one decision period, level
//                 correction = recent actual / predicted when above 1
//   demand      = ceil(current demand / capacity)
//   recommended = max(reactive, predictive, demand)
//   replicas    = HPA behavior (stabilization windows — the predictive scale-down window while the
//                 floor is active —, rate policies, which never hold replicas below the floor)
//                 applied to `recommended`, then clamped to min/max, the active schedule's bounds
//                 and the GPU budget.
//
// A metric sample marked partial (fewer pods reported than are ready) may raise the replicas,
// never lower them: a service whose pods go unscraped under overload must not look idle. A
// decision that holds for missing metrics counts as a recommendation of the held replicas, so the
// scale-down stabilization window covers the end of an outage too.
//
// docs/simulate.md ("The decision engine") explains each default and what it was measured against.
// When the forecast's recent error passes the gate, the predictive term is dropped and the
// reactive path runs at the metrics' plain targets. When the metrics are missing, stale or NaN the
// decision holds the current replicas (or follows the forecast, per the policy): a failed query
// never scales anything to its minimum.
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "autoscaler/policy.h"
#include "predictor/forecast.h"

namespace dso::autoscaler {

using ForecastPtr = std::shared_ptr<const predictor::Forecast>;

// One metric as queried: `value` NaN means the query failed or returned nothing.
struct MetricSample {
  std::string name;
  double value = 0.0;
  Seconds sampled_at = 0;  // when the value was measured (its age decides staleness)
  // The value may be low: it covers fewer pods than are serving (some were not scraped), or
  // Prometheus warned that the answer was incomplete. It may scale up, never down; `partial_note`
  // says why ("2 of 3 ready pods reported").
  bool partial = false;
  std::string partial_note = {};
};

struct Observation {
  int current_replicas = 0;  // the replicas the workload is set to now (spec.replicas)
  int ready_replicas = 0;    // pods Ready and serving (the pods an average metric covers)
  std::vector<MetricSample> metrics;
  // Current demand (same unit as the forecast and capacity, e.g. requests/s); NaN if unknown.
  double demand = std::numeric_limits<double>::quiet_NaN();
  Seconds demand_sampled_at = 0;
  // Cold starts (creation -> Ready, seconds) measured since the previous decision.
  std::vector<Seconds> cold_starts;
  // Demand one ready replica served at the target latency, if measured now.
  std::optional<double> capacity_sample;
  // The latest demand forecast (point + quantile bands), or null.
  ForecastPtr forecast;
};

// What the engine remembers between decisions. Start from a default-constructed state; keep the
// state returned with each decision (it assumes the decision is applied).
struct ScalerState {
  struct Recommendation {
    Seconds at = 0;
    int replicas = 0;
  };
  struct ScaleEvent {
    Seconds at = 0;
    int change = 0;  // replicas added (scale-up list) or removed (scale-down list), > 0
  };
  struct ForecastCheck {
    Seconds at = 0;
    double actual = 0.0;
    double predicted = 0.0;
  };
  std::deque<Recommendation> recommendations;  // unstabilized recommendations (HPA)
  std::deque<ScaleEvent> scale_up_events;
  std::deque<ScaleEvent> scale_down_events;
  std::deque<Seconds> cold_starts;  // the most recent measurements
  std::optional<double> learned_capacity;
  std::deque<ForecastCheck> forecast_checks;  // within the gate window
  double check_abs_error_sum = 0.0;           // running sums over forecast_checks
  double check_actual_sum = 0.0;
  bool forecast_gated = false;
};

// Which input set the recommendation.
enum class Rule {
  kReactive,        // the HPA proposal from the metrics
  kPredictive,      // the forecast floor
  kCurrentDemand,   // the replicas the current demand needs
  kTolerance,       // metrics within tolerance: keep the current replicas
  kHoldNoMetrics,   // metrics missing/stale/NaN: hold
  kFollowForecast,  // metrics missing/stale/NaN: follow the forecast
  kBelowMinimum,    // current replicas below min: go to min (HPA)
  kAboveMaximum,    // current replicas above max: go to max (HPA)
};
std::string_view to_string(Rule rule);

enum class MetricsState { kOk, kPartial, kMissing, kStale, kInvalid, kNone };
std::string_view to_string(MetricsState state);

struct MetricProposal {
  std::string name;
  double value = 0.0;
  double target = 0.0;          // the target used (plain or predictive)
  double ratio = 0.0;           // HPA usage ratio
  std::optional<int> replicas;  // unset when the sample was unusable
  std::string problem;          // "missing", "stale (250s old)", "NaN", ... when unusable
};

// What held the replicas where they are, in the order decide() applies them.
enum class LimitKind {
  kScaleUpStabilization,    // HPA's scale-up window held the replicas down
  kScaleDownStabilization,  // a scale-down window (HPA's or the predictive one) held them up
  kScaleUpRate,             // the scale-up rate policies
  kScaleDownRate,           // the scale-down rate policies
  kMin,                     // policy min
  kMax,                     // policy max
  kScheduleMin,             // the active schedule's min
  kScheduleMax,             // the active schedule's max
  kGpuBudget,               // the GPU budget's replica cap
};

// A limit that changed the replicas, in the order applied.
struct LimitApplied {
  LimitKind kind = LimitKind::kMax;
  int before = 0;
  int after = 0;
  Seconds window = 0;    // the stabilization window (the stabilization kinds)
  std::string schedule;  // the schedule's name (kScheduleMin, kScheduleMax)

  // "scale-down stabilization 300s", "scale-up rate", "max", "schedule night min", "gpu budget".
  std::string name() const;
  // Stabilization is not a limit in HPA's sense: it reports it under AbleToScale, not
  // ScalingLimited.
  bool is_stabilization() const;
};

// The ScalingLimited reason HPA gives for a limit ("TooManyReplicas", "TooFewReplicas",
// "ScaleUpLimit", "ScaleDownLimit"; "GPUBudget" is this operator's); empty for stabilization.
std::string_view limited_reason(LimitKind kind);

struct Explanation {
  MetricsState metrics_state = MetricsState::kNone;
  std::vector<MetricProposal> metric_proposals;
  std::optional<int> reactive;    // max over usable metrics
  std::optional<int> predictive;  // the forecast floor, when used
  double predicted_demand = 0.0;  // the band's maximum over the horizon (corrected), when used
  double level_correction = 1.0;  // the factor applied to the band (>= 1)
  Seconds horizon = 0;            // cold start estimate + one period
  Seconds cold_start_estimate = 0;
  bool cold_start_measured = false;
  std::optional<int> demand_replicas;  // ceil(current demand / capacity)
  std::optional<double> capacity;      // per replica, configured or learned
  bool forecast_available = false;     // a forecast covering now was given
  bool forecast_gated = false;         // switched off by the accuracy gate
  double forecast_error = 0.0;         // recent WAPE (0 when too few checks)
  std::string forecast_note;           // why the forecast was not used, if it was not
  int recommended = 0;                 // before behavior and limits
  Rule rule = Rule::kReactive;
  std::vector<LimitApplied> limits;

  // One line for logs and events, e.g.
  // "6 replicas (predictive): reactive 4, predictive 6 (demand 812 at q0.9 within 315s), ..."
  std::string summary() const;
};

struct ScaleDecision {
  int replicas = 0;  // the desired replicas to set
  int previous = 0;  // Observation::current_replicas
  Explanation explanation;
};

struct DecisionResult {
  ScaleDecision decision;
  ScalerState state;
};

// The decision at `now` (unix seconds). The policy must satisfy validate(); a policy that does
// not throws std::invalid_argument (a programmer error: validate policies where they enter).
// Cost: O(metrics + forecast steps within the horizon + state size), state size bounded by the
// windows (stabilization, rate periods, gate window) divided by the decision period.
DecisionResult decide(const ScalingPolicy& policy, const Observation& observation,
                      ScalerState state, Seconds now);

}  // namespace dso::autoscaler
