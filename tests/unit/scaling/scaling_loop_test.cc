// The live scaling loop (scaling/scaling_loop.h) with a fake MetricsSource, and through the
// reconciler with FakeClient: Prometheus down -> hold and MetricsUnavailable, resume; empty/NaN is
// unknown; Preview never changes replicas; Auto acts with an event; the manual-scale rule; history
// loaded once then incremental, rebuilt after a restart; scaling ahead of a known daily rise.
#include "scaling/scaling_loop.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <thread>

#include "controller/reconciler.h"
#include "fakes/fake_client.h"
#include "metrics/promql.h"
#include "scaling/scaling_status.h"

namespace dso::scaling {
namespace {

using kube::Json;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr Seconds kT0 = 1'764'316'800;  // 2025-11-28T08:00:00Z, a multiple of one day + 8 h

// A MetricsSource whose answers the test sets.
class FakeSource final : public metrics::MetricsSource {
 public:
  metrics::ServiceLoad current(const api::DeepSeekService& service, Seconds now) override {
    {
      std::lock_guard lock(mu);
      max_in_flight = std::max(max_in_flight, ++in_flight);
    }
    std::this_thread::sleep_for(delay);  // a slow Prometheus
    std::lock_guard lock(mu);
    --in_flight;
    ++current_calls;
    metrics::ServiceLoad load;
    const bool unknown = down || std::isnan(demand);
    for (std::size_t i = 0; i < service.spec.autoscaling.metrics.size(); ++i) {
      const double v = unknown ? kNaN : (i < values.size() ? values[i] : demand);
      load.metrics.push_back({metrics::scaling_metric_name(service.spec, i), v, now});
    }
    load.demand = unknown ? kNaN : demand;
    load.demand_sampled_at = now;
    load.reporting_pods = reporting_pods;
    if (down)
      load.problems.push_back("query sum(rate(x[1m])): connection refused");
    else if (unknown)
      load.problems.push_back("query sum(rate(x[1m])): empty result");
    return load;
  }
  std::expected<predictor::Series, std::string> demand_history(const api::DeepSeekService&,
                                                               Seconds start, Seconds end,
                                                               Seconds step) override {
    std::lock_guard lock(mu);
    ranges.push_back({start, end, step});
    if (down || !history) return std::unexpected("query_range: connection refused");
    predictor::Series s;
    s.start = start;
    s.step = step;
    for (Seconds t = start; t < end; t += step) s.values.push_back(history(t));
    return s;
  }
  std::mutex mu;
  std::chrono::milliseconds delay{0};
  int in_flight = 0, max_in_flight = 0;  // concurrent current() calls
  bool down = false;
  double demand = kNaN;
  std::vector<double> values;         // per metric; default: demand
  std::optional<int> reporting_pods;  // pods whose requests were counted (unknown by default)
  std::function<double(Seconds)> history;
  int current_calls = 0;
  std::vector<std::array<Seconds, 3>> ranges;
};

Json service(const std::string& mode, Json autoscaling = Json::object(),
             std::optional<int> status_replicas = std::nullopt) {
  autoscaling["predictive"]["mode"] = mode;
  Json o{{"apiVersion", "inference.deepseek.io/v1alpha1"},
         {"kind", "DeepSeekService"},
         {"metadata", {{"name", "chat"}, {"namespace", "ml"}, {"uid", "u1"}, {"generation", 1}}},
         {"spec", {{"model", {{"name", "m"}, {"image", "img"}}}, {"autoscaling", autoscaling}}}};
  if (status_replicas) {
    o["status"] = {{"replicas", *status_replicas}, {"readyReplicas", *status_replicas}};
  }
  return o;
}

api::DeepSeekService parsed(const Json& o) {
  auto p = api::parse_deepseek_service(o);
  EXPECT_TRUE(p) << p.error();
  return *p;
}

struct Harness {
  explicit Harness(Json object, Seconds decision_period = 15, int workers = 4) {
    services.upsert("ml/chat", std::make_shared<const Json>(std::move(object)));
    ScalingLoopOptions o;
    o.settings.decision_period = decision_period;
    o.workers = workers;
    o.record_event = [this](const Json&, const std::string& type, const std::string& reason,
                            const std::string& message) {
      std::lock_guard lock(mu);
      events.push_back(type + " " + reason + " " + message);
    };
    o.enqueue = [this](const std::string& key) {
      std::lock_guard lock(mu);
      enqueued.push_back(key);
    };
    o.metrics = std::make_shared<ScalingMetrics>(registry);
    loop = std::make_unique<ScalingLoop>(services, source, cold, o);
  }
  Json object() const { return *services.get("ml/chat"); }
  void set(Json o) { services.upsert("ml/chat", std::make_shared<const Json>(std::move(o))); }
  std::optional<int> desired() { return loop->desired_replicas(parsed(object())); }
  Json part() {
    auto p = loop->status_part(parsed(object()));
    EXPECT_TRUE(p);
    return p ? *p : Json::object();
  }
  Json cond(const std::string& type) {
    for (const auto& c : part().value("conditions", Json::array()))
      if (c["type"] == type) return c;
    return Json();
  }
  std::string metrics_text() { return prometheus::TextSerializer().Serialize(registry->Collect()); }

