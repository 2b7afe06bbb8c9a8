// The load generator's threads: a dispatcher that turns the schedule into arrivals, and workers
// that each carry one request at a time.
#include "loadgen/load_generator.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cmath>
#include <stdexcept>
#include <system_error>

namespace dso::loadgen {
namespace {

std::chrono::steady_clock::duration seconds_to_steady(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(s));
}

double since(SteadyTime from, SteadyTime to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

std::expected<std::unique_ptr<LoadGenerator>, std::string> LoadGenerator::create(Options options) {
  EndpointSourcePtr endpoints;
  if (options.follows_service()) {
    auto source = service_endpoints(options.kubeconfig, options.service_namespace,
                                    options.service_name, options.port_name);
    if (!source) return std::unexpected(source.error());
    endpoints = std::move(*source);
  } else {
    endpoints = std::make_unique<StaticEndpoints>(options.targets);
  }
  return create(std::move(options), std::move(endpoints));
}

std::expected<std::unique_ptr<LoadGenerator>, std::string> LoadGenerator::create(
    Options options, EndpointSourcePtr endpoints) {
  if (options.max_in_flight == 0) return std::unexpected("max_in_flight must be at least 1");
  auto schedule = RateSchedule::constant(options.rate);
  if (!options.trace_file.empty()) {
    auto loaded =
        load_trace_schedule(options.trace_file, options.trace_scale, options.trace_start_row,
                            static_cast<double>(options.trace_step.count()) / 1000.0);
    if (!loaded) return std::unexpected(loaded.error());
    schedule = std::move(*loaded);
  }
  const SizeScaling scaling{options.prompt_scale, options.output_scale, options.max_prompt_bytes,
                            options.max_output_tokens};
  auto sizes = SizeSampler::load(options.sizes_file, scaling);
  if (!sizes) return std::unexpected(sizes.error());
  return std::unique_ptr<LoadGenerator>(new LoadGenerator(std::move(options), std::move(schedule),
                                                          std::move(*sizes), std::move(endpoints)));
}

LoadGenerator::LoadGenerator(Options options, RateSchedule schedule, SizeSampler sizes,
                             EndpointSourcePtr endpoints)
    : options_(std::move(options)),
      shape_{options_.model, options_.stream, options_.api_key},
      sizes_(std::move(sizes)),
      endpoint_source_(std::move(endpoints)),
      recorder_(static_cast<double>(options_.slo_p99.count()) / 1000.0),
      balancer_(options_.seed ^ 0x9e3779b97f4a7c15ULL),
      arrivals_(std::move(schedule), options_.seed),
      rng_(options_.seed + 1) {
  cancel_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (cancel_fd_ < 0) throw std::runtime_error("dso-loadgen: eventfd failed");
}

LoadGenerator::~LoadGenerator() {
  endpoint_source_->stop();  // no endpoint callbacks from here on
  abort();
  if (dispatcher_.joinable()) dispatcher_.join();
  {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [&] { return in_flight_ == 0; });  // aborted exchanges end at once
    shutting_down_ = true;
  }
  work_.notify_all();
  for (auto& w : workers_) w.join();
  ::close(cancel_fd_);
}

std::expected<void, std::string> LoadGenerator::start() {
  {
    std::lock_guard lock(mu_);
    if (started_) return std::unexpected("the load generator was already started");
  }
  // Outside the lock: the first set arrives through on_endpoints(), which takes it.
  if (auto ok = endpoint_source_->start([this](std::vector<Address> a) { on_endpoints(a); }); !ok) {
    return ok;
  }
  std::lock_guard lock(mu_);
  started_ = true;
  start_steady_ = std::chrono::steady_clock::now();
  start_system_ = std::chrono::system_clock::now();
  dispatcher_ = std::thread([this] { dispatch_loop(); });
  return {};
}

void LoadGenerator::stop() {
  std::lock_guard lock(mu_);
  stop_requested_ = true;
  if (!started_) arrivals_over_ = true;
  dispatch_.notify_all();
  changed_.notify_all();
}

void LoadGenerator::abort() {
  stop();
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(cancel_fd_, &one, sizeof one);  // readable from now on
}

void LoadGenerator::wait() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return (!started_ || arrivals_over_) && in_flight_ == 0; });
}

bool LoadGenerator::wait_for(Millis timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout,
                           [&] { return (!started_ || arrivals_over_) && in_flight_ == 0; });
}

void LoadGenerator::set_rate(double requests_per_second) {
  std::lock_guard lock(mu_);
  arrivals_.set_schedule(RateSchedule::constant(requests_per_second));
  rate_changed_ = true;
  dispatch_.notify_all();
}

Snapshot LoadGenerator::snapshot() const {
  const auto now = std::chrono::system_clock::now();
  std::lock_guard lock(mu_);
  // Rows run to now, or to the last second of arrivals once they are over.
  const std::int64_t last =
      started_ && arrivals_over_
          ? unix_second(std::max(0.0, arrivals_end_ - 1e-6))
          : std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return recorder_.snapshot(last);
}

bool LoadGenerator::wait_until(const std::function<bool(const Totals&)>& done,
                               Millis timeout) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return done(recorder_.totals()); });
}

bool LoadGenerator::wait_for_completed(std::uint64_t n, Millis timeout) const {
  return wait_until([n](const Totals& t) { return t.completed >= n; }, timeout);
}

