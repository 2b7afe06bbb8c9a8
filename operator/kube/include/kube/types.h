// Basic vocabulary of dso::kube: JSON objects, resource coordinates (group/version/resource),
// object keys ("namespace/name") and the API error type every client call returns.
#pragma once

#include <chrono>
#include <expected>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace dso::kube {

using Json = nlohmann::json;
using ObjectPtr = std::shared_ptr<const Json>;

// Coordinates of a REST resource: group "" is the core API (/api/v1), anything else lives under
// /apis/GROUP/VERSION. `resource` is the plural lower-case name ("configmaps", "leases").
struct Resource {
  std::string group;
  std::string version;
  std::string resource;
  bool namespaced = true;

  std::string group_version() const { return group.empty() ? version : group + "/" + version; }
  std::string to_string() const;  // "configmaps.v1" / "leases.v1.coordination.k8s.io"
  static Resource config_maps() { return {"", "v1", "configmaps", true}; }
  static Resource leases() { return {"coordination.k8s.io", "v1", "leases", true}; }
  static Resource events() { return {"", "v1", "events", true}; }
  static Resource namespaces() { return {"", "v1", "namespaces", false}; }
};

// An error from the API server or from reaching it. For server answers `code` is the HTTP status
// and reason/message/details come from the returned Status object; for transport failures code is
// 0 and reason is "ConnectionFailure" (or "Timeout").
struct ApiError {
  int code = 0;
  std::string reason;   // "NotFound", "Conflict", "AlreadyExists", "Expired", "Gone", ...
  std::string message;  // one line naming what failed and where
  Json details;         // Status.details (name, group, kind, causes, retryAfterSeconds), or null
  std::optional<std::chrono::seconds> retry_after;  // from the Retry-After header or details

  bool is_not_found() const { return code == 404; }
  bool is_conflict() const { return code == 409 && reason != "AlreadyExists"; }
  bool is_already_exists() const { return code == 409 && reason == "AlreadyExists"; }
  // 410 Gone or reason Expired: the resourceVersion asked for was compacted away.
  bool is_gone() const { return code == 410 || reason == "Expired" || reason == "Gone"; }
  bool is_transport() const { return code == 0; }
  // Whether a retry may succeed: transport failures, 429, 5xx.
  bool is_retryable() const { return code == 0 || code == 429 || code >= 500; }
  std::string to_string() const;  // "409 Conflict: <message>"

  // Builds an error from an HTTP status and response body: uses the body's Status fields when it
  // is a Status object, else the status line and (truncated) body text.
  static ApiError from_response(int http_code, const std::string& body, const std::string& where);
  static ApiError transport(const std::string& message);
};

template <typename T>
using Result = std::expected<T, ApiError>;

// "namespace/name" for namespaced objects, "name" for cluster-scoped ones (client-go's
// MetaNamespaceKeyFunc).
std::string object_key(const Json& object);
std::string make_key(const std::string& ns, const std::string& name);
// Splits a key made by make_key into {namespace, name}; namespace is empty for "name".
std::pair<std::string, std::string> split_key(const std::string& key);

// Metadata accessors that tolerate missing fields (return "" when absent).
std::string meta_string(const Json& object, const char* field);
inline std::string resource_version(const Json& object) {
  return meta_string(object, "resourceVersion");
}

// A status condition as Kubernetes API conventions shape it: {type, status "True"/"False",
// reason, message} (the writer adds lastTransitionTime when it keeps them).
Json condition(const std::string& type, bool status, const std::string& reason,
               const std::string& message);

}  // namespace dso::kube
