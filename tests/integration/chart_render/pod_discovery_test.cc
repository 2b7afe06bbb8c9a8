// Prometheus finds an inference pod on a real API server and labels its series as the
// autoscaler's queries select them ({namespace, deepseek_service}, docs/metrics.md), with the
// relabelling rendered from the chart's PodMonitor (hack/local-prometheus.sh --kube-cluster):
// the chart, dso-chart-render, Prometheus and the API server as the real pairing, no fakes. The
// pod is made Running/Ready with podIP 127.0.0.1 by the test (no kubelet), where a tiny exporter
// (python3 -m http.server) serves `metrics`. Pods the PodMonitor does not select are discovered
// and dropped.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "kube/client.h"
#include "support/local_cluster.h"
#include "support/processes.h"

namespace {

using dso::kube::Json;
using dso::testing::ChildProcess;
using dso::testing::LocalCluster;
using dso::testing::run_shell;

const dso::kube::Resource kPods{"", "v1", "pods", true};
const std::string kService = "chat";
const std::string kRegion = "us-east";

// Polls `done` every 200 ms until it holds or `timeout` passes; returns whether it held.
bool eventually(const std::function<bool()>& done, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return true;
}

// GET url (with curl's -G --data-urlencode for each of `params`) as JSON; null on any failure.
Json get_json(const std::string& url, const std::vector<std::string>& params = {}) {
  std::string command = "curl -sfS --max-time 5 -G '" + url + "'";
  for (const auto& p : params) command += " --data-urlencode '" + p + "'";
  std::string out;
  if (run_shell(command + " 2>/dev/null", &out) != 0) return nullptr;
  return Json::parse(out, nullptr, false);
}

class PodDiscoveryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<LocalCluster>(LocalCluster::open());
    client_ = dso::testing::admin_client(cluster_->kubeconfig);
    ns_ = "cr-pods-" + std::to_string(::getpid());
    prometheus_name_ = "cr-pods-" + std::to_string(::getpid());
    work_ = std::filesystem::temp_directory_path() / ns_;
    std::filesystem::create_directories(work_ / "www");
    start_exporter();
    auto created = client_->create(
        dso::kube::Resource::namespaces(), "",
        {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns_}}}});
    ASSERT_TRUE(created) << created.error().to_string();
    start_prometheus();
  }

  static void TearDownTestSuite() {
    std::string out;
    run_shell(std::string(DSO_SOURCE_DIR) + "/hack/local-prometheus.sh stop " + prometheus_name_ +
                  " 2>&1",
              &out);
    if (client_) client_->remove(dso::kube::Resource::namespaces(), "", ns_, {});
    exporter_.reset();
    std::filesystem::remove_all(work_);
  }

  // python3 -m http.server on a free port (it says which), serving work_/www/metrics.
  static void start_exporter() {
    std::ofstream(work_ / "www" / "metrics")
        << "# TYPE deepseek_inference_requests_total counter\n"
           "deepseek_inference_requests_total{code=\"200\",priority=\"normal\"} 42\n";
    exporter_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/bin/python3", "-u", "-m", "http.server", "0", "--bind",
                                 "127.0.0.1", "--directory", (work_ / "www").string()},
        work_ / "exporter.log");
    const std::regex serving("port ([0-9]+)");
    std::smatch m;
    ASSERT_TRUE(eventually(
        [&] {
          const std::string log = exporter_->log_text();
          return std::regex_search(log, m, serving) && (port_ = std::stoi(m[1])) > 0;
        },
        std::chrono::seconds(20)))
        << exporter_->log_text();
  }

  // hack/local-prometheus.sh with the fixture cluster and the chart (PodMonitor interval 1s),
  // discovering only this test's namespace.
  static void start_prometheus() {
    std::ofstream(work_ / "values.yaml") << "metrics:\n  podMonitor:\n    interval: 1s\n";
    std::string out;
    const int status =
        run_shell("DSO_CHART_RENDER='" + std::string(DSO_CHART_RENDER_BIN) + "' " + DSO_SOURCE_DIR +
                      "/hack/local-prometheus.sh start " + prometheus_name_ +
                      " --kube-cluster ctest --chart-values '" + (work_ / "values.yaml").string() +
                      "' --namespace " + ns_ + " --scrape-interval 1s 2>&1",
                  &out);
    ASSERT_EQ(status, 0) << out;
    prometheus_url_ = dso::testing::LocalPrometheus::open(prometheus_name_).url;
  }

  // Creates a pod with an `http` port at the exporter and makes it Running/Ready at 127.0.0.1
  // in `phase`, as the kubelet would (merge patch on pods/status, like FakeKubelet).
  static void create_pod(const std::string& name, const Json& labels,
                         const std::string& phase = "Running") {
    const Json pod{
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata", {{"name", name}, {"labels", labels}}},
        {"spec",
         {{"containers", Json::array({{{"name", "server"},
                                       {"image", "example.invalid/server:1"},
                                       {"ports", Json::array({{{"name", "http"},
                                                               {"containerPort", port_}}})}}})}}}};
    auto created = client_->create(kPods, ns_, pod);
    ASSERT_TRUE(created) << created.error().to_string();
    const Json ready = Json::array({{{"type", "Ready"}, {"status", "True"}},
                                    {{"type", "ContainersReady"}, {"status", "True"}}});
    auto patched = client_->patch(
        kPods, ns_, name, dso::kube::PatchType::kMerge,
        {{"status", {{"phase", phase}, {"podIP", "127.0.0.1"}, {"conditions", ready}}}}, {},
        "status");
    ASSERT_TRUE(patched) << patched.error().to_string();
  }

  static Json inference_labels() {
    return {{"app.kubernetes.io/managed-by", "deepseek-operator"},
            {"app.kubernetes.io/component", "inference"},
            {"app.kubernetes.io/instance", kService},
            {"inference.deepseek.io/region", kRegion}};
  }

  // /api/v1/targets: the active target of pod `name` (null when none).
  static Json active_target(const std::string& name) {
    const Json targets = get_json(prometheus_url_ + "/api/v1/targets");
    if (targets.is_null()) return nullptr;
    for (const auto& t : targets["data"]["activeTargets"])
      if (t["labels"].value("pod", "") == name) return t;
    return nullptr;
  }

  // Whether Prometheus discovered pod `name` and dropped it in relabelling.
  static bool dropped(const std::string& name) {
    const Json targets = get_json(prometheus_url_ + "/api/v1/targets");
    if (targets.is_null()) return false;
    for (const auto& t : targets["data"]["droppedTargets"])
      if (t["discoveredLabels"].value("__meta_kubernetes_pod_name", "") == name) return true;
    return false;
  }

  // The value of `--flag=` among the operator's args in the chart render Prometheus was made from
  // (dso-chart-render operator-args): the labels the operator would query by.
  static std::string operator_flag(const std::string& flag) {
    const auto manifests =
        dso::testing::LocalPrometheus::open(prometheus_name_).dir / "manifests.yaml";
    std::string out;
    run_shell(std::string(DSO_CHART_RENDER_BIN) + " operator-args --manifests '" +
                  manifests.string() + "'",
              &out);
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);)
      if (line.starts_with(flag + "=")) return line.substr(flag.size() + 1);
    return "";
  }

  static Json query(const std::string& promql) {
    const Json r = get_json(prometheus_url_ + "/api/v1/query", {"query=" + promql});
    return r.is_null() ? Json::array() : r["data"]["result"];
  }

  static std::unique_ptr<LocalCluster> cluster_;
  static dso::kube::KubeClientPtr client_;
  static std::unique_ptr<ChildProcess> exporter_;
  static std::string ns_;
  static std::string prometheus_name_;
  static std::string prometheus_url_;
  static std::filesystem::path work_;
  static int port_;
};

