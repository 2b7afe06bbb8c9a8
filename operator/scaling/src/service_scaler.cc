// One service's live autoscaler (see service_scaler.h).
#include "scaling/service_scaler.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <limits>

#include "scaling/policy.h"

namespace dso::scaling {
namespace {

Seconds floor_to(Seconds t, Seconds step) {
  return (t >= 0 ? t / step : -((-t + step - 1) / step)) * step;
}

double thread_cpu_seconds() {
  std::timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// The forecast's value of `band` at time t (the step containing it), or nullopt.
std::optional<double> value_at(const predictor::Forecast& f, const std::vector<double>& band,
                               Seconds t) {
  if (f.step <= 0 || t < f.start) return std::nullopt;
  const auto i = static_cast<std::size_t>((t - f.start) / f.step);
  if (i >= band.size()) return std::nullopt;
  return band[i];
}

}  // namespace

predictor::Series bucket_max(const predictor::Series& series, Seconds step) {
  predictor::Series out;
  out.step = step;
  if (series.values.empty() || step <= 0) return out;
  out.start = floor_to(series.start, step);
  const Seconds end = floor_to(series.end(), step);  // complete buckets only
  if (end <= out.start) return out;
  out.values.assign(static_cast<std::size_t>((end - out.start) / step),
                    std::numeric_limits<double>::quiet_NaN());
  for (std::size_t i = 0; i < series.values.size(); ++i) {
    const double v = series.values[i];
    if (!std::isfinite(v)) continue;
    const Seconds b = (floor_to(series.time_at(i), step) - out.start) / step;
    if (b < 0 || b >= static_cast<Seconds>(out.values.size())) continue;
    double& slot = out.values[static_cast<std::size_t>(b)];
    slot = std::isnan(slot) ? v : std::max(slot, v);
  }
  return out;
}

ServiceScaler::ServiceScaler(ScalerSettings settings) : settings_(settings) {}

std::size_t ServiceScaler::history_points() const {
  return history_ ? history_->history().values.size() : 0;
}

void ServiceScaler::record(DecisionRecord record) {
  decisions_.push_back(std::move(record));
  while (decisions_.size() > settings_.decisions_kept) decisions_.pop_front();
}

void ServiceScaler::update_history(const api::DeepSeekService& service,
                                   metrics::MetricsSource& source, Seconds now,
                                   StepResult& result) {
  const api::Predictive& pr = service.spec.autoscaling.predictive;
  const Seconds span = std::chrono::duration_cast<std::chrono::seconds>(pr.history).count();
  const std::string key = std::to_string(span) + "/" + pr.model;
  if (key != history_key_) {  // first step, or the history settings changed: load again
    history_key_ = key;
    history_.reset();
    forecast_.reset();
    fitted_at_.reset();
    refit_tried_at_.reset();
    history_failed_at_.reset();
  }
  const Seconds step = settings_.history_step;
  const Seconds end = floor_to(now, step);
  if (!history_) {
    if (history_failed_at_ && now - *history_failed_at_ < settings_.history_retry) return;
    const Seconds start = end - std::max(step, floor_to(span, step));
    ++result.history_queries;
    auto loaded = source.demand_history(service, start, end, step);
    if (!loaded) {
      ++result.failed_history_queries;
      history_failed_at_ = now;
      history_problem_ = "history not loaded: " + loaded.error();
      return;
    }
    auto options = forecast_options(service.spec);
    predictor::ForecastOptions fo = options ? *options : predictor::ForecastOptions{};
    fo.max_history_days = static_cast<double>(std::max(span, step)) / 86400.0;
    history_.emplace(step, fo);
    for (std::size_t i = 0; i < loaded->values.size(); ++i) {
      const double v = loaded->values[i];
      const Seconds t = loaded->time_at(i);
      if (std::isfinite(v) && t >= start && t < end) (void)history_->observe(t, v);
    }
    loaded_until_ = end;
    history_failed_at_.reset();
    history_problem_.clear();
    return;
  }
  if (end - loaded_until_ < step) return;
  // Catch up from where the history ends, but never more than the history's span.
  const Seconds start = std::max(loaded_until_, end - std::max(step, floor_to(span, step)));
  ++result.history_queries;
  auto more = source.demand_history(service, start, end, step);
  if (!more) {
    ++result.failed_history_queries;
    history_problem_ = "history update failed: " + more.error();
    return;
  }
  history_problem_.clear();
  for (std::size_t i = 0; i < more->values.size(); ++i) {
    const double v = more->values[i];
    const Seconds t = more->time_at(i);
    if (std::isfinite(v) && t >= start && t < end) (void)history_->observe(t, v);
  }
  loaded_until_ = end;
}

void ServiceScaler::maybe_refit(const api::DeepSeekService& service,
                                const autoscaler::ScalingPolicy& policy, Seconds now,
                                StepResult& result) {
  if (!history_) return;
  const Seconds horizon_end =
      now + policy.predictive.cold_start + 4 * policy.predictive.decision_period;
  bool due = !forecast_;
  if (fitted_at_ && now - *fitted_at_ >= settings_.refit_every) due = true;
  if (forecast_ &&
      forecast_->start + static_cast<Seconds>(forecast_->point.size()) * forecast_->step <
          horizon_end + 3600) {
    due = true;  // runs out within the hour: it must keep covering the horizon
  }
  if (last_ && fitted_at_ && now - *fitted_at_ >= settings_.min_refit_interval &&
      (last_->forecast_gated ||
       last_->forecast_error > settings_.refit_error_fraction * policy.predictive.gate_max_error)) {
    due = true;  // accuracy dropped
  }
  // Failed or not-yet-possible fits are retried at the accuracy cadence, not every period.
  if (due && refit_tried_at_ && (!fitted_at_ || *refit_tried_at_ > *fitted_at_) &&
      now - *refit_tried_at_ < settings_.min_refit_interval) {
    due = false;
  }
  if (!due) return;
  refit_tried_at_ = now;
  auto options = forecast_options(service.spec);
  if (!options) {
    fit_problem_ = options.error();
    return;
  }
  const double cpu_start = thread_cpu_seconds();
  const predictor::Series history = bucket_max(history_->history(), settings_.forecast_step);
  std::size_t finite = 0;
  for (const double v : history.values) finite += std::isfinite(v) ? 1 : 0;
  if (finite < 2) {
    fit_problem_ = "too little history to forecast (" + std::to_string(finite) + " points)";
    return;
  }
  const Seconds reach = now + settings_.refit_every + settings_.forecast_margin - history.end();
  options->horizon = static_cast<std::size_t>(
      std::max<Seconds>(1, (reach + settings_.forecast_step - 1) / settings_.forecast_step));
  auto fitted = predictor::forecast(history, *options);
  result.refit_seconds = thread_cpu_seconds() - cpu_start;
  result.refitted = true;
  if (!fitted) {
    fit_problem_ = "forecast failed: " + fitted.error();
    return;
  }
  fit_problem_.clear();
  forecast_ = std::make_shared<const predictor::Forecast>(std::move(*fitted));
  fitted_at_ = now;
}

void mark_partial_coverage(metrics::ServiceLoad& load, int ready_pods) {
  if (!load.reporting_pods || *load.reporting_pods >= ready_pods) return;
  const std::string note = std::to_string(*load.reporting_pods) + " of " +
                           std::to_string(ready_pods) + " ready pods reported requests";
  load.problems.push_back("demand: " + note + " (some pods went unscraped: scaling down is held)");
  for (auto& sample : load.metrics) {
    if (sample.partial) continue;
    sample.partial = true;
    sample.partial_note = note;
  }
}

void ServiceScaler::resume(Seconds now) {
  if (decisions_.empty()) return;
  // Decisions are recorded when they change something, so the newest one still held at `now`.
  for (const auto& d : decisions_) {
    if (d.acted) state_.recommendations.push_back({d.at, d.replicas});
  }
  if (decisions_.back().acted) state_.recommendations.push_back({now, decisions_.back().replicas});
}

StepResult ServiceScaler::step(const api::DeepSeekService& service,
                               const autoscaler::ScalingPolicy& policy, const StepInput& input,
                               metrics::MetricsSource& source, Seconds now) {
  StepResult result;
  const bool predictive = policy.predictive.enabled;
  if (predictive) {
    update_history(service, source, now, result);
    maybe_refit(service, policy, now, result);
  } else {
    history_.reset();
    history_key_.clear();
    forecast_.reset();
    fitted_at_.reset();
  }
  result.load = source.current(service, now);
  mark_partial_coverage(result.load, input.ready_replicas);

  autoscaler::Observation o;
  o.current_replicas = input.current_replicas;
  o.ready_replicas = input.ready_replicas;
  o.metrics = result.load.metrics;
  o.demand = result.load.demand;
  o.demand_sampled_at = result.load.demand_sampled_at;
  o.cold_starts = input.cold_starts;
  if (predictive) o.forecast = forecast_;
  auto decided = autoscaler::decide(policy, o, std::move(state_), now);
  state_ = std::move(decided.state);
  result.decision = std::move(decided.decision);
  last_ = result.decision.explanation;

  if (predictive && !forecast_) {
    result.forecast_problem = !history_problem_.empty() ? history_problem_
                              : !fit_problem_.empty()   ? fit_problem_
                                                        : "no forecast yet";
  } else if (predictive && !fit_problem_.empty()) {
    result.forecast_problem = fit_problem_;
  }
  if (predictive && forecast_) {
    const Seconds at = now + result.decision.explanation.horizon;
    const auto point = value_at(*forecast_, forecast_->point, at);
    const auto* band = forecast_->quantile(policy.predictive.quantile);
    const auto q = band ? value_at(*forecast_, *band, at) : point;
    if (point && q) {
      result.forecast = ForecastView{at,
                                     *point,
                                     *q,
                                     band ? policy.predictive.quantile : 0.0,
                                     forecast_->model,
                                     fitted_at_.value_or(0)};
    } else if (result.forecast_problem.empty()) {
      result.forecast_problem = "the forecast does not cover now + horizon";
    }
  }
  return result;
}

}  // namespace dso::scaling
