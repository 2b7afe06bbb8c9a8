// The policies of `deepseek-operator simulate` (see policies.h).
#include "sim/policies.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <numeric>
#include <unsupported/Eigen/FFT>

#include "autoscaler/decision.h"

namespace dso::sim {

const std::vector<std::string>& policy_names() {
  static const std::vector<std::string> names{"hpa", "kpa", "linear", "dsp", "seasonal"};
  return names;
}

predictor::Series bucket_max(std::span<const double> values, Seconds start, Seconds period,
                             Seconds step) {
  predictor::Series out;
  out.step = step;
  if (values.empty()) return out;
  auto bucket_of = [&](Seconds t) { return t >= 0 ? t / step : -((-t + step - 1) / step); };
  const Seconds first_bucket = bucket_of(start);
  out.start = first_bucket * step;
  const Seconds last_time = start + static_cast<Seconds>(values.size() - 1) * period;
  // Only complete buckets: the last one must end at or before the last sample.
  const Seconds end_bucket = bucket_of(last_time + period);  // exclusive
  if (end_bucket <= first_bucket) return out;
  out.values.assign(static_cast<std::size_t>(end_bucket - first_bucket),
                    std::numeric_limits<double>::quiet_NaN());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const Seconds b = bucket_of(start + static_cast<Seconds>(i) * period) - first_bucket;
    if (b < 0 || b >= static_cast<Seconds>(out.values.size()) || !std::isfinite(values[i]))
      continue;
    double& slot = out.values[static_cast<std::size_t>(b)];
    slot = std::isnan(slot) ? values[i] : std::max(slot, values[i]);
  }
  return out;
}

namespace {

using autoscaler::MetricKind;
using autoscaler::Observation;
using autoscaler::ScalerState;
using autoscaler::ScalingPolicy;

int ceil_replicas(double x) {
  if (!(x > 0.0)) return 0;
  return static_cast<int>(std::min(1e9, std::ceil(x - 1e-9)));
}

autoscaler::MetricTarget utilization_metric(double target) {
  return {"utilization", MetricKind::kAverageValue, target, std::nullopt};
}

// Builds the engine's observation from what the replay shows a policy.
Observation observe(const PolicyInput& in) {
  Observation o;
  o.current_replicas = in.current_replicas;
  o.ready_replicas = in.ready_replicas;
  const double demand = in.visible.back();
  const Seconds at = in.observed_at();
  const double util = in.ready_replicas > 0 ? demand / (in.ready_replicas * in.capacity) : 0.0;
  o.metrics.push_back({"utilization", util, at});
  o.demand = demand;
  o.demand_sampled_at = at;
  o.cold_starts = in.cold_starts;
  return o;
}

// A policy decided by the dso::autoscaler engine.
class EnginePolicy : public Policy {
 public:
  EnginePolicy(std::string name, ScalingPolicy policy, Seconds delay)
      : policy_(std::move(policy)), name_(std::move(name)), delay_(delay) {}
  std::string name() const override { return name_; }
  Seconds metric_delay() const override { return delay_; }
  int decide(const PolicyInput& in) override {
    Observation o = observe(in);
    extend(in, o);
    auto result = autoscaler::decide(policy_, o, std::move(state_), in.now);
    state_ = std::move(result.state);
    explanation_ = std::move(result.decision.explanation);
    return result.decision.replicas;
  }
  std::string last_explanation() const override { return explanation_.summary(); }

 protected:
  virtual void extend(const PolicyInput&, Observation&) {}
  ScalingPolicy policy_;

