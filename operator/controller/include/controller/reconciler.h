// DeepSeekServiceReconciler: level-triggered reconcile of one DeepSeekService (by key
// "namespace/name"). It reads the service and its Deployments from informer caches, applies the
// desired Deployment/Service/PDB of every region served by this cluster with server-side apply
// (field manager "deepseek-operator", force: drift in owned fields is repaired, fields it does not
// own are left to their owners), and writes status: observedGeneration, replicas, conditions
// Ready/Progressing/Degraded/ScalingActive/ScalingLimited, per-region counts, the scale selector.
// A name the service uses that already belongs to another object (no owner reference to the
// service) is never adopted: that region or the traffic ConfigMap is left alone, Degraded=True with
// reason NameConflict names it, and the service is looked at again every 30 s.
// An object is applied only when its cache entry does not already hold the desired one
// (cluster_holds in desired_objects.h: missing, a spec or replica change, an owned field edited or
// removed in the cluster); an object without a cache is applied on every reconcile. Status is
// patched only when it changed.
// Failover between the local regions (controller/failover.h): status.primaryRegion is the active
// primary, status.regions[] carry the weights and the timers, status.failbackSince a failback in
// progress; events FailedOver/FailingBack/FailedBack/FailbackAborted; a
// pending switch requeues the key for the time left; with spec.failover.trafficPublication the
// weights go to a ConfigMap (server-side apply).
//
// Who sets replicas (docs/deepseekservice.md, docs/autoscaling.md): autoscaling off → spec.replicas
// (kubectl scale dss); autoscaling on → the scaling path (`desired_replicas` hook, which also
// applies a manual scale until the autoscaler's next decision; until it has decided, the current
// replicas are held within min/max). The scaling path's status part (forecast, decisions,
// MetricsUnavailable, ...) comes through the `autoscaling_status` hook, so this reconciler stays
// the one writer of status. The operator owns each Deployment's spec.replicas: do not put an HPA
// on those Deployments.
#pragma once

#include <expected>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/deepseek_service.h"
#include "controller/desired_objects.h"
#include "controller/failover.h"
#include "kube/client.h"
#include "kube/controller.h"
#include "kube/informer.h"

namespace dso::controller {

struct ReconcilerOptions {
  std::string pdb_api_version = "policy/v1";  // from discovery: policy/v1beta1 before 1.21
  // Whether spec.model.source.hostPath may be used (`run --allow-host-path`): a host directory
  // mounted into pods is a host's file system handed to whoever may create a DeepSeekService.
  // Off: such a spec is InvalidSpec and nothing is applied.
  bool allow_host_path = false;
  // Records a core/v1 Event about `object` (type Normal|Warning). May be empty (no events).
  std::function<void(const kube::Json& object, const std::string& type, const std::string& reason,
                     const std::string& message)>
      record_event;
  // The wall clock as RFC 3339 (lastTransitionTime); injectable for tests.
  std::function<std::string()> now_rfc3339;
  // The scaling path's decision for a service (total replicas over all regions), when it has one.
  std::function<std::optional<int>(const api::DeepSeekService&)> desired_replicas;
  // The autoscaling part of the status (scaling::ScalingLoop::status_part), when there is one:
  // its fields (coldStartSeconds, forecast, decisions, autoscaler, ...) are written as given (a
  // null removes the field), its conditions replace the reconciler's of the same type, except a
  // ScalingLimited=True of the reconciler's own (min/max or GPU budget clamp), which stays. The
  // reconciler stays the one writer of status.
  std::function<std::optional<kube::Json>(const api::DeepSeekService&)> autoscaling_status;
  // Informer caches of the Services and PodDisruptionBudgets the operator manages (keyed
  // "namespace/name"), to skip applying what they already hold. Null: applied on every reconcile.
  // When set, their informers must enqueue the owning service on every change and delete
  // (service_index() gives its key), or a deleted or edited object waits for the next resync.
  const kube::Indexer* service_cache = nullptr;
  const kube::Indexer* pdb_cache = nullptr;
  // Told, for each owned object a reconcile builds, its kind ("Deployment", "Service",
  // "PodDisruptionBudget", "ConfigMap" for the traffic weights) and whether it was applied (false:
  // its cache held it, no request). May be empty. run_command.cc counts these in
  // deepseek_operator_applies_total.
  std::function<void(const std::string& kind, bool applied)> on_apply;
  // Told after each reconcile whether the service is failed over (its active primary is not the
  // configured one), and nullopt once it is deleted: the deepseek_operator_region_failed_over
  // gauge. May be empty.
  std::function<void(const std::string& ns, const std::string& name,
                     std::optional<bool> failed_over)>
      failover_state;
};

class DeepSeekServiceReconciler {
 public:
  // `services` and `deployments` are informer caches (the Deployment cache indexed by
  // kServiceIndex); they must outlive the reconciler. Thread-safe: the controller never runs one
  // key twice at once, and different keys touch different objects.
  DeepSeekServiceReconciler(kube::KubeClientPtr client, const kube::Indexer& services,
                            const kube::Indexer& deployments, ReconcilerOptions options);

