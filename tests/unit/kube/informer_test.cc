// Informer against FakeClient: initial sync, watch events, 410 -> relist with deletes that were
// missed, reconnect without relist, indexes, resync, late handlers; plus Backoff.
#include "kube/informer.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "fakes/fake_client.h"
#include "fakes/fake_clock.h"
#include "kube/backoff.h"

namespace dso::kube {
namespace {

using namespace std::chrono_literals;

template <typename Pred>
bool eventually(Pred pred, int ms = 3000) {
  for (int i = 0; i < ms; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return pred();
}

Json config_map(const std::string& name, const std::string& value,
                const Json& labels = Json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"data", {{"v", value}}}};
}

struct Recorder {
  std::mutex mu;
  std::vector<std::string> events;  // "add ns/name v", "update ...", "delete ... unknown"
  void push(std::string e) {
    std::lock_guard lock(mu);
    events.push_back(std::move(e));
  }
  bool has(const std::string& e) {
    std::lock_guard lock(mu);
    return std::find(events.begin(), events.end(), e) != events.end();
  }
  std::size_t count_prefix(const std::string& p) {
    std::lock_guard lock(mu);
    return std::count_if(events.begin(), events.end(),
                         [&](const auto& e) { return e.rfind(p, 0) == 0; });
  }
  EventHandlers handlers() {
    return {[this](const ObjectPtr& o) {
              push("add " + object_key(*o) + " " + (*o)["data"].value("v", ""));
            },
            [this](const ObjectPtr&, const ObjectPtr& n) {
              push("update " + object_key(*n) + " " + (*n)["data"].value("v", ""));
            },
            [this](const ObjectPtr& o, bool unknown) {
              push("delete " + object_key(*o) + (unknown ? " unknown" : ""));
            }};
  }
};

InformerOptions fast_options() {
  InformerOptions o;
  o.resource = Resource::config_maps();
  o.ns = "ns";
  o.backoff.initial = 1ms;
  o.backoff.max = 5ms;
  return o;
}

TEST(Informer, ListsThenWatchesAddsUpdatesDeletes) {
  auto client = std::make_shared<FakeClient>();
  const Resource cm = Resource::config_maps();
  ASSERT_TRUE(client->create(cm, "ns", config_map("a", "1")));
  ASSERT_TRUE(client->create(cm, "other", config_map("z", "1")));
  auto options = fast_options();
  options.storage = CacheStorage::kParsed;  // the other tests run the default, compact
  Informer informer(client, options);
  Recorder rec;
  informer.add_handlers(rec.handlers());
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(2s));
  EXPECT_TRUE(rec.has("add ns/a 1"));
  EXPECT_EQ(informer.store().size(), 1u);  // namespace-scoped
  ASSERT_TRUE(eventually([&] { return client->open_watches() == 1; }));
  ASSERT_TRUE(client->create(cm, "ns", config_map("b", "1")));
  auto a = client->get(cm, "ns", "a");
  (*a)["data"]["v"] = "2";
  ASSERT_TRUE(client->update(cm, "ns", *a));
  ASSERT_TRUE(client->remove(cm, "ns", "b"));
  ASSERT_TRUE(eventually([&] { return rec.has("delete ns/b"); }));
  EXPECT_TRUE(rec.has("add ns/b 1"));
  EXPECT_TRUE(rec.has("update ns/a 2"));
  EXPECT_EQ((*informer.store().get("ns/a"))["data"]["v"], "2");
  EXPECT_EQ(informer.store().get("ns/b"), nullptr);
  EXPECT_EQ(informer.last_resource_version(), client->current_resource_version());
  EXPECT_EQ(informer.relists(), 0);
  informer.stop();
}

