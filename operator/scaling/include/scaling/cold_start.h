// scaling/cold_start.h: how long a service's new pods take to serve — creation → Ready, measured
// from pod conditions — for the predictive horizon and the service's status.
//
// A pod informer (pods labelled app.kubernetes.io/managed-by=deepseek-operator) feeds every pod it
// sees to observe(); a pod counts once, the first time it is seen Ready: its Ready condition's
// lastTransitionTime minus its creationTimestamp. Pods that restarted a container before that
// (restartCount > 0) are skipped: their Ready transition no longer marks the first start. After an
// operator restart the informer's initial list measures the pods that exist, so the estimate is
// rebuilt from the cluster (no local state).
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "autoscaler/policy.h"
#include "kube/types.h"

namespace dso::scaling {

using autoscaler::Seconds;

// The cold start of one pod, if it is a service's pod that has become Ready: {service key
// "namespace/name" (from the inference.deepseek.io/service label), seconds}. nullopt otherwise
// (not Ready yet, no service label, unparseable times, a container restarted).
struct PodStart {
  std::string service;
  std::string uid;
  Seconds ready_at = 0;
  Seconds seconds = 0;
};
std::optional<PodStart> pod_cold_start(const kube::Json& pod);

// Thread-safe.
class ColdStartTracker {
 public:
  // Keeps the `keep` most recent measurements per service.
  explicit ColdStartTracker(std::size_t keep = 50) : keep_(keep) {}

  // Records the pod's cold start if it has one and it was not counted before. Returns whether it
  // was recorded. Cost: O(log services).
  bool observe(const kube::Json& pod);
  // A pod was deleted: it will not be seen again, so its uid need not be remembered (keeps the
  // set of counted pods bounded by the live pods).
  void pod_deleted(const kube::Json& pod);
  // Forgets a service (deleted).
  void forget(const std::string& service);

  // Measurements recorded since the previous call for this service (for the engine's
  // Observation::cold_starts), oldest first.
  std::vector<Seconds> take_new(const std::string& service);
  // The `percentile` (0, 1] of the last `samples` measurements (nearest rank), or nullopt when
  // there are none.
  std::optional<Seconds> estimate(const std::string& service, double percentile,
                                  std::size_t samples) const;
  // Measurements kept for the service, oldest first.
  std::vector<Seconds> recent(const std::string& service) const;

 private:
  struct PerService {
    std::deque<PodStart> starts;  // by ready_at
    std::vector<Seconds> fresh;
  };
  std::size_t keep_;
  mutable std::mutex mu_;
  std::map<std::string, PerService> services_;
  std::unordered_set<std::string> counted_;  // uids of live pods already counted
};

}  // namespace dso::scaling
