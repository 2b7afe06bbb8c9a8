#include "kube/leader_election.h"

#include <unistd.h>

#include <ctime>
#include <random>
#include <stdexcept>

namespace dso::kube {
namespace {

// RFC 3339 with microseconds in UTC (metav1.MicroTime).
std::string micro_time_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  std::tm tm{};
  ::gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%06ldZ", ts.tv_nsec / 1000);
  return buf;
}

double jitter_factor() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return 1.0 +
         0.2 * std::uniform_real_distribution<double>(0, 1)(rng);  // client-go JitterFactor 1.2
}

}  // namespace

std::string default_identity() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
  std::random_device rd;
  std::mt19937_64 rng(rd() ^ (static_cast<std::uint64_t>(::getpid()) << 32));
  std::uint64_t a = rng(), b = rng();
  a = (a & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
  char uuid[40];
  std::snprintf(uuid, sizeof uuid, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0xFFFF),
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
  return std::string(host) + "_" + uuid;
}

LeaderElector::LeaderElector(KubeClientPtr client, LeaderElectionConfig config)
    : client_(std::move(client)), config_(std::move(config)) {
  if (config_.identity.empty()) config_.identity = default_identity();
  if (config_.lease_name.empty()) throw std::invalid_argument("leader election: lease_name: empty");
  if (config_.lease_namespace.empty()) {
    throw std::invalid_argument("leader election: lease_namespace: empty");
  }
  if (config_.lease_duration <= config_.renew_deadline) {
    throw std::invalid_argument(
        "leader election: lease_duration must be greater than renew_deadline");
  }
  if (config_.renew_deadline <= config_.retry_period * 1.2) {
    throw std::invalid_argument(
        "leader election: renew_deadline must be greater than 1.2 * retry_period");
  }
}

void LeaderElector::log(const std::string& m) {
  if (config_.on_log)
    config_.on_log("leader election " + config_.lease_namespace + "/" + config_.lease_name + ": " +
                   m);
}

bool LeaderElector::is_leader() const {
  if (!leading_) return false;
  const TimePoint last{Duration(last_renew_.load())};
  return config_.clock->now() - last < config_.renew_deadline;
}

std::string LeaderElector::observed_leader() const {
  std::lock_guard lock(mu_);
  return observed_spec_.is_object() ? observed_spec_.value("holderIdentity", "") : "";
}

void LeaderElector::wait(std::stop_token stop, Duration d) {
  std::stop_callback wake(stop, [this] {
    std::lock_guard lock(mu_);
    cv_.notify_all();
  });
  std::unique_lock lock(mu_);
  const TimePoint deadline = config_.clock->now() + d;
  while (!stop.stop_requested() && config_.clock->now() < deadline) {
    config_.clock->wait_until(cv_, lock, deadline);
  }
}

bool LeaderElector::try_acquire_or_renew() {
  const Resource leases = Resource::leases();
  const std::string now_text = micro_time_now();
  const long duration_s =
      std::chrono::duration_cast<std::chrono::seconds>(config_.lease_duration).count();
  Json spec = {{"holderIdentity", config_.identity},
               {"leaseDurationSeconds", duration_s},
               {"acquireTime", now_text},
               {"renewTime", now_text},
               {"leaseTransitions", 0}};
  auto current = client_->get(leases, config_.lease_namespace, config_.lease_name);
  if (!current) {
    if (!current.error().is_not_found()) {
      log("get lease: " + current.error().to_string());
      return false;
    }
    Json lease = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
        {"spec", spec}};
    auto created = client_->create(leases, config_.lease_namespace, lease);
    if (!created) {
      log("create lease: " + created.error().to_string());
      return false;
    }
    std::lock_guard lock(mu_);
    observed_spec_ = (*created)["spec"];
    observed_time_ = config_.clock->now();
    return true;
  }
  const Json old_spec = current->value("spec", Json::object());
  const std::string holder = old_spec.value("holderIdentity", "");
  {
    std::lock_guard lock(mu_);
    if (old_spec != observed_spec_) {
      // The record changed: restart the expiry clock from now, on our own monotonic clock.
      const std::string previous =
          observed_spec_.is_object() ? observed_spec_.value("holderIdentity", "") : "";
      observed_spec_ = old_spec;
      observed_time_ = config_.clock->now();
      if (holder != previous && !holder.empty() && holder != config_.identity &&
          config_.on_new_leader) {
        config_.on_new_leader(holder);
      }
    }
    if (!holder.empty() && holder != config_.identity &&
        observed_time_ + config_.lease_duration > config_.clock->now()) {
      return false;  // held by someone else and not expired
    }
  }
  if (holder == config_.identity) {
    spec["acquireTime"] = old_spec.value("acquireTime", now_text);
    spec["leaseTransitions"] = old_spec.value("leaseTransitions", 0);
  } else {
    spec["leaseTransitions"] = old_spec.value("leaseTransitions", 0) + 1;
  }
  Json next = *current;
  next["spec"] = spec;  // metadata.resourceVersion from the GET makes this a compare-and-swap
  auto updated = client_->update(leases, config_.lease_namespace, next);
  if (!updated) {
    log("update lease: " + updated.error().to_string());
    return false;
  }
  std::lock_guard lock(mu_);
  observed_spec_ = (*updated)["spec"];
  observed_time_ = config_.clock->now();
  return true;
}