// A clean LIST is progress, not a problem: operators log on_log at warning level.
TEST(Informer, AListReportsProgressNotAProblem) {
  auto client = std::make_shared<FakeClient>();
  ASSERT_TRUE(client->create(Resource::config_maps(), "ns", config_map("a", "1")));
  auto options = fast_options();
  std::mutex mu;
  std::vector<std::string> problems, progress;
  options.on_log = [&](const std::string& m) {
    std::lock_guard lock(mu);
    problems.push_back(m);
  };
  options.on_progress = [&](const std::string& m) {
    std::lock_guard lock(mu);
    progress.push_back(m);
  };
  Informer informer(client, options);
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(2s));
  informer.stop();
  std::lock_guard lock(mu);
  EXPECT_TRUE(problems.empty()) << problems.front();
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_NE(progress[0].find("listed 1 objects"), std::string::npos) << progress[0];
}

// Before bookmarks, a watcher whose own objects do not change keeps an old version while the
// server's moves on; once history is compacted, a reconnect from it is a 410 and a full relist.
TEST(Informer, ABookmarkLetsAQuietWatchResumeWithoutARelist) {
  auto client = std::make_shared<FakeClient>();
  const Resource cm = Resource::config_maps();
  ASSERT_TRUE(client->create(cm, "ns", config_map("a", "1")));
  Informer informer(client, fast_options());
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(2s));
  ASSERT_TRUE(eventually([&] { return client->open_watches() == 1; }));
  for (const char* name : {"x", "y", "z"})  // elsewhere: this watch sees none of it
    ASSERT_TRUE(client->create(cm, "other", config_map(name, "1")));
  client->bookmark(cm, "ns");
  ASSERT_TRUE(eventually(
      [&] { return informer.last_resource_version() == client->current_resource_version(); }));
  client->compact();
  const int watches = client->calls("WATCH");
  client->break_watches();
  ASSERT_TRUE(
      eventually([&] { return client->calls("WATCH") > watches && client->open_watches() == 1; }));
  EXPECT_EQ(informer.relists(), 0);  // resumed from the bookmark's version: no 410
  EXPECT_EQ(informer.store().size(), 1u);
  informer.stop();
}

TEST(Informer, GoneRelistsAndReportsDeletesMissedWhileDisconnected) {
  auto client = std::make_shared<FakeClient>();
  const Resource cm = Resource::config_maps();
  for (const char* n : {"a", "b", "c"}) ASSERT_TRUE(client->create(cm, "ns", config_map(n, "1")));
  Informer informer(client, fast_options());
  Recorder rec;
  informer.add_handlers(rec.handlers());
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(2s));
  ASSERT_TRUE(eventually([&] { return client->open_watches() == 1; }));
  // While the watch is "down": b is deleted and c changed, and history is compacted.
  client->set_silently(cm, "ns/b", std::nullopt);
  auto c = *client->get(cm, "ns", "c");
  c["data"]["v"] = "changed";
  client->set_silently(cm, "ns/c", c);
  client->compact();
  client->end_watches();  // the re-watch from the old version now gets 410
  ASSERT_TRUE(eventually([&] { return rec.has("delete ns/b unknown"); }));
  EXPECT_TRUE(rec.has("update ns/c changed"));
  // The relist is counted once it completes, just after its handlers ran.
  EXPECT_TRUE(eventually([&] { return informer.relists() == 1; })) << informer.relists();
  EXPECT_GE(informer.gone_count(), 1);
  EXPECT_EQ(informer.store().size(), 2u);
  informer.stop();
}

TEST(Informer, ConnectionLossResumesFromLastVersionWithoutRelist) {
  auto client = std::make_shared<FakeClient>();
  const Resource cm = Resource::config_maps();
  ASSERT_TRUE(client->create(cm, "ns", config_map("a", "1")));
  Informer informer(client, fast_options());
  Recorder rec;
  informer.add_handlers(rec.handlers());
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(2s));
  ASSERT_TRUE(eventually([&] { return client->open_watches() == 1; }));
  client->inject_error("WATCH", ApiError::transport("refused"), 2);  // two failed reconnects
  client->break_watches();
  ASSERT_TRUE(client->create(cm, "ns", config_map("b", "1")));  // while disconnected
  ASSERT_TRUE(eventually([&] { return rec.has("add ns/b 1"); }));
  // The broken watch and two refused reconnects, then a watch that stays open.
  ASSERT_TRUE(
      eventually([&] { return informer.watch_restarts() >= 3 && client->open_watches() == 1; }));
  ASSERT_TRUE(client->create(cm, "ns", config_map("c", "1")));
  ASSERT_TRUE(eventually([&] { return rec.has("add ns/c 1"); }));
  EXPECT_EQ(informer.relists(), 0);  // resumed from the last resourceVersion
  EXPECT_EQ(client->calls("LIST"), 1);
  informer.stop();
}

