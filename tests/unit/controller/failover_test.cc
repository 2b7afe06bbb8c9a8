// The failover planner (controller/failover.h): when a region counts as available, failover after
// exactly unhealthyAfter (not before), a flap restarts the timer, no available standby means no
// failover, failback after healthyAfter (make-before-break: scaled up first, then the switch, or
// after a limit the switch anyway or an abort), failover disabled, the replica split and the
// weights.
#include "controller/failover.h"

#include <gtest/gtest.h>

#include "controller/desired_objects.h"

namespace dso::controller {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using Obs = std::map<std::string, RegionObservation>;

api::DeepSeekServiceSpec spec3() {
  api::DeepSeekServiceSpec s;
  api::Region us;
  us.name = "us";
  us.role = api::RegionRole::kPrimary;
  us.max_replicas = 8;
  api::Region eu;
  eu.name = "eu";
  eu.role = api::RegionRole::kStandby;
  eu.min_replicas = 1;
  api::Region ap;
  ap.name = "ap";
  ap.role = api::RegionRole::kStandby;
  ap.min_replicas = 2;
  s.regions = {us, eu, ap};
  s.failover.unhealthy_after = minutes(2);
  s.failover.healthy_after = minutes(10);
  return s;
}

const WallTime kT0 = std::chrono::system_clock::from_time_t(1'800'000'000);

// Runs the planner step by step, carrying the state as the reconciler does through status.
struct Driver {
  api::DeepSeekServiceSpec spec = spec3();
  FailoverState state;
  std::vector<FailoverEvent> events;
  FailoverPlan step(const Obs& observed, WallTime now, int total = 4) {
    FailoverPlan p = plan_failover(spec, state, observed, total, now);
    state.active_primary = p.active_primary;
    state.regions = p.regions;
    state.failback_since = p.failback_since;
    if (p.event) events.push_back(*p.event);
    return p;
  }
};

const Obs kHealthy{{"us", {4, 4}}, {"eu", {1, 1}}, {"ap", {2, 2}}};
const Obs kUsDown{{"us", {4, 0}}, {"eu", {1, 1}}, {"ap", {2, 2}}};

TEST(Failover, AvailabilityNeedsOneReadyAndHalfTheDesired) {
  EXPECT_FALSE(region_available({0, 0}));
  EXPECT_FALSE(region_available({0, 3}));  // wants nothing: neither
  EXPECT_FALSE(region_available({4, 0}));
  EXPECT_FALSE(region_available({4, 1}));
  EXPECT_TRUE(region_available({4, 2}));
  EXPECT_FALSE(region_available({5, 2}));
  EXPECT_TRUE(region_available({5, 3}));
  EXPECT_TRUE(region_available({1, 1}));
}

TEST(Failover, FailsOverAfterExactlyUnhealthyAfterNotBefore) {
  Driver d;
  EXPECT_EQ(d.step(kHealthy, kT0).active_primary, "us");
  auto p = d.step(kUsDown, kT0 + seconds(10));
  EXPECT_EQ(p.active_primary, "us");
  ASSERT_TRUE(p.regions["us"].unavailable_since);
  EXPECT_EQ(*p.regions["us"].unavailable_since, kT0 + seconds(10));
  ASSERT_TRUE(p.requeue_after);
  EXPECT_EQ(*p.requeue_after, minutes(2));
  p = d.step(kUsDown, kT0 + seconds(10) + minutes(2) - seconds(1));
  EXPECT_EQ(p.active_primary, "us");
  EXPECT_FALSE(p.failed_over);
  ASSERT_TRUE(p.requeue_after);
  EXPECT_EQ(*p.requeue_after, seconds(1));
  EXPECT_TRUE(d.events.empty());
  p = d.step(kUsDown, kT0 + seconds(10) + minutes(2));
  EXPECT_EQ(p.active_primary, "eu");  // the first available standby in spec order
  EXPECT_TRUE(p.failed_over);
  EXPECT_FALSE(p.requeue_after);
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].type, "Warning");
  EXPECT_EQ(d.events[0].reason, "FailedOver");
  EXPECT_EQ(d.events[0].message,
            "region us: 0/4 ready for 2m0s; standby eu (1/1 ready) is the primary now");
  // Stays failed over while us is down, without further events.
  p = d.step(kUsDown, kT0 + minutes(30));
  EXPECT_EQ(p.active_primary, "eu");
  EXPECT_EQ(d.events.size(), 1u);
}

