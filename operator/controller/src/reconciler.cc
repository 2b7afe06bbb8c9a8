#include "controller/reconciler.h"

#include <algorithm>
#include <chrono>

#include "controller/desired_objects.h"
#include "controller/failover.h"
#include "runtime/profile.h"
#include "timing/rfc3339.h"

namespace dso::controller {
namespace {

using kube::Json;
using kube::ReconcileResult;

std::string system_now_rfc3339() {
  return timing::format_rfc3339_seconds(std::chrono::system_clock::now());
}

Json condition(const std::string& type, bool status, const std::string& reason,
               const std::string& message) {
  return Json{{"type", type},
              {"status", status ? "True" : "False"},
              {"reason", reason},
              {"message", message}};
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
  const std::int64_t generation = object["metadata"].value("generation", std::int64_t{0});

  Json status = Json::object();
  status["observedGeneration"] = generation;
  Json conditions = Json::array();

  const auto parsed = api::parse_deepseek_service(object);
  std::vector<std::string> problems;
  if (!parsed)
    problems.push_back(parsed.error());
  else
    problems = api::validate(parsed->spec);
  if (parsed) {
    for (auto& p : runtime::validate_runtime(parsed->spec)) problems.push_back(std::move(p));
    if (parsed->spec.model.source.host_path && !options_.allow_host_path) {
      problems.push_back(
          "spec.model.source.hostPath: host directories are refused by this operator (started "
          "without --allow-host-path); use pvc or uri");
    }
  }
  if (!problems.empty()) {
    const std::string message = join(problems, "; ");
    event(object, "Warning", "InvalidSpec", message);
    conditions.push_back(
        condition("Ready", false, "InvalidSpec", "the spec is invalid, nothing was changed"));
    conditions.push_back(
        condition("Progressing", false, "InvalidSpec", "waiting for a valid spec"));
    conditions.push_back(condition("Degraded", true, "InvalidSpec", message));
    status["conditions"] = conditions;
    // Not retried: a spec edit triggers the next reconcile.
    auto written = write_status(object, status);
    return written.kind == ReconcileResult::Kind::kDone ? ReconcileResult::done() : written;
  }
  const api::DeepSeekService& dss = *parsed;
  if (dss.metadata.being_deleted) return ReconcileResult::done();
  const api::DeepSeekServiceSpec& spec = dss.spec;
  const std::string ns = dss.metadata.ns;

  // Current Deployments by name, from the cache.
  std::map<std::string, kube::ObjectPtr> current;
  for (const auto& d : deployments_.by_index(kServiceIndex, ns + "/" + dss.metadata.name)) {
    current[kube::meta_string(*d, "name")] = d;
  }

  // Total replicas: who decides is the documented rule in reconciler.h.
  const api::Autoscaling& as = spec.autoscaling;
  int total = 0;
  std::string scaling_reason, scaling_message, limited_reason, limited_message;
  if (!as.enabled) {
    total = spec.replicas.value_or(1);
    scaling_reason = "AutoscalingDisabled";
    scaling_message = "spec.replicas (" + std::to_string(total) + ") sets the replicas";
  } else {
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
    total = std::clamp(wanted, as.min_replicas, as.max_replicas);
    if (total != wanted) {
      limited_reason = total > wanted ? "TooFewReplicas" : "TooManyReplicas";
      limited_message = "wanted " + std::to_string(wanted) + ", limited to [" +
                        std::to_string(as.min_replicas) + ", " + std::to_string(as.max_replicas) +
                        "]";
    }
    if (as.max_gpus && spec.resources.gpus_per_pod > 0) {
      const int budget = *as.max_gpus / spec.resources.gpus_per_pod;
      if (total > budget) {
        limited_reason = "GPUBudget";
        limited_message = "wanted " + std::to_string(total) + " replicas, the GPU budget (" +
                          std::to_string(*as.max_gpus) + " GPUs) allows " + std::to_string(budget);
        total = budget;
      }
    }
    scaling_reason = decided ? "AutoscalerDecided" : "HoldingReplicas";
    scaling_message =
        decided ? "the autoscaler set " + std::to_string(total) + " replicas"
                : "no autoscaler decision yet: holding " + std::to_string(total) + " replicas";
    if (spec.replicas && *spec.replicas != total) {
      scaling_message += "; spec.replicas (" + std::to_string(*spec.replicas) +
                         ") is ignored while autoscaling is enabled";
    }
  }

  // Failover: which local region is the active primary, from the cached Deployments' counts and
  // the state status carries (controller/failover.h).
  std::map<std::string, RegionObservation> observations;
  for (const api::Region& region : spec.regions) {
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
  const FailoverPlan failover =
      plan_failover(spec, previous_failover_state(object), observations, total, now);
  const auto per_region = plan_region_replicas_with_active(spec, total, failover.active_primary,
                                                           failover.failback_since.has_value());
  BuildOptions build;
  build.pdb_api_version = options_.pdb_api_version;
  int desired_sum = 0, ready_sum = 0;
  bool progressing = false;
  std::vector<std::string> remote;
  std::vector<std::string> conflicts;  // names held by objects this service does not own
  Json regions = Json::array();
  for (const api::Region& region : spec.regions) {
    Json region_status{{"name", region.name},
                       {"role", region.role == api::RegionRole::kPrimary ? "primary" : "standby"}};
    if (region.cluster) {
      remote.push_back(region.name);
      region_status["healthy"] = false;
      region_status["weight"] = 0;
      regions.push_back(region_status);
      continue;
    }
    build.replicas = per_region.at(region.name);
    const RegionObjects objects = build_region_objects(dss, region, build);
    const std::string name = region_object_name(dss, region);
    const auto before = current.find(name);

    // Nothing of a region is applied while one of its names belongs to someone else.
    const auto conflict = region_name_conflict(
        dss, name, before != current.end() ? before->second : kube::ObjectPtr());
    if (!conflict) return ReconcileResult::failed(conflict.error());
    if (*conflict) {
      conflicts.push_back(**conflict);
      event(object, "Warning", "NameConflict", **conflict);
      region_status["healthy"] = false;
      region_status["weight"] = 0;
      region_status["conflict"] = **conflict;
      regions.push_back(region_status);
      continue;
    }

    // Apply only what the cache does not already hold (the informer re-enqueues this service on
    // any change to these objects, so a skip never outlives a drift).
    const Json desired_deployment = with_applied_hash(objects.deployment);
    kube::ObjectPtr deployment;  // the Deployment as last known: the cache's, or the apply's answer
    if (before != current.end() && cluster_holds(desired_deployment, *before->second)) {
      deployment = before->second;
      if (options_.on_apply) options_.on_apply("Deployment", false);
    } else {
      auto applied = client_->apply(deployments(), ns, desired_deployment, kFieldManager, true);
      if (!applied) {
        event(object, "Warning", "ApplyFailed",
              "Deployment " + name + ": " + applied.error().to_string());
        return ReconcileResult::failed("apply Deployment " + ns + "/" + name + ": " +
                                       applied.error().to_string());
      }
      deployment = std::make_shared<const Json>(std::move(*applied));
      if (options_.on_apply) options_.on_apply("Deployment", true);
      if (before == current.end()) {
        event(
            object, "Normal", "Created",
            "Created Deployment " + name + " with " + std::to_string(build.replicas) + " replicas");
      } else {
        const int old_replicas = int_at(*before->second, "spec", "replicas");
        if (old_replicas != build.replicas) {
          event(object, "Normal", "Scaled",
                "Scaled Deployment " + name + " from " + std::to_string(old_replicas) + " to " +
                    std::to_string(build.replicas));
        } else if (kube::resource_version(*deployment) != kube::resource_version(*before->second)) {
          event(object, "Normal", "Updated", "Updated Deployment " + name + " to the desired spec");
        }
      }
    }
    for (const auto& [resource, manifest, kind, cache] :
         {std::tuple{services(), &objects.service, "Service", options_.service_cache},
          std::tuple{pod_disruption_budgets(options_.pdb_api_version), &objects.pdb,
                     "PodDisruptionBudget", options_.pdb_cache}}) {
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

    // Readiness from the freshest state we have: the cache when it has caught up, else the answer.
    const Json& observed = before != current.end() && kube::resource_version(*before->second) ==
                                                          kube::resource_version(*deployment)
                               ? *before->second
                               : *deployment;
    const int ready = int_at(observed, "status", "readyReplicas");
    const int updated = int_at(observed, "status", "updatedReplicas");
    // value(): a Deployment without status (a fake client's answer) must not read a missing key.
    const bool rolled =
        observed.value("status", Json::object()).value("observedGeneration", std::int64_t{0}) >=
        observed.value("metadata", Json::object()).value("generation", std::int64_t{0});
    progressing |= !rolled || updated < build.replicas || ready < build.replicas;
    desired_sum += build.replicas;
    ready_sum += std::min(ready, build.replicas);
    region_status["replicas"] = build.replicas;
    region_status["desiredReplicas"] = build.replicas;
    region_status["readyReplicas"] = ready;
    region_status["healthy"] = ready >= build.replicas;
    region_status["weight"] = failover.weights.at(region.name);
    const RegionTimers& timers = failover.regions.at(region.name);
    if (timers.unavailable_since)
      region_status["unavailableSince"] = format_rfc3339(*timers.unavailable_since);
    if (timers.available_since)
      region_status["availableSince"] = format_rfc3339(*timers.available_since);
    regions.push_back(region_status);
  }

  // Traffic publication: the weights, for whatever routes traffic between the regions.
  std::optional<std::string> config_map_conflict;
  if (!spec.failover.traffic_config_map.empty()) {
    auto found = name_conflict(kube::Resource::config_maps(), "ConfigMap", ns,
                               spec.failover.traffic_config_map, dss.metadata.uid, nullptr);
    if (!found) return ReconcileResult::failed(found.error());
    config_map_conflict = *found;
  }
  if (config_map_conflict) {
    conflicts.push_back(*config_map_conflict);
    event(object, "Warning", "NameConflict", *config_map_conflict);
  } else if (!spec.failover.traffic_config_map.empty()) {
    const Json config_map =
        build_traffic_config_map(dss, failover.active_primary, failover.weights);
    const auto applied =
        client_->apply(kube::Resource::config_maps(), ns, config_map, kFieldManager, true);
    if (!applied) {
      event(object, "Warning", "ApplyFailed",
            "ConfigMap " + spec.failover.traffic_config_map + ": " + applied.error().to_string());
      return ReconcileResult::failed("apply ConfigMap " + ns + "/" +
                                     spec.failover.traffic_config_map + ": " +
                                     applied.error().to_string());
    }
    if (options_.on_apply) options_.on_apply("ConfigMap", true);  // no cache: applied every time
  }

  // The service-level replicas (the scale subresource's view); regions[] has the per-region split.
  status["replicas"] = total;
  status["readyReplicas"] = ready_sum;
  status["ready"] = std::to_string(ready_sum) + "/" + std::to_string(desired_sum);
  status["selector"] = service_selector(dss);
  status["primaryRegion"] = failover.active_primary;  // the active one (failover.h)
  if (failover.failback_since) status["failbackSince"] = format_rfc3339(*failover.failback_since);
  status["regions"] = regions;
  const bool all_ready = ready_sum >= desired_sum;
  conditions.push_back(condition("Ready", all_ready,
                                 all_ready ? "AllReplicasReady" : "ReplicasNotReady",
                                 status["ready"].get<std::string>() + " replicas ready"));
  conditions.push_back(condition(
      "Progressing", progressing, progressing ? "RollingOut" : "Stable",
      progressing ? "Deployments are rolling out or scaling" : "all Deployments are up to date"));
  if (!conflicts.empty()) {
    conditions.push_back(condition("Degraded", true, "NameConflict", join(conflicts, "; ")));
  } else if (remote.empty()) {
    conditions.push_back(
        condition("Degraded", false, "AsExpected", "the spec is valid and applied"));
  } else {
    conditions.push_back(condition(
        "Degraded", true, "RemoteClusterUnsupported",
        "regions in other clusters are not reconciled by this version: " + join(remote, ", ")));
  }
  conditions.push_back(condition("ScalingActive", as.enabled, scaling_reason, scaling_message));
  conditions.push_back(condition(
      "ScalingLimited", !limited_reason.empty(),
      limited_reason.empty() ? "WithinLimits" : limited_reason,
      limited_reason.empty() ? "the replicas are within the configured limits" : limited_message));
  if (as.enabled && options_.autoscaling_status) {
    if (const auto part = options_.autoscaling_status(dss)) {
      for (const auto& [k, v] : part->items()) {
        if (k != "conditions") status[k] = v;
      }
      for (const Json& c : part->value("conditions", Json::array())) {
        const std::string type = c.value("type", "");
        auto same = std::find_if(conditions.begin(), conditions.end(),
                                 [&](const Json& o) { return o.value("type", "") == type; });
        if (same == conditions.end()) {
          conditions.push_back(c);
        } else if (!(type == "ScalingLimited" && !limited_reason.empty())) {
          *same = c;
        }
      }
    }
  }
  status["conditions"] = conditions;
  const ReconcileResult written = write_status(object, status, as.enabled);
  if (written.kind != ReconcileResult::Kind::kDone) return written;
  // After the status that records it, so that a failed write does not announce a switch twice.
  if (failover.event)
    event(object, failover.event->type, failover.event->reason, failover.event->message);
  if (options_.failover_state) options_.failover_state(ns, dss.metadata.name, failover.failed_over);
  if (failover.requeue_after) {
    return ReconcileResult::requeue_after_delay(
        std::chrono::duration_cast<kube::Duration>(*failover.requeue_after));
  }
  if (!conflicts.empty()) return ReconcileResult::requeue_after_delay(kConflictRecheck);
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
