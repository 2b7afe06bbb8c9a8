// Leader election against FakeClient with short real durations.
#include "kube/leader_election.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "fakes/fake_client.h"
#include "fakes/fake_clock.h"
#include "kube/leader_gated_client.h"

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

// Time for the electors is a FakeClock the tests move 60 ms at a time: a leader renews every retry
// period (50 ms) and a follower retries every 50-60 ms (client-go's jitter), so after each move
// every running elector takes exactly one round (a GET of the Lease). The tests wait for those
// GETs (an event), so each check sees the electors' state at that instant of fake time, and the
// timing bounds below hold in fake time, whatever the machine's load.
class FakeTime {
 public:
  explicit FakeTime(std::shared_ptr<FakeClient> client) : client_(std::move(client)) {}
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  // 60 ms later: waits for the `electors` running electors to be asleep (each has finished its
  // round and set its next deadline), moves the clock, and waits for each to read the Lease.
  ::testing::AssertionResult step(int electors) {
    if (!eventually([&] { return clock->sleepers() >= electors; }))
      return ::testing::AssertionFailure() << clock->sleepers() << " of " << electors << " asleep";
    const int gets = client_->calls("GET");
    clock->advance(60ms);
    if (eventually([&] { return client_->calls("GET") >= gets + electors; }))
      return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "the electors did not take their round: " << client_->calls("GET") - gets << " of "
           << electors << " GETs";
  }
  Duration since(TimePoint t) const { return clock->now() - t; }

 private:
  std::shared_ptr<FakeClient> client_;
};

LeaderElectionConfig fast(const std::string& id, std::atomic<int>* started,
                          std::atomic<int>* stopped, const FakeTime& time) {
  LeaderElectionConfig c = fast(id, started, stopped);
  c.clock = time.clock;
  return c;
}

TEST(LeaderElection, OnlyOneLeadsAndTheOtherTakesOverAfterExpiry) {
  auto client = std::make_shared<FakeClient>();
  FakeTime time(client);
  std::atomic<int> a_started{0}, a_stopped{0}, b_started{0}, b_stopped{0};
  auto ca = fast("a", &a_started, &a_stopped, time);
  ca.release_on_cancel = false;  // simulate a crash: the lease is left behind
  LeaderElector a(client, ca);
  LeaderElector b(client, fast("b", &b_started, &b_stopped, time));
  std::jthread ta([&](std::stop_token s) { a.run(s); });
  ASSERT_TRUE(eventually([&] { return a.is_leader(); }));
  std::jthread tb([&](std::stop_token s) { b.run(s); });
  ASSERT_TRUE(eventually([&] { return b.observed_leader() == "a"; }));
  // Over 2.5 lease durations of renewals b never leads: a renews every round.
  for (int round = 0; round < 20; ++round) {
    ASSERT_TRUE(time.step(2));
    ASSERT_TRUE(a.is_leader()) << "round " << round;
    ASSERT_FALSE(b.is_leader()) << "round " << round;
  }
  const TimePoint crash = time.clock->now();
  const auto a_thread = ta.get_id();
  ta.request_stop();
  ta.join();
  time.clock->forget(a_thread);
  EXPECT_EQ(a_stopped, 1);
  // b takes over once the lease has gone unrenewed for a lease duration (400 ms) by its own clock:
  // never before, and within two steps after (b may have seen a's last renewal one step late).
  while (!b.is_leader() && time.since(crash) < 2s) {
    ASSERT_TRUE(time.step(1));
    // b's round is over once it sleeps again: leading (renewing) or not (retrying).
    ASSERT_TRUE(eventually([&] { return time.clock->sleepers() >= 1; }));
  }
  EXPECT_GE(time.since(crash), 400ms);
  EXPECT_LE(time.since(crash), 520ms);
  auto lease = client->get(Resource::leases(), "kube-system", "test-lock");
  ASSERT_TRUE(lease);
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "b");
  EXPECT_EQ((*lease)["spec"]["leaseTransitions"], 1);
}

