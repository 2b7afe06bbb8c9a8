// A work queue of string keys with client-go's semantics (k8s.io/client-go/util/workqueue):
// de-duplication, at most one worker per key, a key re-added while being processed is run again
// after Done, delayed adds, rate-limited re-adds (per-item exponential backoff max-of a token
// bucket), Forget/NumRequeues, and a shut-down that lets workers drain what is queued.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kube/clock.h"
#include "kube/metrics.h"

namespace dso::kube {

// How long to wait before retrying an item. Thread-safe.
class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // The delay before `key` may be retried; counts as one more failure of `key`.
  virtual Duration when(const std::string& key) = 0;
  // Clears the failure history of `key` (after a success).
  virtual void forget(const std::string& key) = 0;
  // Failures recorded for `key` since the last forget.
  virtual int num_requeues(const std::string& key) = 0;
};
using RateLimiterPtr = std::shared_ptr<RateLimiter>;

// base * 2^failures, capped at max (client-go ItemExponentialFailureRateLimiter).
class ExponentialFailureRateLimiter final : public RateLimiter {
 public:
  ExponentialFailureRateLimiter(Duration base, Duration max);
  Duration when(const std::string& key) override;
  void forget(const std::string& key) override;
  int num_requeues(const std::string& key) override;

 private:
  Duration base_, max_;
  std::mutex mu_;
  std::unordered_map<std::string, int> failures_;
};

// A token bucket of `qps` tokens per second holding at most `burst` (golang.org/x/time/rate as
// used by client-go's BucketRateLimiter): each call reserves a token and returns how long until it
// is available. Not per item: forget/num_requeues do nothing.
class BucketRateLimiter final : public RateLimiter {
 public:
  BucketRateLimiter(double qps, int burst, ClockPtr clock = real_clock());
  Duration when(const std::string& key) override;
  void forget(const std::string&) override {}
  int num_requeues(const std::string&) override { return 0; }

 private:
  double qps_;
  double burst_;
  ClockPtr clock_;
  std::mutex mu_;
  double tokens_;
  TimePoint last_;
};

// The longest delay of several limiters (client-go MaxOfRateLimiter).
class MaxOfRateLimiter final : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<RateLimiterPtr> limiters);
  Duration when(const std::string& key) override;
  void forget(const std::string& key) override;
  int num_requeues(const std::string& key) override;

 private:
  std::vector<RateLimiterPtr> limiters_;
};

// client-go's DefaultControllerRateLimiter: max(exponential 5 ms .. 1000 s, bucket 10 qps / 100).
RateLimiterPtr default_controller_rate_limiter(ClockPtr clock = real_clock());

// The queue. All methods are thread-safe. Typical worker loop:
//   while (auto key = queue.get()) { process(*key); queue.done(*key); }
class WorkQueue {
 public:
  WorkQueue(std::string name = "", RateLimiterPtr limiter = nullptr, ClockPtr clock = real_clock(),
            MetricsPtr metrics = nullptr);
  ~WorkQueue();  // shuts down and joins the delay thread
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `key` unless it is already queued (dirty); if it is being processed it is queued
  // again when done() is called. Ignored after shut_down().
  void add(const std::string& key);
  // Adds `key` once `delay` has passed (immediately when delay <= 0). If the key is already
  // waiting, the earlier time wins.
  void add_after(const std::string& key, Duration delay);
  // add_after(key, limiter.when(key)).
  void add_rate_limited(const std::string& key);
  void forget(const std::string& key);
  int num_requeues(const std::string& key);

  // Blocks until a key is available and marks it processing; nullopt once shut down and empty.
  std::optional<std::string> get();
  // Marks `key` processed; re-queues it if it was added meanwhile.
  void done(const std::string& key);

  // Stops accepting adds and wakes all get() callers; keys already queued are still handed out.
  void shut_down();
  // shut_down() and then wait until every key handed out has been done().
  void shut_down_with_drain();
  bool shutting_down() const;

  std::size_t len() const;      // queued (not processing, not waiting)
  std::size_t waiting() const;  // delayed adds not yet due

 private:
  void add_locked(const std::string& key);
  void delay_loop();

  std::string name_;
  RateLimiterPtr limiter_;
  ClockPtr clock_;
  MetricsPtr metrics_;
  mutable std::mutex mu_;
  std::condition_variable cv_;        // queue non-empty / shutting down / drained
  std::condition_variable delay_cv_;  // new delayed item / shutting down
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;
  std::unordered_set<std::string> processing_;
  bool shutting_down_ = false;
  // Delayed adds: ready time per key (earliest wins) and a heap ordered by time.
  std::unordered_map<std::string, TimePoint> waiting_;
  std::priority_queue<std::pair<TimePoint, std::string>,
                      std::vector<std::pair<TimePoint, std::string>>, std::greater<>>
      heap_;
  std::thread delay_thread_;
};
using WorkQueuePtr = std::shared_ptr<WorkQueue>;

}  // namespace dso::kube
