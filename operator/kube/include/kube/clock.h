// Time for dso::kube: a Clock interface over the monotonic clock so that queues, backoff, leader
// election and informers can be unit-tested with a fake clock that tests advance by hand
// (tests/fakes/include/fakes/fake_clock.h).
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace dso::kube {

using Duration = std::chrono::steady_clock::duration;
using TimePoint = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  // Blocks on `cv` (with `lock` held on entry and exit) until `deadline` by this clock, a notify,
  // or a spurious wake-up; callers re-check their condition in a loop.
  virtual void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                          TimePoint deadline) = 0;
};
using ClockPtr = std::shared_ptr<Clock>;

// std::chrono::steady_clock.
class RealClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                  TimePoint deadline) override {
    cv.wait_until(lock, deadline);
  }
};

// The process-wide real clock.
ClockPtr real_clock();

}  // namespace dso::kube
