// What the operator wants to exist for a DeepSeekService in one region: the inference Deployment,
// its Service and PodDisruptionBudget. Pure functions from the typed resource to Kubernetes objects
// (JSON), applied with server-side apply by the reconciler, and the test the reconciler uses to
// skip an apply the cluster already holds. Nothing here reads a clock or the API.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/deepseek_service.h"

namespace dso::controller {

inline constexpr const char* kFieldManager = "deepseek-operator";
inline constexpr const char* kServiceLabel = "inference.deepseek.io/service";
inline constexpr const char* kRegionLabel = "inference.deepseek.io/region";
// Annotation on every applied object: the hash of the desired object it was applied from.
inline constexpr const char* kAppliedHashAnnotation = "inference.deepseek.io/applied-hash";

struct RegionObjects {
  nlohmann::json deployment;  // apps/v1 Deployment
  nlohmann::json service;     // v1 Service
  nlohmann::json pdb;         // PodDisruptionBudget at the requested API version
};

struct BuildOptions {
  int replicas = 0;                           // decided by the scaling path, never by the builder
  std::string pdb_api_version = "policy/v1";  // "policy/v1beta1" on servers before 1.21 (discovery)
  bool same_cluster = true;                   // owner references only work within one cluster
  std::string target_namespace;               // empty: the service's namespace
};

// The object name for a region: "<service>-<region>" (both DNS labels, so the result is one too,
// truncated with a stable hash suffix beyond 63 characters).
std::string region_object_name(const api::DeepSeekService& dss, const api::Region& region);

// Labels every object of the service carries (app.kubernetes.io/* plus the service/region keys).
std::map<std::string, std::string> region_labels(const api::DeepSeekService& dss,
                                                 const api::Region& region);

// The label selector (as a string, for status.selector and the scale subresource) that matches the
// pods of every region of the service.
std::string service_selector(const api::DeepSeekService& dss);

RegionObjects build_region_objects(const api::DeepSeekService& dss, const api::Region& region,
                                   const BuildOptions& options);

// Returns `object` with metadata.annotations[kAppliedHashAnnotation] set to a hash (64-bit FNV-1a
// of the compact JSON, 16 hex digits) of `object` without that annotation. Stable across runs and
// builds. Cost: one serialisation of the object.
nlohmann::json with_applied_hash(nlohmann::json object);

// True when `cluster` (an object as the server holds it, e.g. from an informer cache) already has
// everything `desired` (stamped by with_applied_hash) sets, so applying `desired` would change
// nothing the operator owns:
//  - the applied-hash annotations are equal: the last apply was of this very desired object, so
//    no field set by an earlier apply is owed a removal (server-side apply removes owned fields
//    left out of the next apply; a subset test alone cannot see those);
//  - every field of `desired` other than apiVersion/kind has the same value in `cluster`
//    (objects: each key of desired present and matching, recursively; arrays: same length and
//    each element matching; scalars: equal, 1 == 1.0). Fields only in `cluster` (server defaults,
//    status, other managers' fields) are ignored.
// False for a null `cluster`. A value the server stores in another form (a quantity "0.5" kept as
// "500m") reads as a difference: the apply is done every time, which is correct, only not saved.
// Cost: one walk of `desired` (no serialisation: the hashes are compared as stored).
bool cluster_holds(const nlohmann::json& desired, const nlohmann::json& cluster);

// The traffic-publication ConfigMap (spec.failover.trafficPublication.configMapName, in the
// service's namespace, owned by it): data has one key per region (its weight, "0".."100"),
// "primary" (the active primary) and "weights.json" ({"<region>": weight, ...}).
nlohmann::json build_traffic_config_map(const api::DeepSeekService& dss,
                                        const std::string& active_primary,
                                        const std::map<std::string, int>& weights);

// Splits the service's total replicas over its regions: the primary takes the total (within its
// own min/max), standbys keep their minReplicas warm (default 0). Returns replicas by region name.
std::map<std::string, int> plan_region_replicas(const api::DeepSeekServiceSpec& spec, int total);

}  // namespace dso::controller
