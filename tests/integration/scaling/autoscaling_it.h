// Shared helpers of the live-autoscaler integration tests: polling, free ports, and a request-rate
// exporter that Prometheus scrapes (a counter file served by Python's http.server).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "support/processes.h"

namespace dso::testing {

// Polls `check` every 250 ms for up to `seconds`; returns whether it became true.
inline bool eventually(int seconds, const std::function<bool()>& check) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return check();
}

// A TCP port on 127.0.0.1 that was free a moment ago.
inline int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// The inference server's request counter for one service, as Prometheus scrapes it:
// deepseek_inference_requests_total{namespace,deepseek_service} rising at `rate` per second (set
// by the test), or given as a function of the wall clock (`counter_at(unix seconds)`, e.g. a trace
// continuing a backfill). A thread rewrites DIR/metrics every 200 ms; /usr/bin/python3 -m
// http.server serves it on `port`.
class RequestRateExporter {
 public:
  RequestRateExporter(std::filesystem::path dir, std::string ns, std::string service, double rate,
                      std::function<double(double)> counter_at = {})
      : dir_(std::move(dir)),
        ns_(std::move(ns)),
        service_(std::move(service)),
        rate_(rate),
        counter_at_(std::move(counter_at)) {
    std::filesystem::create_directories(dir_);
    write();
    port_ = free_port();
    server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/bin/python3", "-m", "http.server", std::to_string(port_),
                                 "--bind", "127.0.0.1", "--directory", dir_.string()},
        dir_ / "http.log");
    thread_ = std::thread([this] {
      auto last = std::chrono::steady_clock::now();
      while (!stop_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        const auto now = std::chrono::steady_clock::now();
        total_ += rate_.load() * std::chrono::duration<double>(now - last).count();
        last = now;
        if (counter_at_) {
          total_ = counter_at_(
              std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                  .count());
        }
        write();
      }
    });
  }
  ~RequestRateExporter() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  void set_rate(double rate) { rate_ = rate; }
  int port() const { return port_; }

 private:
  // Fixed notation: a counter of tens of millions in the default 6 significant digits would move in
  // steps of 100 and make rate() useless.
  void write() {
    const auto tmp = dir_ / "metrics.tmp";
    {
      std::ofstream out(tmp);
      out << "# TYPE deepseek_inference_requests_total counter\n"
          << "deepseek_inference_requests_total{namespace=\"" << ns_ << "\",deepseek_service=\""
          << service_ << "\"} " << std::fixed << std::setprecision(3) << total_ << "\n";
    }
    std::filesystem::rename(tmp, dir_ / "metrics");
  }
  std::filesystem::path dir_;
  std::string ns_, service_;
  std::atomic<double> rate_;
  std::function<double(double)> counter_at_;
  double total_ = 0;
  int port_ = 0;
  std::unique_ptr<ChildProcess> server_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A Prometheus of the test's own (so that it can be stopped and started again on the same port and
// data), scraping `targets` every 2 s with honor_labels.
class TestPrometheus {
 public:
  TestPrometheus(std::filesystem::path dir, const std::vector<std::string>& targets)
      : dir_(std::move(dir)), port_(free_port()) {
    std::filesystem::create_directories(dir_ / "data");
    std::ofstream config(dir_ / "prometheus.yml");
    config << "global:\n  scrape_interval: 2s\n  evaluation_interval: 15s\nscrape_configs:\n"
              "  - job_name: inference\n    honor_labels: true\n    static_configs:\n"
              "      - targets: [";
    for (std::size_t i = 0; i < targets.size(); ++i) config << (i ? ", " : "") << targets[i];
    config << "]\n";
  }
  // Backfills an OpenMetrics file into its data folder (promtool tsdb create-blocks-from
  // openmetrics: one block per 2 hours). Before start(). Returns promtool's exit status.
  int backfill(const std::filesystem::path& openmetrics) {
    return std::system(("/usr/bin/promtool tsdb create-blocks-from openmetrics " +
                        openmetrics.string() + " " + (dir_ / "data").string() + " >" +
                        (dir_ / "backfill.log").string() + " 2>&1")
                           .c_str());
  }
  // Starts it (again) and waits for /-/ready; returns whether it became ready.
  bool start() {
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/bin/prometheus",
                                 "--config.file=" + (dir_ / "prometheus.yml").string(),
                                 "--storage.tsdb.path=" + (dir_ / "data").string(),
                                 "--storage.tsdb.retention.time=3650d",
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port_)},
        dir_ / "prometheus.log");
    return eventually(60, [&] {
      return std::system(("curl -fsS " + url() + "/-/ready >/dev/null 2>&1").c_str()) == 0;
    });
  }
  void stop() {
    if (process_) process_->stop(SIGTERM, 30);
    process_.reset();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  int port_;
  std::unique_ptr<ChildProcess> process_;
};

// Every status.decisions entry seen across polls of a service's status: the status keeps only the
// newest 10 (and adds one whenever the replicas or the rule change), so a test that judges an
// earlier decision from one final snapshot can find it pushed out.
class DecisionLog {
 public:
  void add(const nlohmann::json& status) {
    if (!status.is_object()) return;
    for (const auto& d : status.value("decisions", nlohmann::json::array())) {
      if (d.contains("time") && d["time"].is_string())
        seen_[d["time"].get<std::string>() + " " + d.dump()] = d;  // RFC 3339 sorts by time
    }
  }
  // Newest first, like status.decisions.
  nlohmann::json newest_first() const {
    nlohmann::json out = nlohmann::json::array();
    for (auto it = seen_.rbegin(); it != seen_.rend(); ++it) out.push_back(it->second);
    return out;
  }

 private:
  std::map<std::string, nlohmann::json> seen_;
};

}  // namespace dso::testing
