// e2e (c), faults under load, on a service the operator scales reactively from Prometheus (which
// discovers the testbed's pods with the chart's PodMonitor relabelling):
//   - a serving process killed: the node restarts it (restartCount 1, Ready again) and the load
//     goes on; only the requests that process held fail;
//   - Prometheus stopped for a minute: the replicas are held (MetricsUnavailable), never lowered;
//   - the operator restarted: no scale-down burst when it comes back (it holds what it set).
#include <gtest/gtest.h>
#include <signal.h>

#include "e2e_support.h"
#include "loadgen/load_generator.h"

namespace dso::e2e {
namespace {

using kube::Json;
using namespace std::chrono_literals;

constexpr const char* kNs = "e2e-faults";
constexpr const char* kEndpoints = "steady-default";
constexpr double kRate = 30;    // requests/s
constexpr double kTarget = 12;  // requests/s per replica: 3 replicas

int replicas(const Testbed& t) {
  return t.get(Testbed::deployments(), kNs, kEndpoints)
      .value("spec", Json::object())
      .value("replicas", -1);
}

// Samples the Deployment's replicas every 200 ms for `seconds`; the lowest seen.
int lowest_replicas_for(const Testbed& t, double seconds) {
  int lowest = replicas(t);
  const double end = wall_now() + seconds;
  while (wall_now() < end) {
    lowest = std::min(lowest, replicas(t));
    std::this_thread::sleep_for(200ms);
  }
  return lowest;
}

bool condition_is(const Json& dss, const std::string& type, const std::string& status) {
  for (const Json& c : dss.value("status", Json::object()).value("conditions", Json::array()))
    if (c.value("type", "") == type) return c.value("status", "") == status;
  return false;
}

TEST(Faults, ServerKilledPrometheusDownOperatorRestartedUnderLoad) {
  const Testbed testbed = Testbed::open();
  testbed.install_crd();
  testbed.fresh_namespace(kNs);
  ChartPrometheus prometheus("e2e-faults");
  Operator op(testbed, prometheus.url(), testbed.work_dir("faults") / "operator.log");
  testbed.apply(R"(apiVersion: inference.deepseek.io/v1alpha1
kind: DeepSeekService
metadata: {name: steady}
spec:
  model:
    name: steady-model
    image: )" + std::string(kServerImage) +
                    R"(
    args: ["--gpu-sim-step-ms=20", "--max-batch-size=16"]
  drain: {terminationGracePeriodSeconds: 30, preStopSeconds: 3}
  autoscaling:
    minReplicas: 1
    maxReplicas: 6
    metrics: [{type: RequestsPerSecond, target: 12}]
    predictive: {mode: "Off"}
    behavior:
      scaleDown: {stabilizationWindowSeconds: 30}
)",
                kNs);
  ASSERT_TRUE(eventually(120, [&] { return testbed.ready_endpoints(kNs, kEndpoints) >= 1; }))
      << op.log_text().substr(0, 4000);

  loadgen::Options load;
  load.kubeconfig = testbed.cluster().kubeconfig.string();
  load.service_namespace = kNs;
  load.service_name = kEndpoints;
  load.model = "steady-model";
  load.rate = kRate;
  load.stream = false;
  load.seed = 11;
  load.sizes_file = std::string(DSO_TEST_DATA) + "/azure_llm_conv.csv";
  load.max_output_tokens = 16;
  auto gen = loadgen::LoadGenerator::create(load);
  ASSERT_TRUE(gen) << gen.error();
  ASSERT_TRUE((*gen)->start());
  // The reactive policy scales to ceil(30 / 12) = 3 and all three serve.
  ASSERT_TRUE(eventually(180, [&] { return testbed.ready_endpoints(kNs, kEndpoints) == 3; }))
      << testbed.get(Testbed::deepseek_services(), kNs, "steady")["status"].dump(2);
  ASSERT_TRUE(eventually(60, [&] {
    return condition_is(testbed.get(Testbed::deepseek_services(), kNs, "steady"), "ScalingActive",
                        "True");
  }));

  // 1. A serving process killed: the node agent restarts it after its backoff.
  const Json victim = testbed.pods(kNs)[0];
  const std::string id = victim["status"]["containerStatuses"][0]["containerID"];
  const pid_t pid = std::stoi(id.substr(id.find("://") + 3));
  const auto before_kill = (*gen)->snapshot().totals;
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(eventually(90, [&] {
    for (const Json& p : testbed.pods(kNs)) {
      if (p["metadata"]["uid"] != victim["metadata"]["uid"]) continue;
      const Json& cs = p["status"]["containerStatuses"][0];
      return cs.value("restartCount", 0) == 1 && cs.value("ready", false);
    }
    return false;
  })) << "the killed server was not restarted";
  ASSERT_TRUE((*gen)->wait_for_completed(before_kill.completed + 300, 60s));
  const auto after_kill = (*gen)->snapshot().totals;
  // Only what the killed process held can fail (at 30 req/s and well under a second each).
  EXPECT_LE(after_kill.errors - before_kill.errors, 40u) << after_kill.last_error;
  EXPECT_EQ(replicas(testbed), 3);

  // 2. Prometheus down for a minute: held at 3 (never towards the minimum), MetricsUnavailable.
  prometheus.stop();
  ASSERT_TRUE(eventually(60, [&] {
    return condition_is(testbed.get(Testbed::deepseek_services(), kNs, "steady"),
                        "MetricsUnavailable", "True");
  }));
  EXPECT_EQ(lowest_replicas_for(testbed, 30), 3);
  prometheus.start();
  ASSERT_TRUE(eventually(90, [&] {
    return condition_is(testbed.get(Testbed::deepseek_services(), kNs, "steady"),
                        "MetricsUnavailable", "False");
  }));

  // 3. The operator restarted: it comes back holding what it set, no scale-down burst.
  op.stop();
  op.start();
  EXPECT_EQ(lowest_replicas_for(testbed, 30), 3)
      << testbed.get(Testbed::deepseek_services(), kNs, "steady").value("status", Json()).dump(2);

  (*gen)->stop();
  (*gen)->wait();
  const auto totals = (*gen)->snapshot().totals;
  EXPECT_EQ(totals.errors - (after_kill.errors - before_kill.errors), 0u)
      << "requests failed outside the killed process: " << totals.last_error;
  std::printf("faults: %llu requests, %llu errors (all while one server was killed), p99 %.3f s\n",
              static_cast<unsigned long long>(totals.offered),
              static_cast<unsigned long long>(totals.errors), totals.p99_s);
}

}  // namespace
}  // namespace dso::e2e
