#include "api/duration.h"

#include <gtest/gtest.h>

namespace dso::api {
namespace {

using std::chrono::milliseconds;

TEST(Duration, ParsesEveryUnitAndCompounds) {
  EXPECT_EQ(parse_duration("250ms").value(), milliseconds(250));
  EXPECT_EQ(parse_duration("30s").value(), milliseconds(30'000));
  EXPECT_EQ(parse_duration("5m").value(), milliseconds(300'000));
  EXPECT_EQ(parse_duration("1h30m").value(), milliseconds(5'400'000));
  EXPECT_EQ(parse_duration("14d").value(), milliseconds(14LL * 86'400'000));
  EXPECT_EQ(parse_duration("2w").value(), milliseconds(14LL * 86'400'000));
  EXPECT_EQ(parse_duration("0s").value(), milliseconds(0));
}

TEST(Duration, ErrorsNameTheTextAndTheProblem) {
  EXPECT_EQ(parse_duration("").error(), "bad duration \"\": empty");
  EXPECT_EQ(parse_duration("5").error(),
            "bad duration \"5\": missing unit after 5 (use ms, s, m, h, d or w)");
  EXPECT_EQ(parse_duration("5x").error(),
            "bad duration \"5x\": unknown unit \"x\" (use ms, s, m, h, d or w)");
  EXPECT_EQ(parse_duration("-5m").error(), "bad duration \"-5m\": expected a number at offset 0");
  EXPECT_EQ(parse_duration("m5").error(), "bad duration \"m5\": expected a number at offset 0");
  EXPECT_FALSE(parse_duration("99999999999999999999d").has_value());
}

TEST(Duration, FormatsTheShortestExactForm) {
  EXPECT_EQ(format_duration(milliseconds(300'000)), "5m");
  EXPECT_EQ(format_duration(milliseconds(5'400'000)), "1h30m");
  EXPECT_EQ(format_duration(milliseconds(86'400'000 + 1)), "1d1ms");
  EXPECT_EQ(format_duration(milliseconds(0)), "0s");
  for (const char* text : {"15s", "2h", "7d", "1h1m1s"}) {
    EXPECT_EQ(parse_duration(format_duration(parse_duration(text).value())).value(),
              parse_duration(text).value());
  }
}

}  // namespace
}  // namespace dso::api
