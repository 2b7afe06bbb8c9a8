// The live autoscaler in `deepseek-operator run --prometheus-url` on the real control plane and a
// real Prometheus 2.42 scraping a request-rate exporter: scaling follows the measured request rate;
// Prometheus stopped mid-run -> replicas hold (never fall to the minimum), MetricsUnavailable=True;
// Prometheus back -> scaling resumes; a Preview service never has its replicas changed.
#include <gtest/gtest.h>
#include <signal.h>

#include <cmath>

#include "autoscaling_it.h"
#include "kube/client.h"
#include "support/local_cluster.h"
#include "support/processes.h"

namespace {

using dso::testing::ChildProcess;
using dso::testing::eventually;
using dso::testing::FakeKubelet;
using dso::testing::LocalCluster;
using dso::testing::RequestRateExporter;
using dso::testing::TestPrometheus;
using nlohmann::json;

constexpr const char* kNs = "autoscaling-prom-it";
const dso::kube::Resource kDss{"inference.deepseek.io", "v1alpha1", "deepseekservices", true};
const dso::kube::Resource kDeployments{"apps", "v1", "deployments", true};

class AutoscalingPrometheusTest : public ::testing::Test {
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
    kubelet_ = std::make_unique<FakeKubelet>(client_, kNs, 500);
    kubelet_->add_node("prom-gpu-node-1", 8, {{"topology.kubernetes.io/region", "us-east"}});
    kubelet_->add_node("prom-gpu-node-2", 8, {{"topology.kubernetes.io/region", "us-east"}});
    const std::filesystem::path root =
        ::testing::TempDir() + "/autoscaling-prom-" + std::to_string(::getpid());
    reactive_ =
        std::make_unique<RequestRateExporter>(root / "exporter-reactive", kNs, "reactive", 55.0);
    preview_ =
        std::make_unique<RequestRateExporter>(root / "exporter-preview", kNs, "preview", 55.0);
    prometheus_ = std::make_unique<TestPrometheus>(
        root / "prometheus",
        std::vector<std::string>{"127.0.0.1:" + std::to_string(reactive_->port()),
                                 "127.0.0.1:" + std::to_string(preview_->port())});
    ASSERT_TRUE(prometheus_->start())
        << dso::testing::read_file(prometheus_->dir() / "prometheus.log");
    operator_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{DSO_OPERATOR_BINARY, "run", "--kubeconfig",
                                 cluster_.kubeconfig.string(), "--leader-elect=false",
                                 "--health-addr", "0", "--decision-period", "2s",
                                 "--prometheus-url", prometheus_->url(), "--namespace", kNs},
        root / "operator.log");
  }

  void TearDown() override {
    if (operator_) operator_->stop(SIGKILL, 10);
    if (prometheus_) prometheus_->stop();
    std::string out;
    cluster_.sh(std::string("kubectl -n ") + kNs + " delete dss --all --wait=false", &out);
  }

  int apply(const std::string& name, const std::string& mode) {
    std::string out;
    const int rc = cluster_.sh("cat <<'EOF2' | kubectl -n " + std::string(kNs) +
                                   " apply -f -\napiVersion: inference.deepseek.io/v1alpha1\n"
                                   "kind: DeepSeekService\nmetadata:\n  name: " +
                                   name + R"(
spec:
  model: {name: tiny, image: registry.example/server:1}
  resources: {gpusPerPod: 1, cpu: "1", memory: 1Gi}
  regions:
  - name: us-east
    nodeSelector: {topology.kubernetes.io/region: us-east}
  autoscaling:
    minReplicas: 1
    maxReplicas: 10
    metrics: [{type: RequestsPerSecond, target: 10}]
    behavior:
      scaleDown: {stabilizationWindowSeconds: 0}
    predictive: {mode: ")" + mode + R"("}
EOF2)",
                               &out);
    if (rc != 0) ADD_FAILURE() << out;
    return rc;
  }
  json get_dss(const std::string& name) {
    auto o = client_->get(kDss, kNs, name);
    return o ? *o : json();
  }
  int replicas(const std::string& name) {
    auto o = client_->get(kDeployments, kNs, name + "-us-east");
    return o ? (*o)["spec"].value("replicas", -1) : -1;
  }
  std::string condition(const json& dss, const std::string& type) {
    if (!dss.contains("status")) return "";
    for (const auto& c : dss["status"].value("conditions", json::array())) {
      if (c["type"] == type) return c["status"].get<std::string>() + "/" + c.value("reason", "");
    }
    return "";
  }
  std::string log() { return operator_->log_text().substr(0, 20000); }

  LocalCluster cluster_;
  dso::kube::KubeClientPtr client_;
  std::unique_ptr<FakeKubelet> kubelet_;
  std::unique_ptr<RequestRateExporter> reactive_, preview_;
  std::unique_ptr<TestPrometheus> prometheus_;
  std::unique_ptr<ChildProcess> operator_;
};