TEST(Failover, AStandbyThatTookOverIsNotFailedOverWhileItScalesUp) {
  Driver d;
  d.step(kHealthy, kT0);
  d.step(kUsDown, kT0 + seconds(1));
  ASSERT_EQ(d.step(kUsDown, kT0 + seconds(1) + minutes(2)).active_primary, "eu");
  // eu now wants the total (4) and has its one standby replica Ready while the others load; ap is
  // available too. Half of 4 is not Ready for long past unhealthyAfter: no swing to ap.
  const Obs loading{{"us", {1, 0}}, {"eu", {4, 1}}, {"ap", {2, 2}}};
  for (int m = 3; m <= 20; ++m) {
    const auto p = d.step(loading, kT0 + minutes(m));
    EXPECT_EQ(p.active_primary, "eu") << m << " min";
    EXPECT_TRUE(p.available.at("eu"));
  }
  ASSERT_EQ(d.events.size(), 1u);
  // A total outage of the stand-in still fails over, to the next available standby.
  const Obs eu_down{{"us", {1, 0}}, {"eu", {4, 0}}, {"ap", {2, 2}}};
  d.step(eu_down, kT0 + minutes(21));
  EXPECT_EQ(d.step(eu_down, kT0 + minutes(23)).active_primary, "ap");
  // And ap, now the stand-in, is judged the same way.
  const Obs ap_loading{{"us", {1, 0}}, {"eu", {1, 1}}, {"ap", {4, 1}}};
  EXPECT_EQ(d.step(ap_loading, kT0 + minutes(30)).active_primary, "ap");
  EXPECT_EQ(d.step(ap_loading, kT0 + minutes(40)).active_primary, "ap");
}

TEST(Failover, AFlapRestartsTheTimer) {
  Driver d;
  d.step(kUsDown, kT0);
  d.step(kUsDown, kT0 + seconds(90));
  d.step(Obs{{"us", {4, 2}}, {"eu", {1, 1}}, {"ap", {2, 2}}}, kT0 + seconds(100));  // back
  auto p = d.step(kUsDown, kT0 + seconds(110));
  EXPECT_EQ(*p.regions["us"].unavailable_since, kT0 + seconds(110));
  p = d.step(kUsDown, kT0 + seconds(200));  // 3m20s after the first failure, 1m30s since the flap
  EXPECT_EQ(p.active_primary, "us");
  EXPECT_TRUE(d.events.empty());
  p = d.step(kUsDown, kT0 + seconds(230));
  EXPECT_EQ(p.active_primary, "eu");
}

TEST(Failover, NoAvailableStandbyNoFailover) {
  Driver d;
  const Obs all_down{{"us", {4, 0}}, {"eu", {1, 0}}, {"ap", {0, 0}}};
  EXPECT_FALSE(d.step(all_down, kT0).requeue_after);  // no standby to wait for
  auto p = d.step(all_down, kT0 + minutes(5));
  EXPECT_EQ(p.active_primary, "us");
  EXPECT_FALSE(p.requeue_after);  // a Deployment change (watch event) brings the next look
  EXPECT_TRUE(d.events.empty());
  // ap comes up (eu still down): ap takes over on that reconcile.
  p = d.step(Obs{{"us", {4, 0}}, {"eu", {1, 0}}, {"ap", {2, 1}}}, kT0 + minutes(6));
  EXPECT_EQ(p.active_primary, "ap");
}

TEST(Failover, StandbysInOtherClustersAreNeverTargets) {
  Driver d;
  d.spec.regions[1].cluster = api::ClusterRef{"kubeconfig-eu", "kubeconfig", ""};
  d.step(kUsDown, kT0);
  auto p = d.step(kUsDown, kT0 + minutes(2));
  EXPECT_EQ(p.active_primary, "ap");
  EXPECT_FALSE(p.regions.contains("eu"));
}