TEST(Informer, FailedListsAreRetriedWithBackoff) {
  auto client = std::make_shared<FakeClient>();
  ASSERT_TRUE(client->create(Resource::config_maps(), "ns", config_map("a", "1")));
  client->inject_error("LIST", ApiError{503, "ServiceUnavailable", "down", nullptr, std::nullopt},
                       3);
  Informer informer(client, fast_options());
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(2s));
  EXPECT_EQ(client->calls("LIST"), 4);
  EXPECT_EQ(informer.store().size(), 1u);
}

TEST(Informer, IndexesByLabelAndOwnerFollowUpdates) {
  auto client = std::make_shared<FakeClient>();
  const Resource cm = Resource::config_maps();
  Json owned = config_map("a", "1", {{"app", "x"}});
  owned["metadata"]["ownerReferences"] =
      Json::array({{{"kind", "Thing"}, {"name", "t"}, {"uid", "u-1"}, {"controller", true}}});
  ASSERT_TRUE(client->create(cm, "ns", owned));
  ASSERT_TRUE(client->create(cm, "ns", config_map("b", "1", {{"app", "y"}})));
  Informer informer(client, fast_options());
  informer.add_index("app", index_by_label("app"));
  informer.add_index("owner", index_by_owner_uid());
  informer.add_index("controller", index_by_controller_owner());
  informer.add_index("namespace", index_by_namespace());
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(2s));
  EXPECT_EQ(informer.store().by_index("app", "x").size(), 1u);
  EXPECT_EQ(informer.store().by_index("owner", "u-1").size(), 1u);
  EXPECT_EQ(informer.store().by_index("controller", "Thing/t").size(), 1u);
  EXPECT_EQ(informer.store().by_index("namespace", "ns").size(), 2u);
  auto b = *client->get(cm, "ns", "b");
  b["metadata"]["labels"]["app"] = "x";
  ASSERT_TRUE(client->update(cm, "ns", b));
  ASSERT_TRUE(eventually([&] { return informer.store().by_index("app", "x").size() == 2; }));
  EXPECT_TRUE(informer.store().by_index("app", "y").empty());
  ASSERT_TRUE(client->remove(cm, "ns", "a"));
  ASSERT_TRUE(eventually([&] { return informer.store().by_index("owner", "u-1").empty(); }));
  EXPECT_TRUE(informer.store().by_index("nosuchindex", "x").empty());
}

TEST(Informer, ResyncRedeliversEveryObjectAsUpdate) {
  auto client = std::make_shared<FakeClient>();
  ASSERT_TRUE(client->create(Resource::config_maps(), "ns", config_map("a", "1")));
  auto options = fast_options();
  options.resync_period = 20ms;
  Informer informer(client, options);
  Recorder rec;
  informer.add_handlers(rec.handlers());
  informer.start();
  ASSERT_TRUE(eventually([&] { return rec.count_prefix("update ns/a 1") >= 2; }));
}

TEST(Informer, LateHandlersGetAddsForCachedObjectsAndTransformApplies) {
  auto client = std::make_shared<FakeClient>();
  Json cm = config_map("a", "1");
  cm["metadata"]["managedFields"] = Json::array({{{"manager", "kubectl"}}});
  ASSERT_TRUE(client->create(Resource::config_maps(), "ns", cm));
  auto options = fast_options();
  options.transform = [](Json& o) { o["metadata"].erase("managedFields"); };
  Informer informer(client, options);
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(2s));
  Recorder rec;
  informer.add_handlers(rec.handlers());
  EXPECT_TRUE(rec.has("add ns/a 1"));
  EXPECT_FALSE(informer.store().get("ns/a")->at("metadata").contains("managedFields"));
}

