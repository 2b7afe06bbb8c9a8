// LoadGenerator in-process against loopback fake servers: open-loop arrivals, completions,
// balancing, no endpoints, drops over --max-in-flight, abort, set_rate. Tests wait on the
// generator's events, never on sleeps.
#include <gtest/gtest.h>

#include "fake_server.h"
#include "loadgen/load_generator.h"

namespace dso::loadgen {
namespace {

using testing::FakeAnswer;
using testing::FakeServer;
constexpr Millis kHangGuard{120'000};  // only to turn a hang into a failure; never expected

Options options(double rate, std::vector<Address> targets) {
  Options o;
  o.rate = rate;
  o.targets = std::move(targets);
  o.sizes_file = std::string(DSO_TEST_DATA) + "/azure_llm_conv.csv";
  return o;
}

std::unique_ptr<LoadGenerator> started(const Options& o) {
  auto g = LoadGenerator::create(o);
  if (!g) throw std::runtime_error(g.error());
  if (auto ok = (*g)->start(); !ok) throw std::runtime_error(ok.error());
  return std::move(*g);
}

TEST(LoadGenerator, CompletesEveryRequestAndSpreadsThem) {
  FakeServer a([](const std::string&) { return FakeAnswer{testing::stream_answer()}; });
  FakeServer b([](const std::string&) { return FakeAnswer{testing::stream_answer()}; });
  auto o = options(0, {a.address(), b.address()});  // rate 0 until set_rate
  auto gen = started(o);
  gen->set_rate(400);
  ASSERT_TRUE(gen->wait_for_completed(200, kHangGuard));
  gen->stop();
  gen->wait();
  const Snapshot s = gen->snapshot();
  EXPECT_EQ(s.totals.completed, s.totals.offered);
  EXPECT_EQ(s.totals.errors, 0u) << s.totals.last_error;
  EXPECT_EQ(s.totals.in_flight, 0u);
  EXPECT_GT(a.accepted(), 0);
  EXPECT_GT(b.accepted(), 0);
  std::uint64_t offered = 0;
  for (const auto& r : s.rows) {
    offered += r.offered;
    EXPECT_EQ(r.ready_endpoints, 2);
  }
  EXPECT_EQ(offered, s.totals.offered);
  EXPECT_LE(s.totals.ttft_p50_s, s.totals.p50_s * 1.01);
}

TEST(LoadGenerator, NoEndpointsIsAnError) {
  auto gen = started(options(500, {}));
  ASSERT_TRUE(gen->wait_for_errors(20, kHangGuard));
  gen->stop();
  gen->wait();
  const Totals t = gen->snapshot().totals;
  EXPECT_EQ(t.errors, t.offered);
  EXPECT_EQ(t.errors_by_kind.at("no_endpoints"), t.errors);
  EXPECT_EQ(t.last_error, "no endpoints");
  EXPECT_EQ(t.ready_endpoints, 0);
}

TEST(LoadGenerator, DropsOverMaxInFlightAndAbortCutsTheRest) {
  FakeServer silent([](const std::string&) { return std::optional<FakeAnswer>(); });
  auto o = options(500, {silent.address()});
  o.max_in_flight = 3;
  auto gen = started(o);
  ASSERT_TRUE(gen->wait_until(
      [](const Totals& t) {
        return t.errors_by_kind.contains("dropped") && t.errors_by_kind.at("dropped") >= 10;
      },
      kHangGuard));
  gen->abort();
  gen->wait();
  const Totals t = gen->snapshot().totals;
  EXPECT_EQ(t.errors_by_kind.at("aborted"), 3u);  // the three that were in flight
  EXPECT_EQ(t.errors, t.offered);
  EXPECT_EQ(t.completed, 0u);
}

TEST(LoadGenerator, EndsAfterTheDurationWithRowsForEachSecond) {
  FakeServer server(
      [](const std::string&) { return FakeAnswer{testing::plain_answer("{\"choices\":[]}")}; });
  auto o = options(100, {server.address()});
  o.duration = Millis(1500);
  o.stream = false;
  auto gen = started(o);
  gen->wait();  // returns by itself: arrivals end at 1.5 s, then the last answers
  const Snapshot s = gen->snapshot();
  EXPECT_GT(s.totals.offered, 0u);
  EXPECT_EQ(s.totals.completed, s.totals.offered);
  EXPECT_EQ(s.totals.ttft_p99_s, s.totals.p99_s);  // not streamed: TTFT is the latency
  ASSERT_GE(s.rows.size(), 2u);  // 1.5 s of arrivals span at least two calendar seconds
  for (std::size_t i = 1; i < s.rows.size(); ++i) {
    EXPECT_EQ(s.rows[i].unix_time, s.rows[i - 1].unix_time + 1);
  }
}

TEST(LoadGenerator, BadFilesAreErrors) {
  auto o = options(1, {});
  o.sizes_file = "/nonexistent.csv";
  EXPECT_EQ(LoadGenerator::create(o).error(), "/nonexistent.csv: cannot read the file");
  o = options(1, {});
  o.trace_file = "/nonexistent-trace.csv";
  EXPECT_FALSE(LoadGenerator::create(o));
}

}  // namespace
}  // namespace dso::loadgen
