// Runs `deepseek-operator simulate` as a user would: no arguments from an unrelated directory (the
// bundled trace is inside the binary), and bad input (exit status, one-line errors).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "command_test_util.h"

namespace {

namespace fs = std::filesystem;

using dso::testing::slurp;

class SimulateCommand : public dso::testing::CommandTest {
 protected:
  SimulateCommand() : CommandTest("simulate") {}
};

TEST_F(SimulateCommand, NoArgumentsRunsTheBundledTraceWithEveryPolicy) {
  const auto r = run("");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("nyc_taxi.csv (bundled)"), std::string::npos);
  for (const char* policy : {"hpa", "kpa", "linear", "dsp", "seasonal", "oracle"}) {
    EXPECT_NE(r.out.find(std::string("\n") + policy + " "), std::string::npos) << policy;
    if (std::string(policy) != "oracle") {
      EXPECT_TRUE(fs::exists(dir_ / "simulate-out" / ("plan-" + std::string(policy) + ".csv")));
      EXPECT_TRUE(fs::exists(dir_ / "simulate-out" / ("chart-" + std::string(policy) + ".svg")));
    }
  }
  EXPECT_EQ(r.err, "");  // no progress bar when stderr is not a terminal
  const auto plan = slurp(dir_ / "simulate-out" / "plan-seasonal.csv");
  EXPECT_EQ(plan.rfind("timestamp,replicas\n2015-01-24 23:30:15,", 0), 0u);
}

TEST_F(SimulateCommand, BadInputIsOneLineAndANonZeroStatus) {
  struct Case {
    std::string args;
    int status;
    std::string message;
  };
  const std::vector<Case> cases{
      {"--cold-start -5m", 2, "--cold-start: invalid duration '-5m'"},
      {"--peak-replicas 0", 2, "--peak-replicas: '0' is not a whole number"},
      {"--policy hpa,nope", 2, "--policy: unknown policy 'nope'"},
      {"--window 60w", 1, "--window 60w is longer than the trace"},
      {"--trace does-not-exist.csv", 1, "does-not-exist.csv: no such file"},
      {"--bogus", 2, "unknown flag '--bogus'"},
      {"--bogus=1 --out x", 2, "unknown flag '--bogus=1' (see --help)"},
      {"--policy=dsp --out", 2, "--out: needs a value"},
      {"--out=", 2, "--out: empty path"},
      {"--trace --help", 1, "--help: no such file"},  // a separate value is taken as it is
  };
  for (const auto& c : cases) {
    const auto r = run(c.args);
    EXPECT_EQ(r.status, c.status) << c.args;
    EXPECT_EQ(r.err.rfind("deepseek-operator simulate: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "simulate-out")) << c.args;
  }
}

TEST_F(SimulateCommand, HelpDescribesEveryFlag) {
  const auto r = run("--help");
  EXPECT_EQ(r.status, 0);
  for (const char* flag : {"--trace", "--policy", "--cold-start", "--peak-replicas", "--capacity",
                           "--target-utilization", "--period", "--window", "--out"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
