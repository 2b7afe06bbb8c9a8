// e2e (a), the lifecycle: crds/samples/minimal.yaml applied as is, on testbed nodes. The operator's
// pod runs the real server, which turns Ready through its own probes and answers chat completions
// under spec.model.name through the Service's endpoints; 1 -> 3 -> 1 replicas under steady load
// with no failed request on the way down (preStop while the endpoints change, then the drain);
// deleting the service ends every server process with exit 0 within its grace period.
#include <gtest/gtest.h>

#include "e2e_support.h"
#include "loadgen/load_generator.h"

namespace dso::e2e {
namespace {

using kube::Json;
using namespace std::chrono_literals;

constexpr const char* kNs = "e2e-lifecycle";
constexpr const char* kService = "chat-small";
constexpr const char* kEndpoints = "chat-small-default";  // <service>-<region>

TEST(Lifecycle, MinimalSampleServesScalesWithoutErrorsAndDrains) {
  const Testbed testbed = Testbed::open();
  testbed.install_crd();
  testbed.fresh_namespace(kNs);
  // No Prometheus: the replicas are set by hand (autoscaling off below), so none is needed.
  Operator op(testbed, "", testbed.work_dir("lifecycle") / "operator.log");

  std::string out;
  ASSERT_EQ(testbed.kubectl("-n " + std::string(kNs) + " apply -f " + DSO_SOURCE_DIR +
                                "/crds/samples/minimal.yaml",
                            &out),
            0)
      << out;
  ASSERT_TRUE(eventually(120, [&] { return testbed.ready_endpoints(kNs, kEndpoints) == 1; }))
      << "the minimal sample's pod did not turn Ready\n"
      << op.log_text().substr(0, 4000);
  // What the server logged: it is the real one, on the testbed's GPU stand-in.
  const auto pods = testbed.pods(kNs);
  ASSERT_EQ(pods.size(), 1u);
  const std::string pod_dir =
      (testbed.state() / "pods" /
       (std::string(kNs) + "_" + pods[0]["metadata"]["name"].get<std::string>() + "_" +
        pods[0]["metadata"]["uid"].get<std::string>()))
          .string();
  EXPECT_NE(
      testing::read_file(pod_dir + "/logs/inference.log").find("deepseek-inference-server: ready"),
      std::string::npos);

  // Steady load through the Service's ready endpoints, under the sample's model name.
  loadgen::Options load;
  load.kubeconfig = testbed.cluster().kubeconfig.string();
  load.service_namespace = kNs;
  load.service_name = kEndpoints;
  load.model = "deepseek-tiny";
  load.rate = 20;
  load.seed = 7;
  load.sizes_file = std::string(DSO_TEST_DATA) + "/azure_llm_conv.csv";
  load.max_output_tokens = 16;
  auto gen = loadgen::LoadGenerator::create(load);
  ASSERT_TRUE(gen) << gen.error();
  ASSERT_TRUE((*gen)->start());
  ASSERT_TRUE((*gen)->wait_for_completed(60, 60s));

  // Autoscaling off: spec.replicas (kubectl scale) sets the replicas.
  ASSERT_EQ(testbed.kubectl("-n " + std::string(kNs) + " patch dss " + kService +
                                " --type merge -p '{\"spec\":{\"autoscaling\":{\"enabled\":false},"
                                "\"replicas\":1}}'",
                            &out),
            0)
      << out;
  ASSERT_EQ(
      testbed.kubectl("-n " + std::string(kNs) + " scale dss " + kService + " --replicas 3", &out),
      0)
      << out;
  ASSERT_TRUE(eventually(120, [&] { return testbed.ready_endpoints(kNs, kEndpoints) == 3; }));
  const auto at_three = (*gen)->snapshot().totals.completed;
  ASSERT_TRUE((*gen)->wait_for_completed(at_three + 60, 60s));

  ASSERT_EQ(
      testbed.kubectl("-n " + std::string(kNs) + " scale dss " + kService + " --replicas 1", &out),
      0)
      << out;
  ASSERT_TRUE(eventually(120, [&] { return testbed.pods(kNs).size() == 1; }))
      << "two pods should have drained and gone";
  const auto at_one = (*gen)->snapshot().totals.completed;
  ASSERT_TRUE((*gen)->wait_for_completed(at_one + 40, 60s));
  (*gen)->stop();
  (*gen)->wait();
  const auto totals = (*gen)->snapshot().totals;
  EXPECT_EQ(totals.errors, 0u) << "requests failed while scaling";
  EXPECT_EQ(totals.rejected, 0u);
  EXPECT_EQ(totals.completed, totals.offered);
  // The two removed servers: exit 0, after their preStop, within the grace period.
  const auto scaled_down = testbed.exits(kNs);
  ASSERT_EQ(scaled_down.size(), 2u);
  for (const Json& e : scaled_down) {
    EXPECT_EQ(e["exitCode"], 0) << e.dump();
    EXPECT_EQ(e["reason"], "Killing") << e.dump();
    EXPECT_GE(e["secondsAfterDeletion"].get<double>(), 10.0) << "the preStop (10 s) ran first";
    EXPECT_LE(e["secondsAfterDeletion"].get<double>(), e["graceSeconds"].get<double>());
  }
  std::printf(
      "lifecycle: %llu requests, %llu completed, p99 %.3f s; scaled-down servers exited "
      "%.1f s and %.1f s after deletion\n",
      static_cast<unsigned long long>(totals.offered),
      static_cast<unsigned long long>(totals.completed), totals.p99_s,
      scaled_down[0]["secondsAfterDeletion"].get<double>(),
      scaled_down[1]["secondsAfterDeletion"].get<double>());

  // Deleting the service: the garbage collector removes the Deployment and its pod, which drains.
  ASSERT_EQ(testbed.kubectl("-n " + std::string(kNs) + " delete dss " + kService, &out), 0) << out;
  ASSERT_TRUE(eventually(120, [&] {
    return testbed.pods(kNs).empty() && testbed.exits(kNs).size() == 3;
  })) << "the last pod did not go";
  const Json last = testbed.exits(kNs).back();
  EXPECT_EQ(last["exitCode"], 0) << last.dump();
  EXPECT_LE(last["secondsAfterDeletion"].get<double>(), last["graceSeconds"].get<double>());
}

}  // namespace
}  // namespace dso::e2e
