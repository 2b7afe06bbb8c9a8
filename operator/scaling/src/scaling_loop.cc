// The live autoscaler's loop and the status it publishes (see scaling_loop.h).
#include "scaling/scaling_loop.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <thread>

#include "scaling/policy.h"
#include "timing/rfc3339.h"
#include "traces/csv.h"
#include "traces/duration.h"

namespace dso::scaling {
namespace {

using kube::Json;

Seconds system_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Json condition(const std::string& type, bool status, const std::string& reason,
               const std::string& message) {
  return Json{{"type", type},
              {"status", status ? "True" : "False"},
              {"reason", reason},
              {"message", message}};
}

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

std::optional<int> int_field(const Json& object, const char* a, const char* b) {
  if (!object.contains(a) || !object[a].is_object() || !object[a].contains(b) ||
      !object[a][b].is_number_integer()) {
    return std::nullopt;
  }
  return object[a][b].get<int>();
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

bool is_stabilization(const autoscaler::LimitApplied& l) {
  return l.name.find("stabilization") != std::string::npos;
}

// ScalingLimited from the limits the engine applied (stabilization is not a limit: HPA reports
// it under AbleToScale). The reason is the last limit applied: min/max and the GPU budget come
// after the rate policies, so a decision held at max reads TooManyReplicas.
Json limited_condition(const autoscaler::Explanation& ex) {
  std::string reason, message;
  for (const auto& l : ex.limits) {
    if (is_stabilization(l)) continue;
    std::string r;
    if (l.name == "gpu budget")
      r = "GPUBudget";
    else if (l.name == "scale-up rate")
      r = "ScaleUpLimit";
    else if (l.name == "scale-down rate")
      r = "ScaleDownLimit";
    else if (l.name.ends_with("max"))
      r = "TooManyReplicas";
    else
      r = "TooFewReplicas";
    reason = r;  // the last one applied is the bound that held (min/max, budget after rates)
    message += (message.empty() ? "" : ", ") + l.name + " " + std::to_string(l.before) + "->" +
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

}  // namespace

std::string rfc3339(Seconds t) {
  return timing::format_rfc3339_seconds(
      std::chrono::system_clock::time_point(std::chrono::seconds(t)));
}

ScalingLoop::ScalingLoop(const kube::Indexer& services, metrics::MetricsSourcePtr source,
                         std::shared_ptr<ColdStartTracker> cold_starts, ScalingLoopOptions options)
    : services_(services),
      source_(std::move(source)),
      cold_starts_(std::move(cold_starts)),
      options_(std::move(options)) {
  if (!options_.now) options_.now = system_now;
}

ScalingLoop::~ScalingLoop() {
  stop();
}

void ScalingLoop::start() {
  std::lock_guard guard(run_mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock lock(run_mu_);
    while (!stopping_) {
      lock.unlock();
      const auto started = std::chrono::steady_clock::now();
      run_once(options_.now());
      lock.lock();
      run_cv_.wait_until(lock, started + std::chrono::seconds(options_.settings.decision_period),
                         [this] { return stopping_; });
    }
  });
}

void ScalingLoop::stop() {
  {
    std::lock_guard lock(run_mu_);
    stopping_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ScalingLoop::note_spec_replicas(Entry& entry, const api::DeepSeekService& service) {
  const std::optional<int> now = service.spec.replicas;
  const bool changed = entry.seen && now != entry.last_spec_replicas && now.has_value();
  entry.seen = true;
  entry.last_spec_replicas = now;
  return changed;
}

std::optional<int> ScalingLoop::desired_replicas(const api::DeepSeekService& service) {
  const std::string key = service.metadata.ns + "/" + service.metadata.name;
  std::lock_guard lock(mu_);
  const auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  Entry& e = *it->second;
  if (service.spec.autoscaling.predictive.mode == api::PredictiveMode::kPreview) {
    note_spec_replicas(e, service);
    return service.spec.replicas;  // Preview never acts: the replicas stay the user's
  }
  if (note_spec_replicas(e, service)) e.manual = service.spec.replicas;
  if (e.manual) return e.manual;
  return e.desired;
}

std::optional<Json> ScalingLoop::status_part(const api::DeepSeekService& service) {
  const std::string key = service.metadata.ns + "/" + service.metadata.name;
  std::lock_guard lock(mu_);
  const auto it = entries_.find(key);
  if (it == entries_.end() || !it->second->status) return std::nullopt;
  return it->second->status;
}

void ScalingLoop::run_once(Seconds now) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::string> keys = services_.keys();
  std::sort(keys.begin(), keys.end());
  // Forget services that are gone or no longer autoscaled.
  std::vector<std::string> gone;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, entry] : entries_) {
      if (!std::binary_search(keys.begin(), keys.end(), key)) gone.push_back(key);
    }
  }
  std::vector<std::pair<kube::ObjectPtr, api::DeepSeekService>> due;
  for (const auto& key : keys) {
    const kube::ObjectPtr object = services_.get(key);
    if (!object) continue;
    auto parsed = api::parse_deepseek_service(*object);
    if (!parsed || parsed->metadata.being_deleted || !api::validate(parsed->spec).empty()) continue;
    if (!parsed->spec.autoscaling.enabled) {
      gone.push_back(key);
      continue;
    }
    due.emplace_back(object, std::move(*parsed));
  }
  // Each service is decided by one thread; services share only what is thread-safe (the entries'
  // map and hook fields under mu_, the metrics source, the cold-start tracker, the hooks).
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i = next++; i < due.size(); i = next++) {
      try {
        decide_service(*due[i].first, due[i].second, now);
      } catch (const std::exception& e) {  // one service's failure never stops the others
        if (options_.on_log) {
          options_.on_log(due[i].second.metadata.ns + "/" + due[i].second.metadata.name +
                          ": decision failed: " + e.what());
        }
      }
    }
  };
  const std::size_t threads =
      std::min(due.size(), static_cast<std::size_t>(std::max(1, options_.workers)));
  if (threads <= 1) {
    work();
  } else {
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
  }
  for (const auto& key : gone) {
    std::lock_guard lock(mu_);
    if (entries_.erase(key) == 0) continue;
    const auto [ns, name] = kube::split_key(key);
    if (options_.metrics) options_.metrics->forget(ns, name);
    if (cold_starts_) cold_starts_->forget(key);
  }
  if (options_.metrics) {
    options_.metrics->record_pass(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
        static_cast<double>(options_.settings.decision_period));
  }
}

