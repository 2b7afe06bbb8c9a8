// A kube::Clock for unit tests: time moves only when the test says so. Test-only (dso_fakes).
#pragma once

#include <atomic>

#include "kube/clock.h"

namespace dso::kube {

// A clock that moves only when advance() is called. Waiters poll every millisecond of real time,
// so advancing never loses a wake-up; a test that advances past a deadline sees the effect within
// a few real milliseconds.
class FakeClock final : public Clock {
 public:
  TimePoint now() const override { return TimePoint(Duration(now_.load())); }
  void advance(Duration d) { now_ += d.count(); }
  void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                  TimePoint deadline) override {
    if (now() >= deadline) return;
    cv.wait_for(lock, std::chrono::milliseconds(1));
  }

 private:
  std::atomic<Duration::rep> now_{Duration(std::chrono::hours(1000)).count()};
};

}  // namespace dso::kube
