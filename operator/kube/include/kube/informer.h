// Reflector + indexed cache + event handlers for one resource (client-go's SharedIndexInformer):
// LIST, then WATCH from the list's resourceVersion (opaque) with bookmarks and a randomised
// timeoutSeconds; 410 Gone -> relist; failures -> reconnect with jittered backoff; a relist
// reports objects deleted while disconnected; optional periodic resync.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kube/backoff.h"
#include "kube/client.h"
#include "kube/clock.h"
#include "kube/metrics.h"

namespace dso::kube {

// Maps an object to the index values it is filed under.
using IndexFunc = std::function<std::vector<std::string>(const Json&)>;

IndexFunc index_by_namespace();                      // metadata.namespace
IndexFunc index_by_label(const std::string& label);  // the value of one label
IndexFunc index_by_owner_uid();                      // every ownerReferences[].uid
IndexFunc index_by_controller_owner();               // "Kind/name" of the controller owner

// How the cache holds objects.
enum class CacheStorage {
  kParsed,   // parsed JSON trees: reads cost nothing, ~3.6 KB per small ConfigMap
  kCompact,  // MessagePack bytes, decoded on every read: ~0.8 KB per small ConfigMap
};

// A thread-safe cache keyed by "namespace/name" with secondary indexes. Readers get shared
// pointers to immutable objects: they stay valid after the cache moves on. With kCompact storage
// every read (get/list/by_index) decodes a fresh copy, about a microsecond per 100 bytes; a bulk
// load (the informer's LIST) is packed just after the informer reports synced, so packing does not
// delay the sync.
class Indexer {
 public:
  explicit Indexer(CacheStorage storage = CacheStorage::kParsed) : storage_(storage) {}

  // Adds an index; existing objects are indexed at once.
  void add_index(const std::string& name, IndexFunc fn);

  ObjectPtr get(const std::string& key) const;  // nullptr when absent
  std::vector<ObjectPtr> list() const;
  std::vector<std::string> keys() const;
  // Objects filed under `value` in index `name`; empty when the index does not exist.
  std::vector<ObjectPtr> by_index(const std::string& name, const std::string& value) const;
  std::size_t size() const;

  // Mutators (used by the informer). Return the previous object, or nullptr.
  // With kCompact storage and defer_packing, the object is kept parsed until compact_all().
  ObjectPtr upsert(const std::string& key, ObjectPtr object, bool defer_packing = false);
  // kCompact: encodes every object still held parsed (after a bulk load), in batches, without
  // blocking readers for long. No-op for kParsed.
  void compact_all();
  // Objects held parsed although the storage is kCompact (0 once compact_all() is done).
  std::size_t pending_compaction() const;
  ObjectPtr erase(const std::string& key);

 private:
  struct Slot {
    ObjectPtr parsed;    // kParsed, or kCompact before packing
    std::string packed;  // kCompact: MessagePack
  };
  void index_locked(const std::string& key, const Json* old_object, const Json* new_object);
  ObjectPtr decode(const Slot& slot) const;

  CacheStorage storage_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Slot> items_;
  std::map<std::string, IndexFunc> index_funcs_;
  // index name -> value -> keys
  std::map<std::string, std::unordered_map<std::string, std::unordered_set<std::string>>> indices_;
};

struct EventHandlers {
  std::function<void(const ObjectPtr& object)> on_add;
  // Also called for every object on resync and relist (old may equal now).
  std::function<void(const ObjectPtr& old_object, const ObjectPtr& new_object)> on_update;
  // final_state_unknown: the delete was inferred by a relist (missed while disconnected); the
  // object is the last state the cache saw (client-go's DeletedFinalStateUnknown).
  std::function<void(const ObjectPtr& last, bool final_state_unknown)> on_delete;
};

struct InformerOptions {
  Resource resource;
  std::string ns;  // "" = all namespaces
  std::string label_selector;
  std::string field_selector;
  Duration resync_period = Duration::zero();  // 0 = never
  // Watch timeoutSeconds is uniform in [min, 2*min) (client-go: 5 minutes).
  std::chrono::seconds min_watch_timeout{300};
  long list_page_size = 500;  // for relists from etcd; the first list (RV "0") is served whole
  // kCompact (default): ~4x less memory than parsed trees, below client-go's typed cache; each
  // read decodes a copy. kParsed: free reads, for small caches read in hot loops.
  CacheStorage storage = CacheStorage::kCompact;
  BackoffPolicy backoff;  // client-go's reflector backoff by default
  // Applied to every object before it is cached (client-go's SetTransform), e.g. to drop
  // metadata.managedFields and save memory.
  std::function<void(Json&)> transform;
  ClockPtr clock = real_clock();
  MetricsPtr metrics;
  // Told about each failure and recovery step (for logs at warning level), from the reflector
  // thread.
  std::function<void(const std::string& message)> on_log;
  // Told about routine progress (each completed LIST with its size and timings; debug level).
  std::function<void(const std::string& message)> on_progress;
};

// Threading: one reflector thread (LIST/WATCH, cache updates and handler calls, in event order),
// plus a resync thread when resync_period > 0. Handler calls never overlap: they run one at a
// time, so handlers need no locking of their own but must be quick (typically: enqueue a key).
class Informer {
 public:
  Informer(KubeClientPtr client, InformerOptions options);
  ~Informer();  // stop()
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  void add_index(const std::string& name, IndexFunc fn) { store_.add_index(name, std::move(fn)); }
  // Registers handlers. If the informer already has objects, on_add is replayed for each of
  // them first (as client-go does for late handlers).
  void add_handlers(EventHandlers handlers);

  void start();  // spawns the reflector; returns at once
  void stop();   // cancels the watch and joins; handlers are not called after it returns

  // True once the first LIST has been applied to the cache and its handlers were called.
  bool has_synced() const { return synced_; }
  // Waits (real time) until has_synced() or timeout; returns has_synced().
  bool wait_for_sync(Duration timeout) const;

  const Indexer& store() const { return store_; }
  std::string last_resource_version() const;

  long relists() const { return relists_; }
  long watch_restarts() const { return watch_restarts_; }
  long gone_count() const { return gone_; }  // 410 Gone answers seen (watch or list)

 private:
  void run(std::stop_token stop);
  void resync_loop(std::stop_token stop);
  // Returns false on failure (logged); sets need_relist_from_scratch_ on 410.
  bool list_and_replace(std::stop_token stop, bool from_scratch);
  // One watch; returns how it ended.
  enum class WatchEnd { kClean, kShort, kGone, kConnection, kError };
  WatchEnd watch_once(std::stop_token stop);
  void apply_event(WatchEvent&& e, bool* gone, bool* error, long* events);
  void sleep(std::stop_token stop, Duration d);
  void log(const std::string& message);
  void progress(const std::string& message);

  void dispatch_add(const ObjectPtr& o);
  void dispatch_update(const ObjectPtr& old_o, const ObjectPtr& new_o);
  void dispatch_delete(const ObjectPtr& o, bool unknown);

  KubeClientPtr client_;
  InformerOptions options_;
  Indexer store_;
  std::atomic<bool> synced_{false};
  mutable std::mutex rv_mu_;
  std::string rv_;
  std::mutex dispatch_mu_;  // serialises handler calls and handler registration
  std::vector<EventHandlers> handlers_;
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  std::jthread reflector_;
  std::jthread resyncer_;
  std::atomic<long> relists_{0}, watch_restarts_{0}, gone_{0};
};
using InformerPtr = std::shared_ptr<Informer>;

}  // namespace dso::kube
