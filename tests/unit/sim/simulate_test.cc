// `deepseek-operator simulate`: flags, bad input as one-line errors, outputs.
#include "sim/simulate.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "sim/bundled_trace.h"

namespace dso::sim {
namespace {

std::expected<SimulateOptions, std::string> parse(std::vector<std::string> args) {
  return parse_simulate_args(args);
}

std::string error_of(std::vector<std::string> args) {
  const auto r = parse(std::move(args));
  EXPECT_FALSE(r.has_value());
  return r.has_value() ? "" : r.error();
}

TEST(SimulateArgs, DefaultsMatchTheDocumentedCommand) {
  const auto o = parse({});
  ASSERT_TRUE(o.has_value());
  EXPECT_FALSE(o->trace.has_value());
  EXPECT_EQ(o->policies, policy_names());
  EXPECT_EQ(o->cold_start, 300);
  EXPECT_EQ(o->period, 15);
  EXPECT_EQ(o->window, 7 * 86400);
  EXPECT_DOUBLE_EQ(o->target_utilization, 0.7);
}

TEST(SimulateArgs, ParsesEveryFlag) {
  const auto o = parse({"--trace", "x.csv", "--policy", "seasonal,hpa", "--cold-start=10m",
                        "--peak-replicas", "12", "--target-utilization", "0.6", "--period", "30s",
                        "--window", "2d", "--out", "dir"});
  ASSERT_TRUE(o.has_value()) << o.error();
  EXPECT_EQ(*o->trace, "x.csv");
  EXPECT_EQ(o->policies, (std::vector<std::string>{"hpa", "seasonal"}));  // table order
  EXPECT_EQ(o->cold_start, 600);
  EXPECT_EQ(*o->peak_replicas, 12);
  EXPECT_DOUBLE_EQ(o->target_utilization, 0.6);
  EXPECT_EQ(o->period, 30);
  EXPECT_EQ(o->window, 2 * 86400);
  EXPECT_EQ(o->out_dir, "dir");
  EXPECT_EQ(parse({"--policy", "all"})->policies, policy_names());
  EXPECT_DOUBLE_EQ(*parse({"--capacity", "2.5"})->capacity, 2.5);
}

TEST(SimulateArgs, BadInputIsAOneLineErrorNamingTheFlag) {
  EXPECT_NE(error_of({"--cold-start", "-5m"}).find("--cold-start: invalid duration '-5m'"),
            std::string::npos);
  EXPECT_NE(error_of({"--cold-start", "0s"}).find("--cold-start"), std::string::npos);
  EXPECT_NE(error_of({"--period", "soon"}).find("--period: invalid duration"), std::string::npos);
  EXPECT_NE(error_of({"--peak-replicas", "0"}).find("--peak-replicas: '0'"), std::string::npos);
  EXPECT_NE(error_of({"--peak-replicas", "2.5"}).find("--peak-replicas"), std::string::npos);
  EXPECT_NE(error_of({"--capacity", "-1"}).find("--capacity: '-1' is not a positive number"),
            std::string::npos);
  EXPECT_NE(error_of({"--target-utilization", "1.5"}).find("--target-utilization"),
            std::string::npos);
  EXPECT_NE(error_of({"--policy", "hpa,vpa"}).find("unknown policy 'vpa'"), std::string::npos);
  EXPECT_NE(error_of({"--peak-replicas", "5", "--capacity", "3"}).find("not both"),
            std::string::npos);
  EXPECT_NE(error_of({"--window", "10s"}).find("--window: shorter than the decision period"),
            std::string::npos);
  EXPECT_NE(error_of({"--frobnicate"}).find("unknown flag '--frobnicate'"), std::string::npos);
  EXPECT_NE(error_of({"--trace"}).find("--trace: needs a value"), std::string::npos);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--cold-start", "-5m"}, {"--policy", "x"}, {"--window", "1y"}}) {
    EXPECT_EQ(error_of(args).find('\n'), std::string::npos);
  }
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("dso_sim_test_" + name)).string();
}

