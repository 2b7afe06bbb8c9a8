// What a decision publishes in status (see scaling_status.h).
#include "scaling/scaling_status.h"

#include <cctype>
#include <cmath>
#include <cstdio>

#include "timing/rfc3339.h"
#include "traces/csv.h"
#include "traces/duration.h"

namespace dso::scaling {
namespace {

using kube::condition;
using kube::Json;

std::string mode_name(api::PredictiveMode mode) {
  switch (mode) {
    case api::PredictiveMode::kOff:
      return "Off";
    case api::PredictiveMode::kPreview:
      return "Preview";
    case api::PredictiveMode::kAuto:
      return "Auto";
  }
  return "Off";
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string join_first(const std::vector<std::string>& lines, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < lines.size() && i < n; ++i) out += (i ? "; " : "") + lines[i];
  if (lines.size() > n) out += "; and " + std::to_string(lines.size() - n) + " more";
  return out;
}

Json metrics_condition(const autoscaler::Explanation& ex, const metrics::ServiceLoad& load) {
  if (!metrics_unavailable(ex.metrics_state)) {
    return condition("MetricsUnavailable", false, "MetricsAvailable",
                     "every metric was read at the last decision");
  }
  std::string state(autoscaler::to_string(ex.metrics_state));
  if (!state.empty())
    state[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(state[0])));
  std::vector<std::string> why = load.problems;
  if (why.empty()) {
    for (const auto& p : ex.metric_proposals) {
      if (!p.problem.empty()) why.push_back(p.name + ": " + p.problem);
    }
  }
  return condition("MetricsUnavailable", true, "Metrics" + state,
                   why.empty() ? "metrics " + std::string(autoscaler::to_string(ex.metrics_state))
                               : join_first(why, 3));
}

// status.autoscaler: the decision's inputs and parts.
Json autoscaler_part(const PublishedDecision& d, const std::string& summary) {
  const autoscaler::Explanation& ex = d.step.decision.explanation;
  Json seen{{"mode", mode_name(d.mode)},
            {"lastDecisionTime", rfc3339(d.now)},
            {"desiredReplicas", d.step.decision.replicas},
            {"currentReplicas", d.current},
            {"readyReplicas", d.ready},
            {"acting", d.mode != api::PredictiveMode::kPreview},
            {"rule", std::string(autoscaler::to_string(ex.rule))},
            {"explanation", summary},
            {"metricsState", std::string(autoscaler::to_string(ex.metrics_state))},
            {"coldStartMeasured", ex.cold_start_measured},
            {"horizonSeconds", ex.horizon}};
  Json metric_list = Json::array();
  for (const auto& p : ex.metric_proposals) {
    Json m{{"name", p.name}, {"target", p.target}};
    if (std::isfinite(p.value) && p.problem.empty()) m["value"] = p.value;
    if (p.replicas) m["replicas"] = *p.replicas;
    if (!p.problem.empty()) m["problem"] = p.problem;
    metric_list.push_back(m);
  }
  seen["metrics"] = metric_list;
  if (std::isfinite(d.step.load.demand)) seen["demand"] = d.step.load.demand;
  if (ex.capacity) seen["capacityPerReplica"] = *ex.capacity;
  if (ex.reactive) seen["reactiveReplicas"] = *ex.reactive;
  if (ex.predictive) seen["predictiveReplicas"] = *ex.predictive;
  if (ex.demand_replicas) seen["demandReplicas"] = *ex.demand_replicas;
  Json limits = Json::array();
  for (const auto& l : ex.limits) {
    limits.push_back(l.name() + " " + std::to_string(l.before) + "->" + std::to_string(l.after));
  }
  seen["limits"] = limits;
  Json problems = Json::array();
  for (std::size_t i = 0; i < d.step.load.problems.size() && i < 5; ++i)
    problems.push_back(d.step.load.problems[i]);
  if (!d.step.forecast_problem.empty()) problems.push_back(d.step.forecast_problem);
  seen["problems"] = problems;
  return seen;
}

// status.forecast: the forecast at the horizon and its recent error.
Json forecast_part(const PublishedDecision& d) {
  const autoscaler::Explanation& ex = d.step.decision.explanation;
  Json f = Json::object();
  f["recentError"] = ex.forecast_error;
  f["gated"] = ex.forecast_gated;
  const auto& forecast = d.step.forecast;
  if (!forecast) {
    f["summary"] = "none: " + d.step.forecast_problem;
    return f;
  }
  const double cap = ex.capacity.value_or(0.0);
  const int replicas = ex.predictive ? *ex.predictive
                       : cap > 0     ? static_cast<int>(std::ceil(forecast->quantile / cap - 1e-9))
                                     : 0;
  char summary[160];
  std::snprintf(summary, sizeof summary, "%d in %s (q%g %s/s)", replicas,
                traces::format_duration(forecast->time - d.now).c_str(), forecast->quantile_level,
                format_number(forecast->quantile).c_str());
  f["summary"] = ex.forecast_gated ? std::string("gated: ") + summary : std::string(summary);
  f["time"] = rfc3339(forecast->time);
  f["demand"] = forecast->point;
  f["quantile"] = forecast->quantile_level;
  f["demandQuantile"] = forecast->quantile;
  f["replicas"] = replicas;
  f["model"] = forecast->model;
  f["fittedAt"] = rfc3339(forecast->fitted_at);
  return f;
}

Json scaling_active(const PublishedDecision& d, const std::string& summary) {
  const int decided = d.step.decision.replicas;
  if (d.step.decision.explanation.rule == autoscaler::Rule::kHoldNoMetrics) {
    return condition(
        "ScalingActive", false, "MetricsUnavailable",
        "holding " + std::to_string(decided) + " replicas until the metrics can be read");
  }
  if (d.mode == api::PredictiveMode::kPreview) {
    return condition(
        "ScalingActive", true, "Preview",
        "preview: the autoscaler would set " + std::to_string(decided) +
            " replicas; replicas are not changed (spec.autoscaling.predictive.mode: Auto acts)");
  }
  return condition("ScalingActive", true, "AutoscalerDecided",
                   "the autoscaler set " + std::to_string(decided) + " replicas: " + summary);
}

}  // namespace

