// Benchmark: dso::kube's informer side by side with client-go's (hack/bench-client-go), in one
// run against the same API server and the same 10,000 ConfigMaps of ~200 bytes of data each:
// initial LIST + sync time, memory per cached object, update -> handler latency (the update
// request included); then work-queue throughput with 4 workers. Prints a markdown table.
//
//   kube_informer_bench [--cluster NAME] [--objects N] [--updates N] [--go PATH]
// Environment: DSO_CLUSTER_ROOT (as for the integration fixtures), DSO_BENCH_CLIENT_GO (the Go
// peer binary; skipped when absent).
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kube/config.h"
#include "kube/informer.h"
#include "kube/rest_client.h"
#include "kube/work_queue.h"
#include "support/local_cluster.h"

namespace {

using namespace dso::kube;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

const Resource kCm = Resource::config_maps();
const char* kNs = "kube-bench";

double rss_mb() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return -1;
}

std::size_t heap_in_use() {
  ::malloc_trim(0);
  return ::mallinfo2().uordblks;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * (v.size() - 1) + 0.5)];
}

struct Row {
  std::string peer;
  long objects = 0;
  double sync_s = 0, bytes_per_object = 0, rss = 0, p50 = 0, p99 = 0;
  int updates = 0;
};

void populate(const std::shared_ptr<RestClient>& client, int objects) {
  auto ns = client->create(
      Resource::namespaces(), "",
      Json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", kNs}}}});
  if (!ns && !ns.error().is_already_exists()) throw std::runtime_error(ns.error().to_string());
  auto existing = client->list_all(kCm, kNs, ListOptions{});
  std::set<std::string> have;
  for (const auto& o : existing->items) have.insert(meta_string(o, "name"));
  std::atomic<int> next{0}, created{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i; (i = next++) < objects;) {
        const std::string name = "bench-" + std::to_string(i);
        if (have.contains(name)) continue;
        std::string payload(200, 'a' + static_cast<char>(i % 26));
        auto r = client->create(kCm, kNs,
                                Json{{"apiVersion", "v1"},
                                     {"kind", "ConfigMap"},
                                     {"metadata", {{"name", name}}},
                                     {"data", {{"payload", payload}}}});
        if (r) ++created;
      }
    });
  }
  for (auto& t : threads) t.join();
  std::fprintf(stderr, "populate: %zu existed, %d created\n", have.size(), created.load());
}

Row run_go(const std::string& go, const std::string& kubeconfig, int updates) {
  Row row;
  const std::string cmd = go + " -kubeconfig " + kubeconfig + " -namespace " + kNs + " -updates " +
                          std::to_string(updates);
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (p && std::fgets(buf, sizeof buf, p)) out += buf;
  if (!p || ::pclose(p) != 0) throw std::runtime_error("client-go peer failed: " + out);
  const Json j = Json::parse(out.substr(out.rfind('{')));
  row.peer = j["peer"];
  row.objects = j["objects"];
  row.sync_s = j["sync_s"];
  row.bytes_per_object = j["heap_per_object_bytes"];
  row.rss = j["rss_mb"];
  row.p50 = j["p50_ms"];
  row.p99 = j["p99_ms"];
  row.updates = j["updates"];
  return row;
}

Row run_cpp(const std::shared_ptr<RestClient>& client, int updates, CacheStorage storage,
            bool strip_managed_fields) {
  Row row;
  row.peer = std::string("dso::kube, ") +
             (storage == CacheStorage::kCompact ? "compact cache" : "parsed cache") +
             (strip_managed_fields ? ", transform drops managedFields" : "");
  std::mutex mu;
  std::condition_variable cv;
  std::string last_seen;
  const std::size_t heap0 = heap_in_use();
  const auto t0 = SteadyClock::now();
  InformerOptions options;
  options.resource = kCm;
  options.ns = kNs;
  options.storage = storage;
  options.on_log = [](const std::string& m) { std::fprintf(stderr, "informer: %s\n", m.c_str()); };
  if (strip_managed_fields)
    options.transform = [](Json& o) { o["metadata"].erase("managedFields"); };
  Informer informer(client, options);
  informer.add_index("namespace", index_by_namespace());  // as client-go's informer factory does
  informer.add_handlers({nullptr,
                         [&](const ObjectPtr&, const ObjectPtr& o) {
                           const auto& data = (*o)["data"];
                           if (const auto s = data.find("seq"); s != data.end()) {
                             std::lock_guard l(mu);
                             last_seen = meta_string(*o, "name") + "/" + s->get<std::string>();
                             cv.notify_all();
                           }
                         },
                         nullptr});
  informer.start();
  if (!informer.wait_for_sync(120s)) throw std::runtime_error("dso::kube informer did not sync");
  row.sync_s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  row.objects = static_cast<long>(informer.store().size());
  // Compact storage packs the bulk load just after reporting synced; measure memory once packed.
  while (informer.store().pending_compaction() > 0) std::this_thread::sleep_for(1ms);
  std::fprintf(stderr, "%s: cache settled %.3f s after sync\n", row.peer.c_str(),
               std::chrono::duration<double>(SteadyClock::now() - t0).count() - row.sync_s);
  row.bytes_per_object = static_cast<double>(heap_in_use() - heap0) / row.objects;
  row.rss = rss_mb();

  std::vector<double> latencies, request_only;
  const std::string run = std::to_string(SteadyClock::now().time_since_epoch().count());
  for (int i = 0; i < updates; ++i) {
    const std::string name = "bench-" + std::to_string(i % row.objects);
    ObjectPtr current = informer.store().get(std::string(kNs) + "/" + name);
    if (!current) throw std::runtime_error("not cached: " + name);
    Json next = *current;
    const std::string seq = "cpp-" + run + "-" + std::to_string(i);
    next["data"]["seq"] = seq;
    const auto start = SteadyClock::now();
    auto r = client->update(kCm, kNs, next);
    if (!r) throw std::runtime_error(r.error().to_string());
    request_only.push_back(
        std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count());
    std::unique_lock l(mu);
    if (!cv.wait_for(l, 10s, [&] { return last_seen == name + "/" + seq; })) {
      throw std::runtime_error("update not seen: " + name);
    }
    latencies.push_back(
        std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count());
  }
  row.p50 = percentile(latencies, 0.5);
  row.p99 = percentile(latencies, 0.99);
  row.updates = updates;
  std::fprintf(stderr, "%s: the update request alone: p50 %.2f ms, p99 %.2f ms\n", row.peer.c_str(),
               percentile(request_only, 0.5), percentile(request_only, 0.99));
  informer.stop();
  return row;
}

