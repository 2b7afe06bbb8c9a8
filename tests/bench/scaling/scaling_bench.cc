// scaling_bench: the live autoscaler's cost for N services with 14 days of 1-minute history each.
//
//   scaling_bench [--data DIR] [--services N] [--hours H] [--period SECONDS]
//
// Each service (mode Auto, one RequestsPerSecond metric) replays one of the crane traces
// (1-minute samples, 16 days), phase-shifted per service, through an in-memory MetricsSource that
// answers like metrics::PrometheusSource: demand_history from the trace at the asked step,
// current() the trace's value at `now`. The loop starts at day 14 of the traces (so the first
// decision loads 14 days), then runs H hours of decision periods (simulated time: the passes run
// back to back). Prints: resident memory before and after (VmRSS, VmHWM from /proc/self/status),
// CPU per pass (the first pass loads every history and fits every forecast; the others are
// incremental, with the hourly refits), refit CPU per pass, and the queries per minute the loop
// sent, as source calls and as Prometheus HTTP queries (PrometheusSource: one instant query per
// metric, the demand query reused when it equals the RequestsPerSecond one; one range query per
// history call, chunked under 11,000 points: 14 days at 60 s is 2 chunks).
#include <prometheus/registry.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "metrics/promql.h"
#include "scaling/scaling_loop.h"
#include "traces/csv.h"

namespace {

using dso::autoscaler::Seconds;
using dso::kube::Json;

double thread_cpu() {
  std::timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

long status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0)
      return std::strtol(line.c_str() + std::strlen(field), nullptr, 10);
  }
  return -1;
}

struct Trace {
  std::vector<double> values;  // 1-minute steps from t0
  Seconds t0 = 0;
  double value_at(Seconds t) const {
    const auto n = static_cast<Seconds>(values.size());
    Seconds i = (t - t0) / 60;
    i = ((i % n) + n) % n;
    return values[static_cast<std::size_t>(i)];
  }
};

// Answers from the traces, as PrometheusSource would; counts calls.
class TraceSource final : public dso::metrics::MetricsSource {
 public:
  TraceSource(std::vector<Trace> traces, double scale)
      : traces_(std::move(traces)), scale_(scale) {}
  const Trace& trace_of(const dso::api::DeepSeekService& s, Seconds* shift) const {
    const int index = std::stoi(s.metadata.name.substr(4));  // "svc-N"
    *shift = static_cast<Seconds>(index) * 137 * 60;         // phase-shifted per service
    return traces_[static_cast<std::size_t>(index) % traces_.size()];
  }
  dso::metrics::ServiceLoad current(const dso::api::DeepSeekService& s, Seconds now) override {
    ++current_calls;
    Seconds shift = 0;
    const Trace& t = trace_of(s, &shift);
    dso::metrics::ServiceLoad load;
    load.demand = t.value_at(now - 60 + shift) * scale_;
    load.demand_sampled_at = now;
    for (std::size_t i = 0; i < s.spec.autoscaling.metrics.size(); ++i)
      load.metrics.push_back({dso::metrics::scaling_metric_name(s.spec, i), load.demand, now});
    return load;
  }
  std::expected<dso::predictor::Series, std::string> demand_history(
      const dso::api::DeepSeekService& s, Seconds start, Seconds end, Seconds step) override {
    ++history_calls;
    Seconds shift = 0;
    const Trace& t = trace_of(s, &shift);
    dso::predictor::Series out;
    out.start = start;
    out.step = step;
    for (Seconds x = start; x < end; x += step)
      out.values.push_back(t.value_at(x + shift) * scale_);
    // Prometheus chunks of at most 11,000 points.
    const auto points = static_cast<std::uint64_t>(out.values.size());
    history_http += (points + 10999) / 11000;
    return out;
  }
  std::uint64_t current_calls = 0, history_calls = 0, history_http = 0;

 private:
  std::vector<Trace> traces_;
  double scale_;
};

