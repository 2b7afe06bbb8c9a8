#include "kube/informer.h"

#include <random>

namespace dso::kube {
namespace {

double uniform01() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0, 1)(rng);
}

}  // namespace

// ---- index functions ----

IndexFunc index_by_namespace() {
  return [](const Json& o) -> std::vector<std::string> { return {meta_string(o, "namespace")}; };
}

IndexFunc index_by_label(const std::string& label) {
  return [label](const Json& o) -> std::vector<std::string> {
    const auto m = o.find("metadata");
    if (m == o.end()) return {};
    const auto labels = m->find("labels");
    if (labels == m->end() || !labels->is_object()) return {};
    const auto v = labels->find(label);
    if (v == labels->end() || !v->is_string()) return {};
    return {v->get<std::string>()};
  };
}

IndexFunc index_by_owner_uid() {
  return [](const Json& o) -> std::vector<std::string> {
    std::vector<std::string> out;
    const auto m = o.find("metadata");
    if (m == o.end()) return out;
    const auto owners = m->find("ownerReferences");
    if (owners == m->end() || !owners->is_array()) return out;
    for (const auto& ref : *owners) out.push_back(ref.value("uid", ""));
    return out;
  };
}

IndexFunc index_by_controller_owner() {
  return [](const Json& o) -> std::vector<std::string> {
    const auto m = o.find("metadata");
    if (m == o.end()) return {};
    const auto owners = m->find("ownerReferences");
    if (owners == m->end() || !owners->is_array()) return {};
    for (const auto& ref : *owners) {
      if (ref.value("controller", false)) {
        return {ref.value("kind", "") + "/" + ref.value("name", "")};
      }
    }
    return {};
  };
}

// ---- Indexer ----

ObjectPtr Indexer::decode(const Slot& slot) const {
  if (slot.parsed) return slot.parsed;
  if (slot.packed.empty()) return nullptr;
  return std::make_shared<const Json>(Json::from_msgpack(slot.packed));
}

void Indexer::compact_all() {
  if (storage_ != CacheStorage::kCompact) return;
  constexpr std::size_t kBatch = 256;
  while (true) {
    std::vector<std::pair<std::string, ObjectPtr>> batch;
    {
      std::shared_lock lock(mu_);
      for (const auto& [key, slot] : items_) {
        if (slot.parsed) batch.emplace_back(key, slot.parsed);
        if (batch.size() == kBatch) break;
      }
    }
    if (batch.empty()) return;
    std::vector<std::string> packed(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const std::vector<std::uint8_t> bytes = Json::to_msgpack(*batch[i].second);
      packed[i].assign(bytes.begin(), bytes.end());
    }
    std::unique_lock lock(mu_);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto it = items_.find(batch[i].first);
      // Replaced meanwhile by a newer object (packed or not): leave it to that writer.
      if (it == items_.end() || it->second.parsed != batch[i].second) continue;
      it->second.packed = std::move(packed[i]);
      it->second.parsed.reset();
    }
  }
}

std::size_t Indexer::pending_compaction() const {
  if (storage_ != CacheStorage::kCompact) return 0;
  std::shared_lock lock(mu_);
  std::size_t n = 0;
  for (const auto& [key, slot] : items_) n += slot.parsed ? 1 : 0;
  return n;
}

void Indexer::add_index(const std::string& name, IndexFunc fn) {
  std::unique_lock lock(mu_);
  auto& index = indices_[name];
  index.clear();
  for (const auto& [key, slot] : items_) {
    for (auto& v : fn(*decode(slot))) index[v].insert(key);
  }
  index_funcs_[name] = std::move(fn);
}

void Indexer::index_locked(const std::string& key, const Json* old_object, const Json* new_object) {
  for (const auto& [name, fn] : index_funcs_) {
    auto& index = indices_[name];
    std::vector<std::string> old_values, new_values;
    if (old_object) old_values = fn(*old_object);
    if (new_object) new_values = fn(*new_object);
    if (old_values == new_values) continue;
    for (const auto& v : old_values) {
      const auto it = index.find(v);
      if (it == index.end()) continue;
      it->second.erase(key);
      if (it->second.empty()) index.erase(it);
    }
    for (const auto& v : new_values) index[v].insert(key);
  }
}

