// LeaderGatedClient: a KubeClient whose writes (create, update, patch — and so apply and scale —
// and delete) go through only while `may_write()` says so; reads and watches always do. The
// operator wraps its client with LeaderElector::is_leader, which turns false once the last renewal
// (stamped when it was sent) is older than the renew deadline: a leader whose connection to the
// API server hangs stops writing before another replica can take the lease over, whatever its own
// requests are doing. A refused write is ApiError reason "NotLeader" (code 0: retried like a
// transport failure by callers that retry).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>

#include "kube/client.h"

namespace dso::kube {

class LeaderGatedClient final : public KubeClient {
 public:
  LeaderGatedClient(KubeClientPtr inner, std::function<bool()> may_write);

  Result<Json> get(const Resource& r, const std::string& ns, const std::string& name,
                   const std::string& subresource = "") override;
  Result<ObjectList> list(const Resource& r, const std::string& ns,
                          const ListOptions& options) override;
  Result<Json> create(const Resource& r, const std::string& ns, const Json& object) override;
  Result<Json> update(const Resource& r, const std::string& ns, const Json& object,
                      const std::string& subresource = "") override;
  Result<Json> patch(const Resource& r, const std::string& ns, const std::string& name,
                     PatchType type, const Json& patch, const PatchOptions& options = {},
                     const std::string& subresource = "") override;
  Result<Json> remove(const Resource& r, const std::string& ns, const std::string& name,
                      const DeleteOptions& options = {}) override;
  Result<void> watch(const Resource& r, const std::string& ns, const WatchOptions& options,
                     const std::function<void(WatchEvent&&)>& on_event,
                     std::stop_token stop) override;
  Result<std::vector<ApiResource>> discover(const std::string& group_version) override;
  Result<std::vector<std::string>> server_group_versions() override;

  // Writes refused so far.
  std::uint64_t refused() const { return refused_.load(); }

 private:
  std::optional<ApiError> refuse(const char* verb, const Resource& r, const std::string& ns,
                                 const std::string& name);

  KubeClientPtr inner_;
  std::function<bool()> may_write_;
  std::atomic<std::uint64_t> refused_{0};
};

}  // namespace dso::kube
