// The run's outputs: CSV format, JSON summary, chart, progress line, atomic file writes.
#include "loadgen/report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace dso::loadgen {
namespace {

Snapshot sample() {
  Recorder rec(/*slo_p99_s=*/0.5);
  rec.endpoints(1000, 2);
  for (int i = 0; i < 3; ++i) rec.arrival(1000);
  rec.outcome(1000, {Outcome::kCompleted, 0.25, 0.05, ""});
  rec.outcome(1000, {Outcome::kCompleted, 0.75, 0.06, ""});
  rec.outcome(1000, {Outcome::kRejected, 0, 0, "HTTP 429"});
  rec.arrival(1002);
  rec.outcome(1002, {Outcome::kConnect, 0, 0, "refused"});
  return rec.snapshot(1002);
}

TEST(Report, CsvRows) {
  EXPECT_EQ(rows_csv(sample().rows),
            "unix_time,offered,completed,rejected_429,errors,p50_s,p99_s,ttft_p50_s,ttft_p99_s,"
            "ready_endpoints,violation\n"
            "1000,3,2,1,0,0.2500,0.7500,0.0500,0.0600,2,1\n"
            "1001,0,0,0,0,,,,,2,0\n"
            "1002,1,0,0,1,,,,,2,1\n");
}

TEST(Report, SummaryJson) {
  const std::string line = summary_json(sample());
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["offered"], 4);
  EXPECT_EQ(j["completed"], 2);
  EXPECT_EQ(j["rejected_429"], 1);
  EXPECT_EQ(j["errors"], 1);
  EXPECT_EQ(j["errors_by_kind"]["connect"], 1);
  EXPECT_EQ(j["violation_seconds"], 2);
  EXPECT_EQ(j["seconds"], 3);
  EXPECT_DOUBLE_EQ(j["error_share"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(j["rejected_share"].get<double>(), 0.25);
  EXPECT_NEAR(j["p99_s"].get<double>(), 0.75, 0.75 * 0.005);
  EXPECT_EQ(j["last_error"], "refused");
  const auto empty = nlohmann::json::parse(summary_json(Recorder(1).snapshot(0)));
  EXPECT_TRUE(empty["p50_s"].is_null());  // nothing completed
}

TEST(Report, ChartHasThreePanelsAndViolations) {
  const std::string svg = chart_svg(sample(), 0.5, "run <1>");
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("run &lt;1&gt;"), std::string::npos);
  for (const char* text : {"requests/s", "ready endpoints", "p99 latency", "SLO violated"}) {
    EXPECT_NE(svg.find(text), std::string::npos) << text;
  }
  EXPECT_NE(svg.find("fill=\"#fcbba1\""), std::string::npos);  // the violation shading
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
}

TEST(Report, ProgressLine) {
  Recorder rec(1);
  rec.endpoints(10, 3);
  for (int s = 10; s < 13; ++s) {
    for (int i = 0; i < 4; ++i) rec.arrival(s);
    rec.outcome(s, {Outcome::kCompleted, 0.5 + s, 0.1, ""});
  }
  Totals before;
  before.offered = 2;
  before.completed = 1;
  // 12 offered and 3 completed in all: 10 and 2 more in the last 2 s; seconds 10 and 11 are in
  // the window, 12 is the one running.
  EXPECT_EQ(progress_line(rec.snapshot(12), before, 30.2, 2),
            "t=30s offered=5.0/s completed=1.0/s p99=11.5000s endpoints=3 in_flight=9 errors=0 "
            "rejected=0");
}

TEST(Report, WriteFileReplacesWhole) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("loadgen-report-" + std::to_string(::getpid()) + ".csv");
  ASSERT_TRUE(write_file(path, "a\n"));
  ASSERT_TRUE(write_file(path, "b\n"));
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "b\n");
  std::filesystem::remove(path);
  EXPECT_EQ(write_file("/nonexistent-dir/x.csv", "").error(),
            "/nonexistent-dir/x.csv: cannot write the file");
}

}  // namespace
}  // namespace dso::loadgen