  kube::ReconcileResult reconcile(const std::string& key);

  // Name of the Deployment cache index: "<namespace>/<service>" from the service label.
  static constexpr const char* kServiceIndex = "deepseek-service";
  static kube::IndexFunc service_index();

  static kube::Resource deepseek_services();
  static kube::Resource deployments();
  static kube::Resource services();
  static kube::Resource pod_disruption_budgets(const std::string& api_version);

 private:
  using Deployments = std::map<std::string, kube::ObjectPtr>;  // by name
  // The total replicas and why (ScalingActive), and the clamp that limited them (ScalingLimited).
  struct Total {
    int replicas = 0;
    std::string scaling_reason, scaling_message;
    std::string limited_reason, limited_message;  // empty: within the limits
  };
  // What reconciling one region gave: its status.regions[] entry and its counts.
  struct RegionOutcome {
    kube::Json status;
    int desired = 0, ready = 0;
    bool progressing = false;
    bool remote = false;                  // in another cluster: not reconciled here
    std::optional<std::string> conflict;  // a NameConflict message: nothing applied
  };
  struct Regions {
    kube::Json statuses = kube::Json::array();
    int desired = 0, ready = 0;
    bool progressing = false;
    std::vector<std::string> remote, conflicts;
  };

  // The steps of reconcile(), in order.
  std::vector<std::string> spec_problems(
      const std::expected<api::DeepSeekService, std::string>& parsed) const;
  kube::ReconcileResult report_invalid_spec(const kube::Json& object,
                                            const std::vector<std::string>& problems);
  Total decide_total(const api::DeepSeekService& dss, const kube::Json& object,
                     const Deployments& current) const;
  FailoverPlan plan_regions(const api::DeepSeekService& dss, const kube::Json& object,
                            const Deployments& current, int total) const;
  std::expected<RegionOutcome, kube::ReconcileResult> reconcile_region(
      const api::DeepSeekService& dss, const kube::Json& object, const api::Region& region,
      int replicas, const Deployments& current, const FailoverPlan& failover);
  // The traffic ConfigMap: nullopt when published (or not asked for), a NameConflict message.
  std::expected<std::optional<std::string>, kube::ReconcileResult> publish_traffic(
      const api::DeepSeekService& dss, const kube::Json& object, const FailoverPlan& failover);
  kube::Json build_status(const api::DeepSeekService& dss, const kube::Json& object,
                          const Total& total, const FailoverPlan& failover,
                          const Regions& regions) const;
  // A region's Deployment applied unless the cache holds it: the Deployment as last known.
  std::expected<kube::ObjectPtr, kube::ReconcileResult> apply_deployment(
      const kube::Json& object, const kube::Json& manifest, int replicas,
      const kube::ObjectPtr& before);
  // A region's Service and PDB applied unless the caches hold them; the failure, if one failed.
  std::optional<kube::ReconcileResult> apply_service_and_pdb(const kube::Json& object,
                                                             const RegionObjects& objects);

  kube::ReconcileResult write_status(const kube::Json& object, kube::Json status,
                                     bool autoscaling = true);
  void event(const kube::Json& object, const std::string& type, const std::string& reason,
             const std::string& message) const;
  // Whether `kind` ns/name, which the service with `uid` names, is someone else's: the
  // NameConflict message if it exists without an owner reference to `uid`, nullopt when it is
  // absent or the service's; an error when it could not be read. `known`: the cache's copy, when
  // the cache holds one (no request then).
  std::expected<std::optional<std::string>, std::string> name_conflict(
      const kube::Resource& resource, const std::string& kind, const std::string& ns,
      const std::string& name, const std::string& uid, const kube::ObjectPtr& known) const;
  // name_conflict for each object of a region (Deployment, Service, PDB named `name`): the first
  // conflict, nullopt when all three are free, an error when one could not be read.
  // `cached_deployment`: the cache's Deployment of that name, when it holds one.
  std::expected<std::optional<std::string>, std::string> region_name_conflict(
      const api::DeepSeekService& dss, const std::string& name,
      const kube::ObjectPtr& cached_deployment) const;

  // The cached service, with the status this reconciler last wrote in place of the cached one
  // while the informer has not delivered that write yet (the cache still holds the very
  // resourceVersion the write was based on). Without it, a reconcile that comes first (a
  // Deployment event) would plan failover from the old status and announce a switch twice.
  kube::ObjectPtr with_own_status(const std::string& key, kube::ObjectPtr cached);

  struct WrittenStatus {
    std::string based_on;  // resourceVersion of the object the status was computed from
    kube::Json status;     // the status as the server answered the write
  };

  kube::KubeClientPtr client_;
  const kube::Indexer& services_;
  const kube::Indexer& deployments_;
  ReconcilerOptions options_;
  bool injected_clock_ = false;  // options.now_rfc3339 was given (tests): failover reads it too
  std::mutex written_mutex_;     // keys are reconciled by several workers at once
  std::map<std::string, WrittenStatus> written_;  // by key; dropped once the cache moves on
};

}  // namespace dso::controller
