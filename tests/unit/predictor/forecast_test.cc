#include "predictor/forecast.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

namespace dso::predictor {
namespace {

constexpr std::int64_t kStep = 300;
constexpr std::size_t kDay = 288;

Series daily_series(std::size_t days, double noise, unsigned seed = 3) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> gauss(0.0, noise);
  Series s{.start = 1'600'000'000 - 1'600'000'000 % 86400, .step = kStep, .values = {}};
  for (std::size_t t = 0; t < days * kDay; ++t) {
    const double phase = 2 * std::numbers::pi * static_cast<double>(t % kDay) / kDay;
    s.values.push_back(200 + 80 * std::sin(phase) + gauss(rng));
  }
  return s;
}

TEST(Forecast, RejectsBadOptions) {
  const auto s = daily_series(3, 1.0);
  EXPECT_NE(forecast(s, {.horizon = 0}).error().find("horizon"), std::string::npos);
  EXPECT_NE(forecast(s, {.horizon = 5, .quantiles = {0.5, 1.0}}).error().find("outside (0, 1)"),
            std::string::npos);
  Series bad = s;
  bad.step = 0;
  EXPECT_NE(forecast(bad, {.horizon = 5}).error().find("step"), std::string::npos);
  Series tiny{.start = 0, .step = kStep, .values = {1.0, NAN}};
  EXPECT_NE(forecast(tiny, {.horizon = 5}).error().find("too few observed points"),
            std::string::npos);
  // snaive-week needs a week of history.
  const auto r = forecast(s, {.model = ModelKind::kSeasonalNaiveWeek, .horizon = 5});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("too few points for model snaive-week"), std::string::npos) << r.error();
}

TEST(Forecast, SeasonalNaiveDayRepeatsYesterday) {
  const auto s = daily_series(3, 5.0);
  const auto f = forecast(s, {.model = ModelKind::kSeasonalNaiveDay, .horizon = 10});
  ASSERT_TRUE(f.has_value()) << f.error();
  EXPECT_EQ(f->model, "snaive-day");
  EXPECT_EQ(f->start, s.end());
  EXPECT_EQ(f->step, kStep);
  for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(f->point[i], s.values[2 * kDay + i]);
}

TEST(Forecast, EveryModelKindForecastsTwoWeeks) {
  const auto s = daily_series(15, 5.0);
  for (const auto kind : {ModelKind::kAuto, ModelKind::kProphet, ModelKind::kHoltWinters,
                          ModelKind::kSeasonalNaiveDay, ModelKind::kSeasonalNaiveWeek}) {
    const auto f = forecast(s, {.model = kind, .horizon = kDay, .quantiles = {0.9}});
    ASSERT_TRUE(f.has_value()) << to_string(kind) << ": " << f.error();
    ASSERT_EQ(f->point.size(), kDay);
    for (const double v : f->point) ASSERT_TRUE(std::isfinite(v)) << to_string(kind);
    EXPECT_EQ(parse_model_kind(to_string(kind)), kind);
  }
  EXPECT_FALSE(parse_model_kind("arima").has_value());
}

TEST(Forecast, AutoBeatsSeasonalNaiveOnNoisyDailyTraffic) {
  const auto full = daily_series(15, 10.0);
  Series train = full;
  train.values.resize(14 * kDay);
  const auto naive = forecast(train, {.model = ModelKind::kSeasonalNaiveDay, .horizon = kDay});
  const auto best = forecast(train, {.horizon = kDay});
  ASSERT_TRUE(naive && best);
  double e_naive = 0, e_auto = 0;
  for (std::size_t i = 0; i < kDay; ++i) {
    e_naive += std::abs(naive->point[i] - full.values[14 * kDay + i]);
    e_auto += std::abs(best->point[i] - full.values[14 * kDay + i]);
  }
  EXPECT_LT(e_auto, 0.85 * e_naive) << best->model;
  EXPECT_FALSE(best->scores.empty());
}

