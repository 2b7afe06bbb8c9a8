// sim/fleet.h: a simulated fleet of GPU replicas with cold starts.
//
// A replica requested at t is ready at t + cold start; a removed replica leaves at once, pending
// ones first (the newest request first, as a Deployment scaled down deletes unready pods before
// ready ones). Every replica, starting or ready, is provisioned and costs GPU time.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

namespace dso::sim {

using Seconds = std::int64_t;

class Fleet {
 public:
  // `ready` replicas are ready at the start. cold_start >= 0.
  Fleet(Seconds cold_start, int ready);

  // Pending replicas whose ready time is <= now become ready; their creation -> Ready durations
  // are kept for take_cold_starts(). Times must not go backwards.
  void advance(Seconds now);
  // Adds pending replicas (ready at now + cold start) or removes replicas (pending first, newest
  // first) so that provisioned() == max(replicas, 0).
  void set_desired(int replicas, Seconds now);

  int ready() const { return ready_; }
  int pending() const { return static_cast<int>(pending_.size()); }
  int provisioned() const { return ready_ + pending(); }
  Seconds cold_start() const { return cold_start_; }

  // The cold starts measured since the last call (what a controller would observe).
  std::vector<Seconds> take_cold_starts();

 private:
  struct Pending {
    Seconds requested_at;
    Seconds ready_at;
  };
  Seconds cold_start_;
  int ready_;
  std::deque<Pending> pending_;  // in request order
  std::vector<Seconds> measured_;
};

}  // namespace dso::sim
