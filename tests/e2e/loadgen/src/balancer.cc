// Least-outstanding-requests balancing with random tie breaks.
#include "loadgen/balancer.h"

#include <algorithm>

namespace dso::loadgen {

void LeastOutstandingBalancer::set_endpoints(const std::vector<Address>& addresses) {
  std::vector<Address> wanted = addresses;
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  std::vector<EndpointPtr> next;
  next.reserve(wanted.size());
  auto old = endpoints_.begin();  // sorted too: walk both in step
  for (const Address& a : wanted) {
    while (old != endpoints_.end() && (*old)->address < a) ++old;
    if (old != endpoints_.end() && (*old)->address == a) {
      next.push_back(*old);
    } else {
      next.push_back(std::make_shared<Endpoint>(a));
    }
  }
  endpoints_ = std::move(next);
}

EndpointPtr LeastOutstandingBalancer::acquire() {
  EndpointPtr best;
  std::uint64_t ties = 0;
  for (const EndpointPtr& e : endpoints_) {
    if (!best || e->outstanding < best->outstanding) {
      best = e;
      ties = 1;
    } else if (e->outstanding == best->outstanding) {
      // Reservoir sampling: the k-th tie replaces the pick with probability 1/k.
      ++ties;
      if (std::uniform_int_distribution<std::uint64_t>(1, ties)(rng_) == 1) best = e;
    }
  }
  if (best) ++best->outstanding;
  return best;
}

}  // namespace dso::loadgen
