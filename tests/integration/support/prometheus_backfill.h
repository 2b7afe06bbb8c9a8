// Test support: a real request-rate trace replayed into a real Prometheus as the inference server's
// request counter — weeks of history backfilled into the TSDB (promtool tsdb create-blocks-from
// openmetrics) and the present served live by an exporter that Prometheus scrapes.
//
//   RateTrace        a trace of requests/s per row (e.g. tests/data/crane_input1.csv, 1-minute
//                    rows, 16 days) laid on the wall clock, repeating cyclically beyond its ends.
//   ServiceTrace     one DeepSeekService's counter deepseek_inference_requests_total{namespace,
//                    deepseek_service, code="200", priority="normal", endpoint, job, instance},
//                    split over endpoints; the counter is the trace's integral, so the backfill
//                    and the exporter write one continuous series.
//   CounterExporter  GET /metrics with the counters' values now (text format 0.0.4).
//   TracePrometheus  all of it: OpenMetrics file -> promtool -> a Prometheus of its own
//                    (hack/local-prometheus.sh start NAME --tsdb --config --port) scraping the
//                    exporter; stop()/start() on the same port and freeze()/thaw() for outage
//                    tests; the destructor stops everything and deletes its files.
//
// Point convention (matches PrometheusSource::demand_history): a rate read at t is the mean over
// (t - window, t]; compare it with RateTrace::mean_rate(t - window, t).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace dso::testing {

class RateTrace {
 public:
  // rates: requests/s per row; step: seconds per row (> 0); at least one row.
  RateTrace(std::vector<double> rates, std::int64_t step);

  // A CSV with a header line and rows "time,value" (the crane_input*.csv files: unix seconds, one
  // row a minute); the step is the second row's time minus the first's; values times `scale`.
  // Throws std::runtime_error naming the file and line.
  static RateTrace from_csv(const std::filesystem::path& csv, double scale = 1.0);

  // Lays the trace on the clock so that row `row` starts at the step boundary at or before `now`
  // (rows cover [origin + r * step, origin + (r + 1) * step)). The default row, size(), makes the
  // trace's last row end there: "the trace ends now" and what follows repeats it from its start.
  void place(std::int64_t now, std::size_t row);
  void place_end_at(std::int64_t now) { place(now, rates_.size()); }

  std::int64_t origin() const { return origin_; }
  std::int64_t step() const { return step_; }
  std::size_t size() const { return rates_.size(); }
  const std::vector<double>& rates() const { return rates_; }

  // The rate of the row containing t.
  double rate_at(double t) const;
  // Requests between the origin and t (negative before the origin); continuous, piecewise linear.
  double integral(double t) const;
  // Mean rate over (a, b]; b > a.
  double mean_rate(double a, double b) const { return (integral(b) - integral(a)) / (b - a); }

 private:
  std::vector<double> rates_;
  std::vector<double> prefix_;  // prefix_[i] = sum of rates_[0, i) * step
  std::int64_t step_;
  std::int64_t origin_ = 0;
};

struct ServiceTrace {
  std::string ns = "default";
  std::string service = "trace";
  std::string service_label = "deepseek_service";
  RateTrace trace{{1.0}, 60};
  // Each endpoint's share of the requests (sums to 1): several series, as a real server has.
  std::vector<std::pair<std::string, double>> endpoints{{"chat_completions", 0.8},
                                                        {"completions", 0.2}};
  // Labels every series carries besides the above (the exporter exposes them and the scrape
  // keeps them with honor_labels, so backfilled and scraped samples are one series).
  std::map<std::string, std::string> extra_labels{{"job", "deepseek-inference"},
                                                  {"instance", "trace-exporter"}};
  // The counter is 0 here (the backfill's start); set by TracePrometheus.
  std::int64_t counter_origin = 0;

  // Each series' label set (without __name__), in endpoint order.
  std::vector<std::map<std::string, std::string>> series_labels() const;
  // Series `index`'s counter at t: share * (integral(t) - integral(counter_origin)).
  double counter(std::size_t index, double t) const;
};

