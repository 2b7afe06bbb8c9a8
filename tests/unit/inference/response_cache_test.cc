// Response cache: LRU by bytes, TTL, and the Bloom filter in front.
#include "server/response_cache.h"

#include <gtest/gtest.h>

namespace dso::inference {
namespace {

using namespace std::chrono_literals;
using TP = ResponseCache::TimePoint;

CachedCompletion value(std::string text) {
  return {std::move(text), "length", 3, 4};
}

TEST(ResponseCache, HitAfterPutMissBeforeAndBloomAnswersUnknownKeys) {
  ResponseCache cache({1 << 20, 60s, 1000});
  CachedCompletion out;
  EXPECT_EQ(cache.get("k1", TP{}, out), CacheLookup::kBloomNegative);
  cache.put("k1", value("hello"), TP{});
  ASSERT_EQ(cache.get("k1", TP{} + 1s, out), CacheLookup::kHit);
  EXPECT_EQ(out.text, "hello");
  EXPECT_EQ(out.completion_tokens, 4);
  EXPECT_EQ(cache.get("k2", TP{}, out), CacheLookup::kBloomNegative);
}

TEST(ResponseCache, EntriesExpireAfterTheTtl) {
  ResponseCache cache({1 << 20, 10s, 1000});
  cache.put("k", value("v"), TP{});
  CachedCompletion out;
  EXPECT_EQ(cache.get("k", TP{} + 9s, out), CacheLookup::kHit);
  EXPECT_EQ(cache.get("k", TP{} + 10s, out), CacheLookup::kMiss);
  EXPECT_EQ(cache.entries(), 0u);
}

TEST(ResponseCache, EvictsLeastRecentlyUsedBeyondTheByteBound) {
  // Each entry costs 2*|key| + |text| + |finish| + 128 = 2 + 100 + 6 + 128 = 236 bytes.
  ResponseCache cache({3 * 236, 60s, 1000});
  const std::string text(100, 'x');
  cache.put("a", value(text), TP{});
  cache.put("b", value(text), TP{});
  cache.put("c", value(text), TP{});
  CachedCompletion out;
  ASSERT_EQ(cache.get("a", TP{}, out), CacheLookup::kHit);  // a is now most recent
  cache.put("d", value(text), TP{});                        // evicts b
  EXPECT_EQ(cache.entries(), 3u);
  EXPECT_LE(cache.bytes(), 3u * 236);
  EXPECT_EQ(cache.get("b", TP{}, out), CacheLookup::kMiss);  // the filter still has b: a real miss
  EXPECT_EQ(cache.get("a", TP{}, out), CacheLookup::kHit);
  EXPECT_EQ(cache.get("c", TP{}, out), CacheLookup::kHit);
  EXPECT_EQ(cache.get("d", TP{}, out), CacheLookup::kHit);
  // Larger than the whole cache: not stored.
  cache.put("huge", value(std::string(1000, 'y')), TP{});
  EXPECT_EQ(cache.get("huge", TP{}, out), CacheLookup::kBloomNegative);
}

TEST(ResponseCache, BloomFilterRebuildsSoEvictedKeysStopPassing) {
  ResponseCache cache({600, 60s, 10});
  for (int i = 0; i < 30; ++i) cache.put("key" + std::to_string(i), value("v"), TP{});
  CachedCompletion out;
  // Only the most recent few fit; after rebuilds the oldest keys are no longer in the filter.
  int bloom_negatives = 0;
  for (int i = 0; i < 10; ++i) {
    bloom_negatives +=
        cache.get("key" + std::to_string(i), TP{}, out) == CacheLookup::kBloomNegative;
  }
  EXPECT_GE(bloom_negatives, 8);
}

TEST(BloomFilter, NoFalseNegativesAndAboutTheDesignedFalsePositiveRate) {
  BloomFilter filter(10000, 0.01);
  for (std::uint64_t i = 0; i < 10000; ++i)
    filter.add(ResponseCache::hash("in" + std::to_string(i)));
  for (std::uint64_t i = 0; i < 10000; ++i) {
    ASSERT_TRUE(filter.maybe_contains(ResponseCache::hash("in" + std::to_string(i))));
  }
  int false_positives = 0;
  for (std::uint64_t i = 0; i < 100000; ++i) {
    false_positives += filter.maybe_contains(ResponseCache::hash("out" + std::to_string(i)));
  }
  EXPECT_LT(false_positives, 2000);  // designed for 1%: 1,000 expected
  EXPECT_GT(filter.probes(), 1);
}

}  // namespace
}  // namespace dso::inference
