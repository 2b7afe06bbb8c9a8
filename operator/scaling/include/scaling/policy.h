// scaling/policy.h: a DeepSeekService's spec.autoscaling turned into the decision engine's
// autoscaler::ScalingPolicy, and the settings of the forecaster that feeds it.
//
// One place maps the user's API (api::Autoscaling: metrics, behavior, predictive, schedules, GPU
// budget, fallback) onto the engine's: the live scaling loop and `deepseek-operator explain` use
// it, and tests pin every field. Pure: no I/O, no clock.
#pragma once

#include <expected>
#include <string>

#include "api/deepseek_service.h"
#include "autoscaler/policy.h"
#include "predictor/forecast.h"

namespace dso::scaling {

using autoscaler::Seconds;

// A schedule's cron start + duration as engine windows (UTC, by weekday and minute of day).
// Supported cron: "M H * * DOW" with M and H single numbers, DOW "*" or a list of days and
// ranges (0-7 or SUN..SAT; 7 is Sunday). A window that runs past midnight becomes two windows (the
// rest on the next day). Durations up to 24 h; time zone UTC (or Etc/UTC) only. Errors name the
// field ("spec.autoscaling.schedules[1].cron: ...").
std::expected<std::vector<autoscaler::ScheduleWindow>, std::string> schedule_windows(
    const api::Schedule& schedule, std::size_t index);

// The engine policy for `spec` with decisions every `decision_period` seconds. Metrics: one
// target per spec.autoscaling.metrics entry, named and kinded by metrics/promql.h
// (metrics::metric_target), so that the samples of the MetricsSource match. Predictive is
// enabled for modes Auto and Preview (Preview decides the same way, it only does not act); Off is
// the reactive path alone. Capacity per replica: predictive.capacityPerReplica, else the target
// of a RequestsPerSecond metric (the requests/s one replica is meant to serve), else learned.
// An explicit predictive.horizon sets the engine's cold start to horizon - one period (measured
// cold starts then do not move it; see use_measured_cold_starts). Errors (one line naming the
// field): a schedule the converter cannot express, or a policy autoscaler::validate() rejects.
std::expected<autoscaler::ScalingPolicy, std::string> to_scaling_policy(
    const api::DeepSeekServiceSpec& spec, Seconds decision_period);

// Whether measured cold starts move the horizon (false when predictive.horizon is explicit).
bool use_measured_cold_starts(const api::DeepSeekServiceSpec& spec);

// Forecaster options for the service: model, the band at predictive.quantile, history bounded by
// predictive.history. `horizon` is left 0 (the caller sets it per fit).
std::expected<predictor::ForecastOptions, std::string> forecast_options(
    const api::DeepSeekServiceSpec& spec);

}  // namespace dso::scaling
