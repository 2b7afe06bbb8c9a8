#include "controller/reconciler.h"

#include <algorithm>
#include <chrono>

#include "controller/desired_objects.h"
#include "controller/failover.h"
#include "runtime/profile.h"
#include "timing/rfc3339.h"

namespace dso::controller {
namespace {

using kube::condition;
using kube::Json;
using kube::ReconcileResult;

std::string system_now_rfc3339() {
  return timing::format_rfc3339_seconds(std::chrono::system_clock::now());
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

// Whether `object` is the service's (uid): an owner reference with its uid. Objects a service names
// are created when absent and never adopted: server-side apply with force would take over another
// owner's fields, and the garbage collector would delete the object with the service.
bool owned_by(const Json& object, const std::string& uid) {
  const Json refs =
      object.value("metadata", Json::object()).value("ownerReferences", Json::array());
  return std::any_of(refs.begin(), refs.end(),
                     [&](const Json& r) { return r.is_object() && r.value("uid", "") == uid; });
}

// How long a service with a NameConflict waits before looking again: the conflicting object is not
// the operator's, so no informer tells when it is renamed or deleted.
constexpr auto kConflictRecheck = std::chrono::seconds(30);

int int_at(const Json& object, const char* a, const char* b) {
  if (!object.contains(a) || !object[a].is_object() || !object[a].contains(b) ||
      !object[a][b].is_number_integer()) {
    return 0;
  }
  return object[a][b].get<int>();
}

// The failover state carried in status: status.primaryRegion (the active primary) and the timers
// of status.regions[].
FailoverState previous_failover_state(const Json& object) {
  FailoverState state;
  const Json status = object.value("status", Json::object());
  if (status.contains("primaryRegion") && status["primaryRegion"].is_string())
    state.active_primary = status["primaryRegion"].get<std::string>();
  if (status.contains("failbackSince") && status["failbackSince"].is_string())
    state.failback_since = parse_rfc3339(status["failbackSince"]);
  for (const Json& r : status.value("regions", Json::array())) {
    if (!r.is_object() || !r.contains("name") || !r["name"].is_string()) continue;
    RegionTimers t;
    for (const auto& [field, slot] : {std::pair{"unavailableSince", &t.unavailable_since},
                                      std::pair{"availableSince", &t.available_since}}) {
      if (r.contains(field) && r[field].is_string()) *slot = parse_rfc3339(r[field]);
    }
    state.regions[r["name"].get<std::string>()] = t;
  }
  return state;
}

}  // namespace

DeepSeekServiceReconciler::DeepSeekServiceReconciler(kube::KubeClientPtr client,
                                                     const kube::Indexer& services,
                                                     const kube::Indexer& deployments,
                                                     ReconcilerOptions options)
    : client_(std::move(client)),
      services_(services),
      deployments_(deployments),
      options_(std::move(options)) {
  injected_clock_ = static_cast<bool>(options_.now_rfc3339);
  if (!options_.now_rfc3339) options_.now_rfc3339 = system_now_rfc3339;
}

kube::Resource DeepSeekServiceReconciler::deepseek_services() {
  return {api::kGroup, api::kVersion, api::kResource, true};
}
kube::Resource DeepSeekServiceReconciler::deployments() {
  return {"apps", "v1", "deployments", true};
}
kube::Resource DeepSeekServiceReconciler::services() {
  return {"", "v1", "services", true};
}
kube::Resource DeepSeekServiceReconciler::pod_disruption_budgets(const std::string& api_version) {
  return {"policy", api_version.substr(api_version.find('/') + 1), "poddisruptionbudgets", true};
}

kube::IndexFunc DeepSeekServiceReconciler::service_index() {
  return [](const Json& object) -> std::vector<std::string> {
    const auto& labels = object.contains("metadata")
                             ? object["metadata"].value("labels", Json::object())
                             : Json::object();
    if (!labels.contains(kServiceLabel) || !labels[kServiceLabel].is_string()) return {};
    return {kube::meta_string(object, "namespace") + "/" +
            labels[kServiceLabel].get<std::string>()};
  };
}

void DeepSeekServiceReconciler::event(const Json& object, const std::string& type,
                                      const std::string& reason, const std::string& message) const {
  if (options_.record_event) options_.record_event(object, type, reason, message);
}

kube::ObjectPtr DeepSeekServiceReconciler::with_own_status(const std::string& key,
                                                           kube::ObjectPtr cached) {
  std::lock_guard lock(written_mutex_);
  const auto it = written_.find(key);
  if (it == written_.end()) return cached;
  if (!cached || kube::resource_version(*cached) != it->second.based_on) {
    written_.erase(it);  // the cache has moved on (our write, or someone else's)
    return cached;
  }
  auto view = std::make_shared<Json>(*cached);
  (*view)["status"] = it->second.status;
  return view;
}

std::vector<std::string> DeepSeekServiceReconciler::spec_problems(
    const std::expected<api::DeepSeekService, std::string>& parsed) const {
  if (!parsed) return {parsed.error()};
  std::vector<std::string> problems = api::validate(parsed->spec);
  for (auto& p : runtime::validate_runtime(parsed->spec)) problems.push_back(std::move(p));
  if (parsed->spec.model.source.host_path && !options_.allow_host_path) {
    problems.push_back(
        "spec.model.source.hostPath: host directories are refused by this operator (started "
        "without --allow-host-path); use pvc or uri");
  }
  return problems;
}

ReconcileResult DeepSeekServiceReconciler::report_invalid_spec(
    const Json& object, const std::vector<std::string>& problems) {
  const std::string message = join(problems, "; ");
  event(object, "Warning", "InvalidSpec", message);
  Json status{{"observedGeneration", object["metadata"].value("generation", std::int64_t{0})}};
  status["conditions"] = Json::array(
      {condition("Ready", false, "InvalidSpec", "the spec is invalid, nothing was changed"),
       condition("Progressing", false, "InvalidSpec", "waiting for a valid spec"),
       condition("Degraded", true, "InvalidSpec", message)});
  // Not retried: a spec edit triggers the next reconcile.
  auto written = write_status(object, status);
  return written.kind == ReconcileResult::Kind::kDone ? ReconcileResult::done() : written;
}

DeepSeekServiceReconciler::Total DeepSeekServiceReconciler::decide_total(
    const api::DeepSeekService& dss, const Json& object, const Deployments& current) const {
  const api::DeepSeekServiceSpec& spec = dss.spec;
  const api::Autoscaling& as = spec.autoscaling;
  Total t;
  if (!as.enabled) {
    t.replicas = spec.replicas.value_or(1);
    t.scaling_reason = "AutoscalingDisabled";
    t.scaling_message = "spec.replicas (" + std::to_string(t.replicas) + ") sets the replicas";
    return t;
  }
  const std::optional<int> decided =
      options_.desired_replicas ? options_.desired_replicas(dss) : std::nullopt;
  // Holding means: what the operator last set (status.replicas), never a Deployment's own count
  // (an edit there is drift in a field the operator owns, and is reverted). Without a
  // status.replicas (a status lost or restored without it) the primary's live Deployment says
  // what runs now: holding the minimum instead would scale a busy service down.
  const Json& last = object.contains("status") ? object["status"] : Json::object();
  int held = as.min_replicas;
  if (last.contains("replicas") && last["replicas"].is_number_integer()) {
    held = last["replicas"].get<int>();
  } else if (const api::Region* primary = api::primary_region(spec)) {
    if (const auto it = current.find(region_object_name(dss, *primary)); it != current.end())
      held = int_at(*it->second, "spec", "replicas");
  }
  const int wanted = decided ? *decided : held;
  t.replicas = std::clamp(wanted, as.min_replicas, as.max_replicas);
  if (t.replicas != wanted) {
    t.limited_reason = t.replicas > wanted ? "TooFewReplicas" : "TooManyReplicas";
    t.limited_message = "wanted " + std::to_string(wanted) + ", limited to [" +
                        std::to_string(as.min_replicas) + ", " + std::to_string(as.max_replicas) +
                        "]";
  }
  if (as.max_gpus && spec.resources.gpus_per_pod > 0) {
    const int budget = *as.max_gpus / spec.resources.gpus_per_pod;
    if (t.replicas > budget) {
      t.limited_reason = "GPUBudget";
      t.limited_message = "wanted " + std::to_string(t.replicas) + " replicas, the GPU budget (" +
                          std::to_string(*as.max_gpus) + " GPUs) allows " + std::to_string(budget);
      t.replicas = budget;
    }
  }
  t.scaling_reason = decided ? "AutoscalerDecided" : "HoldingReplicas";
  t.scaling_message =
      decided ? "the autoscaler set " + std::to_string(t.replicas) + " replicas"
              : "no autoscaler decision yet: holding " + std::to_string(t.replicas) + " replicas";
  if (spec.replicas && *spec.replicas != t.replicas) {
    t.scaling_message += "; spec.replicas (" + std::to_string(*spec.replicas) +
                         ") is ignored while autoscaling is enabled";
  }
  return t;
}

FailoverPlan DeepSeekServiceReconciler::plan_regions(const api::DeepSeekService& dss,
                                                     const Json& object, const Deployments& current,
                                                     int total) const {
  // Which local region is the active primary, from the cached Deployments' counts and the state
  // status carries (controller/failover.h).
  std::map<std::string, RegionObservation> observations;
  for (const api::Region& region : dss.spec.regions) {
    if (region.cluster) continue;
    const auto it = current.find(region_object_name(dss, region));
    if (it == current.end()) continue;
    observations[region.name] = {int_at(*it->second, "spec", "replicas"),
                                 int_at(*it->second, "status", "readyReplicas")};
  }
  // The failover timers need sub-second precision (an "unhealthyAfter: 3s" must not fire after
  // 2.1 s): the system clock, or the injected one.
  const WallTime now =
      injected_clock_
          ? parse_rfc3339(options_.now_rfc3339()).value_or(std::chrono::system_clock::now())
          : std::chrono::system_clock::now();
  return plan_failover(dss.spec, previous_failover_state(object), observations, total, now);
}

std::expected<kube::ObjectPtr, ReconcileResult> DeepSeekServiceReconciler::apply_deployment(
    const Json& object, const Json& manifest, int replicas, const kube::ObjectPtr& before) {
  const std::string ns = kube::meta_string(manifest, "namespace");
  const std::string name = kube::meta_string(manifest, "name");
  // Apply only what the cache does not already hold (the informer re-enqueues this service on any
  // change to these objects, so a skip never outlives a drift).
  const Json desired = with_applied_hash(manifest);
  if (before && cluster_holds(desired, *before)) {
    if (options_.on_apply) options_.on_apply("Deployment", false);
    return before;
  }
  auto applied = client_->apply(deployments(), ns, desired, kFieldManager, true);
  if (!applied) {
    event(object, "Warning", "ApplyFailed",
          "Deployment " + name + ": " + applied.error().to_string());
    return std::unexpected(ReconcileResult::failed("apply Deployment " + ns + "/" + name + ": " +
                                                   applied.error().to_string()));
  }
  auto deployment = std::make_shared<const Json>(std::move(*applied));
  if (options_.on_apply) options_.on_apply("Deployment", true);
  if (!before) {
    event(object, "Normal", "Created",
          "Created Deployment " + name + " with " + std::to_string(replicas) + " replicas");
  } else if (const int old_replicas = int_at(*before, "spec", "replicas");
             old_replicas != replicas) {
    event(object, "Normal", "Scaled",
          "Scaled Deployment " + name + " from " + std::to_string(old_replicas) + " to " +
              std::to_string(replicas));
  } else if (kube::resource_version(*deployment) != kube::resource_version(*before)) {
    event(object, "Normal", "Updated", "Updated Deployment " + name + " to the desired spec");
  }
  return deployment;
}

std::optional<ReconcileResult> DeepSeekServiceReconciler::apply_service_and_pdb(
    const Json& object, const RegionObjects& objects) {
  for (const auto& [resource, manifest, kind, cache] :
       {std::tuple{services(), &objects.service, "Service", options_.service_cache},
        std::tuple{pod_disruption_budgets(options_.pdb_api_version), &objects.pdb,
                   "PodDisruptionBudget", options_.pdb_cache}}) {
    const std::string ns = kube::meta_string(*manifest, "namespace");
    const std::string name = kube::meta_string(*manifest, "name");
    const Json desired = with_applied_hash(*manifest);
    if (cache) {
      const kube::ObjectPtr cached_object = cache->get(ns + "/" + name);
      if (cached_object && cluster_holds(desired, *cached_object)) {
        if (options_.on_apply) options_.on_apply(kind, false);
        continue;
      }
    }
    const auto applied = client_->apply(resource, ns, desired, kFieldManager, true);
    if (!applied) {
      event(object, "Warning", "ApplyFailed",
            std::string(kind) + " " + name + ": " + applied.error().to_string());
      return ReconcileResult::failed(std::string("apply ") + kind + " " + ns + "/" + name + ": " +
                                     applied.error().to_string());
    }
    if (options_.on_apply) options_.on_apply(kind, true);
  }
  return std::nullopt;
}

std::expected<DeepSeekServiceReconciler::RegionOutcome, ReconcileResult>
DeepSeekServiceReconciler::reconcile_region(const api::DeepSeekService& dss, const Json& object,
                                            const api::Region& region, int replicas,
                                            const Deployments& current,
                                            const FailoverPlan& failover) {
  RegionOutcome out;
  out.status = Json{{"name", region.name},
                    {"role", region.role == api::RegionRole::kPrimary ? "primary" : "standby"}};
  if (region.cluster) {
    out.remote = true;
    out.status["healthy"] = false;
    out.status["weight"] = 0;
    return out;
  }
  BuildOptions build;
  build.pdb_api_version = options_.pdb_api_version;
  build.replicas = replicas;
  const RegionObjects objects = build_region_objects(dss, region, build);
  const std::string name = region_object_name(dss, region);
  const auto found = current.find(name);
  const kube::ObjectPtr before = found != current.end() ? found->second : kube::ObjectPtr();

  // Nothing of a region is applied while one of its names belongs to someone else.
  const auto conflict = region_name_conflict(dss, name, before);
  if (!conflict) return std::unexpected(ReconcileResult::failed(conflict.error()));
  if (*conflict) {
    event(object, "Warning", "NameConflict", **conflict);
    out.conflict = **conflict;
    out.status["healthy"] = false;
    out.status["weight"] = 0;
    out.status["conflict"] = **conflict;
    return out;
  }
  const auto deployment = apply_deployment(object, objects.deployment, replicas, before);
  if (!deployment) return std::unexpected(deployment.error());
  if (auto failed = apply_service_and_pdb(object, objects)) return std::unexpected(*failed);

  // Readiness from the freshest state we have: the cache when it has caught up, else the answer.
  const Json& observed =
      before && kube::resource_version(*before) == kube::resource_version(**deployment)
          ? *before
          : **deployment;
  const int ready = int_at(observed, "status", "readyReplicas");
  const int updated = int_at(observed, "status", "updatedReplicas");
  // value(): a Deployment without status (a fake client's answer) must not read a missing key.
  const bool rolled =
      observed.value("status", Json::object()).value("observedGeneration", std::int64_t{0}) >=
      observed.value("metadata", Json::object()).value("generation", std::int64_t{0});
  out.progressing = !rolled || updated < replicas || ready < replicas;
  out.desired = replicas;
  out.ready = std::min(ready, replicas);
  out.status["replicas"] = replicas;
  out.status["desiredReplicas"] = replicas;
  out.status["readyReplicas"] = ready;
  out.status["healthy"] = ready >= replicas;
  out.status["weight"] = failover.weights.at(region.name);
  const RegionTimers& timers = failover.regions.at(region.name);
  if (timers.unavailable_since)
    out.status["unavailableSince"] = format_rfc3339(*timers.unavailable_since);
  if (timers.available_since)
    out.status["availableSince"] = format_rfc3339(*timers.available_since);
  return out;
}

std::expected<std::optional<std::string>, ReconcileResult>
DeepSeekServiceReconciler::publish_traffic(const api::DeepSeekService& dss, const Json& object,
                                           const FailoverPlan& failover) {
  const std::string& name = dss.spec.failover.traffic_config_map;
  const std::string& ns = dss.metadata.ns;
  if (name.empty()) return std::nullopt;
  auto conflict = name_conflict(kube::Resource::config_maps(), "ConfigMap", ns, name,
                                dss.metadata.uid, nullptr);
  if (!conflict) return std::unexpected(ReconcileResult::failed(conflict.error()));
  if (*conflict) {
    event(object, "Warning", "NameConflict", **conflict);
    return *conflict;
  }
  const Json config_map = build_traffic_config_map(dss, failover.active_primary, failover.weights);
  const auto applied =
      client_->apply(kube::Resource::config_maps(), ns, config_map, kFieldManager, true);
  if (!applied) {
    event(object, "Warning", "ApplyFailed",
          "ConfigMap " + name + ": " + applied.error().to_string());
    return std::unexpected(ReconcileResult::failed("apply ConfigMap " + ns + "/" + name + ": " +
                                                   applied.error().to_string()));
  }
  if (options_.on_apply) options_.on_apply("ConfigMap", true);  // no cache: applied every time
  return std::nullopt;
}

Json DeepSeekServiceReconciler::build_status(const api::DeepSeekService& dss, const Json& object,
                                             const Total& total, const FailoverPlan& failover,
                                             const Regions& regions) const {
  const api::Autoscaling& as = dss.spec.autoscaling;
  Json status = Json::object();
  status["observedGeneration"] = object["metadata"].value("generation", std::int64_t{0});
  // The service-level replicas (the scale subresource's view); regions[] has the per-region split.
  status["replicas"] = total.replicas;
  status["readyReplicas"] = regions.ready;
  status["ready"] = std::to_string(regions.ready) + "/" + std::to_string(regions.desired);
  status["selector"] = service_selector(dss);
  status["primaryRegion"] = failover.active_primary;  // the active one (failover.h)
  if (failover.failback_since) status["failbackSince"] = format_rfc3339(*failover.failback_since);
  status["regions"] = regions.statuses;
  const bool all_ready = regions.ready >= regions.desired;
  Json conditions = Json::array();
  conditions.push_back(condition("Ready", all_ready,
                                 all_ready ? "AllReplicasReady" : "ReplicasNotReady",
                                 status["ready"].get<std::string>() + " replicas ready"));
  conditions.push_back(condition("Progressing", regions.progressing,
                                 regions.progressing ? "RollingOut" : "Stable",
                                 regions.progressing ? "Deployments are rolling out or scaling"
                                                     : "all Deployments are up to date"));
  if (!regions.conflicts.empty()) {
    conditions.push_back(
        condition("Degraded", true, "NameConflict", join(regions.conflicts, "; ")));
  } else if (regions.remote.empty()) {
    conditions.push_back(
        condition("Degraded", false, "AsExpected", "the spec is valid and applied"));
  } else {
    conditions.push_back(
        condition("Degraded", true, "RemoteClusterUnsupported",
                  "regions in other clusters are not reconciled by this version: " +
                      join(regions.remote, ", ")));
  }
  conditions.push_back(
      condition("ScalingActive", as.enabled, total.scaling_reason, total.scaling_message));
  conditions.push_back(
      condition("ScalingLimited", !total.limited_reason.empty(),
                total.limited_reason.empty() ? "WithinLimits" : total.limited_reason,
                total.limited_reason.empty() ? "the replicas are within the configured limits"
                                             : total.limited_message));
  if (as.enabled && options_.autoscaling_status) {
    if (const auto part = options_.autoscaling_status(dss)) {
      for (const auto& [k, v] : part->items()) {
        if (k != "conditions") status[k] = v;
      }
      // The autoscaler's conditions replace the reconciler's, but for a ScalingLimited the
      // reconciler's own clamp set (it applied last).
      for (const Json& c : part->value("conditions", Json::array())) {
        const std::string type = c.value("type", "");
        auto same = std::find_if(conditions.begin(), conditions.end(),
                                 [&](const Json& o) { return o.value("type", "") == type; });
        if (same == conditions.end()) {
          conditions.push_back(c);
        } else if (!(type == "ScalingLimited" && !total.limited_reason.empty())) {
          *same = c;
        }
      }
    }
  }
  status["conditions"] = conditions;
  return status;
}

ReconcileResult DeepSeekServiceReconciler::reconcile(const std::string& key) {
  const kube::ObjectPtr cached = with_own_status(key, services_.get(key));
  if (!cached) {
    // Deleted: the garbage collector removes what it owned.
    if (options_.failover_state) {
      const auto [ns, name] = kube::split_key(key);
      options_.failover_state(ns, name, std::nullopt);
    }
    return ReconcileResult::done();
  }
  const Json& object = *cached;
  const auto parsed = api::parse_deepseek_service(object);
  if (auto problems = spec_problems(parsed); !problems.empty())
    return report_invalid_spec(object, problems);
  const api::DeepSeekService& dss = *parsed;
  if (dss.metadata.being_deleted) return ReconcileResult::done();

  Deployments current;  // the service's Deployments by name, from the cache
  for (const auto& d :
       deployments_.by_index(kServiceIndex, dss.metadata.ns + "/" + dss.metadata.name))
    current[kube::meta_string(*d, "name")] = d;

  const Total total = decide_total(dss, object, current);
  const FailoverPlan failover = plan_regions(dss, object, current, total.replicas);
  const auto per_region = plan_region_replicas_with_active(
      dss.spec, total.replicas, failover.active_primary, failover.failback_since.has_value());
  Regions regions;
  for (const api::Region& region : dss.spec.regions) {
    const auto planned = per_region.find(region.name);
    auto outcome = reconcile_region(
        dss, object, region, planned != per_region.end() ? planned->second : 0, current, failover);
    if (!outcome) return outcome.error();
    if (outcome->remote) regions.remote.push_back(region.name);
    if (outcome->conflict) regions.conflicts.push_back(*outcome->conflict);
    regions.desired += outcome->desired;
    regions.ready += outcome->ready;
    regions.progressing |= outcome->progressing;
    regions.statuses.push_back(std::move(outcome->status));
  }
  const auto traffic_conflict = publish_traffic(dss, object, failover);
  if (!traffic_conflict) return traffic_conflict.error();
  if (*traffic_conflict) regions.conflicts.push_back(**traffic_conflict);

  const Json status = build_status(dss, object, total, failover, regions);
  const ReconcileResult written = write_status(object, status, dss.spec.autoscaling.enabled);
  if (written.kind != ReconcileResult::Kind::kDone) return written;
  // After the status that records it, so that a failed write does not announce a switch twice.
  if (failover.event)
    event(object, failover.event->type, failover.event->reason, failover.event->message);
  if (options_.failover_state)
    options_.failover_state(dss.metadata.ns, dss.metadata.name, failover.failed_over);
  if (failover.requeue_after) {
    return ReconcileResult::requeue_after_delay(
        std::chrono::duration_cast<kube::Duration>(*failover.requeue_after));
  }
  if (!regions.conflicts.empty()) return ReconcileResult::requeue_after_delay(kConflictRecheck);
  return written;
}

std::expected<std::optional<std::string>, std::string> DeepSeekServiceReconciler::name_conflict(
    const kube::Resource& resource, const std::string& kind, const std::string& ns,
    const std::string& name, const std::string& uid, const kube::ObjectPtr& known) const {
  if (uid.empty()) return std::nullopt;  // not created by the API server: nothing to compare
  Json existing;
  if (known) {
    existing = *known;
  } else {
    auto got = client_->get(resource, ns, name);
    if (!got) {
      if (got.error().is_not_found()) return std::nullopt;
      return std::unexpected("read " + kind + " " + ns + "/" + name + ": " +
                             got.error().to_string());
    }
    existing = std::move(*got);
  }
  if (owned_by(existing, uid)) return std::nullopt;
  return kind + " " + ns + "/" + name +
         " exists and is not this DeepSeekService's (no owner reference to it): left unchanged; "
         "rename the region or remove that object";
}

std::expected<std::optional<std::string>, std::string>
DeepSeekServiceReconciler::region_name_conflict(const api::DeepSeekService& dss,
                                                const std::string& name,
                                                const kube::ObjectPtr& cached_deployment) const {
  const std::string& ns = dss.metadata.ns;
  const auto cached = [&](const kube::Indexer* cache) {
    return cache ? cache->get(ns + "/" + name) : kube::ObjectPtr();
  };
  for (const auto& [resource, kind, known] :
       {std::tuple{deployments(), "Deployment", cached_deployment},
        std::tuple{services(), "Service", cached(options_.service_cache)},
        std::tuple{pod_disruption_budgets(options_.pdb_api_version), "PodDisruptionBudget",
                   cached(options_.pdb_cache)}}) {
    auto found = name_conflict(resource, kind, ns, name, dss.metadata.uid, known);
    if (!found || *found) return found;
  }
  return std::nullopt;
}

ReconcileResult DeepSeekServiceReconciler::write_status(const Json& object, Json status,
                                                        bool autoscaling) {
  // Keep lastTransitionTime for conditions whose status did not change.
  const Json old_status = object.value("status", Json::object());
  const Json old_conditions = old_status.value("conditions", Json::array());
  const std::string now = options_.now_rfc3339();
  for (Json& c : status["conditions"]) {
    c["observedGeneration"] = status["observedGeneration"];
    c["lastTransitionTime"] = now;
    for (const Json& old : old_conditions) {
      if (old.value("type", "") == c["type"] && old.value("status", "") == c["status"] &&
          old.contains("lastTransitionTime")) {
        c["lastTransitionTime"] = old["lastTransitionTime"];
      }
    }
  }
  // Fields that no longer apply are removed (merge patch: null deletes).
  for (const auto& [k, v] : old_status.items()) {
    // The autoscaling fields are kept until the scaling loop publishes new ones (after a restart
    // its first decision comes a period later), and dropped when autoscaling is off.
    const bool autoscaling_field =
        k == "forecast" || k == "decisions" || k == "coldStartSeconds" || k == "autoscaler";
    if (!status.contains(k) && !(autoscaling && autoscaling_field)) status[k] = nullptr;
  }
  Json merged = old_status;
  merged.merge_patch(status);
  if (merged == old_status) return ReconcileResult::done();
  const auto [ns, name] = kube::split_key(kube::object_key(object));
  const auto written = client_->patch(deepseek_services(), ns, name, kube::PatchType::kMerge,
                                      Json{{"status", status}}, {}, "status");
  if (!written) {
    if (written.error().is_not_found()) return ReconcileResult::done();
    return ReconcileResult::failed("write status of " + ns + "/" + name + ": " +
                                   written.error().to_string());
  }
  {
    std::lock_guard lock(written_mutex_);
    written_[ns + "/" + name] = {kube::resource_version(object),
                                 written->value("status", Json::object())};
  }
  return ReconcileResult::done();
}

}  // namespace dso::controller
