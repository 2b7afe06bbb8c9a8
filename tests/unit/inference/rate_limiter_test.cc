// Token buckets per client over a second and an hour window.
#include "server/rate_limiter.h"

#include <gtest/gtest.h>

namespace dso::inference {
namespace {

using namespace std::chrono_literals;

TEST(RateLimiter, AllowsABurstOfOneSecondThenRefillsAtTheRate) {
  RateLimiter limiter({3, 0, 100});
  const TimePoint t0{};
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.admit("a", t0).allowed) << i;
  auto refused = limiter.admit("a", t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_STREQ(refused.window, "second");
  EXPECT_EQ(refused.retry_after_seconds, 1);
  EXPECT_FALSE(limiter.admit("a", t0 + 300ms).allowed);  // 0.9 tokens
  EXPECT_TRUE(limiter.admit("a", t0 + 340ms).allowed);   // 1.02 tokens
  EXPECT_FALSE(limiter.admit("a", t0 + 340ms).allowed);
}

TEST(RateLimiter, HourWindowRefusesWithARetryAfterOfMinutes) {
  RateLimiter limiter({100, 3600, 100});  // one token a second on the hour window
  const TimePoint t0{};
  for (int i = 0; i < 3600; ++i) {
    ASSERT_TRUE(limiter.admit("k", t0 + std::chrono::milliseconds(i * 20)).allowed) << i;
  }
  // 72 s in: 3600 used, 72 refilled, all spent above -> the 3601st..3672nd pass, then refusals.
  auto t = t0 + 72s;
  int passed = 0;
  while (limiter.admit("k", t).allowed) ++passed;
  EXPECT_NEAR(passed, 72, 1);
  auto refused = limiter.admit("k", t);
  EXPECT_STREQ(refused.window, "hour");
  EXPECT_EQ(refused.retry_after_seconds, 1);

  RateLimiter hourly({100, 2, 100});  // 2 per hour: the next token is 30 minutes away
  EXPECT_TRUE(hourly.admit("k", t0).allowed);
  EXPECT_TRUE(hourly.admit("k", t0 + 1s).allowed);
  auto later = hourly.admit("k", t0 + 2s);
  EXPECT_FALSE(later.allowed);
  EXPECT_STREQ(later.window, "hour");
  EXPECT_NEAR(later.retry_after_seconds, 1800 - 2, 2);
}

TEST(RateLimiter, ClientsHaveSeparateBucketsAndDefaultsMatchTheField) {
  RateLimiter limiter(RateLimitOptions{});
  const TimePoint t0{};
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(limiter.admit("addr:10.0.0.1", t0).allowed);
  EXPECT_FALSE(limiter.admit("addr:10.0.0.1", t0).allowed);
  EXPECT_TRUE(limiter.admit("addr:10.0.0.2", t0).allowed);
}

TEST(RateLimiter, ZeroDisablesAWindow) {
  RateLimiter limiter({0, 0, 100});
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(limiter.admit("a", TimePoint{}).allowed);
}

TEST(RateLimiter, ForgetsIdleClientsBeyondTheBound) {
  RateLimiter limiter({10, 0, 4});
  const TimePoint t0{};
  for (int i = 0; i < 4; ++i) limiter.admit("c" + std::to_string(i), t0);
  EXPECT_EQ(limiter.tracked_clients(), 4u);
  // Two seconds later all buckets are full again: forgetting them loses nothing.
  limiter.admit("new", t0 + 2s);
  EXPECT_EQ(limiter.tracked_clients(), 1u);
  // All busy (buckets not full): the least recently seen half goes.
  for (int i = 0; i < 3; ++i)
    limiter.admit("d" + std::to_string(i), t0 + 2s + std::chrono::milliseconds(i));
  limiter.admit("e", t0 + 2s + 10ms);
  EXPECT_LE(limiter.tracked_clients(), 4u);
}

}  // namespace
}  // namespace dso::inference
