// Jittered exponential backoff with reset after a healthy period: client-go's
// wait.NewExponentialBackoffManager as the reflector uses it (0.8 s initial, x2, 30 s cap, jitter
// 1.0, reset after 2 minutes without a backoff).
#pragma once

#include <functional>
#include <optional>

#include "kube/clock.h"

namespace dso::kube {

struct BackoffPolicy {
  Duration initial = std::chrono::milliseconds(800);
  Duration max = std::chrono::seconds(30);
  double factor = 2.0;
  double jitter = 1.0;  // each delay d becomes d + uniform(0, jitter) * d
  Duration reset_after = std::chrono::minutes(2);
};

// Not thread-safe; one per retry loop.
class Backoff {
 public:
  explicit Backoff(BackoffPolicy policy = {}, ClockPtr clock = real_clock(),
                   std::function<double()> uniform01 = nullptr);
  // The next delay. If the previous call was more than reset_after ago (a healthy period), the
  // sequence starts again from `initial`. The un-jittered base doubles up to `max`; the jittered
  // result may exceed max by up to jitter*max, as in client-go.
  Duration next();
  void reset();

 private:
  BackoffPolicy policy_;
  ClockPtr clock_;
  std::function<double()> uniform01_;
  Duration current_{};
  std::optional<TimePoint> last_;
};

}  // namespace dso::kube