TEST(Failover, FailsBackAfterHealthyAfter) {
  Driver d;
  d.step(kUsDown, kT0);
  d.step(kUsDown, kT0 + minutes(2));
  ASSERT_EQ(d.state.active_primary, "eu");
  // us recovers with the one replica it keeps: available from t0+5m.
  const Obs us_back{{"us", {1, 1}}, {"eu", {4, 4}}, {"ap", {2, 2}}};
  auto p = d.step(us_back, kT0 + minutes(5));
  EXPECT_EQ(p.active_primary, "eu");
  ASSERT_TRUE(p.requeue_after);
  EXPECT_EQ(*p.requeue_after, minutes(10));
  p = d.step(us_back, kT0 + minutes(15) - seconds(1));
  EXPECT_EQ(p.active_primary, "eu");
  EXPECT_EQ(*p.requeue_after, seconds(1));
  // Make-before-break: us is scaled to the total first, eu keeps it and the traffic.
  p = d.step(us_back, kT0 + minutes(15));
  EXPECT_EQ(p.active_primary, "eu");
  ASSERT_TRUE(p.failback_since);
  EXPECT_EQ(*p.failback_since, kT0 + minutes(15));
  EXPECT_EQ(*p.requeue_after, minutes(22));  // loadTimeout (20m default) + unhealthyAfter
  ASSERT_EQ(d.events.size(), 2u);
  EXPECT_EQ(d.events[1].type, "Normal");
  EXPECT_EQ(d.events[1].reason, "FailingBack");
  EXPECT_EQ(
      d.events[1].message,
      "region us: 1/1 ready for 10m0s; scaling it to 4 replicas before it takes over from eu");
  EXPECT_EQ(p.weights["eu"], 100);
  EXPECT_EQ(p.weights["us"], 0);
  EXPECT_EQ(plan_region_replicas_with_active(d.spec, 4, p.active_primary, true),
            (std::map<std::string, int>{{"us", 4}, {"eu", 4}, {"ap", 2}}));
  // Not yet available at the new size (1 of 4): eu stays.
  p = d.step(Obs{{"us", {4, 1}}, {"eu", {4, 4}}, {"ap", {2, 2}}}, kT0 + minutes(16));
  EXPECT_EQ(p.active_primary, "eu");
  EXPECT_EQ(*p.requeue_after, minutes(21));
  EXPECT_EQ(d.events.size(), 2u);
  // Half of 4 Ready: us takes over.
  p = d.step(Obs{{"us", {4, 2}}, {"eu", {4, 4}}, {"ap", {2, 2}}}, kT0 + minutes(17));
  EXPECT_EQ(p.active_primary, "us");
  EXPECT_FALSE(p.failed_over);
  EXPECT_FALSE(p.failback_since);
  EXPECT_FALSE(p.requeue_after);
  ASSERT_EQ(d.events.size(), 3u);
  EXPECT_EQ(d.events[2].reason, "FailedBack");
  EXPECT_EQ(d.events[2].message,
            "region us: 2/4 ready after 2m0s; it is the primary again, eu back to standby");
  EXPECT_EQ(p.weights["us"], 100);
}

// Starts a failback at t0+15m (us down at t0, eu active from t0+2m, us back from t0+5m).
Driver failing_back() {
  Driver d;
  d.step(kUsDown, kT0);
  d.step(kUsDown, kT0 + minutes(2));
  const Obs us_back{{"us", {1, 1}}, {"eu", {4, 4}}, {"ap", {2, 2}}};
  d.step(us_back, kT0 + minutes(5));
  d.step(us_back, kT0 + minutes(15));
  EXPECT_TRUE(d.state.failback_since);
  return d;
}

TEST(Failover, FailbackTakesOverAnywayAfterTheLimitWhenSomethingIsReady) {
  Driver d = failing_back();
  const Obs partly{{"us", {4, 1}}, {"eu", {4, 4}}, {"ap", {2, 2}}};
  EXPECT_EQ(d.step(partly, kT0 + minutes(37) - seconds(1)).active_primary, "eu");
  auto p = d.step(partly, kT0 + minutes(37));
  EXPECT_EQ(p.active_primary, "us");
  EXPECT_EQ(d.events.back().reason, "FailedBack");
  EXPECT_NE(d.events.back().message.find("not all up"), std::string::npos)
      << d.events.back().message;
}

