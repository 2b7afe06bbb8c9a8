// Leader election on a coordination.k8s.io/v1 Lease, with client-go's algorithm: acquire when the
// lease is free or its holder has not renewed it for a lease duration (judged on this process's
// monotonic clock from when the record was last seen to change, never from timestamps written by
// another machine), renew every retry period, give up when a renewal has not succeeded within the
// renew deadline, release the lease on clean shutdown.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>

#include "kube/client.h"
#include "kube/clock.h"
#include "kube/metrics.h"

namespace dso::kube {

struct LeaderElectionConfig {
  std::string lease_namespace;
  std::string lease_name;
  std::string identity;  // default: default_identity()
  Duration lease_duration = std::chrono::seconds(15);
  Duration renew_deadline = std::chrono::seconds(10);
  Duration retry_period = std::chrono::seconds(2);
  bool release_on_cancel = true;
  ClockPtr clock = real_clock();
  MetricsPtr metrics;
  // Called on the elector's thread when this process becomes leader; must return promptly (start
  // controllers on their own threads).
  std::function<void()> on_started_leading;
  // Called on the elector's thread when leadership ends for any reason (lost or released); the
  // process should stop every controller (or exit).
  std::function<void()> on_stopped_leading;
  // Called when a different holder is observed.
  std::function<void(const std::string& identity)> on_new_leader;
  std::function<void(const std::string& message)> on_log;
};

// "hostname_uuid" (client-go convention), unique per process start.
std::string default_identity();

class LeaderElector {
 public:
  // Checks the durations (lease > renew deadline > retry period * 1.2, as client-go requires);
  // throws std::invalid_argument naming the field otherwise.
  LeaderElector(KubeClientPtr client, LeaderElectionConfig config);

  // Blocks: tries to acquire every retry period until it does or `stop` is requested; then renews
  // until leadership is lost or `stop` is requested (then releases the lease when configured).
  // Returns after on_stopped_leading has run (if it had been leading).
  void run(std::stop_token stop);

  // True while this process holds the lease and its last successful renewal, timed from when its
  // request was sent, is younger than the renew deadline: a process whose renewal hangs stops
  // claiming leadership before anyone can take over (gate writes on it: LeaderGatedClient). Give
  // the elector a client of its own with a request timeout under the retry period and one attempt,
  // so that a hung connection cannot hold the renewal loop for longer than that.
  bool is_leader() const;
  const std::string& identity() const { return config_.identity; }
  // The holder last seen in the lease ("" when none).
  std::string observed_leader() const;

 private:
  bool try_acquire_or_renew();
  void release();
  void wait(std::stop_token stop, Duration d);
  void log(const std::string& m);

  KubeClientPtr client_;
  LeaderElectionConfig config_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Json observed_spec_;
  TimePoint observed_time_{};
  std::string observed_rv_;
  std::atomic<bool> leading_{false};
  std::atomic<TimePoint::rep> last_renew_{0};
};

}  // namespace dso::kube
