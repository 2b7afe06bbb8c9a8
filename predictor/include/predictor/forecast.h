// predictor/forecast.h: the public entry point of the forecasting library.
//
// The predictor turns a regularly sampled history (request rate, load) into a point forecast and
// quantile forecasts for the next steps. It is a functional core: no I/O, no clock reads, no
// globals; the same history and options always give the same forecast.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dso::predictor {

// A regularly sampled series: values[i] is the observation at start + i * step (unix seconds).
// NaN marks a missing observation.
struct Series {
  std::int64_t start = 0;
  std::int64_t step = 60;
  std::vector<double> values{};

  std::int64_t time_at(std::size_t i) const { return start + static_cast<std::int64_t>(i) * step; }
  // The time of the first step after the last value: where a forecast starts.
  std::int64_t end() const { return time_at(values.size()); }
};

enum class ModelKind { kAuto, kProphet, kHoltWinters, kSeasonalNaiveDay, kSeasonalNaiveWeek };

// "auto", "prophet", "holt-winters", "snaive-day", "snaive-week".
std::optional<ModelKind> parse_model_kind(std::string_view name);
std::string_view to_string(ModelKind kind);

struct ForecastOptions {
  ModelKind model = ModelKind::kAuto;
  std::size_t horizon = 0;          // steps to forecast, >= 1
  std::vector<double> quantiles{};  // levels in (0, 1), e.g. {0.5, 0.9, 0.99}

  // Backtest (model choice for kAuto, and the residuals behind the quantiles): rolling origins
  // over the last `backtest_days` days of the history, each forecasting min(horizon, one day)
  // ahead and compared with what happened. Origins are one backtest horizon apart but at least
  // 1/8 day (so a 1-hour horizon gets 56 origins over 7 days, a day-ahead one 7), at most
  // `backtest_origins`. Cost: one fit per origin and candidate.
  double backtest_days = 7;
  std::size_t backtest_origins = 64;
  // kAuto: average the best `combine_top` candidates by backtest, weighted by 1 / MAE^2, among
  // those whose backtest MAE is within `combine_within` times the best one (0: no such limit).
  // Measured on the four traces and M4 hourly (docs/predictor.md): combining all candidates was
  // best on the traces, within 1.2 best on M4 and second on the traces.
  std::size_t combine_top = 16;
  double combine_within = 1.5;
  // kAuto also considers the Prophet-style and Holt-Winters models (each backtest origin refits
  // them: about 30x the cost). Off by default: on the benchmark traces they did not improve
  // the combination (docs/predictor.md).
  bool auto_heavy_models = false;
  // Only the most recent `max_history_days` days are used (bounds the cost of long histories).
  double max_history_days = 56;
  // kAuto: consider only the candidates with these names (see Forecast::scores); empty: all.
  std::vector<std::string> candidates{};
};

// One candidate's backtest score (mean absolute error over all origins and leads).
struct ModelScore {
  std::string model;
  double mae = 0;
  double weight = 0;  // its weight in the forecast (0: not used)
};

struct Forecast {
  std::int64_t start = 0;  // time of point[0]: the history's end()
  std::int64_t step = 0;
  std::string model;  // the model that produced it, e.g. "snaive-week" or a combination's name
  std::vector<double> point;                   // horizon values
  std::vector<double> quantile_levels;         // as requested, in the same order
  std::vector<std::vector<double>> quantiles;  // quantiles[k][i]: level k at step i
  std::vector<ModelScore> scores;              // the backtest of each candidate considered
  std::size_t filled = 0;                      // NaN values of the history that were filled

  // The band for `level` (exact match), or nullptr.
  const std::vector<double>* quantile(double level) const;
};

// Fits the chosen model (kAuto: chosen or combined by backtest on the recent history) and
// forecasts options.horizon steps after history.end(). Errors (a one-line message) for a horizon
// of 0, quantile levels outside (0, 1), a non-positive step, or too few observed points.
std::expected<Forecast, std::string> forecast(const Series& history,
                                              const ForecastOptions& options);

}  // namespace dso::predictor