 private:
  std::string name_;
  Seconds delay_;
  ScalerState state_;
  autoscaler::Explanation explanation_;
};

constexpr Seconds kMetricDelay = 60;

// Knative Pod Autoscaler (pkg/autoscaler/scaling/autoscaler.go), on demand in replica units.
class KpaPolicy final : public Policy {
 public:
  explicit KpaPolicy(const PolicyParams& p) : params_(p) {}
  std::string name() const override { return "kpa"; }
  Seconds metric_delay() const override { return 0; }
  int decide(const PolicyInput& in) override {
    const double target = params_.target_utilization;  // per-pod target, replica units
    auto window_mean = [&](Seconds window) {
      const auto steps = std::max<std::size_t>(1, static_cast<std::size_t>(window / in.period));
      const std::size_t n = std::min(steps, in.visible.size());
      double sum = 0;
      for (std::size_t i = in.visible.size() - n; i < in.visible.size(); ++i) sum += in.visible[i];
      return sum / static_cast<double>(n) / in.capacity;
    };
    const int ready = std::max(1, in.ready_replicas);
    int desired_stable = ceil_replicas(window_mean(kStableWindow) / target);
    int desired_panic = ceil_replicas(window_mean(kPanicWindow) / target);
    const int max_up = static_cast<int>(std::ceil(kMaxScaleUpRate * ready));
    const int max_down = static_cast<int>(std::floor(ready / kMaxScaleDownRate));
    desired_stable = std::clamp(desired_stable, max_down, max_up);
    desired_panic = std::clamp(desired_panic, max_down, max_up);
    const bool over_threshold = static_cast<double>(desired_panic) / ready >= kPanicThreshold;
    if (over_threshold) {
      if (!panic_since_) panic_since_ = in.now;
      panic_since_ = in.now;  // Knative restarts the panic timer while over the threshold
    } else if (panic_since_ && in.now - *panic_since_ >= kStableWindow) {
      panic_since_.reset();
      max_panic_pods_ = 0;
    }
    int desired = desired_stable;
    if (panic_since_) {
      // In panic the autoscaler never scales down.
      max_panic_pods_ = std::max({max_panic_pods_, desired_panic, in.current_replicas});
      desired = max_panic_pods_;
    }
    return std::clamp(desired, 1, params_.max_replicas);
  }

 private:
  static constexpr Seconds kStableWindow = 60;
  static constexpr Seconds kPanicWindow = 6;  // 10% of the stable window
  static constexpr double kPanicThreshold = 2.0;
  static constexpr double kMaxScaleUpRate = 1000.0;
  static constexpr double kMaxScaleDownRate = 2.0;
  PolicyParams params_;
  std::optional<Seconds> panic_since_;
  int max_panic_pods_ = 0;
};

// AIBrix-APA-like: reactive with asymmetric tolerance, max with a linear projection.
class LinearPolicy final : public Policy {
 public:
  explicit LinearPolicy(const PolicyParams& p) : params_(p) {}
  std::string name() const override { return "linear"; }
  Seconds metric_delay() const override { return kMetricDelay; }
  int decide(const PolicyInput& in) override {
    const double per_replica = in.capacity * params_.target_utilization;
    const double demand = in.visible.back();
    // Reactive: ratio of demand to what the current replicas serve at the target.
    const int current = std::max(1, in.current_replicas);
    const double ratio = demand / (current * per_replica);
    int reactive = in.current_replicas;
    if (ratio > 1.0 + kUpTolerance || ratio < 1.0 - kDownTolerance) {
      reactive = ceil_replicas(demand / per_replica);
    }
    // Least squares over the last 180 s, projected 120 s past the newest sample.
    const auto steps = static_cast<std::size_t>(kFitWindow / in.period) + 1;
    const std::size_t n = std::min(steps, in.visible.size());
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double x = -static_cast<double>((n - 1 - i) * in.period);
      const double y = in.visible[in.visible.size() - n + i];
      sx += x;
      sy += y;
      sxx += x * x;
      sxy += x * y;
    }
    double projected = demand;
    const double denom = n * sxx - sx * sx;
    if (n >= 2 && denom > 0) {
      const double slope = (n * sxy - sx * sy) / denom;
      const double intercept = (sy - slope * sx) / n;
      projected = intercept + slope * static_cast<double>(kProjectAhead);
    }
    const int predicted = ceil_replicas(projected / per_replica);
    return std::clamp(std::max(reactive, predicted), 1, params_.max_replicas);
  }

 private:
  static constexpr Seconds kFitWindow = 180;
  static constexpr Seconds kProjectAhead = 120;
  static constexpr double kUpTolerance = 0.1;
  static constexpr double kDownTolerance = 0.2;
  PolicyParams params_;
};

