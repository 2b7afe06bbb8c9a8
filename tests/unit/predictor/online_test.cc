#include "predictor/online.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace dso::predictor {
namespace {

double load(std::size_t i) {
  return 100 + 40 * std::sin(2 * std::numbers::pi * static_cast<double>(i % 288) / 288.0) +
         static_cast<double>((i * 7919) % 13);
}

TEST(OnlineForecaster, MatchesTheBatchForecastOnTheSameWindow) {
  ForecastOptions o;
  o.quantiles = {0.9};
  o.max_history_days = 3;
  OnlineForecaster online(300, o);
  for (std::size_t i = 0; i < 5 * 288; ++i) {
    ASSERT_TRUE(online.observe(static_cast<std::int64_t>(86400 * 100 + 300 * i), load(i)));
  }
  // The window is bounded: between 3 days and 3 days + a quarter.
  EXPECT_GE(online.history().values.size(), 3u * 288u);
  EXPECT_LE(online.history().values.size(), 3u * 288u + 3u * 288u / 4u + 1u);
  EXPECT_EQ(online.history().end(), 86400 * 100 + 300 * 5 * 288);
  const auto a = online.forecast(12);
  ForecastOptions batch = o;
  batch.horizon = 12;
  const auto b = forecast(online.history(), batch);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->point, b->point);
  EXPECT_EQ(a->start, 86400 * 100 + 300 * 5 * 288);
}

TEST(OnlineForecaster, AveragesWithinAStepAndLeavesGapsMissing) {
  OnlineForecaster online(60, {});
  ASSERT_TRUE(online.observe(120, 1.0));
  ASSERT_TRUE(online.observe(150, 3.0));  // same step: averaged
  ASSERT_TRUE(online.observe(300, 5.0));  // steps 180 and 240 missing
  const auto& h = online.history();
  EXPECT_EQ(h.start, 120);
  ASSERT_EQ(h.values.size(), 4u);
  EXPECT_DOUBLE_EQ(h.values[0], 2.0);
  EXPECT_TRUE(std::isnan(h.values[1]));
  EXPECT_TRUE(std::isnan(h.values[2]));
  EXPECT_DOUBLE_EQ(h.values[3], 5.0);
  EXPECT_FALSE(online.observe(100, 1.0).has_value());
  EXPECT_FALSE(online.observe(400, NAN).has_value());
  const auto f = online.forecast(3);
  ASSERT_TRUE(f.has_value()) << f.error();
  EXPECT_EQ(f->filled, 2u);
}

}  // namespace
}  // namespace dso::predictor
