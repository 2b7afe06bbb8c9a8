// Least-outstanding selection, random tie breaks, and endpoint sets that change under load.
#include "loadgen/balancer.h"

#include <gtest/gtest.h>

#include <map>

#include "loadgen/endpoints.h"

namespace dso::loadgen {
namespace {

const Address kA{"10.0.0.1", 8000}, kB{"10.0.0.2", 8000}, kC{"10.0.0.3", 8000};

TEST(Balancer, NoEndpointsGivesNull) {
  LeastOutstandingBalancer b(1);
  EXPECT_EQ(b.acquire(), nullptr);
}

TEST(Balancer, PicksTheLeastOutstanding) {
  LeastOutstandingBalancer b(1);
  b.set_endpoints({kA, kB, kC});
  std::vector<EndpointPtr> held;
  for (int i = 0; i < 9; ++i) held.push_back(b.acquire());
  for (const auto& e : b.endpoints()) EXPECT_EQ(e->outstanding, 3);  // spread evenly
  // Free two on B: the next two go to B.
  int released = 0;
  for (auto& e : held) {
    if (e->address == kB && released < 2) {
      LeastOutstandingBalancer::release(e);
      ++released;
    }
  }
  EXPECT_EQ(b.acquire()->address, kB);
  EXPECT_EQ(b.acquire()->address, kB);
}

TEST(Balancer, TiesAreBrokenAtRandom) {
  LeastOutstandingBalancer b(7);
  b.set_endpoints({kA, kB, kC});
  std::map<Address, int> first_pick;
  for (int i = 0; i < 3000; ++i) {
    auto e = b.acquire();  // all idle: a three-way tie every time
    ++first_pick[e->address];
    LeastOutstandingBalancer::release(e);
  }
  for (const auto& a : {kA, kB, kC}) {
    EXPECT_NEAR(first_pick[a], 1000, 5 * 26) << a.to_string();  // binomial sd ~ 25.8
  }
}

TEST(Balancer, EndpointsThatStayKeepTheirCountsAndThoseThatLeaveAreForgotten) {
  LeastOutstandingBalancer b(1);
  b.set_endpoints({kA, kB});
  const auto first = b.acquire(), second = b.acquire();  // one request on each
  const auto on_b = first->address == kB ? first : second;
  const auto on_a = first->address == kB ? second : first;
  b.set_endpoints({kC, kB, kB});  // A leaves, C joins; the duplicate counts once
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b.endpoints()[0], on_b);  // B kept: same state, count 1
  EXPECT_EQ(b.endpoints()[0]->outstanding, 1);
  EXPECT_EQ(b.acquire()->address, kC);      // C had none outstanding
  LeastOutstandingBalancer::release(on_a);  // harmless for the departed one
  LeastOutstandingBalancer::release(on_b);
  b.set_endpoints({});
  EXPECT_EQ(b.acquire(), nullptr);
}

TEST(Endpoints, ReadyAddressesOfAnEndpointsObject) {
  const auto endpoints = kube::Json::parse(R"({
    "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "svc", "namespace": "ns"},
    "subsets": [
      {"addresses": [{"ip": "10.0.0.2"}, {"ip": "10.0.0.1"}],
       "notReadyAddresses": [{"ip": "10.0.0.9"}],
       "ports": [{"name": "metrics", "port": 9090}, {"name": "http", "port": 8000}]},
      {"addresses": [{"ip": "10.0.1.1"}], "ports": [{"port": 8080}]},
      {"addresses": [{"ip": "10.0.2.1"}], "ports": [{"name": "grpc", "port": 9000}]},
      {"addresses": [{"ip": "fd00::1"}], "ports": [{"name": "http", "port": 8000}]},
      {"notReadyAddresses": [{"ip": "10.0.3.1"}], "ports": [{"name": "http", "port": 8000}]}
    ]})");
  const auto ready = ready_addresses(endpoints, "http");
  const std::vector<Address> want = {{"10.0.0.1", 8000}, {"10.0.0.2", 8000}, {"10.0.1.1", 8080}};
  EXPECT_EQ(ready, want);
  EXPECT_TRUE(ready_addresses(kube::Json(), "http").empty());
  EXPECT_TRUE(ready_addresses(kube::Json::parse(R"({"metadata":{}})"), "http").empty());
}

}  // namespace
}  // namespace dso::loadgen
