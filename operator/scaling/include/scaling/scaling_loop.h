// scaling/scaling_loop.h: the live autoscaler — every decision period, for each DeepSeekService
// with autoscaling enabled, read its load (MetricsSource), decide (autoscaler::decide), and hand
// the result to the reconciler; the one writer of status.
//
// Runs only on the leader (`run` starts it with the controllers). Per service and mode:
//   Auto     the engine's decision (predictive floor on) is the service's replicas: the reconciler
//            reads it through desired_replicas() and the loop enqueues the key when it changes.
//   Off      the same with the predictive floor off (reactive only, HPA semantics).
//   Preview  the engine decides as Auto would, and everything is published (forecast, decisions,
//            conditions, metrics), but replicas are not changed: desired_replicas() gives
//            spec.replicas when set (else nothing: the reconciler holds what it last set). The
//            engine's previous preview decision stands in for the current replicas, so its rate
//            limits and stabilization run as if it had acted.
// Manual scale (`kubectl scale dss NAME --replicas=N`, i.e. a change of spec.replicas) with
// Auto/Off: as Kubernetes' HPA does with a manual scale of its target, N is applied at once and the
// autoscaler's next decision wins, taking N as the current replicas (docs/autoscaling.md).
// Metrics missing, NaN or stale (Prometheus down, empty result): the engine holds the replicas
// (or follows the forecast, per spec.autoscaling.fallback), MetricsUnavailable=True, and scaling
// resumes with the first good reading.
//
// Status (status_part(), merged by the reconciler into the status it writes): coldStartSeconds,
// forecast, decisions (the last 10, newest first), autoscaler (what the engine saw), conditions
// ScalingActive / ScalingLimited / MetricsUnavailable. Each decision that changes the replicas
// records an Event (reason ScaledUp / ScaledDown) with the engine's explanation.
#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "api/deepseek_service.h"
#include "kube/informer.h"
#include "metrics/source.h"
#include "scaling/cold_start.h"
#include "scaling/self_metrics.h"
#include "scaling/service_scaler.h"

namespace dso::scaling {

struct ScalingLoopOptions {
  ScalerSettings settings;
  // Unix seconds now (injectable for tests).
  std::function<Seconds()> now;
  // Records a core/v1 Event about the DeepSeekService object. May be empty.
  std::function<void(const kube::Json& object, const std::string& type, const std::string& reason,
                     const std::string& message)>
      record_event;
  // Asks for a reconcile of "namespace/name" (the controller's queue). May be empty.
  std::function<void(const std::string& key)> enqueue;
  // Self-metrics; may be null.
  std::shared_ptr<ScalingMetrics> metrics;
  std::function<void(const std::string& message)> on_log;
  // Services decided at once within a pass (>= 1). A decision mostly waits on Prometheus (two
  // instant queries; a range query when it refits), so a pass over N services takes about
  // N / workers query times instead of N. The hooks below must then be thread-safe:
  // record_event, enqueue and on_log may be called from several threads at once.
  int workers = 4;
};

class ScalingLoop {
 public:
  // `services` is the DeepSeekService informer cache (must outlive the loop); `source` where the
  // load comes from; `cold_starts` fed by a pod informer (may be null: no measurements).
  ScalingLoop(const kube::Indexer& services, metrics::MetricsSourcePtr source,
              std::shared_ptr<ColdStartTracker> cold_starts, ScalingLoopOptions options);
  ~ScalingLoop();  // stop()
  ScalingLoop(const ScalingLoop&) = delete;
  ScalingLoop& operator=(const ScalingLoop&) = delete;

  // Starts a thread that calls run_once() every decision period; stop() ends it after the pass in
  // progress.
  void start();
  void stop();

  // One pass: a decision for every service in the cache with autoscaling enabled (up to
  // options.workers at once, each service by one thread); services gone from the cache are
  // forgotten. Thread-safe against the hooks below; not to be called concurrently with itself.
  void run_once(Seconds now);

  // The reconciler's hooks (controller::ReconcilerOptions), thread-safe. desired_replicas: the
  // replicas the autoscaler wants now (nullopt: no decision yet, or Preview without spec.replicas).
  // status_part: the autoscaling part of the status (nullopt before the first decision).
  std::optional<int> desired_replicas(const api::DeepSeekService& service);
  std::optional<kube::Json> status_part(const api::DeepSeekService& service);

 private:
  struct Entry {
    std::unique_ptr<ServiceScaler> scaler;
    std::optional<int> last_spec_replicas;  // to tell a manual scale
    bool seen = false;
    std::optional<int> manual;            // a manual scale not yet taken by a decision
    std::optional<int> desired;           // the latest acting decision
    std::optional<int> preview;           // the latest preview decision
    std::optional<kube::Json> status;     // the published part
    bool seeded = false;                  // decisions seeded from the object's status
    std::optional<Seconds> refreshed_at;  // when a status write was last asked for
  };
  // Notes spec.replicas; returns true when it changed since the last look (a manual scale).
  static bool note_spec_replicas(Entry& entry, const api::DeepSeekService& service);
  // The service's entry, made on first sight and seeded from the decisions its status kept.
  std::shared_ptr<Entry> entry_for(const std::string& key, const kube::Json& object, Seconds now);
  struct StartingPoint {
    int current = 0;           // the replicas the decision starts from
    std::optional<int> asked;  // the replicas asked for before it (manual or decided)
  };
  StartingPoint starting_point(Entry& e, const api::DeepSeekService& service,
                               const kube::Json& object);
  // Keeps a decision's status part (`decided` nullopt: the policy was invalid) and returns true
  // when the service should be reconciled: the replicas asked for or a significant part of the
  // status changed, or the status is due a refresh.
  bool publish(Entry& e, kube::Json part, std::optional<int> decided, bool preview,
               std::optional<int> asked_before, Seconds now);
  void decide_service(const kube::Json& object, const api::DeepSeekService& service, Seconds now);

  const kube::Indexer& services_;
  metrics::MetricsSourcePtr source_;
  std::shared_ptr<ColdStartTracker> cold_starts_;
  ScalingLoopOptions options_;

  std::mutex mu_;  // guards entries_' fields the hooks read (not the scalers, stepped by run_once)
  std::map<std::string, std::shared_ptr<Entry>> entries_;

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace dso::scaling