bool LoadGenerator::wait_for_errors(std::uint64_t n, Millis timeout) const {
  return wait_until([n](const Totals& t) { return t.errors >= n; }, timeout);
}

double LoadGenerator::elapsed_s() const {
  std::lock_guard lock(mu_);
  return started_ ? since(start_steady_, std::chrono::steady_clock::now()) : 0.0;
}

std::int64_t LoadGenerator::unix_second(double t) const {
  const double epoch = std::chrono::duration<double>(start_system_.time_since_epoch()).count();
  return static_cast<std::int64_t>(std::floor(epoch + t));
}

SteadyTime LoadGenerator::at(double t) const {
  return start_steady_ + seconds_to_steady(t);
}

void LoadGenerator::on_endpoints(std::vector<Address> addresses) {
  const auto now = std::chrono::system_clock::now();
  std::lock_guard lock(mu_);
  balancer_.set_endpoints(addresses);
  recorder_.endpoints(
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count(),
      static_cast<int>(balancer_.size()));
  changed_.notify_all();
}

void LoadGenerator::dispatch_loop() {
  std::unique_lock lock(mu_);
  const double end =
      options_.duration.count() > 0 ? static_cast<double>(options_.duration.count()) / 1e3 : kNever;
  double next = arrivals_.next_after(0);
  while (!stop_requested_) {
    if (rate_changed_) {  // memoryless: draw afresh from now
      rate_changed_ = false;
      next = arrivals_.next_after(since(start_steady_, std::chrono::steady_clock::now()));
      continue;
    }
    if (next == kNever && arrivals_.schedule().end() != kNever) break;  // the trace is over
    const double until = std::min(next, end);
    if (until == kNever) {  // a rate of 0 for ever: wait for set_rate() or stop()
      dispatch_.wait(lock);
      continue;
    }
    if (std::chrono::steady_clock::now() < at(until)) {
      dispatch_.wait_until(lock, at(until));
      continue;
    }
    if (next >= end) break;  // --duration is over
    arrive(next);
    next = arrivals_.next_after(next);
  }
  arrivals_over_ = true;
  arrivals_end_ = std::min(since(start_steady_, std::chrono::steady_clock::now()), end);
  changed_.notify_all();
}

void LoadGenerator::arrive(double t) {
  const std::int64_t second = unix_second(t);
  const auto fail = [&](Outcome outcome, const char* detail) {
    recorder_.outcome(second, {outcome, 0, 0, detail});  // counted as offered too
    changed_.notify_all();
  };
  if (in_flight_ >= options_.max_in_flight) return fail(Outcome::kDropped, "over --max-in-flight");
  EndpointPtr endpoint = balancer_.acquire();
  if (!endpoint) return fail(Outcome::kNoEndpoints, "no endpoints");
  // A worker per request in flight; when no thread can be had, a busy worker takes it later.
  if (jobs_.size() >= idle_workers_ && !add_worker() && workers_.empty()) {
    LeastOutstandingBalancer::release(endpoint);
    return fail(Outcome::kDropped, "cannot start a worker thread");
  }
  recorder_.arrival(second);
  ++in_flight_;
  const bool high = options_.high_priority_share > 0 &&
                    std::bernoulli_distribution(options_.high_priority_share)(rng_);
  jobs_.push_back({std::move(endpoint), t, second, sizes_.sample(rng_), high});
  work_.notify_one();
}

bool LoadGenerator::add_worker() {
  try {
    workers_.emplace_back([this] { worker_loop(); });
    return true;
  } catch (const std::system_error&) {
    return false;
  }
}

void LoadGenerator::worker_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    ++idle_workers_;
    work_.wait(lock, [&] { return !jobs_.empty() || shutting_down_; });
    --idle_workers_;
    if (jobs_.empty()) return;  // shutting down
    const Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    const RequestResult result = run(job);
    finish(job, result);
    lock.lock();
  }
}

RequestResult LoadGenerator::run(const Job& job) {
  const SteadyTime arrived = at(job.arrival);
  const std::string request =
      chat_request(shape_, job.endpoint->address, job.size, job.high_priority);
  ChatAnswer answer(shape_.stream);
  std::optional<SteadyTime> first_content;
  const auto sink = [&](int status, std::string_view data) {
    if (status / 100 == 2 && answer.feed(data) && !first_content) {
      first_content = std::chrono::steady_clock::now();
    }
  };
  const auto status =
      job.endpoint->pool.exchange(request, arrived + options_.request_timeout, cancel_fd_, sink);
  const SteadyTime now = std::chrono::steady_clock::now();
  RequestResult r;
  r.latency_s = since(arrived, now);
  r.ttft_s = shape_.stream && first_content ? since(arrived, *first_content) : r.latency_s;
  if (!status) {
    r.outcome = classify(status.error().kind);
    r.detail = status.error().message;
  } else {
    r.outcome = classify(*status, answer.complete());
    if (r.outcome != Outcome::kCompleted) {
      r.detail = job.endpoint->address.to_string() + ": HTTP " + std::to_string(*status) +
                 (*status / 100 == 2 ? ", " + answer.problem() : "");
    }
  }
  return r;
}

void LoadGenerator::finish(const Job& job, const RequestResult& result) {
  std::lock_guard lock(mu_);
  LeastOutstandingBalancer::release(job.endpoint);
  recorder_.outcome(job.second, result);
  --in_flight_;
  changed_.notify_all();
}

}  // namespace dso::loadgen
