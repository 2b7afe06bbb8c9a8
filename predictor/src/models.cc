#include "predictor/models.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <numbers>

namespace dso::predictor {
namespace {

// Trimmed mean of v (reordered in place); trim >= 0.5 gives the median. Small inputs (the usual
// case: a handful of seasonal lags) take an insertion sort.
double trimmed_mean(std::vector<double>& v, double trim) {
  const std::size_t n = v.size();
  if (n == 0) return 0.0;
  if (n == 1) return v[0];
  if (n == 2) return 0.5 * (v[0] + v[1]);
  if (n <= 32) {
    for (std::size_t i = 1; i < n; ++i) {
      const double x = v[i];
      std::size_t j = i;
      for (; j > 0 && v[j - 1] > x; --j) v[j] = v[j - 1];
      v[j] = x;
    }
  } else if (trim >= 0.5) {
    const auto mid = v.begin() + static_cast<std::ptrdiff_t>(n / 2);
    std::nth_element(v.begin(), mid, v.end());
    if (n % 2 == 1) return *mid;
    return 0.5 * (*mid + *std::max_element(v.begin(), mid));
  } else {
    std::sort(v.begin(), v.end());
  }
  if (trim >= 0.5) return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  auto cut = static_cast<std::size_t>(std::floor(trim * static_cast<double>(n)));
  if (2 * cut >= n) cut = (n - 1) / 2;
  double sum = 0;
  for (std::size_t i = cut; i < n - cut; ++i) sum += v[i];
  return sum / static_cast<double>(n - 2 * cut);
}

double median_of(std::vector<double> v) {
  return trimmed_mean(v, 0.5);
}
double median_in_place(std::vector<double>& v) {
  return trimmed_mean(v, 0.5);
}

}  // namespace

std::vector<double> seasonal_naive_forecast(std::span<const double> y, std::size_t period,
                                            std::size_t horizon) {
  std::vector<double> out(horizon, y.empty() ? 0.0 : y.back());
  if (period == 0 || y.size() < period) return out;
  const std::size_t n = y.size();
  for (std::size_t i = 0; i < horizon; ++i) {
    const std::size_t back = period * ((i / period) + 1);
    out[i] = y[n + i - back];
  }
  return out;
}

namespace {

// Profile at absolute index t (may be >= y.size()): the (trimmed or weighted) mean of
// y[t - k P + d] over k = 1..K and |d| <= smooth, using only indices < limit (the information
// available at that time).
double profile_value(std::span<const double> y, const SeasonalProfileOptions& o, std::size_t t,
                     std::size_t limit, std::vector<double>& scratch) {
  const std::size_t p = o.period;
  scratch.clear();
  double sum = 0, wsum = 0, w = 1;
  const bool weighted = o.decay > 0 && o.decay < 1;
  for (std::size_t k = 1; k <= o.cycles; ++k) {
    if (k * p > t) break;
    const std::size_t c = t - k * p;
    for (std::size_t d = 0; d <= 2 * o.smooth; ++d) {
      if (c + d < o.smooth) continue;
      const std::size_t idx = c + d - o.smooth;
      if (idx >= limit) continue;
      if (weighted) {
        sum += w * y[idx];
        wsum += w;
      } else {
        scratch.push_back(y[idx]);
      }
    }
    w *= o.decay;
  }
  if (weighted) return wsum > 0 ? sum / wsum : y[std::min(t, limit) - 1];
  if (scratch.empty()) return y[std::min(t, limit) - 1];
  return trimmed_mean(scratch, o.trim);
}

}  // namespace

std::vector<double> seasonal_profile_forecast(std::span<const double> y, std::size_t horizon,
                                              const SeasonalProfileOptions& o) {
  const std::size_t n = y.size();
  const std::size_t p = o.period;
  if (p < 2 || n < p) return seasonal_naive_forecast(y, p, horizon);
  std::vector<double> scratch;
  // Leads past one period reuse the same phase (only observed values are combined).
  std::vector<double> out(horizon);
  for (std::size_t i = 0; i < horizon; ++i) {
    std::size_t t = n + i;
    while (t >= n + p) t -= p;
    out[i] = profile_value(y, o, t, n, scratch);
  }
  if (o.level_window > 0 && o.level_decay > 0 && n > p + o.level_window) {
    std::vector<double> diffs;
    diffs.reserve(o.level_window);
    for (std::size_t t = n - o.level_window; t < n; ++t) {
      diffs.push_back(y[t] - profile_value(y, o, t, t, scratch));
    }
    const double level = median_in_place(diffs);
    double w = 1.0;
    for (std::size_t i = 0; i < horizon; ++i) {
      w *= o.level_decay;
      out[i] += level * w;
    }
  }
  return out;
}

double fit_level_decay(std::span<const double> y, const SeasonalProfileOptions& o,
                       std::size_t fit_steps, std::size_t max_lead) {
  const std::size_t n = y.size();
  const std::size_t p = o.period;
  const std::size_t L = o.level_window;
  if (p < 2 || L == 0 || max_lead == 0) return 0.0;
  // Residuals r[s] = y[s] - profile(s) over the fitting span (plus the window before it).
  const std::size_t need = fit_steps + L + max_lead;
  if (n < p + L + 2) return 0.0;
  const std::size_t first = n > need + p ? n - need : p;
  std::vector<double> scratch, r(n - first);
  for (std::size_t s = first; s < n; ++s) r[s - first] = y[s] - profile_value(y, o, s, s, scratch);
  // Candidate half-lives, in level windows: none, 1, 3, 6, 24, persistent.
  static constexpr double kHalfLives[] = {0, 1, 3, 6, 24, -1};
  std::vector<double> decays;
  for (const double h : kHalfLives) {
    decays.push_back(h == 0  ? 0.0
                     : h < 0 ? 1.0
                             : std::pow(0.5, 1.0 / (h * static_cast<double>(L))));
  }
  // Leads evaluated: 1, 2, 3, 4, 6, 8, 12, ... up to max_lead (a geometric subset keeps it cheap).
  std::vector<std::size_t> leads;
  for (double l = 1; l <= static_cast<double>(max_lead); l *= 1.5) {
    const auto li = static_cast<std::size_t>(l);
    if (leads.empty() || li != leads.back()) leads.push_back(li);
  }
  std::vector<double> factor(decays.size() * leads.size());  // decay^lead
  for (std::size_t g = 0; g < decays.size(); ++g) {
    for (std::size_t j = 0; j < leads.size(); ++j) {
      factor[g * leads.size() + j] = std::pow(decays[g], static_cast<double>(leads[j]));
    }
  }
  std::vector<double> loss(decays.size(), 0.0), window(L);
  for (std::size_t t = L; t + max_lead <= r.size(); t += std::max<std::size_t>(1, L / 2)) {
    for (std::size_t k = 0; k < L; ++k) window[k] = r[t - L + k];
    const double level = median_in_place(window);
    for (std::size_t g = 0; g < decays.size(); ++g) {
      for (std::size_t j = 0; j < leads.size(); ++j) {
        loss[g] += std::abs(r[t + leads[j] - 1] - level * factor[g * leads.size() + j]);
      }
    }
  }
  return decays[static_cast<std::size_t>(std::min_element(loss.begin(), loss.end()) -
                                         loss.begin())];
}

std::vector<double> seasonal_lags_forecast(std::span<const double> y, std::size_t horizon,
                                           std::span<const std::size_t> periods, bool median) {
  std::vector<std::vector<double>> each;
  for (const std::size_t p : periods) {
    if (p >= 1 && y.size() >= p) each.push_back(seasonal_naive_forecast(y, p, horizon));
  }
  if (each.empty()) return seasonal_naive_forecast(y, 1, horizon);
  std::vector<double> out(horizon), v(each.size());
  for (std::size_t i = 0; i < horizon; ++i) {
    for (std::size_t j = 0; j < each.size(); ++j) v[j] = each[j][i];
    out[i] = median ? median_of(v) : trimmed_mean(v, 0.0);
  }
  return out;
}

std::vector<double> prophet_forecast(std::span<const double> y, std::size_t horizon,
                                     const ProphetOptions& o) {
  const std::size_t n = y.size();
  std::size_t n_season = 0;
  for (const auto& s : o.seasonalities) n_season += 2 * s.order;
  const std::size_t n_cp = std::min(o.changepoints, n / 4);
  const std::size_t p = 2 + n_cp + n_season;
  if (n < 2 * p || n < 4) return std::vector<double>(horizon, n ? y.back() : 0.0);

  double scale = 0;
  for (const double v : y) scale = std::max(scale, std::abs(v));
  if (scale == 0) return std::vector<double>(horizon, 0.0);
  const double tn = static_cast<double>(n - 1);  // t in [0, 1] over the history
  std::vector<double> cps(n_cp);
  for (std::size_t j = 0; j < n_cp; ++j) {
    cps[j] = o.changepoint_range * static_cast<double>(j + 1) / static_cast<double>(n_cp + 1);
  }
  // Feature row for absolute step index i (trend columns then seasonal columns).
  const auto fill_row = [&](double i, auto&& row) {
    const double t = i / tn;
    row(0) = 1.0;
    row(1) = t;
    for (std::size_t j = 0; j < n_cp; ++j) row(2 + j) = std::max(0.0, t - cps[j]);
    std::size_t c = 2 + n_cp;
    for (const auto& s : o.seasonalities) {
      const double w = 2.0 * std::numbers::pi * i / s.period;
      const double c1 = std::cos(w), s1 = std::sin(w);
      double ck = c1, sk = s1;
      for (std::size_t k = 1; k <= s.order; ++k) {
        row(c++) = ck;
        row(c++) = sk;
        const double cn = ck * c1 - sk * s1;
        sk = sk * c1 + ck * s1;
        ck = cn;
      }
    }
  };
  // Bucket means of rows and targets.
  const std::size_t bucket = std::max<std::size_t>(1, (n + o.max_fit_rows - 1) / o.max_fit_rows);
  const std::size_t first = n % bucket;  // drop the oldest remainder so buckets end at n
  const std::size_t rows = (n - first) / bucket;
  Eigen::MatrixXd X =
      Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(p));
  Eigen::VectorXd Y = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(rows));
  Eigen::VectorXd row(static_cast<Eigen::Index>(p));
  for (std::size_t i = first; i < n; ++i) {
    fill_row(static_cast<double>(i), row);
    const auto r = static_cast<Eigen::Index>((i - first) / bucket);
    X.row(r) += row.transpose();
    Y(r) += y[i] / scale;
  }
  X /= static_cast<double>(bucket);
  Y /= static_cast<double>(bucket);

  const auto np = static_cast<Eigen::Index>(p);
  const Eigen::Index s0 = 2 + static_cast<Eigen::Index>(n_cp);
  Eigen::VectorXd beta = Eigen::VectorXd::Zero(np);
  Eigen::VectorXd w = Eigen::VectorXd::Ones(static_cast<Eigen::Index>(rows));
  Eigen::VectorXd trend(static_cast<Eigen::Index>(rows));
  Eigen::MatrixXd D = X;  // design used in this iteration (seasonal columns scaled by the trend)
  double sigma = 0.1;
  for (std::size_t it = 0; it < std::max<std::size_t>(o.iterations, 1); ++it) {
    if (o.multiplicative && it > 0) {
      trend = X.leftCols(s0) * beta.head(s0);
      for (Eigen::Index c = s0; c < np; ++c) D.col(c) = X.col(c).cwiseProduct(trend);
    }
    const Eigen::MatrixXd Dw = D.array().colwise() * w.array().sqrt();
    Eigen::MatrixXd A = Eigen::MatrixXd::Zero(np, np);
    A.selfadjointView<Eigen::Lower>().rankUpdate(Dw.transpose());
    A = A.selfadjointView<Eigen::Lower>();
    Eigen::VectorXd b = Dw.transpose() * (Y.cwiseProduct(w.cwiseSqrt()));
    // Priors (in units of the residual variance): Laplace on changepoint deltas as an adaptive
    // ridge sigma^2 / (tau |delta|), Normal on seasonal coefficients, a tiny ridge elsewhere.
    const double s2 = sigma * sigma;
    A(0, 0) += 1e-9;
    A(1, 1) += 1e-9;
    for (Eigen::Index j = 2; j < s0; ++j) {
      const double d = it == 0 ? o.changepoint_prior_scale : std::abs(beta(j));
      A(j, j) += s2 / (o.changepoint_prior_scale * std::max(d, 1e-6));
    }
    for (Eigen::Index j = s0; j < np; ++j) {
      A(j, j) += s2 / (o.seasonality_prior_scale * o.seasonality_prior_scale);
    }
    beta = A.ldlt().solve(b);
    const Eigen::VectorXd resid = Y - D * beta;
    std::vector<double> absr(static_cast<std::size_t>(rows));
    for (Eigen::Index r = 0; r < static_cast<Eigen::Index>(rows); ++r) {
      absr[static_cast<std::size_t>(r)] = std::abs(resid(r));
    }
    sigma = std::max(1.4826 * median_of(absr), 1e-6);
    if (o.huber_k > 0) {
      const double cut = o.huber_k * sigma;
      for (Eigen::Index r = 0; r < static_cast<Eigen::Index>(rows); ++r) {
        const double a = std::abs(resid(r));
        w(r) = a <= cut ? 1.0 : cut / a;
      }
    }
  }
  std::vector<double> out(horizon);
  Eigen::VectorXd last(np);
  fill_row(static_cast<double>(n - 1), last);
  const double last_trend = last.head(s0).dot(beta.head(s0));
  for (std::size_t i = 0; i < horizon; ++i) {
    fill_row(static_cast<double>(n + i), row);
    const double g = o.flat_trend ? last_trend : row.head(s0).dot(beta.head(s0));
    const double s = row.tail(np - s0).dot(beta.tail(np - s0));
    out[i] = scale * (o.multiplicative ? g * (1.0 + s) : g + s);
  }
  return out;
}

