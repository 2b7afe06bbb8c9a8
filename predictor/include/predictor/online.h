// predictor/online.h: a forecaster fed one observation at a time, for re-forecasting a service
// every decision period (the autoscaler's and the simulator's use).
//
// It keeps a bounded window of the most recent history on a regular step, so memory and the cost
// of each forecast stay flat however long it runs. observe() is O(1) amortised; forecast() costs
// one predictor::forecast() on the window: about 0.2-2 ms with the default kAuto model for two
// weeks at a 5-minute step (docs/predictor.md), independent of how long the forecaster has run.
// Not thread-safe: one owner calls observe() and forecast().
#pragma once

#include <cstdint>
#include <expected>
#include <string>

#include "predictor/forecast.h"

namespace dso::predictor {

class OnlineForecaster {
 public:
  // `step` in seconds (> 0); `options.horizon` is ignored (forecast() takes it); the window keeps
  // options.max_history_days of history (at least one step).
  OnlineForecaster(std::int64_t step, ForecastOptions options);

  // Adds the observation for time `t` (unix seconds; put in the step [k*step, (k+1)*step) that
  // contains it). Several observations in the same step are averaged; skipped steps become NaN
  // (filled at forecast time). Errors for a time before the current step or a non-finite value.
  std::expected<void, std::string> observe(std::int64_t t, double value);

  // Forecasts `horizon` steps after the last observed step.
  std::expected<Forecast, std::string> forecast(std::size_t horizon) const;

  // The window as a series (NaN where nothing was observed).
  const Series& history() const { return series_; }

 private:
  void trim();

  ForecastOptions options_;
  Series series_;
  std::size_t window_;     // steps kept
  std::size_t count_ = 0;  // observations in the last step
};

}  // namespace dso::predictor
