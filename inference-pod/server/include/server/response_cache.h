// Response cache for deterministic requests (temperature 0): an LRU map with a time-to-live and a
// bound on the bytes it holds, behind a Bloom filter. The filter answers "certainly not cached"
// without taking the cache's lock, so a flood of distinct (never cached) requests -- cache
// penetration -- costs a few hashes each and never contends with hits.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dso::inference {

// A Bloom filter over 64-bit key hashes: k probes by double hashing. Adding and testing are
// lock-free (relaxed atomics); clear() must not race with add().
class BloomFilter {
 public:
  // Sized for `expected_items` at `false_positive_rate`.
  BloomFilter(std::size_t expected_items, double false_positive_rate);
  void add(std::uint64_t hash);
  bool maybe_contains(std::uint64_t hash) const;
  void clear();
  std::size_t bits() const { return bits_; }
  int probes() const { return probes_; }

 private:
  std::size_t bits_;
  int probes_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> words_;
};

struct CachedCompletion {
  std::string text;
  std::string finish_reason;
  int prompt_tokens = 0;
  int completion_tokens = 0;
};

struct CacheOptions {
  std::size_t max_bytes = 64 << 20;
  std::chrono::seconds ttl{300};
  std::size_t bloom_expected_items = 100000;
};

enum class CacheLookup { kHit, kMiss, kBloomNegative };

class ResponseCache {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  explicit ResponseCache(CacheOptions options);

  // Looks `key` up; `out` is filled on a hit. Expired entries count as misses and are dropped.
  // Thread-safe; O(|key|).
  CacheLookup get(std::string_view key, TimePoint now, CachedCompletion& out);
  // Stores (or refreshes) `key`, evicting least recently used entries beyond max_bytes. An entry
  // larger than max_bytes is not stored. Thread-safe.
  void put(std::string_view key, CachedCompletion value, TimePoint now);

  std::size_t bytes() const;
  std::size_t entries() const;

  static std::uint64_t hash(std::string_view key);

 private:
  struct Entry {
    std::string key;
    CachedCompletion value;
    TimePoint expires;
    std::size_t bytes;
  };
  void erase_locked(std::list<Entry>::iterator it);
  void rebuild_bloom_locked();

  CacheOptions options_;
  BloomFilter bloom_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front: most recently used
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;
  std::size_t bytes_ = 0;
  std::size_t added_since_rebuild_ = 0;
};

}  // namespace dso::inference
