// Arrival process and rate schedules: seeded Poisson arrivals at the scheduled rate (statistical
// bounds on seeded runs, no clocks), trace rows looked up by time.
#include "loadgen/schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

namespace dso::loadgen {
namespace {

std::vector<double> arrivals(ArrivalProcess& p, double until) {
  std::vector<double> times;
  for (double t = p.next_after(0); t < until; t = p.next_after(t)) times.push_back(t);
  return times;
}

TEST(ArrivalProcess, MeanRateAndPoissonGaps) {
  ArrivalProcess p(RateSchedule::constant(100), 42);
  const auto times = arrivals(p, 1000);
  // 100,000 expected; a Poisson count's standard deviation is sqrt(100,000) ~ 316: allow 5 sigma.
  EXPECT_NEAR(static_cast<double>(times.size()), 100'000, 5 * 316);
  std::vector<double> gaps(times.size());
  std::adjacent_difference(times.begin(), times.end(), gaps.begin());
  const double mean = std::accumulate(gaps.begin(), gaps.end(), 0.0) / gaps.size();
  double var = 0;
  for (const double g : gaps) var += (g - mean) * (g - mean);
  var /= gaps.size();
  EXPECT_NEAR(std::sqrt(var) / mean, 1.0, 0.02);  // exponential gaps: coefficient of variation 1
  EXPECT_TRUE(std::is_sorted(times.begin(), times.end()));
}

TEST(ArrivalProcess, SeededAndReproducible) {
  ArrivalProcess a(RateSchedule::constant(50), 7), b(RateSchedule::constant(50), 7),
      c(RateSchedule::constant(50), 8);
  const auto ta = arrivals(a, 10), tb = arrivals(b, 10), tc = arrivals(c, 10);
  EXPECT_EQ(ta, tb);
  EXPECT_NE(ta, tc);
}

TEST(ArrivalProcess, FollowsRowsAndEnds) {
  ArrivalProcess p(RateSchedule::rows({50, 0, 200}, 100), 3);
  const auto times = arrivals(p, kNever);
  std::size_t row[3] = {0, 0, 0};
  for (const double t : times) ++row[static_cast<std::size_t>(t / 100)];
  EXPECT_NEAR(static_cast<double>(row[0]), 5'000, 5 * std::sqrt(5'000.0));
  EXPECT_EQ(row[1], 0u);
  EXPECT_NEAR(static_cast<double>(row[2]), 20'000, 5 * std::sqrt(20'000.0));
  EXPECT_LT(times.back(), 300);
  EXPECT_EQ(p.next_after(300), kNever);  // after the last row
}

TEST(ArrivalProcess, ZeroRateNeverArrivesAndSwitchingTakesEffect) {
  ArrivalProcess p(RateSchedule::constant(0), 1);
  EXPECT_EQ(p.next_after(0), kNever);
  p.set_schedule(RateSchedule::constant(1000));
  const double t = p.next_after(5);
  EXPECT_GT(t, 5);
  EXPECT_LT(t, 6);  // P(no arrival in a second at 1000/s) = e^-1000
}

TEST(RateSchedule, RowLookup) {
  const auto s = RateSchedule::rows({1, -2, NAN, 4}, 10);
  EXPECT_EQ(s.rate_at(0), 1);
  EXPECT_EQ(s.rate_at(9.999), 1);
  EXPECT_EQ(s.rate_at(10), 0);  // negative counts as 0
  EXPECT_EQ(s.rate_at(25), 0);  // NaN counts as 0
  EXPECT_EQ(s.rate_at(39), 4);
  EXPECT_EQ(s.rate_at(40), 0);  // after the end
  EXPECT_EQ(s.next_change(0), 10);
  EXPECT_EQ(s.next_change(15), 20);
  EXPECT_EQ(s.next_change(40), kNever);
  EXPECT_EQ(s.end(), 40);
  const auto c = RateSchedule::constant(3);
  EXPECT_EQ(c.rate_at(1e9), 3);
  EXPECT_EQ(c.next_change(5), kNever);
  EXPECT_EQ(c.end(), kNever);
}

TEST(RateSchedule, LoadsATrace) {
  const std::string path = std::string(DSO_TEST_DATA) + "/crane_input1.csv";
  // Rows 2 and 3 of the file: 1.204530 and 1.343270, one per minute.
  const auto own_step = load_trace_schedule(path, 10, 2, 0);
  ASSERT_TRUE(own_step) << own_step.error();
  EXPECT_NEAR(own_step->rate_at(0), 12.0453, 1e-9);
  EXPECT_NEAR(own_step->rate_at(60), 13.4327, 1e-9);
  EXPECT_EQ(own_step->next_change(0), 60);
  const auto fast = load_trace_schedule(path, 10, 2, 5);
  ASSERT_TRUE(fast) << fast.error();
  EXPECT_NEAR(fast->rate_at(5.1), 13.4327, 1e-9);
  const auto past = load_trace_schedule(path, 1, 1'000'000, 0);
  ASSERT_FALSE(past);
  EXPECT_NE(past.error().find("--trace-start-row 1000000 is past the last row"), std::string::npos);
  EXPECT_FALSE(load_trace_schedule("/nonexistent.csv", 1, 0, 0));
}

}  // namespace
}  // namespace dso::loadgen
