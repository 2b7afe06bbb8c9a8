// Cold-start measurement from pod conditions (scaling/cold_start.h).
#include "scaling/cold_start.h"

#include <gtest/gtest.h>

namespace dso::scaling {
namespace {

using kube::Json;

Json pod(const std::string& uid, const std::string& created, const std::string& ready_at,
         bool ready = true, int restarts = 0, const std::string& service = "chat") {
  Json p{{"metadata",
          {{"name", "p-" + uid},
           {"namespace", "ml"},
           {"uid", uid},
           {"creationTimestamp", created},
           {"labels", {{"app.kubernetes.io/managed-by", "deepseek-operator"}}}}},
         {"status",
          {{"conditions",
            {{{"type", "PodScheduled"}, {"status", "True"}, {"lastTransitionTime", created}},
             {{"type", "Ready"},
              {"status", ready ? "True" : "False"},
              {"lastTransitionTime", ready_at}}}},
           {"containerStatuses", {{{"name", "server"}, {"restartCount", restarts}}}}}}};
  if (!service.empty()) p["metadata"]["labels"]["inference.deepseek.io/service"] = service;
  return p;
}

TEST(ColdStart, CreationToReadyFromConditions) {
  const auto s = pod_cold_start(pod("a", "2026-11-28T10:00:00Z", "2026-11-28T10:04:30Z"));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->service, "ml/chat");
  EXPECT_EQ(s->seconds, 270);
  EXPECT_FALSE(pod_cold_start(pod("b", "2026-11-28T10:00:00Z", "2026-11-28T10:04:30Z", false)));
  EXPECT_FALSE(pod_cold_start(pod("c", "2026-11-28T10:00:00Z", "2026-11-28T10:04:30Z", true, 1)));
  EXPECT_FALSE(
      pod_cold_start(pod("d", "2026-11-28T10:00:00Z", "2026-11-28T10:04:30Z", true, 0, "")));
  EXPECT_FALSE(pod_cold_start(pod("e", "garbage", "2026-11-28T10:04:30Z")));
}

TEST(ColdStartTracker, CountsEachPodOnceAndTakesNewOnes) {
  ColdStartTracker t;
  EXPECT_TRUE(t.observe(pod("a", "2026-11-28T10:00:00Z", "2026-11-28T10:02:00Z")));
  EXPECT_FALSE(t.observe(pod("a", "2026-11-28T10:00:00Z", "2026-11-28T10:02:00Z")));  // again
  EXPECT_FALSE(t.observe(pod("b", "2026-11-28T10:00:00Z", "", false)));
  EXPECT_TRUE(t.observe(pod("b", "2026-11-28T10:00:00Z", "2026-11-28T10:05:00Z")));
  EXPECT_EQ(t.take_new("ml/chat"), (std::vector<Seconds>{120, 300}));
  EXPECT_TRUE(t.take_new("ml/chat").empty());
  EXPECT_EQ(t.recent("ml/chat"), (std::vector<Seconds>{120, 300}));
  EXPECT_TRUE(t.take_new("ml/other").empty());
  // A relist after the pod was deleted and forgotten does not see it again; a new pod counts.
  t.pod_deleted(pod("a", "", ""));
  EXPECT_TRUE(t.observe(pod("c", "2026-11-28T11:00:00Z", "2026-11-28T11:01:00Z")));
  t.forget("ml/chat");
  EXPECT_TRUE(t.recent("ml/chat").empty());
}

TEST(ColdStartTracker, PercentileOverRecentStarts) {
  ColdStartTracker t(5);
  const int seconds[] = {100, 400, 200, 300, 500, 600};
  for (int i = 0; i < 6; ++i) {
    char ready[32];
    std::snprintf(ready, sizeof ready, "2026-11-28T1%d:%02d:%02dZ", i, seconds[i] / 60,
                  seconds[i] % 60);
    char created[32];
    std::snprintf(created, sizeof created, "2026-11-28T1%d:00:00Z", i);
    ASSERT_TRUE(t.observe(pod(std::to_string(i), created, ready)));
  }
  // Kept: the 5 most recent (100 dropped): 400 200 300 500 600.
  EXPECT_EQ(t.recent("ml/chat").size(), 5u);
  EXPECT_EQ(t.estimate("ml/chat", 0.9, 20), 600);
  EXPECT_EQ(t.estimate("ml/chat", 0.5, 20), 400);
  EXPECT_EQ(t.estimate("ml/chat", 0.5, 2), 500);  // the last two: 500, 600
  EXPECT_FALSE(t.estimate("ml/none", 0.9, 20));
}

}  // namespace
}  // namespace dso::scaling