Json decision_status(const PublishedDecision& d) {
  const autoscaler::Explanation& ex = d.step.decision.explanation;
  const std::string summary = ex.summary();
  Json part = Json::object();
  part["coldStartSeconds"] = ex.cold_start_estimate;
  part["autoscaler"] = autoscaler_part(d, summary);
  part["forecast"] = d.predictive_enabled ? forecast_part(d) : Json(nullptr);
  Json decisions = Json::array();
  for (auto it = d.recent.rbegin(); it != d.recent.rend(); ++it)
    decisions.push_back(decision_json(*it));
  part["decisions"] = decisions;
  part["conditions"] = Json::array(
      {scaling_active(d, summary), limited_condition(ex), metrics_condition(ex, d.step.load)});
  return part;
}

Json invalid_policy_status(const std::string& error) {
  return Json{
      {"conditions", Json::array({condition("ScalingActive", false, "InvalidPolicy", error)})}};
}

Json limited_condition(const autoscaler::Explanation& ex) {
  std::string reason, message;
  for (const auto& l : ex.limits) {
    if (l.is_stabilization()) continue;
    reason = autoscaler::limited_reason(l.kind);
    message += (message.empty() ? "" : ", ") + l.name() + " " + std::to_string(l.before) + "->" +
               std::to_string(l.after);
  }
  if (reason.empty()) {
    return condition("ScalingLimited", false, "WithinLimits",
                     "the replicas are within the configured limits");
  }
  return condition("ScalingLimited", true, reason, message);
}

bool metrics_unavailable(autoscaler::MetricsState s) {
  return s != autoscaler::MetricsState::kOk && s != autoscaler::MetricsState::kNone;
}

Json decision_json(const DecisionRecord& d) {
  return Json{{"time", rfc3339(d.at)}, {"replicas", d.replicas}, {"previous", d.previous},
              {"rule", d.rule},        {"acted", d.acted},       {"explanation", d.explanation}};
}

std::optional<DecisionRecord> decision_from_json(const Json& j) {
  if (!j.is_object() || !j.contains("time") || !j["time"].is_string()) return std::nullopt;
  const auto t = traces::parse_timestamp(j["time"].get<std::string>());
  if (!t) return std::nullopt;
  DecisionRecord d;
  d.at = *t;
  d.replicas = j.value("replicas", 0);
  d.previous = j.value("previous", 0);
  d.rule = j.value("rule", "");
  d.acted = j.value("acted", false);
  d.explanation = j.value("explanation", "");
  return d;
}

std::string rfc3339(Seconds t) {
  return timing::format_rfc3339_seconds(
      std::chrono::system_clock::time_point(std::chrono::seconds(t)));
}

}  // namespace dso::scaling
