// LRU + TTL response cache behind a Bloom filter (see response_cache.h).
#include "server/response_cache.h"

#include <cmath>

namespace dso::inference {

BloomFilter::BloomFilter(std::size_t expected_items, double false_positive_rate) {
  const double n = static_cast<double>(std::max<std::size_t>(expected_items, 1));
  const double m = std::ceil(-n * std::log(false_positive_rate) / (std::log(2.0) * std::log(2.0)));
  bits_ = std::max<std::size_t>(64, static_cast<std::size_t>(m));
  bits_ = (bits_ + 63) / 64 * 64;
  probes_ = std::max(1, static_cast<int>(std::round(m / n * std::log(2.0))));
  words_ = std::make_unique<std::atomic<std::uint64_t>[]>(bits_ / 64);
  clear();
}

void BloomFilter::add(std::uint64_t hash) {
  const std::uint64_t h1 = hash, h2 = (hash >> 33) | (hash << 31) | 1;
  for (int i = 0; i < probes_; ++i) {
    const std::uint64_t bit = (h1 + static_cast<std::uint64_t>(i) * h2) % bits_;
    words_[bit / 64].fetch_or(std::uint64_t{1} << (bit % 64), std::memory_order_relaxed);
  }
}

bool BloomFilter::maybe_contains(std::uint64_t hash) const {
  const std::uint64_t h1 = hash, h2 = (hash >> 33) | (hash << 31) | 1;
  for (int i = 0; i < probes_; ++i) {
    const std::uint64_t bit = (h1 + static_cast<std::uint64_t>(i) * h2) % bits_;
    if ((words_[bit / 64].load(std::memory_order_relaxed) & (std::uint64_t{1} << (bit % 64))) ==
        0) {
      return false;
    }
  }
  return true;
}

void BloomFilter::clear() {
  for (std::size_t i = 0; i < bits_ / 64; ++i) words_[i].store(0, std::memory_order_relaxed);
}

std::uint64_t ResponseCache::hash(std::string_view key) {
  // FNV-1a 64, then a 64-bit finaliser (splitmix) so that both halves are well mixed.
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

ResponseCache::ResponseCache(CacheOptions options)
    : options_(options), bloom_(options.bloom_expected_items, 0.01) {}

CacheLookup ResponseCache::get(std::string_view key, TimePoint now, CachedCompletion& out) {
  if (!bloom_.maybe_contains(hash(key))) return CacheLookup::kBloomNegative;
  std::lock_guard lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return CacheLookup::kMiss;
  if (it->second->expires <= now) {
    erase_locked(it->second);
    return CacheLookup::kMiss;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  out = it->second->value;
  return CacheLookup::kHit;
}

void ResponseCache::put(std::string_view key, CachedCompletion value, TimePoint now) {
  const std::size_t size = 2 * key.size() + value.text.size() + value.finish_reason.size() + 128;
  if (size > options_.max_bytes) return;
  std::lock_guard lock(mu_);
  if (auto it = index_.find(key); it != index_.end()) erase_locked(it->second);
  lru_.push_front(Entry{std::string(key), std::move(value), now + options_.ttl, size});
  index_.emplace(lru_.front().key, lru_.begin());
  bytes_ += size;
  while (bytes_ > options_.max_bytes && !lru_.empty()) erase_locked(std::prev(lru_.end()));
  bloom_.add(hash(key));
  // Evicted keys stay set in the filter; rebuild it from the live keys before it saturates.
  if (++added_since_rebuild_ > options_.bloom_expected_items) rebuild_bloom_locked();
}

void ResponseCache::erase_locked(std::list<Entry>::iterator it) {
  bytes_ -= it->bytes;
  index_.erase(it->key);
  lru_.erase(it);
}

void ResponseCache::rebuild_bloom_locked() {
  // A get() racing with the rebuild may see a false "not cached" for a live key: one extra miss.
  bloom_.clear();
  for (const auto& e : lru_) bloom_.add(hash(e.key));
  added_since_rebuild_ = lru_.size();
}

std::size_t ResponseCache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

std::size_t ResponseCache::entries() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

}  // namespace dso::inference
