// metrics_bench: what reading Prometheus costs the operator, measured on a real Prometheus 2.42
// holding N services x 14 days of tests/data/crane_input1.csv (1-minute rows), and the
// client's parse of one 11,000-point range answer. Prints a markdown table.
//
//   metrics_bench [--services N] [--repeat R]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "metrics/prometheus_source.h"
#include "support/prometheus_backfill.h"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}

void row(const char* what, const std::vector<double>& ms, const char* note) {
  std::printf("| %s | %zu | %.2f | %.2f | %.2f | %s |\n", what, ms.size(), percentile(ms, 0.5),
              percentile(ms, 0.9), *std::max_element(ms.begin(), ms.end()), note);
}

}  // namespace

int main(int argc, char** argv) {
  int services = 10, repeat = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--services") services = std::atoi(argv[i + 1]);
    if (flag == "--repeat") repeat = std::atoi(argv[i + 1]);
  }
  using namespace dso;

  // 1. Parsing one chunk: 11,000 points of one series, as Prometheus writes them.
  std::string body = R"({"status":"success","data":{"resultType":"matrix","result":[)"
                     R"({"metric":{},"values":[)";
  for (int i = 0; i < 11000; ++i) {
    body += (i ? "," : "") + std::string("[") + std::to_string(1700000000 + 60 * i) + ",\"" +
            std::to_string(100.0 + (i % 1440) * 0.123456789) + "\"]";
  }
  body += "]}]}}";
  std::vector<double> parse_ms;
  for (int i = 0; i < 20; ++i) {
    const auto t = Clock::now();
    const auto r = metrics::parse_query_response(body, 200, "bench");
    parse_ms.push_back(ms_since(t));
    if (!r || r->series[0].points.size() != 11000) return 1;
  }

  // 2. A real Prometheus with N services x 14 days.
  const std::string csv = std::string(DSO_BENCH_DATA_DEFAULT) + "/crane_input1.csv";
  testing::TracePrometheusOptions o;
  o.name = "metrics-bench";
  for (int s = 0; s < services; ++s) {
    testing::ServiceTrace t;
    t.ns = "bench";
    t.service = "svc-" + std::to_string(s);
    t.trace = testing::RateTrace::from_csv(csv, 1.0 + s);
    t.endpoints = {{"chat_completions", 1.0}};
    o.services.push_back(t);
  }
  auto started = Clock::now();
  testing::TracePrometheus prometheus(o);
  const double setup_s = ms_since(started) / 1000;

  metrics::PrometheusConfig config;
  config.url = prometheus.url();
  auto client = metrics::PrometheusClient::create(config).value();
  metrics::PrometheusSource source(client);
  auto service = [&](int s) {
    api::DeepSeekService d;
    d.metadata.ns = "bench";
    d.metadata.name = "svc-" + std::to_string(s);
    d.spec.autoscaling.metrics = {api::MetricSpec{}};  // the default: RequestsPerSecond 10
    return d;
  };
  std::vector<double> history_ms, current_ms;
  std::uint64_t history_requests = 0, current_requests = 0;
  std::size_t points = 0;
  for (int r = 0; r < repeat; ++r) {
    for (int s = 0; s < services; ++s) {
      const auto before = client->requests_sent();
      const auto t = Clock::now();
      const auto h = source.demand_history(service(s), prometheus.backfill_start() + 60,
                                           prometheus.backfill_end(), 60);
      history_ms.push_back(ms_since(t));
      history_requests += client->requests_sent() - before;
      if (!h) {
        std::fprintf(stderr, "%s\n", h.error().c_str());
        return 1;
      }
      points = h->values.size();
    }
    for (int s = 0; s < services; ++s) {
      const auto before = client->requests_sent();
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      const auto t = Clock::now();
      const auto load = source.current(service(s), now);
      current_ms.push_back(ms_since(t));
      current_requests += client->requests_sent() - before;
      if (!load.problems.empty()) {
        std::fprintf(stderr, "%s\n", load.problems.front().c_str());
        return 1;
      }
    }
  }
  std::printf("metrics_bench: %d services x 14 days (%zu points at 60 s each), setup %.0f s\n\n",
              services, points, setup_s);
  std::printf(
      "| operation | n | median ms | p90 ms | max ms | note |\n|---|---|---|---|---|---|\n");
  row("parse one 11,000-point matrix answer", parse_ms, "CPU only, no I/O");
  char note[128];
  std::snprintf(note, sizeof note, "%.1f HTTP requests each (chunks)",
                static_cast<double>(history_requests) / static_cast<double>(history_ms.size()));
  row("demand_history, 14 days at 60 s", history_ms, note);
  std::snprintf(note, sizeof note, "%.1f HTTP requests each (default spec)",
                static_cast<double>(current_requests) / static_cast<double>(current_ms.size()));
  row("current(), default spec", current_ms, note);
  return 0;
}