ObjectPtr Indexer::get(const std::string& key) const {
  std::shared_lock lock(mu_);
  const auto it = items_.find(key);
  return it == items_.end() ? nullptr : decode(it->second);
}

std::vector<ObjectPtr> Indexer::list() const {
  std::shared_lock lock(mu_);
  std::vector<ObjectPtr> out;
  out.reserve(items_.size());
  for (const auto& [key, slot] : items_) out.push_back(decode(slot));
  return out;
}

std::vector<std::string> Indexer::keys() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const auto& [key, slot] : items_) out.push_back(key);
  return out;
}

std::vector<ObjectPtr> Indexer::by_index(const std::string& name, const std::string& value) const {
  std::shared_lock lock(mu_);
  std::vector<ObjectPtr> out;
  const auto index = indices_.find(name);
  if (index == indices_.end()) return out;
  const auto keys = index->second.find(value);
  if (keys == index->second.end()) return out;
  for (const auto& key : keys->second) {
    if (const auto it = items_.find(key); it != items_.end()) out.push_back(decode(it->second));
  }
  return out;
}

std::size_t Indexer::size() const {
  std::shared_lock lock(mu_);
  return items_.size();
}

ObjectPtr Indexer::upsert(const std::string& key, ObjectPtr object, bool defer_packing) {
  std::string packed;
  const bool pack = storage_ == CacheStorage::kCompact && !defer_packing;
  if (pack) {
    std::vector<std::uint8_t> bytes = Json::to_msgpack(*object);
    packed.assign(bytes.begin(), bytes.end());
  }
  std::unique_lock lock(mu_);
  Slot& slot = items_[key];
  ObjectPtr old;
  old = decode(slot);
  if (pack) {
    slot.parsed.reset();
    slot.packed = std::move(packed);
  } else {
    slot.parsed = object;
    slot.packed.clear();
  }
  if (!index_funcs_.empty()) index_locked(key, old.get(), object.get());
  return old;
}

ObjectPtr Indexer::erase(const std::string& key) {
  std::unique_lock lock(mu_);
  const auto it = items_.find(key);
  if (it == items_.end()) return nullptr;
  ObjectPtr old = decode(it->second);
  items_.erase(it);
  if (!index_funcs_.empty()) index_locked(key, old.get(), nullptr);
  return old;
}

// ---- Informer ----

Informer::Informer(KubeClientPtr client, InformerOptions options)
    : client_(std::move(client)), options_(std::move(options)), store_(options_.storage) {}

Informer::~Informer() {
  stop();
}

void Informer::add_handlers(EventHandlers handlers) {
  std::lock_guard lock(dispatch_mu_);
  if (handlers.on_add) {
    for (const auto& o : store_.list()) handlers.on_add(o);
  }
  handlers_.push_back(std::move(handlers));
}

void Informer::start() {
  reflector_ = std::jthread([this](std::stop_token stop) { run(stop); });
  if (options_.resync_period > Duration::zero()) {
    resyncer_ = std::jthread([this](std::stop_token stop) { resync_loop(stop); });
  }
}

void Informer::stop() {
  reflector_.request_stop();
  resyncer_.request_stop();
  if (reflector_.joinable()) reflector_.join();
  if (resyncer_.joinable()) resyncer_.join();
}

bool Informer::wait_for_sync(Duration timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!synced_ && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return synced_;
}

std::string Informer::last_resource_version() const {
  std::lock_guard lock(rv_mu_);
  return rv_;
}

void Informer::log(const std::string& message) {
  if (options_.on_log) options_.on_log(options_.resource.to_string() + ": " + message);
}

void Informer::progress(const std::string& message) {
  if (options_.on_progress) options_.on_progress(options_.resource.to_string() + ": " + message);
}

