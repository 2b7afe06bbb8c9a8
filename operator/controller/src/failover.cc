#include "controller/failover.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "controller/desired_objects.h"

namespace dso::controller {
namespace {

using std::chrono::milliseconds;

const api::Region* find_region(const api::DeepSeekServiceSpec& spec, const std::string& name) {
  for (const api::Region& r : spec.regions)
    if (r.name == name) return &r;
  return nullptr;
}

bool is_local(const api::Region* r) {
  return r != nullptr && !r->cluster;
}

std::string counts(const RegionObservation& o) {
  return std::to_string(o.ready) + "/" + std::to_string(o.desired) + " ready";
}

// The replicas `r` gets as the active primary: `total` within its own min/max.
int active_size(const api::Region& r, int total) {
  int n = total;
  if (r.min_replicas) n = std::max(n, *r.min_replicas);
  if (r.max_replicas) n = std::min(n, *r.max_replicas);
  return std::max(0, n);
}

milliseconds since(WallTime start, WallTime now) {
  return std::max(milliseconds{0}, std::chrono::duration_cast<milliseconds>(now - start));
}

// Scales weights to sum 100 (largest remainder; ties to the earlier region), or leaves all 0.
void normalise(const api::DeepSeekServiceSpec& spec, std::map<std::string, int>& weights) {
  long long sum = 0;
  for (const auto& [_, w] : weights) sum += w;
  if (sum <= 0) return;
  std::vector<std::pair<long long, std::string>> remainders;  // (remainder, name)
  int assigned = 0;
  for (const api::Region& r : spec.regions) {
    const long long scaled = static_cast<long long>(weights[r.name]) * 100;
    weights[r.name] = static_cast<int>(scaled / sum);
    assigned += weights[r.name];
    remainders.emplace_back(scaled % sum, r.name);
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t i = 0; assigned < 100 && i < remainders.size(); ++i, ++assigned)
    ++weights[remainders[i].second];
}

}  // namespace

bool region_available(const RegionObservation& o) {
  return o.desired >= 1 && o.ready >= 1 && o.ready >= (o.desired + 1) / 2;
}

std::string format_duration(milliseconds d) {
  long long s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  std::string out;
  if (s >= 3600) {
    out += std::to_string(s / 3600) + "h";
    s %= 3600;
  }
  out += std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  return out;
}

FailoverPlan plan_failover(const api::DeepSeekServiceSpec& spec, const FailoverState& previous,
                           const std::map<std::string, RegionObservation>& observed, int total,
                           WallTime now) {
  FailoverPlan plan;
  auto observation = [&](const std::string& name) {
    const auto it = observed.find(name);
    return it == observed.end() ? RegionObservation{} : it->second;
  };

  // Timers and availability of the local regions. A standby that has taken over is scaling from
  // its standby size to the total while its models load (minutes), so it is judged by a total
  // outage only (no Ready replica): the half-of-desired rule would fail it over within
  // unhealthyAfter to the next standby, which would fail back to it the same way, and so on.
  const api::Region* home_region = api::primary_region(spec);
  const std::string stand_in =
      home_region != nullptr && previous.active_primary != home_region->name
          ? previous.active_primary
          : "";
  for (const api::Region& r : spec.regions) {
    if (r.cluster) continue;
    const RegionObservation o = observation(r.name);
    const auto prev = previous.regions.find(r.name);
    RegionTimers t = prev == previous.regions.end() ? RegionTimers{} : prev->second;
    const bool available =
        r.name == stand_in ? o.desired >= 1 && o.ready >= 1 : region_available(o);
    if (o.desired <= 0) {
      t = {};
    } else if (available) {
      t.unavailable_since.reset();
      if (!t.available_since) t.available_since = now;
    } else {
      t.available_since.reset();
      if (!t.unavailable_since) t.unavailable_since = now;
    }
    plan.regions[r.name] = t;
    plan.available[r.name] = available;
  }

  const api::Region* configured = api::primary_region(spec);
  for (const api::Region& r : spec.regions) plan.weights[r.name] = 0;
  if (configured == nullptr) return plan;

  // The active primary: the previous one when it is still a local region, else the configured.
  std::string active = previous.active_primary;
  if (!is_local(configured) || !is_local(find_region(spec, active))) active = configured->name;

  auto requeue_within = [&](milliseconds d) {
    d = std::max(d, milliseconds{100});  // never a busy loop
    if (!plan.requeue_after || d < *plan.requeue_after) plan.requeue_after = d;
  };

  bool switched = false;
  const std::string& home = configured->name;
  if (active != home && !spec.failover.enabled) {
    plan.event = FailoverEvent{"Normal", "FailedBack",
                               "failover is disabled: region " + home + " is the primary again, " +
                                   active + " back to standby"};
    active = home;
    switched = true;
  } else if (active != home && previous.failback_since) {
    // Failback in progress: the configured primary takes over once it is available at full size.
    const RegionObservation o = observation(home);
    const int size = active_size(*configured, total);
    const milliseconds scaling = since(*previous.failback_since, now);
    const milliseconds limit = spec.model.load_timeout + spec.failover.unhealthy_after;
    const bool up = o.desired >= size && region_available(o);
    if (up || (scaling >= limit && o.ready >= 1)) {
      plan.event = FailoverEvent{
          "Normal", "FailedBack",
          "region " + home + ": " + counts(o) + " after " + format_duration(scaling) +
              (up ? ""
                  : " (not all up; model.preload.loadTimeout + failover.unhealthyAfter passed)") +
              "; it is the primary again, " + active + " back to standby"};
      active = home;
      switched = true;
    } else if (scaling >= limit) {
      plan.event = FailoverEvent{"Warning", "FailbackAborted",
                                 "region " + home + ": " + counts(o) + " after " +
                                     format_duration(scaling) + "; " + active +
                                     " stays the primary, failover.healthyAfter starts over"};
      plan.regions[home] = {};
    } else {
      plan.failback_since = previous.failback_since;
      requeue_within(limit - scaling);
    }
  } else if (active != home) {
    const RegionTimers& t = plan.regions[home];
    if (t.available_since) {
      const milliseconds up = since(*t.available_since, now);
      if (up >= spec.failover.healthy_after) {
        plan.event = FailoverEvent{"Normal", "FailingBack",
                                   "region " + home + ": " + counts(observation(home)) + " for " +
                                       format_duration(up) + "; scaling it to " +
                                       std::to_string(active_size(*configured, total)) +
                                       " replicas before it takes over from " + active};
        plan.failback_since = now;
        requeue_within(spec.model.load_timeout + spec.failover.unhealthy_after);
      } else {
        requeue_within(spec.failover.healthy_after - up);
      }
    }
  }

  // Failover from an active primary that stays unavailable.
  const RegionTimers& active_timers = plan.regions[active];
  if (spec.failover.enabled && !plan.event && is_local(find_region(spec, active)) &&
      active_timers.unavailable_since) {
    const milliseconds down = since(*active_timers.unavailable_since, now);
    const api::Region* target = nullptr;  // the first available local standby
    for (const api::Region& r : spec.regions) {
      if (!r.cluster && r.role == api::RegionRole::kStandby && r.name != active &&
          plan.available[r.name]) {
        target = &r;
        break;
      }
    }
    if (target == nullptr) {
      // No standby to go to: nothing is pending on the timer. A standby that becomes available
      // changes its Deployment, and that watch event brings the next look.
    } else if (down >= spec.failover.unhealthy_after) {
      plan.event = FailoverEvent{"Warning", "FailedOver",
                                 "region " + active + ": " + counts(observation(active)) + " for " +
                                     format_duration(down) + "; standby " + target->name + " (" +
                                     counts(observation(target->name)) + ") is the primary now"};
      active = target->name;
      switched = true;
    } else {
      requeue_within(spec.failover.unhealthy_after - down);
    }
  }
  // A switch just made starts the new active's timers afresh; nothing is pending on them, and a
  // failback in progress ends with it.
  if (switched) {
    plan.requeue_after.reset();
    plan.failback_since.reset();
  }

  plan.active_primary = active;
  plan.failed_over = active != configured->name;

  // Weights: available local regions only; the active primary carries the configured primary's.
  for (const api::Region& r : spec.regions) {
    if (r.cluster || !plan.available[r.name]) continue;
    if (r.name == active) {
      plan.weights[r.name] = configured->weight.value_or(100);
    } else if (r.name == configured->name) {
      plan.weights[r.name] = 0;  // failed over: recovering, it serves nothing until failback
    } else {
      plan.weights[r.name] = r.weight.value_or(r.role == api::RegionRole::kPrimary ? 100 : 0);
    }
  }
  normalise(spec, plan.weights);
  return plan;
}

std::map<std::string, int> plan_region_replicas_with_active(const api::DeepSeekServiceSpec& spec,
                                                            int total,
                                                            const std::string& active_primary,
                                                            bool failing_back) {
  const api::Region* configured = api::primary_region(spec);
  if (configured == nullptr || active_primary == configured->name ||
      find_region(spec, active_primary) == nullptr) {
    return plan_region_replicas(spec, total);
  }
  std::map<std::string, int> out;
  for (const api::Region& r : spec.regions) {
    int replicas = r.min_replicas.value_or(0);
    if (r.name == active_primary) {
      replicas = total;
    } else if (r.name == configured->name) {
      replicas = failing_back ? total : std::max(replicas, 1);
    }
    if (r.min_replicas) replicas = std::max(replicas, *r.min_replicas);
    if (r.max_replicas) replicas = std::min(replicas, *r.max_replicas);
    out[r.name] = std::max(0, replicas);
  }
  return out;
}

}  // namespace dso::controller