TEST(Failover, FailbackIsAbortedWhenNothingComesUp) {
  Driver d = failing_back();
  const Obs dead{{"us", {4, 0}}, {"eu", {4, 4}}, {"ap", {2, 2}}};
  d.step(dead, kT0 + minutes(20));
  auto p = d.step(dead, kT0 + minutes(37));
  EXPECT_EQ(p.active_primary, "eu");
  EXPECT_FALSE(p.failback_since);
  EXPECT_EQ(p.regions["us"], RegionTimers{});
  EXPECT_EQ(d.events.back().type, "Warning");
  EXPECT_EQ(d.events.back().reason, "FailbackAborted");
  EXPECT_EQ(plan_region_replicas_with_active(d.spec, 4, "eu", false)["us"], 1);
  // healthyAfter starts over from the next time us is available.
  p = d.step(Obs{{"us", {1, 1}}, {"eu", {4, 4}}, {"ap", {2, 2}}}, kT0 + minutes(38));
  EXPECT_EQ(*p.regions["us"].available_since, kT0 + minutes(38));
  EXPECT_EQ(*p.requeue_after, minutes(10));
}

TEST(Failover, AFlapOfTheRecoveringPrimaryRestartsTheFailbackTimer) {
  Driver d;
  d.step(kUsDown, kT0);
  d.step(kUsDown, kT0 + minutes(2));
  const Obs us_back{{"us", {1, 1}}, {"eu", {4, 4}}, {"ap", {2, 2}}};
  const Obs us_gone{{"us", {1, 0}}, {"eu", {4, 4}}, {"ap", {2, 2}}};
  d.step(us_back, kT0 + minutes(3));
  d.step(us_gone, kT0 + minutes(12));
  d.step(us_back, kT0 + minutes(13));
  EXPECT_FALSE(d.step(us_back, kT0 + minutes(22)).failback_since);
  EXPECT_TRUE(d.step(us_back, kT0 + minutes(23)).failback_since);  // failback starts
}

TEST(Failover, DisabledNeverFailsOverAndUndoesAPreviousFailover) {
  Driver d;
  d.spec.failover.enabled = false;
  d.step(kUsDown, kT0);
  auto p = d.step(kUsDown, kT0 + minutes(30));
  EXPECT_EQ(p.active_primary, "us");
  EXPECT_TRUE(d.events.empty());
  d.state.active_primary = "eu";  // failed over before failover was disabled
  p = d.step(kUsDown, kT0 + minutes(31));
  EXPECT_EQ(p.active_primary, "us");
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].reason, "FailedBack");
  EXPECT_NE(d.events[0].message.find("failover is disabled"), std::string::npos);
}

TEST(Failover, UnknownPreviousPrimaryMeansTheConfiguredOne) {
  Driver d;
  d.state.active_primary = "gone";
  EXPECT_EQ(d.step(kHealthy, kT0).active_primary, "us");
}

TEST(Failover, AReadyRegionWithNothingDesiredKeepsNoTimers) {
  Driver d;
  auto p = d.step(Obs{{"us", {4, 4}}, {"eu", {1, 1}}}, kT0);  // ap has no Deployment yet
  EXPECT_EQ(p.regions["ap"], RegionTimers{});
  EXPECT_FALSE(p.available["ap"]);
  EXPECT_EQ(*p.regions["us"].available_since, kT0);
}