void ScalingLoop::decide_service(const Json& object, const api::DeepSeekService& service,
                                 Seconds now) {
  const std::string key = service.metadata.ns + "/" + service.metadata.name;
  const api::Autoscaling& as = service.spec.autoscaling;
  const api::PredictiveMode mode = as.predictive.mode;
  std::shared_ptr<Entry> entry;
  {
    std::lock_guard lock(mu_);
    auto& slot = entries_[key];
    if (!slot) {
      slot = std::make_shared<Entry>();
      slot->scaler = std::make_unique<ServiceScaler>(options_.settings);
    }
    entry = slot;
  }
  Entry& e = *entry;
  if (!e.seeded) {  // decisions survive a restart through the status itself
    e.seeded = true;
    const Json status = object.value("status", Json::object());
    const Json old = status.value("decisions", Json::array());
    for (auto it = old.rbegin(); it != old.rend(); ++it) {
      if (auto d = decision_from_json(*it)) e.scaler->record(std::move(*d));
    }
    e.scaler->resume(now);
  }

  auto policy = to_scaling_policy(service.spec, options_.settings.decision_period);
  if (!policy) {
    Json part{{"conditions",
               Json::array({condition("ScalingActive", false, "InvalidPolicy", policy.error())})}};
    std::lock_guard lock(mu_);
    const bool changed = e.status != part;
    e.status = part;
    e.desired.reset();
    if (changed && options_.enqueue) options_.enqueue(key);
    return;
  }

  const Json status = object.value("status", Json::object());
  const std::optional<int> status_replicas = int_field(object, "status", "replicas");
  const int ready = int_field(object, "status", "readyReplicas").value_or(0);
  int current;
  std::optional<int> previous_desired;
  {
    std::lock_guard lock(mu_);
    if (mode != api::PredictiveMode::kPreview && note_spec_replicas(e, service))
      e.manual = service.spec.replicas;
    if (mode == api::PredictiveMode::kPreview) {
      note_spec_replicas(e, service);
      current = e.preview.value_or(status_replicas.value_or(as.min_replicas));
    } else if (e.manual) {
      current = *e.manual;
    } else {
      current = status_replicas.value_or(e.desired.value_or(as.min_replicas));
    }
    previous_desired = e.manual ? e.manual : e.desired;
  }

  StepInput input;
  input.current_replicas = current;
  input.ready_replicas = ready;
  if (cold_starts_) {
    auto fresh = cold_starts_->take_new(key);
    if (use_measured_cold_starts(service.spec)) input.cold_starts = std::move(fresh);
  }
  StepResult r = e.scaler->step(service, *policy, input, *source_, now);
  const autoscaler::Explanation& ex = r.decision.explanation;
  const int decided = r.decision.replicas;
  const bool preview = mode == api::PredictiveMode::kPreview;
  const bool acted = !preview;
  const std::string rule(autoscaler::to_string(ex.rule));
  const std::string summary = ex.summary();

  // The recent decisions: those that changed the replicas or the rule that set them.
  const auto& recent = e.scaler->decisions();
  if (recent.empty() || decided != r.decision.previous || recent.back().rule != rule ||
      recent.back().replicas != decided) {
    e.scaler->record({now, decided, r.decision.previous, rule, summary, acted});
  }

  // Status part.
  Json part = Json::object();
  part["coldStartSeconds"] = ex.cold_start_estimate;
  Json seen{{"mode", mode_name(mode)},
            {"lastDecisionTime", rfc3339(now)},
            {"desiredReplicas", decided},
            {"currentReplicas", current},
            {"readyReplicas", ready},
            {"acting", acted},
            {"rule", rule},
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
  if (std::isfinite(r.load.demand)) seen["demand"] = r.load.demand;
  if (ex.capacity) seen["capacityPerReplica"] = *ex.capacity;
  if (ex.reactive) seen["reactiveReplicas"] = *ex.reactive;
  if (ex.predictive) seen["predictiveReplicas"] = *ex.predictive;
  if (ex.demand_replicas) seen["demandReplicas"] = *ex.demand_replicas;
  Json limits = Json::array();
  for (const auto& l : ex.limits) {
    limits.push_back(l.name + " " + std::to_string(l.before) + "->" + std::to_string(l.after));
  }
  seen["limits"] = limits;
  Json problems = Json::array();
  for (std::size_t i = 0; i < r.load.problems.size() && i < 5; ++i)
    problems.push_back(r.load.problems[i]);
  if (!r.forecast_problem.empty()) problems.push_back(r.forecast_problem);
  seen["problems"] = problems;
  part["autoscaler"] = seen;

  if (policy->predictive.enabled) {
    Json f = Json::object();
    f["recentError"] = ex.forecast_error;
    f["gated"] = ex.forecast_gated;
    if (r.forecast) {
      const double cap = ex.capacity.value_or(0.0);
      const int replicas = ex.predictive ? *ex.predictive
                           : cap > 0
                               ? static_cast<int>(std::ceil(r.forecast->quantile / cap - 1e-9))
                               : 0;
      char summary_buf[160];
      std::snprintf(summary_buf, sizeof summary_buf, "%d in %s (q%g %s/s)", replicas,
                    traces::format_duration(r.forecast->time - now).c_str(),
                    r.forecast->quantile_level, format_number(r.forecast->quantile).c_str());
      f["summary"] =
          ex.forecast_gated ? std::string("gated: ") + summary_buf : std::string(summary_buf);
      f["time"] = rfc3339(r.forecast->time);
      f["demand"] = r.forecast->point;
      f["quantile"] = r.forecast->quantile_level;
      f["demandQuantile"] = r.forecast->quantile;
      f["replicas"] = replicas;
      f["model"] = r.forecast->model;
      f["fittedAt"] = rfc3339(r.forecast->fitted_at);
    } else {
      f["summary"] = "none: " + r.forecast_problem;
    }
    part["forecast"] = f;
  } else {
    part["forecast"] = nullptr;
  }
  Json decisions = Json::array();
  for (auto it = recent.rbegin(); it != recent.rend(); ++it)
    decisions.push_back(decision_json(*it));
  part["decisions"] = decisions;

  Json conditions = Json::array();
  if (ex.rule == autoscaler::Rule::kHoldNoMetrics) {
    conditions.push_back(condition(
        "ScalingActive", false, "MetricsUnavailable",
        "holding " + std::to_string(decided) + " replicas until the metrics can be read"));
  } else if (preview) {
    conditions.push_back(condition(
        "ScalingActive", true, "Preview",
        "preview: the autoscaler would set " + std::to_string(decided) +
            " replicas; replicas are not changed (spec.autoscaling.predictive.mode: Auto acts)"));
  } else {
    conditions.push_back(
        condition("ScalingActive", true, "AutoscalerDecided",
                  "the autoscaler set " + std::to_string(decided) + " replicas: " + summary));
  }
  conditions.push_back(limited_condition(ex));
  conditions.push_back(metrics_condition(ex, r.load));
  part["conditions"] = conditions;

  bool enqueue = false;
  {
    std::lock_guard lock(mu_);
    if (preview) {
      e.preview = decided;
    } else {
      e.desired = decided;
      e.manual.reset();
      enqueue = previous_desired != decided;
    }
    // Reconcile (and so write status) when something a reader cares about changed.
    const auto significant = [](const Json& j) {
      if (!j.is_object()) return Json();
      Json s = j;
      s.erase("autoscaler");
      if (s.contains("forecast") && s["forecast"].is_object()) {
        s["forecast"].erase("recentError");
        s["forecast"].erase("demand");
        s["forecast"].erase("demandQuantile");
        s["forecast"].erase("time");
      }
      return s;
    };
    if (!e.status || significant(*e.status) != significant(part)) enqueue = true;
    // The rest is refreshed at least every status_refresh, so that what explain shows is recent.
    if (!e.refreshed_at || now - *e.refreshed_at >= options_.settings.status_refresh)
      enqueue = true;
    if (enqueue) e.refreshed_at = now;
    e.status = part;
  }
  if (enqueue && options_.enqueue) options_.enqueue(key);

  if (acted && decided != r.decision.previous && options_.record_event) {
    options_.record_event(object, "Normal",
                          decided > r.decision.previous ? "ScaledUp" : "ScaledDown",
                          "autoscaler: " + std::to_string(r.decision.previous) + " -> " +
                              std::to_string(decided) + " replicas: " + summary);
  }
  if (options_.metrics) {
    ScalingMetrics::ServiceSample s;
    s.desired = decided;
    s.current = current;
    s.ready = ready;
    if (r.forecast) {
      s.point = r.forecast->point;
      s.quantile = r.forecast->quantile;
      s.quantile_level = r.forecast->quantile_level;
    }
    s.forecast_error = ex.forecast_error;
    s.cold_start_seconds = static_cast<double>(ex.cold_start_estimate);
    s.rule = rule;
    for (const auto& m : r.load.metrics) s.query_failures += std::isfinite(m.value) ? 0 : 1;
    if (!std::isfinite(r.load.demand)) ++s.query_failures;
    s.history_ok = r.history_queries - r.failed_history_queries;
    s.history_failed = r.failed_history_queries;
    if (r.refitted) s.refit_seconds = r.refit_seconds;
    const Json limited = limited_condition(ex);
    s.limited = limited["status"] == "True";
    s.limited_reason = limited["reason"].get<std::string>();
    s.metrics_unavailable = metrics_unavailable(ex.metrics_state);
    s.forecast_gated = ex.forecast_gated;
    options_.metrics->record(service.metadata.ns, service.metadata.name, s);
  }
  if (options_.on_log && decided != r.decision.previous) {
    options_.on_log(key + ": " + (acted ? "" : "preview: ") + std::to_string(r.decision.previous) +
                    " -> " + std::to_string(decided) + ": " + summary);
  }
}

}  // namespace dso::scaling