namespace {

struct HwParams {
  double alpha, beta, gamma, phi;
};

// Runs Holt-Winters over y; returns the one-step SSE and, when out != nullptr, the forecast.
double run_holt_winters(std::span<const double> y, std::size_t P, bool mult, const HwParams& h,
                        std::size_t horizon, std::vector<double>* out) {
  const std::size_t n = y.size();
  const bool seasonal = P >= 2;
  const std::size_t m = seasonal ? P : 1;
  std::vector<double> season(m, mult ? 1.0 : 0.0);
  double level = 0, trend = 0;
  if (seasonal) {
    double a = 0, b = 0;
    for (std::size_t i = 0; i < P; ++i) a += y[i];
    for (std::size_t i = P; i < 2 * P; ++i) b += y[i];
    a /= static_cast<double>(P);
    b /= static_cast<double>(P);
    level = a;
    trend = (b - a) / static_cast<double>(P);
    // Seasonal indices from the first two periods against the straight line through their means
    // (a at the middle of the first period), normalised to mean 1 (mult.) or 0 (add.).
    const double mid = 0.5 * (static_cast<double>(P) - 1);
    const auto line = [&](double t) { return a + trend * (t - mid); };
    double sum = 0;
    for (std::size_t i = 0; i < P; ++i) {
      const double l0 = line(static_cast<double>(i));
      const double l1 = line(static_cast<double>(i + P));
      season[i] = mult ? 0.5 * ((l0 != 0 ? y[i] / l0 : 1.0) + (l1 != 0 ? y[i + P] / l1 : 1.0))
                       : 0.5 * ((y[i] - l0) + (y[i + P] - l1));
      sum += season[i];
    }
    const double mean = sum / static_cast<double>(P);
    for (double& v : season) v = mult ? (mean != 0 ? v / mean : 1.0) : v - mean;
  } else {
    level = y[0];
    trend = n > 1 ? y[1] - y[0] : 0;
  }
  double sse = 0;
  const std::size_t start = seasonal ? P : 1;
  if (seasonal) {
    // Level at the end of the first period.
    level = level + trend * (static_cast<double>(P) - 1) * 0.5;
  }
  for (std::size_t t = start; t < n; ++t) {
    double& s = season[t % m];
    const double damped = h.phi * trend;
    const double fc = mult ? (level + damped) * s : level + damped + (seasonal ? s : 0);
    const double e = y[t] - fc;
    sse += e * e;
    const double prev_level = level;
    if (mult) {
      level = h.alpha * (s != 0 ? y[t] / s : y[t]) + (1 - h.alpha) * (prev_level + damped);
    } else {
      level = h.alpha * (y[t] - (seasonal ? s : 0)) + (1 - h.alpha) * (prev_level + damped);
    }
    trend = h.beta * (level - prev_level) + (1 - h.beta) * damped;
    if (seasonal) {
      if (mult) {
        s = h.gamma * (level != 0 ? y[t] / level : 1.0) + (1 - h.gamma) * s;
      } else {
        s = h.gamma * (y[t] - level) + (1 - h.gamma) * s;
      }
    }
  }
  if (out) {
    out->resize(horizon);
    double damp_sum = 0, phi_k = 1;
    for (std::size_t i = 0; i < horizon; ++i) {
      phi_k *= h.phi;
      damp_sum += phi_k;
      const double s = season[(n + i) % m];
      const double base = level + damp_sum * trend;
      (*out)[i] = mult ? base * s : base + (seasonal ? s : 0);
    }
  }
  return sse;
}

}  // namespace

