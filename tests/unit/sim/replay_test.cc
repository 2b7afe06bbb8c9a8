// Interpolation, scoring, what a policy may see, the plan, the oracle.
#include "sim/replay.h"

#include <gtest/gtest.h>

#include <cmath>

#include "sim/report.h"

namespace dso::sim {
namespace {

predictor::Series grid(std::vector<double> values, Seconds start = 0, Seconds step = 15) {
  predictor::Series s;
  s.start = start;
  s.step = step;
  s.values = std::move(values);
  return s;
}

class FixedPolicy final : public Policy {
 public:
  explicit FixedPolicy(int n) : n_(n) {}
  std::string name() const override { return "fixed"; }
  Seconds metric_delay() const override { return 0; }
  int decide(const PolicyInput&) override { return n_; }

 private:
  int n_;
};

TEST(Interpolate, LinearToTheDecisionPeriod) {
  const auto out = interpolate(grid({0, 60, 120}, 1000, 60), 15);
  EXPECT_EQ(out.start, 1000);
  EXPECT_EQ(out.step, 15);
  ASSERT_EQ(out.values.size(), 9u);
  for (std::size_t i = 0; i < out.values.size(); ++i) EXPECT_DOUBLE_EQ(out.values[i], 15.0 * i);
}

TEST(Interpolate, BridgesMissingValues) {
  const auto out = interpolate(grid({10, NAN, 30}, 0, 60), 30);
  ASSERT_EQ(out.values.size(), 5u);
  EXPECT_DOUBLE_EQ(out.values[1], 15.0);  // between 10 at 0 s and 30 at 120 s
  EXPECT_DOUBLE_EQ(out.values[2], 20.0);
  EXPECT_DOUBLE_EQ(out.values[4], 30.0);
}

TEST(Replay, ScoresViolationsGpuHoursAndUnservedDemand) {
  std::vector<double> demand(40, 15.0);
  for (int i = 20; i < 24; ++i) demand[i] = 35.0;  // one minute above 2 replicas x 10
  ReplayOptions o;
  o.period = 15;
  o.capacity = 10.0;
  o.cold_start = 60;
  o.first_scored = 0;
  o.initial_utilization = 1.0;  // starts at ceil(15 / 10) = 2, the fixed policy's answer
  FixedPolicy policy(2);
  const auto r = replay(grid(demand), policy, o);
  EXPECT_DOUBLE_EQ(r.score.violation_minutes, 1.0);
  EXPECT_DOUBLE_EQ(r.score.unserved, 4 * 15.0 * 15.0);
  EXPECT_DOUBLE_EQ(r.score.demand_total, (36 * 15.0 + 4 * 35.0) * 15.0);
  EXPECT_DOUBLE_EQ(r.score.gpu_hours, 2 * 40 * 15.0 / 3600.0);
  EXPECT_EQ(r.score.scale_events, 0);
  EXPECT_EQ(r.times.size(), 40u);
  EXPECT_EQ(r.ready[21], 2);
}

TEST(Replay, DemandExactlyAtCapacityIsNoViolation) {
  // capacity = peak / N as simulate computes it: the peak is N replicas' worth, up to rounding
  // (here (peak / 47) * 47 < peak in doubles).
  const double peak = 812.667759708765;
  ASSERT_LT((peak / 47) * 47, peak);
  std::vector<double> demand(8, peak);
  ReplayOptions o;
  o.capacity = peak / 47;
  o.initial_utilization = 1.0;
  FixedPolicy all(47);
  const auto r = replay(grid(demand), all, o);
  EXPECT_DOUBLE_EQ(r.score.violation_minutes, 0.0);
}

TEST(Replay, OnlyTheWindowIsScored) {
  std::vector<double> demand(100, 50.0);  // 5 replicas at capacity 10
  ReplayOptions o;
  o.capacity = 10.0;
  o.first_scored = 60;
  o.warmup = 0;
  o.initial_utilization = 1.0;
  FixedPolicy policy(1);  // under-provisioned everywhere
  const auto r = replay(grid(demand), policy, o);
  EXPECT_EQ(r.times.size(), 40u);
  EXPECT_EQ(r.times.front(), 60 * 15);
  // The first scored step still has the initial 5 replicas; then the policy's 1 serves 10 of 50.
  EXPECT_DOUBLE_EQ(r.score.violation_minutes, 39 * 15.0 / 60.0);
}

// Records what it was shown.
class ProbePolicy final : public Policy {
 public:
  std::string name() const override { return "probe"; }
  Seconds metric_delay() const override { return 60; }
  int decide(const PolicyInput& in) override {
    lags.push_back(in.now - in.observed_at());
    last_visible.push_back(in.visible.back());
    return 1 + static_cast<int>(in.now / 15 % 3);  // a changing plan: 1, 2, 3, 1, ...
  }
  std::vector<Seconds> lags;
  std::vector<double> last_visible;
};

TEST(Replay, PolicySeesOnlyThePastThroughItsMetricDelay) {
  std::vector<double> demand(50);
  for (std::size_t i = 0; i < demand.size(); ++i) demand[i] = static_cast<double>(i);
  ReplayOptions o;
  o.capacity = 100.0;
  ProbePolicy probe;
  const auto r = replay(grid(demand), probe, o);
  ASSERT_EQ(probe.lags.size(), 50u);
  for (std::size_t k = 4; k < probe.lags.size(); ++k) {
    EXPECT_EQ(probe.lags[k], 60) << k;
    EXPECT_DOUBLE_EQ(probe.last_visible[k], static_cast<double>(k - 4));
  }
  EXPECT_EQ(probe.lags[0], 0);  // before 60 s of history the oldest sample is all there is
}

TEST(Replay, PlanCsvIsExactlyWhatThePolicyDecided) {
  std::vector<double> demand(30, 10.0);
  ReplayOptions o;
  o.capacity = 10.0;
  ProbePolicy probe;
  const auto r = replay(grid(demand, 1'700'000'000), probe, o);
  const std::string csv = plan_csv(r, traces::TimestampFormat::kUnixSeconds);
  std::string expected = "timestamp,replicas\n";
  for (int k = 0; k < 30; ++k) {
    const Seconds t = 1'700'000'000 + 15 * k;
    expected += std::to_string(t) + "," + std::to_string(1 + t / 15 % 3) + "\n";
  }
  EXPECT_EQ(csv, expected);
  // The fleet starts at ceil(10 / (10 x 0.7)) = 2 and the first decision is 3: every one of the
  // 30 decisions changes the replicas.
  EXPECT_EQ(r.desired.front(), 3);
  EXPECT_EQ(r.score.scale_events, 30);
}

TEST(Oracle, NoViolationsAndFewestGpuHours) {
  // A daily-like bump: 10 -> 80 -> 10 over 400 steps.
  std::vector<double> demand(400);
  for (std::size_t i = 0; i < demand.size(); ++i) {
    demand[i] = 10.0 + 70.0 * std::exp(-std::pow((static_cast<double>(i) - 200.0) / 50.0, 2));
  }
  ReplayOptions o;
  o.capacity = 10.0;
  o.cold_start = 300;
  o.first_scored = 100;
  const auto g = grid(demand);
  auto oracle = make_oracle(g, o.cold_start, o.capacity);
  const auto best = replay(g, *oracle, o);
  EXPECT_DOUBLE_EQ(best.score.violation_minutes, 0.0);
  // Any fixed fleet without violations needs 8 replicas throughout: more GPU-hours.
  FixedPolicy eight(8);
  o.initial_utilization = 10.0 / 80.0;
  const auto fixed = replay(g, eight, o);
  EXPECT_DOUBLE_EQ(fixed.score.violation_minutes, 0.0);
  EXPECT_LT(best.score.gpu_hours, fixed.score.gpu_hours);
  // It provisions the most the demand needs within one cold start ahead, no more.
  const std::size_t k = 150;  // the ramp up
  int need = 0;
  for (std::size_t j = k; j <= k + 20; ++j) {
    need = std::max(need, static_cast<int>(std::ceil(demand[j] / 10.0 - 1e-9)));
  }
  EXPECT_EQ(best.desired[k - o.first_scored], need);
}

TEST(Report, TableHasEveryPolicyAndTheOracleGap) {
  ReplayResult a;
  a.policy = "hpa";
  a.score.gpu_hours = 100;
  a.score.violation_minutes = 12;
  ReplayResult b;
  b.policy = "seasonal";
  b.score.gpu_hours = 90;
  ReplayResult oracle;
  oracle.policy = "oracle";
  oracle.score.gpu_hours = 75;
  const auto table = format_table({a, b}, &oracle);
  EXPECT_NE(table.find("seasonal"), std::string::npos);
  EXPECT_NE(table.find("-10.0%"), std::string::npos);  // seasonal vs hpa
  EXPECT_NE(table.find("seasonal: +20.0% GPU-hours vs oracle"), std::string::npos);
}

TEST(Report, ChartIsAnSvgWithTheThreeSeries) {
  ReplayResult r;
  r.policy = "hpa";
  for (int i = 0; i < 100; ++i) {
    r.times.push_back(1'700'000'000 + 15 * i);
    r.demand.push_back(10 + i);
    r.ready.push_back(5);
    r.provisioned.push_back(6);
    r.desired.push_back(6);
  }
  const auto svg = chart_svg(r, 10.0, "hpa <test>");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("hpa &lt;test&gt;"), std::string::npos);
  EXPECT_NE(svg.find("ready capacity"), std::string::npos);
  EXPECT_NE(svg.find("#d62728"), std::string::npos);  // violations (demand > 50) are marked
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

}  // namespace
}  // namespace dso::sim
