// Work queue and rate limiters: client-go semantics, checked with a FakeClock.
#include "kube/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "fakes/fake_clock.h"

namespace dso::kube {
namespace {

using namespace std::chrono_literals;

// Polls `pred` for up to 2 s of real time.
template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 2000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return pred();
}

TEST(ExponentialLimiter, DoublesFromBaseUpToMaxAndForgets) {
  ExponentialFailureRateLimiter l(5ms, 1000s);
  EXPECT_EQ(l.when("a"), 5ms);
  EXPECT_EQ(l.when("a"), 10ms);
  EXPECT_EQ(l.when("a"), 20ms);
  EXPECT_EQ(l.when("b"), 5ms);  // per item
  EXPECT_EQ(l.num_requeues("a"), 3);
  for (int i = 0; i < 100; ++i) l.when("a");
  EXPECT_EQ(l.when("a"), 1000s);  // capped, no overflow
  l.forget("a");
  EXPECT_EQ(l.num_requeues("a"), 0);
  EXPECT_EQ(l.when("a"), 5ms);
}

TEST(BucketLimiter, BurstThenQps) {
  auto clock = std::make_shared<FakeClock>();
  BucketRateLimiter l(10, 100, clock);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(l.when("x"), Duration::zero()) << i;
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(l.when("x")), 100ms);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(l.when("x")), 200ms);
  clock->advance(1s);  // pays back the two reservations and adds 8 tokens
  for (int i = 0; i < 8; ++i) EXPECT_EQ(l.when("x"), Duration::zero()) << i;
  EXPECT_GT(l.when("x"), Duration::zero());
}

TEST(DefaultControllerLimiter, MaxOfExponentialAndBucket) {
  auto clock = std::make_shared<FakeClock>();
  auto l = default_controller_rate_limiter(clock);
  EXPECT_EQ(l->when("k"), 5ms);
  EXPECT_EQ(l->when("k"), 10ms);
  EXPECT_EQ(l->num_requeues("k"), 2);
  // Exhaust the bucket with other keys: then the bucket's delay dominates a fresh key's 5 ms.
  for (int i = 0; i < 200; ++i) l->when("other" + std::to_string(i));
  EXPECT_GT(l->when("fresh"), 5s);
  l->forget("k");
  EXPECT_EQ(l->num_requeues("k"), 0);
}

TEST(WorkQueue, DeduplicatesQueuedKeys) {
  WorkQueue q("t", nullptr, std::make_shared<FakeClock>());
  q.add("a");
  q.add("b");
  q.add("a");
  EXPECT_EQ(q.len(), 2u);
  EXPECT_EQ(q.get(), "a");
  EXPECT_EQ(q.get(), "b");
}

TEST(WorkQueue, KeyAddedWhileProcessingIsHeldUntilDoneThenRunsAgain) {
  WorkQueue q("t", nullptr, std::make_shared<FakeClock>());
  q.add("a");
  ASSERT_EQ(q.get(), "a");
  q.add("a");
  q.add("a");
  EXPECT_EQ(q.len(), 0u);  // not handed to a second worker while processing
  q.done("a");
  EXPECT_EQ(q.len(), 1u);  // once, not twice
  EXPECT_EQ(q.get(), "a");
  q.done("a");
  EXPECT_EQ(q.len(), 0u);
}

TEST(WorkQueue, NeverTwoWorkersOnOneKey) {
  WorkQueue q("t", nullptr, std::make_shared<FakeClock>());
  std::mutex mu;
  std::set<std::string> active;
  std::atomic<bool> overlap{false};
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto key = q.get()) {
        {
          std::lock_guard lock(mu);
          if (!active.insert(*key).second) overlap = true;
        }
        std::this_thread::sleep_for(50us);
        {
          std::lock_guard lock(mu);
          active.erase(*key);
        }
        ++processed;
        q.done(*key);
      }
    });
  }
  for (int i = 0; i < 5000; ++i) q.add("k" + std::to_string(i % 7));
  q.shut_down_with_drain();
  for (auto& w : workers) w.join();
  EXPECT_FALSE(overlap);
  EXPECT_GE(processed, 7);
}

TEST(WorkQueue, AddAfterWaitsForTheClockAndEarliestWins) {
  auto clock = std::make_shared<FakeClock>();
  WorkQueue q("t", nullptr, clock);
  q.add_after("a", 10s);
  q.add_after("a", 5s);   // earlier: replaces
  q.add_after("a", 20s);  // later: ignored
  q.add_after("now", 0s);
  EXPECT_EQ(q.get(), "now");
  EXPECT_EQ(q.waiting(), 1u);
  clock->advance(4s);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(q.len(), 0u);
  clock->advance(1s);
  ASSERT_TRUE(eventually([&] { return q.len() == 1; }));
  EXPECT_EQ(q.get(), "a");
  clock->advance(30s);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(q.len(), 0u);  // the superseded 10 s/20 s entries do not fire again
}

TEST(WorkQueue, AddRateLimitedBacksOffPerItemAndForgetResets) {
  auto clock = std::make_shared<FakeClock>();
  WorkQueue q("t", nullptr, clock);
  q.add_rate_limited("a");  // 5 ms
  q.add_rate_limited("a");  // 10 ms, later than the pending 5 ms: ignored
  EXPECT_EQ(q.num_requeues("a"), 2);
  clock->advance(5ms);
  ASSERT_TRUE(eventually([&] { return q.len() == 1; }));
  ASSERT_EQ(q.get(), "a");
  q.done("a");
  q.add_rate_limited("a");  // third failure: 20 ms
  clock->advance(19ms);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(q.len(), 0u);
  clock->advance(1ms);
  ASSERT_TRUE(eventually([&] { return q.len() == 1; }));
  q.forget("a");
  EXPECT_EQ(q.num_requeues("a"), 0);
}

TEST(WorkQueue, ShutDownDrainsQueuedKeysAndRejectsNewOnes) {
  WorkQueue q("t", nullptr, std::make_shared<FakeClock>());
  q.add("a");
  q.add("b");
  q.shut_down();
  q.add("c");
  q.add_after("d", 1s);
  EXPECT_TRUE(q.shutting_down());
  EXPECT_EQ(q.get(), "a");
  EXPECT_EQ(q.get(), "b");
  EXPECT_EQ(q.get(), std::nullopt);
}

TEST(WorkQueue, ShutDownWithDrainWaitsForKeysInFlight) {
  WorkQueue q("t", nullptr, std::make_shared<FakeClock>());
  q.add("a");
  ASSERT_EQ(q.get(), "a");
  std::atomic<bool> returned{false};
  std::thread t([&] {
    q.shut_down_with_drain();
    returned = true;
  });
  std::this_thread::sleep_for(30ms);
  EXPECT_FALSE(returned);
  q.done("a");
  t.join();
  EXPECT_TRUE(returned);
}

TEST(WorkQueue, GetBlocksUntilAddOrShutdown) {
  WorkQueue q("t", nullptr, std::make_shared<FakeClock>());
  std::optional<std::string> got = "unset";
  std::thread t([&] { got = q.get(); });
  std::this_thread::sleep_for(20ms);
  q.add("x");
  t.join();
  EXPECT_EQ(got, "x");
  std::thread t2([&] { got = q.get(); });
  std::this_thread::sleep_for(20ms);
  q.shut_down();
  t2.join();
  EXPECT_EQ(got, std::nullopt);
}

}  // namespace
}  // namespace dso::kube
