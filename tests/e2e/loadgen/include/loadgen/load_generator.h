// loadgen/load_generator.h: a run of the load generator, in-process. Open loop: a dispatcher thread
// draws arrival times from the schedule and hands each request to a worker thread (one per request
// in flight, reused; at most --max-in-flight), so slow answers never delay arrivals. Latency is
// measured from the scheduled arrival, not from when a worker got to it.
//
//   auto gen = LoadGenerator::create(options);       // reads the trace and sizes files
//   if (auto ok = (*gen)->start(); !ok) ...          // targets resolved, arrivals begin
//   (*gen)->wait_for_completed(100, 30s);            // tests: wait on events, not sleeps
//   (*gen)->stop(); (*gen)->wait();                  // no more arrivals; in-flight ones finish
//   Snapshot s = (*gen)->snapshot();
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "loadgen/balancer.h"
#include "loadgen/endpoints.h"
#include "loadgen/options.h"
#include "loadgen/request.h"
#include "loadgen/schedule.h"
#include "loadgen/sizes.h"
#include "loadgen/stats.h"

namespace dso::loadgen {

class LoadGenerator {
 public:
  // Checks `options` and loads its files (trace, sizes); the endpoint source comes from the
  // options (static targets, or an Endpoints informer). Error: one line.
  static std::expected<std::unique_ptr<LoadGenerator>, std::string> create(Options options);
  // The same with a given endpoint source (tests).
  static std::expected<std::unique_ptr<LoadGenerator>, std::string> create(
      Options options, EndpointSourcePtr endpoints);
  ~LoadGenerator();  // abort(), then joins every thread
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  // Starts following the endpoints (an informer waits for its first list) and the arrivals; time
  // 0 of the schedule is now. Call once.
  std::expected<void, std::string> start();
  // No more arrivals; requests in flight go on (each bounded by the request timeout). Returns at
  // once; idempotent; also what the end of --duration or of the trace does.
  void stop();
  // stop(), and requests in flight are cut now (counted as errors "aborted").
  void abort();
  // Blocks until arrivals have ended and nothing is in flight (at once when never started).
  void wait();
  // The same for at most `timeout`; true when the run is over.
  bool wait_for(Millis timeout);

  // Switches to a constant `requests_per_second` from now on (a trace is left). Thread-safe.
  void set_rate(double requests_per_second);

  // The rows so far and the totals. Thread-safe; O(seconds so far).
  Snapshot snapshot() const;
  // Blocks until `done(totals)` holds (checked after every event) or `timeout`; returns whether
  // it held. Thread-safe; `done` runs under the generator's lock, so it must be quick.
  bool wait_until(const std::function<bool(const Totals&)>& done, Millis timeout) const;
  // wait_until(completed >= n).
  bool wait_for_completed(std::uint64_t n, Millis timeout) const;
  // wait_until(errors >= n).
  bool wait_for_errors(std::uint64_t n, Millis timeout) const;

  // Seconds since start() (0 before).
  double elapsed_s() const;
  const Options& options() const { return options_; }

 private:
  // One request handed to a worker.
  struct Job {
    EndpointPtr endpoint;
    double arrival = 0;  // seconds since start (scheduled)
    std::int64_t second = 0;
    RequestSize size;
    bool high_priority = false;
  };
  LoadGenerator(Options options, RateSchedule schedule, SizeSampler sizes,
                EndpointSourcePtr endpoints);
  void dispatch_loop();
  void arrive(double t);  // under mu_
  void worker_loop();
  RequestResult run(const Job& job);  // the exchange; no lock held
  bool add_worker();                  // under mu_; false when no thread could be started
  void finish(const Job& job, const RequestResult& result);
  std::int64_t unix_second(double t) const;
  SteadyTime at(double t) const;  // start + t
  void on_endpoints(std::vector<Address> addresses);

  const Options options_;
  const RequestShape shape_;
  const SizeSampler sizes_;
  EndpointSourcePtr endpoint_source_;
  std::chrono::steady_clock::time_point start_steady_;
  std::chrono::system_clock::time_point start_system_;

  mutable std::mutex mu_;                    // everything below
  mutable std::condition_variable changed_;  // any event: outcome, endpoints, end of arrivals
  std::condition_variable dispatch_;         // for the dispatcher: stop, rate change
  std::condition_variable work_;             // a job was queued, or the workers must leave
  Recorder recorder_;
  LeastOutstandingBalancer balancer_;
  ArrivalProcess arrivals_;
  std::mt19937_64 rng_;  // sizes and priorities
  bool started_ = false, stop_requested_ = false, arrivals_over_ = false;
  bool rate_changed_ = false, shutting_down_ = false;
  double arrivals_end_ = 0;  // when arrivals ended, seconds since start
  std::size_t in_flight_ = 0, idle_workers_ = 0;
  std::deque<Job> jobs_;
  std::vector<std::thread> workers_;
  std::thread dispatcher_;
  int cancel_fd_ = -1;  // an eventfd, readable once abort() ran
};

}  // namespace dso::loadgen