ScalingPolicy base_policy(const PolicyParams& params) {
  ScalingPolicy p;
  p.min_replicas = 1;
  p.max_replicas = params.max_replicas;
  p.metrics = {utilization_metric(params.target_utilization)};
  p.demand_floor = false;
  p.predictive.decision_period = params.period;
  return p;
}

// Crane-EHPA-like: an FFT forecast of the next cycle as a second HPA metric.
class DspPolicy final : public EnginePolicy {
 public:
  explicit DspPolicy(const PolicyParams& params)
      : EnginePolicy("dsp", make(params), kMetricDelay) {}

 private:
  static ScalingPolicy make(const PolicyParams& params) {
    ScalingPolicy p = base_policy(params);
    p.metrics.push_back(
        {"predicted", MetricKind::kTotalValue, params.target_utilization, std::nullopt});
    return p;
  }
  void extend(const PolicyInput& in, Observation& o) override {
    if (!fitted_at_ || in.now - *fitted_at_ >= kRefitEvery) refit(in);
    if (model_.empty()) return;  // too little history: the HPA part alone
    double peak = 0.0;
    const auto n = static_cast<Seconds>(model_.size());
    for (Seconds t = in.now; t <= in.now + kPredictionWindow; t += kSample) {
      Seconds i = ((t - model_start_) / kSample) % n;
      if (i < 0) i += n;
      peak = std::max(peak, model_[static_cast<std::size_t>(i)]);
    }
    o.metrics.push_back({"predicted", peak * (1.0 + kMargin) / in.capacity, in.observed_at()});
  }
  void refit(const PolicyInput& in) {
    fitted_at_ = in.now;
    // 1-minute means of the visible history, the last 3 days of complete minutes.
    const auto per_sample = std::max<std::size_t>(1, static_cast<std::size_t>(kSample / in.period));
    const std::size_t minutes = in.visible.size() / per_sample;
    const auto want = static_cast<std::size_t>(kHistory / kSample);
    if (minutes < static_cast<std::size_t>(86400 / kSample)) return;  // under one day
    // Whole days only: the reconstruction repeats with the history's length, so a whole number of
    // daily cycles keeps the daily shape in phase (and keeps the FFT size smooth: 1440 k).
    const std::size_t day = static_cast<std::size_t>(86400 / kSample);
    const std::size_t n = std::min(minutes, want) / day * day;
    const std::size_t first_sample = in.visible.size() - n * per_sample;
    std::vector<double> x(n);
    for (std::size_t m = 0; m < n; ++m) {
      double sum = 0;
      for (std::size_t j = 0; j < per_sample; ++j)
        sum += in.visible[first_sample + m * per_sample + j];
      x[m] = sum / static_cast<double>(per_sample);
    }
    Eigen::FFT<double> fft;
    std::vector<std::complex<double>> spectrum;
    fft.fwd(spectrum, x);
    // Keep the mean and the strongest components with periods of at least 30 minutes.
    const std::size_t half = n / 2;
    const auto max_k = static_cast<std::size_t>(static_cast<double>(n) * kSample / kMinPeriod);
    std::vector<std::size_t> order;
    for (std::size_t k = 1; k <= std::min(half, max_k); ++k) order.push_back(k);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return std::abs(spectrum[a]) > std::abs(spectrum[b]);
    });
    if (order.size() > kComponents) order.resize(kComponents);
    std::vector<std::complex<double>> kept(n, {0.0, 0.0});
    kept[0] = spectrum[0];
    for (const std::size_t k : order) {
      kept[k] = spectrum[k];
      if (k != n - k) kept[n - k] = spectrum[n - k];
    }
    std::vector<double> filtered;
    fft.inv(filtered, kept);
    model_ = std::move(filtered);
    // The reconstruction is periodic in n samples; sample m of it is at model_start_ + m minutes.
    model_start_ = in.grid_start + static_cast<Seconds>(first_sample) * in.period;
  }

  static constexpr Seconds kSample = 60;
  static constexpr Seconds kHistory = 3 * 86400;
  static constexpr Seconds kRefitEvery = 3600;
  static constexpr Seconds kPredictionWindow = 3600;
  static constexpr Seconds kMinPeriod = 1800;
  static constexpr std::size_t kComponents = 20;
  static constexpr double kMargin = 0.1;
  std::optional<Seconds> fitted_at_;
  std::vector<double> model_;
  Seconds model_start_ = 0;
};

