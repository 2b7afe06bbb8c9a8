#include "predictor/forecast.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "predictor/models.h"

namespace dso::predictor {
namespace {

using ModelFn = std::function<std::vector<double>(std::span<const double>, std::size_t)>;

struct Candidate {
  std::string name;
  ModelFn fn;
  std::size_t min_points = 1;  // history the model needs
};

// Linear interpolation of NaN runs (edges take the nearest value); returns how many were filled.
std::size_t fill_nan(std::vector<double>& v) {
  std::size_t filled = 0;
  std::size_t last = v.size();
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(v[i])) continue;
    if (last == v.size()) {
      for (std::size_t k = 0; k < i; ++k) v[k] = v[i];
      filled += i;
    } else if (i > last + 1) {
      for (std::size_t k = last + 1; k < i; ++k) {
        const double w = static_cast<double>(k - last) / static_cast<double>(i - last);
        v[k] = v[last] * (1 - w) + v[i] * w;
      }
      filled += i - last - 1;
    }
    last = i;
  }
  if (last != v.size()) {
    for (std::size_t k = last + 1; k < v.size(); ++k) v[k] = v[last];
    filled += v.size() - last - 1;
  }
  return filled;
}

// Empirical quantile (linear interpolation between order statistics) of sorted data.
double quantile_sorted(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0.0;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

// Mean of v after dropping the `trim` fraction at each end (0: the mean; 0.5: the median).
double trimmed_mean_of(std::vector<double> v, double trim) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  if (trim >= 0.5) return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  auto cut = static_cast<std::size_t>(std::floor(std::max(trim, 0.0) * static_cast<double>(n)));
  if (2 * cut >= n) cut = (n - 1) / 2;
  double sum = 0;
  for (std::size_t i = cut; i < n - cut; ++i) sum += v[i];
  return sum / static_cast<double>(n - 2 * cut);
}

// The fractional position of x among sorted data as a level in [0, 1], the inverse of
// quantile_sorted: 0 at or below the smallest value, 1 above the largest.
double position_in_sorted(const std::vector<double>& sorted, double x) {
  const std::size_t n = sorted.size();
  if (n < 2 || x <= sorted.front()) return 0.0;
  if (x > sorted.back()) return 1.0;
  const auto hi = static_cast<std::size_t>(std::lower_bound(sorted.begin(), sorted.end(), x) -
                                           sorted.begin());  // sorted[hi - 1] < x <= sorted[hi]
  const double gap = sorted[hi] - sorted[hi - 1];
  const double pos = static_cast<double>(hi - 1) + (gap > 0 ? (x - sorted[hi - 1]) / gap : 1.0);
  return pos / static_cast<double>(n - 1);
}

struct Periods {
  std::size_t day = 0;   // steps per day (0: the step is a day or longer)
  std::size_t week = 0;  // steps per week
  DetectedPeriods detected;
};

Periods periods_for(std::span<const double> y, std::int64_t step) {
  Periods p;
  if (step < 86400 && 86400 % step == 0) p.day = static_cast<std::size_t>(86400 / step);
  if (step <= 7 * 86400 && (7 * 86400) % step == 0)
    p.week = static_cast<std::size_t>(7 * 86400 / step);
  p.detected = detect_periods(y, step);
  return p;
}

ProphetOptions prophet_defaults(const Periods& p, std::size_t n) {
  ProphetOptions o;
  // As Prophet: daily seasonality for sub-daily data with at least two days, weekly with at least
  // two weeks. Orders: Prophet's defaults (4 for daily is too coarse for 5-minute traffic; we use
  // 10, Prophet's yearly default, which resolves features of about 2.4 hours).
  if (p.day >= 2 && n >= 2 * p.day) o.seasonalities.push_back({static_cast<double>(p.day), 10});
  if (p.week >= 2 && n >= 2 * p.week) o.seasonalities.push_back({static_cast<double>(p.week), 3});
  return o;
}