TEST(Forecast, QuantilesAreOrderedAndCoverAboutTheirLevel) {
  // Over many origins on a noisy series the 0.9 band must hold about 90% of the outcomes.
  const auto full = daily_series(20, 10.0, 11);
  std::size_t inside = 0, total = 0;
  for (std::size_t origin = 14 * kDay; origin + 12 <= full.values.size(); origin += 37) {
    Series train = full;
    train.values.resize(origin);
    const auto f = forecast(train, {.horizon = 12, .quantiles = {0.5, 0.9, 0.99}});
    ASSERT_TRUE(f.has_value()) << f.error();
    for (std::size_t i = 0; i < 12; ++i) {
      ASSERT_LE((*f->quantile(0.5))[i], (*f->quantile(0.9))[i]);
      ASSERT_LE((*f->quantile(0.9))[i], (*f->quantile(0.99))[i]);
      inside += full.values[origin + i] <= (*f->quantile(0.9))[i];
      ++total;
    }
  }
  const double coverage = static_cast<double>(inside) / static_cast<double>(total);
  EXPECT_GT(coverage, 0.8);
  EXPECT_LT(coverage, 0.98);
}

TEST(Forecast, DayAheadScoresAreMediansOverBacktestDays) {
  // Each day is flat at 100 + d, so yesterday misses by 1, except around an incident on day 10
  // (level 400): yesterday then misses by 291 and 289. A day-ahead backtest scores candidates by
  // the median over its days (1); the plain mean (daily_score_trim 0) lets the incident dominate.
  Series s{.start = 1'600'000'000 - 1'600'000'000 % 86400, .step = kStep, .values = {}};
  for (std::size_t d = 0; d < 15; ++d) {
    s.values.insert(s.values.end(), kDay, d == 10 ? 400.0 : 100.0 + static_cast<double>(d));
  }
  // (A quantile makes a single candidate run its backtest.)
  ForecastOptions o{.horizon = kDay, .quantiles = {0.9}, .candidates = {"snaive-day"}};
  const auto median = forecast(s, o);
  ASSERT_TRUE(median.has_value()) << median.error();
  ASSERT_EQ(median->scores.size(), 1u);
  EXPECT_NEAR(median->scores[0].mae, 1.0, 1e-9);
  o.daily_score_trim = 0;
  const auto mean = forecast(s, o);
  ASSERT_TRUE(mean.has_value()) << mean.error();
  EXPECT_NEAR(mean->scores[0].mae, (12 * 1.0 + 291 + 289) / 14, 1e-9);
  // Shorter backtests keep the plain mean unless score_trim says otherwise (50 steps ahead: the
  // origins on the two incident days miss by about 290, all others by 1).
  ForecastOptions hour{.horizon = 50, .quantiles = {0.9}, .candidates = {"snaive-day"}};
  const auto plain = forecast(s, hour);
  hour.score_trim = 0.5;
  const auto trimmed = forecast(s, hour);
  ASSERT_TRUE(plain.has_value() && trimmed.has_value());
  EXPECT_GT(plain->scores[0].mae, 10.0);
  EXPECT_NEAR(trimmed->scores[0].mae, 1.0, 1e-9);
}

TEST(Forecast, CalibratedQuantilesCoverTheirLevelOnDaysUnlikeTheOthers) {
  // Quiet days (noise 2) with a noisy day now and then (noise 25): pooled backtest errors are
  // mostly the quiet days', so the plain 0.9 band covers less than 90% of what follows. The
  // calibrated band (the default) is set from each backtest origin left out in turn; over 25
  // day-ahead origins it must cover at least 0.89, and clearly more than the plain band.
  std::mt19937 rng(5);
  std::normal_distribution<double> gauss(0.0, 1.0);
  Series full{.start = 1'600'000'000 - 1'600'000'000 % 86400, .step = kStep, .values = {}};
  for (std::size_t d = 0; d < 40; ++d) {
    const double noise = d % 4 == 1 ? 25.0 : 2.0;
    for (std::size_t t = 0; t < kDay; ++t) {
      const double phase = 2 * std::numbers::pi * static_cast<double>(t) / kDay;
      full.values.push_back(200 + 80 * std::sin(phase) + noise * gauss(rng));
    }
  }
  const auto coverage = [&](bool calibrate) {
    std::size_t inside = 0, total = 0;
    for (std::size_t origin = 15 * kDay; origin + kDay <= full.values.size(); origin += kDay) {
      Series train = full;
      train.values.resize(origin);
      const auto f =
          forecast(train, {.horizon = kDay, .quantiles = {0.9}, .calibrate_quantiles = calibrate});
      EXPECT_TRUE(f.has_value()) << f.error();
      if (!f) return 0.0;
      for (std::size_t i = 0; i < kDay; ++i) {
        inside += full.values[origin + i] <= (*f->quantile(0.9))[i];
        ++total;
      }
    }
    return static_cast<double>(inside) / static_cast<double>(total);
  };
  const double plain = coverage(false), calibrated = coverage(true);
  // Measured: plain 0.887, calibrated 0.910.
  EXPECT_GE(calibrated, 0.89);
  EXPECT_GT(calibrated, plain + 0.01);
}

