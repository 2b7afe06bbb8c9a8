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
  // 1/8 day, at most `backtest_origins`, and leave each candidate the history it needs (a 1-hour
  // horizon gets the last 64 origins, 3 hours apart; a day-ahead one up to 14, one a day). Cost:
  // one fit per origin and candidate. 14 days: measured against 4 and 7 in docs/predictor.md.
  double backtest_days = 14;
  std::size_t backtest_origins = 64;
  // kAuto: average the best `combine_top` candidates by backtest, weighted by 1 / score^2, among
  // those whose score is within `combine_within` times the best one (0: no such limit). A
  // candidate's score is its backtest MAE per origin, summarised by the mean after dropping the
  // `score_trim` fraction of origins at each end (0: the plain mean; 0.5: the median).
  // Measured on the four traces and M4 hourly (docs/predictor.md): for backtests shorter than a
  // day (hour-ahead), the plain mean and 1.5 were best; combining all candidates was best on the
  // traces, worse on M4.
  std::size_t combine_top = 16;
  double combine_within = 1.5;
  double score_trim = 0;
  // The same for backtests whose every origin forecasts a whole day or more (day-ahead): the
  // origins are then comparable days, and the median over them keeps one atypical day (an
  // incident, a holiday, a weekday that broke the weekly pattern) from deciding the weights.
  // Measured in docs/predictor.md: better day-ahead on three of the four traces, M4 within 0.4%.
  double daily_combine_within = 1.2;
  double daily_score_trim = 0.5;
  // Quantiles: calibrate the level on the backtest with each origin left out in turn, so that
  // the band would have covered its level of the backtest's outcomes out of sample (see
  // forecast.cc); false: the plain pooled quantiles of the backtest errors.
  bool calibrate_quantiles = true;
  // kAuto also considers the Prophet-style and Holt-Winters models (each backtest origin refits
  // them: about 15x the cost). Off by default: on the benchmark traces they did not improve the
  // day-ahead combination (docs/predictor.md).
  bool auto_heavy_models = false;
  // Only the most recent `max_history_days` days are used (bounds the cost of long histories).
  double max_history_days = 56;
  // kAuto: consider only the candidates with these names (see Forecast::scores); empty: all.
  std::vector<std::string> candidates{};
};

// One candidate's backtest score (absolute error per origin, summarised as ForecastOptions says).
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
  std::vector<ModelScore> scores;  // each candidate's backtest (mae 0 when no backtest ran)
  std::size_t filled = 0;          // NaN values of the history that were filled

  // The band for `level` (exact match), or nullptr.
  const std::vector<double>* quantile(double level) const;
};

// Fits the chosen model (kAuto: chosen or combined by backtest on the recent history) and
// forecasts options.horizon steps after history.end(). NaN values are filled by linear
// interpolation first. Errors (a one-line message) for a horizon of 0, quantile levels outside
// (0, 1), a non-positive step, or too few points for the model.
//
// Cost (CPU, one core; docs/predictor.md): kAuto about 2.5-3 ms for 14 days at a 5-minute step
// day-ahead with a quantile (1.7 ms without; the coverage calibration is the difference),
// 1-1.7 ms hour-ahead, 0.6 ms for 56 days at 30 minutes; kProphet and kHoltWinters about 2.5 ms
// per fit of 4,032 points, times (1 + backtest origins) when quantiles are requested; seasonal
// naive microseconds. Deterministic; safe to call from several threads at once.
std::expected<Forecast, std::string> forecast(const Series& history,
                                              const ForecastOptions& options);

}  // namespace dso::predictor
