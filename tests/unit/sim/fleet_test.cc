// The simulated fleet: cold starts, removal order, measurements.
#include "sim/fleet.h"

#include <gtest/gtest.h>

namespace dso::sim {
namespace {

TEST(Fleet, RequestedReplicaIsReadyAfterTheColdStart) {
  Fleet fleet(300, 1);
  fleet.set_desired(3, 1000);
  EXPECT_EQ(fleet.ready(), 1);
  EXPECT_EQ(fleet.pending(), 2);
  EXPECT_EQ(fleet.provisioned(), 3);
  fleet.advance(1299);
  EXPECT_EQ(fleet.ready(), 1);
  fleet.advance(1300);
  EXPECT_EQ(fleet.ready(), 3);
  EXPECT_EQ(fleet.take_cold_starts(), (std::vector<Seconds>{300, 300}));
  EXPECT_TRUE(fleet.take_cold_starts().empty());
}

TEST(Fleet, RemovalTakesPendingFirstNewestFirst) {
  Fleet fleet(300, 2);
  fleet.set_desired(3, 0);    // one pending, ready at 300
  fleet.set_desired(5, 100);  // two more, ready at 400
  fleet.set_desired(4, 150);  // drops one of the t=100 requests
  fleet.advance(300);
  EXPECT_EQ(fleet.ready(), 3);  // the t=0 request survived
  EXPECT_EQ(fleet.pending(), 1);
  fleet.set_desired(2, 310);  // the last pending goes, then one ready replica
  EXPECT_EQ(fleet.pending(), 0);
  EXPECT_EQ(fleet.ready(), 2);
  fleet.advance(1000);
  EXPECT_EQ(fleet.ready(), 2);
}

TEST(Fleet, RemovedReplicaLeavesAtOnceAndZeroIsAllowed) {
  Fleet fleet(60, 4);
  fleet.set_desired(0, 10);
  EXPECT_EQ(fleet.provisioned(), 0);
  fleet.set_desired(-3, 20);
  EXPECT_EQ(fleet.provisioned(), 0);
  EXPECT_THROW(Fleet(-1, 1), std::invalid_argument);
}

}  // namespace
}  // namespace dso::sim
