// Predictive scaling end to end: two weeks of a real trace (crane_input1, a production service with
// a sharp daily rise at about 11:00 UTC) backfilled into a real Prometheus 2.42 as the inference
// server's request counter, the trace continued live by an exporter Prometheus scrapes, and
// `deepseek-operator run --prometheus-url` on the real control plane, whose stand-in kubelet makes
// pods Ready 20 s after they are scheduled. The trace is shifted so that its day-15 rise happens
// 7-11 minutes into the test: the operator must set the replicas the rise needs at least one
// measured cold start before it.
#include <gtest/gtest.h>
#include <signal.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "autoscaling_it.h"
#include "kube/client.h"
#include "support/local_cluster.h"
#include "support/processes.h"
#include "traces/csv.h"

namespace {

using dso::testing::ChildProcess;
using dso::testing::eventually;
using dso::testing::FakeKubelet;
using dso::testing::LocalCluster;
using dso::testing::RequestRateExporter;
using dso::testing::TestPrometheus;
using nlohmann::json;

constexpr const char* kNs = "autoscaling-forecast-it";
const dso::kube::Resource kDss{"inference.deepseek.io", "v1alpha1", "deepseekservices", true};
const dso::kube::Resource kDeployments{"apps", "v1", "deployments", true};
constexpr double kScale = 10.0;   // trace value -> requests/s
constexpr double kTarget = 30.0;  // requests/s per replica
// Day 15 (index 14), 11:03 UTC: 3.3 -> 10.7 -> 14.4 within two minutes, after a flat morning; the
// same rise comes in the same minute on most of the 14 days before it (smaller on a few).
constexpr std::size_t kRiseIndex = 14 * 1440 + 663;
// The rise lands at least this long into the test, two minutes into one of the engine's 5-minute
// forecast steps (wall-clock multiples of 300 s): that step then holds the rise's first minutes on
// every past day, and the step before it the quiet minutes before the rise.
// With the rise at a step's start the engine's margin would be one decision period by design;
// elsewhere the step would split the rise differently in each run.
constexpr std::int64_t kRiseAfterAtLeast = 420;
constexpr std::int64_t kRiseIntoStep = 120;

double wall_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST(AutoscalingForecast, RaisesReplicasAheadOfAKnownDailyRiseByTheColdStart) {
  // The trace, as requests/s per minute.
  std::ifstream in(std::string(DSO_TEST_DATA) + "/crane_input1.csv");
  ASSERT_TRUE(in) << DSO_TEST_DATA << "/crane_input1.csv";
  std::vector<double> rate;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const auto comma = line.find(',');
    rate.push_back(std::stod(line.substr(comma + 1)) * kScale);
  }
  ASSERT_GT(rate.size(), kRiseIndex + 60);
  // Wall time of trace minute i: the rise lands 420-660 s after `start` (a whole minute), 120 s
  // into a 5-minute step.
  const auto start = static_cast<std::int64_t>(std::ceil(wall_now() / 60.0)) * 60;
  const std::int64_t rise_at =
      (start + kRiseAfterAtLeast - kRiseIntoStep + 299) / 300 * 300 + kRiseIntoStep;
  const std::int64_t w0 = rise_at - static_cast<std::int64_t>(kRiseIndex) * 60;
  std::vector<double> prefix(rate.size() + 1, 0.0);
  for (std::size_t i = 0; i < rate.size(); ++i) prefix[i + 1] = prefix[i] + rate[i] * 60.0;
  auto counter_at = [&rate, &prefix, w0](double t) {
    const double x = std::max(0.0, t - static_cast<double>(w0));
    const auto i = std::min(rate.size() - 1, static_cast<std::size_t>(x / 60.0));
    return prefix[i] + rate[i] * (x - static_cast<double>(i) * 60.0);
  };
  // The replicas the rise's first minute needs (107 req/s: 4). The morning before it needs 1-2;
  // the forecast's q0.9 band there asked for 2 in the runs recorded (its errors are pooled over
  // the whole day).
  const int need = static_cast<int>(std::ceil(rate[kRiseIndex] / kTarget));
  ASSERT_GE(need, 3);

