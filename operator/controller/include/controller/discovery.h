// What the operator asks the API server before it starts its informers.
#pragma once

#include <expected>
#include <functional>
#include <string>

#include "kube/backoff.h"
#include "kube/client.h"

namespace dso::controller {

struct DiscoveryRetry {
  int attempts = 8;  // with the default backoff: about 1.5 minutes in all
  kube::BackoffPolicy backoff = {};
  std::function<void(kube::Duration)> sleep;  // empty: std::this_thread::sleep_for
};

// The PodDisruptionBudget API the server serves: "policy/v1" (Kubernetes 1.21 and later) or
// "policy/v1beta1" (before; removed in 1.25). A group version the server answers 404 for is not
// served; any other failure is retried with backoff, never read as "not served": guessing v1beta1
// on a server that serves only v1 would leave the PDB informer unsynced and the controllers
// unstarted. The error names the last failure, or says that neither version is served.
std::expected<std::string, std::string> discover_pdb_api_version(kube::KubeClient& client,
                                                                 const DiscoveryRetry& retry = {});

}  // namespace dso::controller
