#include "metrics/promql.h"

#include <gtest/gtest.h>

namespace dso::metrics {
namespace {

api::DeepSeekService service(std::vector<api::MetricSpec> metrics,
                             api::Runtime runtime = api::Runtime::kDeepSeek) {
  api::DeepSeekService s;
  s.metadata.name = "chat";
  s.metadata.ns = "prod";
  s.spec.model.runtime = runtime;
  s.spec.autoscaling.metrics = std::move(metrics);
  return s;
}

api::MetricSpec of(api::MetricType type, double target = 1, std::string query = "") {
  api::MetricSpec m;
  m.type = type;
  m.target = target;
  m.query = std::move(query);
  return m;
}

using T = api::MetricType;

TEST(Promql, DeepSeekRuntimeQueries) {
  const auto s = service({of(T::kRequestsPerSecond), of(T::kP99Latency), of(T::kQueueDepth),
                          of(T::kGpuUtilization, 0.8)});
  const std::string sel = R"({namespace="prod",deepseek_service="chat"})";
  EXPECT_EQ(metric_query(s, 0).value(),
            "sum(rate(deepseek_inference_requests_total" + sel + "[1m]))");
  EXPECT_EQ(metric_query(s, 1).value(),
            "histogram_quantile(0.99, sum by (le) (rate("
            "deepseek_inference_request_duration_seconds_bucket" +
                sel + "[1m])))");
  EXPECT_EQ(metric_query(s, 2).value(), "sum(deepseek_inference_queue_depth" + sel + ")");
  EXPECT_EQ(metric_query(s, 3).value(), "avg(deepseek_inference_gpu_utilization_ratio" + sel + ")");
  EXPECT_EQ(demand_query(s).value(), "sum(rate(deepseek_inference_requests_total" + sel + "[1m]))");
  EXPECT_EQ(demand_query(s, {}, 300).value(),
            "sum(rate(deepseek_inference_requests_total" + sel + "[5m]))");
}

TEST(Promql, KvCacheNeedsANameOnTheDeepSeekRuntime) {
  auto s = service({of(T::kKvCacheUsage, 0.8)});
  const auto q = metric_query(s, 0);
  ASSERT_FALSE(q.has_value());
  EXPECT_NE(q.error().find("spec.autoscaling.metrics[0] (KVCacheUsage) of prod/chat"),
            std::string::npos)
      << q.error();
  EXPECT_NE(q.error().find("spec.model.metricNames.kvCacheUsage"), std::string::npos);
  s.spec.model.metric_names["kvCacheUsage"] = "my_kv_fill";
  EXPECT_EQ(metric_query(s, 0).value(),
            R"(avg(my_kv_fill{namespace="prod",deepseek_service="chat"}))");
}

TEST(Promql, OpenAICompatibleRuntimeUsesVllmNames) {
  const auto s = service({of(T::kRequestsPerSecond), of(T::kP99Latency), of(T::kQueueDepth),
                          of(T::kKvCacheUsage, 0.9), of(T::kGpuUtilization, 0.9)},
                         api::Runtime::kOpenAICompatible);
  const std::string sel = R"({namespace="prod",deepseek_service="chat"})";
  EXPECT_EQ(metric_query(s, 0).value(), "sum(rate(vllm:request_success_total" + sel + "[1m]))");
  EXPECT_EQ(metric_query(s, 1).value(),
            "histogram_quantile(0.99, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket" +
                sel + "[1m])))");
  EXPECT_EQ(metric_query(s, 2).value(), "sum(vllm:num_requests_waiting" + sel + ")");
  EXPECT_EQ(metric_query(s, 3).value(), "avg(vllm:kv_cache_usage_perc" + sel + ")");
  const auto gpu = metric_query(s, 4);
  ASSERT_FALSE(gpu.has_value());
  EXPECT_NE(gpu.error().find("runtime openai-compatible"), std::string::npos) << gpu.error();
  EXPECT_EQ(demand_query(s).value(), "sum(rate(vllm:request_success_total" + sel + "[1m]))");
}

TEST(Promql, MetricNamesOverrideAndAreChecked) {
  auto s = service({of(T::kRequestsPerSecond), of(T::kP99Latency)});
  s.spec.model.metric_names["requestsTotal"] = "http_requests_total";
  s.spec.model.metric_names["requestDurationSeconds"] = "http_latency_seconds_bucket";
  EXPECT_EQ(metric_query(s, 0).value(),
            R"(sum(rate(http_requests_total{namespace="prod",deepseek_service="chat"}[1m])))");
  EXPECT_EQ(metric_query(s, 1).value(),
            "histogram_quantile(0.99, sum by (le) (rate(http_latency_seconds_bucket"
            R"({namespace="prod",deepseek_service="chat"}[1m]))))");
  s.spec.model.metric_names["queueDepth"] = "bad name{}";
  const auto q = metric_query(s, 0);
  ASSERT_FALSE(q.has_value());
  EXPECT_EQ(q.error(),
            "spec.model.metricNames.queueDepth: \"bad name{}\" is not a Prometheus metric name");
  s.spec.model.metric_names.erase("queueDepth");
  s.spec.model.metric_names["requestRate"] = "x";
  EXPECT_NE(metric_query(s, 0).error().find("spec.model.metricNames.requestRate: unknown key"),
            std::string::npos);
}

TEST(Promql, UserQueryIsVerbatimAndLabelsAreConfigurable) {
  const std::string user = R"(sum(my_metric{job="x"}) / 2)";
  auto s = service({of(T::kPromQL, 5, user), of(T::kRequestsPerSecond)});
  EXPECT_EQ(metric_query(s, 0).value(), user);
  QueryOptions options;
  options.service_label = "app_kubernetes_io_instance";
  options.namespace_label = "kubernetes_namespace";
  options.rate_window = 90;
  EXPECT_EQ(metric_query(s, 1, options).value(),
            "sum(rate(deepseek_inference_requests_total{kubernetes_namespace=\"prod\","
            "app_kubernetes_io_instance=\"chat\"}[90s]))");
  EXPECT_FALSE(metric_query(s, 2).has_value());
}

TEST(Promql, EveryBuiltInQueryUsesTheConfiguredLabelsAndWindow) {
  // What `run --prometheus-namespace-label kns --prometheus-service-label dss
  // --prometheus-rate-window 4m` sets.
  QueryOptions options;
  options.namespace_label = "kns";
  options.service_label = "dss";
  options.rate_window = 240;
  const auto s = service({of(T::kRequestsPerSecond), of(T::kP99Latency), of(T::kQueueDepth),
                          of(T::kGpuUtilization, 0.8)});
  const std::string sel = R"({kns="prod",dss="chat"})";
  EXPECT_EQ(service_selector(s, options), sel);
  EXPECT_EQ(metric_query(s, 0, options).value(),
            "sum(rate(deepseek_inference_requests_total" + sel + "[4m]))");
  EXPECT_EQ(metric_query(s, 1, options).value(),
            "histogram_quantile(0.99, sum by (le) (rate("
            "deepseek_inference_request_duration_seconds_bucket" +
                sel + "[4m])))");
  EXPECT_EQ(metric_query(s, 2, options).value(), "sum(deepseek_inference_queue_depth" + sel + ")");
  EXPECT_EQ(metric_query(s, 3, options).value(),
            "avg(deepseek_inference_gpu_utilization_ratio" + sel + ")");
  EXPECT_EQ(demand_query(s, options).value(),
            "sum(rate(deepseek_inference_requests_total" + sel + "[4m]))");
  // An explicit window (demand history's max(rate window, step)) still wins.
  EXPECT_EQ(demand_query(s, options, 3600).value(),
            "sum(rate(deepseek_inference_requests_total" + sel + "[1h]))");
}

TEST(Promql, NamesAndKinds) {
  const auto s = service({of(T::kRequestsPerSecond, 10), of(T::kPromQL, 5, "up"),
                          of(T::kP99Latency, 2), of(T::kP99Latency, 3)});
  EXPECT_EQ(scaling_metric_name(s.spec, 0), "RequestsPerSecond");
  EXPECT_EQ(scaling_metric_name(s.spec, 1), "PromQL[1]");
  EXPECT_EQ(scaling_metric_name(s.spec, 2), "P99Latency[2]");
  EXPECT_EQ(scaling_metric_name(s.spec, 3), "P99Latency[3]");
  EXPECT_EQ(metric_kind(T::kRequestsPerSecond), autoscaler::MetricKind::kTotalValue);
  EXPECT_EQ(metric_kind(T::kQueueDepth), autoscaler::MetricKind::kTotalValue);
  EXPECT_EQ(metric_kind(T::kPromQL), autoscaler::MetricKind::kTotalValue);
  EXPECT_EQ(metric_kind(T::kP99Latency), autoscaler::MetricKind::kAverageValue);
  EXPECT_EQ(metric_kind(T::kGpuUtilization), autoscaler::MetricKind::kAverageValue);
  EXPECT_EQ(metric_kind(T::kKvCacheUsage), autoscaler::MetricKind::kAverageValue);
  const auto t = metric_target(s.spec, 2);
  EXPECT_EQ(t.name, "P99Latency[2]");
  EXPECT_EQ(t.kind, autoscaler::MetricKind::kAverageValue);
  EXPECT_EQ(t.target, 2);
}

TEST(Promql, StringsAndDurations) {
  EXPECT_EQ(promql_string(R"(a"b\c)"), R"("a\"b\\c")");
  EXPECT_EQ(promql_string("x\ny"), R"("x\ny")");
  EXPECT_EQ(promql_duration(60), "1m");
  EXPECT_EQ(promql_duration(90), "90s");
  EXPECT_EQ(promql_duration(7200), "2h");
  EXPECT_EQ(promql_duration(86400 * 14), "14d");
}

}  // namespace
}  // namespace dso::metrics
