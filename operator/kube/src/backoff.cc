#include "kube/backoff.h"

#include <optional>
#include <random>

namespace dso::kube {

Backoff::Backoff(BackoffPolicy policy, ClockPtr clock, std::function<double()> uniform01)
    : policy_(policy), clock_(std::move(clock)), uniform01_(std::move(uniform01)) {
  if (!uniform01_) {
    uniform01_ = [] {
      thread_local std::mt19937_64 rng{std::random_device{}()};
      return std::uniform_real_distribution<double>(0, 1)(rng);
    };
  }
}

Duration Backoff::next() {
  const TimePoint now = clock_->now();
  if (!last_ || now - *last_ > policy_.reset_after) {
    current_ = policy_.initial;
  } else {
    current_ =
        std::min(policy_.max, std::chrono::duration_cast<Duration>(current_ * policy_.factor));
  }
  last_ = now;
  const double extra = policy_.jitter > 0 ? uniform01_() * policy_.jitter : 0.0;
  return current_ + std::chrono::duration_cast<Duration>(current_ * extra);
}

void Backoff::reset() {
  last_.reset();
  current_ = Duration::zero();
}

}  // namespace dso::kube