// The counters of `services` at from, from + interval, ..., <= to, as an OpenMetrics file for
// promtool (one family, series after series, "# EOF" at the end).
void write_openmetrics(std::ostream& out, const std::vector<ServiceTrace>& services,
                       std::int64_t from, std::int64_t to, std::int64_t interval);

// The same at the given times (increasing).
void write_openmetrics(std::ostream& out, const std::vector<ServiceTrace>& services,
                       const std::vector<std::int64_t>& times);

// Runs `promtool tsdb create-blocks-from openmetrics FILE DIR`; throws std::runtime_error with
// promtool's output when it fails.
void promtool_backfill(const std::filesystem::path& openmetrics, const std::filesystem::path& tsdb);

// Serves the counters of `services` at the wall clock now on http://127.0.0.1:PORT/metrics.
class CounterExporter {
 public:
  explicit CounterExporter(std::vector<ServiceTrace> services);
  ~CounterExporter();
  CounterExporter(const CounterExporter&) = delete;
  CounterExporter& operator=(const CounterExporter&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/metrics"; }
  // While false, /metrics answers 503: the scrape fails and Prometheus marks the series stale, so
  // instant selectors return nothing at once, and rate() over a window returns nothing once the
  // window holds no samples (measured in metrics_integration_test, see docs/metrics.md).
  void set_serving(bool serving);
  // The text /metrics serves at unix time t.
  std::string exposition(double t) const;
  std::uint64_t scrapes() const;
  // Unix time of the first successful scrape; 0 before it.
  double first_scrape() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

struct TracePrometheusOptions {
  std::string name = "trace";  // hack/local-prometheus.sh NAME
  std::vector<ServiceTrace> services;
  std::int64_t history = 14 * 86400;  // seconds backfilled before now
  // Seconds between backfilled samples: at most half the shortest rate() window read back, so
  // that rate() has two samples per window (30 s suits rate(...[1m])).
  std::int64_t backfill_interval = 30;
  std::int64_t scrape_interval = 5;  // seconds, for the live exporter
};

class TracePrometheus {
 public:
  // Places each service's trace so that it ends now (unless its RateTrace was placed already,
  // origin != 0); starts the exporter and Prometheus on an empty TSDB; once Prometheus has scraped
  // the exporter, backfills `history` up to just before that first scrape (no gap at the seam;
  // the last 3 minutes at the scrape interval), moves the blocks into the running Prometheus's TSDB
  // and waits until it has loaded them (it looks once a minute). Takes 1-1.5 minutes on the 2-core
  // machine for 14 days (promtool about 35 s, the load up to 60 s). Throws std::runtime_error with
  // the failing step's output.
  explicit TracePrometheus(TracePrometheusOptions options);
  ~TracePrometheus();
  TracePrometheus(const TracePrometheus&) = delete;
  TracePrometheus& operator=(const TracePrometheus&) = delete;

  const std::string& url() const { return url_; }
  std::int64_t backfill_start() const { return backfill_start_; }
  // The last backfilled sample; the exporter's scraped samples follow within one interval.
  std::int64_t backfill_end() const { return backfill_end_; }
  const std::vector<ServiceTrace>& services() const { return options_.services; }
  CounterExporter& exporter() { return *exporter_; }
  const std::filesystem::path& work_dir() const { return work_; }

  // Stops Prometheus (connections are refused) and starts it again on the same port with the same
  // TSDB and configuration.
  void stop();
  void start();
  // SIGSTOP / SIGCONT: Prometheus accepts connections but answers nothing (timeouts).
  void freeze();
  void thaw();

 private:
  void setup();
  void teardown();
  int sh(const std::string& command, std::string* output) const;
  TracePrometheusOptions options_;
  std::filesystem::path work_;
  std::unique_ptr<CounterExporter> exporter_;
  std::string url_;
  int port_ = 0;
  std::int64_t backfill_start_ = 0;
  std::int64_t backfill_end_ = 0;
  bool running_ = false;
};

}  // namespace dso::testing