// Adds `keys` distinct keys (`rounds` times each) from one producer while 4 workers get/done.
double queue_throughput(int keys, int rounds) {
  WorkQueue q("bench");
  std::atomic<long> processed{0};
  const auto t0 = SteadyClock::now();
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto k = q.get()) {
        ++processed;
        q.done(*k);
      }
    });
  }
  std::vector<std::string> names;
  names.reserve(keys);
  for (int i = 0; i < keys; ++i) names.push_back("namespace/object-" + std::to_string(i));
  for (int r = 0; r < rounds; ++r) {
    for (const auto& n : names) q.add(n);
  }
  q.shut_down_with_drain();
  for (auto& w : workers) w.join();
  const double s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  std::printf(
      "| work queue, 4 workers, %d keys x %d adds | %.0f adds/s | %ld keys processed (dedup) | "
      "%.3f s |\n",
      keys, rounds, static_cast<double>(keys) * rounds / s, processed.load(), s);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string cluster_name = "ctest", go, only;
  int objects = 10000, updates = 500;
  if (const char* g = std::getenv("DSO_BENCH_CLIENT_GO")) go = g;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--cluster")
      cluster_name = argv[i + 1];
    else if (a == "--objects")
      objects = std::stoi(argv[i + 1]);
    else if (a == "--updates")
      updates = std::stoi(argv[i + 1]);
    else if (a == "--go")
      go = argv[i + 1];
    else if (a == "--only")  // parsed | compact | strip: one C++ row, no Go peer
      only = argv[i + 1];
    else {
      std::fprintf(stderr, "kube_informer_bench: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (!go.empty() && ::access(go.c_str(), X_OK) != 0) {
    std::fprintf(stderr,
                 "kube_informer_bench: client-go peer %s not built (cmake --build build --target "
                 "bench_client_go); measuring dso::kube only\n",
                 go.c_str());
    go.clear();
  }
  const auto cluster = dso::testing::LocalCluster::open(cluster_name);
  auto config = load_kubeconfig({cluster.kubeconfig});
  if (!config) {
    std::fprintf(stderr, "%s\n", config.error().c_str());
    return 2;
  }
  auto client = *RestClient::create(*config);
  populate(client, objects);

  {
    // Where the sync time goes: the LIST request alone (transfer + JSON parse).
    ListOptions lo;
    lo.resource_version = "0";
    const auto t0 = SteadyClock::now();
    auto l = client->list(kCm, kNs, lo);
    std::fprintf(stderr, "LIST rv=0 alone: %.3f s, %zu items\n",
                 std::chrono::duration<double>(SteadyClock::now() - t0).count(),
                 l ? l->items.size() : 0);
    auto raw =
        client->get_raw(std::string("/api/v1/namespaces/") + kNs + "/configmaps?resourceVersion=0");
    const auto t1 = SteadyClock::now();
    auto raw2 =
        client->get_raw(std::string("/api/v1/namespaces/") + kNs + "/configmaps?resourceVersion=0");
    const auto t2 = SteadyClock::now();
    auto parsed = Json::parse(*raw2);
    std::fprintf(stderr, "GET body alone: %.3f s (%zu bytes); JSON parse alone: %.3f s\n",
                 std::chrono::duration<double>(t2 - t1).count(), raw2->size(),
                 std::chrono::duration<double>(SteadyClock::now() - t2).count());
  }
  std::vector<Row> rows;
  if (!only.empty()) {
    const Row r =
        run_cpp(client, updates, only == "compact" ? CacheStorage::kCompact : CacheStorage::kParsed,
                only == "strip");
    std::printf("%s: sync %.2f s, %.0f B/object\n", r.peer.c_str(), r.sync_s, r.bytes_per_object);
    return 0;
  }
  if (!go.empty()) rows.push_back(run_go(go, cluster.kubeconfig.string(), updates));
  rows.push_back(run_cpp(client, updates, CacheStorage::kParsed, false));
  rows.push_back(run_cpp(client, updates, CacheStorage::kCompact, false));
  rows.push_back(run_cpp(client, updates, CacheStorage::kParsed, true));
  if (!go.empty())
    rows.push_back(run_go(go, cluster.kubeconfig.string(), updates));  // again, for noise

  std::printf(
      "\n| informer | objects | LIST+sync (s) | heap per cached object (B) | process RSS (MB) | "
      "update->handler p50 (ms) | p99 (ms) | updates |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& r : rows) {
    std::printf("| %s | %ld | %.2f | %.0f | %.0f | %.2f | %.2f | %d |\n", r.peer.c_str(), r.objects,
                r.sync_s, r.bytes_per_object, r.rss, r.p50, r.p99, r.updates);
  }
  std::printf("\n| work queue | throughput | processed | wall |\n|---|---:|---:|---:|\n");
  queue_throughput(200000, 1);
  queue_throughput(1000, 200);
  return 0;
}
