// Runs `deepseek-operator forecast` on good and bad inputs: outputs, exit codes, one-line errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>

#include "command_test_util.h"
#include "traces/csv.h"

namespace {

namespace fs = std::filesystem;

class ForecastCommand : public dso::testing::CommandTest {
 protected:
  ForecastCommand() : CommandTest("forecast") {}

  // Four days of 5-minute data with a daily cycle.
  std::string good_input() const {
    std::string text = "timestamp,value\n";
    for (int i = 0; i < 4 * 288; ++i) {
      const double v = 100 + 50 * std::sin(2 * std::numbers::pi * (i % 288) / 288.0);
      text += std::to_string(1'600'041'600 + 300 * i) + "," + std::to_string(v) + "\n";
    }
    return write("train.csv", text);
  }
};

TEST_F(ForecastCommand, WritesForecastCsvWithQuantileColumnsAndAChart) {
  const auto in = good_input();
  const auto r = run("--input " + in + " --horizon 2h --output " + path("f.csv") +
                     " --quantiles 0.5,0.9,0.99 --plot " + path("f.svg"));
  ASSERT_EQ(r.status, 0) << r.err;
  std::ifstream out(path("f.csv"));
  std::string line;
  std::getline(out, line);
  EXPECT_EQ(line, "timestamp,value,q0.5,q0.9,q0.99");
  int rows = 0;
  std::string first;
  while (std::getline(out, line)) {
    if (rows++ == 0) first = line;
  }
  EXPECT_EQ(rows, 24);  // 2 h of 5-minute steps
  EXPECT_EQ(first.substr(0, first.find(',')), std::to_string(1'600'041'600 + 300 * 4 * 288));
  const std::string svg = dso::testing::slurp(path("f.svg"));
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("<polygon"), std::string::npos);  // the quantile band
}

TEST_F(ForecastCommand, EachModelRuns) {
  const auto in = good_input();
  for (const char* model : {"auto", "prophet", "holt-winters", "snaive-day"}) {
    const auto r =
        run("--input " + in + " --horizon 30m --output " + path("f.csv") + " --model " + model);
    EXPECT_EQ(r.status, 0) << model << ": " << r.err;
  }
}

TEST_F(ForecastCommand, HelpAndUsageErrors) {
  const auto help = run("--help");
  EXPECT_EQ(help.status, 0);
  EXPECT_EQ(help.out.rfind("Usage: deepseek-operator forecast", 0), 0u);
  EXPECT_EQ(run("--input x.csv").status, 2);
  EXPECT_EQ(run("--bogus").status, 2);
  const auto check = [&](const std::string& args, const std::string& expected) {
    const auto r = run(args);
    EXPECT_EQ(r.status, 2) << args;
    EXPECT_EQ(r.err, "deepseek-operator forecast: " + expected + " (see --help)\n") << args;
  };
  check("--bogus=1", "unknown argument '--bogus=1'");
  check("--help=1", "unknown argument '--help=1'");  // only -h and --help are help here
  check("x.csv", "unknown argument 'x.csv'");
  check("--input=x.csv --horizon", "--horizon needs a value");
  check("--input= --horizon 1h --output o.csv", "--input is required");
  check("--input --help --output o.csv", "--horizon is required");  // --help is --input's value
}

TEST_F(ForecastCommand, BadInputGetsOneLineErrorWithTheLine) {
  const auto check = [&](const std::string& args, const std::string& expected) {
    const auto r = run(args);
    EXPECT_EQ(r.status, 1) << args;
    EXPECT_NE(r.err.find(expected), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(path("f.csv"))) << "nothing is written on error";
  };
  const std::string out = " --horizon 1h --output " + path("f.csv");
  check("--input " + path("missing.csv") + out, "missing.csv: no such file");
  check("--input " + write("nohdr.csv", "0,1\n60,2\n") + out, "nohdr.csv:1: no header");
  check("--input " + write("nan.csv", "t,v\n0,1\n60,2\n120,x1\n") + out,
        "nan.csv:4: non-numeric value 'x1'");
  check("--input " + write("order.csv", "t,v\n0,1\n120,2\n60,3\n") + out,
        "order.csv:4: out-of-order timestamp");
  check("--input " + write("dup.csv", "t,v\n0,1\n60,2\n60,3\n") + out,
        "dup.csv:4: duplicate timestamp");
  check("--input " + write("few.csv", "t,v\n0,1\n60,2\n120,3\n") + out + " --model snaive-day",
        "too few points for model snaive-day");
}

TEST_F(ForecastCommand, InvalidFlagValuesAreUsageErrors) {
  const auto check = [&](const std::string& args, const std::string& expected) {
    const auto r = run(args);
    EXPECT_EQ(r.status, 2) << args;  // as --help says: a flag's invalid value is a usage error
    EXPECT_NE(r.err.find(expected), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("(see --help)"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(path("f.csv"))) << "nothing is written on error";
  };
  const std::string out = " --horizon 1h --output " + path("f.csv");
  check("--input " + good_input() + " --horizon soon --output " + path("f.csv"),
        "invalid duration 'soon'");
  check("--input " + good_input() + out + " --model arima", "unknown model 'arima'");
  check("--input " + good_input() + out + " --quantiles 0.9,1.5", "invalid quantile level '1.5'");
  check("--input " + good_input() + out + " --step fast", "--step: invalid duration");
}

TEST_F(ForecastCommand, GapsAreFilledAndReported) {
  std::string text = "timestamp,value\n";
  for (int i = 0; i < 3 * 288; ++i) {
    if (i >= 400 && i < 410) continue;  // a 50-minute gap
    text += std::to_string(1'600'041'600 + 300 * i) + "," + (i == 500 ? "NaN" : "7") + "\n";
  }
  const auto r = run("--input " + write("gaps.csv", text) + " --horizon 1h --output " +
                     path("f.csv") + " --step 5m");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("warning: "), std::string::npos);
  EXPECT_NE(r.err.find("1 gap(s), 10 missing step(s)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 missing or NaN value(s)"), std::string::npos) << r.err;
  const auto f = dso::traces::read_series_csv(path("f.csv"));
  ASSERT_TRUE(f.has_value()) << f.error();
  for (const double v : f->series.values) EXPECT_NEAR(v, 7.0, 1e-9);
}

}  // namespace