TEST(Failover, WeightsFollowAvailabilityAndTheActivePrimary) {
  Driver d;
  d.spec.regions[0].weight = 60;
  d.spec.regions[1].weight = 30;
  auto p = d.step(kHealthy, kT0);  // ap: default standby weight 0
  EXPECT_EQ(p.weights, (std::map<std::string, int>{{"us", 67}, {"eu", 33}, {"ap", 0}}));
  p = d.step(kUsDown, kT0 + seconds(1));  // us unavailable: 0 at once
  EXPECT_EQ(p.weights, (std::map<std::string, int>{{"us", 0}, {"eu", 100}, {"ap", 0}}));
  p = d.step(kUsDown, kT0 + minutes(3));  // failed over: eu carries us's 60, ap 0
  EXPECT_EQ(p.weights, (std::map<std::string, int>{{"us", 0}, {"eu", 100}, {"ap", 0}}));
  d.spec.regions[2].weight = 20;
  p = d.step(Obs{{"us", {1, 1}}, {"eu", {4, 4}}, {"ap", {2, 2}}}, kT0 + minutes(4));
  EXPECT_EQ(p.weights, (std::map<std::string, int>{{"us", 0}, {"eu", 75}, {"ap", 25}}));
  // Defaults: primary 100, standbys 0.
  Driver plain;
  p = plain.step(kHealthy, kT0);
  EXPECT_EQ(p.weights, (std::map<std::string, int>{{"us", 100}, {"eu", 0}, {"ap", 0}}));
  // Nothing available: all 0.
  p = plain.step(Obs{{"us", {4, 0}}}, kT0 + seconds(1));
  EXPECT_EQ(p.weights, (std::map<std::string, int>{{"us", 0}, {"eu", 0}, {"ap", 0}}));
  // Thirds sum to 100.
  Driver thirds;
  for (auto& r : thirds.spec.regions) r.weight = 1;
  p = thirds.step(kHealthy, kT0);
  EXPECT_EQ(p.weights, (std::map<std::string, int>{{"us", 34}, {"eu", 33}, {"ap", 33}}));
}

TEST(Failover, ReplicaSplitWithTheActivePrimary) {
  const auto s = spec3();
  EXPECT_EQ(plan_region_replicas_with_active(s, 6, "us"),
            (std::map<std::string, int>{{"us", 6}, {"eu", 1}, {"ap", 2}}));
  EXPECT_EQ(plan_region_replicas_with_active(s, 6, "eu"),
            (std::map<std::string, int>{{"us", 1}, {"eu", 6}, {"ap", 2}}));
  EXPECT_EQ(plan_region_replicas_with_active(s, 0, "ap"),
            (std::map<std::string, int>{{"us", 1}, {"eu", 1}, {"ap", 2}}));  // ap's min
  auto capped = s;
  capped.regions[1].max_replicas = 3;
  capped.regions[0].min_replicas = 2;
  EXPECT_EQ(plan_region_replicas_with_active(capped, 6, "eu"),
            (std::map<std::string, int>{{"us", 2}, {"eu", 3}, {"ap", 2}}));
  EXPECT_EQ(plan_region_replicas_with_active(s, 6, ""), plan_region_replicas(s, 6));
}

TEST(Failover, Rfc3339RoundTripsAndRejectsGarbage) {
  EXPECT_EQ(format_rfc3339(kT0), "2027-01-15T08:00:00Z");
  EXPECT_EQ(parse_rfc3339("2027-01-15T08:00:00Z"), kT0);
  EXPECT_EQ(parse_rfc3339("2027-01-15T08:00:00.250Z"), kT0 + std::chrono::milliseconds(250));
  EXPECT_EQ(parse_rfc3339("2027-01-15T08:00:00.5Z"), kT0 + std::chrono::milliseconds(500));
  EXPECT_EQ(parse_rfc3339("2027-01-15T08:00:00.123456789Z"), kT0 + std::chrono::milliseconds(123));
  EXPECT_EQ(format_rfc3339(kT0 + std::chrono::milliseconds(250)), "2027-01-15T08:00:00.250Z");
  EXPECT_EQ(format_rfc3339(kT0 + std::chrono::microseconds(999)), "2027-01-15T08:00:00Z");
  EXPECT_FALSE(parse_rfc3339("2027-01-15T08:00:00.Z"));
  EXPECT_EQ(parse_rfc3339("2027-01-15T09:30:00+01:30"), kT0);
  EXPECT_FALSE(parse_rfc3339("2027-01-15 08:00:00"));
  EXPECT_FALSE(parse_rfc3339("2027-01-15T08:00:00"));
  EXPECT_FALSE(parse_rfc3339(""));
  EXPECT_EQ(format_duration(minutes(2)), "2m0s");
  EXPECT_EQ(format_duration(seconds(3725)), "1h2m5s");
}

}  // namespace
}  // namespace dso::controller