  kube::Indexer services{kube::CacheStorage::kParsed};
  std::shared_ptr<FakeSource> source = std::make_shared<FakeSource>();
  std::shared_ptr<ColdStartTracker> cold = std::make_shared<ColdStartTracker>();
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<ScalingLoop> loop;
  std::mutex mu;
  std::vector<std::string> events, enqueued;
};

TEST(ScalingLoop, PrometheusDownHoldsReplicasThenResumes) {
  Harness h(service("Auto", {{"minReplicas", 1}, {"maxReplicas", 20}}, 5));
  h.source->down = true;
  for (Seconds t = kT0; t < kT0 + 600; t += 15) {
    h.loop->run_once(t);
    ASSERT_EQ(h.desired(), 5) << "at +" << (t - kT0) << "s: " << h.part().dump();
  }
  EXPECT_EQ(h.cond("MetricsUnavailable")["status"], "True");
  EXPECT_EQ(h.cond("MetricsUnavailable")["reason"], "MetricsMissing");
  EXPECT_NE(h.cond("MetricsUnavailable")["message"].get<std::string>().find("connection refused"),
            std::string::npos);
  EXPECT_EQ(h.cond("ScalingActive")["status"], "False");
  EXPECT_EQ(h.cond("ScalingActive")["reason"], "MetricsUnavailable");
  EXPECT_NE(h.metrics_text().find(
                "deepseek_operator_metrics_unavailable{name=\"chat\",namespace=\"ml\"} 1"),
            std::string::npos)
      << h.metrics_text();
  EXPECT_TRUE(h.events.empty());

  // Prometheus is back: 80 req/s against 10 per replica.
  h.source->down = false;
  h.source->demand = 80;
  h.source->history = [](Seconds) { return 80.0; };
  h.loop->run_once(kT0 + 600);
  EXPECT_EQ(h.desired(), 8) << h.part().dump();
  EXPECT_EQ(h.cond("MetricsUnavailable")["status"], "False");
  EXPECT_EQ(h.cond("ScalingActive")["reason"], "AutoscalerDecided");
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.events[0].rfind("Normal ScaledUp autoscaler: 5 -> 8 replicas: ", 0), 0u)
      << h.events[0];
  EXPECT_NE(h.metrics_text().find(
                "deepseek_operator_metrics_unavailable{name=\"chat\",namespace=\"ml\"} 0"),
            std::string::npos);
  // 40 decisions while down, each with one metric and the demand unknown.
  EXPECT_NE(h.metrics_text().find("deepseek_operator_metric_query_failures_total{name=\"chat\","
                                  "namespace=\"ml\"} 80"),
            std::string::npos)
      << h.metrics_text();
}

TEST(ScalingLoop, APassLongerThanTheDecisionPeriodIsCounted) {
  Harness h(service("Auto", {{"minReplicas", 1}, {"maxReplicas", 20}}, 5), 1);
  h.source->demand = 40;
  h.loop->run_once(kT0);
  EXPECT_NE(h.metrics_text().find("deepseek_operator_scaling_pass_seconds_count 1"),
            std::string::npos)
      << h.metrics_text();
  EXPECT_NE(h.metrics_text().find("deepseek_operator_scaling_pass_overruns_total 0"),
            std::string::npos);
  h.source->delay = std::chrono::milliseconds(1100);  // longer than the 1 s period
  h.loop->run_once(kT0 + 15);
  EXPECT_NE(h.metrics_text().find("deepseek_operator_scaling_pass_seconds_count 2"),
            std::string::npos);
  EXPECT_NE(h.metrics_text().find("deepseek_operator_scaling_pass_overruns_total 1"),
            std::string::npos)
      << h.metrics_text();
}

TEST(ScalingLoop, DecidesUpToWorkersServicesAtOnce) {
  for (const int workers : {1, 4}) {
    const Json base = service("Auto", {{"minReplicas", 1}, {"maxReplicas", 20}}, 5);
    Harness h(base, 15, workers);
    std::vector<Json> objects{base};
    for (int i = 1; i < 8; ++i) {
      Json o = base;
      o["metadata"]["name"] = "chat-" + std::to_string(i);
      o["metadata"]["uid"] = "u" + std::to_string(i + 1);
      h.services.upsert("ml/chat-" + std::to_string(i), std::make_shared<const Json>(o));
      objects.push_back(o);
    }
    h.source->demand = 40;
    h.source->delay = std::chrono::milliseconds(150);  // each read waits on "Prometheus"
    h.loop->run_once(kT0);
    EXPECT_EQ(h.source->current_calls, 8);
    for (const Json& o : objects) {
      EXPECT_TRUE(h.loop->desired_replicas(parsed(o)).has_value()) << o["metadata"]["name"];
    }
    if (workers == 1) {
      EXPECT_EQ(h.source->max_in_flight, 1);
    } else {
      // Overlap needs the threads to run while the others wait: 150 ms reads on 8 services.
      EXPECT_GE(h.source->max_in_flight, 2);
      EXPECT_LE(h.source->max_in_flight, 4);
    }
  }
}

TEST(ScalingLoop, EmptyOrNaNIsUnknownNotZero) {
  Harness h(service("Off",
                    {{"minReplicas", 1},
                     {"maxReplicas", 20},
                     {"metrics",
                      {{{"type", "RequestsPerSecond"}, {"target", 10}},
                       {{"type", "QueueDepth"}, {"target", 4}}}}},
                    6));
  h.source->demand = kNaN;  // every query answers with an empty result
  for (Seconds t = kT0; t < kT0 + 900; t += 15) {
    h.loop->run_once(t);
    ASSERT_EQ(h.desired(), 6);
  }
  EXPECT_EQ(h.cond("MetricsUnavailable")["status"], "True");
  EXPECT_NE(h.cond("MetricsUnavailable")["message"].get<std::string>().find("empty result"),
            std::string::npos);
  // One metric NaN, the other low: the usable one may scale up, never down (HPA).
  h.source->demand = 5;
  h.source->values = {kNaN, 0.0};
  for (Seconds t = kT0 + 900; t < kT0 + 1800; t += 15) {
    h.loop->run_once(t);
    ASSERT_EQ(h.desired(), 6) << h.part()["autoscaler"].dump();
  }
  EXPECT_EQ(h.cond("MetricsUnavailable")["reason"], "MetricsPartial");
  // Both back: scale down to what the load needs (5 req/s, queue 0 -> 1 replica after the
  // 300 s scale-down stabilization).
  h.source->values = {5.0, 0.0};
  for (Seconds t = kT0 + 1800; t < kT0 + 2200; t += 15) h.loop->run_once(t);
  EXPECT_EQ(h.desired(), 1);
  EXPECT_EQ(h.cond("MetricsUnavailable")["status"], "False");
}

TEST(ScalingLoop, FewerPodsReportingThanReadyHoldsInsteadOfScalingDown) {
  Harness h(service("Off", {{"minReplicas", 1}, {"maxReplicas", 20}}, 4));
  // 4 pods Ready, 1 scraped: its 5 req/s look like the whole service's.
  h.source->demand = 5;
  h.source->reporting_pods = 1;
  for (Seconds t = kT0; t < kT0 + 600; t += 15) {
    h.loop->run_once(t);
    ASSERT_EQ(h.desired(), 4) << h.part()["autoscaler"].dump();
  }
  EXPECT_EQ(h.cond("MetricsUnavailable")["reason"], "MetricsPartial");
  EXPECT_NE(h.cond("MetricsUnavailable")["message"].get<std::string>().find(
                "1 of 4 ready pods reported requests"),
            std::string::npos)
      << h.cond("MetricsUnavailable").dump();
  // A partial reading that asks for more is followed.
  h.source->demand = 70;
  h.loop->run_once(kT0 + 600);
  EXPECT_EQ(h.desired(), 7);
  // Every pod reporting again: the low reading is believed (after the 300 s window).
  h.source->demand = 5;
  h.source->reporting_pods = 7;
  for (Seconds t = kT0 + 615; t < kT0 + 1000; t += 15) h.loop->run_once(t);
  EXPECT_EQ(h.desired(), 1);
}

TEST(ScalingLoop, ANewLeaderKeepsTheScaleDownWindowFromTheDecisionsInStatus) {
  // What the previous leader wrote: 6 replicas set 60 s ago.
  Json o = service("Off", {{"minReplicas", 1}, {"maxReplicas", 20}}, 6);
  o["status"]["decisions"] = Json::array({{{"time", "2025-11-28T07:59:00Z"},
                                           {"replicas", 6},
                                           {"previous", 3},
                                           {"rule", "reactive"},
                                           {"acted", true},
                                           {"explanation", "6 (rule reactive)"}}});
  Harness h(o);
  h.source->demand = 10;  // needs 1
  h.loop->run_once(kT0);
  EXPECT_EQ(h.desired(), 6) << "a restart must not scale down at once: "
                            << h.part()["autoscaler"].dump();
  // The default 300 s window runs from the newest decision's replicas as standing at the restart.
  for (Seconds t = kT0 + 15; t < kT0 + 310; t += 15) h.loop->run_once(t);
  EXPECT_EQ(h.desired(), 1);
}

TEST(ScalingLoop, StatusIsRefreshedAtLeastEveryMinute) {
  Harness h(service("Off", {{"minReplicas", 1}, {"maxReplicas", 10}}, 3));
  h.source->demand = 30;  // 3 replicas, as set: nothing significant changes
  for (Seconds t = kT0; t < kT0 + 300; t += 15) h.loop->run_once(t);
  EXPECT_EQ(h.desired(), 3);
  // The first decision, then one refresh a minute: at +0, +60, +120, +180, +240.
  EXPECT_EQ(h.enqueued.size(), 5u);
}

TEST(ScalingLoop, ScalingLimitedIsAConditionAndAMetricWithItsReason) {
  Harness h(service("Off", {{"minReplicas", 1}, {"maxReplicas", 3}}, 3));
  h.source->demand = 80;  // needs 8
  h.loop->run_once(kT0);
  EXPECT_EQ(h.desired(), 3);
  EXPECT_EQ(h.cond("ScalingLimited")["status"], "True");
  EXPECT_EQ(h.cond("ScalingLimited")["reason"], "TooManyReplicas");
  const std::string at_max =
      "deepseek_operator_scaling_limited{name=\"chat\",namespace=\"ml\",reason=\"TooManyReplicas\"}"
      " 1";
  EXPECT_NE(h.metrics_text().find(at_max), std::string::npos) << h.metrics_text();
  h.source->demand = 25;  // needs 3: within limits
  h.loop->run_once(kT0 + 15);
  EXPECT_EQ(h.cond("ScalingLimited")["status"], "False");
  const std::string text = h.metrics_text();
  EXPECT_EQ(text.find("reason=\"TooManyReplicas\""), std::string::npos) << text;
  EXPECT_NE(text.find("deepseek_operator_scaling_limited{name=\"chat\",namespace=\"ml\"} 0"),
            std::string::npos)
      << text;
}

// The reconciler with FakeClient around the loop: what the cluster gets.
struct Cluster {
  explicit Cluster(const Json& object) : h(object) {
    client = std::make_shared<kube::FakeClient>();
    auto created =
        client->create(controller::DeepSeekServiceReconciler::deepseek_services(), "ml", object);
    EXPECT_TRUE(created);
    refresh();
    controller::ReconcilerOptions o;
    o.desired_replicas = [this](const api::DeepSeekService& s) {
      return h.loop->desired_replicas(s);
    };
    o.autoscaling_status = [this](const api::DeepSeekService& s) { return h.loop->status_part(s); };
    o.record_event = [this](const Json&, const std::string&, const std::string& reason,
                            const std::string& message) {
      reconciler_events.push_back(reason + " " + message);
    };
    reconciler =
        std::make_unique<controller::DeepSeekServiceReconciler>(client, h.services, deployments, o);
  }
  void refresh() {
    auto got =
        client->get(controller::DeepSeekServiceReconciler::deepseek_services(), "ml", "chat");
    ASSERT_TRUE(got);
    h.set(*got);
  }
  void reconcile() {
    auto r = reconciler->reconcile("ml/chat");
    ASSERT_EQ(r.kind, kube::ReconcileResult::Kind::kDone) << r.error;
    refresh();
  }
  int deployment_replicas() {
    auto d =
        client->get(controller::DeepSeekServiceReconciler::deployments(), "ml", "chat-default");
    EXPECT_TRUE(d);
    return d ? (*d)["spec"]["replicas"].get<int>() : -1;
  }
  Harness h;
  std::shared_ptr<kube::FakeClient> client;
  kube::Indexer deployments;
  std::unique_ptr<controller::DeepSeekServiceReconciler> reconciler;
  std::vector<std::string> reconciler_events;
};

TEST(ScalingLoop, PreviewPublishesButNeverChangesReplicas) {
  Cluster c(service("Preview", {{"minReplicas", 1}, {"maxReplicas", 10}}));
  c.h.source->demand = 95;
  c.h.source->history = [](Seconds) { return 95.0; };
  c.reconcile();
  ASSERT_EQ(c.deployment_replicas(), 1);
  for (Seconds t = kT0; t < kT0 + 300; t += 15) {
    c.h.loop->run_once(t);
    c.reconcile();
    ASSERT_EQ(c.deployment_replicas(), 1);
  }
  const Json status = c.h.object()["status"];
  EXPECT_EQ(status["replicas"], 1);
  EXPECT_EQ(status["autoscaler"]["desiredReplicas"], 10) << status.dump();
  EXPECT_EQ(status["autoscaler"]["acting"], false);
  EXPECT_EQ(status["autoscaler"]["mode"], "Preview");
  EXPECT_TRUE(status["forecast"].contains("summary"));
  ASSERT_FALSE(status["decisions"].empty());
  EXPECT_EQ(status["decisions"][0]["acted"], false);
  bool preview_condition = false;
  for (const auto& cond : status["conditions"])
    preview_condition |= cond["type"] == "ScalingActive" && cond["reason"] == "Preview";
  EXPECT_TRUE(preview_condition) << status["conditions"].dump();
  EXPECT_TRUE(c.h.events.empty());  // nothing was scaled
}

TEST(ScalingLoop, AutoScalesThroughTheReconcilerWithAnEvent) {
  Cluster c(service("Auto", {{"minReplicas", 1}, {"maxReplicas", 10}}));
  c.h.source->demand = 38;
  c.h.source->history = [](Seconds) { return 38.0; };
  c.reconcile();
  ASSERT_EQ(c.deployment_replicas(), 1);
  c.h.loop->run_once(kT0);
  EXPECT_EQ(c.h.enqueued, std::vector<std::string>{"ml/chat"});
  c.reconcile();
  EXPECT_EQ(c.deployment_replicas(), 4);
  const Json status = c.h.object()["status"];
  EXPECT_EQ(status["replicas"], 4);
  EXPECT_EQ(status["decisions"][0]["replicas"], 4);
  EXPECT_EQ(status["decisions"][0]["previous"], 1);
  EXPECT_EQ(status["autoscaler"]["metrics"][0]["value"], 38.0);
  EXPECT_EQ(status["forecast"]["model"].is_string(), true) << status["forecast"].dump();
  ASSERT_EQ(c.h.events.size(), 1u);
  EXPECT_NE(c.h.events[0].find("ScaledUp autoscaler: 1 -> 4 replicas"), std::string::npos);
  // The decision's explanation is the engine's summary line.
  EXPECT_NE(status["decisions"][0]["explanation"].get<std::string>().find("(rule "),
            std::string::npos);
}

TEST(ScalingLoop, ManualScaleIsAppliedThenTheNextDecisionWins) {
  Cluster c(service("Auto", {{"minReplicas", 1}, {"maxReplicas", 10}}));
  c.h.source->demand = 18;
  c.h.source->history = [](Seconds) { return 18.0; };
  c.reconcile();
  c.h.loop->run_once(kT0);
  c.reconcile();
  ASSERT_EQ(c.deployment_replicas(), 2);

  // kubectl scale dss chat --replicas=7 (the scale subresource writes spec.replicas).
  auto scaled =
      c.client->scale(controller::DeepSeekServiceReconciler::deepseek_services(), "ml", "chat", 7);
  ASSERT_TRUE(scaled) << scaled.error().to_string();
  c.refresh();
  c.reconcile();
  EXPECT_EQ(c.deployment_replicas(), 7);  // applied at once
  c.h.loop->run_once(kT0 + 15);
  c.reconcile();
  const Json status = c.h.object()["status"];
  EXPECT_EQ(status["decisions"][0]["previous"], 7) << status["decisions"].dump();
  EXPECT_EQ(status["decisions"][0]["replicas"], 2);
  EXPECT_EQ(c.deployment_replicas(), 2);  // the autoscaler's decision wins
  // A spec.replicas that stays does not count as a new manual scale.
  c.h.loop->run_once(kT0 + 30);
  c.reconcile();
  EXPECT_EQ(c.deployment_replicas(), 2);
}

TEST(ScalingLoop, HistoryLoadedOnceThenIncrementalAndRebuiltAfterRestart) {
  Harness h(service("Auto", {{"minReplicas", 1}, {"maxReplicas", 50}}, 2));
  h.source->demand = 20;
  h.source->history = [](Seconds t) { return 20.0 + 10.0 * std::sin(2 * M_PI * t / 86400.0); };
  for (Seconds t = kT0; t <= kT0 + 150; t += 15) h.loop->run_once(t);
  ASSERT_EQ(h.source->ranges.size(), 3u);  // the load, then one per new minute
  EXPECT_EQ(h.source->ranges[0][0], kT0 - 14 * 86400);
  EXPECT_EQ(h.source->ranges[0][1], kT0);
  EXPECT_EQ(h.source->ranges[0][2], 60);
  EXPECT_EQ(h.source->ranges[1][0], kT0);
  EXPECT_EQ(h.source->ranges[1][1], kT0 + 60);
  EXPECT_EQ(h.source->ranges[2][0], kT0 + 60);
  const Json f = h.part()["forecast"];
  EXPECT_EQ(f["fittedAt"], rfc3339(kT0)) << f.dump();
  EXPECT_TRUE(f.contains("demandQuantile"));
  EXPECT_NE(h.metrics_text().find("deepseek_operator_predicted_demand{band=\"q0.9\""),
            std::string::npos);
  EXPECT_NE(h.metrics_text().find("deepseek_operator_history_queries_total"), std::string::npos);

  // Prometheus down for three minutes: the next successful query catches the gap up.
  h.source->down = true;
  for (Seconds t = kT0 + 165; t < kT0 + 345; t += 15) h.loop->run_once(t);
  h.source->down = false;
  h.source->ranges.clear();
  h.loop->run_once(kT0 + 360);
  ASSERT_EQ(h.source->ranges.size(), 1u);
  EXPECT_EQ(h.source->ranges[0][0], kT0 + 120);
  EXPECT_EQ(h.source->ranges[0][1], kT0 + 360);

  // An operator restart: a new loop reads the whole history back from the source.
  Harness restarted(h.object());
  restarted.source->demand = 20;
  restarted.source->history = h.source->history;
  restarted.loop->run_once(kT0 + 400);
  ASSERT_EQ(restarted.source->ranges.size(), 1u);
  EXPECT_EQ(restarted.source->ranges[0][1] - restarted.source->ranges[0][0], 14 * 86400);
}

TEST(ScalingLoop, ScalesAheadOfAKnownDailyRiseByTheColdStart) {
  // Two weeks of history with a daily rise from 20 to 100 req/s at 12:00 UTC, back at 18:00;
  // capacity 10 req/s per replica; cold start 5 min.
  auto daily = [](Seconds t) {
    const Seconds minute = (t % 86400) / 60;
    return minute >= 12 * 60 && minute < 18 * 60 ? 100.0 : 20.0;
  };
  Harness h(service("Auto", {{"minReplicas", 1}, {"maxReplicas", 20}}, 2));
  h.source->history = daily;
  const Seconds noon = kT0 + 4 * 3600;  // kT0 is 08:00
  std::optional<Seconds> raised_at;
  for (Seconds t = noon - 3600; t < noon; t += 15) {
    h.source->demand = daily(t);  // 20 until noon: nothing reactive to see
    h.loop->run_once(t);
    if (!raised_at && h.desired() >= 10) raised_at = t;
  }
  ASSERT_TRUE(raised_at) << h.part()["autoscaler"].dump();
  const Seconds cold_start = h.part()["coldStartSeconds"].get<Seconds>();
  EXPECT_EQ(cold_start, 300);
  EXPECT_LE(*raised_at, noon - cold_start) << "raised at noon - " << noon - *raised_at << "s";
  EXPECT_GE(*raised_at, noon - 3 * cold_start);  // ahead, not hours early
  EXPECT_EQ(h.part()["autoscaler"]["rule"], "predictive");
}

}  // namespace
}  // namespace dso::scaling