TEST(Informer, StopEndsAnOpenWatchPromptly) {
  auto client = std::make_shared<FakeClient>();
  Informer informer(client, fast_options());
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(2s));
  ASSERT_TRUE(eventually([&] { return client->open_watches() == 1; }));
  const auto t0 = std::chrono::steady_clock::now();
  informer.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(client->open_watches(), 0);
}

TEST(Informer, CompactStorageServesTheSameObjectsAndIndexes) {
  auto client = std::make_shared<FakeClient>();
  const Resource cm = Resource::config_maps();
  ASSERT_TRUE(client->create(cm, "ns", config_map("a", "1", {{"app", "x"}})));
  auto options = fast_options();
  options.storage = CacheStorage::kCompact;
  Informer informer(client, options);
  informer.add_index("app", index_by_label("app"));
  Recorder rec;
  informer.add_handlers(rec.handlers());
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(2s));
  ASSERT_TRUE(eventually([&] { return informer.store().pending_compaction() == 0; }));
  EXPECT_EQ(*informer.store().get("ns/a"), *client->get(cm, "ns", "a"));
  auto a = *client->get(cm, "ns", "a");
  a["data"]["v"] = "2";
  a["metadata"]["labels"]["app"] = "y";
  ASSERT_TRUE(client->update(cm, "ns", a));
  ASSERT_TRUE(eventually([&] { return rec.has("update ns/a 2"); }));
  EXPECT_TRUE(informer.store().by_index("app", "x").empty());
  ASSERT_EQ(informer.store().by_index("app", "y").size(), 1u);
  EXPECT_EQ((*informer.store().by_index("app", "y")[0])["data"]["v"], "2");
  ASSERT_TRUE(client->remove(cm, "ns", "a"));
  ASSERT_TRUE(eventually([&] { return rec.has("delete ns/a"); }));
  EXPECT_EQ(informer.store().size(), 0u);
}

TEST(Indexer, CompactAllPacksDeferredObjectsAndKeepsNewerOnes) {
  Indexer store(CacheStorage::kCompact);
  store.add_index("app", index_by_label("app"));
  for (int i = 0; i < 600; ++i) {
    store.upsert(
        "ns/o" + std::to_string(i),
        std::make_shared<const Json>(config_map("o" + std::to_string(i), "v", {{"app", "x"}})),
        /*defer_packing=*/true);
  }
  EXPECT_EQ(store.pending_compaction(), 600u);
  store.upsert("ns/o1", std::make_shared<const Json>(config_map("o1", "newer", {{"app", "y"}})));
  store.compact_all();
  EXPECT_EQ(store.pending_compaction(), 0u);
  EXPECT_EQ((*store.get("ns/o1"))["data"]["v"], "newer");
  EXPECT_EQ((*store.get("ns/o599"))["data"]["v"], "v");
  EXPECT_EQ(store.by_index("app", "x").size(), 599u);
  EXPECT_EQ(store.by_index("app", "y").size(), 1u);
  Indexer parsed;
  parsed.upsert("k", std::make_shared<const Json>(config_map("k", "1")), true);
  EXPECT_EQ(parsed.pending_compaction(), 0u);
}

TEST(Backoff, DoublesToCapWithJitterAndResetsAfterHealthyPeriod) {
  auto clock = std::make_shared<FakeClock>();
  Backoff b(BackoffPolicy{}, clock, [] { return 0.0; });
  EXPECT_EQ(b.next(), 800ms);
  EXPECT_EQ(b.next(), 1600ms);
  EXPECT_EQ(b.next(), 3200ms);
  for (int i = 0; i < 10; ++i) b.next();
  EXPECT_EQ(b.next(), 30s);
  clock->advance(2min + 1s);  // healthy for longer than reset_after
  EXPECT_EQ(b.next(), 800ms);
  Backoff jittered(BackoffPolicy{}, clock, [] { return 0.5; });
  EXPECT_EQ(jittered.next(), 1200ms);  // 800 ms + 0.5 * 1.0 * 800 ms
}

}  // namespace
}  // namespace dso::kube
