#include "kube/event_recorder.h"

#include <ctime>
#include <random>

namespace dso::kube {
namespace {

std::string rfc3339_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string unique_suffix() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

constexpr auto kAggregationWindow = std::chrono::minutes(10);

}  // namespace

EventRecorder::EventRecorder(KubeClientPtr client, std::string component, ClockPtr clock)
    : client_(std::move(client)), component_(std::move(component)), clock_(std::move(clock)) {
  thread_ = std::thread([this] { loop(); });
}

EventRecorder::~EventRecorder() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  thread_.join();
}

void EventRecorder::record(const Json& object, const std::string& type, const std::string& reason,
                           const std::string& message) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  queue_.push_back(Pending{object, type, reason, message});
  cv_.notify_all();
}

void EventRecorder::flush() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

long EventRecorder::sent() const {
  std::lock_guard lock(mu_);
  return sent_;
}

std::size_t EventRecorder::aggregates() const {
  return aggregate_count_.load();
}

long EventRecorder::failed() const {
  std::lock_guard lock(mu_);
  return failed_;
}

void EventRecorder::loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) return;  // stopping and drained
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    send(p);
    lock.lock();
    busy_ = false;
    cv_.notify_all();
  }
}

void EventRecorder::send(const Pending& p) {
  const Json& meta = p.object.value("metadata", Json::object());
  const std::string obj_ns = meta.value("namespace", "");
  const std::string obj_name = meta.value("name", "");
  const std::string uid = meta.value("uid", "");
  const std::string kind = p.object.value("kind", "");
  const std::string ns = obj_ns.empty() ? "default" : obj_ns;
  const std::string key =
      kind + "/" + obj_ns + "/" + obj_name + "/" + uid + "|" + p.type + "|" + p.reason;
  const std::string now = rfc3339_now();
  const TimePoint mono = clock_->now();
  const Resource events = Resource::events();
  bool ok = false;
  // Aggregates no repeat can join any more are dropped, so the map holds at most the keys of one
  // window (before: every key ever seen, for the life of the process).
  std::erase_if(aggregates_,
                [&](const auto& kv) { return mono - kv.second.last >= kAggregationWindow; });

  auto it = aggregates_.find(key);
  if (it != aggregates_.end() && mono - it->second.last < kAggregationWindow) {
    Aggregate& agg = it->second;
    const Json patch = {{"count", agg.count + 1}, {"lastTimestamp", now}, {"message", p.message}};
    auto r = client_->patch(events, agg.ns, agg.name, PatchType::kMerge, patch);
    if (r) {
      ++agg.count;
      agg.last = mono;
      ok = true;
    } else if (!r.error().is_not_found()) {
      std::lock_guard lock(mu_);
      ++failed_;
      return;
    }
    // NotFound: the aggregated Event expired (TTL); start a new one below.
  }
  if (!ok) {
    Json event = {{"apiVersion", "v1"},
                  {"kind", "Event"},
                  {"metadata", {{"name", obj_name + "." + unique_suffix()}, {"namespace", ns}}},
                  {"involvedObject",
                   {{"apiVersion", p.object.value("apiVersion", "")},
                    {"kind", kind},
                    {"namespace", obj_ns},
                    {"name", obj_name},
                    {"uid", uid},
                    {"resourceVersion", meta.value("resourceVersion", "")}}},
                  {"reason", p.reason},
                  {"message", p.message},
                  {"type", p.type},
                  {"source", {{"component", component_}}},
                  {"reportingComponent", component_},
                  {"firstTimestamp", now},
                  {"lastTimestamp", now},
                  {"count", 1}};
    auto r = client_->create(events, ns, event);
    if (r) {
      aggregates_[key] = Aggregate{ns, meta_string(*r, "name"), 1, mono};
      ok = true;
    }
  }
  aggregate_count_.store(aggregates_.size());
  std::lock_guard lock(mu_);
  ++(ok ? sent_ : failed_);
}

}  // namespace dso::kube