std::unique_ptr<LocalCluster> PodDiscoveryTest::cluster_;
dso::kube::KubeClientPtr PodDiscoveryTest::client_;
std::unique_ptr<ChildProcess> PodDiscoveryTest::exporter_;
std::string PodDiscoveryTest::ns_;
std::string PodDiscoveryTest::prometheus_name_;
std::string PodDiscoveryTest::prometheus_url_;
std::filesystem::path PodDiscoveryTest::work_;
int PodDiscoveryTest::port_ = 0;

TEST_F(PodDiscoveryTest, InferencePodSeriesCarryTheQueryLabels) {
  create_pod("inference-0", inference_labels());
  ASSERT_TRUE(eventually(
      [] {
        const Json t = active_target("inference-0");
        return !t.is_null() && t.value("health", "") == "up";
      },
      std::chrono::seconds(60)))
      << "no healthy target for the pod: " << get_json(prometheus_url_ + "/api/v1/targets").dump();
  // The operator, run with the chart's args, selects by these labels (docs/metrics.md)...
  ASSERT_EQ(operator_flag("--prometheus-namespace-label"), "namespace");
  ASSERT_EQ(operator_flag("--prometheus-service-label"), "deepseek_service");
  // ...and the series carry them, plus the region label the chart adds.
  const std::string selector = "deepseek_inference_requests_total{namespace=\"" + ns_ +
                               "\",deepseek_service=\"" + kService + "\",deepseek_region=\"" +
                               kRegion + "\"}";
  Json result;
  ASSERT_TRUE(eventually(
      [&] {
        result = query(selector);
        return !result.empty();
      },
      std::chrono::seconds(30)))
      << selector;
  ASSERT_EQ(result.size(), 1u) << result.dump();
  const Json& metric = result[0]["metric"];
  EXPECT_EQ(metric.value("pod", ""), "inference-0");
  EXPECT_EQ(metric.value("container", ""), "server");
  EXPECT_EQ(metric.value("endpoint", ""), "http");
  EXPECT_EQ(metric.value("job", ""), "dso-system/dso-deepseek-operator-inference");
  EXPECT_EQ(result[0]["value"][1], "42");
}

TEST_F(PodDiscoveryTest, PodsTheSelectorRejectsAreDroppedNotScraped) {
  // Not managed by the operator: the PodMonitor's matchLabels keep rules drop it.
  create_pod("unlabelled", {{"app.kubernetes.io/instance", "other"}});
  // Labelled but finished: the Prometheus Operator's phase filter drops it.
  create_pod("finished", inference_labels(), "Succeeded");
  ASSERT_TRUE(eventually([] { return dropped("unlabelled") && dropped("finished"); },
                         std::chrono::seconds(60)))
      << get_json(prometheus_url_ + "/api/v1/targets").dump();
  EXPECT_TRUE(active_target("unlabelled").is_null());
  EXPECT_TRUE(active_target("finished").is_null());
  EXPECT_TRUE(query("deepseek_inference_requests_total{deepseek_service=\"other\"}").empty());
}

}  // namespace
