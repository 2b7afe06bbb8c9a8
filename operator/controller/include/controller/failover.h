// Failover and failback between the regions of a DeepSeekService served by this cluster, and the
// traffic weights the operator publishes. A pure planner: the previous state (from status), what
// the Deployments report and the time go in; the active primary, the per-region timers, the
// weights, an event and when to look again come out. No I/O, no clock reads.
//
// Semantics (docs/deepseekservice.md, "Failover"):
// - A region is available when its Deployment wants replicas (desired >= 1) and has ready >= 1 and
//   ready >= ceil(desired / 2); a standby that has taken over (the active primary while failed
//   over) when it has ready >= 1: it is loading models for the total it was given, and judging it
//   by half of that would swing the service between standbys every unhealthyAfter. A region that
//   wants no replicas is neither available nor unavailable (its timers are cleared). Regions in
//   other clusters are never observed here.
// - The active primary starts as the configured primary. When it has been unavailable without a
//   break for spec.failover.unhealthyAfter and a local standby is available, the first available
//   standby (spec order) becomes the active primary (Warning event FailedOver).
// - When the configured primary is not active and has been available without a break for
//   spec.failover.healthyAfter, failback starts, make-before-break (Normal event FailingBack): the
//   configured primary is scaled to the total while the active standby keeps it and the traffic.
//   When the configured primary is available at that size (ready >= ceil(size / 2)), it becomes
//   active again (Normal event FailedBack). If it is not within model.preload.loadTimeout +
//   failover.unhealthyAfter, it takes over anyway when it has a Ready replica (the cluster may lack
//   the GPUs to run both regions at full size), else failback is abandoned (Warning event
//   FailbackAborted) and healthyAfter starts over.
// - spec.failover.enabled=false: the configured primary is always active (a previous failover is
//   undone at once, with a FailedBack event).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/deepseek_service.h"
#include "timing/rfc3339.h"

namespace dso::controller {

using WallTime = std::chrono::system_clock::time_point;

// What one local region's Deployment reports (informer cache).
struct RegionObservation {
  int desired = 0;  // Deployment spec.replicas (0 when there is no Deployment yet)
  int ready = 0;    // Deployment status.readyReplicas
};

// The per-region timers carried between reconciles (status.regions[].unavailableSince /
// availableSince): when the current unbroken stretch of (un)availability began.
struct RegionTimers {
  std::optional<WallTime> unavailable_since;
  std::optional<WallTime> available_since;
  bool operator==(const RegionTimers&) const = default;
};

// The state carried between reconciles. An empty or unknown active_primary means the configured
// primary.
struct FailoverState {
  std::string active_primary;
  std::map<std::string, RegionTimers> regions;
  std::optional<WallTime> failback_since;  // a failback in progress (status.failbackSince)
};

struct FailoverEvent {
  std::string type;    // Normal | Warning
  std::string reason;  // FailedOver | FailedBack
  std::string message;
};

struct FailoverPlan {
  std::string active_primary;  // empty only when the spec has no primary
  bool failed_over = false;    // active_primary differs from the configured primary
  std::map<std::string, RegionTimers> regions;  // local regions only
  std::map<std::string, bool> available;        // local regions only
  // Set while a failback is in progress: the configured primary is scaled to the total too.
  std::optional<WallTime> failback_since;
  std::map<std::string, int> weights;  // every region; sums to 100 or all 0
  std::optional<FailoverEvent> event;
  // When a switch is pending on a timer (no watch event will come): look again after this.
  std::optional<std::chrono::milliseconds> requeue_after;
};

// Whether a region with these counts is available (see above). O(1).
bool region_available(const RegionObservation& o);

// Plans one step. `observed` holds the local regions (region.cluster unset) by name; a local
// region missing there counts as desired 0. `total` is the service's total replicas (what the
// active primary gets). O(regions).
FailoverPlan plan_failover(const api::DeepSeekServiceSpec& spec, const FailoverState& previous,
                           const std::map<std::string, RegionObservation>& observed, int total,
                           WallTime now);

// plan_region_replicas with `active_primary` in place of the configured primary: it takes the
// total (within its own min/max); the configured primary, while not active, keeps
// max(its minReplicas, 1) (within its max) so that it can recover; other standbys keep their
// minReplicas. While `failing_back`, the configured primary gets the total (within its min/max)
// too. An empty or unknown active_primary: the configured split. O(regions).
std::map<std::string, int> plan_region_replicas_with_active(const api::DeepSeekServiceSpec& spec,
                                                            int total,
                                                            const std::string& active_primary,
                                                            bool failing_back = false);

// "1m30s" style for messages (whole seconds). O(1).
std::string format_duration(std::chrono::milliseconds d);

using timing::format_rfc3339;
using timing::parse_rfc3339;

}  // namespace dso::controller