  // Two weeks of the counter every 15 s, up to half a minute before now.
  const std::filesystem::path root =
      ::testing::TempDir() + "/autoscaling-forecast-" + std::to_string(::getpid());
  std::filesystem::create_directories(root);
  {
    std::ofstream om(root / "backfill.om");
    om << "# TYPE deepseek_inference_requests counter\n";
    const std::int64_t from = (start - 14 * 86400) / 15 * 15;
    char buf[256];
    for (std::int64_t t = from; t <= start - 90; t += 15) {
      std::snprintf(buf, sizeof buf,
                    "deepseek_inference_requests_total{namespace=\"%s\",deepseek_service=\"rise\"} "
                    "%.3f %lld\n",
                    kNs, counter_at(static_cast<double>(t)), static_cast<long long>(t));
      om << buf;
    }
    om << "# EOF\n";
  }
  RequestRateExporter exporter(root / "exporter", kNs, "rise", 0.0, counter_at);
  TestPrometheus prometheus(root / "prometheus", {"127.0.0.1:" + std::to_string(exporter.port())});
  ASSERT_EQ(prometheus.backfill(root / "backfill.om"), 0)
      << dso::testing::read_file(prometheus.dir() / "backfill.log");
  ASSERT_TRUE(prometheus.start()) << dso::testing::read_file(prometheus.dir() / "prometheus.log");

