// `deepseek-operator explain`: its arguments (both flag forms, help, usage errors with status 2),
// checked on the built binary before it reads any kubeconfig.
#include <string>

#include "command_test_util.h"

namespace dso::cmd {
namespace {

class ExplainCommand : public dso::testing::CommandTest {
 protected:
  ExplainCommand() : CommandTest("explain") {}
};

// Help wherever it stands, unless an argument before it was already wrong.
TEST_F(ExplainCommand, Help) {
  for (const char* args : {"--help", "-h", "--help=1", "ns/a --help", "--context c -h ns/b ns/c"}) {
    const auto r = run(args);
    EXPECT_EQ(r.status, 0) << args;
    EXPECT_EQ(r.out.rfind("Usage: deepseek-operator explain NAMESPACE/NAME", 0), 0u) << args;
    EXPECT_EQ(r.err, "") << args;
  }
}

TEST_F(ExplainCommand, UsageErrorsAreOneLineWithStatus2) {
  const auto check = [&](const std::string& args, const std::string& expected) {
    const auto r = run(args);
    EXPECT_EQ(r.status, 2) << args << ": " << r.err;
    EXPECT_EQ(r.err, "deepseek-operator explain: " + expected + "\n") << args;
  };
  check("", "expected NAMESPACE/NAME, got \"\"");
  check("ns/", "expected NAMESPACE/NAME, got \"ns/\"");
  check("ns/a ns/b", "one NAMESPACE/NAME only");
  check("ns/a --kubeconfig", "--kubeconfig: missing value");
  check("--context", "--context: missing value");
  check("ns/a --bogus", "unknown flag --bogus (see --help)");
  check("--bogus=1 ns/a", "unknown flag --bogus (see --help)");
  check("-x=1 ns/a", "unknown flag -x=1 (see --help)");
  check("--bogus=1 -h", "unknown flag --bogus (see --help)");
}

TEST_F(ExplainCommand, BothFlagFormsReachTheKubeconfigLoader) {
  const std::string missing = path("missing-kubeconfig");
  for (const std::string& args :
       {"--kubeconfig " + missing + " ns/a", "ns/a --kubeconfig=" + missing,
        "--context=c --kubeconfig " + missing + " ns/a"}) {
    const auto r = run(args);
    EXPECT_EQ(r.status, 1) << args;
    EXPECT_EQ(r.err,
              "deepseek-operator explain: --kubeconfig " + missing + ": file does not exist\n")
        << args;
  }
  // A separate value is taken whatever it looks like.
  const auto r = run("ns/a --kubeconfig --context");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "deepseek-operator explain: --kubeconfig --context: file does not exist\n");
}

}  // namespace
}  // namespace dso::cmd