std::vector<double> holt_winters_forecast(std::span<const double> y, std::size_t horizon,
                                          const HoltWintersOptions& o) {
  const std::size_t P = o.period >= 2 && y.size() >= 2 * o.period ? o.period : 0;
  if (y.size() < 3) return std::vector<double>(horizon, y.empty() ? 0.0 : y.back());
  bool mult = o.multiplicative && P >= 2;
  if (mult) {
    for (const double v : y) mult = mult && v > 0;
  }
  HwParams best{0.2, 0.01, 0.1, o.damped ? 0.98 : 1.0};
  double best_sse = INFINITY;
  const auto pick = [](double given, double v) { return given >= 0 ? given : v; };
  static constexpr double kAlpha[] = {0.05, 0.15, 0.35, 0.7};
  static constexpr double kBeta[] = {0.0, 0.02, 0.1};
  static constexpr double kGamma[] = {0.02, 0.1, 0.3};
  static constexpr double kPhi[] = {0.9, 0.98};  // the usual bound: phi <= 0.98
  for (const double a : kAlpha) {
    for (const double b : kBeta) {
      for (const double g : kGamma) {
        for (const double f : kPhi) {
          const HwParams h{pick(o.alpha, a), pick(o.beta, b), P ? pick(o.gamma, g) : 0.0,
                           o.damped ? pick(o.phi, f) : 1.0};
          const double sse = run_holt_winters(y, P, mult, h, 0, nullptr);
          if (sse < best_sse) {
            best_sse = sse;
            best = h;
          }
        }
      }
    }
  }
  // Local refinement: halve/double each free parameter while it helps.
  for (int round = 0; round < 2; ++round) {
    for (int which = 0; which < 3; ++which) {
      if ((which == 0 && o.alpha >= 0) || (which == 1 && o.beta >= 0) ||
          (which == 2 && (o.gamma >= 0 || !P))) {
        continue;
      }
      for (const double f : {0.7, 1.4}) {
        HwParams h = best;
        double& v = which == 0 ? h.alpha : which == 1 ? h.beta : h.gamma;
        v = std::clamp(v * f, 0.0, 0.99);
        const double sse = run_holt_winters(y, P, mult, h, 0, nullptr);
        if (sse < best_sse) {
          best_sse = sse;
          best = h;
        }
      }
    }
  }
  std::vector<double> out;
  run_holt_winters(y, P, mult, best, horizon, &out);
  return out;
}