TEST(LeaderElection, CleanShutdownReleasesForAFastHandOver) {
  auto client = std::make_shared<FakeClient>();
  FakeTime time(client);
  std::atomic<int> a_started{0}, a_stopped{0}, b_started{0}, b_stopped{0};
  LeaderElector a(client, fast("a", &a_started, &a_stopped, time));
  LeaderElector b(client, fast("b", &b_started, &b_stopped, time));
  std::jthread ta([&](std::stop_token s) { a.run(s); });
  ASSERT_TRUE(eventually([&] { return a.is_leader(); }));
  std::jthread tb([&](std::stop_token s) { b.run(s); });
  ASSERT_TRUE(eventually([&] { return b.observed_leader() == "a"; }));
  const auto a_thread = ta.get_id();
  ta.request_stop();
  ta.join();
  time.clock->forget(a_thread);
  auto lease = client->get(Resource::leases(), "kube-system", "test-lock");
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "");  // released
  // b acquires at its next round: one step, not a lease duration.
  ASSERT_TRUE(time.step(1));
  ASSERT_TRUE(eventually([&] { return b.is_leader(); }));
  EXPECT_EQ(a_started, 1);
  EXPECT_EQ(a_stopped, 1);
}

TEST(LeaderElection, FailingRenewalsLoseLeadershipWithinTheRenewDeadline) {
  auto client = std::make_shared<FakeClient>();
  FakeTime time(client);
  std::atomic<int> started{0}, stopped{0};
  LeaderElector a(client, fast("a", &started, &stopped, time));
  std::jthread ta([&](std::stop_token s) { a.run(s); });
  ASSERT_TRUE(eventually([&] { return a.is_leader(); }));
  const TimePoint t0 = time.clock->now();
  client->inject_error("PUT", ApiError{500, "InternalError", "etcd down", nullptr, std::nullopt},
                       1000);
  // Each round's renewal fails; leadership ends once the last success is a renew deadline (250 ms)
  // old, before anyone else could acquire (the lease duration, 400 ms).
  while (stopped.load() == 0 && time.since(t0) < 2s) ASSERT_TRUE(time.step(1));
  EXPECT_FALSE(a.is_leader());
  EXPECT_GE(time.since(t0), 250ms);
  EXPECT_LT(time.since(t0), 400ms);
}

// A client whose lease updates hang (a black-holed connection) until released.
class HangingLeaseClient {
 public:
  explicit HangingLeaseClient(std::shared_ptr<FakeClient> fake) : fake_(std::move(fake)) {}
  // The elector's client: its PUTs wait while `hang` is set.
  KubeClientPtr elector_client() {
    auto c = std::make_shared<LeaderGatedClient>(fake_, [this] {
      std::unique_lock lock(mu_);
      if (hang_) ++hung_;
      cv_.wait(lock, [this] { return !hang_; });
      return true;
    });
    return c;
  }
  void hang(bool on) {
    std::lock_guard lock(mu_);
    hang_ = on;
    cv_.notify_all();
  }
  int hung() {
    std::lock_guard lock(mu_);
    return hung_;
  }

 private:
  std::shared_ptr<FakeClient> fake_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool hang_ = false;
  int hung_ = 0;
};

TEST(LeaderElection, AHungRenewalStopsWritesWithinTheRenewDeadline) {
  // Before: nothing gated the operator's writes on the lease; a leader whose renewal hung kept
  // writing while a follower took over after the lease duration.
  auto fake = std::make_shared<FakeClient>();
  HangingLeaseClient net(fake);
  std::atomic<int> started{0}, stopped{0};
  LeaderElector a(net.elector_client(), fast("a", &started, &stopped));
  LeaderGatedClient writes(fake, [&a] { return a.is_leader(); });
  std::jthread ta([&](std::stop_token s) { a.run(s); });
  ASSERT_TRUE(eventually([&] { return a.is_leader(); }));
  const Json cm = {{"apiVersion", "v1"},
                   {"kind", "ConfigMap"},
                   {"metadata", {{"name", "written"}, {"namespace", "ns"}}}};
  ASSERT_TRUE(writes.create(Resource::config_maps(), "ns", cm));

  net.hang(true);
  ASSERT_TRUE(eventually([&] { return net.hung() > 0; }));  // a renewal is stuck in flight
  ASSERT_TRUE(eventually([&] { return !a.is_leader(); }));  // by this process's clock alone
  EXPECT_EQ(stopped.load(), 0);  // the elector itself is still waiting for its answer
  const auto refused = writes.patch(Resource::config_maps(), "ns", "written", PatchType::kMerge,
                                    Json{{"data", {{"k", "v"}}}});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().reason, "NotLeader");
  EXPECT_EQ(writes.refused(), 1u);
  EXPECT_TRUE(writes.get(Resource::config_maps(), "ns", "written").has_value());  // reads go on
  net.hang(false);
  ASSERT_TRUE(eventually([&] { return stopped.load() == 1; }));
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
