// KubeClient: the interface every part of the operator uses to talk to a Kubernetes API server,
// for any group/version/resource. RestClient (rest_client.h) implements it over HTTPS;
// FakeClient (tests/fakes, a test-only target) implements it in memory for unit tests.
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "kube/types.h"

namespace dso::kube {

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;        // "" = most recent (quorum read); "0" = any (watch cache)
  std::string resource_version_match;  // "", "NotOlderThan", "Exact"
  long limit = 0;                      // page size; 0 = no paging
  std::string continue_token;
};

struct ObjectList {
  std::vector<Json> items;
  std::string resource_version;  // the list's metadata.resourceVersion
  std::string continue_token;    // "" on the last page
};

enum class PatchType {
  kMerge,           // application/merge-patch+json (RFC 7386)
  kJson,            // application/json-patch+json (RFC 6902)
  kStrategicMerge,  // application/strategic-merge-patch+json (built-in types only)
  kApply,           // application/apply-patch+yaml: server-side apply (JSON is valid YAML)
};

struct PatchOptions {
  std::string field_manager;  // required for kApply
  bool force = false;         // kApply: take ownership of conflicting fields
};

enum class Propagation { kDefault, kForeground, kBackground, kOrphan };

struct DeleteOptions {
  Propagation propagation = Propagation::kDefault;
  std::optional<long> grace_period_seconds;
  std::string precondition_resource_version;
  std::string precondition_uid;
};

struct WatchOptions {
  std::string resource_version;  // opaque; "" = start at the most recent state
  std::string label_selector;
  std::string field_selector;
  bool allow_bookmarks = true;
  long timeout_seconds = 0;  // server-side timeout (0: the server's default)
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  Json object;       // the object, or a Status for ERROR
};

// One served resource as reported by discovery.
struct ApiResource {
  std::string name;  // plural; "deployments/scale" for subresources
  std::string kind;
  bool namespaced = false;
  std::vector<std::string> verbs;
};

// Thread-safe: all methods may be called concurrently. Each returns the server's answer or an
// ApiError (see types.h); implementations retry transient failures themselves.
class KubeClient {
 public:
  virtual ~KubeClient() = default;

  // GET one object (or its subresource, e.g. "status" or "scale"). `ns` is ignored for
  // cluster-scoped resources.
  virtual Result<Json> get(const Resource& r, const std::string& ns, const std::string& name,
                           const std::string& subresource = "") = 0;
  // One page of a LIST (`ns` "" = all namespaces).
  virtual Result<ObjectList> list(const Resource& r, const std::string& ns,
                                  const ListOptions& options) = 0;
  virtual Result<Json> create(const Resource& r, const std::string& ns, const Json& object) = 0;
  // PUT the object (metadata.resourceVersion, when set, makes it a compare-and-swap: 409 Conflict
  // when stale). With subresource "status" or "scale" it writes that subresource.
  virtual Result<Json> update(const Resource& r, const std::string& ns, const Json& object,
                              const std::string& subresource = "") = 0;
  virtual Result<Json> patch(const Resource& r, const std::string& ns, const std::string& name,
                             PatchType type, const Json& patch, const PatchOptions& options = {},
                             const std::string& subresource = "") = 0;
  // DELETE; returns the deleted object or a Status, whichever the server sends.
  virtual Result<Json> remove(const Resource& r, const std::string& ns, const std::string& name,
                              const DeleteOptions& options = {}) = 0;
  // Streams a WATCH: calls `on_event` for each event, in order, on the calling thread, until the
  // server ends the stream (timeout), `stop` is requested, or the connection fails. Returns
  // success when the stream ended cleanly or was stopped; ApiError when the watch could not be
  // opened (e.g. 410 Gone) or broke. ERROR events are delivered to on_event, not returned.
  virtual Result<void> watch(const Resource& r, const std::string& ns, const WatchOptions& options,
                             const std::function<void(WatchEvent&&)>& on_event,
                             std::stop_token stop) = 0;
  // The resources served for one group/version ("v1", "apps/v1").
  virtual Result<std::vector<ApiResource>> discover(const std::string& group_version) = 0;
  // All served group/versions ("v1", "apps/v1", ...), preferred first within each group.
  virtual Result<std::vector<std::string>> server_group_versions() = 0;

  // Conveniences built on the calls above.
  // Every page of a LIST with page size `page` (limit/continue). If a continue token expires
  // mid-way (410) the list restarts from the beginning once.
  Result<ObjectList> list_all(const Resource& r, const std::string& ns, ListOptions options,
                              long page = 500);
  // Server-side apply: PATCH with application/apply-patch+yaml, fieldManager and force.
  Result<Json> apply(const Resource& r, const std::string& ns, const Json& object,
                     const std::string& field_manager, bool force = false,
                     const std::string& subresource = "");
  // Reads the scale subresource and writes spec.replicas.
  Result<Json> scale(const Resource& r, const std::string& ns, const std::string& name,
                     int replicas);
  // Optimistic-concurrency helper (client-go's RetryOnConflict): get, mutate, update; on 409
  // re-read and try again, up to `attempts` times. `mutate` returns false to give up cleanly.
  Result<Json> update_with_retry(const Resource& r, const std::string& ns, const std::string& name,
                                 const std::function<bool(Json&)>& mutate, int attempts = 5);
};
using KubeClientPtr = std::shared_ptr<KubeClient>;

const char* to_string(PatchType type);  // the content type
const char* to_string(Propagation p);   // "Foreground", ...

}  // namespace dso::kube
