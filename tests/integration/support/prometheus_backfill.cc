#include "support/prometheus_backfill.h"

#include <cpprest/http_listener.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/local_cluster.h"
#include "support/processes.h"

namespace dso::testing {
namespace {

std::filesystem::path cluster_root() {
  const char* root = std::getenv("DSO_CLUSTER_ROOT");
  return root != nullptr ? root : "/tmp/dso-clusters";
}

std::filesystem::path source_dir() {
  const char* dir = std::getenv("DSO_SOURCE_DIR");
#ifdef DSO_SOURCE_DIR
  if (dir == nullptr) dir = DSO_SOURCE_DIR;
#endif
  if (dir == nullptr) throw std::runtime_error("DSO_SOURCE_DIR is not set");
  return dir;
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string label_text(const std::map<std::string, std::string>& labels) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ",";
    first = false;
    out += k + "=\"";
    for (char c : v) {
      if (c == '\\' || c == '"') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += "\"";
  }
  return out + "}";
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

constexpr const char* kCounter = "deepseek_inference_requests_total";

}  // namespace

// ----- RateTrace -----

RateTrace::RateTrace(std::vector<double> rates, std::int64_t step)
    : rates_(std::move(rates)), step_(step) {
  if (rates_.empty()) throw std::runtime_error("RateTrace: no rows");
  if (step_ <= 0) throw std::runtime_error("RateTrace: step must be positive");
  prefix_.assign(rates_.size() + 1, 0.0);
  for (std::size_t i = 0; i < rates_.size(); ++i) {
    prefix_[i + 1] = prefix_[i] + rates_[i] * static_cast<double>(step_);
  }
}

RateTrace RateTrace::from_csv(const std::filesystem::path& csv, double scale) {
  std::ifstream in(csv);
  if (!in) throw std::runtime_error("RateTrace: cannot read " + csv.string());
  std::string line;
  std::getline(in, line);  // header
  std::vector<double> times, values;
  for (int n = 2; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const auto comma = line.find(',');
    try {
      if (comma == std::string::npos) throw std::invalid_argument("no comma");
      times.push_back(std::stod(line.substr(0, comma)));
      values.push_back(std::stod(line.substr(comma + 1)) * scale);
    } catch (const std::exception&) {
      throw std::runtime_error("RateTrace: " + csv.string() + ":" + std::to_string(n) +
                               ": not \"time,value\": " + line);
    }
  }
  if (values.size() < 2) throw std::runtime_error("RateTrace: " + csv.string() + ": < 2 rows");
  const auto step = static_cast<std::int64_t>(std::llround(times[1] - times[0]));
  return RateTrace(std::move(values), step);
}

void RateTrace::place(std::int64_t now, std::size_t row) {
  origin_ = floor_div(now, step_) * step_ - static_cast<std::int64_t>(row) * step_;
}

double RateTrace::rate_at(double t) const {
  const auto k = static_cast<std::int64_t>(
      std::floor((t - static_cast<double>(origin_)) / static_cast<double>(step_)));
  const auto n = static_cast<std::int64_t>(rates_.size());
  return rates_[static_cast<std::size_t>(((k % n) + n) % n)];
}

double RateTrace::integral(double t) const {
  const double x = (t - static_cast<double>(origin_)) / static_cast<double>(step_);
  const auto k = static_cast<std::int64_t>(std::floor(x));
  const auto n = static_cast<std::int64_t>(rates_.size());
  const std::int64_t cycles = floor_div(k, n);
  const auto row = static_cast<std::size_t>(k - cycles * n);
  const double frac = x - static_cast<double>(k);
  return static_cast<double>(cycles) * prefix_.back() + prefix_[row] +
         frac * rates_[row] * static_cast<double>(step_);
}

// ----- ServiceTrace -----

std::vector<std::map<std::string, std::string>> ServiceTrace::series_labels() const {
  std::vector<std::map<std::string, std::string>> out;
  for (const auto& [endpoint, share] : endpoints) {
    (void)share;
    auto labels = extra_labels;
    labels["namespace"] = ns;
    labels[service_label] = service;
    labels["code"] = "200";
    labels["priority"] = "normal";
    labels["endpoint"] = endpoint;
    out.push_back(std::move(labels));
  }
  return out;
}

double ServiceTrace::counter(std::size_t index, double t) const {
  return endpoints.at(index).second *
         (trace.integral(t) - trace.integral(static_cast<double>(counter_origin)));
}

void write_openmetrics(std::ostream& out, const std::vector<ServiceTrace>& services,
                       std::int64_t from, std::int64_t to, std::int64_t interval) {
  std::vector<std::int64_t> times;
  for (std::int64_t t = from; t <= to; t += interval) times.push_back(t);
  write_openmetrics(out, services, times);
}

void write_openmetrics(std::ostream& out, const std::vector<ServiceTrace>& services,
                       const std::vector<std::int64_t>& times) {
  out << "# HELP deepseek_inference_requests finished API requests (trace replay)\n";
  out << "# TYPE deepseek_inference_requests counter\n";
  for (const auto& s : services) {
    const auto labels = s.series_labels();
    for (std::size_t i = 0; i < labels.size(); ++i) {
      const std::string prefix = std::string(kCounter) + label_text(labels[i]) + " ";
      for (const std::int64_t t : times) {
        out << prefix << number(s.counter(i, static_cast<double>(t))) << " " << t << "\n";
      }
    }
  }
  out << "# EOF\n";
}

void promtool_backfill(const std::filesystem::path& openmetrics,
                       const std::filesystem::path& tsdb) {
  std::filesystem::create_directories(tsdb);
  const std::string command = "promtool tsdb create-blocks-from openmetrics --quiet '" +
                              openmetrics.string() + "' '" + tsdb.string() + "' 2>&1";
  std::string output;
  if (run_shell(command, &output) != 0) {
    throw std::runtime_error("promtool backfill of " + openmetrics.string() + " failed: " + output);
  }
}

// ----- CounterExporter -----

struct CounterExporter::Impl {
  std::vector<ServiceTrace> services;
  std::atomic<double> first_scrape{0};
  std::unique_ptr<web::http::experimental::listener::http_listener> listener;
  std::atomic<bool> serving{true};
  std::atomic<std::uint64_t> scrapes{0};
};

CounterExporter::CounterExporter(std::vector<ServiceTrace> services)
    : impl_(std::make_unique<Impl>()) {
  impl_->services = std::move(services);
  std::mt19937 rng{std::random_device{}()};
  for (int tries = 0; tries < 50 && !impl_->listener; ++tries) {
    port_ = 20000 + static_cast<int>(rng() % 20000);
    try {
      auto listener = std::make_unique<web::http::experimental::listener::http_listener>(
          web::uri("http://127.0.0.1:" + std::to_string(port_)));
      listener->support([this](web::http::http_request r) {
        if (!impl_->serving.load()) {
          r.reply(web::http::status_codes::ServiceUnavailable, "paused by the test");
          return;
        }
        const double t = now_seconds();
        double none = 0;
        impl_->first_scrape.compare_exchange_strong(none, t);
        impl_->scrapes.fetch_add(1);
        r.reply(web::http::status_codes::OK, exposition(t), "text/plain; version=0.0.4");
      });
      listener->open().wait();
      impl_->listener = std::move(listener);
    } catch (const std::exception&) {
    }
  }
  if (!impl_->listener) throw std::runtime_error("CounterExporter: no free port");
}

CounterExporter::~CounterExporter() {
  try {
    impl_->listener->close().wait();
  } catch (const std::exception&) {
  }
}

void CounterExporter::set_serving(bool serving) {
  impl_->serving = serving;
}

std::uint64_t CounterExporter::scrapes() const {
  return impl_->scrapes.load();
}

double CounterExporter::first_scrape() const {
  return impl_->first_scrape.load();
}

std::string CounterExporter::exposition(double t) const {
  std::string out = "# HELP deepseek_inference_requests_total finished API requests (trace)\n";
  out += "# TYPE deepseek_inference_requests_total counter\n";
  for (const auto& s : impl_->services) {
    const auto labels = s.series_labels();
    for (std::size_t i = 0; i < labels.size(); ++i) {
      out += std::string(kCounter) + label_text(labels[i]) + " " + number(s.counter(i, t)) + "\n";
    }
  }
  return out;
}

// ----- TracePrometheus -----

TracePrometheus::TracePrometheus(TracePrometheusOptions options) : options_(std::move(options)) {
  try {
    setup();
  } catch (...) {
    teardown();  // a destructor would not run: leave no Prometheus behind
    throw;
  }
}

void TracePrometheus::setup() {
  if (options_.services.empty()) throw std::runtime_error("TracePrometheus: no services");
  work_ = cluster_root() / ("trace-" + options_.name);
  std::filesystem::remove_all(work_);
  std::filesystem::create_directories(work_ / "tsdb");
  const std::int64_t interval = options_.backfill_interval;
  const auto now = static_cast<std::int64_t>(now_seconds());
  backfill_start_ = floor_div(now - options_.history, interval) * interval;
  for (auto& s : options_.services) {
    if (s.trace.origin() == 0) s.trace.place_end_at(now);
    s.counter_origin = backfill_start_;
  }
  // Live first, history second: Prometheus scrapes the exporter from an empty TSDB, and the
  // backfill ends just before its first scraped sample, so that the series has no gap at the seam
  // (a gap would make rate() read low for a minute: promtool alone takes about 30 s).
  exporter_ = std::make_unique<CounterExporter>(options_.services);
  {
    std::ofstream yml(work_ / "prometheus.yml");
    yml << "global:\n  scrape_interval: " << options_.scrape_interval
        << "s\n  evaluation_interval: 15s\nscrape_configs:\n"
        << "  - job_name: deepseek-trace\n    honor_labels: true\n"
        << "    scrape_interval: " << options_.scrape_interval << "s\n"
        << "    static_configs:\n      - targets: ['127.0.0.1:" << exporter_->port() << "']\n";
  }
  start();
  for (int i = 0; i < 600 && exporter_->first_scrape() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const double first = exporter_->first_scrape();
  if (first == 0)
    throw std::runtime_error("TracePrometheus: Prometheus did not scrape the exporter");
  // Samples every `interval`, then every scrape interval from 3 minutes before the first scrape up
  // to just before it (Prometheus stamps a scrape when it starts it, a little before the exporter
  // answers), so that a rate() window across the seam sees evenly spaced samples.
  const std::int64_t last = static_cast<std::int64_t>(first) - 1;
  const std::int64_t fine_from = floor_div(last - 180, interval) * interval;
  std::vector<std::int64_t> times;
  for (std::int64_t t = backfill_start_; t < fine_from; t += interval) times.push_back(t);
  for (std::int64_t t = fine_from; t <= last; t += options_.scrape_interval) times.push_back(t);
  backfill_end_ = times.back();
  {
    std::ofstream om(work_ / "backfill.om");
    write_openmetrics(om, options_.services, times);
    if (!om)
      throw std::runtime_error("TracePrometheus: cannot write " + (work_ / "backfill.om").string());
  }
  promtool_backfill(work_ / "backfill.om", work_ / "blocks");
  std::filesystem::remove(work_ / "backfill.om");
  // Prometheus loads new block directories of its TSDB once a minute: hand them over while it
  // runs (no restart, so no missed scrapes), and wait until the oldest point answers.
  for (const auto& block : std::filesystem::directory_iterator(work_ / "blocks")) {
    std::filesystem::rename(block.path(), work_ / "tsdb" / block.path().filename());
  }
  const std::string probe = url_ +
                            "/api/v1/query?query=count(deepseek_inference_requests_total)&time=" +
                            std::to_string(backfill_start_ + 2 * interval);
  for (int i = 0; i < 100; ++i) {
    std::string out;
    sh("curl -fsS '" + probe + "'", &out);
    if (out.find("\"value\"") != std::string::npos) return;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  throw std::runtime_error(
      "TracePrometheus: Prometheus did not load the backfilled blocks within 100 s");
}

TracePrometheus::~TracePrometheus() {
  teardown();
}

void TracePrometheus::teardown() {
  try {
    if (running_) thaw();
    std::string out;
    sh("'" + (source_dir() / "hack" / "local-prometheus.sh").string() + "' stop " + options_.name,
       &out);
  } catch (const std::exception&) {
  }
  exporter_.reset();
  std::error_code ec;
  std::filesystem::remove_all(work_, ec);
}

int TracePrometheus::sh(const std::string& command, std::string* output) const {
  const std::string full =
      "DSO_CLUSTER_ROOT='" + cluster_root().string() + "' " + command + " 2>&1";
  return run_shell(full, output);
}

void TracePrometheus::start() {
  std::string command = "'" + (source_dir() / "hack" / "local-prometheus.sh").string() +
                        "' start " + options_.name + " --tsdb '" + (work_ / "tsdb").string() +
                        "' --config '" + (work_ / "prometheus.yml").string() + "'";
  if (port_ != 0) command += " --port " + std::to_string(port_);
  std::string out;
  int rc = -1;
  // A port just released may still be bound for a moment.
  for (int attempt = 0; attempt < 20; ++attempt) {
    rc = sh(command, &out);
    if (rc == 0 || port_ == 0 || out.find("is in use") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  if (rc != 0) throw std::runtime_error("TracePrometheus: " + command + " failed: " + out);
  const auto p = LocalPrometheus::open(options_.name);
  url_ = p.url;
  port_ = std::stoi(url_.substr(url_.rfind(':') + 1));
  running_ = true;
}

void TracePrometheus::stop() {
  if (!running_) return;
  thaw();
  std::string out;
  sh("'" + (source_dir() / "hack" / "local-prometheus.sh").string() + "' stop " + options_.name,
     &out);
  running_ = false;
}

namespace {

// Whether every thread of process `pid` is stopped (state T in /proc/PID/task/*/stat).
bool all_threads_stopped(int pid) {
  std::error_code ec;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  bool any = false;
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto paren = stat.rfind(')');  // the state follows "(comm) "
    if (paren == std::string::npos || paren + 2 >= stat.size()) continue;
    if (stat[paren + 2] != 'T' && stat[paren + 2] != 't') return false;
    any = true;
  }
  return any;
}

}  // namespace

void TracePrometheus::freeze() {
  const auto pid = std::stoi(read_file(LocalPrometheus::open(options_.name).dir / "pid"));
  ::kill(pid, SIGSTOP);
  // kill() returns before the threads have stopped: a query sent at once could still be
  // answered. Wait (up to 5 s) until all of them are.
  for (int i = 0; i < 500 && !all_threads_stopped(pid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void TracePrometheus::thaw() {
  const auto pid = std::stoi(read_file(LocalPrometheus::open(options_.name).dir / "pid"));
  ::kill(pid, SIGCONT);
}

}  // namespace dso::testing
