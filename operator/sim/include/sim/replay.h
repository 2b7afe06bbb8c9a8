// sim/replay.h: replaying a demand trace on a simulated fleet under one scaling policy, and
// scoring the result.
//
// The trace (a request rate) is linearly interpolated to the decision period. The replay starts
// a warm-up before the scored window (the policies' stabilization and measurements settle) and
// runs to the trace's end; at each decision a policy sees only the demand it could have observed
// by then (its metric delay included), never the future. Scoring covers the window only:
//   SLO-violation minutes: time where demand exceeds ready capacity (ready replicas x capacity);
//   GPU-hours: provisioned replicas (starting or ready) over time;
//   scale events: decisions that changed the desired replicas;
//   unserved demand: the demand above ready capacity, integrated, as a share of all demand.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "predictor/forecast.h"
#include "sim/fleet.h"

namespace dso::sim {

// Linear interpolation of a regular series onto start + k * period for every such time within
// [series.start, last observation]. NaN values are bridged by their neighbours.
predictor::Series interpolate(const predictor::Series& series, Seconds period);

// What a policy sees at one decision.
struct PolicyInput {
  Seconds now = 0;
  Seconds period = 15;
  // Demand as observed: visible[i] is the demand at grid_start + i * period; the last element is
  // the newest sample the policy may see (now minus its metric delay). Never empty.
  std::span<const double> visible;
  Seconds grid_start = 0;
  int current_replicas = 0;  // desired replicas set at the previous decision
  int ready_replicas = 0;
  std::vector<Seconds> cold_starts;  // measured since the previous decision
  double capacity = 1.0;             // demand one replica serves (the fleet's truth)
  // The time of visible.back().
  Seconds observed_at() const {
    return grid_start + static_cast<Seconds>(visible.size() - 1) * period;
  }
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string name() const = 0;
  // How old the newest demand sample is when the policy decides.
  virtual Seconds metric_delay() const = 0;
  // Called once per decision, in time order; returns the desired replicas.
  virtual int decide(const PolicyInput& input) = 0;
  // Why the last decision came out as it did (one line; empty for policies without one).
  virtual std::string last_explanation() const { return {}; }
};
using PolicyPtr = std::unique_ptr<Policy>;

struct ReplayOptions {
  Seconds period = 15;
  Seconds cold_start = 300;
  double capacity = 1.0;  // demand one replica serves
  // Index into the demand grid of the first scored decision.
  std::size_t first_scored = 0;
  Seconds warmup = 3600;
  // Initial fleet: ceil(demand / (capacity * initial_utilization)) ready replicas.
  double initial_utilization = 0.7;
  int max_replicas = 100000;
};

struct Score {
  double violation_minutes = 0.0;
  double gpu_hours = 0.0;
  int scale_events = 0;
  double unserved = 0.0;      // demand-units x seconds
  double demand_total = 0.0;  // demand-units x seconds over the window
  double unserved_fraction() const { return demand_total > 0 ? unserved / demand_total : 0.0; }
};

struct ReplayResult {
  std::string policy;
  // One entry per scored decision.
  std::vector<Seconds> times;
  std::vector<double> demand;
  std::vector<int> desired;      // what the policy decided (the plan)
  std::vector<int> ready;        // ready replicas when the demand was scored
  std::vector<int> provisioned;  // after the decision
  Score score;
  // CPU time of the replay (this thread), which other work on a shared machine does not inflate.
  double cpu_seconds = 0.0;
};

// Replays `demand` (a grid at options.period) under `policy`. `progress`, when set, is called
// with the fraction done now and then. Cost: O(decisions x the policy's cost per decision).
ReplayResult replay(const predictor::Series& demand, Policy& policy, const ReplayOptions& options,
                    const std::function<void(double)>& progress = {});

// An oracle that knows the future: at each decision it provisions the most replicas the demand
// needs over [now, now + cold start], so that every replica is ready when needed and none is kept
// longer than necessary. It has no SLO violations by construction; the GPU-hours lower bound.
PolicyPtr make_oracle(const predictor::Series& demand, Seconds cold_start, double capacity);

}  // namespace dso::sim
