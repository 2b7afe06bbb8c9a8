#include "traces/duration.h"

#include <gtest/gtest.h>

namespace dso::traces {
namespace {

TEST(ParseDuration, Units) {
  EXPECT_EQ(parse_duration("15s").value(), 15);
  EXPECT_EQ(parse_duration("5m").value(), 300);
  EXPECT_EQ(parse_duration("1h30m").value(), 5400);
  EXPECT_EQ(parse_duration("7d").value(), 7 * 86400);
  EXPECT_EQ(parse_duration("2w").value(), 14 * 86400);
  EXPECT_EQ(parse_duration("90").value(), 90);
}

TEST(ParseDuration, RejectsBadText) {
  for (const char* bad : {"", "h", "5x", "1h30", "-5m", "0s", "1.5h", "5 m"}) {
    const auto r = parse_duration(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.error().find("invalid duration"), std::string::npos) << r.error();
  }
}

TEST(FormatDuration, RoundTrips) {
  EXPECT_EQ(format_duration(5400), "1h30m");
  EXPECT_EQ(format_duration(300), "5m");
  EXPECT_EQ(format_duration(0), "0s");
  for (const std::int64_t s : {1LL, 59LL, 61LL, 3601LL, 86400LL, 694861LL}) {
    EXPECT_EQ(parse_duration(format_duration(s)).value(), s);
  }
}

}  // namespace
}  // namespace dso::traces
