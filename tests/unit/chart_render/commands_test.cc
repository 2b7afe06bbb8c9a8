// The dso-chart-render command line: usage errors name the flag (exit 2), bad manifests name the
// field (exit 1), operator-args prints one argument a line.
#include "chart_render/commands.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace dso::chart_render {
namespace {

using testing::run;

const std::string kPodMonitor = R"(
apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata: {name: pm, namespace: ops}
spec: {podMetricsEndpoints: [{port: http}]}
)";

TEST(Commands, HelpAndUnknownCommand) {
  EXPECT_EQ(run({"--help"}).status, 0);
  EXPECT_TRUE(run({"--help"}).err.contains("scrape-config --manifests FILE"));
  EXPECT_EQ(run({}).status, 2);
  const auto r = run({"render"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err,
            "dso-chart-render: unknown command \"render\" (scrape-config, operator-args, "
            "pod-sd; see --help)\n");
  EXPECT_EQ(run({"scrape-config", "--help"}).status, 0);
}

TEST(Commands, ScrapeConfigUsageErrors) {
  const auto err = [](const std::vector<std::string>& args) {
    const auto r = run(args, kPodMonitor);
    EXPECT_EQ(r.status, 2) << r.err;
    return r.err;
  };
  EXPECT_EQ(err({"scrape-config", "--manifests", "-"}),
            "dso-chart-render scrape-config: --api-server is required (see --help)\n");
  EXPECT_EQ(err(testing::scrape_config_args({"--scrape-interval", "15"})),
            "dso-chart-render scrape-config: --scrape-interval: \"15\" is not a Prometheus "
            "duration (see --help)\n");
  EXPECT_EQ(err(testing::scrape_config_args({"--namespace", "Bad_NS"})),
            "dso-chart-render scrape-config: --namespace: \"Bad_NS\" is not a namespace name (see "
            "--help)\n");
  EXPECT_EQ(err(testing::scrape_config_args({"--pod-sd-url", "http://x"})),
            "dso-chart-render scrape-config: --api-server, --ca-file and --bearer-token-file go "
            "to pod-sd with --pod-sd-url (see --help)\n");
  EXPECT_EQ(err(testing::scrape_config_args({"--bogus"})),
            "dso-chart-render scrape-config: unknown flag --bogus (see --help)\n");
  EXPECT_EQ(err({"scrape-config", "--manifests"}),
            "dso-chart-render scrape-config: --manifests: missing value (see --help)\n");
}

TEST(Commands, ScrapeConfigFailures) {
  auto r = run(testing::scrape_config_args(), "a: [1");
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(r.err.starts_with("dso-chart-render scrape-config: --manifests -: ")) << r.err;
  r = run({"scrape-config", "--manifests", "/nonexistent/m.yaml", "--pod-sd-url", "http://x"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "dso-chart-render scrape-config: --manifests /nonexistent/m.yaml: cannot read\n");
  r = run(testing::scrape_config_args({"--namespace", "other"}), kPodMonitor);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "dso-chart-render scrape-config: PodMonitor ops/pm selects namespaces [ops], none of "
            "--namespace [other]\n");
  EXPECT_TRUE(r.out.empty()) << "nothing half-written";
}

TEST(Commands, OperatorArgs) {
  const std::string deployment = R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: op, namespace: ops}
spec:
  template:
    spec:
      containers:
        - {name: sidecar, args: [x]}
        - {name: operator, args: [run, "--a=1", "--b=two words"]}
)";
  auto r = run({"operator-args", "--manifests", "-"}, deployment);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "run\n--a=1\n--b=two words\n");
  r = run({"operator-args", "--manifests", "-", "--container", "sidecar"}, deployment);
  EXPECT_EQ(r.out, "x\n");
  r = run({"operator-args", "--manifests", "-", "--container", "nope"}, deployment);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "dso-chart-render operator-args: no Deployment with a container \"nope\" in "
            "the manifests\n");
  r = run({"operator-args", "--manifests", "-"}, deployment + "---\n" + deployment);
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(r.err.contains("two Deployments have a container \"operator\"")) << r.err;
  r = run({"operator-args", "--manifests", "-"},
          "kind: Deployment\nmetadata: {name: d, namespace: n}\nspec: {template: {spec: "
          "{containers: [{name: operator, args: [run, 5]}]}}}\n");
  EXPECT_EQ(r.err,
            "dso-chart-render operator-args: Deployment n/d: container \"operator\": "
            "args[1]: expected a string\n");
}

TEST(Commands, PodSdNeedsItsFlags) {
  const auto r = run({"pod-sd", "--listen", "127.0.0.1:1"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "dso-chart-render pod-sd: --api-server is required (see --help)\n");
}

}  // namespace
}  // namespace dso::chart_render
