#include "kube/client.h"

namespace dso::kube {

const char* to_string(PatchType type) {
  switch (type) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

const char* to_string(Propagation p) {
  switch (p) {
    case Propagation::kDefault:
      return "";
    case Propagation::kForeground:
      return "Foreground";
    case Propagation::kBackground:
      return "Background";
    case Propagation::kOrphan:
      return "Orphan";
  }
  return "";
}

Result<ObjectList> KubeClient::list_all(const Resource& r, const std::string& ns,
                                        ListOptions options, long page) {
  options.limit = page;
  options.continue_token.clear();
  ObjectList all;
  bool restarted = false;
  while (true) {
    auto part = list(r, ns, options);
    if (!part) {
      // An expired continue token: start again once from the beginning (a new snapshot).
      if (part.error().is_gone() && !options.continue_token.empty() && !restarted) {
        restarted = true;
        all = ObjectList{};
        options.continue_token.clear();
        continue;
      }
      return std::unexpected(part.error());
    }
    if (all.items.empty()) {
      all.items = std::move(part->items);
    } else {
      all.items.reserve(all.items.size() + part->items.size());
      for (auto& item : part->items) all.items.push_back(std::move(item));
    }
    all.resource_version = part->resource_version;
    if (part->continue_token.empty()) break;
    options.continue_token = part->continue_token;
    // Later pages are served from the snapshot the continue token names.
    options.resource_version.clear();
    options.resource_version_match.clear();
  }
  return all;
}

Result<Json> KubeClient::apply(const Resource& r, const std::string& ns, const Json& object,
                               const std::string& field_manager, bool force,
                               const std::string& subresource) {
  const std::string name = meta_string(object, "name");
  return patch(r, ns, name, PatchType::kApply, object, PatchOptions{field_manager, force},
               subresource);
}

Result<Json> KubeClient::scale(const Resource& r, const std::string& ns, const std::string& name,
                               int replicas) {
  auto current = get(r, ns, name, "scale");
  if (!current) return current;
  (*current)["spec"]["replicas"] = replicas;
  return update(r, ns, *current, "scale");
}

Result<Json> KubeClient::update_with_retry(const Resource& r, const std::string& ns,
                                           const std::string& name,
                                           const std::function<bool(Json&)>& mutate, int attempts) {
  Result<Json> last = std::unexpected(ApiError{});
  for (int i = 0; i < attempts; ++i) {
    auto current = get(r, ns, name);
    if (!current) return current;
    if (!mutate(*current)) return current;
    last = update(r, ns, *current);
    if (last || !last.error().is_conflict()) return last;
  }
  return last;
}

}  // namespace dso::kube
