// DeepSeekServiceReconciler against FakeClient with informer-like caches: it writes a Deployment,
// Service or PDB only when the cached object lacks what the operator owns (missing, a spec change,
// a replica change, an owned field edited or removed in the cluster), and skips the write when the
// cache already holds it, whatever else the server or other managers added.
#include "controller/reconciler.h"

#include <gtest/gtest.h>

#include "controller/desired_objects.h"
#include "fakes/fake_client.h"

namespace dso::controller {
namespace {

using kube::Json;
using kube::Resource;

// Forwards to a FakeClient and records every write as "VERB resource name[/subresource]".
class RecordingClient final : public kube::KubeClient {
 public:
  explicit RecordingClient(std::shared_ptr<kube::FakeClient> fake) : fake_(std::move(fake)) {}

  kube::Result<Json> get(const Resource& r, const std::string& ns, const std::string& name,
                         const std::string& subresource) override {
    return fake_->get(r, ns, name, subresource);
  }
  kube::Result<kube::ObjectList> list(const Resource& r, const std::string& ns,
                                      const kube::ListOptions& options) override {
    return fake_->list(r, ns, options);
  }
  kube::Result<Json> create(const Resource& r, const std::string& ns, const Json& object) override {
    writes.push_back("POST " + r.resource + " " + kube::meta_string(object, "name"));
    return fake_->create(r, ns, object);
  }
  kube::Result<Json> update(const Resource& r, const std::string& ns, const Json& object,
                            const std::string& subresource) override {
    writes.push_back("PUT " + r.resource + " " + kube::meta_string(object, "name") +
                     (subresource.empty() ? "" : "/" + subresource));
    return fake_->update(r, ns, object, subresource);
  }
  kube::Result<Json> patch(const Resource& r, const std::string& ns, const std::string& name,
                           kube::PatchType type, const Json& patch,
                           const kube::PatchOptions& options,
                           const std::string& subresource) override {
    writes.push_back("PATCH " + r.resource + " " + name +
                     (subresource.empty() ? "" : "/" + subresource));
    return fake_->patch(r, ns, name, type, patch, options, subresource);
  }
  kube::Result<Json> remove(const Resource& r, const std::string& ns, const std::string& name,
                            const kube::DeleteOptions& options) override {
    return fake_->remove(r, ns, name, options);
  }
  kube::Result<void> watch(const Resource& r, const std::string& ns,
                           const kube::WatchOptions& options,
                           const std::function<void(kube::WatchEvent&&)>& on_event,
                           std::stop_token stop) override {
    return fake_->watch(r, ns, options, on_event, std::move(stop));
  }
  kube::Result<std::vector<kube::ApiResource>> discover(const std::string& gv) override {
    return fake_->discover(gv);
  }
  kube::Result<std::vector<std::string>> server_group_versions() override {
    return fake_->server_group_versions();
  }

  std::vector<std::string> writes;

 private:
  std::shared_ptr<kube::FakeClient> fake_;
};

Json service_object(int replicas, const std::string& image = "registry.example/server:1") {
  return {{"apiVersion", api::kApiVersion},
          {"kind", api::kKind},
          {"metadata", {{"name", "chat"}, {"namespace", "ml"}, {"uid", "chat-uid"}}},
          {"spec",
           {{"model", {{"name", "deepseek-chat"}, {"image", image}}},
            {"resources", {{"gpusPerPod", 1}, {"cpu", "100m"}, {"memory", "128Mi"}}},
            {"replicas", replicas},
            {"autoscaling", {{"enabled", false}}}}}};
}

// The cluster (FakeClient), informer-like caches of what the reconciler reads, and the reconciler.
struct Harness {
  explicit Harness(bool cache_services_and_pdbs = true, Json object = service_object(2),
                   bool allow_host_path = false) {
    fake = std::make_shared<kube::FakeClient>();
    client = std::make_shared<RecordingClient>(fake);
    EXPECT_TRUE(fake->create(DeepSeekServiceReconciler::deepseek_services(), "ml", object));
    deployments.add_index(DeepSeekServiceReconciler::kServiceIndex,
                          DeepSeekServiceReconciler::service_index());
    ReconcilerOptions o;
    o.allow_host_path = allow_host_path;
    o.now_rfc3339 = [] { return std::string("2026-11-28T10:00:00Z"); };
    o.desired_replicas = [this](const api::DeepSeekService&) { return decided; };
    o.record_event = [this](const Json&, const std::string&, const std::string& reason,
                            const std::string& message) {
      events.push_back(reason);
      event_messages.push_back(message);
    };
    o.on_apply = [this](const std::string& kind, bool applied) {
      ++(applied ? applies : skips)[kind];
    };
    if (cache_services_and_pdbs) {
      o.service_cache = &service_cache;
      o.pdb_cache = &pdb_cache;
    }
    reconciler = std::make_unique<DeepSeekServiceReconciler>(client, services, deployments, o);
    sync();
  }

