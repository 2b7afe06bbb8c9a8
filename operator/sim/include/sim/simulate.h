// sim/simulate.h: `deepseek-operator simulate` — flags, the run, and what it writes.
//
//   deepseek-operator simulate [--trace FILE.csv] [--policy hpa,kpa,linear,dsp,seasonal|all]
//       [--cold-start 5m] [--peak-replicas 20 | --capacity X] [--target-utilization 0.7]
//       [--period 15s] [--window 7d] [--out DIR]
//
// Replays a request-rate trace (CSV `timestamp,value`; the bundled nyc_taxi.csv by default) on a
// simulated fleet under each policy, prints the table, and writes per policy DIR/plan-<policy>.csv
// (`timestamp,replicas`: the desired replicas decided at each scored decision) and
// DIR/chart-<policy>.svg. The command file (operator/cmd/simulate_command.cc) only wires this to
// argv; tests call it directly.
#pragma once

#include <cstdio>
#include <expected>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sim/policies.h"
#include "sim/replay.h"
#include "traces/csv.h"

namespace dso::sim {

struct SimulateOptions {
  std::optional<std::string> trace;  // unset: the bundled trace
  std::vector<std::string> policies = policy_names();
  Seconds cold_start = 300;
  std::optional<int> peak_replicas;  // default 20 when no capacity is given
  std::optional<double> capacity;
  double target_utilization = 0.7;
  Seconds period = 15;
  Seconds window = 7 * 86400;
  std::string out_dir = "simulate-out";
  bool help = false;
};

// The --help text.
std::string simulate_usage();

// Parses the flags after `simulate`. Errors are one line naming the flag and the problem.
std::expected<SimulateOptions, std::string> parse_simulate_args(std::span<const std::string> args);

struct SimulationRun {
  std::string trace_name;
  Seconds window_start = 0;
  Seconds window_end = 0;
  double capacity = 0.0;
  double peak_demand = 0.0;
  std::vector<ReplayResult> results;  // in options.policies order
  ReplayResult oracle;
  std::vector<std::string> warnings;  // from reading the trace
  traces::TimestampFormat format = traces::TimestampFormat::kDateTime;
};

// Loads the trace and replays every policy and the oracle. Errors (one line): unreadable or bad
// CSV, a window longer than the trace, a period longer than the window, a window without demand.
// `progress(policy, fraction)` is called during each replay when set.
std::expected<SimulationRun, std::string> run_simulation(
    const SimulateOptions& options,
    const std::function<void(const std::string&, double)>& progress = {});

// Writes the plan CSVs and charts into options.out_dir (created if missing); returns the paths.
std::expected<std::vector<std::string>, std::string> write_outputs(const SimulationRun& run,
                                                                   const SimulateOptions& options);

// The whole command: parse, run, print the table to `out`, progress and errors to `err`
// (a progress bar only when `err_is_terminal`). Returns the exit status: 0, 1 (bad input or
// failed run), 2 (usage).
int simulate_main(std::span<const std::string> args, std::FILE* out, std::FILE* err,
                  bool err_is_terminal);

}  // namespace dso::sim
