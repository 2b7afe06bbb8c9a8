#include "metrics/prometheus_source.h"

#include <cpprest/uri.h>
#include <gtest/gtest.h>

#include <cmath>

#include "fake_prometheus.h"

namespace dso::metrics {
namespace {

using testing::Answer;
using testing::FakePrometheus;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string vector_of(std::vector<std::string> values, std::string warning = "") {
  std::string body = R"({"status":"success","data":{"resultType":"vector","result":[)";
  for (std::size_t i = 0; i < values.size(); ++i) {
    body += (i ? "," : "") + std::string(R"({"metric":{"i":")") + std::to_string(i) +
            R"("},"value":[1700000000,")" + values[i] + "\"]}";
  }
  body += "]}";
  if (!warning.empty()) body += R"(,"warnings":[")" + warning + "\"]";
  return body + "}";
}

api::DeepSeekService service(std::vector<api::MetricType> types) {
  api::DeepSeekService s;
  s.metadata.name = "chat";
  s.metadata.ns = "prod";
  for (auto t : types) {
    api::MetricSpec m;
    m.type = t;
    m.target =
        t == api::MetricType::kGpuUtilization || t == api::MetricType::kKvCacheUsage ? 0.8 : 10;
    if (t == api::MetricType::kPromQL) m.query = "sum(up)";
    s.spec.autoscaling.metrics.push_back(m);
  }
  return s;
}

std::shared_ptr<PrometheusSource> source_for(const FakePrometheus& fake) {
  PrometheusConfig c;
  c.url = fake.url();
  c.max_attempts = 1;
  c.timeout = std::chrono::milliseconds(2000);
  return std::make_shared<PrometheusSource>(PrometheusClient::create(c).value());
}

std::string decoded(const std::string& body) {
  return web::uri::decode(body);
}

TEST(PrometheusSource, ReadsEachMetricAndReusesTheRateForDemand) {
  FakePrometheus fake;
  fake.script({{200, vector_of({"12.5"})}, {200, vector_of({"3"})}});
  auto source = source_for(fake);
  const auto load = source->current(
      service({api::MetricType::kRequestsPerSecond, api::MetricType::kQueueDepth}), 1700000000);
  EXPECT_TRUE(load.problems.empty()) << load.problems.front();
  ASSERT_EQ(load.metrics.size(), 2u);
  EXPECT_EQ(load.metrics[0].name, "RequestsPerSecond");
  EXPECT_EQ(load.metrics[0].value, 12.5);
  EXPECT_EQ(load.metrics[0].sampled_at, 1700000000);
  EXPECT_EQ(load.metrics[1].name, "QueueDepth");
  EXPECT_EQ(load.metrics[1].value, 3);
  EXPECT_EQ(load.demand, 12.5);
  EXPECT_EQ(load.demand_sampled_at, 1700000000);
  const auto reqs = fake.requests();
  ASSERT_EQ(reqs.size(), 2u);  // demand reused the RequestsPerSecond answer
  EXPECT_TRUE(contains(decoded(reqs[0].body),
                       R"(query=sum by (pod) (rate(deepseek_inference_requests_total{)"
                       R"(namespace="prod",deepseek_service="chat"}[1m])) or on (pod) (0 * )"
                       R"(sum by (pod) (sum_over_time(up{namespace="prod",)"
                       R"(deepseek_service="chat"}[1m]) >= 2)))"))
      << decoded(reqs[0].body);
  EXPECT_TRUE(contains(reqs[0].body, "time=1700000000.000"));
  EXPECT_EQ(source->queries(), 2u);
  EXPECT_EQ(source->query_failures(), 0u);
}

TEST(PrometheusSource, UnknownIsNaNWithAProblemNeverZero) {
  FakePrometheus fake;
  fake.script({{200, vector_of({})},                 // P99Latency: empty
               {200, vector_of({"NaN"})},            // QueueDepth: NaN
               {200, vector_of({"+Inf"})},           // GPUUtilization: +Inf
               {200, vector_of({"1", "2"})},         // PromQL: two series
               {200, vector_of({"0"}, "partial!")},  // demand: a real zero, partial
               {200, vector_of({"0"})}});
  auto source = source_for(fake);
  const auto load =
      source->current(service({api::MetricType::kP99Latency, api::MetricType::kQueueDepth,
                               api::MetricType::kGpuUtilization, api::MetricType::kPromQL,
                               api::MetricType::kKvCacheUsage}),
                      1700000000);
  ASSERT_EQ(load.metrics.size(), 5u);
  for (const auto& m : load.metrics) EXPECT_TRUE(std::isnan(m.value)) << m.name;
  EXPECT_EQ(load.demand, 0.0);  // a zero that Prometheus answered stays zero
  ASSERT_EQ(load.problems.size(), 6u);
  EXPECT_TRUE(contains(load.problems[0], "P99Latency: query \"histogram_quantile(0.99"));
  EXPECT_TRUE(contains(load.problems[0], "returned no series"));
  EXPECT_TRUE(contains(load.problems[1], "QueueDepth: query \"sum(deepseek_inference_queue_depth"));
  EXPECT_TRUE(contains(load.problems[1], "returned NaN"));
  EXPECT_TRUE(contains(load.problems[2], "returned +Inf"));
  EXPECT_TRUE(contains(load.problems[3], "PromQL[3]: query \"sum(up)\" returned 2 series"));
  EXPECT_TRUE(contains(load.problems[4], "KVCacheUsage: spec.autoscaling.metrics[4]"));
  EXPECT_TRUE(contains(load.problems[5], "demand: query \"sum by (pod) (rate("));
  EXPECT_TRUE(contains(load.problems[5], "returned partial data: partial!"));
  EXPECT_EQ(fake.requests().size(), 5u);  // no query for KVCacheUsage
}

TEST(PrometheusSource, AFailedQueryIsNaNAndCounted) {
  FakePrometheus fake;
  fake.script({{400, R"({"status":"error","errorType":"bad_data","error":"parse error"})"}});
  auto source = source_for(fake);
  const auto load = source->current(service({api::MetricType::kPromQL}), 1700000000);
  ASSERT_EQ(load.metrics.size(), 1u);
  EXPECT_TRUE(std::isnan(load.metrics[0].value));
  EXPECT_TRUE(std::isnan(load.demand));
  ASSERT_EQ(load.problems.size(), 2u);
  EXPECT_TRUE(contains(load.problems[0],
                       "PromQL[0]: Prometheus query \"sum(up)\" at " + fake.url() +
                           "/api/v1/query: Prometheus error bad_data (HTTP 400): parse error"))
      << load.problems[0];
  EXPECT_EQ(source->query_failures(), 2u);
}

TEST(PrometheusSource, AnUnreachablePrometheusCostsOneQueryPerPeriodNotOnePerService) {
  // Nothing listens on this port: every query fails as unreachable.
  std::string url;
  {
    FakePrometheus gone;
    url = gone.url();
  }
  PrometheusConfig c;
  c.url = url;
  c.max_attempts = 3;
  c.backoff = std::chrono::milliseconds(5);
  c.max_backoff = std::chrono::milliseconds(10);
  auto client = PrometheusClient::create(c).value();
  PrometheusSource source(client);
  // A decision period over 20 services, two queries each (a metric and demand).
  for (int i = 0; i < 20; ++i) {
    auto s = service({api::MetricType::kQueueDepth});
    s.metadata.name = "chat-" + std::to_string(i);
    const auto load = source.current(s, 1700000000);
    EXPECT_TRUE(std::isnan(load.metrics[0].value));
    EXPECT_TRUE(std::isnan(load.demand));  // unknown, never zero
    ASSERT_EQ(load.problems.size(), 2u);
    EXPECT_TRUE(contains(load.problems[0], i == 0 ? "unreachable" : "not sent"))
        << load.problems[0];
  }
  EXPECT_EQ(client->requests_sent(), 3u);  // the first query's attempts, then the breaker
  EXPECT_EQ(source.query_failures(), 40u);
}

TEST(PrometheusSource, DemandHistoryPlacesPointsAndLeavesGapsNaN) {
  FakePrometheus fake;
  // Points evaluated at 1080 (NaN), 1140 and 1260 (each the rate over the minute before it);
  // 1200 missing.
  fake.script({{200, R"({"status":"success","data":{"resultType":"matrix","result":[
      {"metric":{},"values":[[1080,"NaN"],[1140,"4"],[1260,"6.5"]]}]}})"}});
  auto source = source_for(fake);
  const auto s = source->demand_history(service({api::MetricType::kQueueDepth}), 1020, 1260, 60);
  ASSERT_TRUE(s.has_value()) << s.error();
  EXPECT_EQ(s->start, 1020);
  EXPECT_EQ(s->step, 60);
  ASSERT_EQ(s->values.size(), 4u);  // minutes from 1020, 1080, 1140, 1200 (end exclusive)
  EXPECT_TRUE(std::isnan(s->values[0]));
  EXPECT_EQ(s->values[1], 4);
  EXPECT_TRUE(std::isnan(s->values[2]));
  EXPECT_EQ(s->values[3], 6.5);
  const auto reqs = fake.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].path, "/api/v1/query_range");
  EXPECT_TRUE(contains(decoded(reqs[0].body), "[1m]))&start=1080&end=1260&step=60"))
      << decoded(reqs[0].body);

  // A coarser step widens the rate window to the step.
  fake.script({{200, R"({"status":"success","data":{"resultType":"matrix","result":[]}})"}});
  const auto hourly = source->demand_history(service({}), 0, 7200, 3600);
  ASSERT_TRUE(hourly.has_value());
  ASSERT_EQ(hourly->values.size(), 2u);
  EXPECT_TRUE(std::isnan(hourly->values[0]) && std::isnan(hourly->values[1]));
  EXPECT_TRUE(
      contains(decoded(fake.requests().back().body), "[1h]))&start=3600&end=7200&step=3600"));
}