Json service_object(int i) {
  return Json{{"apiVersion", "inference.deepseek.io/v1alpha1"},
              {"kind", "DeepSeekService"},
              {"metadata",
               {{"name", "svc-" + std::to_string(i)},
                {"namespace", "bench"},
                {"uid", "u" + std::to_string(i)},
                {"generation", 1}}},
              {"spec",
               {{"model", {{"name", "m"}, {"image", "img"}}},
                {"autoscaling",
                 {{"minReplicas", 1},
                  {"maxReplicas", 100},
                  {"metrics", {{{"type", "RequestsPerSecond"}, {"target", 10}}}},
                  {"predictive", {{"mode", "Auto"}, {"history", "14d"}}}}}}},
              {"status", {{"replicas", 5}, {"readyReplicas", 5}}}};
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  std::string data = "tests/data";
  int services = 100;
  double hours = 2;
  Seconds period = 15;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--data")
      data = argv[i + 1];
    else if (flag == "--services")
      services = std::atoi(argv[i + 1]);
    else if (flag == "--hours")
      hours = std::atof(argv[i + 1]);
    else if (flag == "--period")
      period = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "scaling_bench: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  std::vector<Trace> traces;
  Seconds t0 = 0;
  for (const char* name : {"crane_input1.csv", "crane_input2.csv", "crane_input8.csv"}) {
    auto loaded = dso::traces::read_series_csv(data + "/" + name);
    if (!loaded) {
      std::fprintf(stderr, "scaling_bench: %s\n", loaded.error().c_str());
      return 1;
    }
    Trace t;
    t.t0 = loaded->series.start;
    t.values = loaded->series.values;
    dso::traces::fill_missing(t.values);
    t0 = std::max(t0, t.t0);
    traces.push_back(std::move(t));
  }
  // Peak about 50 replicas' worth at 10 req/s per replica.
  double peak = 0;
  for (const auto& t : traces)
    peak = std::max(peak, *std::max_element(t.values.begin(), t.values.end()));
  auto source = std::make_shared<TraceSource>(traces, 500.0 / peak);

  const long rss_before = status_kib("VmRSS:");
  dso::kube::Indexer cache(dso::kube::CacheStorage::kCompact);
  for (int i = 0; i < services; ++i) {
    cache.upsert("bench/svc-" + std::to_string(i), std::make_shared<const Json>(service_object(i)));
  }
  auto registry = std::make_shared<prometheus::Registry>();
  dso::scaling::ScalingLoopOptions options;
  options.settings.decision_period = period;
  options.metrics = std::make_shared<dso::scaling::ScalingMetrics>(registry);
  dso::scaling::ScalingLoop loop(cache, source, nullptr, options);

  const Seconds start = (t0 / 86400 + 14) * 86400;  // day 14 of the traces: 14 days of history
  const auto passes = static_cast<int>(hours * 3600 / static_cast<double>(period));
  std::vector<double> pass_cpu;
  double first_cpu = 0;
  std::uint64_t steady_current = 0, steady_history = 0, steady_http_history = 0;
  Seconds steady_from = 0;
  for (int k = 0; k <= passes; ++k) {
    const Seconds now = start + static_cast<Seconds>(k) * period;
    if (k == 1) {
      steady_current = source->current_calls;
      steady_history = source->history_calls;
      steady_http_history = source->history_http;
      steady_from = now;
    }
    const double c0 = thread_cpu();
    loop.run_once(now);
    const double c = thread_cpu() - c0;
    if (k == 0)
      first_cpu = c;
    else
      pass_cpu.push_back(c);
    if (k == 0)
      std::fprintf(stderr, "first pass (load + fit %d services): %.2f s CPU\n", services, c);
  }
  const long rss_after = status_kib("VmRSS:");
  const long hwm = status_kib("VmHWM:");
  const double minutes =
      static_cast<double>(start + static_cast<Seconds>(passes) * period + period - steady_from) /
      60.0;
  const double current_per_min =
      static_cast<double>(source->current_calls - steady_current) / minutes;
  const double history_per_min =
      static_cast<double>(source->history_calls - steady_history) / minutes;
  const double http_history_per_min =
      static_cast<double>(source->history_http - steady_http_history) / minutes;
  // Refits from the histogram.
  double refit_sum = 0, refit_count = 0;
  for (const auto& family : registry->Collect()) {
    if (family.name != "deepseek_operator_forecast_refit_seconds") continue;
    for (const auto& m : family.metric) {
      refit_sum += m.histogram.sample_sum;
      refit_count += static_cast<double>(m.histogram.sample_count);
    }
  }
  double total_steady = 0;
  for (double c : pass_cpu) total_steady += c;
  std::printf(
      "| services | history per service | simulated | RSS before (MiB) | RSS after (MiB) | peak "
      "RSS "
      "(MiB) | first pass CPU (s) | steady pass CPU p50 / p99 / max (ms) | refits | CPU per refit "
      "(ms) | source calls/min (current + history) | Prometheus queries/min |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::printf(
      "| %d | 14d at 60s (%d points) | %.1f h at %llds | %.1f | %.1f | %.1f | %.2f | %.1f / %.1f / "
      "%.1f | %.0f | %.2f | %.0f + %.0f | %.0f |\n",
      services, 14 * 1440, hours, static_cast<long long>(period), rss_before / 1024.0,
      rss_after / 1024.0, hwm / 1024.0, first_cpu, 1e3 * percentile(pass_cpu, 0.5),
      1e3 * percentile(pass_cpu, 0.99), 1e3 * percentile(pass_cpu, 1.0), refit_count,
      refit_count > 0 ? 1e3 * refit_sum / refit_count : 0.0, current_per_min, history_per_min,
      current_per_min + http_history_per_min);
  std::printf("steady passes: %zu, mean %.1f ms CPU\n", pass_cpu.size(),
              pass_cpu.empty() ? 0.0 : 1e3 * total_steady / static_cast<double>(pass_cpu.size()));
  return 0;
}
