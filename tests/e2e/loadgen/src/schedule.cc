// Rate schedules and the seeded Poisson arrivals that follow them.
#include "loadgen/schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "traces/csv.h"

namespace dso::loadgen {
namespace {

double sane(double rate) {
  return std::isfinite(rate) && rate > 0 ? rate : 0.0;
}

}  // namespace

RateSchedule RateSchedule::constant(double rate) {
  RateSchedule s;
  s.rates_ = {sane(rate)};
  return s;
}

RateSchedule RateSchedule::rows(std::vector<double> rates, double row_seconds) {
  if (!(row_seconds > 0)) throw std::invalid_argument("RateSchedule::rows: row_seconds <= 0");
  RateSchedule s;
  for (double& r : rates) r = sane(r);
  s.rates_ = std::move(rates);
  s.row_seconds_ = row_seconds;
  return s;
}

double RateSchedule::rate_at(double t) const {
  if (row_seconds_ == 0) return rates_.front();
  if (t < 0) t = 0;
  const double row = std::floor(t / row_seconds_);
  return row < static_cast<double>(rates_.size()) ? rates_[static_cast<std::size_t>(row)] : 0.0;
}

double RateSchedule::next_change(double t) const {
  if (row_seconds_ == 0 || t >= end()) return kNever;
  if (t < 0) return 0;
  return (std::floor(t / row_seconds_) + 1) * row_seconds_;
}

double RateSchedule::end() const {
  return row_seconds_ == 0 ? kNever : row_seconds_ * static_cast<double>(rates_.size());
}

std::expected<RateSchedule, std::string> load_trace_schedule(const std::string& path, double scale,
                                                             std::size_t start_row,
                                                             double row_seconds) {
  const auto loaded = traces::read_series_csv(path);
  if (!loaded) return std::unexpected(loaded.error());
  const auto& values = loaded->series.values;
  if (start_row >= values.size()) {
    return std::unexpected(path + ": --trace-start-row " + std::to_string(start_row) +
                           " is past the last row (" + std::to_string(values.size()) + " rows)");
  }
  std::vector<double> rates(values.begin() + static_cast<std::ptrdiff_t>(start_row), values.end());
  for (double& r : rates) r *= scale;
  if (row_seconds <= 0) row_seconds = static_cast<double>(loaded->series.step);
  return RateSchedule::rows(std::move(rates), row_seconds);
}

ArrivalProcess::ArrivalProcess(RateSchedule schedule, std::uint64_t seed)
    : schedule_(std::move(schedule)), rng_(seed) {}

double ArrivalProcess::next_after(double t) {
  // Spend one unit-exponential draw against the integral of the rate, row by row.
  double budget = unit_(rng_);
  for (;;) {
    const double rate = schedule_.rate_at(t);
    const double until = schedule_.next_change(t);
    if (rate > 0) {
      const double gap = budget / rate;
      if (t + gap < until) return t + gap;
      budget = std::max(0.0, budget - rate * (until - t));
    }
    if (until == kNever) return kNever;
    t = until;
  }
}

}  // namespace dso::loadgen
