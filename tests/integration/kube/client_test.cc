// dso::kube against a real kube-apiserver (ctest fixture "kube"): every REST verb, subresources,
// discovery, API errors, authentication, a long watch, 1,000 random changes while an informer
// watches, and a stale-resourceVersion update retried after 409.
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>
#include <set>

#include "kube_it_util.h"

namespace dso::kube::it {
namespace {

using namespace std::chrono_literals;
using dso::testing::LocalCluster;

const Resource kCm = Resource::config_maps();

LocalCluster cluster() {
  return LocalCluster::open(cluster_name("DSO_KUBE_IT_CLUSTER", "ctest"));
}

std::string unique_ns(const std::string& base) {
  return base + "-" + std::to_string(::getpid());
}

Json config_map(const std::string& name, const Json& data) {
  return {
      {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", data}};
}

TEST(KubeClient, CrudPatchApplyDeleteAndErrors) {
  auto client = make_client(cluster());
  const std::string ns = unique_ns("kube-it-crud");
  ensure_namespace(*client, ns);

  auto created = client->create(kCm, ns, config_map("a", {{"k", "1"}}));
  ASSERT_TRUE(created) << created.error().to_string();
  EXPECT_FALSE(resource_version(*created).empty());
  auto dup = client->create(kCm, ns, config_map("a", {{"k", "1"}}));
  ASSERT_FALSE(dup);
  EXPECT_TRUE(dup.error().is_already_exists());
  EXPECT_EQ(dup.error().details["name"], "a");

  auto missing = client->get(kCm, ns, "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, 404);
  EXPECT_EQ(missing.error().reason, "NotFound");
  EXPECT_NE(missing.error().message.find("\"nope\" not found"), std::string::npos);

  // Update with the current resourceVersion succeeds; with a stale one it is a 409 Conflict.
  Json stale = *created;
  Json fresh = *created;
  fresh["data"]["k"] = "2";
  ASSERT_TRUE(client->update(kCm, ns, fresh));
  stale["data"]["k"] = "stale";
  auto conflict = client->update(kCm, ns, stale);
  ASSERT_FALSE(conflict);
  EXPECT_TRUE(conflict.error().is_conflict()) << conflict.error().to_string();

  auto merged = client->patch(kCm, ns, "a", PatchType::kMerge, {{"data", {{"m", "merge"}}}});
  ASSERT_TRUE(merged) << merged.error().to_string();
  EXPECT_EQ((*merged)["data"]["m"], "merge");
  EXPECT_EQ((*merged)["data"]["k"], "2");
  auto json_patched =
      client->patch(kCm, ns, "a", PatchType::kJson,
                    Json::array({{{"op", "add"}, {"path", "/data/j"}, {"value", "json"}},
                                 {{"op", "remove"}, {"path", "/data/m"}}}));
  ASSERT_TRUE(json_patched) << json_patched.error().to_string();
  EXPECT_EQ((*json_patched)["data"]["j"], "json");
  EXPECT_FALSE((*json_patched)["data"].contains("m"));
  auto strategic =
      client->patch(kCm, ns, "a", PatchType::kStrategicMerge, {{"data", {{"s", "smp"}}}});
  ASSERT_TRUE(strategic) << strategic.error().to_string();

  // Server-side apply: a second manager conflicts on a field the first owns unless it forces.
  const Json applied_by_one = config_map("applied", {{"x", "one"}});
  auto applied = client->apply(kCm, ns, applied_by_one, "manager-one");
  ASSERT_TRUE(applied) << applied.error().to_string();
  auto clash = client->apply(kCm, ns, config_map("applied", {{"x", "two"}}), "manager-two");
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code, 409);
  EXPECT_EQ(clash.error().reason, "Conflict");
  auto forced = client->apply(kCm, ns, config_map("applied", {{"x", "two"}}), "manager-two", true);
  ASSERT_TRUE(forced) << forced.error().to_string();
  EXPECT_EQ((*forced)["data"]["x"], "two");
  bool found_manager = false;
  for (const auto& mf : (*forced)["metadata"]["managedFields"]) {
    found_manager |= mf.value("manager", "") == "manager-two";
  }
  EXPECT_TRUE(found_manager);

  // Paginated list.
  for (int i = 0; i < 23; ++i)
    ASSERT_TRUE(client->create(kCm, ns, config_map("p" + std::to_string(i), {})));
  ListOptions page;
  page.limit = 10;
  auto first = client->list(kCm, ns, page);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->items.size(), 10u);
  EXPECT_FALSE(first->continue_token.empty());
  auto all = client->list_all(kCm, ns, ListOptions{}, 10);
  ASSERT_TRUE(all);
  std::set<std::string> listed;
  for (const auto& item : all->items) listed.insert(meta_string(item, "name"));
  EXPECT_EQ(all->items.size(), listed.size());  // no duplicates across pages
  for (int i = 0; i < 23; ++i) EXPECT_TRUE(listed.contains("p" + std::to_string(i))) << i;
  EXPECT_TRUE(listed.contains("a"));
  EXPECT_TRUE(listed.contains("applied"));
  ListOptions by_label;
  by_label.label_selector = "nosuch=label";
  EXPECT_TRUE(client->list(kCm, ns, by_label)->items.empty());

  DeleteOptions background;
  background.propagation = Propagation::kBackground;
  ASSERT_TRUE(client->remove(kCm, ns, "a", background));
  EXPECT_TRUE(client->get(kCm, ns, "a").error().is_not_found());
  DeleteOptions precondition;
  precondition.precondition_resource_version = "1";
  auto refused = client->remove(kCm, ns, "applied", precondition);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, 409);
  DeleteOptions orphan;
  orphan.propagation = Propagation::kForeground;
  EXPECT_TRUE(client->remove(Resource::namespaces(), "", ns, orphan));
}

TEST(KubeClient, StaleResourceVersionUpdateRetriesAfterConflict) {
  auto client = make_client(cluster());
  const std::string ns = unique_ns("kube-it-conflict");
  ensure_namespace(*client, ns);
  ASSERT_TRUE(client->create(kCm, ns, config_map("counter", {{"n", "0"}})));
  // Another writer changes the object between our read and our write, on the first attempt only.
  int attempts = 0;
  auto other = make_client(cluster());
  auto result = client->update_with_retry(kCm, ns, "counter", [&](Json& cm) {
    ++attempts;
    if (attempts == 1) {
      EXPECT_TRUE(
          other->patch(kCm, ns, "counter", PatchType::kMerge, {{"data", {{"other", "x"}}}}));
    }
    const int n = std::stoi(cm["data"]["n"].get<std::string>());
    cm["data"]["n"] = std::to_string(n + 1);
    return true;
  });
  ASSERT_TRUE(result) << result.error().to_string();
  EXPECT_EQ(attempts, 2);  // 409 on the stale version, then re-read and succeeded
  EXPECT_EQ((*result)["data"]["n"], "1");
  EXPECT_EQ((*result)["data"]["other"], "x");  // the other writer's change was kept
  client->remove(Resource::namespaces(), "", ns);
}

TEST(KubeClient, StatusAndScaleSubresourcesAndDiscoveryOfACustomResource) {
  auto client = make_client(cluster());
  const Resource crds{"apiextensions.k8s.io", "v1", "customresourcedefinitions", false};
  const Json crd = Json::parse(R"({
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.kube-it.dso.example"},
    "spec": {"group": "kube-it.dso.example", "scope": "Namespaced",
      "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
      "versions": [{"name": "v1", "served": true, "storage": true,
        "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                  "statusReplicasPath": ".status.replicas"}},
        "schema": {"openAPIV3Schema": {"type": "object", "properties": {
          "spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
          "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}}}]}})");
  auto made = client->create(crds, "", crd);
  ASSERT_TRUE(made || made.error().is_already_exists()) << made.error().to_string();
  std::vector<ApiResource> served;
  ASSERT_TRUE(eventually(
      [&] {
        auto d = client->discover("kube-it.dso.example/v1");
        if (d) served = *d;
        return d && served.size() >= 3;
      },
      30s));
  std::set<std::string> names;
  for (const auto& r : served) names.insert(r.name);
  EXPECT_TRUE(names.contains("widgets"));
  EXPECT_TRUE(names.contains("widgets/status"));
  EXPECT_TRUE(names.contains("widgets/scale"));

  const Resource widgets{"kube-it.dso.example", "v1", "widgets", true};
  const std::string ns = unique_ns("kube-it-sub");
  ensure_namespace(*client, ns);
  Json w = {{"apiVersion", "kube-it.dso.example/v1"},
            {"kind", "Widget"},
            {"metadata", {{"name", "w"}}},
            {"spec", {{"replicas", 1}}}};
  Result<Json> created = std::unexpected(ApiError{});
  ASSERT_TRUE(
      eventually([&] { return (created = client->create(widgets, ns, w)).has_value(); }, 30s))
      << created.error().to_string();
  // The status subresource changes status only; the main resource ignores status.
  Json with_status = *created;
  with_status["status"] = {{"replicas", 1}};
  with_status["spec"]["replicas"] = 7;
  auto status = client->update(widgets, ns, with_status, "status");
  ASSERT_TRUE(status) << status.error().to_string();
  EXPECT_EQ((*status)["status"]["replicas"], 1);
  EXPECT_EQ((*status)["spec"]["replicas"], 1);
  // Scale subresource.
  auto scaled = client->scale(widgets, ns, "w", 5);
  ASSERT_TRUE(scaled) << scaled.error().to_string();
  EXPECT_EQ((*scaled)["kind"], "Scale");
  EXPECT_EQ((*client->get(widgets, ns, "w"))["spec"]["replicas"], 5);
  EXPECT_EQ((*client->get(widgets, ns, "w", "scale"))["status"]["replicas"], 1);
  auto status_patch = client->patch(widgets, ns, "w", PatchType::kMerge,
                                    {{"status", {{"replicas", 4}}}}, {}, "status");
  ASSERT_TRUE(status_patch) << status_patch.error().to_string();
  EXPECT_EQ((*status_patch)["status"]["replicas"], 4);

  auto versions = client->server_group_versions();
  ASSERT_TRUE(versions);
  for (const char* gv : {"v1", "apps/v1", "coordination.k8s.io/v1", "kube-it.dso.example/v1"}) {
    EXPECT_NE(std::find(versions->begin(), versions->end(), gv), versions->end()) << gv;
  }
  auto core = client->discover("v1");
  ASSERT_TRUE(core);
  const auto cm = std::find_if(core->begin(), core->end(),
                               [](const auto& r) { return r.name == "configmaps"; });
  ASSERT_NE(cm, core->end());
  EXPECT_TRUE(cm->namespaced);
  EXPECT_NE(std::find(cm->verbs.begin(), cm->verbs.end(), "watch"), cm->verbs.end());
  client->remove(Resource::namespaces(), "", ns);
}

TEST(KubeClient, AuthenticationAndTlsVerification) {
  const LocalCluster c = cluster();
  // Client certificate from the kubeconfig's second context.
  auto by_cert = make_client(c, c.name + "-cert");
  auto ns = by_cert->get(Resource::namespaces(), "", "default");
  ASSERT_TRUE(ns) << ns.error().to_string();
  // A wrong token: 401, not retried, message names the request.
  Config bad;
  bad.server = c.server;
  bad.ca_file = c.ca_file.string();
  bad.token = "wrong";
  auto unauth = (*RestClient::create(bad))->get(Resource::namespaces(), "", "default");
  ASSERT_FALSE(unauth);
  EXPECT_EQ(unauth.error().code, 401);
  EXPECT_NE(unauth.error().message.find("/api/v1/namespaces/default"), std::string::npos);
  // Verification is on by default: without the cluster CA the handshake fails.
  Config no_ca;
  no_ca.server = c.server;
  no_ca.token = c.admin_token;
  RestOptions once;
  once.retry.max_attempts = 1;
  auto untrusted = (*RestClient::create(no_ca, once))->get(Resource::namespaces(), "", "default");
  ASSERT_FALSE(untrusted);
  EXPECT_TRUE(untrusted.error().is_transport()) << untrusted.error().to_string();
  // Only an explicit insecure-skip-tls-verify turns it off.
  no_ca.insecure_skip_tls_verify = true;
  EXPECT_TRUE((*RestClient::create(no_ca, once))->get(Resource::namespaces(), "", "default"));
}

TEST(KubeClient, LongWatchOutlivesTheRequestTimeoutAndEndsAtTimeoutSeconds) {
  RestOptions options;
  options.request_timeout = 5s;  // ordinary requests would give up after 5 s
  auto client = make_client(cluster(), "", options);
  auto writer = make_client(cluster());
  const std::string ns = unique_ns("kube-it-longwatch");
  ensure_namespace(*client, ns);
  auto list = client->list(kCm, ns, ListOptions{});
  ASSERT_TRUE(list);
  std::atomic<int> added{0};
  std::jthread late_write([&](std::stop_token stop) {
    for (int i = 0; i < 200 && !stop.stop_requested(); ++i) std::this_thread::sleep_for(100ms);
    if (!stop.stop_requested()) writer->create(kCm, ns, config_map("late", {}));
  });
  WatchOptions wo;
  wo.resource_version = list->resource_version;
  wo.timeout_seconds = 30;
  const auto t0 = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration late_at{};
  auto r = client->watch(
      kCm, ns, wo,
      [&](WatchEvent&& e) {
        if (e.type == "ADDED" && meta_string(e.object, "name") == "late") {
          ++added;
          late_at = std::chrono::steady_clock::now() - t0;
        }
      },
      std::stop_token{});
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(added, 1);  // an event 20 s into an otherwise idle stream
  EXPECT_GE(late_at, 19s);
  EXPECT_GE(took, 29s);  // ended by the server at timeoutSeconds, not by a client timeout
  EXPECT_LT(took, 40s);
  client->remove(Resource::namespaces(), "", ns);
}

TEST(Informer, ThousandRandomChangesWhileWatchingEndEqualToAFreshList) {
  auto client = make_client(cluster());
  const std::string ns = unique_ns("kube-it-random");
  ensure_namespace(*client, ns);
  InformerOptions options;
  options.resource = kCm;
  options.ns = ns;
  options.storage = CacheStorage::kParsed;  // the fault tests cover the default compact cache
  Informer informer(client, options);
  informer.add_index("app", index_by_label("app"));
  HandlerView view;
  informer.add_handlers(view.handlers());
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(30s));

  constexpr int kWriters = 4, kOpsPerWriter = 250, kNamesPerWriter = 40;
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937 rng(1000 + w);
      auto c = make_client(cluster());
      std::set<std::string> live;
      for (int i = 0; i < kOpsPerWriter; ++i) {
        const std::string name =
            "w" + std::to_string(w) + "-" + std::to_string(rng() % kNamesPerWriter);
        const int op = static_cast<int>(rng() % 3);
        bool good = false;
        if (!live.contains(name) || op == 0) {
          Json cm = config_map(name, {{"v", std::to_string(i)}});
          cm["metadata"]["labels"] = {{"app", rng() % 2 ? "x" : "y"}};
          auto r = c->create(kCm, ns, cm);
          good = r.has_value() || r.error().is_already_exists();
          live.insert(name);
        } else if (op == 1) {
          auto r = c->patch(kCm, ns, name, PatchType::kMerge,
                            {{"data", {{"v", std::to_string(i)}}},
                             {"metadata", {{"labels", {{"app", rng() % 2 ? "x" : "y"}}}}}});
          good = r.has_value();
        } else {
          good = c->remove(kCm, ns, name).has_value();
          live.erase(name);
        }
        ++(good ? ok : failed);
      }
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(ok, kWriters * kOpsPerWriter);
  std::map<std::string, std::string> expected;
  ASSERT_TRUE(eventually(
      [&] {
        expected = list_versions(*client, kCm, ns);
        return cache_versions(informer) == expected && view.snapshot() == expected;
      },
      30s));
  EXPECT_EQ(cache_versions(informer), expected);
  EXPECT_EQ(view.snapshot(), expected);
  // The label index agrees with the objects.
  std::size_t indexed =
      informer.store().by_index("app", "x").size() + informer.store().by_index("app", "y").size();
  std::size_t labelled = 0;
  for (const auto& o : informer.store().list())
    labelled += (*o)["metadata"].contains("labels") ? 1 : 0;
  EXPECT_EQ(indexed, labelled);
  std::printf(
      "1000 random changes: %zu objects at the end, handler calls add=%ld update=%ld delete=%ld, "
      "relists=%ld\n",
      expected.size(), view.adds, view.updates, view.deletes, informer.relists());
  informer.stop();
  client->remove(Resource::namespaces(), "", ns);
}

}  // namespace
}  // namespace dso::kube::it
