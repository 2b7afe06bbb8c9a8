// discover_pdb_api_version: a failed discovery is retried, never read as "not served".
#include "controller/discovery.h"

#include <gtest/gtest.h>

#include "fakes/fake_client.h"

namespace dso::controller {
namespace {

DiscoveryRetry counted(std::vector<kube::Duration>& slept, int attempts = 4) {
  DiscoveryRetry r;
  r.attempts = attempts;
  r.sleep = [&slept](kube::Duration d) { slept.push_back(d); };
  return r;
}

TEST(DiscoverPdbApiVersion, AFailureOnceIsRetriedNotTakenForAnOlderServer) {
  // Before: any failure answered policy/v1beta1, which servers >= 1.25 do not serve.
  kube::FakeClient client;
  client.inject_error("GET", kube::ApiError::transport("connection reset by peer"));
  std::vector<kube::Duration> slept;
  const auto version = discover_pdb_api_version(client, counted(slept));
  ASSERT_TRUE(version.has_value()) << version.error();
  EXPECT_EQ(*version, "policy/v1");
  EXPECT_EQ(slept.size(), 1u);
}

TEST(DiscoverPdbApiVersion, AFailureThatLastsIsAnErrorNamingIt) {
  kube::FakeClient client;
  client.inject_error("GET", kube::ApiError::transport("connection refused"), 10);
  std::vector<kube::Duration> slept;
  const auto version = discover_pdb_api_version(client, counted(slept, 3));
  ASSERT_FALSE(version.has_value());
  EXPECT_NE(version.error().find("failed 3 times"), std::string::npos) << version.error();
  EXPECT_NE(version.error().find("policy/v1: "), std::string::npos) << version.error();
  EXPECT_NE(version.error().find("connection refused"), std::string::npos) << version.error();
  EXPECT_EQ(slept.size(), 2u);
}

TEST(DiscoverPdbApiVersion, NotFoundMeansNotServed) {
  kube::FakeClient client;  // serves policy/v1
  std::vector<kube::Duration> slept;
  EXPECT_EQ(discover_pdb_api_version(client, counted(slept)).value_or(""), "policy/v1");
  // A server that answers 404 for both: no guess.
  client.inject_error("GET", {404, "NotFound", "no policy/v1", {}, {}}, 1);
  const auto none = discover_pdb_api_version(client, counted(slept));
  // policy/v1 404, then policy/v1beta1 404 from the fake (it serves no v1beta1).
  ASSERT_FALSE(none.has_value());
  EXPECT_NE(none.error().find("neither policy/v1 nor policy/v1beta1"), std::string::npos)
      << none.error();
  EXPECT_TRUE(slept.empty());
}

}  // namespace
}  // namespace dso::controller
