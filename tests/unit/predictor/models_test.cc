#include "predictor/models.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

namespace dso::predictor {
namespace {

constexpr std::size_t kDay = 288;  // 5-minute steps

// A daily cycle (plus a weekday/weekend difference when `weekly`), a slow trend and noise.
std::vector<double> synthetic(std::size_t n, double noise, bool weekly, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> gauss(0.0, noise);
  std::vector<double> y(n);
  for (std::size_t t = 0; t < n; ++t) {
    const double phase = 2 * std::numbers::pi * static_cast<double>(t % kDay) / kDay;
    const bool weekend = weekly && (t / kDay) % 7 >= 5;
    y[t] = 100 + 0.002 * static_cast<double>(t) + 30 * std::sin(phase) + 10 * std::cos(2 * phase) -
           (weekend ? 25 : 0) + gauss(rng);
  }
  return y;
}

double mae(const std::vector<double>& f, const std::vector<double>& truth, std::size_t from) {
  double s = 0;
  for (std::size_t i = 0; i < f.size(); ++i) s += std::abs(f[i] - truth[from + i]);
  return s / static_cast<double>(f.size());
}

TEST(SeasonalNaive, RepeatsTheLastPeriod) {
  const std::vector<double> y = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(seasonal_naive_forecast(y, 3, 5), (std::vector<double>{4, 5, 6, 4, 5}));
  EXPECT_EQ(seasonal_naive_forecast(y, 1, 2), (std::vector<double>{6, 6}));
}

TEST(SeasonalProfile, AveragesNoiseAwayBetterThanSeasonalNaive) {
  const auto y = synthetic(15 * kDay, 5.0, false);
  const std::span<const double> train(y.data(), 14 * kDay);
  const auto naive = seasonal_naive_forecast(train, kDay, kDay);
  const auto profile = seasonal_profile_forecast(
      train, kDay, {.period = kDay, .cycles = 7, .smooth = 2, .level_window = 12});
  EXPECT_LT(mae(profile, y, 14 * kDay), 0.8 * mae(naive, y, 14 * kDay));
}

TEST(FitLevelDecay, PersistentShiftsKeepTheCorrectionNoiseDropsIt) {
  // A daily cycle plus a random walk: departures from the profile persist.
  std::mt19937 rng(4);
  std::normal_distribution<double> step(0.0, 1.0);
  std::vector<double> walk(14 * kDay);
  double level = 0;
  for (std::size_t t = 0; t < walk.size(); ++t) {
    level += step(rng);
    walk[t] =
        100 + 30 * std::sin(2 * std::numbers::pi * static_cast<double>(t % kDay) / kDay) + level;
  }
  const SeasonalProfileOptions o{.period = kDay, .cycles = 1, .trim = 0, .level_window = 12};
  EXPECT_GT(fit_level_decay(walk, o, 7 * kDay, 12), 0.99);
  // Independent noise around a fixed profile: the last hour says nothing about the next one.
  const auto noisy = synthetic(14 * kDay, 5.0, false);
  EXPECT_EQ(fit_level_decay(noisy, o, 7 * kDay, 12), 0.0);
}

TEST(Prophet, RecoversTrendAndSeasonalityDespiteAnIncident) {
  auto y = synthetic(15 * kDay, 2.0, false);
  for (std::size_t t = 10 * kDay; t < 10 * kDay + 36; ++t) y[t] += 400;  // a 3-hour incident
  const std::span<const double> train(y.data(), 14 * kDay);
  ProphetOptions o;
  o.seasonalities = {{static_cast<double>(kDay), 6}};
  const auto f = prophet_forecast(train, kDay, o);
  ASSERT_EQ(f.size(), kDay);
  // Noise alone gives an MAE of about 1.6; the fitted curve must be close to the truth.
  EXPECT_LT(mae(f, y, 14 * kDay), 2.5);
}

TEST(Prophet, MultiplicativeSeasonalityGrowsWithTheTrend) {
  std::vector<double> y(15 * kDay);
  for (std::size_t t = 0; t < y.size(); ++t) {
    const double trend = 50 + 0.05 * static_cast<double>(t);
    y[t] =
        trend * (1 + 0.4 * std::sin(2 * std::numbers::pi * static_cast<double>(t % kDay) / kDay));
  }
  const std::span<const double> train(y.data(), 14 * kDay);
  ProphetOptions o;
  o.seasonalities = {{static_cast<double>(kDay), 3}};
  o.multiplicative = true;
  const double mult = mae(prophet_forecast(train, kDay, o), y, 14 * kDay);
  o.multiplicative = false;
  const double add = mae(prophet_forecast(train, kDay, o), y, 14 * kDay);
  EXPECT_LT(mult, 0.5 * add);
  EXPECT_LT(mult, 2.0);
}

TEST(HoltWinters, FollowsASeasonalSeries) {
  const auto y = synthetic(15 * kDay, 1.0, false);
  const std::span<const double> train(y.data(), 14 * kDay);
  const auto f = holt_winters_forecast(train, kDay, {.period = kDay});
  EXPECT_LT(mae(f, y, 14 * kDay), 3.0);
  const auto naive = seasonal_naive_forecast(train, kDay, kDay);
  EXPECT_LT(mae(f, y, 14 * kDay), mae(naive, y, 14 * kDay));
  // Without seasonality it still forecasts (a damped trend).
  const auto flat = holt_winters_forecast(train, 10, {.period = 0});
  EXPECT_EQ(flat.size(), 10u);
  EXPECT_TRUE(std::isfinite(flat[9]));
}

TEST(HoltWinters, MultiplicativeSeasonalityForGrowingAmplitude) {
  std::vector<double> y(15 * kDay);
  for (std::size_t t = 0; t < y.size(); ++t) {
    const double level = 100 + 0.05 * static_cast<double>(t);
    y[t] =
        level * (1 + 0.5 * std::sin(2 * std::numbers::pi * static_cast<double>(t % kDay) / kDay));
  }
  const std::span<const double> train(y.data(), 14 * kDay);
  const double mult = mae(
      holt_winters_forecast(train, kDay, {.period = kDay, .multiplicative = true}), y, 14 * kDay);
  const double add = mae(
      holt_winters_forecast(train, kDay, {.period = kDay, .multiplicative = false}), y, 14 * kDay);
  EXPECT_LT(mult, add);
  EXPECT_LT(mult, 5.0);  // the amplitude at the end is about 150
}

TEST(DetectPeriods, DayWeekAndNone) {
  const auto daily = detect_periods(synthetic(21 * kDay, 3.0, false), 300);
  EXPECT_EQ(daily.day, kDay);
  EXPECT_EQ(daily.week, 0u);
  const auto weekly = detect_periods(synthetic(21 * kDay, 3.0, true), 300);
  EXPECT_EQ(weekly.day, kDay);
  EXPECT_EQ(weekly.week, 7 * kDay) << weekly.day_acf << " " << weekly.week_acf;
  std::mt19937 rng(7);
  std::normal_distribution<double> gauss(0.0, 1.0);
  std::vector<double> noise(21 * kDay);
  for (double& v : noise) v = gauss(rng);
  const auto none = detect_periods(noise, 300);
  EXPECT_EQ(none.day, 0u);
  EXPECT_EQ(none.week, 0u);
}

}  // namespace
}  // namespace dso::predictor
