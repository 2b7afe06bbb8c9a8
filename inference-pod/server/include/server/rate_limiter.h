// Token-bucket rate limits per client (an API key or a client address), over two windows at once:
// per second (burst up to one second's allowance) and per hour. A request passes only when both
// buckets have a token; a refusal says which window and how long until a token is back
// (HTTP Retry-After). Pure logic: time is an argument, so tests drive it.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace dso::inference {

using TimePoint = std::chrono::steady_clock::time_point;

// One bucket: `capacity` tokens, refilled continuously at `per_second` tokens a second.
class TokenBucket {
 public:
  TokenBucket(double capacity, double per_second, TimePoint now);
  // Refills up to `now`; true if a token is available (does not take it).
  bool available(TimePoint now);
  void take() { tokens_ -= 1.0; }
  // Seconds until one token is available (0 if one is).
  double seconds_until_token() const;
  bool full() const { return tokens_ >= capacity_; }

 private:
  double capacity_;
  double per_second_;
  double tokens_;
  TimePoint last_;
};

struct RateLimitOptions {
  double per_second = 100;           // 0 disables the window
  double per_hour = 5000;            // 0 disables the window
  std::size_t max_clients = 100000;  // clients tracked; idle ones are forgotten beyond this
};

struct RateDecision {
  bool allowed = true;
  const char* window = "";      // "second" or "hour" when refused
  int retry_after_seconds = 0;  // >= 1 when refused
};

class RateLimiter {
 public:
  explicit RateLimiter(RateLimitOptions options) : options_(options) {}
  // Takes one token from `client`'s buckets if both have one. Thread-safe; O(1) amortised.
  RateDecision admit(const std::string& client, TimePoint now);
  std::size_t tracked_clients() const;

 private:
  struct Buckets {
    TokenBucket second;
    TokenBucket hour;
    TimePoint last_seen;
  };
  void forget_idle_locked(TimePoint now);

  RateLimitOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Buckets> clients_;
};

}  // namespace dso::inference
