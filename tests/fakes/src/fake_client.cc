#include "fakes/fake_client.h"

namespace dso::kube {
namespace {

ApiError status_error(int code, const std::string& reason, const std::string& message) {
  return ApiError{code, reason, message, nullptr, std::nullopt};
}

bool matches_labels(const Json& object, const std::string& selector) {
  if (selector.empty()) return true;
  // Supports "k=v,k2=v2" equality selectors.
  const Json labels = object.value("metadata", Json::object()).value("labels", Json::object());
  std::size_t start = 0;
  while (start <= selector.size()) {
    const std::size_t comma = selector.find(',', start);
    const std::string term =
        selector.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const std::size_t eq = term.find('=');
    if (eq != std::string::npos) {
      const std::string k = term.substr(0, eq);
      std::string v = term.substr(eq + 1);
      if (!v.empty() && v.front() == '=') v.erase(0, 1);
      if (!labels.contains(k) || labels[k] != v) return false;
    } else if (!term.empty() && !labels.contains(term)) {
      return false;
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return true;
}

}  // namespace

std::optional<ApiError> FakeClient::take_error(const std::string& verb) {
  ++calls_[verb];
  auto it = errors_.find(verb);
  if (it == errors_.end() || it->second.empty()) return std::nullopt;
  ApiError e = it->second.front();
  it->second.pop_front();
  return e;
}

void FakeClient::inject_error(const std::string& verb, ApiError e, int times) {
  std::lock_guard lock(mu_);
  for (int i = 0; i < times; ++i) errors_[verb].push_back(e);
}

int FakeClient::calls(const std::string& verb) const {
  std::lock_guard lock(mu_);
  const auto it = calls_.find(verb);
  return it == calls_.end() ? 0 : it->second;
}

std::string FakeClient::current_resource_version() const {
  std::lock_guard lock(mu_);
  return std::to_string(rv_);
}

int FakeClient::open_watches() const {
  std::lock_guard lock(mu_);
  return open_watches_;
}

Json FakeClient::stamp(Json object, const std::string& ns) {
  auto& meta = object["metadata"];
  if (!ns.empty()) meta["namespace"] = ns;
  meta["resourceVersion"] = std::to_string(++rv_);
  return object;
}

void FakeClient::record(const Resource& r, const std::string& type, const Json& object) {
  log_.push_back(
      Logged{rv_, r.to_string(), meta_string(object, "namespace"), WatchEvent{type, object}});
  cv_.notify_all();
}

void FakeClient::bookmark(const Resource& r, const std::string& ns) {
  std::lock_guard lock(mu_);
  ++rv_;
  log_.push_back(Logged{
      rv_, r.to_string(), ns,
      WatchEvent{
          "BOOKMARK",
          Json{{"metadata", {{"namespace", ns}, {"resourceVersion", std::to_string(rv_)}}}}}});
  cv_.notify_all();
}

Result<Json> FakeClient::get(const Resource& r, const std::string& ns, const std::string& name,
                             const std::string& subresource) {
  std::lock_guard lock(mu_);
  if (auto e = take_error("GET")) return std::unexpected(*e);
  auto& objs = objects_[r.to_string()];
  const auto it = objs.find(make_key(r.namespaced ? ns : "", name));
  if (it == objs.end()) {
    return std::unexpected(
        status_error(404, "NotFound", r.resource + " \"" + name + "\" not found"));
  }
  if (subresource == "scale") {
    return Json{
        {"kind", "Scale"},
        {"metadata", it->second["metadata"]},
        {"spec", {{"replicas", it->second.value("spec", Json::object()).value("replicas", 0)}}}};
  }
  return it->second;
}

Result<ObjectList> FakeClient::list(const Resource& r, const std::string& ns,
                                    const ListOptions& options) {
  std::lock_guard lock(mu_);
  if (auto e = take_error("LIST")) return std::unexpected(*e);
  if (!options.resource_version.empty() && options.resource_version != "0" &&
      std::stol(options.resource_version) < compacted_) {
    return std::unexpected(status_error(410, "Expired", "too old resource version"));
  }
  ObjectList out;
  out.resource_version = std::to_string(rv_);
  for (const auto& [key, obj] : objects_[r.to_string()]) {
    if (!ns.empty() && meta_string(obj, "namespace") != ns) continue;
    if (!matches_labels(obj, options.label_selector)) continue;
    out.items.push_back(obj);
  }
  return out;
}

Result<Json> FakeClient::create(const Resource& r, const std::string& ns, const Json& object) {
  std::lock_guard lock(mu_);
  if (auto e = take_error("POST")) return std::unexpected(*e);
  const std::string name = meta_string(object, "name");
  if (name.empty())
    return std::unexpected(status_error(422, "Invalid", "metadata.name: Required value"));
  const std::string key = make_key(r.namespaced ? ns : "", name);
  auto& objs = objects_[r.to_string()];
  if (objs.contains(key)) {
    return std::unexpected(
        status_error(409, "AlreadyExists", r.resource + " \"" + name + "\" already exists"));
  }
  Json stored = stamp(object, r.namespaced ? ns : "");
  stored["metadata"]["uid"] = "uid-" + std::to_string(++uid_);
  stored["metadata"]["generation"] = 1;
  objs[key] = stored;
  record(r, "ADDED", stored);
  return stored;
}

Result<Json> FakeClient::update(const Resource& r, const std::string& ns, const Json& object,
                                const std::string& subresource) {
  std::lock_guard lock(mu_);
  if (auto e = take_error("PUT")) return std::unexpected(*e);
  const std::string name = meta_string(object, "name");
  const std::string key = make_key(r.namespaced ? ns : "", name);
  auto& objs = objects_[r.to_string()];
  const auto it = objs.find(key);
  if (it == objs.end()) {
    return std::unexpected(
        status_error(404, "NotFound", r.resource + " \"" + name + "\" not found"));
  }
  const std::string want = resource_version(object);
  if (!want.empty() && want != resource_version(it->second)) {
    return std::unexpected(status_error(409, "Conflict",
                                        "Operation cannot be fulfilled on " + r.resource + " \"" +
                                            name +
                                            "\": the object has been modified; please apply your "
                                            "changes to the latest version and try again"));
  }
  Json next = it->second;
  if (subresource == "status") {
    next["status"] = object.value("status", Json::object());
  } else if (subresource == "scale") {
    next["spec"]["replicas"] = object.at("spec").at("replicas");
  } else {
    const Json keep_meta = it->second["metadata"];
    next = object;
    next["metadata"]["uid"] = keep_meta["uid"];
    if (object.value("spec", Json()) != it->second.value("spec", Json())) {
      next["metadata"]["generation"] = keep_meta.value("generation", 1) + 1;
    } else {
      next["metadata"]["generation"] = keep_meta.value("generation", 1);
    }
  }
  next = stamp(std::move(next), r.namespaced ? ns : "");
  it->second = next;
  record(r, "MODIFIED", next);
  return next;
}

Result<Json> FakeClient::patch(const Resource& r, const std::string& ns, const std::string& name,
                               PatchType type, const Json& patch, const PatchOptions& options,
                               const std::string& subresource) {
  Json current;
  {
    std::lock_guard lock(mu_);
    if (auto e = take_error("PATCH")) return std::unexpected(*e);
    auto& objs = objects_[r.to_string()];
    const auto it = objs.find(make_key(r.namespaced ? ns : "", name));
    if (it == objs.end()) {
      if (type != PatchType::kApply) {
        return std::unexpected(
            status_error(404, "NotFound", r.resource + " \"" + name + "\" not found"));
      }
    } else {
      current = it->second;
    }
  }
  if (type == PatchType::kApply && options.field_manager.empty()) {
    return std::unexpected(status_error(400, "BadRequest", "fieldManager is required for apply"));
  }
  if (current.is_null()) {
    // Apply creates.
    Json object = patch;
    object["metadata"]["name"] = name;
    return create(r, ns, object);
  }
  Json next = current;
  try {
    if (type == PatchType::kJson) {
      next = current.patch(patch);
    } else {
      next.merge_patch(patch);  // merge, strategic (approximated) and apply (approximated)
    }
  } catch (const std::exception& e) {
    return std::unexpected(status_error(422, "Invalid", std::string("patch: ") + e.what()));
  }
  next["metadata"]["resourceVersion"] = resource_version(current);  // no CAS for patches
  (void)subresource;
  return update(r, ns, next);
}

Result<Json> FakeClient::remove(const Resource& r, const std::string& ns, const std::string& name,
                                const DeleteOptions& options) {
  std::lock_guard lock(mu_);
  if (auto e = take_error("DELETE")) return std::unexpected(*e);
  auto& objs = objects_[r.to_string()];
  const auto it = objs.find(make_key(r.namespaced ? ns : "", name));
  if (it == objs.end()) {
    return std::unexpected(
        status_error(404, "NotFound", r.resource + " \"" + name + "\" not found"));
  }
  if (!options.precondition_resource_version.empty() &&
      options.precondition_resource_version != resource_version(it->second)) {
    return std::unexpected(status_error(409, "Conflict", "precondition failed: resourceVersion"));
  }
  Json last = stamp(it->second, r.namespaced ? ns : "");
  objs.erase(it);
  record(r, "DELETED", last);
  return last;
}

Result<void> FakeClient::watch(const Resource& r, const std::string& ns,
                               const WatchOptions& options,
                               const std::function<void(WatchEvent&&)>& on_event,
                               std::stop_token stop) {
  // Registered before taking mu_: if stop is already requested the callback runs right here.
  std::stop_callback wake(stop, [this] {
    std::lock_guard l(mu_);
    cv_.notify_all();
  });
  std::unique_lock lock(mu_);
  if (auto e = take_error("WATCH")) return std::unexpected(*e);
  long from = options.resource_version.empty() || options.resource_version == "0"
                  ? rv_
                  : std::stol(options.resource_version);
  if (from < compacted_) {
    return std::unexpected(
        status_error(410, "Expired", "too old resource version: " + options.resource_version));
  }
  const long epoch = watch_epoch_, broken = break_epoch_;
  ++open_watches_;
  const std::string resource = r.to_string();
  Result<void> result;
  while (true) {
    std::vector<WatchEvent> batch;
    for (const auto& l : log_) {
      if (l.rv <= from) continue;
      from = l.rv;
      if (l.resource != resource || (!ns.empty() && l.ns != ns)) continue;
      if (l.event.type == "BOOKMARK") {
        if (options.allow_bookmarks) batch.push_back(l.event);
        continue;
      }
      if (!matches_labels(l.event.object, options.label_selector)) continue;
      batch.push_back(l.event);
    }
    if (!batch.empty()) {
      lock.unlock();
      for (auto& e : batch) {
        if (stop.stop_requested()) break;
        on_event(std::move(e));
      }
      lock.lock();
      continue;
    }
    if (stop.stop_requested() || watch_epoch_ != epoch) break;
    if (break_epoch_ != broken) {
      result = std::unexpected(ApiError::transport("fake: connection reset"));
      break;
    }
    cv_.wait_for(lock, std::chrono::milliseconds(50));
  }
  --open_watches_;
  return result;
}

Result<std::vector<ApiResource>> FakeClient::discover(const std::string& group_version) {
  std::lock_guard lock(mu_);
  if (auto e = take_error("GET")) return std::unexpected(*e);
  std::vector<ApiResource> out;
  if (group_version == "v1") {
    out.push_back({"configmaps",
                   "ConfigMap",
                   true,
                   {"create", "delete", "get", "list", "patch", "update", "watch"}});
    out.push_back({"events", "Event", true, {"create", "get", "list", "patch", "watch"}});
  } else if (group_version == "policy/v1") {
    out.push_back({"poddisruptionbudgets",
                   "PodDisruptionBudget",
                   true,
                   {"create", "delete", "get", "list", "patch", "update", "watch"}});
  } else if (group_version == "coordination.k8s.io/v1") {
    out.push_back(
        {"leases", "Lease", true, {"create", "delete", "get", "list", "patch", "update", "watch"}});
  } else {
    return std::unexpected(
        status_error(404, "NotFound", "the server could not find the requested resource"));
  }
  return out;
}

Result<std::vector<std::string>> FakeClient::server_group_versions() {
  return std::vector<std::string>{"v1", "coordination.k8s.io/v1", "policy/v1"};
}

void FakeClient::compact() {
  std::lock_guard lock(mu_);
  compacted_ = rv_;
  log_.clear();
}

void FakeClient::end_watches() {
  std::lock_guard lock(mu_);
  ++watch_epoch_;
  cv_.notify_all();
}

void FakeClient::break_watches() {
  std::lock_guard lock(mu_);
  ++break_epoch_;
  cv_.notify_all();
}

void FakeClient::set_silently(const Resource& r, const std::string& key,
                              const std::optional<Json>& object) {
  std::lock_guard lock(mu_);
  auto& objs = objects_[r.to_string()];
  if (!object) {
    objs.erase(key);
    ++rv_;
    return;
  }
  Json stored = *object;
  stored["metadata"]["resourceVersion"] = std::to_string(++rv_);
  objs[key] = stored;
}

}  // namespace dso::kube