TEST_F(AutoscalingPrometheusTest, PrometheusStoppedMidRunHoldsThenResumes) {
  ASSERT_EQ(apply("reactive", "Off"), 0);
  ASSERT_EQ(apply("preview", "Preview"), 0);

  // 55 req/s against 10 per replica: 6 replicas, read from Prometheus (5.5 rounds up to 6 however
  // rate()[1m] jitters around 55; at 60 a reading of 60.004 asked for 7).
  ASSERT_TRUE(eventually(90, [&] { return replicas("reactive") == 6; }))
      << get_dss("reactive")["status"].dump(2) << log();
  json dss = get_dss("reactive");
  EXPECT_EQ(condition(dss, "MetricsUnavailable"), "False/MetricsAvailable");
  // rate()[1m] reaches the exporter's 55 req/s once its window is full of samples.
  EXPECT_TRUE(eventually(60, [&] {
    const json d = get_dss("reactive");
    if (!d.contains("status") || !d["status"].contains("autoscaler")) return false;
    const json& a = d["status"]["autoscaler"];
    return a.contains("demand") && std::abs(a["demand"].get<double>() - 55.0) < 3.0;
  })) << get_dss("reactive")["status"]["autoscaler"].dump(2);
  // The Preview service sees the same load and would set 6, but keeps its replicas.
  ASSERT_TRUE(eventually(30, [&] {
    const json d = get_dss("preview");
    return d.contains("status") && d["status"].contains("autoscaler") &&
           d["status"]["autoscaler"].value("desiredReplicas", 0) == 6;
  })) << get_dss("preview")["status"].dump(2);
  EXPECT_EQ(replicas("preview"), 1);

  // Prometheus stops; the load drops (nobody can see it): replicas hold.
  prometheus_->stop();
  reactive_->set_rate(10.0);
  ASSERT_TRUE(eventually(30, [&] {
    return condition(get_dss("reactive"), "MetricsUnavailable") == "True/MetricsMissing";
  })) << get_dss("reactive")["status"].dump(2);
  // What it held: the last decision with metrics (6).
  const int held = replicas("reactive");
  ASSERT_GE(held, 6);
  dso::testing::DecisionLog decisions;  // status keeps 10: the hold may be pushed out later
  for (int i = 0; i < 10; ++i) {        // 20 s: ten decision periods
    std::this_thread::sleep_for(std::chrono::seconds(2));
    ASSERT_EQ(replicas("reactive"), held) << get_dss("reactive")["status"].dump(2);
    decisions.add(get_dss("reactive").value("status", json::object()));
  }
  dss = get_dss("reactive");
  EXPECT_EQ(condition(dss, "ScalingActive"), "False/MetricsUnavailable");
  EXPECT_NE(dss["status"]["autoscaler"]["problems"].dump().find("127.0.0.1"), std::string::npos)
      << dss["status"]["autoscaler"].dump(2);
  EXPECT_EQ(replicas("preview"), 1);

  // Prometheus is back (same port and data): the low load is seen and scaling resumes.
  ASSERT_TRUE(prometheus_->start());
  ASSERT_TRUE(eventually(90,
                         [&] {
                           decisions.add(get_dss("reactive").value("status", json::object()));
                           return replicas("reactive") == 1;
                         }))
      << get_dss("reactive")["status"].dump(2) << log();
  decisions.add(get_dss("reactive").value("status", json::object()));
  EXPECT_EQ(condition(get_dss("reactive"), "MetricsUnavailable"), "False/MetricsAvailable");
  EXPECT_EQ(replicas("preview"), 1);  // Preview never changed its replicas
  // The history shows the hold and the scale-down that followed it (in steps, as rate()[1m] moves
  // from 55 to 10 req/s), never anything lower while the metrics were missing.
  bool saw_hold = false, resumed_from_held = false;
  const json seen = decisions.newest_first();
  for (const auto& d : seen) {
    if (d.value("rule", "") == "hold-no-metrics") {
      saw_hold = true;
      EXPECT_EQ(d.value("replicas", 0), held) << d.dump();
    }
    resumed_from_held |= d.value("previous", 0) == held && d.value("replicas", 0) < held &&
                         d.value("rule", "") != "hold-no-metrics";
  }
  EXPECT_TRUE(saw_hold && resumed_from_held) << seen.dump(2);
}

}  // namespace
