// spec.autoscaling -> autoscaler::ScalingPolicy (see policy.h).
#include "scaling/policy.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "metrics/promql.h"

namespace dso::scaling {
namespace {

Seconds seconds_of(std::chrono::milliseconds ms) {
  return static_cast<Seconds>(std::chrono::duration_cast<std::chrono::seconds>(ms).count());
}

autoscaler::ScalingRules convert_rules(const api::ScalingRules& rules,
                                       autoscaler::ScalingRules defaults) {
  autoscaler::ScalingRules out = std::move(defaults);
  if (rules.stabilization_window_seconds)
    out.stabilization_window = *rules.stabilization_window_seconds;
  switch (rules.select_policy) {
    case api::SelectPolicy::kMax:
      out.select = autoscaler::SelectPolicy::kMax;
      break;
    case api::SelectPolicy::kMin:
      out.select = autoscaler::SelectPolicy::kMin;
      break;
    case api::SelectPolicy::kDisabled:
      out.select = autoscaler::SelectPolicy::kDisabled;
      break;
  }
  if (!rules.policies.empty()) {
    out.policies.clear();
    for (const auto& p : rules.policies) {
      out.policies.push_back({p.type == api::ScalingPolicyType::kPods
                                  ? autoscaler::RatePolicyType::kPods
                                  : autoscaler::RatePolicyType::kPercent,
                              p.value, p.period_seconds});
    }
  }
  return out;
}

std::optional<int> parse_small_int(std::string_view text) {
  int v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<int> parse_day(std::string_view text) {
  static constexpr const char* kNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
  std::string upper(text);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (int d = 0; d < 7; ++d) {
    if (upper == kNames[d]) return d;
  }
  const auto n = parse_small_int(text);
  if (!n || *n < 0 || *n > 7) return std::nullopt;
  return *n % 7;
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const auto at = text.find(sep, start);
    parts.push_back(
        text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return parts;
}

// Days bit mask (bit 0 = Sunday) of a cron day-of-week field.
std::expected<unsigned, std::string> parse_days(std::string_view field) {
  if (field == "*") return 0x7fu;
  unsigned mask = 0;
  for (const auto part : split(field, ',')) {
    const auto dash = part.find('-');
    if (dash == std::string_view::npos) {
      const auto d = parse_day(part);
      if (!d)
        return std::unexpected("day of week '" + std::string(part) + "' is not 0-7 or SUN..SAT");
      mask |= 1u << *d;
      continue;
    }
    const auto from = parse_day(part.substr(0, dash));
    const auto to_text = part.substr(dash + 1);
    // "5-7" ends on Sunday: keep 7 as 7 for the range, then fold.
    std::optional<int> to = to_text == "7" ? std::optional<int>(7) : parse_day(to_text);
    if (!from || !to || *to < *from) {
      return std::unexpected("day range '" + std::string(part) + "' is not an increasing range");
    }
    for (int d = *from; d <= *to; ++d) mask |= 1u << (d % 7);
  }
  return mask;
}

unsigned next_days(unsigned mask) {  // each day moved to the following one
  return ((mask << 1) | (mask >> 6)) & 0x7fu;
}

}  // namespace

std::expected<std::vector<autoscaler::ScheduleWindow>, std::string> schedule_windows(
    const api::Schedule& schedule, std::size_t index) {
  const std::string where = "spec.autoscaling.schedules[" + std::to_string(index) + "]";
  auto fail = [&](const std::string& field, const std::string& why) {
    return std::unexpected(where + "." + field + ": " + why);
  };
  if (schedule.time_zone != "UTC" && schedule.time_zone != "Etc/UTC") {
    return fail("timeZone", "'" + schedule.time_zone + "' is not supported (only UTC)");
  }
  std::vector<std::string_view> fields;
  for (const auto f : split(schedule.cron, ' ')) {
    if (!f.empty()) fields.push_back(f);
  }
  if (fields.size() != 5) return fail("cron", "'" + schedule.cron + "' does not have 5 fields");
  const auto minute = parse_small_int(fields[0]);
  const auto hour = parse_small_int(fields[1]);
  if (!minute || *minute < 0 || *minute > 59 || !hour || *hour < 0 || *hour > 23) {
    return fail("cron", "'" + schedule.cron +
                            "': minute and hour must be single numbers (e.g. \"0 8 * * 1-5\")");
  }
  if (fields[2] != "*" || fields[3] != "*") {
    return fail("cron", "'" + schedule.cron + "': day of month and month must be *");
  }
  const auto days = parse_days(fields[4]);
  if (!days) return fail("cron", "'" + schedule.cron + "': " + days.error());
  const Seconds duration = seconds_of(schedule.duration);
  if (duration < 60 || duration > 86400) {
    return fail("duration", "must be between 1m and 24h");
  }
  const int start = *hour * 60 + *minute;
  const int end = start + static_cast<int>(duration / 60);
  std::vector<autoscaler::ScheduleWindow> windows;
  autoscaler::ScheduleWindow first{
      schedule.name,        *days, start, std::min(end, 1440), schedule.min_replicas,
      schedule.max_replicas};
  windows.push_back(first);
  if (end > 1440) {
    autoscaler::ScheduleWindow rest = first;
    rest.name = schedule.name + " (after midnight)";
    rest.days_of_week = next_days(*days);
    rest.start_minute = 0;
    rest.end_minute = end - 1440;
    if (rest.end_minute > 0) windows.push_back(rest);
  }
  return windows;
}

std::expected<autoscaler::ScalingPolicy, std::string> to_scaling_policy(
    const api::DeepSeekServiceSpec& spec, Seconds decision_period) {
  const api::Autoscaling& a = spec.autoscaling;
  autoscaler::ScalingPolicy p;
  p.min_replicas = a.min_replicas;
  p.max_replicas = a.max_replicas;
  p.scale_to_zero = a.scale_to_zero;
  for (std::size_t i = 0; i < a.metrics.size(); ++i) {
    p.metrics.push_back(metrics::metric_target(spec, i));
  }
  p.tolerance = a.tolerance;
  p.scale_up = convert_rules(a.scale_up, autoscaler::default_scale_up());
  p.scale_down = convert_rules(a.scale_down, autoscaler::default_scale_down());
  if (a.predictive.capacity_per_replica) {
    p.capacity_per_replica = *a.predictive.capacity_per_replica;
  } else {
    for (const auto& m : a.metrics) {
      if (m.type == api::MetricType::kRequestsPerSecond) {
        p.capacity_per_replica = m.target;
        break;
      }
    }
  }
  auto& pr = p.predictive;
  pr.enabled = a.predictive.mode != api::PredictiveMode::kOff;
  pr.quantile = a.predictive.quantile;
  pr.decision_period = decision_period;
  pr.cold_start = seconds_of(a.predictive.cold_start);
  if (a.predictive.horizon) {
    pr.cold_start = std::max<Seconds>(0, seconds_of(*a.predictive.horizon) - decision_period);
  }
  pr.gate_max_error = a.predictive.max_forecast_error > 0 ? a.predictive.max_forecast_error : 1e-9;
  p.metrics_fallback = a.on_metrics_unavailable == api::MetricsFallback::kFollowForecast
                           ? autoscaler::MetricsFallback::kFollowForecast
                           : autoscaler::MetricsFallback::kHold;
  p.metric_max_age = std::max<Seconds>(1, seconds_of(a.stale_after));
  for (std::size_t i = 0; i < a.schedules.size(); ++i) {
    auto windows = schedule_windows(a.schedules[i], i);
    if (!windows) return std::unexpected(windows.error());
    for (auto& w : *windows) p.schedules.push_back(std::move(w));
  }
  p.gpus_per_replica = std::max(1, spec.resources.gpus_per_pod);
  if (a.max_gpus && spec.resources.gpus_per_pod > 0) p.gpu_budget = *a.max_gpus;
  if (auto valid = autoscaler::validate(p); !valid) {
    return std::unexpected("spec.autoscaling: " + valid.error());
  }
  return p;
}

bool use_measured_cold_starts(const api::DeepSeekServiceSpec& spec) {
  return !spec.autoscaling.predictive.horizon.has_value();
}

std::expected<predictor::ForecastOptions, std::string> forecast_options(
    const api::DeepSeekServiceSpec& spec) {
  const api::Predictive& pr = spec.autoscaling.predictive;
  predictor::ForecastOptions o;
  const auto model = predictor::parse_model_kind(pr.model);
  if (!model) {
    return std::unexpected("spec.autoscaling.predictive.model: unknown model '" + pr.model + "'");
  }
  o.model = *model;
  o.quantiles = {pr.quantile};
  // The simulator's measured settings (docs/simulate.md; sim::SeasonalSettings, which a unit test
  // holds these to): hourly refits, 12 backtest origins, plain backtest bands (the floor's level
  // was chosen on them; calibrated bands did worse in the replays).
  o.backtest_origins = 12;
  o.calibrate_quantiles = false;
  o.max_history_days = std::max(1.0, static_cast<double>(seconds_of(pr.history)) / 86400.0);
  return o;
}

}  // namespace dso::scaling
