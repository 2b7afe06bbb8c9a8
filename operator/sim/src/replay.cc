#include "sim/replay.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <deque>
#include <stdexcept>

namespace dso::sim {

predictor::Series interpolate(const predictor::Series& series, Seconds period) {
  if (period <= 0 || series.step <= 0) throw std::invalid_argument("interpolate: bad step");
  predictor::Series out;
  out.start = series.start;
  out.step = period;
  // Index of the last finite value; the grid ends there.
  std::vector<std::size_t> finite;
  for (std::size_t i = 0; i < series.values.size(); ++i) {
    if (std::isfinite(series.values[i])) finite.push_back(i);
  }
  if (finite.empty()) return out;
  const Seconds last = series.time_at(finite.back());
  std::size_t j = 0;  // finite[j] <= t < finite[j + 1]
  for (Seconds t = series.start; t <= last; t += period) {
    while (j + 1 < finite.size() && series.time_at(finite[j + 1]) <= t) ++j;
    const Seconds t0 = series.time_at(finite[j]);
    const double v0 = series.values[finite[j]];
    if (t <= t0 || j + 1 >= finite.size()) {
      out.values.push_back(v0);
      continue;
    }
    const Seconds t1 = series.time_at(finite[j + 1]);
    const double v1 = series.values[finite[j + 1]];
    const double w = static_cast<double>(t - t0) / static_cast<double>(t1 - t0);
    out.values.push_back(v0 + (v1 - v0) * w);
  }
  return out;
}

ReplayResult replay(const predictor::Series& demand, Policy& policy, const ReplayOptions& options,
                    const std::function<void(double)>& progress) {
  if (options.period <= 0 || options.capacity <= 0 || demand.step != options.period) {
    throw std::invalid_argument("replay: demand grid must be at the decision period");
  }
  const std::size_t n = demand.values.size();
  if (options.first_scored >= n) throw std::invalid_argument("replay: nothing to score");
  std::timespec cpu_start{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu_start);
  const auto warmup_steps = static_cast<std::size_t>(options.warmup / options.period);
  const std::size_t first =
      options.first_scored > warmup_steps ? options.first_scored - warmup_steps : 0;
  const auto delay_steps = static_cast<std::size_t>(
      (std::max<Seconds>(0, policy.metric_delay()) + options.period - 1) / options.period);

  const double dt = static_cast<double>(options.period);
  const int initial = std::max(
      1, static_cast<int>(std::ceil(
             demand.values[first] / (options.capacity * options.initial_utilization) - 1e-9)));
  Fleet fleet(options.cold_start, initial);
  ReplayResult result;
  result.policy = policy.name();
  const std::size_t scored = n - options.first_scored;
  result.times.reserve(scored);
  result.demand.reserve(scored);
  result.desired.reserve(scored);
  result.ready.reserve(scored);
  result.provisioned.reserve(scored);
  int current = initial;
  const std::size_t report_every = std::max<std::size_t>(1, (n - first) / 200);
  for (std::size_t k = first; k < n; ++k) {
    const Seconds now = demand.time_at(k);
    fleet.advance(now);
    const double d = demand.values[k];
    const bool scoring = k >= options.first_scored;
    if (scoring) {
      const double ready_capacity = fleet.ready() * options.capacity;
      result.score.demand_total += d * dt;
      // A relative 1e-9 forgives floating-point noise (capacity = peak / N makes the peak exactly
      // N replicas' worth), as the engine's ceil does.
      if (d > ready_capacity * (1.0 + 1e-9)) {
        result.score.violation_minutes += dt / 60.0;
        result.score.unserved += (d - ready_capacity) * dt;
      }
      result.ready.push_back(fleet.ready());
    }
    PolicyInput in;
    in.now = now;
    in.period = options.period;
    in.grid_start = demand.start;
    const std::size_t visible_end = k >= delay_steps ? k - delay_steps + 1 : 1;
    in.visible = std::span<const double>(demand.values.data(), visible_end);
    in.current_replicas = current;
    in.ready_replicas = fleet.ready();
    in.cold_starts = fleet.take_cold_starts();
    in.capacity = options.capacity;
    const int desired = std::clamp(policy.decide(in), 0, options.max_replicas);
    fleet.set_desired(desired, now);
    if (scoring) {
      if (desired != current) ++result.score.scale_events;
      result.times.push_back(now);
      result.demand.push_back(d);
      result.desired.push_back(desired);
      result.provisioned.push_back(fleet.provisioned());
      result.score.gpu_hours += fleet.provisioned() * dt / 3600.0;
    }
    current = desired;
    if (progress && (k - first) % report_every == 0) {
      progress(static_cast<double>(k - first) / static_cast<double>(n - first));
    }
  }
  if (progress) progress(1.0);
  std::timespec cpu_end{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu_end);
  result.cpu_seconds = static_cast<double>(cpu_end.tv_sec - cpu_start.tv_sec) +
                       1e-9 * static_cast<double>(cpu_end.tv_nsec - cpu_start.tv_nsec);
  return result;
}

namespace {

class OraclePolicy final : public Policy {
 public:
  OraclePolicy(const predictor::Series& demand, Seconds cold_start, double capacity)
      : demand_(demand), capacity_(capacity) {
    lookahead_ = static_cast<std::size_t>((cold_start + demand.step - 1) / demand.step);
    // need[k] then a sliding maximum over [k, k + lookahead].
    const std::size_t n = demand.values.size();
    plan_.assign(n, 0);
    std::deque<std::size_t> window;  // indices with decreasing need
    auto need = [&](std::size_t i) {
      return std::max(0, static_cast<int>(std::ceil(demand.values[i] / capacity_ - 1e-9)));
    };
    std::size_t next = 0;
    for (std::size_t k = 0; k < n; ++k) {
      while (next < n && next <= k + lookahead_) {
        while (!window.empty() && need(window.back()) <= need(next)) window.pop_back();
        window.push_back(next++);
      }
      while (window.front() < k) window.pop_front();
      plan_[k] = need(window.front());
    }
  }
  std::string name() const override { return "oracle"; }
  Seconds metric_delay() const override { return 0; }
  int decide(const PolicyInput& in) override {
    const auto k = static_cast<std::size_t>((in.now - demand_.start) / demand_.step);
    return k < plan_.size() ? plan_[k] : in.current_replicas;
  }

 private:
  predictor::Series demand_;
  double capacity_;
  std::size_t lookahead_ = 0;
  std::vector<int> plan_;
};

}  // namespace

PolicyPtr make_oracle(const predictor::Series& demand, Seconds cold_start, double capacity) {
  return std::make_unique<OraclePolicy>(demand, cold_start, capacity);
}

}  // namespace dso::sim
