// HealthServer: /healthz (liveness), /readyz (readiness) and /metrics (prometheus-cpp registry) on
// one HTTP port, over cpprestsdk's listener. Each endpoint runs its named checks; 200 "ok" when
// all pass, 500 with one line per failing check otherwise. /readyz?verbose lists every check.
#pragma once

#include <prometheus/registry.h>

#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace dso::kube {

using HealthCheck = std::function<std::expected<void, std::string>()>;

class HealthServer {
 public:
  // `address` like "http://127.0.0.1:8081"; registry may be null (then /metrics is 404).
  explicit HealthServer(std::string address,
                        std::shared_ptr<prometheus::Registry> registry = nullptr);
  ~HealthServer();

  // Checks may be added before or after start(); they run on the listener's threads and must be
  // quick and thread-safe.
  void add_liveness_check(const std::string& name, HealthCheck check);
  void add_readiness_check(const std::string& name, HealthCheck check);

  // Starts listening; fails with a one-line message naming the address.
  std::expected<void, std::string> start();
  void stop();

  // The result of one endpoint: {http status, body}. Used by the listener and by tests.
  std::pair<int, std::string> evaluate(const std::string& path, bool verbose) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dso::kube
