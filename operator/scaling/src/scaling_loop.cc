// The live autoscaler's loop and the status it publishes (see scaling_loop.h).
#include "scaling/scaling_loop.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <thread>

#include "scaling/policy.h"
#include "scaling/scaling_status.h"

namespace dso::scaling {
namespace {

using kube::Json;

Seconds system_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<int> int_field(const Json& object, const char* a, const char* b) {
  if (!object.contains(a) || !object[a].is_object() || !object[a].contains(b) ||
      !object[a][b].is_number_integer()) {
    return std::nullopt;
  }
  return object[a][b].get<int>();
}

// What of a status part makes a reconcile (and so a status write) worth it at once; the rest is
// refreshed every status_refresh.
Json significant(const Json& part) {
  if (!part.is_object()) return Json();
  Json s = part;
  s.erase("autoscaler");
  if (s.contains("forecast") && s["forecast"].is_object()) {
    s["forecast"].erase("recentError");
    s["forecast"].erase("demand");
    s["forecast"].erase("demandQuantile");
    s["forecast"].erase("time");
  }
  return s;
}

// The condition of `type` in a status part (decision_status always has ScalingLimited).
Json find_condition(const Json& part, const std::string& type) {
  for (const auto& c : part.value("conditions", Json::array())) {
    if (c.value("type", "") == type) return c;
  }
  return Json::object();
}

ScalingMetrics::ServiceSample metrics_sample(const StepResult& r, int current, int ready) {
  const autoscaler::Explanation& ex = r.decision.explanation;
  ScalingMetrics::ServiceSample s;
  s.desired = r.decision.replicas;
  s.current = current;
  s.ready = ready;
  if (r.forecast) {
    s.point = r.forecast->point;
    s.quantile = r.forecast->quantile;
    s.quantile_level = r.forecast->quantile_level;
  }
  s.forecast_error = ex.forecast_error;
  s.cold_start_seconds = static_cast<double>(ex.cold_start_estimate);
  s.rule = std::string(autoscaler::to_string(ex.rule));
  for (const auto& m : r.load.metrics) s.query_failures += std::isfinite(m.value) ? 0 : 1;
  if (!std::isfinite(r.load.demand)) ++s.query_failures;
  s.history_ok = r.history_queries - r.failed_history_queries;
  s.history_failed = r.failed_history_queries;
  if (r.refitted) s.refit_seconds = r.refit_seconds;
  s.metrics_unavailable = metrics_unavailable(ex.metrics_state);
  s.forecast_gated = ex.forecast_gated;
  return s;
}

}  // namespace

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

std::shared_ptr<ScalingLoop::Entry> ScalingLoop::entry_for(const std::string& key,
                                                           const Json& object, Seconds now) {
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
  if (!entry->seeded) {  // decisions survive a restart through the status itself
    entry->seeded = true;
    const Json status = object.value("status", Json::object());
    const Json old = status.value("decisions", Json::array());
    for (auto it = old.rbegin(); it != old.rend(); ++it) {
      if (auto d = decision_from_json(*it)) entry->scaler->record(std::move(*d));
    }
    entry->scaler->resume(now);
  }
  return entry;
}

ScalingLoop::StartingPoint ScalingLoop::starting_point(Entry& e,
                                                       const api::DeepSeekService& service,
                                                       const Json& object) {
  const api::Autoscaling& as = service.spec.autoscaling;
  const std::optional<int> status_replicas = int_field(object, "status", "replicas");
  std::lock_guard lock(mu_);
  StartingPoint start;
  if (as.predictive.mode == api::PredictiveMode::kPreview) {
    note_spec_replicas(e, service);
    start.current = e.preview.value_or(status_replicas.value_or(as.min_replicas));
  } else {
    if (note_spec_replicas(e, service)) e.manual = service.spec.replicas;
    start.current =
        e.manual ? *e.manual : status_replicas.value_or(e.desired.value_or(as.min_replicas));
  }
  start.asked = e.manual ? e.manual : e.desired;
  return start;
}

bool ScalingLoop::publish(Entry& e, Json part, std::optional<int> decided, bool preview,
                          std::optional<int> asked_before, Seconds now) {
  std::lock_guard lock(mu_);
  bool enqueue = false;
  if (!decided) {
    e.desired.reset();
  } else if (preview) {
    e.preview = decided;
  } else {
    e.desired = decided;
    e.manual.reset();
    enqueue = asked_before != decided;
  }
  if (!e.status || significant(*e.status) != significant(part)) enqueue = true;
  // The rest is refreshed at least every status_refresh, so that what explain shows is recent.
  if (decided && (!e.refreshed_at || now - *e.refreshed_at >= options_.settings.status_refresh))
    enqueue = true;
  if (enqueue) e.refreshed_at = now;
  e.status = std::move(part);
  return enqueue;
}

void ScalingLoop::decide_service(const Json& object, const api::DeepSeekService& service,
                                 Seconds now) {
  const std::string key = service.metadata.ns + "/" + service.metadata.name;
  const api::PredictiveMode mode = service.spec.autoscaling.predictive.mode;
  const bool preview = mode == api::PredictiveMode::kPreview;
  Entry& e = *entry_for(key, object, now);

  auto policy = to_scaling_policy(service.spec, options_.settings.decision_period);
  if (!policy) {
    if (publish(e, invalid_policy_status(policy.error()), std::nullopt, preview, std::nullopt,
                now) &&
        options_.enqueue)
      options_.enqueue(key);
    return;
  }

  const StartingPoint start = starting_point(e, service, object);
  StepInput input;
  input.current_replicas = start.current;
  input.ready_replicas = int_field(object, "status", "readyReplicas").value_or(0);
  if (cold_starts_) {
    auto fresh = cold_starts_->take_new(key);
    if (use_measured_cold_starts(service.spec)) input.cold_starts = std::move(fresh);
  }
  const StepResult r = e.scaler->step(service, *policy, input, *source_, now);
  const int decided = r.decision.replicas;
  const std::string rule(autoscaler::to_string(r.decision.explanation.rule));
  const std::string summary = r.decision.explanation.summary();

  // The recent decisions: those that changed the replicas or the rule that set them.
  const auto& recent = e.scaler->decisions();
  if (recent.empty() || decided != r.decision.previous || recent.back().rule != rule ||
      recent.back().replicas != decided) {
    e.scaler->record({now, decided, r.decision.previous, rule, summary, !preview});
  }
  Json part = decision_status(
      {mode, now, start.current, input.ready_replicas, policy->predictive.enabled, r, recent});
  const Json limited = find_condition(part, "ScalingLimited");
  if (publish(e, std::move(part), decided, preview, start.asked, now) && options_.enqueue)
    options_.enqueue(key);

  if (!preview && decided != r.decision.previous && options_.record_event) {
    options_.record_event(object, "Normal",
                          decided > r.decision.previous ? "ScaledUp" : "ScaledDown",
                          "autoscaler: " + std::to_string(r.decision.previous) + " -> " +
                              std::to_string(decided) + " replicas: " + summary);
  }
  if (options_.metrics) {
    ScalingMetrics::ServiceSample sample = metrics_sample(r, start.current, input.ready_replicas);
    sample.limited = limited.value("status", "") == "True";
    sample.limited_reason = limited.value("reason", "");
    options_.metrics->record(service.metadata.ns, service.metadata.name, sample);
  }
  if (options_.on_log && decided != r.decision.previous) {
    options_.on_log(key + ": " + (preview ? "preview: " : "") +
                    std::to_string(r.decision.previous) + " -> " + std::to_string(decided) + ": " +
                    summary);
  }
}

}  // namespace dso::scaling