  // The cluster, the stand-in kubelet (pods Ready 20 s after scheduling), the operator.
  const LocalCluster cluster = LocalCluster::open();
  auto client = dso::testing::admin_client(cluster.kubeconfig);
  std::string out;
  const std::string crd =
      std::string(DSO_SOURCE_DIR) + "/crds/deepseekservices.inference.deepseek.io.yaml";
  ASSERT_EQ(
      cluster.sh("kubectl apply -f " + crd + " && " +
                     dso::testing::wait_established("crd/deepseekservices.inference.deepseek.io") +
                     " && (kubectl create namespace " + std::string(kNs) + " || true)",
                 &out),
      0)
      << out;
  FakeKubelet kubelet(client, kNs, 20000);
  kubelet.add_node("forecast-gpu-node-1", 8, {{"topology.kubernetes.io/region", "us-east"}});
  kubelet.add_node("forecast-gpu-node-2", 8, {{"topology.kubernetes.io/region", "us-east"}});
  ChildProcess operator_process(
      {DSO_OPERATOR_BINARY, "run", "--kubeconfig", cluster.kubeconfig.string(),
       "--leader-elect=false", "--health-addr", "0", "--decision-period", "2s", "--prometheus-url",
       prometheus.url(), "--namespace", kNs},
      root / "operator.log");
  // coldStart 30s: the horizon until the first pod's cold start is measured (the default 5m would
  // scale for the rise five minutes early until then).
  // maxForecastError 3: the accuracy gate compares the forecast of 5-minute maxima with the
  // instantaneous demand, which on this trace's quiet morning (13 req/s, 1 replica) is a large
  // relative error; the default 1 gates the floor before the rise (docs/autoscaling.md).
  ASSERT_EQ(cluster.sh("cat <<'EOF2' | kubectl -n " + std::string(kNs) + R"( apply -f -
apiVersion: inference.deepseek.io/v1alpha1
kind: DeepSeekService
metadata:
  name: rise
spec:
  model: {name: tiny, image: registry.example/server:1}
  resources: {gpusPerPod: 1, cpu: "1", memory: 1Gi}
  regions:
  - name: us-east
    nodeSelector: {topology.kubernetes.io/region: us-east}
  autoscaling:
    minReplicas: 1
    maxReplicas: 12
    metrics: [{type: RequestsPerSecond, target: 30}]
    predictive: {mode: Auto, history: 14d, coldStart: 30s, maxForecastError: 3}
EOF2)",
                       &out),
            0)
      << out;
  auto get = [&] {
    auto o = client->get(kDss, kNs, "rise");
    return o ? *o : json();
  };
  auto replicas = [&] {
    auto o = client->get(kDeployments, kNs, "rise-us-east");
    return o ? (*o)["spec"].value("replicas", -1) : -1;
  };
  // The history is read back from Prometheus and a forecast fitted.
  ASSERT_TRUE(eventually(120,
                         [&] {
                           const json d = get();
                           return d.contains("status") && d["status"].contains("forecast") &&
                                  d["status"]["forecast"].is_object() &&
                                  d["status"]["forecast"].contains("model");
                         }))
      << get()["status"].dump(2) << operator_process.log_text().substr(0, 20000);
  // And the first pod's cold start measured (coldStart: 30s stands in until then).
  ASSERT_TRUE(eventually(60, [&] {
    const json d = get();
    return d.contains("status") && d["status"].contains("autoscaler") &&
           d["status"]["autoscaler"].value("coldStartMeasured", false);
  })) << get()["status"].dump(2);
  // The engine raises for the rise about kRiseIntoStep + cold start + one period before it.
  ASSERT_LT(wall_now(), static_cast<double>(rise_at - kRiseIntoStep - 60))
      << "too slow to start: no time left";
  const int before = replicas();
  EXPECT_LT(before, need) << "already scaled for the rise at the start\n"
                          << get()["status"].dump(2);

  // Watch the replicas until a minute after the rise, and keep every decision status.decisions
  // showed (it holds the last 10: later ones during the rise may push the deciding one out).
  std::optional<double> raised_at;
  dso::testing::DecisionLog decisions;
  int polls = 0;
  while (wall_now() < static_cast<double>(rise_at + 60)) {
    if (!raised_at && replicas() >= need) raised_at = wall_now();
    if (polls++ % 4 == 0) decisions.add(get().value("status", json::object()));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  const json status = get()["status"];
  decisions.add(status);
  ASSERT_TRUE(raised_at) << status.dump(2);
  ASSERT_TRUE(status["autoscaler"].value("coldStartMeasured", false)) << status.dump(2);
  const double cold_start = status["coldStartSeconds"].get<double>();
  EXPECT_GE(cold_start, 15.0);  // the stand-in kubelet's 20 s, measured from pod conditions
  // The decision that set the replicas the rise needs (from every status.decisions seen): the
  // latest one that raised them to `need` before they were seen there (an earlier one may have
  // come and gone: the first forecast's band can hold capacity for a while and be lowered by the
  // next). It must come at least one cold start before the rise, so that the pods it asked for are
  // Ready when it comes (the engine's horizon is the cold start + one decision period).
  std::optional<double> decided_at;
  const json seen = decisions.newest_first();
  for (const auto& d : seen) {
    const auto t = static_cast<double>(*dso::traces::parse_timestamp(d["time"].get<std::string>()));
    if (d.value("replicas", 0) >= need && d.value("previous", 0) < need &&
        d.value("acted", false) && t <= *raised_at + 1.0) {
      decided_at = t;
      break;
    }
  }
  ASSERT_TRUE(decided_at) << seen.dump(2);
  // The engine asks for the rise's replicas as soon as now + cold start + one period reaches the
  // forecast step holding it: here about kRiseIntoStep + 22 s before the rise.
  EXPECT_LE(*decided_at, static_cast<double>(rise_at) - cold_start)
      << "decided " << static_cast<double>(rise_at) - *decided_at
      << " s before the rise (cold start " << cold_start << " s)\n"
      << status.dump(2);
  // And the Deployment followed within a few seconds (one reconcile).
  EXPECT_LE(*raised_at, *decided_at + 15.0);
  std::printf(
      "rise at +%llds needs %d replicas (had %d); decided %.0f s and applied %.0f s before it; "
      "cold "
      "start %.0f s\n",
      static_cast<long long>(rise_at - start), need, before,
      static_cast<double>(rise_at) - *decided_at, static_cast<double>(rise_at) - *raised_at,
      cold_start);
  operator_process.stop(SIGTERM, 30);
  prometheus.stop();
  cluster.sh(std::string("kubectl -n ") + kNs + " delete dss --all --wait=false", &out);
}

}  // namespace
