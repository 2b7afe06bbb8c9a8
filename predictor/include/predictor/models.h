// predictor/models.h: the individual forecasting models behind forecast().
//
// Each model takes a gap-free history (values only, oldest first; fill NaN before calling) and
// returns `horizon` point forecasts for the steps after its last value. All are deterministic and
// allocate only their result and O(history) scratch. Periods are in steps (a day at a 5-minute
// step is 288). Costs are for n history points, horizon h, period P.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace dso::predictor {

// Seasonal naive: repeats the last period, y[t + i] = y[t + i - P * ceil((i + 1) / P)].
// Needs n >= P. Cost O(h).
std::vector<double> seasonal_naive_forecast(std::span<const double> y, std::size_t period,
                                            std::size_t horizon);

// Robust seasonal profile ("median of the last K days at this time of day, adjusted to today's
// level"). For each future step the profile is a trimmed mean of the values one, two, ... K
// periods earlier, over a window of +-`smooth` neighbouring phases; a level correction, the
// median difference between the last `level_window` observations and their own profile, is added
// and decays geometrically with the lead (per-step factor `level_decay`).
struct SeasonalProfileOptions {
  std::size_t period = 0;  // P, steps (>= 2)
  std::size_t cycles = 4;  // K: how many past periods are combined (uses those available)
  std::size_t smooth = 0;  // half-width of the phase window
  double trim = 0.25;      // fraction trimmed at each end before averaging (0.5 -> median)
  // When in (0, 1): a weighted mean instead, weight decay^(k-1) for the value k periods back
  // (recent periods count more); `trim` is then ignored.
  double decay = 0;
  std::size_t level_window = 0;  // steps of recent history for the level correction; 0: none
  double level_decay = 1.0;      // per-step decay of the correction (1: constant)
};
// Needs n >= P. Cost O(h * K * (2 * smooth + 1) + level_window * K).
std::vector<double> seasonal_profile_forecast(std::span<const double> y, std::size_t horizon,
                                              const SeasonalProfileOptions& options);

// Chooses SeasonalProfileOptions::level_decay for a series: how long a departure from the
// profile persists. Over the last `fit_steps` of y it replays the level correction at origins
// half a level window apart and picks, among half-lives of 0 (no correction), 1, 3, 6 and 24
// level windows and "persistent", the one with the smallest absolute error at leads 1 .. max_lead.
// Returns the per-step decay (0: no correction). Cost O((fit_steps + max_lead) * K + origins *
// log(max_lead) * 6).
double fit_level_decay(std::span<const double> y, const SeasonalProfileOptions& options,
                       std::size_t fit_steps, std::size_t max_lead);

// Combination of seasonal lags: the mean (or median) of the seasonal-naive forecasts for each
// period in `periods` (e.g. one day and one week). Cost O(h * |periods|).
std::vector<double> seasonal_lags_forecast(std::span<const double> y, std::size_t horizon,
                                           std::span<const std::size_t> periods, bool median);

// Prophet-style additive or multiplicative regression:
//   y(t) = g(t) + s(t)            (additive)      or   y(t) = g(t) * (1 + s(t))  (multiplicative)
//   g(t) = m + k t + sum_j delta_j (t - c_j)_+    piecewise-linear trend, changepoints c_j spread
//                                                  evenly over the first `changepoint_range` of the
//                                                  history, Laplace(0, changepoint_prior_scale)
//                                                  prior on delta (L1, so most are exactly ~0)
//   s(t) = sum over periods p, k = 1..order_p of a_pk cos(2 pi k t / p) + b_pk sin(2 pi k t / p)
//                                                  Normal(0, seasonality_prior_scale) prior
// As in Prophet, time is scaled to [0, 1] over the history and y by its maximum |y|. The MAP
// estimate is found by iteratively reweighted least squares: the L1 prior as an adaptive ridge,
// outliers (incidents, spikes) down-weighted by Huber weights with a MAD scale. To keep the cost
// flat in n, the fit runs on bucket means of at most `max_fit_rows` rows (the design is averaged
// the same way, so the seasonal coefficients are exact for the native step).
struct FourierSeasonality {
  double period = 0;      // in steps (a day at a 5-minute step: 288)
  std::size_t order = 0;  // number of harmonics
};
struct ProphetOptions {
  std::vector<FourierSeasonality> seasonalities{};  // empty: none
  bool multiplicative = false;
  std::size_t changepoints = 25;
  double changepoint_range = 0.8;
  double changepoint_prior_scale = 0.05;
  double seasonality_prior_scale = 10.0;
  double huber_k = 1.5;            // Huber threshold in robust standard deviations; 0: plain LS
  std::size_t iterations = 8;      // IRLS iterations
  std::size_t max_fit_rows = 512;  // bucket the history to at most this many rows
  // Trend used for the forecast: "flat" keeps the last level (g at the end of the history), which
  // is what a day-ahead capacity plan usually wants; otherwise the fitted slope continues.
  bool flat_trend = false;
};
// Needs n >= 2 * (number of parameters) before bucketing. Cost O(n p + I (n/b) p^2 + I p^3) with
// p = 2 + changepoints + 2 * sum(order), I iterations, b the bucket size: about 2.5 ms (CPU) for
// 4,032 points with daily (10) and weekly (3) seasonality on one core.
std::vector<double> prophet_forecast(std::span<const double> y, std::size_t horizon,
                                     const ProphetOptions& options);

// Holt-Winters exponential smoothing with an optionally damped additive trend and additive or
// multiplicative seasonality of period P. alpha, beta, gamma, phi are chosen by minimising the
// one-step squared error over a coarse grid then a local refinement, unless given (>= 0).
struct HoltWintersOptions {
  std::size_t period = 0;  // P, steps; 0 or 1: no seasonality
  bool multiplicative = false;
  bool damped = true;
  double alpha = -1, beta = -1, gamma = -1, phi = -1;  // < 0: fitted
};
// Needs n >= 2 P. Cost O(n * G) with G the number of parameter sets tried (84): about 2.5 ms
// (CPU) for 4,032 points.
std::vector<double> holt_winters_forecast(std::span<const double> y, std::size_t horizon,
                                          const HoltWintersOptions& options);

// Periods present in a series, by autocorrelation of the detrended series at the lag of one day
// and one week (and at the neighbouring lags, which must not be higher).
struct DetectedPeriods {
  std::size_t day = 0;   // steps per day if a daily cycle is present, else 0
  std::size_t week = 0;  // steps per week if a weekly cycle is present, else 0
  double day_acf = 0;    // autocorrelation at one day (0 when not measurable)
  double week_acf = 0;
};
// `step` in seconds. A period needs at least two full cycles in the history to be detected.
// Cost O(n) per lag tested.
DetectedPeriods detect_periods(std::span<const double> y, long long step);

}  // namespace dso::predictor
