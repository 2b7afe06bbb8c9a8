// Fault tests on a dedicated control plane (fixture kube_faults, cluster ctest-kfaults, where
// configmaps bypass the watch cache): kube-apiserver killed and restarted mid-watch, and etcd
// compacted past the informer's resourceVersion while its connection is cut. After each, the
// informer's cache and what its handlers reported equal a fresh LIST.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <random>

#include "kube_it_util.h"

namespace dso::kube::it {
namespace {

using namespace std::chrono_literals;
using dso::testing::LocalCluster;

const Resource kCm = Resource::config_maps();
const Resource kSecret{"", "v1", "secrets", true};

LocalCluster cluster() {
  return LocalCluster::open(cluster_name("DSO_KUBE_FAULTS_CLUSTER", "ctest-kfaults"));
}

int run(const std::string& command, std::string* out = nullptr) {
  std::string output;
  const int rc = cluster().sh(command, &output);
  if (out) *out = output;
  if (rc != 0)
    std::fprintf(stderr, "command failed (%d): %s\n%s\n", rc, command.c_str(), output.c_str());
  return rc;
}

Json object_of(const Resource& r, const std::string& name, int value) {
  Json o = {{"apiVersion", "v1"}, {"metadata", {{"name", name}}}};
  if (r.resource == "secrets") {
    o["kind"] = "Secret";
    o["stringData"] = {{"v", std::to_string(value)}};
  } else {
    o["kind"] = "ConfigMap";
    o["data"] = {{"v", std::to_string(value)}};
  }
  return o;
}

// Random creates/updates/deletes, tolerating failures while the server is down.
void churn(KubeClient& c, const Resource& r, const std::string& ns, int ops, int seed, int* ok) {
  std::mt19937 rng(seed);
  for (int i = 0; i < ops; ++i) {
    const std::string name = "o" + std::to_string(rng() % 30);
    Result<Json> res = std::unexpected(ApiError{});
    switch (rng() % 3) {
      case 0:
        res = c.create(r, ns, object_of(r, name, i));
        break;
      case 1:
        res = c.update_with_retry(r, ns, name, [&](Json& o) {
          o[r.resource == "secrets" ? "stringData" : "data"] = {{"v", std::to_string(i)}};
          return true;
        });
        break;
      default:
        res = c.remove(r, ns, name);
        break;
    }
    if (res) ++*ok;
  }
}

struct Watched {
  std::unique_ptr<Informer> informer;
  HandlerView view;
};

void start(Watched& w, std::shared_ptr<KubeClient> client, const Resource& r,
           const std::string& ns) {
  InformerOptions o;
  o.resource = r;
  o.ns = ns;
  o.on_log = [](const std::string& m) { std::fprintf(stderr, "informer: %s\n", m.c_str()); };
  w.informer = std::make_unique<Informer>(client, o);
  w.informer->add_handlers(w.view.handlers());
  w.informer->start();
  ASSERT_TRUE(w.informer->wait_for_sync(30s));
}

void expect_equal_to_list(Watched& w, KubeClient& client, const Resource& r,
                          const std::string& ns) {
  std::map<std::string, std::string> expected;
  const bool equal = eventually(
      [&] {
        expected = list_versions(client, r, ns);
        return cache_versions(*w.informer) == expected && w.view.snapshot() == expected;
      },
      90s);
  EXPECT_TRUE(equal) << r.to_string();
  EXPECT_EQ(cache_versions(*w.informer), expected);
  EXPECT_EQ(w.view.snapshot(), expected);
}

TEST(InformerFaults, ApiServerRestartedMidWatchResumesAndEqualsList) {
  auto client = make_client(cluster());
  const std::string ns = "kfaults-restart-" + std::to_string(::getpid());
  ensure_namespace(*client, ns);
  int ok = 0;
  churn(*client, kCm, ns, 60, 1, &ok);
  churn(*client, kSecret, ns, 60, 2, &ok);
  Watched cms, secrets;
  start(cms, client, kCm, ns);
  start(secrets, client, kSecret, ns);

  std::atomic<bool> done{false};
  std::thread writer([&] {
    auto c = make_client(cluster());
    int seed = 100, n = 0;
    while (!done) {
      churn(*c, kCm, ns, 5, seed++, &n);
      churn(*c, kSecret, ns, 5, seed++, &n);
      std::this_thread::sleep_for(50ms);
    }
  });
  std::this_thread::sleep_for(2s);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run(std::string(DSO_SOURCE_DIR) + "/hack/local-cluster.sh restart-apiserver " +
                cluster().name),
            0);
  const double restart_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::this_thread::sleep_for(3s);  // keep writing after the restart
  done = true;
  writer.join();
  expect_equal_to_list(cms, *client, kCm, ns);
  expect_equal_to_list(secrets, *client, kSecret, ns);
  std::printf(
      "apiserver restart took %.1f s; configmaps (uncached): watch restarts %ld relists %ld; "
      "secrets (watch cache): watch restarts %ld relists %ld, 410s %ld\n",
      restart_s, cms.informer->watch_restarts(), cms.informer->relists(),
      secrets.informer->watch_restarts(), secrets.informer->relists(),
      secrets.informer->gone_count());
  EXPECT_GE(cms.informer->watch_restarts() + secrets.informer->watch_restarts(), 2);
  cms.informer->stop();
  secrets.informer->stop();
  client->remove(Resource::namespaces(), "", ns);
}

TEST(InformerFaults, EtcdCompactedPastTheInformersVersionGivesGoneThenRelist) {
  const LocalCluster c = cluster();
  auto client = make_client(c);
  const std::string ns = "kfaults-compact-" + std::to_string(::getpid());
  ensure_namespace(*client, ns);
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(client->create(kCm, ns, object_of(kCm, "c" + std::to_string(i), i)));

  // The informer reaches the API server through a proxy that the test can cut.
  const int api_port = std::stoi(c.server.substr(c.server.rfind(':') + 1));
  TcpProxy proxy(api_port);
  auto via_proxy = make_client(c, "", {}, "https://127.0.0.1:" + std::to_string(proxy.port()));
  Watched w;
  start(w, via_proxy, kCm, ns);
  const std::string informer_rv = w.informer->last_resource_version();

  proxy.cut();
  // Changes the informer cannot see: deletes, updates, creates.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(client->remove(kCm, ns, "c" + std::to_string(i)));
  for (int i = 10; i < 15; ++i) {
    ASSERT_TRUE(client->patch(kCm, ns, "c" + std::to_string(i), PatchType::kMerge,
                              {{"data", {{"v", "changed"}}}}));
  }
  for (int i = 20; i < 25; ++i)
    ASSERT_TRUE(client->create(kCm, ns, object_of(kCm, "c" + std::to_string(i), i)));
  // Compact etcd at its current revision: the informer's resourceVersion is now history.
  std::string status;
  ASSERT_EQ(run("ETCDCTL_API=3 etcdctl --endpoints=" + c.etcd + " endpoint status --write-out=json",
                &status),
            0);
  const long revision = Json::parse(status)[0]["Status"]["header"]["revision"].get<long>();
  ASSERT_GT(revision, std::stol(informer_rv));
  ASSERT_EQ(
      run("ETCDCTL_API=3 etcdctl --endpoints=" + c.etcd + " compact " + std::to_string(revision)),
      0);
  // The API server now refuses the informer's version with 410.
  ListOptions old;
  old.resource_version = informer_rv;
  old.limit = 5;
  auto refused = client->list(kCm, ns, old);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().is_gone()) << refused.error().to_string();

  proxy.restore();
  expect_equal_to_list(w, *client, kCm, ns);
  EXPECT_GE(w.informer->gone_count(), 1);
  EXPECT_GE(w.informer->relists(), 1);
  {
    std::lock_guard l(w.view.mu);
    std::set<std::string> unknown(w.view.unknown_deletes.begin(), w.view.unknown_deletes.end());
    for (int i = 0; i < 10; ++i) EXPECT_TRUE(unknown.contains(ns + "/c" + std::to_string(i))) << i;
  }
  std::printf(
      "compaction: informer rv %s, etcd compacted at %ld; 410s %ld, relists %ld, watch restarts "
      "%ld\n",
      informer_rv.c_str(), revision, w.informer->gone_count(), w.informer->relists(),
      w.informer->watch_restarts());
  w.informer->stop();
  client->remove(Resource::namespaces(), "", ns);
}

}  // namespace
}  // namespace dso::kube::it
