// What the operator wants to exist for a DeepSeekService in one region: the inference Deployment,
// its Service and PodDisruptionBudget. Pure functions from the typed resource to Kubernetes objects
// (JSON), applied with server-side apply by the reconciler. Nothing here reads a clock or the API.
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