void LeaderElector::release() {
  const Resource leases = Resource::leases();
  auto current = client_->get(leases, config_.lease_namespace, config_.lease_name);
  if (!current) return;
  Json spec = current->value("spec", Json::object());
  if (spec.value("holderIdentity", "") != config_.identity) return;
  const std::string now_text = micro_time_now();
  spec["holderIdentity"] = "";
  spec["leaseDurationSeconds"] = 1;
  spec["renewTime"] = now_text;
  spec["acquireTime"] = now_text;
  (*current)["spec"] = spec;
  if (auto r = client_->update(leases, config_.lease_namespace, *current); !r) {
    log("release lease: " + r.error().to_string());
  } else {
    log("released");
  }
}

void LeaderElector::run(std::stop_token stop) {
  // Acquire. A successful write is stamped with the time its request was sent, never with when
  // the answer came: the others time the lease from after that write reached the server, so this
  // process's view of its own lease always ends first, however slow the answer was.
  TimePoint sent{};
  while (!stop.stop_requested()) {
    sent = config_.clock->now();
    if (try_acquire_or_renew()) break;
    wait(stop, std::chrono::duration_cast<Duration>(config_.retry_period * jitter_factor()));
  }
  if (stop.stop_requested()) return;
  last_renew_ = sent.time_since_epoch().count();
  leading_ = true;
  if (config_.metrics) config_.metrics->set_leader(config_.lease_name, true);
  log("acquired by " + config_.identity);
  if (config_.on_started_leading) config_.on_started_leading();

  // Renew until a renewal round fails for longer than the renew deadline, or stop.
  bool lost = false;
  while (!stop.stop_requested()) {
    wait(stop, config_.retry_period);
    if (stop.stop_requested()) break;
    const TimePoint round_start = config_.clock->now();
    bool renewed = false;
    while (!stop.stop_requested()) {
      sent = config_.clock->now();
      if (try_acquire_or_renew()) {
        renewed = true;
        break;
      }
      const TimePoint last{Duration(last_renew_.load())};
      if (config_.clock->now() - last >= config_.renew_deadline) break;
      wait(stop, std::min<Duration>(config_.retry_period,
                                    config_.renew_deadline - (config_.clock->now() - round_start)));
    }
    if (stop.stop_requested()) break;
    const TimePoint last{Duration(last_renew_.load())};
    if (!renewed || config_.clock->now() - last >= config_.renew_deadline) {
      lost = true;
      break;
    }
    last_renew_ = sent.time_since_epoch().count();
  }
  leading_ = false;
  if (config_.metrics) config_.metrics->set_leader(config_.lease_name, false);
  if (lost) {
    log("lost: no successful renewal within the renew deadline");
  } else if (config_.release_on_cancel) {
    release();
  }
  if (config_.on_stopped_leading) config_.on_stopped_leading();
}

}  // namespace dso::kube