std::vector<Candidate> candidates_for(ModelKind kind, const Periods& p,
                                      std::span<const double> history,
                                      const ForecastOptions& options) {
  const std::size_t n = history.size();
  const bool heavy = options.auto_heavy_models;
  std::vector<Candidate> out;
  const std::size_t day = p.day, week = p.week;
  const auto add_snaive = [&](std::string name, std::size_t period) {
    out.push_back({std::move(name),
                   [period](std::span<const double> y, std::size_t h) {
                     return seasonal_naive_forecast(y, period, h);
                   },
                   std::max<std::size_t>(period, 1)});
  };
  const auto add_prophet = [&](std::string name, ProphetOptions o) {
    const std::size_t params = 2 + std::min(o.changepoints, n / 4) + [&] {
      std::size_t s = 0;
      for (const auto& f : o.seasonalities) s += 2 * f.order;
      return s;
    }();
    out.push_back(
        {std::move(name),
         [o](std::span<const double> y, std::size_t h) { return prophet_forecast(y, h, o); },
         std::max<std::size_t>(2 * params, day)});
  };
  const auto add_hw = [&](std::string name, HoltWintersOptions o) {
    out.push_back(
        {std::move(name),
         [o](std::span<const double> y, std::size_t h) { return holt_winters_forecast(y, h, o); },
         std::max<std::size_t>(2 * o.period, 3)});
  };
  // A level-corrected profile: the correction's persistence is fitted on the last week of the
  // history (once per forecast, so the backtest origins share it); a correction the fit turns off
  // on a one-cycle profile would duplicate the plain seasonal naive candidate and is dropped.
  const auto add_profile = [&](std::string name, SeasonalProfileOptions o) {
    if (o.level_window > 0 && o.level_decay < 0) {
      const std::size_t unit = day >= 2 ? day : o.period;
      o.level_decay = fit_level_decay(history, o, 7 * unit, std::min(options.horizon, unit));
      if (o.level_decay == 0) {
        o.level_window = 0;
        if (o.cycles == 1) return;  // the same as the plain seasonal naive candidate
      }
    }
    out.push_back({std::move(name),
                   [o](std::span<const double> y, std::size_t h) {
                     return seasonal_profile_forecast(y, h, o);
                   },
                   o.period});
  };
  switch (kind) {
    case ModelKind::kSeasonalNaiveDay:
      add_snaive("snaive-day", day ? day : 1);
      break;
    case ModelKind::kSeasonalNaiveWeek:
      add_snaive("snaive-week", week ? week : 1);
      break;
    case ModelKind::kProphet:
      add_prophet("prophet", prophet_defaults(p, n));
      break;
    case ModelKind::kHoltWinters:
      add_hw(
          "holt-winters",
          {.period = day >= 2 && n >= 2 * day ? day : 0, .multiplicative = false, .damped = true});
      break;
    case ModelKind::kAuto: {
      const bool daily = p.detected.day != 0;
      const bool weekly = p.detected.week != 0;
      // Level correction: the median gap between the last hour and its own profile, persisting
      // as fitted (fit_level_decay).
      const std::size_t lw = day ? std::max<std::size_t>(day / 24, 2) : 0;
      const auto profile = [&](std::size_t period, std::size_t cycles, double trim, double decay,
                               bool level) {
        return SeasonalProfileOptions{.period = period,
                                      .cycles = cycles,
                                      .smooth = 0,
                                      .trim = trim,
                                      .decay = decay,
                                      .level_window = level ? lw : 0,
                                      .level_decay = level ? -1.0 : 1.0};
      };
      if (day >= 2 && n >= day) {
        add_snaive("snaive-day", day);
        add_profile("snaive-day-level", profile(day, 1, 0, 0, true));
        add_profile("profile-day", profile(day, 14, 0, 0.3, true));
        add_profile("median-day", profile(day, 7, 0.5, 0, true));
      }
      if (week >= 2 && n >= week) {
        add_snaive("snaive-week", week);
        add_profile("median-week", profile(week, 2, 0.5, 0, false));
        if (day >= 2 && n >= week + 2 * lw) {
          add_profile("snaive-week-level", profile(week, 1, 0, 0, true));
          add_profile("median-week-level", profile(week, 2, 0.5, 0, true));
        }
        if (day >= 2) {
          const std::vector<std::size_t> dw = {day, week};
          out.push_back({"mean-day-week",
                         [dw](std::span<const double> y, std::size_t h) {
                           return seasonal_lags_forecast(y, h, dw, false);
                         },
                         week});
          const std::vector<std::size_t> mix = {day, 2 * day, 3 * day, week, 2 * week};
          out.push_back({"median-lags",
                         [mix](std::span<const double> y, std::size_t h) {
                           return seasonal_lags_forecast(y, h, mix, true);
                         },
                         week});
        }
      }
      if (heavy && day >= 2 && n >= 2 * day) {
        add_prophet("prophet", prophet_defaults(p, n));
        add_hw("holt-winters", {.period = day, .multiplicative = false, .damped = true});
      }
      if (out.empty() || (!daily && !weekly)) {
        add_hw("holt", {.period = 0, .multiplicative = false, .damped = true});
        add_snaive("naive", 1);
      }
      break;
    }
  }
  return out;
}

}  // namespace

