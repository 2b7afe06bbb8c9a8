// EventRecorder aggregation against FakeClient; HealthServer checks over HTTP; Metrics names.
#include <cpprest/http_client.h>
#include <gtest/gtest.h>

#include <random>

#include "fakes/fake_client.h"
#include "fakes/fake_clock.h"
#include "kube/controller.h"
#include "kube/event_recorder.h"
#include "kube/health_server.h"
#include "kube/metrics.h"

namespace dso::kube {
namespace {

using namespace std::chrono_literals;

Json thing(const std::string& name) {
  return {{"apiVersion", "example.com/v1"},
          {"kind", "Thing"},
          {"metadata", {{"name", name}, {"namespace", "ns"}, {"uid", "uid-" + name}}}};
}

TEST(EventRecorder, AggregatesByObjectTypeAndReason) {
  auto client = std::make_shared<FakeClient>();
  EventRecorder recorder(client, "test-operator");
  recorder.record(thing("a"), "Normal", "Scaled", "to 2");
  recorder.record(thing("a"), "Normal", "Scaled", "to 3");
  recorder.record(thing("a"), "Normal", "Scaled", "to 4");
  recorder.record(thing("a"), "Warning", "Failed", "quota");
  recorder.record(thing("b"), "Normal", "Scaled", "to 1");
  recorder.flush();
  EXPECT_EQ(recorder.sent(), 5);
  EXPECT_EQ(recorder.failed(), 0);
  auto events = client->list(Resource::events(), "ns", ListOptions{});
  ASSERT_TRUE(events);
  ASSERT_EQ(events->items.size(), 3u);
  bool saw_aggregate = false;
  for (const auto& e : events->items) {
    EXPECT_EQ(e["source"]["component"], "test-operator");
    if (e["involvedObject"]["name"] == "a" && e["reason"] == "Scaled") {
      saw_aggregate = true;
      EXPECT_EQ(e["count"], 3);
      EXPECT_EQ(e["message"], "to 4");
      EXPECT_EQ(e["involvedObject"]["kind"], "Thing");
      EXPECT_EQ(e["involvedObject"]["uid"], "uid-a");
      EXPECT_EQ(e["type"], "Normal");
    }
  }
  EXPECT_TRUE(saw_aggregate);
}

TEST(EventRecorder, AggregatesOlderThanTheWindowAreDropped) {
  // Before: every (object, type, reason) ever seen stayed in the map for the process's life.
  auto client = std::make_shared<FakeClient>();
  auto clock = std::make_shared<FakeClock>();
  EventRecorder recorder(client, "op", clock);
  for (const char* name : {"a", "b", "c"}) recorder.record(thing(name), "Normal", "Scaled", "x");
  recorder.flush();
  EXPECT_EQ(recorder.aggregates(), 3u);
  clock->advance(std::chrono::minutes(11));  // past the 10-minute window
  recorder.record(thing("d"), "Normal", "Scaled", "x");
  recorder.flush();
  EXPECT_EQ(recorder.aggregates(), 1u);
  EXPECT_EQ(recorder.sent(), 4);
}

TEST(EventRecorder, FailuresAreCountedNotThrownAndExpiredEventsAreRecreated) {
  auto client = std::make_shared<FakeClient>();
  EventRecorder recorder(client, "op");
  client->inject_error("POST", ApiError{403, "Forbidden", "no RBAC", nullptr, std::nullopt});
  recorder.record(thing("a"), "Normal", "R", "m");
  recorder.flush();
  EXPECT_EQ(recorder.failed(), 1);
  recorder.record(thing("a"), "Normal", "R", "m");
  recorder.flush();
  auto events = client->list(Resource::events(), "ns", ListOptions{});
  ASSERT_EQ(events->items.size(), 1u);
  // The Event is garbage-collected by its TTL: the next repeat creates a new one.
  client->remove(Resource::events(), "ns", meta_string(events->items[0], "name"));
  recorder.record(thing("a"), "Normal", "R", "again");
  recorder.flush();
  events = client->list(Resource::events(), "ns", ListOptions{});
  ASSERT_EQ(events->items.size(), 1u);
  EXPECT_EQ(events->items[0]["message"], "again");
  EXPECT_EQ(events->items[0]["count"], 1);
}

TEST(HealthServer, ChecksDecideStatusAndMetricsAreServed) {
  auto metrics = std::make_shared<Metrics>();
  metrics->observe_request("GET", 200, 0.003);
  metrics->count_relist("configmaps.v1");
  std::atomic<bool> ready{false};
  HealthServer server("", metrics->registry());
  server.add_liveness_check("ping", [] { return std::expected<void, std::string>{}; });
  server.add_readiness_check("informers-synced", [&]() -> std::expected<void, std::string> {
    if (!ready) return std::unexpected("configmaps not synced");
    return {};
  });
  EXPECT_EQ(server.evaluate("/healthz", false).first, 200);
  auto [code, body] = server.evaluate("/readyz", false);
  EXPECT_EQ(code, 500);
  EXPECT_NE(body.find("[-]informers-synced failed: configmaps not synced"), std::string::npos);
  ready = true;
  EXPECT_EQ(server.evaluate("/readyz", false), (std::pair<int, std::string>{200, "ok"}));
  EXPECT_NE(server.evaluate("/readyz", true).second.find("[+]informers-synced ok"),
            std::string::npos);
  EXPECT_EQ(server.evaluate("/nope", false).first, 404);
  const std::string text = server.evaluate("/metrics", false).second;
  EXPECT_NE(text.find("rest_client_request_duration_seconds_count{code=\"200\",verb=\"GET\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("informer_relists_total{resource=\"configmaps.v1\"} 1"), std::string::npos);
}

TEST(HealthServer, ServesOverHttp) {
  std::mt19937 rng(std::random_device{}());
  for (int attempt = 0; attempt < 5; ++attempt) {
    const std::string address = "http://127.0.0.1:" + std::to_string(30000 + rng() % 20000);
    HealthServer server(address);
    std::atomic<bool> ready{false};
    server.add_readiness_check("r", [&]() -> std::expected<void, std::string> {
      if (!ready) return std::unexpected("not yet");
      return {};
    });
    if (!server.start()) continue;  // port taken: try another
    web::http::client::http_client client(address);
    EXPECT_EQ(client.request(web::http::methods::GET, "/readyz").get().status_code(), 500);
    ready = true;
    auto r = client.request(web::http::methods::GET, "/readyz").get();
    EXPECT_EQ(r.status_code(), 200);
    EXPECT_EQ(r.extract_string().get(), "ok");
    EXPECT_EQ(client.request(web::http::methods::GET, "/healthz").get().status_code(), 200);
    server.stop();
    return;
  }
  FAIL() << "no free port found";
}

TEST(Metrics, QueueAndControllerMetricsAreRecorded) {
  auto metrics = std::make_shared<Metrics>();
  auto clock = std::make_shared<FakeClock>();
  auto queue = std::make_shared<WorkQueue>("things", nullptr, clock, metrics);
  ControllerOptions options;
  options.name = "things";
  options.metrics = metrics;
  options.clock = clock;
  std::atomic<int> calls{0};
  Controller c(options, queue, [&](const std::string& key) {
    ++calls;
    return key == "bad" ? ReconcileResult::terminal("bad") : ReconcileResult::done();
  });
  c.start();
  queue->add("good");
  queue->add("bad");
  for (int i = 0; i < 2000 && calls < 2; ++i) std::this_thread::sleep_for(1ms);
  c.stop();
  HealthServer s("", metrics->registry());
  const std::string text = s.evaluate("/metrics", false).second;
  EXPECT_NE(text.find("workqueue_adds_total{name=\"things\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("controller_runtime_reconcile_errors_total{controller=\"things\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("controller_runtime_reconcile_time_seconds_count{controller=\"things\"} 2"),
            std::string::npos);
  EXPECT_NE(text.find("workqueue_depth{name=\"things\"} 0"), std::string::npos);
}

}  // namespace
}  // namespace dso::kube
