// The reconciler's failover path with FakeClient (controller/reconciler.h, controller/failover.h):
// status.primaryRegion and the timers in status.regions[], the replica split, the FailedOver and
// FailedBack events, the requeue delay while a switch is pending, the traffic ConfigMap and the
// failed-over gauge hook. Readiness is what the test puts in the Deployment cache.
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <limits>

#include "controller/failover.h"
#include "controller/failover_metrics.h"
#include "controller/reconciler.h"
#include "fakes/fake_client.h"

namespace dso::controller {
namespace {

using kube::Json;
using std::chrono::minutes;
using std::chrono::seconds;

const WallTime kT0 = std::chrono::system_clock::from_time_t(1'800'000'000);

Json service(Json failover) {
  return Json{
      {"apiVersion", "inference.deepseek.io/v1alpha1"},
      {"kind", "DeepSeekService"},
      {"metadata", {{"name", "chat"}, {"namespace", "ml"}, {"uid", "u1"}, {"generation", 1}}},
      {"spec",
       {{"replicas", 4},
        {"model", {{"name", "m"}, {"image", "img"}}},
        {"autoscaling", {{"enabled", false}}},
        {"regions",
         Json::array({{{"name", "us"}, {"role", "primary"}, {"weight", 80}},
                      {{"name", "eu"}, {"role", "standby"}, {"minReplicas", 1}, {"weight", 20}}})},
        {"failover", failover}}}};
}

struct Fixture {
  explicit Fixture(Json failover) {
    deployments.add_index(DeepSeekServiceReconciler::kServiceIndex,
                          DeepSeekServiceReconciler::service_index());
    EXPECT_TRUE(client->create(DeepSeekServiceReconciler::deepseek_services(), "ml",
                               service(std::move(failover))));
    ReconcilerOptions o;
    o.record_event = [this](const Json&, const std::string& type, const std::string& reason,
                            const std::string& message) {
      events.push_back(type + " " + reason + " " + message);
    };
    o.now_rfc3339 = [this] { return format_rfc3339(now); };
    o.failover_state = [this](const std::string& ns, const std::string& name,
                              std::optional<bool> failed_over) {
      gauge[ns + "/" + name] = failed_over;
    };
    reconciler = std::make_unique<DeepSeekServiceReconciler>(client, services, deployments, o);
    refresh();
  }
  // The informer caches: the service as stored; each Deployment with readyReplicas =
  // min(its replicas, ready_cap of its region).
  void refresh() {
    auto got = client->get(DeepSeekServiceReconciler::deepseek_services(), "ml", "chat");
    ASSERT_TRUE(got);
    services.upsert("ml/chat", std::make_shared<const Json>(*got));
    for (const char* region : {"us", "eu"}) {
      auto d = client->get(DeepSeekServiceReconciler::deployments(), "ml",
                           std::string("chat-") + region);
      if (!d) continue;
      Json cached = *d;
      cached["status"]["readyReplicas"] =
          std::min(cached["spec"]["replicas"].get<int>(), ready_cap[region]);
      deployments.upsert(std::string("ml/chat-") + region,
                         std::make_shared<const Json>(std::move(cached)));
    }
  }
  kube::ReconcileResult reconcile() {
    auto r = reconciler->reconcile("ml/chat");
    refresh();
    return r;
  }
  Json status() { return (*services.get("ml/chat"))["status"]; }
  Json region_status(const std::string& name) {
    const Json regions = status()["regions"];
    for (const Json& r : regions)
      if (r["name"] == name) return r;
    return Json();
  }
  int replicas(const std::string& region) {
    auto d = client->get(DeepSeekServiceReconciler::deployments(), "ml", "chat-" + region);
    return d ? (*d)["spec"]["replicas"].get<int>() : -1;
  }
  Json config_map() {
    auto c = client->get(kube::Resource::config_maps(), "ml", "chat-traffic");
    return c ? *c : Json();
  }

  std::shared_ptr<kube::FakeClient> client = std::make_shared<kube::FakeClient>();
  kube::Indexer services, deployments;
  std::unique_ptr<DeepSeekServiceReconciler> reconciler;
  std::vector<std::string> events;
  std::map<std::string, std::optional<bool>> gauge;
  std::map<std::string, int> ready_cap{{"us", std::numeric_limits<int>::max()},
                                       {"eu", std::numeric_limits<int>::max()}};
  WallTime now = kT0;
};

kube::Duration d(std::chrono::milliseconds ms) {
  return std::chrono::duration_cast<kube::Duration>(ms);
}

const Json kFailover{{"unhealthyAfter", "2m"},
                     {"healthyAfter", "10m"},
                     {"trafficPublication", {{"configMapName", "chat-traffic"}}}};

TEST(ReconcilerFailover, FailsOverPublishesAndFailsBack) {
  Fixture f(kFailover);
  ASSERT_EQ(f.reconcile().kind, kube::ReconcileResult::Kind::kDone);
  ASSERT_EQ(f.reconcile().kind, kube::ReconcileResult::Kind::kDone);  // the cache has caught up
  EXPECT_EQ(f.status()["primaryRegion"], "us");
  EXPECT_EQ(f.replicas("us"), 4);
  EXPECT_EQ(f.replicas("eu"), 1);
  EXPECT_EQ(f.region_status("us")["weight"], 80);
  EXPECT_EQ(f.region_status("eu")["weight"], 20);
  EXPECT_EQ(f.region_status("us")["availableSince"], "2027-01-15T08:00:00Z");
  Json cm = f.config_map();
  ASSERT_TRUE(cm.is_object());
  EXPECT_EQ(cm["data"], (Json{{"us", "80"},
                              {"eu", "20"},
                              {"primary", "us"},
                              {"weights.json", R"({"eu":20,"us":80})"}}));
  EXPECT_EQ(cm["metadata"]["ownerReferences"][0]["uid"],
            (*f.services.get("ml/chat"))["metadata"]["uid"]);
  EXPECT_EQ(cm["metadata"]["ownerReferences"][0]["kind"], "DeepSeekService");
  EXPECT_EQ(cm["metadata"]["labels"]["inference.deepseek.io/service"], "chat");
  EXPECT_FALSE(cm["metadata"]["labels"].contains("inference.deepseek.io/region"));
  EXPECT_EQ(f.gauge["ml/chat"], std::optional<bool>(false));

  // us loses every pod: the timer starts, the key is requeued for the time left.
  f.ready_cap["us"] = 0;
  f.refresh();
  f.now = kT0 + seconds(10);
  auto r = f.reconcile();
  ASSERT_EQ(r.kind, kube::ReconcileResult::Kind::kRequeueAfter) << r.error;
  EXPECT_EQ(r.requeue_after, d(minutes(2)));
  EXPECT_EQ(f.region_status("us")["unavailableSince"], "2027-01-15T08:00:10Z");
  EXPECT_FALSE(f.region_status("us").contains("availableSince"));
  EXPECT_EQ(f.region_status("us")["weight"], 0);
  EXPECT_EQ(f.config_map()["data"]["eu"], "100");
  EXPECT_EQ(f.config_map()["data"]["primary"], "us");
  f.now = kT0 + seconds(70);
  r = f.reconcile();
  ASSERT_EQ(r.kind, kube::ReconcileResult::Kind::kRequeueAfter);
  EXPECT_EQ(r.requeue_after, d(seconds(60)));
  EXPECT_EQ(f.status()["primaryRegion"], "us");
  EXPECT_EQ(f.replicas("us"), 4);

  // 2m after the first failure: eu takes the replicas, us keeps one to recover on.
  f.now = kT0 + seconds(130);
  r = f.reconcile();
  ASSERT_EQ(r.kind, kube::ReconcileResult::Kind::kDone) << r.error;
  EXPECT_EQ(f.status()["primaryRegion"], "eu");
  EXPECT_EQ(f.replicas("eu"), 4);
  EXPECT_EQ(f.replicas("us"), 1);
  ASSERT_FALSE(f.events.empty());
  EXPECT_EQ(f.events.back(),
            "Warning FailedOver region us: 0/4 ready for 2m0s; standby eu (1/1 ready) is the "
            "primary now");
  EXPECT_EQ(f.config_map()["data"]["primary"], "eu");
  EXPECT_EQ(f.config_map()["data"]["eu"], "100");
  EXPECT_EQ(f.config_map()["data"]["us"], "0");
  EXPECT_EQ(f.gauge["ml/chat"], std::optional<bool>(true));
  ASSERT_EQ(f.reconcile().kind, kube::ReconcileResult::Kind::kDone);
  EXPECT_EQ(f.status()["primaryRegion"], "eu");  // stays, without another event
  EXPECT_EQ(std::count_if(f.events.begin(), f.events.end(),
                          [](const std::string& e) { return e.find("FailedOver") != e.npos; }),
            1);

  // us recovers on its one replica: failback after healthyAfter.
  f.ready_cap["us"] = std::numeric_limits<int>::max();
  f.refresh();
  f.now = kT0 + minutes(3);
  r = f.reconcile();
  ASSERT_EQ(r.kind, kube::ReconcileResult::Kind::kRequeueAfter);
  EXPECT_EQ(r.requeue_after, d(minutes(10)));
  EXPECT_EQ(f.region_status("us")["availableSince"], "2027-01-15T08:03:00Z");
  EXPECT_EQ(f.region_status("us")["weight"], 0);  // recovering: no traffic until failback
  // Make-before-break: us is scaled up while eu keeps the replicas and the traffic.
  f.now = kT0 + minutes(13);
  r = f.reconcile();
  ASSERT_EQ(r.kind, kube::ReconcileResult::Kind::kRequeueAfter) << r.error;
  EXPECT_EQ(r.requeue_after, d(minutes(22)));
  EXPECT_EQ(f.status()["primaryRegion"], "eu");
  EXPECT_EQ(f.status()["failbackSince"], "2027-01-15T08:13:00Z");
  EXPECT_EQ(f.replicas("us"), 4);
  EXPECT_EQ(f.replicas("eu"), 4);
  EXPECT_EQ(f.config_map()["data"]["primary"], "eu");
  EXPECT_EQ(f.events.back(),
            "Normal FailingBack region us: 1/1 ready for 10m0s; scaling it to 4 replicas before it "
            "takes over from eu");
  // us has its 4 Ready (the cache shows them): it takes over.
  f.now = kT0 + minutes(13) + seconds(20);
  r = f.reconcile();
  ASSERT_EQ(r.kind, kube::ReconcileResult::Kind::kDone) << r.error;
  EXPECT_EQ(f.status()["primaryRegion"], "us");
  EXPECT_FALSE(f.status().contains("failbackSince"));
  EXPECT_EQ(f.replicas("us"), 4);
  EXPECT_EQ(f.replicas("eu"), 1);
  EXPECT_EQ(f.events.back(),
            "Normal FailedBack region us: 4/4 ready after 0m20s; it is the primary again, eu back "
            "to standby");
  EXPECT_EQ(f.config_map()["data"]["primary"], "us");
  EXPECT_EQ(f.gauge["ml/chat"], std::optional<bool>(false));

  // Deleted: the gauge is dropped.
  f.services.erase("ml/chat");
  f.reconcile();
  ASSERT_TRUE(f.gauge.contains("ml/chat"));
  EXPECT_EQ(f.gauge["ml/chat"], std::nullopt);
}

// A reconcile that comes before the informer has delivered the status the previous one wrote (a
// Deployment event, a requeue) plans from that status, not the cache's older one: the switch is
// announced once and the status not written again.
TEST(ReconcilerFailover, AStaleCacheDoesNotRepeatASwitch) {
  Fixture f(kFailover);
  f.reconcile();
  f.reconcile();
  f.ready_cap["us"] = 0;
  f.refresh();
  f.now = kT0 + seconds(10);
  f.reconcile();
  f.now = kT0 + seconds(130);
  // The switch, then the same key twice more while the service cache still holds the object the
  // switch was planned from (the Deployment cache is refreshed: eu's 4 replicas show up).
  ASSERT_EQ(f.reconciler->reconcile("ml/chat").kind, kube::ReconcileResult::Kind::kDone);
  const auto stale = *f.services.get("ml/chat");
  ASSERT_EQ(stale["status"]["primaryRegion"], "us");
  f.refresh();
  f.services.upsert("ml/chat", std::make_shared<const Json>(stale));
  f.now = kT0 + seconds(131);
  ASSERT_EQ(f.reconciler->reconcile("ml/chat").kind, kube::ReconcileResult::Kind::kDone);
  // (That one wrote the status: eu's replicas are Ready now. The next has nothing to write.)
  const int patches = f.client->calls("PATCH");
  ASSERT_EQ(f.reconciler->reconcile("ml/chat").kind, kube::ReconcileResult::Kind::kDone);
  const int stale_patches = f.client->calls("PATCH") - patches;
  EXPECT_EQ(std::count_if(f.events.begin(), f.events.end(),
                          [](const std::string& e) { return e.find("FailedOver") != e.npos; }),
            1);
  EXPECT_EQ(f.replicas("eu"), 4);
  EXPECT_EQ(f.replicas("us"), 1);
  // Once the cache delivers the write, the stored status is the one used again; a reconcile
  // then sends the same requests as the stale one did: no status write in either.
  f.refresh();
  EXPECT_EQ(f.status()["primaryRegion"], "eu");
  const int before = f.client->calls("PATCH");
  ASSERT_EQ(f.reconcile().kind, kube::ReconcileResult::Kind::kDone);
  EXPECT_EQ(f.client->calls("PATCH") - before, stale_patches);
  EXPECT_EQ(f.status()["primaryRegion"], "eu");
}

TEST(ReconcilerFailover, DisabledKeepsTheConfiguredPrimaryAndPublishesNothing) {
  Fixture f(Json{{"enabled", false}, {"unhealthyAfter", "2m"}});
  f.reconcile();
  f.ready_cap["us"] = 0;
  f.refresh();
  f.now = kT0 + minutes(1);
  EXPECT_EQ(f.reconcile().kind, kube::ReconcileResult::Kind::kDone);  // nothing pending
  f.now = kT0 + minutes(10);
  f.reconcile();
  EXPECT_EQ(f.status()["primaryRegion"], "us");
  EXPECT_EQ(f.replicas("us"), 4);
  EXPECT_EQ(f.replicas("eu"), 1);
  for (const auto& e : f.events) EXPECT_EQ(e.find("Failed"), std::string::npos) << e;
  EXPECT_FALSE(f.client->get(kube::Resource::config_maps(), "ml", "chat-traffic"));
}

TEST(ReconcilerFailover, ARegionNamedPrimaryIsRefusedWithTrafficPublication) {
  Json o = service(kFailover);
  o["spec"]["regions"][1]["name"] = "primary";
  auto p = api::parse_deepseek_service(o);
  ASSERT_TRUE(p) << p.error();
  const auto problems = api::validate(p->spec);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("spec.regions[1].name \"primary\""), std::string::npos) << problems[0];
}

TEST(ReconcilerFailover, TheGaugeFollowsTheFailoverState) {
  auto registry = std::make_shared<prometheus::Registry>();
  FailoverMetrics metrics(registry);
  auto text = [&] { return prometheus::TextSerializer().Serialize(registry->Collect()); };
  metrics.set("ml", "chat", true);
  metrics.set("ml", "other", false);
  EXPECT_NE(text().find("deepseek_operator_region_failed_over{name=\"chat\",namespace=\"ml\"} 1"),
            std::string::npos)
      << text();
  EXPECT_NE(text().find("deepseek_operator_region_failed_over{name=\"other\",namespace=\"ml\"} 0"),
            std::string::npos);
  metrics.set("ml", "chat", false);
  EXPECT_NE(text().find("deepseek_operator_region_failed_over{name=\"chat\",namespace=\"ml\"} 0"),
            std::string::npos);
  metrics.set("ml", "chat", std::nullopt);
  metrics.set("ml", "never-seen", std::nullopt);
  EXPECT_EQ(text().find("name=\"chat\""), std::string::npos) << text();
  EXPECT_NE(text().find("name=\"other\""), std::string::npos);
}

}  // namespace
}  // namespace dso::controller
