// PrometheusClient and PrometheusSource against a real Prometheus 2.42 holding 14 days of
// tests/data/crane_input1.csv (a production service's daily cycle, 1-minute rows), backfilled
// as the inference server's request counter and continued live by an exporter.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>
#include <thread>

#include "metrics/prometheus_source.h"
#include "support/prometheus_backfill.h"

namespace dso::metrics {
namespace {

using dso::testing::RateTrace;
using dso::testing::ServiceTrace;
using dso::testing::TracePrometheus;
using dso::testing::TracePrometheusOptions;

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The replay's own arithmetic (no Prometheus): the counter is the trace's integral, continuous
// across rows and across the trace's wrap-around, and the OpenMetrics file is what promtool reads.
TEST(TraceReplay, CounterIsTheIntegralOfTheTrace) {
  RateTrace t({1.0, 3.0, 2.0}, 60);
  t.place(1'000'050, 1);  // row 1 starts at 1,000,020 (the minute boundary at or before now)
  EXPECT_EQ(t.origin(), 999'960);
  EXPECT_EQ(t.rate_at(1'000'020), 3.0);
  EXPECT_EQ(t.rate_at(1'000'019), 1.0);
  EXPECT_EQ(t.rate_at(1'000'140), 1.0);  // wraps to row 0
  EXPECT_EQ(t.rate_at(999'959), 2.0);    // before the origin: the last row
  EXPECT_DOUBLE_EQ(t.integral(999'960), 0.0);
  EXPECT_DOUBLE_EQ(t.integral(1'000'050), 60.0 + 90.0);
  EXPECT_DOUBLE_EQ(t.integral(999'960 + 360), 2 * 360.0);  // two whole cycles
  EXPECT_DOUBLE_EQ(t.integral(999'900), -120.0);
  EXPECT_DOUBLE_EQ(t.mean_rate(999'990, 1'000'050), (30.0 * 1 + 30.0 * 3) / 60);

  ServiceTrace s;
  s.ns = "ns";
  s.service = "svc";
  s.trace = t;
  s.counter_origin = 999'960;
  std::ostringstream om;
  dso::testing::write_openmetrics(om, {s}, 999'960, 1'000'020, 30);
  const std::string text = om.str();
  EXPECT_TRUE(contains(text, "# TYPE deepseek_inference_requests counter\n"));
  EXPECT_TRUE(contains(text,
                       "deepseek_inference_requests_total{code=\"200\",deepseek_service=\"svc\","
                       "endpoint=\"chat_completions\",instance=\"trace-exporter\","
                       "job=\"deepseek-inference\",namespace=\"ns\",priority=\"normal\"} 48 "
                       "1000020\n"))
      << text;
  EXPECT_TRUE(text.ends_with("# EOF\n"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2 + 2 * 3 + 1);
}

class PrometheusTrace : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServiceTrace s;
    s.ns = "metrics-it";
    s.service = "chat";
    // Requests per second: the trace's values x 10 (about 10 to 280).
    s.trace = RateTrace::from_csv(std::string(DSO_TEST_DATA) + "/crane_input1.csv", 10.0);
    TracePrometheusOptions o;
    o.name = "metrics-trace";
    o.services = {s};
    const auto started = std::chrono::steady_clock::now();
    prometheus_ = new TracePrometheus(o);
    std::printf("backfilled 14 days and started Prometheus in %.1f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  static void TearDownTestSuite() {
    delete prometheus_;
    prometheus_ = nullptr;
  }

  static api::DeepSeekService service(std::vector<api::MetricSpec> metrics = {}) {
    api::DeepSeekService s;
    s.metadata.ns = "metrics-it";
    s.metadata.name = "chat";
    s.spec.autoscaling.metrics = std::move(metrics);
    return s;
  }
  static api::MetricSpec metric(api::MetricType type, std::string query = "") {
    api::MetricSpec m;
    m.type = type;
    m.query = std::move(query);
    return m;
  }
  static PrometheusClientPtr client(
      std::chrono::milliseconds timeout = std::chrono::seconds(30), int attempts = 3,
      std::chrono::milliseconds breaker_cooldown = std::chrono::seconds(10)) {
    PrometheusConfig c;
    c.url = prometheus_->url();
    c.timeout = timeout;
    c.max_attempts = attempts;
    c.breaker_cooldown = breaker_cooldown;
    return PrometheusClient::create(c).value();
  }
  static const RateTrace& trace() { return prometheus_->services().front().trace; }

  static TracePrometheus* prometheus_;
};

TracePrometheus* PrometheusTrace::prometheus_ = nullptr;

TEST_F(PrometheusTrace, DemandHistoryEqualsTheBackfilledTrace) {
  auto c = client();
  PrometheusSource source(c);
  // Each point is the minute from its time on, read at the minute's end: the last whole minute
  // ends at or before the last sample.
  const std::int64_t start = prometheus_->backfill_start();
  const std::int64_t end = prometheus_->backfill_end() - 59;  // end is exclusive
  const auto sent_before = c->requests_sent();
  const auto history = source.demand_history(service(), start, end, 60);
  ASSERT_TRUE(history.has_value()) << history.error();
  EXPECT_EQ(c->requests_sent() - sent_before, 2u);  // 20,160 points: two chunks of <= 11,000
  ASSERT_EQ(history->values.size(), static_cast<std::size_t>((end - start + 59) / 60));
  std::size_t checked = 0;
  double worst = 0;
  for (std::size_t i = 0; i < history->values.size(); ++i) {
    const auto t = static_cast<double>(history->time_at(i));
    const double expected = trace().mean_rate(t, t + 60);
    ASSERT_FALSE(std::isnan(history->values[i])) << "point " << i << " at " << t;
    worst = std::max(worst, std::abs(history->values[i] - expected) / expected);
    ++checked;
  }
  EXPECT_GE(checked, 20000u);
  // rate() over samples 30 s apart of a counter linear within each minute is the minute's rate.
  EXPECT_LT(worst, 1e-6) << "largest relative error over " << checked << " points";
}

TEST_F(PrometheusTrace, RangeQueriesBeyondTheLimitAreChunkedAndJoined) {
  auto c = client();
  const std::int64_t start = prometheus_->backfill_start() + 60;
  const std::int64_t end = prometheus_->backfill_end();
  const auto sent_before = c->requests_sent();
  const auto r =
      c->query_range(R"(sum(rate(deepseek_inference_requests_total{namespace="metrics-it"}[1m])))",
                     start, end, 30);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(c->requests_sent() - sent_before, 4u);  // 40,319 points
  ASSERT_EQ(r->series.size(), 1u);
  const auto& points = r->series[0].points;
  ASSERT_EQ(points.size(), static_cast<std::size_t>((end - start) / 30 + 1));
  for (std::size_t i = 0; i < points.size(); ++i) {
    ASSERT_EQ(points[i].time, static_cast<double>(start + 30 * static_cast<std::int64_t>(i)));
  }
}

TEST_F(PrometheusTrace, CurrentLoadFollowsTheLiveCounter) {
  // Wait for live samples (the exporter continues the backfilled counter).
  for (int i = 0; i < 100 && prometheus_->exporter().scrapes() < 3; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_GE(prometheus_->exporter().scrapes(), 3u);
  PrometheusSource source(client());
  const auto now = static_cast<std::int64_t>(now_s());
  const auto load = source.current(
      service({metric(api::MetricType::kRequestsPerSecond), metric(api::MetricType::kQueueDepth)}),
      now);
  ASSERT_EQ(load.metrics.size(), 2u);
  // The rate over the last minute lies between the rates of the trace rows it covers.
  double lo = INFINITY, hi = 0;
  for (double t = static_cast<double>(now) - 120; t <= static_cast<double>(now); t += 1) {
    lo = std::min(lo, trace().rate_at(t));
    hi = std::max(hi, trace().rate_at(t));
  }
  EXPECT_GE(load.demand, lo * 0.99);
  EXPECT_LE(load.demand, hi * 1.01);
  EXPECT_EQ(load.metrics[0].name, "RequestsPerSecond");
  EXPECT_EQ(load.metrics[0].value, load.demand);
  EXPECT_EQ(load.metrics[0].sampled_at, now);
  // The server's queue gauge is not in this Prometheus: empty -> NaN with a problem, not 0.
  EXPECT_EQ(load.metrics[1].name, "QueueDepth");
  EXPECT_TRUE(std::isnan(load.metrics[1].value));
  ASSERT_EQ(load.problems.size(), 1u);
  EXPECT_TRUE(contains(load.problems[0], "QueueDepth: query \"sum(deepseek_inference_queue_depth"))
      << load.problems[0];
  EXPECT_TRUE(contains(load.problems[0], "returned no series")) << load.problems[0];
}

TEST_F(PrometheusTrace, NaNInfAndEmptyAreUnknownAndZeroIsZero) {
  PrometheusSource source(client());
  const auto load =
      source.current(service({metric(api::MetricType::kPromQL, "vector(0) / vector(0)"),
                              metric(api::MetricType::kPromQL, "vector(1) / vector(0)"),
                              metric(api::MetricType::kPromQL, "0 / 0"),
                              metric(api::MetricType::kPromQL, "sum(no_such_metric)"),
                              metric(api::MetricType::kPromQL, "vector(0)"),
                              metric(api::MetricType::kPromQL, "scalar(vector(2))")}),
                     static_cast<std::int64_t>(now_s()));
  ASSERT_EQ(load.metrics.size(), 6u);
  EXPECT_TRUE(std::isnan(load.metrics[0].value));
  EXPECT_TRUE(std::isnan(load.metrics[1].value));
  EXPECT_TRUE(std::isnan(load.metrics[2].value));
  EXPECT_TRUE(std::isnan(load.metrics[3].value));
  EXPECT_EQ(load.metrics[4].value, 0.0);
  EXPECT_EQ(load.metrics[5].value, 2.0);
  ASSERT_EQ(load.problems.size(), 4u) << ::testing::PrintToString(load.problems);
  EXPECT_TRUE(
      contains(load.problems[0], "PromQL[0]: query \"vector(0) / vector(0)\" returned NaN"));
  EXPECT_TRUE(
      contains(load.problems[1], "PromQL[1]: query \"vector(1) / vector(0)\" returned +Inf"));
  EXPECT_TRUE(contains(load.problems[2], "PromQL[2]: query \"0 / 0\" returned NaN"));
  EXPECT_TRUE(
      contains(load.problems[3], "PromQL[3]: query \"sum(no_such_metric)\" returned no series"));
  EXPECT_FALSE(std::isnan(load.demand));
}

TEST_F(PrometheusTrace, BadQueryIsAnErrorAndNotRetried) {
  auto c = client();
  const auto before = c->requests_sent();
  const auto r = c->query("sum(rate(x[1m])");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, PrometheusError::Kind::kApi);
  EXPECT_EQ(r.error().error_type, "bad_data");
  EXPECT_EQ(r.error().http_status, 400);
  EXPECT_EQ(c->requests_sent() - before, 1u);
  EXPECT_TRUE(contains(r.error().message, "Prometheus query \"sum(rate(x[1m])\" at " +
                                              prometheus_->url() + "/api/v1/query: "))
      << r.error().message;
}

TEST_F(PrometheusTrace, TimeoutIsHonouredWhilePrometheusHangs) {
  auto c = client(std::chrono::milliseconds(500), 1, std::chrono::seconds(1));
  prometheus_->freeze();
  const auto started = std::chrono::steady_clock::now();
  const auto r = c->query("vector(1)");
  const auto took = std::chrono::steady_clock::now() - started;
  prometheus_->thaw();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, PrometheusError::Kind::kTimeout) << r.error().message;
  EXPECT_LT(took, std::chrono::milliseconds(2000));
  // The timeout opened the circuit breaker: the next query within the cooldown is not sent; the
  // first one after it finds Prometheus answering again.
  const auto fast = c->query("vector(1)");
  ASSERT_FALSE(fast.has_value());
  EXPECT_EQ(fast.error().kind, PrometheusError::Kind::kTimeout);
  EXPECT_EQ(fast.error().attempts, 0);
  // (A just-resumed Prometheus on a loaded machine may miss the 500 ms once more: each miss opens
  // the breaker again, so try again after each cooldown, for up to 11 s.)
  bool answered = false;
  for (int i = 0; i < 10 && !answered; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    answered = c->query("vector(1)").has_value();
  }
  EXPECT_TRUE(answered);
}

TEST_F(PrometheusTrace, ExporterDownMakesDemandUnknownWithinAWindow) {
  PrometheusSource source(client());
  ASSERT_FALSE(std::isnan(source.current(service(), static_cast<std::int64_t>(now_s())).demand));
  prometheus_->exporter().set_serving(false);
  const auto down = std::chrono::steady_clock::now();
  ServiceLoad load;
  while (std::chrono::steady_clock::now() - down < std::chrono::seconds(120)) {
    load = source.current(service(), static_cast<std::int64_t>(now_s()));
    if (std::isnan(load.demand)) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  const double unknown_after =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - down).count();
  prometheus_->exporter().set_serving(true);
  ASSERT_TRUE(std::isnan(load.demand)) << "demand still " << load.demand << " after 120 s";
  ASSERT_EQ(load.problems.size(), 1u);
  EXPECT_TRUE(contains(load.problems[0], "returned no series")) << load.problems[0];
  // rate() keeps answering from the samples before the failed scrapes until they leave its window.
  EXPECT_GE(unknown_after, 40.0);
  const auto up = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - up < std::chrono::seconds(60)) {
    load = source.current(service(), static_cast<std::int64_t>(now_s()));
    if (!std::isnan(load.demand)) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  const double known_after =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - up).count();
  std::printf("exporter down: demand unknown after %.1f s; back up: known again after %.1f s\n",
              unknown_after, known_after);
  EXPECT_FALSE(std::isnan(load.demand));
}

TEST_F(PrometheusTrace, UnreachableNamesTheUrlAndHistorySurvivesARestart) {
  const auto cooldown = std::chrono::seconds(2);
  auto c = client(std::chrono::seconds(5), 2, cooldown);
  PrometheusSource source(c);
  prometheus_->stop();
  const auto r = c->query("vector(1)");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, PrometheusError::Kind::kUnreachable);
  EXPECT_TRUE(contains(r.error().message, prometheus_->url() + "/api/v1/query: unreachable"))
      << r.error().message;
  EXPECT_EQ(c->requests_sent(), 2u);
  // The circuit breaker is open: the queries below fail without being sent.
  const auto load = source.current(service(), static_cast<std::int64_t>(now_s()));
  EXPECT_TRUE(std::isnan(load.demand));
  ASSERT_EQ(load.problems.size(), 1u);
  EXPECT_TRUE(contains(load.problems[0], "demand: Prometheus query \"sum by (pod) (rate("))
      << load.problems[0];
  const auto h = source.demand_history(service(), prometheus_->backfill_start() + 60,
                                       prometheus_->backfill_end(), 60);
  ASSERT_FALSE(h.has_value());
  EXPECT_TRUE(contains(h.error(), "demand history of metrics-it/chat: Prometheus query_range"))
      << h.error();
  EXPECT_EQ(c->requests_sent(), 2u);
  EXPECT_EQ(c->queries_short_circuited(), 2u);

  prometheus_->start();                   // same port, same TSDB
  std::this_thread::sleep_for(cooldown);  // then one probe closes the breaker
  const auto again = source.demand_history(service(), prometheus_->backfill_start() + 60,
                                           prometheus_->backfill_start() + 3600, 60);
  ASSERT_TRUE(again.has_value()) << again.error();
  for (std::size_t i = 0; i < again->values.size(); ++i) {
    const auto t = static_cast<double>(again->time_at(i));
    EXPECT_NEAR(again->values[i], trace().mean_rate(t, t + 60),
                1e-6 * trace().mean_rate(t, t + 60));
  }
}

}  // namespace
}  // namespace dso::metrics
