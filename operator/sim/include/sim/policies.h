// sim/policies.h: the scaling policies `deepseek-operator simulate` compares.
//
//   hpa       Kubernetes HPA with its defaults (dso::autoscaler engine, predictive off): metric =
//             utilisation (demand / ready capacity) against the target, 15 s sync, 60 s metric
//             delay, tolerance 0.1, scale-down stabilization 300 s.
//   kpa       Knative's KPA: 60 s stable and 6 s panic windows, panic at 200%, max scale-up rate
//             1000, max scale-down rate 2, no scale-down delay; metrics without delay.
//   linear    AIBrix-APA-like: least-squares line over the last 180 s of demand projected 120 s
//             ahead, max with the reactive proposal; fluctuation tolerance +10% / -20%.
//   dsp       Crane-EHPA-like: an FFT of the last 3 days (1-minute samples) keeps the strongest
//             20 components, the next hour's maximum of that forecast (+10% margin) is a second
//             HPA metric beside utilisation (same HPA defaults).
//   seasonal  this project: the dso::autoscaler engine with the predictive floor fed by
//             dso::predictor::forecast, refitted every `refit_every`.
// None of them sees the future; each sees demand as old as its metric delay.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "autoscaler/policy.h"
#include "sim/replay.h"

namespace dso::sim {

struct PolicyParams {
  double capacity = 1.0;            // demand one replica serves
  double target_utilization = 0.7;  // the reactive policies' target
  Seconds period = 15;
  int max_replicas = 100000;
};

// Settings of the seasonal policy (docs/simulate.md explains the defaults).
struct SeasonalSettings {
  Seconds forecast_step = 300;   // history is bucketed to this step (bucket maximum)
  Seconds history = 21 * 86400;  // at most this much history per fit (3 weekly cycles)
  Seconds refit_every = 3600;    // forecast cadence; the engine corrects the level between
  // Each forecast reaches refit_every + this past its fit, so that it covers the engine's horizon
  // (cold start + one period) until the next fit.
  Seconds horizon_margin = 2 * 3600;
  std::size_t backtest_origins = 12;  // predictor::ForecastOptions::backtest_origins
  double quantile = 0.9;              // the band the floor provisions for
  // predictor::ForecastOptions::calibrate_quantiles. Off: the floor's level was chosen on the
  // plain backtest bands; calibrated bands at 0.9 (or 0.85, 0.8) did worse on the benchmark
  // (docs/simulate.md).
  bool calibrate_quantiles = false;
  double reactive_target = 0.85;    // the utilisation target while the forecast floor is active
  Seconds scale_down_window = 0;    // autoscaler::PredictivePolicy::scale_down_window
  Seconds correction_window = 900;  // autoscaler::PredictivePolicy::correction_window
  double gate_max_error = 1.0;      // autoscaler::PredictivePolicy::gate_max_error
};

// The policy names in the order the table lists them.
const std::vector<std::string>& policy_names();

// A fresh policy by name; an unknown name is an error listing the known ones.
std::expected<PolicyPtr, std::string> make_policy(std::string_view name, const PolicyParams& params,
                                                  const SeasonalSettings& seasonal = {});

// The engine policy the seasonal replay uses (exposed for tests and docs).
autoscaler::ScalingPolicy seasonal_scaling_policy(const PolicyParams& params,
                                                  const SeasonalSettings& seasonal);
// The engine policy of the hpa peer: Kubernetes defaults, utilisation against the target.
autoscaler::ScalingPolicy hpa_scaling_policy(const PolicyParams& params);

// Bucket maxima of `values` (at `period`, starting at `start`) on a coarser `step`, aligned to
// multiples of step; the last, partial bucket is dropped. Used to build the forecast history.
predictor::Series bucket_max(std::span<const double> values, Seconds start, Seconds period,
                             Seconds step);

}  // namespace dso::sim