TEST(Simulate, BadTraceOrWindowFailsWithOneLine) {
  SimulateOptions o;
  o.trace = temp_path("missing.csv");
  auto run = run_simulation(o);
  ASSERT_FALSE(run.has_value());
  EXPECT_NE(run.error().find("no such file"), std::string::npos);

  const auto garbage = temp_path("garbage.csv");
  std::ofstream(garbage) << "timestamp,value\n2024-01-01 00:00:00,5\nnot-a-time,7\n";
  o.trace = garbage;
  run = run_simulation(o);
  ASSERT_FALSE(run.has_value());
  EXPECT_NE(run.error().find(garbage + ":3"), std::string::npos);

  o.trace.reset();  // the bundled trace is 7 months long
  o.window = 52 * 7 * 86400;
  run = run_simulation(o);
  ASSERT_FALSE(run.has_value());
  EXPECT_NE(run.error().find("--window 52w is longer than the trace"), std::string::npos);
  EXPECT_EQ(run.error().find('\n'), std::string::npos);
  std::remove(garbage.c_str());
}

TEST(Simulate, MainReturnsUsageAndErrorStatuses) {
  const auto err_path = temp_path("err.txt");
  std::FILE* err = std::fopen(err_path.c_str(), "w+");
  std::FILE* out = std::fopen("/dev/null", "w");
  const std::vector<std::string> bad{"--cold-start", "-5m"};
  EXPECT_EQ(simulate_main(bad, out, err, false), 2);
  const std::vector<std::string> missing{"--trace", temp_path("nope.csv")};
  EXPECT_EQ(simulate_main(missing, out, err, false), 1);
  const std::vector<std::string> help{"--help"};
  EXPECT_EQ(simulate_main(help, out, err, false), 0);
  std::fflush(err);
  std::rewind(err);
  char line[512];
  int lines = 0;
  while (std::fgets(line, sizeof line, err) != nullptr) {
    ++lines;
    EXPECT_EQ(std::string(line).rfind("deepseek-operator simulate: ", 0), 0u) << line;
  }
  EXPECT_EQ(lines, 2);
  std::fclose(err);
  std::fclose(out);
  std::remove(err_path.c_str());
}

TEST(Simulate, BundledTraceRunsAndWritesPlansThatMatchTheDecisions) {
  EXPECT_EQ(bundled_trace_csv().substr(0, 16), "timestamp,value\n");
  SimulateOptions o;
  o.policies = {"hpa", "kpa"};
  o.window = 86400;
  o.out_dir = temp_path("out");
  const auto run = run_simulation(o);
  ASSERT_TRUE(run.has_value()) << run.error();
  EXPECT_EQ(run->trace_name, std::string(kBundledTraceName));
  ASSERT_EQ(run->results.size(), 2u);
  EXPECT_NEAR(run->capacity, run->peak_demand / 20.0, 1e-9);
  EXPECT_DOUBLE_EQ(run->oracle.score.violation_minutes, 0.0);
  const auto written = write_outputs(*run, o);
  ASSERT_TRUE(written.has_value()) << written.error();
  EXPECT_EQ(written->size(), 4u);
  std::ifstream plan(o.out_dir + "/plan-hpa.csv");
  std::string header, row;
  std::getline(plan, header);
  EXPECT_EQ(header, "timestamp,replicas");
  std::size_t rows = 0;
  while (std::getline(plan, row)) {
    ASSERT_LT(rows, run->results[0].desired.size());
    EXPECT_EQ(row.substr(row.find(',') + 1), std::to_string(run->results[0].desired[rows]));
    ++rows;
  }
  EXPECT_EQ(rows, run->results[0].desired.size());
  EXPECT_EQ(rows, static_cast<std::size_t>(86400 / 15));
  std::filesystem::remove_all(o.out_dir);
}

}  // namespace
}  // namespace dso::sim
