// e2e: every sample in crds/samples/ is valid as shipped. Each is applied unchanged to the testbed
// cluster (with what it refers to: nodes labelled for its regions and GPU type, its PriorityClass,
// its PersistentVolumeClaim holding a model), reconciles without Degraded, its pods run the real
// server (the full sample's load the weights from its claim), Prometheus scrapes them with the
// chart's relabelling, and the autoscaler reaches ScalingActive=True on every metric it names.
#include <gtest/gtest.h>

#include "e2e_support.h"
#include "loadgen/load_generator.h"

namespace dso::e2e {
namespace {

using kube::Json;
using namespace std::chrono_literals;

std::string condition(const Json& dss, const std::string& type) {
  for (const Json& c : dss.value("status", Json::object()).value("conditions", Json::array()))
    if (c.value("type", "") == type) return c.value("status", "") + "/" + c.value("reason", "");
  return "";
}

class Samples : public ::testing::Test {
 protected:
  void SetUp() override {
    testbed_.install_crd();
    testbed_.fresh_namespace("e2e-samples");
    // The full sample's regions select topology.kubernetes.io/region us-east-1 and us-west-2; its
    // 8-GPU pods take a node each, and its business-hours schedule asks for 6 on weekdays.
    label_nodes({"us-east-1", "us-east-1", "us-east-1", "us-east-1", "us-east-1", "us-east-1",
                 "us-west-2", "us-west-2"});
  }
  void TearDown() override {
    std::string out;
    testbed_.kubectl("-n default delete dss chat-large --ignore-not-found --wait=true", &out);
    testbed_.kubectl("-n default delete pvc deepseek-chat-weights --ignore-not-found", &out);
    testbed_.kubectl(
        "delete pv deepseek-chat-weights priorityclass inference-critical "
        "--ignore-not-found",
        &out);
    label_nodes(std::vector<std::string>(8, "local"));
  }
  void label_nodes(const std::vector<std::string>& regions) {
    for (std::size_t i = 0; i < regions.size(); ++i) {
      std::string out;
      testbed_.kubectl("label node e2e-" + std::to_string(i) +
                           " --overwrite topology.kubernetes.io/region=" + regions[i],
                       &out);
    }
  }

  Testbed testbed_ = Testbed::open();
};

TEST_F(Samples, EveryShippedSampleReconcilesAndScales) {
  // What full.yaml refers to: a PriorityClass, and a claim whose volume holds the weights (the
  // testbed keeps a claim's data in STATE/pvc/NAMESPACE/CLAIM).
  const fs::path weights = testbed_.state() / "pvc" / "default" / "deepseek-chat-weights";
  fs::create_directories(weights);
  fs::copy_file(DSO_BYTE_LM, weights / "model.pt", fs::copy_options::overwrite_existing);
  testbed_.apply(R"(apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: inference-critical}
value: 100000
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: deepseek-chat-weights}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadOnlyMany]
  storageClassName: ""
  hostPath: {path: )" +
                 weights.string() + R"(}
  claimRef: {namespace: default, name: deepseek-chat-weights}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: deepseek-chat-weights, namespace: default}
spec:
  accessModes: [ReadOnlyMany]
  storageClassName: ""
  volumeName: deepseek-chat-weights
  resources: {requests: {storage: 1Gi}}
)");
  ChartPrometheus prometheus("e2e-samples");
  Operator op(testbed_, prometheus.url(), testbed_.work_dir("samples") / "operator.log");

  std::string out;
  const std::string samples = std::string(DSO_SOURCE_DIR) + "/crds/samples/";
  ASSERT_EQ(testbed_.kubectl("-n e2e-samples apply -f " + samples + "minimal.yaml", &out), 0)
      << out;
  ASSERT_EQ(testbed_.kubectl("-n default apply -f " + samples + "full.yaml", &out), 0) << out;

  // The full sample's P99Latency needs requests to be defined: a little load on its primary, once
  // it serves.
  ASSERT_TRUE(eventually(180, [&] {
    return testbed_.ready_endpoints("default", "chat-large-us-east") > 0;
  })) << testbed_.get(Testbed::deepseek_services(), "default", "chat-large").dump(2);
  loadgen::Options load;
  load.kubeconfig = testbed_.cluster().kubeconfig.string();
  load.service_namespace = "default";
  load.service_name = "chat-large-us-east";
  load.model = "deepseek-chat";
  load.rate = 2;
  load.stream = false;
  load.max_output_tokens = 8;
  load.sizes_file = std::string(DSO_TEST_DATA) + "/azure_llm_conv.csv";
  auto gen = loadgen::LoadGenerator::create(load);
  ASSERT_TRUE(gen) << gen.error();
  ASSERT_TRUE((*gen)->start());

  const std::vector<std::pair<std::string, std::string>> services = {{"e2e-samples", "chat-small"},
                                                                     {"default", "chat-large"}};
  for (const auto& [ns, name] : services) {
    EXPECT_TRUE(eventually(240,
                           [&] {
                             const Json dss = testbed_.get(Testbed::deepseek_services(), ns, name);
                             return condition(dss, "Degraded") == "False/AsExpected" &&
                                    condition(dss, "Ready") == "True/AllReplicasReady" &&
                                    condition(dss, "ScalingActive").starts_with("True/");
                           }))
        << ns << "/" << name << "\n"
        << testbed_.get(Testbed::deepseek_services(), ns, name)["status"].dump(2);
  }
  // The full sample's pods loaded the TorchScript weights from the claim.
  for (const Json& pod : testbed_.pods("default", "inference.deepseek.io/service=chat-large")) {
    if (pod.value("status", Json::object()).value("phase", "") != "Running") continue;
    const std::string log =
        testing::read_file(testbed_.state() / "pods" /
                           ("default_" + pod["metadata"]["name"].get<std::string>() + "_" +
                            pod["metadata"]["uid"].get<std::string>()) /
                           "logs" / "inference.log");
    EXPECT_NE(log.find("loaded /models/model.pt"), std::string::npos) << log;
  }
  (*gen)->stop();
  (*gen)->wait();
  EXPECT_EQ((*gen)->snapshot().totals.errors, 0u) << (*gen)->snapshot().totals.last_error;
}

}  // namespace
}  // namespace dso::e2e
