// FakeClient: an in-memory KubeClient for unit tests of code built on dso::kube. It keeps objects
// per resource with a cluster-wide resourceVersion counter, enforces optimistic concurrency (409
// on a stale resourceVersion), supports merge/JSON patches, records an event log that watches
// stream from (410 when asked for a compacted version), and lets tests inject errors.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>

#include "kube/client.h"

namespace dso::kube {

class FakeClient final : public KubeClient {
 public:
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
  // Streams events after options.resource_version from the log, then new ones as they happen,
  // until stop, end_watches(), or break_watches() (which returns a connection failure).
  Result<void> watch(const Resource& r, const std::string& ns, const WatchOptions& options,
                     const std::function<void(WatchEvent&&)>& on_event,
                     std::stop_token stop) override;
  Result<std::vector<ApiResource>> discover(const std::string& group_version) override;
  Result<std::vector<std::string>> server_group_versions() override;

  // ---- test controls ----
  // The next `times` calls of `verb` (GET, LIST, POST, PUT, PATCH, DELETE, WATCH) fail with `e`.
  void inject_error(const std::string& verb, ApiError e, int times = 1);
  // Forgets the event log up to now: watches from older versions get 410 Gone.
  void compact();
  // Sends watches of `r` in `ns` that allow bookmarks a BOOKMARK at a new current version (as the
  // API server does, so that a watcher whose objects did not change can resume from there).
  void bookmark(const Resource& r, const std::string& ns);
  // Ends every open watch cleanly (as a server timeout would) / with a connection failure.
  void end_watches();
  void break_watches();
  // Changes an object without recording a watch event (simulates a change missed while a watch
  // was down). A null object deletes it.
  void set_silently(const Resource& r, const std::string& key, const std::optional<Json>& object);
  // Number of calls per verb so far.
  int calls(const std::string& verb) const;
  std::string current_resource_version() const;
  int open_watches() const;

 private:
  struct Logged {
    long rv;
    std::string resource;
    std::string ns;
    WatchEvent event;
  };
  std::optional<ApiError> take_error(const std::string& verb);
  Json stamp(Json object, const std::string& ns);
  void record(const Resource& r, const std::string& type, const Json& object);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  long rv_ = 100;
  long compacted_ = 0;
  long watch_epoch_ = 0;  // bumped by end_watches()
  long break_epoch_ = 0;  // bumped by break_watches()
  int open_watches_ = 0;
  std::map<std::string, std::map<std::string, Json>> objects_;  // resource -> key -> object
  std::deque<Logged> log_;
  std::map<std::string, std::deque<ApiError>> errors_;
  std::map<std::string, int> calls_;
  long uid_ = 0;
};

}  // namespace dso::kube
