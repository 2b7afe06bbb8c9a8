// Each peer policy's defining behaviour, and the seasonal policy against hpa on a daily step.
#include "sim/policies.h"

#include <gtest/gtest.h>

#include <cmath>

namespace dso::sim {
namespace {

constexpr Seconds kStart = 1'700'006'400;  // a midnight (UTC)

predictor::Series grid(std::vector<double> values) {
  predictor::Series s;
  s.start = kStart;
  s.step = 15;
  s.values = std::move(values);
  return s;
}

PolicyParams params(double capacity = 10.0) {
  PolicyParams p;
  p.capacity = capacity;
  p.target_utilization = 0.7;
  p.period = 15;
  return p;
}

// Drives one policy decision by decision over `demand` with a fleet of `ready` replicas always
// ready (no cold start), returning the decisions.
std::vector<int> drive(Policy& policy, const std::vector<double>& demand, int start_replicas) {
  std::vector<int> out;
  int current = start_replicas;
  const auto delay = static_cast<std::size_t>(policy.metric_delay() / 15);
  for (std::size_t k = 0; k < demand.size(); ++k) {
    PolicyInput in;
    in.now = kStart + static_cast<Seconds>(k) * 15;
    in.period = 15;
    in.grid_start = kStart;
    in.visible = std::span<const double>(demand.data(), k >= delay ? k - delay + 1 : 1);
    in.current_replicas = current;
    in.ready_replicas = current;
    in.capacity = 10.0;
    current = policy.decide(in);
    out.push_back(current);
  }
  return out;
}

TEST(Policies, NamesAndUnknownPolicy) {
  EXPECT_EQ(policy_names(), (std::vector<std::string>{"hpa", "kpa", "linear", "dsp", "seasonal"}));
  for (const auto& name : policy_names()) EXPECT_TRUE(make_policy(name, params()).has_value());
  const auto bad = make_policy("vpa", params());
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().find("unknown policy 'vpa'"), std::string::npos);
}

TEST(Hpa, TargetsSeventyPercentAndWaitsFiveMinutesToScaleDown) {
  auto hpa = *make_policy("hpa", params());
  std::vector<double> demand(40, 140.0);  // 14 replicas of demand -> 20 at 70%
  for (std::size_t k = 20; k < 40; ++k) demand[k] = 70.0;
  const auto d = drive(*hpa, demand, 20);
  EXPECT_EQ(d[10], 20);
  // Demand halves at k=20, seen 60 s later; the 300 s window still holds 20 at k=40.
  EXPECT_EQ(d.back(), 20);
  std::vector<double> longer(80, 70.0);
  for (std::size_t k = 0; k < 20; ++k) longer[k] = 140.0;
  auto hpa2 = *make_policy("hpa", params());
  const auto d2 = drive(*hpa2, longer, 20);
  // It sees the drop at k=24; the last recommendation of 20 (k=23) counts while it is strictly
  // newer than now - 300 s: through k=42, not at k=43.
  EXPECT_EQ(d2[42], 20);
  EXPECT_EQ(d2[43], 10);  // ceil(70 / 7)
}

TEST(Kpa, PanicsOnADoublingAndNeverScalesDownInPanic) {
  auto kpa = *make_policy("kpa", params());
  std::vector<double> demand(30, 35.0);                     // 5 replicas at 70%
  for (std::size_t k = 10; k < 12; ++k) demand[k] = 140.0;  // a 4x burst
  const auto d = drive(*kpa, demand, 5);
  EXPECT_EQ(d[9], 5);
  EXPECT_EQ(d[10], 20);  // panic window (6 s: the newest sample) asks ceil(14 / 0.7)
  // Demand is back at k=12, but panic (entered at k=10, when 20 / 5 ready >= 200%) holds the
  // replicas for the 60 s stable window.
  EXPECT_EQ(d[12], 20);
  EXPECT_EQ(d[13], 20);
  // Out of panic at k=14, scale-down is limited to halving per decision.
  EXPECT_EQ(d[14], 10);
  int previous = d[13];
  for (std::size_t k = 14; k < d.size(); ++k) {
    EXPECT_GE(d[k], previous / 2) << k;
    previous = d[k];
  }
  EXPECT_EQ(d.back(), 5);
}

TEST(Linear, ProjectsARisingTrendTwoMinutesAhead) {
  auto linear = *make_policy("linear", params());
  std::vector<double> demand(40);
  for (std::size_t k = 0; k < demand.size(); ++k) demand[k] = 50.0 + 5.0 * static_cast<double>(k);
  const auto d = drive(*linear, demand, 8);
  // At k=39 it sees k=35 (225): projected 120 s (8 steps) on, 265 -> ceil(265 / 7) = 38, above
  // the reactive ceil(225 / 7) = 33.
  EXPECT_EQ(d.back(), 38);
}

// A daily pattern: 100 overnight, 1000 from 08:00 to 20:00 (a sharp step), for `days` days.
std::vector<double> daily_step(int days) {
  std::vector<double> v(static_cast<std::size_t>(days) * 5760);
  for (std::size_t k = 0; k < v.size(); ++k) {
    const auto second = static_cast<Seconds>(k % 5760) * 15;
    v[k] = second >= 8 * 3600 && second < 20 * 3600 ? 1000.0 : 100.0;
  }
  return v;
}

TEST(Dsp, ScalesUpBeforeTheDailyRise) {
  const auto demand = daily_step(5);
  auto dsp = *make_policy("dsp", params());
  auto hpa = *make_policy("hpa", params());
  const auto d = drive(*dsp, demand, 15);
  const auto h = drive(*hpa, demand, 15);
  // Day 5, 07:30: the next hour's forecast holds the 08:00 step; hpa still sees the night.
  const std::size_t k = 4 * 5760 + 7 * 240 + 120;
  EXPECT_EQ(h[k], 15);  // ceil(100 / 7)
  EXPECT_GE(d[k], 100);
}

TEST(Seasonal, ForecastHoldsCapacityForTheRiseThatHpaMisses) {
  const auto g = grid(daily_step(9));
  ReplayOptions o;
  o.period = 15;
  o.cold_start = 600;
  o.capacity = 10.0;
  o.first_scored = g.values.size() - 2 * 5760;  // score the last two days
  auto hpa = *make_policy("hpa", params());
  auto seasonal = *make_policy("seasonal", params());
  const auto h = replay(g, *hpa, o);
  const auto s = replay(g, *seasonal, o);
  // hpa meets each 08:00 step with a 10-minute cold start plus its metric delay.
  EXPECT_GT(h.score.violation_minutes, 20.0);
  EXPECT_LT(s.score.violation_minutes, h.score.violation_minutes / 4);
  EXPECT_NE(seasonal->last_explanation().find("predictive"), std::string::npos);
}

TEST(BucketMax, TakesTheMaximumOfCompleteBuckets) {
  const std::vector<double> v{1, 5, 2, 3, 9, 4, 7};  // 15 s apart from t = 0
  const auto s = bucket_max(v, 0, 15, 45);
  EXPECT_EQ(s.start, 0);
  EXPECT_EQ(s.step, 45);
  ASSERT_EQ(s.values.size(), 2u);  // the third bucket (7) is incomplete
  EXPECT_DOUBLE_EQ(s.values[0], 5);
  EXPECT_DOUBLE_EQ(s.values[1], 9);
}

}  // namespace
}  // namespace dso::sim
