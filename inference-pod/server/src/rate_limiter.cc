// Token-bucket rate limiting (see rate_limiter.h).
#include "server/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace dso::inference {

TokenBucket::TokenBucket(double capacity, double per_second, TimePoint now)
    : capacity_(capacity), per_second_(per_second), tokens_(capacity), last_(now) {}

bool TokenBucket::available(TimePoint now) {
  if (now > last_) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(capacity_, tokens_ + elapsed * per_second_);
    last_ = now;
  }
  return tokens_ >= 1.0;
}

double TokenBucket::seconds_until_token() const {
  if (tokens_ >= 1.0) return 0;
  return (1.0 - tokens_) / per_second_;
}

RateDecision RateLimiter::admit(const std::string& client, TimePoint now) {
  const bool per_second = options_.per_second > 0;
  const bool per_hour = options_.per_hour > 0;
  if (!per_second && !per_hour) return {};
  std::lock_guard lock(mu_);
  auto it = clients_.find(client);
  if (it == clients_.end()) {
    if (clients_.size() >= options_.max_clients) forget_idle_locked(now);
    it = clients_
             .emplace(
                 client,
                 Buckets{
                     TokenBucket(std::max(1.0, options_.per_second), options_.per_second, now),
                     TokenBucket(std::max(1.0, options_.per_hour), options_.per_hour / 3600.0, now),
                     now})
             .first;
  }
  auto& b = it->second;
  b.last_seen = now;
  if (per_second && !b.second.available(now)) {
    return {false, "second",
            std::max(1, static_cast<int>(std::ceil(b.second.seconds_until_token())))};
  }
  if (per_hour && !b.hour.available(now)) {
    return {false, "hour", std::max(1, static_cast<int>(std::ceil(b.hour.seconds_until_token())))};
  }
  if (per_second) b.second.take();
  if (per_hour) b.hour.take();
  return {};
}

std::size_t RateLimiter::tracked_clients() const {
  std::lock_guard lock(mu_);
  return clients_.size();
}

void RateLimiter::forget_idle_locked(TimePoint now) {
  // First forget clients whose buckets have refilled (forgetting them changes nothing).
  for (auto it = clients_.begin(); it != clients_.end();) {
    auto& b = it->second;
    b.second.available(now);
    b.hour.available(now);
    it = b.second.full() && b.hour.full() ? clients_.erase(it) : std::next(it);
  }
  if (clients_.size() < options_.max_clients) return;
  // Still full of active clients: forget the least recently seen half.
  std::vector<TimePoint> seen;
  seen.reserve(clients_.size());
  for (const auto& [key, b] : clients_) seen.push_back(b.last_seen);
  auto mid = seen.begin() + static_cast<std::ptrdiff_t>(seen.size() / 2);
  std::nth_element(seen.begin(), mid, seen.end());
  const TimePoint cutoff = *mid;
  std::erase_if(clients_, [&](const auto& kv) { return kv.second.last_seen < cutoff; });
}

}  // namespace dso::inference
