#include "traces/csv.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace dso::traces {
namespace {

TEST(ParseTimestamp, DateTimeAndUnix) {
  EXPECT_EQ(parse_timestamp("1970-01-01 00:00:00").value(), 0);
  EXPECT_EQ(parse_timestamp("2014-07-01 00:30:00").value(), 1404174600);
  EXPECT_EQ(parse_timestamp("2014-07-01T00:30:00Z").value(), 1404174600);
  EXPECT_EQ(parse_timestamp("1633478400").value(), 1633478400);
  EXPECT_FALSE(parse_timestamp("2014-13-01 00:00:00").has_value());
  EXPECT_FALSE(parse_timestamp("yesterday").has_value());
  EXPECT_EQ(format_timestamp(1404174600, TimestampFormat::kDateTime), "2014-07-01 00:30:00");
  EXPECT_EQ(format_timestamp(1404174600, TimestampFormat::kUnixSeconds), "1404174600");
}

TEST(ParseSeriesCsv, InfersStepAndReadsValues) {
  const auto r = parse_series_csv(
      "timestamp,value\n2014-07-01 00:00:00,1\n"
      "2014-07-01 00:30:00,2\n2014-07-01 01:00:00,3.5\n",
      "t.csv");
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_EQ(r->series.step, 1800);
  EXPECT_EQ(r->series.start, 1404172800);
  EXPECT_EQ(r->series.values, (std::vector<double>{1, 2, 3.5}));
  EXPECT_EQ(r->format, TimestampFormat::kDateTime);
  EXPECT_TRUE(r->warnings.empty());
}

TEST(ParseSeriesCsv, ResamplesByMeanToAGivenStep) {
  // Unix seconds every minute; 5-minute buckets aligned to multiples of 300 s.
  std::string text = "ts,value\n";
  for (int i = 0; i < 10; ++i)
    text += std::to_string(600 + 60 * i) + "," + std::to_string(i) + "\n";
  const auto r = parse_series_csv(text, "u.csv", {.step = 300});
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_EQ(r->format, TimestampFormat::kUnixSeconds);
  EXPECT_EQ(r->series.start, 600);
  ASSERT_EQ(r->series.values.size(), 2u);
  EXPECT_DOUBLE_EQ(r->series.values[0], 2.0);  // mean of 0..4
  EXPECT_DOUBLE_EQ(r->series.values[1], 7.0);  // mean of 5..9
}

TEST(ParseSeriesCsv, FillsGapsAndNanWithWarnings) {
  const auto r = parse_series_csv("t,v\n0,1\n60,NaN\n120,3\n300,6\n", "g.csv");
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_EQ(r->series.step, 60);
  EXPECT_EQ(r->series.values, (std::vector<double>{1, 2, 3, 4, 5, 6}));
  ASSERT_EQ(r->warnings.size(), 2u);
  EXPECT_NE(r->warnings[0].find("g.csv:3: 1 missing or NaN"), std::string::npos) << r->warnings[0];
  EXPECT_NE(r->warnings[1].find("1 gap(s), 2 missing step(s)"), std::string::npos)
      << r->warnings[1];
  // Without filling, the gaps stay NaN for the predictor.
  const auto raw = parse_series_csv("t,v\n0,1\n60,NaN\n120,3\n", "g.csv", {.fill_gaps = false});
  ASSERT_TRUE(raw.has_value());
  EXPECT_TRUE(std::isnan(raw->series.values[1]));
}

TEST(ParseSeriesCsv, ErrorsNameTheLineAndTheProblem) {
  const auto error = [](std::string_view text, ReadOptions o = {}) {
    const auto r = parse_series_csv(text, "in.csv", o);
    EXPECT_FALSE(r.has_value()) << text;
    return r.has_value() ? std::string() : r.error();
  };
  EXPECT_EQ(error("0,1\n60,2\n").substr(0, 19), "in.csv:1: no header");
  EXPECT_NE(error("t,v\n0,1\n60,abc\n").find("in.csv:3: non-numeric value 'abc'"),
            std::string::npos);
  EXPECT_NE(error("t,v\n0,1\n120,2\n60,3\n").find("in.csv:4: out-of-order timestamp"),
            std::string::npos);
  EXPECT_NE(error("t,v\n0,1\n60,2\n60,3\n").find("in.csv:4: duplicate timestamp"),
            std::string::npos);
  EXPECT_NE(error("t,v\n0,1\nnot-a-time,3\n").find("in.csv:3: invalid timestamp"),
            std::string::npos);
  EXPECT_NE(error("t,v\n0,1\n60\n").find("in.csv:3: expected 'timestamp,value'"),
            std::string::npos);
  EXPECT_NE(error("t,v\n").find("no data rows"), std::string::npos);
  EXPECT_NE(error("").find("empty file"), std::string::npos);
  EXPECT_NE(error("t,v\n0,1\n60,2\n120,3\n", {.min_points = 5}).find("too few points: 3"),
            std::string::npos);
}

TEST(ReadSeriesCsv, MissingFileAndRealTrace) {
  const auto missing = read_series_csv("/nonexistent/file.csv");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error(), "/nonexistent/file.csv: no such file");
  const auto taxi = read_series_csv(DSO_SOURCE_DIR "/operator/sim/traces/nyc_taxi.csv");
  ASSERT_TRUE(taxi.has_value()) << taxi.error();
  EXPECT_EQ(taxi->rows, 10320u);
  EXPECT_EQ(taxi->series.step, 1800);
  EXPECT_EQ(taxi->series.values.size(), 10320u);
  EXPECT_DOUBLE_EQ(taxi->series.values[0], 10844);
}

TEST(ResampleMean, SkipsNanAndLeavesEmptyBucketsNan) {
  predictor::Series s{.start = 0, .step = 60, .values = {1, NAN, 3, NAN, NAN, NAN, 7, 9}};
  const auto r = resample_mean(s, 120);
  ASSERT_EQ(r.values.size(), 4u);
  EXPECT_DOUBLE_EQ(r.values[0], 1);
  EXPECT_DOUBLE_EQ(r.values[1], 3);
  EXPECT_TRUE(std::isnan(r.values[2]));
  EXPECT_DOUBLE_EQ(r.values[3], 8);
}

TEST(ForecastCsv, WritesHeaderQuantileColumnsAndRows) {
  predictor::Forecast f;
  f.start = 1404172800;
  f.step = 1800;
  f.point = {1.5, 2};
  f.quantile_levels = {0.5, 0.9};
  f.quantiles = {{1.5, 2}, {3, 4.25}};
  EXPECT_EQ(format_forecast_csv(f),
            "timestamp,value,q0.5,q0.9\n2014-07-01 00:00:00,1.5,1.5,3\n"
            "2014-07-01 00:30:00,2,2,4.25\n");
  const auto path = std::filesystem::temp_directory_path() / "dso_forecast_csv_test.csv";
  ASSERT_TRUE(write_forecast_csv(path.string(), f, TimestampFormat::kUnixSeconds).has_value());
  std::ifstream in(path);
  std::string header, row;
  std::getline(in, header);
  std::getline(in, row);
  EXPECT_EQ(header, "timestamp,value,q0.5,q0.9");
  EXPECT_EQ(row, "1404172800,1.5,1.5,3");
  std::filesystem::remove(path);
  EXPECT_FALSE(write_forecast_csv("/nonexistent/dir/f.csv", f).has_value());
}

}  // namespace
}  // namespace dso::traces
