// A kube::Clock for unit tests: time moves only when the test says so. Test-only (dso_fakes).
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

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
    {
      std::lock_guard guard(sleepers_mu_);
      deadlines_[std::this_thread::get_id()] = deadline;
    }
    if (now() >= deadline) return;
    cv.wait_for(lock, std::chrono::milliseconds(1));
  }

  // Threads whose latest wait is for a deadline after now: asleep until time moves. A test that
  // waits for its workers to be asleep before advancing knows each one has finished what it was
  // doing and will wake at its own deadline, not at the next one.
  int sleepers() const {
    std::lock_guard guard(sleepers_mu_);
    int n = 0;
    for (const auto& [thread, deadline] : deadlines_) n += deadline > now() ? 1 : 0;
    return n;
  }
  // Forgets a thread that ended while it waited (it is no sleeper any more).
  void forget(std::thread::id thread) {
    std::lock_guard guard(sleepers_mu_);
    deadlines_.erase(thread);
  }

 private:
  std::atomic<Duration::rep> now_{Duration(std::chrono::hours(1000)).count()};
  mutable std::mutex sleepers_mu_;
  std::map<std::thread::id, TimePoint> deadlines_;
};

}  // namespace dso::kube