  // What the informers would hold once caught up: every object of each resource.
  void sync() {
    fill(services, DeepSeekServiceReconciler::deepseek_services());
    fill(deployments, DeepSeekServiceReconciler::deployments());
    fill(service_cache, DeepSeekServiceReconciler::services());
    fill(pdb_cache, DeepSeekServiceReconciler::pod_disruption_budgets("policy/v1"));
  }
  void fill(kube::Indexer& cache, const Resource& r) {
    for (const std::string& key : cache.keys()) cache.erase(key);
    const auto list = fake->list(r, "ml", {});
    ASSERT_TRUE(list);
    for (const Json& o : list->items)
      cache.upsert(kube::object_key(o), std::make_shared<const Json>(o));
  }

  // Reconciles once; returns the writes it made.
  std::vector<std::string> reconcile() {
    client->writes.clear();
    const auto r = reconciler->reconcile("ml/chat");
    EXPECT_EQ(r.kind, kube::ReconcileResult::Kind::kDone) << r.error;
    return client->writes;
  }
  // Reconciles until nothing more is written (the status settles), syncing the caches between.
  void settle() {
    for (int i = 0; i < 3; ++i) {
      const auto w = reconcile();
      sync();
      if (w.empty()) return;
    }
    FAIL() << "still writing after 3 reconciles";
  }

  Json get(const Resource& r, const std::string& name) {
    auto got = fake->get(r, "ml", name);
    EXPECT_TRUE(got) << name;
    return got ? *got : Json();
  }
  void put(const Resource& r, const Json& object) { ASSERT_TRUE(fake->update(r, "ml", object)); }
  void edit_service_spec(const Json& object) {
    Json current = get(DeepSeekServiceReconciler::deepseek_services(), "chat");
    current["spec"] = object["spec"];
    put(DeepSeekServiceReconciler::deepseek_services(), current);
  }

