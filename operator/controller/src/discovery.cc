#include "controller/discovery.h"

#include <algorithm>
#include <thread>

namespace dso::controller {

std::expected<std::string, std::string> discover_pdb_api_version(kube::KubeClient& client,
                                                                 const DiscoveryRetry& retry) {
  kube::Backoff backoff(retry.backoff);
  for (int attempt = 1;; ++attempt) {
    std::string failure;
    for (const char* group_version : {"policy/v1", "policy/v1beta1"}) {
      const auto resources = client.discover(group_version);
      if (!resources) {
        if (resources.error().is_not_found()) continue;
        failure = std::string(group_version) + ": " + resources.error().to_string();
        break;  // never fall through to an older version on a failure
      }
      if (std::any_of(resources->begin(), resources->end(), [](const kube::ApiResource& r) {
            return r.name == "poddisruptionbudgets";
          })) {
        return group_version;
      }
    }
    if (failure.empty()) {
      return std::unexpected(
          "the API server serves PodDisruptionBudgets in neither policy/v1 nor policy/v1beta1");
    }
    if (attempt >= retry.attempts) {
      return std::unexpected("discovery of the PodDisruptionBudget API failed " +
                             std::to_string(attempt) + " times; the last: " + failure);
    }
    const kube::Duration delay = backoff.next();
    if (retry.sleep)
      retry.sleep(delay);
    else
      std::this_thread::sleep_for(delay);
  }
}

}  // namespace dso::controller