void Informer::sleep(std::stop_token stop, Duration d) {
  std::stop_callback wake(stop, [this] {
    std::lock_guard lock(sleep_mu_);
    sleep_cv_.notify_all();
  });
  std::unique_lock lock(sleep_mu_);
  const TimePoint deadline = options_.clock->now() + d;
  while (!stop.stop_requested() && options_.clock->now() < deadline) {
    options_.clock->wait_until(sleep_cv_, lock, deadline);
  }
}

void Informer::dispatch_add(const ObjectPtr& o) {
  for (const auto& h : handlers_) {
    if (h.on_add) h.on_add(o);
  }
}

void Informer::dispatch_update(const ObjectPtr& old_o, const ObjectPtr& new_o) {
  for (const auto& h : handlers_) {
    if (h.on_update) h.on_update(old_o, new_o);
  }
}

void Informer::dispatch_delete(const ObjectPtr& o, bool unknown) {
  for (const auto& h : handlers_) {
    if (h.on_delete) h.on_delete(o, unknown);
  }
}

bool Informer::list_and_replace(std::stop_token stop, bool from_scratch) {
  ListOptions lo;
  lo.label_selector = options_.label_selector;
  lo.field_selector = options_.field_selector;
  {
    // client-go's relistResourceVersion: "" after 410, "0" (watch cache) at first, else the
    // last seen version (served from the watch cache, not older than it).
    std::lock_guard lock(rv_mu_);
    lo.resource_version = from_scratch ? "" : (rv_.empty() ? "0" : rv_);
  }
  const auto list_start = std::chrono::steady_clock::now();
  auto list = client_->list_all(options_.resource, options_.ns, lo, options_.list_page_size);
  const auto listed = std::chrono::steady_clock::now();
  if (stop.stop_requested()) return false;
  if (!list) {
    if (list.error().is_gone()) ++gone_;
    log("list failed: " + list.error().to_string());
    return false;
  }
  std::unordered_set<std::string> seen;
  seen.reserve(list->items.size());
  {
    std::lock_guard lock(dispatch_mu_);
    for (Json& item : list->items) {
      if (options_.transform) options_.transform(item);
      std::string key = object_key(item);
      auto obj = std::make_shared<const Json>(std::move(item));
      ObjectPtr old = store_.upsert(key, obj, /*defer_packing=*/true);
      if (old) {
        dispatch_update(old, obj);
      } else {
        dispatch_add(obj);
      }
      seen.insert(std::move(key));
    }
    // Objects the cache holds that the list no longer has were deleted while we were not
    // watching: report them with their last known state.
    if (store_.size() != seen.size()) {
      for (const auto& key : store_.keys()) {
        if (seen.contains(key)) continue;
        if (ObjectPtr old = store_.erase(key)) dispatch_delete(old, true);
      }
    }
    std::lock_guard rv_lock(rv_mu_);
    rv_ = list->resource_version;
  }
  const auto seconds = [](auto d) {
    return std::to_string(std::chrono::duration<double>(d).count());
  };
  progress("listed " + std::to_string(seen.size()) + " objects at resourceVersion " +
           list->resource_version + " (LIST " + seconds(listed - list_start) +
           " s, cache and handlers " + seconds(std::chrono::steady_clock::now() - listed) + " s)");
  const bool first = !synced_.exchange(true);
  store_.compact_all();  // kCompact: pack the bulk load now that handlers have run
  if (!first) {
    ++relists_;
    if (options_.metrics) options_.metrics->count_relist(options_.resource.to_string());
  }
  return true;
}

