// scaling/service_scaler.h: one service's live autoscaler — its demand history, its forecaster,
// the engine's state and its recent decisions — stepped once per decision period.
//
// History: on the first step (and whenever spec.autoscaling.predictive.history or model changes)
// one MetricsSource::demand_history query loads predictive.history at `history_step`; after that,
// incremental queries once per history step append what is new (a failed query is retried at the
// next step and catches up the whole gap). Nothing is kept on disk: after an operator restart the
// history is read back from Prometheus. The forecast (predictor::forecast on bucket maxima of the
// history at `forecast_step`) is refitted every `refit_every`, when it no longer covers the
// horizon, and when its recent error passes refit_error_fraction of the gate (at most once per
// `min_refit_interval`). Mode Off loads no history and forecasts nothing.
//
// Not thread-safe: the scaling loop steps each service from one thread at a time.
#pragma once

#include <deque>
#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "api/deepseek_service.h"
#include "autoscaler/decision.h"
#include "metrics/source.h"
#include "predictor/online.h"

namespace dso::scaling {

using autoscaler::Seconds;

struct ScalerSettings {
  Seconds decision_period = 15;
  // Step of the history queries (Prometheus allows 11,000 points per range query: 14 days at 60 s
  // is 20,160, so the source splits it; at the 15 s decision step it would be 80,640).
  Seconds history_step = 60;
  Seconds forecast_step = 300;  // bucket maxima the forecast is fitted on (docs/simulate.md)
  Seconds refit_every = 3600;
  Seconds min_refit_interval = 600;
  double refit_error_fraction = 0.5;   // of predictive.maxForecastError
  Seconds forecast_margin = 2 * 3600;  // each forecast reaches refit_every + this past its fit
  Seconds history_retry = 60;          // after a failed history load
  std::size_t decisions_kept = 10;
  // The scaling loop asks for a status write when something significant changed (decision,
  // conditions, decisions list, forecast summary) and at least this often otherwise.
  Seconds status_refresh = 60;
};

// One decision as published in status.decisions.
struct DecisionRecord {
  Seconds at = 0;
  int replicas = 0;
  int previous = 0;
  std::string rule;
  std::string explanation;  // autoscaler::Explanation::summary()
  bool acted = false;       // false in Preview (and while holding for missing metrics)
};

// The forecast at the horizon, as published in status.forecast.
struct ForecastView {
  Seconds time = 0;       // now + horizon
  double point = 0.0;     // point forecast at that time
  double quantile = 0.0;  // the band at predictive.quantile
  double quantile_level = 0.0;
  std::string model;
  Seconds fitted_at = 0;
};

struct StepInput {
  int current_replicas = 0;  // what the service is set to (the engine's Observation)
  int ready_replicas = 0;
  std::vector<Seconds> cold_starts;  // measured since the previous step
};

struct StepResult {
  autoscaler::ScaleDecision decision;
  metrics::ServiceLoad load;
  std::optional<ForecastView> forecast;
  std::string forecast_problem;  // why there is no forecast (history failed, too short, ...)
  bool refitted = false;
  double refit_seconds = 0.0;  // CPU time of the refit
  int history_queries = 0;
  int failed_history_queries = 0;
};

class ServiceScaler {
 public:
  explicit ServiceScaler(ScalerSettings settings);

  // One decision at `now` for `service` with `policy` (from to_scaling_policy). Reads the load
  // (and, when due, history) from `source`. Cost: the source's queries; a refit when due
  // (milliseconds for 14 days of 5-minute maxima).
  StepResult step(const api::DeepSeekService& service, const autoscaler::ScalingPolicy& policy,
                  const StepInput& input, metrics::MetricsSource& source, Seconds now);

  // Records a decision in the recent list (newest last, at most settings.decisions_kept).
  void record(DecisionRecord record);
  // After a restart, once record() has been given the decisions status kept: the engine's
  // stabilization windows start from them (and from the newest one as still standing at `now`),
  // not empty, so a new leader does not scale down the moment it starts.
  void resume(Seconds now);
  const std::deque<DecisionRecord>& decisions() const { return decisions_; }
  const autoscaler::ScalerState& state() const { return state_; }
  // Points of history held (for the benchmark and tests).
  std::size_t history_points() const;
  std::optional<Seconds> fitted_at() const { return fitted_at_; }

 private:
  void update_history(const api::DeepSeekService& service, metrics::MetricsSource& source,
                      Seconds now, StepResult& result);
  void maybe_refit(const api::DeepSeekService& service, const autoscaler::ScalingPolicy& policy,
                   Seconds now, StepResult& result);

  ScalerSettings settings_;
  std::string history_key_;  // history length + model the history and forecast were made for
  std::optional<predictor::OnlineForecaster> history_;
  Seconds loaded_until_ = 0;  // exclusive end of the history read so far
  std::optional<Seconds> history_failed_at_;
  std::string history_problem_;
  autoscaler::ForecastPtr forecast_;
  std::optional<Seconds> fitted_at_;
  std::optional<Seconds> refit_tried_at_;
  std::string fit_problem_;
  autoscaler::ScalerState state_;
  std::optional<autoscaler::Explanation> last_;
  std::deque<DecisionRecord> decisions_;
};

// Marks every metric of `load` partial (may scale up, never down) when fewer pods reported
// requests than `ready_pods` are serving, with a problem line giving the counts.
void mark_partial_coverage(metrics::ServiceLoad& load, int ready_pods);

// Bucket maxima of a regular series on a coarser `step` aligned to multiples of it; the last,
// partial bucket is dropped; NaN values are skipped (an empty bucket is NaN).
predictor::Series bucket_max(const predictor::Series& series, Seconds step);

}  // namespace dso::scaling
