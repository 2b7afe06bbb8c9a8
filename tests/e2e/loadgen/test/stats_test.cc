// Percentiles, the latency histogram, per-second aggregation and the SLO test.
#include "loadgen/stats.h"

#include <gtest/gtest.h>

#include <cmath>

namespace dso::loadgen {
namespace {

RequestResult completed(double latency, double ttft = 0.01) {
  return {Outcome::kCompleted, latency, ttft, ""};
}

TEST(Percentile, NearestRank) {
  std::vector<double> v;
  EXPECT_TRUE(std::isnan(percentile(v, 0.5)));
  v = {5};
  EXPECT_EQ(percentile(v, 0.99), 5);
  v = {4, 1, 3, 2};
  EXPECT_EQ(percentile(v, 0.5), 2);  // ceil(0.5 * 4) = 2nd smallest
  EXPECT_EQ(percentile(v, 0.75), 3);
  EXPECT_EQ(percentile(v, 0.99), 4);
  EXPECT_EQ(percentile(v, 1.0), 4);
  v.clear();
  for (int i = 100; i >= 1; --i) v.push_back(i);
  EXPECT_EQ(percentile(v, 0.5), 50);
  EXPECT_EQ(percentile(v, 0.99), 99);
  v.push_back(101);  // 101 values: the 99th percentile is the 100th smallest
  EXPECT_EQ(percentile(v, 0.99), 100);
}

TEST(LatencyHistogram, QuantilesWithinHalfAPercent) {
  LatencyHistogram h;
  EXPECT_TRUE(std::isnan(h.quantile(0.5)));
  for (int i = 1; i <= 1000; ++i) h.add(i * 0.001);  // 1 ms .. 1 s
  EXPECT_EQ(h.count(), 1000u);
  EXPECT_NEAR(h.quantile(0.5), 0.5, 0.5 * 0.005);
  EXPECT_NEAR(h.quantile(0.99), 0.99, 0.99 * 0.005);
  LatencyHistogram extremes;
  extremes.add(0);    // below the first bucket: counted there
  extremes.add(1e9);  // beyond the last: counted there
  EXPECT_LT(extremes.quantile(0.5), 2e-6);
  EXPECT_GT(extremes.quantile(1.0), 1e5);
}

TEST(Violation, P99AboveSloOrAny429OrError) {
  SecondRow r;
  r.completed = 10;
  r.p99_s = 1.9;
  EXPECT_FALSE(violates(r, 2.0));
  r.p99_s = 2.1;
  EXPECT_TRUE(violates(r, 2.0));
  r.p99_s = 0.1;
  r.rejected = 1;
  EXPECT_TRUE(violates(r, 2.0));
  r.rejected = 0;
  r.errors = 1;
  EXPECT_TRUE(violates(r, 2.0));
  SecondRow idle;  // nothing arrived: no violation
  idle.p99_s = NAN;
  EXPECT_FALSE(violates(idle, 2.0));
}

TEST(Recorder, AggregatesByArrivalSecond) {
  Recorder rec(/*slo_p99_s=*/1.0);
  rec.endpoints(100, 2);
  for (int i = 0; i < 4; ++i) rec.arrival(100);
  rec.arrival(102);
  rec.outcome(100, completed(0.2, 0.05));
  rec.outcome(100, completed(0.4, 0.10));
  rec.outcome(100, {Outcome::kRejected, 0, 0, "HTTP 429"});
  rec.outcome(102, {Outcome::kTimeout, 0, 0, "slow"});
  rec.outcome(103, {Outcome::kNoEndpoints, 0, 0, "no endpoints"});  // counted as offered too
  const Snapshot s = rec.snapshot(104);
  ASSERT_EQ(s.rows.size(), 5u);  // 100..104
  const SecondRow& r = s.rows[0];
  EXPECT_EQ(r.unix_time, 100);
  EXPECT_EQ(r.offered, 4u);
  EXPECT_EQ(r.completed, 2u);
  EXPECT_EQ(r.rejected, 1u);
  EXPECT_EQ(r.errors, 0u);
  EXPECT_EQ(r.in_flight, 1u);
  EXPECT_EQ(r.p50_s, 0.2);
  EXPECT_EQ(r.p99_s, 0.4);
  EXPECT_EQ(r.ttft_p99_s, 0.10);
  EXPECT_EQ(r.ready_endpoints, 2);
  EXPECT_TRUE(r.violation);          // a 429
  EXPECT_EQ(s.rows[1].offered, 0u);  // an empty second in between
  EXPECT_TRUE(std::isnan(s.rows[1].p99_s));
  EXPECT_FALSE(s.rows[1].violation);
  EXPECT_EQ(s.rows[2].errors, 1u);
  EXPECT_EQ(s.rows[3].offered, 1u);
  EXPECT_EQ(s.rows[3].errors, 1u);
  EXPECT_EQ(s.rows[4].offered, 0u);  // filled up to "now"
  EXPECT_EQ(s.totals.offered, 6u);
  EXPECT_EQ(s.totals.completed, 2u);
  EXPECT_EQ(s.totals.rejected, 1u);
  EXPECT_EQ(s.totals.errors, 2u);
  EXPECT_EQ(s.totals.in_flight, 1u);
  EXPECT_EQ(s.totals.errors_by_kind.at("timeout"), 1u);
  EXPECT_EQ(s.totals.errors_by_kind.at("no_endpoints"), 1u);
  EXPECT_EQ(s.totals.last_error, "no endpoints");
  EXPECT_EQ(s.totals.violation_seconds, 3u);  // 100 (429), 102 and 103 (errors)
  EXPECT_NEAR(s.totals.p99_s, 0.4, 0.4 * 0.005);
}

TEST(Recorder, SlowSecondsViolateAndSettledSecondsKeepTheirPercentiles) {
  Recorder rec(/*slo_p99_s=*/0.5);
  for (int i = 0; i < 100; ++i) rec.arrival(10);
  for (int i = 1; i <= 100; ++i) rec.outcome(10, completed(i * 0.01));  // p99 = 0.99 s
  const SecondRow before = rec.snapshot(10).rows[0];
  rec.arrival(11);  // second 10 is over and settled: its latencies are reduced to percentiles
  const SecondRow after = rec.snapshot(11).rows[0];
  EXPECT_EQ(before.p99_s, 0.99);
  EXPECT_EQ(after.p99_s, 0.99);
  EXPECT_EQ(after.p50_s, 0.50);
  EXPECT_TRUE(after.violation);
  EXPECT_EQ(after.completed, 100u);
}

TEST(Recorder, EndpointCountsCarryForward) {
  Recorder rec(1.0);
  rec.endpoints(50, 3);
  rec.arrival(50);
  rec.endpoints(52, 1);
  rec.arrival(53);
  const Snapshot s = rec.snapshot(54);
  ASSERT_EQ(s.rows.size(), 5u);
  EXPECT_EQ(s.rows[0].ready_endpoints, 3);
  EXPECT_EQ(s.rows[1].ready_endpoints, 3);
  EXPECT_EQ(s.rows[2].ready_endpoints, 1);
  EXPECT_EQ(s.rows[3].ready_endpoints, 1);
  EXPECT_EQ(s.rows[4].ready_endpoints, 1);
  EXPECT_EQ(s.totals.ready_endpoints, 1);
}

}  // namespace
}  // namespace dso::loadgen