std::optional<ModelKind> parse_model_kind(std::string_view name) {
  if (name == "auto") return ModelKind::kAuto;
  if (name == "prophet") return ModelKind::kProphet;
  if (name == "holt-winters") return ModelKind::kHoltWinters;
  if (name == "snaive-day") return ModelKind::kSeasonalNaiveDay;
  if (name == "snaive-week") return ModelKind::kSeasonalNaiveWeek;
  return std::nullopt;
}

std::string_view to_string(ModelKind kind) {
  switch (kind) {
    case ModelKind::kAuto:
      return "auto";
    case ModelKind::kProphet:
      return "prophet";
    case ModelKind::kHoltWinters:
      return "holt-winters";
    case ModelKind::kSeasonalNaiveDay:
      return "snaive-day";
    case ModelKind::kSeasonalNaiveWeek:
      return "snaive-week";
  }
  return "unknown";
}

const std::vector<double>* Forecast::quantile(double level) const {
  for (std::size_t k = 0; k < quantile_levels.size(); ++k) {
    if (quantile_levels[k] == level) return &quantiles[k];
  }
  return nullptr;
}

std::expected<Forecast, std::string> forecast(const Series& history,
                                              const ForecastOptions& options) {
  if (options.horizon == 0) return std::unexpected("forecast: horizon must be at least 1 step");
  if (history.step <= 0) {
    return std::unexpected("forecast: step must be positive, got " + std::to_string(history.step));
  }
  for (const double q : options.quantiles) {
    if (!(q > 0 && q < 1)) {
      return std::unexpected("forecast: quantile level " + std::to_string(q) +
                             " is outside (0, 1)");
    }
  }
  // The recent history, gap-filled.
  std::size_t keep = history.values.size();
  if (options.max_history_days > 0) {
    const auto cap = static_cast<std::size_t>(options.max_history_days * 86400.0 /
                                              static_cast<double>(history.step));
    keep = std::min(keep, std::max<std::size_t>(cap, 1));
  }
  const std::size_t skip = history.values.size() - keep;
  std::vector<double> y(history.values.begin() + static_cast<std::ptrdiff_t>(skip),
                        history.values.end());
  std::size_t observed = 0;
  for (const double v : y) observed += std::isnan(v) ? 0 : 1;
  if (observed < 2) {
    return std::unexpected("forecast: too few observed points (" + std::to_string(observed) +
                           "), at least 2 needed");
  }
  Forecast out;
  out.filled = fill_nan(y);
  out.start = history.end();
  out.step = history.step;
  const std::size_t n = y.size();
  const std::size_t H = options.horizon;

  const Periods periods = periods_for(y, history.step);
  std::vector<Candidate> candidates = candidates_for(options.model, periods, y, options);
  // Drop candidates that need more history than there is; a chosen model must fit.
  std::erase_if(candidates, [&](const Candidate& c) { return c.min_points > n; });
  if (!options.candidates.empty()) {
    std::string available;
    for (const auto& c : candidates) available += (available.empty() ? "" : ", ") + c.name;
    std::erase_if(candidates, [&](const Candidate& c) {
      return std::find(options.candidates.begin(), options.candidates.end(), c.name) ==
             options.candidates.end();
    });
    if (candidates.empty()) {
      return std::unexpected(
          "forecast: none of the requested candidates applies (available: " + available + ")");
    }
  }
  if (candidates.empty()) {
    const auto all = candidates_for(options.model, periods, y, options);
    return std::unexpected("forecast: too few points for model " +
                           std::string(to_string(options.model)) + ": " + std::to_string(n) +
                           " given, at least " +
                           std::to_string(all.empty() ? 2 : all.front().min_points) + " needed");
  }

  // Rolling-origin backtest over the end of the history.
  const std::size_t hb = std::min(H, periods.day >= 2 ? periods.day : H);
  const std::size_t span =
      periods.day >= 2
          ? static_cast<std::size_t>(options.backtest_days * static_cast<double>(periods.day))
          : std::min<std::size_t>(n / 3, 28 * hb);
  const std::size_t stride = std::max<std::size_t>(hb, periods.day >= 2 ? periods.day / 8 : 1);
  const std::size_t n_origins =
      std::min<std::size_t>(options.backtest_origins, std::max<std::size_t>(span / stride, 1));
  std::vector<std::size_t> origins;  // each: train on y[0, o), compare y[o, o + hb)
  std::size_t min_needed = 0;
  for (const auto& c : candidates) min_needed = std::max(min_needed, c.min_points);
  // A single model without quantiles needs no backtest: its score is not used.
  const bool need_backtest = candidates.size() > 1 || !options.quantiles.empty();
  for (std::size_t j = 0; need_backtest && j < n_origins; ++j) {
    if (n < hb + j * stride) break;
    const std::size_t o = n - hb - j * stride;
    if (o < min_needed) break;
    origins.push_back(o);
  }
  const std::size_t m = candidates.size();
  // bt[c][j][i]: candidate c's forecast from origin j at lead i.
  std::vector<std::vector<std::vector<double>>> bt(m);
  std::vector<double> mae(m, 0.0);
  std::vector<double> per_origin;
  // Day-ahead backtests (every origin forecasts a whole day) summarise and combine by their own
  // rule: the days are then comparable units, and a median over them is robust to atypical days.
  const bool whole_days = periods.day >= 2 && hb >= periods.day;
  const double score_trim = whole_days ? options.daily_score_trim : options.score_trim;
  const double combine_within = whole_days ? options.daily_combine_within : options.combine_within;
  // Quantiles of forecasts beyond a day rest on backtest errors up to `hq` leads (two days at
  // most; the origins' forecasts are extended where the history has the outcomes), so that
  // e.g. 48 hourly steps are not extrapolated from 24. Scores use the first hb leads only.
  const std::size_t hq =
      options.quantiles.empty() || periods.day < 2 ? hb : std::min(H, 2 * periods.day);
  for (std::size_t c = 0; c < m; ++c) {
    per_origin.clear();
    for (const std::size_t o : origins) {
      bt[c].push_back(candidates[c].fn(std::span<const double>(y.data(), o),
                                       std::max(hb, std::min(hq, n - o))));
      double sum = 0;
      for (std::size_t i = 0; i < hb; ++i) sum += std::abs(bt[c].back()[i] - y[o + i]);
      per_origin.push_back(sum / static_cast<double>(hb));
    }
    mae[c] = trimmed_mean_of(per_origin, score_trim);
  }
  // Weights: the best `combine_top` by backtest MAE, weighted by 1 / MAE^2.
  std::vector<std::size_t> order(m);
  for (std::size_t c = 0; c < m; ++c) order[c] = c;
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return mae[a] < mae[b]; });
  std::vector<double> weight(m, 0.0);
  std::size_t top = origins.empty() ? 1 : std::clamp<std::size_t>(options.combine_top, 1, m);
  if (combine_within > 0) {
    while (top > 1 && mae[order[top - 1]] > combine_within * mae[order[0]]) --top;
  }
  double wsum = 0;
  for (std::size_t r = 0; r < top; ++r) {
    const std::size_t c = order[r];
    weight[c] = 1.0 / std::max(mae[c] * mae[c], 1e-12);
    wsum += weight[c];
  }
  for (double& w : weight) w /= wsum;

  out.point.assign(H, 0.0);
  std::string name;
  for (std::size_t r = 0; r < top; ++r) {
    const std::size_t c = order[r];
    const auto f = candidates[c].fn(y, H);
    for (std::size_t i = 0; i < H; ++i) out.point[i] += weight[c] * f[i];
    name += (name.empty() ? "" : "+") + candidates[c].name;
  }
  out.model = name;
  for (std::size_t c = 0; c < m; ++c) out.scores.push_back({candidates[c].name, mae[c], weight[c]});

  // Quantiles: the point forecast plus empirical quantiles of the combination's backtest errors
  // at nearby leads (leads beyond the backtest horizon use the last ones, widened).
  out.quantile_levels = options.quantiles;
  if (!options.quantiles.empty()) {
    // err[i]: errors at lead i over the origins whose outcome at that lead is known; who[i]:
    // which origin each came from.
    std::vector<std::vector<double>> err(hq);
    std::vector<std::vector<std::size_t>> who(hq);
    for (std::size_t j = 0; j < origins.size(); ++j) {
      for (std::size_t i = 0; i < hq && origins[j] + i < n; ++i) {
        double f = 0;
        for (std::size_t c = 0; c < m; ++c) {
          if (weight[c] > 0) f += weight[c] * bt[c][j][i];
        }
        err[i].push_back(y[origins[j] + i] - f);
        who[i].push_back(j);
      }
    }
    if (origins.empty()) {
      // No room for a backtest: one-step changes, widened with the square root of the lead.
      std::vector<double> d;
      for (std::size_t t = 1; t < n; ++t) d.push_back(y[t] - y[t - 1]);
      for (std::size_t i = 0; i < hq; ++i) {
        for (const double v : d) err[i].push_back(v * std::sqrt(static_cast<double>(i + 1)));
      }
    }
    // Pool a window of leads so that each quantile rests on at least ~40 errors.
    const std::size_t per_lead = std::max<std::size_t>(err[0].size(), 1);
    const std::size_t half = std::min(hq / 2, (40 / per_lead + 1) / 2);
    const auto window = [&](std::size_t i) {
      return std::pair{i > half ? i - half : 0, std::min(hq - 1, i + half)};
    };
    // Coverage calibration: the band of a lead is built from the pooled errors of every origin,
    // its own included, so on the backtest it covers about its level by construction, and less on
    // days unlike the others. Leaving each origin out in turn, the position of its errors among
    // the other origins' errors (0: below all, 1: above all) is how the band would have fared on
    // it; the level used is the quantile of those positions at the requested level, so that the
    // left-out coverage of the backtest equals the requested one.
    std::vector<double> levels = options.quantiles;
    if (options.calibrate_quantiles && origins.size() >= 3) {
      std::vector<double> positions;
      std::vector<std::pair<double, std::size_t>> tagged;
      std::vector<double> rest;
      for (std::size_t i = 0; i < hq; ++i) {
        tagged.clear();
        const auto [lo, hi] = window(i);
        for (std::size_t l = lo; l <= hi; ++l) {
          for (std::size_t e = 0; e < err[l].size(); ++e) tagged.emplace_back(err[l][e], who[l][e]);
        }
        std::sort(tagged.begin(), tagged.end());
        for (std::size_t e = 0; e < err[i].size(); ++e) {
          rest.clear();
          for (const auto& [v, from] : tagged) {
            if (from != who[i][e]) rest.push_back(v);
          }
          positions.push_back(position_in_sorted(rest, err[i][e]));
        }
      }
      std::sort(positions.begin(), positions.end());
      for (double& q : levels) q = std::clamp(quantile_sorted(positions, q), 0.0, 1.0);
    }
    out.quantiles.assign(options.quantiles.size(), std::vector<double>(H));
    std::vector<double> pool;
    std::vector<std::vector<double>> qe(options.quantiles.size(), std::vector<double>(hq));
    for (std::size_t i = 0; i < hq; ++i) {
      pool.clear();
      const auto [lo, hi] = window(i);
      for (std::size_t l = lo; l <= hi; ++l) pool.insert(pool.end(), err[l].begin(), err[l].end());
      std::sort(pool.begin(), pool.end());
      for (std::size_t k = 0; k < options.quantiles.size(); ++k) {
        qe[k][i] = quantile_sorted(pool, levels[k]);
      }
    }
    for (std::size_t k = 0; k < options.quantiles.size(); ++k) {
      for (std::size_t i = 0; i < H; ++i) {
        // Beyond the backtest horizon, widen the last lead's errors like a random walk's.
        const double widen =
            i < hq ? 1.0 : std::sqrt(static_cast<double>(i + 1) / static_cast<double>(hq));
        out.quantiles[k][i] = out.point[i] + widen * qe[k][std::min(i, hq - 1)];
      }
    }
    // Keep the bands ordered by level at every step.
    std::vector<std::size_t> by_level(options.quantiles.size());
    for (std::size_t k = 0; k < by_level.size(); ++k) by_level[k] = k;
    std::sort(by_level.begin(), by_level.end(),
              [&](auto a, auto b) { return options.quantiles[a] < options.quantiles[b]; });
    for (std::size_t i = 0; i < H; ++i) {
      for (std::size_t r = 1; r < by_level.size(); ++r) {
        out.quantiles[by_level[r]][i] =
            std::max(out.quantiles[by_level[r]][i], out.quantiles[by_level[r - 1]][i]);
      }
    }
  }
  return out;
}

}  // namespace dso::predictor