void Informer::apply_event(WatchEvent&& e, bool* gone, bool* error, long* events) {
  if (e.type == "ERROR") {
    const int code = e.object.value("code", 0);
    const std::string reason = e.object.value("reason", "");
    if (code == 410 || reason == "Expired" || reason == "Gone") {
      *gone = true;
    } else {
      *error = true;
    }
    log("watch ERROR event: " + e.object.dump().substr(0, 300));
    return;
  }
  const std::string new_rv = resource_version(e.object);
  if (e.type == "BOOKMARK") {
    std::lock_guard lock(rv_mu_);
    if (!new_rv.empty()) rv_ = new_rv;
    return;
  }
  if (e.type != "ADDED" && e.type != "MODIFIED" && e.type != "DELETED") {
    *error = true;
    log("unknown watch event type \"" + e.type + "\"");
    return;
  }
  ++*events;
  if (options_.transform) options_.transform(e.object);
  std::string key = object_key(e.object);
  std::lock_guard lock(dispatch_mu_);
  if (e.type == "DELETED") {
    ObjectPtr old = store_.erase(key);
    dispatch_delete(old ? old : std::make_shared<const Json>(std::move(e.object)), false);
  } else {
    auto obj = std::make_shared<const Json>(std::move(e.object));
    ObjectPtr old = store_.upsert(key, obj);
    if (old) {
      dispatch_update(old, obj);
    } else {
      dispatch_add(obj);
    }
  }
  std::lock_guard rv_lock(rv_mu_);
  rv_ = new_rv;
}

Informer::WatchEnd Informer::watch_once(std::stop_token stop) {
  WatchOptions wo;
  wo.resource_version = last_resource_version();
  wo.label_selector = options_.label_selector;
  wo.field_selector = options_.field_selector;
  wo.allow_bookmarks = true;
  const double min = static_cast<double>(options_.min_watch_timeout.count());
  wo.timeout_seconds = static_cast<long>(min * (1.0 + uniform01()));
  // A local stop source ends this watch early on an ERROR event as well as on stop().
  std::stop_source local;
  std::stop_callback forward(stop, [&local] { local.request_stop(); });
  bool gone = false, error = false;
  long events = 0;
  const auto start = std::chrono::steady_clock::now();
  auto result = client_->watch(
      options_.resource, options_.ns, wo,
      [&](WatchEvent&& e) {
        if (local.stop_requested()) return;
        apply_event(std::move(e), &gone, &error, &events);
        if (gone || error) local.request_stop();
      },
      local.get_token());
  if (!result) {
    log("watch failed: " + result.error().to_string());
    if (result.error().is_gone()) return WatchEnd::kGone;
    if (result.error().is_transport()) return WatchEnd::kConnection;
    return WatchEnd::kError;
  }
  if (gone) return WatchEnd::kGone;
  if (error) return WatchEnd::kError;
  if (events == 0 && std::chrono::steady_clock::now() - start < std::chrono::seconds(1) &&
      !stop.stop_requested()) {
    log("very short watch: ended within a second without events");
    return WatchEnd::kShort;
  }
  return WatchEnd::kClean;
}

void Informer::run(std::stop_token stop) {
  Backoff backoff(options_.backoff, options_.clock);
  bool need_list = true;
  bool from_scratch = false;
  while (!stop.stop_requested()) {
    if (need_list) {
      const long gone_before = gone_;
      if (!list_and_replace(stop, from_scratch)) {
        if (stop.stop_requested()) break;
        if (gone_ != gone_before && !from_scratch) {
          from_scratch = true;  // our resourceVersion is compacted: list the latest at once
          continue;
        }
        sleep(stop, backoff.next());
        continue;
      }
      need_list = false;
      from_scratch = false;
    }
    const WatchEnd end = watch_once(stop);
    if (stop.stop_requested()) break;
    ++watch_restarts_;
    if (options_.metrics) options_.metrics->count_watch_restart(options_.resource.to_string());
    switch (end) {
      case WatchEnd::kClean:
        break;  // timeoutSeconds elapsed: watch again from the last resourceVersion
      case WatchEnd::kGone:
        ++gone_;
        need_list = true;  // 410: relist at once from the latest state
        from_scratch = true;
        break;
      case WatchEnd::kConnection:
        sleep(stop, backoff.next());  // reconnect and resume from the last resourceVersion
        break;
      case WatchEnd::kShort:
      case WatchEnd::kError:
        need_list = true;
        sleep(stop, backoff.next());
        break;
    }
  }
}

void Informer::resync_loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    sleep(stop, options_.resync_period);
    if (stop.stop_requested() || !synced_) continue;
    std::lock_guard lock(dispatch_mu_);
    for (const auto& o : store_.list()) dispatch_update(o, o);
  }
}

}  // namespace dso::kube