TEST(Forecast, QuantilesTwoDaysAheadRestOnTwoDayBacktestErrors) {
  // Hourly traffic whose level jumps at random at every midnight: the second day ahead carries
  // two unknown jumps, the first at most one. The 0.9 band for leads 25-48 must come from errors
  // at those leads, not from the first day's widened by sqrt(lead / 24) (which covered 0.80 of
  // them here; 0.85 with the two-day errors).
  std::mt19937 rng(7);
  std::normal_distribution<double> jump(0.0, 30.0), noise(0.0, 2.0);
  Series full{.start = 1'600'000'000 - 1'600'000'000 % 86400, .step = 3600, .values = {}};
  double level = 300;
  for (std::size_t d = 0; d < 60; ++d) {
    level += jump(rng);
    for (std::size_t h = 0; h < 24; ++h) {
      full.values.push_back(level + 50 * std::sin(2 * std::numbers::pi * h / 24.0) + noise(rng));
    }
  }
  std::size_t inside = 0, total = 0;
  for (std::size_t origin = 21 * 24; origin + 48 <= full.values.size(); origin += 24) {
    Series train = full;
    train.values.resize(origin);
    const auto f = forecast(train, {.horizon = 48, .quantiles = {0.9}});
    ASSERT_TRUE(f.has_value()) << f.error();
    for (std::size_t i = 24; i < 48; ++i) {
      inside += full.values[origin + i] <= (*f->quantile(0.9))[i];
      ++total;
    }
  }
  EXPECT_GE(static_cast<double>(inside) / static_cast<double>(total), 0.83);
}

TEST(Forecast, FillsMissingValues) {
  auto s = daily_series(8, 2.0);
  for (std::size_t t = 3 * kDay; t < 3 * kDay + 20; ++t) s.values[t] = NAN;
  const auto f = forecast(s, {.horizon = 24, .quantiles = {0.9}});
  ASSERT_TRUE(f.has_value()) << f.error();
  EXPECT_EQ(f->filled, 20u);
  for (const double v : f->point) EXPECT_TRUE(std::isfinite(v));
}

TEST(Forecast, SeriesWithoutSeasonalityStillForecasts) {
  std::mt19937 rng(5);
  std::normal_distribution<double> gauss(0.0, 1.0);
  Series s{.start = 0, .step = 86400, .values = {}};
  for (int i = 0; i < 60; ++i) s.values.push_back(50 + 0.5 * i + gauss(rng));
  const auto f = forecast(s, {.horizon = 7, .quantiles = {0.9}});
  ASSERT_TRUE(f.has_value()) << f.error();
  EXPECT_NEAR(f->point[0], 80, 6);
}

TEST(Forecast, EveryModelKindOnAShortDailySeries) {
  Series s{.start = 0, .step = 86400, .values = {}};
  for (int i = 0; i < 30; ++i) s.values.push_back(10 + i % 7 + 0.1 * i);
  for (const auto kind : {ModelKind::kAuto, ModelKind::kProphet, ModelKind::kHoltWinters,
                          ModelKind::kSeasonalNaiveDay, ModelKind::kSeasonalNaiveWeek}) {
    const auto f = forecast(s, {.model = kind, .horizon = 7, .quantiles = {0.9}});
    ASSERT_TRUE(f.has_value()) << to_string(kind) << ": " << f.error();
    for (const double v : f->point) EXPECT_TRUE(std::isfinite(v)) << to_string(kind);
  }
  // The weekly naive forecast repeats the last week exactly.
  const auto week = forecast(s, {.model = ModelKind::kSeasonalNaiveWeek, .horizon = 7});
  ASSERT_TRUE(week.has_value());
  for (std::size_t i = 0; i < 7; ++i) EXPECT_EQ(week->point[i], s.values[23 + i]);
}

TEST(Forecast, DeterministicForTheSameInput) {
  const auto s = daily_series(9, 4.0);
  const auto a = forecast(s, {.horizon = 50, .quantiles = {0.9}});
  const auto b = forecast(s, {.horizon = 50, .quantiles = {0.9}});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->point, b->point);
  EXPECT_EQ(a->quantiles, b->quantiles);
}

}  // namespace
}  // namespace dso::predictor
