#include "kube/leader_gated_client.h"

namespace dso::kube {

LeaderGatedClient::LeaderGatedClient(KubeClientPtr inner, std::function<bool()> may_write)
    : inner_(std::move(inner)), may_write_(std::move(may_write)) {}

std::optional<ApiError> LeaderGatedClient::refuse(const char* verb, const Resource& r,
                                                  const std::string& ns, const std::string& name) {
  if (may_write_()) return std::nullopt;
  refused_.fetch_add(1);
  ApiError e;
  e.reason = "NotLeader";
  e.message = std::string(verb) + " " + r.resource + " " + (ns.empty() ? "" : ns + "/") + name +
              ": refused, this process does not hold a valid leader lease";
  return e;
}

Result<Json> LeaderGatedClient::get(const Resource& r, const std::string& ns,
                                    const std::string& name, const std::string& subresource) {
  return inner_->get(r, ns, name, subresource);
}

Result<ObjectList> LeaderGatedClient::list(const Resource& r, const std::string& ns,
                                           const ListOptions& options) {
  return inner_->list(r, ns, options);
}

Result<Json> LeaderGatedClient::create(const Resource& r, const std::string& ns,
                                       const Json& object) {
  if (auto e = refuse("POST", r, ns, meta_string(object, "name"))) return std::unexpected(*e);
  return inner_->create(r, ns, object);
}

Result<Json> LeaderGatedClient::update(const Resource& r, const std::string& ns, const Json& object,
                                       const std::string& subresource) {
  if (auto e = refuse("PUT", r, ns, meta_string(object, "name"))) return std::unexpected(*e);
  return inner_->update(r, ns, object, subresource);
}

Result<Json> LeaderGatedClient::patch(const Resource& r, const std::string& ns,
                                      const std::string& name, PatchType type, const Json& patch,
                                      const PatchOptions& options, const std::string& subresource) {
  if (auto e = refuse("PATCH", r, ns, name)) return std::unexpected(*e);
  return inner_->patch(r, ns, name, type, patch, options, subresource);
}

Result<Json> LeaderGatedClient::remove(const Resource& r, const std::string& ns,
                                       const std::string& name, const DeleteOptions& options) {
  if (auto e = refuse("DELETE", r, ns, name)) return std::unexpected(*e);
  return inner_->remove(r, ns, name, options);
}

Result<void> LeaderGatedClient::watch(const Resource& r, const std::string& ns,
                                      const WatchOptions& options,
                                      const std::function<void(WatchEvent&&)>& on_event,
                                      std::stop_token stop) {
  return inner_->watch(r, ns, options, on_event, std::move(stop));
}

Result<std::vector<ApiResource>> LeaderGatedClient::discover(const std::string& group_version) {
  return inner_->discover(group_version);
}

Result<std::vector<std::string>> LeaderGatedClient::server_group_versions() {
  return inner_->server_group_versions();
}

}  // namespace dso::kube
