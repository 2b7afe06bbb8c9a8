// The live autoscaler inside `deepseek-operator run`, on the real control plane (kube-apiserver,
// etcd, controller-manager, scheduler) with fake GPU nodes and the stand-in kubelet, and no
// Prometheus: an autoscaled service holds its replicas (never falls to the minimum) with
// MetricsUnavailable=True and the engine's view in status; cold starts are measured from the pods'
// conditions; a manual `kubectl scale dss` with autoscaling on is applied and then held (the
// autoscaler takes it as the current replicas); /metrics has the alert gauges; `explain` prints it.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <functional>
#include <thread>

#include "autoscaling_it.h"
#include "kube/client.h"
#include "support/local_cluster.h"
#include "support/processes.h"

namespace {

using dso::testing::ChildProcess;
using dso::testing::eventually;
using dso::testing::FakeKubelet;
using dso::testing::free_port;
using dso::testing::LocalCluster;
using nlohmann::json;

constexpr const char* kNs = "autoscaling-it";
const dso::kube::Resource kDss{"inference.deepseek.io", "v1alpha1", "deepseekservices", true};
const dso::kube::Resource kDeployments{"apps", "v1", "deployments", true};

class AutoscalingRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = LocalCluster::open();
    client_ = dso::testing::admin_client(cluster_.kubeconfig);
    std::string out;
    const std::string crd =
        std::string(DSO_SOURCE_DIR) + "/crds/deepseekservices.inference.deepseek.io.yaml";
    ASSERT_EQ(cluster_.sh(
                  "kubectl apply -f " + crd + " && " +
                      dso::testing::wait_established("crd/deepseekservices.inference.deepseek.io") +
                      " && (kubectl create namespace " + std::string(kNs) + " || true)",
                  &out),
              0)
        << out;
    kubelet_ = std::make_unique<FakeKubelet>(client_, kNs, 1500);
    kubelet_->add_node("as-gpu-node-1", 8, {{"topology.kubernetes.io/region", "us-east"}});
    port_ = free_port();
    operator_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{DSO_OPERATOR_BINARY, "run", "--kubeconfig",
                                 cluster_.kubeconfig.string(), "--leader-elect=false",
                                 "--health-addr", "127.0.0.1:" + std::to_string(port_),
                                 "--decision-period", "2s", "--namespace", kNs},
        ::testing::TempDir() + "/autoscaling-operator.log");
  }

  void TearDown() override {
    if (operator_) operator_->stop(SIGKILL, 10);
    std::string out;
    cluster_.sh(std::string("kubectl -n ") + kNs + " delete dss --all --wait=false", &out);
  }

  json get_dss(const std::string& name) {
    auto o = client_->get(kDss, kNs, name);
    return o ? *o : json();
  }
  int deployment_replicas(const std::string& name) {
    auto o = client_->get(kDeployments, kNs, name);
    return o ? (*o)["spec"].value("replicas", -1) : -1;
  }
  std::string condition(const json& dss, const std::string& type) {
    if (!dss.contains("status")) return "";
    for (const auto& c : dss["status"].value("conditions", json::array())) {
      if (c["type"] == type) return c["status"].get<std::string>() + "/" + c.value("reason", "");
    }
    return "";
  }

  LocalCluster cluster_;
  dso::kube::KubeClientPtr client_;
  std::unique_ptr<FakeKubelet> kubelet_;
  std::unique_ptr<ChildProcess> operator_;
  int port_ = 0;
};