DetectedPeriods detect_periods(std::span<const double> y, long long step) {
  DetectedPeriods out;
  if (step <= 0) return out;
  const std::size_t n = y.size();
  const auto acf = [&](std::size_t lag) {
    if (lag == 0 || n < 2 * lag) return 0.0;
    double mean = 0;
    for (const double v : y) mean += v;
    mean /= static_cast<double>(n);
    double num = 0, den = 0;
    for (std::size_t i = 0; i < n; ++i) {
      den += (y[i] - mean) * (y[i] - mean);
      if (i >= lag) num += (y[i] - mean) * (y[i - lag] - mean);
    }
    // Normalised per overlapping pair, so long lags are not biased towards 0.
    return den > 0 ? (num / static_cast<double>(n - lag)) / (den / static_cast<double>(n)) : 0.0;
  };
  // Detrend by differencing over half the lag? Keep it simple: compare the ACF at the lag with
  // the ACF at half the lag; a cycle makes the lag much more similar than half of it.
  const auto present = [&](std::size_t lag, double& value) {
    value = acf(lag);
    const double half = acf(lag / 2);
    return value > 0.2 && value > half + 0.1;
  };
  if (86400 % step == 0 || 86400 / step >= 2) {
    const auto day = static_cast<std::size_t>(86400 / step);
    if (day >= 2 && present(day, out.day_acf)) out.day = day;
    const std::size_t week = 7 * day;
    if (day >= 1 && n >= 2 * week) {
      out.week_acf = acf(week);
      // A weekly cycle beyond the daily one: the week lag is clearly closer than the day lag.
      const bool beyond_day = out.week_acf > out.day_acf + 0.05;
      if (out.week_acf > 0.2 && (beyond_day || (!out.day && present(week, out.week_acf)))) {
        out.week = week;
      }
    }
  }
  return out;
}

}  // namespace dso::predictor
