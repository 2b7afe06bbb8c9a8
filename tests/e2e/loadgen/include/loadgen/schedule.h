// loadgen/schedule.h: when requests arrive. A RateSchedule says the rate (requests/s) at each
// moment of a run; ArrivalProcess draws seeded Poisson arrival times that follow it. Both are pure:
// time is seconds since the start of the run, passed in; nothing here reads a clock.
#pragma once

#include <cstdint>
#include <expected>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace dso::loadgen {

inline constexpr double kNever = std::numeric_limits<double>::infinity();

// A piecewise-constant rate: one constant for ever, or a sequence of rows of equal length.
class RateSchedule {
 public:
  // `rate` requests/s from 0 on, for ever (negative counts as 0).
  static RateSchedule constant(double rate);
  // Row i holds from i*row_seconds to (i+1)*row_seconds; the schedule ends after the last row.
  // Negative and NaN rates count as 0. row_seconds must be > 0.
  static RateSchedule rows(std::vector<double> rates, double row_seconds);

  // The rate at `t` (seconds since start); 0 at and after end().
  double rate_at(double t) const;
  // The first time after `t` at which the rate may change: the next row boundary, kNever for a
  // constant rate or after the end.
  double next_change(double t) const;
  // When the schedule ends: after its last row; kNever for a constant rate.
  double end() const;

 private:
  std::vector<double> rates_;  // one per row; a single value for a constant rate
  double row_seconds_ = 0;     // 0: constant
};

// The --trace file's rows as a schedule: the series read by traces::read_series_csv (regular
// step, gaps filled), from row `start_row` on, each value times `scale` requests/s, each row
// lasting `row_seconds` (0: the trace's own step). Errors name the file and the problem.
std::expected<RateSchedule, std::string> load_trace_schedule(const std::string& path, double scale,
                                                             std::size_t start_row,
                                                             double row_seconds);

// Open-loop Poisson arrivals following a schedule (a non-homogeneous Poisson process): each gap is
// one unit-exponential draw spent against the integral of the rate, so piecewise-constant rates
// are followed exactly and the same seed gives the same times. Not thread-safe.
class ArrivalProcess {
 public:
  ArrivalProcess(RateSchedule schedule, std::uint64_t seed);

  // The first arrival after `t`: kNever when the schedule ends (or stays at 0) before one comes.
  // Cost: O(rows crossed).
  double next_after(double t);
  // Follows `schedule` from now on. Arrivals are memoryless, so the next next_after() simply
  // draws afresh from its argument.
  void set_schedule(RateSchedule schedule) { schedule_ = std::move(schedule); }
  const RateSchedule& schedule() const { return schedule_; }

 private:
  RateSchedule schedule_;
  std::mt19937_64 rng_;
  std::exponential_distribution<double> unit_{1.0};
};

}  // namespace dso::loadgen
