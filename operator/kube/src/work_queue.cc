#include "kube/work_queue.h"

#include <algorithm>
#include <cmath>

namespace dso::kube {

ExponentialFailureRateLimiter::ExponentialFailureRateLimiter(Duration base, Duration max)
    : base_(base), max_(max) {}

Duration ExponentialFailureRateLimiter::when(const std::string& key) {
  std::lock_guard lock(mu_);
  const int exp = failures_[key]++;
  // base * 2^exp computed in floating point so that large exponents saturate instead of overflow.
  const double backoff = static_cast<double>(base_.count()) * std::pow(2.0, exp);
  if (backoff >= static_cast<double>(max_.count())) return max_;
  return Duration(static_cast<Duration::rep>(backoff));
}

void ExponentialFailureRateLimiter::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  failures_.erase(key);
}

int ExponentialFailureRateLimiter::num_requeues(const std::string& key) {
  std::lock_guard lock(mu_);
  const auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

BucketRateLimiter::BucketRateLimiter(double qps, int burst, ClockPtr clock)
    : qps_(qps), burst_(burst), clock_(std::move(clock)), tokens_(burst), last_(clock_->now()) {}

Duration BucketRateLimiter::when(const std::string&) {
  std::lock_guard lock(mu_);
  const TimePoint now = clock_->now();
  if (now > last_) {
    tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * qps_);
    last_ = now;
  }
  tokens_ -= 1;  // reserve one token; a negative balance is paid back by waiting
  if (tokens_ >= 0) return Duration::zero();
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(-tokens_ / qps_));
}

MaxOfRateLimiter::MaxOfRateLimiter(std::vector<RateLimiterPtr> limiters)
    : limiters_(std::move(limiters)) {}

Duration MaxOfRateLimiter::when(const std::string& key) {
  Duration longest = Duration::zero();
  for (const auto& l : limiters_) longest = std::max(longest, l->when(key));
  return longest;
}

void MaxOfRateLimiter::forget(const std::string& key) {
  for (const auto& l : limiters_) l->forget(key);
}

int MaxOfRateLimiter::num_requeues(const std::string& key) {
  int most = 0;
  for (const auto& l : limiters_) most = std::max(most, l->num_requeues(key));
  return most;
}

RateLimiterPtr default_controller_rate_limiter(ClockPtr clock) {
  return std::make_shared<MaxOfRateLimiter>(std::vector<RateLimiterPtr>{
      std::make_shared<ExponentialFailureRateLimiter>(std::chrono::milliseconds(5),
                                                      std::chrono::seconds(1000)),
      std::make_shared<BucketRateLimiter>(10.0, 100, std::move(clock))});
}

WorkQueue::WorkQueue(std::string name, RateLimiterPtr limiter, ClockPtr clock, MetricsPtr metrics)
    : name_(std::move(name)),
      limiter_(limiter ? std::move(limiter) : default_controller_rate_limiter(clock)),
      clock_(std::move(clock)),
      metrics_(std::move(metrics)) {
  delay_thread_ = std::thread([this] { delay_loop(); });
}

WorkQueue::~WorkQueue() {
  shut_down();
  if (delay_thread_.joinable()) delay_thread_.join();
}

void WorkQueue::add_locked(const std::string& key) {
  if (shutting_down_) return;
  if (!dirty_.insert(key).second) return;
  if (metrics_) metrics_->count_queue_add(name_);
  if (processing_.contains(key)) return;  // re-queued by done()
  queue_.push_back(key);
  if (metrics_) metrics_->set_queue_depth(name_, queue_.size());
  cv_.notify_one();
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mu_);
  add_locked(key);
}

void WorkQueue::add_after(const std::string& key, Duration delay) {
  std::lock_guard lock(mu_);
  if (shutting_down_) return;
  if (delay <= Duration::zero()) {
    add_locked(key);
    return;
  }
  const TimePoint ready = clock_->now() + delay;
  auto [it, inserted] = waiting_.try_emplace(key, ready);
  if (!inserted) {
    if (ready >= it->second) return;  // already due earlier
    it->second = ready;
  }
  heap_.emplace(ready, key);  // stale heap entries are skipped by delay_loop
  delay_cv_.notify_one();
}

void WorkQueue::add_rate_limited(const std::string& key) {
  if (metrics_) metrics_->count_queue_retry(name_);
  add_after(key, limiter_->when(key));
}

void WorkQueue::forget(const std::string& key) {
  limiter_->forget(key);
}

int WorkQueue::num_requeues(const std::string& key) {
  return limiter_->num_requeues(key);
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !queue_.empty() || shutting_down_; });
  if (queue_.empty()) return std::nullopt;
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  if (metrics_) metrics_->set_queue_depth(name_, queue_.size());
  return key;
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.contains(key)) {
    queue_.push_back(key);
    if (metrics_) metrics_->set_queue_depth(name_, queue_.size());
    cv_.notify_one();
  } else if (processing_.empty()) {
    cv_.notify_all();  // wakes shut_down_with_drain
  }
}

void WorkQueue::shut_down() {
  std::lock_guard lock(mu_);
  shutting_down_ = true;
  cv_.notify_all();
  delay_cv_.notify_all();
}

void WorkQueue::shut_down_with_drain() {
  std::unique_lock lock(mu_);
  shutting_down_ = true;
  cv_.notify_all();
  delay_cv_.notify_all();
  cv_.wait(lock, [this] { return processing_.empty(); });
}

bool WorkQueue::shutting_down() const {
  std::lock_guard lock(mu_);
  return shutting_down_;
}

std::size_t WorkQueue::len() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::size_t WorkQueue::waiting() const {
  std::lock_guard lock(mu_);
  return waiting_.size();
}

void WorkQueue::delay_loop() {
  std::unique_lock lock(mu_);
  while (!shutting_down_) {
    const TimePoint now = clock_->now();
    while (!heap_.empty() && heap_.top().first <= now) {
      auto [ready, key] = heap_.top();
      heap_.pop();
      const auto it = waiting_.find(key);
      if (it == waiting_.end() || it->second != ready) continue;  // superseded by an earlier add
      waiting_.erase(it);
      add_locked(key);
    }
    if (heap_.empty()) {
      delay_cv_.wait(lock, [this] { return shutting_down_ || !heap_.empty(); });
    } else {
      clock_->wait_until(delay_cv_, lock, heap_.top().first);
    }
  }
}

}  // namespace dso::kube