TEST(PrometheusSource, ConfiguredRateWindowAndLabelsReachEveryQuery) {
  FakePrometheus fake;
  fake.script({{200, vector_of({"2"})}});
  PrometheusConfig c;
  c.url = fake.url();
  c.max_attempts = 1;
  c.timeout = std::chrono::milliseconds(2000);
  PrometheusSourceOptions options;
  options.queries.rate_window = 240;
  options.queries.namespace_label = "kns";
  options.queries.service_label = "dss";
  PrometheusSource source(PrometheusClient::create(c).value(), options);
  const auto load = source.current(service({api::MetricType::kQueueDepth}), 1700000000);
  EXPECT_EQ(load.demand, 2);
  auto reqs = fake.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_TRUE(contains(decoded(reqs[0].body), R"(sum(deepseek_inference_queue_depth{kns="prod",)"
                                              R"(dss="chat"}))"))
      << decoded(reqs[0].body);
  EXPECT_TRUE(contains(decoded(reqs[1].body), R"(sum by (pod) (rate()"
                                              R"(deepseek_inference_requests_total{)"
                                              R"(kns="prod",dss="chat"}[4m])))"))
      << decoded(reqs[1].body);

  // History at a step below the window takes rate() over the window, not the step.
  fake.script({{200, R"({"status":"success","data":{"resultType":"matrix","result":[]}})"}});
  ASSERT_TRUE(source.demand_history(service({}), 0, 600, 60).has_value());
  EXPECT_TRUE(contains(decoded(fake.requests().back().body), "[4m]))&start=60&end=600&step=60"))
      << decoded(fake.requests().back().body);
}

