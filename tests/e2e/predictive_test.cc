// e2e (b), predictive beats reactive, live: two weeks of a real trace (crane_input1, a production
// service with a sharp daily rise) backfilled into Prometheus as the inference server's own request
// counter, then the next minutes replayed live as real requests against the testbed's servers,
// across the rise, with a real cold start (the servers "load weights" for 30 s before listening).
// Two services side by side, one with predictive Auto and one with predictive Off (reactive, HPA
// rules), get the same trace with the same seed. The predictive one must have fewer SLO-violation
// seconds (p99 over the SLO, a 429 or an error) at no more than +10% replica-seconds beyond what
// the forecast's 5-minute step holds early by design; both are printed (docs/e2e.md records them).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "e2e_support.h"
#include "loadgen/load_generator.h"
#include "loadgen/report.h"
#include "support/prometheus_backfill.h"
#include "traces/chart.h"

namespace dso::e2e {
namespace {

using kube::Json;
using namespace std::chrono_literals;

constexpr const char* kNs = "e2e-predictive";
constexpr double kScale = 4.0;    // trace value -> requests/s: 5 req/s before the rise, 58 after
constexpr double kTarget = 12.0;  // requests/s per replica (a replica serves ~15 at the SLO)
constexpr double kSloP99 = 2.0;   // seconds
// Day 15 (index 14), 11:03 UTC of crane_input1: 1.3 -> 10.7 -> 14.4 within two minutes after a
// quiet morning; the same rise comes in the same minute on most of the 14 days before it.
constexpr std::size_t kRiseRow = 14 * 1440 + 663;
constexpr std::int64_t kPrepare = 75;        // s: backfill, Prometheus, pods Ready
constexpr std::int64_t kLead = 120;          // s of live replay before the rise
constexpr std::int64_t kForecastStep = 300;  // the engine's forecast step (ServiceScaler)
constexpr std::int64_t kAfterRise = 180;     // s of live replay after it

struct ServiceRun {
  std::string name;
  std::string mode;
  std::unique_ptr<loadgen::LoadGenerator> load;
  std::vector<double> replicas = {};  // the Deployment's spec.replicas, each second of the replay
  double replica_seconds = 0;
  std::uint64_t violation_seconds = 0;
  loadgen::Snapshot snapshot = {};
};

// The two runs on one time axis: demand, replicas, p99 latency; the reactive run's violation
// seconds shaded.
std::string comparison_chart(const ServiceRun& predictive, const ServiceRun& reactive,
                             std::int64_t live) {
  traces::TimelineChart chart;
  const std::size_t n = std::min(predictive.replicas.size(), reactive.replicas.size());
  for (std::size_t i = 0; i < n; ++i) chart.times.push_back(live + static_cast<std::int64_t>(i));
  auto per_second = [&](const ServiceRun& run, auto field) {
    std::vector<double> v(n, std::nan(""));
    for (const auto& row : run.snapshot.rows) {
      const auto i = row.unix_time - live;
      if (i >= 0 && static_cast<std::size_t>(i) < n) v[static_cast<std::size_t>(i)] = field(row);
    }
    return v;
  };
  auto offered = [](const loadgen::SecondRow& r) { return static_cast<double>(r.offered); };
  auto p99 = [](const loadgen::SecondRow& r) { return r.p99_s; };
  chart.panels.push_back(
      {"requests/s offered", {{"demand (trace)", "#555555", per_second(predictive, offered)}}});
  chart.panels.push_back(
      {"replicas (Deployment)",
       {{"predictive Auto", "#08519c",
         std::vector<double>(predictive.replicas.begin(), predictive.replicas.begin() + n)},
        {"reactive (predictive Off)", "#e6550d",
         std::vector<double>(reactive.replicas.begin(), reactive.replicas.begin() + n)}}});
  chart.panels.push_back({"p99 latency, s",
                          {{"predictive Auto", "#08519c", per_second(predictive, p99)},
                           {"reactive", "#e6550d", per_second(reactive, p99)}},
                          kSloP99});
  chart.marked.assign(n, false);
  for (const auto& row : reactive.snapshot.rows) {
    const auto i = row.unix_time - live;
    if (i >= 0 && static_cast<std::size_t>(i) < n && row.violation)
      chart.marked[static_cast<std::size_t>(i)] = true;
  }
  chart.marked_label = "reactive: SLO violated (p99 > 2 s, 429 or error)";
  traces::ChartOptions options;
  options.title = "crane_input1's daily rise, live on testbed nodes: predictive vs reactive";
  options.height = 600;
  return traces::timeline_chart_svg(chart, options);
}

// The start of the live replay: the first whole minute (the trace's rows start on minutes) at
// least `earliest` that puts the rise kLead later 60 or 120 s into one of the engine's 5-minute
// forecast steps (wall-clock multiples of 300 s). Never at a step's very start, where the engine's
// margin would be one decision period by design; never late in it, where the days whose rise came a
// minute later (11:04 instead of 11:03) fall into the next step, and where the forecast's step peak
// would be held for most of a step before the rise.
std::int64_t live_start(std::int64_t earliest) {
  std::int64_t live = (earliest + 59) / 60 * 60;
  while ((live + kLead) % kForecastStep != 60 && (live + kLead) % kForecastStep != 120) live += 60;
  return live;
}

std::string service_yaml(const std::string& name, const std::string& mode) {
  return R"(apiVersion: inference.deepseek.io/v1alpha1
kind: DeepSeekService
metadata: {name: )" +
         name + R"(}
spec:
  model:
    name: rise-model
    image: )" +
         std::string(kServerImage) +
         R"(
    args: ["--gpu-sim-step-ms=20", "--max-batch-size=10", "--gpu-sim-load-s=30",
           "--max-queue-wait-ms=3000"]
  drain: {terminationGracePeriodSeconds: 30, preStopSeconds: 3}
  autoscaling:
    minReplicas: 1
    maxReplicas: 10
    metrics: [{type: RequestsPerSecond, target: )" +
         std::to_string(kTarget) + R"(}]
    # maxForecastError 3: the accuracy gate compares forecasts of 5-minute maxima with the
    # instantaneous demand, which on this trace's quiet morning reads as a large relative error
    # (docs/autoscaling.md); the default 1 would gate the forecast before the rise.
    predictive: {mode: ")" +
         mode + R"(", history: 14d, coldStart: 40s, maxForecastError: 3}
)";
}

TEST(Predictive, FewerViolationSecondsThanReactiveAtAtMostTenPercentMoreReplicaSeconds) {
  const Testbed testbed = Testbed::open();
  testbed.install_crd();
  testbed.fresh_namespace(kNs);

  // The clock: live replay from `live`, the trace's rise at `rise`.
  const auto now = static_cast<std::int64_t>(wall_now());
  const std::int64_t live = live_start(now + kPrepare);
  const std::int64_t rise = live + kLead;
  const std::int64_t end = rise + kAfterRise;
  const auto trace_file = std::string(DSO_TEST_DATA) + "/crane_input1.csv";
  testing::RateTrace trace = testing::RateTrace::from_csv(trace_file, kScale);
  trace.place(rise, kRiseRow);  // row kRiseRow starts at `rise`

  // Two weeks of each service's counter as the server would have exported it, ending at `live`:
  // every 30 s, and every 5 s (the scrape interval) over the last 10 minutes, so that the current
  // rate over the chart's 20 s window answers until the live samples take over. Prometheus refuses
  // scraped samples older than the newest block, so the live series start at `live` too.
  std::vector<testing::ServiceTrace> services;
  for (const char* name : {"predictive", "reactive"}) {
    testing::ServiceTrace s;
    s.ns = kNs;
    s.service = name;
    s.trace = trace;
    s.endpoints = {{"chat_completions", 1.0}};
    s.extra_labels = {{"job", "backfill"}, {"instance", "backfill"}};
    s.counter_origin = live - 14 * 86400;
    services.push_back(s);
  }
  std::vector<std::int64_t> times;
  for (std::int64_t t = live - 14 * 86400; t < live - 600; t += 30) times.push_back(t);
  for (std::int64_t t = live - 600; t <= live; t += 5) times.push_back(t);
  const fs::path work = testbed.work_dir("predictive");
  {
    std::ofstream om(work / "backfill.om");
    testing::write_openmetrics(om, services, times);
  }
  testing::promtool_backfill(work / "backfill.om", work / "tsdb");
  ChartPrometheus prometheus("e2e-predictive", work / "tsdb");
  Operator op(testbed, prometheus.url(), work / "operator.log");

  ServiceRun runs[2] = {{"predictive", "Auto", nullptr}, {"reactive", "Off", nullptr}};
  for (const ServiceRun& r : runs) testbed.apply(service_yaml(r.name, r.mode), kNs);
  ASSERT_TRUE(eventually(150,
                         [&] {
                           // >= 1: the predictive service may already have raised its
                           // replicas for the rise (its forecast step can start before the
                           // replay does).
                           return testbed.ready_endpoints(kNs, "predictive-default") >= 1 &&
                                  testbed.ready_endpoints(kNs, "reactive-default") >= 1;
                         }))
      << "the services' first pods did not turn Ready\n"
      << op.log_text().substr(0, 4000);
  ASSERT_LT(wall_now(), static_cast<double>(live)) << "too slow to prepare: the replay is late";

  // The same trace and seed for both, from the row that starts at `live`.
  for (ServiceRun& r : runs) {
    loadgen::Options load;
    load.kubeconfig = testbed.cluster().kubeconfig.string();
    load.service_namespace = kNs;
    load.service_name = r.name + "-default";
    load.model = "rise-model";
    load.trace_file = trace_file;
    load.trace_scale = kScale;
    load.trace_start_row = kRiseRow - static_cast<std::size_t>((rise - live) / 60);
    load.duration = std::chrono::seconds(end - live);
    load.stream = false;
    load.seed = 2026;
    load.sizes_file = std::string(DSO_TEST_DATA) + "/azure_llm_conv.csv";
    load.slo_p99 = std::chrono::milliseconds(static_cast<int>(kSloP99 * 1000));
    auto gen = loadgen::LoadGenerator::create(load);
    ASSERT_TRUE(gen) << gen.error();
    r.load = std::move(*gen);
  }
  // The rows start on whole minutes of the trace: begin exactly at `live`.
  std::this_thread::sleep_until(std::chrono::system_clock::time_point(std::chrono::seconds(live)));
  for (ServiceRun& r : runs) ASSERT_TRUE(r.load->start());

  // Replica-seconds: each Deployment's spec.replicas (GPUs held, cold starts included), sampled
  // every second of the replay.
  while (wall_now() < static_cast<double>(end)) {
    for (ServiceRun& r : runs) {
      const Json d = testbed.get(Testbed::deployments(), kNs, r.name + "-default");
      r.replicas.push_back(d.value("spec", Json::object()).value("replicas", 0));
      r.replica_seconds += r.replicas.back();
    }
    std::this_thread::sleep_until(std::chrono::system_clock::now() + 1s);
  }
  for (ServiceRun& r : runs) {
    r.load->wait();
    r.snapshot = r.load->snapshot();
    const auto& snapshot = r.snapshot;
    r.violation_seconds = snapshot.totals.violation_seconds;
    ASSERT_TRUE(
        loadgen::write_file((work / (r.name + ".csv")).string(), loadgen::rows_csv(snapshot.rows)));
    std::printf(
        "%-10s violation seconds %3llu  replica-seconds %6.0f  requests %llu  429 %llu  "
        "errors %llu  p99 %.2f s\n",
        r.name.c_str(), static_cast<unsigned long long>(r.violation_seconds), r.replica_seconds,
        static_cast<unsigned long long>(snapshot.totals.offered),
        static_cast<unsigned long long>(snapshot.totals.rejected),
        static_cast<unsigned long long>(snapshot.totals.errors), snapshot.totals.p99_s);
  }
  ASSERT_TRUE(loadgen::write_file((work / "predictive-vs-reactive.svg").string(),
                                  comparison_chart(runs[0], runs[1], live)));
  std::printf("rows and chart in %s\n", work.string().c_str());
  const Json status =
      testbed.get(Testbed::deepseek_services(), kNs, "predictive").value("status", Json::object());
  std::printf(
      "replica-seconds predictive/reactive %.3f; rise %lld s into the replay; measured cold start "
      "%s s\n",
      runs[0].replica_seconds / runs[1].replica_seconds, static_cast<long long>(rise - live),
      status.value("coldStartSeconds", Json()).dump().c_str());
  EXPECT_LT(runs[0].violation_seconds, runs[1].violation_seconds) << status.dump(2);
  // The forecast is a 5-minute step's peak, so the engine holds the planned replicas from one
  // horizon before the start of the step that holds the rise (docs/e2e.md): that much is by design
  // and allowed on top of +10%.
  const double horizon = status.value("autoscaler", Json::object()).value("horizonSeconds", 0.0);
  const double planned = *std::max_element(runs[0].replicas.begin(), runs[0].replicas.end());
  const double early_hold = static_cast<double>(rise % kForecastStep + horizon) * planned;
  std::printf("early hold allowed: (%lld s into the step + %.0f s horizon) x %.0f = %.0f\n",
              static_cast<long long>(rise % kForecastStep), horizon, planned, early_hold);
  EXPECT_LE(runs[0].replica_seconds, 1.10 * runs[1].replica_seconds + early_hold);
}

}  // namespace
}  // namespace dso::e2e
