// loadgen/balancer.h: which endpoint gets the next request. Least outstanding requests, ties
// broken at random (seeded), as an ingress would. Endpoint sets can change while requests are in
// flight: an endpoint that stays keeps its count and its connections; one that goes away is
// forgotten by the balancer and lives on only in the requests that still hold it.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "loadgen/address.h"
#include "loadgen/http_client.h"

namespace dso::loadgen {

// One backend: its address, its keep-alive connections, and how many requests it has now.
struct Endpoint {
  explicit Endpoint(Address a) : address(std::move(a)), pool(address) {}
  const Address address;
  ConnectionPool pool;
  int outstanding = 0;  // guarded by the balancer's owner
};
using EndpointPtr = std::shared_ptr<Endpoint>;

// Not thread-safe: the owner serialises calls (LoadGenerator holds one mutex around it).
class LeastOutstandingBalancer {
 public:
  explicit LeastOutstandingBalancer(std::uint64_t seed) : rng_(seed) {}

  // Replaces the set. Addresses already known keep their Endpoint (count and pool); duplicates in
  // `addresses` count once. Cost O(n log n).
  void set_endpoints(const std::vector<Address>& addresses);
  // The endpoint with the fewest outstanding requests (uniformly among ties), its count raised by
  // one; nullptr when there is none. Cost O(n).
  EndpointPtr acquire();
  // Lowers the count acquire() raised (harmless for an endpoint no longer in the set).
  static void release(const EndpointPtr& endpoint) { --endpoint->outstanding; }

  std::size_t size() const { return endpoints_.size(); }
  const std::vector<EndpointPtr>& endpoints() const { return endpoints_; }

 private:
  std::vector<EndpointPtr> endpoints_;  // sorted by address
  std::mt19937_64 rng_;
};

}  // namespace dso::loadgen
