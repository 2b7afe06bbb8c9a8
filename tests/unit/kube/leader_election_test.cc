// Leader election against FakeClient with short real durations.
#include "kube/leader_election.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "fakes/fake_client.h"

namespace dso::kube {
namespace {

using namespace std::chrono_literals;

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 3000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return pred();
}

LeaderElectionConfig fast(const std::string& id, std::atomic<int>* started,
                          std::atomic<int>* stopped) {
  LeaderElectionConfig c;
  c.lease_namespace = "kube-system";
  c.lease_name = "test-lock";
  c.identity = id;
  c.lease_duration = 400ms;
  c.renew_deadline = 250ms;
  c.retry_period = 50ms;
  c.on_started_leading = [started] { ++*started; };
  c.on_stopped_leading = [stopped] { ++*stopped; };
  return c;
}

TEST(LeaderElection, OnlyOneLeadsAndTheOtherTakesOverAfterExpiry) {
  auto client = std::make_shared<FakeClient>();
  std::atomic<int> a_started{0}, a_stopped{0}, b_started{0}, b_stopped{0};
  auto ca = fast("a", &a_started, &a_stopped);
  ca.release_on_cancel = false;  // simulate a crash: the lease is left behind
  LeaderElector a(client, ca);
  LeaderElector b(client, fast("b", &b_started, &b_stopped));
  std::jthread ta([&](std::stop_token s) { a.run(s); });
  ASSERT_TRUE(eventually([&] { return a.is_leader(); }));
  std::jthread tb([&](std::stop_token s) { b.run(s); });
  std::this_thread::sleep_for(700ms);  // longer than a lease duration: a keeps renewing
  EXPECT_TRUE(a.is_leader());
  EXPECT_FALSE(b.is_leader());
  EXPECT_EQ(b.observed_leader(), "a");
  const auto crash = std::chrono::steady_clock::now();
  ta.request_stop();
  ta.join();
  EXPECT_EQ(a_stopped, 1);
  ASSERT_TRUE(eventually([&] { return b.is_leader(); }));
  const auto took = std::chrono::steady_clock::now() - crash;
  EXPECT_GE(took, 300ms);  // not before the lease could have expired
  EXPECT_LE(took, 400ms + 200ms);
  auto lease = client->get(Resource::leases(), "kube-system", "test-lock");
  ASSERT_TRUE(lease);
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "b");
  EXPECT_EQ((*lease)["spec"]["leaseTransitions"], 1);
}

TEST(LeaderElection, CleanShutdownReleasesForAFastHandOver) {
  auto client = std::make_shared<FakeClient>();
  std::atomic<int> a_started{0}, a_stopped{0}, b_started{0}, b_stopped{0};
  LeaderElector a(client, fast("a", &a_started, &a_stopped));
  LeaderElector b(client, fast("b", &b_started, &b_stopped));
  std::jthread ta([&](std::stop_token s) { a.run(s); });
  ASSERT_TRUE(eventually([&] { return a.is_leader(); }));
  std::jthread tb([&](std::stop_token s) { b.run(s); });
  std::this_thread::sleep_for(100ms);
  const auto t0 = std::chrono::steady_clock::now();
  ta.request_stop();
  ta.join();
  auto lease = client->get(Resource::leases(), "kube-system", "test-lock");
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "");  // released
  ASSERT_TRUE(eventually([&] { return b.is_leader(); }));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 200ms);  // no need to wait for expiry
  EXPECT_EQ(a_started, 1);
  EXPECT_EQ(a_stopped, 1);
}

TEST(LeaderElection, FailingRenewalsLoseLeadershipWithinTheRenewDeadline) {
  auto client = std::make_shared<FakeClient>();
  std::atomic<int> started{0}, stopped{0};
  LeaderElector a(client, fast("a", &started, &stopped));
  std::jthread ta([&](std::stop_token s) { a.run(s); });
  ASSERT_TRUE(eventually([&] { return a.is_leader(); }));
  const auto t0 = std::chrono::steady_clock::now();
  client->inject_error("PUT", ApiError{500, "InternalError", "etcd down", nullptr, std::nullopt},
                       1000);
  ASSERT_TRUE(eventually([&] { return stopped.load() == 1; }));
  EXPECT_FALSE(a.is_leader());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 400ms);  // before anyone else could acquire
}

TEST(LeaderElection, RejectsInconsistentDurationsAndMakesIdentity) {
  LeaderElectionConfig c;
  c.lease_namespace = "ns";
  c.lease_name = "l";
  c.renew_deadline = c.lease_duration;
  EXPECT_THROW(LeaderElector(std::make_shared<FakeClient>(), c), std::invalid_argument);
  const std::string id = default_identity();
  EXPECT_NE(id.find('_'), std::string::npos);
  EXPECT_EQ(id.size() - id.find('_') - 1, 36u);  // uuid
  EXPECT_NE(default_identity(), id);
}

}  // namespace
}  // namespace dso::kube