// This project's policy: the engine's predictive floor fed by dso::predictor::forecast.
class SeasonalPolicy final : public EnginePolicy {
 public:
  SeasonalPolicy(const PolicyParams& params, const SeasonalSettings& settings)
      : EnginePolicy("seasonal", seasonal_scaling_policy(params, settings), kMetricDelay),
        settings_(settings) {}

 private:
  void extend(const PolicyInput& in, Observation& o) override {
    if (!fitted_at_ || in.now - *fitted_at_ >= settings_.refit_every) refit(in);
    o.forecast = forecast_;
  }
  void refit(const PolicyInput& in) {
    fitted_at_ = in.now;
    const auto keep = static_cast<std::size_t>(settings_.history / in.period);
    const std::size_t from = in.visible.size() > keep ? in.visible.size() - keep : 0;
    const auto history =
        bucket_max(in.visible.subspan(from), in.grid_start + static_cast<Seconds>(from) * in.period,
                   in.period, settings_.forecast_step);
    predictor::ForecastOptions options;
    // From the history's end (up to one step + the metric delay behind now) to now + span.
    const Seconds reach = in.now + settings_.refit_every + settings_.horizon_margin - history.end();
    options.horizon = static_cast<std::size_t>(
        std::max<Seconds>(1, (reach + settings_.forecast_step - 1) / settings_.forecast_step));
    options.quantiles = {settings_.quantile};
    options.backtest_origins = settings_.backtest_origins;
    options.calibrate_quantiles = settings_.calibrate_quantiles;
    options.max_history_days = static_cast<double>(settings_.history) / 86400.0;
    auto forecast = predictor::forecast(history, options);
    if (forecast) {
      forecast_ = std::make_shared<const predictor::Forecast>(std::move(*forecast));
    }
    // On failure (too little history) the previous forecast stays until it runs out; the engine
    // then says "forecast does not cover now" and scales reactively.
  }

  SeasonalSettings settings_;
  std::optional<Seconds> fitted_at_;
  autoscaler::ForecastPtr forecast_;
};

}  // namespace

ScalingPolicy hpa_scaling_policy(const PolicyParams& params) {
  return base_policy(params);
}

ScalingPolicy seasonal_scaling_policy(const PolicyParams& params, const SeasonalSettings& s) {
  ScalingPolicy p = base_policy(params);
  p.metrics[0].predictive_target = s.reactive_target;
  p.capacity_per_replica = params.capacity;
  p.demand_floor = true;
  p.predictive.scale_down_window = s.scale_down_window;
  p.predictive.enabled = true;
  p.predictive.quantile = s.quantile;
  p.predictive.correction_window = s.correction_window;
  p.predictive.gate_max_error = s.gate_max_error;
  p.predictive.decision_period = params.period;
  return p;
}

std::expected<PolicyPtr, std::string> make_policy(std::string_view name, const PolicyParams& params,
                                                  const SeasonalSettings& seasonal) {
  if (name == "hpa")
    return std::make_unique<EnginePolicy>("hpa", hpa_scaling_policy(params), kMetricDelay);
  if (name == "kpa") return std::make_unique<KpaPolicy>(params);
  if (name == "linear") return std::make_unique<LinearPolicy>(params);
  if (name == "dsp") return std::make_unique<DspPolicy>(params);
  if (name == "seasonal") return std::make_unique<SeasonalPolicy>(params, seasonal);
  std::string known;
  for (const auto& n : policy_names()) known += (known.empty() ? "" : ", ") + n;
  return std::unexpected("unknown policy '" + std::string(name) + "' (known: " + known + ", all)");
}

}  // namespace dso::sim