TEST(PrometheusSource, DemandHistoryErrorsNameTheServiceAndQuery) {
  FakePrometheus fake;
  fake.script({{503, R"({"status":"error","errorType":"timeout","error":"query timed out"})"}});
  auto source = source_for(fake);
  const auto s = source->demand_history(service({}), 0, 600, 60);
  ASSERT_FALSE(s.has_value());
  EXPECT_TRUE(
      contains(s.error(), "demand history of prod/chat: Prometheus query_range \"sum(rate("))
      << s.error();
  EXPECT_TRUE(contains(s.error(), "Prometheus error timeout (HTTP 503): query timed out"));
  EXPECT_FALSE(source->demand_history(service({}), 0, 600, 0).has_value());
  EXPECT_TRUE(source->demand_history(service({}), 600, 600, 60)->values.empty());
}

TEST(PrometheusSource, DemandCountsThePodsThatReported) {
  FakePrometheus fake;
  // Two pods reported, and a series without a pod label (a backfill) adds to the sum only.
  fake.script({{200, R"({"status":"success","data":{"resultType":"vector","result":[
      {"metric":{"pod":"chat-a"},"value":[1700000000,"10"]},
      {"metric":{"pod":"chat-b"},"value":[1700000000,"12.5"]},
      {"metric":{},"value":[1700000000,"1"]}]}})"}});
  auto source = source_for(fake);
  const auto load = source->current(service({api::MetricType::kRequestsPerSecond}), 1700000000);
  EXPECT_EQ(load.demand, 23.5);
  EXPECT_EQ(load.metrics[0].value, 23.5);
  ASSERT_TRUE(load.reporting_pods.has_value());
  EXPECT_EQ(*load.reporting_pods, 2);
  EXPECT_FALSE(load.metrics[0].partial);
  EXPECT_EQ(fake.requests().size(), 1u);

  // Series that name no pods (a static exporter): the count is unknown, not zero.
  fake.script({{200, vector_of({"7"})}});
  const auto unnamed = source->current(service({api::MetricType::kRequestsPerSecond}), 1700000000);
  EXPECT_EQ(unnamed.demand, 7);
  EXPECT_FALSE(unnamed.reporting_pods.has_value());
}

TEST(PrometheusSource, AWarningMakesTheSamplePartial) {
  FakePrometheus fake;
  fake.script({{200, vector_of({"4"}, "some shards did not answer")}});
  auto source = source_for(fake);
  const auto load = source->current(service({api::MetricType::kQueueDepth}), 1700000000);
  EXPECT_EQ(load.metrics[0].value, 4);
  EXPECT_TRUE(load.metrics[0].partial);
  EXPECT_TRUE(contains(load.metrics[0].partial_note, "some shards did not answer"));
}

}  // namespace
}  // namespace dso::metrics