TEST_F(AutoscalingRunTest, WithoutPrometheusServicesHoldAndSayWhy) {
  std::string out;
  ASSERT_EQ(cluster_.sh("cat <<'EOF2' | kubectl -n " + std::string(kNs) + R"( apply -f -
apiVersion: inference.deepseek.io/v1alpha1
kind: DeepSeekService
metadata:
  name: held
spec:
  model: {name: tiny, image: registry.example/server:1}
  resources: {gpusPerPod: 1, cpu: "1", memory: 1Gi}
  regions:
  - name: us-east
    nodeSelector: {topology.kubernetes.io/region: us-east}
  autoscaling:
    minReplicas: 1
    maxReplicas: 6
    predictive: {mode: Auto, coldStart: 2m}
EOF2)",
                        &out),
            0)
      << out;

  // The loop publishes: metrics unknown, holding at what was set (the minimum at creation).
  ASSERT_TRUE(eventually(60,
                         [&] {
                           const json d = get_dss("held");
                           return condition(d, "MetricsUnavailable") == "True/MetricsMissing" &&
                                  d["status"].value("readyReplicas", 0) == 1;
                         }))
      << get_dss("held").dump(2) << operator_->log_text();
  json dss = get_dss("held");
  EXPECT_EQ(condition(dss, "ScalingActive"), "False/MetricsUnavailable");
  EXPECT_EQ(dss["status"]["autoscaler"]["metricsState"], "missing");
  EXPECT_EQ(dss["status"]["autoscaler"]["rule"], "hold-no-metrics");
  EXPECT_EQ(dss["status"]["autoscaler"]["mode"], "Auto");
  EXPECT_NE(dss["status"]["forecast"]["summary"].get<std::string>().find("none:"),
            std::string::npos);

  // The pod's cold start (creation -> Ready, the stand-in kubelet waits 1.5 s) is measured and
  // replaces the configured 2m.
  ASSERT_TRUE(eventually(30, [&] {
    const json d = get_dss("held");
    return d["status"]["autoscaler"].value("coldStartMeasured", false);
  })) << get_dss("held")["status"].dump(2);
  dss = get_dss("held");
  EXPECT_LT(dss["status"]["coldStartSeconds"].get<double>(), 30.0);

  // kubectl scale dss with autoscaling on: applied at once, then the autoscaler takes 3 as the
  // current replicas; with the metrics unknown it holds there (never back to the minimum).
  ASSERT_EQ(cluster_.sh("kubectl -n autoscaling-it scale dss held --replicas=3", &out), 0) << out;
  ASSERT_TRUE(eventually(30, [&] { return deployment_replicas("held-us-east") == 3; }))
      << get_dss("held")["status"].dump(2);
  std::this_thread::sleep_for(std::chrono::seconds(8));  // four decision periods
  EXPECT_EQ(deployment_replicas("held-us-east"), 3);
  dss = get_dss("held");
  EXPECT_EQ(dss["status"]["replicas"], 3);
  EXPECT_EQ(dss["status"]["autoscaler"]["currentReplicas"], 3) << dss["status"].dump(2);
  EXPECT_EQ(dss["status"]["autoscaler"]["desiredReplicas"], 3);

  // Self-metrics: the alert gauges.
  ASSERT_EQ(cluster_.sh("curl -s http://127.0.0.1:" + std::to_string(port_) + "/metrics", &out), 0);
  EXPECT_NE(out.find("deepseek_operator_metrics_unavailable{name=\"held\",namespace=\"" +
                     std::string(kNs) + "\"} 1"),
            std::string::npos)
      << out.substr(0, 4000);
  EXPECT_NE(out.find("deepseek_operator_scaling_limited{name=\"held\""), std::string::npos);
  EXPECT_NE(out.find("deepseek_operator_forecast_gated{name=\"held\""), std::string::npos);
  EXPECT_NE(out.find("deepseek_operator_scaling_decisions_total{name=\"held\",namespace=\"" +
                     std::string(kNs) + "\",rule=\"hold-no-metrics\"}"),
            std::string::npos);

  // explain, as a user runs it.
  ASSERT_EQ(cluster_.sh(std::string(DSO_OPERATOR_BINARY) + " explain " + kNs + "/held", &out), 0)
      << out;
  EXPECT_NE(out.find("MetricsUnavailable: True (MetricsMissing)"), std::string::npos) << out;
  EXPECT_NE(out.find("Why: 3 replicas, rule hold-no-metrics"), std::string::npos) << out;
  ASSERT_NE(cluster_.sh(std::string(DSO_OPERATOR_BINARY) + " explain " + kNs + "/nope", &out), 0);
  EXPECT_NE(out.find("NotFound"), std::string::npos) << out;
}

}  // namespace
