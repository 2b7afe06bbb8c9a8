// kube::Manager against FakeClient: the caches sync before anything runs, runnables start in
// order and stop in reverse, a follower starts nothing and may not write, a leader does both, and
// stopping releases the Lease.
#include "kube/manager.h"

#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <vector>

#include "fakes/fake_client.h"

namespace dso::kube {
namespace {

using namespace std::chrono_literals;

struct Journal {
  std::mutex mu;
  std::vector<std::string> lines;
  void add(const std::string& line) {
    std::lock_guard lock(mu);
    lines.push_back(line);
  }
};

InformerPtr config_map_informer(const std::shared_ptr<FakeClient>& client) {
  InformerOptions o;
  o.resource = Resource::config_maps();
  o.ns = "ns";
  return std::make_shared<Informer>(client, o);
}

Json config_map(const std::string& name) {
  return Json{{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", {{"name", name}, {"namespace", "ns"}}}};
}

TEST(Manager, RunnablesStartAfterTheCachesSyncInOrderAndStopInReverse) {
  auto client = std::make_shared<FakeClient>();
  ASSERT_TRUE(client->create(Resource::config_maps(), "ns", config_map("a")));
  Manager manager({});
  auto informer = config_map_informer(client);
  manager.add_informer(informer, "ConfigMap");
  Journal journal;
  std::promise<void> second_started;
  manager.add_runnable(
      "first",
      [&] { journal.add("start first, cache " + std::to_string(informer->store().size())); },
      [&] { journal.add("stop first"); });
  manager.add_runnable(
      "second",
      [&] {
        journal.add("start second");
        second_started.set_value();
      },
      [&] { journal.add("stop second"); });
  EXPECT_TRUE(manager.may_write());  // no election: this process is the only writer
  ASSERT_TRUE(manager.start());
  ASSERT_EQ(second_started.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(manager.running());
  manager.stop();
  EXPECT_FALSE(manager.running());
  EXPECT_EQ(journal.lines, (std::vector<std::string>{"start first, cache 1", "start second",
                                                     "stop second", "stop first"}));
  manager.stop();  // idempotent
  EXPECT_EQ(journal.lines.size(), 4u);
}

TEST(Manager, AStopBeforeTheCachesSyncStartsNothing) {
  auto client = std::make_shared<FakeClient>();
  Manager manager({});
  // A cache that cannot sync: every list fails.
  ApiError down;
  down.code = 500;
  down.reason = "InternalError";
  down.message = "down";
  client->inject_error("LIST", down, 1000000);
  manager.add_informer(config_map_informer(client), "ConfigMap");
  bool started = false;
  manager.add_runnable(
      "r", [&] { started = true; }, [] {});
  ASSERT_TRUE(manager.start());
  manager.stop();
  EXPECT_FALSE(started);
  EXPECT_FALSE(manager.running());
}

LeaderElectionConfig fast_lease(const std::string& id) {
  LeaderElectionConfig c;
  c.lease_namespace = "kube-system";
  c.lease_name = "manager-test";
  c.identity = id;
  c.lease_duration = 400ms;
  c.renew_deadline = 250ms;
  c.retry_period = 50ms;
  return c;
}

TEST(Manager, OnlyTheLeaderRunsAndWritesAndStoppingHandsOver) {
  auto client = std::make_shared<FakeClient>();
  std::promise<void> a_started, b_saw_a, b_started;
  ManagerOptions a_options;
  a_options.leader_election = fast_lease("a");
  a_options.election_client = client;
  Manager a(a_options);
  a.add_runnable(
      "r", [&] { a_started.set_value(); }, [] {});
  ASSERT_TRUE(a.start());
  ASSERT_EQ(a_started.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(a.may_write());

  ManagerOptions b_options;
  b_options.leader_election = fast_lease("b");
  b_options.leader_election->on_new_leader = [&](const std::string& id) {
    if (id == "a") b_saw_a.set_value();
  };
  b_options.election_client = client;
  Manager b(b_options);
  b.add_runnable(
      "r", [&] { b_started.set_value(); }, [] {});
  ASSERT_TRUE(b.start());
  // b has read the Lease and found a holding it: a follower neither runs nor writes.
  ASSERT_EQ(b_saw_a.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(b.may_write());
  EXPECT_FALSE(b.running());

  a.stop();  // releases the Lease: b takes over without waiting for it to expire
  EXPECT_FALSE(a.may_write());
  ASSERT_EQ(b_started.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(b.may_write());
  b.stop();
}

}  // namespace
}  // namespace dso::kube