  std::shared_ptr<kube::FakeClient> fake;
  std::shared_ptr<RecordingClient> client;
  kube::Indexer services, deployments, service_cache, pdb_cache;
  std::unique_ptr<DeepSeekServiceReconciler> reconciler;
  std::optional<int> decided;
  std::map<std::string, int> applies, skips;  // on_apply, by kind
  std::vector<std::string> events, event_messages;
};

const Resource kDeployments = DeepSeekServiceReconciler::deployments();
const Resource kServices = DeepSeekServiceReconciler::services();
const Resource kPdbs = DeepSeekServiceReconciler::pod_disruption_budgets("policy/v1");

const std::vector<std::string> kAllThree = {"PATCH deployments chat-default",
                                            "PATCH services chat-default",
                                            "PATCH poddisruptionbudgets chat-default"};

TEST(ReconcilerWrites, EverythingIsAppliedFirstThenNothingWhileTheCacheMatches) {
  Harness h;
  auto first = h.reconcile();
  const std::map<std::string, int> once = {
      {"Deployment", 1}, {"PodDisruptionBudget", 1}, {"Service", 1}};
  EXPECT_EQ(h.applies, once);
  ASSERT_GE(first.size(), 3u);
  EXPECT_EQ(std::vector<std::string>(first.begin(), first.begin() + 3), kAllThree);
  EXPECT_EQ(h.get(kDeployments, "chat-default")["spec"]["replicas"], 2);
  h.settle();
  // Steady state: the caches hold what the operator owns; a resync writes nothing.
  h.skips.clear();
  EXPECT_EQ(h.reconcile(), std::vector<std::string>{});
  EXPECT_EQ(h.reconcile(), std::vector<std::string>{});
  const std::map<std::string, int> twice = {
      {"Deployment", 2}, {"PodDisruptionBudget", 2}, {"Service", 2}};
  EXPECT_EQ(h.skips, twice);
}

TEST(ReconcilerWrites, FieldsAddedByTheServerOrOtherManagersDoNotCauseAWrite) {
  Harness h;
  h.settle();
  // Server defaults, status, a foreign annotation and label: none are the operator's.
  Json d = h.get(kDeployments, "chat-default");
  d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "1";
  d["metadata"]["labels"]["team"] = "inference";
  d["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] = "/dev/termination-log";
  d["spec"]["template"]["spec"]["dnsPolicy"] = "ClusterFirst";
  d["status"] = {{"replicas", 2}, {"readyReplicas", 2}, {"updatedReplicas", 2}};
  h.put(kDeployments, d);
  Json s = h.get(kServices, "chat-default");
  s["spec"]["clusterIP"] = "10.0.0.12";
  s["spec"]["sessionAffinity"] = "None";
  h.put(kServices, s);
  h.sync();
  const auto w = h.reconcile();
  for (const auto& write : w)
    EXPECT_EQ(write.find("PATCH deployments"), std::string::npos) << write;
  for (const auto& write : w) EXPECT_EQ(write.find("PATCH services"), std::string::npos) << write;
  for (const auto& write : w)
    EXPECT_EQ(write.find("PATCH poddisruptionbudgets"), std::string::npos);
}

TEST(ReconcilerWrites, ASpecChangeIsWritten) {
  Harness h;
  h.settle();
  h.edit_service_spec(service_object(2, "registry.example/server:2"));
  h.sync();
  const auto w = h.reconcile();
  ASSERT_FALSE(w.empty());
  EXPECT_EQ(w[0], "PATCH deployments chat-default");
  EXPECT_EQ(
      h.get(kDeployments, "chat-default")["spec"]["template"]["spec"]["containers"][0]["image"],
      "registry.example/server:2");
  // The Service and PDB do not depend on the image: not rewritten.
  for (const auto& write : w) EXPECT_EQ(write.find("PATCH services"), std::string::npos) << write;
}

TEST(ReconcilerWrites, AReplicaChangeIsWritten) {
  Harness h(true, [] {
    Json o = service_object(2);
    o["spec"]["autoscaling"] = {{"enabled", true}, {"minReplicas", 1}, {"maxReplicas", 10}};
    return o;
  }());
  h.settle();
  EXPECT_EQ(h.get(kDeployments, "chat-default")["spec"]["replicas"], 1);  // held at minReplicas
  h.decided = 5;                                                          // the autoscaler decides
  const auto w = h.reconcile();
  ASSERT_FALSE(w.empty());
  EXPECT_EQ(w[0], "PATCH deployments chat-default");
  EXPECT_EQ(h.get(kDeployments, "chat-default")["spec"]["replicas"], 5);
  h.settle();
  EXPECT_EQ(h.reconcile(), std::vector<std::string>{});
}

TEST(ReconcilerWrites, AnOwnedFieldEditedInTheClusterIsReverted) {
  Harness h;
  h.settle();
  Json d = h.get(kDeployments, "chat-default");  // kubectl edit / kubectl scale
  d["spec"]["template"]["spec"]["containers"][0]["image"] = "evil.example/server:6";
  d["spec"]["replicas"] = 7;
  h.put(kDeployments, d);
  h.sync();
  const auto w = h.reconcile();
  ASSERT_FALSE(w.empty());
  EXPECT_EQ(w[0], "PATCH deployments chat-default");
  const Json now = h.get(kDeployments, "chat-default");
  EXPECT_EQ(now["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/server:1");
  EXPECT_EQ(now["spec"]["replicas"], 2);
}

TEST(ReconcilerWrites, AnOwnedFieldRemovedInTheClusterIsWrittenBack) {
  Harness h;
  h.settle();
  Json p = h.get(kPdbs, "chat-default");
  p["spec"].erase("maxUnavailable");
  p["metadata"]["labels"].erase(kRegionLabel);
  h.put(kPdbs, p);
  h.sync();
  EXPECT_EQ(h.reconcile(), std::vector<std::string>{"PATCH poddisruptionbudgets chat-default"});
  EXPECT_EQ(h.get(kPdbs, "chat-default")["spec"]["maxUnavailable"], 1);
}

TEST(ReconcilerWrites, AnEditedHashAnnotationIsWrittenBack) {
  // The cluster holds every owned field but the hash says it was applied from another desired
  // object (e.g. one that set a field since dropped): apply, so server-side apply removes it.
  Harness h;
  h.settle();
  Json s = h.get(kServices, "chat-default");
  s["metadata"]["annotations"][kAppliedHashAnnotation] = "0000000000000000";
  h.put(kServices, s);
  h.sync();
  EXPECT_EQ(h.reconcile(), std::vector<std::string>{"PATCH services chat-default"});
}

TEST(ReconcilerWrites, MissingObjectsAreRecreated) {
  Harness h;
  h.settle();
  ASSERT_TRUE(h.fake->remove(kServices, "ml", "chat-default"));
  ASSERT_TRUE(h.fake->remove(kDeployments, "ml", "chat-default"));
  h.sync();
  const auto w = h.reconcile();
  ASSERT_GE(w.size(), 2u);
  EXPECT_EQ(w[0], "PATCH deployments chat-default");
  EXPECT_EQ(w[1], "PATCH services chat-default");
  for (const auto& write : w)
    EXPECT_EQ(write.find("PATCH poddisruptionbudgets"), std::string::npos);
  EXPECT_EQ(h.get(kServices, "chat-default")["spec"]["type"], "ClusterIP");
  EXPECT_EQ(h.get(kDeployments, "chat-default")["spec"]["replicas"], 2);
  EXPECT_EQ(h.events.back(), "Created");
}

TEST(ReconcilerWrites, WithoutServiceAndPdbCachesThoseAreAlwaysApplied) {
  Harness h(false);
  for (int i = 0; i < 3; ++i) {  // the status settles; the two applies go on
    h.reconcile();
    h.sync();
  }
  EXPECT_EQ(h.reconcile(), (std::vector<std::string>{"PATCH services chat-default",
                                                     "PATCH poddisruptionbudgets chat-default"}));
}

Json condition_of(const Json& object, const std::string& type) {
  for (const Json& c : object["status"]["conditions"])
    if (c["type"] == type) return c;
  return Json();
}

TEST(ReconcilerOwnership, AnExistingDeploymentOfSomeoneElseIsNeverAdopted) {
  // Before: server-side apply with force took it over and set this service as its owner, so the
  // garbage collector deleted it with the service.
  Harness h;
  const Json foreign = {{"apiVersion", "apps/v1"},
                        {"kind", "Deployment"},
                        {"metadata", {{"name", "chat-default"}, {"namespace", "ml"}}},
                        {"spec", {{"replicas", 7}}}};
  ASSERT_TRUE(h.fake->create(kDeployments, "ml", foreign));
  h.sync();
  h.client->writes.clear();
  const auto r = h.reconciler->reconcile("ml/chat");
  EXPECT_EQ(r.kind, kube::ReconcileResult::Kind::kRequeueAfter);
  // Only the status was written: nothing of the region, the foreign object as it was.
  EXPECT_EQ(h.client->writes, (std::vector<std::string>{"PATCH deepseekservices chat/status"}));
  const Json left = h.get(kDeployments, "chat-default");
  EXPECT_EQ(left["spec"]["replicas"], 7);
  EXPECT_FALSE(left["metadata"].contains("ownerReferences"));
  const Json dss = h.get(DeepSeekServiceReconciler::deepseek_services(), "chat");
  const Json degraded = condition_of(dss, "Degraded");
  EXPECT_EQ(degraded["status"], "True");
  EXPECT_EQ(degraded["reason"], "NameConflict");
  EXPECT_NE(degraded["message"].get<std::string>().find("Deployment ml/chat-default exists"),
            std::string::npos)
      << degraded;
  EXPECT_EQ(dss["status"]["regions"][0]["weight"], 0);
  ASSERT_FALSE(h.events.empty());
  EXPECT_EQ(h.events.back(), "NameConflict");

  // Removed by its owner: the next look creates the service's own.
  ASSERT_TRUE(h.fake->remove(kDeployments, "ml", "chat-default"));
  h.sync();
  h.settle();
  EXPECT_EQ(condition_of(h.get(DeepSeekServiceReconciler::deepseek_services(), "chat"),
                         "Degraded")["reason"],
            "AsExpected");
  EXPECT_EQ(h.get(kDeployments, "chat-default")["metadata"]["ownerReferences"][0]["uid"],
            h.get(DeepSeekServiceReconciler::deepseek_services(), "chat")["metadata"]["uid"]);
}

TEST(ReconcilerOwnership, AServiceOrTrafficConfigMapOfSomeoneElseIsLeftAlone) {
  Json object = service_object(2);
  object["spec"]["failover"] = {{"trafficPublication", {{"configMapName", "routes"}}}};
  Harness h(true, object);
  const Json service = {{"apiVersion", "v1"},
                        {"kind", "Service"},
                        {"metadata", {{"name", "chat-default"}, {"namespace", "ml"}}},
                        {"spec", {{"type", "NodePort"}}}};
  const Json config_map = {{"apiVersion", "v1"},
                           {"kind", "ConfigMap"},
                           {"metadata", {{"name", "routes"}, {"namespace", "ml"}}},
                           {"data", {{"keep", "me"}}}};
  ASSERT_TRUE(h.fake->create(kServices, "ml", service));
  ASSERT_TRUE(h.fake->create(kube::Resource::config_maps(), "ml", config_map));
  h.sync();
  h.client->writes.clear();
  EXPECT_EQ(h.reconciler->reconcile("ml/chat").kind, kube::ReconcileResult::Kind::kRequeueAfter);
  EXPECT_EQ(h.client->writes, (std::vector<std::string>{"PATCH deepseekservices chat/status"}));
  EXPECT_EQ(h.get(kServices, "chat-default")["spec"]["type"], "NodePort");
  EXPECT_EQ(h.get(kube::Resource::config_maps(), "routes")["data"], (Json{{"keep", "me"}}));
  const std::string message = condition_of(
      h.get(DeepSeekServiceReconciler::deepseek_services(), "chat"), "Degraded")["message"];
  EXPECT_NE(message.find("Service ml/chat-default exists"), std::string::npos) << message;
  EXPECT_NE(message.find("ConfigMap ml/routes exists"), std::string::npos) << message;
}

TEST(ReconcilerOwnership, HostPathNeedsTheOperatorFlag) {
  Json object = service_object(2);
  object["spec"]["model"]["source"] = {{"hostPath", {{"path", "/etc"}}}};
  Harness refused(true, object);
  refused.reconcile();
  EXPECT_FALSE(refused.fake->get(kDeployments, "ml", "chat-default").has_value());
  const Json ready =
      condition_of(refused.get(DeepSeekServiceReconciler::deepseek_services(), "chat"), "Ready");
  EXPECT_EQ(ready["reason"], "InvalidSpec");
  ASSERT_FALSE(refused.event_messages.empty());
  EXPECT_NE(refused.event_messages.back().find("--allow-host-path"), std::string::npos)
      << refused.event_messages.back();

  Harness allowed(true, object, true);
  allowed.settle();
  const Json d = allowed.get(kDeployments, "chat-default");
  std::string mounted;
  for (const Json& v : d["spec"]["template"]["spec"]["volumes"])
    if (v.value("name", "") == "model") mounted = v["hostPath"]["path"];
  EXPECT_EQ(mounted, "/etc");
}

}  // namespace
}  // namespace dso::controller

namespace dso::controller {
namespace {

TEST(ReconcilerHold, WithoutStatusReplicasTheLiveDeploymentIsHeldNotTheMinimum) {
  // Autoscaling on, no decision yet, and a status that lost its replicas (restored from a backup,
  // say) while the primary's Deployment runs 5.
  Json object = service_object(2);
  object["spec"]["autoscaling"] = {{"enabled", true}, {"minReplicas", 1}, {"maxReplicas", 10}};
  object["spec"].erase("replicas");
  Harness h(true, object);
  h.decided = 5;
  h.settle();  // the operator set 5 once
  ASSERT_EQ(h.get(kDeployments, "chat-default")["spec"]["replicas"], 5);
  Json current = h.get(DeepSeekServiceReconciler::deepseek_services(), "chat");
  current["status"].erase("replicas");
  ASSERT_TRUE(
      h.fake->update(DeepSeekServiceReconciler::deepseek_services(), "ml", current, "status"));
  h.sync();
  h.decided.reset();  // a new leader that has not decided yet
  h.reconcile();
  EXPECT_EQ(h.get(kDeployments, "chat-default")["spec"]["replicas"], 5);
  EXPECT_EQ(h.get(DeepSeekServiceReconciler::deepseek_services(), "chat")["status"]["replicas"], 5);
}

}  // namespace
}  // namespace dso::controller
