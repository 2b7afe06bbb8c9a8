// Helpers for dso::kube integration tests: clients for a LocalCluster, a TCP proxy that can cut
// and restore connections, comparing an informer's cache with a fresh LIST, polling.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kube/config.h"
#include "kube/informer.h"
#include "kube/rest_client.h"
#include "support/local_cluster.h"

namespace dso::kube::it {

inline std::string cluster_name(const char* env, const char* fallback) {
  const char* v = std::getenv(env);
  return v != nullptr && *v != '\0' ? v : fallback;
}

// A RestClient for the cluster's kubeconfig (context "" = current: bearer token admin).
inline std::shared_ptr<RestClient> make_client(const dso::testing::LocalCluster& cluster,
                                               const std::string& context = "",
                                               RestOptions options = {},
                                               const std::string& server_override = "") {
  auto config = load_kubeconfig({cluster.kubeconfig}, context);
  if (!config) throw std::runtime_error(config.error());
  if (!server_override.empty()) config->server = server_override;
  auto client = RestClient::create(*config, options);
  if (!client) throw std::runtime_error(client.error());
  return *client;
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

inline void ensure_namespace(KubeClient& client, const std::string& ns) {
  auto r = client.create(
      Resource::namespaces(), "",
      Json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
  if (!r && !r.error().is_already_exists()) throw std::runtime_error(r.error().to_string());
}

// key -> resourceVersion of a fresh LIST.
inline std::map<std::string, std::string> list_versions(KubeClient& client, const Resource& r,
                                                        const std::string& ns) {
  auto list = client.list_all(r, ns, ListOptions{});
  if (!list) throw std::runtime_error(list.error().to_string());
  std::map<std::string, std::string> out;
  for (const auto& item : list->items) out[object_key(item)] = resource_version(item);
  return out;
}

inline std::map<std::string, std::string> cache_versions(const Informer& informer) {
  std::map<std::string, std::string> out;
  for (const auto& o : informer.store().list()) out[object_key(*o)] = resource_version(*o);
  return out;
}

// What the event handlers have told: key -> resourceVersion (adds/updates set, deletes erase).
struct HandlerView {
  std::mutex mu;
  std::map<std::string, std::string> versions;
  std::vector<std::string> unknown_deletes;
  long adds = 0, updates = 0, deletes = 0;
  EventHandlers handlers() {
    return {[this](const ObjectPtr& o) {
              std::lock_guard l(mu);
              ++adds;
              versions[object_key(*o)] = resource_version(*o);
            },
            [this](const ObjectPtr&, const ObjectPtr& o) {
              std::lock_guard l(mu);
              ++updates;
              versions[object_key(*o)] = resource_version(*o);
            },
            [this](const ObjectPtr& o, bool unknown) {
              std::lock_guard l(mu);
              ++deletes;
              if (unknown) unknown_deletes.push_back(object_key(*o));
              versions.erase(object_key(*o));
            }};
  }
  std::map<std::string, std::string> snapshot() {
    std::lock_guard l(mu);
    return versions;
  }
};

// Listens on 127.0.0.1 and forwards each connection to 127.0.0.1:upstream_port. cut() closes all
// live connections and refuses new ones until restore().
class TcpProxy {
 public:
  explicit TcpProxy(int upstream_port);
  ~TcpProxy();
  int port() const { return port_; }
  void cut();
  void restore();
  int connections_accepted() const { return accepted_; }

 private:
  void accept_loop();
  void pump(int client_fd);
  int upstream_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> cut_{false};
  std::atomic<int> accepted_{0};
  std::mutex mu_;
  std::vector<int> live_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace dso::kube::it
